import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessGroup, writeSecretFile, type Peer } from '../../scripts/processes.js'
import { Coordinator } from '../../src/coordinator/coordinator.js'
import { initCoordinator } from '../../src/coordinator/data-dir.js'
import { TaskError } from '../../src/coordinator/errors.js'
import { sendCommand } from '../../src/protocols/command.js'
import { CommandRefusedError, CommandTransportError } from '../../src/protocols/errors.js'
import { ErrorCode } from '../../src/protocols/messages.js'
import { packageRoot } from '../../src/runtime/config.js'
import type { KeyRecord } from '../../src/state/key-registry.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { firstPolicy, log, messageFor, requestBytesFor, requestFor, signedPolicy, tempDir, TEST_ADMINS, verifiesExternally, waitFor } from '../helpers.js'

/**
 * SIGKILLs of real node processes in the middle of a signature and of a DKG, with the coordinator
 * in this process (so the test can also speak to the nodes as the coordinator does). The nodes run
 * the CLI, or test/e2e/fault-node.ts (the same node, killing itself at a point no outside kill can
 * hit) when a test needs it. Needs the build (`npx tsc -p .`), as every e2e test.
 */
const FAULT_NODE = join(packageRoot(), 'dist', 'test', 'e2e', 'fault-node.js')
const NODES = 3
const HEARTBEAT_MS = '300'
/**
 * Thresholds far above the heartbeat interval: a node stalled a few seconds on a busy 2-core host
 * stays up, and a killed node is left out by the failed command itself, not by its health.
 */
const HEALTH = { suspectAfterMs: 4_000, downAfterMs: 8_000 }
const KEYGEN_TIMEOUT_MS = 10_000

async function refusal (promise: Promise<unknown>): Promise<CommandRefusedError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err, (err as Error | undefined)?.message).toBeInstanceOf(CommandRefusedError)
  return err as CommandRefusedError
}

/**
 * The node's refusal of a command, asked again (up to 3 times, 500 ms apart) while the command
 * fails on transport: a node restarted on a new port is at times out of the coordinator's reach
 * for a moment (the issue 13 and 14 notes), which is not what these checks are about.
 */
async function refusalOnceReached (send: () => Promise<unknown>): Promise<CommandRefusedError> {
  for (let attempt = 1; ; attempt++) {
    const err = await send().then(() => undefined, (e: unknown) => e)
    if (!(err instanceof CommandTransportError) || attempt === 3) return await refusal(Promise.reject(err instanceof Error ? err : new Error(String(err))))
    await sleep(500)
  }
}

