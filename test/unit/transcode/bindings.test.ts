import t from 'tap'
import { bindingsFromRule, buildBindingTable, type Binding, type BindingTable, type FindResult } from '../../../src/transcode/bindings.ts'

const B = (rule: unknown, grpcMethod = 'orders.v1.OrderService/GetOrder'): Binding[] => {
  const r = bindingsFromRule(rule, grpcMethod)
  if (!Array.isArray(r)) throw new Error(r.errors.join('; '))
  return r
}
const errorsOf = (rule: unknown, grpcMethod = 'orders.v1.OrderService/GetOrder'): string[] => {
  const r = bindingsFromRule(rule, grpcMethod)
  return Array.isArray(r) ? [] : r.errors
}
const table = (...rules: Array<[unknown, string]>): BindingTable => {
  const tb = buildBindingTable(rules.flatMap(([rule, m]) => B(rule, m)))
  if ('errors' in tb) throw new Error(tb.errors.join('; '))
  return tb
}
/** The answer of find, with vars on a plain object and the binding named by its gRPC method. */
const F = (tb: BindingTable, method: string, path: string): unknown => {
  const r: FindResult = tb.find(method, path)
  if (r === null || 'methodNotAllowed' in r) return r
  return { grpc: r.binding.grpcMethod, vars: { ...r.vars } }
}

t.test('a get rule becomes one GET binding with the method split into service and name', async (t) => {
  const [b, ...rest] = B({ get: '/v1/orders/{id}' })
  t.same(rest, [])
  t.match(b, { httpMethod: 'GET', body: '', responseBody: '', grpcMethod: 'orders.v1.OrderService/GetOrder', service: 'orders.v1.OrderService', method: 'GetOrder' })
  t.equal(b!.template.source, '/v1/orders/{id}')
  t.equal(B({ get: '/v1/x' }, '/pkg.Svc/M')[0]!.grpcMethod, 'pkg.Svc/M', 'a leading slash is accepted')
})

t.test('each pattern of the oneof maps to its HTTP method', async (t) => {
  for (const k of ['get', 'put', 'post', 'delete', 'patch']) t.equal(B({ [k]: '/v1/x' })[0]!.httpMethod, k.toUpperCase())
})

t.test('body and response_body, snake_case or camelCase', async (t) => {
  t.match(B({ post: '/v1/orders', body: '*' })[0], { body: '*' })
  t.match(B({ patch: '/v1/{order.name=orders/*}', body: 'order', response_body: 'order' })[0], { body: 'order', responseBody: 'order' })
  t.match(B({ get: '/v1/x', responseBody: 'items' })[0], { responseBody: 'items' })
})

t.test('additional_bindings as one object or an array, also additionalBindings', async (t) => {
  const one = B({ get: '/v1/messages/{message_id}', additional_bindings: { get: '/v1/users/{user_id}/messages/{message_id}' } })
  t.same(one.map((b) => b.template.source), ['/v1/messages/{message_id}', '/v1/users/{user_id}/messages/{message_id}'])
  const many = B({ get: '/v1/a', additional_bindings: [{ post: '/v1/a', body: '*' }, { delete: '/v1/a/{id}' }] })
  t.same(many.map((b) => `${b.httpMethod} ${b.template.source} ${b.body}`), ['GET /v1/a ', 'POST /v1/a *', 'DELETE /v1/a/{id} '])
  t.equal(B({ get: '/v1/a', additionalBindings: [{ put: '/v1/b' }] }).length, 2)
  t.equal(B({ get: '/v1/a', additional_bindings: [] }).length, 1)
})

t.test('custom patterns: a named kind, or * for any method', async (t) => {
  t.match(B({ custom: { kind: 'HEAD', path: '/v1/x' } })[0], { httpMethod: 'HEAD' })
  const tb = table([{ custom: { kind: '*', path: '/web/{page=**}' } }, 'web.Pages/Serve'])
  t.same(F(tb, 'OPTIONS', '/web/a/b'), { grpc: 'web.Pages/Serve', vars: { page: 'a/b' } })
  t.same(F(tb, 'GET', '/web'), { grpc: 'web.Pages/Serve', vars: { page: '' } })
})

