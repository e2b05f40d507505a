/**
 * `npm run demo` end to end: starts examples/demo.ts on free ports, runs every command it
 * prints exactly as printed (through `sh`, with the real curl, or with a small stand-in
 * built on fetch where curl is missing), checks each does what its comment says, then sends
 * SIGINT and expects a clean exit 0.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import t from 'tap'

const ROOT = join(import.meta.dirname, '..', '..')

interface Example { comment: string, command: string }

/** A curl stand-in for machines without curl: the options the demo prints, over fetch. */
const FAKE_CURL = `
const args = process.argv.slice(2)
let method, body, url, include = false
const headers = {}
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '-s' || a === '-N') continue
  else if (a === '-i') include = true
  else if (a === '-X') method = args[++i]
  else if (a === '-H') { const h = args[++i]; const c = h.indexOf(':'); headers[h.slice(0, c).trim()] = h.slice(c + 1).trim() }
  else if (a === '-d') { body = args[++i]; method ??= 'POST' }
  else if (a.startsWith('-')) { process.stderr.write('curl: unsupported option ' + a + '\\n'); process.exit(2) }
  else url = a
}
try {
  const r = await fetch(url, { method: method ?? 'GET', headers, body })
  const text = await r.text()
  let head = ''
  if (include) {
    head = 'HTTP/1.1 ' + r.status + ' ' + r.statusText + '\\r\\n'
    for (const [k, v] of r.headers) head += k + ': ' + v + '\\r\\n'
    head += '\\r\\n'
  }
  process.stdout.write(head + text)
} catch (err) {
  process.stderr.write('curl: ' + err.message + '\\n')
  process.exit(7)
}
`

interface T { teardown: (fn: () => unknown) => void, comment: (...msg: unknown[]) => void }

function curlPath (t: T): string {
  const real = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0
  if (real && process.env.FIGWAY_TEST_FAKE_CURL !== '1') return process.env.PATH ?? ''
  const dir = mkdtempSync(join(tmpdir(), 'figway-curl-'))
  writeFileSync(join(dir, 'curl.mjs'), FAKE_CURL)
  writeFileSync(join(dir, 'curl'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(dir, 'curl.mjs'))} "$@"\n`)
  chmodSync(join(dir, 'curl'), 0o755)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.comment(real ? 'using a fetch-based curl stand-in (FIGWAY_TEST_FAKE_CURL=1)' : 'curl not found: using a fetch-based stand-in')
  return dir + delimiter + (process.env.PATH ?? '')
}

async function run (command: string, path: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { env: { ...process.env, PATH: path }, timeout: 15_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${command}\n${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

/** Waits until the demo has printed its guide; returns everything printed so far. */
async function guide (child: ChildProcess, out: { stdout: string, stderr: string }): Promise<string> {
  const done = (): boolean => out.stdout.includes('Press Ctrl-C to stop.')
  if (done()) return out.stdout
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no guide within 20 s; stdout:\n${out.stdout}\nstderr:\n${out.stderr}`)), 20_000)
    const onData = (): void => {
      if (!done()) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      resolve(out.stdout)
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`demo exited with ${code}:\n${out.stdout}\n${out.stderr}`)) })
  })
}

function parseExamples (text: string): Example[] {
  const lines = text.split('\n')
  const examples: Example[] = []
  for (let i = 0; i < lines.length - 1; i++) {
    const c = /^ {2}# (.+)$/.exec(lines[i]!)
    if (c !== null) examples.push({ comment: c[1]!, command: lines[i + 1]!.trim() })
  }
  return examples
}

/** Splits `curl -i` output into status, headers and body. */
function response (raw: string): { status: number, headers: string, body: string } {
  const cut = raw.search(/\r?\n\r?\n/)
  const head = raw.slice(0, cut)
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head)?.[1]), headers: head.toLowerCase(), body: raw.slice(cut).trim() }
}

