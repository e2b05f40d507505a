/**
 * `npm run demo`: figway in front of the example monolith, the extracted orders service and
 * its gRPC twin, all in this one process, with the shipped config/gateway.yaml and
 * routes/*.yaml. Prints curl lines to try; Ctrl-C (or SIGTERM) drains the gateway, closes the
 * servers and exits 0.
 *
 * Ports: the example servers take 3001, 3002 and 50051 (gRPC), the gateway the ports in
 * config/gateway.yaml (8080, ops 9901), or FIGWAY_PORT / FIGWAY_OPS_PORT. A port already in
 * use is replaced by a free one. FIGWAY_DEMO_PORTS=auto (or --free-ports) uses free ports
 * for everything, so several demos (or tests) can run side by side.
 * The admin token is FIGWAY_ADMIN_TOKEN, or `demo-token`.
 */
import { join, relative } from 'node:path'
import { createGateway, type Gateway } from '../src/app.ts'
import { loadGatewayConfig, type GatewayConfig } from '../src/config/load.ts'
import { ConfigError, formatIssue } from '../src/errors.ts'
import { explain } from '../src/routing/explain.ts'
import { createLogger, flushLogger } from '../src/telemetry/logger.ts'
import { parsePort, portFree } from './http-kit.ts'
import { MONOLITH_DEFAULT_PORT, startMonolith } from './monolith.ts'
import { ORDERS_GRPC_DEFAULT_PORT, startOrdersGrpcService } from './orders-grpc-service.ts'
import { ORDERS_DEFAULT_PORT, startOrdersService } from './orders-service.ts'

const ROOT = join(import.meta.dirname, '..')
const CONFIG_FILE = join(ROOT, 'config', 'gateway.yaml')
const DEMO_TOKEN = 'demo-token'
/** Short, so Ctrl-C feels immediate; production keeps the config's 5 s for the ALB. */
const DEMO_DRAIN_DELAY_MS = 500
const DEMO_SHUTDOWN_TIMEOUT_MS = 5_000
/** The name each backend of routes/*.yaml has as a service, as its replies say in `servedBy`. */
const SERVICE_OF: Record<string, string> = { monolith: 'monolith', 'orders-http': 'orders-service', 'orders-grpc': 'orders-grpc' }
/** The side of the orders-read split that is new. */
const NEW_SIDE = 'orders-grpc'
const SPLIT_USERS = ['1', '2', '3', '4', '5', '6', '7', '8']
const STICKY_USER = '42'

const out = (line = ''): void => { process.stdout.write(line + '\n') }

/** Quotes a word for a POSIX shell when it needs it. */
function sh (word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`
}

interface Demo {
  gw: Gateway
  servers: Array<{ close: () => Promise<void> }>
  dataUrl: string
  opsUrl: string
  token: string
  env: NodeJS.ProcessEnv
  /** Ports that were taken and replaced by free ones. */
  notes: string[]
}

async function start (): Promise<Demo> {
  const auto = process.env.FIGWAY_DEMO_PORTS === 'auto' || process.argv.includes('--free-ports')
  const host = '127.0.0.1'
  const servers: Demo['servers'] = []
  const notes: string[] = []
  const busy = (what: string, port: number): void => { notes.push(`${what}: port ${port} is in use, so a free port was taken`) }
  try {
    const monolith = await startMonolith({ port: auto ? 0 : MONOLITH_DEFAULT_PORT, host, orFree: true })
    servers.push(monolith)
    const orders = await startOrdersService({ port: auto ? 0 : ORDERS_DEFAULT_PORT, host, orFree: true })
    servers.push(orders)
    const ordersGrpc = await startOrdersGrpcService({ port: auto ? 0 : ORDERS_GRPC_DEFAULT_PORT, host, orFree: true })
    servers.push(ordersGrpc)
    if (!auto && monolith.port !== MONOLITH_DEFAULT_PORT) busy('monolith', MONOLITH_DEFAULT_PORT)
    if (!auto && orders.port !== ORDERS_DEFAULT_PORT) busy('orders-service', ORDERS_DEFAULT_PORT)
    if (!auto && ordersGrpc.port !== ORDERS_GRPC_DEFAULT_PORT) busy('orders-grpc', ORDERS_GRPC_DEFAULT_PORT)

    const token = process.env.FIGWAY_ADMIN_TOKEN !== undefined && process.env.FIGWAY_ADMIN_TOKEN !== '' ? process.env.FIGWAY_ADMIN_TOKEN : DEMO_TOKEN
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MONOLITH_URL: monolith.url,
      ORDERS_URL: orders.url,
      ORDERS_GRPC: ordersGrpc.address,
      FIGWAY_ADMIN_TOKEN: token,
      FIGWAY_HOST: process.env.FIGWAY_HOST ?? host
    }
    const fileConfig = loadGatewayConfig(CONFIG_FILE, env)
    const gwHost = fileConfig.listen.host
    const wanted = (value: string | undefined, fromFile: number): number => auto ? 0 : parsePort(value) ?? fromFile
    const dataPort = wanted(process.env.FIGWAY_PORT, fileConfig.listen.port)
    const opsPort = wanted(process.env.FIGWAY_OPS_PORT, fileConfig.ops.port)
    const dataFree = await portFree(dataPort, gwHost)
    const opsFree = await portFree(opsPort, gwHost)
    if (!dataFree) busy('gateway', dataPort)
    if (!opsFree) busy('ops', opsPort)
    const config: GatewayConfig = {
      ...fileConfig,
      listen: { ...fileConfig.listen, port: dataFree ? dataPort : 0 },
      // The ops port listens where the data port does: loopback unless FIGWAY_HOST says otherwise.
      ops: { ...fileConfig.ops, host: gwHost, port: opsFree ? opsPort : 0 },
      shutdown: { drainDelay: DEMO_DRAIN_DELAY_MS, timeout: DEMO_SHUTDOWN_TIMEOUT_MS }
    }
    // Gateway logs (JSON, one access line per request) go to stderr; the guide goes to stdout.
    const logger = createLogger(config.telemetry.logLevel, config.telemetry.serviceName, process.stderr)
    const gw = await createGateway(config, { logger, env })
    const ports = await gw.listen()
    const shown = gwHost === '0.0.0.0' || gwHost === '::' ? '127.0.0.1' : gwHost
    return { gw, servers, dataUrl: `http://${shown}:${ports.data}`, opsUrl: `http://${shown}:${ports.ops}`, token, env, notes }
  } catch (err) {
    await Promise.allSettled(servers.map(async (s) => await s.close()))
    throw err
  }
}

