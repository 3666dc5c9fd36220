import { sha256 } from '@noble/hashes/sha2.js'
import { toHex } from '../crypto/bytes.js'
import { AUDIT_LIMITS, type AuditDecision, type AuditRule, type AuditTransaction } from '../protocols/audit.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { ErrorCode } from '../protocols/messages.js'
import { authorise, decodeSignedRequest, PolicyError, requestHash, type SignedRequest, type SpendAsked } from '../protocols/policy.js'
import { readSpend } from '../wallet/spend.js'
import { WalletInputError } from '../wallet/errors.js'
import type { AuditLog } from '../state/audit-log.js'
import type { PolicyBook } from '../state/policy-book.js'
import { spendFields, type RequestLedger } from '../state/request-ledger.js'
import type { Logger } from '../log.js'

export interface SignGuardDeps {
  policies: PolicyBook
  ledger: RequestLedger
  audit: AuditLog
  log: Logger
  /** Starts timing one decision; the returned function ends it (the node's metrics). */
  time?: (stage: 'commit' | 'share') => () => void
  now?: () => number
}

/** A signing command's refusal by this node's own policy check: the code, the rule, the reason. */
function denied (rule: AuditRule, reason: string): CommandRefusedError {
  return new CommandRefusedError(ErrorCode.POLICY_DENIED, `policy denied (${rule}): ${reason}`, [], rule)
}

/**
 * The node's own authorisation of every signature (issue 12), whoever asks: before a nonce
 * commitment leaves (`commit`) and again before a signature share leaves (`share`), the client's
 * signed request must pass the policy in force (policy.ts `authorise`); at `share` the request id
 * is taken for good (the ledger, on disk) and counts against the key's rate limits. Each decision,
 * allowed or denied, is appended to the node's audit chain before the answer leaves. A refusal is
 * POLICY_DENIED with the rule. No policy in force, no request: nothing is signed.
 */
export class SignGuard {
  private readonly now: () => number

  constructor (private readonly deps: SignGuardDeps) {
    this.now = deps.now ?? Date.now
  }

  async commit (keyId: string, sessionId: string, request: Uint8Array): Promise<void> {
    await this.timed('commit', async () => { await this.decide('commit', keyId, sessionId, request, undefined) })
  }

  /**
   * `path`: the HD child that signs (undefined: the key itself), as the client's request must name
   * it. `tx`: the transaction the command carries, with the public key that signs (issue 15).
   */
  async share (keyId: string, sessionId: string, request: Uint8Array, message: Uint8Array, path?: string, tx?: TransactionAsked): Promise<void> {
    await this.timed('share', async () => { await this.decide('share', keyId, sessionId, request, message, path, tx) })
  }

  private async timed (stage: 'commit' | 'share', decide: () => Promise<void>): Promise<void> {
    const end = this.deps.time?.(stage)
    try {
      await decide()
    } finally {
      end?.()
    }
  }

