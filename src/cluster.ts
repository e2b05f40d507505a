/**
 * `figway serve --workers N|auto`: several gateway processes on one host (node:cluster), for
 * hosts outside Kubernetes, where one process per pod stays the rule.
 *
 * The primary validates the config and routes once, binds the ops port and forks the workers;
 * it never handles a data request. Each worker is a whole gateway (main.ts's `serve`) that
 * binds only the data port, shared through the cluster module, and watches the routes folder
 * itself. The primary's ops port answers:
 * - `/healthz` itself; `/readyz` 200 while at least one worker serves and no shutdown started;
 * - `/metrics` with every worker's registry aggregated (prom-client's AggregatorRegistry rules:
 *   counters and histograms summed, gauges by their `aggregator`);
 * - other reads (GET, HEAD) from one worker, the lead: the oldest ready one;
 * - writes (POST, PUT, DELETE, ...) on every ready worker, answered with the first failure, else
 *   the lead's answer, plus a `workers` list in a JSON body. Runtime weights set this way are
 *   replayed to a replacement worker before it takes traffic.
 * Both kinds travel over the cluster's IPC channel and run through the worker's own ops
 * server (Fastify's inject), so authentication and answers are the single-process ones.
 *
 * SIGHUP reaches every worker (each reloads); SIGTERM/SIGINT turn /readyz 503 and drain every
 * worker (each its own §8 shutdown), then the primary exits 0. A worker that exits while the
 * gateway runs is replaced, with a growing delay when replacements keep dying young.
 */
import cluster, { type Worker } from 'node:cluster'
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { availableParallelism } from 'node:os'
import { AggregatorRegistry } from 'prom-client'
import type { Gateway } from './app.ts'
import { loadGatewayConfig } from './config/load.ts'
import { RouteStore } from './routing/store.ts'
import { createLogger, flushLogger } from './telemetry/logger.ts'

// As in app.ts: not an ES import, which would load Node's bundled undici.
const { createServer } = process.getBuiltinModule('node:http')

/** The most workers `--workers` accepts. */
export const MAX_WORKERS = 256
/** A worker that dies younger than this counts as a failed start for the restart delay. */
const STABLE_MS = 10_000
const RESTART_DELAY_MIN_MS = 250
const RESTART_DELAY_MAX_MS = 30_000
/** How long the primary waits for a worker's answer to an ops request or a metrics scrape. */
const IPC_TIMEOUT_MS = 5_000

/** `--workers` value: a count, or `auto` (the host's available parallelism). */
export function parseWorkers (v: string): number {
  if (v.trim() === 'auto') return availableParallelism()
  const n = Number(v)
  if (!/^\s*\d+\s*$/.test(v) || n < 1 || n > MAX_WORKERS) throw new Error(`--workers: expected a number from 1 to ${MAX_WORKERS} or auto, got "${v}"`)
  return n
}

// ---------------------------------------------------------------------------------------
// IPC messages. Every message figway sends has a `figway` field (prom-client and Node's own
// cluster messages share the channel).

interface OpsRequest { readonly method: string, readonly url: string, readonly headers: IncomingHttpHeaders, readonly body: Uint8Array }
interface OpsReply { readonly status: number, readonly headers: OutgoingHttpHeaders, readonly body: Uint8Array }

type ToWorker =
  | { figway: 'listen' }
  | { figway: 'ops', seq: number, req: OpsRequest }
  | { figway: 'metrics', seq: number }
type ToPrimary =
  | { figway: 'loaded' }
  | { figway: 'ready', port: number }
  | { figway: 'ops', seq: number, res?: OpsReply, error?: string }
  | { figway: 'metrics', seq: number, metrics?: object[], error?: string }

/** Entry point of `serve --workers`: the primary, or (in a forked process) a worker. */
export async function serveWithWorkers (configFile: string, workers: number): Promise<void> {
  if (cluster.isWorker) await runWorker(configFile)
  else await runPrimary(configFile, workers)
}

// ---------------------------------------------------------------------------------------
// worker

