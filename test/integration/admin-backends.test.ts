/** GET /admin/backends: each backend's breaker state, in-flight count and recent error rate. */
import t from 'tap'
import { adminHeaders, req, startGateway } from '../helpers/gateway.ts'
import { startOrigin } from '../helpers/origin.ts'

t.test('/admin/backends shows breaker state, in-flight and the error rate of the current window', async (t) => {
  let failing = true
  const flaky = await startOrigin(t, (_req, res) => { res.statusCode = failing ? 503 : 200; res.end() })
  const g = await startGateway(t, {
    'r.yaml': `backends:
  flaky: { url: "${flaky.url}", maxInFlight: 7, breaker: { errorRate: 0.5, minRequests: 4, window: 10s, openFor: 30s } }
routes:
  - { name: all, match: { path: /** }, to: flaky }
`
  })
  const before = (await req(`${g.opsUrl}/admin/backends`, { headers: adminHeaders })).json()
  t.match(before.backends[0], { name: 'flaky', breaker: 'closed', inflight: 0, maxInFlight: 7, window: { attempts: 0, failures: 0, errorRate: 0 } })
  for (let i = 0; i < 2; i++) await req(`${g.url}/x`)
  failing = false
  for (let i = 0; i < 2; i++) await req(`${g.url}/x`)
  const mid = (await req(`${g.opsUrl}/admin/backends`, { headers: adminHeaders })).json()
  t.match(mid.backends[0], { breaker: 'closed', window: { attempts: 4, failures: 2, errorRate: 0.5 } })
  failing = true
  for (let i = 0; i < 2; i++) await req(`${g.url}/x`)
  const after = (await req(`${g.opsUrl}/admin/backends`, { headers: adminHeaders })).json()
  t.equal(after.backends[0].breaker, 'open', 'half the attempts failed with at least minRequests: open')
  t.equal((await req(`${g.opsUrl}/admin/backends`)).status, 401, 'the token is required')
})
