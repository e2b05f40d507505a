import t from 'tap'
import { get } from 'node:http'
import { echo, startOrigin } from '../helpers/origin.ts'
import { metricsText, req, sleep, startGateway } from '../helpers/gateway.ts'
import { monolithFile } from '../helpers/routes.ts'

/** A GET with the request target sent exactly as written (a URL parser would remove dot-segments). */
async function rawGet (base: string, path: string): Promise<{ status: number, type: string | undefined, body: string }> {
  const { hostname, port } = new URL(base)
  return await new Promise((resolve, reject) => {
    get({ host: hostname, port, path, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }))
    }).on('error', reject)
  })
}

t.test('/healthz and /readyz answer 200 on the ops port once the routes are loaded', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) })
  const health = await req(`${g.opsUrl}/healthz`)
  t.equal(health.status, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await req(`${g.opsUrl}/readyz`)
  t.equal(ready.status, 200)
  t.same(ready.json(), { status: 'ready' })
  t.equal(mono.received.length, 0, 'neither touches a backend')
})

t.test('the data port answers GET /__figway/ready like /readyz and never routes it, even under a catch-all route', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) })
  for (const path of ['/__figway/ready', '/__figway/ready?from=alb']) {
    const r = await req(g.url + path)
    t.equal(r.status, 200, `GET ${path}`)
    t.same(r.json(), { status: 'ready' })
    t.equal(r.headers['cache-control'], 'no-store')
  }
  const head = await req(`${g.url}/__figway/ready`, { method: 'HEAD' })
  t.equal(head.status, 200, 'HEAD too')
  t.equal(head.text, '')
  t.equal(mono.received.length, 0, 'the catch-all backend received nothing')

  t.notMatch(await metricsText(g), /figway_requests_total\{[^}]*\} [1-9]/, 'health checks stay out of request metrics')
  t.equal((await req(`${g.url}/anything`)).json().origin, 'monolith', 'other paths are routed as usual')
})

t.test('every other /__figway/ path is a 404 that no backend sees, however it is spelt', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) })
  const paths = [
    '/__figway/',
    '/__figway/metrics',
    '/__figway/ready/extra',
    '/__figway/admin/routes',
    // Spellings that normalise into the reserved prefix must not reach a backend either.
    '//__figway/ready',
    '/x/../__figway/ready',
    '/%5F_figway/ready',
    '/__figway/%2e%2e/__figway/metrics'
  ]
  for (const path of paths) {
    const r = await rawGet(g.url, path)
    t.equal(r.status, 404, `GET ${path}`)
    t.equal(r.type, 'application/problem+json')
    t.equal(JSON.parse(r.body).code, 'route_not_found')
  }
  t.same(mono.received.map((x) => x.url), [], 'the catch-all backend received none of them')
})

t.test('while draining, /readyz and /__figway/ready both turn 503 and /healthz stays 200', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, { 'monolith.yaml': monolithFile(mono.url) }, 'shutdown: { drainDelay: 1s, timeout: 2s }')
  const draining = g.gw.shutdown()
  t.teardown(async () => { await draining })
  await sleep(20)
  const ready = await req(`${g.opsUrl}/readyz`)
  t.equal(ready.status, 503)
  t.same(ready.json(), { status: 'draining' })
  const alb = await req(`${g.url}/__figway/ready`)
  t.equal(alb.status, 503)
  t.equal(alb.headers.connection, 'close', 'and asks the load balancer to close the connection')
  t.equal((await req(`${g.opsUrl}/healthz`)).status, 200, 'the process is still alive')
  t.equal((await req(`${g.url}/still-served`)).status, 200, 'requests are still served during the drain delay')
})
