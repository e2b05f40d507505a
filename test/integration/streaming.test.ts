/**
 * Spec §4: pass-through bodies stream both ways; nothing is buffered whole. A request body
 * reaches the backend while the client is still sending it, a response reaches the client
 * while the backend is still writing it, and a client that stops reading makes the backend's
 * writes wait (backpressure) instead of the gateway's memory growing. A client that goes
 * away ends the stream the other way too: the upstream request is aborted, and the access
 * log says client_closed.
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { openSocket, routeAllTo } from '../helpers/faults.ts'
import { accessLine, sleep, startGateway } from '../helpers/gateway.ts'
import { startOrigin } from '../helpers/origin.ts'

const MB = 1024 * 1024

/** A promise with its resolver, and a way to wait for it with a deadline. */
function signal (): { fire: () => void, fired: () => boolean, wait: (ms: number) => Promise<boolean> } {
  let fire!: () => void
  let done = false
  const p = new Promise<void>((resolve) => { fire = () => { done = true; resolve() } })
  return {
    fire,
    fired: () => done,
    wait: async (ms) => await Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())])
  }
}

/** Deterministic bytes, so the far end can check them without the near end keeping a copy. */
function block (i: number, size: number): Buffer {
  return Buffer.alloc(size, i % 251)
}

t.test('a 20 MB request body streams to the backend, which sees its first bytes before the client has finished sending', async (t) => {
  const firstBytes = signal()
  const origin = await startOrigin(t, (req, res) => {
    const hash = createHash('sha256')
    let bytes = 0
    req.on('data', (c: Buffer) => { bytes += c.length; hash.update(c); firstBytes.fire() })
    req.on('end', () => { res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })) })
  }, { streaming: true })
  const g = await startGateway(t, routeAllTo(origin.url))

  const CHUNK = 64 * 1024
  const TOTAL = 20 * MB
  const sent = createHash('sha256')
  let sawFirstBytesAfter = -1
  async function * body (): AsyncGenerator<Buffer> {
    for (let i = 0, off = 0; off < TOTAL; i++, off += CHUNK) {
      // After the first megabyte the client holds back until the backend has seen data: a
      // gateway that buffered the whole body would never get there.
      if (off === MB) {
        t.ok(await firstBytes.wait(5_000), 'the backend saw the first bytes while the client had 19 MB left to send')
        sawFirstBytesAfter = off
      }
      const b = block(i, CHUNK)
      sent.update(b)
      yield b
    }
  }
  const r = await request(`${g.url}/upload`, { method: 'PUT', body: Readable.from(body()) })
  t.equal(r.statusCode, 200)
  const got = await r.body.json() as { bytes: number, sha256: string }
  t.equal(sawFirstBytesAfter, MB)
  t.equal(got.bytes, TOTAL, 'every byte arrived')
  t.equal(got.sha256, sent.digest('hex'), 'unchanged and in order')
})

t.test('a slow response reaches the client chunk by chunk, the first before the backend has ended', async (t) => {
  const clientGotFirst = signal()
  let originEnded = false
  const origin = await startOrigin(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.write(block(0, 1024))
    // The rest only once the client has the first chunk: a gateway buffering the response
    // would never deliver it, and the test would time out on the wait below.
    void clientGotFirst.wait(5_000).then(async (ok) => {
      for (let i = 1; ok && i < 5; i++) {
        res.write(block(i, 1024))
        await sleep(20)
      }
      originEnded = true
      res.end()
    })
  })
  const g = await startGateway(t, routeAllTo(origin.url))
  const r = await request(`${g.url}/slow`)
  t.equal(r.statusCode, 200)
  const chunks: Buffer[] = []
  for await (const c of r.body) {
    if (chunks.length === 0) {
      t.notOk(originEnded, 'the first chunk arrived while the backend was still writing')
      clientGotFirst.fire()
    }
    chunks.push(c as Buffer)
  }
  t.ok(clientGotFirst.fired(), 'the client received a chunk before the end')
  t.ok(chunks.length >= 2, `delivered in several chunks (${chunks.length})`)
  const all = Buffer.concat(chunks)
  t.equal(all.length, 5 * 1024)
  t.same(all, Buffer.concat([0, 1, 2, 3, 4].map((i) => block(i, 1024))))
})

