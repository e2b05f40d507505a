import t from 'tap'
import type { Agent } from 'undici'
import { echo, startOrigin, type Origin } from '../helpers/origin.ts'
import { adminHeaders, agent, req, startGateway, type TestGateway } from '../helpers/gateway.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

const IN_FLIGHT = 32

function routesYaml (origins: Record<string, Origin>, split: string, sticky: string): string {
  return [
    'backends:',
    `  new: { url: "${origins.new!.url}" }`,
    `  old: { url: "${origins.old!.url}" }`,
    'routes:',
    '  - name: orders-read',
    '    match: { path: /api/orders/** }',
    `    split: ${split}`,
    `    sticky: ${sticky}`,
    ''
  ].join('\n')
}

async function setup (t: Teardown, split: string, sticky: string): Promise<{ g: TestGateway, origins: Record<string, Origin> }> {
  const origins = { new: await startOrigin(t, echo('new')), old: await startOrigin(t, echo('old')) }
  const g = await startGateway(t, { 'orders.yaml': routesYaml(origins, split, sticky) })
  return { g, origins }
}

/** Requests /api/orders/1 once per header set, IN_FLIGHT at a time; returns the backend of each. */
async function assign (g: TestGateway, headerSets: ReadonlyArray<Record<string, string>>, dispatcher: Agent): Promise<string[]> {
  const out = new Array<string>(headerSets.length)
  let next = 0
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < headerSets.length) {
      const i = next++
      const r = await req(`${g.url}/api/orders/1`, { headers: headerSets[i], dispatcher })
      if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text}`)
      out[i] = r.json().origin
    }
  }))
  return out
}

const share = (xs: readonly string[], name: string): number => xs.filter((x) => x === name).length / xs.length

t.test('the same x-user-id always lands on the same backend', async (t) => {
  const { g } = await setup(t, '{ new: 50, old: 50 }', '{ header: x-user-id }')
  const dispatcher = agent(t, IN_FLIGHT)
  const keys = Array.from({ length: 500 }, (_, i) => ({ 'x-user-id': `u${i}` }))
  const rounds = [await assign(g, keys, dispatcher), await assign(g, keys, dispatcher), await assign(g, keys, dispatcher)]
  const changed = keys.filter((_, i) => rounds[0]![i] !== rounds[1]![i] || rounds[0]![i] !== rounds[2]![i]).length
  t.equal(changed, 0, 'no key changed backend')
  t.ok(share(rounds[0]!, 'new') > 0.4 && share(rounds[0]!, 'new') < 0.6, `keys spread over both backends (${share(rounds[0]!, 'new')})`)
})

t.test('the sticky header name is case-insensitive, as HTTP header names are', async (t) => {
  const { g } = await setup(t, '{ new: 50, old: 50 }', '{ header: X-User-Id }')
  const dispatcher = agent(t, IN_FLIGHT)
  const keys = Array.from({ length: 100 }, (_, i) => ({ 'x-user-id': `u${i}` }))
  const first = await assign(g, keys, dispatcher)
  t.same(await assign(g, keys.map((k) => ({ 'X-USER-ID': k['x-user-id'] })), dispatcher), first)
})

t.test('the same session cookie always lands on the same backend', async (t) => {
  const { g } = await setup(t, '{ new: 50, old: 50 }', '{ cookie: session_id }')
  const dispatcher = agent(t, IN_FLIGHT)
  const ids = Array.from({ length: 200 }, (_, i) => `s${i}`)
  const first = await assign(g, ids.map((s) => ({ cookie: `session_id=${s}` })), dispatcher)
  // The cookie is found among others, in any position.
  const second = await assign(g, ids.map((s) => ({ cookie: `theme=dark; session_id=${s}; lang=en` })), dispatcher)
  const third = await assign(g, ids.map((s) => ({ cookie: `session_id=${s}` })), dispatcher)
  t.same(second, first)
  t.same(third, first)
  t.ok(share(first, 'new') > 0.35 && share(first, 'new') < 0.65, `sessions spread over both backends (${share(first, 'new')})`)
})

t.test('raising the new backend’s weight only moves users from old to new', async (t) => {
  const { g, origins } = await setup(t, '{ new: 10, old: 90 }', '{ header: x-user-id }')
  const dispatcher = agent(t, IN_FLIGHT)
  const keys = Array.from({ length: 2_000 }, (_, i) => ({ 'x-user-id': `user-${i}` }))

  const at10 = await assign(g, keys, dispatcher)
  // Step 2: a reload of the route file.
  g.writeRoutes('orders.yaml', routesYaml(origins, '{ new: 25, old: 75 }', '{ header: x-user-id }'))
  t.match(await g.gw.reload('test'), { ok: true })
  const at25 = await assign(g, keys, dispatcher)
  // Step 3: runtime weights through the ops API.
  const put = await req(`${g.opsUrl}/admin/routes/orders-read/weights`, { method: 'PUT', headers: { ...adminHeaders, 'content-type': 'application/json' }, body: '{"new":50,"old":50}' })
  t.equal(put.status, 200)
  const at50 = await assign(g, keys, dispatcher)

  const steps = [at10, at25, at50]
  for (let s = 1; s < steps.length; s++) {
    const back = keys.filter((_, i) => steps[s - 1]![i] === 'new' && steps[s]![i] !== 'new').length
    t.equal(back, 0, `no user moved from new back to old at step ${s}`)
  }
  t.ok(Math.abs(share(at10, 'new') - 0.10) < 0.03, `10%: ${share(at10, 'new')}`)
  t.ok(Math.abs(share(at25, 'new') - 0.25) < 0.03, `25%: ${share(at25, 'new')}`)
  t.ok(Math.abs(share(at50, 'new') - 0.50) < 0.03, `50%: ${share(at50, 'new')}`)
})

t.test('a request without the sticky key gets a random backend', async (t) => {
  const { g } = await setup(t, '{ new: 50, old: 50 }', '{ header: x-user-id }')
  const dispatcher = agent(t, IN_FLIGHT)
  const none = await assign(g, Array.from({ length: 300 }, () => ({})), dispatcher)
  t.ok(share(none, 'new') > 0.35 && share(none, 'new') < 0.65, `no key: ${share(none, 'new')}`)
  const empty = await assign(g, Array.from({ length: 300 }, () => ({ 'x-user-id': '' })), dispatcher)
  t.ok(share(empty, 'new') > 0.35 && share(empty, 'new') < 0.65, `an empty key counts as none: ${share(empty, 'new')}`)
})
