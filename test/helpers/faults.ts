/**
 * Misbehaving peers for tests, all real sockets on 127.0.0.1: raw TCP "backends" that hang,
 * reset or stall; a port that refuses; a listener whose accept queue is full so connection
 * attempts go unanswered; a raw client for requests undici refuses to send; and the
 * one-route table these tests put a backend behind.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from 'node:http'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * Route files for startGateway: backend `b` at `url` and route `all` sending every path to
 * it. `backendKeys` go inside the backend's braces (", timeout: 1s"); `routeKeys` are
 * indented lines appended to the route ("    timeout: 1s\n").
 */
export function routeAllTo (url: string, backendKeys = '', routeKeys = ''): Record<string, string> {
  return { 'r.yaml': `backends:\n  b: { url: "${url}"${backendKeys} }\nroutes:\n  - name: all\n    match: { path: /** }\n    to: b\n${routeKeys}` }
}

export interface FaultServer {
  readonly url: string
  readonly port: number
  readonly server: Server
  /** Request heads (up to the blank line) received: the first on each connection, as no response is ever completed. */
  readonly heads: string[]
  /** Connections accepted so far. */
  readonly accepted: number
  /** Connections that have closed so far. */
  readonly closed: number
  /** Resolves when `n` connections have closed. */
  waitClosed (n?: number): Promise<void>
  close (): Promise<void>
}

/** What a fault server does once a request head has arrived; `head` is the text before the blank line. */
export type FaultBehaviour = (socket: Socket, head: string) => void

/**
 * A raw TCP server speaking just enough HTTP/1.1 to read a request head, then acting out
 * `behaviour` on the socket. Closes (destroying every connection) when the test ends.
 */
export async function faultServer (t: Teardown, behaviour: FaultBehaviour): Promise<FaultServer> {
  const heads: string[] = []
  const sockets = new Set<Socket>()
  let accepted = 0
  let closed = 0
  const waiters: Array<{ n: number, resolve: () => void }> = []
  const server = createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => {
      sockets.delete(socket)
      closed++
      for (const w of waiters.filter((w) => closed >= w.n)) { waiters.splice(waiters.indexOf(w), 1); w.resolve() }
    })
    let buf = ''
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      // Keep reading (and discarding) whatever follows, so the peer is never blocked on writes.
      socket.resume()
      heads.push(buf.slice(0, end))
      behaviour(socket, buf.slice(0, end))
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    heads,
    get accepted () { return accepted },
    get closed () { return closed },
    async waitClosed (n = 1) {
      if (closed >= n) return
      await new Promise<void>((resolve) => waiters.push({ n, resolve }))
    },
    close
  }
}

/** Accepts connections, reads requests, never answers. */
export async function hangingServer (t: Teardown): Promise<FaultServer> {
  return await faultServer(t, () => {})
}

/** Resets the connection (TCP RST) as soon as a request head arrives: no response byte. */
export async function resetBeforeHeadersServer (t: Teardown): Promise<FaultServer> {
  return await faultServer(t, (socket) => { socket.resetAndDestroy() })
}

/**
 * Sends response headers announcing `length` bytes and the first `sent` of them, then, after
 * `afterMs`, resets the connection (`reset: true`) or just stops sending (`reset: false`).
 */
