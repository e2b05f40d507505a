import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { bufferedLines, createLogger, LOG_BATCH_BYTES, LOG_FLUSH_MS, writeAccessLine, msText, quote } from '../../../src/telemetry/logger.ts'
import { eventually } from '../../helpers/gateway.ts'

function capture (level: string): { logger: ReturnType<typeof createLogger>, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, any>)
      cb()
    }
  })
  return { logger: createLogger(level, 'figway', sink), lines }
}

t.test('authorization, cookie and set-cookie are redacted wherever headers are logged', async (t) => {
  const { logger, lines } = capture('info')
  logger.info({
    req: { headers: { authorization: 'Bearer a', cookie: 'c=1', accept: '*/*' } },
    res: { headers: { 'set-cookie': 's=1', 'content-type': 'text/plain' } },
    headers: { authorization: 'Bearer b', cookie: 'c=2', 'set-cookie': 's=2' }
  }, 'with headers')
  const l = lines[0]!
  t.same(l.req.headers, { authorization: '[redacted]', cookie: '[redacted]', accept: '*/*' })
  t.same(l.res.headers, { 'set-cookie': '[redacted]', 'content-type': 'text/plain' })
  t.same(l.headers, { authorization: '[redacted]', cookie: '[redacted]', 'set-cookie': '[redacted]' })
})

t.test('the level is the configured one: below it, nothing is written', async (t) => {
  const { logger, lines } = capture('warn')
  logger.info({ msg: 'access' })
  logger.warn('circuit breaker opened')
  t.same(lines.map((l) => l.msg), ['circuit breaker opened'])
  t.equal(lines[0]!.name, 'figway')
})

t.test('standard output lines are batched, yet a lone line is written within the flush interval, and everything at exit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'figway-log-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'out.log')
  const fd = openSync(file, 'w')
  t.teardown(() => closeSync(fd))
  const dest = bufferedLines(fd)
  const logger = createLogger('info', 'figway', dest as unknown as NodeJS.WritableStream)
  const read = (): Array<Record<string, unknown>> => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)

  // One short line, far below the batch size: the periodic flush writes it.
  logger.info({ n: 0 }, 'lone')
  await eventually(() => read().length > 0, 5_000)
  t.match(read(), [{ n: 0, msg: 'lone' }], 'a lone line is written without waiting for a full batch')

  // Enough lines for several batches: all of them, in order.
  const padding = 'x'.repeat(200)
  for (let n = 1; n <= 200; n++) logger.info({ n, padding }, 'many')
  t.ok(200 * 200 > LOG_BATCH_BYTES * 4, 'more than four batches were written')
  await eventually(() => read().length >= 201, 5_000)
  t.same(read().map((l) => l.n), Array.from({ length: 201 }, (_, i) => i), 'every line, in order')

  // At exit pino's hook writes what is buffered synchronously: the same flushSync.
  logger.info({ n: 201 }, 'last')
  ;(dest as unknown as { flushSync: () => void }).flushSync()
  t.equal(read().at(-1)?.n, 201, 'flushSync writes the buffered line at once')
  t.ok(LOG_FLUSH_MS <= 1_000, 'a line waits at most a second')
})

t.test('the access line is the line pino writes for the same fields, and stays one JSON line whatever the path holds', async (t) => {
  const raw: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { raw.push(chunk.toString()); cb() } })
  const logger = createLogger('info', 'figway', sink)
  const fields = { reqId: 'req-7', traceId: '0af7651916cd43dd8448eb211c80319c', method: 'GET', path: '/orders/7', route: 'orders', backend: 'monolith', status: 200, durationUs: 1234, attempts: 1, fallback: '', code: '' }
  const { durationUs, ...rest } = fields
  logger.info({ msg: 'access', reqId: 'req-7', traceId: fields.traceId, method: 'GET', path: '/orders/7', route: 'orders', backend: 'monolith', status: 200, durationMs: 1.234, attempts: 1, fallback: '', code: '' })
  writeAccessLine(logger, fields)
  t.equal(raw.length, 2)
  // Both lines carry the time of their own millisecond: compare them without it.
  const untimed = (l: string): string => l.replace(/"time":"[^"]*"/, '"time":""')
  t.equal(untimed(raw[1]!), untimed(raw[0]!), 'byte for byte what logger.info writes')
  t.match(JSON.parse(raw[1]!), { level: 30, pid: process.pid, name: 'figway', msg: 'access', ...rest, durationMs: durationUs / 1000 })

  const hostile = '/a"b\\c\n{"x":1}\u0000\u001f/é/\ud800/💥'
  raw.length = 0
  writeAccessLine(logger, { ...fields, path: hostile, reqId: 'id"\r\n' })
  t.equal(raw.length, 1)
  t.equal(raw[0]!.indexOf('\n'), raw[0]!.length - 1, 'one line: the only newline ends it')
  const l = JSON.parse(raw[0]!) as Record<string, unknown>
  t.equal(l.path, hostile, 'the path comes back exactly')
  t.equal(l.reqId, 'id"\r\n')
})

t.test('durations and strings are written as JSON.stringify would write them', async (t) => {
  const us = [0, 1, 9, 10, 100, 999, 1000, 1001, 1010, 1100, 1234, 12000, 120050, 393, 5_000_000, 86_400_000_123, 2 ** 31 + 7]
  for (let i = 0; i < 2000; i++) us.push(Math.floor(Math.random() * 10 ** (1 + (i % 10))))
  for (const u of us) if (msText(u) !== String(u / 1000)) t.fail(`${u} µs: ${msText(u)}, not ${String(u / 1000)}`)
  t.pass(`${us.length} durations as String(us / 1000)`)
  for (const s of ['', 'plain', '/api/items/42', 'a"b', 'a\\b', 'tab\there', '\u0000', 'é', '💥', '\ud800', '\udc00x', 'x'.repeat(300) + '"']) {
    t.equal(quote(s), JSON.stringify(s), JSON.stringify(s).slice(0, 40))
  }
})
