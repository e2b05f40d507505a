// The part of autocannon 9's programmatic API the harness uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  namespace autocannon {
    interface RequestData {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string | Buffer
    }

    interface Request extends RequestData {
      setupRequest?: (req: RequestData, context: Record<string, unknown>) => RequestData | null
    }

    interface Options {
      url: string
      connections?: number
      duration?: number
      /** Requests per second across all connections (a fixed-rate load). */
      overallRate?: number
      pipelining?: number
      timeout?: number
      headers?: Record<string, string>
      requests?: Request[]
      title?: string
    }

    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p50: number
      p90: number
      p97_5: number
      p99: number
      p99_9: number
      p99_99: number
    }

    interface Result {
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      resets: number
      mismatches: number
      '2xx': number
      statusCodeStats: Record<string, { count: number }>
      latency: Histogram
      requests: Histogram & { sent: number }
      throughput: Histogram
    }

    interface Instance extends EventEmitter {
      stop (): void
      on (event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): this
      on (event: string, listener: (...args: any[]) => void): this
    }
  }

  function autocannon (opts: autocannon.Options, cb: (err: Error | null, result: autocannon.Result) => void): autocannon.Instance

  export = autocannon
}
