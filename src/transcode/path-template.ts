/**
 * `google.api.http` path templates (spec §2.6), parsed and matched per the grammar in
 * google/api/http.proto:
 *
 *     Template = "/" Segments [ Verb ] ;
 *     Segments = Segment { "/" Segment } ;
 *     Segment  = "*" | "**" | LITERAL | Variable ;
 *     Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *     FieldPath = IDENT { "." IDENT } ;
 *     Verb     = ":" LITERAL ;
 *
 * Templates are compiled once at load into frozen objects; matching only reads them.
 */

/** One compiled template segment. */
export type TemplateSegment =
  | { readonly kind: 'literal', readonly value: string }
  /** `*`: exactly one non-empty segment. */
  | { readonly kind: 'wildcard' }
  /** `**`: zero or more segments; only last (before the verb). */
  | { readonly kind: 'deepWildcard' }

/** A `{field.path=...}` variable and the template segments it spans. */
export interface TemplateVariable {
  /** Dotted request field path, e.g. `book.name`. */
  readonly fieldPath: string
  /** Template segments [start, end) the variable covers. */
  readonly start: number
  readonly end: number
  /** Declared over several segments or `**`: reserved characters stay percent-encoded. */
  readonly multi: boolean
}

/** A compiled, frozen path template. */
export interface PathTemplate {
  readonly source: string
  readonly segments: readonly TemplateSegment[]
  readonly variables: readonly TemplateVariable[]
  /** Custom verb without the colon; '' when the template has none. */
  readonly verb: string
  /** Ends with `**` (possibly inside a variable). */
  readonly deep: boolean
  /** Per segment: 0 literal, 1 `*`, 2 `**`; compared segment by segment. */
  readonly rank: readonly number[]
  /** Equal for templates that match the same paths (variable names erased). */
  readonly key: string
}

/** Path variables bound by a match: field path → decoded value. */
export type PathVars = Record<string, string>

