import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { packageRoot } from '../src/peer/config.js'

/** The built CLI, run with the same Node that runs this script (the project's Node 22). */
export const CLI = join(packageRoot(), 'bin', 'mpc-wallet.js')
const STOP_GRACE_MS = 5_000

export interface Ready {
  ready: true
  role: 'coordinator' | 'node'
  peerId: string
  clusterId: string
  addrs: string[]
  api?: string
  /** A node's roster epoch as read from its store at start (before it rejoins). */
  rosterEpoch?: number
  pid: number
}

export interface Peer {
  name: string
  child: ChildProcess
  ready: Ready
}

/**
 * The CLI processes of one local cluster. Each child's stderr (its logs) goes to
 * `<logDir>/<name>.log`; its stdout's first JSON line is its ready line. Every child started
 * here is stopped by stopAll(), so nothing outlives the script.
 */
export class ProcessGroup {
  private readonly children = new Set<ChildProcess>()
  /** Every long-running child ever started here, so a caller can check none survives. */
  readonly pids: number[] = []

  constructor (private readonly logDir: string) {}

  /** Runs a CLI command to completion and returns its stdout; throws with its stderr on failure. */
  async run (args: string[]): Promise<string> {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
    if (code !== 0) throw new Error(`mpc-wallet ${args.slice(0, 2).join(' ')} failed: ${err.trim()}`)
    return out
  }

  /** Starts a long-running CLI command with --json and waits for its ready line. */
  async start (name: string, args: string[], timeoutMs = 15_000): Promise<Peer> {
    await mkdir(this.logDir, { recursive: true })
    const log = createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' })
    const child = spawn(process.execPath, [CLI, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.children.add(child)
    if (child.pid !== undefined) this.pids.push(child.pid)
    child.on('exit', () => { this.children.delete(child) })
    child.stderr.pipe(log)
    const lines = createInterface({ input: child.stdout })
    const ready = await new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${name} was not ready after ${timeoutMs} ms (log: ${join(this.logDir, `${name}.log`)})`)) }, timeoutMs)
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready (log: ${join(this.logDir, `${name}.log`)})`))
      })
      lines.once('line', line => {
        clearTimeout(timer)
        try {
          resolve(JSON.parse(line) as Ready)
        } catch {
          reject(new Error(`${name} printed "${line}" instead of its ready line`))
        }
      })
    })
    return { name, child, ready }
  }

  /** Sends `signal` and waits for the exit; SIGKILL follows if the child outlives the grace period. */
  async kill (peer: Peer, signal: NodeJS.Signals): Promise<void> {
    await stopChild(peer.child, signal)
  }

  /** SIGTERM to every child still running, and wait for each to exit. */
  async stopAll (): Promise<void> {
    await Promise.all([...this.children].map(async child => { await stopChild(child, 'SIGTERM') }))
  }

  get running (): number {
    return this.children.size
  }
}

async function stopChild (child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill(signal)
  const timer = setTimeout(() => { child.kill('SIGKILL') }, STOP_GRACE_MS)
  await exited
  clearTimeout(timer)
}
