/**
 * Compiles validated route sources into an immutable route table: backends resolved,
 * routes ordered by specificity, bucket ranges and policies precomputed, the matcher built.
 * Pure: no sockets, no clocks. Cross-file problems (unknown backend names, duplicate names,
 * ambiguous routes) are reported with file and line.
 */
import { mergePolicy, type Policy } from '../config/policy.ts'
import type { Located, RouteSources } from '../config/load.ts'
import type { BackendFile, RouteFile } from '../config/schema.ts'
import { ConfigError, type ConfigIssue } from '../errors.ts'
import type { GrpcCall, GrpcSpec } from '../transcode/backend.ts'
import { grpcSupport } from '../transcode/support.ts'
import { Matcher } from './matcher.ts'
import { compilePattern, compareSpecificity, patternsOverlap, type Pattern, type Segment } from './pattern.ts'
import { buildTargets, routeSeed, type WeightedTargets } from './split.ts'

export interface Backend {
  readonly name: string
  readonly file: string
  readonly line: number
  readonly kind: 'http' | 'grpc'
  /** `http://host:port` (`grpc://host:port` for gRPC), what the connection pool is keyed on. */
  readonly origin: string
  /** Path prefix from the backend URL, without a trailing slash ('' for none). */
  readonly basePath: string
  /** The Host header sent unless `preserveHost`. */
  readonly hostHeader: string
  readonly preserveHost: boolean
  readonly policy: Policy
  /** Everything that shapes the connection pool; equal fingerprints share a pool across reloads. */
  readonly fingerprint: string
  /** Protos, bindings and codec of a gRPC backend; null for HTTP. */
  readonly grpc: GrpcSpec | null
}

export type Rewrite =
  | { readonly kind: 'prefix', readonly from: string, readonly to: string }
  | { readonly kind: 'path', readonly parts: ReadonlyArray<{ literal: string } | { param: string }> }

export interface HeaderCondition {
  readonly name: string
  readonly value: string | null
  readonly regex: RegExp | null
}

export interface Route {
  readonly name: string
  readonly file: string
  readonly line: number
  /** Rank in the table: lower wins. */
  readonly order: number
  readonly pattern: Pattern
  readonly segments: readonly Segment[]
  readonly rest: boolean
  readonly methods: ReadonlySet<string> | null
  /** Lower-case host, or `*.suffix` for a suffix wildcard. */
  readonly host: string | null
  readonly headers: readonly HeaderCondition[] | null
  readonly priority: number | undefined
  /** The route's backends in the order written, with their file weights. */
  readonly targets: WeightedTargets<Backend>
  readonly backendByName: ReadonlyMap<string, Backend>
  readonly sticky: { readonly header: string } | { readonly cookie: string } | null
  readonly seed: number
  readonly allowOverride: boolean
  readonly fallback: Backend | null
  readonly fallbackAnyMethod: boolean
  readonly rewrite: Rewrite | null
  /** Effective policy per backend name: defaults < backend < route. */
  readonly policyFor: ReadonlyMap<string, Policy>
  readonly bodyBytes: number | null
  /** A route's explicit `grpc.method`, compiled per gRPC backend name; null when bindings decide. */
  readonly grpcCalls: ReadonlyMap<string, GrpcCall> | null
}

export interface RouteTable {
  readonly version: number
  readonly loadedAt: Date
  readonly files: readonly string[]
  readonly routes: readonly Route[]
  readonly routeByName: ReadonlyMap<string, Route>
  readonly backends: ReadonlyMap<string, Backend>
  readonly matcher: Matcher<Route>
  /** Things worth a log line when the table goes live (gRPC methods left unbound). */
  readonly notices: readonly string[]
}

