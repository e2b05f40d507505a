/**
 * The few helpers the example servers share: JSON replies, request bodies, listening on a
 * port (or a free one when it is taken) and closing with keep-alive connections in mind.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'

export interface RunningServer {
  readonly server: Server
  readonly url: string
  readonly port: number
  /** Stops accepting, lets in-flight requests finish, closes idle keep-alive connections. */
  close (): Promise<void>
}

/** Compact JSON, so `"servedBy":"monolith"` reads the same in curl output and in greps. */
export function sendJson (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers
  })
  res.end(req.method === 'HEAD' ? undefined : text)
}

export async function readBody (req: IncomingMessage, limit = 65_536): Promise<string> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw new Error('body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A port number from a CLI argument or environment value; undefined when absent or invalid. */
export function parsePort (value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value)) return undefined
  const n = Number(value)
  return n <= 65535 ? n : undefined
}

/**
 * Listens on `port` (0 = any free port). With `orFree`, a port already in use falls back to
 * a free one instead of failing.
 */
export async function listen (server: Server, port: number, host: string, opts: { orFree?: boolean } = {}): Promise<RunningServer> {
  try {
    await listenOnce(server, port, host)
  } catch (err) {
    if (opts.orFree !== true || port === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    await listenOnce(server, 0, host)
  }
  const bound = (server.address() as AddressInfo).port
  const shown = host.includes(':') ? `[${host}]` : host
  return {
    server,
    url: `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${bound}`,
    port: bound,
    close: async () => await closeServer(server)
  }
}

/** True when nothing listens on host:port right now (port 0 is always free). */
export async function portFree (port: number, host: string): Promise<boolean> {
  if (port === 0) return true
  return await new Promise((resolve) => {
    const probe = createNetServer()
    probe.once('error', () => resolve(false))
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)))
  })
}

async function listenOnce (server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { reject(err) }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

export async function closeServer (server: Server, graceMs = 2_000): Promise<void> {
  if (!server.listening) return
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeIdleConnections()
  const force = setTimeout(() => server.closeAllConnections(), graceMs)
  await closed
  clearTimeout(force)
}

/** Splits `/api/orders/7/history` into `['api', 'orders', '7', 'history']`. */
export function segments (url: string | undefined): string[] {
  const path = (url ?? '/').split('?')[0]!
  return path.split('/').filter((s) => s !== '')
}

/** A positive integer id from a path segment, or undefined. */
export function idOf (segment: string | undefined): number | undefined {
  return segment !== undefined && /^[1-9]\d{0,8}$/.test(segment) ? Number(segment) : undefined
}

/** The filters of `GET /api/orders?customerId=42&status=shipped`; an empty value filters nothing. */
export function orderFilter (url: string | undefined): { customerId?: number, status?: string } {
  const q = new URL(url ?? '/', 'http://x').searchParams
  const customerId = q.get('customerId') ?? ''
  const status = q.get('status') ?? ''
  return { customerId: customerId === '' ? undefined : Number(customerId), status: status === '' ? undefined : status }
}
