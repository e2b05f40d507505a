/**
 * Starts a real figway gateway for a test: a temporary folder with config/gateway.yaml and
 * routes/*.yaml, both ports bound on 127.0.0.1:0, logs captured in memory. Also reads what a
 * gateway reports: its /metrics samples and its access-log lines.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { request as undiciRequest, Agent, type Dispatcher } from 'undici'
import { createGateway, type Gateway } from '../../src/app.ts'
import { loadGatewayConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/telemetry/logger.ts'
import { echo, startOrigin, type Origin } from './origin.ts'
import { routesFile } from './routes.ts'

export interface TestGateway {
  readonly gw: Gateway
  readonly url: string
  readonly opsUrl: string
  readonly dir: string
  readonly routesDir: string
  readonly logs: Array<Record<string, unknown>>
  /** Writes (or, with null, deletes) a route file; `file` may name a subfolder (`protos/x.proto`). */
  writeRoutes (file: string, yaml: string | null): void
  close (): Promise<void>
}

interface Teardown { teardown: (fn: () => unknown) => void }

export const ADMIN_TOKEN = 'test-token'

/**
 * `routes` maps route-folder file names (subfolders allowed: `protos/a/v1/a.proto`) to their
 * text. `gatewayYaml` is appended to a test base config (ports 0 on 127.0.0.1, no drain delay,
 * an admin token); keys it repeats override the base's.
 */
export async function startGateway (t: Teardown, routes: Record<string, string>, gatewayYaml = '', opts: { watch?: boolean, watchPollMs?: number, env?: NodeJS.ProcessEnv, defaultMetrics?: boolean } = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'figway-test-'))
  const routesDir = join(dir, 'routes')
  mkdirSync(join(dir, 'config'))
  mkdirSync(routesDir)
  for (const [f, y] of Object.entries(routes)) writeFile(join(routesDir, f), y)
  const base: Record<string, string> = {
    listen: '{ host: 127.0.0.1, port: 0 }',
    ops: `{ host: 127.0.0.1, port: 0, token: ${ADMIN_TOKEN} }`,
    routes: '../routes',
    shutdown: '{ drainDelay: 0s, timeout: 5s }',
    telemetry: '{ logLevel: info, tracing: { exporter: none } }',
    // One attempt per request, so a test of forwarding sees exactly what one attempt does.
    // Tests of retries, budgets and breakers set their own `defaults:` (which replaces this).
    defaults: '{ retry: { attempts: 1 } }'
  }
  const extra = gatewayYaml.split('\n').filter((l) => /^[a-zA-Z]/.test(l)).map((l) => l.slice(0, l.indexOf(':')))
  const lines = Object.entries(base).filter(([k]) => !extra.includes(k)).map(([k, v]) => `${k}: ${v}`)
  writeFileSync(join(dir, 'config', 'gateway.yaml'), lines.join('\n') + '\n' + gatewayYaml + '\n')
  const logs: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    }
  })
  const config = loadGatewayConfig(join(dir, 'config', 'gateway.yaml'), opts.env ?? {})
  const gw = await createGateway(config, { logger: createLogger('info', 'figway', sink), watch: opts.watch ?? false, watchPollMs: opts.watchPollMs, defaultMetrics: opts.defaultMetrics ?? false, env: opts.env ?? {} })
  const ports = await gw.listen()
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await gw.close()
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(close)
  return {
    gw,
    url: `http://127.0.0.1:${ports.data}`,
    opsUrl: `http://127.0.0.1:${ports.ops}`,
    dir,
    routesDir,
    logs,
    writeRoutes (file, yaml) {
      if (yaml === null) rmSync(join(routesDir, file), { force: true })
      else writeFile(join(routesDir, file), yaml)
    },
    close
  }
}

/** Writes a file, creating its folder first (route files may sit in subfolders: protos/a/b.proto). */
function writeFile (file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
}

/**
 * One origin per name, each echoing its own name, behind a gateway whose single route file
 * has a backend of the same name for each origin and then the YAML list `routes` (each
 * route's `to:` names an origin): a response's `origin` says which backend served it.
 */
export async function gatewayWith<N extends string> (t: Teardown, names: readonly N[], routes: string): Promise<{ g: TestGateway, origins: Record<N, Origin> }> {
  const origins = {} as Record<N, Origin>
  for (const n of names) origins[n] = await startOrigin(t, echo(n))
  const g = await startGateway(t, { 'routes.yaml': routesFile(origins, routes) })
  return { g, origins }
}

export interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: <T = any>() => T
}

/** One HTTP request with undici; the body is read whole. */
export async function req (url: string, opts: { method?: Dispatcher.HttpMethod, headers?: Record<string, string>, body?: string | Buffer, dispatcher?: Dispatcher } = {}): Promise<Res> {
  const r = await undiciRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, body: opts.body, dispatcher: opts.dispatcher })
  const text = await r.body.text()
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) }
}

export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` }

/** A keep-alive agent for load loops, closed with the test. */
export function agent (t: Teardown, connections = 16): Agent {
  const a = new Agent({ connections, keepAliveTimeout: 10_000 })
  t.teardown(async () => await a.close())
  return a
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls `cond` every `everyMs` until it holds or `ms` have passed; resolves with whether it held. */
export async function eventually (cond: () => boolean | Promise<boolean>, ms: number, everyMs = 10): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (await cond()) return true
    if (Date.now() > end) return false
    await sleep(everyMs)
  }
}

interface Ops { readonly opsUrl: string }

/** The text of GET /metrics on the ops port (of a TestGateway or a GatewayProcess). */
export async function metricsText (g: Ops): Promise<string> {
  return (await req(`${g.opsUrl}/metrics`)).text
}

/** Parses Prometheus text into "name{labels}" → value. */
export function samples (text: string): Map<string, number> {
  const m = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    m.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return m
}

/** GET /metrics, parsed by samples(). */
export async function scrape (g: Ops): Promise<Map<string, number>> {
  return samples(await metricsText(g))
}

/** The figway_local_replies_total sample lines of /metrics, as written (`…{code="x"} n`). */
export async function localReplies (g: Ops): Promise<string[]> {
  return (await metricsText(g)).split('\n').filter((l) => l.startsWith('figway_local_replies_total{'))
}

/** figway_config_reloads_total for `result`; throws when /metrics has no such sample. */
export async function reloadCount (g: Ops, result: 'success' | 'failure'): Promise<number> {
  const n = (await scrape(g)).get(`figway_config_reloads_total{result="${result}"}`)
  if (n === undefined) throw new Error(`no figway_config_reloads_total{result="${result}"} in /metrics`)
  return n
}

interface Logged { readonly logs: ReadonlyArray<Record<string, unknown>> }

/** The access-log lines written so far, in order. */
export function accessLines (g: Logged): Array<Record<string, unknown>> {
  return g.logs.filter((l) => l.msg === 'access')
}

/**
 * The access line for `path`. It is written when the exchange ends, which may trail the
 * client by a tick, so this waits up to `ms` for it; throws if none comes.
 */
export async function accessLine (g: Logged, path: string, ms = 2_000): Promise<Record<string, unknown>> {
  const find = (): Record<string, unknown> | undefined => accessLines(g).find((l) => l.path === path)
  await eventually(() => find() !== undefined, ms)
  const line = find()
  if (line === undefined) throw new Error(`no access line for ${path}`)
  return line
}
