import { Writable } from 'node:stream'
import t from 'tap'
import { createLogger } from '../../../src/telemetry/logger.ts'

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
