import t from 'tap'
import { Worker } from 'node:worker_threads'
import { join } from 'node:path'
import { echo, startOrigin } from '../helpers/origin.ts'
import { adminHeaders, eventually, reloadCount, req, startGateway, type TestGateway } from '../helpers/gateway.ts'
import { spawnGateway } from '../helpers/process.ts'
import { monolithFile, routeFile } from '../helpers/routes.ts'

t.test('a new route file is picked up by the folder watcher within two seconds', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const orders = await startOrigin(t, echo('orders'))
  // The poll fallback is slower than the deadline below, so only fs.watch can make this pass.
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) }, '', { watch: true, watchPollMs: 60_000 })
  t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'monolith')

  const before = await reloadCount(g, 'success')
  const t0 = Date.now()
  g.writeRoutes('orders.yaml', routeFile('orders', orders.url, 'orders', '/api/orders/**'))
  const served = await eventually(async () => (await req(`${g.url}/api/orders/1`)).json().origin === 'orders', 2_000)
  t.ok(served, `the new route serves (after ${Date.now() - t0} ms)`)
  t.equal(await reloadCount(g, 'success'), before + 1, 'one reload for one change')
  t.ok(g.logs.some((l) => l.msg === 'route table reloaded'), 'the reload is logged')

  g.writeRoutes('orders.yaml', null)
  const gone = await eventually(async () => (await req(`${g.url}/api/orders/1`)).json().origin === 'monolith', 2_000)
  t.ok(gone, 'deleting the file removes its route')
})

t.test('POST /admin/reload reloads the routes and returns the result', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const orders = await startOrigin(t, echo('orders'))
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) })
  const v1 = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json().version

  g.writeRoutes('orders.yaml', routeFile('orders', orders.url, 'orders', '/api/orders/**'))
  t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'monolith', 'no watcher: nothing changes by itself')

  const r = await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })
  t.equal(r.status, 200)
  t.same(r.json(), { ok: true, version: v1 + 1, errors: [] })
  t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'orders', 'the new route serves right after the reply')
  const routes = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
  t.equal(routes.version, v1 + 1)
  t.same(routes.routes.map((x: { name: string }) => x.name).sort(), ['monolith', 'orders'])

  const anon = await req(`${g.opsUrl}/admin/reload`, { method: 'POST' })
  t.not(anon.status, 200, 'reload needs the admin token')
})

interface Broken { what: string, yaml: (url: string) => string, line: number, message: RegExp }

const BROKEN: Broken[] = [
  {
    what: 'a schema error (misspelt option)',
    // line 6 holds the mistake
    yaml: (url) => `backends:\n  orders: { url: "${url}" }\nroutes:\n  - name: orders\n    match: { path: /api/orders/** }\n    too: orders\n`,
    line: 6,
    message: /too/
  },
  {
    what: 'an unknown backend name',
    yaml: (url) => `backends:\n  orders: { url: "${url}" }\nroutes:\n  - name: orders\n    match: { path: /api/orders/** }\n    to: order-service\n`,
    line: 6,
    message: /unknown backend "order-service"/
  },
  {
    what: 'two routes overlapping with equal specificity',
    yaml: (url) => `backends:\n  orders: { url: "${url}" }\nroutes:\n  - name: orders\n    match: { path: /api/orders/** }\n    to: orders\n  - name: orders-again\n    match: { path: /api/orders/** }\n    to: orders\n`,
    line: 7,
    message: /matches the same requests as "orders"/
  },
  {
    what: 'a YAML syntax error',
    yaml: (url) => `backends:\n  orders: { url: "${url}" }\nroutes:\n  - name: orders\n    match: { path: /api/orders/**\n    to: orders\n`,
    line: 6,
    message: /./
  }
]

for (const b of BROKEN) {
  t.test(`a route file with ${b.what} is refused, the old table keeps serving, and fixing the file recovers`, async (t) => {
    const mono = await startOrigin(t, echo('monolith'))
    const orders = await startOrigin(t, echo('orders'))
    const g: TestGateway = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) })
    const v1 = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json().version
    const failures = await reloadCount(g, 'failure')

    g.writeRoutes('orders.yaml', b.yaml(orders.url))
    const r = await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })
    t.equal(r.status, 422, 'the reload is refused')
    const body = r.json()
    t.equal(body.ok, false)
    t.equal(body.version, v1, 'the version does not move')
    const located = (e: string): boolean => new RegExp(`(^|/)orders\\.yaml:${b.line}:\\d+: `).test(e) && b.message.test(e)
    t.ok(body.errors.some(located), `an error names orders.yaml:${b.line}: ${JSON.stringify(body.errors)}`)

    t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'monolith', 'the old table keeps serving')
    t.equal(await reloadCount(g, 'failure'), failures + 1, 'figway_config_reloads_total{result="failure"} counts it')
    const log = g.logs.find((l) => l.level === 50 && Array.isArray(l.errors))
    t.ok(log, 'an error is logged')
    t.ok((log?.errors as string[]).some(located), 'the log names file and line')

    const table = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
    t.equal(table.version, v1)
    t.ok(table.lastReloadError, '/admin/routes shows the last reload error')
    t.ok(table.lastReloadError.errors.some(located), 'with file and line')
    t.same(table.routes.map((x: { name: string }) => x.name), ['monolith'])

    g.writeRoutes('orders.yaml', routeFile('orders', orders.url, 'orders', '/api/orders/**'))
    const fixed = await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })
    t.same(fixed.json(), { ok: true, version: v1 + 1, errors: [] }, 'the fixed file loads')
    t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'orders', 'and its route serves')
    const after = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
    t.equal(after.lastReloadError, null, 'the reload error is cleared')
  })
}

