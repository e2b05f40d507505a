/**
 * `npm run bench`: figway against baselines, one scenario after another on the same origin,
 * all on 127.0.0.1. Prints a markdown table on stdout (progress goes to stderr) and writes
 * the same figures as JSON to bench/results/latest.json. See bench/README.md.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ORIGIN_BODY, REQUEST_PATH } from './lib/body.ts'
import { buildDeployed, type DeployedFigway } from './lib/deployed.ts'
import { ensureFastGateway, type FastGateway } from './lib/fast-gateway.ts'
import { runLoad, stopLoad, type LoadResult } from './lib/load.ts'
import { findNginx, nginxArgs, sinkStats, writeOriginConfig, writeProxyConfig, writeSinkConfig } from './lib/nginx.ts'
import { runPaced, stopPaced } from './lib/paced.ts'
import { pairedParticipants, pairedRatios, type PairedRun } from './lib/paired.ts'
import { halfRate, manyConnections, PROBE_LABELS, PROBES, type ProbeId, type ProbeResult } from './lib/probes.ts'
import { cpuSeconds, freePort, killAllSync, machineBusySeconds, peakRssBytes, processTree, readPorts, spawnManaged, stop, stopAll, ticksPerSecond, waitReady, type Managed } from './lib/procs.ts'
import { computeRatios, markdown, type FixedRateResult, type ProcessStats, type Report, type ScenarioResult } from './lib/report.ts'
import { extras } from './lib/summary.ts'
import { findWrk, reapedChildrenCpuSeconds, runWrk, stopWrk } from './lib/wrk.ts'

const REPO = resolve(import.meta.dirname, '..')
const SCENARIOS = ['direct', 'floor', 'figway', 'figway-traced', 'fastify-proxy', 'fast-gateway', 'nginx', 'figway-info', 'figway-sticky', 'grpc-floor', 'figway-grpc', 'figway-all', 'figway-ratelimit'] as const
type ScenarioId = typeof SCENARIOS[number]
const STICKY_USERS = 10_000
/** The fixed rate of the CPU-per-request phase: well under what every proxy here sustains. */
const DEFAULT_FIXED_RATE = 1_000
/** Client connections of the connections-1k probe. */
const MANY_CONNECTIONS = 1_000
/** figway's default telemetry.tracing.sampleRatio: what the tracing scenario measures. */
const TRACED_SAMPLE_RATIO = 0.05
/** CPU used by processes outside the benchmark, in percent of one core, that counts as quiet. */
const QUIET_PERCENT = 25
/** Above this much CPU used by other processes during a measurement, it is measured again. */
const BUSY_PERCENT = 15

const HELP = `usage: npm run bench -- [options]

  --duration SECONDS     measured run per scenario (env BENCH_DURATION, default 10)
  --warmup SECONDS       warm-up run before each measurement (env BENCH_WARMUP, default 3)
  --connections N        concurrent keep-alive connections (env BENCH_CONNECTIONS, default 64)
  --origin KIND          auto | node | nginx (env BENCH_ORIGIN, default auto: nginx when installed)
  --only LIST            comma-separated scenarios and probes (env BENCH_ONLY):
                         ${SCENARIOS.join(', ')},
                         ${PROBES.join(', ')}
  --skip LIST            scenarios to leave out (env BENCH_SKIP)
  --no-nginx             do not use nginx at all, even when installed
  --quiet-wait SECONDS   before each scenario, wait up to this long for other processes to
                         use under ${QUIET_PERCENT} % of a core (env BENCH_QUIET_WAIT, default 30; 0: no wait)
  --retries N            measure a scenario again (up to N times) when other processes used over
                         ${BUSY_PERCENT} % of a core during its measurement (env BENCH_RETRIES, default 2)
  --rounds N             run the whole sequence N times, interleaved; each scenario shows its
                         median round by req/s (env BENCH_ROUNDS, default 1)
  --out FILE             JSON output (env BENCH_OUT, default bench/results/latest.json); the
                         previous file there is compared with this run, then replaced
  --load TOOL            auto | wrk | autocannon: the closed-loop load generator (env BENCH_LOAD,
                         default auto: wrk when installed, else autocannon)
  --threads N            wrk threads (env BENCH_WRK_THREADS, default 1)
  --rate N               the fixed-rate phase's requests per second, for CPU per request
                         (env BENCH_RATE, default ${DEFAULT_FIXED_RATE}; 0 leaves the phase out)
  --fixed-duration S     length of the fixed-rate phase (env BENCH_FIXED_DURATION, default: --duration)
  --paired N             after the scenarios, N rounds, each with a fresh process for every
                         scenario of the targets' ratios, all running at once, short runs one
                         after the other; ratios are the median of the rounds' pairs
                         (env BENCH_PAIRED, default 8; 0: none)
  --paired-duration S    each paired run (env BENCH_PAIRED_DURATION, default 3)
  --no-fast-gateway      do not install fast-gateway (its scenario is skipped)
`

interface Options {
  durationS: number
  warmupS: number
  connections: number
  origin: 'auto' | 'node' | 'nginx'
  scenarios: ScenarioId[]
  nginx: boolean
  quietWaitS: number
  retries: number
  rounds: number
  out: string
  probes: ProbeId[]
  load: 'auto' | 'wrk' | 'autocannon'
  wrkThreads: number
  fixedRate: number
  fixedDurationS: number
  fastGateway: boolean
  pairedRounds: number
  pairedDurationS: number
}

function seconds (name: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*s?$/.exec(v.trim())
  if (m === null || Number(m[1]) <= 0) throw new Error(`${name}: expected a number of seconds, got "${v}"`)
  return Number(m[1])
}

function list (name: string, v: string): ScenarioId[] {
  const ids = v.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const known: readonly string[] = [...SCENARIOS, ...PROBES]
  for (const id of ids) if (!known.includes(id)) throw new Error(`${name}: unknown scenario "${id}" (known: ${known.join(', ')})`)
  // Probe ids ride along in the same list; parseOptions splits them out.
  return ids as ScenarioId[]
}