describe('SIGKILL of a node process in the middle of a session', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let group: ProcessGroup
  let coordinator: Coordinator
  let clusterId: string
  let bootstrap: string
  const nodes: Peer[] = []
  const nodeDir = (i: number): string => join(dir.path, `node-${i}`)
  const passFile = (i: number): string => join(dir.path, `node-${i}.passphrase`)
  const plainArgs = (i: number): string[] => ['node', 'start', '--data-dir', nodeDir(i), '--listen', '/ip4/127.0.0.1/tcp/0', '--heartbeat-ms', HEARTBEAT_MS, '--passphrase-file', passFile(i)]
  const peerIdOf = (i: number): string => nodes[i - 1]!.ready.peerId
  const indexOf = (peerId: string): number => nodes.findIndex(n => n.ready.peerId === peerId) + 1
  const all = (): string[] => nodes.map(n => n.ready.peerId)

  /**
   * Up at the coordinator, over a connection opened after `since` (not the dead process's), and
   * answering a command: right after a restart on a new port the coordinator can hold a fresh
   * connection and still fail its first command (see the issue 13 and 14 notes), which this test,
   * about nonces, does not set out to measure.
   */
  async function waitBack (i: number, since: number): Promise<void> {
    const peerId = peerIdOf(i)
    const answers = async (): Promise<boolean> => await sendCommand(coordinator.libp2p, peerIdFromString(peerId), clusterId, 'status', {}, 2_000).then(() => true, () => false)
    await waitFor(`node-${i} up again`, async () => coordinator.cluster().members.find(m => m.peerId === peerId)?.state === 'up' &&
      coordinator.libp2p.getConnections(peerIdFromString(peerId)).some(c => c.status === 'open' && c.timeline.open >= since) && await answers(), 30_000)
  }

  /** Stops node i (SIGTERM) if it runs, and starts it from its data directory: the CLI, or the fault node with `fault` flags. */
  async function restart (i: number, fault?: string[]): Promise<void> {
    await group.kill(nodes[i - 1]!, 'SIGTERM')
    const since = Date.now()
    nodes[i - 1] = fault === undefined
      ? await group.start(`node-${i}`, plainArgs(i), 30_000)
      : await group.start(`node-${i}`, ['--data-dir', nodeDir(i), '--passphrase-file', passFile(i), '--heartbeat-ms', HEARTBEAT_MS, ...fault], 30_000, { script: FAULT_NODE })
    await waitBack(i, since)
  }

  const killedItself = async (i: number, timeoutMs = 20_000): Promise<void> => {
    const child = nodes[i - 1]!.child
    await waitFor(`node-${i} to SIGKILL itself`, () => child.signalCode === 'SIGKILL', timeoutMs)
  }

  const events = async (after: number): Promise<Awaited<ReturnType<Coordinator['events']>>> =>
    await coordinator.events(new URL(`http://events.invalid/?after=${after}&limit=10000`))
  const lastSeq = async (): Promise<number> => (await events(0)).at(-1)?.seq ?? 0

  const settle = async <T>(work: Promise<T>): Promise<T | TaskError> => await work.then(r => r, (err: unknown) => {
    // A clean failure is a TaskError with a reason, nothing else.
    expect(err).toBeInstanceOf(TaskError)
    return err as TaskError
  })

  /**
   * Signs as a client does: when a request ends unsigned (a holder that is up was out of reach for
   * a moment, and its co-signers spent the request), it asks again with a new one, twice at most,
   * a second apart. The signature verifies by outside code.
   */
  async function signs (key: KeyRecord, text: string): Promise<string[]> {
    const message = messageFor(key.scheme, text)
    for (let attempt = 1; ; attempt++) {
      const result = await coordinator.tasks.sign(key.id, message, requestFor(clusterId, key.id, message)).catch((err: unknown) => err)
      if (result instanceof TaskError && (result.code === 'unavailable' || result.code === 'request_spent') && attempt < 3) {
        await sleep(1_000)
        continue
      }
      if (result instanceof Error) throw result
      const signed = result as Awaited<ReturnType<typeof coordinator.tasks.sign>>
      expect(verifiesExternally(key, message, signed.signature)).toBe(true)
      return signed.signers
    }
  }

  beforeAll(async () => {
    if (!existsSync(FAULT_NODE)) throw new Error(`${FAULT_NODE} is missing: build first (npx tsc -p .)`)
    dir = await tempDir('mpcw-kill-mid-')
    group = new ProcessGroup(join(dir.path, 'logs'))
    const coordinatorDir = join(dir.path, 'coordinator')
    const init = await initCoordinator({ dataDir: coordinatorDir, listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', admins: TEST_ADMINS })
    clusterId = init.clusterId
    coordinator = await Coordinator.start({ dataDir: coordinatorDir, log, health: HEALTH, keygenTimeoutMs: KEYGEN_TIMEOUT_MS })
    await coordinator.policy.publish(signedPolicy(firstPolicy(clusterId)))
    bootstrap = coordinator.libp2p.getMultiaddrs().map(String)[0]!
    const joinFile = join(dir.path, 'nodes.join-token')
    await writeSecretFile(joinFile, (await coordinator.invitations.create({ note: 'kill test nodes', uses: NODES })).token)
    nodes.push(...await Promise.all(Array.from({ length: NODES }, async (_, k) => {
      await writeSecretFile(passFile(k + 1), randomBytes(18).toString('base64url'))
      return await group.start(`node-${k + 1}`, [...plainArgs(k + 1), '--bootstrap', bootstrap, '--join-file', joinFile], 30_000)
    })))
    await waitFor('every node up', () => all().every(p => coordinator.cluster().members.find(m => m.peerId === p)?.state === 'up'), 30_000)
    const view = (): ReturnType<Coordinator['cluster']> => coordinator.cluster()
    await waitFor('every node to hold the policy', () => all().every(p => view().members.find(m => m.peerId === p)?.stateHash === view().stateHash), 30_000)
  }, 90_000)

  afterAll(async () => {
    await group?.stopAll()
    await coordinator?.stop().catch(() => {})
    await dir?.[Symbol.asyncDispose]()
  })

  it('after its nonce is spent: the request completes without it or fails cleanly; restarted, the node refuses the old session; the next request succeeds', async () => {
    const key = await coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: NODES, members: all() })
    // Holder 1 is a signer of the first attempt (all holders up: the first t in identifier order).
    const victim = indexOf(key.holders[0]!)
    await restart(victim, ['--kill-after-nonce-spent'])
    // Two rounds: the session's nonces are stored, and spent, on disk (one round: the next test).
    // The victim must take part to die in it: when a just-restarted victim was out of reach for a
    // moment and the request signed without it, a new request asks again (3 at most).
    let seq = 0
    let message: Uint8Array = new Uint8Array()
    let outcome: Awaited<ReturnType<typeof coordinator.tasks.sign>> | TaskError | undefined
    for (let attempt = 1; attempt <= 3 && nodes[victim - 1]!.child.signalCode !== 'SIGKILL'; attempt++) {
      seq = await lastSeq()
      message = messageFor('taproot', `killed after its nonce is spent (${attempt})`)
      outcome = await settle(coordinator.tasks.sign(key.id, message, requestFor(clusterId, key.id, message), undefined, { pooled: false }))
      await killedItself(victim, 5_000).catch(() => {})
    }
    await killedItself(victim)
    if (outcome !== undefined && !(outcome instanceof TaskError)) {
      expect(outcome.signers).not.toContain(peerIdOf(victim))
      expect(verifiesExternally(key, message, outcome.signature)).toBe(true)
    }
    // The attempt the victim died in ended without a signature; it named the victim as not answering.
    const failed = (await events(seq)).filter(e => e.kind === 'SESSION_FAILED' && e.keyId === key.id)
    expect(failed.length).toBeGreaterThan(0)
    const sessionId = failed[0]!.sessionId!
    expect(failed[0]!.detail).toContain(peerIdOf(victim))

    await restart(victim)
    const victimId = peerIdFromString(peerIdOf(victim))
    // Its nonce was spent durably before it died: the old session is refused, by share and by commit.
    const share = await refusal(sendCommand(coordinator.libp2p, victimId, clusterId, 'signShare', { pooled: false, keyId: key.id, sessionId, message, commitments: [], request: requestBytesFor(clusterId, key.id, message) }))
    expect(share.code).toBe(ErrorCode.STALE)
    const commit = await refusal(sendCommand(coordinator.libp2p, victimId, clusterId, 'signCommit', { keyId: key.id, sessionId, request: requestBytesFor(clusterId, key.id, message) }))
    expect(commit.code).toBe(ErrorCode.STALE)
    expect(await signs(key, 'after the restart')).toContain(peerIdOf(victim))
  }, 90_000)

  it('one round: killed after taking a pooled nonce, restarted: none of the old process\'s pooled commitments is accepted, and requests sign again in one round', async () => {
    const key = await coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: NODES, members: all() })
    const victim = indexOf(key.holders[0]!)
    await restart(victim, ['--kill-after-pooled-nonce'])
    // A first signature (two rounds) has the signers' pools asked for.
    await signs(key, 'fills the pools')
    const pools = coordinator.tasks.pools
    await pools.settled()
    const held = pools.held(key.id, peerIdOf(victim))
    expect(held.length).toBeGreaterThan(2)
    const message = messageFor('ed25519', 'killed after its pooled nonce is taken')
    const outcome = await settle(coordinator.tasks.sign(key.id, message, requestFor(clusterId, key.id, message)))
    await killedItself(victim)
    if (!(outcome instanceof TaskError)) expect(verifiesExternally(key, message, outcome.signature)).toBe(true)
    await restart(victim)

    // Every pooled commitment of the killed process, the one it died using included, is refused
    // by the restarted one, paired with a live co-signer's pooled commitment.
    const victimId = peerIdFromString(peerIdOf(victim))
    const partner = key.holders[1]!
    for (const [i, stale] of [held[0]!, ...held.slice(-2)].entries()) {
      const cosigner = pools.held(key.id, partner)[i]!
      const text = messageFor('ed25519', `stale pooled ${i}`)
      const refused = await refusal(sendCommand(coordinator.libp2p, victimId, clusterId, 'signShare', {
        pooled: true, keyId: key.id, sessionId: randomBytes(16).toString('base64url'), message: text, commitments: [stale, cosigner], request: requestBytesFor(clusterId, key.id, text)
      }))
      expect(refused.code).toBe(ErrorCode.POOL_MISS)
    }
    // The coordinator dropped the dead process's pool (new connection, new epoch): no attempt is lost on it.
    const after = messageFor('ed25519', 'after the restart, pooled')
    const result = await coordinator.tasks.sign(key.id, after, requestFor(clusterId, key.id, after))
    expect(result.attempts).toBe(1)
    expect(verifiesExternally(key, after, result.signature)).toBe(true)
    await pools.settled()
    const refilled = messageFor('ed25519', 'refilled')
    expect((await coordinator.tasks.sign(key.id, refilled, requestFor(clusterId, key.id, refilled))).rounds).toBe(1)
  }, 90_000)

  it('after its commit, and at random moments of a request: each request completes or fails cleanly, old nonces are gone after the restart, and the next request succeeds', async () => {
    const key = await coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: NODES, members: all() })
    const victim = indexOf(key.holders[0]!)
    const victimId = (): ReturnType<typeof peerIdFromString> => peerIdFromString(peerIdOf(victim))

    // Killed right after it committed (round one answered, round two not yet asked).
    const sessionId = randomBytes(16).toString('base64url')
    const interrupted = messageFor('ed25519', 'x')
    const committed = await sendCommand(coordinator.libp2p, victimId(), clusterId, 'signCommit', { keyId: key.id, sessionId, request: requestBytesFor(clusterId, key.id, interrupted) })
    expect(committed.commitment).toBeDefined()
    await group.kill(nodes[victim - 1]!, 'SIGKILL')
    await restart(victim)
    // Nonces do not outlive the process that made them: round two of that session finds none.
    const share = await refusal(sendCommand(coordinator.libp2p, victimId(), clusterId, 'signShare', { pooled: false, keyId: key.id, sessionId, message: interrupted, commitments: [committed.commitment!], request: requestBytesFor(clusterId, key.id, interrupted) }))
    expect(share.code).toBe(ErrorCode.STALE)

    // Killed while the coordinator runs a request (in round one, between rounds or in round two, as it falls).
    for (const delayMs of [5, 60]) {
      const message = messageFor('ed25519', `killed ${delayMs} ms into a request`)
      const request = settle(coordinator.tasks.sign(key.id, message, requestFor(clusterId, key.id, message)))
      await sleep(delayMs)
      await group.kill(nodes[victim - 1]!, 'SIGKILL')
      const outcome = await request
      if (!(outcome instanceof TaskError)) expect(verifiesExternally(key, message, outcome.signature)).toBe(true)
      // With the victim dead, the other two holders still sign.
      expect((await signs(key, `while node-${victim} is down`)).sort()).toEqual(key.holders.filter(h => h !== peerIdOf(victim)).sort())
      await restart(victim)
      await signs(key, `node-${victim} back after a kill ${delayMs} ms into a request`)
    }
  }, 120_000)

  it('in the middle of a DKG: the keygen fails cleanly, nothing half-made is recorded or committed, and the next keygen succeeds', async () => {
    const victim = NODES
    // Dies at the first round message it receives: after publishing its own first round, before any share is stored.
    await restart(victim, ['--kill-at-round-message', '1'])
    const seq = await lastSeq()
    const outcome = await settle(coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: NODES, members: all() }))
    await killedItself(victim)
    const started = (await events(seq)).find(e => e.kind === 'SESSION_STARTED' && e.operation === 'keygen')
    expect(started?.keyId).toBeDefined()
    const keyId = started!.keyId!
    // A participant died before its share existed: no agreement, no key.
    expect(outcome).toBeInstanceOf(TaskError)
    expect(await coordinator.keys.get(keyId)).toBeUndefined()
    expect((await coordinator.keys.list()).map(k => k.id)).not.toContain(keyId)
    expect((await events(seq)).some(e => e.kind === 'SESSION_FAILED' && e.keyId === keyId)).toBe(true)

    await restart(victim)
    // No member holds an active share of the failed key: a pending one was discarded, or never stored.
    for (let i = 1; i <= NODES; i++) {
      const refused = await refusalOnceReached(async () => await sendCommand(coordinator.libp2p, peerIdFromString(peerIdOf(i)), clusterId, 'signCommit', { keyId, sessionId: randomBytes(16).toString('base64url'), request: requestBytesFor(clusterId, keyId, messageFor('ed25519', 'no such key')) }))
      expect(refused.code).toBe(ErrorCode.NOT_FOUND)
    }
    const key = await coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: NODES, members: all() })
    expect(await signs(key, 'the keygen after the kill')).toHaveLength(2)
  }, 90_000)
})
