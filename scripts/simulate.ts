/**
 * Local multi-peer simulation: a coordinator and N MPC nodes as separate processes on
 * loopback TCP. Joins them, waits for every node to be up, SIGKILLs one, watches it go down,
 * restarts it from its data directory, watches it come back under the same PeerId, then makes
 * one threshold key of each scheme, signs, kills n - t holders, signs again, verifies every
 * signature with outside code, and stops everything. `npm run simulate -- --help` lists the options.
 */
import { createHash, generateKeyPairSync, sign as signWith } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { formatClusterTable } from '../src/cli/index.js'
import { launchCluster, SIM_CLIENT, memberInSync, metricValue, percentile, processUsage, ProcessGroup, untilView, type LocalCluster, type Peer } from './processes.js'
import { heartbeatIntervalFor, heartbeatStretch } from '../src/protocols/constants.js'
import { LOG_LEVELS } from '../src/log.js'
import { UsageError, wholeNumberArg } from './args.js'
import { externalVerifierName, verifyKeySignature } from './verify.js'
import { simulateLifecycle, type LifecycleEntry } from './sim-lifecycle.js'
import { simulateTransactions, type TransactionEntry } from './sim-transactions.js'
import { ApiClient, ApiClientError, type SignView } from '../src/coordinator/client.js'
import { verifyClusterAudit } from '../src/coordinator/audit-verify.js'
import { newSignedRequest, type RequestSigner } from '../src/protocols/policy.js'
import type { KeyView } from '../src/coordinator/requests.js'
import type { ClusterView, MemberView } from '../src/coordinator/cluster-view.js'

const USAGE = `usage: npm run simulate -- [options]
  --nodes N              MPC nodes to start (1-64, default 5)
  --parties N            holders of each key (default: the nodes, at most 20)
  --threshold T          signers each key needs (default: parties - 2 up to 5 parties, else half of them)
  --json                 make the last line a JSON summary
  --keep                 leave the cluster running until Ctrl-C / SIGTERM
  --dir DIR              data directories under DIR (default: a new temp dir, removed at exit unless --keep)
  --heartbeat-ms MS      node heartbeat interval (default 1000)
  --suspect-after-ms MS  coordinator: silence before suspect (default 3000)
  --down-after-ms MS     coordinator: silence before down (default 6000)
  --join-deadline-ms MS  time allowed for every node to join and be up (default 10000 + 1000 per node)
  --steady-ms MS         a quiet window once all are up, to measure heartbeat delivery, CPU and memory (default 10000)
  --sign-samples N       timed signatures per key for the latency figures (default 5)
  --log-level LEVEL      the peers' log level, logs in DIR/logs (default warn)`

const MAX_NODES = 64
const DEFAULT_MAX_PARTIES = 20
/** How long a restarted node may take to print its ready line (a loaded host is slow to start Node). */
const READY_TIMEOUT_MS = 60_000
/** At most this many holders are killed before the second signing. */
const MAX_KILLED = 5

/** t = n - 2 for small keys (two holders may fail), half the holders for larger ones (10-of-20). */
function defaultThreshold (parties: number): number {
  return parties <= 5 ? Math.max(2, parties - 2) : Math.ceil(parties / 2)
}

