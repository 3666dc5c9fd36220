import { randomBytes } from 'node:crypto'
import { isScheme, SCHEMES, validateThreshold } from '../crypto/index.js'
import { DEFAULT_KEYGEN_TIMEOUT_MS, DEFAULT_SIGN_ROUND_TIMEOUT_MS } from '../protocols/constants.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { ErrorCode, EventKind } from '../protocols/messages.js'
import type { KeyRecord } from '../state/key-registry.js'
import { TaskError } from './errors.js'
import { KeygenSession } from './keygen-session.js'
import { bytesOf, fanOut, type FanOut, newSessionId, recordFailure, type TaskDeps } from './task-io.js'

export interface KeygenRequest {
  scheme: string
  threshold: number
  parties: number
  /** Holders by PeerId; default: `parties` healthy members. */
  members?: string[]
}

/**
 * Keygen as a thin driver over a KeygenSession: this picks the participants, sends the keygen
 * command (ending the session for all at the first member's claim), records the events and
 * commits or discards the shares; the session judges the answers and the agreement.
 */
export class KeygenTask {
  /** Participants of the keygens running now, by session id (the coordinator relays their rounds). */
  private readonly running = new Map<string, readonly string[]>()

  constructor (private readonly deps: TaskDeps) {}

  sessionParticipants (sessionId: string): readonly string[] | undefined {
    return this.running.get(sessionId)
  }

  async keygen (req: KeygenRequest): Promise<KeyRecord> {
    if (!isScheme(req.scheme)) throw new TaskError('bad_request', `scheme must be one of ${SCHEMES.join(', ')}`)
    const participants = this.participants(req)
    const session = new KeygenSession({
      clusterId: this.deps.clusterId(), keyId: `key-${randomBytes(8).toString('hex')}`, sessionId: newSessionId(), scheme: req.scheme, threshold: req.threshold, participants
    })
    const { keyId, sessionId } = session.start()
    const timeoutMs = this.deps.keygenTimeoutMs ?? DEFAULT_KEYGEN_TIMEOUT_MS
    await this.deps.record({ kind: EventKind.SESSION_STARTED, operation: 'keygen', sessionId, keyId, detail: `${req.scheme} ${req.threshold}-of-${participants.length}` })
    this.running.set(sessionId, participants)
    let answers: FanOut<'keygen'>
    try {
      // The first member to claim misbehaviour ends the session for everyone: the others would
      // only wait out the deadline for messages that will not come, and then accuse the wrong peers.
      // The keygen fails on a claim (nothing unproven is recorded as a key), but the claim names no culprit.
      let aborted = false
      const abortOnBlame = (err: unknown): void => {
        if (aborted || !(err instanceof CommandRefusedError) || err.code !== ErrorCode.BLAME) return
        aborted = true
        void fanOut(this.deps, participants, 'abort', () => ({ sessionId }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      }
      answers = await fanOut(this.deps, participants, 'keygen', () => ({
        keyId, sessionId, scheme: req.scheme, threshold: req.threshold, participants: bytesOf(participants), timeoutMs
      }), timeoutMs + 2_000, abortOnBlame)
    } finally {
      this.running.delete(sessionId)
    }

    const outcome = await session.onAnswers(sessionId, answers)
    if (outcome.kind === 'failed') {
      await fanOut(this.deps, participants, 'keyCommit', () => ({ keyId, sessionId, commit: false }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      await recordFailure(this.deps, 'keygen', sessionId, keyId, outcome.failure)
      throw new TaskError('failed', outcome.reason, outcome.culprits, outcome.claims)
    }
    const record: KeyRecord = { ...outcome.key, createdAtMs: Date.now() }
    await this.deps.recordKey(record, outcome.agreement)
    const commit = await fanOut(this.deps, participants, 'keyCommit', () => ({ keyId, sessionId, commit: true }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
    for (const [peer, err] of commit.failed) this.deps.log.warn({ keyId, peer, err: (err as Error).message }, 'holder did not confirm the key commit')
    await this.deps.record({ kind: EventKind.SESSION_FINISHED, operation: 'keygen', sessionId, keyId })
    return record
  }

  /** The holders-to-be, sorted: those named (members, not down), or `parties` healthy members at random. */
  private participants (req: KeygenRequest): string[] {
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
    return participants.sort()
  }
}
