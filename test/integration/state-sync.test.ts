import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { serveCommands } from '../../src/protocols/command.js'
import { KeyRecordBody } from '../../src/protocols/messages.js'
import { loadOrCreateIdentity } from '../../src/store/identity.js'
import { signRecord } from '../../src/protocols/records.js'
import { toHex } from '../../src/crypto/bytes.js'
import { rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { joinAsMember, log, restartNode, startCluster, verifiesExternally, waitAllUp, waitFor, type TestCluster } from '../helpers.js'
import type { MpcNode } from '../../src/peer/node.js'

/** True when the node holds the same synced records as the coordinator. */
function converged (cluster: TestCluster, node: MpcNode): boolean {
  return toHex(node.sync.digest().hash) === toHex(cluster.coordinator.sync.digest().hash) && node.roster.epoch === cluster.coordinator.roster.epoch
}

describe('state sync: every member converges on the coordinator\'s records', () => {
  let cluster: TestCluster

  beforeAll(async () => {
    cluster = await startCluster(3)
    await waitAllUp(cluster)
  })
  afterAll(async () => { await cluster.stop() })

  it('gives every member the key records, also of keys it does not hold, and status shows one state everywhere', async () => {
    const holders = cluster.nodes.slice(0, 2).map(n => n.peerId.toString())
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members: holders })
    const outsider = cluster.nodes[2]!
    await waitFor('every node has the key record', () => cluster.nodes.every(n => converged(cluster, n)))
    expect(await outsider.keys.get(key.id)).toEqual(key)
    expect(outsider.lostKeys).toEqual([])
    await waitFor('status shows every member at the coordinator\'s state', () => {
      const view = cluster.coordinator.cluster()
      return view.members.every(m => m.stateHash === view.stateHash)
    })
  })

  it('catches up a late joiner and a node that was away while keys and membership changed, with no operator action', async () => {
    const away = cluster.nodes[0]!
    const awayDir = away.dataDir
    await away.stop()
    // While it is away: a new member joins (new roster epoch) and a key is made without it.
    const late = await cluster.startNode('late')
    await waitAllUp(cluster, cluster.nodes.filter(n => n !== away))
    const others = [cluster.nodes[1]!, cluster.nodes[2]!].map(n => n.peerId.toString())
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 2, members: others })
    await waitFor('the late joiner converged', () => converged(cluster, late))
    expect(await late.keys.get(key.id)).toBeDefined()

    const started = Date.now()
    const back = await restartNode(cluster, away)
    cluster.nodes[0] = back
    expect(back.dataDir).toBe(awayDir)
    await waitFor('the returning node converged', () => converged(cluster, back), 15_000)
    console.log(`returning node converged ${Date.now() - started} ms after its restart`)
    expect(await back.keys.get(key.id)).toBeDefined()
    // ... and it has the events recorded while it was away: the same history as the coordinator.
    const history = async (): Promise<number[]> => (await cluster.coordinator.events(new URL('http://x/?limit=10000'))).map(e => e.seq)
    await waitFor('the returning node has the whole event history', async () => {
      const mine = await back.eventSeqs()
      const all = await history()
      return mine.length >= all.length && all.every((seq, i) => mine[i] === seq)
    }, 10_000)
  })

  it('rejoins after its store is wiped (identity kept), syncs the public state, names the keys it lost, and the cluster keeps signing', async () => {
    await waitAllUp(cluster)
    const holders = cluster.nodes.slice(0, 3)
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3, members: holders.map(n => n.peerId.toString()) })
    const wiped = holders[2]!
    const peerId = wiped.peerId.toString()
    await wiped.stop()
    await rm(join(wiped.dataDir, 'db'), { recursive: true, force: true })
    const back = await cluster.startNode(basename(wiped.dataDir))
    cluster.nodes.splice(cluster.nodes.indexOf(wiped), 1)
    expect(back.peerId.toString()).toBe(peerId)
    await waitFor('the wiped node synced the key records', () => converged(cluster, back), 15_000)
    await waitFor('it names the key it can no longer sign for', () => back.lostKeys.includes(key.id), 5_000)
    await waitFor('the coordinator shows the loss', () => (cluster.coordinator.cluster().members.find(m => m.peerId === peerId)?.keysLost ?? 0) >= 1, 5_000)
    const message = new TextEncoder().encode('still signing')
    const signed = await cluster.sign(key.id, message)
    expect(signed.signers).not.toContain(peerId)
    expect(verifiesExternally(key, message, signed.signature)).toBe(true)
  })

  it('settles two different records at one version the same way on every member, and the coordinator records a conflict naming the writer', async () => {
    const writerKey = await loadOrCreateIdentity(join(cluster.root, 'coordinator'))
    const node = cluster.nodes.find(n => n.libp2p.status === 'started')!
    const existing = node.records.all()[0]!
    // The writer signs a second, different body at the version every member already holds.
    const body = KeyRecordBody.decode(existing.signed.body)
    const other = await node.records.verify(await signRecord(writerKey, existing.signed.id, existing.signed.version, KeyRecordBody.encode({ ...body, createdAtMs: body.createdAtMs + 1 })))
    const outcome = await node.records.apply(other)
    expect(['conflict-kept', 'conflict-replaced']).toContain(outcome)
    const winner = toHex(existing.bodyHash) < toHex(other.bodyHash) ? existing : other
    expect(toHex(node.records.get(existing.signed.id)!.bodyHash)).toBe(toHex(winner.bodyHash))
    await waitFor('a conflict event naming the writer', async () => (await cluster.coordinator.events(new URL('http://x/?type=conflict'))).some(e =>
      e.peerId === node.peerId.toString() && e.culprits?.includes(cluster.coordinator.peerId.toString()) === true), 10_000)
  })

  it('commits a share whose key commit was lost, on the strength of the synced key record, and signs with it', async () => {
    const lossy = await cluster.startNode('lossy-commit', { faults: { dropKeyCommit: true } })
    await waitAllUp(cluster)
    const other = cluster.nodes.find(n => n !== lossy && n.libp2p.status === 'started')!
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 2, members: [lossy.peerId.toString(), other.peerId.toString()] })
    await waitFor('the lossy node activated its share from the record', async () => (await lossy.shares()).some(s => s.keyId === key.id && s.status === 'active'), 10_000)
    const message = new Uint8Array(32).fill(9)
    const signed = await cluster.sign(key.id, message)
    expect(signed.signers).toContain(lossy.peerId.toString())
    expect(verifiesExternally(key, message, signed.signature)).toBe(true)
  })

  it('refuses records that are forged, from a peer that serves them, and keeps its own', async () => {
    const node = cluster.nodes[2]!
    // Caught up first: a record of an earlier test still on its way must not pass for a forged one.
    await node.sync.syncFrom(cluster.coordinator.peerId)
    const before = toHex(node.sync.digest().hash)
    const rogueKey = await generateKeyPair('Ed25519')
    const rogue: MpcLibp2p = await createPeer({ privateKey: rogueKey, clusterId: cluster.init.clusterId, listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      const body = KeyRecordBody.encode({
        id: 'forged', scheme: 'ed25519', threshold: 1, holders: [rogue.peerId.toMultihash().bytes], groupPublicKey: new Uint8Array(32),
        publicPackage: new Uint8Array(), sessionId: 's', transcriptHash: new Uint8Array(32), createdAtMs: 1, holderSignatures: [new Uint8Array(64)]
      })
      // Signed by the rogue's own key, not the coordinator's.
      const forged = await signRecord(rogueKey, 'key:forged', 1, body)
      await serveCommands(rogue, {
        clusterId: () => cluster.init.clusterId,
        log,
        handlers: {
          listRecords: async () => ({ records: [{ id: forged.id, version: 1, bodyHash: new Uint8Array(32) }], more: false }),
          fetchRecords: async () => ({ records: [forged] })
        }
      })
      // The rogue is a member (it joined with an invitation): nodes pull only from members.
      await joinAsMember(cluster, rogue, node)
      await node.libp2p.peerStore.merge(rogue.peerId, { multiaddrs: rogue.getMultiaddrs() })
      const refusedBefore = node.sync.counters.refused
      // Asked while a pull from the coordinator is under way, the pull from the rogue still happens (beside it: pulls from different peers do not wait for each other).
      await Promise.all([node.sync.syncFrom(cluster.coordinator.peerId), node.sync.syncFrom(rogue.peerId)])
      expect(node.sync.counters.refused).toBe(refusedBefore + 1)
      expect(await node.keys.get('forged')).toBeUndefined()
      expect(toHex(node.sync.digest().hash)).toBe(before)
    } finally {
      await rogue.stop()
    }
  })
})
