import t from 'tap'
import { parseDuration } from '../../../src/config/duration.ts'
import { loadGatewayConfig } from '../../../src/config/load.ts'
import { gatewayFile, gatewayIssues, routeIssues } from '../config-tree.ts'

t.test('durations are written with ms, s, m or h, with decimals allowed', async (t) => {
  t.equal(parseDuration('250ms'), 250)
  t.equal(parseDuration('5s'), 5_000)
  t.equal(parseDuration('5m'), 300_000)
  t.equal(parseDuration('1.5s'), 1_500)
  t.equal(parseDuration('1h'), 3_600_000)
  t.equal(parseDuration('0s'), 0)
  t.equal(parseDuration(40), 40, 'a bare YAML number is milliseconds')
})

t.test('anything else is not a duration', async (t) => {
  for (const bad of ['5 sec', '5', 's', '-1s', '5sec', '1.s', '.5s', '5S', '', '1e3ms']) {
    t.equal(parseDuration(bad), undefined, JSON.stringify(bad))
  }
  t.equal(parseDuration(-5), undefined)
  t.equal(parseDuration(Number.NaN), undefined)
})

t.test('durations in gateway.yaml are read as milliseconds', async (t) => {
  const c = loadGatewayConfig(gatewayFile(t, 'defaults:\n  timeout: 5m\n  perTryTimeout: 1.5s\n  connectTimeout: 250ms\n  retry: { backoff: { base: 10ms, max: 5s } }\n'), {})
  t.same([c.defaults.timeoutMs, c.defaults.perTryTimeoutMs, c.defaults.connectTimeoutMs, c.defaults.retry.baseMs, c.defaults.retry.maxMs], [300_000, 1_500, 250, 10, 5_000])
})

t.test('a bad duration in gateway.yaml is an error naming file, line and option path', async (t) => {
  const file = gatewayFile(t, 'listen: { port: 0 }\ndefaults:\n  timeout: 5 sec\n')
  const issues = gatewayIssues(file)
  t.equal(issues.length, 1)
  t.match(issues[0], { file, line: 3, path: 'defaults.timeout', message: /5 sec/ })
})

t.test('a bad duration in a route file is an error naming file, line and option path', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': [
      'backends:',
      '  m:',
      '    url: "http://127.0.0.1:1"',
      '    perTryTimeout: 2 seconds',
      'routes:',
      '  - name: all',
      '    match: { path: /** }',
      '    to: m',
      ''
    ].join('\n')
  })
  t.equal(issues.length, 1)
  t.match(issues[0], { file: 'routes/a.yaml', line: 4, path: 'backends.m.perTryTimeout', message: /2 seconds/ })
})
