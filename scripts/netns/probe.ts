/**
 * A measuring peer for the namespace harness (harness.ts), run inside one of its hosts. It prints
 * one JSON line and exits.
 *
 * member:   joins the cluster as a node holding a relay reservation, then for each target
 *           PeerId: forgets it, finds it again through the cluster DHT, reaches it through the
 *           coordinator's relay, pings and sends a command over that relayed link, and waits for
 *           DCUtR to replace the link with a direct one (which only a reachable target allows).
 * stranger: a peer outside the roster: asks the coordinator's relay for a slot, dials a member,
 *           sends a command to the coordinator, and publishes gossip; reports each refusal.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createLogger } from '../../src/log.js'
import { isRelayed } from '../../src/runtime/addresses.js'
import { createPeer } from '../../src/runtime/libp2p.js'
import { linkTo } from '../../src/runtime/links.js'
import { MpcNode } from '../../src/peer/node.js'
import { sendCommand } from '../../src/protocols/command.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { encodeGossip } from '../../src/protocols/gossip.js'
import { topicName } from '../../src/protocols/topics.js'
import { readPrivateFile } from '../../src/store/files.js'
import { medianPing } from '../ping.js'
import type { Connection, PeerId } from '@libp2p/interface'

const UPGRADE_WAIT_MS = 10_000
/** Pings per RTT figure (the median is reported). */
const PINGS = 51
/**
 * The probe member's key store passphrase. It holds no share that matters (the probe makes no
 * key) and its data directory is thrown away with the run; a constant here, not a flag, so that
 * no passphrase is ever put on a command line.
 */
const PROBE_PASSPHRASE = 'netns probe passphrase'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'data-dir': { type: 'string' },
    bootstrap: { type: 'string' },
    'join-file': { type: 'string' },
    'cluster-id': { type: 'string' },
    target: { type: 'string', multiple: true, default: [] },
    member: { type: 'string', multiple: true, default: [] }
  }
})

function required (name: keyof typeof values): string {
  const value = values[name]
  if (typeof value !== 'string' || value === '') throw new Error(`--${name} is required`)
  return value
}

const elapsed = (since: number): number => Math.round(performance.now() - since)

/** The join token, from a file of mode 0600 (a token on the command line is visible to every local user). */
async function joinToken (): Promise<string> {
  const path = required('join-file')
  const bytes = await readPrivateFile(path)
  if (bytes === undefined) throw new Error(`--join-file: ${path} does not exist`)
  return Buffer.from(bytes).toString('utf8').trim()
}

async function member (): Promise<object> {
  const bootstrap = required('bootstrap')
  const coordinator = peerIdFromString(multiaddr(bootstrap).getPeerId() ?? '')
  const started = performance.now()
  const node = await MpcNode.start({
    dataDir: required('data-dir'), log: createLogger('warn', { role: 'probe' }), bootstrap: [bootstrap], joinToken: await joinToken(),
    listen: ['/ip4/0.0.0.0/tcp/0'], relay: true, passphrase: PROBE_PASSPHRASE, heartbeatIntervalMs: 1000
  })
  try {
    const joinMs = elapsed(started)
    while (!node.libp2p.getMultiaddrs().some(isRelayed)) {
      if (performance.now() - started > 20_000) throw new Error('no relay reservation after 20 s')
      await sleep(50)
    }
    const reservationMs = elapsed(started)
    const toCoordinator = node.libp2p.getConnections(coordinator).find(c => !isRelayed(c.remoteAddr))
    const coordinatorRttMs = toCoordinator === undefined ? undefined : await medianPing(toCoordinator, PINGS)
    const targets = []
    for (const target of values.target) targets.push(await throughRelay(node, bootstrap, peerIdFromString(target)))
    return { mode: 'member', peerId: node.peerId.toString(), joinMs, reservationMs, coordinatorRttMs, targets }
  } finally {
    await node.stop()
  }
}

/** Drops every connection to `target` and all that the peer store knows of it. */
async function forget (node: MpcNode, target: PeerId): Promise<void> {
  await node.libp2p.hangUp(target)
  await node.libp2p.peerStore.delete(target)
}

