/**
 * Where the transcoding tests find protos: the fixtures of this folder's tests, and the
 * google/api files the project ships in routes/protos/ (one copy, the one users get).
 */
import { fileURLToPath } from 'node:url'

export const PROTOS = fileURLToPath(new URL('../../fixtures/protos/', import.meta.url))
export const SHIPPED = fileURLToPath(new URL('../../../routes/protos/', import.meta.url))
export const INCLUDE = [PROTOS, SHIPPED]
