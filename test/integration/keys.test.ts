import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ShareVault } from '../../src/state/share-vault.js'
import { Store } from '../../src/store/store.js'
import { memberState, messageFor, restartNode, startCluster, VAULT, verifiesExternally, waitAllUp, waitFor, type TestCluster } from '../helpers.js'
import type { SignResult } from '../../src/coordinator/tasks.js'
import type { MpcNode } from '../../src/peer/node.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

async function filesUnder (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
}

describe('threshold keys on real peers', () => {
  let cluster: TestCluster
  const byPeer = (peerId: string): MpcNode => {
    const node = cluster.nodes.find(n => n.peerId.toString() === peerId)
    if (node === undefined) throw new Error(`no node ${peerId}`)
    return node
  }

  beforeAll(async () => {
    cluster = await startCluster(5)
    await waitAllUp(cluster)
  })
  afterAll(async () => { await cluster.stop() })

  describe.each([
    { scheme: 'ed25519' as const, threshold: 2, parties: 3 },
    { scheme: 'taproot' as const, threshold: 2, parties: 3 },
    { scheme: 'ed25519' as const, threshold: 3, parties: 5 },
    { scheme: 'taproot' as const, threshold: 3, parties: 5 }
  ])('DKG $scheme $threshold-of-$parties', ({ scheme, threshold, parties }) => {
    it('gives every holder an active share of the recorded group key, and signs', async () => {
      await waitAllUp(cluster)
      const before = await cluster.coordinator.keys.list()
      const key = await cluster.coordinator.tasks.keygen({ scheme, threshold, parties })
      expect(key).toMatchObject({ scheme, threshold })
      expect(key.holders).toHaveLength(parties)
      expect(new Set(key.holders).size).toBe(parties)
      expect([...key.holders].sort()).toEqual(key.holders)
      expect(await cluster.coordinator.keys.get(key.id)).toEqual(key)
      expect((await cluster.coordinator.keys.list()).map(k => k.id)).toEqual([...before.map(k => k.id), key.id])
      expect(key.groupPublicKey).toMatch(scheme === 'ed25519' ? /^[0-9a-f]{64}$/ : /^0[23][0-9a-f]{64}$/)

      for (const holder of key.holders) {
        const share = (await byPeer(holder).shares()).find(s => s.keyId === key.id)
        expect(share, `share of ${key.id} on ${holder}`).toMatchObject({
          keyId: key.id, scheme, status: 'active', groupPublicKey: key.groupPublicKey, sessionId: key.sessionId
        })
      }
      // Nodes that are not holders have nothing of it.
      for (const other of cluster.nodes.filter(n => !key.holders.includes(n.peerId.toString()))) {
        expect((await other.shares()).map(s => s.keyId)).not.toContain(key.id)
      }

      const message = messageFor(scheme, `dkg ${scheme} ${threshold}-of-${parties}`)
      const result = await cluster.sign(key.id, message)
      expect(result.signers).toHaveLength(threshold)
      expect(key.holders).toEqual(expect.arrayContaining(result.signers))
      expect(verifiesExternally(key, message, result.signature)).toBe(true)
    })
  })

  it('keeps no signing share in plaintext (bytes or hex) anywhere in a holder\'s store files', async () => {
    await waitAllUp(cluster)
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    const holder = byPeer(key.holders[1]!)
    await holder.stop()

    const store = await Store.open(holder.dataDir)
    let signingShare: Uint8Array
    try {
      const vault = await ShareVault.open(store, VAULT.passphrase, holder.peerId.toString())
      const loaded = await vault.loadShare(key.id)
      expect(loaded?.record.status).toBe('active')
      signingShare = new Uint8Array(loaded!.key.secret.signingShare)
    } finally {
      await store.close()
    }
    expect(signingShare.length).toBe(32)

    const files = await filesUnder(join(holder.dataDir, 'db'))
    expect(files.length).toBeGreaterThan(0)
    let bytesSeen = 0
    const needles = [Buffer.from(signingShare), Buffer.from(hex(signingShare)), Buffer.from(hex(signingShare).toUpperCase()), Buffer.from(signingShare).reverse()]
    for (const file of files) {
      const content = await readFile(file)
      bytesSeen += content.length
      for (const needle of needles) expect(content.indexOf(needle), `${file} holds the signing share`).toBe(-1)
    }
    // The store is not empty: the share is in there, sealed.
    expect(bytesSeen).toBeGreaterThan(signingShare.length)

    // Back up, it still signs with the key.
    await restartNode(cluster, holder)
    const message = messageFor('ed25519', 'after a restart')
    const result = await cluster.sign(key.id, message)
    expect(verifiesExternally(key, message, result.signature)).toBe(true)
  })

  it('runs keygens and signings of one key concurrently, each to its own valid result', async () => {
    await waitAllUp(cluster)
    const keys = await Promise.all(['taproot', 'taproot', 'ed25519'].map(async scheme =>
      await cluster.coordinator.tasks.keygen({ scheme, threshold: 2, parties: 3 })))
    expect(new Set(keys.map(k => k.groupPublicKey)).size).toBe(3)
    const key = keys[0]!
    const messages = [1, 2, 3, 4].map(i => messageFor(key.scheme, `concurrent ${i}`))
    const results = await Promise.all(messages.map(async m => await cluster.sign(key.id, m)))
    results.forEach((r, i) => { expect(verifiesExternally(key, messages[i]!, r.signature)).toBe(true) })
    expect(new Set(results.map(r => r.sessionId)).size).toBe(4)
  })

  it('signs with different pairs of holders of a 2-of-3 key, for both schemes, each signature valid under its group key', async () => {
    await waitAllUp(cluster)
    // The same three of the five nodes hold an Ed25519 and a Taproot key.
    const members = cluster.nodes.slice(0, 3).map(n => n.peerId.toString())
    const keys = [
      await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3, members }),
      await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3, members })
    ]
    const holders = keys[0]!.holders
    for (const key of keys) expect(key.holders).toEqual([...members].sort())
    const results = new Map<string, SignResult[]>(keys.map(k => [k.id, []]))
    const signWithBoth = async (label: string, without?: string): Promise<void> => {
      for (const key of keys) {
        const message = messageFor(key.scheme, `${key.scheme} ${label}`)
        const result = await cluster.sign(key.id, message)
        expect(result.message).toEqual(message)
        expect(result.signers).toHaveLength(2)
        expect(verifiesExternally(key, message, result.signature), `${key.scheme} signature by ${result.signers.join(',')}`).toBe(true)
        if (without !== undefined) {
          expect([...result.signers].sort()).toEqual(holders.filter(h => h !== without))
          // A holder the coordinator sees down is not asked at all.
          expect(result.attempts).toBe(1)
        }
        results.get(key.id)!.push(result)
      }
    }
    const stopAndWaitDown = async (peerId: string): Promise<MpcNode> => {
      const node = byPeer(peerId)
      await node.stop()
      await waitFor(`${peerId} down`, () => memberState(cluster, peerId) === 'down')
      return node
    }

    await signWithBoth('all up')
    const first = await stopAndWaitDown(holders[0]!)
    await signWithBoth('without holder 1', holders[0])
    await restartNode(cluster, first)
    const second = await stopAndWaitDown(holders[1]!)
    await signWithBoth('without holder 2', holders[1])
    await restartNode(cluster, second)

    for (const key of keys) {
      const done = results.get(key.id)!
      expect(done).toHaveLength(3)
      const subsets = new Set(done.map(r => [...r.signers].sort().join(',')))
      expect(subsets.size, `${key.scheme} signer subsets`).toBe(3)
      expect(new Set(done.map(r => r.sessionId)).size).toBe(3)
    }
  })
})
