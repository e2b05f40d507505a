/**
 * REST → gRPC in the ops API and at load: /admin/explain shows the gRPC method and the
 * request message a request would become (spec §6); protos that fail to load, services
 * the protos lack and bad http rules refuse the table with file and line (spec §7).
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { adminHeaders, req, startGateway, type TestGateway } from '../../helpers/gateway.ts'
import { runCli } from '../../helpers/process.ts'
import { echoRoutes, startGrpcEcho, ECHO_PROTO } from '../../helpers/grpc-echo.ts'
import { echoGateway } from './setup.ts'

async function explain (g: TestGateway, method: string, path: string): Promise<any> {
  const r = await req(`${g.opsUrl}/admin/explain?${new URLSearchParams({ method, path }).toString()}`, { headers: adminHeaders })
  if (r.status !== 200) throw new Error(`explain answered ${r.status}: ${r.text}`)
  return r.json()
}

t.test('explain: the gRPC method and the request message, from path and query', async (t) => {
  const e = await echoGateway(t)
  const x = await explain(e.g, 'GET', '/v1/things/7?tags=a&tags=b&kind=2&nested.note=n')
  t.match(x, { method: 'GET', route: { name: 'api' }, chosen: { backend: 'echo' } })
  t.match(x.chosen.grpc, { method: 'echo.v1.EchoService/GetThing' })
  t.same(x.chosen.grpc.request, { id: '7', tags: ['a', 'b'], kind: 'LARGE', nested: { note: 'n' } })
  t.equal(e.echo.calls.length, 0, 'explaining sends nothing')
})

t.test('explain: nested path variables and additional bindings', async (t) => {
  const e = await echoGateway(t)
  const book = await explain(e.g, 'GET', '/v1/shelves/s1/books/b2')
  t.match(book.chosen.grpc, { method: 'echo.v1.EchoService/GetBook' })
  t.same(book.chosen.grpc.request, { book: { name: 'shelves/s1/books/b2' } })
  const extra = await explain(e.g, 'GET', '/v1/shelves/s1/things/7')
  t.match(extra.chosen.grpc, { method: 'echo.v1.EchoService/GetThing' })
  t.same(extra.chosen.grpc.request, { shelf: 's1', id: '7' })
})

t.test('explain: a path no binding takes, or one bound to other methods, says so', async (t) => {
  const e = await echoGateway(t)
  const none = await explain(e.g, 'GET', '/v1/nothing')
  t.match(none.chosen.grpc, { status: 404 })
  t.notOk(none.chosen.grpc.method)
  const other = await explain(e.g, 'PUT', '/v1/things/7')
  t.match(other.chosen.grpc, { status: 405 })
  t.same(other.chosen.grpc.allow, ['DELETE', 'GET', 'PATCH'])
})

t.test('explain: a route naming a method', async (t) => {
  const e = await echoGateway(t, {
    routes: ['  - name: one', '    match: { path: /internal/:id }', '    to: echo', '    grpc: { method: echo.v1.EchoService/Internal }']
  })
  const x = await explain(e.g, 'GET', '/internal/9?name=n')
  t.match(x, { route: { name: 'one' } })
  t.match(x.chosen.grpc, { method: 'echo.v1.EchoService/Internal' })
  t.same(x.chosen.grpc.request, { id: '9', name: 'n' })
})

t.test('the CLI\'s explain prints the same gRPC method and request', async (t) => {
  const e = await echoGateway(t)
  const viaApi = await explain(e.g, 'GET', '/v1/things/7?tags=a')
  const cli = await runCli(['explain', 'GET', '/v1/things/7?tags=a', '--config', join(e.g.dir, 'config', 'gateway.yaml')])
  t.equal(cli.code, 0, cli.stderr)
  t.same(JSON.parse(cli.stdout).chosen.grpc, viaApi.chosen.grpc)
})

/** Starting a gateway on `routes` fails; resolves with the error's message. */
async function refusedAtStart (t: Test, routes: Record<string, string>): Promise<string> {
  try {
    await startGateway(t, routes)
  } catch (err) {
    return (err as Error).message
  }
  t.fail('the gateway started')
  return ''
}

