import t from 'tap'
import { echo, startOrigin } from '../helpers/origin.ts'
import { accessLines, adminHeaders, agent, eventually, req, scrape } from '../helpers/gateway.ts'
import { runCli, spawnGateway, writeConfigTree, type GatewayProcess } from '../helpers/process.ts'

const routes = (a: string, b: string): Record<string, string> => ({
  'routes.yaml': `backends:\n  a: { url: "${a}" }\n  b: { url: "${b}" }\nroutes:\n` +
    '  - name: all\n    match: { path: /** }\n    split: { a: 50, b: 50 }\n'
})

/** Pids of the workers that have logged "figway worker listening", in order. */
const workerPids = (p: GatewayProcess): number[] => p.logs.filter((l) => l.msg === 'figway worker listening').map((l) => Number(l.pid))

async function readyWorkers (p: GatewayProcess): Promise<number> {
  const r = await req(`${p.opsUrl}/readyz`)
  return r.status === 200 ? (r.json().workers.ready as number) : 0
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

const requestsTotal = (m: Map<string, number>): number => [...m].filter(([k]) => k.startsWith('figway_requests_total{')).reduce((n, [, v]) => n + v, 0)

t.test('serve --workers 2: two workers share the data port, /metrics sums them, writes reach both, a killed worker is replaced, SIGTERM exits 0', async (t) => {
  const a = await startOrigin(t, echo('a'))
  const b = await startOrigin(t, echo('b'))
  const p = await spawnGateway(t, routes(a.url, b.url), '', { args: ['--workers', '2'], readyTimeoutMs: 30_000 })
  t.ok(await eventually(async () => await readyWorkers(p) === 2, 30_000, 100), '/readyz reports two ready workers')
  // Log lines below warn are written in batches, within 200 ms.
  await eventually(() => workerPids(p).length === 2, 5_000)
  const workers = workerPids(p)
  t.equal(new Set(workers).size, 2, 'two worker processes')
  t.notOk(workers.includes(p.pid), 'neither is the primary')
  t.equal((await req(`${p.opsUrl}/healthz`)).status, 200)

  // Concurrent requests on many connections: the cluster hands connections to both workers.
  const dispatcher = agent(t, 16)
  const burst = async (n: number): Promise<string[]> => (await Promise.all(Array.from({ length: n }, async (_, i) => await req(`${p.url}/item/${i}`, { dispatcher })))).map((r) => {
    if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text}`)
    return r.json().origin as string
  })
  await burst(60)
  t.ok(await eventually(() => accessLines(p).length >= 60, 5_000), 'every request has its access line')
  const byPid = new Map<number, number>()
  for (const l of accessLines(p)) byPid.set(Number(l.pid), (byPid.get(Number(l.pid)) ?? 0) + 1)
  t.same([...byPid.keys()].sort(), [...workers].sort(), `both workers served requests (${JSON.stringify([...byPid])})`)

  const m = await scrape(p)
  t.equal(requestsTotal(m), 60, 'figway_requests_total on the primary\'s /metrics is the sum over both workers')
  t.equal(m.get('figway_route_weight{route="all",backend="a"}'), 50, 'a gauge every worker holds is reported once, not summed')
  t.ok((m.get('process_resident_memory_bytes') ?? 0) > 0, 'process metrics are there too')

  const reload = await req(`${p.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })
  t.equal(reload.status, 200)
  t.equal(reload.json().ok, true)
  t.same(reload.json().workers.map((w: { pid: number }) => w.pid).sort(), [...workers].sort(), 'POST /admin/reload reached both workers')
  t.equal((await req(`${p.opsUrl}/admin/routes`)).status, 401, 'reads relayed to a worker keep its authentication')
  t.equal((await req(`${p.opsUrl}/admin/routes`, { headers: adminHeaders })).json().routes[0].name, 'all')

  const put = await req(`${p.opsUrl}/admin/routes/all/weights`, { method: 'PUT', headers: { ...adminHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ a: 0, b: 100 }) })
  t.equal(put.status, 200)
  t.same(put.json().workers.map((w: { status: number }) => w.status), [200, 200], 'runtime weights set on both workers')
  t.same(new Set(await burst(30)), new Set(['b']), 'and both follow them')

  p.child.kill('SIGHUP')
  t.ok(await eventually(() => new Set(p.logs.filter((l) => l.msg === 'route table reloaded' && l.reason === 'SIGHUP').map((l) => Number(l.pid))).size === 2, 5_000), 'SIGHUP to the primary reloads every worker')

  // A worker killed hard is replaced; the replacement gets the runtime weights before traffic.
  const victim = workers[0]!
  process.kill(victim, 'SIGKILL')
  t.ok(await eventually(() => workerPids(p).length === 3, 20_000, 50), 'a replacement worker starts')
  const replacement = workerPids(p)[2]!
  t.ok(await eventually(async () => await readyWorkers(p) === 2, 5_000, 50), 'two workers are ready again')
  t.ok(p.logs.some((l) => l.msg === 'worker exited; starting a replacement' && l.pid === p.pid && l.workerPid === victim), 'the primary logs the exit')
  const before = accessLines(p).length
  t.same(new Set(await burst(60)), new Set(['b']), 'the replacement follows the runtime weights set before it started')
  t.ok(await eventually(() => accessLines(p).length >= before + 60, 5_000))
  t.ok(accessLines(p).slice(before).some((l) => Number(l.pid) === replacement), 'the replacement serves requests')
  t.ok(requestsTotal(await scrape(p)) > 0, '/metrics still answers')

  p.child.kill('SIGTERM')
  t.same(await p.exited, { code: 0, signal: null }, 'SIGTERM: the primary drains every worker and exits 0')
  t.ok(await eventually(() => [workers[1]!, replacement].every((pid) => !alive(pid)), 5_000), 'no worker is left running')
})

t.test('serve --workers refuses a bad count, and a bad route table once, before forking', async (t) => {
  const tree = writeConfigTree(t, { 'bad.yaml': 'routes:\n  - name: x\n    match: { path: /** }\n    to: nowhere\n' }, 'listen: { host: 127.0.0.1, port: 0 }\nops: { host: 127.0.0.1, port: 0 }\nroutes: ../routes\n')
  const count = await runCli(['serve', '--workers', 'many', '--config', tree.configFile])
  t.equal(count.code, 1)
  t.match(count.stderr, /--workers: expected a number from 1 to \d+ or auto, got "many"/)
  const bad = await runCli(['serve', '--workers', '2', '--config', tree.configFile])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /bad\.yaml:4/)
  t.equal(bad.stderr.match(/nowhere/g)?.length, 1, 'the error is printed once')
})