export function compileTable (src: RouteSources, defaults: Policy, version: number): RouteTable {
  const issues: ConfigIssue[] = [...src.issues]
  const at = (l: Located<unknown>, path: ReadonlyArray<PropertyKey>, message: string, sub?: ReadonlyArray<PropertyKey>): void => {
    const pos = sub === undefined ? { line: l.line, col: l.col } : src.locate(l.file, sub)
    issues.push({ file: l.file, ...pos, path: path.join('.'), message })
  }

  const notices: string[] = []
  const backends = new Map<string, Backend>()
  for (const b of src.backends) {
    const prev = backends.get(b.name)
    if (prev !== undefined) { at(b, ['backends', b.name], `backend "${b.name}" is already defined in ${prev.file}:${prev.line}`); continue }
    const compiled = compileBackend(b, defaults, at, src, issues, notices)
    if (compiled !== undefined) backends.set(b.name, compiled)
  }

  interface Draft { src: Located<RouteFile>, pattern: Pattern, constraints: number }
  const drafts: Draft[] = []
  const names = new Map<string, Located<RouteFile>>()
  for (const r of src.routes) {
    const s = r.spec
    const prev = names.get(s.name)
    if (prev !== undefined) at(r, [s.name], `route name "${s.name}" is already used in ${prev.file}:${prev.line}`)
    names.set(s.name, r)
    const pattern = compilePattern(s.match.path)
    if (typeof pattern === 'string') { at(r, [s.name, 'match.path'], pattern, [...r.path, 'match', 'path']); continue }
    // Connections are pooled per backend, so their settings belong to the backend.
    for (const key of ['connectTimeout', 'maxInFlight'] as const) {
      if (s[key] !== undefined) at(r, [s.name, key], `"${key}" is a backend setting (connections are pooled per backend); set it on the backend`, [...r.path, key])
    }
    for (const key of ['shadow', 'rollout', 'rateLimit'] as const) {
      if (s[key] !== undefined) at(r, [s.name, key], `"${key}" is not supported by this version of figway yet`, [...r.path, key])
    }
    const refs: Array<[string, PropertyKey[]]> = [
      ...Object.keys(s.split ?? {}).map((n): [string, PropertyKey[]] => [n, ['split', n]]),
      ...(s.to === undefined ? [] : [[s.to, ['to']] as [string, PropertyKey[]]]),
      ...(s.fallback === undefined ? [] : [[s.fallback, ['fallback']] as [string, PropertyKey[]]])
    ]
    for (const [n, where] of refs) {
      if (!backends.has(n) && !src.backends.some((b) => b.name === n) && !src.brokenBackends.has(n)) {
        at(r, [s.name, ...where], `unknown backend "${n}"`, [...r.path, ...where])
      }
    }
    // Match conditions rank after the path: an exact host, then a wildcard host, then more
    // headers, then a method list (compared in that order, not summed).
    const hostRank = s.match.host === undefined ? 0 : s.match.host.startsWith('*.') ? 1 : 2
    const constraints = hostRank * 10_000 + Object.keys(s.match.headers ?? {}).length * 10 + (s.match.methods === undefined ? 0 : 1)
    if (s.match.host !== undefined && /:\d+$/.test(s.match.host) && !s.match.host.endsWith(']')) {
      at(r, [s.name, 'match.host'], 'match.host is compared without the port: write the host name alone', [...r.path, 'match', 'host'])
    }
    drafts.push({ src: r, pattern, constraints })
  }

  // Rank: path specificity, then match conditions, then priority (higher first), then file and position.
  const rank = (a: Draft, b: Draft): number =>
    compareSpecificity(a.pattern, b.pattern) || (b.constraints - a.constraints)
  drafts.sort((a, b) => rank(a, b) || ((b.src.spec.priority ?? 0) - (a.src.spec.priority ?? 0)) ||
    (a.src.file < b.src.file ? -1 : a.src.file > b.src.file ? 1 : a.src.index - b.src.index))

  for (let i = 0; i < drafts.length; i++) {
    for (let j = i + 1; j < drafts.length && rank(drafts[i]!, drafts[j]!) === 0; j++) {
      const a = drafts[i]!; const b = drafts[j]!
      if (a.src.spec.priority !== undefined || b.src.spec.priority !== undefined) continue
      if (overlaps(a.src.spec, a.pattern, b.src.spec, b.pattern)) {
        at(b.src, [b.src.spec.name], `route "${b.src.spec.name}" matches the same requests as "${a.src.spec.name}" (${a.src.file}:${a.src.line}) with equal specificity; set priority on one of them`)
      }
    }
  }

  const routes: Route[] = []
  drafts.forEach((d, order) => {
    const r = compileRoute(d.src, d.pattern, order, backends, at)
    if (r !== undefined) routes.push(r)
  })
  // An empty table would answer 404 to everything: an emptied ConfigMap must not do that.
  if (issues.length === 0 && routes.length === 0) {
    issues.push({ file: src.files[0] ?? src.dir, line: 1, col: 1, path: '', message: `no routes are defined in ${src.files.length === 0 ? 'the routes folder ' + src.dir : src.files.join(', ')}` })
  }
  if (issues.length > 0) {
    // In reading order (file, line, column), whichever check found them.
    issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col))
    throw new ConfigError(issues)
  }

  return Object.freeze({
    version,
    loadedAt: new Date(),
    files: src.files,
    routes: Object.freeze(routes),
    routeByName: new Map(routes.map((r) => [r.name, r])),
    backends,
    matcher: new Matcher(routes),
    notices
  })
}

