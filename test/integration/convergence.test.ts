import { afterAll, describe, expect, it } from 'vitest'
import { toHex } from '../../src/crypto/bytes.js'
import { restartNode, startCluster, verifiesExternally, waitAllUp, waitFor, type TestCluster } from '../helpers.js'
import type { KeyRecord } from '../../src/state/key-registry.js'
import type { MpcNode } from '../../src/peer/node.js'

/** A small seeded PRNG (mulberry32), so that a failing run can be replayed with its seed. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('convergence under churn', () => {
  let cluster: TestCluster
  afterAll(async () => { await cluster.stop() })

  it('ends with every member at the same roster and records, and every key signing, after stops, restarts, joins and keygens', async () => {
    const seed = Number(process.env.CHURN_SEED ?? Date.now() % 100_000)
    const random = prng(seed)
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!
    cluster = await startCluster(5, { keygenTimeoutMs: 5_000, signRoundTimeoutMs: 2_000 })
    await waitAllUp(cluster)
    const stopped = new Set<MpcNode>()
    const keys: KeyRecord[] = []
    let joined = 0
    const log: string[] = []

    for (let round = 0; round < 8; round++) {
      const running = cluster.nodes.filter(n => !stopped.has(n))
      const action = random()
      if (action < 0.3 && running.length > 3) {
        const victim = pick(running)
        await victim.stop()
        stopped.add(victim)
        log.push(`stop ${victim.peerId.toString().slice(-6)}`)
      } else if (action < 0.5 && stopped.size > 0) {
        const back = pick([...stopped])
        stopped.delete(back)
        cluster.nodes[cluster.nodes.indexOf(back)] = await restartNode(cluster, back)
        log.push('restart')
      } else if (action < 0.6 && joined < 2) {
        await cluster.startNode(`joiner-${++joined}`)
        log.push('join')
      } else {
        // A keygen among members up now; it may fail if one of them stops meanwhile, which is fine.
        await waitAllUp(cluster, running, 10_000).catch(() => {})
        const members = running.slice(0, 3).map(n => n.peerId.toString())
        const keygen = cluster.coordinator.tasks.keygen({ scheme: random() < 0.5 ? 'ed25519' : 'taproot', threshold: 2, parties: 3, members })
        if (random() < 0.3 && running.length > 4) {
          const bystander = running[4]!
          await bystander.stop()
          stopped.add(bystander)
          log.push(`stop during keygen ${bystander.peerId.toString().slice(-6)}`)
        }
        await keygen.then(k => { keys.push(k); log.push(`keygen ${k.scheme}`) }, (err: Error) => { log.push(`keygen failed: ${err.message.slice(0, 60)}`) })
      }
    }

    // Everyone comes back; with no operator action, all converge.
    for (const node of stopped) cluster.nodes[cluster.nodes.indexOf(node)] = await restartNode(cluster, node)
    const target = (): { epoch: number, hash: string } => ({ epoch: cluster.coordinator.roster.epoch, hash: toHex(cluster.coordinator.sync.digest().hash) })
    await waitFor(`every member converged (seed ${seed}: ${log.join('; ')})`, () =>
      cluster.nodes.every(n => n.roster.epoch === target().epoch && toHex(n.sync.digest().hash) === target().hash), 20_000)
    // The key records and one record per policy version.
    expect(cluster.coordinator.sync.digest().records).toBe(keys.length + cluster.coordinator.policyVersion)
    await waitAllUp(cluster)
    for (const key of keys) {
      const message = key.scheme === 'taproot' ? new Uint8Array(32).fill(keys.indexOf(key) + 1) : new TextEncoder().encode(`after churn ${key.id}`)
      const signed = await cluster.sign(key.id, message).catch((err: Error) => { throw new Error(`${err.message} (seed ${seed}: ${log.join('; ')})`) })
      expect(verifiesExternally(key, message, signed.signature), `key ${key.id} (seed ${seed})`).toBe(true)
    }
  })
})
