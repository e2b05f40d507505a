/**
 * The paced load generator's own process (started by bench/lib/paced.ts, which describes the
 * method). Options come as JSON in argv[2]; over the IPC channel it sends
 * `{ type: 'progress', ok, failed }` about every 100 ms while requests end, then
 * `{ type: 'result', result }` once, and exits. A `{ type: 'stop' }` message, SIGINT or
 * SIGTERM ends the run early (the result still comes); losing the parent ends the process.
 *
 * Each connection is a raw node:net socket sending a prebuilt request and parsed by
 * bench/lib/response-parser.ts, so a request costs a write, a read and a few comparisons.
 */
import { connect, type Socket } from 'node:net'
import { Latencies } from './latency.ts'
import type { LoadResult } from './load.ts'
import { ResponseParser } from './response-parser.ts'

export interface WorkerOptions {
  readonly url: string
  readonly connections: number
  readonly durationS: number
  readonly rate: number
  /** When set, each request gets an `x-user-id` header cycling through this many users. */
  readonly users?: number
  /** A request not answered within this long counts as a timeout (default 10 s). */
  readonly requestTimeoutMs?: number
}

export type WorkerMessage =
  | { readonly type: 'progress', readonly ok: number, readonly failed: number }
  | { readonly type: 'result', readonly result: LoadResult }

/** By default, how long a request may take before it counts as a timeout and its connection is replaced. */
const REQUEST_TIMEOUT_MS = 10_000
const PROGRESS_MS = 100
/** The longest the pacing timer sleeps (at low rates), so that a stop takes effect soon. */
const WAKE_MAX_MS = 50

interface Conn {
  readonly id: number
  sock: Socket | undefined
  /** Due time of the request in flight (ms, performance.now()), or -1 when idle. */
  due: number
  /** When the request in flight was written. */
  sentAt: number
}

let stopping = false

/** Stops the run in progress: no more requests are sent. */
export function stopWorker (): void { stopping = true }

