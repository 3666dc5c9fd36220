/**
 * True equivocation in DKG round 1: a participant sends one member a different round-1 package
 * than the others get, both VALID (each its own polynomial with a correct proof of knowledge),
 * and each member's round-2 share matches the package it got, so no member can tell on its own:
 * every share verifies, every member finishes its DKG. Only the agreement step sees it (members
 * report digests of the round-1 messages they received). It must fail the keygen, record nothing
 * (no key, no pending share kept) and name the equivocator: as a claim, since what a member
 * reports having received is its word, not the coordinator's own evidence (README, "Blame
 * follows evidence"). A next keygen without the fault succeeds.
 *
 * The split delivery is done as an equivocator on gossipsub would: both messages are signed by
 * it under ONE sequence number, so they share a message id (author, seqno); the victim gets the
 * second package straight from the equivocator and the others the first, and each drops the
 * other version as a duplicate when mesh neighbours forward it.
 */
import { randomBytes } from 'node:crypto'
import type { RPC } from '@chainsafe/libp2p-gossipsub/message'
import { RPC as RPCCodec } from '@chainsafe/libp2p-gossipsub/message'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskError } from '../../src/coordinator/errors.js'
import { encodeGossip } from '../../src/protocols/gossip.js'
import type { RoundMessage } from '../../src/protocols/messages.js'
import { topicName } from '../../src/protocols/topics.js'
import type { DkgSessions } from '../../src/peer/dkg-sessions.js'
import type { MpcNode } from '../../src/peer/node.js'
import { allShares, expectCleanKeygenFailure, lastEventSeq, messageFor, recordEvents, startCluster, verifiesExternally, waitAllUp, waitFor, type TestCluster } from '../helpers.js'

const id = (node: MpcNode): string => node.peerId.toString()
/** A node's DKG sessions (private to MpcNode): which sessions it runs. */
const dkgOf = (node: MpcNode): DkgSessions => (node as unknown as { dkg: DkgSessions }).dkg

/** The parts of js-gossipsub 14 an equivocator needs: its signing key and a send to one peer. */
interface GossipsubInternals {
  publishConfig: { author: PeerId, privateKey: PrivateKey, key: Uint8Array }
  getSubscribers: (topic: string) => PeerId[]
  sendRpc: (peer: string, rpc: RPC) => boolean
  streamsOutbound: Map<string, unknown>
}

/** Signs `round` as a gossip message of `node` on the rounds topic with the given sequence number. */
async function signedRound (node: MpcNode, clusterId: string, round: RoundMessage, seqno: Uint8Array): Promise<RPC.Message> {
  const pubsub = node.libp2p.services.pubsub as unknown as GossipsubInternals
  const message: RPC.Message = {
    from: pubsub.publishConfig.author.toMultihash().bytes,
    data: encodeGossip(clusterId, { round }),
    seqno,
    topic: topicName(clusterId, 'rounds')
  }
  // libp2p pubsub StrictSign: the signature is over "libp2p-pubsub:" || the message without signature and key
  const signed = new Uint8Array([...new TextEncoder().encode('libp2p-pubsub:'), ...RPCCodec.Message.encode(message)])
  return { ...message, signature: await pubsub.publishConfig.privateKey.sign(signed), key: pubsub.publishConfig.key }
}


async function taskFailure (promise: Promise<unknown>): Promise<TaskError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err, (err as Error | undefined)?.message).toBeInstanceOf(TaskError)
  return err as TaskError
}

