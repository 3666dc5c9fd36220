import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PolicyBook } from '../../src/state/policy-book.js'
import { RecordBook } from '../../src/state/record-book.js'
import { KeyRecordBody } from '../../src/protocols/messages.js'
import { agreementBytes, digestOf, openKeyRecord, RecordVerificationError, signRecord } from '../../src/protocols/records.js'
import { toHex } from '../../src/crypto/bytes.js'
import { Store } from '../../src/store/store.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const CLUSTER = 'mpc-records'

describe('synced key records', () => {
  let coordinatorKey: PrivateKey
  let coordinator: PeerId
  let holderKeys: PrivateKey[]
  let dir: string
  let store: Store

  beforeEach(async () => {
    coordinatorKey = await generateKeyPair('Ed25519')
    coordinator = peerIdFromPrivateKey(coordinatorKey)
    holderKeys = [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519')]
    dir = await mkdtemp(join(tmpdir(), 'mpcw-records-'))
    store = await Store.open(dir)
  })
  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function keyBody (id: string, groupKey = new Uint8Array(32).fill(1), sign = holderKeys, chainCodes: { signed?: Uint8Array, recorded?: Uint8Array } = {}): Promise<Uint8Array> {
    const transcriptHash = new Uint8Array(32).fill(2)
    const agreed = agreementBytes(CLUSTER, id, 'session', groupKey, transcriptHash, chainCodes.signed)
    return KeyRecordBody.encode({
      id, scheme: 'ed25519', threshold: 2, holders: holderKeys.map(k => peerIdFromPrivateKey(k).toMultihash().bytes), groupPublicKey: groupKey,
      publicPackage: new Uint8Array([9]), sessionId: 'session', transcriptHash, createdAtMs: 1, holderSignatures: await Promise.all(sign.map(async k => await k.sign(agreed))),
      chainCode: chainCodes.recorded ?? new Uint8Array()
    })
  }

  it('takes an HD key\'s chain code only as the holders countersigned it: the coordinator cannot choose another', async () => {
    const expect_ = { clusterId: CLUSTER, coordinator }
    const chainCode = new Uint8Array(32).fill(5)
    const agreed = await openKeyRecord(await signRecord(coordinatorKey, 'key:hd', 1, await keyBody('hd', undefined, holderKeys, { signed: chainCode, recorded: chainCode })), expect_)
    expect(agreed.body.chainCode).toEqual(chainCode)
    const swapped = await signRecord(coordinatorKey, 'key:hd', 1, await keyBody('hd', undefined, holderKeys, { signed: chainCode, recorded: new Uint8Array(32).fill(6) }))
    await expect(openKeyRecord(swapped, expect_)).rejects.toThrow(/did not countersign/)
    const added = await signRecord(coordinatorKey, 'key:hd', 1, await keyBody('hd', undefined, holderKeys, { recorded: chainCode }))
    await expect(openKeyRecord(added, expect_)).rejects.toThrow(/did not countersign/)
  })

  it('accepts a record signed by the coordinator and countersigned by every holder', async () => {
    const signed = await signRecord(coordinatorKey, 'key:k1', 1, await keyBody('k1'))
    const record = await openKeyRecord(signed, { clusterId: CLUSTER, coordinator })
    expect(record.body.id).toBe('k1')
    expect(record.holders.map(String)).toEqual(holderKeys.map(k => peerIdFromPrivateKey(k).toString()))
  })

  it('refuses a record from another writer, a tampered one, one a holder did not countersign, and one under another id', async () => {
    const expect_ = { clusterId: CLUSTER, coordinator }
    const stranger = await generateKeyPair('Ed25519')
    await expect(openKeyRecord(await signRecord(stranger, 'key:k1', 1, await keyBody('k1')), expect_)).rejects.toThrow(RecordVerificationError)
    const good = await signRecord(coordinatorKey, 'key:k1', 1, await keyBody('k1'))
    const tampered = { ...good, body: Uint8Array.from(good.body, (b, i) => i === good.body.length - 1 ? b ^ 1 : b) }
    await expect(openKeyRecord(tampered, expect_)).rejects.toThrow()
    await expect(openKeyRecord({ ...good, version: 2 }, expect_)).rejects.toThrow(RecordVerificationError)
    const oneSigner = await signRecord(coordinatorKey, 'key:k1', 1, await keyBody('k1', undefined, [holderKeys[0]!, holderKeys[0]!]))
    await expect(openKeyRecord(oneSigner, expect_)).rejects.toThrow(/did not countersign/)
    await expect(openKeyRecord(await signRecord(coordinatorKey, 'key:other', 1, await keyBody('k1')), expect_)).rejects.toThrow(RecordVerificationError)
    await expect(openKeyRecord(good, { clusterId: 'mpc-elsewhere', coordinator })).rejects.toThrow(/did not countersign/)
  })

  it('keeps the newer version, ignores a stale one, and settles a conflict the same way everywhere', async () => {
    const book = new RecordBook(store, CLUSTER, coordinator, await PolicyBook.open(store, CLUSTER))
    const v1 = await book.verify(await signRecord(coordinatorKey, 'key:k1', 1, await keyBody('k1')))
    const v2 = await book.verify(await signRecord(coordinatorKey, 'key:k1', 2, await keyBody('k1', new Uint8Array(32).fill(3))))
    expect(await book.apply(v1)).toBe('added')
    expect(await book.apply(v1)).toBe('unchanged')
    expect(await book.apply(v2)).toBe('updated')
    expect(await book.apply(v1)).toBe('stale')
    expect(book.get('key:k1')?.signed.version).toBe(2)

    // Two different bodies at one version from the same writer: the lower body hash wins.
    const a = await book.verify(await signRecord(coordinatorKey, 'key:k2', 1, await keyBody('k2', new Uint8Array(32).fill(4))))
    const b = await book.verify(await signRecord(coordinatorKey, 'key:k2', 1, await keyBody('k2', new Uint8Array(32).fill(5))))
    const [low, high] = toHex(a.bodyHash) < toHex(b.bodyHash) ? [a, b] : [b, a]
    expect(await book.apply(high)).toBe('added')
    expect(await book.apply(low)).toBe('conflict-replaced')
    expect(await book.apply(high)).toBe('conflict-kept')
    expect(book.conflicts).toBe(2)
    expect(toHex(book.get('key:k2')!.bodyHash)).toBe(toHex(low.bodyHash))

    // What was applied survives a reopen, and the digest is the same.
    const digest = book.digest(5)
    await store.close()
    store = await Store.open(dir)
    const reopened = new RecordBook(store, CLUSTER, coordinator, await PolicyBook.open(store, CLUSTER))
    await reopened.load()
    expect(reopened.digest(5)).toEqual(digest)
  })

  it('digests the same records the same way in any order, and differently when anything differs', () => {
    const e = (id: string, version: number, fill: number): { id: string, version: number, bodyHash: Uint8Array } => ({ id, version, bodyHash: new Uint8Array(32).fill(fill) })
    const d1 = digestOf(3, [e('key:a', 1, 1), e('key:b', 1, 2)])
    expect(digestOf(3, [e('key:b', 1, 2), e('key:a', 1, 1)])).toEqual(d1)
    expect(toHex(digestOf(3, [e('key:a', 2, 1), e('key:b', 1, 2)]).hash)).not.toBe(toHex(d1.hash))
    expect(toHex(digestOf(3, [e('key:a', 1, 1), e('key:b', 1, 3)]).hash)).not.toBe(toHex(d1.hash))
    expect(digestOf(3, []).records).toBe(0)
  })
})
