import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskError } from '../../src/coordinator/errors.js'
import { sendCommand } from '../../src/protocols/command.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode, EventKind, GossipMessage, type Event } from '../../src/protocols/messages.js'
import { topicName } from '../../src/protocols/topics.js'
import type { Message } from '@libp2p/interface'
import { allShares, eventsAfter, expectCleanKeygenFailure, lastEventSeq, messageFor, recordEvents, requestBytesFor, restartNode, startCluster, startNodeSortingFirst, verifiesExternally, waitAllUp, waitFor, type TestCluster } from '../helpers.js'
import type { MpcNode } from '../../src/peer/node.js'

const id = (node: MpcNode): string => node.peerId.toString()


async function refusal (promise: Promise<unknown>): Promise<CommandRefusedError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err, (err as Error | undefined)?.message).toBeInstanceOf(CommandRefusedError)
  return err as CommandRefusedError
}

async function taskFailure (promise: Promise<unknown>): Promise<TaskError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err, (err as Error | undefined)?.message).toBeInstanceOf(TaskError)
  return err as TaskError
}

/** Long enough for a 4-party Ed25519 DKG on a loaded 2-core machine, short enough to wait out. */
const KEYGEN_DEADLINE_MS = 10_000

describe('keygen and signing with faulty peers', () => {
  let cluster: TestCluster
  /** The three honest nodes of the cluster (faulty ones are added by each test). */
  let honest: () => MpcNode[]

  beforeAll(async () => {
    // A DKG that cannot finish (a participant waits for messages that never come) ends at this deadline.
    cluster = await startCluster(3, { keygenTimeoutMs: KEYGEN_DEADLINE_MS })
    const names = new Set(cluster.nodes.map(n => n.dataDir))
    honest = () => cluster.nodes.filter(n => names.has(n.dataDir))
    await waitAllUp(cluster)
  })
  afterAll(async () => { await cluster.stop() })


  describe.each([
    { scheme: 'ed25519' as const, threshold: 3 },
    { scheme: 'taproot' as const, threshold: 2 }
  ])('a holder sending corrupt $scheme signature shares', ({ scheme, threshold }) => {
    it(`is named, and the ${threshold}-of-4 key still signs without it`, async () => {
      const bad = await startNodeSortingFirst(cluster, `bad-share-${scheme}`, { faults: { corruptSignatureShare: true } })
      await waitAllUp(cluster)
      const members = [id(bad), ...honest().map(id)]
      const key = await cluster.coordinator.tasks.keygen({ scheme, threshold, parties: 4, members })
      // Holder 1, so the coordinator asks it first.
      expect(key.holders[0]).toBe(id(bad))

      const since = await lastEventSeq(cluster)
      const message = messageFor(scheme, `sign around ${scheme} corruption`)
      const result = await cluster.sign(key.id, message)
      // The corrupt share's attempt spent the request at its co-signers (each node acts on a
      // request once). 2-of-4: two unspent holders remain and the request's second attempt signs.
      // 3-of-4: one remains, the request ends `request_spent`, and the client's new request signs
      // at its first attempt, the corrupt holder now chosen last.
      expect(result.attempts).toBe(threshold === 2 ? 2 : 1)
      expect(result.signers).not.toContain(id(bad))
      expect(result.signers).toHaveLength(threshold)
      expect(verifiesExternally(key, message, result.signature)).toBe(true)

      const events = await eventsAfter(cluster, since)
      const blamed = events.filter(e => e.kind === 'BLAME').map(e => e.peerId)
      expect(blamed).toContain(id(bad))
      // Only the corrupt holder is blamed.
      expect(new Set(blamed)).toEqual(new Set([id(bad)]))
      expect(events.filter(e => e.kind === 'SESSION_FAILED')).toHaveLength(1)
      expect(events.filter(e => e.kind === 'SESSION_FINISHED')).toHaveLength(1)
      await bad.stop()
    })
  })

  // What a member reports of another (a share that does not verify, a second round-1 message)
  // is its claim: the coordinator cannot check it, so it records a BLAME_CLAIM, not a culprit.
  describe('keygen fails cleanly and records the members\' claims against the culprit (none proven)', () => {
    const expectCleanFailure = async (bad: MpcNode, members: string[], scheme: 'ed25519' | 'taproot', claimant?: MpcNode): Promise<void> => {
      const keysBefore = await cluster.coordinator.keys.list()
      const sharesBefore = await allShares(cluster)
      const since = await lastEventSeq(cluster)
      const recorder = recordEvents(cluster, honest()[1]!)
      try {
        const err = await taskFailure(cluster.coordinator.tasks.keygen({ scheme, threshold: 2, parties: members.length, members }))
        expect(err.code, err.message).toBe('failed')
        // Claims, not proof: no culprit, and the claims accuse the faulty member alone.
        expect(err.culprits, err.message).toEqual([])
        expect(err.claims.length, err.message).toBeGreaterThan(0)
        for (const claim of err.claims) {
          expect(claim.accused, err.message).toEqual([id(bad)])
          expect(claim.claimant).not.toBe(id(bad))
        }
        if (claimant !== undefined) expect(err.claims.map(c => c.claimant)).toContain(id(claimant))
        expect(err.message).toContain(id(bad))

        const failed = await expectCleanKeygenFailure(cluster, err, id(bad), members, { keys: keysBefore, shares: sharesBefore, since }, recorder)
        expect(failed.detail).toContain(id(bad))
      } finally {
        recorder.stop()
      }
      // The honest members still make a key together.
      const honestMembers = members.filter(m => m !== id(bad))
      const key = await cluster.coordinator.tasks.keygen({ scheme, threshold: 2, parties: honestMembers.length, members: honestMembers })
      const message = messageFor(scheme, 'after a failed keygen')
      expect(verifiesExternally(key, message, (await cluster.sign(key.id, message)).signature)).toBe(true)
    }

    it('(a) a participant sending one member a corrupt DKG share: that member\'s claim is recorded', async () => {
      const victim = honest()[0]!
      const bad = await cluster.startNode('bad-dkg-share', { faults: { corruptDkgShareTo: [id(victim)] } })
      await waitAllUp(cluster)
      await expectCleanFailure(bad, [id(bad), id(victim), id(honest()[1]!)], 'taproot', victim)
      await bad.stop()
    })

    it('(b) a participant equivocating in round 1: the receivers\' claims are recorded', async () => {
      const bad = await cluster.startNode('equivocator', { faults: { equivocateRound1: true } })
      await waitAllUp(cluster)
      await expectCleanFailure(bad, [id(bad), ...honest().map(id)], 'taproot')
      await bad.stop()
    })
  })

  it('recovers a dropped round-1 message (nack, retransmission): keygen succeeds', async () => {
    const dropper = await cluster.startNode('dropper', { faults: { dropFirstRound1: true } })
    await waitAllUp(cluster)
    const members = [id(dropper), id(honest()[0]!), id(honest()[2]!)]
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3, members })
    expect([...key.holders].sort()).toEqual([...members].sort())
    for (const node of cluster.nodes.filter(n => members.includes(id(n)))) {
      expect((await node.shares()).find(s => s.keyId === key.id)).toMatchObject({ status: 'active', groupPublicKey: key.groupPublicKey })
    }
    const message = messageFor('ed25519', 'after a lost message')
    expect(verifiesExternally(key, message, (await cluster.sign(key.id, message)).signature)).toBe(true)
    await dropper.stop()
  })

  it('a participant whose keygen command comes late takes the rounds sent before it started, without asking for them again', async () => {
    const late = await cluster.startNode('late', { faults: { delayKeygenMs: 1_500 } })
    await waitAllUp(cluster)
    const topic = topicName(cluster.init.clusterId, 'rounds')
    const nacks: string[] = []
    const onMessage = (evt: CustomEvent<Message>): void => {
      if (evt.detail.topic !== topic || evt.detail.type !== 'signed') return
      if (GossipMessage.decode(evt.detail.data).round?.nack !== undefined) nacks.push(evt.detail.from.toString())
    }
    cluster.coordinator.libp2p.services.pubsub.addEventListener('message', onMessage)
    try {
      const members = [id(late), id(honest()[0]!), id(honest()[1]!)]
      const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3, members })
      expect((await late.shares()).find(s => s.keyId === key.id)?.status).toBe('active')
      // The others' round-1 messages were published 1.5 s before the late node had the session.
      // (The others may ask for the late node's, which is missing until it starts.)
      expect(nacks.filter(from => from === id(late)), 'nacks of the late node').toEqual([])
    } finally {
      cluster.coordinator.libp2p.services.pubsub.removeEventListener('message', onMessage)
      await late.stop()
    }
  })

  it('runs a keygen between members whose direct connection dropped (rounds reach them another way)', async () => {
    const [a, b] = honest() as [MpcNode, MpcNode]
    await waitAllUp(cluster, [a, b])
    // A dropped link between two members; both stay connected to the coordinator and the third node.
    await a.libp2p.hangUp(b.peerId)
    await b.libp2p.hangUp(a.peerId)
    try {
      const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 2, members: [id(a), id(b)] })
      for (const node of [a, b]) expect((await node.shares()).find(s => s.keyId === key.id)?.status).toBe('active')
      const message = messageFor('taproot', 'over a detour')
      expect(verifiesExternally(key, message, (await cluster.sign(key.id, message)).signature)).toBe(true)
    } finally {
      // Whatever happened, the next tests get the link back.
      if (a.libp2p.getConnections(b.peerId).length === 0) await a.libp2p.dial(b.libp2p.getMultiaddrs()[0]!).catch(() => {})
    }
  }, 30_000)

  it('never hangs a sign request when a holder is stopped just before it', async () => {
    await waitAllUp(cluster)
    const members = honest().map(id)
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3, members })
    const victim = cluster.nodes.find(n => id(n) === key.holders[0])!
    // Holder 1 is among the first signers while the coordinator still sees it up.
    await victim.stop()
    const message = messageFor('taproot', 'a holder just died')
    // The test's own timeout is what catches a hang.
    const outcome = await cluster.sign(key.id, message).then(r => r, (e: unknown) => e)
    if (outcome instanceof TaskError) {
      // Failing is allowed, with a reason.
      expect(outcome.code).toBe('unavailable')
    } else {
      const result = outcome as Awaited<ReturnType<typeof cluster.coordinator.tasks.sign>>
      expect(result.signers).not.toContain(id(victim))
      expect([...result.signers].sort()).toEqual(key.holders.slice(1))
      expect(verifiesExternally(key, message, result.signature)).toBe(true)
    }
    await restartNode(cluster, victim)

    // Killed during the request itself: it settles too.
    const second = cluster.nodes.find(n => id(n) === key.holders[0])!
    const during = cluster.sign(key.id, messageFor('taproot', 'dies during the request')).then(r => r, (e: unknown) => e)
    await second.stop()
    const settled = await during
    if (!(settled instanceof TaskError)) {
      const result = settled as Awaited<ReturnType<typeof cluster.coordinator.tasks.sign>>
      expect(verifiesExternally(key, messageFor('taproot', 'dies during the request'), result.signature)).toBe(true)
    }
    await restartNode(cluster, second)
  }, 30_000)

  describe('nonces across a crash', () => {
    it('never lets a session\'s nonce be used again after a crash between spending it and signing (the crash is a refusal: recorded, not blamed)', async () => {
      const crash = (): never => { throw new Error('simulated crash') }
      const crasher = await startNodeSortingFirst(cluster, 'crasher', { faults: { afterNonceSpent: crash, afterPooledNonceTaken: crash } })
      await waitAllUp(cluster)
      const [h1, h2] = honest()
      const members = [id(crasher), id(h1!), id(h2!)]
      const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3, members })
      expect(key.holders[0]).toBe(id(crasher))
      const recorder = recordEvents(cluster, h2!)
      const message = messageFor('taproot', 'crash after the nonce is spent')
      let failedSession: Event | undefined
      try {
        const outcome = await cluster.sign(key.id, message).then(r => r, (e: unknown) => e)
        if (outcome instanceof TaskError) {
          // A refusal proves nothing against the refuser.
          expect(outcome.culprits).not.toContain(id(crasher))
          expect(outcome.message).toContain(id(crasher))
        } else {
          const result = outcome as Awaited<ReturnType<typeof cluster.coordinator.tasks.sign>>
          expect(result.attempts).toBeGreaterThan(1)
          expect(result.signers).not.toContain(id(crasher))
          expect(verifiesExternally(key, message, result.signature)).toBe(true)
        }
        await waitFor('the failed signing session on the events channel', () =>
          recorder.events.some(e => e.kind === EventKind.SESSION_FAILED && e.keyId === key.id))
        failedSession = recorder.events.find(e => e.kind === EventKind.SESSION_FAILED && e.keyId === key.id)
      } finally {
        recorder.stop()
      }
      expect(failedSession!.operation).toBe('sign')
      // It answered with a refusal (INTERNAL), not silence: left out of the request, not blamed.
      expect(failedSession!.culprits).toEqual([])
      expect(failedSession!.detail).toContain(`${id(crasher)} refused`)
      const sessionId = failedSession!.sessionId
      expect(recorder.events.some(e => e.kind === EventKind.SESSION_STARTED && e.sessionId === sessionId)).toBe(true)

      // The node comes back from its data directory, without the fault.
      const restarted = await restartNode(cluster, crasher, { faults: {} })
      const clusterId = cluster.init.clusterId
      const coordinator = cluster.coordinator.libp2p
      const share = await refusal(sendCommand(coordinator, restarted.peerId, clusterId, 'signShare', { pooled: false, keyId: key.id, sessionId, message, commitments: [], request: requestBytesFor(clusterId, key.id, message) }))
      expect(share.code).toBe(ErrorCode.STALE)
      const commit = await refusal(sendCommand(coordinator, restarted.peerId, clusterId, 'signCommit', { keyId: key.id, sessionId, request: requestBytesFor(clusterId, key.id, message) }))
      expect(commit.code).toBe(ErrorCode.STALE)
      // The honest co-signer of that session spent its nonce too, and refuses alike.
      const cosigner = await refusal(sendCommand(coordinator, h1!.peerId, clusterId, 'signShare', { pooled: false, keyId: key.id, sessionId, message, commitments: [], request: requestBytesFor(clusterId, key.id, message) }))
      expect(cosigner.code).toBe(ErrorCode.STALE)

      // And it signs again in a new session, as holder 1.
      const again = await cluster.sign(key.id, message)
      expect(again.signers).toContain(id(restarted))
      expect(again.attempts).toBe(1)
      expect(verifiesExternally(key, message, again.signature)).toBe(true)
      await restarted.stop()
    })

    it('discards nonces committed before a stop: the interrupted session cannot sign after the restart', async () => {
      await waitAllUp(cluster)
      const members = honest().map(id)
      const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3, members })
      const node = cluster.nodes.find(n => id(n) === key.holders[0])!
      const clusterId = cluster.init.clusterId
      const coordinator = cluster.coordinator.libp2p
      const sessionId = randomBytes(16).toString('base64url')
      const message = messageFor('ed25519', 'interrupted')
      const committed = await sendCommand(coordinator, node.peerId, clusterId, 'signCommit', { keyId: key.id, sessionId, request: requestBytesFor(clusterId, key.id, message) })
      expect(committed.commitment).toBeDefined()

      const restarted = await restartNode(cluster, node)
      const share = await refusal(sendCommand(coordinator, restarted.peerId, clusterId, 'signShare', { pooled: false, keyId: key.id, sessionId, message, commitments: [committed.commitment!], request: requestBytesFor(clusterId, key.id, message) }))
      expect(share.code).toBe(ErrorCode.STALE)
    })
  })
})
