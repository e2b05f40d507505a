/**
 * /metrics passes `promtool check metrics` (Prometheus's own linter), when promtool is
 * installed (Debian package `prometheus`; .ci/run installs it).
 */
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { metricsText, req, startGateway } from '../helpers/gateway.ts'
import { startOrigin } from '../helpers/origin.ts'

const promtool = spawnSync('promtool', ['--version']).status === 0

t.test('/metrics after real traffic passes promtool check metrics', { skip: promtool ? false : 'promtool is not installed' }, async (t) => {
  const o = await startOrigin(t)
  const g = await startGateway(t, {
    'r.yaml': `backends:\n  o: { url: "${o.url}" }\nroutes:\n  - { name: all, match: { path: /** }, to: o }\n`
  }, '', { defaultMetrics: true })
  for (let i = 0; i < 5; i++) await req(`${g.url}/x/${i}`)
  await req(`${g.url}/a%2Fb`)
  const text = await metricsText(g)
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  t.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`)
  t.match(text, /^figway_requests_total\{/m)
})