describe('a DKG participant equivocating in round 1 with two valid packages', () => {
  let cluster: TestCluster
  let honest: MpcNode[]

  beforeAll(async () => {
    cluster = await startCluster(3, { keygenTimeoutMs: 15_000 })
    honest = [...cluster.nodes]
    await waitAllUp(cluster)
  })
  afterAll(async () => { await cluster.stop() })

  it.each(['taproot', 'ed25519'] as const)('%s: the keygen fails, nothing is recorded, the victim\'s claim names the equivocator; then a keygen succeeds', async (scheme) => {
    const clusterId = cluster.init.clusterId
    const victim = honest[0]!
    const delivered: Array<{ to: string, second: boolean }> = []
    const seqnos = new Map<string, Uint8Array>()
    // The victim gets the second package, every other subscriber the first, under one message id.
    const deliver = async (sessionId: string, first: RoundMessage, second: RoundMessage): Promise<void> => {
      const node = bad
      // Not before every member runs the session: a member that does not know it yet ignores the
      // message but remembers its id, and would then drop the version meant for it as a duplicate.
      await waitFor('every member running the session', () => honest.every(n => dkgOf(n).participants(sessionId) !== undefined), 10_000, 5)
      // One sequence number per session, also when the equivocator sends again on a nack: a
      // member that already holds one version drops the other as the duplicate it seems to be.
      const seqno = seqnos.get(sessionId) ?? new Uint8Array(randomBytes(8))
      seqnos.set(sessionId, seqno)
      const [a, b] = [await signedRound(node, clusterId, first, seqno), await signedRound(node, clusterId, second, seqno)]
      const pubsub = node.libp2p.services.pubsub as unknown as GossipsubInternals
      // The victim first, so that its copy is on the way before the others can forward theirs.
      const peers = pubsub.getSubscribers(topicName(clusterId, 'rounds')).map(String).sort((x, y) => Number(y === id(victim)) - Number(x === id(victim)))
      for (const peer of peers) {
        const toVictim = peer === id(victim)
        if (pubsub.sendRpc(peer, { subscriptions: [], messages: [toVictim ? b : a] })) delivered.push({ to: peer, second: toVictim })
      }
    }
    const bad = await cluster.startNode(`split-equivocator-${scheme}`, { faults: { splitRound1: { to: [id(victim)], deliver } } })
    await waitAllUp(cluster)
    const members = [id(bad), ...honest.map(id)]
    // The equivocator sends to each member directly: wait until it has a gossip stream to each.
    const gossip = bad.libp2p.services.pubsub as unknown as GossipsubInternals
    await waitFor('gossip streams from the equivocator to every member', () => {
      const subscribers = gossip.getSubscribers(topicName(clusterId, 'rounds')).map(String)
      return honest.every(n => subscribers.includes(id(n)) && gossip.streamsOutbound.has(id(n)))
    })

    const keysBefore = await cluster.coordinator.keys.list()
    const sharesBefore = await allShares(cluster)
    const since = await lastEventSeq(cluster)
    const recorder = recordEvents(cluster, honest[1]!)
    try {
      const err = await taskFailure(cluster.coordinator.tasks.keygen({ scheme, threshold: 2, parties: members.length, members }))
      expect(err.code, err.message).toBe('failed')
      // Both packages went out (again on a nack), the second to the victim alone.
      expect([...new Set(delivered.filter(d => d.second).map(d => d.to))]).toEqual([id(victim)])
      expect(delivered.filter(d => !d.second).map(d => d.to), JSON.stringify(delivered)).toEqual(expect.arrayContaining(honest.slice(1).map(id)))
      expect(delivered.filter(d => !d.second).map(d => d.to)).not.toContain(id(victim))
      // Claims, not proof: what a member reports having received is its word. No culprit is
      // proven, only honest members claim, and they accuse the equivocator alone.
      expect(err.culprits, err.message).toEqual([])
      expect(err.claims.length, err.message).toBeGreaterThan(0)
      for (const claim of err.claims) {
        expect(claim.accused, err.message).toEqual([id(bad)])
        expect(honest.map(id), err.message).toContain(claim.claimant)
        // Either the agreement step found it (the victim got the second package and its shares,
        // finished its DKG, and reports a digest of the equivocator's round-1 message other than
        // the one the equivocator reports sending), or, when a neighbour's forwarded copy of the
        // first package reached a member before its own copy (gossip gives no order between
        // paths), that member's share check did (its share is of the other package's polynomial).
        expect(claim.reason, err.message).toMatch(/other than they report sending|invalid share/)
      }
      if (err.claims.some(c => /other than they report sending/.test(c.reason))) {
        expect(err.claims.map(c => c.claimant), err.message).toEqual([id(victim)])
      }
      expect(err.message).toContain(id(bad))

      // Nothing recorded: no key, and no member kept a share of it, active or pending.
      await expectCleanKeygenFailure(cluster, err, id(bad), members, { keys: keysBefore, shares: sharesBefore, since }, recorder)
    } finally {
      recorder.stop()
      await bad.stop()
    }

    // Without the equivocator, the same members make a key that signs.
    const key = await cluster.coordinator.tasks.keygen({ scheme, threshold: 2, parties: honest.length, members: honest.map(id) })
    const message = messageFor(scheme, `after a split round 1 (${scheme})`)
    expect(verifiesExternally(key, message, (await cluster.sign(key.id, message)).signature)).toBe(true)
  }, 90_000)
})
