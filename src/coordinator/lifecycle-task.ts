import { decodePublic, verifySignature, validateThreshold, type ReshareMode } from '../crypto/index.js'
import { fromHex, toHex } from '../crypto/bytes.js'
import { DEFAULT_SIGN_ROUND_TIMEOUT_MS, keygenTimeoutFor } from '../protocols/constants.js'
import { EventKind, SignedRecord } from '../protocols/messages.js'
import { lifecycleTestMessage } from '../protocols/records.js'
import { encodeApprovals, keyChangeOf, newcomers, verifyKeyChange, type KeyChangeApproval } from '../protocols/key-change.js'
import { PolicyError } from '../protocols/policy.js'
import type { KeyRecord } from '../state/key-registry.js'
import { TaskError } from './errors.js'
import { KeygenSession } from './keygen-session.js'
import { runKeySession } from './keygen-task.js'
import type { SignTask } from './sign-task.js'
import { bytesOf, fanOut, newSessionId, recordFailure, type TaskDeps } from './task-io.js'

/** The three ways a key changes hands without changing its group key. */
export type LifecycleOp = 'refresh' | 'reshare' | 'repair'

export interface ReshareChange {
  /** The new threshold (default: the key's). */
  threshold?: number
  /** The new holders, all of them (PeerIds); or `add`/`remove` applied to the current ones. */
  members?: string[]
  add?: string[]
  remove?: string[]
  /** Needed when the key goes to a peer that does not hold it: a quorum of admins signed exactly this change. */
  approval?: KeyChangeApprovalSet
}

/** The admins' signatures over one change of holders (key-change.ts), and the change's deadline. */
export interface KeyChangeApprovalSet {
  expiresAtMs: number
  approvals: KeyChangeApproval[]
}

export interface LifecycleResult {
  op: LifecycleOp
  keyId: string
  /** The key record's version after the change. */
  version: number
  groupPublicKey: string
  threshold: number
  holders: string[]
  sessionId: string
  /** The test signature the new holders made with their pending shares before the commit, over `message`. */
  signature: string
  message: string
  signers: string[]
  /** Where the time went: the session with its agreement, the test signature, record and commit. */
  timing: { sessionMs: number, testSignMs: number, commitMs: number }
}

/** Ended lifecycle sessions remembered, to stop relaying their rounds. */
const MAX_ENDED_REMEMBERED = 1024

/**
 * A key's lifecycle at the coordinator: refresh (every holder deals a zero-constant polynomial
 * to the same holders), reshare (t old holders deal their Lagrange-weighted shares to a new
 * committee, perhaps at a new threshold) and repair (a reshare to the same committee, the lost
 * holder, or the member that takes its place, dealt a share by t others). Each runs as a keygen
 * does (runKeySession, then KeygenSession's agreement step over every participant's answer);
 * then the new holders make a test signature with their pending shares, and only if it verifies
 * under the unchanged group key is the record of the new version written; its commit goes to
 * the old and new holders, who check the record themselves. One change of a key at a time.
 */
export class LifecycleTask {
  private readonly running = new Map<string, readonly string[]>()
  private readonly ended = new Set<string>()
  private readonly changing = new Set<string>()

  constructor (private readonly deps: TaskDeps, private readonly signer: SignTask) {}

  sessionParticipants (sessionId: string): readonly string[] | 'ended' | undefined {
    return this.running.get(sessionId) ?? (this.ended.has(sessionId) ? 'ended' : undefined)
  }

  /** New shares for the same holders at the same threshold; old shares stop combining with new ones. */
  async refresh (keyId: string): Promise<LifecycleResult> {
    return await this.exclusive(keyId, async key => {
      const down = key.holders.filter(h => this.deps.health(h) === 'down')
      if (down.length > 0) throw new TaskError('unavailable', `a refresh needs every holder; down now: ${down.join(', ')}`)
      return await this.run('refresh', key, 'refresh', key.holders, key.holders, key.threshold)
    })
  }

  /** The key moves to a new committee and/or threshold; a holder left out erases its share once the new version is committed. */
  async reshare (keyId: string, change: ReshareChange): Promise<LifecycleResult> {
    return await this.exclusive(keyId, async key => {
      const newHolders = this.newCommittee(key, change)
      const threshold = change.threshold ?? key.threshold
      try { validateThreshold(threshold, newHolders.length) } catch (err) { throw new TaskError('bad_request', (err as Error).message) }
      return await this.run('reshare', key, 'reshare', this.dealers(key, []), newHolders, threshold, change.approval)
    })
  }

