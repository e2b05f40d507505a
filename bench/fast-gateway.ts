/**
 * Baseline: fast-gateway (restana + fast-proxy-lite) with its defaults, proxying every path
 * to one upstream. It is not a dependency of figway: the harness installs it into a cache
 * folder outside the repository (bench/lib/fast-gateway.ts) and passes that folder here.
 * `node bench/fast-gateway.ts INSTALL_DIR http://127.0.0.1:PORT` listens on 127.0.0.1:0 and
 * prints `{"ports":[port]}` on stdout. Exits on SIGTERM/SIGINT and when its stdin closes.
 */
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { announceAndServe, portOf } from './lib/child.ts'

const [dir, upstream] = process.argv.slice(2)
if (dir === undefined || upstream === undefined || !/^https?:\/\//.test(upstream)) {
  process.stderr.write('usage: node bench/fast-gateway.ts INSTALL_DIR http://host:port\n')
  process.exit(2)
}

interface Service { start: (port: number, host?: string) => Promise<{ address: () => AddressInfo | string | null }>, close: () => Promise<void> }
const gateway = createRequire(join(dir, 'package.json'))('fast-gateway') as (opts: unknown) => Service

// Every benchmark path is under /api; `prefixRewrite` keeps it as it came (fast-gateway strips
// the route prefix by default).
const service = gateway({ routes: [{ prefix: '/api', prefixRewrite: '/api', target: upstream }] })
const server = await service.start(0, '127.0.0.1')
announceAndServe([portOf(server)], async () => await service.close())
