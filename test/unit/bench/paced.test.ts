/**
 * The benchmark's paced load generator: its HTTP/1.1 response parser (bench/lib/response-parser.ts)
 * on framings split at every byte boundary, and short runs of the generator's own process
 * (bench/lib/paced.ts) against a node:http server: rate kept, status codes counted, non-2xx
 * counted, `Connection: close` survived, stop honoured.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { runPaced, stopPaced } from '../../../bench/lib/paced.ts'
import { ParseError, ResponseParser } from '../../../bench/lib/response-parser.ts'

type Seen = Array<[number, boolean]>

function parse (chunks: readonly Buffer[]): Seen {
  const seen: Seen = []
  const p = new ResponseParser((status, keepAlive) => { seen.push([status, keepAlive]) })
  for (const c of chunks) p.feed(c)
  return seen
}

/** Feeds `raw` split in two at every byte boundary, then one byte at a time: always `expected`. */
function everySplit (t: Test, raw: string, expected: Seen, what: string): void {
  const buf = Buffer.from(raw, 'latin1')
  let bad = 0
  for (let i = 0; i <= buf.length; i++) {
    const seen = parse([buf.subarray(0, i), buf.subarray(i)])
    if (JSON.stringify(seen) !== JSON.stringify(expected)) {
      bad++
      t.same(seen, expected, `${what}: split at ${i}`)
    }
  }
  t.equal(bad, 0, `${what}: the same at each of ${buf.length + 1} split points`)
  const bytes: Buffer[] = []
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1))
  t.same(parse(bytes), expected, `${what}: one byte at a time`)
}

t.test('parser: a body framed by Content-Length, with several headers, name case ignored', async (t) => {
  const body = '{"id":42,"name":"item"}'
  const raw = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nCONTENT-length: ${body.length}\r\nX-Trace: abc\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n${body}`
  everySplit(t, raw, [[200, true]], 'content-length')
  everySplit(t, 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n', [[404, true]], 'content-length 0')
  everySplit(t, 'HTTP/1.1 503 \r\ncontent-length: 3\r\n\r\nabc', [[503, true]], 'empty reason phrase')
  everySplit(t, 'HTTP/1.1 200\r\ncontent-length: 2\r\n\r\nok', [[200, true]], 'no reason phrase')
})

t.test('parser: chunked bodies, with chunk extensions and trailers', async (t) => {
  const raw = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5;name=value\r\nhello\r\n' +
    'A ; ext\r\n0123456789\r\n' +
    '1a\r\nabcdefghijklmnopqrstuvwxyz\r\n' +
    '0;last\r\nX-Checksum: 1234\r\nX-Other: y\r\n\r\n'
  everySplit(t, raw, [[200, true]], 'chunked with extensions and trailers')
  everySplit(t, 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n0\r\n\r\n', [[200, true]], 'empty chunked body, chunked last of several codings')
  // Content-Length is ignored when Transfer-Encoding is there.
  everySplit(t, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', [[200, true]], 'chunked wins over content-length')
})

t.test('parser: responses without a body, interim responses, connection handling', async (t) => {
  everySplit(t, 'HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n', [[204, true]], '204')
  everySplit(t, 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', [[304, true]], '304')
  everySplit(t, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx', [[201, true]], 'a 100 Continue before the response')
  everySplit(t, 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', [[200, false]], 'Connection: close')
  everySplit(t, 'HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\ncontent-length: 0\r\n\r\n', [[200, false]], 'close among connection options')
  everySplit(t, 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', [[200, false]], 'HTTP/1.0 closes by default')
  everySplit(t, 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok', [[200, true]], 'HTTP/1.0 with keep-alive')

  // Without framing the body runs to the end of the connection.
  const seen: Seen = []
  const p = new ResponseParser((status, keepAlive) => { seen.push([status, keepAlive]) })
  p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body'))
  p.feed(Buffer.from(' and more'))
  t.same(seen, [], 'a body up to the end of the connection is not complete before it ends')
  t.equal(p.end(), true, 'the end of the connection completes it')
  t.same(seen, [[200, false]])
  t.equal(new ResponseParser(() => {}).end(), false, 'the end of the connection between responses completes nothing')
})

t.test('parser: bytes left over after a response start the next one', async (t) => {
  const one = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
  const two = 'HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n'
  const three = 'HTTP/1.1 204 No Content\r\n\r\n'
  everySplit(t, one + two + three, [[200, true], [500, true], [204, true]], 'three responses back to back')
  const p = new ResponseParser(() => {})
  p.feed(Buffer.from(one + 'HTTP/1.1 2'))
  t.equal(p.idle, false, 'a partial status line is kept')
  p.feed(Buffer.from('00 OK\r\ncontent-length: 0\r\n\r\n'))
  t.equal(p.idle, true, 'and completed by the next bytes')
})

t.test('parser: malformed responses throw', async (t) => {
  const bad = [
    'HTTX/1.1 200 OK\r\n\r\n',
    'HTTP/1.1 2x0 OK\r\n\r\n',
    'HTTP/1.1 200OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'
  ]
  for (const raw of bad) t.throws(() => parse([Buffer.from(raw)]), ParseError, JSON.stringify(raw))
  t.throws(() => parse([Buffer.from('HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(70_000))]), ParseError, 'an overlong header line')
})

// ---------------------------------------------------------------------------------------

async function server (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string, close: () => Promise<void> }> {
  const s = createServer(handler)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/api/items/42?x=1`,
    close: async () => {
      s.closeAllConnections()
      await new Promise<void>((resolve) => s.close(() => { resolve() }))
    }
  }
}

