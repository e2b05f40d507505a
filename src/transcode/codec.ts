/**
 * The proto3 JSON codec for transcoding (spec §2.6): request JSON → protobuf bytes and
 * response bytes → JSON, with @bufbuild/protobuf doing the mapping itself, plus the field
 * path helpers that `body: field` and `response_body` need.
 */
import {
  fromBinary, fromJson, toBinary, toJson,
  type DescField, type DescMessage, type JsonValue, type Registry
} from '@bufbuild/protobuf'
import { TranscodeError } from './error.ts'

export { TranscodeError } from './error.ts'

export interface EncodeOptions {
  /** Skip JSON keys that name no field instead of refusing them (default false: spec §2.6 says 400). */
  ignoreUnknownFields?: boolean
}

export interface DecodeOptions {
  /** Emit fields holding their default value (`0`, `""`, `false`, `[]`, `{}`); false under `omitDefaults`. */
  emitDefaults: boolean
}

/** Encodes and decodes the messages of one registry, looking each type up once. */
export interface Codec {
  /** The message descriptor for a fully qualified type name; throws if the registry lacks it. */
  schema (typeName: string): DescMessage
  /** proto3 JSON (json_name or original field names) → binary request message. */
  encodeRequest (typeName: string, json: unknown, opts?: EncodeOptions): Uint8Array
  /** Binary response message → proto3 JSON (lowerCamelCase, int64 strings, enum names, base64 bytes). */
  decodeResponse (typeName: string, bytes: Uint8Array, opts: DecodeOptions): JsonValue
}

/** Builds a codec over a registry (from `loadProtos`), which also resolves `Any` type URLs. */
export function createCodec (registry: Registry): Codec {
  const schemas = new Map<string, DescMessage>()
  const schema = (typeName: string): DescMessage => {
    let desc = schemas.get(typeName)
    if (desc === undefined) {
      desc = registry.getMessage(typeName)
      if (desc === undefined) throw new Error(`message type ${typeName} is not in the loaded protos`)
      schemas.set(typeName, desc)
    }
    return desc
  }
  return {
    schema,
    encodeRequest (typeName, json, opts) {
      const desc = schema(typeName)
      let message
      try {
        message = fromJson(desc, json as JsonValue, { registry, ignoreUnknownFields: opts?.ignoreUnknownFields === true })
      } catch (err) {
        throw toTranscodeError(desc, json, registry, err as Error)
      }
      return toBinary(desc, message)
    },
    decodeResponse (typeName, bytes, opts) {
      const desc = schema(typeName)
      // Malformed bytes from the backend are the backend's fault, not the client's: a plain Error.
      const message = fromBinary(desc, bytes)
      return toJson(desc, message, { registry, alwaysEmitImplicit: opts.emitDefaults })
    }
  }
}

// @bufbuild/protobuf's messages do not always name the field (an enum or Timestamp error
// names only the type), so on this error path only, find it by decoding key by key.
function toTranscodeError (desc: DescMessage, json: unknown, registry: Registry, err: Error): TranscodeError {
  const field = locateBadField(desc, json, registry)
  const message = field === undefined ? err.message : `field "${field}": ${err.message}`
  return new TranscodeError(message, field, err)
}

function locateBadField (desc: DescMessage, json: unknown, registry: Registry): string | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined
  for (const [key, value] of Object.entries(json)) {
    const field = findField(desc, key)
    if (field === undefined) return key
    try {
      fromJson(desc, { [key]: value as JsonValue }, { registry })
    } catch {
      const inner = field.fieldKind === 'message' ? locateBadField(field.message, value, registry) : undefined
      return inner === undefined ? key : `${key}.${inner}`
    }
  }
  return undefined
}

/** Resolves a dotted field path of proto names (as in `body: "book"` or `{book.name}`) to its fields. */
export function resolveFieldPath (desc: DescMessage, path: string): DescField[] {
  const out: DescField[] = []
  let current: DescMessage | undefined = desc
  for (const name of path.split('.')) {
    const field: DescField | undefined = current === undefined ? undefined : findField(current, name)
    if (field === undefined) throw new Error(`field path "${path}" names no field of ${desc.typeName}`)
    out.push(field)
    current = field.fieldKind === 'message' ? field.message : undefined
  }
  return out
}

/** Finds a field by its proto name or its JSON name. */
export function findField (desc: DescMessage, name: string): DescField | undefined {
  for (const f of desc.fields) if (f.name === name || f.jsonName === name) return f
  return undefined
}

/** Reads the value at a resolved field path of a proto3 JSON object (JSON names), or undefined. */
export function getFieldByPath (json: unknown, path: readonly DescField[]): unknown {
  let node = json
  for (const f of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined
    const obj = node as Record<string, unknown>
    node = f.jsonName in obj ? obj[f.jsonName] : obj[f.name]
  }
  return node
}

/** Sets the value at a resolved field path of a proto3 JSON object, creating objects on the way. */
export function setFieldByPath (json: Record<string, unknown>, path: readonly DescField[], value: unknown): void {
  let obj = json
  for (let i = 0; i < path.length - 1; i++) {
    const f = path[i]
    // Keep one spelling of each key: both would make fromJson see the field twice.
    if (f.name !== f.jsonName && f.name in obj) {
      obj[f.jsonName] = obj[f.name]
      delete obj[f.name]
    }
    let next = obj[f.jsonName]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      next = {}
      obj[f.jsonName] = next
    }
    obj = next as Record<string, unknown>
  }
  const last = path[path.length - 1]
  if (last.name !== last.jsonName) delete obj[last.name]
  obj[last.jsonName] = value
}
