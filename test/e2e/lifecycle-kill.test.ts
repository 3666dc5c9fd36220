import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { ProcessGroup, writeSecretFile, type Peer } from '../../scripts/processes.js'
import { Coordinator } from '../../src/coordinator/coordinator.js'
import { initCoordinator } from '../../src/coordinator/data-dir.js'
import { TaskError } from '../../src/coordinator/errors.js'
import type { TaskFaults } from '../../src/coordinator/task-io.js'
import { sendCommand } from '../../src/protocols/command.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode } from '../../src/protocols/messages.js'
import { packageRoot } from '../../src/runtime/config.js'
import type { KeyRecord } from '../../src/state/key-registry.js'
import { firstPolicy, freePort, log, messageFor, requestBytesFor, requestFor, signedPolicy, tempDir, TEST_ADMINS, verifiesExternally, waitFor } from '../helpers.js'

/**
 * Issue 14's "a crash at any step leaves either the old version or the new one usable, never
 * neither", with kill -9 at each step of a key change: node processes (the CLI, or
 * test/e2e/fault-node.ts, which SIGKILLs itself at a point of a change no outside kill can hit),
 * the coordinator in this process (its own crash between recording a version and committing it
 * is the TaskFaults hook). Each step's check is a signature verified by outside code, with the
 * killed node among the signers once it is back. Needs the build (`npx tsc -p .`).
 */
const FAULT_NODE = join(packageRoot(), 'dist', 'test', 'e2e', 'fault-node.js')
const NODES = 3
const HEARTBEAT_MS = '300'
/** Far above the heartbeat: a node stalled on a busy 2-core host stays up; a dead one is left out by its failed command. */
const HEALTH = { suspectAfterMs: 4_000, downAfterMs: 8_000 }
const KEYGEN_TIMEOUT_MS = 10_000
const COORDINATOR_CRASH = 'coordinator crashed after recording the new version'

