import t from 'tap'
import { loadGatewayConfig } from '../../../src/config/load.ts'
import { expandEnv } from '../../../src/config/env.ts'
import { gatewayFile, gatewayIssues, issuesOf, tableOf, writeTree } from '../config-tree.ts'

const GATEWAY = [
  'listen: { host: "${LISTEN_HOST:-127.0.0.1}", port: 0 }',
  'ops:',
  '  token: "${ADMIN_TOKEN}"',
  'redis: { url: "redis://${REDIS_HOST:-localhost}:6379/0" }',
  ''
].join('\n')

t.test('${VAR} takes the value from the environment', async (t) => {
  const c = loadGatewayConfig(gatewayFile(t, GATEWAY), { ADMIN_TOKEN: 's3cret', LISTEN_HOST: '10.0.0.1', REDIS_HOST: 'cache' })
  t.equal(c.ops.token, 's3cret')
  t.equal(c.listen.host, '10.0.0.1')
  t.equal(c.redis.url, 'redis://cache:6379/0', 'a reference inside a longer string is replaced in place')
})

t.test('${VAR:-default} uses the default when the variable is unset or empty', async (t) => {
  const file = gatewayFile(t, GATEWAY)
  const unset = loadGatewayConfig(file, { ADMIN_TOKEN: 'x' })
  t.equal(unset.listen.host, '127.0.0.1')
  t.equal(unset.redis.url, 'redis://localhost:6379/0')
  const empty = loadGatewayConfig(file, { ADMIN_TOKEN: 'x', LISTEN_HOST: '' })
  t.equal(empty.listen.host, '127.0.0.1')
})

t.test('${VAR:-} is an explicit empty default', async (t) => {
  t.equal(loadGatewayConfig(gatewayFile(t, 'ops: { token: "${FIGWAY_ADMIN_TOKEN:-}" }\n'), {}).ops.token, '')
})

t.test('an unset ${VAR} without a default is an error naming the file, the line and the variable', async (t) => {
  const file = gatewayFile(t, GATEWAY)
  const issues = gatewayIssues(file)
  t.equal(issues.length, 1)
  t.equal(issues[0]!.file, file)
  t.equal(issues[0]!.line, 3)
  t.match(issues[0]!.message, /ADMIN_TOKEN/)
})

t.test('every unset variable is reported, each at its own line', async (t) => {
  const issues = gatewayIssues(gatewayFile(t, 'ops: { token: "${A_TOKEN}" }\nredis:\n  url: "${REDIS_URL}"\n'))
  t.same(issues.map((i) => [i.line, /A_TOKEN/.test(i.message) ? 'A_TOKEN' : /REDIS_URL/.test(i.message) ? 'REDIS_URL' : i.message]), [[1, 'A_TOKEN'], [3, 'REDIS_URL']])
})

t.test('route files expand variables too', async (t) => {
  const dir = writeTree(t, {
    'routes/a.yaml': 'backends:\n  m: { url: "http://${MONOLITH_HOST:-127.0.0.1}:${MONOLITH_PORT}" }\nroutes:\n  - name: all\n    match: { path: /** }\n    to: m\n'
  })
  t.equal(tableOf(dir, { MONOLITH_PORT: '8081' }).backends.get('m')!.origin, 'http://127.0.0.1:8081')
  const issues = issuesOf(() => tableOf(dir, {}))
  t.match(issues, [{ file: 'routes/a.yaml', line: 2, message: /MONOLITH_PORT/ }])
})

t.test('text without a ${...} reference, or with a malformed one, is left alone', async (t) => {
  const missing: string[] = []
  t.equal(expandEnv('plain $HOME and ${not valid}', { HOME: '/root' }, (n) => missing.push(n)), 'plain $HOME and ${not valid}')
  t.same(missing, [])
})
