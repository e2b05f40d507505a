/**
 * Loads `config/gateway.yaml` and the route files of `routes/`, validating each against its
 * schema. Every problem is collected (not just the first) with file, line and option.
 */
import { readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import type { z } from 'zod'
import { ConfigError, type ConfigIssue } from '../errors.ts'
import { BUILTIN_POLICY, mergePolicy, type Policy } from './policy.ts'
import { backendSchema, gatewaySchema, nameSchema, routeSchema, type BackendFile, type GatewayFile, type RouteFile } from './schema.ts'
import { loadYamlFile, type SourceDoc } from './yaml.ts'

export interface GatewayConfig {
  readonly file: string
  readonly listen: GatewayFile['listen']
  readonly ops: GatewayFile['ops']
  /** Absolute path of the routes folder. */
  readonly routesDir: string
  readonly trustedProxies: number | readonly string[]
  readonly limits: GatewayFile['limits']
  readonly shutdown: GatewayFile['shutdown']
  readonly defaults: Policy
  readonly telemetry: GatewayFile['telemetry']
  readonly redis: GatewayFile['redis']
  readonly debugHeaders: boolean
}

/**
 * Validates the value at `prefix` in `doc` against `schema`, turning each zod issue into a
 * located ConfigIssue (an unknown key points at the key itself).
 */
export function validate<S extends z.ZodType> (schema: S, doc: SourceDoc, issues: ConfigIssue[], prefix: ReadonlyArray<PropertyKey> = [], value: unknown = doc.value): z.output<S> | undefined {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  for (const i of r.error.issues) {
    const path = [...prefix, ...(i.path as PropertyKey[])]
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) issues.push({ file: doc.file, ...doc.locate([...path, k]), path: formatPath([...path, k]), message: `unknown option "${k}"` })
    } else {
      issues.push({ file: doc.file, ...doc.locate(path), path: formatPath(path), message: issueMessage(i) })
    }
  }
  return undefined
}

function issueMessage (i: z.core.$ZodIssue): string {
  if (i.code === 'unrecognized_keys') return `unknown option${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`
  return i.message
}

export function formatPath (path: ReadonlyArray<PropertyKey>): string {
  let s = ''
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : (s === '' ? String(p) : '.' + String(p))
  return s
}

export function loadGatewayConfig (file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const issues: ConfigIssue[] = []
  const abs = resolve(file)
  const doc = loadYamlFile(abs, file, env, issues)
  const parsed = doc === undefined ? undefined : validate(gatewaySchema, { ...doc, value: doc.value ?? {} }, issues)
  if (parsed === undefined) throw new ConfigError(issues)
  return Object.freeze({
    file: abs,
    listen: parsed.listen,
    ops: parsed.ops,
    routesDir: resolve(dirname(abs), parsed.routes),
    trustedProxies: parsed.trustedProxies,
    limits: parsed.limits,
    shutdown: parsed.shutdown,
    defaults: mergePolicy(BUILTIN_POLICY, parsed.defaults),
    telemetry: parsed.telemetry,
    redis: parsed.redis,
    debugHeaders: parsed.debugHeaders
  })
}

export interface Located<T> {
  readonly file: string
  readonly line: number
  readonly col: number
  /** Position among all routes, in file-name order then order written. */
  readonly index: number
  /** Where it sits in its file, e.g. ['routes', 2] or ['backends', 'monolith']. */
  readonly path: ReadonlyArray<PropertyKey>
  readonly spec: T
}

export interface RouteSources {
  /** Problems found so far; compileTable adds its own and throws if there are any. */
  readonly issues: readonly ConfigIssue[]
  /** Names of backends that exist but failed validation (not reported again as unknown). */
  readonly brokenBackends: ReadonlySet<string>
  readonly dir: string
  readonly files: readonly string[]
  readonly backends: ReadonlyArray<Located<BackendFile> & { name: string }>
  readonly routes: ReadonlyArray<Located<RouteFile>>
  /** A file's name as errors show it (relative to the display base). */
  readonly display: (abs: string) => string
  /** Locates a path inside a route file, for errors found after schema validation. */
  readonly locate: (file: string, path: ReadonlyArray<PropertyKey>) => { line: number, col: number }
}

