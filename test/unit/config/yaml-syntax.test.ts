import t from 'tap'
import { gatewayFile, gatewayIssues, routeIssues } from '../config-tree.ts'

t.test('a YAML syntax error in a route file names the file and the line', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': [
      'backends:',
      '  m: { url: "http://127.0.0.1:1" }',
      'routes:',
      '  - name: a',
      '    match: { path: /a',
      '    to: m',
      ''
    ].join('\n')
  })
  t.ok(issues.length >= 1)
  t.equal(issues[0]!.file, 'routes/a.yaml')
  t.ok(issues[0]!.line >= 5 && issues[0]!.line <= 7, `line ${issues[0]!.line} is at or just after the unclosed flow map`)
})

t.test('a tab-indented gateway.yaml names the file and the offending line', async (t) => {
  const file = gatewayFile(t, 'listen:\n  port: 0\nops:\n\ttoken: x\n')
  const issues = gatewayIssues(file)
  t.equal(issues[0]!.file, file)
  t.equal(issues[0]!.line, 4)
})

t.test('a key written twice in one map is an error at the second one', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': 'backends:\n  m: { url: "http://127.0.0.1:1" }\n  m: { url: "http://127.0.0.1:2" }\n'
  })
  t.equal(issues.length, 1)
  t.match(issues[0], { file: 'routes/a.yaml', line: 3 })
})

t.test('a syntax error in one route file does not hide errors in another', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': 'routes: [\n',
    'routes/b.yaml': 'backends:\n  m: { url: "http://127.0.0.1:1", timout: 1s }\n'
  })
  t.same([...new Set(issues.map((i) => i.file))].sort(), ['routes/a.yaml', 'routes/b.yaml'])
})
