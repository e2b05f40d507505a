import { connect } from 'node:net'
import t from 'tap'
import type { Origin } from '../helpers/origin.ts'
import { gatewayWith, req, type TestGateway } from '../helpers/gateway.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * Sends one request with the request line written by hand, so no client library normalises
 * the target first, and returns the status and body of the response.
 */
async function raw (base: string, target: string): Promise<{ status: number, headers: string, body: string }> {
  const { hostname, port } = new URL(base)
  return await new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname)
    let data = ''
    sock.setEncoding('latin1')
    sock.on('data', (c: string) => { data += c })
    sock.on('error', reject)
    sock.on('end', () => {
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(data)
      if (m === null) { reject(new Error(`not an HTTP response: ${JSON.stringify(data)}`)); return }
      resolve({ status: Number(m[1]), headers: m[2]!, body: m[3]! })
    })
    sock.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`)
  })
}

async function setup (t: Teardown): Promise<{ g: TestGateway, origin: Origin }> {
  const { g, origins } = await gatewayWith(t, ['app'], [
    '  - { name: orders, match: { path: /api/orders/** }, to: app }',
    '  - { name: admin,  match: { path: /admin/** },      to: app }',
    ''
  ].join('\n'))
  return { g, origin: origins.app }
}

const lastUrl = (o: Origin): string | undefined => o.received.at(-1)?.url

t.test('dot segments are removed before matching, and the backend receives the clean path', async (t) => {
  const { g, origin } = await setup(t)
  const r = await raw(g.url, '/api/orders/./7/../8')
  t.equal(r.status, 200)
  t.equal(lastUrl(origin), '/api/orders/8')
  const r2 = await raw(g.url, '/api/x/../orders/9')
  t.equal(r2.status, 200)
  t.equal(lastUrl(origin), '/api/orders/9')
})

t.test('/a/./b/../c reaches the backend as /a/c', async (t) => {
  const { g, origin } = await setup(t)
  const r = await raw(g.url, '/api/orders/a/./b/../c')
  t.equal(r.status, 200)
  t.equal(lastUrl(origin), '/api/orders/a/c')
})

t.test('dot segments escaping a route are matched where they land, not where they started', async (t) => {
  const { g, origin } = await setup(t)
  const r = await raw(g.url, '/api/orders/../../admin/users')
  t.equal(r.status, 200)
  t.equal(lastUrl(origin), '/admin/users')
  const r2 = await raw(g.url, '/api/orders/../../etc/passwd')
  t.equal(r2.status, 404, '/etc/passwd has no route')
  t.equal(JSON.parse(r2.body).code, 'route_not_found')
  t.equal(origin.received.length, 1)
})

t.test('%2e%2e counts as a dot segment', async (t) => {
  const { g, origin } = await setup(t)
  const r = await raw(g.url, '/api/orders/7/%2e%2e/8')
  t.equal(r.status, 200)
  t.equal(lastUrl(origin), '/api/orders/8')
  const r2 = await raw(g.url, '/api/orders/%2E%2e/%2e%2E/admin/x')
  t.equal(r2.status, 200)
  t.equal(lastUrl(origin), '/admin/x')
})

t.test('empty segments are merged', async (t) => {
  const { g, origin } = await setup(t)
  const r = await raw(g.url, '//api///orders//7')
  t.equal(r.status, 200)
  t.equal(lastUrl(origin), '/api/orders/7')
})

t.test('an encoded slash or backslash is refused with 400 bad_request_path and never reaches the backend', async (t) => {
  const { g, origin } = await setup(t)
  for (const target of ['/api/orders/7%2F..%2F..%2Fadmin', '/api/orders/7%2f8', '/api/orders/..%5C..%5Cadmin', '/api/orders/7%5c8']) {
    const r = await raw(g.url, target)
    t.equal(r.status, 400, target)
    t.match(r.headers, /content-type: application\/problem\+json/i)
    t.match(JSON.parse(r.body), { type: 'about:blank', status: 400, code: 'bad_request_path' }, target)
  }
  t.equal(origin.received.length, 0)
})

t.test('broken percent-encoding in the path is refused with 400 bad_request_path', async (t) => {
  const { g, origin } = await setup(t)
  for (const target of ['/api/orders/%zz', '/api/orders/7%', '/api/orders/%4']) {
    const r = await raw(g.url, target)
    t.equal(r.status, 400, target)
    t.equal(JSON.parse(r.body).code, 'bad_request_path', target)
  }
  t.equal(origin.received.length, 0)
})

t.test('percent-encoded unreserved characters are decoded for matching and forwarding', async (t) => {
  const { g, origin } = await setup(t)
  const r = await raw(g.url, '/api/%6Frders/%7Ealice%2D1')
  t.equal(r.status, 200)
  t.equal(lastUrl(origin), '/api/orders/~alice-1')
  const r2 = await raw(g.url, '/api/orders/a%20b')
  t.equal(r2.status, 200)
  t.equal(lastUrl(origin), '/api/orders/a%20b', 'reserved and other characters stay encoded')
})

t.test('the query string is forwarded untouched', async (t) => {
  const { g, origin } = await setup(t)
  const q = '?path=..%2F..%2Fetc&a=%2e%2e&b=/x//y&c=%20+&&d'
  const r = await raw(g.url, '/api/orders/./7' + q)
  t.equal(r.status, 200)
  t.equal(lastUrl(origin), '/api/orders/7' + q)
})

t.test('a client that normalises by itself sees the same result', async (t) => {
  const { g, origin } = await setup(t)
  const r = await req(`${g.url}/api/orders/7?x=1`)
  t.equal(r.status, 200)
  t.equal(lastUrl(origin), '/api/orders/7?x=1')
})
