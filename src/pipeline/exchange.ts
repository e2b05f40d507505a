/**
 * One request's state as it moves through the pipeline. A class with every field set in the
 * constructor, so every exchange has the same shape (monomorphic property access).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Context, Span } from '@opentelemetry/api'
import type { Backend, Route } from '../routing/table.ts'

/**
 * Each response's exchange, for errors that arrive on the connection rather than the request
 * (app.ts): a property of the response, not a WeakMap entry. V8's minor GC keeps a WeakMap
 * entry whose key is young alive, so every request's whole object graph (keyed by its
 * response) survived the scavenges and was promoted: scavenges of 10–25 ms and an old
 * generation growing until a mark-compact.
 */
const EXCHANGE = Symbol('figway.exchange')
type WithExchange = ServerResponse & { [EXCHANGE]?: Exchange }

/** The exchange a response belongs to, if the pipeline has it. */
export function exchangeOf (res: ServerResponse): Exchange | undefined {
  return (res as WithExchange)[EXCHANGE]
}

/** What is told when the client's connection closes before the response ended (forward.ts). */
export interface CloseWatcher {
  responseClosed (): void
}

/** One listener for every response: no closure per request. */
function onResponseClose (this: ServerResponse): void {
  (this as WithExchange)[EXCHANGE]?.watcher?.responseClosed()
}

export class Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly start: number
  reqId: string
  /** Set by accept from the client's traceparent, or new: every request has a trace. */
  traceId: string
  /** W3C trace flags (bit 0: sampled), sent on to the backends. */
  traceFlags: number
  /** The client's tracestate, forwarded when its traceparent was usable; else ''. */
  tracestate: string
  /** The SERVER span while tracing exports; null otherwise (telemetry/tracing.ts). */
  span: Span | null
  /** The context holding `span`, the parent of the attempts' CLIENT spans. */
  spanContext: Context | null
  method: string
  /** Normalised path (what matching saw and the backend receives before rewrites). */
  path: string
  /** The query string with its `?`, or ''. */
  query: string
  route: Route | undefined
  backend: Backend | undefined
  upstreamPath: string
  status: number
  /** Local reply code or upstream outcome for the access log; '' on a plain proxied response. */
  code: string
  attempts: number
  fallback: string
  done: boolean
  /** Told when the response closes, once watchClose() was called. */
  watcher: CloseWatcher | null

  constructor (req: IncomingMessage, res: ServerResponse, start: number) {
    this.req = req
    this.res = res
    this.start = start
    this.reqId = ''
    this.traceId = ''
    this.traceFlags = 0
    this.tracestate = ''
    this.span = null
    this.spanContext = null
    this.method = req.method ?? 'GET'
    this.path = ''
    this.query = ''
    this.route = undefined
    this.backend = undefined
    this.upstreamPath = ''
    this.status = 0
    this.code = ''
    this.attempts = 0
    this.fallback = ''
    this.done = false
    this.watcher = null
    ;(res as WithExchange)[EXCHANGE] = this
  }

  /** `w` hears of the response's `close` (a client gone before the end, or the end itself). */
  watchClose (w: CloseWatcher): void {
    this.watcher = w
    this.res.on('close', onResponseClose)
  }
}
