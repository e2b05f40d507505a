/**
 * Watches the routes folder and asks for a reload when its content changes (spec §7).
 * fs.watch on the folder sees edits, new files and Kubernetes ConfigMap updates (the
 * kubelet swaps the `..data` symlink with a rename inside the folder). Because fs.watch can
 * miss events on some filesystems, a slow poll compares a content signature as well. Events
 * are debounced, and a reload happens only when the signature really changed.
 */
import { createHash } from 'node:crypto'
import { watch, readdirSync, readFileSync, type FSWatcher } from 'node:fs'
import { join } from 'node:path'
import { listRouteFiles } from '../config/load.ts'

export const WATCH_DEBOUNCE_MS = 200
export const WATCH_POLL_MS = 5_000

export function folderSignature (dir: string): string {
  const h = createHash('sha1')
  try {
    for (const f of listRouteFiles(dir)) {
      h.update(f).update('\u0000')
      try { h.update(readFileSync(join(dir, f))) } catch { h.update('<unreadable>') }
      h.update('\u0000')
    }
  } catch { h.update('<no folder>') }
  // The protos of gRPC backends are part of the table too (spec §7).
  for (const f of protoFiles(join(dir, 'protos'), '')) {
    h.update(f).update('\u0000')
    try { h.update(readFileSync(join(dir, 'protos', f))) } catch { h.update('<unreadable>') }
    h.update('\u0000')
  }
  return h.digest('hex')
}

/** The .proto files under a folder, recursively, in name order (dot-entries skipped, as for route files). */
function protoFiles (root: string, sub: string): string[] {
  let entries
  try { entries = readdirSync(join(root, sub), { withFileTypes: true }) } catch { return [] }
  const out: string[] = []
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.')) continue
    const rel = sub === '' ? e.name : sub + '/' + e.name
    if (e.isDirectory() || (e.isSymbolicLink() && !e.name.endsWith('.proto'))) out.push(...protoFiles(root, rel))
    else if (e.name.endsWith('.proto')) out.push(rel)
  }
  return out
}

export class RoutesWatcher {
  #watcher: FSWatcher | undefined
  #poll: NodeJS.Timeout | undefined
  #debounce: NodeJS.Timeout | undefined
  #signature: string
  readonly #dir: string
  readonly #onChange: () => void

  constructor (dir: string, onChange: () => void, opts: { pollMs?: number } = {}) {
    this.#dir = dir
    this.#onChange = onChange
    this.#signature = folderSignature(dir)
    try {
      // Recursive, so an edit under protos/ is seen at once too (the poll would see it later).
      this.#watcher = watch(dir, { persistent: false, recursive: true }, () => this.#schedule())
      this.#watcher.on('error', () => { this.#watcher?.close(); this.#watcher = undefined })
    } catch { /* the poll still works */ }
    this.#poll = setInterval(() => this.#check(), opts.pollMs ?? WATCH_POLL_MS)
    this.#poll.unref()
  }

  /**
   * Records what was just loaded, so a reload from elsewhere is not repeated. Pass the
   * signature taken before that load read the folder: a change written while the table was
   * being built then still differs from it, and is reloaded in turn instead of being lost.
   */
  markLoaded (signature: string = folderSignature(this.#dir)): void { this.#signature = signature }

  #schedule (): void {
    if (this.#debounce !== undefined) clearTimeout(this.#debounce)
    this.#debounce = setTimeout(() => { this.#debounce = undefined; this.#check() }, WATCH_DEBOUNCE_MS)
    this.#debounce.unref()
  }

  #check (): void {
    const sig = folderSignature(this.#dir)
    if (sig === this.#signature) return
    this.#signature = sig
    this.#onChange()
  }

  close (): void {
    this.#watcher?.close()
    if (this.#poll !== undefined) clearInterval(this.#poll)
    if (this.#debounce !== undefined) clearTimeout(this.#debounce)
  }
}