t.test('bad rules are load errors naming the method and the binding', async (t) => {
  t.match(errorsOf({}), [/GetOrder: no pattern/])
  t.match(errorsOf(null), [/GetOrder: not an HttpRule object/])
  t.match(errorsOf({ get: '/v1/a', post: '/v1/a' }), [/more than one pattern: get, post/])
  t.match(errorsOf({ get: '/v1/{id' }), [/get "\/v1\/\{id": unbalanced "\{"/])
  t.match(errorsOf({ get: 42 }), [/must be a string/])
  t.match(errorsOf({ post: '/v1/a', body: 'a b' }), [/body "a b" is neither/])
  t.match(errorsOf({ get: '/v1/a', response_body: '*' }), [/response_body "\*" is not a field name/])
  t.match(errorsOf({ custom: { kind: 'BAD KIND', path: '/x' } }), [/custom needs a kind/])
  t.match(errorsOf({ custom: { kind: 'HEAD' } }), [/custom: the path template must be a string/])
  t.match(errorsOf({ get: '/v1/a' }, 'NoSlash'), [/pkg.Service\/Method/])
  t.match(errorsOf({ get: '/v1/a', additional_bindings: [{ get: '/v1/b', additional_bindings: { get: '/v1/c' } }] }),
    [/additional_bindings\[0\]: additional_bindings may only nest one level deep/])
  t.match(errorsOf({ get: '/v1/a', additional_bindings: [{ get: '/v1/{' }, 'x'] }),
    [/additional_bindings\[0\]: get/, /additional_bindings\[1\]: not an HttpRule/], 'every error is reported')
})

t.test('find: path variables for the matching binding', async (t) => {
  const tb = table([{ get: '/v1/{name=shelves/*/books/*}' }, 'lib.Library/GetBook'], [{ get: '/v1/shelves/{shelf}' }, 'lib.Library/GetShelf'])
  t.same(F(tb, 'GET', '/v1/shelves/1/books/2'), { grpc: 'lib.Library/GetBook', vars: { name: 'shelves/1/books/2' } })
  t.same(F(tb, 'GET', '/v1/shelves/9?view=full'), { grpc: 'lib.Library/GetShelf', vars: { shelf: '9' } }, 'the query is not part of the path')
})

t.test('find: no binding matches the path → null', async (t) => {
  const tb = table([{ get: '/v1/orders/{id}' }, 'o.S/Get'])
  t.equal(tb.find('GET', '/v1/customers/1'), null)
  t.equal(tb.find('GET', '/v1/orders'), null)
  t.equal(tb.find('GET', '/v1/orders/1/x'), null)
})

t.test('find: literal beats variable, * beats **, whatever the order of loading', async (t) => {
  const rules: Array<[unknown, string]> = [
    [{ get: '/v1/{name=**}' }, 'o.S/Deep'],
    [{ get: '/v1/orders/{id}' }, 'o.S/Get'],
    [{ get: '/v1/orders/latest' }, 'o.S/Latest'],
    [{ get: '/v1/{kind}/{id}' }, 'o.S/Any']
  ]
  for (const tb of [table(...rules), table(...[...rules].reverse())]) {
    t.same(F(tb, 'GET', '/v1/orders/latest'), { grpc: 'o.S/Latest', vars: {} })
    t.same(F(tb, 'GET', '/v1/orders/7'), { grpc: 'o.S/Get', vars: { id: '7' } })
    t.same(F(tb, 'GET', '/v1/users/7'), { grpc: 'o.S/Any', vars: { kind: 'users', id: '7' } })
    t.same(F(tb, 'GET', '/v1/users/7/x'), { grpc: 'o.S/Deep', vars: { name: 'users/7/x' } })
    t.equal(tb.bindings[0]!.grpcMethod, 'o.S/Latest')
  }
})

t.test('find: a verb binding and a plain one on the same collection', async (t) => {
  const tb = table([{ get: '/v1/{name=operations/*}' }, 'o.Ops/Get'], [{ post: '/v1/{name=operations/*}:cancel', body: '*' }, 'o.Ops/Cancel'])
  t.same(F(tb, 'POST', '/v1/operations/3:cancel'), { grpc: 'o.Ops/Cancel', vars: { name: 'operations/3' } })
  t.same(F(tb, 'GET', '/v1/operations/3'), { grpc: 'o.Ops/Get', vars: { name: 'operations/3' } })
  t.same(F(tb, 'GET', '/v1/operations/a:b'), { grpc: 'o.Ops/Get', vars: { name: 'operations/a:b' } }, 'an unknown verb stays in the value')
  t.same(F(tb, 'POST', '/v1/operations/3'), { methodNotAllowed: true, allow: ['GET'] })
})

