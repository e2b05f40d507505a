/**
 * Baseline: @fastify/http-proxy with its defaults (undici pool, streaming), proxying every
 * path to one upstream. `node bench/fastify-proxy.ts http://127.0.0.1:PORT` listens on
 * 127.0.0.1:0 and prints `{"ports":[port]}` on stdout. Exits on SIGTERM/SIGINT and when its
 * stdin closes.
 */
import Fastify from 'fastify'
import httpProxy from '@fastify/http-proxy'
import { announceAndServe, portOf } from './lib/child.ts'

const upstream = process.argv[2]
if (upstream === undefined || !/^https?:\/\//.test(upstream)) {
  process.stderr.write('usage: node bench/fastify-proxy.ts http://host:port\n')
  process.exit(2)
}

const app = Fastify({ logger: false, keepAliveTimeout: 72_000 })
await app.register(httpProxy, { upstream })
await app.listen({ host: '127.0.0.1', port: 0 })
announceAndServe([portOf(app.server)], async () => await app.close())