function parseOptions (): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      origin: { type: 'string' },
      only: { type: 'string' },
      skip: { type: 'string' },
      'no-nginx': { type: 'boolean' },
      'quiet-wait': { type: 'string' },
      retries: { type: 'string' },
      rounds: { type: 'string' },
      out: { type: 'string' },
      load: { type: 'string' },
      threads: { type: 'string' },
      rate: { type: 'string' },
      'fixed-duration': { type: 'string' },
      'no-fast-gateway': { type: 'boolean' },
      paired: { type: 'string' },
      'paired-duration': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    },
    allowPositionals: false
  })
  if (values.help === true) {
    process.stdout.write(HELP)
    process.exit(0)
  }
  const env = process.env
  const pick = (flag: string | undefined, envName: string): string | undefined => flag ?? (env[envName] !== undefined && env[envName] !== '' ? env[envName] : undefined)
  const duration = pick(values.duration, 'BENCH_DURATION')
  const warmup = pick(values.warmup, 'BENCH_WARMUP')
  const connections = pick(values.connections, 'BENCH_CONNECTIONS')
  const origin = pick(values.origin, 'BENCH_ORIGIN') ?? 'auto'
  if (origin !== 'auto' && origin !== 'node' && origin !== 'nginx') throw new Error(`--origin: expected auto, node or nginx, got "${origin}"`)
  const conns = connections === undefined ? 64 : Number(connections)
  if (!Number.isInteger(conns) || conns < 1 || conns > 10_000) throw new Error(`--connections: expected an integer from 1 to 10000, got "${connections}"`)
  const quiet = pick(values['quiet-wait'], 'BENCH_QUIET_WAIT')
  const retries = pick(values.retries, 'BENCH_RETRIES')
  const nRetries = retries === undefined ? 2 : Number(retries)
  if (!Number.isInteger(nRetries) || nRetries < 0 || nRetries > 10) throw new Error(`--retries: expected an integer from 0 to 10, got "${retries}"`)
  const roundsArg = pick(values.rounds, 'BENCH_ROUNDS')
  const nRounds = roundsArg === undefined ? 1 : Number(roundsArg)
  if (!Number.isInteger(nRounds) || nRounds < 1 || nRounds > 20) throw new Error(`--rounds: expected an integer from 1 to 20, got "${roundsArg}"`)
  const only = pick(values.only, 'BENCH_ONLY')
  const skip = pick(values.skip, 'BENCH_SKIP')
  let scenarios: ScenarioId[] = only === undefined ? [...SCENARIOS, ...PROBES] as ScenarioId[] : list('--only', only)
  if (skip !== undefined) {
    const s = list('--skip', skip)
    scenarios = scenarios.filter((id) => !s.includes(id))
  }
  const load = pick(values.load, 'BENCH_LOAD') ?? 'auto'
  if (load !== 'auto' && load !== 'wrk' && load !== 'autocannon') throw new Error(`--load: expected auto, wrk or autocannon, got "${load}"`)
  const threads = pick(values.threads, 'BENCH_WRK_THREADS')
  const nThreads = threads === undefined ? 1 : Number(threads)
  if (!Number.isInteger(nThreads) || nThreads < 1 || nThreads > 64) throw new Error(`--threads: expected an integer from 1 to 64, got "${threads}"`)
  const rate = pick(values.rate, 'BENCH_RATE')
  const nRate = rate === undefined ? DEFAULT_FIXED_RATE : Number(rate)
  if (!Number.isInteger(nRate) || nRate < 0 || nRate > 1_000_000) throw new Error(`--rate: expected requests per second (an integer, 0 for no fixed-rate phase), got "${rate}"`)
  const fixedDuration = pick(values['fixed-duration'], 'BENCH_FIXED_DURATION')
  const paired = pick(values.paired, 'BENCH_PAIRED')
  const nPaired = paired === undefined ? 8 : Number(paired)
  if (!Number.isInteger(nPaired) || nPaired < 0 || nPaired > 1000) throw new Error(`--paired: expected a number of rounds (an integer, 0 for none), got "${paired}"`)
  const pairedDuration = pick(values['paired-duration'], 'BENCH_PAIRED_DURATION')
  return {
    pairedRounds: nPaired,
    pairedDurationS: pairedDuration === undefined ? 3 : seconds('--paired-duration', pairedDuration),
    probes: PROBES.filter((id) => (scenarios as string[]).includes(id)),
    load,
    wrkThreads: nThreads,
    fixedRate: nRate,
    fixedDurationS: fixedDuration === undefined ? (duration === undefined ? 10 : seconds('--duration', duration)) : seconds('--fixed-duration', fixedDuration),
    fastGateway: values['no-fast-gateway'] !== true,
    durationS: duration === undefined ? 10 : seconds('--duration', duration),
    warmupS: warmup === undefined ? 3 : seconds('--warmup', warmup),
    connections: conns,
    origin,
    // Run in the canonical order whatever order the list was given in.
    scenarios: SCENARIOS.filter((id) => scenarios.includes(id)),
    nginx: values['no-nginx'] !== true,
    retries: nRetries,
    rounds: nRounds,
    quietWaitS: quiet === undefined ? 30 : quiet.trim() === '0' ? 0 : seconds('--quiet-wait', quiet),
    out: resolve(REPO, pick(values.out, 'BENCH_OUT') ?? 'bench/results/latest.json')
  }
}

