/**
 * Request path normalisation before matching (spec §2.1): RFC 3986 §5.2.4 dot-segment
 * removal (also when written `%2e`), `//` merged, percent-encoded unreserved characters
 * decoded (RFC 3986 §6.2.2.2) so `/api/ord%65rs` matches `/api/orders`. A path holding an
 * encoded slash or backslash (`%2F`, `%5C`), or a raw backslash, is refused: backends
 * disagree on what they mean, which is how route-based access rules get bypassed.
 */

/** Returns the normalised path, or undefined when the path must be refused with 400. */
export function normalizePath (raw: string): string | undefined {
  // Origin-form only: absolute-form and `*` (OPTIONS) targets are not routed.
  if (raw.charCodeAt(0) !== 47 /* / */) return undefined
  // Fast path: nothing to decode, no dot segments, no empty segments.
  if (!needsWork(raw)) return raw
  let path = raw
  if (path.includes('%')) {
    if (/%(2f|5c)/i.test(path)) return undefined
    const decoded = decodeUnreserved(path)
    if (decoded === undefined) return undefined
    path = decoded
  }
  if (path.includes('\\')) return undefined
  const segs = path.split('/')
  const out: string[] = []
  let trailing = false
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!
    const last = i === segs.length - 1
    if (s === '.' || s === '..') {
      if (s === '..') out.pop()
      trailing = last
      continue
    }
    if (s === '') {
      trailing = last
      continue
    }
    out.push(s)
    trailing = false
  }
  let result = '/' + out.join('/')
  if (trailing && out.length > 0) result += '/'
  return result
}

function needsWork (p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i)
    if (c === 37 /* % */ || c === 92 /* \ */) return true
    if (c === 47 /* / */ && i + 1 < p.length) {
      const n = p.charCodeAt(i + 1)
      if (n === 47) return true
      if (n === 46 /* . */) {
        const n2 = i + 2 < p.length ? p.charCodeAt(i + 2) : 47
        if (n2 === 47 || (n2 === 46 && (i + 3 >= p.length || p.charCodeAt(i + 3) === 47))) return true
      }
    }
  }
  return false
}

const HEX = /^[0-9A-Fa-f]{2}$/

function decodeUnreserved (p: string): string | undefined {
  let out = ''
  let i = 0
  while (i < p.length) {
    const c = p[i]!
    if (c !== '%') { out += c; i++; continue }
    const hex = p.slice(i + 1, i + 3)
    if (!HEX.test(hex)) return undefined
    const code = parseInt(hex, 16)
    const ch = String.fromCharCode(code)
    // ALPHA / DIGIT / "-" / "." / "_" / "~"
    if (/[A-Za-z0-9\-._~]/.test(ch)) out += ch
    else out += '%' + hex.toUpperCase()
    i += 3
  }
  return out
}

/** Splits a raw request target into path and query (query keeps its leading `?`, or ''). */
export function splitTarget (url: string): { path: string, query: string } {
  const q = url.indexOf('?')
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q) }
}