async function runWorker (configFile: string): Promise<void> {
  const { serve } = await import('./main.ts')
  await serve(configFile, {
    start: async (gw, logger) => {
      const send = (m: ToPrimary): void => { if (process.connected) process.send!(m) }
      let listen: () => void = () => {}
      const told = new Promise<void>((resolve) => { listen = resolve })
      process.on('message', (msg: unknown) => {
        if (!isFigway(msg)) return
        const m = msg as ToWorker
        if (m.figway === 'listen') listen()
        else if (m.figway === 'ops') {
          injectOps(gw, m.req).then((res) => send({ figway: 'ops', seq: m.seq, res }), (err: unknown) => send({ figway: 'ops', seq: m.seq, error: String(err) }))
        } else if (m.figway === 'metrics') {
          gw.deps.metrics.registry.getMetricsAsJSON().then((metrics) => send({ figway: 'metrics', seq: m.seq, metrics }), (err: unknown) => send({ figway: 'metrics', seq: m.seq, error: String(err) }))
        }
      })
      send({ figway: 'loaded' })
      await told
      await gw.data.listen({ host: gw.config.listen.host, port: gw.config.listen.port })
      const port = (gw.data.server.address() as AddressInfo).port
      logger.info({ worker: cluster.worker?.id, data: port, routes: gw.deps.store.current?.routes.length }, 'figway worker listening')
      send({ figway: 'ready', port })
    }
  })
}

async function injectOps (gw: Gateway, req: OpsRequest): Promise<OpsReply> {
  const res = await gw.ops.inject({
    method: req.method as 'GET',
    url: req.url,
    headers: req.headers as Record<string, string>,
    payload: req.body.byteLength === 0 ? undefined : Buffer.from(req.body)
  })
  return { status: res.statusCode, headers: res.headers as OutgoingHttpHeaders, body: res.rawPayload }
}

// ---------------------------------------------------------------------------------------
// primary

interface Slot {
  /** Position 0..N-1; a replacement takes the same slot. */
  readonly index: number
  worker: Worker | undefined
  state: 'starting' | 'loaded' | 'ready'
  startedAt: number
  /** Replacements in a row that died young. */
  failures: number
  restartTimer: NodeJS.Timeout | undefined
}

const WEIGHTS_PATH = /^\/admin\/routes\/([^/?]+)\/weights$/
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'proxy-connection'])

