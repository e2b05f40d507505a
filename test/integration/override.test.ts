import t from 'tap'
import type { Origin } from '../helpers/origin.ts'
import { gatewayWith, req, type TestGateway } from '../helpers/gateway.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * Route `orders` splits 0:1 between orders-svc and monolith (so without an override every
 * request goes to the monolith); `other` is a backend of no route on that path.
 */
async function setup (t: Teardown, allowOverride: boolean | undefined): Promise<{ g: TestGateway, o: Record<'orders-svc' | 'monolith' | 'other', Origin> }> {
  const { g, origins } = await gatewayWith(t, ['orders-svc', 'monolith', 'other'], [
    '  - name: orders',
    '    match: { path: /api/orders/** }',
    '    split: { orders-svc: 0, monolith: 1 }',
    ...(allowOverride === undefined ? [] : [`    allowOverride: ${allowOverride}`]),
    '  - name: other',
    '    match: { path: /other }',
    '    to: other',
    ''
  ].join('\n'))
  return { g, o: origins }
}

const servedBy = async (g: TestGateway, headers: Record<string, string>): Promise<string> => (await req(`${g.url}/api/orders/7`, { headers })).json().origin

t.test('x-figway-backend forces one of the route’s backends when the route allows override', async (t) => {
  const { g, o } = await setup(t, true)
  t.equal(await servedBy(g, {}), 'monolith')
  t.equal(await servedBy(g, { 'x-figway-backend': 'orders-svc' }), 'orders-svc', 'even one whose weight is 0')
  t.equal(await servedBy(g, { 'x-figway-backend': 'monolith' }), 'monolith')
  t.equal(o['orders-svc'].received.length, 1)
  t.notOk('x-figway-backend' in o['orders-svc'].received[0]!.headers, 'the override header is not forwarded')
})

t.test('x-figway-backend is ignored on a route without allowOverride', async (t) => {
  for (const allow of [undefined, false]) {
    const { g, o } = await setup(t, allow)
    t.equal(await servedBy(g, { 'x-figway-backend': 'orders-svc' }), 'monolith', `allowOverride: ${String(allow)}`)
    t.equal(o['orders-svc'].received.length, 0)
  }
})

t.test('x-figway-backend naming a backend outside the route is ignored', async (t) => {
  const { g, o } = await setup(t, true)
  t.equal(await servedBy(g, { 'x-figway-backend': 'other' }), 'monolith')
  t.equal(await servedBy(g, { 'x-figway-backend': 'no-such-backend' }), 'monolith')
  t.equal(await servedBy(g, { 'x-figway-backend': 'ORDERS-SVC' }), 'monolith', 'names are case-sensitive')
  t.equal(await servedBy(g, { 'x-figway-backend': '' }), 'monolith')
  t.equal(o.other.received.length, 0)
})