async function throughRelay (node: MpcNode, bootstrap: string, target: PeerId): Promise<object> {
  const { libp2p } = node
  await forget(node, target)
  let directAt: number | undefined
  const onOpen = (evt: CustomEvent<Connection>): void => {
    if (evt.detail.remotePeer.equals(target) && !isRelayed(evt.detail.remoteAddr)) directAt ??= performance.now()
  }
  libp2p.addEventListener('connection:open', onOpen)
  const dialStart = performance.now()
  const relayed = await libp2p.dial(multiaddr(`${bootstrap}/p2p-circuit/p2p/${target.toString()}`), { force: true, signal: AbortSignal.timeout(10_000) })
  const relayedAt = performance.now()
  const relayDialMs = Math.round(relayedAt - dialStart)
  const relayedRttMs = await medianPing(relayed, PINGS)
  const commandLink = linkTo(libp2p, target)
  const listed = await sendCommand(libp2p, target, node.roster.clusterId, 'listRecords', { afterId: '' })
  while (directAt === undefined && performance.now() - relayedAt < UPGRADE_WAIT_MS) await sleep(50)
  libp2p.removeEventListener('connection:open', onOpen)
  // From the relayed connection's opening to the direct one's (DCUtR runs once identify has).
  const upgradeMs = directAt === undefined ? undefined : Math.round(directAt - relayedAt)
  const direct = libp2p.getConnections(target).find(c => !isRelayed(c.remoteAddr) && c.status === 'open')
  const directRttMs = direct === undefined ? undefined : await medianPing(direct, PINGS)
  // Then, knowing nothing of it again, find it by its PeerId alone.
  await forget(node, target)
  const lookupStart = performance.now()
  const found = await libp2p.peerRouting.findPeer(target, { signal: AbortSignal.timeout(15_000) })
  const lookupMs = elapsed(lookupStart)
  return {
    peerId: target.toString(),
    foundAddrs: found.multiaddrs.map(String),
    lookupMs,
    relayDialMs,
    relayedRemoteAddr: relayed.remoteAddr.toString(),
    relayedRttMs,
    commandLink,
    commandRecords: listed.records.length,
    upgraded: upgradeMs !== undefined,
    upgradeMs,
    directRemoteAddr: direct?.remoteAddr.toString(),
    directRttMs
  }
}

/** Runs `attempt`; returns 'accepted', or the refusal as a short string. */
async function refusal (attempt: () => Promise<unknown>): Promise<string> {
  try {
    await attempt()
    return 'accepted'
  } catch (err) {
    if (err instanceof CommandRefusedError) return `refused: ${err.code}`
    const message = (err as Error).message.replace(/\s+/g, ' ')
    return `failed: ${/PERMISSION_DENIED/.test(message) ? 'PERMISSION_DENIED, ' : ''}${message.slice(0, 200)}`
  }
}

async function stranger (): Promise<object> {
  const bootstrap = required('bootstrap')
  const clusterId = required('cluster-id')
  const coordinator = peerIdFromString(multiaddr(bootstrap).getPeerId() ?? '')
  // A relay reservation: listening on the coordinator's /p2p-circuit asks it for a slot at start.
  const reservation = await refusal(async () => {
    const peer = await createPeer({ privateKey: await generateKeyPair('Ed25519'), clusterId, listen: ['/ip4/0.0.0.0/tcp/0', `${bootstrap}/p2p-circuit`] })
    await peer.stop()
  })
  const peer = await createPeer({ privateKey: await generateKeyPair('Ed25519'), clusterId, listen: ['/ip4/0.0.0.0/tcp/0'] })
  try {
    // A member's gate closes the connection once Noise has proven who we are (relayed or not),
    // so the command stream cannot open (or opens on a connection that is closing, and fails).
    const memberCommands: Record<string, string> = {}
    for (const addr of values.member) {
      const memberAddr = multiaddr(addr)
      const memberId = peerIdFromString(memberAddr.getPeerId() ?? '')
      memberCommands[addr] = await refusal(async () => {
        await peer.dial(memberAddr, { signal: AbortSignal.timeout(5_000) })
        return await sendCommand(peer, memberId, clusterId, 'listRecords', { afterId: '' }, 5_000)
      })
    }
    await peer.dial(multiaddr(bootstrap))
    const coordinatorCommand = await refusal(async () => await sendCommand(peer, coordinator, clusterId, 'listRecords', { afterId: '' }, 5_000))
    const topic = topicName(clusterId, 'heartbeats')
    peer.services.pubsub.subscribe(topic)
    const deadline = performance.now() + 10_000
    while (!peer.services.pubsub.getSubscribers(topic).some(p => p.equals(coordinator)) && performance.now() < deadline) await sleep(100)
    let published = 0
    for (let seq = 1; seq <= 3; seq++) {
      const heartbeat = { seq, uptimeMs: 1, loadPermille: 0, activeSessions: 0, keysHeld: 0, softwareVersion: 'stranger', rosterEpoch: 0, stateHash: new Uint8Array(32), keysLost: 0, recordConflicts: 0, directLinks: 0, relayedLinks: 0, linkUpgrades: 0, startedAtMs: Date.now(), sentAtMs: Date.now(), poolEpoch: new Uint8Array() }
      const result = await peer.services.pubsub.publish(topic, encodeGossip(clusterId, { heartbeat }))
      published += result.recipients.length > 0 ? 1 : 0
      await sleep(200)
    }
    return { mode: 'stranger', peerId: peer.peerId.toString(), reservation, memberCommands, coordinatorCommand, gossipPublished: published }
  } finally {
    await peer.stop()
  }
}

const mode = positionals[0]
const run = mode === 'member' ? member : mode === 'stranger' ? stranger : undefined
if (run === undefined) {
  console.error('usage: probe.js member|stranger [options] (see scripts/netns/harness.ts)')
  process.exit(2)
}
run().then(result => {
  console.log(JSON.stringify(result))
  process.exit(0)
}, (err: unknown) => {
  console.log(JSON.stringify({ mode, error: err instanceof Error ? err.message : String(err) }))
  process.exit(1)
})
