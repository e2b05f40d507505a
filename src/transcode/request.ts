/**
 * Per request: the gRPC request message from the HTTP request (spec §2.6, google.api.http):
 * the body (`*` or one field) first, then the path variables (the path wins), then the
 * query for every field not bound elsewhere (nothing when the body is `*`).
 */
import type { DescField } from '@bufbuild/protobuf'
import type { GrpcCall } from './backend.ts'
import { setFieldByPath, TranscodeError } from './codec.ts'
import { mapQuery, parseValue } from './query.ts'

export type RequestVars = Readonly<Record<string, string>>

/**
 * The request message as proto3 JSON. `body` is null when the request has none; `query`
 * is the raw query string (with or without its `?`). Throws TranscodeError on bad input.
 */
export function requestJson (call: GrpcCall, vars: RequestVars, query: string, body: Buffer | null, contentType: string | undefined): Record<string, unknown> {
  let target: Record<string, unknown> = {}
  if (call.body === '*') {
    if (call.bodyIsHttpBody) target = httpBodyJson(body, contentType)
    else {
      const parsed = parseJsonBody(body)
      if (parsed !== undefined) {
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TranscodeError(`the request body must be a JSON object (a ${call.method.input.typeName})`)
        target = parsed as Record<string, unknown>
      }
    }
  } else if (call.bodyPath !== null) {
    const value = call.bodyIsHttpBody ? httpBodyJson(body, contentType) : parseJsonBody(body)
    if (value !== undefined) setFieldByPath(target, call.bodyPath, value)
  }
  for (const name in vars) {
    const fields = call.vars.get(name)
    if (fields === undefined) continue
    const leaf = fields[fields.length - 1]!
    let value
    try {
      value = parseValue(leaf, vars[name]!, name)
    } catch (err) {
      if (!(err instanceof TranscodeError)) throw err
      throw new TranscodeError(err.message.replace(/^query parameter/, 'path variable'), name, err)
    }
    setFieldByPath(target, fields as DescField[], leaf.fieldKind === 'list' ? [value] : value)
  }
  if (call.body !== '*' && query !== '' && query !== '?') mapQuery(call.method.input, query, target, call.excluded)
  return target
}

function parseJsonBody (body: Buffer | null): unknown {
  if (body === null || body.length === 0) return undefined
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new TranscodeError(`the request body is not valid JSON: ${(err as Error).message}`)
  }
}

/** A google.api.HttpBody in its JSON form: the raw body and its content type. */
function httpBodyJson (body: Buffer | null, contentType: string | undefined): Record<string, unknown> {
  return { contentType: contentType ?? '', data: body === null ? '' : body.toString('base64') }
}
