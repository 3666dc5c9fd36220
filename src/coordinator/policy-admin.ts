import type { PrivateKey } from '@libp2p/interface'
import { ApiError } from '../protocols/errors.js'
import { EventKind } from '../protocols/messages.js'
import {
  adminSetHash, authorise, encodeDocument, parsePolicy, policyBytes, PolicyError, verifyEd25519,
  type Policy, type PolicyRule, type SignedPolicy, type SignedRequest, type SpendAsked
} from '../protocols/policy.js'
import { policyRecordId, signRecord } from '../protocols/records.js'
import type { PolicyBook } from '../state/policy-book.js'
import type { RecordBook } from '../state/record-book.js'
import { spendFields, type RequestLedger } from '../state/request-ledger.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../log.js'
import { TaskError } from './errors.js'
import type { EventFields } from './journal.js'
import { Serial } from '../serial.js'

const PROPOSAL_RECORD = 'policy-proposal'

export interface PolicyAdminDeps {
  store: Store
  policies: PolicyBook
  records: RecordBook
  ledger: RequestLedger
  /** The coordinator's identity: it publishes each version as a synced record. */
  key: PrivateKey
  /** Tells the members a record changed (state digest). */
  published: () => Promise<void>
  record: (event: EventFields) => Promise<void>
  /** Starts timing the coordinator's own check of a request (its metrics). */
  time?: () => () => void
  log: Logger
}

/** What `GET /v1/policy` shows. */
export interface PolicyView {
  clusterId: string
  version: number
  /** hash of the admin set fixed at init: what every invitation names */
  rootAdminSetHash: string | undefined
  /** the admins whose quorum signs the next version */
  admins: { keys: string[], quorum: number } | undefined
  policy: Policy | undefined
  proposal: { policy: Policy, approvedBy: string[], needed: number } | undefined
}

const STATUS: Partial<Record<PolicyRule, number>> = { malformed: 400, 'wrong-cluster': 400, 'old-version': 409, 'skipped-version': 409 }

/** A policy refusal as the API answers it: 400 for a bad document, 409 for a version out of turn, 403 otherwise. */
export function policyToApi (err: unknown): never {
  if (err instanceof PolicyError) throw new ApiError(STATUS[err.rule] ?? 403, 'policy_refused', err.message, { rule: err.rule })
  throw err
}

/**
 * The coordinator's side of the policy (issue 12). Admins change it in three steps, none of which
 * needs their keys on this host: `propose` a document (the next version), each admin `approve`s
 * it with a signature made where their key lives, and `apply` publishes it once a quorum of the
 * current admins signed, as a synced record every node checks for itself. The coordinator also
 * checks each sign request against the policy before it starts a session (`check`): a courtesy
 * that spares nodes requests they would refuse, never the control, which is each node's.
 */
export class PolicyAdmin {
  /** Proposals, approvals and publications one at a time: each reads the proposal and writes it back. */
  private readonly changes = new Serial()

  constructor (private readonly deps: PolicyAdminDeps) {}

  async view (): Promise<PolicyView> {
    const { policies } = this.deps
    const proposal = await this.proposal()
    const admins = policies.admins
    return {
      clusterId: policies.clusterId,
      version: policies.version,
      rootAdminSetHash: policies.rootAdmins === undefined ? undefined : adminSetHash(policies.rootAdmins),
      admins,
      policy: policies.current,
      proposal: proposal === undefined ? undefined : { policy: proposal.policy, approvedBy: Object.keys(proposal.signatures).sort(), needed: admins?.quorum ?? 0 }
    }
  }

  /**
   * Makes `document` the proposal for the next version (its version, cluster and admins, when
   * absent, are the next version number, this cluster and the current admins); approvals start over.
   */
  async propose (document: unknown): Promise<Policy> {
    const { policies } = this.deps
    if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new ApiError(400, 'bad_request', 'policy must be a JSON object')
    const version = policies.version + 1
    const filled = { version, clusterId: policies.clusterId, admins: policies.admins, ...document }
    let policy: Policy
    try {
      policy = parsePolicy(filled)
    } catch (err) { return policyToApi(err) }
    if (policy.version !== version) throw new ApiError(409, 'policy_refused', `the next policy version is ${version}, not ${policy.version}`, { rule: 'skipped-version' })
    if (policy.clusterId !== policies.clusterId) throw new ApiError(400, 'policy_refused', `the policy names cluster ${policy.clusterId}; this is ${policies.clusterId}`, { rule: 'wrong-cluster' })
    return await this.changes.run(async () => {
      await this.deps.store.putJson(PROPOSAL_RECORD, { policy, signatures: {} } satisfies SignedPolicy)
      await this.deps.record({ kind: EventKind.POLICY_CHANGED, detail: `policy version ${version} proposed` })
      return policy
    })
  }

