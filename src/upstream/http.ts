/**
 * HTTP upstreams: one undici Pool per backend, keyed by the backend's fingerprint so a
 * reload keeps the pools (and their warm keep-alive connections) of unchanged backends,
 * while pools of removed or changed backends close once their in-flight requests finish.
 */
import { Pool } from 'undici'
import type { Backend, RouteTable } from '../routing/table.ts'

export class HttpUpstreams {
  #pools = new Map<string, Pool>()

  /** The pool for a backend; created on first use. */
  pool (b: Backend): Pool {
    let p = this.#pools.get(b.fingerprint)
    if (p === undefined) {
      p = new Pool(b.origin, {
        connectTimeout: b.policy.connectTimeoutMs,
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

  /** Number of open pools (for tests and /admin/backends). */
  get size (): number { return this.#pools.size }

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
