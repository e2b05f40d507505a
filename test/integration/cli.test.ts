import t from 'tap'
import { join, relative } from 'node:path'
import { echo, startOrigin } from '../helpers/origin.ts'
import { adminHeaders, req, sleep, startGateway } from '../helpers/gateway.ts'
import { REPO_ROOT, runCli, writeConfigTree } from '../helpers/process.ts'
import { monolithFile } from '../helpers/routes.ts'

const GATEWAY_YAML = 'listen: { host: 127.0.0.1, port: 0 }\nops: { host: 127.0.0.1, port: 0, token: t }\nroutes: ../routes\ntelemetry: { tracing: { exporter: none } }\n'

const ordersFile = (url: string): string => [
  'backends:',
  `  orders-new: { url: "${url}" }`,
  'routes:',
  '  - name: orders-read',
  '    match: { path: /api/orders/:id, methods: [GET] }',
  '    split: { orders-new: 25, monolith: 75 }',
  '    sticky: { header: x-user-id }',
  ''
].join('\n')

/** One route file with four mistakes, each on a known line. */
const BROKEN = [
  'backends:',
  '  orders-new: { url: "http://127.0.0.1:9", timeout: 3x }', //              2: bad duration
  'routes:',
  '  - name: orders-read',
  '    match: { path: /api/orders/** }',
  '    to: order-service', //                                                  6: unknown backend
  '  - name: orders-write',
  '    match: { path: /api/orders, methods: [POST] }',
  '    to: orders-new',
  '    retires: 3', //                                                        10: unknown option
  '  - name: payments',
  '    match: { path: /api/payments/** }',
  '    to: orders-new',
  '  - name: payments-again', //                                              14: overlaps "payments"
  '    match: { path: /api/payments/** }',
  '    to: orders-new',
  ''
].join('\n')
const BROKEN_LINES = [2, 6, 10, 14]

t.test('validate prints ok and exits 0 for a good config', async (t) => {
  const tree = writeConfigTree(t, { 'monolith.yaml': monolithFile('http://127.0.0.1:9'), 'orders.yaml': ordersFile('http://127.0.0.1:8') }, GATEWAY_YAML)
  const [r, byDefault] = await Promise.all([runCli(['validate', '--config', tree.configFile]), runCli(['validate'], { cwd: tree.dir })])
  t.equal(r.code, 0)
  t.equal(r.stdout, 'ok: 2 routes, 2 backends from 2 files\n')
  t.equal(r.stderr, '')

  t.equal(byDefault.code, 0, '--config defaults to config/gateway.yaml')
  t.match(byDefault.stdout, /^ok: 2 routes/)
})

t.test('validate prints every error of a broken route file with file and line, and exits 1', async (t) => {
  const tree = writeConfigTree(t, { 'monolith.yaml': monolithFile('http://127.0.0.1:9'), 'orders.yaml': BROKEN }, GATEWAY_YAML)
  const [r, missing] = await Promise.all([
    runCli(['validate', '--config', tree.configFile], { cwd: tree.dir }),
    runCli(['validate', '--config', join(tree.dir, 'nope.yaml')])
  ])
  t.equal(r.code, 1)
  t.equal(r.stdout, '', 'no "ok"')
  const lines = r.stderr.trimEnd().split('\n')
  t.equal(lines.at(-1), `${BROKEN_LINES.length} errors`, 'a count closes the list')
  const located = lines.slice(0, -1).map((l) => /^routes\/orders\.yaml:(\d+):\d+: /.exec(l)?.[1]).map(Number).sort((a, b) => a - b)
  t.same(located, BROKEN_LINES, `one error per mistake, each with file:line:\n${r.stderr}`)
  t.match(r.stderr, /invalid duration "3x"/)
  t.match(r.stderr, /unknown backend "order-service"/)
  t.match(r.stderr, /unknown option "retires"/)
  t.match(r.stderr, /"payments-again" matches the same requests as "payments"/)

  t.equal(missing.code, 1, 'a missing config file is an error too')
  t.match(missing.stderr, /nope\.yaml:1:1: cannot read file/)
})

t.test('a running gateway refuses the same broken file with the same errors and keeps its table', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) }, '', { watch: true, watchPollMs: 60_000 })
  g.writeRoutes('orders.yaml', BROKEN)
  // Run from the test's own folder so both name the file the same way.
  const cli = await runCli(['validate', '--config', join(g.dir, 'config', 'gateway.yaml')], { cwd: process.cwd() })
  t.equal(cli.code, 1)
  let table = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
  for (let i = 0; table.lastReloadError === null && i < 80; i++) {
    await sleep(25)
    table = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
  }
  t.ok(table.lastReloadError, 'the watcher tried the file and refused it')
  t.same([...table.lastReloadError.errors].sort(), cli.stderr.trimEnd().split('\n').slice(0, -1).sort(), 'the gateway reports what validate printed')
  t.same(table.routes.map((r: { name: string }) => r.name), ['monolith'], 'the old table is still live')
  t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'monolith', 'and serving')
})

