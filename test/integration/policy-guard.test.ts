import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { aggregateSignature, decodePublic } from '../../src/crypto/index.js'
import { ApiClient } from '../../src/coordinator/client.js'
import { verifyClusterAudit } from '../../src/coordinator/audit-verify.js'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { sendCommand, serveCommands } from '../../src/protocols/command.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode, type NonceCommitment } from '../../src/protocols/messages.js'
import { encodeDocument, parsePolicy, policyBytes, requestHash, type Policy, type SignedPolicy, type SignedRequest } from '../../src/protocols/policy.js'
import { bodyHash, policyRecordId, signRecord } from '../../src/protocols/records.js'
import type { SignedRecord } from '../../src/protocols/messages.js'
import { verifyChain, type AuditEntry } from '../../src/protocols/audit.js'
import { loadOrCreateIdentity } from '../../src/store/identity.js'
import { Store } from '../../src/store/store.js'
import {
  FAST, log, messageFor, personKey, requestFor, restartNode, signedPolicy, VAULT, startCluster, TEST_ADMINS, TEST_CLIENT, verifiesExternally, waitAllUp, waitFor, type TestCluster
} from '../helpers.js'
import type { KeyRecord } from '../../src/state/key-registry.js'
import { MpcNode } from '../../src/peer/node.js'

const newSessionId = (): string => randomBytes(16).toString('base64url')
/** The policy's approvers of the Taproot key, and a client the policy names that may use neither key. */
const approvers = [personKey(), personKey(), personKey()]
const stranger = { client: 'other-client', ...personKey() }
const other = { client: stranger.client, pub: stranger.pub, sign: stranger.sign }

/**
 * Issue 12: whoever holds the coordinator's identity (a compromised coordinator host) sends
 * signing commands straight to the real nodes, with requests the policy does not authorise.
 * Every node refuses each with POLICY_DENIED naming the rule, before any nonce commitment or
 * signature share leaves it, and records the refusal in its audit chain.
 */
