/**
 * gRPC support, loaded on first use: the transcoder (protobufjs, @bufbuild/protobuf),
 * @grpc/grpc-js and the gRPC attempt. A gateway whose routes name no gRPC backend never
 * loads them (about 10 MiB of resident memory under load, most of it code and heap of
 * those packages). The first use is a route table's compile step meeting a gRPC backend, at load
 * or reload, never a request: a request reaches a gRPC backend only through a table that
 * compiled one.
 *
 * The loading is synchronous (require of an ES module, Node 22.12+), so compileTable,
 * explain and the pipeline stay synchronous. The module is the same instance an `import`
 * of it gets.
 */
import { createRequire } from 'node:module'
import type * as Loaded from './support-loaded.ts'

export type GrpcSupport = typeof Loaded

let loaded: GrpcSupport | null = null
const require = createRequire(import.meta.url)
// src/ runs as .ts (type stripping), the build as .js.
const LOADED = './support-loaded' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js')

export function grpcSupport (): GrpcSupport {
  return loaded ??= require(LOADED) as GrpcSupport
}
