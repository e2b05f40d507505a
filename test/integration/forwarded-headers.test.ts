/**
 * Spec §4: X-Forwarded-For gets the client address appended, earlier entries kept only from
 * `trustedProxies`; X-Forwarded-Proto/Host are set; Host is the backend's unless
 * `preserveHost`; a request id is added when missing. The client here is always 127.0.0.1.
 */
import t, { type Test } from 'tap'
import { rawRequest, routeAllTo } from '../helpers/faults.ts'
import { accessLines, req, startGateway, type TestGateway } from '../helpers/gateway.ts'
import { echo, startOrigin, type Origin } from '../helpers/origin.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

async function setup (t: Test, gatewayYaml: string, backendExtra = ''): Promise<{ g: TestGateway, origin: Origin }> {
  const origin = await startOrigin(t, echo('b'))
  const g = await startGateway(t, routeAllTo(origin.url, backendExtra), gatewayYaml)
  return { g, origin }
}

const forwarded = { 'x-forwarded-for': '203.0.113.7, 198.51.100.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example.com' }

t.test('with the default trustedProxies of 1 the incoming X-Forwarded-* are kept and the peer is appended', async (t) => {
  const { g, origin } = await setup(t, '')
  const r = await req(`${g.url}/x`, { headers: { ...forwarded, host: 'edge.example.com' } })
  t.equal(r.status, 200)
  const h = origin.received[0]!.headers
  t.equal(h['x-forwarded-for'], '203.0.113.7, 198.51.100.2, 127.0.0.1')
  t.equal(h['x-forwarded-proto'], 'https')
  t.equal(h['x-forwarded-host'], 'shop.example.com')
})

t.test('several X-Forwarded-For lines from a trusted peer are joined in order before the peer', async (t) => {
  const { g, origin } = await setup(t, 'trustedProxies: 1')
  const r = await rawRequest(g.url, 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n' +
    'X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 198.51.100.2\r\n\r\n')
  t.equal(r.status, 200)
  t.equal(origin.received[0]!.headers['x-forwarded-for'], '203.0.113.7, 198.51.100.2, 127.0.0.1')
})

t.test('with trustedProxies 0 the incoming X-Forwarded-* are replaced by what the gateway saw', async (t) => {
  const { g, origin } = await setup(t, 'trustedProxies: 0')
  const r = await req(`${g.url}/x`, { headers: { ...forwarded, host: 'edge.example.com' } })
  t.equal(r.status, 200)
  const h = origin.received[0]!.headers
  t.equal(h['x-forwarded-for'], '127.0.0.1')
  t.equal(h['x-forwarded-proto'], 'http')
  t.equal(h['x-forwarded-host'], 'edge.example.com', "the client's Host")
  t.same(origin.received[0]!.rawHeaders.filter((n) => n.toLowerCase() === 'x-forwarded-for'), ['x-forwarded-for'], 'one X-Forwarded-For line')
})

t.test('with a CIDR list that contains the peer the incoming X-Forwarded-For is kept', async (t) => {
  const { g, origin } = await setup(t, 'trustedProxies: ["10.0.0.0/8", "127.0.0.0/8"]')
  await req(`${g.url}/x`, { headers: forwarded })
  t.equal(origin.received[0]!.headers['x-forwarded-for'], '203.0.113.7, 198.51.100.2, 127.0.0.1')
  t.equal(origin.received[0]!.headers['x-forwarded-proto'], 'https')
})

t.test('with a CIDR list that does not contain the peer the incoming X-Forwarded-For is replaced', async (t) => {
  const { g, origin } = await setup(t, 'trustedProxies: ["10.0.0.0/8", "192.168.1.1"]')
  await req(`${g.url}/x`, { headers: forwarded })
  t.equal(origin.received[0]!.headers['x-forwarded-for'], '127.0.0.1')
  t.equal(origin.received[0]!.headers['x-forwarded-proto'], 'http')
})

t.test("Host is the backend's own host and port from its url", async (t) => {
  const { g, origin } = await setup(t, '')
  await req(`${g.url}/x`, { headers: { host: 'edge.example.com' } })
  t.equal(origin.received[0]!.headers.host, `127.0.0.1:${origin.port}`)
  t.equal(origin.received[0]!.headers['x-forwarded-host'], 'edge.example.com')
})

t.test("Host is the client's when the backend sets preserveHost: true", async (t) => {
  const { g, origin } = await setup(t, '', ', preserveHost: true')
  await req(`${g.url}/x`, { headers: { host: 'edge.example.com' } })
  t.equal(origin.received[0]!.headers.host, 'edge.example.com')
})

t.test('an x-request-id is added when missing and is the one the access log shows', async (t) => {
  const { g, origin } = await setup(t, '')
  const r = await req(`${g.url}/x`)
  t.equal(r.status, 200)
  const id = origin.received[0]!.headers['x-request-id']
  t.match(id, UUID)
  t.equal(accessLines(g)[0]?.reqId, id)
})

t.test("an incoming x-request-id is kept, and the response carries the backend's headers", async (t) => {
  const { g, origin } = await setup(t, '')
  const r = await req(`${g.url}/x`, { headers: { 'x-request-id': 'abc-123' } })
  t.equal(origin.received[0]!.headers['x-request-id'], 'abc-123')
  t.same(origin.received[0]!.rawHeaders.filter((n) => n.toLowerCase() === 'x-request-id').length, 1, 'sent once')
  t.equal(accessLines(g)[0]?.reqId, 'abc-123')
  t.equal(r.headers['x-origin'], 'b')
  t.equal(r.headers['content-type'], 'application/json')
})

t.test('an x-request-id too long to keep is replaced, and the backend sees the id the access log shows', async (t) => {
  const { g, origin } = await setup(t, '')
  await req(`${g.url}/x`, { headers: { 'x-request-id': 'x'.repeat(500) } })
  const id = origin.received[0]!.headers['x-request-id']
  t.match(id, UUID)
  t.equal(accessLines(g)[0]?.reqId, id)
})
