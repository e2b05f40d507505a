/**
 * Load from autocannon (programmatic API; closed loop: a fixed number of keep-alive
 * connections, one request in flight on each; or a fixed overall rate). bench/lib/wrk.ts is
 * the other load generator. autocannon's own latency histogram has 1 ms
 * resolution, too coarse for sub-millisecond proxies, so latencies are also taken from its
 * per-response event (microsecond resolution) and the percentiles computed from those.
 */
import autocannon from 'autocannon'
import { Latencies, type LatencySummary } from './latency.ts'

export interface LoadOptions {
  readonly url: string
  readonly connections: number
  readonly durationS: number
  /** When set, each request gets an `x-user-id` header cycling through this many users. */
  readonly users?: number
  /** Fixed rate: this many requests per second over all connections (else closed loop). */
  readonly overallRate?: number
}

export interface LoadResult {
  /** The load generator that produced these figures. */
  readonly tool: 'autocannon' | 'wrk' | 'paced'
  readonly requests: number
  readonly durationS: number
  readonly rps: number
  /** Latency in milliseconds, from per-response timings (all responses). */
  readonly latencyMs: LatencySummary
  /** autocannon's own histogram (2xx only, whole milliseconds), for reference. */
  readonly autocannonLatencyMs?: { p50: number, p99: number, p99_9: number }
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
  readonly statusCodes: Record<string, number>
}

let current: autocannon.Instance | undefined

/** Stops the run in progress (Ctrl-C). */
export function stopLoad (): void { current?.stop() }

export async function runLoad (o: LoadOptions): Promise<LoadResult> {
  const lat = new Latencies(1 << 18)
  let userSeq = 0
  const requests: autocannon.Request[] | undefined = o.users === undefined
    ? undefined
    : [{
        setupRequest: (req) => {
          const users = o.users!
          userSeq = (userSeq + 1) % users
          req.headers = { ...req.headers, 'x-user-id': 'user-' + userSeq }
          return req
        }
      }]
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const inst = autocannon({ url: o.url, connections: o.connections, duration: o.durationS, pipelining: 1, timeout: 10, requests, overallRate: o.overallRate }, (err, res) => {
      current = undefined
      if (err !== null) reject(err)
      else resolve(res)
    })
    current = inst
    inst.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
      lat.add(ms)
    })
  })
  const codes: Record<string, number> = {}
  for (const [code, v] of Object.entries(result.statusCodeStats)) codes[code] = v.count
  const total = result.requests.total
  return {
    tool: 'autocannon',
    requests: total,
    durationS: result.duration,
    rps: result.duration > 0 ? total / result.duration : 0,
    latencyMs: lat.summary(),
    autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99, p99_9: result.latency.p99_9 },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: codes
  }
}
