/**
 * Starts a real figway gateway for a test: a temporary folder with config/gateway.yaml and
 * routes/*.yaml, both ports bound on 127.0.0.1:0, logs captured in memory.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request as undiciRequest, Agent, type Dispatcher } from 'undici'
import { createGateway, type Gateway } from '../../src/app.ts'
import { loadGatewayConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/telemetry/logger.ts'

export interface TestGateway {
  readonly gw: Gateway
  readonly url: string
  readonly opsUrl: string
  readonly dir: string
  readonly routesDir: string
  readonly logs: Array<Record<string, unknown>>
  /** Writes (or, with null, deletes) a route file. */
  writeRoutes (file: string, yaml: string | null): void
  close (): Promise<void>
}

interface Teardown { teardown: (fn: () => unknown) => void }

export const ADMIN_TOKEN = 'test-token'

/**
 * `gatewayYaml` is appended to a test base config (ports 0 on 127.0.0.1, no drain delay,
 * an admin token); keys it repeats override the base's.
 */
export async function startGateway (t: Teardown, routes: Record<string, string>, gatewayYaml = '', opts: { watch?: boolean, watchPollMs?: number, env?: NodeJS.ProcessEnv, defaultMetrics?: boolean } = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'figway-test-'))
  const routesDir = join(dir, 'routes')
  mkdirSync(join(dir, 'config'))
  mkdirSync(routesDir)
  for (const [f, y] of Object.entries(routes)) writeFileSync(join(routesDir, f), y)
  const base: Record<string, string> = {
    listen: '{ host: 127.0.0.1, port: 0 }',
    ops: `{ host: 127.0.0.1, port: 0, token: ${ADMIN_TOKEN} }`,
    routes: '../routes',
    shutdown: '{ drainDelay: 0s, timeout: 5s }',
    telemetry: '{ logLevel: info, tracing: { exporter: none } }'
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
      else writeFileSync(join(routesDir, file), yaml)
    },
    close
  }
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
