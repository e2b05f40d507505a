/**
 * Load at a fixed rate, paced like wrk2: request i is due at start + i/rate, whether or not
 * earlier ones have answered (open loop), and its latency runs from when it was due, so a
 * stall shows in the percentiles instead of silently lowering the rate (no coordinated
 * omission). autocannon's `overallRate` sends each second's quota as fast as it can and then
 * waits, which queues requests at the start of every second and inflates latency.
 *
 * `connections` keep-alive connections (one undici Client each, one request in flight on
 * each) are used in turn, so all of them open and stay open; a request due while every
 * connection is busy waits for the first one free, and that wait counts in its latency.
 */
import { Client } from 'undici'
import type { LoadResult } from './load.ts'

export interface PacedOptions {
  readonly url: string
  readonly connections: number
  readonly durationS: number
  readonly rate: number
  /** When set, each request gets an `x-user-id` header cycling through this many users. */
  readonly users?: number
  /** Called as each request ends: ok is a 2xx response. */
  readonly onResult?: (ok: boolean) => void
}

let stopping = false

/** Stops the run in progress (Ctrl-C). */
export function stopPaced (): void { stopping = true }

export async function runPaced (o: PacedOptions): Promise<LoadResult> {
  stopping = false
  const u = new URL(o.url)
  const path = u.pathname + u.search
  const clients = Array.from({ length: o.connections }, () => new Client(u.origin, { pipelining: 1, keepAliveTimeout: 75_000, headersTimeout: 10_000, bodyTimeout: 10_000 }))
  // Free connections, oldest first, so that every connection takes its turn.
  const free: number[] = clients.map((_, i) => i)
  let freeHead = 0
  const waiting: number[] = [] // due times (ms) of requests waiting for a connection
  let waitHead = 0
  let lat = new Float64Array(1 << 16)
  let n = 0
  let sent = 0
  let done = 0
  let errors = 0
  let timeouts = 0
  let non2xx = 0
  const codes: Record<string, number> = {}
  let userSeq = 0
  let inflight = 0
  let drained: (() => void) | undefined

  const record = (ms: number): void => {
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2)
      bigger.set(lat)
      lat = bigger
    }
    lat[n++] = ms
  }

  const send = (client: number, due: number): void => {
    inflight++
    const headers: Record<string, string> = {}
    if (o.users !== undefined) {
      userSeq = (userSeq + 1) % o.users
      headers['x-user-id'] = 'user-' + userSeq
    }
    clients[client]!.request({ method: 'GET', path, headers }).then(async (res) => {
      await res.body.dump()
      const key = String(res.statusCode)
      codes[key] = (codes[key] ?? 0) + 1
      if (res.statusCode < 200 || res.statusCode >= 300) non2xx++
      record(performance.now() - due)
      done++
      o.onResult?.(res.statusCode >= 200 && res.statusCode < 300)
    }, (err: NodeJS.ErrnoException) => {
      if (/timeout/i.test(err.code ?? err.name)) timeouts++
      else errors++
      o.onResult?.(false)
    }).finally(() => {
      inflight--
      if (waitHead < waiting.length) send(client, waiting[waitHead++]!)
      else free.push(client)
      if (inflight === 0 && drained !== undefined) drained()
    })
  }

  const start = performance.now()
  const end = start + o.durationS * 1000
  const interval = 1000 / o.rate
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      const until = Math.min(now, end)
      // Every request due by now goes out (or waits for a connection), at its due time.
      while (start + sent * interval <= until) {
        const due = start + sent * interval
        sent++
        if (freeHead < free.length) send(free[freeHead++]!, due)
        else waiting.push(due)
        // Keep the queues' consumed heads from growing without bound.
        if (freeHead > 4096) { free.splice(0, freeHead); freeHead = 0 }
        if (waitHead > 4096) { waiting.splice(0, waitHead); waitHead = 0 }
      }
      if (now >= end || stopping) resolve()
      else setTimeout(tick, 1)
    }
    tick()
  })
  // Requests still waiting for a connection were never sent: they count as not completed.
  waiting.length = 0
  waitHead = 0
  if (inflight > 0) {
    await new Promise<void>((resolve) => {
      drained = resolve
      setTimeout(resolve, 10_000).unref()
    })
  }
  await Promise.allSettled(clients.map(async (c) => await c.close()))

  const sorted = lat.subarray(0, n).sort()
  const pct = (p: number): number => n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!
  let sum = 0
  for (let i = 0; i < n; i++) sum += sorted[i]!
  return {
    tool: 'paced',
    requests: done,
    durationS: o.durationS,
    rps: done / o.durationS,
    latencyMs: { mean: n === 0 ? 0 : sum / n, p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: n === 0 ? 0 : sorted[n - 1]! },
    errors,
    timeouts,
    non2xx,
    statusCodes: codes
  }
}