  /**
   * A holder lost its share (it keeps its place), or `replacement` takes its place: t other holders
   * deal the key to the committee anew, so the lost share (and every old one) stops combining.
   */
  async repair (keyId: string, holder: string, replacement?: string, approval?: KeyChangeApprovalSet): Promise<LifecycleResult> {
    return await this.exclusive(keyId, async key => {
      if (!key.holders.includes(holder)) throw new TaskError('bad_request', `${holder} is not a holder of key ${keyId}`)
      if (replacement !== undefined && key.holders.includes(replacement)) throw new TaskError('bad_request', `${replacement} already holds key ${keyId}`)
      const newHolders = key.holders.map(h => h === holder ? replacement ?? holder : h)
      this.checkMembers(newHolders)
      return await this.run('repair', key, 'reshare', this.dealers(key, [holder]), newHolders, key.threshold, approval)
    })
  }

  private async exclusive (keyId: string, work: (key: KeyRecord) => Promise<LifecycleResult>): Promise<LifecycleResult> {
    if (this.changing.has(keyId)) throw new TaskError('conflict', `key ${keyId} is being changed already (refresh, reshare or repair); ask again when it is done`)
    this.changing.add(keyId)
    try {
      const key = await this.deps.keys.get(keyId)
      if (key === undefined) throw new TaskError('not_found', `no key ${keyId}`)
      return await work(key)
    } finally {
      this.changing.delete(keyId)
    }
  }

  private newCommittee (key: KeyRecord, change: ReshareChange): string[] {
    const { members, add = [], remove = [] } = change
    if (members !== undefined && (add.length > 0 || remove.length > 0)) throw new TaskError('bad_request', 'name the new holders either all (members) or as add/remove, not both')
    let holders: string[]
    if (members !== undefined) {
      holders = [...members]
    } else {
      const absent = remove.filter(r => !key.holders.includes(r))
      if (absent.length > 0) throw new TaskError('bad_request', `not holders of key ${key.id}: ${absent.join(', ')}`)
      const present = add.filter(a => key.holders.includes(a))
      if (present.length > 0) throw new TaskError('bad_request', `already holders of key ${key.id}: ${present.join(', ')}`)
      holders = [...key.holders.filter(h => !remove.includes(h)), ...add]
    }
    if (new Set(holders).size !== holders.length) throw new TaskError('bad_request', 'new holders are listed twice')
    this.checkMembers(holders)
    return holders
  }

  /** New holders are members and not down: each must be there to receive its share. */
  private checkMembers (holders: readonly string[]): void {
    const roster = this.deps.members()
    const unknown = holders.filter(h => !roster.includes(h))
    if (unknown.length > 0) throw new TaskError('bad_request', `not cluster members: ${unknown.join(', ')}`)
    const down = holders.filter(h => this.deps.health(h) === 'down')
    if (down.length > 0) throw new TaskError('unavailable', `new holders down now: ${down.join(', ')}`)
  }

  /** t old holders to deal, up ones first, none of `exclude`. */
  private dealers (key: KeyRecord, exclude: string[]): string[] {
    const usable = key.holders.filter(h => !exclude.includes(h) && this.deps.health(h) !== 'down')
    const ranked = [...usable.filter(h => this.deps.health(h) === 'up'), ...usable.filter(h => this.deps.health(h) !== 'up')]
    if (ranked.length < key.threshold) throw new TaskError('unavailable', `only ${ranked.length} holders of key ${key.id} can deal; it takes ${key.threshold}`)
    return ranked.slice(0, key.threshold)
  }

  /** The coordinator checks the admins' approval first, as every node will, so that it asks nodes nothing they would refuse. */
  private approved (key: KeyRecord, newHolders: string[], threshold: number, approval: KeyChangeApprovalSet | undefined): void {
    const added = newcomers(key.holders, newHolders)
    if (added.length === 0) return
    try {
      const change = keyChangeOf({ clusterId: this.deps.clusterId(), keyId: key.id, fromVersion: key.version, holders: newHolders, threshold, expiresAtMs: approval?.expiresAtMs ?? 0 })
      verifyKeyChange(change, approval?.approvals ?? [], this.deps.admins(), Date.now())
    } catch (err) {
      if (err instanceof PolicyError) throw new TaskError('policy_denied', `${err.message} (new holders: ${added.join(', ')})`, [], [], undefined, err.rule)
      throw err
    }
  }

