/**
 * The catalogue of local replies: every response figway produces itself, with its stable
 * `code`, HTTP status and title (spec §5). Each local reply is counted in
 * `figway_local_replies_total{code}` and logged with its code.
 */
export const LOCAL_REPLIES = {
  route_not_found: { status: 404, title: 'No route matches the request' },
  bad_request_path: { status: 400, title: 'Request path is not allowed' },
  bad_request: { status: 400, title: 'Malformed request' },
  request_headers_too_large: { status: 431, title: 'Request header fields too large' },
  request_too_large: { status: 413, title: 'Request body too large' },
  request_timeout: { status: 408, title: 'Request not received in time' },
  upstream_unreachable: { status: 502, title: 'Upstream unreachable' },
  upstream_reset: { status: 502, title: 'Upstream reset the connection' },
  upstream_timeout: { status: 504, title: 'Upstream timed out' },
  upstream_circuit_open: { status: 503, title: 'Upstream circuit open' },
  upstream_overloaded: { status: 503, title: 'Upstream overloaded' },
  rate_limited: { status: 429, title: 'Too many requests' },
  shutting_down: { status: 503, title: 'Gateway is shutting down' },
  bad_transcode_request: { status: 400, title: 'Request cannot be transcoded' },
  method_not_allowed: { status: 405, title: 'Method not allowed' }
} as const

export type LocalReplyCode = keyof typeof LOCAL_REPLIES

/** Builds the application/problem+json body of a local reply (RFC 9457). */
export function problemBody (code: LocalReplyCode, route: string, traceId: string, detail?: string): string {
  const entry = LOCAL_REPLIES[code]
  // Hand-built JSON: the fields are fixed and this runs on error paths under load.
  let body = '{"type":"about:blank","title":' + JSON.stringify(entry.title) +
    ',"status":' + entry.status + ',"code":"' + code + '"'
  if (route !== '') body += ',"route":' + JSON.stringify(route)
  if (traceId !== '') body += ',"traceId":"' + traceId + '"'
  if (detail !== undefined) body += ',"detail":' + JSON.stringify(detail)
  return body + '}'
}

/** A config problem located in a file: `file:line:col: option: message`. */
export interface ConfigIssue {
  file: string
  line: number
  col: number
  path: string
  message: string
}

export function formatIssue (i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path === '' ? '' : i.path + ': '}${i.message}`
}

/** Thrown when a config file or route table is refused; carries every problem found. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[]
  constructor (issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'))
    this.name = 'ConfigError'
    this.issues = issues
  }
}
