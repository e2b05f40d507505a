/**
 * Spec §4: hop-by-hop headers (Connection and what it names, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade, Proxy-*) stop at the gateway in both directions; end-to-end
 * headers, duplicates included, pass through both ways.
 */
import t from 'tap'
import { headerValues, rawRequest, routeAllTo } from '../helpers/faults.ts'
import { startGateway } from '../helpers/gateway.ts'
import { startOrigin, type Handler } from '../helpers/origin.ts'


/** Values of header `name` in a Node rawHeaders array, in order. */
const rawValues = (raw: string[], name: string): string[] => {
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!)
  return out
}

const ok: Handler = (_req, res) => { res.writeHead(200, { 'content-length': 2 }); res.end('ok') }

t.test('hop-by-hop request headers and the headers Connection names are not forwarded to the backend', async (t) => {
  const origin = await startOrigin(t, ok)
  const g = await startGateway(t, routeAllTo(origin.url))
  const body = '5\r\nhello\r\n0\r\n\r\n'
  const r = await rawRequest(g.url, 'POST /h HTTP/1.1\r\nHost: example.test\r\n' +
    'Connection: close, x-secret\r\nx-secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: x-t\r\n' +
    'Upgrade: websocket\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\n' +
    'X-Kept: yes\r\nTransfer-Encoding: chunked\r\n\r\n' + body)
  t.equal(r.status, 200)
  t.equal(origin.received.length, 1)
  const seen = origin.received[0]!
  const names = new Set(Object.keys(seen.headers))
  for (const h of ['x-secret', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection']) {
    t.notOk(names.has(h), `${h} is not forwarded`)
  }
  t.not(seen.headers.connection ?? '', 'close, x-secret', 'the client Connection header is not forwarded')
  t.notMatch(seen.headers.connection ?? '', /x-secret/)
  t.notMatch(seen.headers['transfer-encoding'] ?? '', /x-t|trailers/)
  t.equal(seen.headers['x-kept'], 'yes', 'an end-to-end header is forwarded')
  t.equal(seen.body.toString(), 'hello', 'the body still arrives, re-framed by the gateway')
})

t.test('end-to-end request headers pass through with duplicates kept as separate lines', async (t) => {
  const origin = await startOrigin(t, ok)
  const g = await startGateway(t, routeAllTo(origin.url))
  const r = await rawRequest(g.url, 'GET /d HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n' +
    'x-multi: a\r\nx-multi: b\r\ncookie: a=1\r\nAccept: text/plain\r\nauthorization: Bearer t\r\n\r\n')
  t.equal(r.status, 200)
  const seen = origin.received[0]!
  t.same(rawValues(seen.rawHeaders, 'x-multi'), ['a', 'b'], 'both x-multi lines arrive, in order')
  t.same(rawValues(seen.rawHeaders, 'cookie'), ['a=1'])
  t.same(rawValues(seen.rawHeaders, 'accept'), ['text/plain'])
  t.same(rawValues(seen.rawHeaders, 'authorization'), ['Bearer t'])
})

t.test('hop-by-hop response headers and the headers Connection names are not returned to the client', async (t) => {
  const origin = await startOrigin(t, (_req, res) => {
    res.setHeader('connection', 'x-secret-res')
    res.setHeader('x-secret-res', '1')
    res.setHeader('keep-alive', 'timeout=5, max=9')
    res.setHeader('te', 'trailers')
    res.setHeader('trailer', 'x-t')
    res.setHeader('upgrade', 'h2c')
    res.setHeader('proxy-authenticate', 'Basic realm="x"')
    res.setHeader('proxy-connection', 'keep-alive')
    res.setHeader('proxy-x-internal', 'leak')
    res.setHeader('x-kept', 'yes')
    res.writeHead(200, { 'transfer-encoding': 'chunked' })
    res.addTrailers({ 'x-t': 'v' })
    res.end('hello')
  })
  const g = await startGateway(t, routeAllTo(origin.url))
  // HTTP/1.1 keep-alive from the client: the gateway's own Connection/Keep-Alive are what the client gets.
  const r = await rawRequest(g.url, 'GET /r HTTP/1.1\r\nHost: example.test\r\n\r\n', { waitMs: 300 })
  t.equal(r.status, 200)
  const names = r.headers.map(([n]) => n)
  for (const h of ['x-secret-res', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-connection', 'proxy-x-internal']) {
    t.notOk(names.includes(h), `${h} is not returned`)
  }
  t.same(headerValues(r, 'connection'), ['keep-alive'], "the gateway's own Connection header, not the backend's")
  t.same(headerValues(r, 'keep-alive'), ['timeout=72'], "the gateway's own Keep-Alive, not the backend's timeout=5")
  t.same(headerValues(r, 'transfer-encoding'), ['chunked'], 'framed once, by the gateway')
  t.same(headerValues(r, 'x-kept'), ['yes'])
  t.match(r.body, /^5\r\nhello\r\n0\r\n\r\n$/, 'the body arrives; the trailer section is not forwarded')
})

t.test('end-to-end response headers pass through, with duplicates and set-cookie arrays kept', async (t) => {
  const origin = await startOrigin(t, (_req, res) => {
    res.setHeader('x-multi', ['a', 'b'])
    res.setHeader('set-cookie', ['s=1; Path=/', 't=2; HttpOnly'])
    res.setHeader('cache-control', 'no-cache')
    res.setHeader('etag', '"v1"')
    res.writeHead(201, { 'content-type': 'text/plain', 'content-length': 2 })
    res.end('ok')
  })
  const g = await startGateway(t, routeAllTo(origin.url))
  const r = await rawRequest(g.url, 'GET /c HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n')
  t.equal(r.status, 201)
  t.same(headerValues(r, 'x-multi'), ['a', 'b'])
  t.same(headerValues(r, 'set-cookie'), ['s=1; Path=/', 't=2; HttpOnly'], 'each cookie on its own line')
  t.same(headerValues(r, 'cache-control'), ['no-cache'])
  t.same(headerValues(r, 'etag'), ['"v1"'])
  t.same(headerValues(r, 'content-type'), ['text/plain'])
  t.same(headerValues(r, 'content-length'), ['2'], 'the content length is kept: no re-chunking')
  t.equal(r.body, 'ok')
})
