import t from 'tap'
import { echo, startOrigin, type Origin } from '../helpers/origin.ts'
import { ADMIN_TOKEN, adminHeaders, metricsText, req, startGateway, type Res, type TestGateway } from '../helpers/gateway.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

/** Route `orders`: the file sends everything to the monolith ({orders-svc: 0, monolith: 1}). */
async function setup (t: Teardown, gatewayYaml = ''): Promise<{ g: TestGateway, o: Record<string, Origin>, routes: string }> {
  const o = { 'orders-svc': await startOrigin(t, echo('orders-svc')), monolith: await startOrigin(t, echo('monolith')) }
  const routes = [
    'backends:',
    `  orders-svc: { url: "${o['orders-svc'].url}" }`,
    `  monolith:   { url: "${o.monolith.url}" }`,
    'routes:',
    '  - name: orders',
    '    match: { path: /api/orders/** }',
    '    split: { orders-svc: 0, monolith: 1 }',
    ''
  ].join('\n')
  const g = await startGateway(t, { 'orders.yaml': routes }, gatewayYaml)
  return { g, o, routes }
}

const weightsUrl = (g: TestGateway, route = 'orders'): string => `${g.opsUrl}/admin/routes/${route}/weights`

async function putWeights (g: TestGateway, body: string, headers: Record<string, string> = adminHeaders, route = 'orders'): Promise<Res> {
  return await req(weightsUrl(g, route), { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body })
}

/** Which backends serve 40 requests without a sticky key. */
async function servedBy (g: TestGateway): Promise<Set<string>> {
  const seen = new Set<string>()
  for (let i = 0; i < 40; i++) seen.add((await req(`${g.url}/api/orders/${i}`)).json().origin)
  return seen
}

async function weightMetrics (g: TestGateway): Promise<Record<string, number>> {
  const text = await metricsText(g)
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^figway_route_weight\{route="orders",backend="([^"]+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2])
  return out
}

t.test('PUT weights overrides the file’s weights', async (t) => {
  const { g } = await setup(t)
  t.same([...await servedBy(g)], ['monolith'])
  const r = await putWeights(g, '{"orders-svc":1,"monolith":0}')
  t.equal(r.status, 200)
  t.same(r.json(), { route: 'orders', weights: { 'orders-svc': 1, monolith: 0 } })
  t.same([...await servedBy(g)], ['orders-svc'])
  const routes = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
  t.match(routes.routes.find((x: { name: string }) => x.name === 'orders').weights, {
    file: { 'orders-svc': 0, monolith: 1 },
    runtime: { 'orders-svc': 1, monolith: 0 },
    effective: { 'orders-svc': 1, monolith: 0 }
  })
})

t.test('a backend left out of the PUT body gets weight 0', async (t) => {
  const { g } = await setup(t)
  t.equal((await putWeights(g, '{"orders-svc":5}')).status, 200)
  t.same([...await servedBy(g)], ['orders-svc'])
})

t.test('runtime weights survive a reload of the route files', async (t) => {
  const { g, routes } = await setup(t)
  t.equal((await putWeights(g, '{"orders-svc":1,"monolith":0}')).status, 200)
  g.writeRoutes('orders.yaml', routes + '  - { name: health, match: { path: /health }, to: monolith }\n')
  t.match(await g.gw.reload('test'), { ok: true })
  t.same([...await servedBy(g)], ['orders-svc'], 'after gw.reload')
  const r = await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })
  t.equal(r.status, 200)
  t.match(r.json(), { ok: true })
  t.same([...await servedBy(g)], ['orders-svc'], 'after POST /admin/reload')
})

t.test('DELETE clears the runtime weights and the file’s apply again', async (t) => {
  const { g } = await setup(t)
  t.equal((await putWeights(g, '{"orders-svc":1,"monolith":0}')).status, 200)
  t.same([...await servedBy(g)], ['orders-svc'])
  const r = await req(weightsUrl(g), { method: 'DELETE', headers: adminHeaders })
  t.equal(r.status, 200)
  t.same([...await servedBy(g)], ['monolith'])
  const routes = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
  t.equal(routes.routes.find((x: { name: string }) => x.name === 'orders').weights.runtime, null)
})

t.test('bad weight bodies are refused with 400 and change nothing', async (t) => {
  const { g } = await setup(t)
  const bad = [
    '{"orders-svc":1,"nope":1}', // unknown backend
    '{"orders-svc":-1,"monolith":2}', // negative
    '{"orders-svc":0,"monolith":0}', // all zero
    '{"orders-svc":1.5}', // not an integer
    '{"orders-svc":"50"}', // not a number
    '[50, 50]', // not an object
    'null'
  ]
  for (const body of bad) {
    const r = await putWeights(g, body)
    t.equal(r.status, 400, body)
    t.match(r.headers['content-type'], /json/)
  }
  t.same([...await servedBy(g)], ['monolith'])
  t.same(await weightMetrics(g), { 'orders-svc': 0, monolith: 1 })
})

t.test('weights for a route that does not exist are 404', async (t) => {
  const { g } = await setup(t)
  t.equal((await putWeights(g, '{"a":1}', adminHeaders, 'no-such-route')).status, 404)
  t.equal((await req(weightsUrl(g, 'no-such-route'), { method: 'DELETE', headers: adminHeaders })).status, 404)
})

t.test('without the bearer token the weights API answers 401', async (t) => {
  const { g } = await setup(t)
  t.equal((await putWeights(g, '{"orders-svc":1}', {})).status, 401)
  t.equal((await putWeights(g, '{"orders-svc":1}', { authorization: `Bearer ${ADMIN_TOKEN}x` })).status, 401)
  t.equal((await putWeights(g, '{"orders-svc":1}', { authorization: ADMIN_TOKEN })).status, 401)
  t.equal((await req(weightsUrl(g), { method: 'DELETE' })).status, 401)
  t.same([...await servedBy(g)], ['monolith'])
})

t.test('a gateway configured without an ops token answers 403, even to a bearer token', async (t) => {
  const { g } = await setup(t, 'ops: { host: 127.0.0.1, port: 0 }')
  t.equal((await putWeights(g, '{"orders-svc":1}')).status, 403)
  t.equal((await putWeights(g, '{"orders-svc":1}', { authorization: 'Bearer ' })).status, 403)
  t.equal((await req(weightsUrl(g), { method: 'DELETE', headers: adminHeaders })).status, 403)
  t.same([...await servedBy(g)], ['monolith'])
})

t.test('figway_route_weight shows the weights in force', async (t) => {
  const { g } = await setup(t)
  t.same(await weightMetrics(g), { 'orders-svc': 0, monolith: 1 })
  t.equal((await putWeights(g, '{"orders-svc":30,"monolith":70}')).status, 200)
  t.same(await weightMetrics(g), { 'orders-svc': 30, monolith: 70 })
  await req(weightsUrl(g), { method: 'DELETE', headers: adminHeaders })
  t.same(await weightMetrics(g), { 'orders-svc': 0, monolith: 1 })
})
