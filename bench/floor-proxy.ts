/**
 * Baseline: the floor of a Node.js proxy built on node:http and undici, the two libraries
 * figway forwards with. No routing, no header hygiene, no timeouts, retries, breaker,
 * metrics, logs or traces: each request is dispatched to one undici Pool and the response
 * is written back as it comes. No gateway on this stack can cost less per request, so the
 * distance from here to figway is what figway's features cost, and the distance from here
 * to nginx is what Node.js costs. `node bench/floor-proxy.ts http://127.0.0.1:PORT` listens
 * on 127.0.0.1:0 and prints `{"ports":[port]}`. Exits on SIGTERM/SIGINT and when stdin closes.
 */
import { createServer } from 'node:http'
import { Pool, type Dispatcher } from 'undici'
import { announceAndServe, portOf } from './lib/child.ts'

const upstream = process.argv[2]
if (upstream === undefined || !/^https?:\/\//.test(upstream)) {
  process.stderr.write('usage: node bench/floor-proxy.ts http://host:port\n')
  process.exit(2)
}
const pool = new Pool(upstream, { pipelining: 1, keepAliveTimeout: 4_000 })
const host = new URL(upstream).host

const server = createServer({ keepAliveTimeout: 72_000 }, (req, res) => {
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart () {},
    onResponseStart (_c, status, headers) { res.writeHead(status, headers as Record<string, string>) },
    onResponseData (_c, chunk) { res.write(chunk) },
    onResponseEnd () { res.end() },
    onResponseError (_c, err) { res.destroy(err) }
  }
  pool.dispatch({ method: req.method ?? 'GET', path: req.url ?? '/', headers: ['host', host], body: null }, handler)
})
server.listen(0, '127.0.0.1', () => {
  announceAndServe([portOf(server)], async () => {
    server.close()
    server.closeAllConnections()
    await pool.close()
  })
})
