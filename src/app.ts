/**
 * Builds a gateway: the data-plane and ops Fastify instances around one pipeline, the route
 * store and its watcher, pools, metrics. No listen() and no process handling here: that is
 * main.ts, so tests can run many gateways in one process.
 */
import type { Server, ServerResponse } from 'node:http'
import { BlockList, isIP, type Socket } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import type { GatewayConfig } from './config/load.ts'
import { KEEP_ALIVE_TIMEOUT_MS } from './config/schema.ts'
import { ConfigError, LOCAL_REPLIES, problemBody, formatIssue, type LocalReplyCode } from './errors.ts'
import type { GatewayState, PipelineDeps } from './pipeline/deps.ts'
import { exchangeOf } from './pipeline/exchange.ts'
import { createPipeline } from './pipeline/index.ts'
import { clientFailed } from './pipeline/reply.ts'
import { createOpsServer } from './ops/server.ts'
import { SCHEMALESS } from './ops/schemaless.ts'
import { effectiveTargets } from './routing/select.ts'
import { RouteStore, type ReloadResult } from './routing/store.ts'
import { folderSignature, RoutesWatcher } from './routing/watch.ts'
import { InProcessWeights, type WeightSource } from './routing/weights.ts'
import { createLogger, flushLogger, type Logger } from './telemetry/logger.ts'
import { Metrics } from './telemetry/metrics.ts'
import { loadExportSdk, newTraceId, Tracing } from './telemetry/tracing.ts'
import { resolveTracing } from './telemetry/tracing-config.ts'
import { HttpUpstreams } from './upstream/http.ts'
import { GrpcUpstreams } from './upstream/grpc.ts'
import { Guards } from './resilience/guards.ts'

// node:http's createServer through process.getBuiltinModule rather than an ES import: an ES
// import builds the module's namespace from every export, and reading node:http's WebSocket,
// CloseEvent and MessageEvent getters loads Node's bundled undici (about 10 MiB resident),
// which figway never uses.
const { createServer } = process.getBuiltinModule('node:http')

export interface GatewayOptions {
  readonly logger?: Logger
  readonly env?: NodeJS.ProcessEnv
  /** Watch the routes folder (default true). */
  readonly watch?: boolean
  readonly watchPollMs?: number
  readonly weights?: WeightSource
  /**
   * This gateway is the process's only one (`figway serve`): tracing starts the
   * process-wide NodeSDK. Default false: gateways embedded side by side keep their own.
   */
  readonly processTelemetry?: boolean
  /** Process metrics (default true); tests running many gateways turn them off. */
  readonly defaultMetrics?: boolean
}

export interface Gateway {
  readonly config: GatewayConfig
  readonly data: FastifyInstance
  readonly ops: FastifyInstance
  readonly deps: PipelineDeps
  reload (reason: string): Promise<ReloadResult>
  /** Binds both ports (port 0 in tests); returns the bound addresses. */
  listen (): Promise<{ data: number, ops: number }>
  /** Spec §8: ready → 503 now, stop accepting after drainDelay, finish in-flight, close. */
  shutdown (): Promise<void>
  /** Immediate close, for tests. */
  close (): Promise<void>
}

/** Builds the predicate "is this peer a trusted proxy?" from `trustedProxies`. */
export function trustPredicate (trusted: number | readonly string[]): (address: string) => boolean {
  if (typeof trusted === 'number') return trusted > 0 ? () => true : () => false
  const list = new BlockList()
  for (const entry of trusted) {
    const [addr, bits] = entry.split('/')
    const family = isIP(addr!) === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(addr!, family)
    else list.addSubnet(addr!, Number(bits), family)
  }
  return (address) => address !== '' && list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
}

/** How long closing waits for the last spans to reach the collector (spec §8: telemetry flushes). */
export const TRACE_FLUSH_TIMEOUT_MS = 5_000

/** How often Node's HTTP server checks headersTimeout and requestTimeout: their precision. */
const LIMITS_CHECK_INTERVAL_MS = 1_000


