import { generateKeyPairSync, sign as signWith } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { adminSetHash, parsePolicy, policyBytes, type AdminSet, type Policy, type SignedPolicy } from '../../src/protocols/policy.js'
import { PolicyBook } from '../../src/state/policy-book.js'
import { Store } from '../../src/store/store.js'

function keyPair (): { pub: string, sign: (data: Uint8Array) => string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return { pub: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex'), sign: (data) => signWith(null, data, privateKey).toString('hex') }
}

const CLUSTER = 'mpc-book'
const admins = [keyPair(), keyPair(), keyPair()]
const root: AdminSet = { keys: admins.map(a => a.pub).sort(), quorum: 2 }

function version (v: number, set: AdminSet = root): Policy {
  return parsePolicy({ version: v, clusterId: CLUSTER, admins: set, clients: [], keys: {} })
}
function signed (p: Policy, by: Array<{ pub: string, sign: (d: Uint8Array) => string }>): SignedPolicy {
  return { policy: p, signatures: Object.fromEntries(by.map(a => [a.pub, a.sign(policyBytes(p))])) }
}

let dir: string
let store: Store

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpcw-policy-book-'))
  store = await Store.open(dir)
})
afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('the policy book', () => {
  it('takes a first version signed by a quorum of the root admins, keeps it across a restart, and only goes up', async () => {
    const book = await PolicyBook.open(store, CLUSTER)
    await expect(book.adopt(signed(version(1), admins))).rejects.toThrow(/no admin set is trusted/)
    await book.setRoot(root, adminSetHash(root))
    await expect(book.adopt(signed(version(1), admins.slice(0, 1)))).rejects.toMatchObject({ rule: 'quorum' })
    expect(book.version).toBe(0)
    await book.adopt(signed(version(2), admins.slice(1)))
    expect(book.version).toBe(2)
    await expect(book.adopt(signed(version(2), admins))).rejects.toMatchObject({ rule: 'old-version' })

    await store.close()
    store = await Store.open(dir)
    const reopened = await PolicyBook.open(store, CLUSTER)
    expect(reopened.version).toBe(2)
    expect(reopened.document?.policy).toEqual(version(2))
    await expect(reopened.adopt(signed(version(1), admins))).rejects.toMatchObject({ rule: 'old-version' })
    await expect(reopened.setRoot({ keys: [admins[0]!.pub], quorum: 1 })).rejects.toThrow(/another admin set/)
  })

  it('refuses a root that is not the one the invitation names', async () => {
    const book = await PolicyBook.open(store, CLUSTER)
    const other: AdminSet = { keys: [keyPair().pub], quorum: 1 }
    await expect(book.setRoot(other, adminSetHash(root))).rejects.toThrow(/not the one the invitation names/)
    expect(book.rootAdmins).toBeUndefined()
  })

  it('hands the admin role over only with the old admins\' signatures', async () => {
    const book = await PolicyBook.open(store, CLUSTER)
    await book.setRoot(root)
    const next = [keyPair()]
    const nextSet: AdminSet = { keys: [next[0]!.pub], quorum: 1 }
    await expect(book.adopt(signed(version(1, nextSet), next))).rejects.toMatchObject({ rule: 'quorum' })
    await book.adopt(signed(version(1, nextSet), admins.slice(0, 2)))
    // From now on the new admin alone signs, and the old ones no longer can.
    await expect(book.adopt(signed(version(2, nextSet), admins))).rejects.toMatchObject({ rule: 'quorum' })
    expect((await book.adopt(signed(version(2, nextSet), next))).version).toBe(2)
  })

  it('applies concurrent updates one at a time and never goes back', async () => {
    const book = await PolicyBook.open(store, CLUSTER)
    await book.setRoot(root)
    const results = await Promise.allSettled([5, 3, 4, 2, 5].map(async v => await book.adopt(signed(version(v), admins))))
    expect(book.version).toBe(5)
    expect(results.filter(r => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1)
    const reopened = await PolicyBook.open(store, CLUSTER)
    expect(reopened.version).toBe(5)
  })
})
