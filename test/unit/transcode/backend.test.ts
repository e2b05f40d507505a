import t from 'tap'
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create, toBinary } from '@bufbuild/protobuf'
import { anyPack, AnySchema, DurationSchema } from '@bufbuild/protobuf/wkt'
import { compileGrpcBackend, type GrpcCall, type GrpcIssue, type GrpcSpec } from '../../../src/transcode/backend.ts'
import { encodeResponse, HTTP_STATUS_OF_GRPC, httpStatusOf, statusJson } from '../../../src/transcode/response.ts'
import { requestJson } from '../../../src/transcode/request.ts'
import { PROTOS } from './protos.ts'

const input = { target: '127.0.0.1:1', tls: false, protos: ['library/v1/library.proto'], services: ['library.v1.LibraryService'], omitDefaults: false }

function library (over: Partial<typeof input> = {}): GrpcSpec {
  const spec = compileGrpcBackend({ ...input, ...over }, PROTOS)
  if (Array.isArray(spec)) throw new Error(spec.map((i) => i.message).join('\n'))
  return spec
}

/** The call and variables a request finds (the test fails when it finds none). */
function bound (spec: GrpcSpec, method: string, path: string): { call: GrpcCall, vars: Record<string, string> } {
  const found = spec.bindings.find(method, path)
  if (found === null || 'methodNotAllowed' in found) throw new Error(`no binding for ${method} ${path}`)
  return { call: spec.callOf.get(found.binding)!, vars: found.vars }
}

/** A routes folder holding one proto with the given service body. */
function folder (service: string, messages = 'message Req { string name = 1; Inner inner = 2; }\nmessage Inner { string id = 1; }'): string {
  const dir = mkdtempSync(join(tmpdir(), 'figway-grpc-'))
  mkdirSync(join(dir, 'protos', 'x'), { recursive: true })
  writeFileSync(join(dir, 'protos', 'x', 'x.proto'), `syntax = "proto3";\npackage x;\nimport "google/api/annotations.proto";\nservice S {\n${service}\n}\n${messages}\n`)
  return dir
}

function issues (service: string): GrpcIssue[] {
  const r = compileGrpcBackend({ ...input, protos: ['protos/x/x.proto'], services: ['x.S'] }, folder(service))
  if (!Array.isArray(r)) throw new Error('expected issues')
  return r
}

t.test('every method with a rule is bound, additional bindings included; streaming clients and rule-less methods are listed as unbound', async (t) => {
  const spec = library()
  const bound = new Set(spec.bindings.bindings.map((b) => `${b.httpMethod} ${b.template.source}`))
  t.ok(bound.has('GET /v1/{name=shelves/*/books/*}'))
  t.ok(bound.has('GET /v1/books/{name}'))
  t.ok(bound.has('POST /v1/{name=shelves/*/books/*}:get'))
  t.ok(bound.has('HEAD /v1/ping'))
  t.notOk([...bound].some((b) => b.includes('books:import')), 'client streaming ImportBooks is not bound')
  t.same(spec.unbound.map((u) => u.split(':')[0]), ['library.v1.LibraryService/ImportBooks', 'library.v1.LibraryService/Unbound'])
  t.equal(spec.methods.get('library.v1.LibraryService/WatchBooks')?.serverStreaming, true)
})

t.test('a call knows its body, response_body and HttpBody-ness', async (t) => {
  const spec = library()
  const list = bound(spec, 'GET', '/v1/shelves/1/books').call
  t.equal(list.responsePath?.map((f) => f.name).join('.'), 'books')
  const call = bound(spec, 'POST', '/v1/shelves/1/books').call
  t.equal(call.bodyPath?.map((f) => f.name).join('.'), 'book')
  t.ok(call.excluded.has('parent') && call.excluded.has('book'), 'the query may not set path or body fields')
  t.equal(call.bodyIsHttpBody, false)
  t.equal(call.responseIsHttpBody, false)
})

