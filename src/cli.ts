#!/usr/bin/env node
/**
 * figway's command line (spec §12): serve | validate | explain METHOD PATH [-H name:value]... | routes,
 * each with --config FILE (default config/gateway.yaml); `serve --workers N|auto` runs a
 * cluster (cluster.ts).
 */
import { Command, Option } from 'commander'
import { loadGatewayConfig, type GatewayConfig } from './config/load.ts'
import { ConfigError, formatIssue } from './errors.ts'
import { explain } from './routing/explain.ts'
import { RouteStore } from './routing/store.ts'
import type { RouteTable } from './routing/table.ts'

const DEFAULT_CONFIG = 'config/gateway.yaml'

function buildTable (configFile: string): { config: GatewayConfig, table: RouteTable } {
  const config = loadGatewayConfig(configFile, process.env)
  const store = new RouteStore({ dir: config.routesDir, displayBase: process.cwd(), defaults: config.defaults, env: process.env })
  return { config, table: store.build() }
}

function fail (err: unknown): never {
  if (err instanceof ConfigError) {
    for (const i of err.issues) process.stderr.write(formatIssue(i) + '\n')
    process.stderr.write(`${err.issues.length} error${err.issues.length === 1 ? '' : 's'}\n`)
  } else {
    process.stderr.write(`figway: ${(err as Error)?.message ?? String(err)}\n`)
  }
  process.exit(1)
}

const program = new Command()
  .name('figway')
  .description('strangler-fig edge gateway')
  .showHelpAfterError()
const configOption = (): Option => new Option('-c, --config <file>', 'gateway config file').default(DEFAULT_CONFIG)

program.command('serve')
  .description('run the gateway')
  .addOption(configOption())
  .option('-w, --workers <n>', 'worker processes sharing the data port: a number, or auto (one per CPU); default: one process')
  .action(async (o: { config: string, workers?: string }) => {
    if (o.workers === undefined) {
      const { serve } = await import('./main.ts')
      await serve(o.config).catch(fail)
      return
    }
    const { parseWorkers, serveWithWorkers } = await import('./cluster.ts')
    await Promise.resolve().then(async () => { await serveWithWorkers(o.config, parseWorkers(o.workers!)) }).catch(fail)
  })

program.command('validate')
  .description('check the config and every route file; exit 1 listing each error with file and line')
  .addOption(configOption())
  .action((o: { config: string }) => {
    try {
      const { table } = buildTable(o.config)
      process.stdout.write(`ok: ${table.routes.length} routes, ${table.backends.size} backends from ${table.files.length} files\n`)
    } catch (err) { fail(err) }
  })

program.command('explain')
  .description('show what the gateway would do with a request, without a running gateway')
  .argument('<method>', 'HTTP method')
  .argument('<path>', 'request path, with query')
  .option('-H, --header <name:value>', 'request header (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .addOption(configOption())
  .action((method: string, path: string, o: { config: string, header: string[] }) => {
    try {
      const { table } = buildTable(o.config)
      const headers: Record<string, string> = {}
      for (const h of o.header) {
        const i = h.indexOf(':')
        if (i <= 0) fail(new Error(`bad header "${h}": use name:value`))
        headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim()
      }
      process.stdout.write(JSON.stringify(explain(table, undefined, { method, path, headers }), null, 2) + '\n')
    } catch (err) { fail(err) }
  })

program.command('routes')
  .description('print the effective route table, most specific first')
  .addOption(configOption())
  .action((o: { config: string }) => {
    try {
      const { table } = buildTable(o.config)
      const rows = table.routes.map((r) => [
        String(r.order + 1), r.name, r.methods === null ? '*' : [...r.methods].join(','), r.pattern.source,
        r.targets.backends.map((b, i) => r.targets.backends.length === 1 ? b.name : `${b.name}=${r.targets.weights[i]}`).join(' '),
        `${r.file}:${r.line}`
      ])
      const head = ['#', 'ROUTE', 'METHODS', 'PATH', 'BACKENDS', 'SOURCE']
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
      for (const r of [head, ...rows]) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n')
    } catch (err) { fail(err) }
  })

await program.parseAsync(process.argv)
