/**
 * One attempt on a gRPC backend: a unary or server-streaming call on the backend's channel,
 * reported to its Forwarding like an HTTP attempt (attempt.ts), so retries, the breaker, the
 * bulkhead, deadlines and the fallback work the same (spec §2.6, §3):
 *
 *   UNAVAILABLE            → divert 'unavailable' (retried; or the fallback), else its status
 *   no connection at all   → failed 'connect_error' (never reached the backend)
 *   figway's own deadline  → failed 'timeout' (a per-try deadline may be retried)
 *   other status ≥ 500     → divert 'status_5xx' (the fallback may serve), else its status
 *   anything else          → the status as HTTP with the google.rpc.Status JSON
 *
 * A server stream commits on its first message (NDJSON, one message per line); an error
 * after that ends the stream with an `{"error":{...}}` line.
 */
import { status as Code, type Metadata, type StatusObject } from '@grpc/grpc-js'
import type { Channel } from '@grpc/grpc-js/build/src/channel.js'
import type { Call, InterceptingListener, MessageContext } from '@grpc/grpc-js/build/src/call-interface.js'
import type { AttemptSettler } from '../resilience/breaker.ts'
import type { BackendGuard } from '../resilience/guards.ts'
import type { Backend } from '../routing/table.ts'
import type { GrpcCall, GrpcSpec } from '../transcode/backend.ts'
import { encodeResponse, httpStatusOf, statusJson } from '../transcode/response.ts'
import { UpstreamTimeoutError } from '../upstream/errors.ts'
import { AttemptCore, type AttemptOwner, type UpstreamAttempt } from './attempt.ts'

type Headers = Record<string, string | string[] | undefined>

const NO_CONTEXT: MessageContext = {}
/**
 * grpc-js arms its deadline timer from Date.now() (whole milliseconds) on a loop clock that
 * may lag under load, so its DEADLINE_EXCEEDED can come a little before figway's own clock
 * says the deadline passed: within this margin, the deadline that passed is ours.
 */
const DEADLINE_SLACK_MS = 25
const NDJSON = 'application/x-ndjson'
const NEWLINE = Buffer.from('\n')

