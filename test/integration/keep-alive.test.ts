/**
 * Spec §4: the data port keeps idle client connections for 72 s, longer than the ALB's 60 s
 * idle timeout, so the ALB (not figway) closes them and never sends a request onto a
 * connection figway is closing. Upstream connections are pooled and reused.
 */
import type { Socket } from 'node:net'
import t from 'tap'
import { headerValues, openSocket, routeAllTo, type RawResponse } from '../helpers/faults.ts'
import { req, startGateway } from '../helpers/gateway.ts'
import { startOrigin } from '../helpers/origin.ts'


/** Sends one request on an open socket and reads one response with a content-length body. */
async function exchange (socket: Socket, path: string): Promise<RawResponse> {
  return await new Promise((resolve, reject) => {
    let buf = ''
    const onData = (c: Buffer): void => {
      buf += c.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) return
      const [statusLine, ...lines] = buf.slice(0, end).split('\r\n')
      const headers = lines.map((l): [string, string] => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()])
      const length = Number(headers.find(([n]) => n === 'content-length')?.[1] ?? 0)
      if (buf.length < end + 4 + length) return
      socket.off('data', onData)
      socket.off('close', onClose)
      resolve({ raw: buf, status: Number(statusLine!.split(' ')[1]), headers, body: buf.slice(end + 4), closedByServer: false })
    }
    const onClose = (): void => { reject(new Error('connection closed before the response')) }
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.write(`GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`)
  })
}

t.test('the data port keeps idle connections 72 s and says so in Keep-Alive: timeout=72', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url))
  t.equal(g.gw.data.server.keepAliveTimeout, 72_000)
  const socket = await openSocket(t, g.url)
  const r = await exchange(socket, '/one')
  t.equal(r.status, 200)
  t.same(headerValues(r, 'connection'), ['keep-alive'])
  t.same(headerValues(r, 'keep-alive'), ['timeout=72'])
})

t.test("an idle client connection outlives Node's 5 s default and serves the next request", async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url))
  const socket = await openSocket(t, g.url)
  let closed = false
  socket.on('close', () => { closed = true })
  t.equal((await exchange(socket, '/first')).status, 200)
  await new Promise((resolve) => setTimeout(resolve, 5_500))
  t.notOk(closed, 'still open after 5.5 s idle')
  t.equal((await exchange(socket, '/second')).status, 200, 'and it serves another request')
})

t.test('upstream connections are kept alive and reused for sequential requests', async (t) => {
  const origin = await startOrigin(t)
  let connections = 0
  origin.server.on('connection', () => { connections++ })
  const g = await startGateway(t, routeAllTo(origin.url))
  for (let i = 0; i < 5; i++) t.equal((await req(`${g.url}/seq-${i}`)).status, 200)
  t.equal(origin.received.length, 5)
  t.equal(connections, 1, 'five requests, one backend connection')
})
