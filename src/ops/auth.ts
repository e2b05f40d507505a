/**
 * Ops API authentication (spec §6): `Authorization: Bearer <ops.token>`, or the dashboard's
 * session cookie. No token configured → every admin endpoint answers 403.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

export const SESSION_COOKIE = 'figway_ops'

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

export function makeAuth (token: string): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const want = digest(token)
  const session = token === '' ? '' : createHash('sha256').update('session:' + token).digest('hex')
  return async (req, reply) => {
    if (token === '') {
      await reply.code(403).type('application/problem+json').send({ type: 'about:blank', title: 'Forbidden', status: 403, detail: 'the ops API is disabled: no ops.token is configured' })
      return
    }
    const h = req.headers.authorization
    if (typeof h === 'string' && h.startsWith('Bearer ') && timingSafeEqual(digest(h.slice(7)), want)) return
    const cookie = req.headers.cookie
    if (cookie !== undefined && session !== '' && cookie.split(';').some((c) => c.trim() === `${SESSION_COOKIE}=${session}`)) return
    await reply.code(401).header('www-authenticate', 'Bearer realm="figway-ops"').type('application/problem+json').send({ type: 'about:blank', title: 'Unauthorized', status: 401 })
  }
}
