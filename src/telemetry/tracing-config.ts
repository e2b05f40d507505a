/**
 * What tracing does, resolved once at start from `telemetry.tracing` in gateway.yaml and the
 * standard OpenTelemetry environment variables (the gateway's `env`, which main.ts fills from
 * process.env). A variable that is set wins over the file: the file is shared, the
 * environment is the deployment's. Pure, so every rule is unit-tested.
 *
 * https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and
 * https://opentelemetry.io/docs/specs/otel/protocol/exporter/
 */
import type { GatewayConfig } from '../config/load.ts'

export type SamplerKind = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio'
const SAMPLERS: readonly string[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']

/** OTLP/HTTP's traces path, appended to a base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, or a file endpoint without a path). */
export const TRACES_PATH = 'v1/traces'
/** The SDK's defaults (OTEL_BSP_*, OTEL_EXPORTER_OTLP_TIMEOUT). */
export const DEFAULT_EXPORT_DELAY_MS = 5_000
export const DEFAULT_EXPORT_TIMEOUT_MS = 30_000
export const DEFAULT_MAX_QUEUE_SIZE = 2_048
export const DEFAULT_MAX_EXPORT_BATCH_SIZE = 512
export const DEFAULT_OTLP_TIMEOUT_MS = 10_000

export interface ExportSettings {
  /** The full traces URL, `…/v1/traces`. */
  readonly url: string
  readonly protocol: 'http/protobuf' | 'http/json'
  readonly headers: Readonly<Record<string, string>>
  readonly timeoutMs: number
  readonly compression: 'gzip' | 'none'
  readonly delayMs: number
  readonly batchTimeoutMs: number
  readonly maxQueueSize: number
  readonly maxBatchSize: number
}

export interface TracingSettings {
  /** null: nothing is recorded or exported; trace context is still propagated. */
  readonly export: ExportSettings | null
  readonly sampler: SamplerKind
  /** For the ratio samplers, and for the sampled flag of new traces when nothing is exported. */
  readonly ratio: number
  readonly resource: Readonly<Record<string, string>>
  /** Variables that were set but could not be used, one sentence each, for a startup warning. */
  readonly warnings: readonly string[]
}

type Telemetry = GatewayConfig['telemetry']

export function resolveTracing (telemetry: Telemetry, env: NodeJS.ProcessEnv): TracingSettings {
  const warnings: string[] = []
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim()
    return v === undefined || v === '' ? undefined : v
  }
  const num = (name: string, fallback: number, ok: (n: number) => boolean): number => {
    const raw = get(name)
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (Number.isFinite(n) && ok(n)) return n
    warnings.push(`${name}=${raw} is not a valid value; using ${fallback}`)
    return fallback
  }
  const signal = (suffix: string): string | undefined => get(`OTEL_EXPORTER_OTLP_TRACES_${suffix}`) ?? get(`OTEL_EXPORTER_OTLP_${suffix}`)

  const t = telemetry.tracing
  let sampler: SamplerKind = 'parentbased_traceidratio'
  const samplerEnv = get('OTEL_TRACES_SAMPLER')
  if (samplerEnv !== undefined) {
    if (SAMPLERS.includes(samplerEnv)) sampler = samplerEnv as SamplerKind
    else warnings.push(`OTEL_TRACES_SAMPLER=${samplerEnv} is not supported (${SAMPLERS.join(', ')}); using parentbased_traceidratio`)
  }
  const ratio = num('OTEL_TRACES_SAMPLER_ARG', t.sampleRatio, (n) => n >= 0 && n <= 1)

  const resource: Record<string, string> = { ...parseKeyValues(get('OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES', warnings) }
  resource['service.name'] = get('OTEL_SERVICE_NAME') ?? telemetry.serviceName

  const settings = { sampler, ratio, resource, warnings }
  const exporterEnv = get('OTEL_TRACES_EXPORTER')
  let exporter = t.exporter as string
  if (exporterEnv !== undefined) {
    if (exporterEnv === 'otlp' || exporterEnv === 'none') exporter = exporterEnv
    else warnings.push(`OTEL_TRACES_EXPORTER=${exporterEnv} is not supported (otlp, none); using ${exporter}`)
  }
  if (get('OTEL_SDK_DISABLED')?.toLowerCase() === 'true' || exporter !== 'otlp') return { ...settings, export: null }

  const url = endpoint(t.endpoint, get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'), get('OTEL_EXPORTER_OTLP_ENDPOINT'), warnings)
  if (url === null) return { ...settings, export: null }

  let protocol: ExportSettings['protocol'] = 'http/protobuf'
  const p = signal('PROTOCOL')
  if (p === 'http/json' || p === 'http/protobuf') protocol = p
  else if (p !== undefined) warnings.push(`OTLP protocol ${p} is not supported (http/protobuf, http/json); using http/protobuf`)
  const c = signal('COMPRESSION')
  if (c !== undefined && c !== 'gzip' && c !== 'none') warnings.push(`OTLP compression ${c} is not supported (gzip, none); using none`)
  const headers = {
    ...parseKeyValues(get('OTEL_EXPORTER_OTLP_HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS', warnings),
    ...parseKeyValues(get('OTEL_EXPORTER_OTLP_TRACES_HEADERS'), 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', warnings)
  }
  const positive = (n: number): boolean => n > 0
  const timeoutName = get('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TIMEOUT'
  const maxQueueSize = num('OTEL_BSP_MAX_QUEUE_SIZE', DEFAULT_MAX_QUEUE_SIZE, (n) => Number.isInteger(n) && n > 0)
  return {
    ...settings,
    export: {
      url,
      protocol,
      headers,
      timeoutMs: num(timeoutName, DEFAULT_OTLP_TIMEOUT_MS, positive),
      compression: c === 'gzip' ? 'gzip' : 'none',
      delayMs: num('OTEL_BSP_SCHEDULE_DELAY', DEFAULT_EXPORT_DELAY_MS, (n) => n >= 0),
      batchTimeoutMs: num('OTEL_BSP_EXPORT_TIMEOUT', DEFAULT_EXPORT_TIMEOUT_MS, positive),
      maxQueueSize,
      maxBatchSize: Math.min(maxQueueSize, num('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', DEFAULT_MAX_EXPORT_BATCH_SIZE, (n) => Number.isInteger(n) && n > 0))
    }
  }
}

/**
 * The traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as written, else OTEL_EXPORTER_OTLP_ENDPOINT
 * plus `/v1/traces`, else the file's endpoint, which gets `/v1/traces` when it has no path.
 * null when none is set: the default `exporter: otlp` exports nothing until told where to.
 */
function endpoint (file: string, tracesEnv: string | undefined, baseEnv: string | undefined, warnings: string[]): string | null {
  const parse = (raw: string, what: string): URL | null => {
    try {
      const u = new URL(raw)
      if (u.protocol === 'http:' || u.protocol === 'https:') return u
    } catch { /* reported below */ }
    warnings.push(`${what}=${raw} is not an http(s) URL; ignored`)
    return null
  }
  if (tracesEnv !== undefined) {
    const u = parse(tracesEnv, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
    if (u !== null) return u.href
  }
  if (baseEnv !== undefined) {
    const u = parse(baseEnv, 'OTEL_EXPORTER_OTLP_ENDPOINT')
    if (u !== null) return withTracesPath(u, true)
  }
  if (file === '') return null
  const u = parse(file, 'telemetry.tracing.endpoint')
  return u === null ? null : withTracesPath(u, false)
}

/** The spec appends `v1/traces` to the base endpoint always; a file endpoint keeps a path it already has. */
function withTracesPath (u: URL, always: boolean): string {
  if (!always && u.pathname !== '/' && u.pathname !== '') return u.href
  const base = u.href.endsWith('/') ? u.href : u.href + '/'
  return base + TRACES_PATH
}

/** `k1=v1,k2=v2` with percent-encoded values (the W3C Baggage format the OTEL_* lists use). */
export function parseKeyValues (raw: string | undefined, name: string, warnings: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  if (raw === undefined) return out
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue
    const i = part.indexOf('=')
    const key = i < 0 ? '' : part.slice(0, i).trim()
    // The entry is not repeated in the warning: header lists carry credentials.
    if (key === '') { warnings.push(`${name}: an entry that is not key=value was ignored`); continue }
    let value = part.slice(i + 1).trim()
    try { value = decodeURIComponent(value) } catch { /* kept as written */ }
    out[key] = value
  }
  return out
}