const BAD_RULE = `syntax = "proto3";
package bad.v1;
import "google/api/annotations.proto";
message M { string id = 1; }
service Bad {
  rpc Get(M) returns (M) {
    option (google.api.http) = { get: "/v1/{id" };
  }
}
`

const SYNTAX_ERROR = `syntax = "proto3";
package bad.v1;
message M {
  string id = 1
  string name = 2;
}
service Bad { rpc Get(M) returns (M); }
`

const MISSING_TYPE = `syntax = "proto3";
package bad.v1;
message M {
  string id = 1;
  Missing other = 2;
}
service Bad { rpc Get(M) returns (M); }
`

const BODY_NOT_A_FIELD = `syntax = "proto3";
package bad.v1;
import "google/api/annotations.proto";
message M { string id = 1; }
service Bad {
  rpc Get(M) returns (M) {
    option (google.api.http) = { post: "/v1/m" body: "nope" };
  }
}
`

function badRoutes (target: string, proto: string): Record<string, string> {
  const routes = echoRoutes({ target })
  return {
    ...routes,
    'protos/bad/v1/bad.proto': proto,
    'echo.yaml': routes['echo.yaml']!.replace(`protos: [protos/${ECHO_PROTO}]`, 'protos: [protos/bad/v1/bad.proto]').replace('services: [echo.v1.EchoService]', 'services: [bad.v1.Bad]')
  }
}

for (const [what, proto, line] of [
  ['a syntax error', SYNTAX_ERROR, 5],
  ['an unknown type', MISSING_TYPE, 5],
  ['a malformed path template', BAD_RULE, 6],
  ['a body naming no field', BODY_NOT_A_FIELD, 6]
] as const) {
  t.test(`a proto with ${what} refuses the table, naming the file and line`, async (t) => {
    const msg = await refusedAtStart(t, badRoutes('127.0.0.1:1', proto))
    t.match(msg, /bad\.proto/)
    t.match(msg, new RegExp(`bad\\.proto:${line}\\b`), `line ${line}: ${msg}`)
  })
}

t.test('a protos: file that does not exist refuses the table, naming it', async (t) => {
  const routes = echoRoutes({ target: '127.0.0.1:1' })
  routes['echo.yaml'] = routes['echo.yaml']!.replace(`protos: [protos/${ECHO_PROTO}]`, 'protos: [protos/nowhere/v1/gone.proto]')
  t.match(await refusedAtStart(t, routes), /gone\.proto/)
})

t.test('a service the protos do not define refuses the table, naming it and the route file', async (t) => {
  const routes = echoRoutes({ target: '127.0.0.1:1' })
  routes['echo.yaml'] = routes['echo.yaml']!.replace('services: [echo.v1.EchoService]', 'services: [echo.v1.NoSuchService]')
  const msg = await refusedAtStart(t, routes)
  t.match(msg, /echo\.v1\.NoSuchService/)
  t.match(msg, /echo\.yaml:\d+/)
})

t.test('a route naming a method the protos lack refuses the table', async (t) => {
  const msg = await refusedAtStart(t, echoRoutes({ target: '127.0.0.1:1' }, {
    routes: ['  - name: one', '    match: { path: /x }', '    to: echo', '    grpc: { method: echo.v1.EchoService/Nope }']
  }))
  t.match(msg, /echo\.v1\.EchoService\/Nope/)
  t.match(msg, /echo\.yaml:\d+/)
})

t.test('a reload with a broken proto is refused and the running table keeps serving', async (t) => {
  const echo = await startGrpcEcho(t)
  const g = await startGateway(t, echoRoutes(echo))
  t.equal((await req(`${g.url}/v1/things/1`)).status, 200)
  g.writeRoutes(`protos/${ECHO_PROTO}`, SYNTAX_ERROR.replace('package bad.v1;', 'package echo.v1;'))
  const r = await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })
  t.equal(r.status, 422)
  t.match(JSON.stringify(r.json().errors), /echo\.proto:5/)
  const again = await req(`${g.url}/v1/things/2`)
  t.equal(again.status, 200)
  t.equal(again.json().id, '2')
})