/** The backend the shipped `orders-read` route picks for a user, as its service name. */
function sideOf (demo: Demo, user: string): string | undefined {
  const table = demo.gw.deps.store.current
  if (table === undefined) return undefined
  const r = explain(table, demo.gw.deps.weights, { method: 'GET', path: '/api/orders/7', headers: { 'x-user-id': user } }) as { route?: { name: string }, chosen?: { backend: string, how: string } | null }
  if (r.route?.name !== 'orders-read' || r.chosen == null || r.chosen.how !== 'sticky') return undefined
  return SERVICE_OF[r.chosen.backend] ?? r.chosen.backend
}

function printGuide (demo: Demo): void {
  const { dataUrl: g, opsUrl: o, token } = demo
  const auth = sh(`authorization: Bearer ${token}`)
  const sticky = sideOf(demo, STICKY_USER)
  const newSide = SPLIT_USERS.filter((u) => sideOf(demo, u) === NEW_SIDE)
  const servedBy = `grep -o '"servedBy":"[^"]*"'`
  const cli = ['npm run figway -- explain GET /api/orders/7 -H x-user-id:42']
  if (demo.env.MONOLITH_URL !== `http://127.0.0.1:${MONOLITH_DEFAULT_PORT}` || demo.env.ORDERS_URL !== `http://127.0.0.1:${ORDERS_DEFAULT_PORT}` ||
    demo.env.ORDERS_GRPC !== `127.0.0.1:${ORDERS_GRPC_DEFAULT_PORT}`) {
    cli.unshift(`MONOLITH_URL=${demo.env.MONOLITH_URL} ORDERS_URL=${demo.env.ORDERS_URL} ORDERS_GRPC=${demo.env.ORDERS_GRPC}`)
  }
  const examples: Array<[string, string]> = [
    ['Catch-all: customers have not moved, so the monolith answers ("servedBy":"monolith")',
      `curl -s ${g}/api/customers/42`],
    ['Writes stay on the monolith: orders-read only takes GET and HEAD, so POST falls to the catch-all',
      `curl -s -X POST -H 'content-type: application/json' -d '{"customerId":42,"lines":[{"sku":"MUG-01","quantity":2}]}' ${g}/api/orders`],
    ['Moved path: order history is served wholly by orders-service over HTTP, which receives /orders/7/history',
      `curl -s ${g}/api/orders/7/history`],
    [`Sticky split: the same x-user-id always lands on the same side (user ${STICKY_USER}: ${sticky ?? 'see /admin/explain'})`,
      `for i in 1 2 3; do curl -s -H 'x-user-id: ${STICKY_USER}' ${g}/api/orders/7 | ${servedBy}; done`],
    [`25/75 split over users: ${newSide.length > 0 ? `user${newSide.length > 1 ? 's' : ''} ${newSide.join(', ')} get ${NEW_SIDE}, the others the monolith` : 'each user keeps one side'}`,
      `for u in ${SPLIT_USERS.join(' ')}; do printf 'user %s ' "$u"; curl -s -H "x-user-id: $u" ${g}/api/orders/7 | ${servedBy}; done`],
    ['REST to gRPC: GET /api/orders/7 becomes the call orders.v1.OrderService/GetOrder ("path" in the reply); its x-served-by metadata comes back as grpc-metadata-x-served-by',
      `curl -s -i -H 'x-figway-backend: ${NEW_SIDE}' ${g}/api/orders/7`],
    [`Same JSON from both sides: x-figway-backend (allowOverride: true) picks monolith, then ${NEW_SIDE}; the query fills the request's customerId and status`,
      `for b in monolith ${NEW_SIDE}; do curl -s -H "x-figway-backend: $b" '${g}/api/orders?customerId=42&status=shipped'; echo; done`],
    ['gRPC errors map to HTTP: NOT_FOUND is a 404 with the google.rpc.Status as JSON',
      `curl -s -i -H 'x-figway-backend: ${NEW_SIDE}' ${g}/api/orders/999`],
    ['Server streaming: the order\'s events arrive one JSON object per line (application/x-ndjson), a new path only the gRPC service serves',
      `curl -s -N ${g}/api/orders/7/events`],
    ['An encoded slash in the path is refused: 400 bad_request_path (with a catch-all route there is no 404)',
      `curl -s -i ${g}/api/orders%2F7`],
    ['Health check for the load balancer, answered by figway on the data port and never routed',
      `curl -s ${g}/__figway/ready`],
    ['Prometheus metrics on the ops port: requests by route, backend, method and status',
      `curl -s ${o}/metrics | grep '^figway_requests_total'`],
    ['Admin API (bearer token): the effective route table with file, line and weights',
      `curl -s -H ${auth} ${o}/admin/routes`],
    [`Admin API: what the gateway would do with a request, without sending it${sticky === NEW_SIDE ? ' (for a gRPC backend, the method and the request message)' : ''}`,
      `curl -s -H ${auth} '${o}/admin/explain?method=GET&path=/api/orders/7&header=x-user-id:42'`],
    ['The same explanation from the CLI, without a running gateway',
      cli.join(' ')]
  ]
  const pad = (s: string): string => s.padEnd(16)
  out()
  out('figway demo: the gateway in front of an example monolith and its extracted orders service, over HTTP and gRPC')
  out()
  const rows: Array<[string, string, string]> = [
    ['gateway', g, `routes from ${relative(process.cwd(), demo.gw.config.routesDir) || '.'}/*.yaml (edits reload live)`],
    ['ops', o, `admin token: ${token}`],
    ['monolith', demo.env.MONOLITH_URL ?? '', 'examples/monolith.ts'],
    ['orders-service', demo.env.ORDERS_URL ?? '', 'examples/orders-service.ts'],
    ['orders-grpc', demo.env.ORDERS_GRPC ?? '', 'examples/orders-grpc-service.ts (gRPC: routes/protos/orders/v1/orders.proto)']
  ]
  const width = Math.max(...rows.map(([, where]) => where.length))
  for (const [name, where, what] of rows) out(`  ${pad(name)}${where.padEnd(width)}   ${what}`)
  for (const note of demo.notes) out(`  note: ${note}`)
  out()
  out('Try these (the gateway logs JSON to stderr, one access line per request):')
  for (const [comment, command] of examples) {
    out()
    out(`  # ${comment}`)
    out(`  ${command}`)
  }
  out()
  out('Press Ctrl-C to stop.')
}

async function main (): Promise<void> {
  let demo: Demo
  try {
    demo = await start()
  } catch (err) {
    if (err instanceof ConfigError) for (const i of err.issues) process.stderr.write(formatIssue(i) + '\n')
    else process.stderr.write(`demo: ${(err as Error).message}\n`)
    process.exit(1)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      out(`${signal} again: exiting without waiting`)
      process.exit(1)
    }
    stopping = true
    out()
    out(`${signal}: draining the gateway (/__figway/ready is 503 for ${DEMO_DRAIN_DELAY_MS} ms), then closing the servers`)
    demo.gw.shutdown()
      .then(async () => { await Promise.all(demo.servers.map(async (s) => await s.close())) })
      .then(() => {
        out('stopped')
        flushLogger(demo.gw.deps.logger)
        process.exit(0)
      }, (err: unknown) => {
        process.stderr.write(`demo: shutdown failed: ${(err as Error).message}\n`)
        process.exit(1)
      })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGHUP', () => { demo.gw.reload('SIGHUP').catch(() => {}) })
  printGuide(demo)
}

await main()
