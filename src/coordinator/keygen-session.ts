/**
 * The coordinator's side of one keygen as a pure state machine, the counterpart of
 * signing-session.ts: it takes each participant's answer to the keygen command (its results, or
 * the failure of the command) and judges them, the agreement step included, into either the key
 * to record or a failure that keeps apart what the coordinator proved (culprits) and what members
 * claimed of each other (invariant 10: blame follows evidence).
 *
 * No sockets, no clock, no events: the caller (KeygenTask) sends the commands, records the events,
 * commits or discards the shares and stamps the record's time. Steps run in order only:
 *
 *   new --start--> running --onAnswers--> agreed | failed | busy
 *
 * A step called out of order, for another session, or with answers that are not exactly the
 * participants' throws SessionStepError and changes nothing.
 */
import { SessionStepError } from './errors.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { toHex } from '../crypto/bytes.js'
import { isScheme, validateThreshold, type Scheme } from '../crypto/index.js'
import { isBusyRefusal } from '../protocols/errors.js'
import { agreementBytes } from '../protocols/records.js'
import type { KeygenResponse } from '../protocols/messages.js'
import type { KeyAgreement, KeyRecord } from '../state/key-registry.js'
import { addVerdict, culpritsOf, isFailure, judgeFailure, noFailure, summary, type Claim, type Failure, type RoundAnswers } from './signing-session.js'


/** One participant's answer to the keygen command: what it derived and its countersignature. */
export type KeygenAnswer = KeygenResponse

