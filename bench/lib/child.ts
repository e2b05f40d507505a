/**
 * What every process the harness starts beside figway (origins, baseline proxies, the OTLP
 * sink) does around its own work: print its ports as one JSON line (`{"ports":[...]}`, what
 * procs.ts readPorts waits for), then end on SIGTERM/SIGINT or when the harness goes away
 * (its stdin closes), so that no origin outlives a benchmark run.
 */
import type { AddressInfo } from 'node:net'

/** The port a listening server got (0 if it is not listening on TCP). */
export function portOf (server: { address: () => AddressInfo | string | null }): number {
  const a = server.address()
  return typeof a === 'object' && a !== null ? a.port : 0
}

/**
 * Prints `ports`, then on the first stop signal runs `close` once and exits: at once when it
 * returns nothing, else when its promise settles (1 if it rejects), and within 2 s either way.
 */
export function announceAndServe (ports: readonly number[], close: () => void | Promise<unknown>): void {
  process.stdout.write(JSON.stringify({ ports }) + '\n')
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    const done = close()
    if (done === undefined) process.exit(0)
    done.then(() => process.exit(0), () => process.exit(1))
    setTimeout(() => process.exit(0), 2_000).unref()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.on('end', stop)
  process.stdin.on('error', stop)
  process.stdin.resume()
}
