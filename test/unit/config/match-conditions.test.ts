import t from 'tap'
import { gatewayFile, gatewayIssues, routeIssues, tableOf, writeTree } from '../config-tree.ts'
import { matchRoute } from '../../../src/routing/select.ts'
import { pathSegments } from '../../../src/routing/pattern.ts'
import { loadGatewayConfig } from '../../../src/config/load.ts'

const backends = 'backends:\n  a: { url: "http://127.0.0.1:1" }\n  b: { url: "http://127.0.0.1:2" }\n'

t.test('an exact host beats a wildcard host on the same path without a priority', async (t) => {
  const dir = writeTree(t, {
    'routes/r.yaml': backends + 'routes:\n  - { name: wild, match: { path: /**, host: "*.example.com" }, to: a }\n  - { name: shop, match: { path: /**, host: shop.example.com }, to: b }\n'
  })
  const table = tableOf(dir)
  t.equal(matchRoute(table, 'GET', { host: 'shop.example.com' }, pathSegments('/x'))?.name, 'shop')
  t.equal(matchRoute(table, 'GET', { host: 'api.example.com' }, pathSegments('/x'))?.name, 'wild')
})

t.test('a route that lists GET also serves HEAD', async (t) => {
  const dir = writeTree(t, {
    'routes/r.yaml': backends + 'routes:\n  - { name: read, match: { path: /orders, methods: [GET] }, to: a }\n  - { name: rest, match: { path: /** }, to: b }\n'
  })
  const table = tableOf(dir)
  t.equal(matchRoute(table, 'HEAD', {}, pathSegments('/orders'))?.name, 'read')
  t.equal(matchRoute(table, 'POST', {}, pathSegments('/orders'))?.name, 'rest')
})

t.test('GET on one route and HEAD on another, same path, is an ambiguity', async (t) => {
  const issues = routeIssues(t, {
    'routes/r.yaml': backends + 'routes:\n  - { name: get, match: { path: /o, methods: [GET] }, to: a }\n  - { name: head, match: { path: /o, methods: [HEAD] }, to: b }\n'
  })
  t.match(issues[0]!.message, /matches the same requests/)
})

t.test('a host written with a port is refused, naming file and line', async (t) => {
  const issues = routeIssues(t, {
    'routes/r.yaml': backends + 'routes:\n  - name: h\n    match: { path: /**, host: "shop.example.com:8443" }\n    to: a\n'
  })
  t.equal(issues.length, 1)
  t.match(issues[0], { file: 'routes/r.yaml', line: 6, message: /without the port/ })
})

t.test('a duration written as a bare number is refused; 0 is allowed', async (t) => {
  const issues = gatewayIssues(gatewayFile(t, 'defaults:\n  timeout: 5\n'))
  t.match(issues[0], { line: 2, path: 'defaults.timeout', message: /invalid duration 5/ })
  t.equal(loadGatewayConfig(gatewayFile(t, 'defaults:\n  timeout: 0\n'), {}).defaults.timeoutMs, 0)
})

t.test('connectTimeout and maxInFlight on a route are refused: they belong to the backend', async (t) => {
  const issues = routeIssues(t, {
    'routes/r.yaml': backends + 'routes:\n  - name: h\n    match: { path: /** }\n    to: a\n    connectTimeout: 1s\n    maxInFlight: 5\n'
  })
  t.same(issues.map((i) => [i.line, i.path]), [[8, 'h.connectTimeout'], [9, 'h.maxInFlight']])
  t.match(issues[0]!.message, /backend setting/)
})