t.test('find: 405 with Allow listing the path\'s methods, sorted and once each', async (t) => {
  const tb = table(
    [{ put: '/v1/orders/{id}', body: '*', additional_bindings: [{ patch: '/v1/orders/{id}', body: '*' }] }, 'o.S/Update'],
    [{ get: '/v1/orders/{id}' }, 'o.S/Get'],
    [{ delete: '/v1/orders/{order_id}' }, 'o.S/Delete'],
    [{ post: '/v1/orders', body: '*' }, 'o.S/Create'],
    [{ get: '/v1/{name=**}' }, 'o.S/Deep']
  )
  t.same(F(tb, 'POST', '/v1/orders/7'), { methodNotAllowed: true, allow: ['DELETE', 'GET', 'PATCH', 'PUT'] })
  t.same(F(tb, 'DELETE', '/v1/orders'), { methodNotAllowed: true, allow: ['GET', 'POST'] }, 'GET through the ** binding')
  t.same(F(tb, 'PATCH', '/v1/orders/7'), { grpc: 'o.S/Update', vars: { id: '7' } })
  t.equal(F(tb, 'OPTIONS', '/nothing/here'), null)
})

t.test('a named method is preferred to custom * on the same template', async (t) => {
  const tb = table([{ custom: { kind: '*', path: '/v1/x' } }, 'o.S/Any'], [{ get: '/v1/x' }, 'o.S/Get'])
  t.same(F(tb, 'GET', '/v1/x'), { grpc: 'o.S/Get', vars: {} })
  t.same(F(tb, 'DELETE', '/v1/x'), { grpc: 'o.S/Any', vars: {} })
})

t.test('path values are decoded per binding: single segment fully, multi-segment keeping reserved', async (t) => {
  const tb = table([{ get: '/v1/users/{id}' }, 'u.S/Get'], [{ get: '/v1/files/{path=**}' }, 'u.S/File'])
  t.same(F(tb, 'GET', '/v1/users/a%2Fb%20c'), { grpc: 'u.S/Get', vars: { id: 'a/b c' } })
  t.same(F(tb, 'GET', '/v1/files/a/b%2Fc%20d'), { grpc: 'u.S/File', vars: { path: 'a/b%2Fc d' } })
})

t.test('duplicate bindings (same method, equivalent template) are a load error', async (t) => {
  const dup = buildBindingTable([...B({ get: '/v1/orders/{id}' }, 'o.S/A'), ...B({ get: '/v1/orders/{order_id=*}' }, 'o.S/B')])
  t.match(dup, { errors: [/duplicate binding GET \/v1\/orders\/\{order_id=\*\} \(o.S\/B\): GET \/v1\/orders\/\{id\} \(o.S\/A\)/] })
  t.match(buildBindingTable(B({ get: '/v1/{n=shelves/*}', additional_bindings: { get: '/v1/shelves/{s}' } }, 'o.S/A')), { errors: [/duplicate binding/] },
    'within one rule too')
  t.notOk('errors' in (buildBindingTable([...B({ get: '/v1/x/{id}' }, 'o.S/A'), ...B({ put: '/v1/x/{id}' }, 'o.S/B')]) as object), 'another method is no duplicate')
  t.notOk('errors' in (buildBindingTable([...B({ get: '/v1/x/{id}' }, 'o.S/A'), ...B({ get: '/v1/x/{id}:undo' }, 'o.S/B')]) as object), 'a verb makes it another template')
})

t.test('an empty table finds nothing', async (t) => {
  const tb = buildBindingTable([])
  t.equal('errors' in tb ? 'errors' : tb.find('GET', '/'), null)
})

t.test('bindings and the table are frozen', async (t) => {
  const tb = table([{ get: '/v1/x' }, 'o.S/A'])
  t.ok(Object.isFrozen(tb) && Object.isFrozen(tb.bindings) && Object.isFrozen(tb.bindings[0]))
})
