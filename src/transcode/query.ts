/**
 * Maps query parameters onto a request message's proto3 JSON (spec §2.6, google.api.http):
 * dotted paths into nested messages, repeated fields by repetition, values parsed by the
 * field's type. The caller skips this entirely when the rule's body is "*".
 */
import { fromJson, ScalarType, type DescEnum, type DescField, type DescMessage, type JsonValue } from '@bufbuild/protobuf'
import { protoCamelCase } from '@bufbuild/protobuf/reflect'
import { TranscodeError, findField, getFieldByPath, setFieldByPath } from './codec.ts'

const INT32_TYPES = new Set([ScalarType.INT32, ScalarType.SINT32, ScalarType.SFIXED32])
const UINT32_TYPES = new Set([ScalarType.UINT32, ScalarType.FIXED32])
const INT64_TYPES = new Set([ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64])
const UINT64_TYPES = new Set([ScalarType.UINT64, ScalarType.FIXED64])
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const UINT64_MAX = 2n ** 64n - 1n
const INTEGER = /^[+-]?\d+$/
// Base64 in either alphabet (RFC 4648 §4 and §5), padding optional, as proto3 JSON accepts.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

// Well-known types whose JSON form is a single string or scalar, so a query value can carry it.
const WRAPPERS = new Set([
  'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value', 'google.protobuf.Int32Value', 'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue', 'google.protobuf.StringValue', 'google.protobuf.BytesValue'
])
const STRING_FORMS = new Set(['google.protobuf.Timestamp', 'google.protobuf.Duration', 'google.protobuf.FieldMask'])

/**
 * Adds the query's parameters to `target` (the request JSON so far, from the path).
 * `excluded` holds proto-name field paths bound elsewhere (path variables, `body: field`);
 * they and anything under them are skipped, as are fields `target` already holds, so the
 * path wins. Parameters naming no settable field are ignored; bad values throw.
 */
export function mapQuery (
  desc: DescMessage,
  query: string | URLSearchParams | Iterable<readonly [string, string]>,
  target: Record<string, unknown>,
  excluded: ReadonlySet<string> = new Set()
): Record<string, unknown> {
  // URLSearchParams decodes "+" as a space (application/x-www-form-urlencoded), as §2.6 wants.
  const params = typeof query === 'string' ? new URLSearchParams(query.startsWith('?') ? query.slice(1) : query) : query
  const seen = new Map<string, number>()
  const preset = new Set<string>()
  for (const [key, raw] of params) {
    const path = resolveQueryPath(desc, key)
    if (path === undefined) continue
    const protoPath = path.map((f) => f.name).join('.')
    if (isExcluded(protoPath, excluded)) continue
    if (!seen.has(protoPath) && getFieldByPath(target, path) !== undefined) preset.add(protoPath)
    if (preset.has(protoPath)) continue
    const count = (seen.get(protoPath) ?? 0) + 1
    seen.set(protoPath, count)
    const leaf = path[path.length - 1]
    const value = parseValue(leaf, raw, key)
    if (leaf.fieldKind === 'list') {
      const existing = getFieldByPath(target, path)
      if (Array.isArray(existing)) existing.push(value)
      else setFieldByPath(target, path, [value])
    } else {
      if (count > 1) throw new TranscodeError(`query parameter "${key}" is given more than once but its field is not repeated`, key)
      setFieldByPath(target, path, value)
    }
  }
  return target
}

function isExcluded (protoPath: string, excluded: ReadonlySet<string>): boolean {
  if (excluded.has('*') || excluded.has(protoPath)) return true
  for (let i = protoPath.indexOf('.'); i >= 0; i = protoPath.indexOf('.', i + 1)) {
    if (excluded.has(protoPath.slice(0, i))) return true
  }
  return false
}

/** The fields a query key names (proto or JSON names, dotted), or undefined if none can be set. */
export function resolveQueryPath (desc: DescMessage, key: string): DescField[] | undefined {
  const path: DescField[] = []
  let current: DescMessage = desc
  const names = key.split('.')
  for (let i = 0; i < names.length; i++) {
    const field = findField(current, names[i])
    if (field === undefined) return undefined
    path.push(field)
    if (i === names.length - 1) return settable(field) ? path : undefined
    // Only singular, non-WKT messages can be stepped into.
    if (field.fieldKind !== 'message' || isLeafMessage(field.message)) return undefined
    current = field.message
  }
  return undefined
}

function isLeafMessage (m: DescMessage): boolean {
  return WRAPPERS.has(m.typeName) || STRING_FORMS.has(m.typeName) || m.typeName === 'google.protobuf.Value'
}