  private async run (op: LifecycleOp, key: KeyRecord, mode: ReshareMode, dealers: string[], newHolders: string[], threshold: number, approval?: KeyChangeApprovalSet): Promise<LifecycleResult> {
    const { deps } = this
    const keyId = key.id
    this.approved(key, newHolders, threshold, approval)
    const sessionId = newSessionId()
    const participants = [...newHolders, ...dealers.filter(d => !newHolders.includes(d))]
    const timeoutMs = deps.keygenTimeoutMs ?? keygenTimeoutFor(participants.length)
    await deps.record({ kind: EventKind.SESSION_STARTED, operation: op, sessionId, keyId, detail: `${key.threshold}-of-${key.holders.length} v${key.version} → ${threshold}-of-${newHolders.length}` })
    const startedAt = performance.now()
    this.running.set(sessionId, participants)
    let answers
    try {
      answers = await runKeySession(deps, participants, sessionId, 'reshare', {
        keyId, sessionId, mode, keyVersion: key.version, dealers: bytesOf(dealers), newHolders: bytesOf(newHolders), newThreshold: threshold, timeoutMs,
        ...(approval === undefined ? {} : { approvals: encodeApprovals(approval.approvals), approvalExpiresAtMs: approval.expiresAtMs })
      }, timeoutMs + 2_000)
    } finally {
      this.running.delete(sessionId)
      this.ended.add(sessionId)
      if (this.ended.size > MAX_ENDED_REMEMBERED) this.ended.delete(this.ended.values().next().value!)
    }
    const chainCode = key.chainCode === undefined ? undefined : fromHex(key.chainCode)
    const session = new KeygenSession({
      clusterId: deps.clusterId(), keyId, sessionId, scheme: key.scheme, threshold, participants, holders: newHolders, version: key.version + 1, ...(chainCode === undefined ? {} : { chainCode: () => chainCode })
    })
    session.start()
    const outcome = await session.onAnswers(sessionId, answers)
    const discard = async (): Promise<void> => {
      await fanOut(deps, newHolders, 'keyCommit', () => ({ keyId, sessionId, commit: false }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
    }
    if (outcome.kind !== 'agreed') {
      await discard()
      await recordFailure(deps, op, sessionId, keyId, outcome.failure)
      if (outcome.kind === 'busy') throw new TaskError('busy', outcome.reason, [], [], 1_000)
      throw new TaskError('failed', outcome.reason.replace(/^keygen/, op), outcome.culprits, outcome.claims)
    }
    if (outcome.key.groupPublicKey !== key.groupPublicKey) {
      await discard()
      const failure = { proven: [], claims: [], notes: ['every participant reported the same new group key, and it is not the key\'s'] }
      await recordFailure(deps, op, sessionId, keyId, failure)
      throw new TaskError('failed', `${op} failed: the new shares are of another group key`)
    }
    const sessionMs = performance.now() - startedAt

    // The new version signs before it is committed: the new holders' pending shares, a fixed message.
    const packageBytes = fromHex(outcome.key.publicPackage)!
    const message = lifecycleTestMessage(deps.clusterId(), keyId, sessionId, packageBytes)
    let test
    try {
      test = await this.signer.sign(keyId, message, undefined, { candidate: { sessionId, holders: newHolders, threshold, publicPackage: decodePublic(packageBytes) } })
    } catch (err) {
      await discard()
      const culprits = err instanceof TaskError ? err.culprits : []
      await recordFailure(deps, op, sessionId, keyId, { proven: culprits.map(peer => ({ peer, reason: `${peer}'s pending share did not sign` })), claims: [], notes: [`test signature failed: ${(err as Error).message}`] })
      throw new TaskError('failed', `${op} failed: the new holders could not make a test signature (${(err as Error).message})`, culprits)
    }
    if (!verifySignature(key.scheme, test.signature, message, fromHex(key.groupPublicKey)!)) {
      await discard()
      throw new TaskError('failed', `${op} failed: the test signature does not verify`)
    }
    const testSignMs = performance.now() - startedAt - sessionMs

    // The commit swaps the holders' active shares: no signature of this key runs across it.
    await this.signer.gate.exclusive(keyId, async () => {
      const record: KeyRecord = { ...outcome.key, createdAtMs: key.createdAtMs, ...(key.chainCode === undefined ? {} : { chainCode: key.chainCode }) }
      const signed = await deps.recordKey(record, outcome.agreement)
      this.signer.pools.forget(keyId)
      await deps.faults?.afterLifecycleRecord?.()
      const recordBytes = SignedRecord.encode(signed)
      const everyone = [...new Set([...key.holders, ...newHolders])]
      const commit = await fanOut(deps, everyone, 'keyCommit', () => ({ keyId, sessionId, commit: true, record: recordBytes }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      for (const [peer, err] of commit.failed) deps.log.warn({ keyId, peer, err: (err as Error).message }, 'holder did not confirm the key commit (it follows the synced record)')
    })
    const commitMs = performance.now() - startedAt - sessionMs - testSignMs
    const version = outcome.key.version
    await deps.record({ kind: EventKind.SESSION_FINISHED, operation: op, sessionId, keyId, detail: `version ${version}` })
    return {
      op, keyId, version, groupPublicKey: key.groupPublicKey, threshold, holders: newHolders, sessionId,
      signature: toHex(test.signature), message: toHex(message), signers: test.signers,
      timing: { sessionMs: Math.round(sessionMs), testSignMs: Math.round(testSignMs), commitMs: Math.round(commitMs) }
    }
  }
}
