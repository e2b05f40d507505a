import t from 'tap'
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { echo, startOrigin } from '../helpers/origin.ts'
import { adminHeaders, eventually, req, startGateway } from '../helpers/gateway.ts'
import { monolithFile, routeFile } from '../helpers/routes.ts'

/**
 * A ConfigMap volume the way the kubelet lays it out: the real files live in a timestamped
 * dot-folder, `..data` is a symlink to it, and each key is a top-level symlink through `..data`.
 * An update writes a new timestamped folder, points a new `..data_tmp` symlink at it, renames
 * that over `..data` (the atomic step), then removes the old folder and any stale key links.
 */
class ConfigMapVolume {
  readonly dir: string
  #current: string | undefined
  #generation = 0

  constructor (dir: string) { this.dir = dir }

  update (files: Record<string, string>): void {
    this.#generation++
    const stamp = `..2026_01_01_00_0${this.#generation}_00.${this.#generation}`
    mkdirSync(join(this.dir, stamp))
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, stamp, name), text)
    symlinkSync(stamp, join(this.dir, '..data_tmp'))
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'))
    for (const name of Object.keys(files)) {
      try { symlinkSync(join('..data', name), join(this.dir, name)) } catch { /* the key already has its link */ }
    }
    for (const entry of readdirSync(this.dir)) {
      if (!entry.startsWith('.') && !(entry in files)) rmSync(join(this.dir, entry))
    }
    if (this.#current !== undefined) rmSync(join(this.dir, this.#current), { recursive: true })
    this.#current = stamp
  }
}

t.test('a ConfigMap update (the kubelet\'s ..data symlink swap) reloads the new content', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const v1 = await startOrigin(t, echo('orders-v1'))
  const v2 = await startOrigin(t, echo('orders-v2'))
  const cm = new ConfigMapVolume(mkdtempSync(join(tmpdir(), 'figway-cm-')))
  t.teardown(() => rmSync(cm.dir, { recursive: true, force: true }))
  const monolith = monolithFile(mono.url)
  cm.update({ 'monolith.yaml': monolith, 'orders.yaml': routeFile('orders', v1.url, 'orders', '/api/orders/**') })

  // The fs.watch events are what must trigger the reload: the poll is far slower than the deadline.
  const g = await startGateway(t, {}, `routes: "${cm.dir}"`, { watch: true, watchPollMs: 60_000 })
  t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'orders-v1', 'the first version serves')

  cm.update({ 'monolith.yaml': monolith, 'orders.yaml': routeFile('orders', v2.url, 'orders', '/api/orders/**') })
  t.ok(await eventually(async () => (await req(`${g.url}/api/orders/1`)).json().origin === 'orders-v2', 2_000), 'the swapped content serves')

  // A key added and a key removed in one update.
  cm.update({ 'monolith.yaml': monolith, 'payments.yaml': routeFile('payments', v1.url, 'payments', '/api/payments/**') })
  t.ok(await eventually(async () => (await req(`${g.url}/api/payments/1`)).json().origin === 'orders-v1', 2_000), 'a new key serves')
  t.equal((await req(`${g.url}/api/orders/1`)).json().origin, 'monolith', 'a removed key no longer routes')

  const table = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
  t.equal(table.lastReloadError, null, 'no reload failed on the way (for example on a half-swapped folder)')
  t.same(table.files.map((f: string) => f.slice(f.lastIndexOf('/') + 1)), ['monolith.yaml', 'payments.yaml'], 'only the key links are route files')
})

t.test('dot-entries in the routes folder are never read as route files', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const cm = new ConfigMapVolume(mkdtempSync(join(tmpdir(), 'figway-cm-')))
  t.teardown(() => rmSync(cm.dir, { recursive: true, force: true }))
  cm.update({ 'monolith.yaml': monolithFile(mono.url) })
  // Were any of these read, the table would fail to load: broken YAML and a duplicate route.
  writeFileSync(join(cm.dir, '.monolith.yaml.swp'), 'routes: [ {')
  writeFileSync(join(cm.dir, '..stray.yaml'), monolithFile(mono.url))
  symlinkSync('..data/monolith.yaml', join(cm.dir, '.shadow-copy.yaml'))

  const g = await startGateway(t, {}, `routes: "${cm.dir}"`)
  t.equal((await req(`${g.url}/x`)).json().origin, 'monolith')
  const table = (await req(`${g.opsUrl}/admin/routes`, { headers: adminHeaders })).json()
  t.same(table.files.map((f: string) => f.slice(f.lastIndexOf('/') + 1)), ['monolith.yaml'], 'the table comes from monolith.yaml alone')
  t.same(table.routes.map((r: { name: string }) => r.name), ['monolith'])
  const r = await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })
  t.same(r.json(), { ok: true, version: 2, errors: [] }, 'reloads ignore them as well')
})
