/**
 * Load from wrk (a C load generator: it costs far less CPU per request than autocannon, which
 * matters when load generator, proxy and origin share two cores). Closed loop only: a fixed
 * number of keep-alive connections over `threads` threads. A Lua script adds the sticky
 * scenario's `x-user-id` header and prints the summary as JSON (latencies in microseconds,
 * from wrk's own histogram). wrk is optional: `findWrk()` says whether it is installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LoadResult } from './load.ts'

export interface WrkOptions {
  readonly url: string
  readonly connections: number
  readonly durationS: number
  readonly threads: number
  /** When set, each request gets an `x-user-id` header cycling through this many users. */
  readonly users?: number
  /** A folder for the Lua script. */
  readonly dir: string
}

/** wrk on PATH, with its version line, or undefined. */
export function findWrk (): { bin: string, version: string } | undefined {
  for (const bin of ['wrk', '/usr/bin/wrk', '/usr/local/bin/wrk']) {
    // `wrk -v` prints "wrk 4.x [epoll] ..." and exits 1.
    const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5_000 })
    if (r.error !== undefined) continue
    const m = /wrk\s+(\S+)/.exec(r.stdout + r.stderr)
    if (m !== null) return { bin, version: m[1]! }
  }
  return undefined
}

const SCRIPT = `-- figway bench: optional x-user-id per request, summary as one JSON line.
local users = tonumber(os.getenv("BENCH_USERS") or "0") or 0
if users > 0 then
  local seq = 0
  request = function()
    seq = (seq + 1) % users
    return wrk.format(nil, nil, { ["x-user-id"] = "user-" .. seq })
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nBENCH_JSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"mean":%.3f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`

let current: ChildProcess | undefined

/** Stops the run in progress (Ctrl-C). */
export function stopWrk (): void { current?.kill('SIGINT') }

export async function runWrk (bin: string, o: WrkOptions): Promise<LoadResult> {
  const script = join(o.dir, 'bench.lua')
  writeFileSync(script, SCRIPT)
  const threads = Math.max(1, Math.min(o.threads, o.connections))
  const args = ['-t', String(threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--timeout', '10s', '-s', script, o.url]
  const child = spawn(bin, args, { env: { ...process.env, BENCH_USERS: String(o.users ?? 0) }, stdio: ['ignore', 'pipe', 'pipe'] })
  current = child
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { out += c })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (c) => resolve(c))
  })
  current = undefined
  const line = /^BENCH_JSON (.*)$/m.exec(out)
  if (line === null) throw new Error(`wrk exited with ${code} without a summary:\n${out.slice(-2_000)}`)
  const s = JSON.parse(line[1]!) as Record<string, number>
  const durationS = s.durationUs! / 1e6
  const ms = (us: number | undefined): number => (us ?? 0) / 1000
  const errors = s.connect! + s.read! + s.write!
  return {
    tool: 'wrk',
    requests: s.requests!,
    durationS,
    rps: durationS > 0 ? s.requests! / durationS : 0,
    latencyMs: { mean: ms(s.mean), p50: ms(s.p50), p90: ms(s.p90), p99: ms(s.p99), p999: ms(s.p999), max: ms(s.max) },
    errors,
    timeouts: s.timeout!,
    non2xx: s.status!,
    // wrk counts responses over 399 without their codes.
    statusCodes: s.status! > 0 ? { '2xx/3xx': s.requests! - s.status!, '4xx/5xx': s.status! } : { '2xx/3xx': s.requests! }
  }
}

/**
 * CPU seconds (user + system) of this process's children that have exited and been waited
 * for (`cutime` + `cstime` in /proc/self/stat): across a wrk run, wrk's own CPU.
 */
export function reapedChildrenCpuSeconds (ticksPerSecond: number): number {
  try {
    const s = readFileSync('/proc/self/stat', 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[13]) + Number(f[14])) / ticksPerSecond
  } catch { return 0 }
}
