/**
 * Baseline: @fastify/http-proxy with its defaults (undici pool, streaming), proxying every
 * path to one upstream. `node bench/fastify-proxy.ts http://127.0.0.1:PORT` listens on
 * 127.0.0.1:0 and prints `{"ports":[port]}` on stdout. Exits on SIGTERM/SIGINT and when its
 * stdin closes.
 */
import Fastify from 'fastify'
import httpProxy from '@fastify/http-proxy'

const upstream = process.argv[2]
if (upstream === undefined || !/^https?:\/\//.test(upstream)) {
  process.stderr.write('usage: node bench/fastify-proxy.ts http://host:port\n')
  process.exit(2)
}

const app = Fastify({ logger: false, keepAliveTimeout: 72_000 })
await app.register(httpProxy, { upstream })
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
const port = typeof address === 'object' && address !== null ? address.port : 0
process.stdout.write(JSON.stringify({ ports: [port] }) + '\n')

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  app.close().then(() => process.exit(0), () => process.exit(1))
  setTimeout(() => process.exit(0), 2_000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