describe('a compromised coordinator cannot get a signature the policy did not authorise', () => {
  let cluster: TestCluster
  let ed: KeyRecord
  let tr: KeyRecord
  let rogue: MpcLibp2p | undefined
  let clusterId: string

  beforeAll(async () => {
    cluster = await startCluster(3)
    await waitAllUp(cluster)
    clusterId = cluster.init.clusterId
    ed = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    tr = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
    // Version 2: the test client may use both keys, one signature an hour of the Ed25519 key,
    // and two of three approvers for the Taproot key; another client may use neither.
    const v2 = parsePolicy({
      version: 2,
      clusterId,
      admins: TEST_ADMINS,
      clients: [
        { name: TEST_CLIENT.client, publicKey: TEST_CLIENT.pub, keys: [ed.id, tr.id] },
        { name: other.client, publicKey: other.pub, keys: [] }
      ],
      keys: {
        [ed.id]: { rateLimits: { perHour: 1 } },
        [tr.id]: { approvals: { approvers: approvers.map(a => a.pub), required: 2 } }
      }
    })
    await cluster.coordinator.policy.publish(signedPolicy(v2))
    await waitFor('every node to hold policy version 2', () => cluster.nodes.every(n => n.policyVersion === 2))
    // From here on the coordinator's identity is in the attacker's hands.
    await cluster.coordinator.stop()
    rogue = await createPeer({ privateKey: await loadOrCreateIdentity(join(cluster.root, 'coordinator')), clusterId, listen: ['/ip4/127.0.0.1/tcp/0'] })
    for (const node of cluster.nodes) await rogue.dial(node.libp2p.getMultiaddrs())
  })
  afterAll(async () => {
    await rogue?.stop()
    await cluster?.stop()
  })

  const holders = (key: KeyRecord): MpcNode[] => key.holders.map(h => cluster.nodes.find(n => n.peerId.toString() === h)!)
  const wire = (signed: SignedRequest | undefined): Uint8Array => signed === undefined ? new Uint8Array() : encodeDocument(signed)

  async function commit (node: MpcNode, key: KeyRecord, sessionId: string, request: SignedRequest | undefined): Promise<NonceCommitment> {
    const { commitment } = await sendCommand(rogue!, node.peerId, clusterId, 'signCommit', { keyId: key.id, sessionId, request: wire(request) })
    return commitment!
  }

  /** Every holder's answer to signCommit and to signShare (over commitments got with an allowed request): POLICY_DENIED with `rule`, never a share. */
  async function refusedEverywhere (key: KeyRecord, message: Uint8Array, request: SignedRequest | undefined, rule: string, stages: { share: boolean } = { share: true }): Promise<void> {
    const nodes = holders(key)
    const sessionId = newSessionId()
    for (const node of nodes) {
      const refusal = await sendCommand(rogue!, node.peerId, clusterId, 'signCommit', { keyId: key.id, sessionId, request: wire(request) }).then(() => undefined, (err: unknown) => err)
      expect(refusal, `${node.peerId.toString()} answered signCommit`).toBeInstanceOf(CommandRefusedError)
      expect((refusal as CommandRefusedError).code).toBe(ErrorCode.POLICY_DENIED)
      expect((refusal as CommandRefusedError).rule).toBe(rule)
    }
    if (!stages.share) return
    // The commitments of a session the policy allows (a request it would authorise, never used),
    // then round two with the unauthorised request.
    const allowed = approved(requestFor(clusterId, key.id, message), key)
    const shareSession = newSessionId()
    const commitments = await Promise.all(nodes.map(async n => await commit(n, key, shareSession, allowed)))
    for (const node of nodes) {
      const refusal = await sendCommand(rogue!, node.peerId, clusterId, 'signShare', { pooled: false, keyId: key.id, sessionId: shareSession, message, commitments, request: wire(request) }).then(() => undefined, (err: unknown) => err)
      expect(refusal, `${node.peerId.toString()} released a share`).toBeInstanceOf(CommandRefusedError)
      expect((refusal as CommandRefusedError).code).toBe(ErrorCode.POLICY_DENIED)
      expect((refusal as CommandRefusedError).rule).toBe(rule)
    }
  }

  /** The Taproot key's requests carry two approvals; others as they are. */
  function approved (signed: SignedRequest, key: KeyRecord, by = approvers.slice(0, 2)): SignedRequest {
    if (key.id !== tr.id) return signed
    const hash = requestHash(signed.request)
    return { ...signed, approvals: Object.fromEntries(by.map(a => [a.pub, a.sign(hash)])) }
  }

  /** A whole signature by every holder, as the rogue runs it: commit, share, aggregate. */
  async function signAll (key: KeyRecord, message: Uint8Array, request: SignedRequest): Promise<Uint8Array> {
    const nodes = holders(key)
    const sessionId = newSessionId()
    const commitments = await Promise.all(nodes.map(async n => await commit(n, key, sessionId, request)))
    const shares: Record<string, Uint8Array> = {}
    const names: Record<string, string> = {}
    for (const [i, node] of nodes.entries()) {
      const { share } = await sendCommand(rogue!, node.peerId, clusterId, 'signShare', { pooled: false, keyId: key.id, sessionId, message, commitments, request: wire(request) })
      shares[commitments[i]!.identifier] = share
      names[commitments[i]!.identifier] = node.peerId.toString()
    }
    return aggregateSignature(key.scheme, decodePublic(Buffer.from(key.publicPackage, 'hex')), commitments, message, shares, names)
  }

  it('refuses a command with no request', async () => {
    await refusedEverywhere(ed, messageFor('ed25519', 'no request'), undefined, 'no-request')
  })

  it('refuses a request whose client signature is forged', async () => {
    const message = messageFor('ed25519', 'forged')
    // Signed by a key that is not the test client's, under the test client's name.
    const forged = requestFor(clusterId, ed.id, message, { client: TEST_CLIENT.client, sign: stranger.sign })
    await refusedEverywhere(ed, message, forged, 'bad-signature')
  })

  it('refuses a request for another key, and a client the policy does not let use this key', async () => {
    const message = messageFor('ed25519', 'another key')
    await refusedEverywhere(ed, message, approved(requestFor(clusterId, tr.id, message), tr), 'wrong-message')
    await refusedEverywhere(ed, message, requestFor(clusterId, ed.id, message, other), 'not-allowed')
  })

  it('refuses an expired request', async () => {
    const message = messageFor('ed25519', 'expired')
    await refusedEverywhere(ed, message, requestFor(clusterId, ed.id, message, TEST_CLIENT, { nowMs: Date.now() - 20 * 60_000, ttlMs: 10 * 60_000 }), 'expired')
  })

  it('refuses a request with too few approvals, and signs one with enough', async () => {
    const message = messageFor('taproot', 'approvals')
    const request = requestFor(clusterId, tr.id, message)
    await refusedEverywhere(tr, message, approved(request, tr, approvers.slice(0, 1)), 'approvals')
    // Two approvals by the same approver count once; a third party's "approval" counts not at all.
    const forgedApproval = { ...approved(request, tr, approvers.slice(0, 1)), approvals: { ...approved(request, tr, approvers.slice(0, 1)).approvals, [stranger.pub]: stranger.sign(requestHash(request.request)) } }
    await refusedEverywhere(tr, message, forgedApproval, 'approvals')
    const signature = await signAll(tr, message, approved(request, tr))
    expect(verifiesExternally(tr, message, signature)).toBe(true)
  })

  it('signs an authorised request once, refuses it replayed, and refuses past the rate limit', async () => {
    const message = messageFor('ed25519', 'the one allowed this hour')
    const request = requestFor(clusterId, ed.id, message)
    expect(verifiesExternally(ed, message, await signAll(ed, message, request))).toBe(true)
    // The same request again, in a new session: the request id was acted on. (Round two is not
    // reached: with the hour's one signature spent, no request of this key gets a commitment.)
    await refusedEverywhere(ed, message, request, 'replayed', { share: false })
    // A new request: the key's one signature an hour is used up on every holder.
    const next = messageFor('ed25519', 'one too many')
    const sessionId = newSessionId()
    for (const node of holders(ed)) {
      const refusal = await sendCommand(rogue!, node.peerId, clusterId, 'signCommit', { keyId: ed.id, sessionId, request: wire(requestFor(clusterId, ed.id, next)) }).then(() => undefined, (err: unknown) => err)
      expect((refusal as CommandRefusedError).code).toBe(ErrorCode.POLICY_DENIED)
      expect((refusal as CommandRefusedError).rule).toBe('rate-limit')
    }
  })

  it('refuses a policy version with too few admin signatures, or older than the one in force, even from the coordinator\'s identity', async () => {
    const coordinatorKey = await loadOrCreateIdentity(join(cluster.root, 'coordinator'))
    // What the attacker wants in force: the other client may use every key.
    const open = (version: number): Policy => parsePolicy({ version, clusterId, admins: TEST_ADMINS, clients: [{ name: other.client, publicKey: other.pub, keys: ['*'] }], keys: {} })
    const attempts: SignedPolicy[] = [
      { policy: open(3), signatures: {} },
      { policy: open(3), signatures: { [stranger.pub]: stranger.sign(policyBytes(open(3))) } },
      // Signed by the real admin, but older than version 2 in force (as if kept from long ago).
      signedPolicy(open(1))
    ]
    let served: SignedRecord[] = []
    await serveCommands(rogue!, {
      clusterId: () => clusterId,
      log,
      handlers: {
        listRecords: async () => ({ records: served.map(r => ({ id: r.id, version: r.version, bodyHash: bodyHash(r.body) })), more: false }),
        fetchRecords: async (req) => ({ records: served.filter(r => req.ids.includes(r.id)) })
      }
    })
    for (const node of cluster.nodes) {
      const refusedBefore = node.sync.counters.refused
      for (const doc of attempts) {
        served = [await signRecord(coordinatorKey, policyRecordId(doc.policy.version), 1, encodeDocument(doc))]
        await node.sync.syncFrom(rogue!.peerId)
        expect(node.policyVersion).toBe(2)
      }
      // The two version-3 documents are refused; the old version 1 is not adopted (the one kept stays).
      expect(node.sync.counters.refused).toBe(refusedBefore + 2)
      const refusal = await sendCommand(rogue!, node.peerId, clusterId, 'signCommit', { keyId: ed.id, sessionId: newSessionId(), request: wire(requestFor(clusterId, ed.id, messageFor('ed25519', 'other'), other)) }).then(() => undefined, (err: unknown) => err)
      expect((refusal as CommandRefusedError).rule).toBe('not-allowed')
    }
  })

  it('keeps the replay and rate-limit records across a restart, and every decision in an intact audit chain', async () => {
    const node = holders(ed)[0]!
    // The coordinator is gone: the node starts from its store and answers whoever holds its identity.
    await node.stop()
    const restarted = await MpcNode.start({ ...VAULT, dataDir: node.dataDir, log, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeatIntervalMs: FAST.heartbeatIntervalMs })
    cluster.nodes[cluster.nodes.indexOf(node)] = restarted
    await rogue!.dial(restarted.libp2p.getMultiaddrs())
    const fresh = requestFor(clusterId, ed.id, messageFor('ed25519', 'after a restart'))
    const refusal = await sendCommand(rogue!, restarted.peerId, clusterId, 'signCommit', { keyId: ed.id, sessionId: newSessionId(), request: wire(fresh) }).then(() => undefined, (err: unknown) => err)
    expect((refusal as CommandRefusedError).rule).toBe('rate-limit')
    const chain = await restarted.audit.list(0, 1000)
    expect(chain.length).toBeGreaterThan(10)
    expect(verifyChain(restarted.peerId.toString(), chain)).toMatchObject({ ok: true, count: chain.length })
    expect(chain.filter(e => e.outcome === 'denied').map(e => e.rule)).toEqual(expect.arrayContaining(['no-request', 'bad-signature', 'wrong-message', 'not-allowed', 'expired', 'approvals', 'replayed', 'rate-limit']))
    expect(chain.filter((e: AuditEntry) => e.outcome === 'allowed' && e.stage === 'share').length).toBe(2)
  })
})

