import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PolicyAdmin } from '../../src/coordinator/policy-admin.js'
import { policyBytes } from '../../src/protocols/policy.js'
import { PolicyBook } from '../../src/state/policy-book.js'
import { RecordBook } from '../../src/state/record-book.js'
import { RequestLedger } from '../../src/state/request-ledger.js'
import { Store } from '../../src/store/store.js'
import { log, personKey, tempDir } from '../helpers.js'

const CLUSTER = 'mpc-admin'
const admins = [personKey(), personKey(), personKey()]

let dir: Awaited<ReturnType<typeof tempDir>>
let store: Store

beforeEach(async () => {
  dir = await tempDir('mpcw-policy-admin-')
  store = await Store.open(dir.path)
})
afterEach(async () => {
  await store.close()
  await dir[Symbol.asyncDispose]()
})

describe('the coordinator\'s policy admin', () => {
  it('keeps every approval when the admins approve at the same moment, and applies once all of them signed', async () => {
    const key = await generateKeyPair('Ed25519')
    const policies = await PolicyBook.open(store, CLUSTER)
    await policies.setRoot({ keys: admins.map(a => a.pub), quorum: 3 })
    const records = new RecordBook(store, CLUSTER, peerIdFromPrivateKey(key), policies)
    const admin = new PolicyAdmin({ store, policies, records, ledger: await RequestLedger.open(store), key, log, record: async () => {}, published: async () => {} })

    const proposal = await admin.propose({ clients: [] })
    await Promise.all(admins.map(async a => await admin.approve(a.pub, a.sign(policyBytes(proposal)))))
    expect((await admin.view()).proposal?.approvedBy).toEqual(admins.map(a => a.pub).sort())
    expect((await admin.apply()).version).toBe(1)
    expect(policies.version).toBe(1)
  })
})
