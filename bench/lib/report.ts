/** The markdown report printed to stdout, built from the same object written as JSON. */
import type { LoadResult } from './load.ts'
import type { PairedRatio, PairedRun } from './paired.ts'
import type { ProbeResult } from './probes.ts'

export interface ProcessStats {
  /** CPU seconds (user + system) used during the measured run, whole process tree. */
  readonly cpuSeconds: number
  readonly cpuUsPerRequest: number
  /** Peak resident set (VmHWM) over the process's life, summed over its tree, in MiB. */
  readonly peakRssMiB: number
  readonly pids: readonly number[]
}

export interface ScenarioResult {
  readonly id: string
  readonly label: string
  readonly status: 'ok' | 'skipped' | 'failed'
  readonly reason?: string
  readonly url?: string
  readonly load?: LoadResult
  /** The proxy under test (absent for direct). */
  readonly proxy?: ProcessStats
  /** Origin CPU during the measured run, in percent of one core. */
  readonly originCpuPercent?: number
  /** The harness process (autocannon) CPU during the measured run, in percent of one core. */
  readonly loadgenCpuPercent?: number
  /** Everything else on the machine during the measured run, in percent of one core. */
  readonly backgroundCpuPercent?: number
  /** Lowest and highest req/s over the rounds. */
  readonly rpsRange?: readonly [number, number]
  /** Every round's headline figures (the one shown is the median by req/s). */
  readonly rounds?: ReadonlyArray<{ rps: number, p50: number, p99: number, p999: number, cpuUsPerRequest: number | null, backgroundCpuPercent: number }>
  /** The fixed-rate phase after the maximum-rate one (same process, same round). */
  readonly fixedRate?: FixedRateResult
  readonly notes: string[]
}

/** A run at a fixed request rate every proxy sustains: CPU per request compares like for like. */
export interface FixedRateResult {
  readonly rate: number
  readonly load: LoadResult
  /** CPU of the proxy's process tree over this phase per completed request; null for direct. */
  readonly cpuUsPerRequest: number | null
}

export interface Ratio {
  readonly name: string
  readonly of: string
  readonly to: string
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly cpuPerRequest: number | null
}

export interface Report {
  readonly date: string
  readonly machine: { readonly cpus: number, readonly cpuModel: string, readonly memoryGiB: number, readonly kernel: string, readonly node: string }
  readonly method: {
    readonly connections: number, readonly durationS: number, readonly warmupS: number, readonly path: string, readonly origin: string, readonly tools: Record<string, string>, readonly quietWaitS: number, readonly retries: number, readonly rounds: number
    /** The closed-loop load generator (wrk when installed), and the fixed-rate phase's settings. */
    readonly load?: { readonly tool: 'wrk' | 'autocannon', readonly version: string, readonly threads: number | null }
    readonly fixedRate?: { readonly rate: number, readonly durationS: number, readonly tool: 'paced' }
    /** How figway was started (the image's way: compiled, with the ENTRYPOINT's node flags). */
    readonly figway?: string
  }
  readonly scenarios: ScenarioResult[]
  readonly ratios: Ratio[]
  /** The paired phase (bench/lib/paired.ts): the targets' ratios with every process running at once. */
  readonly paired?: { readonly rounds: number, readonly durationS: number, readonly scenarios: readonly string[], readonly runs: readonly PairedRun[], readonly ratios: readonly PairedRatio[] }
  /** half-rate and connections-1k (bench/lib/probes.ts). */
  readonly probes?: ProbeResult[]
}

export function computeRatios (scenarios: readonly ScenarioResult[]): Ratio[] {
  const by = new Map(scenarios.filter((s) => s.status === 'ok').map((s) => [s.id, s]))
  const out: Ratio[] = []
  const add = (name: string, of: string, to: string): void => {
    const a = by.get(of)
    const b = by.get(to)
    if (a?.load === undefined || b?.load === undefined) return
    const cpu = a.proxy !== undefined && b.proxy !== undefined && b.proxy.cpuUsPerRequest > 0 ? a.proxy.cpuUsPerRequest / b.proxy.cpuUsPerRequest : null
    out.push({
      name,
      of,
      to,
      rps: a.load.rps / b.load.rps,
      p50: a.load.latencyMs.p50 / b.load.latencyMs.p50,
      p99: a.load.latencyMs.p99 / b.load.latencyMs.p99,
      cpuPerRequest: cpu
    })
  }
  add('figway / direct', 'figway', 'direct')
  add('figway / @fastify/http-proxy', 'figway', 'fastify-proxy')
  add('figway / nginx', 'figway', 'nginx')
  add('figway traced (sampleRatio 0.05) / figway (tracing off)', 'figway-traced', 'figway')
  add('figway (info) / figway (warn)', 'figway-info', 'figway')
  add('figway sticky split / figway pass-through', 'figway-sticky', 'figway')
  return out
}

