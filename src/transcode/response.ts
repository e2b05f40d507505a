/**
 * gRPC responses for HTTP clients (spec §2.6): messages as proto3 JSON (or the raw bytes
 * of a google.api.HttpBody), `response_body`, and statuses as HTTP codes with a
 * `google.rpc.Status` JSON body whose `details` are decoded when their types are known.
 */
import { fromBinary, toJson, type JsonValue } from '@bufbuild/protobuf'
import { AnySchema } from '@bufbuild/protobuf/wkt'
import type { GrpcCall, GrpcSpec } from './backend.ts'
import { getFieldByPath } from './codec.ts'

/** gRPC status code → HTTP status, indexed by code (spec §2.6). */
export const HTTP_STATUS_OF_GRPC: readonly number[] = Object.freeze([
  200, // OK
  499, // CANCELLED
  500, // UNKNOWN
  400, // INVALID_ARGUMENT
  504, // DEADLINE_EXCEEDED
  404, // NOT_FOUND
  409, // ALREADY_EXISTS
  403, // PERMISSION_DENIED
  429, // RESOURCE_EXHAUSTED
  400, // FAILED_PRECONDITION
  409, // ABORTED
  400, // OUT_OF_RANGE
  501, // UNIMPLEMENTED
  500, // INTERNAL
  503, // UNAVAILABLE
  500, // DATA_LOSS
  401 // UNAUTHENTICATED
])

export function httpStatusOf (code: number): number {
  return HTTP_STATUS_OF_GRPC[code] ?? 500
}

export interface EncodedResponse {
  readonly contentType: string
  readonly body: Buffer
}

const JSON_TYPE = 'application/json'

/** One response message for the client: JSON of the message or its response_body field, or HttpBody bytes. */
export function encodeResponse (spec: GrpcSpec, call: GrpcCall, bytes: Uint8Array): EncodedResponse {
  const out = call.method.output
  if (call.responseIsHttpBody) {
    let msg = fromBinary(out, bytes) as unknown as Record<string, unknown> | undefined
    for (const f of call.responsePath ?? []) msg = msg?.[f.localName] as Record<string, unknown> | undefined
    const data = msg?.data as Uint8Array | undefined
    const type = msg?.contentType as string | undefined
    return { contentType: type === undefined || type === '' ? 'application/octet-stream' : type, body: data === undefined ? Buffer.alloc(0) : Buffer.from(data.buffer, data.byteOffset, data.byteLength) }
  }
  const json = spec.codec.decodeResponse(out.typeName, bytes, { emitDefaults: spec.emitDefaults })
  const value = call.responsePath === null ? json : selectField(json, call)
  return { contentType: JSON_TYPE, body: Buffer.from(JSON.stringify(value)) }
}

function selectField (json: JsonValue, call: GrpcCall): JsonValue {
  const v = getFieldByPath(json, call.responsePath!) as JsonValue | undefined
  if (v !== undefined) return v
  // Unset: the field's empty JSON form (a message field has no implicit default to emit).
  const leaf = call.responsePath![call.responsePath!.length - 1]!
  return leaf.fieldKind === 'list' ? [] : leaf.fieldKind === 'map' || leaf.fieldKind === 'message' ? {} : null
}

/**
 * The google.rpc.Status JSON for a failed call: the status's own code and message, and the
 * details carried in `grpc-status-details-bin` (an Any of an unknown type keeps its
 * `@type` with the raw `value` in base64). `details` is always present.
 */
export function statusJson (spec: GrpcSpec, code: number, message: string, detailsBin: Buffer | undefined): string {
  let details = '[]'
  if (detailsBin !== undefined && detailsBin.length > 0) {
    try {
      const st = fromBinary(spec.statusType, detailsBin) as unknown as { details: Array<{ typeUrl: string, value: Uint8Array }> }
      const list: JsonValue[] = []
      for (const any of st.details) {
        try {
          list.push(toJson(AnySchema, any as never, { registry: spec.registry }))
        } catch {
          list.push({ '@type': any.typeUrl, value: Buffer.from(any.value).toString('base64') })
        }
      }
      details = JSON.stringify(list)
    } catch { /* malformed details: the status alone */ }
  }
  return '{"code":' + code + ',"message":' + JSON.stringify(message) + ',"details":' + details + '}'
}
