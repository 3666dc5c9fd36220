import { generateKeyPair } from '@libp2p/crypto/keys'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { MAX_CONCURRENT_PULLS, MAX_PAGES_PER_PULL } from '../../src/runtime/state-sync.js'
import { DEFAULT_DIGEST_INTERVAL_MS } from '../../src/protocols/constants.js'
import { serveCommands } from '../../src/protocols/command.js'
import { toHex } from '../../src/crypto/bytes.js'
import { joinAsMember, log, startCluster, waitAllUp, waitFor, type TestCluster } from '../helpers.js'
import type { MpcNode } from '../../src/peer/node.js'
import type { Coordinator } from '../../src/coordinator/coordinator.js'

/** "Within a few seconds": an honest member has a new key record this soon after keygen, liars or not. */
const CONVERGE_WITHIN_MS = 5_000
/** How long the false-digest liar publishes as fast as it likes, to count the pulls it gets. */
const FLOOD_WINDOW_MS = 11_000
const FLOOD_EVERY_MS = 100
/** How long a slow peer takes to answer listRecords (below the 10 s command deadline). */
const SLOW_ANSWER_MS = 8_000
/** Heap the test process may gain over the whole run with both liars lying (measured after a full GC). */
const MAX_HEAP_GROWTH_BYTES = 32 * 1024 * 1024

/** True when the node holds the same synced records as the coordinator. */
function converged (cluster: TestCluster, node: MpcNode): boolean {
  return toHex(node.sync.digest().hash) === toHex(cluster.coordinator.sync.digest().hash) && node.roster.epoch === cluster.coordinator.roster.epoch
}

/** heapUsed after a full collection, so that garbage not yet collected is not counted as growth. */
function heapAfterGc (): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  return process.memoryUsage().heapUsed
}

const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