const log = (msg: string): void => { process.stderr.write(`[bench] ${msg}\n`) }
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function version (pkg: string): string {
  try { return (JSON.parse(readFileSync(join(REPO, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version } catch { return 'unknown' }
}

/**
 * CPU used by everything but the harness over one second, in percent of one core; repeated
 * until it is under QUIET_PERCENT or `maxS` has passed. Returns the last sample.
 */
async function waitForQuiet (maxS: number): Promise<number> {
  const deadline = Date.now() + maxS * 1000
  let announced = false
  for (;;) {
    const m0 = machineBusySeconds()
    const s0 = process.cpuUsage()
    await sleep(1_000)
    const self = process.cpuUsage(s0)
    const pct = (machineBusySeconds() - m0 - (self.user + self.system) / 1e6) * 100
    if (Number.isNaN(pct) || pct < QUIET_PERCENT || Date.now() >= deadline) return pct
    if (!announced) log(`other processes use ${pct.toFixed(0)} % of a core; waiting up to ${maxS} s for a quieter machine`)
    announced = true
  }
}

// ---------------------------------------------------------------------------------------

let workDir: string | undefined

function cleanupSync (): void {
  killAllSync()
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
  workDir = undefined
}

async function cleanup (): Promise<void> {
  stopLoad()
  stopWrk()
  stopPaced()
  await stopAll()
  cleanupSync()
}

interface Origin { kind: 'node' | 'nginx', proc: Managed, ports: number[], label: string }

async function startOrigin (o: Options, nginx: { bin: string, version: string } | undefined): Promise<Origin> {
  const useNginx = o.origin === 'nginx' || (o.origin === 'auto' && nginx !== undefined)
  if (useNginx) {
    if (nginx === undefined) throw new Error('--origin nginx: no nginx binary found')
    const prefix = join(workDir!, 'nginx-origin')
    const ports = [await freePort(), await freePort()]
    while (ports[1] === ports[0]) ports[1] = await freePort()
    const conf = writeOriginConfig(prefix, ports)
    const proc = spawnManaged('nginx origin', nginx.bin, nginxArgs(prefix, conf), { logFile: join(prefix, 'stdout.log') })
    for (const p of ports) await waitReady(proc, p, `http://127.0.0.1:${p}/`)
    return { kind: 'nginx', proc, ports, label: `${nginx.version} (1 worker, \`return 200\` with a fixed ${ORIGIN_BODY.length}-byte JSON body)` }
  }
  const proc = spawnManaged('node origin', process.execPath, [join(REPO, 'bench', 'origin.ts'), '2'], { cwd: REPO, pipeStdout: true, logFile: join(workDir!, 'node-origin.log') })
  const ports = await readPorts(proc)
  for (const p of ports) await waitReady(proc, p, `http://127.0.0.1:${p}/`)
  return { kind: 'node', proc, ports, label: `bench/origin.ts (node:http, fixed ${ORIGIN_BODY.length}-byte JSON body)` }
}

interface Started {
  url: string
  proc?: Managed
  opsUrl?: string
  logFile?: string
  /** An origin of the scenario's own (the gRPC one), counted as the origin and stopped with it. */
  originProc?: Managed
}

/** A scenario that cannot run here (a tool that does not install, a feature figway refuses). */
class SkipScenario extends Error {}

/** The closed-loop load generator: wrk when chosen and installed, else autocannon. */
let wrk: { bin: string, version: string } | undefined

async function closedLoad (o: Options, l: { url: string, connections: number, durationS: number, users?: number }): Promise<LoadResult> {
  if (wrk !== undefined) return await runWrk(wrk.bin, { ...l, threads: o.wrkThreads, dir: workDir! })
  return await runLoad(l)
}

/** The fixed-rate phase: paced load at `o.fixedRate` req/s; the proxy's CPU per request. */
async function fixedRatePhase (o: Options, label: string, pids: readonly number[], load: { url: string, connections: number, users?: number }): Promise<FixedRateResult> {
  log(`${label}: ${o.fixedDurationS} s at a fixed ${o.fixedRate} req/s`)
  await sleep(500)
  const cpu0 = cpuSeconds(pids)
  const result = await runPaced({ ...load, durationS: o.fixedDurationS, rate: o.fixedRate })
  const cpu = cpuSeconds(pids) - cpu0
  return { rate: o.fixedRate, load: result, cpuUsPerRequest: pids.length === 0 || result.requests === 0 ? null : (cpu / result.requests) * 1e6 }
}

/** Why figway refuses a route file at load (`figway validate`), or undefined when it loads it. */
function refusedAtLoad (name: string, routesYaml: string): string | undefined {
  const dir = join(workDir!, name + '-validate')
  mkdirSync(join(dir, 'routes'), { recursive: true })
  writeFileSync(join(dir, 'routes', 'bench.yaml'), routesYaml)
  writeFileSync(join(dir, 'gateway.yaml'), 'routes: ./routes\n')
  const r = spawnSync(process.execPath, [join(REPO, 'src', 'cli.ts'), 'validate', '--config', join(dir, 'gateway.yaml')], { cwd: REPO, encoding: 'utf8', timeout: 30_000 })
  if (r.status === 0) return undefined
  return (r.stderr.split('\n').find((l) => l.trim() !== '') ?? `validate exited with ${r.status}`).trim()
}

async function distinctPorts (n: number): Promise<number[]> {
  const out: number[] = []
  while (out.length < n) {
    const p = await freePort()
    if (!out.includes(p)) out.push(p)
  }
  return out
}

/** figway compiled and started as the image starts it (bench/lib/deployed.ts). */
let deployed: DeployedFigway | undefined

/** `tracing`: the telemetry.tracing block (default: tracing off). */
async function startFigway (name: string, logLevel: 'warn' | 'info', routesYaml: string, tracing = '{ exporter: none }'): Promise<Started> {
  const dir = join(workDir!, name)
  mkdirSync(join(dir, 'routes'), { recursive: true })
  const [data, ops] = await distinctPorts(2)
  writeFileSync(join(dir, 'routes', 'bench.yaml'), routesYaml)
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: ${data} }
ops: { host: 127.0.0.1, port: ${ops}, token: "" }
routes: ./routes
shutdown: { drainDelay: 0s, timeout: 2s }
telemetry: { logLevel: ${logLevel}, tracing: ${tracing} }
`)
  const logFile = join(dir, 'figway.log')
  deployed ??= buildDeployed(REPO, log)
  const proc = spawnManaged(name, process.execPath, [...deployed.nodeFlags, deployed.cli, 'serve', '--config', config], { cwd: REPO, logFile, env: { ...process.env, ...deployed.env } })
  await waitReady(proc, data!, `http://127.0.0.1:${data}/__figway/ready`)
  return { url: `http://127.0.0.1:${data}`, proc, opsUrl: `http://127.0.0.1:${ops}`, logFile }
}

/** One request through the target: it must be the origin's fixed body. */
async function sanityCheck (url: string, headers: Record<string, string> = {}): Promise<void> {
  const r = await fetch(url + REQUEST_PATH, { headers, signal: AbortSignal.timeout(5_000) })
  const text = await r.text()
  if (r.status !== 200 || text !== ORIGIN_BODY) throw new Error(`sanity check failed: GET ${url}${REQUEST_PATH} → ${r.status} ${text.slice(0, 200)}`)
}

/** figway_requests_total per backend, from the ops port's /metrics. */
async function backendCounts (opsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(opsUrl + '/metrics', { signal: AbortSignal.timeout(5_000) })).text()
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^figway_requests_total\{([^}]*)\}\s+(\S+)/.exec(line)
    if (m === null) continue
    const backend = /backend="([^"]*)"/.exec(m[1]!)?.[1] ?? ''
    out[backend] = (out[backend] ?? 0) + Number(m[2])
  }
  return out
}

