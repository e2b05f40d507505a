/**
 * The ops port (spec §6): open health, readiness and metrics; the token-protected admin API.
 * Never exposed through the ALB.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { SCHEMALESS } from './schemaless.ts'
import { isReady } from '../pipeline/accept.ts'
import type { PipelineDeps } from '../pipeline/deps.ts'
import { explain } from '../routing/explain.ts'
import type { ReloadResult } from '../routing/store.ts'
import { effectiveTargets } from '../routing/select.ts'
import { formatIssue } from '../errors.ts'
import { makeAuth } from './auth.ts'
import { registerDashboard } from './dashboard.ts'

export interface OpsOptions {
  readonly reload: (reason: string) => Promise<ReloadResult>
}

export function createOpsServer (deps: PipelineDeps, opts: OpsOptions): FastifyInstance {
  const app = Fastify({ logger: false, return503OnClosing: false, ...SCHEMALESS })
  const auth = makeAuth(deps.config.ops.token)

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    const ready = isReady(deps)
    return await reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : deps.state.draining ? 'draining' : 'not_ready' })
  })
  app.get('/metrics', async (_req, reply) => {
    const text = await deps.metrics.render()
    return await reply.type(deps.metrics.registry.contentType).send(text)
  })

  registerDashboard(app, deps, auth)

  app.register(async (admin) => {
    admin.addHook('onRequest', auth.hook)

    admin.get('/admin/routes', async () => {
      const t = deps.store.current
      return {
        version: t?.version ?? 0,
        loadedAt: t?.loadedAt.toISOString() ?? null,
        files: t?.files ?? [],
        lastReloadError: deps.store.lastError === null ? null : { at: deps.store.lastError.at.toISOString(), errors: deps.store.lastError.issues.map(formatIssue) },
        routes: (t?.routes ?? []).map((r) => {
          const eff = effectiveTargets(r, deps.weights)
          return {
            name: r.name,
            file: r.file,
            line: r.line,
            order: r.order,
            match: { path: r.pattern.source, methods: r.methods === null ? null : [...r.methods], host: r.host, headers: r.headers?.map((h) => ({ name: h.name, value: h.value ?? String(h.regex) })) ?? null },
            priority: r.priority ?? null,
            weights: {
              file: Object.fromEntries(r.targets.backends.map((b, i) => [b.name, r.targets.weights[i]])),
              runtime: deps.weights.get(r.name) ?? null,
              effective: Object.fromEntries(eff.targets.backends.map((b, i) => [b.name, eff.targets.weights[i]]))
            },
            sticky: r.sticky,
            fallback: r.fallback?.name ?? null,
            rollout: null
          }
        })
      }
    })

    admin.get('/admin/explain', async (req, reply) => {
      const q = req.query as Record<string, string | string[] | undefined>
      const t = deps.store.current
      if (t === undefined) return await reply.code(503).send({ error: 'no route table loaded' })
      const method = typeof q.method === 'string' ? q.method : 'GET'
      const path = typeof q.path === 'string' ? q.path : undefined
      if (path === undefined || !path.startsWith('/')) return await reply.code(400).type('application/problem+json').send({ type: 'about:blank', title: 'Bad request', status: 400, detail: 'path= is required and starts with /' })
      const headers: Record<string, string> = {}
      for (const h of ([] as string[]).concat(q.header ?? [])) {
        const i = h.indexOf(':')
        if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim()
      }
      return explain(t, deps.weights, { method, path, headers })
    })

    admin.put('/admin/routes/:route/weights', async (req, reply) => {
      const { route } = req.params as { route: string }
      const r = deps.store.current?.routeByName.get(route)
      if (r === undefined) return await reply.code(404).type('application/problem+json').send({ type: 'about:blank', title: 'Not found', status: 404, detail: `no route named "${route}"` })
      const body = req.body as Record<string, unknown> | null
      const problems: string[] = []
      if (body === null || typeof body !== 'object' || Array.isArray(body)) problems.push('body is a JSON object of backend name to integer weight')
      else {
        for (const [k, v] of Object.entries(body)) {
          if (!r.backendByName.has(k)) problems.push(`"${k}" is not a backend of route "${route}" (it has ${[...r.backendByName.keys()].join(', ')})`)
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) problems.push(`weight of "${k}" must be an integer >= 0`)
        }
        if (problems.length === 0 && Object.values(body).every((v) => v === 0)) problems.push('weights add up to 0')
      }
      if (problems.length > 0) return await reply.code(400).type('application/problem+json').send({ type: 'about:blank', title: 'Invalid weights', status: 400, detail: problems.join('; ') })
      await deps.weights.set(route, body as Record<string, number>)
      deps.logger.info({ route, weights: body }, 'runtime weights set')
      return { route, weights: deps.weights.get(route) }
    })

    admin.delete('/admin/routes/:route/weights', async (req, reply) => {
      const { route } = req.params as { route: string }
      if (deps.store.current?.routeByName.get(route) === undefined && deps.weights.get(route) === undefined) {
        return await reply.code(404).type('application/problem+json').send({ type: 'about:blank', title: 'Not found', status: 404, detail: `no route named "${route}"` })
      }
      await deps.weights.clear(route)
      deps.logger.info({ route }, 'runtime weights cleared')
      return { route, weights: null }
    })

    admin.post('/admin/reload', async (_req, reply) => {
      const r = await opts.reload('admin')
      return await reply.code(r.ok ? 200 : 422).send({ ok: r.ok, version: r.version, errors: r.issues.map(formatIssue) })
    })

    admin.get('/admin/backends', async () => {
      const t = deps.store.current
      return {
        backends: [...(t?.backends.values() ?? [])].map((b) => {
          const g = deps.guards.get(b)
          const w = g.breaker.windowStats()
          return {
            name: b.name,
            url: b.origin + b.basePath,
            breaker: g.breaker.state,
            inflight: g.inflight,
            maxInFlight: g.maxInFlight,
            window: { attempts: w.calls, failures: w.failures, errorRate: w.calls === 0 ? 0 : w.failures / w.calls },
            pool: b.kind === 'http' ? deps.upstreams.stats(b) ?? null : null,
            channel: b.kind === 'grpc' ? { target: b.grpc!.target, state: deps.grpc.state(b) ?? 'idle', bindings: b.grpc!.bindings.bindings.length } : undefined
          }
        })
      }
    })
  })
  return app
}
