import t from 'tap'
import { BUCKETS, buildTargets, fnv1a, pick, randomBucket, routeSeed, stickyBucket } from '../../../src/routing/split.ts'

t.test('fnv1a is the standard 32-bit FNV-1a', async (t) => {
  // Reference values from the FNV test suite (http://www.isthe.com/chongo/tech/comp/fnv/).
  t.equal(fnv1a(''), 0x811c9dc5)
  t.equal(fnv1a('a'), 0xe40c292c)
  t.equal(fnv1a('foobar'), 0xbf9cf968)
})

t.test('the sticky bucket is the hash of route name, a NUL and the key, modulo 10,000', async (t) => {
  t.equal(BUCKETS, 10_000)
  t.equal(stickyBucket(routeSeed('orders-read'), '42'), fnv1a('orders-read\u000042') % 10_000)
  t.not(stickyBucket(routeSeed('orders-read'), 'user-1'), stickyBucket(routeSeed('orders-write'), 'user-1'), 'routes spread the same key apart')
})

t.test('each backend owns a contiguous range of buckets in the order written', async (t) => {
  const x = buildTargets(['a', 'b'], [25, 75])
  t.same([...x.ends], [2_500, 10_000])
  t.same([pick(x, 0), pick(x, 2_499), pick(x, 2_500), pick(x, 9_999)], [0, 0, 1, 1])
  const y = buildTargets(['a', 'b', 'c'], [1, 1, 1])
  t.same([...y.ends], [3_333, 6_667, 10_000])
})

t.test('weights are normalised: 1:3 is the same split as 25:75', async (t) => {
  t.same([...buildTargets(['a', 'b'], [1, 3]).ends], [...buildTargets(['a', 'b'], [25, 75]).ends])
  t.same([...buildTargets(['a', 'b'], [2, 2]).ends], [5_000, 10_000])
})

t.test('a backend with weight 0 owns no bucket', async (t) => {
  for (const w of [[0, 1, 1], [1, 0, 1], [1, 1, 0]]) {
    const x = buildTargets(['a', 'b', 'c'], w)
    const zero = w.indexOf(0)
    let hits = 0
    for (let b = 0; b < BUCKETS; b++) if (pick(x, b) === zero) hits++
    t.equal(hits, 0, `weights ${w.join(':')}`)
  }
})

t.test('every bucket belongs to some backend, and bucket counts follow the weights', async (t) => {
  const x = buildTargets(['a', 'b', 'c'], [10, 30, 60])
  const counts = [0, 0, 0]
  for (let b = 0; b < BUCKETS; b++) counts[pick(x, b)]!++
  t.same(counts, [1_000, 3_000, 6_000])
})

t.test('all-zero weights pick nothing', async (t) => {
  t.equal(pick(buildTargets(['a', 'b'], [0, 0]), 0), -1)
})

t.test('raising the first backend’s weight only moves buckets to it, never away from it', async (t) => {
  const steps = [[1, 99], [10, 90], [25, 75], [50, 50], [100, 0]].map((w) => buildTargets(['new', 'old'], w))
  for (let i = 1; i < steps.length; i++) {
    for (let b = 0; b < BUCKETS; b++) {
      if (pick(steps[i - 1]!, b) === 0 && pick(steps[i]!, b) !== 0) { t.fail(`bucket ${b} left new at step ${i}`); return }
    }
  }
  t.pass('no bucket ever moved from new to old')
})

t.test('raising the last backend’s weight also only moves buckets to it', async (t) => {
  const before = buildTargets(['old', 'new'], [90, 10])
  const after = buildTargets(['old', 'new'], [75, 25])
  let moved = 0
  for (let b = 0; b < BUCKETS; b++) {
    if (pick(before, b) === 1) t.equal(pick(after, b), 1)
    else if (pick(after, b) === 1) moved++
  }
  t.equal(moved, 1_500)
})

t.test('random buckets cover the whole range', async (t) => {
  let min = BUCKETS
  let max = -1
  for (let i = 0; i < 100_000; i++) {
    const b = randomBucket()
    if (b < min) min = b
    if (b > max) max = b
    if (!Number.isInteger(b) || b < 0 || b >= BUCKETS) { t.fail(`bucket ${b} out of range`); return }
  }
  t.ok(min < 50 && max > BUCKETS - 50, `min ${min}, max ${max}`)
})
