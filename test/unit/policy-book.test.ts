import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { adminSetHash, parsePolicy, policyBytes, type AdminSet, type Policy, type SignedPolicy } from '../../src/protocols/policy.js'
import { PolicyBook } from '../../src/state/policy-book.js'
import { Store } from '../../src/store/store.js'
import { personKey, tempDir } from '../helpers.js'


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

beforeEach(async () => {
  dir = await tempDir('mpcw-policy-book-')
  store = await Store.open(dir.path)
})
afterEach(async () => {
  await store.close()
  await dir[Symbol.asyncDispose]()
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
    store = await Store.open(dir.path)
    const reopened = await PolicyBook.open(store, CLUSTER)
    expect(reopened.version).toBe(2)
    expect(reopened.document?.policy).toEqual(version(2))
    await expect(reopened.adopt(signed(version(1), admins))).rejects.toMatchObject({ rule: 'old-version' })
    await expect(reopened.setRoot({ keys: [admins[0]!.pub], quorum: 1 })).rejects.toThrow(/another admin set/)
  })

  it('refuses a root that is not the one the invitation names', async () => {
    const book = await PolicyBook.open(store, CLUSTER)
    const other: AdminSet = { keys: [personKey().pub], quorum: 1 }
    await expect(book.setRoot(other, adminSetHash(root))).rejects.toThrow(/not the one the invitation names/)
    expect(book.rootAdmins).toBeUndefined()
  })

  it('hands the admin role over only with the old admins\' signatures', async () => {
    const book = await PolicyBook.open(store, CLUSTER)
    await book.setRoot(root)
    const next = [personKey()]
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
