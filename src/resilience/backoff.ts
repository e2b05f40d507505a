/**
 * Retry delays (spec §3): full-jitter exponential backoff, `sleep = random(0, min(max,
 * base·2^n))` for the n-th retry (n from 0), as in the AWS Architecture Blog's "Exponential
 * Backoff and Jitter"; and a backend's `Retry-After`, honoured only up to the cap.
 */

export function fullJitterMs (retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** retry)
  return random() * ceiling
}

const MON = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
const TIME = '\\d{2}:\\d{2}:\\d{2}'
/** The three HTTP-date forms a recipient accepts (RFC 9110 §5.6.7): IMF-fixdate, RFC 850, asctime. */
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{2} ${MON} \\d{4} ${TIME} GMT$`)
const RFC850_DATE = new RegExp(`^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \\d{2}-${MON}-\\d{2} ${TIME} GMT$`)
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MON} [ \\d]\\d ${TIME} \\d{4}$`)

/**
 * The delay a `Retry-After` value asks for (RFC 9110 §10.2.3: delay-seconds or an HTTP-date),
 * in ms; undefined when absent or unparseable. Only the HTTP-date forms are read as dates:
 * Date.parse alone takes junk such as "-1" or "1.5" for dates in 2001 (that is, "retry now").
 */
export function retryAfterMs (value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const v = (typeof value === 'string' ? value : value[0] ?? '').trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  // An asctime date has no zone; HTTP-dates are always GMT, not the machine's local time.
  const at = IMF_FIXDATE.test(v) || RFC850_DATE.test(v) ? Date.parse(v) : ASCTIME_DATE.test(v) ? Date.parse(v + ' GMT') : NaN
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
