import t from 'tap'
import { join } from 'node:path'
import { echo, startOrigin, type Origin } from '../helpers/origin.ts'
import { adminHeaders, req, startGateway, type TestGateway } from '../helpers/gateway.ts'
import { REPO_ROOT, runCli } from '../helpers/process.ts'
import { routeSeed, stickyBucket } from '../../src/routing/split.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

async function setup (t: Teardown): Promise<{ g: TestGateway, o: Record<string, Origin> }> {
  const o = { 'orders-http': await startOrigin(t, echo('orders-http')), monolith: await startOrigin(t, echo('monolith')) }
  const g = await startGateway(t, {
    'orders.yaml': [
      'backends:',
      `  monolith:    { url: "${o.monolith.url}" }`,
      `  orders-http: { url: "${o['orders-http'].url}/v1" }`,
      'routes:',
      '  - name: orders-read',
      '    match: { path: /api/orders/**, methods: [GET] }',
      '    split: { orders-http: 25, monolith: 75 }',
      '    sticky: { header: x-user-id }',
      '    fallback: monolith',
      '    allowOverride: true',
      '    rewrite: { prefix: { from: /api/orders, to: /orders } }',
      '  - name: monolith',
      '    match: { path: /** }',
      '    to: monolith',
      ''
    ].join('\n')
  })
  return { g, o }
}

async function explainVia (g: TestGateway, query: string): Promise<any> {
  const r = await req(`${g.opsUrl}/admin/explain?${query}`, { headers: adminHeaders })
  if (r.status !== 200) throw new Error(`explain answered ${r.status}: ${r.text}`)
  return r.json()
}

t.test('explain shows the route, candidates, weights, sticky bucket, chosen backend and upstream url', async (t) => {
  const { g, o } = await setup(t)
  const e = await explainVia(g, 'method=GET&path=/api/orders/7&header=x-user-id:42')
  const bucket = stickyBucket(routeSeed('orders-read'), '42')
  const chosen = bucket < 2_500 ? 'orders-http' : 'monolith'
  const base = chosen === 'orders-http' ? `${o['orders-http'].url}/v1` : o.monolith.url
  t.match(e, {
    method: 'GET',
    path: '/api/orders/7',
    result: 'routed',
    route: { name: 'orders-read', file: /orders\.yaml$/, line: 5, pattern: '/api/orders/**' },
    weights: {
      from: 'file',
      backends: [{ backend: 'orders-http', weight: 25, buckets: [0, 2_500] }, { backend: 'monolith', weight: 75, buckets: [2_500, 10_000] }]
    },
    sticky: { header: 'x-user-id', key: '42', bucket },
    chosen: { backend: chosen, how: 'sticky', path: chosen === 'orders-http' ? '/v1/orders/7' : '/orders/7', url: `${base}/orders/7` },
    fallback: 'monolith'
  })
  t.same(e.candidates.map((c: { route: string }) => c.route), ['orders-read', 'monolith'])
  t.match(e.candidates[1], { route: 'monolith', line: 12, pattern: '/**', methods: null })
})

t.test('explain agrees with where the gateway really sends each user', async (t) => {
  const { g } = await setup(t)
  for (let i = 0; i < 40; i++) {
    const e = await explainVia(g, `method=GET&path=/api/orders/${i}&header=x-user-id:user-${i}`)
    const served = (await req(`${g.url}/api/orders/${i}`, { headers: { 'x-user-id': `user-${i}` } })).json()
    t.equal(served.origin, e.chosen.backend, `user-${i}`)
    t.equal(served.url, new URL(e.chosen.url).pathname)
  }
})

t.test('explain reflects runtime weights and the override header', async (t) => {
  const { g } = await setup(t)
  const put = await req(`${g.opsUrl}/admin/routes/orders-read/weights`, { method: 'PUT', headers: { ...adminHeaders, 'content-type': 'application/json' }, body: '{"orders-http":1,"monolith":0}' })
  t.equal(put.status, 200)
  const e = await explainVia(g, 'method=GET&path=/api/orders/7&header=x-user-id:42')
  t.match(e.weights, { from: 'runtime', backends: [{ backend: 'orders-http', weight: 1, buckets: [0, 10_000] }, { backend: 'monolith', weight: 0 }] })
  t.equal(e.chosen.backend, 'orders-http')
  const forced = await explainVia(g, 'method=GET&path=/api/orders/7&header=x-user-id:42&header=x-figway-backend:monolith')
  t.match(forced.chosen, { backend: 'monolith', how: 'override-header' })
})

t.test('explain shows the normalised path, and when nothing matches, says so', async (t) => {
  const { g } = await setup(t)
  const e = await explainVia(g, `method=GET&path=${encodeURIComponent('/api/x/../orders/./7?page=2')}&header=x-user-id:42`)
  t.match(e, { path: '/api/orders/7', normalizedFrom: '/api/x/../orders/./7', route: { name: 'orders-read' } })
  t.match(e.chosen.url, /\/orders\/7\?page=2$/)
  const post = await explainVia(g, 'method=POST&path=/api/orders/7')
  t.match(post, { route: { name: 'monolith' }, chosen: { backend: 'monolith', how: 'single' }, sticky: null })
  const bad = await explainVia(g, `method=GET&path=${encodeURIComponent('/a%2Fb')}`)
  t.match(bad, { result: 'bad_request_path', status: 400 })
})

t.test('explain needs the bearer token', async (t) => {
  const { g } = await setup(t)
  t.equal((await req(`${g.opsUrl}/admin/explain?method=GET&path=/api/orders/7`)).status, 401)
})

t.test('the CLI explain prints the same JSON as /admin/explain, without a running gateway', async (t) => {
  const { g } = await setup(t)
  const viaApi = await explainVia(g, 'method=GET&path=/api/orders/7&header=x-user-id:42')
  // The CLI runs from the same working directory as this test, so file names read the same.
  t.equal(process.cwd(), REPO_ROOT)
  const cli = await runCli(['explain', 'GET', '/api/orders/7', '-H', 'x-user-id:42', '--config', join(g.dir, 'config', 'gateway.yaml')])
  t.equal(cli.code, 0, cli.stderr)
  t.same(JSON.parse(cli.stdout), viaApi)
})
