/**
 * Deadlines and request bodies: a slow upload that keeps moving is not cut by perTryTimeout
 * or timeout (they count the backend's time, not the client's), while an upload that stops
 * moving ends with 504 upstream_timeout and a closed connection.
 */
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { openSocket, routeAllTo } from '../helpers/faults.ts'
import { sleep, startGateway } from '../helpers/gateway.ts'
import { startOrigin } from '../helpers/origin.ts'

t.test('an upload that takes longer than perTryTimeout and timeout but keeps moving succeeds', async (t) => {
  const origin = await startOrigin(t, (_req, res, body) => { res.end(`got ${body.length}`) })
  const g = await startGateway(t, routeAllTo(origin.url, ', perTryTimeout: 200ms, timeout: 300ms'))
  // 10 chunks, 60 ms apart: 600 ms of sending, twice the whole-request timeout.
  const body = Readable.from((async function * () {
    for (let i = 0; i < 10; i++) { yield Buffer.alloc(1000, 97); await sleep(60) }
  })())
  const started = performance.now()
  const r = await request(`${g.url}/upload`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
  t.equal(r.statusCode, 200)
  t.equal(await r.body.text(), 'got 10000')
  t.ok(performance.now() - started >= 540, 'the upload really took longer than the timeouts')
})

t.test('an upload that stops moving ends with 504 upstream_timeout after perTryTimeout, and the connection closes', async (t) => {
  const origin = await startOrigin(t, (_req, res, body) => { res.end(`got ${body.length}`) })
  const g = await startGateway(t, routeAllTo(origin.url, ', perTryTimeout: 200ms'))
  const socket = await openSocket(t, g.url)
  let data = ''
  socket.on('data', (c: Buffer) => { data += c.toString() })
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  const started = performance.now()
  socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n' + 'a'.repeat(10))
  await closed
  const elapsed = performance.now() - started
  t.match(data, /^HTTP\/1\.1 504 /)
  t.match(data, /"code":"upstream_timeout"/)
  t.match(data, /connection: close/i)
  t.ok(elapsed >= 199, `not before perTryTimeout (${elapsed.toFixed(1)} ms)`)
  t.equal(origin.received.length, 0, 'the backend never got a whole request')
})
