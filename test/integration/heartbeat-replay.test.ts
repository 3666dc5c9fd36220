import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { topicName } from '../../src/protocols/topics.js'
import { memberState, startCluster, waitAllUp, waitFor, type TestCluster } from '../helpers.js'
import type { Message } from '@libp2p/interface'

let cluster: TestCluster

beforeAll(async () => {
  cluster = await startCluster(2)
  await waitAllUp(cluster)
})

afterAll(async () => {
  await cluster.stop()
})

/** The wire form of a received signed gossip message, as a peer would forward it. */
function asRpcMessage (msg: Message): { from: Uint8Array, data: Uint8Array, seqno: Uint8Array, topic: string, signature: Uint8Array } {
  if (msg.type !== 'signed') throw new Error('an unsigned message')
  const seqno = new Uint8Array(8)
  new DataView(seqno.buffer).setBigUint64(0, msg.sequenceNumber)
  return { from: msg.from.toMultihash().bytes, data: msg.data, seqno, topic: msg.topic, signature: msg.signature }
}

describe('a replayed heartbeat', () => {
  it('does not bring a stopped node back up, even after gossipsub has forgotten the message', async () => {
    const [relayer, victim] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]]
    const victimId = victim.peerId.toString()
    const topic = topicName(cluster.init.clusterId, 'heartbeats')
    // A member records one of the victim's signed heartbeats as it is relayed to it.
    let captured: Message | undefined
    const onMessage = (evt: CustomEvent<Message>): void => {
      const m = evt.detail
      if (m.topic === topic && m.type === 'signed' && m.from.equals(victim.peerId)) captured ??= m
    }
    relayer.libp2p.services.pubsub.addEventListener('message', onMessage)
    await waitFor('a heartbeat of the victim', () => captured !== undefined)
    relayer.libp2p.services.pubsub.removeEventListener('message', onMessage)

    await victim.stop()
    await waitFor('the victim down', () => memberState(cluster, victimId) === 'down')
    // Gossipsub's duplicate cache expires after 2 min; forget now what it would forget then.
    const pubsub = cluster.coordinator.libp2p.services.pubsub as unknown as { seenCache: { clear: () => void }, fastMsgIdCache?: { clear: () => void } }
    pubsub.seenCache.clear()
    pubsub.fastMsgIdCache?.clear()

    const refusedBefore = cluster.coordinator.gossip.counters.rejected.stale ?? 0
    const relay = relayer.libp2p.services.pubsub as unknown as { sendRpc: (to: string, rpc: unknown) => boolean }
    for (let i = 0; i < 3; i++) {
      expect(relay.sendRpc(cluster.coordinator.peerId.toString(), { subscriptions: [], messages: [asRpcMessage(captured!)] })).toBe(true)
      await sleep(100)
      pubsub.seenCache.clear()
    }
    // The victim stays down however long we look, and the replay did arrive: it was refused as stale.
    for (let i = 0; i < 10; i++) {
      expect(memberState(cluster, victimId)).toBe('down')
      await sleep(100)
    }
    await waitFor('the replay refused as stale', () => (cluster.coordinator.gossip.counters.rejected.stale ?? 0) > refusedBefore)
    const ups = (await cluster.coordinator.events()).filter(e => e.kind === 'HEALTH_CHANGED' && e.peerId === victimId && e.to === 'UP')
    expect(ups).toHaveLength(1)
  })
})