describe('state sync under abuse: a member cannot stall or bloat anyone\'s sync', () => {
  let cluster: TestCluster
  let honest: MpcNode[]
  let endless: MpcNode
  let falseDigest: MpcNode
  let heapBefore: number

  beforeAll(async () => {
    cluster = await startCluster(3)
    honest = [...cluster.nodes]
    endless = await cluster.startNode('endless-liar', { faults: { endlessRecordList: true } })
    falseDigest = await cluster.startNode('false-digest-liar', { faults: { falseDigest: true } })
    await waitAllUp(cluster)
    heapBefore = heapAfterGc()
  })
  afterAll(async () => { await cluster.stop() })

  /** A keygen among two honest members; the third honest member gets the record by state sync only. */
  async function keygen (coordinator: Coordinator): Promise<void> {
    await coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members: honest.slice(0, 2).map(n => n.peerId.toString()) })
  }

  it('gives every honest member new key records within a few seconds while a pull from the endless liar is under way on each', async () => {
    // As the liar's digest would: every honest member starts a pull from it, which it never ends by itself.
    const liarPulls = honest.map(n => n.sync.syncFrom(endless.peerId).then(() => 'ended', (err: Error) => err.message))
    const started = Date.now()
    await keygen(cluster.coordinator)
    const keygenMs = Date.now() - started
    await waitFor('every honest member has the key records', () => honest.every(n => converged(cluster, n)), CONVERGE_WITHIN_MS)
    console.log(`with both liars lying: keygen ${keygenMs} ms, every honest member converged ${Date.now() - started} ms after the keygen started`)
    // The pulls from the liar ended, at a cap, with its pages within the bound.
    expect(await Promise.race([Promise.all(liarPulls), sleep(CONVERGE_WITHIN_MS).then(() => 'still pulling')])).toEqual(honest.map(() => 'ended'))
    for (const node of honest) {
      const stats = node.sync.pullStats(endless.peerId)
      expect(stats.capped).toBeGreaterThanOrEqual(1)
      expect(stats.mostPages).toBeLessThanOrEqual(MAX_PAGES_PER_PULL)
      expect(node.sync.counters.capped).toBeGreaterThanOrEqual(1)
    }
    console.log(`pages asked of the endless liar in one pull: ${honest.map(n => n.sync.pullStats(endless.peerId).mostPages).join(', ')} (cap ${MAX_PAGES_PER_PULL})`)
  })

  it('pulls from a member whose digest is false at most once per digest interval, however often it publishes', async () => {
    const pullsBefore = honest.map(n => n.sync.pullStats(falseDigest.peerId).pulls)
    const throttledBefore = honest.map(n => n.sync.counters.throttled)
    const servedBefore = falseDigest.sync.counters.served
    const started = Date.now()
    let published = 0
    // A liar publishes as often as gossip lets it, not only once an interval.
    while (Date.now() - started < FLOOD_WINDOW_MS) {
      await falseDigest.sync.publishDigest()
      published++
      await sleep(FLOOD_EVERY_MS)
    }
    const elapsed = Date.now() - started
    // One pull per interval, plus one whose quiet time began before the window.
    const allowed = Math.ceil(elapsed / DEFAULT_DIGEST_INTERVAL_MS) + 1
    const pulls = honest.map((n, i) => n.sync.pullStats(falseDigest.peerId).pulls - pullsBefore[i]!)
    const served = falseDigest.sync.counters.served - servedBefore
    console.log(`false digests published: ${published} in ${elapsed} ms; pulls from the liar per honest member: ${pulls.join(', ')} (allowed ${allowed}); listRecords it served to everyone: ${served}`)
    for (const [i, node] of honest.entries()) {
      expect(pulls[i]).toBeGreaterThanOrEqual(1)
      expect(pulls[i]).toBeLessThanOrEqual(allowed)
      expect(node.sync.counters.throttled - throttledBefore[i]!).toBeGreaterThan(0)
    }
    // Everyone who pulls from it (the honest members, the coordinator, the other liar) asks one page a pull.
    const pullers = honest.length + 2
    expect(served).toBeLessThanOrEqual(pullers * allowed)
  })

  it('does not queue a pull from the coordinator behind pulls from members that answer slowly', async () => {
    const outsider = honest[2]!
    // More slow peers than member slots: every slot is held and one more pull waits.
    const slow: MpcLibp2p[] = await Promise.all(Array.from({ length: MAX_CONCURRENT_PULLS + 1 }, async () =>
      await createPeer({ privateKey: await generateKeyPair('Ed25519'), clusterId: cluster.init.clusterId, listen: ['/ip4/127.0.0.1/tcp/0'] })))
    try {
      for (const peer of slow) {
        await serveCommands(peer, {
          clusterId: () => cluster.init.clusterId,
          log,
          handlers: {
            listRecords: async () => { await sleep(SLOW_ANSWER_MS); return { records: [], more: false } },
            fetchRecords: async () => ({ records: [] })
          }
        })
        await joinAsMember(cluster, peer, outsider)
        await outsider.libp2p.peerStore.merge(peer.peerId, { multiaddrs: peer.getMultiaddrs() })
      }
      // Linked before the pulls start (the new members are dialled as the roster arrives; a pull
      // must not race that dial on a loaded host).
      for (const peer of slow) await outsider.libp2p.dial(peer.peerId)
      await sleep(200)
      const slowPulls = slow.map(peer => outsider.sync.syncFrom(peer.peerId).then(() => Date.now()))
      // Should the test fail before it awaits them, their end (at the latest when the peers stop) is not unhandled.
      for (const pull of slowPulls) pull.catch(() => {})
      await sleep(200)
      const started = Date.now()
      await keygen(cluster.coordinator)
      await waitFor('the outsider has the new key record', () => converged(cluster, outsider), CONVERGE_WITHIN_MS)
      const convergedAt = Date.now()
      console.log(`with ${slow.length} slow pulls under way the outsider converged ${convergedAt - started} ms after the keygen started`)
      const ended = await Promise.all(slowPulls)
      // The fifth slow pull waited for a slot: it ended one slow answer after the first four.
      expect(Math.max(...ended) - Math.min(...ended)).toBeGreaterThanOrEqual(SLOW_ANSWER_MS - 1_000)
      expect(Math.min(...ended)).toBeGreaterThan(convergedAt)
    } finally {
      await Promise.all(slow.map(async peer => { await peer.stop() }))
    }
  })

  it('keeps every honest member converging with a later key, and the test process\'s heap small, while both liars lie', async () => {
    const started = Date.now()
    await keygen(cluster.coordinator)
    await waitFor('every honest member has the later key records', () => honest.every(n => converged(cluster, n)), CONVERGE_WITHIN_MS)
    console.log(`later key: every honest member converged ${Date.now() - started} ms after the keygen started`)

    // Every pull from the endless liar, by anyone, stopped within the page cap, and the liar
    // served no more pages than that bound allows (plus one pull per puller under way now).
    const pullers = [cluster.coordinator, ...honest, falseDigest]
    const stats = pullers.map(p => p.sync.pullStats(endless.peerId))
    for (const s of stats) expect(s.mostPages).toBeLessThanOrEqual(MAX_PAGES_PER_PULL)
    const pulls = stats.reduce((sum, s) => sum + s.pulls, 0)
    const served = endless.sync.counters.served
    console.log(`endless liar: ${pulls} pulls from it, ${stats.reduce((sum, s) => sum + s.pages, 0)} pages asked, ${served} served, most in one pull ${Math.max(...stats.map(s => s.mostPages))}`)
    expect(served).toBeGreaterThan(0)
    expect(served).toBeLessThanOrEqual((pulls + pullers.length) * MAX_PAGES_PER_PULL)

    const heapAfter = heapAfterGc()
    console.log(`heap used after a full GC: ${MiB(heapBefore)} with the cluster up, ${MiB(heapAfter)} now (grew ${MiB(heapAfter - heapBefore)})`)
    expect(heapAfter - heapBefore).toBeLessThan(MAX_HEAP_GROWTH_BYTES)
  })
})