/** Response metadata that is transport, not application data: not copied to the client. */
const SKIP_METADATA = new Set(['content-type', 'te', 'user-agent', 'date', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-status-details-bin'])

/**
 * Request header → metadata key copied as is (spec §2.6); `grpc-metadata-*` and x-request-id
 * besides. `traceparent` and `tracestate` are set per attempt, in the request's trace (spec §9).
 */
export const METADATA_HEADERS = ['authorization', 'baggage'] as const

export class GrpcAttempt extends AttemptCore implements UpstreamAttempt, InterceptingListener {
  readonly #spec: GrpcSpec
  readonly #call: GrpcCall
  #rpc: Call | null = null
  #reading = false
  #paused = false
  #initial: Metadata | null = null
  #value: Buffer | undefined = undefined
  #status: StatusObject | null = null
  /** performance.now() when figway's own deadline for this attempt passes (per-try or whole). */
  #ownDeadlineAt = Infinity
  /** performance.now() when the call's deadline (the smaller one) passes. */
  #callDeadlineAt = Infinity

  constructor (owner: AttemptOwner, backend: Backend, guard: BackendGuard, settler: AttemptSettler, call: GrpcCall) {
    super(owner, backend, guard, settler)
    this.#spec = backend.grpc!
    this.#call = call
  }

  /**
   * Starts the call. `ownMs` is figway's deadline for it (per-try or what is left of the
   * whole timeout), `clientMs` what is left of the client's grpc-timeout; the backend gets
   * the smaller.
   */
  start (channel: Channel, message: Buffer, metadata: Metadata, ownMs: number, clientMs: number): void {
    const ms = Math.min(ownMs, clientMs)
    if (ownMs <= clientMs) this.#ownDeadlineAt = performance.now() + ownMs
    if (ms !== Infinity) this.#callDeadlineAt = performance.now() + ms
    const method = this.#call.method
    // The channel's own call, below grpc-js's Client: messages are bytes already (the
    // transcoder encoded them), reads are asked for one at a time (backpressure for a
    // stream), and nothing per call captures a stack or builds an event emitter.
    const call = channel.createCall(method.path, ms === Infinity ? Infinity : Date.now() + Math.max(ms, 1), undefined, null, undefined)
    this.#rpc = call
    call.start(metadata, this)
    call.sendMessageWithContext(NO_CONTEXT, message)
    call.halfClose()
    this.#reading = true
    call.startRead()
  }

  // InterceptingListener: what the call reports.
  onReceiveMetadata (md: Metadata): void { this.#initial = md }

  onReceiveMessage (m: Buffer): void {
    this.#reading = false
    if (!this.#call.method.serverStreaming) { this.#value = m; return }
    this.#message(m)
    if (!this.#paused && !this.done) { this.#reading = true; this.#rpc?.startRead() }
  }

  onReceiveStatus (st: StatusObject): void {
    this.#status = st
    this.#finish()
  }

  abort (reason: Error): void {
    this.done = true
    this.#release(reason)
    this.#rpc?.cancelWithStatus(Code.CANCELLED, 'Cancelled by figway')
    this.detach()
  }

  pause (): void { this.#paused = true }
  resume (): void {
    this.#paused = false
    if (!this.#reading && !this.done && this.#status === null) { this.#reading = true; this.#rpc?.startRead() }
  }

  #release (err?: Error): void {
    // An attempt abandoned before its status came was cancelled by figway.
    this.releaseSlot(this.#status?.code ?? Code.CANCELLED, err)
  }

  /** A server-stream message: the first one commits the response. */
  #message (bytes: Buffer): void {
    if (this.done) return
    let out
    try {
      out = encodeResponse(this.#spec, this.#call, bytes)
    } catch (err) {
      this.#broken(err as Error)
      return
    }
    if (!this.committed) {
      this.committed = true
      this.owner.commit(this, 200, this.#headers(this.#call.responseIsHttpBody ? out.contentType : NDJSON, null))
      if (this.done) return
    }
    this.owner.data(this, out.body)
    if (!this.#call.responseIsHttpBody && !this.done) this.owner.data(this, NEWLINE)
  }

  /** The call ended (status received, and for a stream every message delivered). */
  #finish (): void {
    if (this.done) return
    const st = this.#status!
    if (st.code === Code.OK) {
      if (this.committed) { this.#end(); return }
      if (this.#call.method.serverStreaming) {
        this.committed = true
        this.owner.commit(this, 200, this.#headers(NDJSON, st.metadata))
        this.#end()
        return
      }
      let out
      try {
        out = encodeResponse(this.#spec, this.#call, this.#value ?? Buffer.alloc(0))
      } catch (err) {
        this.#broken(err as Error)
        return
      }
      this.#reply(200, out.contentType, out.body, st.metadata)
      return
    }
    // A deadline that passed here gets grpc-js's local message, which names the backend's
    // address and load balancing state: the client is told only what happened.
    const local = st.code === Code.DEADLINE_EXCEEDED && performance.now() >= this.#callDeadlineAt - DEADLINE_SLACK_MS
    const body = statusJson(this.#spec, st.code, local ? 'Deadline exceeded' : st.details, detailsOf(st.metadata))
    if (this.committed) {
      // Mid-stream: the status code is gone with the headers; the last line says it.
      this.settle(httpStatusOf(st.code) < 500)
      this.owner.data(this, Buffer.from('{"error":' + body + '}\n'))
      this.#end()
      return
    }
    if (st.code === Code.UNAVAILABLE && st.details.includes('No connection established')) {
      this.#fail('connect_error', new Error(`gRPC backend unreachable: ${st.details}`))
      return
    }
    if (st.code === Code.DEADLINE_EXCEEDED && performance.now() >= this.#ownDeadlineAt - DEADLINE_SLACK_MS) {
      this.#fail('timeout', new UpstreamTimeoutError('perTry', 0))
      return
    }
    const http = httpStatusOf(st.code)
    if (http >= 500) {
      const kind = st.code === Code.UNAVAILABLE ? 'unavailable' : 'status_5xx'
      if (this.owner.divert(this, kind, {})) return
    }
    this.#reply(http, 'application/json', Buffer.from(body), st.metadata)
  }

  #reply (status: number, contentType: string, body: Buffer, trailers: Metadata | null): void {
    this.committed = true
    const headers = this.#headers(contentType, trailers)
    headers['content-length'] = String(body.length)
    this.owner.commit(this, status, headers)
    if (this.done) return
    this.owner.data(this, body)
    this.#end()
  }

  #end (): void {
    if (this.done) return
    this.done = true
    this.#release()
    this.owner.end(this)
    this.detach()
  }

  #fail (kind: 'connect_error' | 'timeout' | 'reset', err: Error): void {
    this.done = true
    this.#release(err)
    this.owner.failed(this, kind, err)
    this.detach()
  }

  /** The backend sent bytes that do not decode as its response type. */
  #broken (err: Error): void {
    this.#rpc?.cancelWithStatus(Code.CANCELLED, 'Cancelled by figway')
    this.#fail('reset', new Error(`gRPC response does not decode as ${this.#call.method.output.typeName}: ${err.message}`))
  }

  /** Response headers: the content type, then initial and trailing metadata as grpc-metadata-NAME. */
  #headers (contentType: string, trailers: Metadata | null): Headers {
    const h: Headers = { 'content-type': contentType }
    addMetadata(h, this.#initial)
    addMetadata(h, trailers)
    return h
  }
}

function addMetadata (h: Headers, md: Metadata | null): void {
  if (md === null) return
  const all = md.toJSON()
  for (const key in all) {
    if (SKIP_METADATA.has(key) || key.startsWith(':') || key.startsWith('grpc-')) continue
    const name = 'grpc-metadata-' + key
    for (const v of all[key]!) {
      const text = typeof v === 'string' ? v : v.toString('base64')
      const prev = h[name]
      h[name] = prev === undefined ? text : Array.isArray(prev) ? [...prev, text] : [prev, text]
    }
  }
}

function detailsOf (md: Metadata | undefined): Buffer | undefined {
  const v = md?.get('grpc-status-details-bin')[0]
  return typeof v === 'string' || v === undefined ? undefined : v
}