function settable (f: DescField): boolean {
  switch (f.fieldKind) {
    case 'scalar': case 'enum': return true
    case 'message': return isLeafMessage(f.message)
    case 'list': return f.listKind !== 'message' || isLeafMessage(f.message)
    case 'map': return false
  }
}

/** Parses one text value (a query parameter or a path variable) for field `f`, named `key` in errors. */
export function parseValue (f: DescField, raw: string, key: string): JsonValue {
  switch (f.fieldKind) {
    case 'scalar': return parseScalar(f.scalar, raw, key)
    case 'enum': return parseEnum(f.enum, raw, key)
    case 'message': return parseMessage(f.message, raw, key)
    case 'list':
      if (f.listKind === 'scalar') return parseScalar(f.scalar, raw, key)
      if (f.listKind === 'enum') return parseEnum(f.enum, raw, key)
      return parseMessage(f.message, raw, key)
    case 'map': throw new TranscodeError(`query parameter "${key}" names a map field`, key)
  }
}

function bad (key: string, raw: string, what: string): TranscodeError {
  return new TranscodeError(`query parameter "${key}": ${JSON.stringify(raw)} is not ${what}`, key)
}

function parseScalar (type: ScalarType, raw: string, key: string): JsonValue {
  if (type === ScalarType.STRING) return raw
  if (type === ScalarType.BOOL) {
    const v = raw.toLowerCase()
    if (v === 'true' || v === '1') return true
    if (v === 'false' || v === '0') return false
    throw bad(key, raw, 'a boolean (true or false)')
  }
  if (type === ScalarType.BYTES) {
    if (!BASE64.test(raw)) throw bad(key, raw, 'base64')
    return raw
  }
  if (type === ScalarType.DOUBLE || type === ScalarType.FLOAT) {
    if (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity') return raw
    const n = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(n)) throw bad(key, raw, 'a number')
    if (type === ScalarType.FLOAT && Math.abs(n) > 3.4028234663852886e38) throw bad(key, raw, 'a 32-bit float')
    return n
  }
  if (!INTEGER.test(raw)) throw bad(key, raw, 'an integer')
  const n = BigInt(raw)
  if (INT32_TYPES.has(type) && (n < -(2n ** 31n) || n >= 2n ** 31n)) throw bad(key, raw, 'a 32-bit integer')
  if (UINT32_TYPES.has(type) && (n < 0n || n >= 2n ** 32n)) throw bad(key, raw, 'an unsigned 32-bit integer')
  if (INT64_TYPES.has(type) && (n < INT64_MIN || n > INT64_MAX)) throw bad(key, raw, 'a 64-bit integer')
  if (UINT64_TYPES.has(type) && (n < 0n || n > UINT64_MAX)) throw bad(key, raw, 'an unsigned 64-bit integer')
  // proto3 JSON takes 64-bit integers as strings, so no precision is lost on the way.
  return INT64_TYPES.has(type) || UINT64_TYPES.has(type) ? n.toString() : Number(n)
}

function parseEnum (e: DescEnum, raw: string, key: string): JsonValue {
  const byName = e.values.find((v) => v.name === raw)
  if (byName !== undefined) return byName.name
  if (INTEGER.test(raw)) {
    const n = Number(raw)
    const byNumber = e.values.find((v) => v.number === n)
    if (byNumber !== undefined) return byNumber.name
    // Open (proto3) enums keep numbers they do not know.
    if (e.open && Number.isSafeInteger(n) && n >= -(2 ** 31) && n < 2 ** 31) return n
  }
  throw bad(key, raw, `a value of ${e.typeName}`)
}

function parseMessage (m: DescMessage, raw: string, key: string): JsonValue {
  if (m.typeName === 'google.protobuf.Value') return raw
  let json: JsonValue = raw
  if (WRAPPERS.has(m.typeName)) {
    const value = m.fields[0]
    json = parseScalar(value.fieldKind === 'scalar' ? value.scalar : ScalarType.STRING, raw, key)
  } else if (m.typeName === 'google.protobuf.FieldMask') {
    // The JSON form wants lowerCamelCase paths; a query usually names fields as in the proto.
    json = raw.split(',').map((p) => p.split('.').map(protoCamelCase).join('.')).join(',')
  }
  // Let the codec judge the JSON form (RFC 3339 timestamps, "1.5s" durations, masks).
  try {
    fromJson(m, json)
  } catch (err) {
    throw new TranscodeError(`query parameter "${key}": ${JSON.stringify(raw)} is not a valid ${m.typeName}: ${(err as Error).message}`, key, err)
  }
  return json
}
