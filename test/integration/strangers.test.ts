import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { clusterTopics, parseTopic, type Channel } from '../../src/protocols/topics.js'
import { startCluster, waitAllUp, waitFor, type TestCluster } from '../helpers.js'
import type { GossipsubMessage } from '@chainsafe/libp2p-gossipsub'

/**
 * The coordinator's grace for strangers here: long enough for the window in which the stranger
 * is watched (a node joins, rosters and events go out) to end well inside it, short for a test.
 */
const GRACE_MS = 4_000

/** What one peer hears on the cluster's channels: counts by channel, and by channel from the coordinator as the sender on the wire. */
interface Heard {
  all: Record<Channel, number>
  fromCoordinator: Record<Channel, number>
  stop: () => void
}

function hear (peer: MpcLibp2p, cluster: TestCluster): Heard {
  const heard: Heard = {
    all: { rounds: 0, state: 0, heartbeats: 0, events: 0 },
    fromCoordinator: { rounds: 0, state: 0, heartbeats: 0, events: 0 },
    stop: () => { peer.services.pubsub.removeEventListener('gossipsub:message', onMessage) }
  }
  const onMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const channel = parseTopic(evt.detail.msg.topic)?.channel
    if (channel === undefined) return
    heard.all[channel]++
    if (evt.detail.propagationSource.equals(cluster.coordinator.peerId)) heard.fromCoordinator[channel]++
  }
  peer.services.pubsub.addEventListener('gossipsub:message', onMessage)
  return heard
}

describe('a stranger connected to the coordinator', () => {
  let cluster: TestCluster
  let stranger: MpcLibp2p | undefined

  beforeAll(async () => {
    cluster = await startCluster(2, { strangerGraceMs: GRACE_MS })
    await waitAllUp(cluster)
  })
  afterAll(async () => {
    await stranger?.stop()
    await cluster.stop()
  })

  it('hears no roster, event or heartbeat while members do, and is hung up on after its grace; a node joining meanwhile is served', async () => {
    const { coordinator } = cluster
    const topics = Object.values(clusterTopics(cluster.init.clusterId))
    // A peer outside the roster that speaks gossipsub like a member and subscribes to every channel.
    stranger = await createPeer({ privateKey: await generateKeyPair('Ed25519'), clusterId: cluster.init.clusterId, listen: ['/ip4/127.0.0.1/tcp/0'] })
    const strangerHeard = hear(stranger, cluster)
    for (const topic of topics) stranger.services.pubsub.subscribe(topic)
    const connectedAt = Date.now()
    await stranger.dial(coordinator.libp2p.getMultiaddrs()[0]!)
    const subscribed = (peer: MpcLibp2p): boolean => topics.every(t => coordinator.libp2p.services.pubsub.getSubscribers(t).some(id => id.equals(peer.peerId)))
    // Its RPCs are read (it is not graylisted): the coordinator knows its subscriptions, so it
    // is left out by the score, not for want of a subscription.
    await waitFor('the coordinator sees the stranger subscribed to every channel', () => subscribed(stranger!), GRACE_MS / 2)

    // Within the stranger's grace, a node joins: a new roster and events go out, heartbeats flow.
    const member = cluster.nodes[0]!
    const memberHeard = hear(member.libp2p, cluster)
    const joiner = await cluster.startNode('joiner')
    const joinerConnectedAt = Date.now()
    const joinerHeard = hear(joiner.libp2p, cluster)
    await waitFor('a member hears a roster, events and heartbeats', () =>
      memberHeard.all.state > 0 && memberHeard.all.events > 0 && memberHeard.all.heartbeats > 0, GRACE_MS / 2)
    // The joiner's subscriptions, sent while it was a stranger, were recorded; once admitted the
    // coordinator sends to it: it hears events from the coordinator itself (its health going up),
    // not only from other members. (Its first roster came with the answer to Join, before this
    // listener; heartbeats reach it first from their authors, its direct peers.)
    expect(subscribed(joiner.libp2p)).toBe(true)
    await waitFor('the joiner hears events from the coordinator, and heartbeats', () =>
      joinerHeard.fromCoordinator.events > 0 && joinerHeard.all.heartbeats > 0, GRACE_MS / 2)
    await waitAllUp(cluster)

    // All that while the stranger was connected, and heard nothing on any channel.
    expect(coordinator.libp2p.getConnections(stranger.peerId).length).toBeGreaterThan(0)
    expect(strangerHeard.all).toEqual({ rounds: 0, state: 0, heartbeats: 0, events: 0 })
    expect(coordinator.libp2p.services.pubsub.getMeshPeers(topics[0]!)).not.toContain(stranger.peerId.toString())

    // Hung up on once its grace is over, not before.
    await waitFor('the coordinator hangs up on the stranger', () => coordinator.libp2p.getConnections(stranger!.peerId).length === 0, GRACE_MS + 5_000)
    expect(Date.now() - connectedAt).toBeGreaterThanOrEqual(GRACE_MS - 100)
    expect(strangerHeard.all).toEqual({ rounds: 0, state: 0, heartbeats: 0, events: 0 })

    // The joiner was a stranger too when it connected: past its own grace it is still connected, and up.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, joinerConnectedAt + GRACE_MS + 500 - Date.now())))
    expect(coordinator.libp2p.getConnections(joiner.peerId).length).toBeGreaterThan(0)
    await waitAllUp(cluster)
    for (const heard of [strangerHeard, memberHeard, joinerHeard]) heard.stop()
  })
})
