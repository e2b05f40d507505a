/**
 * The example legacy monolith: the whole shop in one node:http server. Everything figway has
 * not moved yet lands here. Every JSON reply says `"servedBy":"monolith"` and every reply
 * carries `x-served-by: monolith`, so it is easy to see who answered.
 *
 *   node examples/monolith.ts [port]          (or PORT=3001; default 3001, host 127.0.0.1 or HOST)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { idOf, listen, orderFilter, parsePort, readBody, segments, sendJson, type RunningServer } from './http-kit.ts'
import { addOrder, catalogue, customers, history, listOrders, orders, type OrderLine } from './shop-data.ts'

export const MONOLITH_DEFAULT_PORT = 3001
const SERVED_BY = 'monolith'
const HEADERS = { 'x-served-by': SERVED_BY }

const reply = (req: IncomingMessage, res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void => {
  sendJson(req, res, status, { servedBy: SERVED_BY, path: req.url, ...body }, { ...HEADERS, ...headers })
}

const notFound = (req: IncomingMessage, res: ServerResponse, what = 'page'): void => {
  reply(req, res, 404, { error: 'not_found', message: `no such ${what}` })
}

function homePage (req: IncomingMessage, res: ServerResponse): void {
  const rows = [...orders.values()].slice(-5).reverse()
    .map((o) => `<tr><td><a href="/api/orders/${o.id}">#${o.id}</a></td><td>${customers.get(o.customerId)?.name ?? '?'}</td><td>${o.status}</td><td>${o.total} EUR</td></tr>`)
    .join('\n')
  const html = `<!doctype html>
<html><head><title>Fig &amp; Co. shop (legacy)</title></head>
<body>
<h1>Fig &amp; Co. shop</h1>
<p>Served by the monolith. Latest orders:</p>
<table>
${rows}
</table>
<p><a href="/api/orders">all orders</a> | <a href="/api/customers/42">customer 42</a></p>
</body></html>
`
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), ...HEADERS })
  res.end(req.method === 'HEAD' ? undefined : html)
}

/** POST /api/orders `{"customerId":42,"lines":[{"sku":"MUG-01","quantity":2}]}` — writes stay on the monolith. */
async function createOrder (req: IncomingMessage, res: ServerResponse): Promise<void> {
  let input: { customerId?: unknown, lines?: unknown }
  try {
    input = JSON.parse(await readBody(req)) as typeof input
  } catch {
    reply(req, res, 400, { error: 'bad_request', message: 'the body is a JSON order: {"customerId":42,"lines":[{"sku":"MUG-01","quantity":1}]}' })
    return
  }
  const customerId = typeof input.customerId === 'number' ? input.customerId : Number.NaN
  if (!customers.has(customerId)) {
    reply(req, res, 422, { error: 'unknown_customer', message: `no customer ${String(input.customerId)}` })
    return
  }
  const lines: OrderLine[] = []
  for (const l of Array.isArray(input.lines) ? input.lines as Array<{ sku?: unknown, quantity?: unknown }> : []) {
    const p = catalogue.find((c) => c.sku === l.sku)
    const quantity = typeof l.quantity === 'number' && Number.isInteger(l.quantity) && l.quantity > 0 ? l.quantity : 0
    if (p === undefined || quantity === 0) {
      reply(req, res, 422, { error: 'bad_line', message: `unknown sku or bad quantity: ${JSON.stringify(l)}` })
      return
    }
    lines.push({ sku: p.sku, title: p.title, quantity, unitPrice: p.unitPrice.toFixed(2) })
  }
  if (lines.length === 0) {
    reply(req, res, 422, { error: 'empty_order', message: 'an order needs at least one line' })
    return
  }
  const order = addOrder(customerId, lines)
  reply(req, res, 201, { order }, { location: `/api/orders/${order.id}` })
}

export function monolithHandler (req: IncomingMessage, res: ServerResponse): void {
  const s = segments(req.url)
  const method = req.method ?? 'GET'
  const read = method === 'GET' || method === 'HEAD'
  if (s.length === 0 && read) return homePage(req, res)
  if (s[0] === 'health' && s.length === 1 && read) return reply(req, res, 200, { status: 'ok' })
  if (s[0] === 'api' && s[1] === 'orders') {
    if (s.length === 2 && method === 'POST') {
      createOrder(req, res).catch(() => { if (!res.headersSent) reply(req, res, 500, { error: 'internal' }) })
      return
    }
    if (!read) return reply(req, res, 405, { error: 'method_not_allowed' }, { allow: s.length === 2 ? 'GET, HEAD, POST' : 'GET, HEAD' })
    if (s.length === 2) {
      const list = listOrders(orderFilter(req.url))
      return reply(req, res, 200, { count: list.length, orders: list })
    }
    const id = idOf(s[2])
    const order = id === undefined ? undefined : orders.get(id)
    if (order === undefined) return notFound(req, res, 'order')
    if (s.length === 3) return reply(req, res, 200, { order })
    // The legacy history: computed inside the monolith, in its own (older) shape.
    if (s.length === 4 && s[3] === 'history') {
      return reply(req, res, 200, { orderId: order.id, history: (history.get(order.id) ?? []).map((e) => `${e.at} ${e.status.toUpperCase()}`) })
    }
    return notFound(req, res)
  }
  if (s[0] === 'api' && s[1] === 'customers' && read) {
    const id = idOf(s[2])
    const customer = id === undefined ? undefined : customers.get(id)
    if (customer === undefined) return notFound(req, res, 'customer')
    if (s.length === 3) return reply(req, res, 200, { customer })
    if (s.length === 4 && s[3] === 'orders') return reply(req, res, 200, { customerId: customer.id, orders: [...orders.values()].filter((o) => o.customerId === customer.id).map((o) => o.id) })
  }
  if (s[0] === 'api' && s[1] === 'catalogue' && s.length === 2 && read) return reply(req, res, 200, { products: catalogue })
  return notFound(req, res)
}

export async function startMonolith (opts: { port?: number, host?: string, orFree?: boolean } = {}): Promise<RunningServer> {
  const server = createServer({ keepAliveTimeout: 75_000 }, monolithHandler)
  return await listen(server, opts.port ?? MONOLITH_DEFAULT_PORT, opts.host ?? '127.0.0.1', { orFree: opts.orFree })
}

if (import.meta.main) {
  const port = parsePort(process.argv[2]) ?? parsePort(process.env.PORT) ?? MONOLITH_DEFAULT_PORT
  const running = await startMonolith({ port, host: process.env.HOST ?? '127.0.0.1' })
  process.stdout.write(`monolith listening on ${running.url}\n`)
  const stop = (): void => { running.close().then(() => process.exit(0), () => process.exit(1)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
