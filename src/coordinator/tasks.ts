import { peerIdFromString } from '@libp2p/peer-id'
import { randomBytes } from 'node:crypto'
import {
  aggregateSignature, BlameError, CryptoInputError, decodePublic, isScheme, isValidNonceCommitment, participantIdentifier, SCHEMES,
  validateMessage, validateThreshold, type Scheme
} from '../crypto/index.js'
import { sendCommand, type CommandKind, type CommandRequests, type CommandResponses } from '../protocols/command.js'
import { CommandRefusedError, CommandTransportError, MalformedMessageError } from '../protocols/errors.js'
import { agreementBytes } from '../protocols/records.js'
import { ErrorCode, EventKind, type Event, type NonceCommitment } from '../protocols/messages.js'
import type { FrostPublic } from '@noble/curves/abstract/frost.js'
import type { HealthState } from './health.js'
import type { KeyAgreement, KeyRecord, KeyRegistry } from '../state/key-registry.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { Logger } from '../log.js'

export const DEFAULT_KEYGEN_TIMEOUT_MS = 30_000
export const DEFAULT_SIGN_ROUND_TIMEOUT_MS = 5_000
const MAX_CACHED_KEYS = 1024

export type TaskErrorCode = 'bad_request' | 'not_found' | 'unavailable' | 'failed'

/** What one member said of others, on its word alone: recorded, never counted as proof (invariant 10). */
export interface Claim {
  claimant: string
  accused: string[]
  reason: string
}

/**
 * A task that could not run or did not succeed. `culprits` are only the peers the coordinator
 * proved at fault by its own checks; `claims` are what members said of each other, unproven.
 */
export class TaskError extends Error {
  override name = 'TaskError'
  constructor (readonly code: TaskErrorCode, message: string, readonly culprits: string[] = [], readonly claims: Claim[] = []) {
    super(message)
  }
}

export interface KeygenRequest {
  scheme: string
  threshold: number
  parties: number
  /** Holders by PeerId; default: `parties` healthy members. */
  members?: string[]
}

export interface SignResult {
  keyId: string
  scheme: Scheme
  message: Uint8Array
  signature: Uint8Array
  sessionId: string
  signers: string[]
  attempts: number
}

export interface TaskDeps {
  libp2p: MpcLibp2p
  clusterId: () => string
  members: () => string[]
  health: (peerId: string) => HealthState
  keys: KeyRegistry
  /** Signs and stores a key record with the holders' countersignatures. */
  recordKey: (key: KeyRecord, agreement: KeyAgreement) => Promise<void>
  record: (event: Partial<Event> & { kind: EventKind }) => Promise<void>
  log: Logger
  keygenTimeoutMs?: number
  signRoundTimeoutMs?: number
}

function newSessionId (): string {
  return randomBytes(16).toString('base64url')
}

const bytesOf = (peerIds: string[]): Uint8Array[] => peerIds.map(p => peerIdFromString(p).toMultihash().bytes)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** The most of a peer's own words (an error message it sent) kept in an event or a task error. */
const MAX_PEER_TEXT = 512
/** The most of a failure's summary kept in an event's `detail`. */
const MAX_DETAIL = 512

const peerText = (err: unknown): string => (err as Error).message.slice(0, MAX_PEER_TEXT)

/** What the coordinator's own check of one failed command shows. */
export type FailureVerdict =
  /** Proof against the peer: it gave no answer by the deadline, or one that does not decode. */
  | { kind: 'proven', reason: string }
  /** The peer refused and named others (BLAME, TIMEOUT): its claim against them, not evidence. */
  | { kind: 'claim', accused: string[], reason: string }
  /**
   * The peer refused without naming anyone, or the failure arose on this side: no evidence against
   * it. A refusal can be caused by others (a co-signer's bad commitment, a coordinator restart
   * that lost a session), so it only takes the peer out of the request at hand.
   */
  | { kind: 'refused', reason: string }

