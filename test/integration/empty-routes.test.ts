import t from 'tap'
import { startOrigin } from '../helpers/origin.ts'
import { req, startGateway } from '../helpers/gateway.ts'
import { routeFile } from '../helpers/routes.ts'

t.test('an emptied routes folder is refused and the previous table keeps serving', async (t) => {
  const mono = await startOrigin(t)
  const g = await startGateway(t, {
    'a.yaml': routeFile('m', mono.url, 'all', '/**')
  })
  g.writeRoutes('a.yaml', `backends:\n  m: { url: "${mono.url}" }\n`)
  const r = await g.gw.reload('test')
  t.equal(r.ok, false)
  t.match(r.issues[0]!.message, /no routes are defined/)
  t.equal((await req(`${g.url}/still/served`)).status, 200)
  g.writeRoutes('a.yaml', null)
  const r2 = await g.gw.reload('test')
  t.equal(r2.ok, false, 'a folder with no route files at all is refused too')
  t.equal((await req(`${g.url}/still/served`)).status, 200)
})

t.test('a gateway does not start on a routes folder without routes', async (t) => {
  await t.rejects(startGateway(t, { 'a.yaml': '# nothing here yet\n' }), /no routes are defined/)
})