t.test('a broken file dropped into a watched folder is refused and a fix is picked up', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const orders = await startOrigin(t, echo('orders'))
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) }, '', { watch: true, watchPollMs: 60_000 })
  const failures = await reloadCount(g, 'failure')
  g.writeRoutes('orders.yaml', BROKEN[1]!.yaml(orders.url))
  t.ok(await eventually(async () => await reloadCount(g, 'failure') === failures + 1, 2_000), 'the watcher tried and refused it')
  t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'monolith', 'the old table keeps serving')
  g.writeRoutes('orders.yaml', routeFile('orders', orders.url, 'orders', '/api/orders/**'))
  t.ok(await eventually(async () => (await req(`${g.url}/api/orders/1`)).json().origin === 'orders', 2_000), 'the fix serves')
})

t.test('SIGHUP makes a running figway process reload its routes', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const orders = await startOrigin(t, echo('orders'))
  const p = await spawnGateway(t, { 'monolith.yaml': monolithFile(mono.url) })
  t.equal((await req(`${p.url}/api/orders/1`)).json().origin, 'monolith')
  const version = async (): Promise<number> => (await req(`${p.opsUrl}/admin/routes`, { headers: adminHeaders })).json().version
  const v1 = await version()
  const successes = await reloadCount(p, 'success')

  // Nothing changed on disk, so the folder watcher has no reason to reload: only SIGHUP can.
  p.child.kill('SIGHUP')
  t.ok(await eventually(async () => await version() === v1 + 1, 2_000), 'SIGHUP installs a new table version')
  t.equal(await reloadCount(p, 'success'), successes + 1, 'counted as a successful reload')
  t.equal(p.child.exitCode, null, 'SIGHUP does not stop the process')

  p.writeRoutes('orders.yaml', routeFile('orders', orders.url, 'orders', '/api/orders/**'))
  p.child.kill('SIGHUP')
  t.ok(await eventually(async () => (await req(`${p.url}/api/orders/1`)).json().origin === 'orders', 2_000), 'a new route file serves after SIGHUP')
  t.ok(await p.waitForLog((l) => l.msg === 'route table reloaded'), 'the reload is logged')
})

t.test('a change written while a reload is reading the folder is not lost', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const orders = await startOrigin(t, echo('orders'))
  // Enough routes that building a table takes a while: the window in which the change lands.
  let big = `backends:\n  monolith: { url: "${mono.url}" }\nroutes:\n`
  for (let i = 0; i < 2_000; i++) big += `  - name: r${i}\n    match: { path: /r${i}/x }\n    to: monolith\n`
  const g = await startGateway(t, {
    'a-orders.yaml': 'routes: []\n', // read first (name order), changed while the rest is being compiled
    'z-routes.yaml': big + '  - name: monolith\n    match: { path: /** }\n    to: monolith\n'
  }, '', { watch: true, watchPollMs: 60_000 })

  // The kubelet or an editor writes from another process; a worker thread does the same here,
  // while this thread is busy building the table.
  const gate = new Int32Array(new SharedArrayBuffer(8))
  const writer = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads')
    const { writeFileSync } = require('node:fs')
    const gate = workerData.gate
    Atomics.wait(gate, 0, 0)
    Atomics.wait(gate, 1, 0, 20)
    writeFileSync(workerData.file, workerData.text)
    parentPort.postMessage(Date.now())
  `, { eval: true, workerData: { gate, file: join(g.routesDir, 'a-orders.yaml'), text: routeFile('orders', orders.url, 'orders', '/api/orders/**') } })
  t.teardown(async () => { await writer.terminate() })
  const written = new Promise<number>((resolve) => writer.once('message', resolve))

  Atomics.store(gate, 0, 1)
  Atomics.notify(gate, 0)
  const r = await g.gw.reload('admin')
  const reloadedAt = Date.now()
  t.equal(r.ok, true)
  t.ok(await written < reloadedAt, 'the file changed while the reload was running')

  const served = await eventually(async () => (await req(`${g.url}/api/orders/1`)).json().origin === 'orders', 2_000)
  t.ok(served, 'the change is picked up by a later reload')
})
