import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GOSSIP_MESH, GRAYLIST_THRESHOLD, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { CHANNELS, clusterTopics } from '../../src/protocols/topics.js'
import { messageFor, startCluster, waitAllUp, waitFor, type TestCluster } from '../helpers.js'

/** How often the scores and meshes are looked at during the normal run. */
const SAMPLE_EVERY_MS = 100
/** Quiet time after the keygens and signatures, with heartbeats, digests and events going on. */
const QUIET_MS = 3_000
/** Invalid heartbeats a misbehaving member sends at once: past the 20 that graylist a member. */
const JUNK_BURST = 30

describe('gossipsub peer scores in a cluster', () => {
  let cluster: TestCluster
  /** Every member of the cluster, the coordinator included, with its libp2p. */
  let peers: Array<{ name: string, libp2p: MpcLibp2p }>

  beforeAll(async () => {
    cluster = await startCluster(3)
    await waitAllUp(cluster)
    peers = [{ name: 'coordinator', libp2p: cluster.coordinator.libp2p }, ...cluster.nodes.map((n, i) => ({ name: `node-${i + 1}`, libp2p: n.libp2p }))]
  })
  afterAll(async () => { await cluster.stop() })

  /**
   * What is wrong now: a member that scores another below 0, or a mesh below gossipsub's lower
   * bound (Dlo; the mesh target D may hold fewer than all three others, and that is stable).
   */
  function violations (): string[] {
    const topics = clusterTopics(cluster.init.clusterId)
    const found: string[] = []
    for (const observer of peers) {
      const pubsub = observer.libp2p.services.pubsub
      for (const other of peers.filter(p => p !== observer)) {
        const score = pubsub.getScore(other.libp2p.peerId.toString())
        if (score < 0) found.push(`${observer.name} scores ${other.name} ${score}`)
      }
      for (const channel of CHANNELS) {
        const mesh = pubsub.getMeshPeers(topics[channel]).length
        if (mesh < GOSSIP_MESH.Dlo) found.push(`${observer.name}'s ${channel} mesh holds ${mesh}`)
      }
    }
    return found
  }

  it('keeps every honest member at 0, at the coordinator and at every node, and every mesh full, through keygen and signing', async () => {
    // Four peers, each connected to the three others: every mesh holds at least Dlo of them.
    await waitFor('every mesh at least Dlo', () => violations().length === 0, 10_000)
    const seen = new Set<string>()
    let samples = 0
    const sampler = setInterval(() => {
      samples++
      for (const v of violations()) seen.add(v)
    }, SAMPLE_EVERY_MS)
    try {
      const ed = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
      const taproot = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
      for (const key of [ed, taproot, ed]) await cluster.sign(key.id, messageFor(key.scheme, `scored ${key.id}`))
      await new Promise(resolve => setTimeout(resolve, QUIET_MS))
    } finally {
      clearInterval(sampler)
    }
    expect(samples).toBeGreaterThan(QUIET_MS / SAMPLE_EVERY_MS / 2)
    expect([...seen]).toEqual([])
  })

  // Last: it leaves one member graylisted.
  it('drops a member that publishes a burst of invalid heartbeats below the graylist threshold at the coordinator, and out of its mesh', async () => {
    const { coordinator } = cluster
    const junk = cluster.nodes[2]!
    const junkId = junk.peerId.toString()
    const heartbeats = clusterTopics(cluster.init.clusterId).heartbeats
    const malformedBefore = coordinator.gossip.counters.rejected.malformed ?? 0
    expect(coordinator.libp2p.services.pubsub.getScore(junkId)).toBe(0)
    for (let i = 0; i < JUNK_BURST; i++) await junk.libp2p.services.pubsub.publish(heartbeats, new Uint8Array([1, 2, 3, 4, 5, 0xff, i]))
    await waitFor('the burst refused by the coordinator', () => (coordinator.gossip.counters.rejected.malformed ?? 0) - malformedBefore >= JUNK_BURST)
    await waitFor('the sender below the graylist threshold at the coordinator', () => coordinator.libp2p.services.pubsub.getScore(junkId) < GRAYLIST_THRESHOLD, 3_000)
    await waitFor('the sender out of the coordinator\'s heartbeats mesh', () => !coordinator.libp2p.services.pubsub.getMeshPeers(heartbeats).includes(junkId), 3_000)
    // The other members are untouched.
    for (const node of cluster.nodes.filter(n => n !== junk)) expect(coordinator.libp2p.services.pubsub.getScore(node.peerId.toString())).toBe(0)
  })
})
