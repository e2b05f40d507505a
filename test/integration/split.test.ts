import t from 'tap'
import type { Agent } from 'undici'
import type { Origin } from '../helpers/origin.ts'
import { agent, gatewayWith, req, type TestGateway } from '../helpers/gateway.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

const IN_FLIGHT = 32

/** Sends `n` GETs to `url`, at most IN_FLIGHT at a time, over keep-alive connections. */
async function load (url: string, n: number, dispatcher: Agent): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++
      const r = await req(url, { dispatcher })
      if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text}`)
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
}

async function splitGateway (t: Teardown, split: string, names = ['a', 'b'], extra = ''): Promise<{ g: TestGateway, origins: Record<string, Origin> }> {
  return await gatewayWith(t, names, [
    '  - name: split',
    '    match: { path: /** }',
    `    split: ${split}`,
    ...(extra === '' ? [] : [`    ${extra}`]),
    ''
  ].join('\n'))
}

t.test('without a sticky key, split {a: 25, b: 75} sends a 25% (±3 points) of 5,000 requests', async (t) => {
  const { g, origins } = await splitGateway(t, '{ a: 25, b: 75 }')
  await load(`${g.url}/x`, 5_000, agent(t, IN_FLIGHT))
  const a = origins.a!.received.length
  const b = origins.b!.received.length
  t.equal(a + b, 5_000)
  t.ok(Math.abs(a / 5_000 - 0.25) <= 0.03, `a got ${(100 * a / 5_000).toFixed(1)}%`)
})

t.test('weights are normalised: {a: 1, b: 3} sends every user where {a: 25, b: 75} does', async (t) => {
  // With a sticky key the choice is deterministic, so the two splits can be compared user by user.
  const small = await splitGateway(t, '{ a: 1, b: 3 }', ['a', 'b'], 'sticky: { header: x-user-id }')
  const large = await splitGateway(t, '{ a: 25, b: 75 }', ['a', 'b'], 'sticky: { header: x-user-id }')
  const dispatcher = agent(t, IN_FLIGHT)
  let same = 0
  let onA = 0
  const users = 400
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    for (let i = w; i < users; i += 8) {
      const headers = { 'x-user-id': `user-${i}` }
      const x = (await req(`${small.g.url}/x`, { headers, dispatcher })).json().origin
      const y = (await req(`${large.g.url}/x`, { headers, dispatcher })).json().origin
      if (x === y) same++
      if (x === 'a') onA++
    }
  }))
  t.equal(same, users)
  t.ok(Math.abs(onA / users - 0.25) <= 0.06, `a got ${(100 * onA / users).toFixed(1)}% of users`)
})

t.test('a backend with weight 0 gets no request', async (t) => {
  const { g, origins } = await splitGateway(t, '{ a: 0, b: 1, c: 1 }', ['a', 'b', 'c'])
  await load(`${g.url}/x`, 600, agent(t, IN_FLIGHT))
  t.equal(origins.a!.received.length, 0)
  t.equal(origins.b!.received.length + origins.c!.received.length, 600)
  t.ok(origins.b!.received.length > 200 && origins.c!.received.length > 200, 'the others share the traffic')
})

t.test('a split whose weights add up to 0 is refused at load', async (t) => {
  await t.rejects(splitGateway(t, '{ a: 0, b: 0 }'), { name: 'ConfigError', message: /split.*0/ })
})
