/**
 * `node bench/tracing-cost.ts`: what tracing adds per request, in µs, in-process, without
 * sockets: the calls the pipeline makes (startServer, one startClient and its end, endServer)
 * on a request-like exchange, for tracing off (propagation only), the default sampleRatio
 * 0.05 exporting over OTLP/HTTP to a local sink that discards, and every request sampled.
 * Method: 200,000 exchanges per mode (50,000 when all are sampled), yielding to the event
 * loop every 4,096 so batches export as they would in the gateway; 5 rounds, interleaved;
 * the median round per mode is printed. The exchange allocation alone is measured too and
 * is not subtracted.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { createLogger } from '../src/telemetry/logger.ts'
import { resolveTracing } from '../src/telemetry/tracing-config.ts'
import { loadExportSdk, Tracing, type TracedExchange } from '../src/telemetry/tracing.ts'

const ROUNDS = 5
const sink = createServer((req, res) => { req.resume(); req.on('end', () => res.end()) })
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`
const logger = createLogger('warn', 'figway', new Writable({ write (_c, _e, cb) { cb() } }))

async function tracing (exporter: 'none' | 'otlp', sampleRatio: number): Promise<Tracing> {
  const settings = resolveTracing({ serviceName: 'figway', logLevel: 'warn', tracing: { exporter, endpoint, sampleRatio } }, {})
  return new Tracing(settings, logger, await loadExportSdk(settings, false))
}

const req = { headers: { host: 'gateway', 'user-agent': 'bench' }, url: '/api/items/42?view=compact', httpVersion: '1.1', socket: { remoteAddress: '127.0.0.1' } }
const route = { name: 'all', pattern: { source: '/**' } }
const backend = { name: 'origin', origin: 'http://127.0.0.1:8080' }
function exchange (): TracedExchange {
  return {
    req: req as unknown as TracedExchange['req'],
    method: 'GET',
    path: '/api/items/42',
    query: '?view=compact',
    upstreamPath: '/api/items/42',
    reqId: 'bench',
    route,
    backend,
    status: 200,
    code: '',
    attempts: 1,
    fallback: '',
    traceId: '',
    traceFlags: 0,
    tracestate: '',
    span: null,
    spanContext: null
  }
}

async function perRequestUs (t: Tracing | null, n: number): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const ex = exchange()
    if (t !== null) {
      t.startServer(ex)
      t.startClient(ex, backend, 1).end(200)
      t.endServer(ex)
    }
    if ((i & 4095) === 4095) await new Promise((resolve) => setImmediate(resolve))
  }
  return (performance.now() - t0) * 1000 / n
}

const modes: Array<[string, Tracing | null, number]> = [
  ['exchange allocation only', null, 200_000],
  ['tracing off (propagation only)', await tracing('none', 0.05), 200_000],
  ['sampleRatio 0.05, OTLP/HTTP export', await tracing('otlp', 0.05), 200_000],
  ['sampleRatio 1, OTLP/HTTP export', await tracing('otlp', 1), 50_000]
]
const results = new Map<string, number[]>()
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, t, n] of modes) {
    const us = await perRequestUs(t, n)
    results.set(name, [...(results.get(name) ?? []), us])
  }
}
process.stdout.write('| mode | µs per request (median of ' + ROUNDS + ' rounds) | range |\n|---|---:|---|\n')
for (const [name] of modes) {
  const xs = results.get(name)!.sort((a, b) => a - b)
  process.stdout.write(`| ${name} | ${xs[Math.floor(xs.length / 2)]!.toFixed(2)} | ${xs[0]!.toFixed(2)}–${xs[xs.length - 1]!.toFixed(2)} |\n`)
}
for (const [, t] of modes) await t?.shutdown(2_000)
sink.close()