const fmt = (n: number, digits = 2): string => n.toFixed(digits)
const int = (n: number): string => Math.round(n).toLocaleString('en-US')

export function markdown (r: Report): string {
  const lines: string[] = []
  const m = r.machine
  lines.push(`## figway benchmark, ${r.date}`)
  lines.push('')
  lines.push(`Machine: ${m.cpus} × ${m.cpuModel}, ${fmt(m.memoryGiB, 1)} GiB, Linux ${m.kernel}, Node ${m.node}. ` +
    `Load: ${r.method.load === undefined ? 'autocannon' : r.method.load.tool === 'wrk' ? `wrk ${r.method.load.version} (${r.method.load.threads ?? 1} thread${r.method.load.threads === 1 ? '' : 's'})` : `autocannon ${r.method.load.version}${r.method.tools.wrk === 'not installed' ? ' (wrk not installed)' : ''}`}, ${r.method.connections} connections, ${r.method.durationS} s per scenario after a ${r.method.warmupS} s warm-up, GET ${r.method.path}` +
    (r.method.fixedRate === undefined ? '. ' : `; then ${r.method.fixedRate.durationS} s at a fixed ${r.method.fixedRate.rate.toLocaleString('en-US')} req/s (paced, open loop) for CPU per request. `) +
    (r.method.rounds > 1 ? `${r.method.rounds} interleaved rounds; each row is the median round by req/s, with the req/s range in brackets. ` : '') +
    `Origin: ${r.method.origin}. ` + (r.method.figway === undefined ? '' : `figway: ${r.method.figway}. `) +
    'Load generator, proxy and origin share the same cores; CPU columns are percent of one core.')
  lines.push('')
  lines.push('| Scenario | req/s | p50 ms | p99 ms | p99.9 ms | errors | non-2xx | proxy CPU µs/req at max | proxy peak RSS MiB | origin CPU | load-gen CPU | other CPU |')
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const s of r.scenarios) {
    if (s.status !== 'ok' || s.load === undefined) {
      lines.push(`| ${s.label} | ${s.status}: ${s.reason ?? ''} | | | | | | | | | | |`)
      continue
    }
    const l = s.load
    const range = s.rpsRange !== undefined && (s.rounds?.length ?? 0) > 1 ? ` (${int(s.rpsRange[0])}–${int(s.rpsRange[1])})` : ''
    lines.push(`| ${s.label} | ${int(l.rps)}${range} | ${fmt(l.latencyMs.p50)} | ${fmt(l.latencyMs.p99)} | ${fmt(l.latencyMs.p999)} | ${l.errors} | ${l.non2xx} | ` +
      `${s.proxy === undefined ? '–' : fmt(s.proxy.cpuUsPerRequest, 1)} | ${s.proxy === undefined ? '–' : fmt(s.proxy.peakRssMiB, 1)} | ` +
      `${fmt(s.originCpuPercent ?? 0, 0)} % | ${fmt(s.loadgenCpuPercent ?? 0, 0)} % | ${fmt(s.backgroundCpuPercent ?? 0, 0)} % |`)
  }
  if (r.ratios.length > 0) {
    lines.push('')
    lines.push('| Ratio | req/s | p50 | p99 | proxy CPU per request |')
    lines.push('|---|---:|---:|---:|---:|')
    for (const q of r.ratios) {
      lines.push(`| ${q.name} | ${fmt(q.rps)} | ${fmt(q.p50)} | ${fmt(q.p99)} | ${q.cpuPerRequest === null ? '–' : fmt(q.cpuPerRequest)} |`)
    }
  }
  const notes = r.scenarios.flatMap((s) => s.notes.map((n) => `- ${s.label}: ${n}`))
  if (notes.length > 0) {
    lines.push('')
    lines.push(...notes)
  }
  return lines.join('\n') + '\n'
}
