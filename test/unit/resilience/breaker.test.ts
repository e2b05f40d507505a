/**
 * The Breaker (spec §3) on its own: the closed → open → half-open → closed/open transitions
 * with a short openFor, the error rate over a rolling window with minRequests, a run of
 * consecutive failures, one probe at a time, cancels that decide nothing, and one bucket
 * rotation timer shared by every breaker with the same window.
 */
import { createHook } from 'node:async_hooks'
import t from 'tap'
import type { Policy } from '../../../src/config/policy.ts'
import { Breaker, type AttemptSettler, type BreakerState } from '../../../src/resilience/breaker.ts'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
/** opossum settles calls through promises: let them run. */
const settled = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

const policy = (p: Partial<Policy['breaker']> = {}): Policy['breaker'] =>
  ({ errorRate: 0.5, minRequests: 4, windowMs: 10_000, openForMs: 50, consecutiveFailures: 100, ...p })

function breaker (t: { teardown: (fn: () => void) => void }, p: Partial<Policy['breaker']> = {}): { b: Breaker, events: BreakerState[] } {
  const b = new Breaker('test', policy(p))
  const events: BreakerState[] = []
  b.onStateChange = (s) => events.push(s)
  t.teardown(() => b.close())
  return { b, events }
}

function admit (b: Breaker): AttemptSettler {
  const s = b.admit()
  if (s === null) throw new Error(`not admitted (${b.state})`)
  return s
}

/** Admits and settles calls in order: 's' success, 'f' failure, 'c' cancelled. */
async function calls (b: Breaker, outcomes: string): Promise<void> {
  for (const o of outcomes) {
    const s = admit(b)
    if (o === 's') s.success()
    else if (o === 'f') s.failure(new Error('boom'))
    else s.cancel()
    await settled()
  }
}

t.test('the error rate reaching errorRate with minRequests opens it; open refuses; openFor later one probe closes it', async (t) => {
  const { b, events } = breaker(t)
  t.equal(b.state, 'closed')
  await calls(b, 'sfs')
  t.equal(b.state, 'closed', '1 failure in 3 calls, below minRequests 4')
  await calls(b, 'f')
  t.equal(b.state, 'open', '2 of 4 failed: 0.5 reached')
  t.same(events, ['open'])
  t.equal(b.admit(), null, 'open: refused')
  t.equal(b.retryAfterSeconds(), 1, 'Retry-After at least 1 s')
  await sleep(70)
  t.equal(b.state, 'half_open', 'after openFor')
  t.same(events, ['open', 'half_open'])
  const probe = admit(b)
  t.equal(b.admit(), null, 'a second call while the probe is out is refused')
  t.equal(b.admit(), null, 'and a third')
  t.equal(b.state, 'half_open')
  probe.success()
  await settled()
  t.equal(b.state, 'closed', 'a successful probe closes it')
  t.same(events, ['open', 'half_open', 'closed'])
  t.not(b.admit(), null, 'closed: admitted')
})

t.test('below the error rate it stays closed however many calls', async (t) => {
  const { b } = breaker(t)
  await calls(b, 'ssf'.repeat(20))
  t.equal(b.state, 'closed', '1/3 < 0.5')
})

t.test('a failed probe opens it again for another openFor', async (t) => {
  const { b, events } = breaker(t, { consecutiveFailures: 2 })
  await calls(b, 'ff')
  t.equal(b.state, 'open', '2 consecutive failures, below minRequests')
  await sleep(70)
  t.equal(b.state, 'half_open')
  admit(b).failure(new Error('still down'))
  await settled()
  t.equal(b.state, 'open')
  t.equal(b.admit(), null)
  t.equal(b.retryAfterSeconds(), 1)
  await sleep(70)
  t.equal(b.state, 'half_open', 'half-open again after another openFor')
  admit(b).success()
  await settled()
  t.equal(b.state, 'closed')
  t.same(events, ['open', 'half_open', 'open', 'half_open', 'closed'])
})

