/**
 * The parts of the benchmark report after the main table: the fixed-rate table (CPU per
 * request at one rate for every proxy), each figway scenario against each baseline, the
 * probes (half-rate p99, 1,000 connections), the issue's targets, and the change since the
 * previous run's JSON.
 */
import { pairedTable } from './paired.ts'
import type { ProbeResult } from './probes.ts'
import type { Report, ScenarioResult } from './report.ts'

/** Scenarios that are not figway: the baselines every figway scenario is compared with. */
export const BASELINES = ['direct', 'nginx', 'fastify-proxy', 'fast-gateway', 'floor'] as const

const fmt = (n: number, digits = 2): string => n.toFixed(digits)
const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const signed = (n: number): string => `${n >= 0 ? '+' : ''}${fmt(n)}`
const pct = (a: number, b: number): string => {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–'
  const d = ((a - b) / b) * 100
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)} %`
}

const ok = (r: Report): Map<string, ScenarioResult> => new Map(r.scenarios.filter((s) => s.status === 'ok').map((s) => [s.id, s]))

export function fixedRateTable (r: Report): string[] {
  const rows = r.scenarios.filter((s) => s.status === 'ok' && s.fixedRate !== undefined)
  if (rows.length === 0) return []
  const rate = rows[0]!.fixedRate!.rate
  const lines = ['', `At a fixed ${int(rate)} req/s (paced open loop, latency from each request's due time; ${r.method.connections} connections, ${r.method.fixedRate?.durationS ?? r.method.durationS} s, after the maximum-rate run):`, '',
    '| Scenario | achieved req/s | p50 ms | p99 ms | p99.9 ms | errors | non-2xx | proxy CPU µs/req |', '|---|---:|---:|---:|---:|---:|---:|---:|']
  for (const s of rows) {
    const f = s.fixedRate!
    const l = f.load
    lines.push(`| ${s.label} | ${int(l.rps)} | ${fmt(l.latencyMs.p50)} | ${fmt(l.latencyMs.p99)} | ${fmt(l.latencyMs.p999)} | ${l.errors + l.timeouts} | ${l.non2xx} | ${f.cpuUsPerRequest === null ? '–' : fmt(f.cpuUsPerRequest, 1)} |`)
  }
  return lines
}

