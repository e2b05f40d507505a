/**
 * The one place where transport errors become local reply codes (the closed set of spec §5),
 * in the manner of @fastify/reply-from: the original error is kept as `cause` for the log.
 */
import type { LocalReplyCode } from '../errors.ts'

/** Raised by figway's own timers; the abort reason handed to undici. */
export class UpstreamTimeoutError extends Error {
  readonly which: 'perTry' | 'total'
  constructor (which: 'perTry' | 'total', ms: number) {
    super(`${which === 'perTry' ? 'per-try' : 'whole-request'} timeout of ${ms}ms reached`)
    this.name = 'UpstreamTimeoutError'
    this.which = which
  }
}

/** The client went away; nothing is sent, the access log says 499. */
export class ClientClosedError extends Error {
  constructor () { super('client closed the connection'); this.name = 'ClientClosedError' }
}

export type Outcome = LocalReplyCode | 'client_closed'

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNABORTED'])

export function classify (err: unknown): Outcome {
  if (err instanceof UpstreamTimeoutError) return 'upstream_timeout'
  if (err instanceof ClientClosedError) return 'client_closed'
  const e = err as { code?: string, cause?: { code?: string } } | null
  const code = e?.code ?? ''
  if (UNREACHABLE.has(code) || UNREACHABLE.has(e?.cause?.code ?? '')) return 'upstream_unreachable'
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'upstream_timeout'
  return 'upstream_reset'
}
