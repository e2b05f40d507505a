import t from 'tap'
import { connect } from 'node:net'
import { echo, startOrigin, type Handler } from '../helpers/origin.ts'
import { accessLines, agent, eventually, req, sleep } from '../helpers/gateway.ts'
import { spawnGateway, type GatewayProcess } from '../helpers/process.ts'

const routes = (slowUrl: string, fastUrl: string): Record<string, string> => ({
  'routes.yaml': `backends:\n  slow: { url: "${slowUrl}" }\n  fast: { url: "${fastUrl}" }\nroutes:\n` +
    '  - name: slow\n    match: { path: /slow/** }\n    to: slow\n' +
    '  - name: fast\n    match: { path: /** }\n    to: fast\n'
})

/** An origin that answers after `ms` milliseconds. */
const delayed = (name: string, ms: number): Handler => (req, res, body) => { setTimeout(() => echo(name)(req, res, body), ms) }

async function refused (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(false) })
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

async function readiness (p: GatewayProcess): Promise<{ ops: number, data: number }> {
  const [ops, data] = await Promise.all([req(`${p.opsUrl}/readyz`), req(`${p.url}/__figway/ready`)])
  return { ops: ops.status, data: data.status }
}

t.test('on SIGTERM figway turns unready at once, serves through the drain delay, finishes in-flight work, refuses new connections and exits 0', async (t) => {
  const slow = await startOrigin(t, delayed('slow', 1_500))
  const fast = await startOrigin(t, echo('fast'))
  const p = await spawnGateway(t, routes(slow.url, fast.url), 'shutdown: { drainDelay: 1s, timeout: 3s }')
  const dispatcher = agent(t, 4)
  const warm = await req(`${p.url}/warm`, { dispatcher })
  t.equal(warm.status, 200)
  t.not(warm.headers.connection, 'close', 'before SIGTERM connections are kept alive')
  t.same(await readiness(p), { ops: 200, data: 200 })

  const inflight = req(`${p.url}/slow/report`, { dispatcher })
  t.ok(await eventually(() => slow.received.length === 1, 2_000, 5), 'the slow request reached its origin')

  const sigterm = Date.now()
  p.child.kill('SIGTERM')
  let unready = await readiness(p)
  while (unready.ops === 200 && Date.now() - sigterm < 500) unready = await readiness(p)
  t.same(unready, { ops: 503, data: 503 }, '/readyz and /__figway/ready are 503')
  t.ok(Date.now() - sigterm < 300, `at once (${Date.now() - sigterm} ms after SIGTERM)`)

  await sleep(300)
  const during = await req(`${p.url}/during-drain`, { dispatcher })
  t.equal(during.status, 200, `a request ${Date.now() - sigterm} ms into the drain delay is served`)
  t.equal(during.json().origin, 'fast')
  t.equal(during.headers.connection, 'close', 'with Connection: close')
  const again = await req(`${p.url}/during-drain-2`, { dispatcher })
  t.equal(again.status, 200, 'and so is the next one, on a new connection')
  t.equal(again.headers.connection, 'close')
  t.equal(p.child.exitCode, null, 'the process is still running')

  await sleep(1_000 - (Date.now() - sigterm))
  let isRefused = await refused(p.dataPort)
  while (!isRefused && Date.now() - sigterm < 1_400) {
    await sleep(20)
    isRefused = await refused(p.dataPort)
  }
  t.ok(isRefused, `after the drain delay new connections are refused (${Date.now() - sigterm} ms after SIGTERM)`)
  t.equal(p.child.exitCode, null, 'while the in-flight request is still running')

  const r = await inflight
  t.equal(r.status, 200, 'the in-flight request completes')
  t.equal(r.json().origin, 'slow')
  t.equal(r.headers.connection, 'close', 'its response carries Connection: close')

  const exit = await p.exited
  t.same(exit, { code: 0, signal: null }, 'figway exits 0')
  t.ok(Date.now() - sigterm >= 1_400, 'only after the in-flight work is done')
  t.ok(p.logs.some((l) => l.msg === 'drained; closing'), 'the drain is logged')
  t.equal(accessLines(p).filter((l) => l.status !== 200).length, 0, 'no request ended otherwise than 200')
})

