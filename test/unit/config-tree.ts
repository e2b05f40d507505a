/**
 * Temporary config trees for unit tests of config loading: a folder with the files given,
 * removed when the test ends, and the issues a tree's route files or gateway.yaml are
 * refused with.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { loadGatewayConfig, loadRouteSources } from '../../src/config/load.ts'
import { BUILTIN_POLICY } from '../../src/config/policy.ts'
import { ConfigError, type ConfigIssue } from '../../src/errors.ts'
import { compileTable, type RouteTable } from '../../src/routing/table.ts'

interface Teardown { teardown: (fn: () => unknown) => void }

/** Writes `files` (relative path → text) under a fresh temp folder and returns the folder. */
export function writeTree (t: Teardown, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'figway-unit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true })
    writeFileSync(join(dir, f), text)
  }
  return dir
}

/** Loads and compiles `routes/` of a tree written by writeTree; file names in errors are `routes/x.yaml`. */
export function tableOf (dir: string, env: NodeJS.ProcessEnv = {}): RouteTable {
  return compileTable(loadRouteSources(join(dir, 'routes'), dir, env), BUILTIN_POLICY, 1)
}

/** Runs `fn`, which must throw a ConfigError, and returns its issues. */
export function issuesOf (fn: () => unknown): ConfigIssue[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.issues
    throw err
  }
  throw new Error('expected a ConfigError, but the config was accepted')
}

/** Writes the route files `files` (`routes/x.yaml` → text), which must not compile, and returns the issues. */
export function routeIssues (t: Teardown, files: Record<string, string>): ConfigIssue[] {
  const dir = writeTree(t, files)
  return issuesOf(() => tableOf(dir))
}

/** Writes `yaml` as config/gateway.yaml of a fresh tree and returns that file's path. */
export function gatewayFile (t: Teardown, yaml: string): string {
  return join(writeTree(t, { 'config/gateway.yaml': yaml }), 'config/gateway.yaml')
}

/** Loads the gateway.yaml at `file`, which must be refused, and returns the issues. */
export function gatewayIssues (file: string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  return issuesOf(() => loadGatewayConfig(file, env))
}
