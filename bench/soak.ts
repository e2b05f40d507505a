/**
 * Soak: figway at a fixed request rate for a set time, sampling its RSS, live heap and
 * event-loop delay, to show that nothing grows once it is warm. `npm run soak`.
 *
 * Method: the bench's Node origin and figway (compiled and started as the image starts it, logLevel warn, one
 * catch-all route, the default policy: 3 attempts, a breaker and a budget per backend) each in
 * their own process; in this process, a paced open-loop load (bench/lib/paced.ts) over 64
 * keep-alive connections at a fixed rate. Every sample (5 s): figway's RSS (/proc), heap used
 * and event-loop lag at the scrape from its own /metrics, and the event-loop delay over the
 * interval (p99 and max, 1 ms resolution) from a monitor preloaded into figway
 * (bench/lib/loop-monitor.ts).
 *
 * Verdict: RSS growth is the last sample against the first sample after the warm-up (the
 * issue: "no RSS growth beyond 10 % after the first minute"); the run is flagged, and exits 1,
 * when that growth is over the limit. The peak after the warm-up is reported beside it.
 *
 * Options (flags or environment): --rate N (SOAK_RATE, default 2000 req/s), --duration S
 * (SOAK_DURATION, default 600), --warmup S (SOAK_WARMUP, default 60), --limit PERCENT
 * (SOAK_LIMIT, default 10), --sample S (SOAK_SAMPLE, default 5), --out FILE (default
 * bench/results/soak.json).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildDeployed } from './lib/deployed.ts'
import { runPaced } from './lib/paced.ts'
import { freePort, killAllSync, readPorts, spawnManaged, stopAll, waitReady } from './lib/procs.ts'

const REPO = join(import.meta.dirname, '..')
const arg = (name: string, env: string, def: number): number => {
  const i = process.argv.indexOf('--' + name)
  const v = i !== -1 ? process.argv[i + 1] : process.env[env]
  const n = v === undefined || v === '' ? def : Number(v)
  if (!Number.isFinite(n) || n < 0) { process.stderr.write(`soak: --${name}: expected a number, got "${v}"\n`); process.exit(2) }
  return n
}
const rate = arg('rate', 'SOAK_RATE', 2000)
const durationS = arg('duration', 'SOAK_DURATION', 600)
const warmupS = arg('warmup', 'SOAK_WARMUP', 60)
const limit = arg('limit', 'SOAK_LIMIT', 10) / 100
const sampleMs = arg('sample', 'SOAK_SAMPLE', 5) * 1000
const outIdx = process.argv.indexOf('--out')
const out = outIdx !== -1 ? process.argv[outIdx + 1]! : join(REPO, 'bench', 'results', 'soak.json')

const dir = mkdtempSync(join(tmpdir(), 'figway-soak-'))
const cleanup = (): void => { killAllSync(); rmSync(dir, { recursive: true, force: true }) }
process.on('SIGINT', () => { cleanup(); process.exit(130) })
process.on('exit', cleanup)

function rssMiB (pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) / 1024
}

async function gauges (opsUrl: string, names: readonly string[]): Promise<number[]> {
  const text = await (await fetch(opsUrl + '/metrics', { signal: AbortSignal.timeout(5_000) })).text()
  return names.map((name) => {
    const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text)
    return m === null ? NaN : Number(m[1])
  })
}

interface LoopInterval { at: number, meanMs: number, p50Ms: number, p99Ms: number, maxMs: number }
const loopFile = join(dir, 'loop.json')
function loopInterval (): LoopInterval | undefined {
  try { return existsSync(loopFile) ? JSON.parse(readFileSync(loopFile, 'utf8')) as LoopInterval : undefined } catch { return undefined }
}

const origin = spawnManaged('origin', process.execPath, [join(REPO, 'bench', 'origin.ts')], { pipeStdout: true })
const [originPort] = await readPorts(origin)
const data = await freePort()
let ops = await freePort()
while (ops === data) ops = await freePort()
writeFileSync(join(dir, 'gateway.yaml'), `listen: { host: 127.0.0.1, port: ${data} }
ops: { host: 127.0.0.1, port: ${ops}, token: "" }
routes: ./routes
shutdown: { drainDelay: 0s, timeout: 2s }
telemetry: { logLevel: warn, tracing: { exporter: none } }
`)
mkdirSync(join(dir, 'routes'))
writeFileSync(join(dir, 'routes', 'soak.yaml'), `backends:\n  origin: { url: "http://127.0.0.1:${originPort}" }\nroutes:\n  - { name: all, match: { path: /** }, to: origin }\n`)
// As the image runs it (bench/lib/deployed.ts), with the loop monitor preloaded.
const deployed = buildDeployed(REPO, (msg) => console.error(`[soak] ${msg}`))
const gw = spawnManaged('figway', process.execPath, [...deployed.nodeFlags, '--import', join(REPO, 'bench', 'lib', 'loop-monitor.ts'), deployed.cli, 'serve', '--config', join(dir, 'gateway.yaml')], {
  cwd: REPO,
  logFile: join(dir, 'figway.log'),
  env: { ...process.env, ...deployed.env, SOAK_LOOP_FILE: loopFile, SOAK_LOOP_INTERVAL_MS: String(sampleMs) }
})
const opsUrl = `http://127.0.0.1:${ops}`
await waitReady(gw, data, `http://127.0.0.1:${data}/__figway/ready`)

console.error(`[soak] ${rate} req/s for ${durationS} s (warm-up ${warmupS} s), sampling every ${sampleMs / 1000} s; flagged when RSS grows over ${(limit * 100).toFixed(0)} % after the warm-up`)
interface Sample { t: number, rssMiB: number, heapMiB: number, loopLagMs: number, loopP99Ms: number, loopDelayP99Ms: number | null, loopDelayMaxMs: number | null, requests: number, errors: number }
const samples: Sample[] = []
let requests = 0
let errors = 0
const started = Date.now()
const load = runPaced({ url: `http://127.0.0.1:${data}/api/items/42`, connections: 64, durationS, rate, onProgress: (p) => { requests += p.ok + p.failed; errors += p.failed } })
const timer = setInterval(() => {
  void (async () => {
    const [heap, lag, p99] = await gauges(opsUrl, ['nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds'])
    const loop = loopInterval()
    const s: Sample = {
      t: Math.round((Date.now() - started) / 1000),
      rssMiB: rssMiB(gw.pid),
      heapMiB: heap! / 1048576,
      loopLagMs: lag! * 1000,
      loopP99Ms: p99! * 1000,
      loopDelayP99Ms: loop?.p99Ms ?? null,
      loopDelayMaxMs: loop?.maxMs ?? null,
      requests,
      errors
    }
    samples.push(s)
    console.error(`[soak] t=${s.t}s rss ${s.rssMiB.toFixed(1)} MiB heap ${s.heapMiB.toFixed(1)} MiB loop delay p99 ${s.loopDelayP99Ms?.toFixed(1) ?? '–'} ms max ${s.loopDelayMaxMs?.toFixed(1) ?? '–'} ms requests ${s.requests}`)
  })().catch(() => {})
}, sampleMs)
const result = await load
clearInterval(timer)
await stopAll()

const afterWarmup = samples.filter((s) => s.t >= warmupS)
const first = afterWarmup[0]
const last = afterWarmup[afterWarmup.length - 1]
const peak = afterWarmup.reduce<Sample | undefined>((a, s) => a === undefined || s.rssMiB > a.rssMiB ? s : a, undefined)
const growth = first === undefined || last === undefined ? NaN : (last.rssMiB - first.rssMiB) / first.rssMiB
const peakGrowth = first === undefined || peak === undefined ? NaN : (peak.rssMiB - first.rssMiB) / first.rssMiB
const flagged = !(growth <= limit)
const delays = afterWarmup.map((s) => s.loopDelayP99Ms).filter((v): v is number => v !== null)
const report = {
  date: new Date().toISOString(),
  rate,
  durationS,
  warmupS,
  requests,
  errors,
  latencyMs: result.latencyMs,
  rssGrowthAfterWarmup: growth,
  rssPeakGrowthAfterWarmup: peakGrowth,
  growthLimit: limit,
  flagged,
  maxRssMiB: Math.max(...samples.map((s) => s.rssMiB)),
  maxLoopDelayP99MsAfterWarmup: delays.length === 0 ? null : Math.max(...delays),
  samples
}
mkdirSync(join(out, '..'), { recursive: true })
writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
const f = (v: number | null, d = 1): string => v === null || Number.isNaN(v) ? '–' : v.toFixed(d)
console.log('| t (s) | RSS MiB | heap used MiB | event-loop delay p99 ms | event-loop delay max ms | lag at scrape ms | requests | errors |\n|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const s of samples) console.log(`| ${s.t}${s === first ? ' (warm)' : ''} | ${f(s.rssMiB)} | ${f(s.heapMiB)} | ${f(s.loopDelayP99Ms)} | ${f(s.loopDelayMaxMs)} | ${f(s.loopLagMs, 2)} | ${s.requests} | ${s.errors} |`)
console.log(`\n${requests} requests, ${errors} errors, latency p50/p99/p99.9 ${f(result.latencyMs.p50, 2)}/${f(result.latencyMs.p99, 2)}/${f(result.latencyMs.p999, 2)} ms. RSS from the first sample after the ${warmupS} s warm-up to the last: ${f(first?.rssMiB ?? null)} → ${f(last?.rssMiB ?? null)} MiB ` +
  `(${(growth * 100).toFixed(1)} %); peak after warm-up ${f(peak?.rssMiB ?? null)} MiB (${(peakGrowth * 100).toFixed(1)} %); ` +
  `event-loop delay p99 after warm-up at most ${f(report.maxLoopDelayP99MsAfterWarmup)} ms. JSON: ${out}`)
console.log(flagged
  ? `FLAGGED: RSS grew ${(growth * 100).toFixed(1)} % after the warm-up (limit ${(limit * 100).toFixed(0)} %)${first === undefined ? ' — no sample after the warm-up: run longer than --warmup' : ''}`
  : `ok: RSS growth after the warm-up within ${(limit * 100).toFixed(0)} %`)
process.exitCode = flagged ? 1 : 0
