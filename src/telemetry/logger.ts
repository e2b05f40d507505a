/**
 * pino, JSON lines. The access log goes through an asynchronous destination so that writing
 * it never blocks the event loop on the request path; it is flushed on shutdown.
 *
 * Costs of a line taken off the request path: the ISO time is formatted once per millisecond
 * rather than once per line; the destination (sonic-boom) runs in buffer mode (in string
 * mode it measures the UTF-8 length of the whole pending chunk on every write, copying up to
 * 16 KiB per line while a write is in flight); and lines are written in batches, like NGINX's
 * `access_log ... buffer= flush=`. An asynchronous write is a round trip through libuv's
 * thread pool (two thread wake-ups); unbatched, a gateway at a moderate rate paid one per
 * request, which at 1,000 req/s cost more CPU than the rest of the request.
 */
import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

export const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie', 'headers["set-cookie"]']

let timeMs = -1
let timeField = ''

/** pino.stdTimeFunctions.isoTime's output (`,"time":"…"`), formatted once per millisecond. */
export function isoTime (): string {
  const now = Date.now()
  if (now !== timeMs) {
    timeMs = now
    timeField = ',"time":"' + new Date(now).toISOString() + '"'
  }
  return timeField
}

/** Lines are written once this many bytes are buffered (sonic-boom's minLength)... */
export const LOG_BATCH_BYTES = 8192
/** ...or at the latest this often (a line waits at most this long before its write starts). */
export const LOG_FLUSH_MS = 200
/**
 * Lines buffered beyond this (standard output not being read) are dropped rather than held:
 * a stuck log reader must not grow the gateway's memory without bound.
 */
export const LOG_MAX_BUFFER_BYTES = 16 * 1024 * 1024
/** pino's level number for warn: lines at this level and above are written at once. */
const WARN = 40

/**
 * Lines to a file descriptor (standard output by default) through sonic-boom in buffer mode,
 * batched; what is still buffered at exit is written by pino's exit hook (flushSync).
 */
export function bufferedLines (fd = 1): DestinationStream {
  const boom = pino.destination({ dest: fd, sync: false, contentMode: 'buffer', minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS, maxLength: LOG_MAX_BUFFER_BYTES } as Parameters<typeof pino.destination>[0])
  return {
    // pino hands over strings; in buffer mode sonic-boom takes bytes.
    write: (line: string) => boom.write(Buffer.from(line) as unknown as string),
    flush: (cb?: (err?: Error) => void) => { boom.flush(cb) },
    flushSync: () => { boom.flushSync() }
  } as DestinationStream
}

/** The fields of an access line (spec §9), in the order they are written. */
export interface AccessFields {
  readonly reqId: string
  readonly traceId: string
  readonly method: string
  readonly path: string
  readonly route: string
  readonly backend: string
  readonly status: number
  /** Whole microseconds; written as milliseconds (durationMs) with up to three decimals. */
  readonly durationUs: number
  readonly attempts: number
  readonly fallback: string
  readonly code: string
}

const { chindingsSym, streamSym } = pino.symbols
/** pino's level number for info, the access line's level. */
const INFO = 30

/**
 * A JSON string literal: the string between quotes when nothing in it needs escaping (the
 * usual case, checked in one pass), else JSON.stringify's, which escapes quotes, backslashes,
 * control characters and lone surrogates.
 */
export function quote (s: string): string {
  if (s.length > 256) return JSON.stringify(s)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s)
  }
  return '"' + s + '"'
}

/**
 * Whole microseconds as milliseconds: the text JavaScript writes for `us / 1000` (up to three
 * decimals, no trailing zeros), built from integers; converting the double was the costliest
 * part of the line after the quoting.
 */
export function msText (us: number): string {
  const ms = Math.floor(us / 1000)
  let frac = us - ms * 1000
  if (frac === 0) return '' + ms
  let digits = 3
  while (frac % 10 === 0) { frac /= 10; digits-- }
  const f = '' + frac
  return ms + (f.length === digits ? '.' : f.length === digits - 1 ? '.0' : '.00') + f
}

/**
 * Writes one access line: the bytes `logger.info({ msg: 'access', ...fields })` writes (pino's
 * level, time, the logger's bindings, then the fields), to the logger's own destination,
 * without pino's generic path: walking an object of eleven fields through its serializers,
 * stringifiers and redaction cost about 15 µs a line, the largest part of the access log's
 * cost per request. The caller checks the level.
 */
export function writeAccessLine (logger: Logger, f: AccessFields): void {
  const l = logger as unknown as Record<symbol, unknown>
  ;(l[streamSym] as { write: (line: string) => unknown }).write('{"level":' + INFO + isoTime() + (l[chindingsSym] as string) +
    ',"msg":"access","reqId":' + quote(f.reqId) + ',"traceId":' + quote(f.traceId) +
    ',"method":' + quote(f.method) + ',"path":' + quote(f.path) +
    ',"route":' + quote(f.route) + ',"backend":' + quote(f.backend) +
    ',"status":' + f.status + ',"durationMs":' + msText(f.durationUs) + ',"attempts":' + f.attempts +
    ',"fallback":' + quote(f.fallback) + ',"code":' + quote(f.code) + '}\n')
}

export function createLogger (level: string, name = 'figway', dest?: NodeJS.WritableStream): Logger {
  const destination = dest ?? bufferedLines()
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
    // Warnings and errors are not held back by the batching: written at once.
    hooks: {
      logMethod (args, method, level) {
        method.apply(this, args)
        if (level >= WARN) this.flush()
      }
    }
  }, destination)
}

/** Flushes an asynchronous destination before exit. */
export function flushLogger (logger: Logger): void {
  try { logger.flush() } catch { /* a sync stream has nothing to flush */ }
}
