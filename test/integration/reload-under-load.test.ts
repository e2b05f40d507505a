import t from 'tap'
import type { Socket } from 'node:net'
import { echo, startOrigin, type Origin } from '../helpers/origin.ts'
import { adminHeaders, agent, eventually, reloadCount, req, sleep, startGateway } from '../helpers/gateway.ts'
import { monolithFile, routeFile } from '../helpers/routes.ts'

/** Counts the TCP connections an origin accepts, and how many of them are still open. */
function connections (o: Origin): { accepted: () => number, open: () => number } {
  const sockets = new Set<Socket>()
  let accepted = 0
  o.server.on('connection', (s: Socket) => {
    accepted++
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  return { accepted: () => accepted, open: () => sockets.size }
}

async function reload (opsUrl: string): Promise<{ ok: boolean }> {
  return (await req(`${opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })).json()
}

t.test('rewriting the route file under load, with a broken version in between, fails no request', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const a = await startOrigin(t, echo('orders-a'))
  const b = await startOrigin(t, echo('orders-b'))
  const tableA = routeFile('orders-a', a.url, 'orders', '/api/orders/**')
  const tableB = routeFile('orders-b', b.url, 'orders', '/api/orders/**')
  const broken = routeFile('orders-b', b.url, 'orders', '/api/orders/**', 'orders-c')
  const g = await startGateway(t, {
    'monolith.yaml': monolithFile(mono.url),
    'orders.yaml': tableA
  }, '', { watch: true, watchPollMs: 60_000 })
  const dispatcher = agent(t, 16)

  const LOAD_MS = 3_000
  const stopAt = Date.now() + LOAD_MS
  const failures: string[] = []
  const seen = new Map<string, number>()
  let total = 0
  const client = async (id: number): Promise<void> => {
    for (let i = 0; Date.now() < stopAt; i++) {
      const orders = (i + id) % 4 !== 0
      const path = orders ? `/api/orders/${id}-${i}` : `/catalog/${id}-${i}`
      const expected = orders ? ['orders-a', 'orders-b'] : ['monolith']
      total++
      try {
        const r = await req(g.url + path, { dispatcher })
        const origin = r.status === 200 ? r.json().origin as string : ''
        if (r.status !== 200 || !expected.includes(origin)) failures.push(`${path}: ${r.status} from "${origin}" ${r.text.slice(0, 200)}`)
        else seen.set(origin, (seen.get(origin) ?? 0) + 1)
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`)
      }
    }
  }
  const writer = async (): Promise<void> => {
    const sequence = [tableB, tableA, broken, tableB, tableA, tableB, broken, tableA]
    for (const yaml of sequence) {
      await sleep(LOAD_MS / (sequence.length + 1))
      g.writeRoutes('orders.yaml', yaml)
    }
  }
  await Promise.all([writer(), ...Array.from({ length: 16 }, async (_, i) => await client(i))])

  t.same(failures.slice(0, 10), [], 'no request failed')
  t.equal(failures.length, 0, `0 failures out of ${total}`)
  t.ok(total >= 500, `the load was real (${total})`)
  t.ok((seen.get('orders-a') ?? 0) > 0 && (seen.get('orders-b') ?? 0) > 0, `both tables served: ${JSON.stringify(Object.fromEntries(seen))}`)
  const installed = await reloadCount(g, 'success')
  const refused = await reloadCount(g, 'failure')
  t.ok(installed >= 6, `the watcher installed the good tables (${installed} successful reloads besides startup)`)
  t.ok(refused >= 1, `and refused the broken one (${refused})`)
})

t.test('a slow request that started before a reload removed its route still completes with 200', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  const slow = await startOrigin(t, (req, res) => {
    void released.then(() => echo('slow')(req, res, Buffer.alloc(0)))
  })
  const slowConns = connections(slow)
  const g = await startGateway(t, {
    'monolith.yaml': monolithFile(mono.url),
    'slow.yaml': routeFile('slow', slow.url, 'slow', '/slow/**')
  })

  const inflight = req(`${g.url}/slow/report`)
  t.ok(await eventually(() => slow.received.length === 1, 2_000), 'the request reached the slow origin')

  g.writeRoutes('slow.yaml', null)
  t.same(await reload(g.opsUrl), { ok: true, version: 2, errors: [] }, 'the route and its backend are removed')
  t.equal((await req(`${g.url}/slow/report`)).json().origin, 'monolith', 'new requests use the new table')
  t.equal(slowConns.open(), 1, 'the removed backend\'s pool keeps its busy connection')

  release()
  const r = await inflight
  t.equal(r.status, 200, 'the in-flight request completes')
  t.equal(r.json().origin, 'slow', 'on the backend of the old table')
  t.ok(await eventually(() => slowConns.open() === 0, 1_000), 'then the removed backend\'s pool closes its connection')
})

t.test('a reload keeps the warm connections of an unchanged backend and closes the idle pool of a removed one', async (t) => {
  const kept = await startOrigin(t, echo('kept'))
  const removed = await startOrigin(t, echo('removed'))
  const keptConns = connections(kept)
  const removedConns = connections(removed)
  const g = await startGateway(t, {
    'kept.yaml': routeFile('kept', kept.url, 'kept', '/kept/**'),
    'removed.yaml': routeFile('removed', removed.url, 'removed', '/removed/**')
  })
  for (let i = 0; i < 5; i++) {
    t.equal((await req(`${g.url}/kept/${i}`)).status, 200)
    t.equal((await req(`${g.url}/removed/${i}`)).status, 200)
  }
  t.equal(keptConns.accepted(), 1, 'sequential requests share one keep-alive connection')
  t.equal(removedConns.open(), 1, 'the other backend holds one idle connection')

  // Reload three times: unchanged content, then the other backend removed, then a route added.
  t.equal((await reload(g.opsUrl)).ok, true)
  g.writeRoutes('removed.yaml', null)
  t.equal((await reload(g.opsUrl)).ok, true)
  g.writeRoutes('extra.yaml', 'routes:\n  - name: extra\n    match: { path: /extra/** }\n    to: kept\n')
  t.equal((await reload(g.opsUrl)).ok, true)

  t.ok(await eventually(() => removedConns.open() === 0, 1_000), 'the removed backend\'s idle connection is closed at once')
  for (let i = 0; i < 5; i++) t.equal((await req(`${g.url}/kept/${i}`)).json().origin, 'kept')
  t.equal((await req(`${g.url}/extra/1`)).json().origin, 'kept')
  t.equal(keptConns.accepted(), 1, 'the unchanged backend opened no new connection across the reloads')
  t.equal(keptConns.open(), 1)
})