t.test('a request still running when shutdown.timeout passes is cut, and figway exits 0 on time', async (t) => {
  const slow = await startOrigin(t, delayed('slow', 10_000))
  const fast = await startOrigin(t, echo('fast'))
  const p = await spawnGateway(t, routes(slow.url, fast.url), 'shutdown: { drainDelay: 0s, timeout: 500ms }')
  const stuck = req(`${p.url}/slow/forever`).then((r) => r.status, (err: Error) => err.message)
  t.ok(await eventually(() => slow.received.length === 1, 2_000, 5))
  const sigterm = Date.now()
  p.child.kill('SIGTERM')
  const exit = await p.exited
  const took = Date.now() - sigterm
  t.same(exit, { code: 0, signal: null }, 'exit 0')
  t.ok(took >= 450 && took < 3_000, `after about shutdown.timeout (${took} ms)`)
  t.not(await stuck, 200, 'the stuck request did not complete')
  t.ok(p.logs.some((l) => l.msg === 'shutdown timeout: closing remaining connections'), 'the cut is logged')
})

t.test('clients that stop sending once the readiness check fails, as the ALB does, see no failed request across SIGTERM', async (t) => {
  const slow = await startOrigin(t, delayed('slow', 1_500))
  const fast = await startOrigin(t, (req, res, body) => { setTimeout(() => echo('fast')(req, res, body), Math.floor(Math.random() * 5)) })
  const p = await spawnGateway(t, routes(slow.url, fast.url), 'shutdown: { drainDelay: 1s, timeout: 5s }')
  const dispatcher = agent(t, 24)

  // The ALB polls the target's health check and stops routing to it once that fails.
  let healthy = true
  let sigtermAt = 0
  let unhealthyAt = 0
  const poller = (async () => {
    while (healthy) {
      await sleep(100)
      try {
        if ((await req(`${p.url}/__figway/ready`)).status !== 200) healthy = false
      } catch { healthy = false }
    }
    unhealthyAt = Date.now()
  })()

  const failures: string[] = []
  let total = 0
  let afterSigterm = 0
  const check = async (path: string, origin: string): Promise<void> => {
    total++
    if (sigtermAt !== 0) afterSigterm++
    try {
      const r = await req(p.url + path, { dispatcher })
      if (r.status !== 200 || r.json().origin !== origin) failures.push(`${path}: ${r.status} ${r.text.slice(0, 200)}`)
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`)
    }
  }
  const client = async (id: number): Promise<void> => {
    for (let i = 0; healthy; i++) await check(`/api/${id}/${i}`, 'fast')
  }
  const clients = Array.from({ length: 16 }, async (_, i) => await client(i))
  await sleep(1_000)
  // Requests that will still be running when the listener stops, a second after SIGTERM.
  const slowOnes = Array.from({ length: 4 }, async (_, i) => await check(`/slow/${i}`, 'slow'))
  await sleep(50)
  sigtermAt = Date.now()
  p.child.kill('SIGTERM')
  await Promise.all([poller, ...clients])
  const stoppedAt = Date.now()
  await Promise.all(slowOnes)

  t.same(failures.slice(0, 10), [], 'no request failed')
  t.equal(failures.length, 0, `0 failures out of ${total}`)
  t.ok(total >= 50, `the load was real (${total} requests)`)
  t.ok(afterSigterm > 0, `requests sent after SIGTERM were served too (${afterSigterm})`)
  t.ok(unhealthyAt - sigtermAt < 500, `the check noticed within ${unhealthyAt - sigtermAt} ms`)
  t.ok(Date.now() - stoppedAt > 500, 'the slow requests were still in flight when the listener stopped, and finished')
  t.same(await p.exited, { code: 0, signal: null }, 'figway exits 0')
})
