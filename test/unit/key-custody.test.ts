import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { frostSuite, participantIdentifier } from '../../src/crypto/index.js'
import { toHex } from '../../src/crypto/bytes.js'
import { createLogger } from '../../src/log.js'
import { PENDING_SHARE_TTL_MS } from '../../src/peer/constants.js'
import { KeyCustody } from '../../src/peer/key-custody.js'
import { KeyRecordBody } from '../../src/protocols/messages.js'
import { agreementBytes, signRecord } from '../../src/protocols/records.js'
import { KeyRegistry } from '../../src/state/key-registry.js'
import { PolicyBook } from '../../src/state/policy-book.js'
import { RecordBook } from '../../src/state/record-book.js'
import { ShareVault, type ShareStatus } from '../../src/state/share-vault.js'
import { Store } from '../../src/store/store.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const CLUSTER = 'mpc-custody'
const COST = { logN: 4, r: 1, p: 1 }
const log = createLogger('silent')

const ids = [1, 2, 3].map(i => participantIdentifier('ed25519', i))
const deal = frostSuite('ed25519').trustedDealer({ min: 2, max: 3 }, ids)
const dealtKey = { public: deal.public, secret: deal.secretShares[ids[0]!]! }
const groupKeyOf = (keyId: string): Uint8Array => new TextEncoder().encode(keyId.padEnd(32, '.')).subarray(0, 32)