export async function pace (o: WorkerOptions, onProgress?: (ok: number, failed: number) => void): Promise<LoadResult> {
  stopping = false
  const u = new URL(o.url)
  if (u.protocol !== 'http:') throw new Error(`paced load: only http: URLs (${o.url})`)
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  const port = u.port === '' ? 80 : Number(u.port)
  const head = `GET ${u.pathname + u.search} HTTP/1.1\r\nHost: ${u.host}\r\n`
  const plain = Buffer.from(head + '\r\n', 'latin1')
  const users = o.users
  const timeoutMs = o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  // One request buffer per user, built the first time that user comes round.
  const perUser: Array<Buffer | undefined> = users === undefined ? [] : new Array<Buffer | undefined>(users)
  let userSeq = 0
  const nextRequest = (): Buffer => {
    if (users === undefined) return plain
    userSeq = (userSeq + 1) % users
    return perUser[userSeq] ??= Buffer.from(`${head}x-user-id: user-${userSeq}\r\n\r\n`, 'latin1')
  }

  const readBuffer = Buffer.allocUnsafe(64 * 1024)
  const conns: Conn[] = Array.from({ length: o.connections }, (_, id) => ({ id, sock: undefined, due: -1, sentAt: 0 }))
  // Free connections, oldest first, so that every connection takes its turn.
  const free: number[] = conns.map((c) => c.id)
  let freeHead = 0
  const waiting: number[] = [] // due times (ms) of requests waiting for a connection
  let waitHead = 0
  const lat = new Latencies()
  let sent = 0
  let done = 0
  let errors = 0
  let timeouts = 0
  let non2xx = 0
  const codes = new Float64Array(1000)
  let inflight = 0
  let okSince = 0
  let failedSince = 0
  let drained: (() => void) | undefined

  /** The request on `c` has ended (answered or failed): the connection takes the next one. */
  const release = (c: Conn): void => {
    c.due = -1
    inflight--
    if (waitHead < waiting.length) send(c, waiting[waitHead++]!)
    else free.push(c.id)
    if (inflight === 0 && drained !== undefined) drained()
  }

  const fail = (c: Conn, timeout: boolean): void => {
    if (timeout) timeouts++
    else errors++
    failedSince++
    release(c)
  }

  const open = (c: Conn): Socket => {
    // Reads land in one shared buffer (no stream machinery, no allocation per read): the
    // parser looks at the bytes synchronously and copies only a partial line.
    const sock: Socket = connect({
      host,
      port,
      onread: {
        buffer: readBuffer,
        callback: (nread: number, buf: Uint8Array): boolean => {
          if (c.sock !== sock) return true
          try {
            parser.feed(Buffer.from(buf.buffer, buf.byteOffset, nread))
          } catch {
            if (c.sock !== sock) return true
            drop(c)
            if (c.due >= 0) fail(c, false)
          }
          return true
        }
      }
    })
    sock.setNoDelay(true)
    c.sock = sock
    const parser = new ResponseParser((status, keepAlive) => {
      if (c.sock !== sock) return
      if (c.due < 0) { drop(c); return } // a response nobody asked for
      const ms = performance.now() - c.due
      codes[status]!++
      const ok = status >= 200 && status < 300
      if (ok) okSince++
      else { non2xx++; failedSince++ }
      lat.add(ms)
      done++
      if (!keepAlive) drop(c)
      release(c)
    })
    sock.on('error', () => {}) // the close that follows does the accounting
    // The server ended the connection (or it broke): not reused, even if idle, so that no
    // request is written to a closing socket.
    const gone = (): void => {
      if (c.sock !== sock) return
      // A body that runs to the end of the connection ends here (the callback accounts for it).
      if (c.due >= 0 && parser.end()) return
      drop(c)
      if (c.due >= 0) fail(c, false)
    }
    sock.on('end', gone)
    sock.on('close', gone)
    return sock
  }

  /** Forgets `c`'s socket (the next request on it opens a new one). */
  const drop = (c: Conn): void => {
    const sock = c.sock
    c.sock = undefined
    sock?.destroy()
  }

  const send = (c: Conn, due: number): void => {
    inflight++
    c.due = due
    c.sentAt = performance.now()
    const sock = c.sock ?? open(c)
    sock.write(nextRequest())
  }

  // Timeouts and progress, checked every PROGRESS_MS rather than with a timer per request.
  const housekeeping = setInterval(() => {
    const now = performance.now()
    for (const c of conns) {
      if (c.due >= 0 && now - c.sentAt >= timeoutMs) {
        drop(c)
        fail(c, true)
      }
    }
    flushProgress()
  }, PROGRESS_MS)
  const flushProgress = (): void => {
    if (okSince === 0 && failedSince === 0) return
    onProgress?.(okSince, failedSince)
    okSince = 0
    failedSince = 0
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
        if (freeHead < free.length) send(conns[free[freeHead++]!]!, due)
        else waiting.push(due)
        // Keep the queues' consumed heads from growing without bound.
        if (freeHead > 4096) { free.splice(0, freeHead); freeHead = 0 }
        if (waitHead > 4096) { waiting.splice(0, waitHead); waitHead = 0 }
      }
      if (now >= end || stopping) { resolve(); return }
      // Wake for the next due request rather than every millisecond: below 1,000 req/s that
      // halves the wake-ups or better, and a late timer only delays sending, which the
      // latency (counted from the due time) includes either way. At most WAKE_MAX_MS, so
      // that a stop is seen soon at low rates.
      const wait = Math.min(start + sent * interval, end) - performance.now()
      setTimeout(tick, Math.min(WAKE_MAX_MS, Math.max(1, Math.round(wait))))
    }
    tick()
  })
  // Requests still waiting for a connection were never sent: they count as not completed.
  waiting.length = 0
  waitHead = 0
  if (inflight > 0) {
    await new Promise<void>((resolve) => {
      drained = resolve
      setTimeout(resolve, timeoutMs + 2 * PROGRESS_MS).unref()
    })
  }
  clearInterval(housekeeping)
  for (const c of conns) drop(c)
  flushProgress()

  const statusCodes: Record<string, number> = {}
  for (let s = 0; s < codes.length; s++) if (codes[s]! > 0) statusCodes[String(s)] = codes[s]!
  return {
    tool: 'paced',
    requests: done,
    durationS: o.durationS,
    rps: done / o.durationS,
    latencyMs: lat.summary(),
    errors,
    timeouts,
    non2xx,
    statusCodes
  }
}

if (import.meta.main) {
  const send = (m: WorkerMessage): void => { process.send?.(m) }
  if (process.send === undefined) {
    console.error('paced-worker: start it with an IPC channel (bench/lib/paced.ts runPaced)')
    process.exit(2)
  }
  let finished = false
  process.on('message', (m: { type?: string }) => { if (m.type === 'stop') stopWorker() })
  process.on('SIGINT', stopWorker)
  process.on('SIGTERM', stopWorker)
  process.on('disconnect', () => { if (!finished) process.exit(1) })
  const o = JSON.parse(process.argv[2] ?? '') as WorkerOptions
  const result = await pace(o, (ok, failed) => { send({ type: 'progress', ok, failed }) })
  finished = true
  process.send({ type: 'result', result } satisfies WorkerMessage, () => { process.disconnect() })
}
