import t from 'tap'
import { gatewayFile, gatewayIssues, routeIssues } from '../config-tree.ts'

t.test('a route file with three mistakes is refused with three errors, not just the first', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': [
      'backends:',
      '  m:',
      '    url: "http://127.0.0.1:1"',
      '    timeout: soon', // 4: bad duration
      'routes:',
      '  - name: a',
      '    match: { path: /a, methods: [get] }', // 7: lower-case method
      '    to: m',
      '  - name: b',
      '    match: { path: /b }',
      '    to: m',
      '    sticky: { header: x-user-id }',
      '    allowOverride: yes please', // 13: not a boolean
      ''
    ].join('\n')
  })
  t.same(issues.map((i) => [i.file, i.line, i.path]), [
    ['routes/a.yaml', 4, 'backends.m.timeout'],
    ['routes/a.yaml', 7, 'routes[0].match.methods[0]'],
    ['routes/a.yaml', 13, 'routes[1].allowOverride']
  ])
})

t.test('a gateway.yaml with three mistakes is refused with three errors', async (t) => {
  const issues = gatewayIssues(gatewayFile(t, 'listen: { port: 70000 }\nshutdown: { drainDelay: 5 sec }\ndebugHeaders: "yes"\n'))
  t.same(issues.map((i) => [i.line, i.path]), [[1, 'listen.port'], [2, 'shutdown.drainDelay'], [3, 'debugHeaders']])
})

t.test('mistakes in different route files are all reported, with their own file names', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': 'backends:\n  m: { url: "not a url" }\n',
    'routes/b.yaml': 'routes:\n  - name: b\n    match: { path: b }\n    to: m\n',
    'routes/c.yaml': 'routes:\n  - name: c\n    match: { path: /c }\n'
  })
  t.same(issues.map((i) => [i.file, i.line]), [['routes/a.yaml', 2], ['routes/b.yaml', 3], ['routes/c.yaml', 2]])
})