export async function partialBodyServer (t: Teardown, opts: { length?: number, sent?: number, afterMs?: number, reset: boolean }): Promise<FaultServer> {
  const length = opts.length ?? 100_000
  const sent = opts.sent ?? 1_000
  return await faultServer(t, (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${length}\r\n\r\n`)
    socket.write(Buffer.alloc(sent, 0x61))
    if (opts.reset) setTimeout(() => { socket.resetAndDestroy() }, opts.afterMs ?? 20)
  })
}

/** An http:// URL on 127.0.0.1 where nothing listens: connecting is refused at once. */
export async function refusingUrl (): Promise<string> {
  // A free port below Linux's ephemeral range (32768–60999): every server the tests start
  // listens on port 0, which the kernel picks from that range, so no test running beside
  // this one can take the port once it is found free (a closed ephemeral port could).
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const server = createServer()
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (!free) continue
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return `http://127.0.0.1:${port}`
  }
}

export interface Unanswered {
  readonly url: string
  readonly port: number
}

/**
 * A listener that never completes new TCP handshakes, without leaving loopback: a child
 * process listens with a backlog of 1 and then blocks its event loop (so it never calls
 * accept), and filler connections occupy the accept queue. Linux drops further SYNs while
 * the accept queue is full, so a connect attempt just waits, as it would for a host that
 * has gone away. The child is killed and the fillers destroyed when the test ends.
 */
export async function unansweredListener (t: Teardown): Promise<Unanswered> {
  const script = `
    const s = require('node:net').createServer()
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write(s.address().port + '\\n', () => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
      })
    })`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const fillers: Socket[] = []
  t.teardown(() => {
    for (const s of fillers) s.destroy()
    child.kill('SIGKILL')
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
    child.once('exit', (code) => { reject(new Error(`listener child exited with ${code}`)) })
  })
  // A backlog of 1 queues two connections on Linux; open a few more than that so the queue
  // stays full, and wait until the first two have completed their handshakes.
  let connected = 0
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 4; i++) {
      const s = connect(port, '127.0.0.1')
      s.on('error', () => {})
      s.on('connect', () => { if (++connected === 2) resolve() })
      fillers.push(s)
    }
  })
  return { url: `http://127.0.0.1:${port}`, port }
}

export interface RawResponse {
  /** Everything the server sent, as latin1 text. */
  readonly raw: string
  /** Status code of the first response, or 0 when nothing parseable came back. */
  readonly status: number
  /** Header lines of the first response, names lower-cased, in order (duplicates kept). */
  readonly headers: Array<[string, string]>
  /** What followed the first response's head. */
  readonly body: string
  /** The server closed the connection (we waited for it, within the deadline). */
  readonly closedByServer: boolean
}

/** A connected raw socket to an http://127.0.0.1:PORT URL; destroyed when the test ends. */
export async function openSocket (t: Teardown, url: string): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  return socket
}

/**
 * Writes `request` (raw bytes, exactly as given; parts `gapMs` apart) on a new connection to
 * an http://127.0.0.1:PORT URL and collects what comes back until the server closes the
 * connection or `waitMs` passes.
 */
export async function rawRequest (url: string, request: string | Buffer | Array<string | Buffer>, opts: { waitMs?: number, gapMs?: number } = {}): Promise<RawResponse> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => { resolve(false) }, opts.waitMs ?? 3_000)
    socket.on('close', () => { clearTimeout(timer); resolve(true) })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const parts = Array.isArray(request) ? request : [request]
  for (let i = 0; i < parts.length; i++) {
    if (i > 0 && opts.gapMs !== undefined) await new Promise((resolve) => setTimeout(resolve, opts.gapMs))
    if (socket.destroyed) break
    socket.write(parts[i]!)
  }
  const closedByServer = await closed
  socket.destroy()
  return parseRaw(Buffer.concat(chunks).toString('latin1'), closedByServer)
}

function parseRaw (raw: string, closedByServer: boolean): RawResponse {
  const end = raw.indexOf('\r\n\r\n')
  if (end === -1) return { raw, status: 0, headers: [], body: '', closedByServer }
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n')
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1] ?? 0)
  const headers = lines.map((l): [string, string] => {
    const i = l.indexOf(':')
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()]
  })
  return { raw, status, headers, body: raw.slice(end + 4), closedByServer }
}

/** The values of header `name` in a raw response, in order. */
export function headerValues (r: RawResponse, name: string): string[] {
  return r.headers.filter(([n]) => n === name).map(([, v]) => v)
}

export interface GatedServer {
  readonly url: string
  readonly port: number
  readonly server: HttpServer
  /** Requests whose body arrived, in order: method, url and body. */
  readonly received: Array<{ method: string, url: string, body: Buffer }>
  /** TCP connections accepted so far. */
  readonly connections: number
  /** Requests waiting for release() (only while `hold` is set). */
  readonly waiting: number
  /** Hold new requests until release() instead of answering them at once. */
  hold: boolean
  /** The status new answers carry (default 200); the body is JSON naming it and the request. */
  status: number
  /** Answers every waiting request, with `status` (default: the server's current status). */
  release (status?: number): void
  /** Resolves once `n` requests are waiting. */
  waitHeld (n: number): Promise<void>
}