t.test('a paced run keeps its rate, counts status codes and reports progress', async (t) => {
  const seenUsers = new Set<string>()
  let seenPath = ''
  const connections = new Set<unknown>()
  let count = 0
  const s = await server((req, res) => {
    seenPath = req.url ?? ''
    connections.add(req.socket)
    seenUsers.add(String(req.headers['x-user-id']))
    // Alternate framings: Content-Length, then chunked (no length given).
    if (count++ % 2 === 0) res.end('{"ok":true}')
    else { res.write('{"ok"'); res.end(':true}') }
  })
  t.teardown(s.close)
  let ok = 0
  let failed = 0
  const r = await runPaced({ url: s.url, connections: 4, durationS: 1, rate: 200, users: 3, onProgress: (p) => { ok += p.ok; failed += p.failed } })
  t.equal(r.tool, 'paced')
  t.ok(r.requests >= 160 && r.requests <= 240, `about 200 requests (${r.requests})`)
  t.equal(r.durationS, 1)
  t.equal(r.rps, r.requests)
  t.same(r.statusCodes, { 200: r.requests })
  t.equal(r.errors, 0)
  t.equal(r.timeouts, 0)
  t.equal(r.non2xx, 0)
  t.equal(ok, r.requests, 'every request was reported as ok in the progress messages')
  t.equal(failed, 0)
  t.equal(seenPath, '/api/items/42?x=1', 'the path and query are sent')
  t.same([...seenUsers].sort(), ['user-0', 'user-1', 'user-2'], 'x-user-id cycles through the users')
  t.equal(connections.size, 4, 'all the connections are used, and kept alive')
  const l = r.latencyMs
  t.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, 'percentiles in order')
  t.ok(l.mean > 0 && l.mean <= l.max)
})

t.test('non-2xx answers are counted as such, not as errors', async (t) => {
  const s = await server((_req, res) => { res.statusCode = 503; res.end('busy') })
  t.teardown(s.close)
  let failed = 0
  const r = await runPaced({ url: s.url, connections: 4, durationS: 0.3, rate: 200, onProgress: (p) => { failed += p.failed } })
  t.ok(r.requests >= 48 && r.requests <= 72, `about 60 requests (${r.requests})`)
  t.same(r.statusCodes, { 503: r.requests })
  t.equal(r.non2xx, r.requests)
  t.equal(r.errors, 0)
  t.equal(failed, r.requests, 'each one reported as failed in the progress messages')
})

t.test('a server closing every connection: the generator reconnects and completes requests', async (t) => {
  const s = await server((_req, res) => {
    res.setHeader('connection', 'close')
    res.end('bye')
  })
  t.teardown(s.close)
  const r = await runPaced({ url: s.url, connections: 4, durationS: 0.3, rate: 200 })
  t.ok(r.requests >= 48 && r.requests <= 72, `about 60 requests (${r.requests})`)
  t.same(r.statusCodes, { 200: r.requests })
  t.equal(r.errors, 0, 'a response with Connection: close is complete, not an error')
})

t.test('stopPaced ends the run early and the result still comes', async (t) => {
  const s = await server((_req, res) => { res.end('ok') })
  t.teardown(s.close)
  const started = performance.now()
  let stopAt = 0
  // Stopped once requests are under way (the first progress message).
  const r = await runPaced({ url: s.url, connections: 2, durationS: 30, rate: 100, onProgress: () => { if (stopAt === 0) { stopAt = performance.now(); stopPaced() } } })
  const took = performance.now() - started
  t.ok(stopAt > 0 && performance.now() - stopAt < 1000, `stopped soon (${Math.round(took)} ms in all)`)
  t.ok(r.requests > 0 && r.requests < 200, `the requests done before the stop (${r.requests})`)
  t.same(r.statusCodes, { 200: r.requests })
})

t.test('a refused connection counts as an error per request, and the run goes on', async (t) => {
  const s = await server(() => {})
  const url = s.url
  await s.close()
  const r = await runPaced({ url, connections: 2, durationS: 0.2, rate: 50 })
  t.equal(r.requests, 0)
  t.ok(r.errors >= 7 && r.errors <= 13, `about 10 errors (${r.errors})`)
  t.same(r.statusCodes, {})
})

t.test('a request not answered in time counts as a timeout and its connection is replaced', async (t) => {
  const sockets = new Set<unknown>()
  const s = await server((req) => { sockets.add(req.socket) }) // never answers
  t.teardown(s.close)
  const r = await runPaced({ url: s.url, connections: 2, durationS: 0.3, rate: 40, requestTimeoutMs: 100 })
  t.equal(r.requests, 0)
  t.equal(r.errors, 0)
  t.ok(r.timeouts >= 3, `timeouts counted (${r.timeouts})`)
  t.ok(sockets.size > 2, `timed-out connections replaced by new ones (${sockets.size} opened)`)
})
