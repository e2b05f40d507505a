/**
 * The benchmark's targets table (bench/lib/summary.ts) sets each figway figure beside the
 * same measure for the floor of figway's stack: the node:http + undici proxy for req/s and
 * half-rate p99, the node:http + grpc-js call for transcoding. A target the floor misses too
 * is reported as out of reach, not merely not met.
 */
import t from 'tap'
import { pairedRatios, type PairedRun } from '../../../bench/lib/paired.ts'
import type { Report, ScenarioResult } from '../../../bench/lib/report.ts'
import { targets, targetsTable } from '../../../bench/lib/summary.ts'

const run = (round: number, id: string, rps: number): PairedRun => ({ round, id, rps, cpuUsPerRequest: null })
const scenario = (id: string, rps: number, fixedCpu?: number): ScenarioResult => ({
  id,
  label: id,
  status: 'ok',
  load: { rps } as ScenarioResult['load'],
  ...(fixedCpu === undefined ? {} : { fixedRate: { cpuUsPerRequest: fixedCpu } as ScenarioResult['fixedRate'] }),
  notes: []
})
const lat = (p99: number) => ({ rps: 3000, p50: 1, p99, p999: p99 * 2, errors: 0, non2xx: 0 })

const report = (): Report => {
  const runs = [
    run(1, 'figway', 6000), run(1, 'floor', 9000), run(1, 'fastify-proxy', 4000), run(1, 'nginx', 30000), run(1, 'figway-all', 4400),
    run(2, 'figway', 5000), run(2, 'floor', 7600), run(2, 'fastify-proxy', 3500), run(2, 'nginx', 27000), run(2, 'figway-all', 3800)
  ]
  return {
    method: {},
    ratios: [],
    scenarios: [scenario('figway', 6000, 250), scenario('floor', 9000, 200), scenario('fastify-proxy', 4000, 300), scenario('nginx', 30000),
      scenario('figway-all', 4400, 300), scenario('grpc-floor', 2500, 420), scenario('figway-grpc', 2000, 500)],
    paired: { rounds: 2, durationS: 3, scenarios: [], runs, ratios: pairedRatios(runs) },
    probes: [{ id: 'half-rate', label: 'half', status: 'ok', halfRate: { rate: 3000, figwayMaxRps: 6000, direct: lat(3), figway: lat(12), p99AboveDirectMs: 9, floor: lat(8), floorP99AboveDirectMs: 5 } }]
  } as unknown as Report
}

t.test('each target shows the floor of the stack on the same measure', async (t) => {
  const all = targets(report())
  const find = (start: string): ReturnType<typeof targets>[number] => all.find((x) => x.name.startsWith(start))!
  // floor ÷ nginx: 9000/30000 = 0.30, 7600/27000 = 0.28: median 0.29; the target is 0.5.
  const nginx = find('figway ÷ nginx')
  t.equal(nginx.floor, '0.29×')
  t.equal(nginx.floorMet, false, 'the floor misses 0.5× nginx: out of reach')
  // floor ÷ http-proxy: 2.25 and 2.17: median 2.21, which meets 1.5×; figway's 1.46 does not.
  const proxy = find('figway ÷ @fastify/http-proxy')
  t.equal(proxy.got, '1.46×')
  t.equal(proxy.met, false)
  t.equal(proxy.floor, '2.21×')
  t.equal(proxy.floorMet, true, 'reachable: the floor gets there')
  t.equal(find('figway-all ÷ @fastify/http-proxy').floor, '2.21×', 'all features is held to the same floor')
  const half = find('p99 at half')
  t.equal(half.got, '9.00 ms')
  t.equal(half.floor, '5.00 ms')
  t.equal(half.floorMet, false)
  // Transcoding: figway-grpc 500 ÷ figway 250 = 2.00; the grpc-js call alone 420 ÷ 250 = 1.68.
  const grpc = find('REST→gRPC')
  t.equal(grpc.got, '2.00×')
  t.equal(grpc.floor, '1.68×')
  t.equal(grpc.floorMet, false)
  t.equal(find('figway peak RSS').floor, undefined, 'no floor where the stack has none to offer')
})

t.test('the table says which misses are out of reach', async (t) => {
  const text = targetsTable(report()).join('\n')
  t.match(text, /figway ÷ nginx req\/s \(paired\) \| ≥ 0\.50× \| 0\.19× \| not met; out of reach \(the floor misses it too\) \| 0\.29× \(misses\) \|/)
  t.match(text, /figway ÷ @fastify\/http-proxy req\/s \(paired\) \| ≥ 1\.50× \| 1\.46× \| not met \| 2\.21× \|/)
  t.match(text, /REST→gRPC .* \| 2\.00× \| not met; out of reach \(the floor misses it too\) \| 1\.68× \(misses\) \|/)
})

t.test('without the floors in the run the table has no floor figures', async (t) => {
  const r = report()
  const bare = { ...r, paired: undefined, probes: [], scenarios: r.scenarios.filter((s) => s.id !== 'floor' && s.id !== 'grpc-floor') } as unknown as Report
  for (const x of targets(bare)) t.equal(x.floor, undefined, x.name)
})