t.test('serve refuses to start on a broken route table: it prints each error with file and line and exits 1', async (t) => {
  const tree = writeConfigTree(t, { 'monolith.yaml': monolithFile('http://127.0.0.1:9'), 'orders.yaml': BROKEN }, GATEWAY_YAML)
  const r = await runCli(['serve', '--config', tree.configFile], { cwd: tree.dir })
  t.equal(r.code, 1)
  const located = r.stderr.trimEnd().split('\n').slice(0, -1).map((l) => /^routes\/orders\.yaml:(\d+):\d+: /.exec(l)?.[1]).map(Number).sort((a, b) => a - b)
  t.same(located, BROKEN_LINES, r.stderr)
  const log = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number, msg: string, errors?: string[] }).find((l) => l.level === 50)
  t.ok(log, 'the refusal is logged too')
  t.equal(log?.errors?.length, BROKEN_LINES.length)
  t.notMatch(log?.msg ?? '', /previous table/, 'without claiming that a previous table keeps serving: there is none')
})

t.test('routes prints the effective table, most specific first, with each route\'s source', async (t) => {
  const tree = writeConfigTree(t, { 'monolith.yaml': monolithFile('http://127.0.0.1:9'), 'orders.yaml': ordersFile('http://127.0.0.1:8') }, GATEWAY_YAML)
  const r = await runCli(['routes', '--config', tree.configFile], { cwd: tree.dir })
  t.equal(r.code, 0, r.stderr)
  const rows = r.stdout.trimEnd().split('\n').map((l) => l.split(/\s{2,}/))
  t.match(rows[1]?.[2], /^GET(,HEAD)?$/, 'the methods of orders-read (GET, which may imply HEAD)')
  t.same(rows.map((row) => row.filter((_, i) => i !== 2)), [
    ['#', 'ROUTE', 'PATH', 'BACKENDS', 'SOURCE'],
    ['1', 'orders-read', '/api/orders/:id', 'orders-new=25 monolith=75', 'routes/orders.yaml:4'],
    ['2', 'monolith', '/**', 'monolith', 'routes/monolith.yaml:4']
  ])
  t.equal(rows[2]?.[2], '*', 'a route without methods matches any')
})

t.test('explain prints as JSON what /admin/explain answers, and the gateway then does it', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const fresh = await startOrigin(t, echo('orders-new'))
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url), 'orders.yaml': ordersFile(fresh.url) })
  const configFile = join(g.dir, 'config', 'gateway.yaml')
  const users = ['42', '7']
  const [bad, ...runs] = await Promise.all([
    runCli(['explain', 'GET', '/x', '-H', 'no-colon', '--config', configFile]),
    ...users.map(async (user) => await runCli(['explain', 'GET', '/api/orders/7', '-H', `x-user-id:${user}`, '-H', 'accept: application/json', '--config', configFile], { cwd: process.cwd() }))
  ])
  for (const [i, user] of users.entries()) {
    const r = runs[i]!
    t.equal(r.code, 0, r.stderr)
    const cli = JSON.parse(r.stdout)
    t.equal(cli.route.name, 'orders-read')
    t.equal(cli.route.file, relative(process.cwd(), join(g.routesDir, 'orders.yaml')))
    t.equal(cli.sticky.key, user)
    const admin = (await req(`${g.opsUrl}/admin/explain?method=GET&path=/api/orders/7&header=x-user-id:${user}`, { headers: adminHeaders })).json()
    t.same(cli, admin, `user ${user}: the CLI and the running gateway agree`)
    const served = await req(`${g.url}/api/orders/7`, { headers: { 'x-user-id': user } })
    t.equal(served.json().origin, cli.chosen.backend, `user ${user}: the request goes where explain said (${cli.chosen.backend})`)
  }
  t.equal(bad.code, 1, 'a header without a colon is refused')
  t.match(bad.stderr, /use name:value/)
})

t.test('npm run figway -- ARGS runs the CLI from a checkout, exit codes included', async (t) => {
  const good = writeConfigTree(t, { 'monolith.yaml': monolithFile('http://127.0.0.1:9') }, GATEWAY_YAML)
  const bad = writeConfigTree(t, { 'monolith.yaml': monolithFile('http://127.0.0.1:9'), 'orders.yaml': BROKEN }, GATEWAY_YAML)
  const [ok, broken] = await Promise.all([
    runCli(['run', 'figway', '--', 'validate', '--config', good.configFile], { cmd: 'npm', cwd: REPO_ROOT }),
    runCli(['run', '--silent', 'figway', '--', 'validate', '--config', bad.configFile], { cmd: 'npm', cwd: REPO_ROOT })
  ])
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /^ok: 1 routes, 1 backends from 1 files$/m)
  t.equal(broken.code, 1)
  t.match(broken.stderr, /orders\.yaml:6:\d+: .*unknown backend "order-service"/)
})