  private async decide (stage: 'commit' | 'share', keyId: string, sessionId: string, bytes: Uint8Array, message: Uint8Array | undefined, path?: string, tx?: TransactionAsked): Promise<void> {
    const { policies, ledger } = this.deps
    const policy = policies.current
    const entry: AuditDecision = {
      stage, outcome: 'denied', keyId, sessionId, approvals: [], policyVersion: policy?.version ?? 0,
      ...(message !== undefined ? { messageDigest: toHex(sha256(message)) } : {})
    }
    let signed: SignedRequest | undefined
    let refusal: CommandRefusedError | undefined
    if (bytes.length === 0) {
      refusal = denied('no-request', 'the command carries no signed client request')
    } else {
      try {
        signed = decodeSignedRequest(bytes)
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err
        refusal = denied('malformed', err.message)
      }
    }
    if (signed !== undefined) {
      // Approvals are recorded once verified (an allowed decision); a refusal records none.
      Object.assign(entry, { requestId: signed.request.requestId, requestHash: toHex(requestHash(signed.request)), client: signed.client })
      if (policy === undefined) refusal = denied('no-policy', 'no policy is in force on this node: the admins have not published one, or it has not reached this node yet')
    }
    // The transaction is read here, by this node, from its own bytes: what it signs is what it
    // computes. Reading a large PSBT takes seconds, so only bytes a client signed a request for
    // are read: the request's own checks (client, signature, key, expiry) and its digest first.
    let spend: SpendAsked | undefined
    const payloadDigest = tx === undefined ? undefined : toHex(sha256(tx.payload))
    if (refusal === undefined && signed !== undefined && policy !== undefined && stage === 'share' && signed.request.transaction !== undefined) {
      const first = authorise(policy, signed, keyId, undefined, this.now(), ledger, path)
      if (!first.allowed) refusal = denied(first.rule, first.reason)
      else if (payloadDigest !== undefined && payloadDigest !== signed.request.messageDigest) refusal = denied('wrong-message', 'the transaction is not the one the request names')
    }
    if (refusal === undefined && signed !== undefined && stage === 'share') {
      const read = readTransaction(signed, tx, payloadDigest)
      if (typeof read === 'string') refusal = denied('wrong-message', read)
      else if (read !== undefined) {
        spend = read
        entry.transaction = auditTransaction(read)
      }
    }
    let taken: ReturnType<RequestLedger['reserve']> | undefined
    if (refusal === undefined && signed !== undefined && policy !== undefined) {
      // From the verdict to the claim nothing awaits: of two commands racing for one request
      // id or the last unit of a rate limit, the first to reach here wins.
      const nowMs = this.now()
      const verdict = authorise(policy, signed, keyId, message, nowMs, ledger, path, spend)
      if (!verdict.allowed) refusal = denied(verdict.rule, verdict.reason)
      else {
        entry.approvals = verdict.approvedBy
        if (stage === 'share') {
          taken = ledger.reserve({
            requestId: signed.request.requestId, keyId, client: signed.client, notAfter: signed.request.notAfter, atMs: nowMs,
            ...spendFields(spend)
          })
          if (taken === false) refusal = denied('replayed', `request ${signed.request.requestId} was already acted on`)
        }
      }
    }
    // Only what releases a share is synced before the answer: the request id taken and the
    // decision, in one atomic batch. Commit decisions and refusals release nothing a crash could
    // make us forget; written unsynced, they survive a killed process and reach the disk with
    // the next synced write.
    if (refusal !== undefined) {
      const rule = refusal.rule as AuditRule
      await this.deps.audit.append({ ...entry, outcome: 'denied', rule, reason: refusal.message }, undefined, { synced: false })
      this.deps.log.warn({ keyId, session: sessionId, stage, rule, client: entry.client, requestId: entry.requestId }, 'signing request refused by policy')
      throw refusal
    }
    if (taken === undefined || taken === false) {
      await this.deps.audit.append({ ...entry, outcome: 'allowed' }, undefined, { synced: false })
      return
    }
    try {
      await this.deps.audit.append({ ...entry, outcome: 'allowed' }, undefined, { also: taken.write })
    } catch (err) {
      taken.release()
      throw err
    }
  }
}

/** A transaction a signShare carries: its bytes, the PSBT input asked, and the public key that signs (the key's, or an HD child's). */
export interface TransactionAsked {
  payload: Uint8Array
  input?: number
  signingPublic: Uint8Array
}

/** The spend the command's transaction makes, as this node reads it; a string says why it cannot be the request's. */
function readTransaction (signed: SignedRequest, tx: TransactionAsked | undefined, payloadDigest: string | undefined): SpendAsked | string | undefined {
  const ref = signed.request.transaction
  if (ref === undefined) return tx === undefined ? undefined : 'a transaction came with a request for plain bytes'
  if (tx === undefined || payloadDigest === undefined) return `the request is for a ${ref.chain} transaction, and none came with the command`
  try {
    const spend = readSpend(ref, tx.payload, tx.signingPublic, tx.input)
    return { ...spend, payloadDigest, ...(ref.chain === 'bitcoin' ? { input: tx.input ?? 0 } : {}) }
  } catch (err) {
    if (err instanceof WalletInputError) return `the transaction does not read as a spend of this key: ${err.message}`
    throw err
  }
}

function auditTransaction (spend: SpendAsked): AuditTransaction {
  return {
    chain: spend.ref.chain,
    ...(spend.ref.chain === 'bitcoin' ? { network: spend.ref.network, input: spend.input ?? 0 } : {}),
    amount: spend.amount.toString(),
    outputs: spend.outputs.slice(0, AUDIT_LIMITS.outputs).map(o => ({ to: o.to.slice(0, AUDIT_LIMITS.addressLength), amount: o.amount.toString(), ...(o.ours ? { ours: true as const } : {}) })),
    outputCount: spend.outputs.length
  }
}
