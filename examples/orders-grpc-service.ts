/**
 * The orders service's gRPC twin: the same orders as orders-service.ts, served as
 * `orders.v1.OrderService` from routes/protos/orders/v1/orders.proto. Clients never call it
 * directly: figway maps the REST paths in the proto's `google.api.http` rules to its
 * methods and its replies back to JSON. Every reply says `servedBy: "orders-grpc"` and
 * `path` (the gRPC method it received), and carries the metadata `x-served-by: orders-grpc`,
 * which figway passes on as the header `grpc-metadata-x-served-by`.
 *
 *   node examples/orders-grpc-service.ts [port]   (or PORT=50051; default 50051, host 127.0.0.1 or HOST)
 */
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { parsePort, portFree } from './http-kit.ts'
import { addOrder, catalogue, customers, history, listOrders, orders, type OrderLine } from './shop-data.ts'

export const ORDERS_GRPC_DEFAULT_PORT = 50051
const SERVED_BY = 'orders-grpc'
/** Pause between the messages of StreamOrderEvents, so a client sees them arrive one by one. */
const EVENT_INTERVAL_MS = 200

/** The proto, read the way figway reads it: from routes/protos, which also holds google/api. */
const definition = protoLoader.loadSync('orders/v1/orders.proto', {
  includeDirs: [join(import.meta.dirname, '..', 'routes', 'protos')],
  defaults: true, // unset scalars read as 0 / "" ...
  oneofs: true // ... but a proto3 `optional` field left unset stays undefined
})
const OrderService = definition['orders.v1.OrderService'] as grpc.ServiceDefinition

// The request messages as @grpc/proto-loader hands them over (field names in lowerCamelCase).
interface ListOrdersRequest { customerId?: number, status: string }
interface OrderRequest { id: number }
interface CreateOrderRequest { customerId: number, lines: Array<{ sku: string, quantity: number }> }

type Call<Req> = grpc.ServerUnaryCall<Req, unknown> | grpc.ServerWritableStream<Req, unknown>

/** Says who answered, in the metadata; returns the fields every reply message starts with. */
function served (call: Call<unknown>): { servedBy: string, path: string } {
  const metadata = new grpc.Metadata()
  metadata.set('x-served-by', SERVED_BY)
  call.sendMetadata(metadata)
  return { servedBy: SERVED_BY, path: call.getPath() }
}

const fail = (code: grpc.status, details: string): Partial<grpc.StatusObject> => ({ code, details })

const handlers: grpc.UntypedServiceImplementation = {
  ListOrders (call: grpc.ServerUnaryCall<ListOrdersRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const head = served(call)
    const { customerId, status } = call.request
    const list = listOrders({ customerId, status: status === '' ? undefined : status })
    callback(null, { ...head, count: list.length, orders: list })
  },

  GetOrder (call: grpc.ServerUnaryCall<OrderRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const head = served(call)
    const order = orders.get(call.request.id)
    if (order === undefined) return callback(fail(grpc.status.NOT_FOUND, `no such order: ${call.request.id}`))
    callback(null, { ...head, order })
  },

  GetOrderHistory (call: grpc.ServerUnaryCall<OrderRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const head = served(call)
    const order = orders.get(call.request.id)
    if (order === undefined) return callback(fail(grpc.status.NOT_FOUND, `no such order: ${call.request.id}`))
    const customer = customers.get(order.customerId)?.name ?? ''
    callback(null, { ...head, orderId: order.id, customer, status: order.status, events: history.get(order.id) ?? [] })
  },

  CreateOrder (call: grpc.ServerUnaryCall<CreateOrderRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const head = served(call)
    const { customerId, lines: wanted } = call.request
    if (!customers.has(customerId)) return callback(fail(grpc.status.INVALID_ARGUMENT, `no customer ${customerId}`))
    if (wanted.length === 0) return callback(fail(grpc.status.INVALID_ARGUMENT, 'an order needs at least one line'))
    const lines: OrderLine[] = []
    for (const { sku, quantity } of wanted) {
      const product = catalogue.find((p) => p.sku === sku)
      if (product === undefined || quantity <= 0) return callback(fail(grpc.status.INVALID_ARGUMENT, `unknown sku or bad quantity: ${JSON.stringify({ sku, quantity })}`))
      lines.push({ sku, title: product.title, quantity, unitPrice: product.unitPrice.toFixed(2) })
    }
    callback(null, { ...head, order: addOrder(customerId, lines) })
  },

  StreamOrderEvents (call: grpc.ServerWritableStream<OrderRequest, unknown>) {
    served(call)
    const order = orders.get(call.request.id)
    if (order === undefined) return void call.emit('error', fail(grpc.status.NOT_FOUND, `no such order: ${call.request.id}`))
    const events = [...history.get(order.id) ?? []]
    const next = (): void => {
      if (call.cancelled) return
      const event = events.shift()
      if (event === undefined) return void call.end()
      call.write(event)
      setTimeout(next, EVENT_INTERVAL_MS)
    }
    next()
  }
}

export interface RunningGrpcServer {
  readonly server: grpc.Server
  /** `host:port`, as a `grpc:` backend in routes/*.yaml names it. */
  readonly address: string
  readonly port: number
  /** Lets calls in flight finish (up to `graceMs`), then stops. */
  close (graceMs?: number): Promise<void>
}

/** Listens on `port` (0 = any free port); with `orFree`, a port in use falls back to a free one. */
export async function startOrdersGrpcService (opts: { port?: number, host?: string, orFree?: boolean } = {}): Promise<RunningGrpcServer> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? ORDERS_GRPC_DEFAULT_PORT
  const server = new grpc.Server()
  server.addService(OrderService, handlers)
  const hostPart = host.includes(':') ? `[${host}]` : host
  const bind = async (p: number): Promise<number> => await new Promise((resolve, reject) => {
    server.bindAsync(`${hostPart}:${p}`, grpc.ServerCredentials.createInsecure(), (err, bound) => { if (err === null) resolve(bound); else reject(err) })
  })
  const bound = await bind(opts.orFree === true && !(await portFree(port, host)) ? 0 : port)
  const shown = hostPart === '0.0.0.0' ? '127.0.0.1' : hostPart
  return {
    server,
    address: `${shown}:${bound}`,
    port: bound,
    close: async (graceMs = 2_000) => {
      const force = setTimeout(() => server.forceShutdown(), graceMs)
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()))
      clearTimeout(force)
    }
  }
}

if (import.meta.main) {
  const port = parsePort(process.argv[2]) ?? parsePort(process.env.PORT) ?? ORDERS_GRPC_DEFAULT_PORT
  const running = await startOrdersGrpcService({ port, host: process.env.HOST ?? '127.0.0.1' })
  process.stdout.write(`orders-grpc listening on ${running.address} (orders.v1.OrderService)\n`)
  const stop = (): void => { running.close().then(() => process.exit(0), () => process.exit(1)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