describe('kill -9 at each step of a key change (refresh, reshare): the old version or the new one signs, never neither', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let group: ProcessGroup
  let coordinator: Coordinator
  let coordinatorDir: string
  let clusterId: string
  const nodes: Peer[] = []
  /** Set for one change: the coordinator's next lifecycle change throws right after it recorded the new version. */
  let crashAfterRecord = false
  const faults: TaskFaults = {
    afterLifecycleRecord: () => {
      if (!crashAfterRecord) return
      crashAfterRecord = false
      throw new Error(COORDINATOR_CRASH)
    }
  }

  const peerIdOf = (i: number): string => nodes[i - 1]!.ready.peerId
  const nodeNumber = (peerId: string): number => nodes.findIndex(n => n.ready.peerId === peerId) + 1
  const healthOf = (peerId: string): string | undefined => coordinator.cluster().members.find(m => m.peerId === peerId)?.state
  const startCoordinator = async (withFaults: boolean): Promise<Coordinator> =>
    await Coordinator.start({ dataDir: coordinatorDir, log, health: HEALTH, keygenTimeoutMs: KEYGEN_TIMEOUT_MS, ...(withFaults ? { faults } : {}) })

  /**
   * Starts node i from its data directory (stopping it first if it runs): the CLI, or with
   * `fault` flags the fault node; then waits until the coordinator sees it up over a connection
   * opened since (not the dead process's).
   */
  async function relaunch (i: number, fault?: string[]): Promise<void> {
    await group.kill(nodes[i - 1]!, 'SIGTERM')
    const since = Date.now()
    const common = ['--data-dir', join(dir.path, `node-${i}`), '--passphrase-file', join(dir.path, `node-${i}.passphrase`), '--heartbeat-ms', HEARTBEAT_MS]
    nodes[i - 1] = fault === undefined
      ? await group.start(`node-${i}`, ['node', 'start', ...common, '--listen', '/ip4/127.0.0.1/tcp/0'], 30_000)
      : await group.start(`node-${i}`, [...common, ...fault], 30_000, { script: FAULT_NODE })
    await reconnected([peerIdOf(i)], since)
  }

  async function reconnected (peers: string[], since: number): Promise<void> {
    await waitFor(`${peers.map(nodeNumber).map(i => `node-${i}`).join(', ')} up over a new connection`, () => peers.every(p => healthOf(p) === 'up' &&
      coordinator.libp2p.getConnections(peerIdFromString(p)).some(c => c.status === 'open' && c.timeline.open >= since)), 30_000)
  }

  async function diedByItself (i: number): Promise<void> {
    const child = nodes[i - 1]!.child
    await waitFor(`node-${i} to SIGKILL itself`, () => child.signalCode === 'SIGKILL', 20_000)
  }

  /** Signs a new request through the coordinator; the signature verifies by OpenSSL / libsecp256k1. Returns the signers. */
  async function signs (key: KeyRecord, text: string): Promise<string[]> {
    const message = messageFor(key.scheme, text)
    const result = await coordinator.tasks.sign(key.id, message, requestFor(clusterId, key.id, message))
    expect(verifiesExternally(key, message, result.signature), `${key.scheme}: ${text}`).toBe(true)
    return result.signers
  }

  const failure = async (work: Promise<unknown>): Promise<unknown> => await work.then(() => { throw new Error('the change succeeded') }, (err: unknown) => err)
  /** A clean failure: a TaskError of the change that names the dead node (it did not answer). */
  const expectNamed = (err: unknown, op: string, dead: string): void => {
    expect(err, String(err)).toBeInstanceOf(TaskError)
    expect(err).toMatchObject({ code: 'failed', culprits: [dead] })
    expect((err as TaskError).message).toMatch(new RegExp(`^${op} failed: ${dead} did not answer`))
  }
  const version = async (keyId: string): Promise<number | undefined> => (await coordinator.keys.get(keyId))?.version

  beforeAll(async () => {
    if (!existsSync(FAULT_NODE)) throw new Error(`${FAULT_NODE} is missing: build first (npx tsc -p .)`)
    dir = await tempDir('mpcw-lifecycle-kill-')
    group = new ProcessGroup(join(dir.path, 'logs'))
    coordinatorDir = join(dir.path, 'coordinator')
    // A fixed port: the restarted coordinator listens where the nodes last reached it.
    const init = await initCoordinator({ dataDir: coordinatorDir, listen: [`/ip4/127.0.0.1/tcp/${await freePort()}`], api: '127.0.0.1:0', admins: TEST_ADMINS })
    clusterId = init.clusterId
    coordinator = await startCoordinator(true)
    await coordinator.policy.publish(signedPolicy(firstPolicy(clusterId)))
    const joinFile = join(dir.path, 'join-token')
    await writeSecretFile(joinFile, (await coordinator.invitations.create({ note: 'lifecycle kill test nodes', uses: NODES })).token)
    const bootstrap = coordinator.libp2p.getMultiaddrs().map(String)[0]!
    nodes.push(...await Promise.all(Array.from({ length: NODES }, async (_, k) => {
      const i = k + 1
      await writeSecretFile(join(dir.path, `node-${i}.passphrase`), randomBytes(18).toString('base64url'))
      return await group.start(`node-${i}`, ['node', 'start', '--data-dir', join(dir.path, `node-${i}`), '--passphrase-file', join(dir.path, `node-${i}.passphrase`),
        '--heartbeat-ms', HEARTBEAT_MS, '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', bootstrap, '--join-file', joinFile], 30_000)
    })))
    await reconnected(nodes.map(n => n.ready.peerId), 0)
    await inSync()
  }, 90_000)

  /** Every node holds the coordinator's state (roster, policy, key records). */
  async function inSync (): Promise<void> {
    await waitFor('every node to hold the coordinator\'s records', () => {
      const view = coordinator.cluster()
      return nodes.every(n => view.members.find(m => m.peerId === n.ready.peerId)?.stateHash === view.stateHash)
    }, 30_000)
  }

  afterAll(async () => {
    await group?.stopAll()
    await coordinator?.stop().catch(() => {})
    await dir?.[Symbol.asyncDispose]()
  })

  it('a holder killed right after storing its next share: the refresh fails, version 1 signs on; restarted, it signs with version 1, and a later refresh succeeds', async () => {
    const key = await coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: NODES, members: nodes.map(n => n.ready.peerId) })
    // Holder 1: among the first t signers whenever every holder is up.
    const victim = nodeNumber(key.holders[0]!)
    await relaunch(victim, ['--kill-after-next-share'])
    const err = await failure(coordinator.tasks.refresh(key.id))
    await diedByItself(victim)
    expectNamed(err, 'refresh', peerIdOf(victim))
    // No agreement without the victim's countersignature: nothing new recorded.
    expect(await version(key.id)).toBe(1)
    expect((await coordinator.keys.get(key.id))!.sessionId).toBe(key.sessionId)
    // The two others still hold version 1 active (their next shares were discarded, or only pending).
    expect((await signs(key, 'the victim is dead')).sort()).toEqual(key.holders.filter(h => h !== peerIdOf(victim)).sort())

    // Back from its data directory with version 1 active and a next share of a change never recorded: it signs with version 1.
    await relaunch(victim)
    expect(await signs(key, 'the victim is back')).toContain(peerIdOf(victim))
    const refreshed = await coordinator.tasks.refresh(key.id)
    expect(refreshed).toMatchObject({ version: 2, groupPublicKey: key.groupPublicKey, holders: key.holders })
    const after = (await coordinator.keys.get(key.id))!
    expect(after.version).toBe(2)
    expect(await signs(after, 'after the second refresh')).toContain(peerIdOf(victim))
  }, 60_000)

  it('a holder killed right after promoting its next share: the refresh succeeds, version 2 signs without it; restarted, it signs with version 2', async () => {
    const key = await coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: NODES, members: nodes.map(n => n.ready.peerId) })
    const victim = nodeNumber(key.holders[0]!)
    await relaunch(victim, ['--kill-after-promote'])
    // Its commit fails (it dies promoting, from the commit or the synced record first): that is only logged.
    const result = await coordinator.tasks.refresh(key.id)
    await diedByItself(victim)
    expect(result).toMatchObject({ version: 2, groupPublicKey: key.groupPublicKey })
    const after = (await coordinator.keys.get(key.id))!
    expect(after).toMatchObject({ version: 2, sessionId: result.sessionId })
    // The others were committed: they sign with version 2 (a version-1 share would be refused as stale).
    expect((await signs(after, 'the victim is dead')).sort()).toEqual(key.holders.filter(h => h !== peerIdOf(victim)).sort())

    // Its promotion was durable: restarted, its active share is version 2's, and it signs as holder 1.
    await relaunch(victim)
    expect(await signs(after, 'the victim is back')).toContain(peerIdOf(victim))
    // And it has no other (older) active share: the record's version is the only one it signs with.
    const commit = await sendCommand(coordinator.libp2p, peerIdFromString(peerIdOf(victim)), clusterId, 'signCommit', {
      keyId: key.id, sessionId: randomBytes(16).toString('base64url'), request: requestBytesFor(clusterId, key.id, messageFor('ed25519', 'one commitment'))
    })
    expect(commit.commitment).toBeDefined()
  }, 60_000)

  it('a dealer that is not a new holder killed in the middle of a reshare: the reshare fails, version 1 signs on; restarted, the reshare succeeds and its share no longer signs', async () => {
    const key = await coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: NODES, members: nodes.map(n => n.ready.peerId) })
    // The first holder deals (dealers: the first t holders up) and is removed; no newcomer, no approval.
    const leaving = key.holders[0]!
    const victim = nodeNumber(leaving)
    await relaunch(victim, ['--kill-at-round-message', '1'])
    const err = await failure(coordinator.tasks.reshare(key.id, { remove: [leaving] }))
    await diedByItself(victim)
    expectNamed(err, 'reshare', leaving)
    expect(await version(key.id)).toBe(1)
    expect((await signs(key, 'the dealer is dead')).sort()).toEqual(key.holders.filter(h => h !== leaving).sort())

    await relaunch(victim)
    expect(await signs(key, 'the dealer is back')).toContain(leaving)
    const reshared = await coordinator.tasks.reshare(key.id, { remove: [leaving] })
    expect(reshared).toMatchObject({ version: 2, threshold: 2, groupPublicKey: key.groupPublicKey })
    const after = (await coordinator.keys.get(key.id))!
    expect(after.holders).not.toContain(leaving)
    expect((await signs(after, 'after the reshare')).sort()).toEqual([...after.holders].sort())
    // The removed holder erased its version-1 share once the new version was committed.
    const refused = await sendCommand(coordinator.libp2p, peerIdFromString(leaving), clusterId, 'signCommit', {
      keyId: key.id, sessionId: randomBytes(16).toString('base64url'), request: requestBytesFor(clusterId, key.id, messageFor('ed25519', 'removed'))
    }).then(() => undefined, (e: unknown) => e)
    expect(refused).toBeInstanceOf(CommandRefusedError)
    expect((refused as CommandRefusedError).code).toBe(ErrorCode.NOT_FOUND)
  }, 60_000)

  it('the coordinator fails between recording version 2 and sending its commit: every holder promotes from the synced record, version 2 signs, also after the coordinator restarts', async () => {
    const all = nodes.map(n => n.ready.peerId)
    // t = n: a signature needs every holder's share, so each one must be at version 2.
    const keys = await Promise.all((['ed25519', 'taproot'] as const).map(async scheme => await coordinator.tasks.keygen({ scheme, threshold: NODES, parties: NODES, members: all })))
    const changed: KeyRecord[] = []
    for (const key of keys) {
      crashAfterRecord = true
      const err = await failure(coordinator.tasks.refresh(key.id))
      expect((err as Error).message).toBe(COORDINATOR_CRASH)
      expect(crashAfterRecord).toBe(false)
      const after = (await coordinator.keys.get(key.id))!
      expect(after.version).toBe(2)
      expect(after.sessionId).not.toBe(key.sessionId)
      changed.push(after)
    }
    // No commit went out: each node follows the record it synced.
    await inSync()
    for (const key of changed) expect((await signs(key, 'no commit was sent')).sort()).toEqual([...all].sort())

    await coordinator.stop()
    const since = Date.now()
    coordinator = await startCoordinator(false)
    await reconnected(all, since)
    for (const key of changed) {
      expect(await version(key.id)).toBe(2)
      expect((await signs(key, 'after the coordinator restarted')).sort()).toEqual([...all].sort())
    }
  }, 60_000)
})
