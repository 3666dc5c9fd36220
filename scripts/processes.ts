import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { ApiClient, type ClientSignOptions, type SignView } from '../src/coordinator/client.js'
import { newKeyFile, openKeyFile, type SigningKey } from '../src/protocols/key-file.js'
import { policyBytes, type RequestSigner } from '../src/protocols/policy.js'
import type { ClusterView } from '../src/coordinator/cluster-view.js'
import { packageRoot } from '../src/runtime/config.js'
import { writeFileAtomic } from '../src/store/files.js'

/** The built CLI, run with the same Node that runs this script (the project's Node 22). */
export const CLI = join(packageRoot(), 'bin', 'mpc-wallet.js')
const STOP_GRACE_MS = 5_000

export interface Ready {
  ready: true
  role: 'coordinator' | 'node'
  peerId: string
  clusterId: string
  addrs: string[]
  /** A node's: where it is reachable (public, relay or local), as it starts. */
  reach?: string
  api?: string
  /** A node's read-only HTTP server (metrics, events), if it serves one. */
  http?: string
  /** A node's roster epoch as read from its store at start (before it rejoins). */
  rosterEpoch?: number
  pid: number
}

/**
 * Where a child runs: `wrap` prefixes its command line (e.g. `ip netns exec <ns>` to run it in a
 * network namespace); `script` replaces the CLI with another built script.
 */
export interface Launch {
  wrap?: string[]
  script?: string
}

/**
 * MPC_WALLET_CPU_PROF=DIR: every long-running peer writes a V8 CPU profile under DIR/<role> when
 * it stops (a developer's tool for finding where a cluster's time goes; SIGKILLed peers write none).
 */
const CPU_PROFILE_DIR = process.env.MPC_WALLET_CPU_PROF

