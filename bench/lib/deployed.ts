/**
 * figway as its container image runs it (Dockerfile): the TypeScript compiled to JavaScript
 * (`npm run build`'s tsconfig.build.json) and started by `node` with the ENTRYPOINT's flags
 * and the runtime stage's ENV (MALLOC_ARENA_MAX among them).
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
  /** The runtime stage's `ENV` settings, added to the harness's own environment. */
  readonly env: Readonly<Record<string, string>>
}

/** The flags between `node` and the script in the Dockerfile's exec-form ENTRYPOINT. */
export function entrypointNodeFlags (dockerfile: string): string[] {
  const line = dockerfile.split('\n').find((l) => /^ENTRYPOINT\s+\[/.test(l))
  if (line === undefined) throw new Error('Dockerfile: no exec-form ENTRYPOINT')
  const argv = JSON.parse(line.replace(/^ENTRYPOINT\s+/, '')) as unknown
  if (!Array.isArray(argv) || argv[0] !== 'node' || !argv.every((a) => typeof a === 'string')) throw new Error(`Dockerfile: ENTRYPOINT ${line} does not start with "node"`)
  return (argv as string[]).slice(1).filter((a) => a.startsWith('-'))
}

/**
 * The `ENV` settings of the Dockerfile's last stage (after its last FROM): `ENV K=V [K=V…]`
 * with plain or double-quoted values, and the legacy `ENV K V`.
 */
export function runtimeEnv (dockerfile: string): Record<string, string> {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n')
  let from = -1
  lines.forEach((l, i) => { if (/^FROM\s/i.test(l)) from = i })
  const env: Record<string, string> = {}
  for (const l of lines.slice(from + 1)) {
    const m = /^ENV\s+(.*)$/i.exec(l.trim())
    if (m === null) continue
    const rest = m[1]!.trim()
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(rest)) {
      const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(rest)
      if (legacy !== null) env[legacy[1]!] = legacy[2]!.trim()
      continue
    }
    for (const p of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("((?:[^"\\]|\\.)*)"|\S*)/g)) {
      env[p[1]!] = p[3] !== undefined ? p[3].replace(/\\(.)/g, '$1') : p[2]!
    }
  }
  return env
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
  const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8')
  return { nodeFlags: entrypointNodeFlags(dockerfile), cli, env: runtimeEnv(dockerfile) }
}
