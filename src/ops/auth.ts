/**
 * Ops API authentication (spec §6): `Authorization: Bearer <ops.token>`, or the dashboard's
 * session cookie. No token configured → every admin endpoint answers 403. The cookie holds
 * an HMAC of the token under a key made at start, so it is useless outside this process and
 * stops working when the process restarts or the token changes.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

export const SESSION_COOKIE = 'figway_ops'

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

export interface OpsAuth {
  /** Fastify onRequest hook: passes, or answers 401/403. */
  readonly hook: (req: FastifyRequest, reply: FastifyReply) => Promise<void>
  /** True when `t` is the configured token (constant time). */
  readonly tokenMatches: (t: string) => boolean
  /** The Set-Cookie value of a dashboard session. */
  readonly sessionCookie: () => string
}

export function makeAuth (token: string): OpsAuth {
  const want = digest(token)
  const session = token === '' ? '' : createHmac('sha256', randomBytes(32)).update(token).digest('hex')
  const tokenMatches = (t: string): boolean => token !== '' && timingSafeEqual(digest(t), want)
  const hook = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (token === '') {
      await reply.code(403).type('application/problem+json').send({ type: 'about:blank', title: 'Forbidden', status: 403, detail: 'the ops API is disabled: no ops.token is configured' })
      return
    }
    const h = req.headers.authorization
    if (typeof h === 'string' && h.startsWith('Bearer ') && tokenMatches(h.slice(7))) return
    const cookie = req.headers.cookie
    if (cookie !== undefined && cookie.split(';').some((c) => c.trim() === `${SESSION_COOKIE}=${session}`)) return
    await reply.code(401).header('www-authenticate', 'Bearer realm="figway-ops"').type('application/problem+json').send({ type: 'about:blank', title: 'Unauthorized', status: 401 })
  }
  return {
    hook,
    tokenMatches,
    sessionCookie: () => `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`
  }
}
