/**
 * The migration dashboard on the ops port (spec §6): `/?token=T` trades the token for an
 * HttpOnly, SameSite=Strict session cookie and redirects to `/`; the page and its data
 * request then work with that cookie alone.
 */
import t from 'tap'
import { ADMIN_TOKEN, adminHeaders, req, startGateway } from '../helpers/gateway.ts'
import { echo, startOrigin } from '../helpers/origin.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

async function setup (t: Teardown): Promise<{ url: string, opsUrl: string }> {
  const a = await startOrigin(t, echo('old'))
  const b = await startOrigin(t, echo('new'))
  const g = await startGateway(t, {
    'r.yaml': `backends:
  old: { url: "${a.url}" }
  new: { url: "${b.url}" }
routes:
  - name: orders
    match: { path: /api/orders/** }
    split: { new: 25, old: 75 }
    fallback: old
  - { name: rest, match: { path: /** }, to: old }
`
  })
  return { url: g.url, opsUrl: g.opsUrl }
}

t.test('/?token= sets an HttpOnly SameSite=Strict session cookie and redirects to /', async (t) => {
  const g = await setup(t)
  const r = await req(`${g.opsUrl}/?token=${ADMIN_TOKEN}`)
  t.equal(r.status, 303)
  t.equal(r.headers.location, '/')
  const cookie = String(r.headers['set-cookie'])
  t.match(cookie, /^figway_ops=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/$/)
  const session = cookie.split(';')[0]!
  const page = await req(`${g.opsUrl}/`, { headers: { cookie: session } })
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.text, /migration dashboard/)
  t.notOk(page.text.includes(ADMIN_TOKEN), 'the page never carries the token')
})

t.test('without the cookie or token the page and its data are refused', async (t) => {
  const g = await setup(t)
  t.equal((await req(`${g.opsUrl}/`)).status, 401)
  t.equal((await req(`${g.opsUrl}/?token=wrong`)).status, 401)
  t.equal((await req(`${g.opsUrl}/admin/dashboard.json`)).status, 401)
  t.equal((await req(`${g.opsUrl}/admin/dashboard.json`, { headers: { cookie: 'figway_ops=' + '0'.repeat(64) } })).status, 401)
})

t.test('a session cookie from another gateway process does not open this one', async (t) => {
  const one = await setup(t)
  const two = await setup(t)
  const session = String((await req(`${one.opsUrl}/?token=${ADMIN_TOKEN}`)).headers['set-cookie']).split(';')[0]!
  t.equal((await req(`${one.opsUrl}/admin/dashboard.json`, { headers: { cookie: session } })).status, 200)
  t.equal((await req(`${two.opsUrl}/admin/dashboard.json`, { headers: { cookie: session } })).status, 401)
})

t.test('the data shows each route, its backends and weights, breaker state, error rate and p99', async (t) => {
  const g = await setup(t)
  for (let i = 0; i < 40; i++) await req(`${g.url}/api/orders/${i}`)
  const d = (await req(`${g.opsUrl}/admin/dashboard.json`, { headers: adminHeaders })).json()
  const orders = d.routes.find((r: { name: string }) => r.name === 'orders')
  t.match(orders, { path: '/api/orders/**', weightsFrom: 'file', fallback: 'old' })
  t.same(orders.backends.map((b: { name: string, weight: number }) => [b.name, b.weight]), [['new', 25], ['old', 75]])
  const total = orders.backends.reduce((a: number, b: { requests: number }) => a + b.requests, 0)
  t.equal(total, 40, 'every request is counted under the backend that served it')
  for (const b of orders.backends) {
    t.equal(b.breaker, 'closed')
    if (b.requests > 0) {
      t.equal(b.errorRate, 0)
      t.ok(b.p99Seconds > 0 && b.p99Seconds <= 10, `p99 of ${b.name} is a bucket bound (${b.p99Seconds})`)
    }
  }
})
