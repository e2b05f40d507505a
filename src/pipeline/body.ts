/**
 * Request bodies for replay (spec §2.3, §3): a body of at most `limit` bytes is read whole so
 * a retry or a fallback can send it again; a larger one streams through and is never
 * replayed. A chunked body that outgrows the limit while being read streams on from where
 * it got to (the bytes already read go first).
 */
import type { IncomingMessage } from 'node:http'
import { PassThrough, type Readable } from 'node:stream'

export type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer', readonly data: Buffer }
  | { readonly kind: 'stream', readonly stream: Readable }
  | { readonly kind: 'aborted' }

export const NO_BODY: Body = Object.freeze({ kind: 'none' })

export function readBody (req: IncomingMessage, limit: number, done: (b: Body) => void): void {
  const cl = req.headers['content-length']
  if (cl !== undefined && Number(cl) > limit) { done({ kind: 'stream', stream: req }); return }
  const chunks: Buffer[] = []
  let size = 0
  let settled = false
  const finish = (b: Body): void => {
    if (settled) return
    settled = true
    req.off('data', onData)
    req.off('end', onEnd)
    req.off('aborted', onAborted)
    req.off('error', onAborted)
    done(b)
  }
  const onData = (c: Buffer): void => {
    size += c.length
    chunks.push(c)
    if (size > limit) {
      req.pause()
      const rest = new PassThrough()
      for (const x of chunks) rest.write(x)
      finish({ kind: 'stream', stream: rest })
      req.pipe(rest)
      req.resume()
    }
  }
  const onEnd = (): void => finish({ kind: 'buffer', data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) })
  const onAborted = (): void => finish({ kind: 'aborted' })
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('aborted', onAborted)
  req.on('error', onAborted)
}