interface Measured {
  url: string
  result: LoadResult
  proxy: ProcessStats | undefined
  fixedRate?: FixedRateResult
  originCpuPercent: number
  loadgenCpuPercent: number
  backgroundCpuPercent: number
  notes: string[]
}

/** Waits for a quiet machine, warms up, then measures one run with CPU accounting. */
async function measure (o: Options, label: string, started: Started, origin: Origin, load: { url: string, connections: number, users?: number }): Promise<Measured> {
  const before = o.quietWaitS > 0 ? await waitForQuiet(o.quietWaitS) : Number.NaN
  log(`${label}: warm-up ${o.warmupS} s`)
  await closedLoad(o, { ...load, durationS: o.warmupS })
  await sleep(500)
  const pids = started.proc === undefined ? [] : processTree(started.proc.pid)
  const originPids = processTree((started.originProc ?? origin.proc).pid)
  const children0 = reapedChildrenCpuSeconds(ticksPerSecond())
  const cpu0 = cpuSeconds(pids)
  const originCpu0 = cpuSeconds(originPids)
  const self0 = process.cpuUsage()
  const machine0 = machineBusySeconds()
  const t0 = performance.now()
  log(`${label}: measuring ${o.durationS} s`)
  const result = await closedLoad(o, { ...load, durationS: o.durationS })
  const wall = (performance.now() - t0) / 1000
  // The harness's own CPU (autocannon runs in it) plus wrk's, a child that has just exited.
  const loadgenChildren = reapedChildrenCpuSeconds(ticksPerSecond()) - children0
  const self = process.cpuUsage(self0)
  const cpu = cpuSeconds(pids) - cpu0
  const machine = machineBusySeconds() - machine0
  const originCpu = cpuSeconds(originPids) - originCpu0
  const selfCpu = (self.user + self.system) / 1e6 + loadgenChildren
  const m: Measured = {
    url: load.url,
    result,
    proxy: started.proc === undefined
      ? undefined
      : { cpuSeconds: cpu, cpuUsPerRequest: result.requests > 0 ? (cpu / result.requests) * 1e6 : 0, peakRssMiB: peakRssBytes(pids) / 1048576, pids },
    originCpuPercent: (originCpu / wall) * 100,
    loadgenCpuPercent: (selfCpu / wall) * 100,
    backgroundCpuPercent: Math.max(0, ((machine - cpu - originCpu - selfCpu) / wall) * 100),
    notes: []
  }
  if (before >= QUIET_PERCENT) m.notes.push(`other processes used ${before.toFixed(0)} % of a core just before the warm-up`)
  if (m.backgroundCpuPercent > 10) m.notes.push(`processes outside the benchmark used ${m.backgroundCpuPercent.toFixed(0)} % of a core during the measurement`)
  if (m.loadgenCpuPercent > 90) m.notes.push(`the load generator used ${m.loadgenCpuPercent.toFixed(0)} % of a core: this run is bounded by ${result.tool}, not by what it measures`)
  if (m.originCpuPercent > 80) m.notes.push(`the origin used ${m.originCpuPercent.toFixed(0)} % of a core: it may have limited this run`)
  if (result.errors > 0 || result.non2xx > 0) m.notes.push(`status codes: ${JSON.stringify(result.statusCodes)}, errors ${result.errors}, timeouts ${result.timeouts}`)
  if (o.fixedRate > 0) {
    const f = await fixedRatePhase(o, label, pids, load)
    m.fixedRate = f
    if (f.load.rps < o.fixedRate * 0.95) m.notes.push(`the fixed-rate phase reached ${Math.round(f.load.rps)} of ${o.fixedRate} req/s`)
    if (f.load.errors + f.load.timeouts + f.load.non2xx > 0) m.notes.push(`fixed-rate phase: status codes ${JSON.stringify(f.load.statusCodes)}, errors ${f.load.errors}, timeouts ${f.load.timeouts}`)
  }
  return m
}

/** The scenarios whose requests carry an `x-user-id` (the sticky split's key): how many users. */
const stickyUsers = (id: ScenarioId): number | undefined => id === 'figway-sticky' || id === 'figway-all' ? STICKY_USERS : undefined

/** One request through a scenario just started (with a user where its split is sticky). */
async function checkStarted (id: ScenarioId, s: Started): Promise<void> {
  await sanityCheck(s.url, stickyUsers(id) === undefined ? {} : { 'x-user-id': 'user-0' })
}

