import t from 'tap'
import { formatIssue } from '../../../src/errors.ts'
import { gatewayFile, gatewayIssues, routeIssues } from '../config-tree.ts'

t.test('a misspelt key in a backend is an error naming the file, its line and the key', async (t) => {
  const issues = routeIssues(t, {
    'routes/orders.yaml': [
      'backends:',
      '  orders:',
      '    url: "http://127.0.0.1:1"',
      '    timout: 3s',
      'routes:',
      '  - name: orders',
      '    match: { path: /api/orders/** }',
      '    to: orders',
      ''
    ].join('\n')
  })
  t.equal(issues.length, 1)
  t.match(issues[0], { file: 'routes/orders.yaml', line: 4, path: /^backends\.orders\b/, message: /"timout"/ })
  t.match(formatIssue(issues[0]!), /^routes\/orders\.yaml:4:\d+: backends\.orders.*timout/)
})

t.test('a misspelt key in a route’s match block is reported at its line', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': [
      'backends:',
      '  m: { url: "http://127.0.0.1:1" }',
      'routes:',
      '  - name: a',
      '    match:',
      '      path: /a',
      '      method: [GET]',
      '    to: m',
      ''
    ].join('\n')
  })
  t.equal(issues.length, 1)
  t.match(issues[0], { file: 'routes/a.yaml', line: 7, path: /^routes\[0\]\.match\b/, message: /"method"/ })
})

t.test('two unknown keys in one block are two errors, each at its own line', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': 'backends:\n  m:\n    url: "http://127.0.0.1:1"\n    timout: 1s\n    retries: 2\n'
  })
  t.same(issues.map((i) => [i.line, i.message.match(/"(\w+)"/)?.[1]]), [[4, 'timout'], [5, 'retries']])
})

t.test('an unknown top-level key in gateway.yaml is an error naming it', async (t) => {
  const file = gatewayFile(t, 'listen: { port: 0 }\nlisten_port: 8080\n')
  const issues = gatewayIssues(file)
  t.equal(issues.length, 1)
  t.match(issues[0], { file, line: 2, message: /"listen_port"/ })
})
