/**
 * The example orders service: the orders capability extracted from the monolith. It serves
 * the public order reads under their old paths (figway splits those with the monolith) and
 * the order history under its own path, `/orders/:id/history`, which figway rewrites to.
 * Every JSON reply says `"servedBy":"orders-service"`; `path` is the path it received.
 *
 *   node examples/orders-service.ts [port]    (or PORT=3002; default 3002, host 127.0.0.1 or HOST)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { idOf, listen, orderFilter, parsePort, segments, sendJson, type RunningServer } from './http-kit.ts'
import { customers, history, listOrders, orders } from './shop-data.ts'

export const ORDERS_DEFAULT_PORT = 3002
const SERVED_BY = 'orders-service'
const HEADERS = { 'x-served-by': SERVED_BY }

const reply = (req: IncomingMessage, res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void => {
  sendJson(req, res, status, { servedBy: SERVED_BY, path: req.url, ...body }, { ...HEADERS, ...headers })
}

export function ordersHandler (req: IncomingMessage, res: ServerResponse): void {
  const s = segments(req.url)
  const method = req.method ?? 'GET'
  if (s.length === 1 && s[0] === 'healthz') return reply(req, res, 200, { status: 'ok' })
  // Public paths (shared with the monolith while reads are split) and the service's own.
  const rest = s[0] === 'api' && s[1] === 'orders' ? s.slice(2) : s[0] === 'orders' ? s.slice(1) : undefined
  if (rest === undefined) return reply(req, res, 404, { error: 'not_found', message: 'the orders service only knows orders' })
  if (method !== 'GET' && method !== 'HEAD') return reply(req, res, 405, { error: 'method_not_allowed', message: 'order writes are still served by the monolith' }, { allow: 'GET, HEAD' })
  if (rest.length === 0) {
    const list = listOrders(orderFilter(req.url))
    return reply(req, res, 200, { count: list.length, orders: list })
  }
  const id = idOf(rest[0])
  const order = id === undefined ? undefined : orders.get(id)
  if (order === undefined) return reply(req, res, 404, { error: 'not_found', message: 'no such order' })
  if (rest.length === 1) return reply(req, res, 200, { order })
  if (rest.length === 2 && rest[1] === 'history') {
    // The new shape: structured events, with the customer's name joined in.
    return reply(req, res, 200, { orderId: order.id, customer: customers.get(order.customerId)?.name ?? null, status: order.status, events: history.get(order.id) ?? [] })
  }
  return reply(req, res, 404, { error: 'not_found', message: 'no such resource' })
}

export async function startOrdersService (opts: { port?: number, host?: string, orFree?: boolean } = {}): Promise<RunningServer> {
  const server = createServer({ keepAliveTimeout: 75_000 }, ordersHandler)
  return await listen(server, opts.port ?? ORDERS_DEFAULT_PORT, opts.host ?? '127.0.0.1', { orFree: opts.orFree })
}

if (import.meta.main) {
  const port = parsePort(process.argv[2]) ?? parsePort(process.env.PORT) ?? ORDERS_DEFAULT_PORT
  const running = await startOrdersService({ port, host: process.env.HOST ?? '127.0.0.1' })
  process.stdout.write(`orders-service listening on ${running.url}\n`)
  const stop = (): void => { running.close().then(() => process.exit(0), () => process.exit(1)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
