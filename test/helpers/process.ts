/**
 * Runs figway as a real process, the way it runs in production: `node src/cli.ts serve
 * --config FILE`. Ports come from the config file, so free ports are found first (bind
 * port 0, read the number, release it); the helper then waits until /readyz answers 200.
 * Also runs the one-shot CLI commands (validate, routes, explain) and collects their output.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { ADMIN_TOKEN, sleep } from './gateway.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

/** The repository root (where package.json and src/ are). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(REPO_ROOT, 'src', 'cli.ts')

/** A port that was free a moment ago: bound on 127.0.0.1:0, then released. */
export async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(0, '127.0.0.1', resolve) })
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

export interface GatewayProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly url: string
  readonly opsUrl: string
  readonly dataPort: number
  readonly opsPort: number
  readonly dir: string
  readonly routesDir: string
  readonly configFile: string
  /** JSON log lines from stdout, in order, as they arrive. */
  readonly logs: Array<Record<string, unknown>>
  /** Everything written to stderr. */
  stderr (): string
  /** Resolves when the process exits. */
  readonly exited: Promise<Exit>
  /** Writes (or, with null, deletes) a route file. */
  writeRoutes (file: string, yaml: string | null): void
  /** Resolves with the first log line matching `pred` (already seen or yet to come). */
  waitForLog (pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
}

/** Writes a temp folder with config/gateway.yaml and routes/*.yaml; removed with the test. */
export function writeConfigTree (t: Teardown, routes: Record<string, string>, gatewayYaml: string): { dir: string, routesDir: string, configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'figway-proc-'))
  const routesDir = join(dir, 'routes')
  mkdirSync(join(dir, 'config'))
  mkdirSync(routesDir)
  for (const [f, y] of Object.entries(routes)) writeFileSync(join(routesDir, f), y)
  const configFile = join(dir, 'config', 'gateway.yaml')
  writeFileSync(configFile, gatewayYaml)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return { dir, routesDir, configFile }
}

/**
 * Spawns `node src/cli.ts serve --config FILE` with free data and ops ports on 127.0.0.1
 * and waits for readiness. `gatewayYaml` is appended to a base config (ports, admin token,
 * routes folder, `shutdown`); a top-level key it repeats replaces the base's.
 * The process is killed (SIGKILL) at teardown if still running. `args` are added to `serve`'s,
 * `nodeArgs` to node's (before the script).
 */
export async function spawnGateway (t: Teardown, routes: Record<string, string>, gatewayYaml = '', opts: { readyTimeoutMs?: number, args?: readonly string[], nodeArgs?: readonly string[] } = {}): Promise<GatewayProcess> {
  const [dataPort, opsPort] = [await freePort(), await freePort()]
  const base: Record<string, string> = {
    listen: `{ host: 127.0.0.1, port: ${dataPort} }`,
    ops: `{ host: 127.0.0.1, port: ${opsPort}, token: ${ADMIN_TOKEN} }`,
    routes: '../routes',
    shutdown: '{ drainDelay: 0s, timeout: 5s }',
    telemetry: '{ logLevel: info, tracing: { exporter: none } }'
  }
  const extra = gatewayYaml.split('\n').filter((l) => /^[a-zA-Z]/.test(l)).map((l) => l.slice(0, l.indexOf(':')))
  const lines = Object.entries(base).filter(([k]) => !extra.includes(k)).map(([k, v]) => `${k}: ${v}`)
  const tree = writeConfigTree(t, routes, lines.join('\n') + '\n' + gatewayYaml + '\n')

  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, 'serve', '--config', tree.configFile, ...(opts.args ?? [])], {
    cwd: tree.dir,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: Array<Record<string, unknown>> = []
  const waiters: Array<{ pred: (l: Record<string, unknown>) => boolean, resolve: (l: Record<string, unknown>) => void }> = []
  let pending = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk
    let nl: number
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      if (line === '') continue
      let entry: Record<string, unknown>
      try { entry = JSON.parse(line) as Record<string, unknown> } catch { entry = { msg: line, unparsed: true } }
      logs.push(entry)
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.pred(entry)) { waiters[i]!.resolve(entry); waiters.splice(i, 1) }
      }
    }
  })
  let err = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (c: string) => { err += c })
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  let done = false
  void exited.then(() => { done = true })
  t.teardown(async () => {
    if (!done) { child.kill('SIGKILL'); await exited }
  })

  const opsUrl = `http://127.0.0.1:${opsPort}`
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000)
  for (;;) {
    if (done) throw new Error(`figway exited before it was ready: ${JSON.stringify(await exited)}\n${err}`)
    try {
      const r = await request(`${opsUrl}/readyz`)
      await r.body.dump()
      if (r.statusCode === 200) break
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`figway was not ready within ${opts.readyTimeoutMs ?? 10_000} ms\n${err}`)
    await sleep(50)
  }

  return {
    child,
    pid: child.pid!,
    url: `http://127.0.0.1:${dataPort}`,
    opsUrl,
    dataPort,
    opsPort,
    ...tree,
    logs,
    stderr: () => err,
    exited,
    writeRoutes (file, yaml) {
      if (yaml === null) rmSync(join(tree.routesDir, file), { force: true })
      else writeFileSync(join(tree.routesDir, file), yaml)
    },
    async waitForLog (pred, timeoutMs = 5_000) {
      const seen = logs.find(pred)
      if (seen !== undefined) return seen
      return await new Promise((resolve, reject) => {
        const w = { pred, resolve: (l: Record<string, unknown>) => { clearTimeout(timer); resolve(l) } }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1)
          reject(new Error(`no matching log line within ${timeoutMs} ms; saw: ${logs.map((l) => String(l.msg)).join(' | ')}`))
        }, timeoutMs)
        waiters.push(w)
      })
    }
  }
}

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Runs a CLI command to completion: `node src/cli.ts ...args` (or any argv with `cmd`). */
export async function runCli (args: readonly string[], opts: { cwd?: string, cmd?: string, timeoutMs?: number } = {}): Promise<CliResult> {
  const [file, argv] = opts.cmd === undefined ? [process.execPath, [CLI, ...args]] : [opts.cmd, [...args]]
  const child = spawn(file, argv, { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stdout, stderr }
}
