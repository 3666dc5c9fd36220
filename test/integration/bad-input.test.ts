import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { MpcNode } from '../../src/peer/node.js'
import { sendCommand } from '../../src/protocols/command.js'
import { COMMAND, MAX_GOSSIP_BYTES, WIRE_VERSION } from '../../src/protocols/constants.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { CommandRequest, CommandResponse, ErrorCode, GossipMessage } from '../../src/protocols/messages.js'
import { signRoster } from '../../src/protocols/roster.js'
import { formatJoinToken, newTokenSecret, parseJoinToken } from '../../src/protocols/token.js'
import { topicName } from '../../src/protocols/topics.js'
import { FAST, log, startCluster, VAULT, waitFor, type TestCluster } from '../helpers.js'
import type { GossipRejectReason } from '../../src/protocols/errors.js'

/** A peer that speaks our protocols but is not in the roster. */
async function stranger (cluster: TestCluster): Promise<MpcLibp2p> {
  const peer = await createPeer({ privateKey: await generateKeyPair('Ed25519'), clusterId: cluster.init.clusterId, listen: ['/ip4/127.0.0.1/tcp/0'] })
  await peer.dial(cluster.coordinator.libp2p.getMultiaddrs()[0]!)
  return peer
}

async function rawCommand (from: MpcLibp2p, to: MpcLibp2p, frame: Uint8Array): Promise<CommandResponse | undefined> {
  const stream = await from.dialProtocol(to.peerId, COMMAND.id)
  try {
    return await pipe([frame], s => lp.encode(s), stream, s => lp.decode(s, { maxDataLength: COMMAND.maxBytes }), async s => {
      for await (const msg of s) return CommandResponse.decode(msg.subarray())
      return undefined
    })
  } finally {
    await stream.close().catch(() => {})
  }
}

