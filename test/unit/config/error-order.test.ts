import t from 'tap'
import { issuesOf, tableOf, writeTree } from '../config-tree.ts'

t.test('errors are listed in reading order, whichever check found them', async (t) => {
  const dir = writeTree(t, {
    'routes/a.yaml': [
      'backends:',
      '  m: { url: "http://127.0.0.1:1" }',
      'routes:',
      '  - { name: first, match: { path: /a }, to: nowhere }',
      '  - { name: second, match: { path: /b }, to: m, timout: 1s }',
      ''
    ].join('\n'),
    'routes/b.yaml': 'routes:\n  - { name: third, match: { path: "/c/**/d" }, to: m }\n'
  })
  const issues = issuesOf(() => tableOf(dir))
  t.same(issues.map((i) => `${i.file}:${i.line}`), ['routes/a.yaml:4', 'routes/a.yaml:5', 'routes/b.yaml:2'])
  t.match(issues[0]!.message, /unknown backend "nowhere"/, 'a cross-file check, before the schema error below it')
  t.match(issues[1]!.message, /unknown option "timout"/)
})