/** Whether `signature` is `peer`'s identity-key signature over `data`. */
export type AgreementVerifier = (peer: string, data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>

/** The identity key of a PeerId carries its public key (Ed25519, secp256k1): verify with it. */
export const verifyWithPeerId: AgreementVerifier = async (peer, data, signature) => {
  const key = peerIdFromString(peer).publicKey
  return key !== undefined && await key.verify(data, signature)
}

export interface KeygenParams {
  clusterId: string
  keyId: string
  sessionId: string
  scheme: Scheme
  threshold: number
  /** The holders-to-be in identifier order: participant i (0-based) gets identifier i + 1. */
  participants: readonly string[]
  /**
   * A lifecycle session (refresh, reshare, repair): every participant answers and countersigns,
   * but the key's holders are these (in identifier order), and the record is of this version.
   * Default: the participants, version 1.
   */
  holders?: readonly string[]
  version?: number
  /** An HD key's chain code, as every holder signs it in the agreement: for a keygen, made from the agreed transcript. */
  chainCode?: (transcriptHash: Uint8Array) => Uint8Array | undefined
}

export interface KeygenDeps {
  verify: AgreementVerifier
}

/** The key as agreed, every field of its record but the time (the caller's clock) and an HD chain code. */
export type AgreedKey = Omit<KeyRecord, 'createdAtMs' | 'chainCode'>

export type KeygenOutcome =
  /** Every participant derived the same key and countersigned it: record it, then commit the shares. */
  | { kind: 'agreed', key: AgreedKey, agreement: KeyAgreement }
  /** Nothing to record: discard the shares, record the failure. `culprits` are the proven ones only. */
  | { kind: 'failed', failure: Failure, culprits: string[], claims: Claim[], reason: string }
  /**
   * Nothing to record and nobody at fault: `busy` were at their own load limit (BUSY) and the
   * rest refused or waited for them. Discard the shares; run the keygen again later as a new session.
   */
  | { kind: 'busy', busy: string[], failure: Failure, reason: string }

export type KeygenState = 'new' | 'running' | 'judging' | 'agreed' | 'failed' | 'busy'

/** An ed25519 or BIP-340 signature: anything else cannot verify. */
const SIGNATURE_LENGTH = 64

export class KeygenSession {
  private state: KeygenState = 'new'
  private readonly params: Readonly<KeygenParams>

  constructor (params: KeygenParams, private readonly deps: KeygenDeps = { verify: verifyWithPeerId }) {
    const { clusterId, keyId, sessionId, scheme, threshold, participants, holders = participants, version = 1, chainCode } = params
    if (typeof keyId !== 'string' || keyId.length === 0) throw new SessionStepError('bad_params', 'key id missing')
    if (typeof sessionId !== 'string' || sessionId.length === 0) throw new SessionStepError('bad_params', 'session id missing')
    if (!isScheme(scheme)) throw new SessionStepError('bad_params', 'unknown scheme')
    const list: unknown = participants
    if (!Array.isArray(list) || new Set(participants).size !== participants.length) throw new SessionStepError('bad_params', 'participants must be distinct')
    if (!holders.every(h => participants.includes(h)) || new Set(holders).size !== holders.length) throw new SessionStepError('bad_params', 'holders must be distinct participants')
    if (!Number.isSafeInteger(version) || version < 1) throw new SessionStepError('bad_params', 'version must be a positive integer')
    validateThreshold(threshold, holders.length)
    this.params = Object.freeze({ clusterId, keyId, sessionId, scheme, threshold, participants: Object.freeze([...participants]), holders: Object.freeze([...holders]), version, chainCode })
  }

  get step (): KeygenState { return this.state }
  get sessionId (): string { return this.params.sessionId }
  get participants (): readonly string[] { return this.params.participants }

  /** The keygen command goes to every participant. */
  start (): { sessionId: string, keyId: string, participants: string[] } {
    this.guard('new')
    this.state = 'running'
    const { sessionId, keyId, participants } = this.params
    return { sessionId, keyId, participants: [...participants] }
  }

  /**
   * The participants' answers, one each. Any failed command fails the keygen, judged as
   * signing judges it; otherwise the agreement step: the same key, package and transcript from
   * everyone, and everyone's valid signature over it.
   */
  async onAnswers (sessionId: string, answers: RoundAnswers<KeygenAnswer>): Promise<KeygenOutcome> {
    this.guard('running', sessionId)
    this.checkAnswers(answers)
    this.state = 'judging'
    const { participants } = this.params
    let failure: Failure | undefined
    if (answers.failed.size > 0) {
      failure = noFailure()
      const busy = [...answers.failed].filter(([, err]) => isBusyRefusal(err)).map(([peer]) => peer)
      for (const [peer, err] of answers.failed) {
        // A BUSY refusal is judged as any refusal is: no culprit, no claim (judgeFailure).
        addVerdict(failure, peer, judgeFailure(peer, err, participants))
      }
      // Busy members sent no round-1 message: a claim that names only them (TIMEOUT, "received
      // nothing from") is explained by their refusal and accuses no one. With nothing proven and
      // no other claim, the keygen is to be run again, not a failure of anyone.
      const unexplained = failure.claims.filter(c => !c.accused.every(a => busy.includes(a)))
      if (busy.length > 0 && failure.proven.length === 0 && unexplained.length === 0) {
        this.state = 'busy'
        const notes = [...failure.notes, ...failure.claims.map(c => `${c.claimant} waited for busy ${c.accused.join(', ')}`)]
        return { kind: 'busy', busy, failure: { proven: [], claims: [], notes }, reason: `keygen not run: ${busy.join(', ')} at their DKG session limit (BUSY)` }
      }
    } else {
      failure = this.disagreement(answers.ok) ?? await this.uncountersigned(answers.ok)
    }
    if (failure !== undefined) {
      this.state = 'failed'
      const culprits = culpritsOf(failure)
      const proof = culprits.length > 0 ? '' : failure.claims.length > 0 ? ' (no culprit proven; members\' claims follow)' : ' (no culprit proven)'
      return { kind: 'failed', failure, culprits, claims: failure.claims, reason: `keygen failed${proof}: ${summary(failure)}` }
    }
    this.state = 'agreed'
    const { keyId, scheme, threshold, holders, version } = this.params
    const first = answers.ok.get(participants[0]!)!
    return {
      kind: 'agreed',
      key: { id: keyId, scheme, threshold, holders: [...holders!], groupPublicKey: toHex(first.groupPublicKey), publicPackage: toHex(first.publicPackage), sessionId, version: version! },
      agreement: { transcriptHash: first.transcriptHash, holderSignatures: holders!.map(p => answers.ok.get(p)!.agreementSignature) }
    }
  }

  private guard (want: KeygenState, sessionId?: string): void {
    if (this.state !== want) throw new SessionStepError('out_of_order', `keygen session is at ${this.state}, not ${want}`)
    if (want !== 'new' && sessionId !== this.params.sessionId) throw new SessionStepError('wrong_session', 'answers for another keygen session')
  }

  /** Exactly one answer or failure per participant, from no one else. */
  private checkAnswers (answers: RoundAnswers<unknown>): void {
    const { participants } = this.params
    if (!(answers?.ok instanceof Map) || !(answers.failed instanceof Map)) throw new SessionStepError('bad_answers', 'answers must be maps')
    const from = [...answers.ok.keys(), ...answers.failed.keys()]
    if (from.length !== participants.length || !participants.every(p => answers.ok.has(p) !== answers.failed.has(p))) {
      throw new SessionStepError('bad_answers', 'answers must come from exactly the participants, one each')
    }
  }

  /**
   * The agreement step: every member must report the same group key, public package and
   * round-1 transcript. A disagreement fails the keygen, but names no culprit: what a member
   * reports having received is its word, not proof (it can lie about it), so what can be
   * inferred from the reports is recorded as claims.
   */
  private disagreement (answers: ReadonlyMap<string, KeygenAnswer>): Failure | undefined {
    const { participants } = this.params
    const all = participants.map(p => answers.get(p)!)
    const same = (f: (a: KeygenAnswer) => Uint8Array): boolean => all.every(a => toHex(f(a)) === toHex(f(all[0]!)))
    if (same(a => a.transcriptHash) && same(a => a.groupPublicKey) && same(a => a.publicPackage)) return undefined
    const failure = noFailure()
    const digestOf = (reporter: string, j: number): string => toHex(answers.get(reporter)!.round1Digests[j] ?? new Uint8Array())

    // Equivocation as the reports show it: a member whose digest of participant j's round-1
    // message differs from the digest j reports of its own message says j sent it something else.
    const accusedBy = new Map<string, string[]>()
    participants.forEach((suspect, j) => {
      if (new Set(participants.map(p => digestOf(p, j))).size <= 1) return
      for (const claimant of participants) {
        if (claimant !== suspect && digestOf(claimant, j) !== digestOf(suspect, j)) accusedBy.set(claimant, [...accusedBy.get(claimant) ?? [], suspect])
      }
    })
    for (const [claimant, accused] of accusedBy) {
      failure.claims.push({ claimant, accused, reason: `${claimant} reports round-1 messages from ${accused.join(', ')} other than they report sending (equivocation, or a false report)` })
    }
    if (failure.claims.length > 0) return failure

    // Otherwise a vote: a strict majority of members on one group key stands against the rest.
    const keyOf = (p: string): string => toHex(answers.get(p)!.groupPublicKey)
    const groups = new Map<string, string[]>()
    for (const p of participants) groups.set(keyOf(p), [...groups.get(keyOf(p)) ?? [], p])
    const [majorityKey, majority] = [...groups].sort((x, y) => y[1].length - x[1].length)[0]!
    const odd = participants.filter(p => keyOf(p) !== majorityKey)
    if (odd.length === 0) {
      failure.notes.push('members derived the same group key but different public packages or transcripts')
    } else if (majority.length * 2 > participants.length) {
      for (const claimant of majority) failure.claims.push({ claimant, accused: odd, reason: `${claimant}, with the majority, derived a group key that ${odd.join(', ')} did not` })
    } else {
      failure.notes.push(`members derived different group keys and no majority agrees: ${[...groups.values()].map(g => g.join(', ')).join(' | ')}`)
    }
    return failure
  }

  /** Every holder must sign the agreement with its identity key; a missing or bad signature (checked here) names it. */
  private async uncountersigned (answers: ReadonlyMap<string, KeygenAnswer>): Promise<Failure | undefined> {
    const { clusterId, keyId, sessionId, participants } = this.params
    const first = answers.get(participants[0]!)!
    const agreed = agreementBytes(clusterId, keyId, sessionId, first.groupPublicKey, first.transcriptHash, this.params.chainCode?.(first.transcriptHash))
    const failure = noFailure()
    for (const p of participants) {
      const signature = answers.get(p)!.agreementSignature
      const ok = signature.length === SIGNATURE_LENGTH && await Promise.resolve().then(async () => await this.deps.verify(p, agreed, signature)).catch(() => false)
      if (!ok) failure.proven.push({ peer: p, reason: `no valid agreement signature from ${p}` })
    }
    return isFailure(failure) ? failure : undefined
  }
}
