/**
 * HTTP bindings of gRPC methods from their `google.api.http` rules (spec §2.6), and the
 * table that finds the binding for a request: most specific template first, 405 with
 * `Allow` when the path matches only under other methods. Pure: built once at load.
 */
import { compareTemplates, matchTemplate, parseTemplate, splitPath, type PathTemplate, type PathVars } from './path-template.ts'

/** One HTTP method + path template bound to a gRPC method. */
export interface Binding {
  /** GET, PUT, POST, DELETE, PATCH, or a custom kind (`*` = any method). */
  readonly httpMethod: string
  readonly template: PathTemplate
  /** '' (no body), '*' (every field not bound by the path) or a top-level field name. */
  readonly body: string
  /** '' (the whole response message) or the response field to send as the body. */
  readonly responseBody: string
  /** `pkg.Service/Method`. */
  readonly grpcMethod: string
  /** `pkg.Service`. */
  readonly service: string
  readonly method: string
}

/** What BindingTable.find answers. */
export type FindResult =
  | { readonly binding: Binding, readonly vars: PathVars }
  | { readonly methodNotAllowed: true, readonly allow: readonly string[] }
  | null

/** Bindings ready for lookup; built once by buildBindingTable. */
export interface BindingTable {
  /** Most specific first. */
  readonly bindings: readonly Binding[]
  find (httpMethod: string, path: string): FindResult
}

/** Load errors, each naming the gRPC method and the binding at fault. */
export interface BindingErrors { readonly errors: string[] }

// The `pattern` oneof of HttpRule (http.proto), besides `custom`.
const RULE_METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const
const GRPC_METHOD = /^\/?((?:[A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*)\/([A-Za-z_][A-Za-z0-9_]*)$/
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/
// RFC 9110 §5.6.2 token; `*` is in it, which custom rules use for "any method".
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

type Rule = Record<string, unknown>

/**
 * Turns a parsed `google.api.http` option (as protobufjs gives it: snake_case or camelCase,
 * `additional_bindings` as one object or an array) into bindings for `grpcMethod`.
 */
export function bindingsFromRule (rule: unknown, grpcMethod: string): Binding[] | BindingErrors {
  const m = GRPC_METHOD.exec(grpcMethod)
  if (m === null) return { errors: [`"${grpcMethod}": a gRPC method is written pkg.Service/Method`] }
  const name = `${m[1]}/${m[2]}`
  const errors: string[] = []
  const out: Binding[] = []
  const add = (r: unknown, where: string, top: boolean): void => {
    if (!isRule(r)) { errors.push(`${name}: ${where}not an HttpRule object`); return }
    const b = oneBinding(r, m[1]!, m[2]!, (msg) => errors.push(`${name}: ${where}${msg}`))
    if (b !== null) out.push(b)
    const extra = r.additional_bindings ?? r.additionalBindings
    if (extra === undefined || extra === null) return
    const list = Array.isArray(extra) ? extra : [extra]
    // "Nested bindings must not contain an `additional_bindings` field themselves" (http.proto).
    if (!top) { if (list.length > 0) errors.push(`${name}: ${where}additional_bindings may only nest one level deep`); return }
    list.forEach((x, i) => add(x, `additional_bindings[${i}]: `, false))
  }
  add(rule, '', true)
  return errors.length > 0 ? { errors } : out
}

function isRule (r: unknown): r is Rule {
  return typeof r === 'object' && r !== null && !Array.isArray(r)
}

function oneBinding (r: Rule, service: string, method: string, fail: (msg: string) => void): Binding | null {
  // HttpRule.pattern is a oneof: exactly one of get/put/post/delete/patch/custom.
  const set: string[] = []
  for (const k of [...RULE_METHODS, 'custom']) if (r[k] !== undefined && r[k] !== null && r[k] !== '') set.push(k)
  if (set.length === 0) { fail('no pattern (get, put, post, delete, patch or custom)'); return null }
  if (set.length > 1) { fail(`more than one pattern: ${set.join(', ')}`); return null }
  const kind = set[0]!
  let httpMethod: string
  let path: unknown
  if (kind === 'custom') {
    const c = r.custom
    if (!isRule(c) || typeof c.kind !== 'string' || !TOKEN.test(c.kind)) { fail('custom needs a kind that is an HTTP method name or "*"'); return null }
    httpMethod = c.kind
    path = c.path
  } else {
    httpMethod = kind.toUpperCase()
    path = r[kind]
  }
  if (typeof path !== 'string') { fail(`${kind}: the path template must be a string`); return null }
  const template = parseTemplate(path)
  if (typeof template === 'string') { fail(`${kind} "${path}": ${template}`); return null }
  const body = r.body ?? ''
  // Rule 1: "The `body` field specifies either `*` or a field path, or is omitted."
  if (typeof body !== 'string' || (body !== '' && body !== '*' && !FIELD_PATH.test(body))) {
    fail(`body ${JSON.stringify(body)} is neither "*" nor a field name`); return null
  }
  const responseBody = r.response_body ?? r.responseBody ?? ''
  if (typeof responseBody !== 'string' || (responseBody !== '' && !FIELD_PATH.test(responseBody))) {
    fail(`response_body ${JSON.stringify(responseBody)} is not a field name`); return null
  }
  return Object.freeze({ httpMethod, template, body, responseBody, grpcMethod: `${service}/${method}`, service, method })
}

/**
 * Builds the lookup table. Two bindings with the same HTTP method and equivalent templates
 * (same shape, variable names aside) are a load error: neither could be preferred.
 */
export function buildBindingTable (bindings: readonly Binding[]): BindingTable | BindingErrors {
  const errors: string[] = []
  const seen = new Map<string, Binding>()
  for (const b of bindings) {
    const key = `${b.httpMethod} ${b.template.key}`
    const prev = seen.get(key)
    if (prev === undefined) { seen.set(key, b); continue }
    errors.push(`duplicate binding ${b.httpMethod} ${b.template.source} (${b.grpcMethod}): ` +
      `${prev.httpMethod} ${prev.template.source} (${prev.grpcMethod}) matches the same requests`)
  }
  if (errors.length > 0) return { errors }
  // Stable sort; on equal templates a named method comes before the `*` wildcard kind.
  const sorted = Object.freeze([...bindings].sort((a, b) =>
    compareTemplates(a.template, b.template) || Number(a.httpMethod === '*') - Number(b.httpMethod === '*')))
  const anyMethod = sorted.filter((b) => b.httpMethod === '*')
  // Precomputed per method: the candidates a request of that method can use, in order.
  const byMethod = new Map<string, readonly Binding[]>()
  for (const b of sorted) {
    if (b.httpMethod !== '*' && !byMethod.has(b.httpMethod)) {
      byMethod.set(b.httpMethod, sorted.filter((x) => x.httpMethod === b.httpMethod || x.httpMethod === '*'))
    }
  }
  return Object.freeze({
    bindings: sorted,
    find (httpMethod: string, path: string): FindResult {
      const { segments, verb } = splitPath(path)
      for (const binding of byMethod.get(httpMethod) ?? anyMethod) {
        const vars = matchTemplate(binding.template, segments, verb)
        if (vars !== null) return { binding, vars }
      }
      // No binding for this method: 405 when the path matches under another one.
      const allow = new Set<string>()
      for (const b of sorted) {
        if (b.httpMethod !== httpMethod && !allow.has(b.httpMethod) && matchTemplate(b.template, segments, verb) !== null) allow.add(b.httpMethod)
      }
      return allow.size > 0 ? { methodNotAllowed: true, allow: [...allow].sort() } : null
    }
  })
}
