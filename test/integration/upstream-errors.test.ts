/**
 * Spec §5: transport failures become a closed set of local replies (`upstream_unreachable`,
 * `upstream_reset`), each counted in figway_local_replies_total{code} and logged; a failure
 * after the response headers went out can only cut the client connection.
 */
import t from 'tap'
import { request } from 'undici'
import { partialBodyServer, refusingUrl, resetBeforeHeadersServer, routeAllTo } from '../helpers/faults.ts'
import { accessLines, localReplies, req, sleep, startGateway } from '../helpers/gateway.ts'

t.test('a backend that refuses the connection gives a 502 upstream_unreachable, counted and logged', async (t) => {
  const g = await startGateway(t, routeAllTo(await refusingUrl()))
  for (let i = 0; i < 2; i++) {
    const r = await req(`${g.url}/refused`)
    t.equal(r.status, 502)
    t.equal(r.headers['content-type'], 'application/problem+json')
    t.match(r.json(), { type: 'about:blank', status: 502, code: 'upstream_unreachable', route: 'all' })
  }
  t.same(await localReplies(g), ['figway_local_replies_total{code="upstream_unreachable"} 2'])
  t.match(accessLines(g), [
    { status: 502, code: 'upstream_unreachable', backend: 'b' },
    { status: 502, code: 'upstream_unreachable', backend: 'b' }
  ])
})

t.test('a backend that resets the connection before any response header gives a 502 upstream_reset', async (t) => {
  const backend = await resetBeforeHeadersServer(t)
  const g = await startGateway(t, routeAllTo(backend.url))
  const r = await req(`${g.url}/reset`)
  t.equal(r.status, 502)
  t.match(r.json(), { status: 502, code: 'upstream_reset', route: 'all' })
  t.equal(backend.heads.length, 1, 'the request did reach the backend')
  t.same(await localReplies(g), ['figway_local_replies_total{code="upstream_reset"} 1'])
  t.match(accessLines(g)[0], { status: 502, code: 'upstream_reset' })
})

t.test('a backend that resets mid-body cuts the client connection and the access log says upstream_reset', async (t) => {
  const backend = await partialBodyServer(t, { length: 100_000, sent: 1_000, reset: true, afterMs: 30 })
  const g = await startGateway(t, routeAllTo(backend.url))
  const r = await request(`${g.url}/midbody`)
  t.equal(r.statusCode, 200, "the backend's status went out with its headers")
  t.equal(r.headers['content-length'], '100000')
  await t.rejects(r.body.arrayBuffer(), 'the body cannot be completed: the client sees the connection cut')
  await sleep(20)
  t.match(accessLines(g)[0], { status: 200, code: 'upstream_reset', backend: 'b' })
  // Not a local reply: the client got the backend's response head, not one of ours.
  t.same(await localReplies(g), [])
})
