/**
 * A real topology on one machine (`npm run test:netns`, as root on Linux): network namespaces
 * with a public segment (the coordinator and a stranger) and two private segments behind NAT
 * routers. nat1 forwards one port per node (a router with a port forward or UPnP), nat2 is a
 * symmetric NAT (random ports, no inbound). Every peer is a real process of the built CLI.
 *
 * It joins two nodes behind each NAT (nat2's through the coordinator's relay), checks heartbeats
 * and links, makes keys and signs across both NATs, measures relayed links with a probe member
 * (DHT lookup, relay RTT, a command over the relay, DCUtR upgrade or fallback), lets a stranger
 * try the cluster, cuts nat2 off and heals it, then tears everything down. The last line of
 * output is a JSON summary; the exit code is 1 if any check failed.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { inviteOffline } from '../../src/coordinator/data-dir.js'
import { packageRoot } from '../../src/runtime/config.js'
import { ProcessGroup, writeSecretFile, type Peer } from '../processes.js'
import { verifyKeySignature } from '../verify.js'
import { removeStale, Topology, unsupportedReason } from './topology.js'
import type { KeyView } from '../../src/coordinator/requests.js'
import type { SignView } from '../../src/coordinator/client.js'

const STEM = 'mwn'
const COORD_PORT = 7400
const API = '127.0.0.1:7401'
const NODE_PORT = 4001
const FORWARD_BASE = 4100
const HEARTBEAT_MS = 1000
/** Log level of every peer (their logs go to <tmp>/logs; MPCW_NETNS_KEEP_LOGS=1 keeps them). */
const LOG_LEVEL = process.env.MPCW_NETNS_LOG_LEVEL ?? 'warn'
const PROBE = join(packageRoot(), 'dist', 'scripts', 'netns', 'probe.js')

interface MemberStatus {
  peerId: string
  addrs: string[]
  state: 'up' | 'suspect' | 'down'
  inSync: boolean
  link: 'direct' | 'relayed' | 'none'
  reach: 'public' | 'local' | 'relay' | 'unreachable' | 'unchecked'
  links: { direct: number, relayed: number, upgrades: number } | null
}

interface Check { name: string, ok: boolean, detail?: string }

const started = Date.now()
const checks: Check[] = []
const figures: Record<string, unknown> = {}

