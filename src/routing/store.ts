/**
 * The current route table and its atomic replacement (spec §7). A request reads `current`
 * once and keeps that table to the end, so in-flight requests finish on the table they
 * started with. A reload validates the whole new table first; a bad one is refused and
 * the old one keeps serving. Reloads run one at a time.
 */
import { loadRouteSources } from '../config/load.ts'
import type { Policy } from '../config/policy.ts'
import { ConfigError, type ConfigIssue } from '../errors.ts'
import { compileTable, type RouteTable } from './table.ts'

export interface ReloadResult {
  readonly ok: boolean
  readonly version: number
  readonly issues: readonly ConfigIssue[]
  readonly changed: boolean
}

export interface RouteStoreOptions {
  readonly dir: string
  /** Folder that file names in errors are relative to. */
  readonly displayBase: string
  readonly defaults: Policy
  readonly env?: NodeJS.ProcessEnv
  /** Called after a new table went live. */
  readonly onSwap?: (next: RouteTable, prev: RouteTable | undefined, reason: string) => void
  readonly onResult?: (r: ReloadResult, reason: string) => void
}

export class RouteStore {
  readonly #opts: RouteStoreOptions
  #table: RouteTable | undefined
  #version = 0
  #queue: Promise<unknown> = Promise.resolve()
  lastError: { readonly at: Date, readonly issues: readonly ConfigIssue[] } | null = null

  constructor (opts: RouteStoreOptions) { this.#opts = opts }

  /** The live table; undefined only before the first successful load. */
  get current (): RouteTable | undefined { return this.#table }

  /** Builds a table without installing it (validate, explain). Throws ConfigError. */
  build (): RouteTable {
    const src = loadRouteSources(this.#opts.dir, this.#opts.displayBase, this.#opts.env)
    return compileTable(src, this.#opts.defaults, this.#version + 1)
  }

  /** Loads, validates and swaps in a new table; never throws. */
  async reload (reason: string): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => this.#reloadNow(reason)
    const p = this.#queue.then(run, run)
    this.#queue = p
    return await p
  }

  #reloadNow (reason: string): ReloadResult {
    let next: RouteTable
    try {
      next = this.build()
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues : [{ file: this.#opts.dir, line: 1, col: 1, path: '', message: String((err as Error)?.stack ?? err) }]
      this.lastError = { at: new Date(), issues }
      const r = { ok: false, version: this.#version, issues, changed: false }
      this.#opts.onResult?.(r, reason)
      return r
    }
    const prev = this.#table
    this.#version = next.version
    this.#table = next
    this.lastError = null
    this.#opts.onSwap?.(next, prev, reason)
    const r = { ok: true, version: next.version, issues: [], changed: true }
    this.#opts.onResult?.(r, reason)
    return r
  }
}