describe('key custody: held and lost keys, kept up to date change by change', () => {
  let dir: string
  let store: Store
  let vault: ShareVault
  let records: RecordBook
  let keys: KeyRegistry
  let coordinatorKey: PrivateKey
  let selfKey: PrivateKey
  let otherKey: PrivateKey
  let self: PeerId
  let custody: KeyCustody
  let created = 0

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpcw-custody-'))
    store = await Store.open(dir)
    coordinatorKey = await generateKeyPair('Ed25519')
    selfKey = await generateKeyPair('Ed25519')
    otherKey = await generateKeyPair('Ed25519')
    self = peerIdFromPrivateKey(selfKey)
    vault = await ShareVault.open(store, 'pass', self.toString(), COST)
    records = new RecordBook(store, CLUSTER, peerIdFromPrivateKey(coordinatorKey), await PolicyBook.open(store, CLUSTER))
    keys = new KeyRegistry(records)
    custody = new KeyCustody({ vault, records, keys, self, log })
  })
  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** The coordinator's record of a key, countersigned by its holders (this node among them when `mine`). */
  async function record (keyId: string, opts: { mine: boolean, sessionId?: string, version?: number }): Promise<void> {
    const holders = opts.mine ? [selfKey, otherKey] : [otherKey]
    const sessionId = opts.sessionId ?? `s-${keyId}`
    const transcriptHash = new Uint8Array(32).fill(2)
    const agreed = agreementBytes(CLUSTER, keyId, sessionId, groupKeyOf(keyId), transcriptHash)
    const body = KeyRecordBody.encode({
      id: keyId, scheme: 'ed25519', threshold: 1, holders: holders.map(k => peerIdFromPrivateKey(k).toMultihash().bytes), groupPublicKey: groupKeyOf(keyId),
      publicPackage: new Uint8Array([9]), sessionId, transcriptHash, createdAtMs: ++created, holderSignatures: await Promise.all(holders.map(async k => await k.sign(agreed)))
    })
    await records.apply(await records.verify(await signRecord(coordinatorKey, `key:${keyId}`, opts.version ?? 1, body)))
  }

  async function share (keyId: string, status: ShareStatus, opts: { sessionId?: string, createdAtMs?: number } = {}): Promise<void> {
    await vault.saveShare({ keyId, scheme: 'ed25519', sessionId: opts.sessionId ?? `s-${keyId}`, status, groupPublicKey: toHex(groupKeyOf(keyId)), createdAtMs: opts.createdAtMs ?? Date.now() }, dealtKey)
  }

  /** The counts as the custody made them before (a full recount from the vault and every record). */
  async function recounted (): Promise<{ held: number, lost: string[] }> {
    const shares = await vault.listShares()
    const holding = new Set(shares.map(s => s.keyId))
    const lost = (await keys.list()).filter(k => k.holders.includes(self.toString()) && !holding.has(k.id)).map(k => k.id)
    return { held: shares.filter(s => s.status === 'active').length, lost }
  }

  const counts = (): { held: number, lost: string[] } => ({ held: custody.keysHeld, lost: custody.keysLost })

  it('counts active shares and the keys this node holds no share of', async () => {
    await custody.count()
    expect(counts()).toEqual({ held: 0, lost: [] })
    await record('k1', { mine: true })
    await record('k2', { mine: false })
    await custody.count()
    expect(counts()).toEqual({ held: 0, lost: ['k1'] })
    expect(custody.keysLostCount).toBe(1)
    await share('k1', 'active')
    await custody.count()
    expect(counts()).toEqual({ held: 1, lost: [] })
    await vault.discardShare('k1')
    await custody.count()
    expect(counts()).toEqual({ held: 0, lost: ['k1'] })
    await record('k3', { mine: true })
    await custody.count()
    expect(counts()).toEqual({ held: 0, lost: ['k1', 'k3'] })
    expect(counts()).toEqual(await recounted())
  })

  it('commits a pending share by its matching record, keeps one whose record differs, and drops one never recorded', async () => {
    await share('p1', 'pending')
    await share('p2', 'pending', { sessionId: 'another-session' })
    await share('p3', 'pending', { createdAtMs: Date.now() - PENDING_SHARE_TTL_MS - 1 })
    await share('p4', 'pending')
    await custody.count()
    // p3's keygen was never recorded: discarded; the others wait (a pending share is no key lost either)
    expect(await vault.shareRecord('p3')).toBeUndefined()
    expect(counts()).toEqual({ held: 0, lost: [] })
    await record('p1', { mine: true })
    await record('p2', { mine: true })
    await custody.count()
    expect((await vault.shareRecord('p1'))?.status).toBe('active')
    expect((await vault.shareRecord('p2'))?.status).toBe('pending')
    expect((await vault.shareRecord('p4'))?.status).toBe('pending')
    expect(counts()).toEqual({ held: 1, lost: [] })
    expect(counts()).toEqual(await recounted())
  })

  it('looks only at what changed: no listing of the shares unless the vault changed, no records decoded unless applied since', async () => {
    await share('a', 'active')
    await record('a', { mine: true })
    await custody.count()
    const listShares = vi.spyOn(vault, 'listShares')
    const all = vi.spyOn(records, 'all')
    const get = vi.spyOn(keys, 'get')
    const list = vi.spyOn(keys, 'list')
    for (let i = 0; i < 5; i++) await custody.count()
    expect(listShares).not.toHaveBeenCalled()
    expect(all).not.toHaveBeenCalled()
    await record('b', { mine: true })
    await custody.count()
    expect(listShares).not.toHaveBeenCalled()
    expect(all).toHaveBeenCalledTimes(1)
    expect(counts()).toEqual({ held: 1, lost: ['b'] })
    await share('b', 'active')
    await custody.count()
    expect(listShares).toHaveBeenCalledTimes(1)
    expect(counts()).toEqual({ held: 2, lost: [] })
    // settling a pending share is the custody's own change: no new listing for it
    await share('c', 'pending')
    await record('c', { mine: true })
    await custody.count()
    expect(listShares).toHaveBeenCalledTimes(2)
    expect(counts()).toEqual({ held: 3, lost: [] })
    await custody.count()
    expect(listShares).toHaveBeenCalledTimes(2)
    expect(list).not.toHaveBeenCalled()
    expect(get).toHaveBeenCalledTimes(1) // c's record, once, to settle it
  })

  it('follows a record replaced by a newer version that no longer names this node', async () => {
    await record('k', { mine: true })
    await custody.count()
    expect(counts().lost).toEqual(['k'])
    await record('k', { mine: false, version: 2 })
    await custody.count()
    expect(counts()).toEqual({ held: 0, lost: [] })
  })

  it.each([7, 11, 2024])('agrees with a full recount through any sequence of changes, with counts asked concurrently (seed %i)', async (first) => {
    let seed = first
    const next = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    const keyIds = ['a', 'b', 'c', 'd', 'e', 'f']
    const version = new Map<string, number>()
    for (let step = 0; step < 120; step++) {
      const keyId = keyIds[next(keyIds.length)]!
      const op = next(5)
      if (op === 0) await share(keyId, next(2) === 0 ? 'active' : 'pending')
      else if (op === 1) await vault.discardShare(keyId)
      else if (op === 2) await vault.setStatus(keyId, 'active')
      else {
        const v = (version.get(keyId) ?? 0) + 1
        version.set(keyId, v)
        await record(keyId, { mine: next(3) !== 0, version: v })
      }
      if (next(3) === 0) {
        await Promise.all([custody.count(), custody.count(), custody.count()])
        expect(counts(), `step ${step}`).toEqual(await recounted())
      }
    }
    await custody.count()
    expect(counts()).toEqual(await recounted())
  })

  describe('key versions (refresh, reshare, repair)', () => {
    const nextShare = async (keyId: string, sessionId: string, version: number, createdAtMs = Date.now()): Promise<void> => {
      await vault.saveNextShare({ keyId, scheme: 'ed25519', sessionId, status: 'pending', groupPublicKey: toHex(groupKeyOf(keyId)), createdAtMs, version }, dealtKey)
    }

    it('promotes the next share named by the record of the new version, in place of the old one', async () => {
      await record('k1', { mine: true })
      await share('k1', 'active')
      await custody.count()
      await nextShare('k1', 's-k1-v2', 2)
      await custody.count()
      expect((await vault.shareRecord('k1'))!.sessionId).toBe('s-k1')
      await record('k1', { mine: true, sessionId: 's-k1-v2', version: 2 })
      await custody.count()
      const active = (await vault.shareRecord('k1'))!
      expect(active).toMatchObject({ sessionId: 's-k1-v2', status: 'active', version: 2 })
      expect(await vault.nextShareRecord('k1')).toBeUndefined()
      expect(counts()).toEqual({ held: 1, lost: [] })
    })

    it('drops a next share that a newer record passed over, or that no record committed in time, and keeps one that may still be', async () => {
      await record('k1', { mine: true })
      await share('k1', 'active')
      await nextShare('k1', 's-other', 2)
      await record('k1', { mine: true, sessionId: 's-k1-v2', version: 2 })
      await custody.count()
      expect(await vault.nextShareRecord('k1')).toBeUndefined()
      // No record of version 3 yet: kept while the change may still commit, dropped after the TTL.
      await record('k2', { mine: true })
      await share('k2', 'active')
      await nextShare('k2', 's-k2-v2', 2)
      await record('k3', { mine: false })
      await custody.count()
      expect((await vault.nextShareRecord('k2'))?.sessionId).toBe('s-k2-v2')
      // After the TTL, looked at again at the next start (a new custody: every key is looked at).
      await nextShare('k2', 's-k2-v2', 2, Date.now() - PENDING_SHARE_TTL_MS - 1)
      await new KeyCustody({ vault, records, keys, self, log }).count()
      expect(await vault.nextShareRecord('k2')).toBeUndefined()
      expect((await vault.shareRecord('k2'))!.sessionId).toBe('s-k2')
    })

    it('erases the old share once a newer record no longer names this node, or names it but it missed the change (then the key is lost here)', async () => {
      await record('k1', { mine: true })
      await record('k2', { mine: true })
      await share('k1', 'active')
      await share('k2', 'active')
      await custody.count()
      expect(counts().held).toBe(2)
      await record('k1', { mine: false, sessionId: 's-k1-v2', version: 2 })
      await record('k2', { mine: true, sessionId: 's-k2-v2', version: 2 })
      await custody.count()
      expect(await vault.shareRecord('k1')).toBeUndefined()
      // Still a holder of k2 at version 2 without its share of it: the old one is of no use, and k2 shows as lost.
      expect(await vault.shareRecord('k2')).toBeUndefined()
      expect(counts()).toEqual({ held: 0, lost: ['k2'] })
    })
  })
})