type At = (l: Located<unknown>, path: ReadonlyArray<PropertyKey>, message: string, sub?: ReadonlyArray<PropertyKey>) => void

function compileBackend (b: Located<BackendFile> & { name: string }, defaults: Policy, at: At, src: RouteSources, issues: ConfigIssue[], notices: string[]): Backend | undefined {
  const s = b.spec
  if (s.grpc !== undefined) return compileGrpc(b, defaults, at, src, issues, notices)
  let wrong = false
  for (const key of ['tls', 'protos', 'services', 'omitDefaults'] as const) {
    if (s[key] !== undefined) { at(b, ['backends', b.name, key], `"${key}" is for gRPC backends (grpc: host:port); this one has a url`, [...b.path, key]); wrong = true }
  }
  if (wrong) return undefined
  const url = new URL(s.url!)
  if (url.search !== '' || url.hash !== '') { at(b, ['backends', b.name, 'url'], 'backend url must not have a query or fragment', [...b.path, 'url']); return undefined }
  const policy = mergePolicy(defaults, s)
  const basePath = url.pathname.replace(/\/+$/, '')
  const origin = url.origin
  return Object.freeze({
    name: b.name,
    file: b.file,
    line: b.line,
    kind: 'http',
    origin,
    basePath,
    hostHeader: url.host,
    preserveHost: s.preserveHost ?? false,
    policy,
    fingerprint: JSON.stringify([origin, policy.connectTimeoutMs, policy.maxInFlight]),
    grpc: null
  })
}

function compileGrpc (b: Located<BackendFile> & { name: string }, defaults: Policy, at: At, src: RouteSources, issues: ConfigIssue[], notices: string[]): Backend | undefined {
  const s = b.spec
  const where = (key: string): [PropertyKey[], string, PropertyKey[]] => [['backends', b.name, key], key, [...b.path, key]]
  let wrong = false
  for (const key of ['protos', 'services'] as const) {
    if (s[key] === undefined || s[key].length === 0) { const [p, , sub] = where(key); at(b, p, `a gRPC backend lists its ${key}`, sub.slice(0, -1)); wrong = true }
  }
  if (s.preserveHost !== undefined) { const [p, , sub] = where('preserveHost'); at(b, p, 'preserveHost is for HTTP backends', sub); wrong = true }
  if (wrong) return undefined
  const compiled = grpcSupport().compileGrpcBackend({ target: s.grpc!, tls: s.tls ?? false, protos: s.protos!, services: s.services!, omitDefaults: s.omitDefaults ?? false }, src.dir)
  if (Array.isArray(compiled)) {
    for (const i of compiled) {
      if (i.file === undefined) { const [p, , sub] = where('services'); at(b, p, i.message, sub) } else {
        issues.push({ file: src.display(i.file), line: i.line ?? 1, col: 1, path: `backends.${b.name}.protos`, message: i.message })
      }
    }
    return undefined
  }
  for (const u of compiled.unbound) notices.push(`backend ${b.name}: ${u}; not bound`)
  const policy = mergePolicy(defaults, s)
  return Object.freeze({
    name: b.name,
    file: b.file,
    line: b.line,
    kind: 'grpc',
    origin: `grpc://${s.grpc!}`,
    basePath: '',
    hostHeader: s.grpc!,
    preserveHost: false,
    policy,
    // The protos are not part of it: a reload that changes only them keeps the channel.
    fingerprint: JSON.stringify(['grpc', s.grpc, s.tls ?? false, policy.connectTimeoutMs, policy.maxInFlight]),
    grpc: compiled
  })
}

