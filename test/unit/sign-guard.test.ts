import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SignGuard } from '../../src/peer/sign-guard.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode } from '../../src/protocols/messages.js'
import { encodeDocument } from '../../src/protocols/policy.js'
import { AuditLog } from '../../src/state/audit-log.js'
import { PolicyBook } from '../../src/state/policy-book.js'
import { RequestLedger } from '../../src/state/request-ledger.js'
import { Store } from '../../src/store/store.js'
import { firstPolicy, log, requestFor, signedPolicy, tempDir, TEST_ADMINS, TEST_CLIENT } from '../helpers.js'
import type { PrivateKey } from '@libp2p/interface'

const CLUSTER = 'mpc-guard'
const KEY = 'key-1'
const message = new TextEncoder().encode('pay 1 coin')

let dir: Awaited<ReturnType<typeof tempDir>>
let store: Store
let identity: PrivateKey

async function open (): Promise<{ guard: SignGuard, ledger: RequestLedger, audit: AuditLog }> {
  const policies = await PolicyBook.open(store, CLUSTER)
  await policies.setRoot(TEST_ADMINS)
  policies.adopt(signedPolicy(firstPolicy(CLUSTER)))
  const ledger = await RequestLedger.open(store)
  const audit = await AuditLog.open(store, { node: peerIdFromPrivateKey(identity).toString(), sign: async (d) => await identity.sign(d) })
  return { guard: new SignGuard({ policies, ledger, audit, log }), ledger, audit }
}

beforeEach(async () => {
  dir = await tempDir('mpcw-guard-')
  store = await Store.open(dir.path)
  identity = await generateKeyPair('Ed25519')
})
afterEach(async () => {
  await store.close().catch(() => {})
  await dir[Symbol.asyncDispose]()
})

describe('the sign guard', () => {
  it('takes the request id and records the decision in one write before a share leaves; both are on disk after a reopen', async () => {
    const { guard } = await open()
    const request = requestFor(CLUSTER, KEY, message)
    await guard.commit(KEY, 'session-1', encodeDocument(request))
    await guard.share(KEY, 'session-1', encodeDocument(request), message)
    await store.close()
    store = await Store.open(dir.path)
    const { ledger, audit } = await open()
    expect(ledger.seen(TEST_CLIENT.client, request.request.requestId)).toBe(true)
    const chain = await audit.list(0, 10)
    expect(chain.map(e => [e.stage, e.outcome])).toEqual([['commit', 'allowed'], ['share', 'allowed']])
    expect(chain[1]).toMatchObject({ keyId: KEY, sessionId: 'session-1', requestId: request.request.requestId, client: TEST_CLIENT.client, policyVersion: 1 })
  })

  it('gives the request id back when that write fails: no share, and the same request may be asked again', async () => {
    const { guard, ledger, audit } = await open()
    const request = requestFor(CLUSTER, KEY, message)
    await store.close()
    await expect(guard.share(KEY, 'session-1', encodeDocument(request), message)).rejects.toThrow()
    expect(ledger.seen(TEST_CLIENT.client, request.request.requestId)).toBe(false)
    expect(audit.head.seq).toBe(0)
  })

  it('refuses with POLICY_DENIED and the rule, records the refusal, and takes nothing', async () => {
    const { guard, ledger, audit } = await open()
    const other = requestFor(CLUSTER, 'key-2', message)
    const refusal = await guard.share(KEY, 'session-1', encodeDocument(other), message).then(() => undefined, (err: unknown) => err)
    expect(refusal).toBeInstanceOf(CommandRefusedError)
    expect(refusal).toMatchObject({ code: ErrorCode.POLICY_DENIED, rule: 'wrong-message' })
    expect(ledger.seen(TEST_CLIENT.client, other.request.requestId)).toBe(false)
    expect((await audit.list(0, 10)).map(e => [e.outcome, e.rule])).toEqual([['denied', 'wrong-message']])
  })
})