function commandLine (args: string[], launch: Launch): [string, string[]] {
  const profile = CPU_PROFILE_DIR !== undefined && args[1] === 'start' ? ['--cpu-prof', `--cpu-prof-dir=${join(CPU_PROFILE_DIR, args[0] ?? 'peer')}`] : []
  const argv = [...(launch.wrap ?? []), process.execPath, ...profile, launch.script ?? CLI, ...args]
  return [argv[0]!, argv.slice(1)]
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
  async run (args: string[], launch: Launch = {}): Promise<string> {
    const child = spawn(...commandLine(args, launch), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
    if (code !== 0) throw new Error(`${launch.script ?? 'mpc-wallet'} ${args.slice(0, 2).join(' ')} failed: ${err.trim() || out.trim()}`)
    return out
  }

  /** Starts a long-running CLI command with --json and waits for its ready line. */
  async start (name: string, args: string[], timeoutMs = 15_000, launch: Launch = {}): Promise<Peer> {
    await mkdir(this.logDir, { recursive: true })
    const log = createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' })
    const child = spawn(...commandLine([...args, '--json'], launch), { stdio: ['ignore', 'pipe', 'pipe'] })
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

/** Node processes started at the same time by launchCluster: two per core. */
const STARTS_AT_ONCE = 2 * availableParallelism()

/** `fn` over `items`, at most `limit` at once; results in the order of `items`. */
export async function mapLimited<T, R> (items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

export interface LocalCluster {
  clusterId: string
  coordinator: Peer
  coordinatorDir: string
  nodes: Peer[]
  api: ApiClient
  /** A node's data directory, by 1-based index. */
  nodeDir: (i: number) => string
  /** The flags a node takes at every start (listen, passphrase file, heartbeat), by 1-based index. */
  nodeArgs: (i: number) => string[]
  /** The policy's admin and client (key files under the root, sealed with the passphrase in `keyPassphraseFile`). */
  adminKeyFile: string
  clientKeyFile: string
  keyPassphraseFile: string
  /** The client the policy allows every key (SIM_CLIENT), as requests are signed. */
  client: RequestSigner
  /** Signs `messageHex` with `keyId` for a new request signed by `client`. */
  /** `pooled: false`: two rounds even where the holders have pooled nonces. */
  sign: (keyId: string, messageHex: string, opts?: ClientSignOptions) => Promise<SignView>
}

/** The client the local cluster's policy names: it may use every key. */
export const SIM_CLIENT = 'sim-client'

/**
 * The policy a local cluster starts with (version 1): one client, SIM_CLIENT, allowed every key,
 * proposed, approved by the one admin, and applied, as an operator would through the CLI.
 */
async function publishPolicy (api: ApiClient, admin: SigningKey, client: SigningKey): Promise<void> {
  const proposal = await api.proposePolicy({ clients: [{ name: SIM_CLIENT, publicKey: client.publicKey, keys: ['*'] }], keys: {} })
  await api.approvePolicy(admin.publicKey, admin.sign(policyBytes(proposal)))
  await api.applyPolicy()
}

export interface LocalClusterOptions {
  nodes: number
  heartbeatMs: number
  /** Extra flags for `coordinator start` (health thresholds, deadlines). */
  coordinatorArgs?: string[]
  /** How long every node may take to join and be up. */
  joinDeadlineMs: number
  /** Node 1 (`true`) or every node (`'all'`) serves its metrics on a loopback port (its ready line's `http`). */
  memberMetrics?: boolean | 'all'
  /** The peers' log level (their logs go to `<root>/logs`); the CLI's default when unset. */
  logLevel?: string
}

/**
 * Writes a secret a child reads with `--join-file` or `--passphrase-file`. A secret on a command
 * line is visible to every local user (`ps`, /proc/<pid>/cmdline); this file has mode 0600 from
 * its creation (a new file renamed over any old one, whose mode would otherwise be kept), which
 * is also what the CLI demands of it.
 */
export async function writeSecretFile (path: string, secret: string): Promise<void> {
  await writeFileAtomic(path, secret + '\n', 0o600)
}

/**
 * A coordinator and `nodes` MPC nodes as CLI processes on 127.0.0.1 under `root`; resolves once
 * every node is up at the coordinator. Each node gets its own passphrase file; one invitation
 * for exactly these nodes (`--uses N`, valid an hour), made before the coordinator starts, is in
 * a 0600 file they all read (`nodes.join-token`): the cluster's own nodes are one operator's, and
 * one invitation spares the coordinator N writes while they all join. The first invitation, the
 * one `coordinator init` wrote, is left for the user.
 */
export async function launchCluster (group: ProcessGroup, root: string, opts: LocalClusterOptions): Promise<LocalCluster> {
  const coordinatorDir = join(root, 'coordinator')
  const nodeDir = (i: number): string => join(root, `node-${i}`)
  const passFile = (i: number): string => join(root, `node-${i}.passphrase`)
  const logLevel = opts.logLevel !== undefined ? ['--log-level', opts.logLevel] : []
  const nodeArgs = (i: number): string[] => [
    '--listen', '/ip4/127.0.0.1/tcp/0', '--passphrase-file', passFile(i), '--heartbeat-ms', String(opts.heartbeatMs),
    ...((opts.memberMetrics === true && i === 1) || opts.memberMetrics === 'all' ? ['--http', '127.0.0.1:0'] : []),
    ...logLevel
  ]
  const joinFile = join(root, 'nodes.join-token')
  // The admin key is made by init, outside the coordinator's data directory, as a user would.
  const keyPassphraseFile = join(root, 'keys.passphrase')
  const keyPassphrase = randomBytes(24).toString('base64url')
  await writeSecretFile(keyPassphraseFile, keyPassphrase)
  const adminKeyFile = join(root, 'admin.key')
  const clientKeyFile = join(root, 'client.key')
  const init = JSON.parse(await group.run(['coordinator', 'init', '--data-dir', coordinatorDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--admin-key-out', adminKeyFile, '--passphrase-file', keyPassphraseFile, '--json'])) as { clusterId: string }
  await writeFileAtomic(clientKeyFile, `${JSON.stringify(await newKeyFile('client', keyPassphrase), null, 2)}\n`, 0o600)
  const invitation = JSON.parse(await group.run(['coordinator', 'invite', '--data-dir', coordinatorDir, '--uses', String(opts.nodes), '--ttl', '1h', '--note', `the simulation's ${opts.nodes} nodes`, '--json'])) as { token: string }
  await writeSecretFile(joinFile, invitation.token)
  const coordinator = await group.start('coordinator', ['coordinator', 'start', '--data-dir', coordinatorDir, ...(opts.coordinatorArgs ?? []), ...logLevel])
  const bootstrap = coordinator.ready.addrs[0]
  if (bootstrap === undefined || coordinator.ready.api === undefined) throw new Error('the coordinator reported no address')
  const api = new ApiClient(coordinator.ready.api, (await readFile(join(coordinatorDir, 'api-token'), 'utf8')).trim())
  // A node's start costs about a second of CPU (Node itself, libp2p, the key store's scrypt):
  // started all at once, fifty of them would share two cores for a minute and each would miss
  // its own ready deadline. A few at a time, each is ready in about its own start time.
  const nodes = await mapLimited(Array.from({ length: opts.nodes }, (_, k) => k + 1), STARTS_AT_ONCE, async i => {
    await writeSecretFile(passFile(i), randomBytes(24).toString('base64url'))
    return await group.start(`node-${i}`, ['node', 'start', '--data-dir', nodeDir(i), '--bootstrap', bootstrap, '--join-file', joinFile, ...nodeArgs(i)], 60_000)
  })
  await untilView(api, `all ${opts.nodes} nodes to join and be up`, opts.joinDeadlineMs, view => nodes.every(n => view.members.find(m => m.peerId === n.ready.peerId)?.state === 'up'))
  const [admin, clientKey] = await Promise.all([adminKeyFile, clientKeyFile].map(async f => await openKeyFile(await readFile(f, 'utf8'), keyPassphrase)))
  await publishPolicy(api, admin!, clientKey!)
  // Every node holds the policy (a synced record) before the cluster is handed over.
  await untilView(api, 'every node to hold the policy', opts.joinDeadlineMs, view => nodes.every(n => memberInSync(view, n.ready.peerId)))
  const client: RequestSigner = { client: SIM_CLIENT, sign: clientKey!.sign }
  const sign = async (keyId: string, messageHex: string, opts: ClientSignOptions = {}): Promise<SignView> => await api.signAs(client, keyId, messageHex, init.clusterId, opts)
  return { clusterId: init.clusterId, coordinator, coordinatorDir, nodes, api, nodeDir, nodeArgs, adminKeyFile, clientKeyFile, keyPassphraseFile, client, sign }
}

/**
 * Starts node `i` (1-based) of `cluster` again from its data directory alone (no invitation, no
 * bootstrap flag: both are remembered) and puts it in `cluster.nodes`; resolves at its ready line.
 */
export async function restartNode (group: ProcessGroup, cluster: LocalCluster, i: number, timeoutMs = 30_000): Promise<Peer> {
  const peer = await group.start(`node-${i}`, ['node', 'start', '--data-dir', cluster.nodeDir(i), ...cluster.nodeArgs(i)], timeoutMs)
  cluster.nodes[i - 1] = peer
  return peer
}

/** Polls the coordinator's cluster view every 100 ms until `check` holds; throws naming `what` after `timeoutMs`. */
export async function untilView (api: ApiClient, what: string, timeoutMs: number, check: (view: ClusterView) => boolean): Promise<ClusterView> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const view = await api.cluster().catch(() => undefined)
    if (view !== undefined && check(view)) return view
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(100)
  }
}

/** The member is up at the coordinator and holds the coordinator's roster epoch and synced records. */
export function memberInSync (view: ClusterView, peerId: string): boolean {
  const m = view.members.find(member => member.peerId === peerId)
  return m?.state === 'up' && m.stateHash === view.stateHash && m.rosterEpoch === view.epoch
}

/** A process's CPU time so far (user + system, ms) and resident memory now (MiB), from /proc; undefined where /proc is not there. */
export async function processUsage (pid: number): Promise<{ cpuMs: number, rssMiB: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in USER_HZ (100 a second).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN)
    return { cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, rssMiB: rssKiB / 1024 }
  } catch {
    return undefined
  }
}

/** A Prometheus gauge or counter's value in a /metrics text (the first sample of that name), or undefined. */
export function metricValue (text: string, name: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** Nearest-rank percentile (q in 0..1) of a sample; NaN for an empty one. */
export function percentile (sample: readonly number[], q: number): number {
  if (sample.length === 0) return Number.NaN
  const sorted = [...sample].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}
