/**
 * A request served by a route's fallback is addressed to the fallback backend: its Host
 * header and its URL's base path, with the route's rewrite still applied.
 */
import t from 'tap'
import { refusingUrl } from '../helpers/faults.ts'
import { req, startGateway } from '../helpers/gateway.ts'
import { echo, startOrigin } from '../helpers/origin.ts'

t.test('the fallback gets its own Host and base path, after the route rewrite', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, {
    'r.yaml': `backends:
  new: { url: "${await refusingUrl()}/v2" }
  monolith: { url: "http://localhost:${mono.port}/legacy" }
routes:
  - name: orders
    match: { path: /api/orders/:id }
    to: new
    fallback: monolith
    rewrite: { path: /orders/:id }
`
  })
  const r = await req(`${g.url}/api/orders/7?x=1`)
  t.equal(r.status, 200)
  const seen = r.json()
  t.equal(seen.origin, 'monolith')
  t.equal(seen.url, '/legacy/orders/7?x=1')
  t.equal(seen.headers.host, `localhost:${mono.port}`)
  t.equal(seen.headers['x-forwarded-host'], new URL(g.url).host)
})