/** Issue 12: `audit verify` reads every chain through the coordinator, and names a node whose chain was edited, and the entry. */
describe('audit verify', () => {
  let cluster: TestCluster

  beforeAll(async () => {
    cluster = await startCluster(3)
    await waitAllUp(cluster)
  })
  afterAll(async () => { await cluster?.stop() })

  it('passes on an honest cluster, and names the node and the first entry edited offline', async () => {
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    // The key's first signature takes two rounds (and has the signers' nonce pools asked for), the next ones one.
    expect((await cluster.sign(key.id, messageFor('ed25519', 'one'))).rounds).toBe(2)
    await cluster.coordinator.tasks.pools.settled()
    for (const text of ['two', 'three']) expect((await cluster.sign(key.id, messageFor('ed25519', text))).rounds).toBe(1)
    const api = new ApiClient(cluster.coordinator.apiUrl!, (await readFile(join(cluster.root, 'coordinator', 'api-token'), 'utf8')).trim())
    const honest = await verifyClusterAudit(api)
    expect(honest.problems).toEqual([])
    expect(honest.nodes.map(n => n.ok)).toEqual([true, true, true])
    // Two holders signed each time: two decisions each in two rounds (commit, share), one in one round (share).
    expect(honest.nodes.reduce((a, n) => a + n.entries, 0)).toBe(2 * 2 + 2 * 2 * 1)
    expect(honest.signatures).toBe(3)
    expect(honest.ok).toBe(true)

    // Offline, someone rewrites entry 2 of one node's chain (which key it allowed).
    const victim = cluster.nodes.find(n => n.peerId.toString() === key.holders[0])!
    await victim.stop()
    const store = await Store.open(victim.dataDir)
    const name = `audit:${'2'.padStart(12, '0')}`
    const entry = (await store.getJson<AuditEntry>(name))!
    await store.putJson(name, { ...entry, keyId: 'key-somethingelse' })
    await store.close()
    await restartNode(cluster, victim)
    await waitAllUp(cluster)

    const report = await verifyClusterAudit(api)
    expect(report.ok).toBe(false)
    const broken = report.nodes.filter(n => !n.ok)
    expect(broken.map(n => n.node)).toEqual([victim.peerId.toString()])
    expect(broken[0]!.badSeq).toBe(2)
    expect(broken[0]!.problem).toMatch(/signature does not verify/)
  })
})