/** req/s at the maximum, and CPU per request at the fixed rate, of each figway scenario ÷ each baseline. */
export function baselineTable (r: Report): string[] {
  const by = ok(r)
  const bases = BASELINES.filter((b) => b !== 'direct' && by.has(b))
  const figways = r.scenarios.filter((s) => s.status === 'ok' && s.id.startsWith('figway'))
  if (bases.length === 0 || figways.length === 0) return []
  const head = ['Scenario', ...bases.map((b) => `req/s ÷ ${by.get(b)!.label}`), ...bases.map((b) => `CPU/req ÷ ${by.get(b)!.label}`)]
  if (by.has('direct')) head.splice(1, 0, 'req/s ÷ direct')
  const lines = ['', 'Against each baseline (req/s at the maximum rate; proxy CPU per request at the fixed rate):', '', `| ${head.join(' | ')} |`, `|---|${head.slice(1).map(() => '---:').join('|')}|`]
  for (const s of figways) {
    const cells = [s.label]
    const rps = (b: ScenarioResult): string => s.load !== undefined && b.load !== undefined && b.load.rps > 0 ? fmt(s.load.rps / b.load.rps) : '–'
    const cpu = (b: ScenarioResult): string => {
      const a = s.fixedRate?.cpuUsPerRequest
      const c = b.fixedRate?.cpuUsPerRequest
      return a != null && c != null && c > 0 ? fmt(a / c) : '–'
    }
    if (by.has('direct')) cells.push(rps(by.get('direct')!))
    for (const b of bases) cells.push(rps(by.get(b)!))
    for (const b of bases) cells.push(cpu(by.get(b)!))
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines
}

export function probesTable (probes: readonly ProbeResult[] | undefined): string[] {
  if (probes === undefined || probes.length === 0) return []
  const lines = ['']
  for (const p of probes) {
    if (p.status !== 'ok') { lines.push(`- ${p.label}: ${p.status}: ${p.reason ?? ''}`); continue }
    if (p.halfRate !== undefined) {
      const h = p.halfRate
      lines.push(`- ${p.label}: at ${int(h.rate)} req/s (half of ${int(h.figwayMaxRps)}), p50/p99/p99.9 direct ${fmt(h.direct.p50)}/${fmt(h.direct.p99)}/${fmt(h.direct.p999)} ms, ` +
        (h.floor === undefined ? '' : `the node:http + undici floor ${fmt(h.floor.p50)}/${fmt(h.floor.p99)}/${fmt(h.floor.p999)} ms (p99 ${signed(h.floorP99AboveDirectMs!)} ms above direct), `) +
        `figway ${fmt(h.figway.p50)}/${fmt(h.figway.p99)}/${fmt(h.figway.p999)} ms: p99 ${signed(h.p99AboveDirectMs)} ms above direct` +
        (h.figway.errors + h.figway.non2xx > 0 ? ` (${h.figway.errors} errors, ${h.figway.non2xx} non-2xx through figway)` : ''))
    }
    if (p.connections !== undefined) {
      const c = p.connections
      lines.push(`- ${p.label}: ${int(c.connections)} connections at ${int(c.rate)} req/s (achieved ${int(c.load.rps)}, p99 ${fmt(c.load.p99)} ms): RSS ${fmt(c.rssMiB, 1)} MiB at the end, peak ${fmt(c.peakRssMiB, 1)} MiB` +
        (c.load.errors + c.load.non2xx > 0 ? ` (${c.load.errors} errors, ${c.load.non2xx} non-2xx)` : ''))
    }
  }
  return lines
}

interface Target {
  readonly name: string
  readonly want: string
  readonly got: string
  readonly met: boolean | null
  /**
   * The same measure for the floor of figway's stack (the node:http + undici proxy, or for
   * transcoding the node:http + grpc-js call, with no features): what no gateway built on
   * these libraries gets past on this machine. Absent where there is no such floor.
   */
  readonly floor?: string
  /** Whether the floor meets the target: false says the target is out of reach here. */
  readonly floorMet?: boolean
}

/** The issue's targets that this run measures; `met` is null when a figure is missing. */
export function targets (r: Report): Target[] {
  const by = ok(r)
  const out: Target[] = []
  // A req/s ratio comes from the paired phase when it ran (far less noisy), else from the
  // scenarios' own runs.
  const pairedRatio = (a: string, b: string): number | undefined => r.paired?.ratios.find((q) => q.of === a && q.to === b)?.rps
  const rpsRatio = (a: string, b: string): number | undefined => {
    const p = pairedRatio(a, b)
    if (p !== undefined) return p
    const x = by.get(a)?.load?.rps
    const y = by.get(b)?.load?.rps
    return x !== undefined && y !== undefined && y > 0 ? x / y : undefined
  }
  const add = (name: string, want: string, v: number | undefined, met: (v: number) => boolean, show: (v: number) => string, floor?: number): void => {
    out.push({
      name,
      want,
      got: v === undefined ? 'not measured' : show(v),
      met: v === undefined ? null : met(v),
      ...(floor === undefined ? {} : { floor: show(floor), floorMet: met(floor) })
    })
  }
  const times = (v: number): string => `${fmt(v)}×`
  const paired = (a: string, b: string): string => pairedRatio(a, b) === undefined ? '' : ' (paired)'
  for (const id of ['figway', 'figway-all']) {
    const label = by.get(id)?.label ?? id
    add(`${label} ÷ nginx req/s${paired(id, 'nginx')}`, '≥ 0.50×', rpsRatio(id, 'nginx'), (v) => v >= 0.5, times, rpsRatio('floor', 'nginx'))
    add(`${label} ÷ @fastify/http-proxy req/s${paired(id, 'fastify-proxy')}`, '≥ 1.50×', rpsRatio(id, 'fastify-proxy'), (v) => v >= 1.5, times, rpsRatio('floor', 'fastify-proxy'))
  }
  const half = r.probes?.find((p) => p.id === 'half-rate')?.halfRate
  add('p99 at half of figway\'s maximum rate, above direct', '≤ 2 ms', half?.p99AboveDirectMs, (v) => v <= 2, (v) => `${fmt(v)} ms`, half?.floorP99AboveDirectMs)
  const cpu = (id: string): number | undefined => by.get(id)?.fixedRate?.cpuUsPerRequest ?? undefined
  const pass = cpu('figway')
  const overPass = (x: number | undefined): number | undefined => x !== undefined && pass !== undefined && pass > 0 ? x / pass : undefined
  add('REST→gRPC transcoding CPU/req ÷ pass-through CPU/req (fixed rate)', '≤ 1.50×', overPass(cpu('figway-grpc')), (v) => v <= 1.5, times, overPass(cpu('grpc-floor')))
  if (by.has('figway-traced') || r.scenarios.some((s) => s.id === 'figway-traced')) {
    add(`tracing at sampleRatio 0.05 ÷ tracing off, req/s${paired('figway-traced', 'figway')}`, '≥ 0.90×', rpsRatio('figway-traced', 'figway'), (v) => v >= 0.9, times)
  }
  const conns = r.probes?.find((p) => p.id === 'connections-1k')?.connections
  add('figway peak RSS with 1,000 keep-alive connections', '≤ 150 MB', conns === undefined ? undefined : conns.peakRssMiB * 1048576 / 1e6, (v) => v <= 150, (v) => `${fmt(v, 1)} MB`)
  return out
}

export function targetsTable (r: Report): string[] {
  const t = targets(r)
  if (t.length === 0) return []
  const lines = ['', 'Issue targets (req/s ratios from the paired phase when it ran, marked "paired"; else from the scenario runs). "Floor" is the same measure for the floor of figway\'s stack (bench/floor-proxy.ts; for transcoding bench/grpc-floor.ts over figway pass-through), no features: where the floor misses a target, no gateway on node:http, undici and grpc-js reaches it on this machine.', '',
    '| Target | wanted | this run | | floor |', '|---|---|---:|---|---:|']
  for (const x of t) {
    const verdict = x.met === null ? '–' : x.met ? 'met' : x.floorMet === false ? 'not met; out of reach (the floor misses it too)' : 'not met'
    lines.push(`| ${x.name} | ${x.want} | ${x.got} | ${verdict} | ${x.floor === undefined ? '–' : `${x.floor}${x.floorMet === true ? '' : ' (misses)'}`} |`)
  }
  return lines
}

/** Change of the headline figures since the previous JSON report, scenario by scenario. */
export function comparisonTable (r: Report, prev: Report | undefined): string[] {
  if (prev === undefined) return []
  const before = ok(prev)
  const rows: string[] = []
  for (const s of r.scenarios) {
    const p = before.get(s.id)
    if (s.status !== 'ok' || s.load === undefined || p?.load === undefined) continue
    const cpuNow = s.fixedRate?.cpuUsPerRequest ?? null
    const cpuThen = p.fixedRate?.cpuUsPerRequest ?? null
    rows.push(`| ${s.label} | ${int(p.load.rps)} → ${int(s.load.rps)} (${pct(s.load.rps, p.load.rps)}) | ${fmt(p.load.latencyMs.p99)} → ${fmt(s.load.latencyMs.p99)} | ` +
      `${cpuNow !== null && cpuThen !== null ? `${fmt(cpuThen, 1)} → ${fmt(cpuNow, 1)} (${pct(cpuNow, cpuThen)})` : '–'} | ` +
      `${s.proxy !== undefined && p.proxy !== undefined ? `${fmt(p.proxy.peakRssMiB, 1)} → ${fmt(s.proxy.peakRssMiB, 1)}` : '–'} |`)
  }
  if (rows.length === 0) return ['', `No scenario in common with the previous run (${prev.date}).`]
  const tools = (x: Report): string => x.method.load?.tool ?? 'autocannon'
  const caveat = tools(prev) !== tools(r) ? ` The previous run loaded with ${tools(prev)}, this one with ${tools(r)}: req/s and latencies are not comparable.` : ''
  return ['', `Change since the previous run (${prev.date}, ${prev.method.durationS} s per scenario).${caveat}`, '',
    '| Scenario | req/s | p99 ms | proxy CPU µs/req at the fixed rate | proxy peak RSS MiB |', '|---|---:|---:|---:|---:|', ...rows]
}

export function extras (r: Report, prev: Report | undefined): string {
  const paired = r.paired === undefined ? [] : pairedTable(r.paired.ratios, r.paired.rounds, r.paired.durationS)
  const lines = [...fixedRateTable(r), ...baselineTable(r), ...paired, ...probesTable(r.probes), ...targetsTable(r), ...comparisonTable(r, prev)]
  return lines.length === 0 ? '' : lines.join('\n') + '\n'
}
