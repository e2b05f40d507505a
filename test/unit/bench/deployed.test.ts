import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { entrypointNodeFlags } from '../../../bench/lib/deployed.ts'

const REPO = join(import.meta.dirname, '..', '..', '..')

t.test('the bench starts figway with the node flags of the Dockerfile\'s ENTRYPOINT', async (t) => {
  t.same(entrypointNodeFlags(readFileSync(join(REPO, 'Dockerfile'), 'utf8')), ['--max-semi-space-size=8'])
  t.same(entrypointNodeFlags('FROM x\nENTRYPOINT ["node", "--a=1", "--b", "/app/bin/figway.mjs"]\n'), ['--a=1', '--b'])
  t.same(entrypointNodeFlags('ENTRYPOINT ["node", "/app/bin/figway.mjs"]'), [])
  t.throws(() => entrypointNodeFlags('CMD ["serve"]'), /no exec-form ENTRYPOINT/)
  t.throws(() => entrypointNodeFlags('ENTRYPOINT ["/bin/sh", "-c", "x"]'), /does not start with "node"/)
})
