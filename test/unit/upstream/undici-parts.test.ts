/**
 * src/upstream/http.ts takes Pool, buildConnector and errors from undici's own modules, not
 * its index (which loads fetch, WebSocket and more). They must be the very objects the index
 * exports, or an undici upgrade that moved them would break figway's upstream calls.
 */
import { createRequire } from 'node:module'
import t from 'tap'
import * as undici from 'undici'
import { UNDICI_PARTS } from '../../../src/upstream/http.ts'

const require = createRequire(import.meta.url)

t.test('the parts figway loads are the ones undici exports', async (t) => {
  t.equal(require(UNDICI_PARTS.pool), undici.Pool, 'Pool')
  t.equal(require(UNDICI_PARTS.connect), undici.buildConnector, 'buildConnector')
  t.equal(require(UNDICI_PARTS.errors), undici.errors, 'errors')
})
