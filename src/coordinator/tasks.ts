import { TaskError } from './errors.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { toHex } from '../crypto/bytes.js'
import { DEFAULT_KEYGEN_TIMEOUT_MS, DEFAULT_SIGN_ROUND_TIMEOUT_MS } from '../protocols/constants.js'
import { randomBytes } from 'node:crypto'
import { CryptoInputError, decodePublic, isScheme, SCHEMES, validateMessage, validateThreshold, type Scheme } from '../crypto/index.js'
import { sendCommand, type CommandKind, type CommandRequests, type CommandResponses } from '../protocols/command.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { agreementBytes } from '../protocols/records.js'
import { ErrorCode, EventKind, type Event } from '../protocols/messages.js'
import type { FrostPublic } from '@noble/curves/abstract/frost.js'
import type { HealthState } from './health.js'
import { addVerdict, culpritsOf, isFailure, judgeFailure, noFailure, SigningSession, summary, type Failure } from './signing-session.js'
import type { KeyAgreement, KeyRecord, KeyRegistry } from '../state/key-registry.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { Logger } from '../log.js'

const MAX_CACHED_KEYS = 1024


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

/** The most of a failure's summary kept in an event's `detail`. */
const MAX_DETAIL = 512

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
      // (A suspect member, a heartbeat or two late on a busy host, may still take part.)
      const down = req.members.filter(m => this.deps.health(m) === 'down')
      if (down.length > 0) throw new TaskError('unavailable', `down now: ${down.join(', ')}`)
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
      groupPublicKey: toHex(first.groupPublicKey), publicPackage: toHex(first.publicPackage), sessionId, createdAtMs: Date.now()
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
    const same = (f: (a: CommandResponses['keygen']) => Uint8Array): boolean => all.every(a => toHex(f(a)) === toHex(f(all[0]!)))
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
    const groups = new Map<string, string[]>()
    for (const p of participants) groups.set(toHex(answers.get(p)!.groupPublicKey), [...groups.get(toHex(answers.get(p)!.groupPublicKey)) ?? [], p])
    const [majorityKey, majority] = [...groups].sort((x, y) => y[1].length - x[1].length)[0]!
    const odd = participants.filter(p => toHex(answers.get(p)!.groupPublicKey) !== majorityKey)
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

  /**
   * Signing as a thin driver over a SigningSession: the session chooses signers, checks answers
   * and judges failures; this sends its commands, records its events and loops.
   */
  async sign (keyId: string, message: Uint8Array): Promise<SignResult> {
    const key = await this.deps.keys.get(keyId)
    if (key === undefined) throw new TaskError('not_found', `no key ${keyId}`)
    try { validateMessage(key.scheme, message) } catch (err) {
      if (err instanceof CryptoInputError) throw new TaskError('bad_request', err.message)
      throw err
    }
    const session = new SigningSession(
      { keyId, scheme: key.scheme, threshold: key.threshold, holders: key.holders, publicPackage: this.publicPackage(key), message },
      { availability: peer => this.deps.health(peer), newSessionId }
    )
    const roundTimeout = this.deps.signRoundTimeoutMs ?? DEFAULT_SIGN_ROUND_TIMEOUT_MS
    const timing = { round1Ms: 0, round2Ms: 0, aggregateMs: 0 }
    let transition = session.start()
    for (;;) {
      const { ended, next: step } = transition
      if (ended !== undefined) {
        await this.fail('sign', ended.sessionId, keyId, ended.failure)
        if (ended.abort.length > 0) await this.fanOut(ended.abort, 'abort', () => ({ sessionId: ended.sessionId }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      }
      if (step.kind === 'failed') throw new TaskError('unavailable', step.reason, step.culprits)
      if (step.kind === 'done') {
        const { sessionId, signers, signature, attempts } = step
        this.deps.log.debug({ keyId, sessionId, ...timing }, 'signature aggregated')
        await this.deps.record({ kind: EventKind.SESSION_FINISHED, operation: 'sign', sessionId, keyId, detail: `signers ${signers.join(',')}` })
        return { keyId, scheme: key.scheme, message, signature, sessionId, signers, attempts }
      }
      const { sessionId, signers } = step
      if (step.kind === 'roundOne') {
        // Recorded beside round one rather than before it: the start of a signing session is worth
        // a log line, not a wait (its end is recorded before the signature is returned).
        const startedEvent = this.deps.record({ kind: EventKind.SESSION_STARTED, operation: 'sign', sessionId, keyId, detail: `attempt ${step.attempt}` })
        const started = performance.now()
        const [answers] = await Promise.all([this.fanOut(signers, 'signCommit', () => ({ keyId, sessionId }), roundTimeout), startedEvent])
        timing.round1Ms = performance.now() - started
        transition = session.onRoundOne(sessionId, answers)
      } else {
        const { commitments } = step
        const started = performance.now()
        const answers = await this.fanOut(signers, 'signShare', () => ({ keyId, sessionId, message, commitments }), roundTimeout)
        timing.round2Ms = performance.now() - started
        const aggregateStart = performance.now()
        transition = session.onRoundTwo(sessionId, answers)
        timing.aggregateMs = performance.now() - aggregateStart
      }
    }
  }
}
