/**
 * Retry delays (spec §3): full-jitter exponential backoff, `sleep = random(0, min(max,
 * base·2^n))` for the n-th retry (n from 0), as in the AWS Architecture Blog's "Exponential
 * Backoff and Jitter"; and a backend's `Retry-After`, honoured only up to the cap.
 */

export function fullJitterMs (retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** retry)
  return random() * ceiling
}

/**
 * The delay a `Retry-After` value asks for (RFC 9110 §10.2.3: delay-seconds or an HTTP-date),
 * in ms; undefined when absent or unparseable.
 */
export function retryAfterMs (value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const v = (typeof value === 'string' ? value : value[0] ?? '').trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