t.test('a client that stops reading makes the backend wait on drain instead of the gateway buffering the response', async (t) => {
  const LIMIT = 512 * MB
  const CHUNK = 64 * 1024
  let written = 0
  let waits = 0
  const origin = await startOrigin(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': LIMIT })
    const pump = (): void => {
      while (written < LIMIT) {
        written += CHUNK
        if (!res.write(Buffer.alloc(CHUNK, 0x61))) { waits++; res.once('drain', pump); return }
      }
      res.end()
    }
    pump()
  })
  const g = await startGateway(t, routeAllTo(origin.url))
  const socket = await openSocket(t, g.url)
  let received = 0
  socket.on('data', (c: Buffer) => { received += c.length })
  socket.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n')
  // Read a little, then stop reading altogether.
  await sleep(100)
  socket.pause()
  // Let the socket buffers along the way fill up: wait until the backend stops making progress.
  let atPause = -1
  for (let i = 0; i < 30 && written !== atPause; i++) {
    atPause = written
    await sleep(100)
  }
  await sleep(1_000)
  const later = written
  t.comment(`origin wrote ${(later / MB).toFixed(1)} MB of ${LIMIT / MB} MB; client read ${(received / MB).toFixed(1)} MB before pausing`)
  t.ok(waits > 0, "the backend's writes returned false and waited for 'drain'")
  t.ok(later - atPause <= 4 * MB, `the backend stalls while the client is not reading (+${((later - atPause) / MB).toFixed(1)} MB in 1 s)`)
  const inFlight = later - received
  t.ok(inFlight < 64 * MB, `what is between the backend and the client stays bounded by socket buffers (${(inFlight / MB).toFixed(1)} MB)`)
  // Reading again lets the transfer continue.
  socket.resume()
  await sleep(300)
  t.ok(written > later, 'the backend writes again once the client reads')
})

t.test('a client that disconnects before the response makes the gateway abort the upstream request, logged as 499 client_closed', async (t) => {
  const arrived = signal()
  const upstreamClosed = signal()
  const origin = await startOrigin(t, (_req, res) => {
    arrived.fire()
    res.on('close', () => upstreamClosed.fire()) // never answered: only the gateway can close it
  })
  const g = await startGateway(t, routeAllTo(origin.url))
  const socket = await openSocket(t, g.url)
  socket.write('GET /gone HTTP/1.1\r\nHost: a\r\n\r\n')
  t.ok(await arrived.wait(2_000), 'the request reached the backend')
  socket.destroy()
  t.ok(await upstreamClosed.wait(2_000), "the backend's request was closed by the gateway")
  t.match(await accessLine(g, '/gone'), { status: 499, code: 'client_closed', route: 'all', backend: 'b' })
})

t.test('a client that disconnects mid-upload makes the gateway abort the upstream request before it completes', async (t) => {
  const firstBytes = signal()
  const upstreamClosed = signal()
  let completed = true
  const origin = await startOrigin(t, (req) => {
    req.on('data', () => firstBytes.fire())
    req.on('close', () => { completed = req.complete; upstreamClosed.fire() })
  }, { streaming: true })
  const g = await startGateway(t, routeAllTo(origin.url))
  const socket = await openSocket(t, g.url)
  socket.write(`PUT /half HTTP/1.1\r\nHost: a\r\nContent-Length: ${10 * MB}\r\n\r\n`)
  socket.write(Buffer.alloc(MB, 0x62))
  t.ok(await firstBytes.wait(2_000), 'the backend was receiving the body')
  socket.destroy()
  t.ok(await upstreamClosed.wait(2_000), "the backend's request was closed…")
  t.notOk(completed, '…before it was complete')
  t.match(await accessLine(g, '/half'), { status: 499, code: 'client_closed' })
})

t.test('a client that disconnects mid-response makes the gateway stop reading from the backend', async (t) => {
  const upstreamClosed = signal()
  let finished = false
  const origin = await startOrigin(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    const timer = setInterval(() => res.write(block(0, 1024)), 10)
    res.on('finish', () => { finished = true })
    res.on('close', () => { clearInterval(timer); upstreamClosed.fire() })
  })
  const g = await startGateway(t, routeAllTo(origin.url))
  const r = await request(`${g.url}/endless`)
  t.equal(r.statusCode, 200)
  for await (const _ of r.body) break // one chunk, then hang up
  t.ok(await upstreamClosed.wait(2_000), "the backend's response was closed by the gateway")
  t.notOk(finished, 'before the backend finished it')
  // The status went out with the backend's headers; the code says how it ended.
  t.match(await accessLine(g, '/endless'), { status: 200, code: 'client_closed' })
})
