import { peerIdFromString } from '@libp2p/peer-id'
import { randomBytes } from 'node:crypto'
import {
  aggregateSignature, BlameError, CryptoInputError, decodePublic, isScheme, participantIdentifier, SCHEMES,
  validateMessage, validateThreshold, type Scheme
} from '../crypto/index.js'
import { sendCommand, type CommandKind, type CommandRequests, type CommandResponses } from '../protocols/command.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { agreementBytes } from '../protocols/records.js'
import { ErrorCode, EventKind, type Event, type NonceCommitment } from '../protocols/messages.js'
import type { FrostPublic } from '@noble/curves/abstract/frost.js'
import type { HealthState } from './health.js'
import type { KeyAgreement, KeyRecord, KeyRegistry } from '../peer/key-registry.js'
import type { MpcLibp2p } from '../peer/libp2p.js'
import type { Logger } from '../log.js'

export const DEFAULT_KEYGEN_TIMEOUT_MS = 30_000
export const DEFAULT_SIGN_ROUND_TIMEOUT_MS = 5_000
const MAX_CACHED_KEYS = 1024

export type TaskErrorCode = 'bad_request' | 'not_found' | 'unavailable' | 'failed'

/** A task that could not run or did not succeed; `culprits` are the peers blamed, if any. */
export class TaskError extends Error {
  override name = 'TaskError'
  constructor (readonly code: TaskErrorCode, message: string, readonly culprits: string[] = []) {
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

/** Who to blame for a failed command: the culprits a peer named, or the peer itself when it did not answer. */
function blameOf (peer: string, err: unknown): { culprits: string[], reason: string } {
  if (err instanceof CommandRefusedError) {
    if (err.code === ErrorCode.BLAME || err.code === ErrorCode.TIMEOUT) return { culprits: err.culprits.length > 0 ? err.culprits : [peer], reason: err.message }
    return { culprits: [peer], reason: `${peer} refused: ${err.message}` }
  }
  return { culprits: [peer], reason: `${peer} did not answer: ${(err as Error).message}` }
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
      // The first member to name a culprit ends the session for everyone: the others would only
      // wait out the deadline for messages that will not come, and then blame the wrong peers.
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

    let failure: { culprits: string[], reason: string } | undefined
    if (failed.size > 0) {
      const all = [...failed].map(([peer, err]) => ({ peer, err, ...blameOf(peer, err) }))
      // A member's proof of misbehaviour outranks timeouts and aborts, which it causes.
      const blamed = all.filter(b => b.err instanceof CommandRefusedError && b.err.code === ErrorCode.BLAME)
      const counted = blamed.length > 0 ? blamed : all
      failure = { culprits: [...new Set(counted.flatMap(b => b.culprits))], reason: counted.map(b => b.reason).join('; ') }
    } else {
      failure = this.disagreement(participants, ok) ?? await this.uncountersigned(keyId, sessionId, participants, ok)
    }
    if (failure !== undefined) {
      await this.fanOut(participants, 'keyCommit', () => ({ keyId, sessionId, commit: false }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      await this.fail('keygen', sessionId, keyId, failure)
      throw new TaskError('failed', `keygen failed: ${failure.reason}`, failure.culprits)
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
   * round-1 transcript. Where members saw different round-1 messages from one participant,
   * that participant equivocated and is named.
   */
  private disagreement (participants: string[], answers: Map<string, CommandResponses['keygen']>): { culprits: string[], reason: string } | undefined {
    const all = participants.map(p => answers.get(p)!)
    const same = (f: (a: CommandResponses['keygen']) => Uint8Array): boolean => all.every(a => hex(f(a)) === hex(f(all[0]!)))
    if (same(a => a.transcriptHash) && same(a => a.groupPublicKey) && same(a => a.publicPackage)) return undefined
    const equivocators = participants.filter((_, j) => new Set(all.map(a => hex(a.round1Digests[j] ?? new Uint8Array()))).size > 1)
    if (equivocators.length > 0) return { culprits: equivocators, reason: `equivocation: members received different round-1 messages from ${equivocators.join(', ')}` }
    const counts = new Map<string, number>()
    for (const a of all) counts.set(hex(a.groupPublicKey), (counts.get(hex(a.groupPublicKey)) ?? 0) + 1)
    const majority = [...counts].sort((x, y) => y[1] - x[1])[0]![0]
    const odd = participants.filter(p => hex(answers.get(p)!.groupPublicKey) !== majority)
    return { culprits: odd, reason: `members derived different group keys: ${odd.join(', ')} disagree with the rest` }
  }

  /** Every holder must sign the agreement with its identity key; a missing or bad signature names it. */
  private async uncountersigned (keyId: string, sessionId: string, participants: string[], answers: Map<string, CommandResponses['keygen']>): Promise<{ culprits: string[], reason: string } | undefined> {
    const first = answers.get(participants[0]!)!
    const agreed = agreementBytes(this.deps.clusterId(), keyId, sessionId, first.groupPublicKey, first.transcriptHash)
    const bad: string[] = []
    for (const p of participants) {
      const signature = answers.get(p)!.agreementSignature
      const key = peerIdFromString(p).publicKey
      const ok = key !== undefined && signature.length === 64 && await Promise.resolve(key.verify(agreed, signature)).catch(() => false)
      if (!ok) bad.push(p)
    }
    return bad.length === 0 ? undefined : { culprits: bad, reason: `no valid agreement signature from ${bad.join(', ')}` }
  }

  private async fail (operation: string, sessionId: string, keyId: string, failure: { culprits: string[], reason: string }): Promise<void> {
    for (const culprit of failure.culprits) {
      await this.deps.record({ kind: EventKind.BLAME, operation, sessionId, keyId, peerId: peerIdFromString(culprit).toMultihash().bytes, detail: failure.reason.slice(0, 512) })
    }
    await this.deps.record({ kind: EventKind.SESSION_FAILED, operation, sessionId, keyId, detail: failure.reason.slice(0, 512), culprits: bytesOf(failure.culprits) })
    this.deps.log.warn({ operation, sessionId, keyId, culprits: failure.culprits, reason: failure.reason }, 'session failed')
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
    const excluded = new Set<string>()
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
      if (round1.failed.size > 0) {
        await this.retryAfter('sign', sessionId, keyId, round1.failed, excluded, signers)
        continue
      }
      // In identifier order, as RFC 9591 encodes the commitment list.
      const commitments: NonceCommitment[] = signers.map(s => round1.ok.get(s)!.commitment!)
      const wrongId = signers.find(s => round1.ok.get(s)!.commitment?.identifier !== identifierOf.get(s))
      if (wrongId !== undefined) {
        await this.retryAfter('sign', sessionId, keyId, new Map([[wrongId, new CommandRefusedError(ErrorCode.BAD_REQUEST, 'commitment under a wrong identifier')]]), excluded, signers)
        continue
      }

      // RFC 9591 5.2, round two: each signer signs over the same commitment list.
      const round2Start = performance.now()
      const round2 = await this.fanOut(signers, 'signShare', () => ({ keyId, sessionId, message, commitments }), roundTimeout)
      const round2Ms = performance.now() - round2Start
      if (round2.failed.size > 0) {
        await this.retryAfter('sign', sessionId, keyId, round2.failed, excluded, [])
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
        await this.fail('sign', sessionId, keyId, { culprits: err.culprits, reason: `invalid signature share from ${err.culprits.join(', ')}` })
        err.culprits.forEach(c => excluded.add(c))
        if (err.culprits.length === 0) break
      }
    }
    const healthy = key.holders.filter(h => !excluded.has(h) && this.deps.health(h) !== 'down').length
    const reason = `cannot sign with key ${keyId}: ${healthy} usable holders, ${key.threshold} needed` + (excluded.size > 0 ? ` (excluded after failures: ${[...excluded].join(', ')})` : '')
    throw new TaskError('unavailable', reason, [...excluded])
  }

  /** Records a failed attempt, excludes who failed, and discards the nonces the others committed. */
  private async retryAfter (operation: string, sessionId: string, keyId: string, failed: Map<string, unknown>, excluded: Set<string>, committed: string[]): Promise<void> {
    const blames = [...failed].map(([peer, err]) => blameOf(peer, err))
    const culprits = [...failed.keys()]
    culprits.forEach(c => excluded.add(c))
    await this.fail(operation, sessionId, keyId, { culprits, reason: blames.map(b => b.reason).join('; ') })
    const others = committed.filter(p => !failed.has(p))
    if (others.length > 0) await this.fanOut(others, 'abort', () => ({ sessionId }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
  }
}
