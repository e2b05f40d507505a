/**
 * figway as its container image runs it (Dockerfile): the TypeScript compiled to JavaScript
 * (`npm run build`'s tsconfig.build.json) and started by `node` with the ENTRYPOINT's flags.
 * The benchmark and the soak measure that, not the sources run through Node's type stripping,
 * whose transformer adds about 20 MB of resident memory and start-up time.
 *
 * The build goes to `.bench-dist/` at the repository's top level (git-ignored; one level
 * down like `dist/`, so that figway finds its bundled protos and node_modules the same way),
 * not to `dist/`, which `bin/figway.mjs` would prefer over the sources from then on.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

export interface DeployedFigway {
  /** `node` arguments before the script: the Dockerfile ENTRYPOINT's flags. */
  readonly nodeFlags: readonly string[]
  /** The compiled CLI. */
  readonly cli: string
}

/** The flags between `node` and the script in the Dockerfile's exec-form ENTRYPOINT. */
export function entrypointNodeFlags (dockerfile: string): string[] {
  const line = dockerfile.split('\n').find((l) => /^ENTRYPOINT\s+\[/.test(l))
  if (line === undefined) throw new Error('Dockerfile: no exec-form ENTRYPOINT')
  const argv = JSON.parse(line.replace(/^ENTRYPOINT\s+/, '')) as unknown
  if (!Array.isArray(argv) || argv[0] !== 'node' || !argv.every((a) => typeof a === 'string')) throw new Error(`Dockerfile: ENTRYPOINT ${line} does not start with "node"`)
  return (argv as string[]).slice(1).filter((a) => a.startsWith('-'))
}

/** Compiles figway into `.bench-dist/` and returns how to start it as the image does. */
export function buildDeployed (repo: string, log: (msg: string) => void): DeployedFigway {
  const out = join(repo, '.bench-dist')
  rmSync(out, { recursive: true, force: true })
  log('compiling figway as the image does (tsconfig.build.json → .bench-dist/)')
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', join(repo, 'tsconfig.build.json'), '--outDir', out, '--sourceMap', 'false'], { cwd: repo, encoding: 'utf8', timeout: 120_000 })
  const cli = join(out, 'cli.js')
  if (r.status !== 0 || !existsSync(cli)) throw new Error(`compiling figway failed: ${(r.stdout + r.stderr).trim().slice(0, 2000)}`)
  return { nodeFlags: entrypointNodeFlags(readFileSync(join(repo, 'Dockerfile'), 'utf8')), cli }
}
