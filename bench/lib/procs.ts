/**
 * Child processes of the benchmark and what /proc says about them. Every process started
 * here is registered, and killed (with its descendants) when the harness ends, whether it
 * ends normally, on an error or on Ctrl-C.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { createConnection, createServer, type AddressInfo } from 'node:net'

export interface Managed {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>
  /** Last lines of its stderr/stdout log file (for error messages). */
  readonly logFile: string | undefined
}

const live = new Set<Managed>()

export interface SpawnOptions {
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  /** Write stdout and stderr to this file instead of piping them to the harness. */
  readonly logFile?: string
  /** Pipe stdout (to read a `{"ports":[...]}` line); stderr then goes to logFile if set. */
  readonly pipeStdout?: boolean
}

export function spawnManaged (name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Managed {
  const fd = opts.logFile === undefined ? 'ignore' : openSync(opts.logFile, 'a')
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    // stdin is a pipe: our own scripts exit when it closes, even if the harness is killed hard.
    stdio: ['pipe', opts.pipeStdout === true ? 'pipe' : fd, fd]
  })
  if (typeof fd === 'number') closeSync(fd)
  if (child.pid === undefined) throw new Error(`cannot start ${name}: ${cmd}`)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  const m: Managed = { name, pid: child.pid, child, exited, logFile: opts.logFile }
  live.add(m)
  void exited.then(() => live.delete(m))
  child.stdin?.on('error', () => {})
  return m
}

/** Reads the first stdout line of a child that prints `{"ports":[...]}`. */
export async function readPorts (m: Managed, timeoutMs = 20_000): Promise<number[]> {
  const out = m.child.stdout
  if (out === null) throw new Error(`${m.name}: stdout is not piped`)
  return await new Promise<number[]>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => fail(new Error(`${m.name} did not report its ports within ${timeoutMs} ms`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString()
      const nl = buf.indexOf('\n')
      if (nl === -1) return
      clearTimeout(timer)
      out.off('data', onData)
      out.resume() // keep draining anything else it prints
      try {
        const ports = (JSON.parse(buf.slice(0, nl)) as { ports: number[] }).ports
        resolve(ports)
      } catch (err) { reject(err as Error) }
    }
    const fail = (err: Error): void => { clearTimeout(timer); out.off('data', onData); reject(err) }
    out.on('data', onData)
    void m.exited.then(() => fail(new Error(`${m.name} exited before reporting its ports${tail(m)}`)))
  })
}

/** The last lines of a process's log file, for error messages. */
export function tail (m: Managed, lines = 15): string {
  if (m.logFile === undefined) return ''
  try {
    const text = readFileSync(m.logFile, 'utf8').trimEnd()
    return text === '' ? '' : '\n--- ' + m.name + ' log ---\n' + text.split('\n').slice(-lines).join('\n')
  } catch { return '' }
}

/** SIGTERM, then SIGKILL to it and its descendants after `graceMs`. */
export async function stop (m: Managed, graceMs = 5_000): Promise<void> {
  if (!live.has(m)) return
  const pids = processTree(m.pid)
  try { process.kill(m.pid, 'SIGTERM') } catch { /* already gone */ }
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    m.exited.then(() => false),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), graceMs) })
  ])
  clearTimeout(timer)
  // Descendants (nginx workers) that outlived their parent, or everything on a timeout.
  for (const pid of timedOut ? pids : pids.filter((p) => p !== m.pid)) {
    try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
  }
  if (timedOut) await m.exited
  live.delete(m)
}

export async function stopAll (): Promise<void> {
  await Promise.all([...live].map(async (m) => await stop(m)))
}

/** Synchronous last resort for process 'exit': SIGKILL every registered process tree. */
export function killAllSync (): void {
  for (const m of live) {
    for (const pid of processTree(m.pid).reverse()) {
      try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
    }
  }
  live.clear()
}

// ---------------------------------------------------------------------------------------
// /proc

interface Stat { ppid: number, ticks: number }

function readStat (pid: number): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): state ppid ... utime(14) stime(15).
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) }
  } catch { return undefined }
}

/** `pid` and all its descendants, parents first. */
export function processTree (pid: number): number[] {
  const children = new Map<number, number[]>()
  let entries: string[] = []
  try { entries = readdirSync('/proc') } catch { return [pid] }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue
    const st = readStat(Number(e))
    if (st === undefined) continue
    const list = children.get(st.ppid)
    if (list === undefined) children.set(st.ppid, [Number(e)])
    else list.push(Number(e))
  }
  const out: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const p = queue.shift()!
    out.push(p)
    queue.push(...(children.get(p) ?? []))
  }
  return out
}

let clockTicks: number | undefined
export function ticksPerSecond (): number {
  if (clockTicks === undefined) {
    try { clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { clockTicks = 100 }
  }
  return clockTicks
}

/** CPU seconds (user + system, all threads) used so far by a process tree. */
export function cpuSeconds (pids: readonly number[]): number {
  let ticks = 0
  for (const p of pids) ticks += readStat(p)?.ticks ?? 0
  return ticks / ticksPerSecond()
}

/** A /proc/PID/status memory figure of a process tree, summed, in bytes. */
function statusBytes (pids: readonly number[], field: 'VmRSS' | 'VmHWM'): number {
  const re = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm')
  let kb = 0
  for (const p of pids) {
    try {
      const m = re.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
      if (m !== null) kb += Number(m[1])
    } catch { /* gone */ }
  }
  return kb * 1024
}

/** Peak resident set (VmHWM) of a process tree, summed, in bytes. */
export function peakRssBytes (pids: readonly number[]): number { return statusBytes(pids, 'VmHWM') }

/** Resident set now (VmRSS) of a process tree, summed, in bytes. */
export function rssBytes (pids: readonly number[]): number { return statusBytes(pids, 'VmRSS') }

// ---------------------------------------------------------------------------------------
// ports

/** A free port on 127.0.0.1 (bound to port 0, then released). */
export async function freePort (): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

async function canConnect (port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port })
    c.once('connect', () => { c.destroy(); resolve(true) })
    c.once('error', () => resolve(false))
  })
}

/** Waits until `url` answers 200 (and the port accepts connections), or throws. */
export async function waitReady (m: Managed, port: number, url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void m.exited.then(() => { exited = true })
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${m.name} exited during startup${tail(m)}`)
    if (await canConnect(port)) {
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(2_000) })
        await r.arrayBuffer()
        if (r.status === 200) return
      } catch { /* not yet */ }
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${m.name} not ready at ${url} within ${timeoutMs} ms${tail(m)}`)
}

/** CPU seconds the whole machine has spent busy (all cores, from /proc/stat), or NaN. */
export function machineBusySeconds (): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!
    return busy / ticksPerSecond()
  } catch { return Number.NaN }
}
