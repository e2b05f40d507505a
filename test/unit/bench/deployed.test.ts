import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { entrypointNodeFlags, runtimeEnv } from '../../../bench/lib/deployed.ts'

const REPO = join(import.meta.dirname, '..', '..', '..')

t.test('the bench starts figway with the node flags of the Dockerfile\'s ENTRYPOINT', async (t) => {
  t.same(entrypointNodeFlags(readFileSync(join(REPO, 'Dockerfile'), 'utf8')), ['--max-semi-space-size=8'])
  t.same(entrypointNodeFlags('FROM x\nENTRYPOINT ["node", "--a=1", "--b", "/app/bin/figway.mjs"]\n'), ['--a=1', '--b'])
  t.same(entrypointNodeFlags('ENTRYPOINT ["node", "/app/bin/figway.mjs"]'), [])
  t.throws(() => entrypointNodeFlags('CMD ["serve"]'), /no exec-form ENTRYPOINT/)
  t.throws(() => entrypointNodeFlags('ENTRYPOINT ["/bin/sh", "-c", "x"]'), /does not start with "node"/)
})

t.test('and with the ENV of the Dockerfile\'s runtime stage', async (t) => {
  const env = runtimeEnv(readFileSync(join(REPO, 'Dockerfile'), 'utf8'))
  t.equal(env.MALLOC_ARENA_MAX, '2', 'the image limits malloc arenas, and the bench measures figway so')
  t.equal(env.NODE_ENV, 'production')
  t.same(runtimeEnv('FROM a AS build\nENV BUILD_ONLY=1\nFROM b\nENV A=1 B="two words" C=\nENV LEGACY some value\n'),
    { A: '1', B: 'two words', C: '', LEGACY: 'some value' }, 'only the last stage; K=V pairs, quoted values, the legacy form')
  t.same(runtimeEnv('FROM b\nENV A=1 \\\n    B=2\n'), { A: '1', B: '2' }, 'a continued line')
})