/** Stops a scenario's processes: the proxy, and the origin of its own when it has one. */
async function stopStarted (s: Started | undefined): Promise<void> {
  if (s?.proc !== undefined) await stop(s.proc)
  if (s?.originProc !== undefined) await stop(s.originProc)
}

/**
 * The paired phase (bench/lib/paired.ts). Each round starts a fresh process for every
 * scenario in `ids` (two processes of the same build differ by up to 15 % for their whole
 * life, so one process per scenario for every round would carry its luck into every
 * ratio), warms each, then runs the closed-loop load against each in turn for
 * `o.pairedDurationS`, the order rotating by one every round, with the proxy's CPU per
 * request; then stops them all.
 */
async function pairedPhase (o: Options, ids: readonly ScenarioId[], starters: Record<ScenarioId, () => Promise<Started>>): Promise<PairedRun[]> {
  log(`paired ratios: ${ids.join(', ')} running at once, fresh each round; ${o.pairedRounds} rounds of ${o.pairedDurationS} s runs`)
  const runs: PairedRun[] = []
  const loadOf = (id: ScenarioId, s: Started): { url: string, connections: number, users?: number } =>
    ({ url: s.url + REQUEST_PATH, connections: o.connections, users: stickyUsers(id) })
  for (let round = 1; round <= o.pairedRounds; round++) {
    const started = new Map<ScenarioId, Started>()
    try {
      for (const id of ids) {
        const s = await starters[id]()
        started.set(id, s)
        await checkStarted(id, s)
      }
      if (o.quietWaitS > 0) await waitForQuiet(o.quietWaitS)
      for (const id of ids) await closedLoad(o, { ...loadOf(id, started.get(id)!), durationS: o.warmupS })
      const line: string[] = []
      for (let k = 0; k < ids.length; k++) {
        const id = ids[(k + round - 1) % ids.length]!
        const s = started.get(id)!
        const pids = s.proc === undefined ? [] : processTree(s.proc.pid)
        await sleep(200)
        const cpu0 = cpuSeconds(pids)
        const r = await closedLoad(o, { ...loadOf(id, s), durationS: o.pairedDurationS })
        const cpu = cpuSeconds(pids) - cpu0
        if (r.errors + r.timeouts + r.non2xx > 0) log(`paired ${id}, round ${round}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx`)
        runs.push({ round, id, rps: r.rps, cpuUsPerRequest: pids.length === 0 || r.requests === 0 ? null : (cpu / r.requests) * 1e6 })
        line.push(`${id} ${Math.round(r.rps)}`)
      }
      log(`paired round ${round}: ${line.join(', ')} req/s`)
    } finally {
      for (const s of started.values()) await stopStarted(s)
    }
  }
  return runs
}

const LABELS: Record<ScenarioId, string> = {
  direct: 'direct to origin',
  figway: 'figway pass-through (logLevel warn)',
  'figway-traced': `figway pass-through, tracing at sampleRatio ${TRACED_SAMPLE_RATIO} (OTLP to a sink)`,
  'fastify-proxy': '@fastify/http-proxy',
  floor: 'node:http + undici floor (no features)',
  nginx: 'nginx proxy (1 worker)',
  'figway-info': 'figway pass-through (logLevel info)',
  'figway-sticky': 'figway sticky split 50/50',
  'fast-gateway': 'fast-gateway',
  'grpc-floor': 'node:http + grpc-js floor (one unary call, no transcoding)',
  'figway-grpc': 'figway REST→gRPC transcoding (unary)',
  'figway-all': 'figway all features on (defaults, sticky split, tracing 0.05, info log)',
  'figway-ratelimit': 'figway rate-limited route'
}