interface Options {
  nodes: number
  parties: number
  threshold: number
  json: boolean
  keep: boolean
  dir?: string
  heartbeatMs: number
  suspectAfterMs: number
  downAfterMs: number
  joinDeadlineMs: number
  steadyMs: number
  signSamples: number
  logLevel: string
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nodes: { type: 'string', default: '5' },
      parties: { type: 'string' },
      threshold: { type: 'string' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      dir: { type: 'string' },
      'heartbeat-ms': { type: 'string', default: '1000' },
      'suspect-after-ms': { type: 'string', default: '3000' },
      'down-after-ms': { type: 'string', default: '6000' },
      'join-deadline-ms': { type: 'string' },
      'steady-ms': { type: 'string', default: '10000' },
      'sign-samples': { type: 'string', default: '5' },
      'log-level': { type: 'string', default: 'warn' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const nodes = wholeNumberArg('nodes', values.nodes, 1, MAX_NODES)
  const parties = values.parties !== undefined ? wholeNumberArg('parties', values.parties, 2, nodes) : Math.min(nodes, DEFAULT_MAX_PARTIES)
  const opts: Options = {
    nodes,
    parties,
    threshold: values.threshold !== undefined ? wholeNumberArg('threshold', values.threshold, 2, parties) : defaultThreshold(parties),
    json: values.json,
    keep: values.keep,
    dir: values.dir,
    heartbeatMs: wholeNumberArg('heartbeat-ms', values['heartbeat-ms'], 50, 60_000),
    suspectAfterMs: wholeNumberArg('suspect-after-ms', values['suspect-after-ms'], 1, 600_000),
    downAfterMs: wholeNumberArg('down-after-ms', values['down-after-ms'], 1, 600_000),
    joinDeadlineMs: wholeNumberArg('join-deadline-ms', values['join-deadline-ms'] ?? String(10_000 + 1_000 * nodes), 100, 600_000),
    steadyMs: wholeNumberArg('steady-ms', values['steady-ms'], 0, 600_000),
    signSamples: wholeNumberArg('sign-samples', values['sign-samples'], 0, 1_000),
    logLevel: values['log-level']
  }
  if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  if (opts.downAfterMs <= opts.suspectAfterMs) throw new UsageError('--down-after-ms must exceed --suspect-after-ms')
  return opts
}

const started = Date.now()

function say (line: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`)
}

function member (view: ClusterView, peerId: string): MemberView | undefined {
  return view.members.find(m => m.peerId === peerId)
}

/** Received ÷ sent heartbeats between two readings of a peer's /metrics, or undefined without both. */
function delivery (before: string | undefined, after: string | undefined): number | undefined {
  if (before === undefined || after === undefined) return undefined
  const received = (metricValue(after, 'mpc_heartbeats_received') ?? 0) - (metricValue(before, 'mpc_heartbeats_received') ?? 0)
  const expected = (metricValue(after, 'mpc_heartbeats_expected') ?? 0) - (metricValue(before, 'mpc_heartbeats_expected') ?? 0)
  return expected > 0 ? Math.round(received / expected * 100_000) / 1000 : undefined
}

/**
 * The cluster left alone for --steady-ms: how many of the members' heartbeats reached the
 * coordinator and a member (node 1), the coordinator's CPU and memory, and the nodes' memory.
 */
async function measureSteadyState (opts: Options, cluster: LocalCluster): Promise<Record<string, unknown>> {
  const { api, coordinator, nodes } = cluster
  const memberUrl = nodes[0]?.ready.http
  const memberMetrics = async (): Promise<string | undefined> => memberUrl === undefined ? undefined : await fetch(`${memberUrl}/metrics`).then(async r => await r.text()).catch(() => undefined)
  const usage = async (): Promise<Array<{ cpuMs: number, rssMiB: number } | undefined>> => await Promise.all(nodes.map(async n => await processUsage(n.ready.pid)))
  const before = { coordinator: await api.metrics().catch(() => undefined), member: await memberMetrics(), cpu: await processUsage(coordinator.ready.pid), nodes: await usage(), at: performance.now() }
  await sleep(opts.steadyMs)
  const after = { coordinator: await api.metrics().catch(() => undefined), member: await memberMetrics(), cpu: await processUsage(coordinator.ready.pid), nodes: await usage(), at: performance.now() }
  const seconds = (after.at - before.at) / 1000
  const nodeRss = after.nodes.flatMap(u => u !== undefined ? [u.rssMiB] : [])
  const nodeCpu = after.nodes.flatMap((u, i) => u !== undefined && before.nodes[i] !== undefined ? [(u.cpuMs - before.nodes[i].cpuMs) / seconds / 10] : [])
  const figures = {
    steadyMs: opts.steadyMs,
    heartbeatIntervalMs: heartbeatIntervalFor(opts.heartbeatMs, opts.nodes),
    heartbeatDeliveryPercent: { coordinator: delivery(before.coordinator, after.coordinator), member: delivery(before.member, after.member) },
    coordinatorCpuPercent: before.cpu !== undefined && after.cpu !== undefined ? Math.round((after.cpu.cpuMs - before.cpu.cpuMs) / seconds) / 10 : undefined,
    nodeCpuPercent: nodeCpu.length > 0 ? { median: Math.round(percentile(nodeCpu, 0.5) * 10) / 10, max: Math.round(Math.max(...nodeCpu) * 10) / 10, total: Math.round(nodeCpu.reduce((a, b) => a + b, 0) * 10) / 10 } : undefined,
    coordinatorRssMiB: after.cpu !== undefined ? Math.round(after.cpu.rssMiB) : undefined,
    nodeRssMiB: nodeRss.length > 0 ? { median: Math.round(percentile(nodeRss, 0.5)), max: Math.round(Math.max(...nodeRss)) } : undefined
  }
  say(`steady state over ${opts.steadyMs / 1000}s: heartbeats every ${figures.heartbeatIntervalMs} ms, delivered ${figures.heartbeatDeliveryPercent.coordinator ?? '?'}% to the coordinator and ${figures.heartbeatDeliveryPercent.member ?? '?'}% to a member; coordinator CPU ${figures.coordinatorCpuPercent ?? '?'}%, RSS ${figures.coordinatorRssMiB ?? '?'} MiB; node CPU median ${figures.nodeCpuPercent?.median ?? '?'}% (all nodes ${figures.nodeCpuPercent?.total ?? '?'}%), node RSS median ${figures.nodeRssMiB?.median ?? '?'} MiB, max ${figures.nodeRssMiB?.max ?? '?'} MiB`)
  return figures
}

/** The nodes that hold the most of `keys` first: killing them tests every key. */
function byKeysHeld (keys: KeyView[], nodes: Peer[]): Peer[] {
  const held = (node: Peer): number => keys.filter(k => k.holders.some(h => h.peerId === node.ready.peerId)).length
  return nodes.filter(n => held(n) > 0).sort((a, b) => held(b) - held(a))
}

/**
 * A request from a client the policy does not name, signed with a key of its own, must be
 * refused (by the coordinator's check first; every node would refuse it too).
 */
async function strangerRefused (cluster: LocalCluster, key: KeyView): Promise<{ reason: string, client: string, keyId: string, message: string }> {
  const { privateKey } = generateKeyPairSync('ed25519')
  const stranger: RequestSigner = { client: 'stranger', sign: (data) => signWith(null, data, privateKey).toString('hex') }
  const message = createHash('sha256').update('a request the policy does not allow').digest()
  try {
    await cluster.api.sign(key.id, message.toString('hex'), newSignedRequest(stranger, { clusterId: cluster.clusterId, keyId: key.id, message }))
  } catch (err) {
    if (err instanceof ApiClientError && err.code === 'policy_denied') return { reason: err.rule ?? 'unknown', client: stranger.client, keyId: key.id, message: err.message }
    throw err
  }
  throw new Error('a request from a client the policy does not name was signed')
}

async function simulate (opts: Options, group: ProcessGroup, root: string): Promise<Record<string, unknown>> {
  say(`starting a coordinator and ${opts.nodes} nodes on 127.0.0.1 (data in ${root})`)
  const joinStart = Date.now()
  const cluster = await launchCluster(group, root, {
    nodes: opts.nodes,
    heartbeatMs: opts.heartbeatMs,
    coordinatorArgs: ['--suspect-after-ms', String(opts.suspectAfterMs), '--down-after-ms', String(opts.downAfterMs)],
    joinDeadlineMs: opts.joinDeadlineMs,
    memberMetrics: true,
    logLevel: opts.logLevel
  })
  const { api, coordinator, nodes, nodeDir, nodeArgs } = cluster
  const joinMs = Date.now() - joinStart
  // The CPU the peers spent to get there (the host's other work shows as the rest of joinMs).
  const joinCpuMs = (await Promise.all([coordinator, ...nodes].map(async p => (await processUsage(p.ready.pid))?.cpuMs ?? 0))).reduce((a, b) => a + b, 0)
  say(`coordinator ${coordinator.ready.peerId} of cluster ${cluster.clusterId} at ${coordinator.ready.addrs[0] ?? ''}`)
  say(`all ${opts.nodes} nodes joined and are up, ${(joinMs / 1000).toFixed(1)}s after the cluster started (the peers used ${(joinCpuMs / 1000).toFixed(1)} s of CPU)`)
  say(`policy version 1 in force on every node (signed by the admin key init made in ${cluster.adminKeyFile}): client ${cluster.client.client} may use every key, its requests signed with ${cluster.clientKeyFile}`)
  console.log(formatClusterTable(await api.cluster()))
  const steady = await measureSteadyState(opts, cluster)

  const victimIndex = nodes.length - 1
  const victim = nodes[victimIndex]!
  say(`SIGKILL ${victim.name} (${victim.ready.peerId})`)
  const killedAt = Date.now()
  await group.kill(victim, 'SIGKILL')
  const stretch = heartbeatStretch(opts.nodes)
  const downWindow = (opts.downAfterMs + opts.heartbeatMs) * stretch + 2_000
  await untilView(api, `${victim.name} to be down`, downWindow, view => member(view, victim.ready.peerId)?.state === 'down')
  const downDetectedMs = Date.now() - killedAt
  say(`${victim.name} is down, ${(downDetectedMs / 1000).toFixed(1)}s after the kill (down threshold ${opts.downAfterMs * stretch} ms)`)

  say(`restarting ${victim.name} from ${nodeDir(victimIndex + 1)} (no --join, no --bootstrap: both are remembered)`)
  const restartAt = Date.now()
  const restarted = await group.start(victim.name, ['node', 'start', '--data-dir', nodeDir(victimIndex + 1), ...nodeArgs(victimIndex + 1)], READY_TIMEOUT_MS)
  nodes[victimIndex] = restarted
  const samePeerId = restarted.ready.peerId === victim.ready.peerId
  const storedEpoch = restarted.ready.rosterEpoch ?? 0
  say(`${victim.name} restarted as ${restarted.ready.peerId} with the roster it had stored (epoch ${storedEpoch})`)
  await untilView(api, `${victim.name} to be up again`, opts.joinDeadlineMs, view => member(view, restarted.ready.peerId)?.state === 'up')
  const recoveredMs = Date.now() - restartAt
  say(`${victim.name} is up again ${samePeerId ? 'with the same' : 'with a DIFFERENT'} PeerId, ${(recoveredMs / 1000).toFixed(1)}s after the restart`)

  let view = await api.cluster()
  console.log(formatClusterTable(view))
  const up = view.members.filter(m => m.state === 'up').length
  const restartSummary = { restartedSamePeerId: samePeerId, restartedWithStoredRoster: storedEpoch > 0, joinMs, downDetectedMs, recoveredMs }

  // Threshold keys: one of each scheme, t-of-n (see defaultThreshold); up to n - t holders may fail.
  const { parties, threshold } = opts
  const keys: KeyView[] = []
  const signatures: Array<SignView & { verifiedBy: string }> = []
  const convergenceMs: number[] = []
  const keygenMs: Record<string, number> = {}
  const signP50Ms: Record<string, number> = {}
  let killed = 0
  const refused: Array<{ reason: string, client: string, keyId: string, message: string }> = []
  const lifecycle: LifecycleEntry[] = []
  const transactions: TransactionEntry[] = []
  if (parties >= 3) {
    for (const scheme of ['ed25519', 'taproot'] as const) {
      const started = Date.now()
      const key = await api.keygen({ scheme, threshold, parties, network: 'regtest' })
      keys.push(key)
      keygenMs[scheme] = Date.now() - started
      say(`keygen ${scheme} ${threshold}-of-${parties}: key ${key.id}, group key ${key.xOnlyPublicKey ?? key.groupPublicKey}${key.address !== undefined ? `, address ${key.address}` : ''} (${Date.now() - started} ms)`)
    }
    const signVerified = async (key: KeyView, label: string): Promise<SignView & { verifiedBy: string }> => {
      const message = key.scheme === 'taproot'
        ? createHash('sha256').update(`mpc-wallet simulation ${label} ${Date.now()}`).digest('hex')
        : Buffer.from(`mpc-wallet simulation ${label} ${new Date().toISOString()}`).toString('hex')
      const result = await cluster.sign(key.id, message)
      if (!verifyKeySignature(key, message, result.signature)) throw new Error(`the ${key.scheme} signature of key ${key.id} does not verify`)
      return { ...result, verifiedBy: externalVerifierName(key.scheme) }
    }
    const signAll = async (label: string): Promise<void> => {
      for (const key of keys) {
        const started = Date.now()
        const result = await signVerified(key, label)
        signatures.push(result)
        say(`signed with ${key.scheme} key by ${result.signers.length} holders in ${Date.now() - started} ms (${result.rounds === 1 ? 'one round, from pooled nonces' : 'two rounds'}; attempts ${result.attempts}); verified by ${result.verifiedBy}`)
      }
    }
    await signAll('before the kills')
    refused.push(await strangerRefused(cluster, keys[0]!))
    say(`a request signed by a client the policy does not name was refused (${refused[0]!.reason}): ${refused[0]!.message}`)
    for (const key of keys) {
      const samples: number[] = []
      for (let i = 0; i < opts.signSamples; i++) {
        const started = performance.now()
        await signVerified(key, `sample ${i}`)
        samples.push(performance.now() - started)
      }
      if (samples.length > 0) {
        signP50Ms[key.scheme] = Math.round(percentile(samples, 0.5) * 10) / 10
        say(`${key.scheme} ${threshold}-of-${parties}: ${samples.length} more signatures, each verified, p50 ${signP50Ms[key.scheme]} ms`)
      }
    }
    const doomed = byKeysHeld(keys, nodes).slice(0, Math.min(parties - threshold, MAX_KILLED))
    killed = doomed.length
    for (const node of doomed) {
      say(`SIGKILL ${node.name} (${node.ready.peerId})`)
      await group.kill(node, 'SIGKILL')
    }
    await signAll(`with ${doomed.length} holders killed`)

    // The killed holders come back: each catches up with the keys made and the roster, alone.
    convergenceMs.push(...await Promise.all(doomed.map(async node => {
      const index = nodes.indexOf(node) + 1
      const restartAt = Date.now()
      const back = await group.start(node.name, ['node', 'start', '--data-dir', nodeDir(index), ...nodeArgs(index)], READY_TIMEOUT_MS)
      // Converged, and linked to the coordinator: until the node's new listen address reaches it (the
      // node's Join again, or its own dial), the coordinator cannot open a command to it, and the
      // audit check below would find its chain unreadable.
      await untilView(api, `${node.name} to converge`, opts.joinDeadlineMs, view => memberInSync(view, back.ready.peerId) &&
        view.members.find(m => m.peerId === back.ready.peerId)?.link !== 'none')
      const ms = Date.now() - restartAt
      say(`${node.name} restarted and converged (same roster epoch and synced records as the coordinator, and linked to it) in ${ms} ms`)
      return ms
    })))
    view = await api.cluster()
    lifecycle.push(...await simulateLifecycle(cluster, keys, threshold, parties, say))
    transactions.push(...await simulateTransactions(cluster, keys, say))
  }
  const events = await api.events()
  const audit = await verifyClusterAudit(api)
  say(`audit verify: ${audit.nodes.length} chains ${audit.nodes.every(n => n.ok) ? 'intact' : 'BROKEN'}, ${audit.signatures} signatures found in their signers' chains${audit.problems.length > 0 ? `; ${audit.problems.length} problem(s): ${audit.problems[0]}` : ''}`)
  for (const n of audit.nodes.filter(x => !x.ok)) say(`audit: ${n.node} ${n.problem ?? ''}`)
  const policy = await api.policy()
  return {
    nodes: opts.nodes,
    up,
    ...restartSummary,
    killedBeforeSecondSigning: killed,
    convergenceMs,
    inSync: view.members.every(m => m.stateHash === view.stateHash),
    clusterId: cluster.clusterId,
    epoch: view.epoch,
    keys: keys.map(k => ({ id: k.id, scheme: k.scheme, threshold: k.threshold, parties: k.parties, groupPublicKey: k.groupPublicKey, xOnlyPublicKey: k.xOnlyPublicKey, address: k.address })),
    signatures: signatures.map(s => ({ keyId: s.keyId, scheme: s.scheme, message: s.message, signature: s.signature, signers: s.signers, rounds: s.rounds, verifiedBy: s.verifiedBy })),
    lifecycle,
    transactions,
    events: events.length,
    policy: { version: policy.version, clients: policy.policy?.clients.map(c => c.name) ?? [], authorised: signatures.length + opts.signSamples * keys.length, refused },
    audit: { ok: audit.ok, chains: audit.nodes.length, entries: audit.nodes.reduce((a, n) => a + n.entries, 0), signaturesChecked: audit.signatures, problems: audit.problems },
    scale: { upMs: joinMs, upCpuMs: joinCpuMs, ...steady, keygenMs, signP50Ms },
    coordinator: { peerId: coordinator.ready.peerId, addrs: coordinator.ready.addrs, api: coordinator.ready.api },
    dataDir: root,
    ok: samePeerId && storedEpoch > 0 && up === opts.nodes && signatures.length === keys.length * 2 && audit.ok && (parties < 3 || (refused.length === 1 && lifecycle.length === 5 && transactions.length === 2))
  }
}

async function main (): Promise<number> {
  let opts: Options
  try {
    opts = parseOptions(process.argv.slice(2))
  } catch (err) {
    console.error(`simulate: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const root = opts.dir !== undefined ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'mpc-wallet-sim-'))
  // --dir names a directory that may not exist yet (its secrets are written into it at once).
  await mkdir(root, { recursive: true, mode: 0o700 })
  const group = new ProcessGroup(join(root, 'logs'))
  // One handler for the whole run, so that no signal ever meets the default action and orphans
  // the children: in the scenario it stops every child and exits; with --keep it ends the wait.
  let onSignal = (): void => { void group.stopAll().then(() => process.exit(130)) }
  const signalled = (): void => { onSignal() }
  process.on('SIGINT', signalled)
  process.on('SIGTERM', signalled)
  let summary: Record<string, unknown>
  try {
    summary = await simulate(opts, group, root)
  } catch (err) {
    summary = { nodes: opts.nodes, ok: false, error: (err as Error).message, dataDir: root }
    console.error(`simulate: ${(err as Error).message}`)
  }

  if (opts.keep && summary.ok === true) {
    const coordinatorDir = join(root, 'coordinator')
    const info = summary.coordinator as { addrs: string[], api: string }
    const stopAsked = new Promise<void>(resolve => { onSignal = resolve })
    const token = (await readFile(join(coordinatorDir, 'api-token'), 'utf8')).trim()
    const page = await new ApiClient(info.api, token).uiLogin()
    console.log([
      '',
      'the cluster keeps running; Ctrl-C (or SIGTERM) stops every process.',
      `coordinator multiaddrs (for --bootstrap): ${info.addrs.join(' ')}`,
      `coordinator API: ${info.api}`,
      `the live status page: open ${page.url} in a browser on this host (it works once, for two minutes; npx mpc-wallet ui prints a new one)`,
      `an unused invitation (single use, from coordinator init): ${join(coordinatorDir, 'join-token')}`,
      `data directories: ${root}/{coordinator,node-1..node-${opts.nodes}}; logs in ${join(root, 'logs')}`,
      'try the CLI against it:',
      `  export MPC_WALLET_COORDINATOR_DIR=${coordinatorDir}`,
      '  npx mpc-wallet status',
      `  npx mpc-wallet sign --key <key id> --message <hex> --client ${SIM_CLIENT} --client-key ${join(root, 'client.key')} --passphrase-file ${join(root, 'keys.passphrase')}`,
      '  npx mpc-wallet policy show',
      '  npx mpc-wallet audit verify',
      `  npx mpc-wallet node start --data-dir ${join(root, 'node-extra')} --listen /ip4/127.0.0.1/tcp/0 --bootstrap ${info.addrs[0] ?? ''} --join-file ${join(coordinatorDir, 'join-token')} --passphrase-file FILE (mode 600)`
    ].join('\n'))
    await stopAsked
  }
  onSignal = () => {} // the stop below is already under way
  await group.stopAll()
  summary.pids = group.pids
  say('stopped every process')
  if (!opts.keep && opts.dir === undefined) await rm(root, { recursive: true, force: true })
  if (opts.json) console.log(JSON.stringify(summary))
  return summary.ok === true ? 0 : 1
}

process.exitCode = await main()
