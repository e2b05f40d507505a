/**
 * Shared by the transcoding tests: a gRPC echo backend behind a gateway, and small readers
 * of what the client got and what the backend received.
 */
import type { Test } from 'tap'
import { echoRoutes, startGrpcEcho, type EchoCall, type EchoRoutesOptions, type GrpcEcho } from '../../helpers/grpc-echo.ts'
import { req, startGateway, type Res, type TestGateway } from '../../helpers/gateway.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

export interface EchoGateway {
  readonly echo: GrpcEcho
  readonly g: TestGateway
  /** One request to the gateway's data port. */
  send (method: string, path: string, opts?: { headers?: Record<string, string>, body?: string | Buffer | object }): Promise<Res>
  /** The only call the backend received since `reset()`; throws unless there is exactly one. */
  only (): EchoCall
  /** Forgets the calls received so far. */
  reset (): void
}

/**
 * Starts the echo backend and a gateway in front of it (by default every path to it).
 * `gatewayYaml` is passed on to startGateway (a `defaults:` line, for instance).
 */
export async function echoGateway (t: Teardown, opts: EchoRoutesOptions & { gatewayYaml?: string } = {}): Promise<EchoGateway> {
  const echo = await startGrpcEcho(t)
  const g = await startGateway(t, echoRoutes(echo, opts), opts.gatewayYaml ?? '')
  return {
    echo,
    g,
    async send (method, path, o = {}) {
      const headers = { ...o.headers }
      let body = o.body
      if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
        body = JSON.stringify(body)
        headers['content-type'] ??= 'application/json'
      }
      return await req(g.url + path, { method: method as 'GET', headers, body })
    },
    only () {
      if (echo.calls.length !== 1) throw new Error(`expected one call at the backend, got ${echo.calls.length}: ${JSON.stringify(echo.calls.map((c) => c.method))}`)
      return echo.calls[0]!
    },
    reset () { echo.calls.length = 0 }
  }
}

/**
 * One echo gateway for the tests of a file that need no config of their own (tap runs them
 * one at a time): started before the first test, its calls forgotten before each. Call the
 * returned function inside a test.
 */
export function sharedEchoGateway (t: Test, opts: EchoRoutesOptions & { gatewayYaml?: string } = {}): () => EchoGateway {
  let e: EchoGateway | undefined
  t.before(async () => { e = await echoGateway(t, opts) })
  t.beforeEach(() => { e?.reset() })
  return () => {
    if (e === undefined) throw new Error('the shared echo gateway has not started')
    return e
  }
}

/** Headers that reach the backend as metadata: `grpc-metadata-` before each name. */
export function md (pairs: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(pairs).map(([k, v]) => [`grpc-metadata-${k}`, String(v)]))
}

/** Metadata that makes the echo backend fail with `code` (and `message`). */
export function failWith (code: number, message = 'it failed', extra: Record<string, string | number> = {}): Record<string, string> {
  return md({ 'x-echo-status': code, 'x-echo-message': message, ...extra })
}

/** A header's value as one string (undici gives arrays for repeated ones). */
export function header (r: Res, name: string): string | undefined {
  const v = r.headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

/** The default-valued JSON of an echo.v1.Thing, as a gateway emitting defaults writes it. */
export const THING_DEFAULTS = {
  id: '',
  shelf: '',
  name: '',
  path: '',
  tags: [],
  kind: 'KIND_UNSPECIFIED',
  count: '0',
  seq: 0,
  labels: {},
  flag: false,
  displayName: '',
  kinds: [],
  thingCode: ''
}
