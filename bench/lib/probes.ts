/**
 * Two measurements that are not "a proxy at its maximum rate", run after the scenarios:
 *
 * - half-rate: direct to origin, the node:http + undici floor (bench/floor-proxy.ts) and
 *   figway pass-through, each at a fixed rate of half of figway's own maximum (its median
 *   req/s in this run): p99 through figway against p99 direct (issue target: at most 2 ms
 *   above); the floor's p99 at the same rate is what no proxy on figway's stack gets under.
 * - connections-1k: figway pass-through with 1,000 keep-alive client connections at the
 *   fixed rate: its RSS (issue target: at most 150 MB).
 *
 * Both load at a fixed, paced rate (bench/lib/paced.ts: open loop, latency from each
 * request's due time), on a fresh figway process each, after a warm-up at the same settings.
 */
import type { LoadResult } from './load.ts'
import { peakRssBytes, processTree, rssBytes, type Managed } from './procs.ts'

export const PROBES = ['half-rate', 'connections-1k'] as const
export type ProbeId = typeof PROBES[number]

export const PROBE_LABELS: Record<ProbeId, string> = {
  'half-rate': 'p99 at half of figway\'s maximum rate, figway vs direct',
  'connections-1k': 'figway RSS with 1,000 keep-alive client connections'
}

interface Latency { readonly rps: number, readonly p50: number, readonly p99: number, readonly p999: number, readonly errors: number, readonly non2xx: number }

export interface HalfRateResult {
  readonly rate: number
  /** figway pass-through's maximum (median round) it was derived from. */
  readonly figwayMaxRps: number
  readonly direct: Latency
  readonly figway: Latency
  /** p99 through figway minus p99 direct, in ms. */
  readonly p99AboveDirectMs: number
  /** The node:http + undici floor at the same rate (when the harness can start it). */
  readonly floor?: Latency
  /** p99 through the floor minus p99 direct, in ms. */
  readonly floorP99AboveDirectMs?: number
}

export interface ConnectionsResult {
  readonly connections: number
  readonly rate: number
  readonly load: Latency
  /** VmRSS at the end of the run and VmHWM over the process's life, MiB. */
  readonly rssMiB: number
  readonly peakRssMiB: number
}

export interface ProbeResult {
  readonly id: ProbeId
  readonly label: string
  readonly status: 'ok' | 'skipped' | 'failed'
  readonly reason?: string
  readonly halfRate?: HalfRateResult
  readonly connections?: ConnectionsResult
}

export interface ProbeDeps {
  readonly durationS: number
  readonly warmupS: number
  readonly connections: number
  readonly log: (msg: string) => void
  /** Paced fixed-rate load. */
  readonly load: (o: { url: string, connections: number, durationS: number, rate: number }) => Promise<LoadResult>
  /** Starts a fresh figway pass-through; returns its data URL and process. */
  readonly startFigway: (name: string) => Promise<{ url: string, proc?: Managed }>
  /** Starts a fresh node:http + undici floor proxy (half-rate compares figway with it). */
  readonly startFloor?: () => Promise<{ url: string, proc?: Managed }>
  readonly stop: (m: Managed) => Promise<void>
}

const latency = (r: LoadResult): Latency => ({ rps: r.rps, p50: r.latencyMs.p50, p99: r.latencyMs.p99, p999: r.latencyMs.p999, errors: r.errors + r.timeouts, non2xx: r.non2xx })

export async function halfRate (d: ProbeDeps, directUrl: string, path: string, figwayMaxRps: number): Promise<HalfRateResult> {
  const rate = Math.max(1, Math.round(figwayMaxRps / 2))
  d.log(`half-rate: ${rate} req/s (half of figway's ${Math.round(figwayMaxRps)}), direct${d.startFloor === undefined ? '' : ', the floor'} then figway`)
  const run = async (url: string): Promise<LoadResult> => {
    await d.load({ url, connections: d.connections, durationS: d.warmupS, rate })
    return await d.load({ url, connections: d.connections, durationS: d.durationS, rate })
  }
  const throughFresh = async (start: () => Promise<{ url: string, proc?: Managed }>): Promise<LoadResult> => {
    const started = await start()
    try {
      return await run(started.url + path)
    } finally {
      if (started.proc !== undefined) await d.stop(started.proc)
    }
  }
  const direct = await run(directUrl + path)
  const floor = d.startFloor === undefined ? undefined : await throughFresh(d.startFloor)
  const figway = await throughFresh(async () => await d.startFigway('figway-half-rate'))
  return {
    rate,
    figwayMaxRps,
    direct: latency(direct),
    figway: latency(figway),
    p99AboveDirectMs: figway.latencyMs.p99 - direct.latencyMs.p99,
    ...(floor === undefined ? {} : { floor: latency(floor), floorP99AboveDirectMs: floor.latencyMs.p99 - direct.latencyMs.p99 })
  }
}

export async function manyConnections (d: ProbeDeps, path: string, connections: number, rate: number): Promise<ConnectionsResult> {
  d.log(`connections-1k: ${connections} keep-alive connections at ${rate} req/s`)
  const started = await d.startFigway('figway-connections')
  try {
    await d.load({ url: started.url + path, connections, durationS: d.warmupS, rate })
    const r = await d.load({ url: started.url + path, connections, durationS: d.durationS, rate })
    const pids = started.proc === undefined ? [] : processTree(started.proc.pid)
    return { connections, rate, load: latency(r), rssMiB: rssBytes(pids) / 1048576, peakRssMiB: peakRssBytes(pids) / 1048576 }
  } finally {
    if (started.proc !== undefined) await d.stop(started.proc)
  }
}