t.test('load errors name the proto file and the rpc line', async (t) => {
  const bad = issues('  rpc Get(Req) returns (Req) { option (google.api.http) = { get: "/v1/{nam}" }; }')
  t.equal(bad.length, 1)
  t.match(bad[0]!.file, /x\.proto$/)
  t.equal(bad[0]!.line, 5)
  t.match(bad[0]!.message, /path variable \{nam\} names no field of x\.Req/)

  t.match(issues('  rpc Get(Req) returns (Req) { option (google.api.http) = { post: "/v1/x" body: "nope" }; }')[0]!.message, /body "nope" names no field/)
  t.match(issues('  rpc Get(Req) returns (Req) { option (google.api.http) = { get: "/v1/x" response_body: "nope" }; }')[0]!.message, /response_body "nope" names no field/)
  t.match(issues('  rpc Get(Req) returns (Req) { option (google.api.http) = { get: "/v1/{inner}" }; }')[0]!.message, /\{inner\} names no field .* a path segment can set/, 'a message field cannot take a path segment')
  t.match(issues('  rpc Get(Req) returns (Req) { option (google.api.http) = { post: "/v1/{name}" body: "name" }; }')[0]!.message, /also bound by the path/)
  t.match(issues('  rpc Get(Req) returns (Req) { option (google.api.http) = { get: "/v1/{name" }; }')[0]!.message, /unbalanced/)
  const dup = issues('  rpc A(Req) returns (Req) { option (google.api.http) = { get: "/v1/{name}" }; }\n  rpc B(Req) returns (Req) { option (google.api.http) = { get: "/v1/{inner.id}" }; }')
  t.match(dup[0]!.message, /duplicate binding GET \/v1\/\{inner\.id\} \(x\.S\/B\)/)
  t.equal(dup[0]!.file, undefined, 'a clash between two methods is the backend\'s, not one line\'s')
})

t.test('a proto that does not load, or a service it lacks, is an issue with the file and line', async (t) => {
  const dir = folder('  rpc Get(Req) returns (Req);', 'message Req { strin name = 1; }')
  const r = compileGrpcBackend({ ...input, protos: ['protos/x/x.proto'], services: ['x.S'] }, dir) as GrpcIssue[]
  t.ok(Array.isArray(r))
  t.match(r[0]!.file, /x\.proto$/)
  t.equal(r[0]!.line, 7)
  t.match(r[0]!.message, /strin/)
  const missing = compileGrpcBackend({ ...input, services: ['library.v1.Nope'] }, PROTOS) as GrpcIssue[]
  t.match(missing[0]!.message, /service "library\.v1\.Nope" is not in the loaded protos \(they define library\.v1\.LibraryService\)/)
  const nofile = compileGrpcBackend({ ...input, protos: ['nope/none.proto'] }, PROTOS) as GrpcIssue[]
  t.match(nofile[0]!.message, /cannot load protos/)
})

t.test('the 17 gRPC codes map to the contract\'s HTTP statuses; an unknown code is 500', async (t) => {
  t.same([...HTTP_STATUS_OF_GRPC], [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401])
  t.equal(httpStatusOf(42), 500)
})

t.test('status JSON: details of known types decoded, unknown ones kept as @type + base64 value, always a details array', async (t) => {
  const spec = library()
  t.equal(statusJson(spec, 5, 'no "such" book', undefined), '{"code":5,"message":"no \\"such\\" book","details":[]}')
  const statusType = spec.statusType
  const known = anyPack(DurationSchema, create(DurationSchema, { seconds: 3n }))
  const unknown = create(AnySchema, { typeUrl: 'type.googleapis.com/acme.Secret', value: new Uint8Array([1, 2, 3]) })
  const bin = toBinary(statusType, create(statusType, { code: 3, message: 'x', details: [known, unknown] } as never))
  const json = JSON.parse(statusJson(spec, 3, 'bad', Buffer.from(bin)))
  t.same(json, { code: 3, message: 'bad', details: [{ '@type': 'type.googleapis.com/google.protobuf.Duration', value: '3s' }, { '@type': 'type.googleapis.com/acme.Secret', value: 'AQID' }] })
  t.same(JSON.parse(statusJson(spec, 3, 'bad', Buffer.from([0xff, 0xff]))).details, [], 'malformed details: the status alone')
})

t.test('request JSON: body, then path variables (which win), then the query', async (t) => {
  const spec = library()
  const found = bound(spec, 'PATCH', '/v1/shelves/1/books/2')
  const call = found.call
  const json = requestJson(call, found.vars, '?update_mask=title&book.title=ignored', Buffer.from('{"name":"from-body","title":"T"}'), 'application/json')
  t.same(json, { book: { name: 'shelves/1/books/2', title: 'T' }, updateMask: 'title' })
  t.throws(() => requestJson(call, found.vars, '', Buffer.from('{nope'), undefined), /not valid JSON/)
})

t.test('response_body selects a field; an unset one is its empty JSON form', async (t) => {
  const spec = library()
  const call = bound(spec, 'GET', '/v1/shelves/1/books').call
  t.equal(encodeResponse(spec, call, new Uint8Array()).body.toString(), '[]')
  t.equal(encodeResponse(spec, call, new Uint8Array()).contentType, 'application/json')
})