/**
 * Lists the route files of a folder: `*.yaml` / `*.yml` at its top level, in name order,
 * following symlinks and skipping dot-entries (Kubernetes ConfigMap mounts keep their real
 * files in `..data/` and `..2026_...` folders beside the symlinks we want).
 */
export function listRouteFiles (dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && /\.ya?ml$/.test(f))
    .filter((f) => { try { return statSync(join(dir, f)).isFile() } catch { return false } })
    .sort()
}

/** Reads and schema-checks every route file; issues are returned for compileTable to report. */
export function loadRouteSources (dir: string, displayBase: string, env: NodeJS.ProcessEnv = process.env): RouteSources {
  const issues: ConfigIssue[] = []
  let files: string[]
  try {
    files = listRouteFiles(dir)
  } catch (err) {
    throw new ConfigError([{ file: relative(displayBase, dir) || dir, line: 1, col: 1, path: '', message: `cannot read routes folder: ${(err as Error).message}` }])
  }
  const backends: Array<Located<BackendFile> & { name: string }> = []
  const routes: Array<Located<RouteFile>> = []
  const docs = new Map<string, SourceDoc>()
  const brokenBackends = new Set<string>()
  for (const f of files) {
    const display = relative(displayBase, join(dir, f)) || f
    const doc = loadYamlFile(join(dir, f), display, env, issues)
    if (doc === undefined) continue
    docs.set(display, doc)
    // Each backend and route is validated on its own, so one mistake does not hide the
    // errors of its neighbours, and cross-file checks still run on everything valid.
    const v = doc.value
    if (v === null || v === undefined) continue
    if (typeof v !== 'object' || Array.isArray(v)) { issues.push({ file: display, line: 1, col: 1, path: '', message: 'a route file is a mapping with backends: and routes:' }); continue }
    for (const k of Object.keys(v)) {
      if (k !== 'backends' && k !== 'routes') issues.push({ file: display, ...doc.locate([k]), path: k, message: `unknown option "${k}" (a route file holds backends: and routes:)` })
    }
    const b = (v as Record<string, unknown>).backends
    if (b !== undefined && b !== null) {
      if (typeof b !== 'object' || Array.isArray(b)) issues.push({ file: display, ...doc.locate(['backends']), path: 'backends', message: 'backends is a mapping of name to backend' })
      else {
        for (const [name, raw] of Object.entries(b)) {
          const okName = validate(nameSchema, doc, issues, ['backends', name], name) !== undefined
          const spec = validate(backendSchema, doc, issues, ['backends', name], raw)
          if (spec === undefined || !okName) { brokenBackends.add(name); continue }
          backends.push({ file: display, ...doc.locate(['backends', name]), index: backends.length, path: ['backends', name], name, spec })
        }
      }
    }
    const r = (v as Record<string, unknown>).routes
    if (r !== undefined && r !== null) {
      if (!Array.isArray(r)) issues.push({ file: display, ...doc.locate(['routes']), path: 'routes', message: 'routes is a list' })
      else {
        r.forEach((raw, i) => {
          const spec = validate(routeSchema, doc, issues, ['routes', i], raw)
          if (spec !== undefined) routes.push({ file: display, ...doc.locate(['routes', i]), index: routes.length, path: ['routes', i], spec })
        })
      }
    }
  }
  return {
    issues,
    brokenBackends,
    dir,
    files: files.map((f) => relative(displayBase, join(dir, f)) || f),
    backends,
    routes,
    display: (abs) => relative(displayBase, abs) || abs,
    locate: (file, path) => docs.get(file)?.locate(path) ?? { line: 1, col: 1 }
  }
}
