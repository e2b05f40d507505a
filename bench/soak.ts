/**
 * Soak: figway at a fixed request rate for a set time, sampling its RSS, live heap and
 * event-loop delay, to show that nothing grows once it is warm. `npm run soak`.
 *
 * Method: the bench's Node origin and figway (`node src/cli.ts serve`, logLevel warn, one
 * catch-all route, the default policy: 3 attempts, a breaker and a budget per backend) each in
 * their own process; autocannon in this process with 64 keep-alive connections at a fixed
 * overall rate. Every 5 s: figway's RSS (/proc), heap used, event-loop lag (a setImmediate
 * probe at scrape) and delay p99 (prom-client's monitor, 10 ms resolution) from its own
 * /metrics. Growth is the last sample against the first sample after the warm-up.
 *
 * Options (flags or environment): --rate N (SOAK_RATE, default 2000 req/s), --duration S
 * (SOAK_DURATION, default 600), --warmup S (SOAK_WARMUP, default 60), --out FILE
 * (default bench/results/soak.json).
 */
import autocannon from 'autocannon'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killAllSync, readPorts, spawnManaged, stopAll, waitReady, freePort } from './lib/procs.ts'

const REPO = join(import.meta.dirname, '..')
const arg = (name: string, env: string, def: number): number => {
  const i = process.argv.indexOf('--' + name)
  const v = i !== -1 ? process.argv[i + 1] : process.env[env]
  return v === undefined || v === '' ? def : Number(v)
}
const rate = arg('rate', 'SOAK_RATE', 2000)
const durationS = arg('duration', 'SOAK_DURATION', 600)
const warmupS = arg('warmup', 'SOAK_WARMUP', 60)
const outIdx = process.argv.indexOf('--out')
const out = outIdx !== -1 ? process.argv[outIdx + 1]! : join(REPO, 'bench', 'results', 'soak.json')
const SAMPLE_MS = 5_000

process.on('SIGINT', () => { killAllSync(); process.exit(130) })
process.on('exit', () => killAllSync())

function rssMiB (pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) / 1024
}

async function gauge (opsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(opsUrl + '/metrics', { signal: AbortSignal.timeout(5_000) })).text()
  const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

const dir = mkdtempSync(join(tmpdir(), 'figway-soak-'))
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
const gw = spawnManaged('figway', process.execPath, [join(REPO, 'src', 'cli.ts'), 'serve', '--config', join(dir, 'gateway.yaml')], { cwd: REPO, logFile: join(dir, 'figway.log') })
const opsUrl = `http://127.0.0.1:${ops}`
await waitReady(gw, data, `http://127.0.0.1:${data}/__figway/ready`)

console.error(`[soak] ${rate} req/s for ${durationS} s (warm-up ${warmupS} s), sampling every ${SAMPLE_MS / 1000} s`)
const samples: Array<{ t: number, rssMiB: number, heapMiB: number, loopLagMs: number, loopP99Ms: number, requests: number }> = []
let requests = 0
let errors = 0
const started = Date.now()
const inst = autocannon({ url: `http://127.0.0.1:${data}/api/items/42`, connections: 64, duration: durationS, overallRate: rate }, () => {})
inst.on('response', () => { requests++ })
inst.on('reqError', () => { errors++ })
const timer = setInterval(() => {
  void (async () => {
    const s = { t: Math.round((Date.now() - started) / 1000), rssMiB: rssMiB(gw.pid), heapMiB: (await gauge(opsUrl, 'nodejs_heap_size_used_bytes')) / 1048576, loopLagMs: (await gauge(opsUrl, 'nodejs_eventloop_lag_seconds')) * 1000, loopP99Ms: (await gauge(opsUrl, 'nodejs_eventloop_lag_p99_seconds')) * 1000, requests }
    samples.push(s)
    console.error(`[soak] t=${s.t}s rss ${s.rssMiB.toFixed(1)} MiB heap ${s.heapMiB.toFixed(1)} MiB loop lag ${s.loopLagMs.toFixed(2)} ms, p99 ${s.loopP99Ms.toFixed(2)} ms requests ${s.requests}`)
  })().catch(() => {})
}, SAMPLE_MS)
await new Promise<void>((resolve) => inst.on('done', () => resolve()))
clearInterval(timer)
await stopAll()

const afterWarmup = samples.filter((s) => s.t >= warmupS)
const first = afterWarmup[0]
const last = afterWarmup[afterWarmup.length - 1]
const growth = first === undefined || last === undefined ? NaN : (last.rssMiB - first.rssMiB) / first.rssMiB
const report = { date: new Date().toISOString(), rate, durationS, warmupS, requests, errors, rssGrowthAfterWarmup: growth, maxRssMiB: Math.max(...samples.map((s) => s.rssMiB)), samples }
writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
console.log(`| t (s) | RSS MiB | heap used MiB | event-loop lag ms | event-loop p99 ms | requests |\n|---:|---:|---:|---:|---:|---:|`)
for (const s of samples) console.log(`| ${s.t} | ${s.rssMiB.toFixed(1)} | ${s.heapMiB.toFixed(1)} | ${s.loopLagMs.toFixed(2)} | ${s.loopP99Ms.toFixed(2)} | ${s.requests} |`)
console.log(`\n${requests} requests, ${errors} errors; RSS after the ${warmupS} s warm-up: ${first?.rssMiB.toFixed(1)} → ${last?.rssMiB.toFixed(1)} MiB (${(growth * 100).toFixed(1)} %), peak ${report.maxRssMiB.toFixed(1)} MiB. JSON: ${out}`)
