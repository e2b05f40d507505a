/**
 * What a gateway loads is what it uses: without a gRPC backend, a `figway serve` process
 * loads neither @grpc/grpc-js nor the protobuf packages, nor undici's fetch/WebSocket half,
 * nor Node's bundled undici, nor Fastify's schema compilers (memory a gateway pays for on
 * every pod). The first gRPC backend, here arriving by a reload, loads gRPC support then,
 * and transcoding works from the reloaded table on.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { adminHeaders, req, sleep } from '../helpers/gateway.ts'
import { echoRoutes, startGrpcEcho } from '../helpers/grpc-echo.ts'
import { startOrigin } from '../helpers/origin.ts'
import { spawnGateway, type GatewayProcess } from '../helpers/process.ts'

const MODULE_LOG = fileURLToPath(new URL('../helpers/module-log.ts', import.meta.url))

interface Loaded { urls: string[], builtins: string[] }

/** The modules the process has loaded so far (test/helpers/module-log.ts). */
async function loaded (g: GatewayProcess): Promise<Loaded> {
  const before = g.stderr().length
  g.child.kill('SIGUSR2')
  for (let i = 0; i < 200; i++) {
    const m = /loaded-modules (.*)\n/.exec(g.stderr().slice(before))
    if (m !== null) return JSON.parse(m[1]!) as Loaded
    await sleep(10)
  }
  throw new Error('the process did not report its modules')
}

const pkg = (l: Loaded, name: string): boolean => l.urls.some((u) => u.includes(`/node_modules/${name}/`))

t.test('an HTTP-only gateway does not load gRPC, protobuf or unused undici parts; a reload adding a gRPC backend does', async (t) => {
  const origin = await startOrigin(t)
  const g = await spawnGateway(t, {
    'http.yaml': `backends:\n  monolith: { url: "${origin.url}" }\nroutes:\n  - name: legacy\n    match: { path: /legacy/** }\n    to: monolith\n`
  }, '', { nodeArgs: ['--import', MODULE_LOG] })

  const first = await req(`${g.url}/legacy/orders/1`)
  t.equal(first.status, 200, 'the HTTP route answers')
  const before = await loaded(g)
  t.ok(pkg(before, 'undici'), 'the module log sees dependencies load')
  for (const name of ['@grpc/grpc-js', '@bufbuild/protobuf', 'protobufjs', 'ajv']) t.notOk(pkg(before, name), `${name} not loaded`)
  t.notOk(before.urls.some((u) => u.includes('/node_modules/undici/lib/web/')), "undici's fetch and WebSocket not loaded")
  t.notOk(before.builtins.some((b) => b.includes('internal/deps/undici')), "Node's bundled undici not loaded")

  const echo = await startGrpcEcho(t)
  for (const [file, text] of Object.entries(echoRoutes(echo, { routes: ['  - name: api', '    match: { path: /v1/** }', '    to: echo'] }))) {
    mkdirSync(dirname(join(g.routesDir, file)), { recursive: true })
    writeFileSync(join(g.routesDir, file), text)
  }
  const reload = await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })
  t.equal(reload.status, 200, reload.text)

  const r = await req(`${g.url}/v1/echo?name=lazy`)
  t.equal(r.status, 200, r.text)
  t.match(JSON.parse(r.text), { name: 'lazy' }, 'transcoded by the gRPC backend the reload added')
  t.equal(echo.calls.length, 1, 'the gRPC server received the call')
  t.equal((await req(`${g.url}/legacy/orders/2`)).status, 200, 'the HTTP route still answers')
  const after = await loaded(g)
  t.ok(pkg(after, '@grpc/grpc-js'), '@grpc/grpc-js loaded once a gRPC backend is configured')
  t.ok(pkg(after, '@bufbuild/protobuf'), '@bufbuild/protobuf loaded once a gRPC backend is configured')
})
