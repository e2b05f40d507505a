/**
 * fast-gateway for the baseline, installed with npm into a cache folder outside the
 * repository (it is not one of figway's dependencies). The newest release is tried first; when
 * it does not install, the newest 3.x; when neither does, the scenario is skipped with npm's
 * reason. A folder that installed once is reused by later runs.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type FastGateway = { ok: true, dir: string, version: string, note?: string } | { ok: false, reason: string }

const SPECS = ['fast-gateway', 'fast-gateway@3'] as const

function installedVersion (dir: string): string | undefined {
  try { return (JSON.parse(readFileSync(join(dir, 'node_modules', 'fast-gateway', 'package.json'), 'utf8')) as { version: string }).version } catch { return undefined }
}

/** The first npm error line worth showing (`npm error notarget No matching version ...`). */
function npmReason (out: string): string {
  const lines = out.split('\n').map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim()).filter((l) => l !== '' && !/^(code|A complete log|In most cases)/.test(l))
  return lines[0] ?? 'npm install failed'
}

export function ensureFastGateway (log: (msg: string) => void, cacheDir = join(tmpdir(), 'figway-bench-cache')): FastGateway {
  const failures: string[] = []
  for (const spec of SPECS) {
    const dir = join(cacheDir, spec.replace(/[@/]/g, '_'))
    const have = installedVersion(dir)
    if (have !== undefined) return { ok: true, dir, version: have, note: failures.length === 0 ? undefined : `${failures.join('; ')}; using ${spec}` }
    mkdirSync(dir, { recursive: true })
    if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{"name":"figway-bench-fast-gateway","private":true}\n')
    log(`installing ${spec} into ${dir}`)
    const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', spec], { cwd: dir, encoding: 'utf8', timeout: 180_000 })
    const version = installedVersion(dir)
    if (r.status === 0 && version !== undefined) return { ok: true, dir, version, note: failures.length === 0 ? undefined : `${failures.join('; ')}; using ${spec}` }
    failures.push(`${spec} does not install (${r.error?.message ?? npmReason(r.stderr + '\n' + r.stdout)})`)
  }
  return { ok: false, reason: failures.join('; ') }
}