const SERVICE: Record<string, string> = { monolith: 'monolith', 'orders-http': 'orders-service', 'orders-grpc': 'orders-grpc' }
const servedByLines = (out: string): string[] => [...out.matchAll(/"servedBy":"([^"]+)"/g)].map((m) => m[1]!)

t.test('npm run demo: every printed command does what it says, and Ctrl-C exits 0', async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env, FIGWAY_DEMO_PORTS: 'auto' }
  delete env.FIGWAY_ADMIN_TOKEN
  delete env.FIGWAY_PORT
  delete env.FIGWAY_OPS_PORT
  delete env.FIGWAY_HOST
  const child = spawn(process.execPath, [join(ROOT, 'examples', 'demo.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (c: Buffer) => { out.stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out.stderr += c.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })))
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })

  const text = await guide(child, out)
  const gateway = /^ {2}gateway +(http:\S+)/m.exec(text)?.[1]
  const ops = /^ {2}ops +(http:\S+) +admin token: (\S+)/m.exec(text)
  const ordersUrl = /^ {2}orders-service +(http:\S+)/m.exec(text)?.[1]
  const ordersGrpc = /^ {2}orders-grpc +(\S+:\d+) /m.exec(text)?.[1]
  t.ok(gateway, 'prints the gateway URL')
  t.ok(ordersUrl, 'prints the orders service URL')
  t.ok(ordersGrpc, 'prints the gRPC orders service address')
  t.equal(ops?.[2], 'demo-token', 'prints the admin token')
  t.notMatch(gateway, /:8080$/, 'FIGWAY_DEMO_PORTS=auto: free ports, not the fixed ones')

  const examples = parseExamples(text)
  const path = curlPath(t)
  const checked = new Set<Example>()
  const find = (what: string, test: (e: Example) => boolean): Example => {
    const e = examples.find(test)
    if (e === undefined) throw new Error(`the demo prints no example for: ${what}\n${text}`)
    checked.add(e)
    return e
  }

  // The sticky side of user 42, as the demo announces it, is what the override avoids.
  const sticky = find('sticky, one user', (e) => e.command.includes("-H 'x-user-id: 42'") && e.command.startsWith('for '))

  await t.test('catch-all to the monolith', async (t) => {
    const e = find('catch-all', (e) => e.command.includes('/api/customers/42'))
    const body = JSON.parse(await run(e.command, path))
    t.equal(body.servedBy, 'monolith')
    t.equal(body.customer.id, 42)
  })

  await t.test('writes stay on the monolith', async (t) => {
    const e = find('POST', (e) => e.command.includes('-X POST'))
    const body = JSON.parse(await run(e.command, path))
    t.equal(body.servedBy, 'monolith')
    t.equal(body.order.status, 'placed')
    t.equal(body.order.total, '25.00')
  })

  await t.test('the moved path goes wholly to orders-service, rewritten', async (t) => {
    const e = find('history', (e) => e.command.includes('/api/orders/7/history'))
    for (let i = 0; i < 3; i++) {
      const body = JSON.parse(await run(e.command, path))
      t.equal(body.servedBy, 'orders-service')
      t.equal(body.path, '/orders/7/history', 'the orders service receives the rewritten path')
      t.ok(Array.isArray(body.events) && body.events.length > 0)
    }
  })

  let stickySide = ''
  await t.test('sticky: one user always lands on the same side', async (t) => {
    const announced = /user 42: (monolith|orders-grpc)/.exec(sticky.comment)?.[1]
    t.ok(announced, 'the comment names the side')
    for (let round = 0; round < 2; round++) {
      const sides = servedByLines(await run(sticky.command, path))
      t.equal(sides.length, 3)
      t.same(new Set(sides), new Set([announced]), 'every request of user 42 lands on the announced side')
    }
    stickySide = announced!
  })

  await t.test('the split over several users shows both sides, stably', async (t) => {
    const e = find('split loop', (e) => e.command.includes('x-user-id: $u'))
    const first = await run(e.command, path)
    const perUser = new Map([...first.matchAll(/user (\S+) "servedBy":"([^"]+)"/g)].map((m) => [m[1]!, m[2]!]))
    t.equal(perUser.size, 8, 'one line per user')
    t.same(new Set(perUser.values()), new Set(['monolith', 'orders-grpc']), 'both sides serve some users')
    const announced = /users? ([\d, ]+) get orders-grpc/.exec(e.comment)?.[1]?.split(', ')
    t.same([...perUser].filter(([, s]) => s === 'orders-grpc').map(([u]) => u), announced, 'the users the comment names get orders-grpc')
    t.equal(await run(e.command, path), first, 'the same users land on the same sides again')
  })

  await t.test('REST to gRPC: the order from the gRPC service, with its metadata as a header', async (t) => {
    const e = find('grpc read', (e) => e.command.includes("-H 'x-figway-backend: orders-grpc'") && e.command.endsWith('/api/orders/7'))
    const r = response(await run(e.command, path))
    t.equal(r.status, 200)
    t.match(r.headers, /^content-type: application\/json/m)
    t.match(r.headers, /^grpc-metadata-x-served-by: orders-grpc\r?$/m)
    const body = JSON.parse(r.body)
    t.match(body, { servedBy: 'orders-grpc', path: '/orders.v1.OrderService/GetOrder', order: { id: 7, customerId: 41, total: '61.80' } })
    t.match(body.order.lines[0], { sku: 'BAG-03', quantity: 2, unitPrice: '18.90' }, 'lowerCamelCase names, int32 as numbers, money as strings')
  })

  await t.test('the same JSON from the monolith and from the gRPC service', async (t) => {
    const e = find('both sides', (e) => e.command.startsWith('for b in '))
    const [mono, grpc, ...rest] = (await run(e.command, path)).trim().split('\n').map((l) => JSON.parse(l))
    t.equal(rest.length, 0, 'one reply per side')
    t.match(mono, { servedBy: 'monolith', path: '/api/orders?customerId=42&status=shipped' })
    t.match(grpc, { servedBy: 'orders-grpc', path: '/orders.v1.OrderService/ListOrders' })
    const { servedBy: _m, path: _mp, ...monoRest } = mono
    const { servedBy: _g, path: _gp, ...grpcRest } = grpc
    t.same(grpcRest, monoRest, 'apart from servedBy and path, the replies are equal')
    t.ok(monoRest.count > 0 && monoRest.orders.every((o: { customerId: number, status: string }) => o.customerId === 42 && o.status === 'shipped'), 'both filtered by the query')
  })

  await t.test('a gRPC error is an HTTP status with the google.rpc.Status as JSON', async (t) => {
    const e = find('grpc error', (e) => e.command.includes('/api/orders/999'))
    const r = response(await run(e.command, path))
    t.equal(r.status, 404)
    t.match(r.headers, /^content-type: application\/json/m)
    t.match(r.headers, /^grpc-metadata-x-served-by: orders-grpc\r?$/m)
    t.same(JSON.parse(r.body), { code: 5, message: 'no such order: 999', details: [] })
  })

  await t.test('a server stream arrives as NDJSON, one event per line', async (t) => {
    const e = find('stream', (e) => e.command.includes('/api/orders/7/events'))
    const events = (await run(e.command, path)).trim().split('\n').map((l) => JSON.parse(l))
    const history = JSON.parse(await run(`curl -s ${gateway}/api/orders/7/history`, path))
    t.same(events, history.events, 'the order\'s events, as the history lists them')
    const res = await fetch(`${gateway}/api/orders/7/events`)
    t.match(res.headers.get('content-type'), /^application\/x-ndjson/)
    await res.text()
  })

  await t.test('an encoded slash is a 400 bad_request_path', async (t) => {
    const e = find('bad path', (e) => e.command.includes('%2F'))
    const r = response(await run(e.command, path))
    t.equal(r.status, 400)
    t.match(r.headers, /content-type: application\/problem\+json/)
    t.match(JSON.parse(r.body), { status: 400, code: 'bad_request_path' })
  })

  await t.test('the readiness check on the data port', async (t) => {
    const e = find('ready', (e) => e.command.includes('/__figway/ready'))
    t.same(JSON.parse(await run(e.command, path)), { status: 'ready' })
  })

  await t.test('metrics on the ops port', async (t) => {
    const e = find('metrics', (e) => e.command.includes('/metrics'))
    const out = await run(e.command, path)
    t.match(out, /^figway_requests_total\{route="orders-history",backend="orders-http",method="GET",code="200"\} [1-9]/m)
    t.match(out, /^figway_requests_total\{route="orders-read",backend="orders-grpc",method="GET",code="200"\} [1-9]/m)
    t.match(out, /^figway_requests_total\{route="orders-events",backend="orders-grpc",method="GET",code="200"\} [1-9]/m)
    t.match(out, /^figway_requests_total\{route="orders-read",backend="monolith",method="GET",code="200"\} [1-9]/m)
    t.match(out, /^figway_requests_total\{route="monolith",backend="monolith",method="POST",code="201"\} 1$/m)
  })

  await t.test('admin: the route table', async (t) => {
    const e = find('admin routes', (e) => e.command.includes('/admin/routes'))
    const body = JSON.parse(await run(e.command, path))
    t.same(body.routes.map((r: { name: string }) => r.name).sort(), ['monolith', 'orders-events', 'orders-history', 'orders-read'])
    t.same(body.routes.find((r: { name: string }) => r.name === 'orders-read').weights.file, { 'orders-grpc': 25, monolith: 75 })
    const noToken = await run(e.command.replace(/-H '?authorization: Bearer [^ ]+ /, ''), path)
    t.match(JSON.parse(noToken), { status: 401 }, 'without the token the admin API refuses')
  })

  let explained: any
  await t.test('admin: explain', async (t) => {
    const e = find('admin explain', (e) => e.command.includes('/admin/explain'))
    explained = JSON.parse(await run(e.command, path))
    t.match(explained, { result: 'routed', route: { name: 'orders-read' }, sticky: { header: 'x-user-id', key: '42' }, chosen: { how: 'sticky' } })
    t.equal(SERVICE[explained.chosen.backend], stickySide, 'explain agrees with where user 42 went')
    if (explained.chosen.backend === 'orders-grpc') {
      t.match(explained.chosen.grpc, { method: 'orders.v1.OrderService/GetOrder', request: { id: 7 } }, 'the gRPC call it would make')
    }
  })

  await t.test('the CLI explain suggestion', async (t) => {
    const e = find('cli', (e) => e.command.includes('npm run figway -- explain'))
    // Run what npm would run (the package script is `node src/cli.ts`), with the printed env.
    const [envPart, args] = e.command.split('npm run figway -- ')
    const cliEnv: NodeJS.ProcessEnv = { ...process.env }
    for (const m of envPart!.matchAll(/(\w+)=(\S+)/g)) cliEnv[m[1]!] = m[2]!
    t.equal(cliEnv.ORDERS_URL, ordersUrl, 'the suggestion points the CLI at the demo\'s orders service')
    t.equal(cliEnv.ORDERS_GRPC, ordersGrpc, 'and at its gRPC twin')
    const r = spawnSync(process.execPath, [join(ROOT, 'src', 'cli.ts'), ...args!.trim().split(/\s+/)], { cwd: ROOT, env: cliEnv, encoding: 'utf8' })
    t.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    t.same(out.chosen, explained.chosen, 'the CLI explains what the running gateway explains')
  })

  t.same(examples.filter((e) => !checked.has(e)).map((e) => e.command), [], 'every printed example was run and checked')

  child.kill('SIGINT')
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref())
  const result = await Promise.race([exited, timeout])
  t.same(result, { code: 0, signal: null }, 'SIGINT: drained and exited 0')
  t.match(out.stdout, /SIGINT: draining the gateway[^]*\nstopped\n$/, 'the demo says it drained and stopped')
})
