/**
 * pino, JSON lines. The access log goes through an asynchronous destination so that writing
 * it never blocks the event loop on the request path; it is flushed on shutdown.
 */
import { pino, type Logger } from 'pino'

export type { Logger }

export const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie', 'headers["set-cookie"]']

export function createLogger (level: string, name = 'figway', dest?: NodeJS.WritableStream): Logger {
  const destination = dest ?? pino.destination({ dest: 1, sync: false })
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' }
  }, destination)
}

/** Flushes an asynchronous destination before exit. */
export function flushLogger (logger: Logger): void {
  try { logger.flush() } catch { /* a sync stream has nothing to flush */ }
}