function compileRoute (l: Located<RouteFile>, pattern: Pattern, order: number, backends: ReadonlyMap<string, Backend>, at: At): Route | undefined {
  const s = l.spec
  const names = s.split !== undefined ? Object.keys(s.split) : [s.to!]
  const weights = s.split !== undefined ? Object.values(s.split) : [1]
  const list = names.map((n) => backends.get(n))
  const fallback = s.fallback === undefined ? null : backends.get(s.fallback)
  if (list.some((b) => b === undefined) || fallback === undefined) return undefined
  const targets = buildTargets(list as Backend[], weights)

  let rewrite: Rewrite | null = null
  if (s.rewrite !== undefined) {
    if ('prefix' in s.rewrite) {
      rewrite = { kind: 'prefix', from: s.rewrite.prefix.from.replace(/\/+$/, ''), to: s.rewrite.prefix.to.replace(/\/+$/, '') }
    } else {
      const parts: Array<{ literal: string } | { param: string }> = []
      const known = new Set(pattern.segments.flatMap((x) => x.kind === 'param' ? [x.name] : []))
      for (const piece of s.rewrite.path.split(/(:[A-Za-z_][A-Za-z0-9_]*)/)) {
        if (piece === '') continue
        if (piece.startsWith(':')) {
          if (!known.has(piece.slice(1))) { at(l, [s.name, 'rewrite.path'], `rewrite uses ":${piece.slice(1)}", which match.path does not capture`, [...l.path, 'rewrite', 'path']); return undefined }
          parts.push({ param: piece.slice(1) })
        } else parts.push({ literal: piece })
      }
      rewrite = { kind: 'path', parts }
    }
  }

  let headers: HeaderCondition[] | null = null
  if (s.match.headers !== undefined) {
    headers = []
    for (const [name, value] of Object.entries(s.match.headers)) {
      if (value.length >= 2 && value.startsWith('/') && value.endsWith('/')) {
        try {
          headers.push({ name: name.toLowerCase(), value: null, regex: new RegExp(value.slice(1, -1)) })
        } catch (err) { at(l, [s.name, `match.headers.${name}`], `invalid regular expression: ${(err as Error).message}`, [...l.path, 'match', 'headers', name]); return undefined }
      } else headers.push({ name: name.toLowerCase(), value, regex: null })
    }
  }

  const policyFor = new Map<string, Policy>()
  const all = [...list as Backend[], ...(fallback === null ? [] : [fallback])]
  for (const b of all) policyFor.set(b.name, mergePolicy(b.policy, s))

  let grpcCalls: Map<string, GrpcCall> | null = null
  if (s.grpc !== undefined) {
    const sub = [...l.path, 'grpc', 'method']
    const grpcBackends = all.filter((b) => b.grpc !== null)
    if (grpcBackends.length === 0) { at(l, [s.name, 'grpc.method'], 'grpc names a method, but no backend of this route is a gRPC backend', sub); return undefined }
    const params = pattern.segments.flatMap((x) => x.kind === 'param' ? [x.name] : [])
    grpcCalls = new Map()
    for (const b of grpcBackends) {
      const method = b.grpc!.methods.get(s.grpc.method)
      if (method === undefined) { at(l, [s.name, 'grpc.method'], `method ${s.grpc.method} is not in the protos of backend "${b.name}"`, sub); return undefined }
      const call = grpcSupport().compileCall(method, s.grpc.body ?? '', '', params)
      if (typeof call === 'string') { at(l, [s.name, 'grpc'], `${s.grpc.method}: ${call}`, [...l.path, 'grpc']); return undefined }
      grpcCalls.set(b.name, call)
    }
  }

  return Object.freeze({
    name: s.name,
    file: l.file,
    line: l.line,
    order,
    pattern,
    segments: pattern.segments,
    rest: pattern.rest,
    methods: s.match.methods === undefined ? null : new Set(withHead(s.match.methods)),
    host: s.match.host === undefined ? null : s.match.host.toLowerCase(),
    headers,
    priority: s.priority,
    targets,
    backendByName: new Map((list as Backend[]).map((b) => [b.name, b])),
    // Node lower-cases incoming header names; cookie names are case-sensitive and kept as written.
    sticky: s.sticky === undefined ? null : 'header' in s.sticky ? { header: s.sticky.header.toLowerCase() } : s.sticky,
    seed: routeSeed(s.name),
    allowOverride: s.allowOverride ?? false,
    fallback,
    fallbackAnyMethod: s.fallbackAnyMethod ?? false,
    rewrite,
    policyFor,
    bodyBytes: s.bodyBytes ?? null,
    grpcCalls
  })
}

/** A route that serves GET serves HEAD too (RFC 9110 §9.3.2), as NGINX and Fastify do. */
function withHead (methods: readonly string[]): string[] {
  return methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : [...methods]
}

function overlaps (a: RouteFile, pa: Pattern, b: RouteFile, pb: Pattern): boolean {
  if (!patternsOverlap(pa, pb)) return false
  if (a.match.methods !== undefined && b.match.methods !== undefined) {
    const bm = withHead(b.match.methods)
    if (!withHead(a.match.methods).some((m) => bm.includes(m))) return false
  }
  if (a.match.host !== undefined && b.match.host !== undefined && a.match.host.toLowerCase() !== b.match.host.toLowerCase() &&
    !a.match.host.startsWith('*.') && !b.match.host.startsWith('*.')) return false
  const ha = a.match.headers ?? {}
  const hb = b.match.headers ?? {}
  for (const [k, v] of Object.entries(ha)) {
    const w = Object.entries(hb).find(([k2]) => k2.toLowerCase() === k.toLowerCase())?.[1]
    if (w !== undefined && !v.startsWith('/') && !w.startsWith('/') && v !== w) return false
  }
  return true
}
