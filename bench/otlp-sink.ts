/**
 * The benchmark's OTLP/HTTP collector stand-in: accepts every export (`POST /v1/traces`),
 * reads and discards it, answers 200 with an empty body, and counts what it got;
 * `GET /stats` returns `{"requests":N,"bytes":N}`. Prints `{"ports":[port]}` on stdout and
 * exits on SIGTERM/SIGINT or when its stdin closes, like bench/origin.ts.
 */
import { createServer } from 'node:http'
import { announceAndServe, portOf } from './lib/child.ts'

let requests = 0
let bytes = 0
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests, bytes }))
    return
  }
  req.on('data', (c: Buffer) => { bytes += c.length })
  req.on('end', () => {
    requests++
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf', 'content-length': '0' }).end()
  })
})
server.keepAliveTimeout = 75_000
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
announceAndServe([portOf(server)], () => { server.closeAllConnections() })
