/**
 * Route path patterns (spec §2.1): literal segments, `:name` (one segment), `*` (one
 * segment) and a final `**` (the rest: zero or more segments). Specificity: more literal
 * segments, then more `:params`, then more `*`, and a pattern without `**` beats one with.
 */

export type Segment =
  | { readonly kind: 'literal', readonly value: string }
  | { readonly kind: 'param', readonly name: string }
  | { readonly kind: 'star' }

export interface Pattern {
  readonly source: string
  readonly segments: readonly Segment[]
  /** Ends with `**`. */
  readonly rest: boolean
  readonly literals: number
  readonly params: number
  readonly stars: number
}

/** Splits a path into segments; '/' is [], '/a/' is ['a', ''] (a trailing slash is significant). */
export function pathSegments (path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/')
}

export function compilePattern (source: string): Pattern | string {
  const parts = pathSegments(source)
  const segments: Segment[] = []
  let rest = false
  let literals = 0
  let params = 0
  let stars = 0
  const names = new Set<string>()
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!
    if (p === '**') {
      if (i !== parts.length - 1) return '"**" may only be the last segment'
      rest = true
    } else if (p === '*') {
      segments.push({ kind: 'star' }); stars++
    } else if (p.startsWith(':')) {
      const name = p.slice(1)
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `invalid parameter segment "${p}"`
      if (names.has(name)) return `parameter ":${name}" appears twice`
      names.add(name)
      segments.push({ kind: 'param', name }); params++
    } else {
      if (p.includes('*')) return `"*" must be a whole segment, not part of "${p}"`
      if (p === '' && i !== parts.length - 1) return 'empty segment ("//") in pattern'
      if (p === '.' || p === '..') return 'dot segments are not allowed in patterns'
      segments.push({ kind: 'literal', value: p }); literals++
    }
  }
  return { source, segments, rest, literals, params, stars }
}

/** Compares specificity: negative when `a` is more specific than `b`. */
export function compareSpecificity (a: Pattern, b: Pattern): number {
  if (a.literals !== b.literals) return b.literals - a.literals
  if (a.params !== b.params) return b.params - a.params
  if (a.stars !== b.stars) return b.stars - a.stars
  if (a.rest !== b.rest) return a.rest ? 1 : -1
  return 0
}

/** Captures `:param` values of a path already known to match. */
export function captureParams (p: Pattern, segs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < p.segments.length; i++) {
    const s = p.segments[i]!
    if (s.kind === 'param') out[s.name] = segs[i]!
  }
  return out
}

/** True when some path matches both patterns. */
export function patternsOverlap (a: Pattern, b: Pattern): boolean {
  const n = Math.min(a.segments.length, b.segments.length)
  for (let i = 0; i < n; i++) {
    const x = a.segments[i]!
    const y = b.segments[i]!
    if (x.kind === 'literal' && y.kind === 'literal' && x.value !== y.value) return false
    // A one-segment wildcard never matches an empty (trailing-slash) segment.
    if ((x.kind === 'literal' && x.value === '' && y.kind !== 'literal') || (y.kind === 'literal' && y.value === '' && x.kind !== 'literal')) return false
  }
  if (a.segments.length === b.segments.length) return true
  const longer = a.segments.length > b.segments.length ? a : b
  const shorter = longer === a ? b : a
  // The shorter one must absorb the longer one's extra segments with `**`.
  return shorter.rest
}
