/**
 * The migration dashboard (spec §6): `GET /` on the ops port, a page that shows each route,
 * its backends and weights, and per backend the breaker state, recent error rate and p99;
 * it refreshes itself from `GET /admin/dashboard.json`. `GET /?token=T` with the right token
 * sets an HttpOnly, SameSite=Strict session cookie and redirects to `/`.
 */
import type { FastifyInstance } from 'fastify'
import type { PipelineDeps } from '../pipeline/deps.ts'
import { effectiveTargets } from '../routing/select.ts'
import type { OpsAuth } from './auth.ts'

/** p99 (upper bucket bound, seconds) per "route\0backend" from the duration histogram. */
async function p99s (deps: PipelineDeps): Promise<Map<string, { p99: number | null, count: number }>> {
  const h = await deps.metrics.duration.get()
  const buckets = new Map<string, Array<[number, number]>>()
  for (const v of h.values) {
    if (v.metricName !== 'figway_request_duration_seconds_bucket') continue
    const key = `${String(v.labels.route)}\u0000${String(v.labels.backend)}`
    const raw = (v.labels as Record<string, string | number | undefined>).le
    const le = raw === '+Inf' ? Infinity : Number(raw)
    let list = buckets.get(key)
    if (list === undefined) { list = []; buckets.set(key, list) }
    list.push([le, v.value])
  }
  const out = new Map<string, { p99: number | null, count: number }>()
  for (const [key, list] of buckets) {
    list.sort((a, b) => a[0] - b[0])
    const total = list[list.length - 1]?.[1] ?? 0
    const bound = list.find(([, c]) => c >= total * 0.99)?.[0]
    out.set(key, { p99: total === 0 || bound === undefined || bound === Infinity ? null : bound, count: total })
  }
  return out
}

export function registerDashboard (app: FastifyInstance, deps: PipelineDeps, auth: OpsAuth): void {
  app.get('/', async (req, reply) => {
    const q = req.query as Record<string, unknown>
    if (typeof q.token === 'string') {
      if (!auth.tokenMatches(q.token)) return await reply.code(401).type('application/problem+json').send({ type: 'about:blank', title: 'Unauthorized', status: 401 })
      // The token leaves the URL (and the browser history) at once.
      return await reply.code(303).header('set-cookie', auth.sessionCookie()).header('location', '/').send()
    }
    await auth.hook(req, reply)
    if (reply.sent) return reply
    return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(PAGE)
  })

  app.get('/admin/dashboard.json', { onRequest: auth.hook }, async () => {
    const t = deps.store.current
    const latency = await p99s(deps)
    return {
      version: t?.version ?? 0,
      draining: deps.state.draining,
      inflight: deps.state.inflight,
      routes: (t?.routes ?? []).map((r) => {
        const eff = effectiveTargets(r, deps.weights)
        const backends = [...eff.targets.backends, ...(r.fallback !== null && !eff.targets.backends.includes(r.fallback) ? [r.fallback] : [])]
        return {
          name: r.name,
          path: r.pattern.source,
          methods: r.methods === null ? null : [...r.methods],
          weightsFrom: eff.from,
          fallback: r.fallback?.name ?? null,
          rollout: null,
          shadow: null,
          backends: backends.map((b) => {
            const i = eff.targets.backends.indexOf(b)
            const g = deps.guards.get(b)
            const w = g.breaker.windowStats()
            const l = latency.get(`${r.name}\u0000${b.name}`)
            return {
              name: b.name,
              weight: i === -1 ? 0 : eff.targets.weights[i],
              breaker: g.breaker.state,
              errorRate: w.calls === 0 ? null : w.failures / w.calls,
              p99Seconds: l?.p99 ?? null,
              requests: l?.count ?? 0
            }
          })
        }
      })
    }
  })
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>figway — migration</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d232a}
h1{font-size:1.3rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem;min-width:40rem}
th,td{border-bottom:1px solid #dde;padding:.3rem .6rem;text-align:left}th{background:#f4f6f8}
.bar{background:#e6eaee;width:10rem;height:.7rem;display:inline-block;vertical-align:middle}
.bar i{display:block;height:100%;background:#3a7bd5}.open{color:#b00020;font-weight:600}
.half_open{color:#b36b00}.muted{color:#6b7785}
</style></head><body>
<h1>figway — migration dashboard</h1>
<p class="muted" id="meta">loading…</p>
<div id="routes"></div>
<script>
const fmt = (x, d) => x === null ? '–' : x.toFixed(d)
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
async function refresh () {
  try {
    const r = await fetch('/admin/dashboard.json', { credentials: 'same-origin' })
    if (!r.ok) { document.getElementById('meta').textContent = 'error ' + r.status; return }
    const d = await r.json()
    const total = (rt) => rt.backends.reduce((a, b) => a + b.weight, 0) || 1
    document.getElementById('meta').textContent = 'table v' + d.version + ' · in flight ' + d.inflight + (d.draining ? ' · draining' : '') + ' · ' + new Date().toLocaleTimeString()
    document.getElementById('routes').innerHTML = d.routes.map((rt) =>
      '<h2>' + esc(rt.name) + ' <span class="muted">' + esc((rt.methods || ['*']).join(',')) + ' ' + esc(rt.path) + (rt.weightsFrom === 'runtime' ? ' · runtime weights' : '') + (rt.fallback ? ' · fallback ' + esc(rt.fallback) : '') + '</span></h2>' +
      '<table><tr><th>backend</th><th>weight</th><th></th><th>breaker</th><th>error rate (window)</th><th>p99 (since start)</th><th>requests</th></tr>' +
      rt.backends.map((b) => '<tr><td>' + esc(b.name) + '</td><td>' + b.weight + '</td><td><span class="bar"><i style="width:' + (100 * b.weight / total(rt)).toFixed(1) + '%"></i></span></td>' +
        '<td class="' + b.breaker + '">' + b.breaker.replace('_', '-') + '</td><td>' + (b.errorRate === null ? '–' : fmt(100 * b.errorRate, 1) + ' %') + '</td>' +
        '<td>' + (b.p99Seconds === null ? '–' : fmt(1000 * b.p99Seconds, 0) + ' ms') + '</td><td>' + b.requests + '</td></tr>').join('') + '</table>').join('')
  } catch (e) { document.getElementById('meta').textContent = 'unreachable: ' + e }
}
refresh(); setInterval(refresh, 2000)
</script></body></html>
`
