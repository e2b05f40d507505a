/**
 * Real HTTP origin servers on 127.0.0.1:0 for tests. Each records what it received, and the
 * handler decides what to answer (default: a JSON echo of the request).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  method: string
  url: string
  headers: IncomingMessage['headers']
  rawHeaders: string[]
  body: Buffer
}

export interface Origin {
  readonly url: string
  readonly port: number
  readonly server: Server
  readonly received: Received[]
  close (): Promise<void>
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void

export const echo = (name: string): Handler => (req, res, body) => {
  const payload = JSON.stringify({ origin: name, method: req.method, url: req.url, headers: req.headers, bodyBytes: body.length })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-origin': name })
  res.end(payload)
}

interface Teardown { teardown: (fn: () => unknown) => void }

/** Starts an origin; it closes when the test ends. `streaming` handlers get the request before its body. */
export async function startOrigin (t: Teardown, handler: Handler = echo('origin'), opts: { streaming?: boolean } = {}): Promise<Origin> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    if (opts.streaming === true) {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) })
      handler(req, res, Buffer.alloc(0))
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body })
      handler(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)
  return { url: `http://127.0.0.1:${port}`, port, server, received, close }
}
