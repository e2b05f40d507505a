/**
 * Backend choice by weight (spec §2.2). The sticky key is hashed with the route name into one
 * of 10,000 buckets; each backend owns a contiguous range of buckets in the order written, so
 * raising one backend's weight only moves the buckets at the border between ranges: users
 * move from old to new and never back. Without a key the bucket is random.
 */
export const BUCKETS = 10_000

export interface WeightedTargets<B> {
  readonly backends: readonly B[]
  readonly weights: readonly number[]
  /** Exclusive end bucket of each backend's range; the last is BUCKETS. */
  readonly ends: Int32Array
}

/** Precomputes bucket ranges from integer weights (normalised to their sum). */
export function buildTargets<B> (backends: readonly B[], weights: readonly number[]): WeightedTargets<B> {
  const total = weights.reduce((a, b) => a + b, 0)
  const ends = new Int32Array(backends.length)
  let cum = 0
  for (let i = 0; i < weights.length; i++) {
    cum += weights[i]!
    ends[i] = total === 0 ? 0 : Math.round((cum * BUCKETS) / total)
  }
  if (total > 0) ends[ends.length - 1] = BUCKETS
  return Object.freeze({ backends: Object.freeze([...backends]), weights: Object.freeze([...weights]), ends })
}

/** FNV-1a 32-bit over UTF-16 code units, seeded with the route's hash so routes spread apart. */
export function fnv1a (s: string, seed = 0x811c9dc5): number {
  let h = seed
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The hash state after `routeName + "\0"`, computed once per route at reload. */
export function routeSeed (routeName: string): number {
  return fnv1a('\u0000', fnv1a(routeName))
}

export function stickyBucket (seed: number, key: string): number {
  return fnv1a(key, seed) % BUCKETS
}

export function randomBucket (): number {
  return (Math.random() * BUCKETS) | 0
}

/** The index of the backend owning `bucket`, or -1 when every weight is 0. */
export function pick<B> (t: WeightedTargets<B>, bucket: number): number {
  const ends = t.ends
  for (let i = 0; i < ends.length; i++) if (bucket < ends[i]!) return i
  return -1
}
