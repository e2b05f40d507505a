/**
 * Request-time route selection, shared by the pipeline and by explain: find the route,
 * choose its backend (override header, runtime weights, sticky bucket), rewrite the path.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { captureParams, pathSegments } from './pattern.ts'
import { buildTargets, pick, randomBucket, stickyBucket, type WeightedTargets } from './split.ts'
import type { Backend, Route, RouteTable } from './table.ts'
import type { WeightMap, WeightSource } from './weights.ts'

export const OVERRIDE_HEADER = 'x-figway-backend'

/** Lower-case host without port. */
export function hostOf (hostHeader: string | undefined): string {
  if (hostHeader === undefined) return ''
  let h = hostHeader
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']')
    return (end === -1 ? h : h.slice(0, end + 1)).toLowerCase()
  }
  const colon = h.indexOf(':')
  if (colon !== -1) h = h.slice(0, colon)
  return h.toLowerCase()
}

function acceptsRequest (r: Route, method: string, host: string, headers: IncomingHttpHeaders): boolean {
  if (r.methods !== null && !r.methods.has(method)) return false
  if (r.host !== null) {
    if (r.host.startsWith('*.')) { if (!host.endsWith(r.host.slice(1))) return false } else if (r.host !== host) return false
  }
  if (r.headers !== null) {
    for (const h of r.headers) {
      const v = headers[h.name]
      if (v === undefined) return false
      const s = typeof v === 'string' ? v : v.join(', ')
      if (h.regex !== null ? !h.regex.test(s) : s !== h.value) return false
    }
  }
  return true
}

export function matchRoute (table: RouteTable, method: string, headers: IncomingHttpHeaders, segs: readonly string[]): Route | undefined {
  const host = hostOf(headers.host)
  return table.matcher.find(segs, (r) => acceptsRequest(r, method, host, headers))
}

export interface Choice {
  readonly backend: Backend
  /** The bucket used (sticky or random); -1 when forced by the override header or single target. */
  readonly bucket: number
  readonly sticky: boolean
  readonly overridden: boolean
  readonly weightsFrom: 'file' | 'runtime'
}

const runtimeTargets = new WeakMap<Route, { map: WeightMap, targets: WeightedTargets<Backend> }>()

/** The weights in force for a route: its runtime override if one names only its backends, else the file's. */
export function effectiveTargets (route: Route, weights: WeightSource | undefined): { targets: WeightedTargets<Backend>, from: 'file' | 'runtime' } {
  const map = weights?.get(route.name)
  if (map === undefined) return { targets: route.targets, from: 'file' }
  const cached = runtimeTargets.get(route)
  if (cached !== undefined && cached.map === map) return { targets: cached.targets, from: 'runtime' }
  // Backends the override leaves out get weight 0; an override naming an unknown backend is ignored.
  const names = Object.keys(map)
  if (names.some((n) => !route.backendByName.has(n))) return { targets: route.targets, from: 'file' }
  const list = route.targets.backends
  const w = list.map((b) => map[b.name] ?? 0)
  if (w.every((x) => x === 0)) return { targets: route.targets, from: 'file' }
  const targets = buildTargets(list, w)
  runtimeTargets.set(route, { map, targets })
  return { targets, from: 'runtime' }
}

export function stickyKey (route: Route, headers: IncomingHttpHeaders): string | undefined {
  const s = route.sticky
  if (s === null) return undefined
  if ('header' in s) {
    const v = headers[s.header]
    return typeof v === 'string' ? (v === '' ? undefined : v) : v?.[0]
  }
  return cookieValue(headers.cookie, s.cookie)
}

function cookieValue (header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim()
      return v === '' ? undefined : v
    }
  }
  return undefined
}

export function chooseBackend (route: Route, headers: IncomingHttpHeaders, weights: WeightSource | undefined): Choice | undefined {
  if (route.allowOverride) {
    const forced = headers[OVERRIDE_HEADER]
    if (typeof forced === 'string') {
      const b = route.backendByName.get(forced)
      if (b !== undefined) return { backend: b, bucket: -1, sticky: false, overridden: true, weightsFrom: 'file' }
    }
  }
  const { targets, from } = effectiveTargets(route, weights)
  if (targets.backends.length === 1) return { backend: targets.backends[0]!, bucket: -1, sticky: false, overridden: false, weightsFrom: from }
  const key = stickyKey(route, headers)
  const bucket = key === undefined ? randomBucket() : stickyBucket(route.seed, key)
  const i = pick(targets, bucket)
  if (i === -1) return undefined
  return { backend: targets.backends[i]!, bucket, sticky: key !== undefined, overridden: false, weightsFrom: from }
}

/** The path the backend receives: route rewrite, then the backend URL's own path prefix. */
export function upstreamPath (route: Route, backend: Backend, path: string, segs: readonly string[] | null): string {
  let p = path
  const rw = route.rewrite
  if (rw !== null) {
    if (rw.kind === 'prefix') {
      if (p === rw.from || p.startsWith(rw.from + '/') || rw.from === '') p = (rw.to + p.slice(rw.from.length)) || '/'
    } else {
      const params = captureParams(route.pattern, segs ?? pathSegments(path))
      p = ''
      for (const part of rw.parts) p += 'literal' in part ? part.literal : params[part.param]
    }
  }
  return backend.basePath === '' ? p : backend.basePath + p
}
