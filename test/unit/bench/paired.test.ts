/**
 * The benchmark's paired ratios (bench/lib/paired.ts): each ratio is the median over the
 * rounds of that round's pair (not the ratio of two medians), rounds where one side is
 * missing do not count, CPU advantage is the baseline's CPU per request over figway's, and
 * only the scenarios some target pairs are started.
 */
import t from 'tap'
import { median, pairedParticipants, pairedRatios, pairedTable, type PairedRun } from '../../../bench/lib/paired.ts'
import type { Report, ScenarioResult } from '../../../bench/lib/report.ts'
import { targets } from '../../../bench/lib/summary.ts'

const run = (round: number, id: string, rps: number, cpu: number | null = null): PairedRun => ({ round, id, rps, cpuUsPerRequest: cpu })

t.test('median of odd and even counts', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.ok(Number.isNaN(median([])))
})

t.test('each round is paired with itself: a machine that drifts leaves the ratio alone', async (t) => {
  // The machine halves its speed in round 2 and doubles it in round 3: every figure moves,
  // each round's ratio does not.
  const runs = [
    run(1, 'figway', 6000, 150), run(1, 'fastify-proxy', 4000, 240),
    run(2, 'figway', 3000, 300), run(2, 'fastify-proxy', 2000, 480),
    run(3, 'figway', 12000, 75), run(3, 'fastify-proxy', 9000, 110)
  ]
  const [r] = pairedRatios(runs)
  t.equal(r!.name, 'figway ÷ @fastify/http-proxy')
  t.equal(r!.rounds, 3)
  t.equal(r!.rps, 1.5, 'median of 1.5, 1.5, 1.33')
  t.equal(r!.rpsMin, 12000 / 9000)
  t.equal(r!.rpsMax, 1.5)
  t.equal(r!.cpuAdvantage, 1.6, 'median of 240/150, 480/300, 110/75')
  t.equal(r!.target, 1.5)
  // The ratio of the medians would have been 6000 / 4000 here too; a lopsided drift shows the difference.
  const lopsided = pairedRatios([
    run(1, 'figway', 8000), run(1, 'fastify-proxy', 4000),
    run(2, 'figway', 5000), run(2, 'fastify-proxy', 5000),
    run(3, 'figway', 3000), run(3, 'fastify-proxy', 2000)
  ])
  t.equal(lopsided[0]!.rps, 1.5, 'rounds 2.0, 1.0, 1.5 → 1.5, where median ÷ median is 5000 ÷ 4000 = 1.25')
})

t.test('a round missing one side does not count; pairs with no round are left out', async (t) => {
  const ratios = pairedRatios([
    run(1, 'figway', 5000), run(1, 'figway-traced', 4500),
    run(2, 'figway', 5000),
    run(3, 'figway', 4000), run(3, 'figway-traced', 4000)
  ])
  t.same(ratios.map((r) => r.of + '/' + r.to), ['figway-traced/figway'])
  t.equal(ratios[0]!.rounds, 2)
  t.equal(ratios[0]!.rps, 0.95)
  t.equal(ratios[0]!.cpuAdvantage, null, 'no CPU figures, no CPU ratio')
})

t.test('only scenarios that some target pairs are started, in the order given', async (t) => {
  t.same(pairedParticipants(['direct', 'figway', 'figway-grpc', 'nginx', 'fastify-proxy']), ['figway', 'nginx', 'fastify-proxy'])
  t.same(pairedParticipants(['figway-traced', 'fastify-proxy']), [], 'no pair has both sides')
  t.same(pairedParticipants(['figway', 'figway-traced']), ['figway', 'figway-traced'])
})

t.test('the markdown table says whether each target is met', async (t) => {
  const lines = pairedTable(pairedRatios([run(1, 'figway', 3000), run(1, 'nginx', 30000), run(1, 'figway-traced', 2950)]), 1, 3)
  const text = lines.join('\n')
  t.match(text, /figway ÷ nginx proxy \(1 worker\) \| 0\.10× \(0\.10–0\.10\) \| 1 \| – \| ≥ 0\.50×: not met/)
  t.match(text, /figway traced \(sampleRatio 0\.05\) ÷ figway \| 0\.98× .*≥ 0\.90×: met/)
  t.same(pairedTable([], 6, 3), [], 'nothing to show, no table')
})

t.test('the targets table takes a req/s ratio from the paired phase when it ran', async (t) => {
  const scenario = (id: string, rps: number): ScenarioResult => ({ id, label: id, status: 'ok', load: { rps } as ScenarioResult['load'], notes: [] })
  const base = { method: {}, ratios: [], scenarios: [scenario('figway', 6000), scenario('fastify-proxy', 6000), scenario('figway-traced', 3000)] }
  const without = targets(base as unknown as Report)
  t.equal(without.find((x) => x.name.includes('@fastify/http-proxy') && x.name.startsWith('figway'))!.got, '1.00×', 'scenario runs: 6000 ÷ 6000')
  const runs = [run(1, 'figway', 6000), run(1, 'fastify-proxy', 4000), run(1, 'figway-traced', 5700)]
  const withPaired = targets({ ...base, paired: { rounds: 1, durationS: 3, scenarios: [], runs, ratios: pairedRatios(runs) } } as unknown as Report)
  const proxy = withPaired.find((x) => x.name === 'figway ÷ @fastify/http-proxy req/s (paired)')
  t.ok(proxy, 'the pass-through row is marked paired')
  t.equal(proxy!.got, '1.50×')
  t.equal(proxy!.met, true)
  const tracing = withPaired.find((x) => x.name.startsWith('tracing'))!
  t.equal(tracing.name, 'tracing at sampleRatio 0.05 ÷ tracing off, req/s (paired)')
  t.equal(tracing.got, '0.95×', 'the paired 5700 ÷ 6000, not the scenario runs\' 3000 ÷ 6000')
  t.equal(tracing.met, true)
})
