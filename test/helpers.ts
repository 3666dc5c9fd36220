import { expect } from 'vitest'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createHash, generateKeyPairSync, sign as signWith } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { verifyBip340External, verifyEd25519External } from '../scripts/verify.js'
import { Coordinator, type CoordinatorOptions } from '../src/coordinator/coordinator.js'
import { initCoordinator, type InitResult } from '../src/coordinator/data-dir.js'
import { describeGroupKey, type Scheme } from '../src/crypto/index.js'
import { createLogger } from '../src/log.js'
import { MpcNode, type NodeOptions } from '../src/peer/node.js'
import { EventKind, GossipMessage, type Event } from '../src/protocols/messages.js'
import { peerIdFromBytes } from '../src/protocols/ids.js'
import type { ShareRecord } from '../src/state/share-vault.js'
import { TaskError } from '../src/coordinator/errors.js'
import { topicName } from '../src/protocols/topics.js'
import { IDENTITY_FILE } from '../src/store/identity.js'
import type { KeyRecord } from '../src/state/key-registry.js'
import type { MpcLibp2p } from '../src/runtime/libp2p.js'
import type { Message } from '@libp2p/interface'
import { encodeDocument, newSignedRequest, parsePolicy, withNewRequests, policyBytes, type AdminSet, type Policy, type RequestSigner, type SignedPolicy, type SignedRequest } from '../src/protocols/policy.js'

