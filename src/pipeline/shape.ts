/**
 * Stage `shape`: the headers the backend receives (spec §4). Hop-by-hop headers (RFC 9110
 * §7.6.1: Connection and the headers it names, Keep-Alive, TE, Trailer, Transfer-Encoding,
 * Upgrade, and Proxy-*) are dropped; X-Forwarded-For gets the peer appended, keeping earlier
 * entries only when the peer is a trusted proxy; X-Forwarded-Proto/Host are set; Host is the
 * backend's unless `preserveHost`; trace context is set per attempt. Built as undici's flat [name, value, ...] array from
 * rawHeaders, which keeps duplicates and the client's casing.
 */
import type { IncomingMessage } from 'node:http'
import type { Backend } from '../routing/table.ts'

/** Dropped on the way in; the forwarding headers are rebuilt below. */
const DROP_REQUEST = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  // undici refuses `expect`; Node's server has already answered 100-continue.
  'expect',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
  // Rebuilt from the exchange's id: the client's when accept kept it, else a fresh one, so
  // the backend and the access log always name the same id.
  'x-request-id',
  'x-figway-backend',
  // Each attempt sends its own trace context (setTraceContext), in the request's trace.
  'traceparent', 'tracestate'
])

/** Dropped on the way out, with every `proxy-*` header (as on the way in). */
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

/** Header names listed in a Connection header, other than the usual close/keep-alive. */
export function connectionTokens (value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null
  // Nearly every message says only `keep-alive` or `close`: answered without splitting.
  if (typeof value === 'string' && value.length <= 10) {
    const v = value.toLowerCase()
    if (v === 'keep-alive' || v === 'close') return null
  }
  const v = (typeof value === 'string' ? value : value.join(',')).toLowerCase()
  let set: Set<string> | null = null
  for (const t of v.split(',')) {
    const token = t.trim()
    if (token === '' || token === 'close' || token === 'keep-alive') continue
    ;(set ??= new Set()).add(token)
  }
  return set
}

export function peerAddress (req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? ''
  return a.startsWith('::ffff:') ? a.slice(7) : a
}

export function upstreamHeaders (req: IncomingMessage, backend: Backend, trusted: boolean, reqId: string): string[] {
  const raw = req.rawHeaders
  const nominated = connectionTokens(req.headers.connection)
  const out: string[] = []
  let xff = ''
  let xfp = ''
  let xfh = ''
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (DROP_REQUEST.has(lower)) {
      if (trusted) {
        if (lower === 'x-forwarded-for') xff = xff === '' ? raw[i + 1]! : xff + ', ' + raw[i + 1]!
        else if (lower === 'x-forwarded-proto') xfp = raw[i + 1]!
        else if (lower === 'x-forwarded-host') xfh = raw[i + 1]!
      }
      continue
    }
    if (lower.startsWith('proxy-')) continue
    if (nominated !== null && nominated.has(lower)) continue
    out.push(name, raw[i + 1]!)
  }
  const peer = peerAddress(req)
  const host = req.headers.host ?? ''
  out.push('host', backend.preserveHost && host !== '' ? host : backend.hostHeader)
  out.push('x-forwarded-for', xff === '' ? peer : xff + ', ' + peer)
  out.push('x-forwarded-proto', xfp !== '' ? xfp : ((req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'))
  if (xfh !== '' || host !== '') out.push('x-forwarded-host', xfh !== '' ? xfh : host)
  out.push('x-request-id', reqId)
  return out
}

/**
 * Trace context for one attempt (spec §9, W3C Trace Context): `traceparent` names the
 * attempt's span, `tracestate` is the client's, passed on when its traceparent was usable.
 * They are the last entries of `headers`, replacing the previous attempt's on a retry.
 */
export function setTraceContext (headers: string[], traceparent: string, tracestate: string): void {
  let n = headers.length
  // Only this function writes these names in lower case; upstreamHeaders drops the client's.
  if (n >= 2 && headers[n - 2] === 'traceparent') {
    n -= 2
    if (n >= 2 && headers[n - 2] === 'tracestate') n -= 2
    headers.length = n
  }
  if (tracestate !== '') headers.push('tracestate', tracestate)
  headers.push('traceparent', traceparent)
}

/** Copies a backend's response headers for the client, without hop-by-hop ones. */
export function downstreamHeaders (headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const nominated = connectionTokens(headers.connection)
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const v = headers[name]
    if (v === undefined || DROP_RESPONSE.has(name) || name.startsWith('proxy-') || (nominated !== null && nominated.has(name))) continue
    out[name] = v
  }
  return out
}

/** The request announces a body (RFC 9112 §6.3: Transfer-Encoding, or a non-zero Content-Length). */
export function requestHasBody (req: IncomingMessage): boolean {
  const cl = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0')
}

/**
 * A response is about to go out while the request body is still arriving: the connection
 * cannot be reused (its remaining bytes would be read as the next request), so it is closed.
 */
export function bodyPending (req: IncomingMessage): boolean {
  return !req.complete && requestHasBody(req)
}
