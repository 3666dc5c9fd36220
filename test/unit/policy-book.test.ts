import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { adminSetHash, encodeDocument, parsePolicy, policyBytes, type AdminSet, type Policy, type SignedPolicy } from '../../src/protocols/policy.js'
import { policyRecordId, signRecord } from '../../src/protocols/records.js'
import { PolicyBook } from '../../src/state/policy-book.js'
import { RecordBook } from '../../src/state/record-book.js'
import { Store } from '../../src/store/store.js'
import { personKey, tempDir } from '../helpers.js'
import type { PrivateKey } from '@libp2p/interface'

const CLUSTER = 'mpc-book'
const admins = [personKey(), personKey(), personKey()]
const root: AdminSet = { keys: admins.map(a => a.pub).sort(), quorum: 2 }

function version (v: number, set: AdminSet = root): Policy {
  return parsePolicy({ version: v, clusterId: CLUSTER, admins: set, clients: [], keys: {} })
}
function signed (p: Policy, by: Array<{ pub: string, sign: (d: Uint8Array) => string }>): SignedPolicy {
  return { policy: p, signatures: Object.fromEntries(by.map(a => [a.pub, a.sign(policyBytes(p))])) }
}

let dir: Awaited<ReturnType<typeof tempDir>>
let store: Store
let coordinatorKey: PrivateKey

/** The books a peer opens at its start: the policy book, fed by the record book's policy records. */
async function open (): Promise<{ policies: PolicyBook, records: RecordBook }> {
  const policies = await PolicyBook.open(store, CLUSTER)
  const records = new RecordBook(store, CLUSTER, peerIdFromPrivateKey(coordinatorKey), policies)
  await records.load()
  return { policies, records }
}

/** A policy version as the coordinator publishes it: a synced record; applied as any peer applies one. */
async function publish (records: RecordBook, doc: SignedPolicy): Promise<string> {
  return await records.apply(await records.verify(await signRecord(coordinatorKey, policyRecordId(doc.policy.version), 1, encodeDocument(doc))))
}

beforeEach(async () => {
  dir = await tempDir('mpcw-policy-book-')
  store = await Store.open(dir.path)
  coordinatorKey = await generateKeyPair('Ed25519')
})
afterEach(async () => {
  await store.close()
  await dir[Symbol.asyncDispose]()
})

describe('the policy book', () => {
  it('takes version 1 signed by a quorum of the root admins, then each next version; keeps them across a restart', async () => {
    const { policies, records } = await open()
    await expect(publish(records, signed(version(1), admins))).rejects.toThrow(/no admin set is trusted/)
    await policies.setRoot(root, adminSetHash(root))
    await expect(publish(records, signed(version(1), admins.slice(0, 1)))).rejects.toMatchObject({ rule: 'quorum' })
    await expect(publish(records, signed(version(2), admins))).rejects.toMatchObject({ rule: 'skipped-version' })
    expect(policies.version).toBe(0)
    expect(records.all()).toEqual([])
    expect(await publish(records, signed(version(1), admins.slice(1)))).toBe('added')
    expect(await publish(records, signed(version(2), admins))).toBe('added')
    expect(policies.version).toBe(2)
    await expect(publish(records, signed(version(2, { keys: [admins[0]!.pub], quorum: 1 }), admins))).resolves.toBe('conflict-kept')
    expect(policies.current).toEqual(version(2))

    await store.close()
    store = await Store.open(dir.path)
    const reopened = await open()
    expect(reopened.policies.version).toBe(2)
    expect(reopened.policies.document?.policy).toEqual(version(2))
    await expect(publish(reopened.records, signed(version(2), admins))).resolves.toBe('unchanged')
    await expect(reopened.policies.setRoot({ keys: [admins[0]!.pub], quorum: 1 })).rejects.toThrow(/another admin set/)
  })

  it('refuses a root that is not the one the invitation names', async () => {
    const { policies } = await open()
    const other: AdminSet = { keys: [personKey().pub], quorum: 1 }
    await expect(policies.setRoot(other, adminSetHash(root))).rejects.toThrow(/not the one the invitation names/)
    expect(policies.rootAdmins).toBeUndefined()
  })

  it('hands the admin role over only with the old admins\' signatures', async () => {
    const { policies, records } = await open()
    await policies.setRoot(root)
    const next = [personKey()]
    const nextSet: AdminSet = { keys: [next[0]!.pub], quorum: 1 }
    await expect(publish(records, signed(version(1, nextSet), next))).rejects.toMatchObject({ rule: 'quorum' })
    await publish(records, signed(version(1, nextSet), admins.slice(0, 2)))
    // From now on the new admin alone signs, and the old ones no longer can.
    await expect(publish(records, signed(version(2, nextSet), admins))).rejects.toMatchObject({ rule: 'quorum' })
    await publish(records, signed(version(2, nextSet), next))
    expect(policies.version).toBe(2)
  })

  it('applies concurrent versions one at a time, in order, and never goes back', async () => {
    const { policies, records } = await open()
    await policies.setRoot(root)
    const results = await Promise.allSettled([1, 3, 2, 1, 4].map(async v => await publish(records, signed(version(v), admins))))
    expect(results.map(r => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected'])
    expect(policies.version).toBe(2)
    await publish(records, signed(version(3), admins))
    expect(policies.version).toBe(3)
  })

  it('refuses a policy record that is not what its id says, or not the coordinator\'s', async () => {
    const { policies, records } = await open()
    await policies.setRoot(root)
    const doc = encodeDocument(signed(version(1), admins))
    await expect(records.verify(await signRecord(coordinatorKey, policyRecordId(2), 1, doc))).rejects.toThrow(/carries policy version 1/)
    await expect(records.verify(await signRecord(await generateKeyPair('Ed25519'), policyRecordId(1), 1, doc))).rejects.toThrow(/not signed by the coordinator/)
    await expect(records.verify(await signRecord(coordinatorKey, policyRecordId(1), 1, new TextEncoder().encode('{"policy":')))).rejects.toThrow(/does not decode/)
  })
})