function say (line: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`)
}

function check (name: string, ok: boolean, detail?: string): void {
  checks.push({ name, ok, ...(detail !== undefined ? { detail } : {}) })
  say(`${ok ? 'PASS' : 'FAIL'} ${name}${detail !== undefined ? ` (${detail})` : ''}`)
}

/** Polls `probe` every 250 ms until it returns a value, or throws after `ms` naming `what`. */
async function until<T> (what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(250)
  }
}

async function main (): Promise<number> {
  const reason = await unsupportedReason()
  if (reason !== undefined) {
    say(`skipped: ${reason}`)
    console.log(JSON.stringify({ skipped: true, reason, passed: 0, failed: 0 }))
    return 0
  }
  await removeStale(STEM)
  const root = await mkdtemp(join(tmpdir(), 'mpcw-netns-'))
  const group = new ProcessGroup(join(root, 'logs'))
  const topo = await Topology.create({
    prefix: `${STEM}${process.pid % 1000}`,
    publicHosts: ['coord', 'stranger'],
    nats: [
      { name: 'nat1', mode: 'forward', hosts: ['a1', 'a2'], hostPort: NODE_PORT, forwardBase: FORWARD_BASE },
      { name: 'nat2', mode: 'symmetric', hosts: ['b1', 'b2', 'probe'] }
    ]
  })
  say(`topology up: coordinator ${topo.host('coord').ip}; nat1 (port forward) ${topo.natIp('nat1')} over a1, a2; nat2 (symmetric) ${topo.natIp('nat2')} over b1, b2 and a probe`)
  try {
    await scenario(topo, group, root)
  } catch (err) {
    check('the scenario ran to its end', false, (err as Error).message)
  } finally {
    await group.stopAll()
    await topo.destroy()
    if (process.env.MPCW_NETNS_KEEP_LOGS === undefined) await rm(root, { recursive: true, force: true })
    else say(`logs kept in ${join(root, 'logs')}`)
  }
  const failed = checks.filter(c => !c.ok).length
  console.log(JSON.stringify({ passed: checks.length - failed, failed, figures, checks }))
  return failed === 0 ? 0 : 1
}

async function scenario (topo: Topology, group: ProcessGroup, root: string): Promise<void> {
  const coordDir = join(root, 'coordinator')
  const inCoord = { wrap: topo.wrap('coord') }
  const cli = async (args: string[]): Promise<string> => await group.run([...args, '--coordinator-dir', coordDir], inCoord)
  const status = async (): Promise<MemberStatus[]> => JSON.parse(await cli(['status', '--json'])) as MemberStatus[]

  // The coordinator on the public segment, with its relay for members.
  const coordIp = topo.host('coord').ip
  // The policy's admin and its one client: key files under the root (as on their owners'
  // machines), sealed with a passphrase from a 0600 file.
  const keyPass = join(root, 'keys.passphrase')
  await writeSecretFile(keyPass, randomBytes(24).toString('base64url'))
  const keyFile = (name: string): string => join(root, `${name}.key`)
  const makeKey = async (role: 'admin' | 'client', name: string): Promise<string> =>
    (JSON.parse(await group.run([role, 'keygen', '--out', keyFile(name), '--passphrase-file', keyPass, '--json'], inCoord)) as { publicKey: string }).publicKey
  const adminPub = await makeKey('admin', 'admin')
  const clientPub = await makeKey('client', 'client')
  const init = JSON.parse(await group.run(['coordinator', 'init', '--data-dir', coordDir, '--listen', `/ip4/${coordIp}/tcp/${COORD_PORT}`, '--api', API, '--admin', adminPub, '--json'], inCoord)) as { clusterId: string }
  // One single-use invitation for each node and the probe, made before the coordinator runs (its
  // API listens on loopback inside its namespace), each in a 0600 file that every namespace sees
  // (they share this file system): a token on a command line is visible to every local user.
  const joinFile = (name: string): string => join(root, `${name}.join-token`)
  for (const name of ['a1', 'a2', 'b1', 'b2', 'probe']) {
    await writeSecretFile(joinFile(name), (await inviteOffline(coordDir, { note: `netns ${name}` })).token)
  }
  const coordinator = await group.start('coordinator', ['--log-level', LOG_LEVEL, 'coordinator', 'start', '--data-dir', coordDir], 15_000, inCoord)
  const bootstrap = coordinator.ready.addrs.find(a => a.includes(`/ip4/${coordIp}/`))
  if (bootstrap === undefined) throw new Error(`the coordinator does not listen on ${coordIp}: ${coordinator.ready.addrs.join(', ')}`)
  say(`coordinator up at ${bootstrap}`)

  // Two nodes behind each NAT. nat2's get nothing but the bootstrap address and the token (they
  // see they are behind NAT and reserve a relay slot themselves); nat1's announce their forwarded
  // port and also hold a relay slot (so that the probe can test DCUtR's upgrade with them).
  const startedAt: Record<string, number> = {}
  const startNode = async (name: string): Promise<Peer> => {
    const host = topo.host(name)
    const pass = join(root, `${name}.passphrase`)
    await writeSecretFile(pass, randomBytes(24).toString('base64url'))
    const addressing = host.publicAddr !== undefined
      ? ['--listen', `/ip4/0.0.0.0/tcp/${NODE_PORT}`, '--announce', `/ip4/${host.publicAddr.ip}/tcp/${host.publicAddr.port}`, '--relay']
      : []
    startedAt[name] = Date.now()
    const peer = await group.start(name, [
      '--log-level', LOG_LEVEL, 'node', 'start', '--data-dir', join(root, name), '--bootstrap', bootstrap, '--join-file', joinFile(name),
      '--passphrase-file', pass, '--heartbeat-ms', String(HEARTBEAT_MS), ...addressing
    ], 60_000, { wrap: topo.wrap(name) })
    say(`${name} ready after ${Date.now() - startedAt[name]} ms (joined; ${host.publicAddr !== undefined ? 'port forward' : 'no addressing flags'})`)
    return peer
  }
  const names = ['a1', 'a2', 'b1', 'b2'] as const
  const nodes: Partial<Record<typeof names[number], Peer>> = {}
  const starting = Promise.all(names.map(async n => { nodes[n] = await startNode(n) }))
  const idOf = (n: typeof names[number]): string => nodes[n]?.ready.peerId ?? '-'
  const member = (view: MemberStatus[], n: typeof names[number]): MemberStatus | undefined => view.find(m => m.peerId === idOf(n))

  // Join: every node up at the coordinator (status polled from the start), and dialled back by it:
  // nat1's at their forwarded public address, nat2's (which advertise only a relay address) through the relay.
  const joined: Record<string, number> = {}
  await until('all four nodes up, and nat2\'s reachable through the relay', 60_000, async () => {
    const view = await status()
    for (const n of names) {
      const m = member(view, n)
      if (joined[n] === undefined && m?.state === 'up' && m.reach === (n.startsWith('a') ? 'public' : 'relay')) joined[n] = Date.now() - startedAt[n]!
    }
    return names.every(n => joined[n] !== undefined) ? view : undefined
  }).catch((err: Error) => { check('every node joins', false, err.message) })
  await starting
  figures.joinMs = joined
  check('nodes behind the port-forwarding NAT join, and the coordinator dials them back at their forwarded public address', member(await status(), 'a1')?.reach === 'public' && member(await status(), 'a2')?.reach === 'public', `a1 ${joined.a1 ?? '-'} ms, a2 ${joined.a2 ?? '-'} ms from process start to up`)
  const view = await status()
  const b1 = member(view, 'b1')
  check('nodes behind the symmetric NAT, started with only --bootstrap and a join token, reserve a relay slot themselves: their /p2p-circuit address is in the roster',
    (['b1', 'b2'] as const).every(n => nodes[n]?.ready.reach === 'relay' && member(view, n)?.addrs.some(a => a.includes('/p2p-circuit')) === true),
    `b1 ${joined.b1 ?? '-'} ms, b2 ${joined.b2 ?? '-'} ms from process start to up and relayed; b1 advertises ${b1?.addrs.join(' ') ?? '-'}`)
  check('no private address is advertised to the cluster', view.every(m => m.addrs.every(a => !/\/ip4\/10\./.test(a))), view.flatMap(m => m.addrs).join(' '))

  // Heartbeats keep flowing from every node, and the coordinator reaches each one directly (they dialled it).
  await sleep(3 * HEARTBEAT_MS)
  const later = await status()
  check('heartbeats from all four keep them up, and the coordinator has a direct link to each', names.every(n => member(later, n)?.state === 'up' && member(later, n)?.link === 'direct'),
    names.map(n => `${n}: ${member(later, n)?.state ?? '?'}/${member(later, n)?.link ?? '?'}`).join(', '))
  const b1Links = await until('b1 to report its member links', 20_000, async () => {
    const links = member(await status(), 'b1')?.links
    return links !== undefined && links !== null && links.relayed >= 1 && links.direct >= 3 ? links : undefined
  }).catch(() => member(later, 'b1')?.links)
  check('b1 reaches a1, a2 and the coordinator directly, and b2 (behind the same symmetric NAT, no address advertised) only through the relay',
    (b1Links?.direct ?? 0) >= 3 && (b1Links?.relayed ?? 0) >= 1, JSON.stringify(b1Links))

  // The first policy, as the admin publishes it: the client may use every key. Every node holds
  // it (the same synced state as the coordinator) before anything is signed.
  const policyFile = join(root, 'policy.json')
  await writeFile(policyFile, JSON.stringify({ clients: [{ name: 'netns-client', publicKey: clientPub, keys: ['*'] }] }))
  await cli(['policy', 'propose', '--file', policyFile])
  await cli(['policy', 'approve', '--admin-key', keyFile('admin'), '--passphrase-file', keyPass, '--file', policyFile])
  await cli(['policy', 'apply'])
  await until('every node to hold the policy', 30_000, async () => (await status()).every(m => m.inSync) ? true : undefined)
    .catch((err: Error) => { check('every node holds the policy', false, err.message) })

  // Keys and signatures across both NATs. A 3-of-4 signing set always spans both NATs.
  const keygen = async (scheme: string, t: number, holders: string[]): Promise<KeyView> =>
    JSON.parse(await cli(['keygen', '--scheme', scheme, '--threshold', String(t), '--members', holders.join(','), '--json'])) as KeyView
  const sign = async (key: KeyView, text: string): Promise<SignView> => {
    const message = Buffer.from(key.scheme === 'taproot' ? Buffer.alloc(32, text) : Buffer.from(text)).toString('hex')
    return JSON.parse(await cli(['sign', '--key', key.id, '--message', message, '--client', 'netns-client', '--client-key', keyFile('client'), '--passphrase-file', keyPass, '--json'])) as SignView
  }
  const natOf = (peerId: string): string => names.find(n => idOf(n) === peerId)?.slice(0, 1) ?? '?'
  let t0 = Date.now()
  const edKey = await keygen('ed25519', 3, names.map(idOf))
  figures.keygenEd25519Ms = Date.now() - t0
  t0 = Date.now()
  const trKey = await keygen('taproot', 2, names.map(idOf))
  figures.keygenTaprootMs = Date.now() - t0
  check('keygen among the four nodes across both NATs (ed25519 3-of-4, taproot 2-of-4)', edKey.holders.length === 4 && trKey.holders.length === 4, `${String(figures.keygenEd25519Ms)} ms, ${String(figures.keygenTaprootMs)} ms`)
  t0 = Date.now()
  const edSig = await sign(edKey, 'across two NATs')
  figures.signEd25519Ms = Date.now() - t0
  check('a 3-of-4 signature with signers behind both NATs, verified by node:crypto',
    verifyKeySignature(edKey, edSig.message, edSig.signature) && new Set(edSig.signers.map(natOf)).size === 2, `signers ${edSig.signers.map(natOf).join(',')} in ${String(figures.signEd25519Ms)} ms (CLI start included)`)

  // The probe, a member behind nat2: DHT lookup, relayed link, command over it, DCUtR.
  const probe = JSON.parse(await group.run([
    'member', '--data-dir', join(root, 'probe'), '--bootstrap', bootstrap, '--join-file', joinFile('probe'), '--target', idOf('a1'), '--target', idOf('b2')
  ], { wrap: topo.wrap('probe'), script: PROBE })) as ProbeMember
  figures.probe = probe
  const [toA1, toB2] = [probe.targets[0], probe.targets[1]]
  check('the probe finds a1 and b2 by PeerId alone through the cluster DHT', (toA1?.foundAddrs.length ?? 0) > 0 && (toB2?.foundAddrs.length ?? 0) > 0,
    `a1 at ${toA1?.foundAddrs.join(' ') ?? '-'} in ${toA1?.lookupMs ?? '-'} ms; b2 at ${toB2?.foundAddrs.join(' ') ?? '-'} in ${toB2?.lookupMs ?? '-'} ms`)
  check('a command crosses the relay: listRecords from the probe to b2 over a relayed link', toB2?.commandLink === 'relayed' && (toB2.commandRecords ?? 0) >= 2, `${toB2?.commandRecords ?? 0} records over ${toB2?.relayedRemoteAddr ?? '-'}`)
  check('DCUtR upgrades the relayed link to a1 (its NAT forwards a port) to a direct one', toA1?.upgraded === true, `after ${toA1?.upgradeMs ?? '-'} ms, direct to ${toA1?.directRemoteAddr ?? '-'}`)
  check('the link to b2 (symmetric NAT, like the probe\'s) stays on the relay: DCUtR has no address to punch', toB2?.upgraded === false,
    `RTT p50: ${toB2?.relayedRttMs.toFixed(2) ?? '-'} ms to b2 through the relay, ${toA1?.directRttMs?.toFixed(2) ?? '-'} ms to a1 direct, ${probe.coordinatorRttMs?.toFixed(2) ?? '-'} ms to the relay itself`)
  if (toB2 !== undefined && toA1?.directRttMs !== undefined) figures.relayAddedRttMs = Number((toB2.relayedRttMs - toA1.directRttMs).toFixed(3))

  // A stranger on the public segment.
  const a1Public = topo.host('a1').publicAddr!
  const stranger = JSON.parse(await group.run([
    'stranger', '--bootstrap', bootstrap, '--cluster-id', init.clusterId,
    '--member', `/ip4/${a1Public.ip}/tcp/${a1Public.port}/p2p/${idOf('a1')}`, '--member', `${bootstrap}/p2p-circuit/p2p/${idOf('b2')}`
  ], { wrap: topo.wrap('stranger'), script: PROBE })) as ProbeStranger
  figures.stranger = stranger
  check('a stranger cannot reserve a relay slot on the coordinator', /PERMISSION_DENIED/.test(stranger.reservation), stranger.reservation)
  check('a stranger cannot open a command stream to a member, directly (a1) or through the relay (b2)',
    Object.keys(stranger.memberCommands).length === 2 && Object.values(stranger.memberCommands).every(r => r !== 'accepted'), Object.values(stranger.memberCommands).join('; '))
  check('the coordinator refuses a stranger\'s command', stranger.coordinatorCommand.startsWith('refused'), stranger.coordinatorCommand)
  const rejected = await until('the coordinator to count the stranger\'s gossip', 10_000, async () => {
    const n = await coordinatorMetric(topo, coordDir, 'mpc_gossip_rejected{reason="unknown-sender"}')
    return n >= 1 ? n : undefined
  }).catch(() => 0)
  check('the stranger\'s gossip is rejected by the coordinator', stranger.gossipPublished >= 1 && rejected >= 1, `${stranger.gossipPublished} heartbeats published, ${rejected} rejected as unknown-sender`)
  check('the stranger is not in the roster', !(await status()).some(m => m.peerId === stranger.peerId))

  // Partition: cut nat2 off. Its nodes go down; signing goes on while t holders remain.
  await topo.partition('nat2')
  t0 = Date.now()
  const cut = await until('b1 and b2 down', 30_000, async () => {
    const v = await status()
    return ['b1', 'b2'].every(n => member(v, n as 'b1')?.state === 'down') ? v : undefined
  }).catch(() => undefined)
  figures.partitionDownMs = Date.now() - t0
  check('partition: nat2\'s nodes go down at the coordinator, nat1\'s stay up',
    cut !== undefined && ['a1', 'a2'].every(n => member(cut, n as 'a1')?.state === 'up'),
    `down after ${String(figures.partitionDownMs)} ms; ${names.map(n => `${n} ${member(cut ?? [], n)?.state ?? '?'}`).join(', ')}`)
  const trSig = await sign(trKey, 'during the partition')
  check('partition: the 2-of-4 taproot key still signs with nat1\'s holders, verified by libsecp256k1',
    verifyKeySignature(trKey, trSig.message, trSig.signature) && trSig.signers.every(s => natOf(s) === 'a'), `signers ${trSig.signers.map(natOf).join(',')}`)
  const cutKey = await keygen('ed25519', 2, [idOf('a1'), idOf('a2')])
  check('partition: a new key is made among the reachable nodes', cutKey.holders.length === 2, cutKey.id)

  // Heal: nat2's nodes come back up and catch up on what they missed.
  await topo.heal('nat2')
  t0 = Date.now()
  const healed = await until('b1 and b2 up and in sync', 60_000, async () => {
    const v = await status()
    return ['b1', 'b2'].every(n => member(v, n as 'b1')?.state === 'up' && member(v, n as 'b1')?.inSync === true) ? v : undefined
  }).catch(() => undefined)
  figures.healUpAndSyncedMs = Date.now() - t0
  check('heal: nat2\'s nodes come back up and hold the key record made while they were cut off', healed !== undefined, `up and in sync ${String(figures.healUpAndSyncedMs)} ms after the heal`)
  const edSig2 = await sign(edKey, 'after the heal')
  check('heal: the 3-of-4 key signs again across both NATs', verifyKeySignature(edKey, edSig2.message, edSig2.signature) && new Set(edSig2.signers.map(natOf)).size === 2, `signers ${edSig2.signers.map(natOf).join(',')}`)
}

interface ProbeTarget {
  foundAddrs: string[]
  lookupMs: number
  relayDialMs: number
  relayedRemoteAddr: string
  relayedRttMs: number
  commandLink: string
  commandRecords: number
  upgraded: boolean
  upgradeMs?: number
  directRemoteAddr?: string
  directRttMs?: number
}

interface ProbeMember { joinMs: number, reservationMs: number, coordinatorRttMs?: number, targets: ProbeTarget[] }
interface ProbeStranger { peerId: string, reservation: string, memberCommands: Record<string, string>, coordinatorCommand: string, gossipPublished: number }

/** One sample of the coordinator's Prometheus metrics (read from inside its namespace; the API is on its loopback). */
async function coordinatorMetric (topo: Topology, coordDir: string, series: string): Promise<number> {
  const token = (await readFile(join(coordDir, 'api-token'), 'utf8')).trim()
  const script = `fetch('http://${API}/metrics', { headers: { authorization: 'Bearer ' + process.env.TOKEN } }).then(r => r.text()).then(t => process.stdout.write(t))`
  const [cmd, ...args] = [...topo.wrap('coord'), process.execPath, '-e', script]
  const text = await new Promise<string>((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, TOKEN: token } }, (err, stdout) => { if (err !== null) reject(new Error(err.message)); else resolve(stdout) })
  })
  const line = text.split('\n').find(l => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  console.error(err)
  console.log(JSON.stringify({ passed: 0, failed: 1, error: (err as Error).message }))
  process.exitCode = 1
})

