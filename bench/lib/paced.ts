/**
 * Load at a fixed rate, paced like wrk2: request i is due at start + i/rate, whether or not
 * earlier ones have answered (open loop), and its latency runs from when it was due, so a
 * stall shows in the percentiles instead of silently lowering the rate (no coordinated
 * omission). autocannon's `overallRate` sends each second's quota as fast as it can and then
 * waits, which queues requests at the start of every second and inflates latency.
 *
 * `connections` keep-alive connections (one request in flight on each) are used in turn, so
 * all of them open and stay open; a request due while every connection is busy waits for the
 * first one free, and that wait counts in its latency.
 *
 * The generator runs in a process of its own (bench/lib/paced-worker.ts) on raw node:net
 * sockets (Nagle off), with a prebuilt request and a minimal response parser
 * (bench/lib/response-parser.ts). In the harness's own event loop, with undici and a promise
 * per request, it cost so much CPU that at a few thousand req/s it competed with the proxy
 * under test (and with the harness's timers) for the two cores, and its own delays showed up
 * as the proxy's latency. This module only starts that process and relays its messages.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { LoadResult } from './load.ts'
import type { WorkerMessage, WorkerOptions } from './paced-worker.ts'

/** What the generator's process gets (paced-worker.ts), and the progress callback. */
export interface PacedOptions extends WorkerOptions {
  /**
   * Called about every 100 ms while requests end, with how many ended since the last call:
   * ok (a 2xx response) and failed (any other status, an error or a timeout).
   */
  readonly onProgress?: (p: { ok: number, failed: number }) => void
}

const WORKER = fileURLToPath(new URL('./paced-worker.ts', import.meta.url))

const running = new Set<ChildProcess>()

/** Stops the run in progress (Ctrl-C): its result still comes, with what was done so far. */
export function stopPaced (): void {
  for (const child of running) {
    if (child.connected) child.send({ type: 'stop' })
  }
}

export async function runPaced (o: PacedOptions): Promise<LoadResult> {
  const w: WorkerOptions = { url: o.url, connections: o.connections, durationS: o.durationS, rate: o.rate, users: o.users, requestTimeoutMs: o.requestTimeoutMs }
  const child = spawn(process.execPath, [WORKER, JSON.stringify(w)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  running.add(child)
  return await new Promise<LoadResult>((resolve, reject) => {
    let result: LoadResult | undefined
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') o.onProgress?.({ ok: m.ok, failed: m.failed })
      else if (m.type === 'result') result = m.result
    })
    child.on('error', (err) => {
      running.delete(child)
      reject(err)
    })
    child.on('close', (code, signal) => {
      running.delete(child)
      if (result !== undefined) resolve(result)
      else reject(new Error(`paced load generator exited (${signal ?? `code ${code}`}) without a result`))
    })
  })
}