export async function createGateway (config: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const logger = opts.logger ?? createLogger(config.telemetry.logLevel, config.telemetry.serviceName)
  const state: GatewayState = { draining: false, inflight: 0, onIdle: null }
  const weights = opts.weights ?? new InProcessWeights()
  const upstreams = new HttpUpstreams()
  const grpc = new GrpcUpstreams()
  const guards = new Guards()
  const CIRCUIT_STATE = { closed: 0, half_open: 1, open: 2 } as const
  const storeRef: { current: RouteStore | undefined } = { current: undefined }
  const metrics = new Metrics({
    inflight: () => state.inflight,
    routeWeights: function * () {
      for (const r of storeRef.current?.current?.routes ?? []) {
        const { targets } = effectiveTargets(r, weights)
        for (let i = 0; i < targets.backends.length; i++) yield { route: r.name, backend: targets.backends[i]!.name, weight: targets.weights[i]! }
      }
    },
    circuitStates: function * () {
      // Every backend of the live table has a state, closed until a guard says otherwise.
      const seen = new Set<string>()
      for (const g of guards.all()) { seen.add(g.name); yield { backend: g.name, state: CIRCUIT_STATE[g.breaker.state] } }
      for (const name of storeRef.current?.current?.backends.keys() ?? []) if (!seen.has(name)) yield { backend: name, state: 0 }
    }
  }, { defaultMetrics: opts.defaultMetrics })
  guards.onBreakerState = (backend, state) => {
    const line = { backend, state }
    if (state === 'open') logger.warn(line, 'circuit breaker opened')
    else logger.info(line, `circuit breaker ${state === 'closed' ? 'closed' : 'half-open'}`)
  }

  const store = new RouteStore({
    dir: config.routesDir,
    displayBase: process.cwd(),
    defaults: config.defaults,
    env: opts.env,
    onSwap: (next, prev, reason) => {
      const closed = upstreams.retain(next) + grpc.retain(next)
      guards.retain(next)
      for (const n of next.notices) if (!(prev?.notices.includes(n) ?? false)) logger.info({ version: next.version }, n)
      if (prev !== undefined) logger.info({ reason, version: next.version, routes: next.routes.length, backends: next.backends.size, poolsClosed: closed }, 'route table reloaded')
    },
    onResult: (r, reason) => {
      metrics.configReloads.inc({ result: r.ok ? 'success' : 'failure' })
      if (r.ok) return
      // At startup there is no previous table: the gateway will not start.
      const outcome = storeRef.current?.current === undefined ? 'figway cannot start' : 'the previous table keeps serving'
      logger.error({ reason, errors: r.issues.map(formatIssue) }, `route table refused; ${outcome}`)
    }
  })

  storeRef.current = store
  // The watcher's signature is taken before each load reads the folder, never after: a change
  // that lands while a table is being built must still look new to the watcher.
  const watching = opts.watch !== false
  const startupSignature = watching ? folderSignature(config.routesDir) : ''
  const first = await store.reload('startup')
  if (!first.ok) throw new ConfigError([...first.issues])

  const tracingSettings = resolveTracing(config.telemetry, opts.env ?? {})
  const tracing = new Tracing(tracingSettings, logger, await loadExportSdk(tracingSettings, opts.processTelemetry === true))
  const deps: PipelineDeps = { config, store, weights, upstreams, grpc, guards, metrics, tracing, logger, state, trustedPeer: trustPredicate(config.trustedProxies) }
  const handle = createPipeline(deps)

  let watcher: RoutesWatcher | undefined
  const reload = async (reason: string): Promise<ReloadResult> => {
    const before = watching ? folderSignature(config.routesDir) : ''
    const r = await store.reload(reason)
    watcher?.markLoaded(before)
    return r
  }
  if (watching) {
    watcher = new RoutesWatcher(config.routesDir, () => { reload('watch').catch(() => {}) }, { pollMs: opts.watchPollMs })
    watcher.markLoaded(startupSignature)
  }

  let server: Server | undefined
  // The data port's requests go straight from node:http to the pipeline: every one is
  // proxied, so Fastify's router, request objects and hooks would only add cost per request.
  // Fastify still owns the server's lifecycle (listen, close) and its client errors.
  const data = Fastify({
    logger: false,
    ...SCHEMALESS,
    serverFactory: () => {
      server = createServer({
        maxHeaderSize: config.limits.headerBytes,
        headersTimeout: config.limits.headersTimeout,
        requestTimeout: config.limits.requestTimeout,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        // Node enforces headersTimeout/requestTimeout only when it sweeps its connections,
        // every 30 s by default: a 15 s headersTimeout could take 45 s.
        connectionsCheckingInterval: LIMITS_CHECK_INTERVAL_MS,
        // Parse strictly: CL+TE, duplicate Content-Length and bad chunking are 400s (spec §4).
        insecureHTTPParser: false
      }, handle)
      return server
    },
    return503OnClosing: false,
    forceCloseConnections: false,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: config.limits.requestTimeout,
    routerOptions: { maxParamLength: 1 << 16 },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      const code: LocalReplyCode = err.code === 'HPE_HEADER_OVERFLOW'
        ? 'request_headers_too_large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'bad_request'
      if (err.code === 'ECONNRESET') { socket.destroySoon(); return }
      const detail = err.code === undefined ? undefined : `parser error ${err.code}`
      // The response in flight on this connection, if a request head was parsed (Node's own
      // clientError default looks at the same field).
      const res = (socket as { _httpMessage?: ServerResponse | null })._httpMessage ?? null
      const ex = res === null ? undefined : exchangeOf(res)
      if (res !== null && ex !== undefined && !ex.done) {
        if (err.code === 'HPE_INVALID_EOF_STATE') {
          // The client hung up in the middle of its body: it is gone, not malformed. Closing
          // the socket ends the exchange as 499 client_closed and aborts the upstream request.
          socket.destroy()
          return
        }
        // The pipeline owns that request: its reply (or, once the response has started, the
        // cut) and its one access line carry the code.
        clientFailed(deps, ex, code, detail)
        if (res.headersSent) socket.destroy()
        else socket.destroySoon()
        return
      }
      // Never write a reply into the middle of a response that has started.
      if (socket.writable && res?.headersSent !== true) {
        // No request was parsed, so there is no trace to continue: this reply starts one, so
        // that its body and its access line can be found together like any other.
        const traceId = newTraceId()
        const body = problemBody(code, '', traceId, detail)
        const status = LOCAL_REPLIES[code].status
        socket.end(`HTTP/1.1 ${status} ${LOCAL_REPLIES[code].title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
        metrics.localReply(code)
        logger.info({ msg: 'access', traceId, status, code, peer: socket.remoteAddress, detail: err.code }, 'access')
      }
      socket.destroySoon()
    }
  })

  const ops = createOpsServer(deps, { reload })

  const closeAll = async (): Promise<void> => {
    watcher?.close()
    await Promise.allSettled([data.close(), ops.close()])
    await upstreams.close()
    grpc.close()
    guards.close()
    await weights.close()
    await tracing.shutdown(TRACE_FLUSH_TIMEOUT_MS)
    flushLogger(logger)
  }

  return {
    config,
    data,
    ops,
    deps,
    reload,
    async listen () {
      await data.listen({ host: config.listen.host, port: config.listen.port })
      await ops.listen({ host: config.ops.host, port: config.ops.port })
      const port = (f: FastifyInstance): number => (f.server.address() as { port: number }).port
      logger.info({ data: port(data), ops: port(ops), routes: store.current?.routes.length }, 'figway listening')
      return { data: port(data), ops: port(ops) }
    },
    async shutdown () {
      state.draining = true
      logger.info({ drainDelayMs: config.shutdown.drainDelay, inflight: state.inflight }, 'draining: readiness is now 503')
      await sleep(config.shutdown.drainDelay)
      const srv = server ?? data.server
      srv.close()
      srv.closeIdleConnections()
      if (state.inflight > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => { logger.warn({ inflight: state.inflight }, 'shutdown timeout: closing remaining connections'); resolve() }, config.shutdown.timeout)
          state.onIdle = () => { clearTimeout(t); resolve() }
        })
      }
      srv.closeAllConnections()
      logger.info('drained; closing')
      await closeAll()
    },
    close: closeAll
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
