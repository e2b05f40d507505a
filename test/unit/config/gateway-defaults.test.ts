import { join } from 'node:path'
import t from 'tap'
import { loadGatewayConfig } from '../../../src/config/load.ts'
import { gatewayFile, tableOf, writeTree } from '../config-tree.ts'

t.test('an empty gateway.yaml gets every default of the contract', async (t) => {
  const dir = writeTree(t, { 'config/gateway.yaml': '' })
  const c = loadGatewayConfig(join(dir, 'config/gateway.yaml'), {})
  t.same(c.listen, { host: '0.0.0.0', port: 8080 })
  t.same(c.ops, { host: '0.0.0.0', port: 9901, token: '' })
  t.equal(c.routesDir, join(dir, 'routes'), 'routes defaults to ../routes, relative to the config file')
  t.equal(c.trustedProxies, 1)
  t.same(c.limits, { headerBytes: 32768, bodyBytes: 1048576, headersTimeout: 15_000, requestTimeout: 120_000 })
  t.same(c.shutdown, { drainDelay: 5_000, timeout: 30_000 })
  t.same(c.defaults, {
    timeoutMs: 15_000,
    perTryTimeoutMs: 5_000,
    connectTimeoutMs: 2_000,
    retry: { attempts: 3, baseMs: 25, maxMs: 250, budgetRatio: 0.2, budgetMinPerSecond: 10 },
    breaker: { errorRate: 0.5, minRequests: 20, windowMs: 10_000, openForMs: 30_000, consecutiveFailures: 5 },
    maxInFlight: 1024
  })
  t.same(c.telemetry, { serviceName: 'figway', logLevel: 'info', tracing: { exporter: 'otlp', endpoint: '', sampleRatio: 0.05 } })
  t.same(c.redis, { url: '', keyPrefix: 'figway:' })
  t.equal(c.debugHeaders, false)
})

t.test('a partly written block keeps the defaults of the keys it leaves out', async (t) => {
  const file = gatewayFile(t, [
    'listen: { port: 9000 }',
    'limits: { bodyBytes: 10 }',
    'defaults:',
    '  timeout: 3s',
    '  retry: { attempts: 5 }',
    ''
  ].join('\n'))
  const c = loadGatewayConfig(file, {})
  t.same(c.listen, { host: '0.0.0.0', port: 9000 })
  t.same(c.limits, { headerBytes: 32768, bodyBytes: 10, headersTimeout: 15_000, requestTimeout: 120_000 })
  t.equal(c.defaults.timeoutMs, 3_000)
  t.equal(c.defaults.perTryTimeoutMs, 5_000)
  t.same(c.defaults.retry, { attempts: 5, baseMs: 25, maxMs: 250, budgetRatio: 0.2, budgetMinPerSecond: 10 })
})

t.test('the routes folder is resolved relative to the config file, not the working directory', async (t) => {
  const dir = writeTree(t, { 'etc/figway/gateway.yaml': 'routes: ./strangler-map\n' })
  const c = loadGatewayConfig(join(dir, 'etc/figway/gateway.yaml'), {})
  t.equal(c.routesDir, join(dir, 'etc/figway/strangler-map'))
})

t.test('a route gets gateway defaults, then its backend’s settings, then its own', async (t) => {
  const dir = writeTree(t, {
    'routes/a.yaml': [
      'backends:',
      '  plain: { url: "http://127.0.0.1:1" }',
      '  slow:  { url: "http://127.0.0.1:2", timeout: 30s, connectTimeout: 100ms }',
      'routes:',
      '  - name: a',
      '    match: { path: /a }',
      '    split: { plain: 1, slow: 1 }',
      '    perTryTimeout: 1s',
      '  - name: b',
      '    match: { path: /b }',
      '    to: slow',
      ''
    ].join('\n')
  })
  const table = tableOf(dir)
  const a = table.routeByName.get('a')!
  t.same([a.policyFor.get('plain')!.timeoutMs, a.policyFor.get('plain')!.perTryTimeoutMs, a.policyFor.get('plain')!.connectTimeoutMs], [15_000, 1_000, 2_000])
  t.same([a.policyFor.get('slow')!.timeoutMs, a.policyFor.get('slow')!.perTryTimeoutMs, a.policyFor.get('slow')!.connectTimeoutMs], [30_000, 1_000, 100])
  const b = table.routeByName.get('b')!
  t.same([b.policyFor.get('slow')!.timeoutMs, b.policyFor.get('slow')!.perTryTimeoutMs], [30_000, 5_000])
  t.equal(b.methods, null, 'no methods means any method')
  t.equal(b.allowOverride, false)
  t.equal(b.sticky, null)
})