async function runPrimary (configFile: string, count: number): Promise<void> {
  const config = loadGatewayConfig(configFile, process.env)
  // Refuse a bad table once, here, rather than once per worker.
  new RouteStore({ dir: config.routesDir, displayBase: process.cwd(), defaults: config.defaults, env: process.env }).build()
  const logger = createLogger(config.telemetry.logLevel, config.telemetry.serviceName)
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, worker: undefined, state: 'starting', startedAt: 0, failures: 0, restartTimer: undefined }))
  /** Runtime weights set through this primary, replayed to replacement workers (route → body). */
  const weights = new Map<string, Uint8Array>()
  let seq = 0
  const pending = new Map<number, { worker: Worker, resolve: (m: ToPrimary) => void }>()
  let started = false
  let stopping = false
  let exitCode = 0

  cluster.setupPrimary({ serialization: 'advanced' })

  const ready = (): Slot[] => slots.filter((s) => s.state === 'ready' && s.worker?.isConnected() === true).sort((a, b) => a.startedAt - b.startedAt)

  /** Sends a request to one worker and waits for its answer (or its exit, or the timeout). */
  const ask = async (worker: Worker, make: (seq: number) => ToWorker): Promise<ToPrimary> => {
    const n = ++seq
    return await new Promise<ToPrimary>((resolve, reject) => {
      const timer = setTimeout(() => { pending.delete(n); reject(new Error(`worker ${worker.id} did not answer within ${IPC_TIMEOUT_MS} ms`)) }, IPC_TIMEOUT_MS)
      pending.set(n, { worker, resolve: (m) => { clearTimeout(timer); pending.delete(n); resolve(m) } })
      try { worker.send(make(n)) } catch (err) { clearTimeout(timer); pending.delete(n); reject(err as Error) }
    })
  }
  const dropPending = (worker: Worker): void => {
    for (const [n, p] of pending) if (p.worker === worker) p.resolve({ figway: 'ops', seq: n, error: `worker ${worker.id} exited` })
  }

  const opsCall = async (worker: Worker, req: OpsRequest): Promise<OpsReply> => {
    const m = await ask(worker, (n) => ({ figway: 'ops', seq: n, req }))
    if (m.figway !== 'ops' || m.res === undefined) throw new Error(m.figway === 'ops' && m.error !== undefined ? m.error : 'no answer')
    return m.res
  }

  /** Replays the runtime weights set so far to a worker that has loaded but does not serve yet. */
  const replayWeights = async (worker: Worker): Promise<void> => {
    for (const [route, body] of weights) {
      const res = await opsCall(worker, { method: 'PUT', url: `/admin/routes/${route}/weights`, headers: { authorization: `Bearer ${config.ops.token}`, 'content-type': 'application/json' }, body })
      if (res.status !== 200) logger.warn({ worker: worker.id, route, status: res.status }, 'runtime weights not replayed to the new worker')
    }
  }

  const fork = (slot: Slot): void => {
    slot.restartTimer = undefined
    if (stopping) return
    const worker = cluster.fork()
    slot.worker = worker
    slot.state = 'starting'
    slot.startedAt = Date.now()
    worker.on('message', (msg: unknown) => {
      if (!isFigway(msg)) return
      const m = msg as ToPrimary
      if (m.figway === 'loaded') {
        slot.state = 'loaded'
        replayWeights(worker).catch((err: unknown) => logger.warn({ worker: worker.id, err }, 'runtime weights not replayed to the new worker')).finally(() => {
          if (worker.isConnected()) worker.send({ figway: 'listen' } satisfies ToWorker)
        })
      } else if (m.figway === 'ready') {
        slot.state = 'ready'
        if (!started && slots.every((s) => s.state === 'ready')) {
          started = true
          logger.info({ workers: count, data: m.port, ops: opsPort }, 'figway listening')
        }
      } else if ('seq' in m) {
        pending.get(m.seq)?.resolve(m)
      }
    })
    worker.on('exit', (code, signal) => {
      dropPending(worker)
      if (slot.worker !== worker) return
      slot.worker = undefined
      const wasReady = slot.state === 'ready'
      slot.state = 'starting'
      if (stopping) return
      if (!started) {
        // A worker that cannot start now will not start on a retry either (a port in use, ...).
        logger.error({ worker: worker.id, workerPid: worker.process.pid, code, signal }, 'a worker exited during startup; stopping')
        exitCode = 1
        stop('startup failure')
        return
      }
      const young = !wasReady || Date.now() - slot.startedAt < STABLE_MS
      slot.failures = young ? slot.failures + 1 : 0
      const delay = slot.failures === 0 ? 0 : Math.min(RESTART_DELAY_MAX_MS, RESTART_DELAY_MIN_MS * 2 ** (slot.failures - 1))
      logger.warn({ worker: worker.id, workerPid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; starting a replacement')
      slot.restartTimer = setTimeout(() => fork(slot), delay)
    })
  }

  const scrape = async (): Promise<string | undefined> => {
    const targets = slots.filter((s) => s.state !== 'starting' && s.worker?.isConnected() === true).map((s) => s.worker!)
    const answers = await Promise.allSettled(targets.map(async (w) => await ask(w, (n) => ({ figway: 'metrics', seq: n }))))
    const all: object[] = []
    for (const a of answers) if (a.status === 'fulfilled' && a.value.figway === 'metrics' && a.value.metrics !== undefined) all.push(a.value.metrics)
    if (all.length === 0) return undefined
    return await AggregatorRegistry.aggregate(all).metrics()
  }

  const relay = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers: IncomingHttpHeaders = {}
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v
    const request: OpsRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers, body: Buffer.concat(chunks) }
    const live = ready()
    if (live.length === 0) return send(res, 503, { 'content-type': 'application/problem+json' }, JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'no worker is ready' }))
    const read = request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS'
    if (read) {
      const r = await opsCall(live[0]!.worker!, request)
      return send(res, r.status, r.headers, r.body)
    }
    // A write: every ready worker, so that they all hold the same state.
    const replies = await Promise.all(live.map(async (s) => ({ slot: s, worker: s.worker!, r: await opsCall(s.worker!, request).catch((err: unknown) => ({ status: 502, headers: { 'content-type': 'text/plain' }, body: Buffer.from(String(err)) }) satisfies OpsReply) })))
    const pick = replies.find((x) => x.r.status >= 400) ?? replies[0]!
    const path = request.url.split('?')[0]!
    const wm = WEIGHTS_PATH.exec(path)
    if (wm !== null && replies.every((x) => x.r.status < 300)) {
      const route = decodeURIComponent(wm[1]!)
      if (request.method === 'PUT') weights.set(route, request.body)
      else if (request.method === 'DELETE') weights.delete(route)
    }
    let body: Uint8Array = pick.r.body
    const type = String(pick.r.headers['content-type'] ?? '')
    if (type.includes('json')) {
      try {
        const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as unknown
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
          const workers = replies.map((x) => {
            let version: unknown
            try { version = (JSON.parse(Buffer.from(x.r.body).toString('utf8')) as { version?: unknown }).version } catch { /* not JSON */ }
            return { worker: x.worker.id, pid: x.worker.process.pid, status: x.r.status, ...(typeof version === 'number' ? { version } : {}) }
          })
          body = Buffer.from(JSON.stringify({ ...parsed, workers }))
        }
      } catch { /* not JSON: pass it on as is */ }
    }
    send(res, pick.r.status, pick.r.headers, body)
  }

  const opsServer: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const get = req.method === 'GET' || req.method === 'HEAD'
    if (get && path === '/healthz') return send(res, 200, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ status: 'ok' }))
    if (get && path === '/readyz') {
      const n = ready().length
      const ok = !stopping && n > 0
      return send(res, ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ status: ok ? 'ready' : stopping ? 'draining' : 'not_ready', workers: { ready: n, configured: count } }))
    }
    if (get && path === '/metrics') {
      scrape().then((text) => {
        if (text === undefined) send(res, 503, { 'content-type': 'text/plain; charset=utf-8' }, 'no worker answered\n')
        else send(res, 200, { 'content-type': AggregatorRegistry.PROMETHEUS_CONTENT_TYPE }, text)
      }, (err: unknown) => send(res, 500, { 'content-type': 'text/plain; charset=utf-8' }, String(err) + '\n'))
      return
    }
    relay(req, res).catch((err: unknown) => send(res, 502, { 'content-type': 'application/problem+json' }, JSON.stringify({ type: 'about:blank', title: 'Bad Gateway', status: 502, detail: String(err) })))
  })
  await new Promise<void>((resolve, reject) => {
    opsServer.once('error', reject)
    opsServer.listen(config.ops.port, config.ops.host, () => { opsServer.off('error', reject); resolve() })
  })
  const opsPort = (opsServer.address() as AddressInfo).port

  function stop (signal: string): void {
    if (stopping) return
    stopping = true
    logger.info({ signal, workers: slots.filter((s) => s.worker !== undefined).length }, 'shutdown requested: draining every worker')
    const exits: Array<Promise<void>> = []
    for (const s of slots) {
      clearTimeout(s.restartTimer)
      const w = s.worker
      if (w === undefined) continue
      exits.push(new Promise<void>((resolve) => {
        w.once('exit', (code, sig) => {
          // A worker still starting may not handle SIGTERM yet: ended by it, it did as asked.
          if (code !== 0 && sig !== 'SIGTERM') { exitCode = 1; logger.warn({ worker: w.id, workerPid: w.process.pid, code, signal: sig }, 'worker did not exit cleanly') }
          resolve()
        })
      }))
      w.process.kill('SIGTERM')
    }
    // Each worker bounds its own drain; this is the last resort for one that hangs.
    const limit = config.shutdown.drainDelay + config.shutdown.timeout + 10_000
    const killer = setTimeout(() => {
      for (const s of slots) if (s.worker !== undefined) { logger.error({ worker: s.worker.id }, 'worker still running after the shutdown timeout: killing it'); s.worker.process.kill('SIGKILL') }
    }, limit)
    void Promise.all(exits).then(() => {
      clearTimeout(killer)
      opsServer.close()
      opsServer.closeAllConnections()
      logger.info({ code: exitCode }, 'every worker has exited; closing')
      flushLogger(logger)
      process.exit(exitCode)
    })
  }

  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => {
    logger.info({ workers: slots.filter((s) => s.worker !== undefined).length }, 'SIGHUP: every worker reloads')
    for (const s of slots) s.worker?.process.kill('SIGHUP')
  })

  logger.info({ workers: count, ops: opsPort }, 'starting workers')
  for (const s of slots) fork(s)
}

function send (res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: string | Uint8Array): void {
  if (res.headersSent) { res.destroy(); return }
  const out: OutgoingHttpHeaders = {}
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k.toLowerCase()) && v !== undefined) out[k] = v
  const buf = typeof body === 'string' ? Buffer.from(body) : body
  out['content-length'] = buf.byteLength
  res.writeHead(status, out)
  res.end(res.req.method === 'HEAD' ? undefined : buf)
}

function isFigway (m: unknown): boolean {
  return typeof m === 'object' && m !== null && 'figway' in m
}