/**
 * Classifies a failed command to `peer` (invariant 10: blame follows evidence). Only peers among
 * `within` (the session's participants) can be accused; anything else a peer names is dropped.
 */
export function judgeFailure (peer: string, err: unknown, within: readonly string[]): FailureVerdict {
  if (err instanceof CommandTransportError) return { kind: 'proven', reason: `${peer} did not answer: ${peerText(err)}` }
  if (err instanceof MalformedMessageError) return { kind: 'proven', reason: `${peer} answered with a malformed response: ${peerText(err)}` }
  if (err instanceof CommandRefusedError) {
    const accused = [...new Set(err.culprits)].filter(c => c !== peer && within.includes(c))
    if (accused.length > 0 && err.code === ErrorCode.BLAME) return { kind: 'claim', accused, reason: `${peer} claims ${accused.join(', ')} misbehaved: ${peerText(err)}` }
    if (accused.length > 0 && err.code === ErrorCode.TIMEOUT) return { kind: 'claim', accused, reason: `${peer} claims it received nothing from ${accused.join(', ')}: ${peerText(err)}` }
    return { kind: 'refused', reason: `${peer} refused (${err.code}): ${peerText(err)}` }
  }
  return { kind: 'refused', reason: `command to ${peer} failed on the coordinator: ${peerText(err)}` }
}

/** Why a round-one answer cannot go into the commitment list, or undefined if it can (RFC 9591 5.1). */
export function commitmentProblem (scheme: Scheme, commitment: NonceCommitment | undefined, identifier: string): string | undefined {
  if (commitment === undefined) return 'sent no commitment'
  if (commitment.identifier !== identifier) return 'committed under a wrong identifier'
  if (!isValidNonceCommitment(scheme, commitment)) return 'sent a commitment that is not a pair of valid points'
  return undefined
}

/** One failed session: what the coordinator proved, what members claimed, and what else went wrong. */
interface Failure {
  /** Culprits by the coordinator's own checks, each with its reason. */
  proven: Array<{ peer: string, reason: string }>
  claims: Claim[]
  /** Refusals and other failures that prove nothing against anyone. */
  notes: string[]
}

const noFailure = (): Failure => ({ proven: [], claims: [], notes: [] })
const isFailure = (f: Failure): boolean => f.proven.length > 0 || f.claims.length > 0 || f.notes.length > 0
const culpritsOf = (f: Failure): string[] => [...new Set(f.proven.map(p => p.peer))]
const summary = (f: Failure): string => [...f.proven.map(p => p.reason), ...f.claims.map(c => c.reason), ...f.notes].join('; ')

function addVerdict (failure: Failure, peer: string, verdict: FailureVerdict): void {
  if (verdict.kind === 'proven') failure.proven.push({ peer, reason: verdict.reason })
  else if (verdict.kind === 'claim') failure.claims.push({ claimant: peer, accused: verdict.accused, reason: verdict.reason })
  else failure.notes.push(verdict.reason)
}

/**
 * The coordinator's tasks: keygen (DKG among members, then an agreement step before anything
 * is recorded) and signing (RFC 9591 with the coordinator as aggregator, blame and retry).
 * The coordinator only ever sees public data: commitments, signature shares, public packages.
 */
export class Tasks {
  /** Decoded (and point-validated) public packages by key id: decoding costs more than a signature share. */
  private readonly publics = new Map<string, FrostPublic>()
  /** Participants of the keygens running now, by session id (the coordinator relays their rounds). */
  private readonly keygens = new Map<string, readonly string[]>()

  constructor (private readonly deps: TaskDeps) {}

  private publicPackage (key: KeyRecord): FrostPublic {
    let pub = this.publics.get(key.id)
    if (pub === undefined) {
      pub = decodePublic(Buffer.from(key.publicPackage, 'hex'))
      if (this.publics.size >= MAX_CACHED_KEYS) this.publics.delete(this.publics.keys().next().value!)
      this.publics.set(key.id, pub)
    }
    return pub
  }