  /** Adds an admin's signature over the proposal's canonical bytes (checked here and again by every node). */
  async approve (publicKey: string, signature: string): Promise<PolicyView> {
    await this.changes.run(async () => {
      const proposal = await this.proposal()
      if (proposal === undefined) throw new ApiError(404, 'not_found', 'no policy proposal: propose one first (mpc-wallet policy propose --file F)')
      const admins = this.deps.policies.admins
      if (admins?.keys.includes(publicKey) !== true) throw new ApiError(403, 'policy_refused', `${publicKey.slice(0, 16)}… is not one of the admins who sign version ${proposal.policy.version}`, { rule: 'quorum' })
      if (!verifyEd25519(publicKey, policyBytes(proposal.policy), signature)) throw new ApiError(403, 'policy_refused', 'the signature does not verify over the proposal (was it changed since you read it?)', { rule: 'bad-signature' })
      await this.deps.store.putJson(PROPOSAL_RECORD, { ...proposal, signatures: { ...proposal.signatures, [publicKey]: signature } } satisfies SignedPolicy)
    })
    return await this.view()
  }

  /** Puts the proposal in force once a quorum of the current admins approved it, and publishes it to the members. */
  async apply (): Promise<Policy> {
    return await this.changes.run(async () => {
      const proposal = await this.proposal()
      if (proposal === undefined) throw new ApiError(404, 'not_found', 'no policy proposal to apply')
      return await this.put(proposal)
    })
  }

  /** Publishes a fully signed version (checked as every node checks it). */
  async publish (signed: SignedPolicy): Promise<Policy> {
    return await this.changes.run(async () => await this.put(signed))
  }

  private async put (signed: SignedPolicy): Promise<Policy> {
    const { policies, records, key } = this.deps
    let policy: Policy
    try {
      policy = policies.check(signed)
      const record = await signRecord(key, policyRecordId(policy.version), 1, encodeDocument({ policy, signatures: signed.signatures }))
      await records.apply(await records.verify(record))
    } catch (err) { return policyToApi(err) }
    await this.deps.store.batch({ json: { [PROPOSAL_RECORD]: null } })
    await this.deps.record({ kind: EventKind.POLICY_CHANGED, detail: `policy version ${policy.version} in force: ${policy.clients.length} client(s), rules for ${Object.keys(policy.keys).length} key(s)` })
    this.deps.log.info({ version: policy.version }, 'policy version in force')
    await this.deps.published()
    return policy
  }

  /**
   * The coordinator's own check of a sign request before any node is asked: the same rules the
   * nodes apply (its rate counts are its own, of the signatures it completed). Throws TaskError
   * `policy_denied` with the rule, and records the refusal.
   */
  async check (keyId: string, message: Uint8Array, signed: SignedRequest | undefined, path?: string, spend?: SpendAsked): Promise<void> {
    const end = this.deps.time?.()
    const policy = this.deps.policies.current
    let refusal: { rule: string, reason: string } | undefined
    if (signed === undefined) refusal = { rule: 'no-request', reason: 'a signature needs a client\'s signed request (mpc-wallet sign --client-key F)' }
    else if (policy === undefined) refusal = { rule: 'no-policy', reason: 'no policy is in force: the admins must publish one first (mpc-wallet policy propose / approve / apply)' }
    else {
      const verdict = authorise(policy, signed, keyId, message, Date.now(), this.deps.ledger, path, spend)
      if (!verdict.allowed) refusal = verdict
    }
    end?.()
    if (refusal === undefined) return
    await this.deps.record({ kind: EventKind.POLICY_DENIED, operation: 'sign', keyId, detail: `refused by the coordinator (${refusal.rule}): ${refusal.reason}`.slice(0, 512) })
    throw new TaskError('policy_denied', `policy denied (${refusal.rule}): ${refusal.reason}`, [], [], undefined, refusal.rule)
  }

  /** Counts a completed signature against the request's limits here too. */
  async signed (keyId: string, signed: SignedRequest, spend?: SpendAsked): Promise<void> {
    const claim = this.deps.ledger.claim({
      requestId: signed.request.requestId, keyId, client: signed.client, notAfter: signed.request.notAfter, atMs: Date.now(),
      ...spendFields(spend)
    })
    if (claim !== false) await claim
  }

  private async proposal (): Promise<SignedPolicy | undefined> {
    const stored = await this.deps.store.getJson<SignedPolicy>(PROPOSAL_RECORD)
    // A proposal for a version that is in force already (applied, or overtaken) is no proposal.
    if (stored === undefined || stored.policy.version !== this.deps.policies.version + 1) return undefined
    return stored
  }
}
