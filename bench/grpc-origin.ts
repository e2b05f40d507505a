/**
 * The benchmark's gRPC origin, for the REST → gRPC scenario: a @grpc/grpc-js server with one
 * unary method, bench.v1.ItemService/GetItem (bench/protos/bench/v1/items.proto), answering
 * every call with the same small message: the fields of the HTTP origin's fixed body.
 * `node bench/grpc-origin.ts` binds 127.0.0.1:0 and prints `{"ports":[port]}` on stdout.
 * It exits on SIGTERM/SIGINT and when its stdin closes (the harness went away).
 */
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { ORIGIN_BODY } from './lib/body.ts'
import { announceAndServe } from './lib/child.ts'

const REPO = join(import.meta.dirname, '..')
const ITEMS_PROTO = join(import.meta.dirname, 'protos', 'bench', 'v1', 'items.proto')

const def = protoLoader.loadSync(ITEMS_PROTO, { includeDirs: [join(REPO, 'routes', 'protos')] })
const pkg = grpc.loadPackageDefinition(def) as unknown as { bench: { v1: { ItemService: grpc.ServiceClientConstructor } } }
const reply = JSON.parse(ORIGIN_BODY) as Record<string, unknown>

const server = new grpc.Server()
server.addService(pkg.bench.v1.ItemService.service, {
  GetItem: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => { callback(null, reply) }
})
const port = await new Promise<number>((resolve, reject) => {
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => { if (err !== null) reject(err); else resolve(p) })
})
announceAndServe([port], () => { server.forceShutdown() })
