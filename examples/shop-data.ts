/**
 * The example shop's data, shared by the monolith and the extracted orders service the way
 * both would share the orders database during a migration. In memory; reset on restart.
 */

export interface Customer {
  id: number
  name: string
  email: string
  since: string
}

export interface OrderLine {
  sku: string
  title: string
  quantity: number
  unitPrice: string
}

export type OrderStatus = 'placed' | 'paid' | 'packed' | 'shipped' | 'delivered' | 'cancelled'

export interface Order {
  id: number
  customerId: number
  status: OrderStatus
  placedAt: string
  lines: OrderLine[]
  total: string
}

export interface OrderEvent {
  at: string
  status: OrderStatus
  note: string
}

const PRODUCTS = [
  { sku: 'MUG-01', title: 'Enamel mug', unitPrice: 12.5 },
  { sku: 'TEE-02', title: 'Fig tree t-shirt', unitPrice: 24 },
  { sku: 'BAG-03', title: 'Canvas tote', unitPrice: 18.9 },
  { sku: 'PEN-04', title: 'Fountain pen', unitPrice: 39 },
  { sku: 'NBK-05', title: 'Dotted notebook', unitPrice: 9.95 }
] as const

const STATUSES: readonly OrderStatus[] = ['placed', 'paid', 'packed', 'shipped', 'delivered']
const NOTES: Record<OrderStatus, string> = {
  placed: 'order placed on the web shop',
  paid: 'payment captured',
  packed: 'packed at the warehouse',
  shipped: 'handed to the carrier',
  delivered: 'delivered to the customer',
  cancelled: 'cancelled by the customer'
}

const DAY_MS = 86_400_000
const EPOCH = Date.UTC(2025, 0, 6, 9, 30)

export const customers = new Map<number, Customer>()
export const orders = new Map<number, Order>()
export const history = new Map<number, OrderEvent[]>()

const NAMES = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Edsger Dijkstra', 'Barbara Liskov', 'Ken Thompson']
NAMES.forEach((name, i) => {
  const id = 40 + i
  customers.set(id, { id, name, email: name.toLowerCase().replace(' ', '.') + '@example.com', since: new Date(EPOCH - (400 - i * 37) * DAY_MS).toISOString().slice(0, 10) })
})

const money = (n: number): string => n.toFixed(2)

/** Records a new order and its first history event; used by the seed and by POST /api/orders. */
export function addOrder (customerId: number, lines: OrderLine[], at = new Date()): Order {
  const id = orders.size === 0 ? 1 : Math.max(...orders.keys()) + 1
  const total = lines.reduce((sum, l) => sum + l.quantity * Number(l.unitPrice), 0)
  const order: Order = { id, customerId, status: 'placed', placedAt: at.toISOString(), lines, total: money(total) }
  orders.set(id, order)
  history.set(id, [{ at: order.placedAt, status: 'placed', note: NOTES.placed }])
  return order
}

/** An order without its lines, as lists show it. */
export type OrderSummary = Omit<Order, 'lines'>

/** Order summaries, of one customer and in one status when those are given. */
export function listOrders (filter: { customerId?: number, status?: string } = {}): OrderSummary[] {
  return [...orders.values()]
    .filter((o) => (filter.customerId === undefined || o.customerId === filter.customerId) && (filter.status === undefined || o.status === filter.status))
    .map(({ lines: _lines, ...summary }) => summary)
}

// Twelve orders in various states: order n has moved n % 5 steps along its life.
for (let n = 1; n <= 12; n++) {
  const p = PRODUCTS[n % PRODUCTS.length]!
  const q = PRODUCTS[(n * 3) % PRODUCTS.length]!
  const lines: OrderLine[] = [{ sku: p.sku, title: p.title, quantity: 1 + (n % 3), unitPrice: money(p.unitPrice) }]
  if (q.sku !== p.sku) lines.push({ sku: q.sku, title: q.title, quantity: 1, unitPrice: money(q.unitPrice) })
  const placed = EPOCH + n * 2 * DAY_MS
  const order = addOrder(40 + (n % NAMES.length), lines, new Date(placed))
  const events = history.get(order.id)!
  const steps = n === 11 ? 0 : n % STATUSES.length
  for (let s = 1; s <= steps; s++) events.push({ at: new Date(placed + s * 0.6 * DAY_MS).toISOString(), status: STATUSES[s]!, note: NOTES[STATUSES[s]!] })
  if (n === 11) events.push({ at: new Date(placed + 0.2 * DAY_MS).toISOString(), status: 'cancelled', note: NOTES.cancelled })
  order.status = events[events.length - 1]!.status
}

export const catalogue = PRODUCTS
