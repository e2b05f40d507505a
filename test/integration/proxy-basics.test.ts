import t from 'tap'
import { echo, startOrigin } from '../helpers/origin.ts'
import { accessLines, metricsText, req, startGateway } from '../helpers/gateway.ts'
import { monolithFile, routeFile } from '../helpers/routes.ts'

t.test('a catch-all route forwards method, path, query and body to the monolith', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, {
    'monolith.yaml': monolithFile(mono.url)
  })
  const r = await req(`${g.url}/some/page?x=1&y=%20`, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } })
  t.equal(r.status, 200)
  const seen = r.json()
  t.equal(seen.origin, 'monolith')
  t.equal(seen.method, 'POST')
  t.equal(seen.url, '/some/page?x=1&y=%20')
  t.equal(seen.bodyBytes, 5)
  t.equal(mono.received[0]!.body.toString(), 'hello')
})

t.test('no matching route is a 404 problem+json with code route_not_found', async (t) => {
  const mono = await startOrigin(t)
  const g = await startGateway(t, {
    'a.yaml': routeFile('m', mono.url, 'only-api', '/api/**')
  })
  const r = await req(`${g.url}/other`)
  t.equal(r.status, 404)
  t.equal(r.headers['content-type'], 'application/problem+json')
  t.match(r.json(), { type: 'about:blank', status: 404, code: 'route_not_found' })
  t.equal(mono.received.length, 0)
  t.match(await metricsText(g), /figway_local_replies_total\{code="route_not_found"\} 1/)
  const access = accessLines(g).find((l) => l.code === 'route_not_found')
  t.ok(access, 'the access log carries the code')
})
