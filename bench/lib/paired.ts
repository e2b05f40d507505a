/**
 * Paired ratios: the figures the issue's targets compare (figway ÷ a baseline, tracing on ÷
 * off), measured with every process involved running at once and the closed-loop load moving
 * from one to the next in short runs. On a shared 2-core VM a proxy's throughput drifts by
 * ±30 % over tens of seconds (the same binary, minutes apart); runs of two proxies a few
 * seconds apart see the same machine, so the ratio of each round's pair moves far less than
 * either figure. Two processes of the same build also differ, by up to 15 % for their whole
 * life, so every round starts fresh processes. Each ratio is the median over the rounds of
 * that round's pair, with the lowest and highest round beside it.
 */

/** One short run of one process in one round. */
export interface PairedRun {
  readonly round: number
  readonly id: string
  readonly rps: number
  /** The proxy's CPU (its process tree) per request during the run; null for direct. */
  readonly cpuUsPerRequest: number | null
}

export interface PairedRatio {
  readonly name: string
  readonly of: string
  readonly to: string
  /** Median over the rounds of (req/s of `of`) ÷ (req/s of `to`) in the same round. */
  readonly rps: number
  readonly rpsMin: number
  readonly rpsMax: number
  /** Median over the rounds of `to`'s CPU per request ÷ `of`'s: above 1, `of` costs less. */
  readonly cpuAdvantage: number | null
  readonly rounds: number
  /** The issue's target for this ratio, when it has one. */
  readonly target?: number
}

/** The ratios, in the order shown: [name, of, to, target]. */
export const PAIRS: ReadonlyArray<readonly [string, string, string, number | undefined]> = [
  ['figway ÷ @fastify/http-proxy', 'figway', 'fastify-proxy', 1.5],
  ['figway ÷ nginx proxy (1 worker)', 'figway', 'nginx', 0.5],
  ['figway all features ÷ @fastify/http-proxy', 'figway-all', 'fastify-proxy', 1.5],
  ['figway all features ÷ nginx proxy (1 worker)', 'figway-all', 'nginx', 0.5],
  ['figway traced (sampleRatio 0.05) ÷ figway', 'figway-traced', 'figway', 0.9],
  ['figway ÷ node:http + undici floor', 'figway', 'floor', undefined],
  // The floor of figway's stack against the baselines: how far any gateway on it can get.
  ['node:http + undici floor ÷ @fastify/http-proxy', 'floor', 'fastify-proxy', undefined],
  ['node:http + undici floor ÷ nginx proxy (1 worker)', 'floor', 'nginx', undefined],
  ['figway all features ÷ figway', 'figway-all', 'figway', undefined],
  // What each feature of "all features" costs on its own.
  ['figway access log (info) ÷ figway (warn)', 'figway-info', 'figway', undefined],
  ['figway sticky split ÷ figway', 'figway-sticky', 'figway', undefined]
]

/** The scenarios the paired phase runs, out of those selected (in the order given). */
export function pairedParticipants (selected: readonly string[]): string[] {
  const out = new Set<string>()
  for (const [, of, to] of PAIRS) {
    if (selected.includes(of) && selected.includes(to)) { out.add(of); out.add(to) }
  }
  return selected.filter((id) => out.has(id))
}

export function median (xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Each pair's median ratio over the rounds in which both sides ran. */
export function pairedRatios (runs: readonly PairedRun[]): PairedRatio[] {
  const at = new Map<string, PairedRun>()
  const rounds = new Set<number>()
  for (const r of runs) { at.set(`${r.round}\n${r.id}`, r); rounds.add(r.round) }
  const out: PairedRatio[] = []
  for (const [name, of, to, target] of PAIRS) {
    const rps: number[] = []
    const cpu: number[] = []
    for (const round of rounds) {
      const a = at.get(`${round}\n${of}`)
      const b = at.get(`${round}\n${to}`)
      if (a === undefined || b === undefined || b.rps <= 0) continue
      rps.push(a.rps / b.rps)
      if (a.cpuUsPerRequest !== null && b.cpuUsPerRequest !== null && a.cpuUsPerRequest > 0) cpu.push(b.cpuUsPerRequest / a.cpuUsPerRequest)
    }
    if (rps.length === 0) continue
    out.push({
      name,
      of,
      to,
      rps: median(rps),
      rpsMin: Math.min(...rps),
      rpsMax: Math.max(...rps),
      cpuAdvantage: cpu.length === 0 ? null : median(cpu),
      rounds: rps.length,
      ...(target === undefined ? {} : { target })
    })
  }
  return out
}

const fmt = (n: number): string => n.toFixed(2)

export function pairedTable (ratios: readonly PairedRatio[], rounds: number, durationS: number): string[] {
  if (ratios.length === 0) return []
  const lines = ['', `Paired ratios (every process running; ${rounds} rounds of ${durationS} s closed-loop runs, one process after the other; median of the rounds' ratios, lowest–highest round in brackets):`, '',
    '| Ratio | req/s | rounds | baseline CPU/req ÷ figway CPU/req (at max) | target |', '|---|---:|---:|---:|---|']
  for (const r of ratios) {
    const target = r.target === undefined ? '' : `≥ ${fmt(r.target)}×: ${r.rps >= r.target ? 'met' : 'not met'}`
    lines.push(`| ${r.name} | ${fmt(r.rps)}× (${fmt(r.rpsMin)}–${fmt(r.rpsMax)}) | ${r.rounds} | ${r.cpuAdvantage === null ? '–' : `${fmt(r.cpuAdvantage)}×`} | ${target} |`)
  }
  return lines
}
