/**
 * HTTP upstreams: one undici Pool per backend, keyed by the backend's fingerprint so a
 * reload keeps the pools (and their warm keep-alive connections) of unchanged backends,
 * while pools of removed or changed backends close once their in-flight requests finish.
 */
import type { Socket } from 'node:net'
import { createRequire } from 'node:module'
import type { buildConnector as BuildConnector, errors as UndiciErrors, Pool as UndiciPool } from 'undici'
import type { Backend, RouteTable } from '../routing/table.ts'

/**
 * The three parts of undici figway uses, from undici's own modules rather than its index:
 * the index also loads fetch, WebSocket, EventSource, the cache stores, the mocks and the
 * interceptors, about 10 MiB of resident memory a gateway never uses. undici is pinned
 * exactly in the lockfile, and test/unit/upstream/undici-parts.test.ts checks that these
 * are the index's own exports, so an upgrade that moves them fails there.
 */
export const UNDICI_PARTS = { pool: 'undici/lib/dispatcher/pool.js', connect: 'undici/lib/core/connect.js', errors: 'undici/lib/core/errors.js' } as const
const require = createRequire(import.meta.url)
const Pool = require(UNDICI_PARTS.pool) as typeof UndiciPool
type Pool = UndiciPool
const buildConnector = require(UNDICI_PARTS.connect) as typeof BuildConnector
const errors = require(UNDICI_PARTS.errors) as typeof UndiciErrors

/**
 * undici's connector with a connect timeout on a native timer. undici's own `connectTimeout`
 * runs on its coarse "fast timers" (500 ms ticks), so a 200 ms timeout fired after 0.5–1 s;
 * spec §3 wants every timeout enforced to within 10 ms. The socket is destroyed with undici's
 * ConnectTimeoutError, as undici would, so the error path (and classify()) is unchanged.
 */
export function connectorWithTimeout (timeoutMs: number): BuildConnector.connector {
  const connect = buildConnector({ timeout: 0 })
  if (timeoutMs <= 0) return connect
  const open = connect as unknown as (o: BuildConnector.Options, cb: BuildConnector.Callback) => Socket
  return (opts, callback) => {
    // Runs after timeoutMs, by which time `socket` is set.
    const timer = setTimeout(() => {
      socket.destroy(new errors.ConnectTimeoutError(`Connect Timeout Error (attempted address: ${opts.hostname}:${opts.port}, timeout: ${timeoutMs}ms)`))
    }, timeoutMs)
    // The callback runs once, on connect or on the first error (our destroy included).
    const socket = open(opts, (...args) => {
      clearTimeout(timer)
      callback(...args)
    })
  }
}

export class HttpUpstreams {
  #pools = new Map<string, Pool>()

  /** The pool for a backend; created on first use. */
  pool (b: Backend): Pool {
    let p = this.#pools.get(b.fingerprint)
    if (p === undefined) {
      p = new Pool(b.origin, {
        connect: connectorWithTimeout(b.policy.connectTimeoutMs),
        // figway enforces its own per-try and whole-request deadlines (see pipeline/forward.ts).
        headersTimeout: 0,
        bodyTimeout: 0,
        keepAliveTimeout: 4_000,
        pipelining: 1
      })
      this.#pools.set(b.fingerprint, p)
    }
    return p
  }

  /** After a table swap: closes pools that no backend of the new table uses (gracefully). */
  retain (table: RouteTable): number {
    const keep = new Set<string>()
    for (const b of table.backends.values()) keep.add(b.fingerprint)
    let closed = 0
    for (const [fp, p] of this.#pools) {
      if (!keep.has(fp)) {
        this.#pools.delete(fp)
        // close() lets queued and running requests finish, then ends the connections.
        p.close().catch(() => {})
        closed++
      }
    }
    return closed
  }

  stats (b: Backend): { connected: number, running: number, pending: number } | undefined {
    const p = this.#pools.get(b.fingerprint)
    if (p === undefined) return undefined
    return { connected: p.stats.connected, running: p.stats.running, pending: p.stats.pending }
  }

  async close (): Promise<void> {
    const all = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.allSettled(all.map(async (p) => await p.close()))
  }
}