t.test('a cancelled probe decides nothing: open again, never closed', async (t) => {
  const { b, events } = breaker(t, { consecutiveFailures: 1 })
  await calls(b, 'f')
  await sleep(70)
  t.equal(b.state, 'half_open')
  admit(b).cancel()
  await settled()
  t.equal(b.state, 'open', 'no probe answer: open, to probe again later')
  await sleep(70)
  t.equal(b.state, 'half_open', 'and a new probe is allowed after openFor')
  t.not(b.admit(), null)
  t.same(events, ['open', 'half_open', 'open', 'half_open'])
})

t.test('a straggler from before the breaker opened cannot decide the probe by being cancelled', async (t) => {
  const { b } = breaker(t, { consecutiveFailures: 1 })
  const straggler = admit(b)
  await calls(b, 'f')
  await sleep(70)
  const probe = admit(b)
  straggler.cancel()
  await settled()
  t.equal(b.state, 'half_open', 'still waiting on the probe')
  t.equal(b.admit(), null)
  probe.failure(new Error('down'))
  await settled()
  t.equal(b.state, 'open', 'the probe decided')
})

t.test('consecutive failures open it below minRequests; a success ends the run, a cancel does not', async (t) => {
  const { b } = breaker(t, { minRequests: 1000, consecutiveFailures: 3 })
  await calls(b, 'ffsff')
  t.equal(b.state, 'closed', 'never 3 in a row')
  await calls(b, 'c')
  t.equal(b.state, 'closed')
  await calls(b, 'f')
  t.equal(b.state, 'open', 'f f (cancel) f: a cancel is not a success, the run goes on')
})

t.test('failures older than the window no longer count', async (t) => {
  const { b } = breaker(t, { windowMs: 200, minRequests: 4 })
  await calls(b, 'fff')
  t.equal(b.state, 'closed', '3 calls, below minRequests')
  await sleep(300)
  await calls(b, 'f')
  t.equal(b.state, 'closed', 'the first three rotated out of the 200 ms window: 1 call in it')
  const fresh = breaker(t, { windowMs: 10_000, minRequests: 4 }).b
  await calls(fresh, 'fff')
  await sleep(300)
  await calls(fresh, 'f')
  t.equal(fresh.state, 'open', 'with a 10 s window the same calls open it')
})

t.test('breakers sharing a window share one rotation timer', async (t) => {
  let created = 0
  let destroyed = 0
  const timers = new Set<number>()
  const hook = createHook({
    init (id, type) { if (type === 'Timeout') { created++; timers.add(id) } },
    destroy (id) { if (timers.delete(id)) destroyed++ }
  }).enable()
  t.teardown(() => { hook.disable() })
  const make = (windowMs: number): Breaker => new Breaker('b', policy({ windowMs }))
  const many = Array.from({ length: 100 }, () => make(12_340))
  t.equal(created, 1, '100 breakers with one window: one interval')
  many.push(...Array.from({ length: 100 }, () => make(12_340)))
  t.equal(created, 1, '100 more with the same window: none added')
  const other = Array.from({ length: 100 }, () => make(23_450))
  t.equal(created, 2, 'another window: one more')
  for (const b of many.splice(0, 199)) b.close()
  for (const b of other) b.close()
  await settled()
  t.equal(destroyed, 1, 'the last user of a window keeps its timer; the other window\'s is cleared')
  many[0]!.close()
  await settled()
  t.equal(destroyed, 2, 'the last breaker of a window clears its timer')
})

t.test('a closed breaker\'s successes count in the window without a promise each; failures still decide', async (t) => {
  const { b } = breaker(t, { minRequests: 10 })
  // Successes are recorded synchronously: the window shows them before any microtask runs.
  for (let i = 0; i < 6; i++) admit(b).success()
  t.same(b.windowStats(), { calls: 6, failures: 0 })
  // 6 successes and 4 failures: 40 %, below errorRate 0.5 at minRequests 10: closed.
  await calls(b, 'ffff')
  t.same(b.windowStats(), { calls: 10, failures: 4 })
  t.equal(b.state, 'closed')
  // Two more failures: 6 of 12 = 50 % reaches errorRate: open.
  await calls(b, 'ff')
  t.equal(b.state, 'open')
})