const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/
// RFC 3986 pchar, minus "*" (which would make a literal look like a wildcard).
const LITERAL = /^(?:[A-Za-z0-9\-._~!$&'()+,;=:@]|%[0-9A-Fa-f]{2})+$/

interface Cursor { readonly s: string, i: number }

/** Compiles a path template; returns a message saying what is wrong when it is malformed. */
export function parseTemplate (source: string): PathTemplate | string {
  if (typeof source !== 'string' || !source.startsWith('/')) return 'a path template must start with "/"'
  const segments: TemplateSegment[] = []
  const variables: TemplateVariable[] = []
  let verb = ''
  // "/" alone is the root; the grammar needs a segment, but transcoders accept it (Envoy does).
  if (source !== '/') {
    const c: Cursor = { s: source, i: 1 }
    const err = parseSegments(c, segments, variables, false)
    if (err !== null) return err
    if (c.i < source.length) {
      const ch = source[c.i]
      if (ch === '}') return `unbalanced "}" at offset ${c.i}`
      if (ch !== ':') return `unexpected "${ch}" at offset ${c.i}: a variable must be a whole segment`
      verb = source.slice(c.i + 1)
      // Verb = ":" LITERAL; no second colon, since a request's verb is split at its last one.
      if (!LITERAL.test(verb) || verb.includes(':')) return `invalid verb ":${verb}"`
    }
  }
  // "`**` ... must be the last part of the path except the `Verb`" (http.proto).
  const deepAt = segments.findIndex((s) => s.kind === 'deepWildcard')
  if (deepAt !== -1 && deepAt !== segments.length - 1) return '"**" may only be the last segment (before a verb)'
  const names = variables.map((v) => v.fieldPath).sort()
  for (let i = 1; i < names.length; i++) {
    if (names[i] === names[i - 1]) return `field "${names[i]}" is bound twice`
    if (names[i]!.startsWith(names[i - 1] + '.')) return `fields "${names[i - 1]}" and "${names[i]}" overlap`
  }
  const rank = segments.map((s) => s.kind === 'literal' ? 0 : s.kind === 'wildcard' ? 1 : 2)
  const key = '/' + segments.map((s) => s.kind === 'literal' ? s.value : s.kind === 'wildcard' ? '*' : '**').join('/') +
    (verb === '' ? '' : ' :' + verb) // a space: no literal holds one, so a verb never reads as a segment
  return Object.freeze({
    source,
    segments: Object.freeze(segments.map((s) => Object.freeze(s))),
    variables: Object.freeze(variables.map((v) => Object.freeze(v))),
    verb,
    deep: deepAt !== -1,
    rank: Object.freeze(rank),
    key
  })
}

function parseSegments (c: Cursor, out: TemplateSegment[], vars: TemplateVariable[], inVariable: boolean): string | null {
  for (;;) {
    const err = parseSegment(c, out, vars, inVariable)
    if (err !== null) return err
    if (c.s[c.i] !== '/') return null
    c.i++
  }
}

function parseSegment (c: Cursor, out: TemplateSegment[], vars: TemplateVariable[], inVariable: boolean): string | null {
  const ch = c.s[c.i]
  if (ch === undefined || ch === '/' || ch === '}' || (ch === ':' && isVerbColon(c, inVariable))) {
    if (ch === '}' && !inVariable) return `unbalanced "}" at offset ${c.i}`
    return `empty segment at offset ${c.i}`
  }
  if (ch === '{') {
    // "A variable template must not contain other variables" (http.proto).
    if (inVariable) return `nested variable at offset ${c.i}`
    const open = c.i
    const close = c.s.indexOf('}', open)
    const eq = c.s.indexOf('=', open)
    const nameEnd = eq !== -1 && (close === -1 || eq < close) ? eq : close
    if (nameEnd === -1) return `unbalanced "{" at offset ${open}`
    const fieldPath = c.s.slice(open + 1, nameEnd)
    if (!FIELD_PATH.test(fieldPath)) return `invalid field path "${fieldPath}" at offset ${open + 1}`
    const start = out.length
    if (nameEnd === close) {
      // "`{var}` is equivalent to `{var=*}`" (http.proto).
      out.push({ kind: 'wildcard' })
      c.i = close + 1
    } else {
      c.i = eq + 1
      const err = parseSegments(c, out, vars, true)
      if (err !== null) return err
      if (c.s[c.i] !== '}') return c.s[c.i] === '{' ? `nested variable at offset ${c.i}` : `unbalanced "{" at offset ${open}`
      c.i++
    }
    const end = out.length
    vars.push({ fieldPath, start, end, multi: end - start > 1 || out[start]!.kind === 'deepWildcard' })
    return null
  }
  if (ch === '*') {
    const deep = c.s[c.i + 1] === '*'
    c.i += deep ? 2 : 1
    const next = c.s[c.i]
    if (next !== undefined && next !== '/' && next !== '}' && next !== ':') return `"*" must be a whole segment (offset ${c.i})`
    out.push(deep ? { kind: 'deepWildcard' } : { kind: 'wildcard' })
    return null
  }
  const start = c.i
  while (c.i < c.s.length) {
    const x = c.s[c.i]
    if (x === '/' || x === '{' || x === '}' || x === '*') break
    if (x === ':' && isVerbColon(c, inVariable)) break
    c.i++
  }
  const value = c.s.slice(start, c.i)
  if (c.s[c.i] === '*') return `"*" must be a whole segment (offset ${c.i})`
  if (!LITERAL.test(value)) return `invalid literal segment "${value}" at offset ${start}`
  out.push({ kind: 'literal', value })
  return null
}

// A colon outside braces with no "/" after it starts the verb; elsewhere it is a literal character.
function isVerbColon (c: Cursor, inVariable: boolean): boolean {
  return !inVariable && c.s.indexOf('/', c.i) === -1
}

/** Splits a request path (query ignored) into raw segments and the text after the last ":" of the last segment. */
export function splitPath (path: string): { segments: string[], verb: string } {
  const q = path.indexOf('?')
  const p = q === -1 ? path : path.slice(0, q)
  const segments = p === '/' || p === '' ? [] : p.slice(1).split('/')
  let verb = ''
  const n = segments.length
  if (n > 0) {
    const last = segments[n - 1]!
    const colon = last.lastIndexOf(':')
    if (colon !== -1 && colon < last.length - 1) {
      verb = last.slice(colon + 1)
      segments[n - 1] = last.slice(0, colon)
    }
  }
  return { segments, verb }
}

/**
 * Matches split path segments (see splitPath) against a template; returns the decoded
 * variables or null. The verb is only a verb when the template has one: otherwise it is
 * put back on the last segment, where a colon is an ordinary character.
 */
export function matchTemplate (t: PathTemplate, segments: readonly string[], verb: string): PathVars | null {
  if (t.verb !== '' && t.verb !== verb) return null
  const n = segments.length
  const last = n === 0 ? '' : t.verb === '' && verb !== '' ? segments[n - 1] + ':' + verb : segments[n - 1]!
  const fixed = t.deep ? t.segments.length - 1 : t.segments.length
  if (t.deep ? n < fixed : n !== fixed) return null
  for (let i = 0; i < fixed; i++) {
    const s = t.segments[i]!
    const seg = i === n - 1 ? last : segments[i]!
    if (s.kind === 'literal' ? seg !== s.value : seg === '') return null
  }
  const vars: PathVars = Object.create(null)
  for (const v of t.variables) {
    const end = v.end === t.segments.length && t.deep ? n : v.end
    let raw = ''
    for (let i = v.start; i < end; i++) raw += (i > v.start ? '/' : '') + (i === n - 1 ? last : segments[i])
    const value = decodeValue(raw, v.multi)
    if (value === null) return null
    vars[v.fieldPath] = value
  }
  return vars
}

// RFC 6570 §1.5 reserved = gen-delims / sub-delims.
const RESERVED = new Set([...":/?#[]@!$&'()*+,;="].map((ch) => ch.charCodeAt(0)))
const utf8 = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

/**
 * Percent-decodes a bound value. A single-segment variable is fully decoded ("the server
 * side does the reverse decoding", http.proto). A multi-segment one keeps RFC 6570 reserved
 * characters encoded, so `%2F` never becomes a separator ("the default behavior is to not
 * decode RFC 6570 reserved characters in multi segment matches", Http.
 * fully_decode_reserved_expansion). A malformed escape or invalid UTF-8 → null.
 */
export function decodeValue (raw: string, multi: boolean): string | null {
  if (!raw.includes('%')) return raw
  const bytes: number[] = []
  let run = 0
  for (let i = 0; i < raw.length; i++) {
    if (raw.charCodeAt(i) !== 37) continue
    for (const b of encoder.encode(raw.slice(run, i))) bytes.push(b)
    const hex = raw.slice(i + 1, i + 3)
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null
    const b = parseInt(hex, 16)
    if (multi && RESERVED.has(b)) bytes.push(37, hex.charCodeAt(0), hex.charCodeAt(1))
    else bytes.push(b)
    i += 2
    run = i + 1
  }
  for (const b of encoder.encode(raw.slice(run))) bytes.push(b)
  try {
    return utf8.decode(Uint8Array.from(bytes))
  } catch {
    return null
  }
}

/**
 * Orders templates by specificity (spec §2.6): negative when `a` is more specific. Segment
 * by segment a literal beats `*`, which beats `**`; a template that ends where the other
 * continues with `**` wins; then one with a verb beats one without.
 */
export function compareTemplates (a: PathTemplate, b: PathTemplate): number {
  const n = Math.min(a.rank.length, b.rank.length)
  for (let i = 0; i < n; i++) {
    if (a.rank[i] !== b.rank[i]) return a.rank[i]! - b.rank[i]!
  }
  if (a.rank.length !== b.rank.length) return a.rank.length - b.rank.length
  if ((a.verb === '') !== (b.verb === '')) return a.verb === '' ? 1 : -1
  return 0
}
