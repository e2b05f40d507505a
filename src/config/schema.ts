/**
 * The config schemas (zod): `config/gateway.yaml` and the route files in `routes/`.
 * Unknown keys are errors everywhere (strict objects): a typo must not silently do nothing.
 * Defaults are named constants with units, and match spec §2.
 */
import { z } from 'zod'
import { parseDuration } from './duration.ts'

export const DEFAULT_LISTEN_PORT = 8080
export const DEFAULT_OPS_PORT = 9901
export const DEFAULT_HEADER_BYTES = 32_768
export const DEFAULT_BODY_BYTES = 1_048_576
export const DEFAULT_HEADERS_TIMEOUT_MS = 15_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000
export const DEFAULT_DRAIN_DELAY_MS = 5_000
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000
export const DEFAULT_TIMEOUT_MS = 15_000
export const DEFAULT_PER_TRY_TIMEOUT_MS = 5_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000
export const DEFAULT_RETRY_ATTEMPTS = 3
export const DEFAULT_RETRY_BASE_MS = 25
export const DEFAULT_RETRY_MAX_MS = 250
export const DEFAULT_MAX_IN_FLIGHT = 1024
/** Envoy's outlier detection uses the same default for consecutive_5xx. */
export const DEFAULT_CONSECUTIVE_FAILURES = 5
/** Longer than the AWS ALB's 60 s idle timeout, so the ALB, not figway, closes idle connections. */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  // A bare number is ambiguous (is `timeout: 5` five seconds?): only 0 may be written without a unit.
  const ms = typeof v === 'number' && v !== 0 ? undefined : parseDuration(v)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)}: use a number with ms, s, m or h, like 250ms or 5s` })
    return z.NEVER
  }
  return ms
})

const port = z.number().int().min(0).max(65535)
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'names use letters, digits, ".", "_" and "-"')
export const nameSchema = name

const retry = z.strictObject({
  attempts: z.number().int().min(1).max(10).optional(),
  backoff: z.strictObject({ base: duration.optional(), max: duration.optional() }).optional(),
  budget: z.strictObject({ ratio: z.number().min(0).max(1).optional(), minPerSecond: z.number().min(0).optional() }).optional()
})

const breaker = z.strictObject({
  errorRate: z.number().gt(0).max(1).optional(),
  minRequests: z.number().int().min(1).optional(),
  window: duration.optional(),
  openFor: duration.optional(),
  /** Consecutive failures that open the breaker even below minRequests (a hard outage). */
  consecutiveFailures: z.number().int().min(1).optional()
})

/** Per-backend policy: the `defaults:` block, and the same keys on a backend or route. */
const policyShape = {
  timeout: duration.optional(),
  perTryTimeout: duration.optional(),
  connectTimeout: duration.optional(),
  retry: retry.optional(),
  breaker: breaker.optional(),
  maxInFlight: z.number().int().min(1).optional()
}

export const gatewaySchema = z.strictObject({
  listen: z.strictObject({ host: z.string().default('0.0.0.0'), port: port.default(DEFAULT_LISTEN_PORT) }).prefault({}),
  ops: z.strictObject({
    host: z.string().default('0.0.0.0'),
    port: port.default(DEFAULT_OPS_PORT),
    token: z.string().default('')
  }).prefault({}),
  routes: z.string().min(1).default('../routes'),
  trustedProxies: z.union([z.number().int().min(0), z.array(z.string().min(1))]).default(1),
  limits: z.strictObject({
    headerBytes: z.number().int().min(1024).default(DEFAULT_HEADER_BYTES),
    bodyBytes: z.number().int().min(0).default(DEFAULT_BODY_BYTES),
    headersTimeout: duration.default(DEFAULT_HEADERS_TIMEOUT_MS),
    requestTimeout: duration.default(DEFAULT_REQUEST_TIMEOUT_MS)
  }).prefault({}),
  shutdown: z.strictObject({
    drainDelay: duration.default(DEFAULT_DRAIN_DELAY_MS),
    timeout: duration.default(DEFAULT_SHUTDOWN_TIMEOUT_MS)
  }).prefault({}),
  defaults: z.strictObject(policyShape).prefault({}),
  telemetry: z.strictObject({
    serviceName: z.string().default('figway'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    tracing: z.strictObject({
      exporter: z.enum(['none', 'otlp']).default('otlp'),
      // The OTLP/HTTP collector: a base URL (`/v1/traces` is added) or the full traces URL;
      // '' exports nothing unless OTEL_EXPORTER_OTLP_*ENDPOINT says where (telemetry/tracing-config.ts).
      endpoint: z.union([z.literal(''), z.url({ protocol: /^https?$/, error: 'endpoint must be an absolute http:// or https:// URL, or empty' })]).default(''),
      sampleRatio: z.number().min(0).max(1).default(0.05)
    }).prefault({})
  }).prefault({}),
  redis: z.strictObject({ url: z.string().default(''), keyPrefix: z.string().default('figway:') }).prefault({}),
  debugHeaders: z.boolean().default(false)
})

export type GatewayFile = z.output<typeof gatewaySchema>
export type PolicyFile = z.output<z.ZodObject<typeof policyShape>>

export const backendSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'url must be an absolute http:// or https:// URL' }).optional(),
  grpc: z.string().regex(/^[^:/\s]+:\d+$/, 'grpc is host:port').optional(),
  tls: z.boolean().optional(),
  protos: z.array(z.string().min(1)).optional(),
  services: z.array(z.string().min(1)).optional(),
  omitDefaults: z.boolean().optional(),
  preserveHost: z.boolean().optional(),
  ...policyShape
}).superRefine((b, ctx) => {
  if ((b.url === undefined) === (b.grpc === undefined)) ctx.addIssue({ code: 'custom', message: 'a backend needs exactly one of url or grpc' })
})

const headerMatch = z.string()
const methods = z.array(z.string().regex(/^[A-Z]+$/, 'methods are upper-case HTTP method names')).min(1)

export const routeSchema = z.strictObject({
  name,
  match: z.strictObject({
    path: z.string().startsWith('/', 'path patterns start with /'),
    methods: methods.optional(),
    host: z.string().min(1).optional(),
    headers: z.record(z.string().min(1), headerMatch).optional()
  }),
  priority: z.number().int().optional(),
  to: name.optional(),
  split: z.record(name, z.number().int().min(0)).optional(),
  sticky: z.union([z.strictObject({ header: z.string().min(1) }), z.strictObject({ cookie: z.string().min(1) })]).optional(),
  allowOverride: z.boolean().optional(),
  fallback: name.optional(),
  fallbackAnyMethod: z.boolean().optional(),
  rewrite: z.union([
    z.strictObject({ prefix: z.strictObject({ from: z.string().startsWith('/'), to: z.string().startsWith('/') }) }),
    z.strictObject({ path: z.string().startsWith('/') })
  ]).optional(),
  bodyBytes: z.number().int().min(0).optional(),
  shadow: z.strictObject({
    to: name,
    percent: z.number().min(0).max(100),
    methods: methods.optional(),
    ignore: z.array(z.string()).optional(),
    maxConcurrent: z.number().int().min(1).optional()
  }).optional(),
  rollout: z.strictObject({
    to: name,
    steps: z.array(z.number().min(0).max(100)).min(1),
    interval: duration,
    gate: z.strictObject({ maxErrorRate: z.number().min(0).max(1).optional(), maxP99: duration.optional(), minRequests: z.number().int().min(0).optional() }).optional()
  }).optional(),
  rateLimit: z.strictObject({ requests: z.number().int().min(1), per: duration, key: z.string().regex(/^(ip|header:.+)$/, 'key is ip or header:NAME') }).optional(),
  grpc: z.strictObject({ method: z.string().regex(/^[\w.]+\/\w+$/, 'method is package.Service/Method'), body: z.string().optional() }).optional(),
  ...policyShape
}).superRefine((r, ctx) => {
  if ((r.to === undefined) === (r.split === undefined)) ctx.addIssue({ code: 'custom', message: 'a route needs exactly one of to or split' })
  if (r.split !== undefined) {
    const total = Object.values(r.split).reduce((a, b) => a + b, 0)
    if (total === 0) ctx.addIssue({ code: 'custom', path: ['split'], message: 'split weights add up to 0' })
  }
})

export type BackendFile = z.output<typeof backendSchema>
export type RouteFile = z.output<typeof routeSchema>