/**
 * A real HTTP backend on 127.0.0.1 whose answer the test steers while it runs: `status` says
 * what it answers, `hold` keeps requests waiting until release(), so a test can keep a
 * backend's requests in flight (a slow backend, a probe held at the backend) or turn a
 * healthy backend into a failing one. It counts connections and requests, so a test can show
 * that a request never reached it. Answers carry `x-gated: NAME`; closes when the test ends.
 */
export async function gatedServer (t: Teardown, name = 'gated', opts: { status?: number, hold?: boolean } = {}): Promise<GatedServer> {
  const received: Array<{ method: string, url: string, body: Buffer }> = []
  const queue: Array<{ res: ServerResponse, url: string }> = []
  const waiters: Array<{ n: number, resolve: () => void }> = []
  let connections = 0
  const answer = (res: ServerResponse, url: string, status: number): void => {
    if (res.destroyed) return
    const payload = JSON.stringify({ origin: name, status, url })
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-gated': name })
    res.end(payload)
  }
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks) })
      if (!g.hold) { answer(res, req.url!, g.status); return }
      queue.push({ res, url: req.url! })
      for (const w of waiters.filter((w) => queue.length >= w.n)) { waiters.splice(waiters.indexOf(w), 1); w.resolve() }
    })
  })
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const g: GatedServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    received,
    get connections () { return connections },
    get waiting () { return queue.length },
    hold: opts.hold ?? false,
    status: opts.status ?? 200,
    release (status) {
      for (const q of queue.splice(0)) answer(q.res, q.url, status ?? g.status)
    },
    async waitHeld (n) {
      if (queue.length >= n) return
      await new Promise<void>((resolve) => waiters.push({ n, resolve }))
    }
  }
  return g
}

/** The p-th percentile (0 < p ≤ 100) of `values` by the nearest-rank method. */
export function percentile (values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
}

/** What a scripted backend does with one request: a status, a full response, hang, or a TCP reset. */
export type Act = number | { status: number, headers?: Record<string, string>, body?: string } | 'hang' | 'reset'

/** One request as a scripted backend saw it. */
export interface Arrival {
  readonly method: string
  /** Path and query, as received. */
  readonly path: string
  /** 1 for the first request on this path, 2 for the second, … */
  readonly n: number
  readonly headers: Record<string, string | string[] | undefined>
  /** performance.now() when the request head arrived (same clock as an in-process gateway). */
  readonly at: number
  /** performance.now() when the request's connection closed, if it closed while the request was open. */
  closedAt: number | undefined
  /** The request body as received, once it has ended. */
  body: Buffer | undefined
  /** sha256 (hex) of the body, once it has ended. */
  sha256: string | undefined
}

export interface ScriptedBackend {
  readonly url: string
  readonly port: number
  readonly arrivals: Arrival[]
  /** Requests received on `path` (all paths when omitted). */
  count (path?: string): number
  /** Arrival times on `path`, in order. */
  times (path: string): number[]
}

/**
 * A real HTTP server on 127.0.0.1:0 that counts what it receives, per path, and answers each
 * request as `act` says once the request body has ended (the body is hashed). Arrival times
 * are taken when the head arrives. Closes (destroying connections) when the test ends.
 */
export async function scriptedBackend (t: Teardown, act: (a: Arrival) => Act): Promise<ScriptedBackend> {
  const arrivals: Arrival[] = []
  const perPath = new Map<string, number>()
  const server = createHttpServer((req, res) => {
    const path = req.url ?? ''
    const n = (perPath.get(path) ?? 0) + 1
    perPath.set(path, n)
    const a: Arrival = { method: req.method ?? '', path, n, headers: req.headers, at: performance.now(), closedAt: undefined, body: undefined, sha256: undefined }
    arrivals.push(a)
    res.on('close', () => { if (!res.writableFinished) a.closedAt = performance.now() })
    req.on('error', () => {})
    res.on('error', () => {})
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      a.body = Buffer.concat(chunks)
      a.sha256 = createHash('sha256').update(a.body).digest('hex')
      const what = act(a)
      if (what === 'hang') return
      if (what === 'reset') { req.socket.resetAndDestroy(); return }
      const r = typeof what === 'number' ? { status: what } : what
      const body = r.body ?? `${r.status} ${path} #${n}`
      res.writeHead(r.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...r.headers })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    arrivals,
    count: (path) => path === undefined ? arrivals.length : arrivals.filter((a) => a.path === path).length,
    times: (path) => arrivals.filter((a) => a.path === path).map((a) => a.at)
  }
}