async function main (): Promise<number> {
  let o: Options
  try {
    o = parseOptions()
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${HELP}`)
    return 2
  }
  workDir = mkdtempSync(join(tmpdir(), 'figway-bench-'))
  const nginx = o.nginx ? findNginx() : undefined
  wrk = o.load === 'autocannon' ? undefined : findWrk()
  if (o.load === 'wrk' && wrk === undefined) throw new Error('--load wrk: wrk is not installed (apt-get install wrk)')
  log(`load generator: ${wrk === undefined ? `autocannon ${version('autocannon')}${o.load === 'auto' ? ' (wrk not installed)' : ''}` : `wrk ${wrk.version}, ${o.wrkThreads} thread${o.wrkThreads === 1 ? '' : 's'}`}`)
  const fastGateway: FastGateway = o.fastGateway && o.scenarios.includes('fast-gateway') ? ensureFastGateway(log) : { ok: false, reason: o.fastGateway ? 'not selected' : 'disabled with --no-fast-gateway' }
  if (o.scenarios.some((s) => s.startsWith('figway')) || o.probes.length > 0) deployed = buildDeployed(REPO, log)
  const fixedS = o.fixedRate > 0 ? o.fixedDurationS + 1 : 0
  const perScenario = (o.retries + 1) * (o.quietWaitS + 2 + o.warmupS + o.durationS + fixedS) + 45
  const nPaired = o.pairedRounds > 0 ? pairedParticipants(o.scenarios).length : 0
  const pairedS = o.pairedRounds * (o.quietWaitS + nPaired * (o.warmupS + o.pairedDurationS + 30))
  const limitS = o.rounds * o.scenarios.length * perScenario + pairedS + o.probes.length * (2 * (o.warmupS + o.durationS) + 60) + 60
  const watchdog = setTimeout(() => {
    log(`watchdog: still running after ${limitS} s; stopping`)
    void cleanup().finally(() => process.exit(1))
  }, limitS * 1000)
  watchdog.unref()

  log(`scenarios: ${o.scenarios.join(', ')}; ${o.connections} connections, ${o.warmupS} s warm-up + ${o.durationS} s each, ${o.rounds} round${o.rounds === 1 ? '' : 's'}`)
  const origin = await startOrigin(o, nginx)
  const originUrl = `http://127.0.0.1:${origin.ports[0]}`
  log(`origin: ${origin.label} on ${origin.ports.map((p) => '127.0.0.1:' + p).join(', ')}`)

  const passThrough = `backends:
  origin: { url: "${originUrl}" }
routes:
  - name: all
    match: { path: /** }
    to: origin
`
  const split = `backends:
  origin-a: { url: "http://127.0.0.1:${origin.ports[0]}" }
  origin-b: { url: "http://127.0.0.1:${origin.ports[1]}" }
routes:
  - name: split
    match: { path: /** }
    split: { origin-a: 50, origin-b: 50 }
    sticky: { header: x-user-id }
`

  // The collector for the tracing scenarios: its own process, accepting and discarding;
  // nginx when installed (it costs the shared cores far less than a Node process would).
  let sink: { proc: Managed, url: string, label: string, stats: () => Promise<{ requests: number, bytes?: number }> } | undefined
  if (o.scenarios.includes('figway-traced') || o.scenarios.includes('figway-all')) {
    if (nginx !== undefined) {
      const prefix = join(workDir!, 'nginx-otlp-sink')
      const port = await freePort()
      const proc = spawnManaged('otlp sink (nginx)', nginx.bin, nginxArgs(prefix, writeSinkConfig(prefix, port)), { logFile: join(prefix, 'stdout.log') })
      await waitReady(proc, port, `http://127.0.0.1:${port}/`)
      sink = { proc, url: `http://127.0.0.1:${port}`, label: `nginx (\`return 200\`, body discarded)`, stats: async () => sinkStats(prefix) }
    } else {
      const proc = spawnManaged('otlp sink', process.execPath, [join(REPO, 'bench', 'otlp-sink.ts')], { cwd: REPO, pipeStdout: true, logFile: join(workDir!, 'otlp-sink.log') })
      const [port] = await readPorts(proc)
      const url = `http://127.0.0.1:${port}`
      await waitReady(proc, port!, `${url}/stats`)
      sink = { proc, url, label: 'bench/otlp-sink.ts', stats: async () => await (await fetch(url + '/stats', { signal: AbortSignal.timeout(5_000) })).json() as { requests: number, bytes: number } }
    }
    log(`OTLP sink: ${sink.label} on ${sink.url.slice(7)}`)
  }

  const grpcRoutes = (port: number): string => `backends:
  items-grpc:
    grpc: 127.0.0.1:${port}
    protos: [protos/bench/v1/items.proto]
    services: [bench.v1.ItemService]
routes:
  - name: items
    match: { path: /api/items/**, methods: [GET] }
    to: items-grpc
`
  /** A baseline proxy of bench/SCRIPT.ts in its own process: ready once it answers the request path. */
  const startBenchProxy = async (name: string, script: string, args: string[]): Promise<Started> => {
    const proc = spawnManaged(name, process.execPath, [join(REPO, 'bench', `${script}.ts`), ...args], { cwd: REPO, pipeStdout: true, logFile: join(workDir!, `${script}.log`) })
    const [port] = await readPorts(proc)
    await waitReady(proc, port!, `http://127.0.0.1:${port}${REQUEST_PATH}`)
    return { url: `http://127.0.0.1:${port}`, proc }
  }
  /** A gRPC origin (bench/grpc-origin.ts) in its own process for a scenario that calls one: counted as that scenario's origin. */
  const withGrpcOrigin = async (start: (port: number) => Promise<Started>): Promise<Started> => {
    const grpcOrigin = spawnManaged('grpc origin', process.execPath, [join(REPO, 'bench', 'grpc-origin.ts')], { cwd: REPO, pipeStdout: true, logFile: join(workDir!, 'grpc-origin.log') })
    try {
      const [port] = await readPorts(grpcOrigin)
      return { ...await start(port!), originProc: grpcOrigin }
    } catch (err) {
      await stop(grpcOrigin)
      throw err
    }
  }
  const rateLimited = passThrough + '    rateLimit: { requests: 100000000, per: 1s, key: ip }\n'

  const starters: Record<ScenarioId, () => Promise<Started>> = {
    'figway-all': async () => await startFigway('figway-all', 'info', split, `{ exporter: otlp, endpoint: "${sink!.url}", sampleRatio: ${TRACED_SAMPLE_RATIO} }`),
    'figway-grpc': async () => await withGrpcOrigin(async (port) => {
      // The bench proto goes to the routes folder's protos/.
      const protos = join(workDir!, 'figway-grpc', 'routes', 'protos', 'bench', 'v1')
      mkdirSync(protos, { recursive: true })
      copyFileSync(join(REPO, 'bench', 'protos', 'bench', 'v1', 'items.proto'), join(protos, 'items.proto'))
      return await startFigway('figway-grpc', 'warn', grpcRoutes(port))
    }),
    'grpc-floor': async () => await withGrpcOrigin(async (grpcPort) => await startBenchProxy('grpc-js floor', 'grpc-floor', [`127.0.0.1:${grpcPort}`])),
    'figway-ratelimit': async () => {
      const refused = refusedAtLoad('figway-ratelimit', rateLimited)
      if (refused !== undefined) throw new SkipScenario(`figway refuses rateLimit at load: ${refused.replace(/^.*?: /, '')}`)
      return await startFigway('figway-ratelimit', 'warn', rateLimited)
    },
    'fast-gateway': async () => {
      if (!fastGateway.ok) throw new SkipScenario(`fast-gateway: ${fastGateway.reason}`)
      return await startBenchProxy('fast-gateway', 'fast-gateway', [fastGateway.dir, originUrl])
    },
    direct: async () => ({ url: originUrl }),
    figway: async () => await startFigway('figway', 'warn', passThrough),
    'figway-traced': async () => await startFigway('figway-traced', 'warn', passThrough, `{ exporter: otlp, endpoint: "${sink!.url}", sampleRatio: ${TRACED_SAMPLE_RATIO} }`),
    'figway-info': async () => await startFigway('figway-info', 'info', passThrough),
    'figway-sticky': async () => await startFigway('figway-sticky', 'warn', split),
    'fastify-proxy': async () => await startBenchProxy('@fastify/http-proxy', 'fastify-proxy', [originUrl]),
    floor: async () => await startBenchProxy('floor proxy', 'floor-proxy', [originUrl]),
    nginx: async () => {
      const prefix = join(workDir!, 'nginx-proxy')
      const port = await freePort()
      const conf = writeProxyConfig(prefix, port, `127.0.0.1:${origin.ports[0]}`, o.connections)
      const proc = spawnManaged('nginx proxy', nginx!.bin, nginxArgs(prefix, conf), { logFile: join(prefix, 'stdout.log') })
      await waitReady(proc, port, `http://127.0.0.1:${port}${REQUEST_PATH}`)
      return { url: `http://127.0.0.1:${port}`, proc }
    }
  }

  // Rounds interleave the scenarios (A B C, A B C, ...) so slow drift on the machine spreads
  // over all of them; each scenario then shows its median round by req/s.
  const rounds = new Map<ScenarioId, { runs: Measured[], notes: string[], failures: string[], skipped?: string }>()
  for (const id of o.scenarios) rounds.set(id, { runs: [], notes: [], failures: [] })
  for (let round = 1; round <= o.rounds; round++) {
    if (o.rounds > 1) log(`round ${round} of ${o.rounds}`)
    for (const id of o.scenarios) {
      const label = LABELS[id]
      const acc = rounds.get(id)!
      if (id === 'nginx' && nginx === undefined) continue
      if (acc.skipped !== undefined) continue
      log(`${label}: starting`)
      let started: Started | undefined
      try {
        started = await starters[id]()
        await checkStarted(id, started)
        const load = { url: started.url + REQUEST_PATH, connections: o.connections, users: stickyUsers(id) }
        // On a shared machine, measure again while other processes disturbed the run; keep the
        // least disturbed measurement.
        let m = await measure(o, label, started, origin, load)
        let attempts = 1
        while (m.backgroundCpuPercent > BUSY_PERCENT && attempts <= o.retries) {
          log(`${label}: processes outside the benchmark used ${m.backgroundCpuPercent.toFixed(0)} % of a core; measuring again (${attempts}/${o.retries})`)
          const again = await measure(o, label, started, origin, load)
          attempts++
          if (again.backgroundCpuPercent < m.backgroundCpuPercent) m = again
        }
        if (attempts > 1) m.notes.push(`measured ${attempts} times because other processes were busy; this is the least disturbed run`)
        if (id === 'figway-traced' && sink !== undefined) {
          const st = await sink.stats()
          m.notes.push(`the OTLP sink (${sink.label}) had received ${st.requests.toLocaleString('en-US')} exports${st.bytes === undefined ? '' : `, ${(st.bytes / 1048576).toFixed(1)} MiB`}, by the end of this run (all rounds so far)`)
        }
        if (id === 'figway-info' && started.logFile !== undefined) {
          const bytes = statSync(started.logFile).size
          m.notes.push(`access log written to a file: ${(bytes / 1048576).toFixed(1)} MiB over warm-up and measurement`)
        }
        if (id === 'figway-sticky' && started.opsUrl !== undefined) {
          const counts = await backendCounts(started.opsUrl)
          const total = Object.values(counts).reduce((a, b) => a + b, 0)
          const shares = Object.entries(counts).sort().map(([b, n]) => `${b} ${((n / total) * 100).toFixed(1)} %`).join(', ')
          m.notes.push(`requests carry x-user-id cycling over ${STICKY_USERS.toLocaleString('en-US')} users; split observed in figway_requests_total: ${shares} of ${total.toLocaleString('en-US')}`)
        }
        if (id === 'grpc-floor') m.notes.push('node:http in, one unary call a request to bench/grpc-origin.ts on a @grpc/grpc-js channel made as figway makes it (channel.createCall with the request message encoded once at start), the fixed body out: no codec, no features; the gRPC origin is counted as the origin')
        if (id === 'figway-grpc') m.notes.push('GET /api/items/42?view=compact bound to bench.v1.ItemService/GetItem (bench/protos/bench/v1/items.proto); the gRPC origin is bench/grpc-origin.ts (@grpc/grpc-js), counted as the origin')
        if (id === 'figway-all') m.notes.push(`default policy (3 attempts, breaker, retry budget, bulkhead), metrics, tracing at sampleRatio ${TRACED_SAMPLE_RATIO} exported over OTLP/HTTP to a local sink that discards, sticky split 50/50 over ${STICKY_USERS.toLocaleString('en-US')} users, access log at info to a file`)
        if (id === 'fast-gateway' && fastGateway.ok) m.notes.push(`fast-gateway ${fastGateway.version}, defaults${fastGateway.note === undefined ? '' : `; ${fastGateway.note}`}`)
        acc.runs.push(m)
        log(`${label}: ${Math.round(m.result.rps)} req/s, p99 ${m.result.latencyMs.p99.toFixed(2)} ms`)
      } catch (err) {
        const reason = (err as Error).message
        if (err instanceof SkipScenario) {
          log(`${label}: skipped (${reason})`)
          acc.skipped = reason
          continue
        }
        log(`${label}: FAILED: ${reason}`)
        acc.failures.push(`round ${round}: ${reason.split('\n')[0]}`)
      } finally {
        await stopStarted(started)
      }
      await sleep(1_000)
    }
  }

  const results: ScenarioResult[] = []
  for (const id of o.scenarios) {
    const label = LABELS[id]
    const acc = rounds.get(id)!
    if (id === 'nginx' && nginx === undefined) {
      const reason = o.nginx ? 'nginx is not installed' : 'disabled with --no-nginx'
      log(`${label}: skipped (${reason})`)
      results.push({ id, label, status: 'skipped', reason, notes: [] })
      continue
    }
    if (acc.skipped !== undefined) {
      results.push({ id, label, status: 'skipped', reason: acc.skipped, notes: [] })
      continue
    }
    if (acc.runs.length === 0) {
      results.push({ id, label, status: 'failed', reason: acc.failures.join('; '), notes: [] })
      continue
    }
    const byRps = [...acc.runs].sort((a, b) => a.result.rps - b.result.rps)
    const m = byRps[Math.floor((byRps.length - 1) / 2)]!
    const notes = [...m.notes, ...acc.failures.map((f) => `failed in ${f}`)]
    results.push({
      id,
      label,
      status: 'ok',
      url: m.url,
      load: m.result,
      proxy: m.proxy,
      fixedRate: m.fixedRate,
      originCpuPercent: m.originCpuPercent,
      loadgenCpuPercent: m.loadgenCpuPercent,
      backgroundCpuPercent: m.backgroundCpuPercent,
      rpsRange: [byRps[0]!.result.rps, byRps[byRps.length - 1]!.result.rps],
      rounds: acc.runs.map((r) => ({
        rps: r.result.rps,
        p50: r.result.latencyMs.p50,
        p99: r.result.latencyMs.p99,
        p999: r.result.latencyMs.p999,
        cpuUsPerRequest: r.proxy?.cpuUsPerRequest ?? null,
        backgroundCpuPercent: r.backgroundCpuPercent
      })),
      notes
    })
  }

  // Paired ratios: every process of the targets' ratios at once, short runs in turn.
  let paired: Report['paired']
  const pairedIds = pairedParticipants(o.scenarios.filter((id) => (id !== 'nginx' || nginx !== undefined) && rounds.get(id)!.skipped === undefined))
  if (o.pairedRounds > 0 && pairedIds.length >= 2) {
    const runs = await pairedPhase(o, pairedIds as ScenarioId[], starters)
    paired = { rounds: o.pairedRounds, durationS: o.pairedDurationS, scenarios: pairedIds, runs, ratios: pairedRatios(runs) }
  }

  // Probes: after the scenarios, on the same origin.
  const probes: ProbeResult[] = []
  const probeDeps = {
    durationS: o.durationS,
    warmupS: o.warmupS,
    connections: o.connections,
    log,
    load: runPaced,
    startFigway: async (name: string) => await startFigway(name, 'warn', passThrough),
    startFloor: starters.floor,
    stop: async (m: Managed) => { await stop(m) }
  }
  for (const id of o.probes) {
    const label = PROBE_LABELS[id]
    try {
      if (o.quietWaitS > 0) await waitForQuiet(o.quietWaitS)
      if (id === 'half-rate') {
        const max = results.find((r) => r.id === 'figway' && r.status === 'ok')?.load?.rps
        if (max === undefined) { probes.push({ id, label, status: 'skipped', reason: 'needs the figway scenario in the same run' }); continue }
        probes.push({ id, label, status: 'ok', halfRate: await halfRate(probeDeps, originUrl, REQUEST_PATH, max) })
      } else {
        probes.push({ id, label, status: 'ok', connections: await manyConnections(probeDeps, REQUEST_PATH, MANY_CONNECTIONS, o.fixedRate > 0 ? o.fixedRate : DEFAULT_FIXED_RATE) })
      }
    } catch (err) {
      log(`${label}: FAILED: ${(err as Error).message}`)
      probes.push({ id, label, status: 'failed', reason: (err as Error).message.split('\n')[0] })
    }
  }
  await stop(origin.proc)
  if (sink !== undefined) await stop(sink.proc)

  const cpu = cpus()
  const report: Report = {
    date: new Date().toISOString(),
    machine: { cpus: cpu.length, cpuModel: cpu[0]?.model.trim() ?? 'unknown', memoryGiB: totalmem() / 2 ** 30, kernel: release(), node: process.version },
    method: {
      connections: o.connections,
      durationS: o.durationS,
      warmupS: o.warmupS,
      path: REQUEST_PATH,
      origin: origin.label,
      figway: deployed === undefined ? undefined : `compiled (tsconfig.build.json), node ${deployed.nodeFlags.join(' ')} as in the Dockerfile's ENTRYPOINT, with its ENV ${Object.entries(deployed.env).map(([k, v]) => `${k}=${v}`).join(' ')}`,
      tools: {
        autocannon: version('autocannon'),
        '@fastify/http-proxy': version('@fastify/http-proxy'),
        fastify: version('fastify'),
        undici: version('undici'),
        nginx: nginx?.version ?? 'not installed',
        wrk: wrk?.version ?? (o.load === 'autocannon' ? 'not used' : 'not installed'),
        'fast-gateway': fastGateway.ok ? fastGateway.version : 'not installed',
        '@grpc/grpc-js': version('@grpc/grpc-js')
      },
      load: wrk === undefined ? { tool: 'autocannon', version: version('autocannon'), threads: null } : { tool: 'wrk', version: wrk.version, threads: o.wrkThreads },
      fixedRate: o.fixedRate > 0 ? { rate: o.fixedRate, durationS: o.fixedDurationS, tool: 'paced' } : undefined,
      quietWaitS: o.quietWaitS,
      retries: o.retries,
      rounds: o.rounds
    },
    scenarios: results,
    ratios: computeRatios(results),
    ...(paired === undefined ? {} : { paired }),
    probes
  }
  let previous: Report | undefined
  try { if (existsSync(o.out)) previous = JSON.parse(readFileSync(o.out, 'utf8')) as Report } catch { log(`${o.out}: not a previous report; nothing to compare with`) }
  mkdirSync(dirname(o.out), { recursive: true })
  writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n')
  process.stdout.write(markdown(report) + extras(report, previous))
  log(`JSON written to ${o.out}`)
  return results.some((r) => r.status === 'failed') || probes.some((p) => p.status === 'failed') ? 1 : 0
}

process.on('exit', cleanupSync)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`)
    void cleanup().finally(() => process.exit(130))
  })
}

try {
  const code = await main()
  await cleanup()
  process.exit(code)
} catch (err) {
  log(`error: ${(err as Error).stack ?? String(err)}`)
  await cleanup()
  process.exit(1)
}
