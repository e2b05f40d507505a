/**
 * Baseline: the floor of REST→gRPC on figway's stack. node:http in; out, one unary call per
 * request on a @grpc/grpc-js channel, made the way figway makes it (`channel.createCall`
 * with bytes, below grpc-js's Client); the request message is encoded once at start, and
 * when the call ends OK the fixed JSON body is answered. No routing, no JSON↔protobuf codec,
 * no metrics, logs, deadlines, retries or breaker: no transcoder on this stack can cost less
 * per request, so its CPU per request over figway pass-through's is the lowest transcoding
 * ratio reachable here. `node bench/grpc-floor.ts 127.0.0.1:PORT` (the gRPC origin) listens
 * on 127.0.0.1:0 and prints `{"ports":[port]}`. Exits on SIGTERM/SIGINT and when stdin closes.
 */
import { createServer } from 'node:http'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import type { InterceptingListener } from '@grpc/grpc-js/build/src/call-interface.js'
import * as protoLoader from '@grpc/proto-loader'
import { ORIGIN_BODY } from './lib/body.ts'
import { announceAndServe, portOf } from './lib/child.ts'

const target = process.argv[2]
if (target === undefined || !/^[\w.-]+:\d+$/.test(target)) {
  process.stderr.write('usage: node bench/grpc-floor.ts host:port\n')
  process.exit(2)
}
const REPO = join(import.meta.dirname, '..')
const def = protoLoader.loadSync(join(import.meta.dirname, 'protos', 'bench', 'v1', 'items.proto'), { includeDirs: [join(REPO, 'routes', 'protos')] })
const method = (def['bench.v1.ItemService'] as protoLoader.ServiceDefinition)['GetItem']!
// What figway sends for GET /api/items/42?view=compact.
const message = method.requestSerialize({ id: '42', view: 'compact' })
const body = Buffer.from(ORIGIN_BODY)
const client = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.enable_retries': 0, 'grpc.enable_channelz': 0 })
const channel = client.getChannel()

const server = createServer({ keepAliveTimeout: 72_000 }, (_req, res) => {
  const call = channel.createCall(method.path, Infinity, undefined, null, undefined)
  const listener: InterceptingListener = {
    onReceiveMetadata () {},
    onReceiveMessage () {},
    onReceiveStatus (st) {
      if (st.code === grpc.status.OK) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
        res.end(body)
      } else {
        res.writeHead(502, { 'content-type': 'text/plain' })
        res.end(st.details)
      }
    }
  }
  call.start(new grpc.Metadata(), listener)
  call.sendMessageWithContext({}, message)
  call.halfClose()
  call.startRead()
})
server.listen(0, '127.0.0.1', () => {
  announceAndServe([portOf(server)], () => {
    server.close()
    server.closeAllConnections()
    client.close()
  })
})