  private async command<K extends CommandKind> (peer: string, kind: K, body: CommandRequests[K], timeoutMs: number): Promise<CommandResponses[K]> {
    return await sendCommand(this.deps.libp2p, peerIdFromString(peer), this.deps.clusterId(), kind, body, timeoutMs)
  }

  private async fanOut<K extends CommandKind> (
    peers: string[], kind: K, body: (peer: string) => CommandRequests[K], timeoutMs: number, onError?: (err: unknown) => void
  ): Promise<{ ok: Map<string, CommandResponses[K]>, failed: Map<string, unknown> }> {
    const settled = await Promise.allSettled(peers.map(async p => await this.command(p, kind, body(p), timeoutMs).catch((err: unknown) => {
      onError?.(err)
      throw err
    })))
    const ok = new Map<string, CommandResponses[K]>()
    const failed = new Map<string, unknown>()
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') ok.set(peers[i]!, r.value)
      else failed.set(peers[i]!, r.reason)
    })
    return { ok, failed }
  }

  sessionParticipants (sessionId: string): readonly string[] | undefined {
    return this.keygens.get(sessionId)
  }

  async keygen (req: KeygenRequest): Promise<KeyRecord> {
    if (!isScheme(req.scheme)) throw new TaskError('bad_request', `scheme must be one of ${SCHEMES.join(', ')}`)
    const roster = this.deps.members()
    let participants: string[]
    if (req.members !== undefined && req.members.length > 0) {
      const unknown = req.members.filter(m => !roster.includes(m))
      if (unknown.length > 0) throw new TaskError('bad_request', `not cluster members: ${unknown.join(', ')}`)
      if (new Set(req.members).size !== req.members.length) throw new TaskError('bad_request', 'members are listed twice')
      if (req.parties !== req.members.length) throw new TaskError('bad_request', `parties is ${req.parties} but ${req.members.length} members are named`)
      // Holders only among members the operator admitted and that are up now: a key is made once,
      // and a holder that is down (or a peer that never ran) would leave it short from the start.
      const notUp = req.members.filter(m => this.deps.health(m) !== 'up')
      if (notUp.length > 0) throw new TaskError('unavailable', `not up now: ${notUp.join(', ')}`)
      participants = [...req.members]
    } else {
      participants = roster.filter(m => this.deps.health(m) === 'up')
      try { validateThreshold(req.threshold, req.parties) } catch (err) { throw new TaskError('bad_request', (err as Error).message) }
      if (participants.length < req.parties) throw new TaskError('unavailable', `only ${participants.length} healthy members; keygen needs ${req.parties}`)
      participants = participants.sort(() => Math.random() - 0.5).slice(0, req.parties)
    }
    try { validateThreshold(req.threshold, participants.length) } catch (err) { throw new TaskError('bad_request', (err as Error).message) }
    participants.sort()

    const keyId = `key-${randomBytes(8).toString('hex')}`
    const sessionId = newSessionId()
    const timeoutMs = this.deps.keygenTimeoutMs ?? DEFAULT_KEYGEN_TIMEOUT_MS
    await this.deps.record({ kind: EventKind.SESSION_STARTED, operation: 'keygen', sessionId, keyId, detail: `${req.scheme} ${req.threshold}-of-${participants.length}` })
    this.keygens.set(sessionId, participants)
    let ok: Map<string, CommandResponses['keygen']>
    let failed: Map<string, unknown>
    try {
      // The first member to claim misbehaviour ends the session for everyone: the others would
      // only wait out the deadline for messages that will not come, and then accuse the wrong peers.
      // The keygen fails on a claim (nothing unproven is recorded as a key), but the claim names no culprit.
      let aborted = false
      const abortOnBlame = (err: unknown): void => {
        if (aborted || !(err instanceof CommandRefusedError) || err.code !== ErrorCode.BLAME) return
        aborted = true
        void this.fanOut(participants, 'abort', () => ({ sessionId }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      }
      ;({ ok, failed } = await this.fanOut(participants, 'keygen', () => ({
        keyId, sessionId, scheme: req.scheme, threshold: req.threshold, participants: bytesOf(participants), timeoutMs
      }), timeoutMs + 2_000, abortOnBlame))
    } finally {
      this.keygens.delete(sessionId)
    }

    let failure: Failure | undefined
    if (failed.size > 0) {
      failure = noFailure()
      for (const [peer, err] of failed) addVerdict(failure, peer, judgeFailure(peer, err, participants))
    } else {
      failure = this.disagreement(participants, ok) ?? await this.uncountersigned(keyId, sessionId, participants, ok)
    }
    if (failure !== undefined) {
      await this.fanOut(participants, 'keyCommit', () => ({ keyId, sessionId, commit: false }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      await this.fail('keygen', sessionId, keyId, failure)
      const culprits = culpritsOf(failure)
      const proof = culprits.length > 0 ? '' : failure.claims.length > 0 ? ' (no culprit proven; members\' claims follow)' : ' (no culprit proven)'
      throw new TaskError('failed', `keygen failed${proof}: ${summary(failure)}`, culprits, failure.claims)
    }

    const first = ok.get(participants[0]!)!
    const record: KeyRecord = {
      id: keyId, scheme: req.scheme, threshold: req.threshold, holders: participants,
      groupPublicKey: hex(first.groupPublicKey), publicPackage: hex(first.publicPackage), sessionId, createdAtMs: Date.now()
    }
    await this.deps.recordKey(record, { transcriptHash: first.transcriptHash, holderSignatures: participants.map(p => ok.get(p)!.agreementSignature) })
    const commit = await this.fanOut(participants, 'keyCommit', () => ({ keyId, sessionId, commit: true }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
    for (const [peer, err] of commit.failed) this.deps.log.warn({ keyId, peer, err: (err as Error).message }, 'holder did not confirm the key commit')
    await this.deps.record({ kind: EventKind.SESSION_FINISHED, operation: 'keygen', sessionId, keyId })
    return record
  }

  /**
   * The agreement step: every member must report the same group key, public package and
   * round-1 transcript. A disagreement fails the keygen, but names no culprit: what a member
   * reports having received is its word, not proof (it can lie about it), so what can be
   * inferred from the reports is recorded as claims.
   */
  private disagreement (participants: string[], answers: Map<string, CommandResponses['keygen']>): Failure | undefined {
    const all = participants.map(p => answers.get(p)!)
    const same = (f: (a: CommandResponses['keygen']) => Uint8Array): boolean => all.every(a => hex(f(a)) === hex(f(all[0]!)))
    if (same(a => a.transcriptHash) && same(a => a.groupPublicKey) && same(a => a.publicPackage)) return undefined
    const failure = noFailure()
    const digestOf = (reporter: string, j: number): string => hex(answers.get(reporter)!.round1Digests[j] ?? new Uint8Array())

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
    const groups = new Map<string, string[]>()
    for (const p of participants) groups.set(hex(answers.get(p)!.groupPublicKey), [...groups.get(hex(answers.get(p)!.groupPublicKey)) ?? [], p])
    const [majorityKey, majority] = [...groups].sort((x, y) => y[1].length - x[1].length)[0]!
    const odd = participants.filter(p => hex(answers.get(p)!.groupPublicKey) !== majorityKey)
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
  private async uncountersigned (keyId: string, sessionId: string, participants: string[], answers: Map<string, CommandResponses['keygen']>): Promise<Failure | undefined> {
    const first = answers.get(participants[0]!)!
    const agreed = agreementBytes(this.deps.clusterId(), keyId, sessionId, first.groupPublicKey, first.transcriptHash)
    const failure = noFailure()
    for (const p of participants) {
      const signature = answers.get(p)!.agreementSignature
      const key = peerIdFromString(p).publicKey
      const ok = key !== undefined && signature.length === 64 && await Promise.resolve(key.verify(agreed, signature)).catch(() => false)
      if (!ok) failure.proven.push({ peer: p, reason: `no valid agreement signature from ${p}` })
    }
    return isFailure(failure) ? failure : undefined
  }

  /**
   * Records a failed session: a BLAME per culprit the coordinator proved, a BLAME_CLAIM per
   * member's claim (the claimant in `peerId`, the peers it named in `accused`), then SESSION_FAILED
   * with the proven culprits only.
   */
  private async fail (operation: string, sessionId: string, keyId: string, failure: Failure): Promise<void> {
    for (const { peer, reason } of failure.proven) {
      await this.deps.record({ kind: EventKind.BLAME, operation, sessionId, keyId, peerId: peerIdFromString(peer).toMultihash().bytes, detail: reason.slice(0, MAX_DETAIL) })
    }
    for (const claim of failure.claims) {
      await this.deps.record({
        kind: EventKind.BLAME_CLAIM, operation, sessionId, keyId, peerId: peerIdFromString(claim.claimant).toMultihash().bytes, accused: bytesOf(claim.accused), detail: claim.reason.slice(0, MAX_DETAIL)
      })
    }
    const culprits = culpritsOf(failure)
    const reason = summary(failure)
    await this.deps.record({ kind: EventKind.SESSION_FAILED, operation, sessionId, keyId, detail: reason.slice(0, MAX_DETAIL), culprits: bytesOf(culprits) })
    this.deps.log.warn({ operation, sessionId, keyId, culprits, claims: failure.claims, reason }, 'session failed')
  }

  async sign (keyId: string, message: Uint8Array): Promise<SignResult> {
    const key = await this.deps.keys.get(keyId)
    if (key === undefined) throw new TaskError('not_found', `no key ${keyId}`)
    try { validateMessage(key.scheme, message) } catch (err) {
      if (err instanceof CryptoInputError) throw new TaskError('bad_request', err.message)
      throw err
    }
    const pub = this.publicPackage(key)
    const identifierOf = new Map(key.holders.map((h, i) => [h, participantIdentifier(key.scheme, i + 1)]))
    /** Out of this request: proven culprits, and holders that refused (no evidence against them). */
    const excluded = new Set<string>()
    /** Proven culprits only (invariant 10). */
    const blamed = new Set<string>()
    const roundTimeout = this.deps.signRoundTimeoutMs ?? DEFAULT_SIGN_ROUND_TIMEOUT_MS
    const rank: Record<HealthState, number> = { up: 0, suspect: 1, down: 2 }

    for (let attempt = 1; attempt <= key.holders.length - key.threshold + 1; attempt++) {
      const candidates = key.holders.filter(h => !excluded.has(h) && this.deps.health(h) !== 'down')
        .sort((a, b) => rank[this.deps.health(a)] - rank[this.deps.health(b)])
      if (candidates.length < key.threshold) break
      const signers = candidates.slice(0, key.threshold).sort((a, b) => key.holders.indexOf(a) - key.holders.indexOf(b))
      const sessionId = newSessionId()
      // Recorded beside round one rather than before it: the start of a signing session is worth
      // a log line, not a wait (its end is recorded before the signature is returned).
      const startedEvent = this.deps.record({ kind: EventKind.SESSION_STARTED, operation: 'sign', sessionId, keyId, detail: `attempt ${attempt}` })

      // RFC 9591 5.1, round one: each signer commits to fresh nonces.
      const started = performance.now()
      const [round1] = await Promise.all([this.fanOut(signers, 'signCommit', () => ({ keyId, sessionId }), roundTimeout), startedEvent])
      const round1Ms = performance.now() - started
      // Every commitment is checked here, where it arrives: one bad point would otherwise make
      // every honest co-signer refuse round two, and the refusals would hide who sent it.
      const failure1 = noFailure()
      const out1 = new Set(round1.failed.keys())
      for (const [peer, err] of round1.failed) addVerdict(failure1, peer, judgeFailure(peer, err, signers))
      for (const [peer, answer] of round1.ok) {
        const problem = commitmentProblem(key.scheme, answer.commitment, identifierOf.get(peer)!)
        if (problem === undefined) continue
        failure1.proven.push({ peer, reason: `${peer} ${problem}` })
        out1.add(peer)
      }
      if (out1.size > 0) {
        // Whoever answered holds nonces for this session: they are discarded (the culprit's too).
        await this.retryAfter('sign', sessionId, keyId, failure1, out1, excluded, blamed, [...round1.ok.keys()])
        continue
      }
      // In identifier order, as RFC 9591 encodes the commitment list: one per signer, since each
      // answer carries one commitment under that signer's own (distinct) identifier.
      const commitments: NonceCommitment[] = signers.map(s => round1.ok.get(s)!.commitment!)

      // RFC 9591 5.2, round two: each signer signs over the same commitment list.
      const round2Start = performance.now()
      const round2 = await this.fanOut(signers, 'signShare', () => ({ keyId, sessionId, message, commitments }), roundTimeout)
      const round2Ms = performance.now() - round2Start
      if (round2.failed.size > 0) {
        const failure2 = noFailure()
        for (const [peer, err] of round2.failed) addVerdict(failure2, peer, judgeFailure(peer, err, signers))
        await this.retryAfter('sign', sessionId, keyId, failure2, new Set(round2.failed.keys()), excluded, blamed, [])
        continue
      }
      const shares: Record<string, Uint8Array> = {}
      const names: Record<string, string> = {}
      for (const s of signers) {
        shares[identifierOf.get(s)!] = round2.ok.get(s)!.share
        names[identifierOf.get(s)!] = s
      }
      try {
        // RFC 9591 5.3: aggregate and verify against the group key; 5.4 share checks only if that fails.
        const aggregateStart = performance.now()
        const signature = aggregateSignature(key.scheme, pub, commitments, message, shares, names)
        this.deps.log.debug({ keyId, sessionId, round1Ms, round2Ms, aggregateMs: performance.now() - aggregateStart }, 'signature aggregated')
        await this.deps.record({ kind: EventKind.SESSION_FINISHED, operation: 'sign', sessionId, keyId, detail: `signers ${signers.join(',')}` })
        return { keyId, scheme: key.scheme, message, signature, sessionId, signers, attempts: attempt }
      } catch (err) {
        if (!(err instanceof BlameError)) throw err
        // Proven here: each culprit's share fails RFC 9591 share verification.
        const proven = err.culprits.map(peer => ({ peer, reason: `invalid signature share from ${peer}` }))
        await this.fail('sign', sessionId, keyId, { proven, claims: [], notes: [] })
        err.culprits.forEach(c => { excluded.add(c); blamed.add(c) })
        if (err.culprits.length === 0) break
      }
    }
    const healthy = key.holders.filter(h => !excluded.has(h) && this.deps.health(h) !== 'down').length
    const refused = [...excluded].filter(h => !blamed.has(h))
    const reason = `cannot sign with key ${keyId}: ${healthy} usable holders, ${key.threshold} needed` +
      (blamed.size > 0 ? ` (excluded as proven at fault: ${[...blamed].join(', ')})` : '') +
      (refused.length > 0 ? ` (excluded after refusing, not blamed: ${refused.join(', ')})` : '')
    throw new TaskError('unavailable', reason, [...blamed])
  }

  /**
   * Records a failed attempt, takes `out` out of the rest of this request (blaming only the
   * proven culprits), and discards the nonces that `committed` hold for the session.
   */
  private async retryAfter (
    operation: string, sessionId: string, keyId: string, failure: Failure, out: Set<string>, excluded: Set<string>, blamed: Set<string>, committed: string[]
  ): Promise<void> {
    out.forEach(p => excluded.add(p))
    culpritsOf(failure).forEach(p => blamed.add(p))
    await this.fail(operation, sessionId, keyId, failure)
    if (committed.length > 0) await this.fanOut(committed, 'abort', () => ({ sessionId }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
  }
}