describe('bad input gets a clear refusal and changes nothing', () => {
  let cluster: TestCluster
  let rogue: MpcLibp2p

  beforeAll(async () => {
    // The members-only gate (on by default) would refuse the stranger's connection to a node
    // outright; it is off here so that the node's own refusals, behind the gate, are tested.
    cluster = await startCluster(2, {}, { membersOnly: false })
    await waitFor('both nodes up', () => cluster.coordinator.cluster().members.every(m => m.state === 'up'))
    rogue = await stranger(cluster)
  })
  afterAll(async () => {
    await rogue.stop()
    await cluster.stop()
  })

  it('refuses a wrong join token, and adds nobody', async () => {
    const epoch = cluster.coordinator.roster.epoch
    const wrong = formatJoinToken({ ...parseJoinToken(cluster.init.joinToken), secret: newTokenSecret() })
    const error = await cluster.startNode('wrong-token', { joinToken: wrong }).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(CommandRefusedError)
    expect((error as CommandRefusedError).code).toBe(ErrorCode.BAD_TOKEN)
    expect((error as CommandRefusedError).message).not.toContain(parseJoinToken(wrong).secret)
    expect(cluster.coordinator.roster.epoch).toBe(epoch)
    expect(cluster.coordinator.cluster().members).toHaveLength(2)
  })

  it('refuses a join without a token from a peer outside the roster', async () => {
    const epoch = cluster.coordinator.roster.epoch
    const error = await sendCommand(rogue, cluster.coordinator.peerId, cluster.init.clusterId, 'join', { token: '', addrs: [], softwareVersion: 'x' }).catch((err: unknown) => err)
    expect((error as CommandRefusedError).code).toBe(ErrorCode.BAD_TOKEN)
    expect(cluster.coordinator.roster.epoch).toBe(epoch)
  })

  it('refuses a node command from any peer but the coordinator, and leaves the node as it was', async () => {
    const target = cluster.nodes[0]!
    const epoch = target.roster.epoch
    // A roster the rogue signed itself, naming itself coordinator, at a far higher epoch.
    const forged = await signRoster(await generateKeyPair('Ed25519'), {
      clusterId: cluster.init.clusterId, epoch: 999, coordinator: rogue.peerId, members: [], issuedAtMs: Date.now()
    })
    await rogue.dial(target.libp2p.getMultiaddrs()[0]!)
    for (const sender of [rogue, cluster.nodes[1]!.libp2p]) {
      const update = await sendCommand(sender, target.peerId, cluster.init.clusterId, 'rosterUpdate', { roster: forged.signed }).catch((err: unknown) => err)
      expect((update as CommandRefusedError).code).toBe(ErrorCode.UNAUTHORIZED)
      const status = await sendCommand(sender, target.peerId, cluster.init.clusterId, 'status', {}).catch((err: unknown) => err)
      expect((status as CommandRefusedError).code).toBe(ErrorCode.UNAUTHORIZED)
    }
    expect(target.roster.epoch).toBe(epoch)
    // The coordinator itself is obeyed.
    const answer = await sendCommand(cluster.coordinator.libp2p, target.peerId, cluster.init.clusterId, 'status', {})
    expect(answer.rosterEpoch).toBe(epoch)
  })

  it('answers malformed, wrong-cluster and wrong-version command bytes with BAD_REQUEST / WRONG_CLUSTER and keeps serving', async () => {
    const coordinator = cluster.coordinator.libp2p
    const garbage = await rawCommand(rogue, coordinator, new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0x01]))
    expect(garbage?.error?.code).toBe(ErrorCode.BAD_REQUEST)
    const wrongCluster = await rawCommand(rogue, coordinator, CommandRequest.encode({ version: WIRE_VERSION, clusterId: 'mpc-other', status: {} }))
    expect(wrongCluster?.error?.code).toBe(ErrorCode.WRONG_CLUSTER)
    const wrongVersion = await rawCommand(rogue, coordinator, CommandRequest.encode({ version: 7, clusterId: cluster.init.clusterId, status: {} }))
    expect(wrongVersion?.error?.code).toBe(ErrorCode.BAD_REQUEST)
    // A frame over the limit is refused from its length prefix alone, before its body is read.
    const oversized = await rawCommand(rogue, coordinator, new Uint8Array(COMMAND.maxBytes + 1))
    expect(oversized?.error?.code).toBe(ErrorCode.BAD_REQUEST)
    expect(oversized?.error?.message).toMatch(/too long/)
    // Still serving members.
    const status = await sendCommand(cluster.nodes[0]!.libp2p, cluster.coordinator.peerId, cluster.init.clusterId, 'status', {})
    expect(status.members).toHaveLength(2)
  })

  it('rejects malformed, oversized, wrong-cluster and non-member gossip without a state change', async () => {
    const coordinator = cluster.coordinator
    const member = cluster.nodes[1]!
    const topic = topicName(cluster.init.clusterId, 'heartbeats')
    await waitFor('rogue and member see the coordinator subscribed', () =>
      [rogue, member.libp2p].every(p => p.services.pubsub.getSubscribers(topic).some(id => id.equals(coordinator.peerId))))
    const before = { ...coordinator.gossip.counters.rejected }
    const epoch = coordinator.roster.epoch
    const counted = (reason: GossipRejectReason): number => (coordinator.gossip.counters.rejected[reason] ?? 0) - (before[reason] ?? 0)
    const heartbeat = { seq: 1, uptimeMs: 1, loadPermille: 0, activeSessions: 0, keysHeld: 0, softwareVersion: 'x', rosterEpoch: 0, stateHash: new Uint8Array(32), keysLost: 0, recordConflicts: 0, directLinks: 0, relayedLinks: 0, linkUpgrades: 0, startedAtMs: Date.now(), sentAtMs: Date.now(), poolEpoch: new Uint8Array() }

    await member.libp2p.services.pubsub.publish(topic, new Uint8Array([1, 2, 3, 4, 5, 0xff]))
    await member.libp2p.services.pubsub.publish(topic, new Uint8Array(MAX_GOSSIP_BYTES.heartbeats + 1))
    await member.libp2p.services.pubsub.publish(topic, GossipMessage.encode({ version: WIRE_VERSION, clusterId: 'mpc-other', heartbeat }))
    await rogue.services.pubsub.publish(topic, GossipMessage.encode({ version: WIRE_VERSION, clusterId: cluster.init.clusterId, heartbeat }))

    await waitFor('every bad message counted', () =>
      counted('malformed') >= 1 && counted('oversized') >= 1 && counted('wrong-cluster') >= 1 && counted('unknown-sender') >= 1)
    expect(coordinator.roster.epoch).toBe(epoch)
    expect(coordinator.cluster().members.map(m => m.peerId)).not.toContain(rogue.peerId.toString())
    // Alive and well: the member that sent garbage is still heartbeating and up.
    await waitFor('member still up', () => coordinator.cluster().members.find(m => m.peerId === member.peerId.toString())?.state === 'up')
  })

  it('refuses a start with no cluster, a bad bootstrap address, or a token of another cluster', async () => {
    const fresh = join(cluster.root, 'never-joined')
    await expect(MpcNode.start({ ...VAULT, dataDir: fresh, log, bootstrap: cluster.bootstrap, heartbeatIntervalMs: FAST.heartbeatIntervalMs }))
      .rejects.toThrow(/has not joined a cluster/)
    await expect(MpcNode.start({ ...VAULT, dataDir: fresh, log, bootstrap: ['not-a-multiaddr'], joinToken: cluster.init.joinToken }))
      .rejects.toThrow(/not a multiaddr/)
    const joined = cluster.nodes[1]!
    await joined.stop()
    const otherToken = formatJoinToken({ clusterId: 'mpc-elsewhere', coordinator: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), adminSetHash: 'ab'.repeat(32), secret: newTokenSecret() })
    await expect(MpcNode.start({ ...VAULT, dataDir: joined.dataDir, log, joinToken: otherToken }))
      .rejects.toThrow(/belongs to cluster/)
  })
})
