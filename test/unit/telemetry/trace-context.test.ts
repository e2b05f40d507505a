import t from 'tap'
import { formatTraceparent, newSpanId, newTraceId, parseTraceparent } from '../../../src/telemetry/tracing.ts'

t.test('traceparent: the W3C examples parse; unusable values are null', async (t) => {
  t.same(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 })
  t.same(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.traceFlags, 0)
  t.same(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }, 'a later version may add fields')
  for (const bad of [
    undefined,
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    '',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  ]) t.equal(parseTraceparent(bad), null, JSON.stringify(bad))
})

t.test('formatTraceparent writes version 00 with the sampled bit only', async (t) => {
  t.equal(formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 1), '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
  t.equal(formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 2), '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')
})

t.test('ids are lower-case hex of the right length, distinct, across pool refills', async (t) => {
  const traces = new Set<string>()
  const spans = new Set<string>()
  // 4096-byte pool: 10,000 of each crosses many refills.
  for (let i = 0; i < 10_000; i++) { traces.add(newTraceId()); spans.add(newSpanId()) }
  t.equal(traces.size, 10_000)
  t.equal(spans.size, 10_000)
  t.ok([...traces].every((id) => /^[0-9a-f]{32}$/.test(id)))
  t.ok([...spans].every((id) => /^[0-9a-f]{16}$/.test(id)))
})
