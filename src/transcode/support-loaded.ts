/** What support.ts loads on first use: everything that needs the gRPC and protobuf packages. */
export { Client, credentials, Metadata } from '@grpc/grpc-js'
export { compileCall, compileGrpcBackend } from './backend.ts'
export { requestJson } from './request.ts'
export { GrpcAttempt, METADATA_HEADERS } from '../pipeline/grpc-attempt.ts'
