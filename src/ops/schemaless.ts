/**
 * Fastify options for instances that declare no JSON schema (the ops API, and the data
 * port's server lifecycle). Fastify loads its default schema compilers (ajv with its
 * formats, fast-json-stringify) for every instance whether a route uses them or not: memory
 * for code a gateway never runs. These compilers
 * refuse instead, so a route that adds a schema fails at startup, not at a request.
 */
import type { FastifyServerOptions } from 'fastify'

function noSchemas (): never {
  throw new Error('figway: this Fastify instance has no schema compiler; routes declare no JSON schemas')
}

export const SCHEMALESS: Pick<FastifyServerOptions, 'schemaController'> = {
  schemaController: { compilersFactory: { buildValidator: () => noSchemas, buildSerializer: () => noSchemas } }
}
