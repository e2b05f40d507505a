#!/usr/bin/env node
// Checks the route table that an overlay would deploy, before it is applied:
//
//   kubectl kustomize deploy/overlays/production | npm exec -- node deploy/validate-routes.mjs
//
// Reads rendered manifests on stdin, writes the figway-routes ConfigMap's keys to a temporary
// folder laid out like the pod's /etc/figway/routes, points the rendered gateway.yaml at it and
// runs `figway validate`. Exits with figway's status: 1 and every error with file and line when
// the table would be refused. Run from the repository root after `npm install` (`npm exec`
// puts the project's Node 24 first on the PATH; figway runs from its TypeScript sources).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const docs = parseAllDocuments(readFileSync(0, 'utf8')).map((d) => d.toJS()).filter((o) => o !== null && typeof o === 'object')
const configMap = (test) => docs.find((o) => o.kind === 'ConfigMap' && test(o.metadata?.name ?? ''))
const routes = configMap((n) => n === 'figway-routes')
const config = configMap((n) => n === 'figway-config' || n.startsWith('figway-config-'))
if (routes === undefined || config === undefined) {
  process.stderr.write('validate-routes: no figway-routes / figway-config ConfigMap on stdin (pipe `kubectl kustomize <overlay>` in)\n')
  process.exit(2)
}

const dir = mkdtempSync(join(tmpdir(), 'figway-routes-'))
try {
  const routesDir = join(dir, 'routes')
  mkdirSync(routesDir)
  for (const [key, text] of Object.entries(routes.data ?? {})) writeFileSync(join(routesDir, key), text)
  const gateway = config.data['gateway.yaml'].replace(/^routes:.*$/m, `routes: ${JSON.stringify(routesDir)}`)
  writeFileSync(join(dir, 'gateway.yaml'), gateway)
  const r = spawnSync(process.execPath, [join(root, 'bin', 'figway.mjs'), 'validate', '--config', join(dir, 'gateway.yaml')], { stdio: 'inherit', cwd: dir })
  process.exitCode = r.status ?? 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
