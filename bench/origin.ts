/**
 * The benchmark's Node origin: a lean `node:http` server answering every request with the
 * same small JSON body, keep-alive on. `node bench/origin.ts [listeners]` binds that many
 * ports (default 1) on 127.0.0.1:0 and prints `{"ports":[...]}` as one line on stdout.
 * It exits on SIGTERM/SIGINT and when its stdin closes (the harness went away).
 */
import { createServer, type Server } from 'node:http'
import { ORIGIN_BODY } from './lib/body.ts'
import { announceAndServe, portOf } from './lib/child.ts'

const body = Buffer.from(ORIGIN_BODY)
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) }
const count = Math.max(1, Number(process.argv[2] ?? '1') || 1)

const servers: Server[] = []
for (let i = 0; i < count; i++) {
  const server = createServer((req, res) => {
    // GET has no body; anything else is drained so the connection stays reusable.
    if (req.method !== 'GET' && req.method !== 'HEAD') req.resume()
    res.writeHead(200, headers)
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  server.keepAliveTimeout = 75_000
  server.headersTimeout = 80_000
  servers.push(server)
}
await Promise.all(servers.map(async (s) => await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))))
announceAndServe(servers.map(portOf), () => { for (const s of servers) s.closeAllConnections() })