export const log = createLogger((process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent')

/**
 * Timings for tests: heartbeats every 100 ms, suspect after 1.5 s, down after 3 s of silence.
 * The whole suite runs clusters side by side on two cores, where an event loop stalls for most
 * of a second now and then; thresholds below that (400/800 ms before) flipped members to suspect
 * or down in the middle of tests that needed them up.
 */
export const FAST = { heartbeatIntervalMs: 100, health: { suspectAfterMs: 1_500, downAfterMs: 3_000 } }

/** Every test node's key store: a passphrase and a cheap scrypt cost (the default costs ~0.3 s a start). */
export const VAULT = { passphrase: 'correct horse battery staple', keystoreCost: { logN: 8, r: 8, p: 1 } }

/** A loopback TCP port that was free a moment ago: nothing listens there (until someone binds it). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

/** An Ed25519 key pair by OpenSSL, as a person's signing key: the public key as hex, and a signer (hex). */
export function personKey (): { pub: string, sign: (data: Uint8Array) => string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return { pub: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex'), sign: (data) => signWith(null, data, privateKey).toString('hex') }
}

export async function tempDir (prefix = 'mpcw-test-'): Promise<{ path: string, [Symbol.asyncDispose]: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, [Symbol.asyncDispose]: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** Polls `check` until it returns true, or fails with `what` after `timeoutMs`. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(everyMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** The test clusters' admin (quorum 1) and the client their first policy allows every key. */
export const TEST_ADMIN = personKey()
export const TEST_CLIENT: RequestSigner & { pub: string } = (() => {
  const key = personKey()
  return { client: 'test-client', pub: key.pub, sign: key.sign }
})()
export const TEST_ADMINS: AdminSet = { keys: [TEST_ADMIN.pub], quorum: 1 }

/** A policy version signed by `admins` (default: the test admin). */
export function signedPolicy (policy: Policy, admins: Array<{ pub: string, sign: (data: Uint8Array) => string }> = [TEST_ADMIN]): SignedPolicy {
  return { policy, signatures: Object.fromEntries(admins.map(a => [a.pub, a.sign(policyBytes(policy))])) }
}

/** Version 1 of a test cluster's policy: TEST_CLIENT may use every key, with no limits. */
export function firstPolicy (clusterId: string): Policy {
  return parsePolicy({ version: 1, clusterId, admins: TEST_ADMINS, clients: [{ name: TEST_CLIENT.client, publicKey: TEST_CLIENT.pub, keys: ['*'] }], keys: {} })
}

/** A sign request of TEST_CLIENT (or `signer`) for `message` with `keyId`. */
export function requestFor (clusterId: string, keyId: string, message: Uint8Array, signer: RequestSigner = TEST_CLIENT, fields: { requestId?: string, ttlMs?: number, nowMs?: number, path?: string } = {}): SignedRequest {
  return newSignedRequest(signer, { clusterId, keyId, message, ...fields })
}

/** The wire form of a new TEST_CLIENT request, for signing commands a test sends itself. */
export function requestBytesFor (clusterId: string, keyId: string, message: Uint8Array): Uint8Array {
  return encodeDocument(requestFor(clusterId, keyId, message))
}

export interface TestCluster {
  root: string
  init: InitResult
  coordinator: Coordinator
  nodes: MpcNode[]
  bootstrap: string[]
  startNode: (name: string, extra?: Partial<NodeOptions>) => Promise<MpcNode>
  /** Signs through the coordinator for a new request of TEST_CLIENT. */
  sign: (keyId: string, message: Uint8Array) => ReturnType<Coordinator['tasks']['sign']>
  stop: () => Promise<void>
}

/**
 * A coordinator and `n` nodes, in this process, over TCP on 127.0.0.1, with real stores on disk.
 * `nodeDefaults` applies to every node started, before a startNode call's own options.
 */
export async function startCluster (n: number, timeouts: Partial<Omit<CoordinatorOptions, 'dataDir' | 'log'>> = {}, nodeDefaults: Partial<NodeOptions> = {}): Promise<TestCluster> {
  const dir = await tempDir()
  const coordinatorDir = join(dir.path, 'coordinator')
  const init = await initCoordinator({ dataDir: coordinatorDir, listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', admins: TEST_ADMINS })
  const coordinator = await Coordinator.start({ dataDir: coordinatorDir, log, health: FAST.health, ...timeouts })
  await coordinator.policy.publish(signedPolicy(firstPolicy(init.clusterId)))
  const bootstrap = coordinator.libp2p.getMultiaddrs().map(String)
  const nodes: MpcNode[] = []
  const startNode = async (name: string, extra: Partial<NodeOptions> = {}): Promise<MpcNode> => {
    // One invitation per node, as an operator makes them (they are single use).
    const joinToken = (await cluster.coordinator.invitations.create({ note: name })).token
    const node = await MpcNode.start({
      dataDir: join(dir.path, name), log, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, joinToken,
      heartbeatIntervalMs: FAST.heartbeatIntervalMs, firstJoinTimeoutMs: 10_000, ...VAULT, ...nodeDefaults, ...extra
    })
    nodes.push(node)
    return node
  }
  const cluster: TestCluster = {
    root: dir.path,
    init,
    coordinator,
    nodes,
    bootstrap,
    startNode,
    // As a client does: a new request if the last was spent without a signature.
    sign: async (keyId, message) => await withNewRequests(
      () => requestFor(init.clusterId, keyId, message),
      async (request) => await cluster.coordinator.tasks.sign(keyId, message, request),
      (err) => err instanceof TaskError && (err.code === 'request_spent' || (err.code === 'policy_denied' && err.rule === 'replayed'))
    ),
    // Stops whichever coordinator the test left in `cluster.coordinator` (it may restart it).
    stop: async () => {
      await Promise.allSettled(nodes.map(async node => await node.stop()))
      await cluster.coordinator.stop().catch(() => {})
      await dir[Symbol.asyncDispose]()
    }
  }
  await Promise.all(Array.from({ length: n }, async (_, i) => await startNode(`node-${i + 1}`)))
  // Each node holds the policy in force before a test asks it to sign (a node started later
  // fetches it at its join, before any keygen it takes part in can finish).
  await waitFor('every node to hold the policy', () => nodes.every(node => node.policyVersion >= coordinator.policyVersion), 10_000)
  return cluster
}

/**
 * Makes a bare libp2p peer (a test's rogue or slow member) a roster member, as a node joins: Join
 * with an invitation of its own. Resolves once `observer` (a node) holds the roster with it.
 */
export async function joinAsMember (cluster: TestCluster, peer: MpcLibp2p, observer: MpcNode): Promise<void> {
  const { token } = await cluster.coordinator.invitations.create({ note: 'test peer' })
  await cluster.coordinator.membership.join({ token, addrs: peer.getMultiaddrs().map(a => a.bytes), softwareVersion: 'test' }, peer.peerId)
  await waitFor('the observer admits the new member', () => observer.status().members.includes(peer.peerId.toString()))
}

// ---- helpers of the key tests (keygen, signing) ----

/** Every node's share records, by PeerId, to compare before and after a failed keygen. */
export async function allShares (cluster: TestCluster): Promise<Record<string, ShareRecord[]>> {
  const out: Record<string, ShareRecord[]> = {}
  for (const node of cluster.nodes) out[node.peerId.toString()] = await node.shares().catch(() => [])
  return out
}

/**
 * What a keygen among `members` that failed through `bad` must leave behind: no key and no share
 * beyond those `before` (active or pending), no BLAME, the stored and the published claims
 * accusing `bad` alone, and one SESSION_FAILED with no culprit. Returns that event.
 */
export async function expectCleanKeygenFailure (
  cluster: TestCluster, err: TaskError, bad: string, members: string[],
  before: { keys: KeyRecord[], shares: Record<string, ShareRecord[]>, since: number }, recorder: { events: Event[] }
): Promise<Event> {
  expect(await cluster.coordinator.keys.list()).toEqual(before.keys)
  expect(await allShares(cluster)).toEqual(before.shares)
  const events = await eventsAfter(cluster, before.since)
  expect(events.filter(e => e.kind === 'BLAME')).toEqual([])
  const claims = events.filter(e => e.kind === 'BLAME_CLAIM')
  expect(claims.map(e => e.peerId).sort()).toEqual(err.claims.map(c => c.claimant).sort())
  for (const claim of claims) expect(claim.accused).toEqual([bad])
  expect(events.filter(e => e.kind === 'SESSION_FAILED')).toHaveLength(1)
  expect(events.filter(e => e.kind === 'SESSION_FINISHED')).toHaveLength(0)
  // The failed session's key id, as published: no member has any record of it.
  await waitFor('the SESSION_FAILED event on the events channel', () => recorder.events.some(e => e.kind === EventKind.SESSION_FAILED))
  const failed = recorder.events.find(e => e.kind === EventKind.SESSION_FAILED)!
  expect(failed.operation).toBe('keygen')
  expect(failed.culprits).toEqual([])
  await waitFor('the BLAME_CLAIM events on the events channel', () => recorder.events.some(e => e.kind === EventKind.BLAME_CLAIM))
  for (const claim of recorder.events.filter(e => e.kind === EventKind.BLAME_CLAIM)) expect(claim.accused.map(b => peerIdFromBytes(b).toString())).toEqual([bad])
  for (const node of cluster.nodes.filter(n => members.includes(n.peerId.toString()))) {
    expect((await node.shares()).find(s => s.keyId === failed.keyId)).toBeUndefined()
  }
  return failed
}

/** The coordinator's view of a member's health, or undefined when it is not a member. */
export function memberState (cluster: TestCluster, peerId: string): string | undefined {
  return cluster.coordinator.cluster().members.find(m => m.peerId === peerId)?.state
}

/** The coordinator's event log after event `seq` (all of it: its first page would hold only 1000 events). */
export async function eventsAfter (cluster: TestCluster, seq: number): Promise<Awaited<ReturnType<Coordinator['events']>>> {
  return await cluster.coordinator.events(new URL(`http://events.invalid/?after=${seq}&limit=10000`))
}

/** The number of the coordinator's last event (0 if none). */
export async function lastEventSeq (cluster: TestCluster): Promise<number> {
  return (await eventsAfter(cluster, 0)).at(-1)?.seq ?? 0
}

/** Waits until the coordinator sees these nodes (default: every running node of the cluster) up. */
export async function waitAllUp (cluster: TestCluster, nodes?: MpcNode[], timeoutMs = 15_000): Promise<void> {
  const running = nodes ?? cluster.nodes.filter(n => n.libp2p.status === 'started')
  await waitFor('every running node up', () => running.every(n => memberState(cluster, n.peerId.toString()) === 'up'), timeoutMs).catch((err: Error) => {
    // Say what the coordinator sees of each node that is not up, and what the node sees of it.
    const coordinator = cluster.coordinator.libp2p.peerId
    const views = running.filter(n => memberState(cluster, n.peerId.toString()) !== 'up').map(n => {
      const id = n.peerId.toString()
      const health = cluster.coordinator.cluster().members.find(m => m.peerId === id)
      const pubsub = n.libp2p.services.pubsub
      const topic = topicName(cluster.init.clusterId, 'heartbeats')
      return `${id}: ${JSON.stringify(health)}, links to the coordinator ${n.libp2p.getConnections(coordinator).map(c => c.status).join('/') || 'none'}, ` +
        `its heartbeat mesh ${pubsub.getMeshPeers(topic).length} peer(s), coordinator in it: ${pubsub.getMeshPeers(topic).includes(coordinator.toString())}`
    })
    throw new Error(`${err.message}; not up: ${views.join('; ')}`)
  })
}

/**
 * Stops `node` (if running) and starts it again from its data directory alone (no token, no
 * bootstrap flag), with `extra` options (e.g. other faults); replaces it in cluster.nodes and
 * waits until the coordinator sees it up.
 */
export async function restartNode (cluster: TestCluster, node: MpcNode, extra: Partial<NodeOptions> = {}): Promise<MpcNode> {
  await node.stop().catch(() => {})
  const restarted = await MpcNode.start({
    ...VAULT, dataDir: node.dataDir, log, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeatIntervalMs: FAST.heartbeatIntervalMs, ...extra
  })
  const at = cluster.nodes.indexOf(node)
  if (at >= 0) cluster.nodes[at] = restarted
  else cluster.nodes.push(restarted)
  const peerId = restarted.peerId.toString()
  // Up (its heartbeats arrive) and reachable: connected to the coordinator again, since the
  // coordinator may not even have noticed a quick restart and would dial the old address.
  await waitFor(`${peerId} up again`, () => memberState(cluster, peerId) === 'up' &&
    cluster.coordinator.libp2p.getConnections(restarted.peerId).some(c => c.status === 'open'))
  return restarted
}

/**
 * Puts an identity into `<cluster root>/<name>` whose PeerId sorts before every PeerId in
 * `others`, then starts the node there: as holders are ordered by PeerId, it is holder 1 of any
 * key it holds, and so among the first signers the coordinator picks.
 */
export async function startNodeSortingFirst (cluster: TestCluster, name: string, extra: Partial<NodeOptions> = {}): Promise<MpcNode> {
  const others = cluster.coordinator.cluster().members.map(m => m.peerId)
  let key = await generateKeyPair('Ed25519')
  while (others.some(o => peerIdFromPrivateKey(key).toString() >= o)) key = await generateKeyPair('Ed25519')
  const dataDir = join(cluster.root, name)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  await writeFile(join(dataDir, IDENTITY_FILE), privateKeyToProtobuf(key), { mode: 0o600 })
  const node = await cluster.startNode(name, extra)
  if (node.peerId.toString() !== peerIdFromPrivateKey(key).toString()) throw new Error('the seeded identity was not used')
  return node
}

/**
 * The events the coordinator publishes, in full (operation, session id, key id, detail,
 * culprits), as one member receives them on the events channel.
 */
export function recordEvents (cluster: TestCluster, member: MpcNode): { events: Event[], stop: () => void } {
  const topic = topicName(cluster.init.clusterId, 'events')
  const events: Event[] = []
  const onMessage = (evt: CustomEvent<Message>): void => {
    if (evt.detail.topic !== topic) return
    try {
      events.push(...(GossipMessage.decode(evt.detail.data).events?.events ?? []))
    } catch {
      // not an event envelope: the validator refused it already
    }
  }
  member.libp2p.services.pubsub.addEventListener('message', onMessage)
  return { events, stop: () => { member.libp2p.services.pubsub.removeEventListener('message', onMessage) } }
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Checks a signature with code that is not ours (OpenSSL, libsecp256k1), as a verifier would. */
export function verifiesExternally (key: KeyRecord, message: Uint8Array, signature: Uint8Array): boolean {
  if (key.scheme === 'ed25519') return verifyEd25519External(key.groupPublicKey, toHex(message), toHex(signature))
  const { xOnlyPublicKey } = describeGroupKey('taproot', Buffer.from(key.groupPublicKey, 'hex'), 'regtest')
  if (xOnlyPublicKey === undefined) throw new Error('a taproot key without an x-only public key')
  return verifyBip340External(xOnlyPublicKey, toHex(message), toHex(signature))
}

/** A message the scheme accepts, from a text: Taproot signs a 32-byte digest. */
export function messageFor (scheme: Scheme, text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text)
  if (scheme === 'ed25519') return bytes
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}
