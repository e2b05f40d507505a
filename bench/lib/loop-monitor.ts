/**
 * Preloaded into figway by the soak (`node --import bench/lib/loop-monitor.ts ...`): samples
 * the process's event-loop delay at 1 ms resolution (prom-client's monitor uses 10 ms) and,
 * every SOAK_LOOP_INTERVAL_MS, writes the interval's figures as JSON to SOAK_LOOP_FILE, then
 * starts a new interval. Does nothing without SOAK_LOOP_FILE.
 */
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const file = process.env.SOAK_LOOP_FILE
if (file !== undefined && file !== '') {
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  const every = Number(process.env.SOAK_LOOP_INTERVAL_MS ?? '5000') || 5000
  const ms = (ns: number): number => Number.isFinite(ns) ? ns / 1e6 : 0
  setInterval(() => {
    const out = { at: Date.now(), meanMs: ms(h.mean), p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) }
    h.reset()
    try { writeFileSync(file, JSON.stringify(out) + '\n') } catch { /* the soak went away */ }
  }, every).unref()
}
