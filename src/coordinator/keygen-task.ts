import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { toHex } from '../crypto/bytes.js'
import { hdChainCode, isScheme, SCHEMES, validateThreshold, type Scheme } from '../crypto/index.js'
import type { CommandRequests } from '../protocols/command.js'
import { DEFAULT_SIGN_ROUND_TIMEOUT_MS, keygenTimeoutFor } from '../protocols/constants.js'
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
  /** An HD root (child keys by public derivation, src/crypto/hd.ts): Taproot from the untweaked DKG, a chain code from the transcript. */
  hd?: boolean
}

/**
 * A keygen refused for load (BUSY) runs again after a backoff (doubling from firstMs up to maxMs,
 * with jitter), at most maxAttempts times and only while withinMs has not passed since the request.
 */
export const KEYGEN_BUSY_RETRY = { firstMs: 250, maxMs: 4_000, maxAttempts: 8, withinMs: 20_000 }
/** After a keygen is aborted, members' answers are awaited this long (twice: before and after a second abort). */
export const ABORT_GRACE_MS = 2_000
/** How many ended keygen sessions the coordinator remembers, to stop relaying their rounds. */
const MAX_ENDED_SESSIONS_REMEMBERED = 1024

/**
 * Keygen as a thin driver over a KeygenSession: this picks the participants, sends the keygen
 * command (ending the session for all at the first member's claim or BUSY refusal), records the
 * events, commits or discards the shares, and runs a keygen refused for load again; the session
 * judges the answers and the agreement.
 */
export class KeygenTask {
  /** Participants of the keygens running now, by session id (the coordinator relays their rounds). */
  private readonly running = new Map<string, readonly string[]>()
  /** The latest sessions that ended here: their rounds are no longer relayed. */
  private readonly ended = new Set<string>()

  constructor (private readonly deps: TaskDeps) {}

  sessionParticipants (sessionId: string): readonly string[] | 'ended' | undefined {
    return this.running.get(sessionId) ?? (this.ended.has(sessionId) ? 'ended' : undefined)
  }

  /**
   * Runs the keygen; when members refuse it for load (BUSY) it runs again as a new session after
   * a backoff, until KEYGEN_BUSY_RETRY.withinMs has passed; then it fails `busy` (ask again later).
   */
  async keygen (req: KeygenRequest): Promise<KeyRecord> {
    if (!isScheme(req.scheme)) throw new TaskError('bad_request', `scheme must be one of ${SCHEMES.join(', ')}`)
    const deadline = Date.now() + KEYGEN_BUSY_RETRY.withinMs
    let backoffMs = KEYGEN_BUSY_RETRY.firstMs
    for (let attempt = 1; attempt <= KEYGEN_BUSY_RETRY.maxAttempts; attempt++) {
      const result = await this.attempt(req)
      if (result.kind === 'key') return result.key
      const waitMs = Math.round(backoffMs * (0.5 + Math.random() / 2))
      if (attempt === KEYGEN_BUSY_RETRY.maxAttempts || Date.now() + waitMs > deadline) {
        throw new TaskError('busy', `${result.reason}; tried ${attempt} time(s), ask again later`, [], [], Math.max(waitMs, KEYGEN_BUSY_RETRY.firstMs))
      }
      this.deps.log.info({ attempt, waitMs, busy: result.busy }, 'keygen refused for load; running it again after a backoff')
      await sleep(waitMs)
      backoffMs = Math.min(backoffMs * 2, KEYGEN_BUSY_RETRY.maxMs)
    }
    throw new TaskError('busy', 'keygen refused for load; ask again later', [], [], KEYGEN_BUSY_RETRY.maxMs)
  }

  /** One keygen session: the key, or `busy` (members at their load limit, nothing recorded, nobody blamed). */
  private async attempt (req: KeygenRequest): Promise<{ kind: 'key', key: KeyRecord } | { kind: 'busy', busy: string[], reason: string }> {
    const participants = this.participants(req)
    const session = new KeygenSession({
      clusterId: this.deps.clusterId(), keyId: `key-${randomBytes(8).toString('hex')}`, sessionId: newSessionId(), scheme: req.scheme as Scheme, threshold: req.threshold, participants,
      ...(req.hd === true ? { chainCode: hdChainCode } : {})
    })
    const { keyId, sessionId } = session.start()
    const timeoutMs = this.deps.keygenTimeoutMs ?? keygenTimeoutFor(participants.length)
    await this.deps.record({ kind: EventKind.SESSION_STARTED, operation: 'keygen', sessionId, keyId, detail: `${req.scheme} ${req.threshold}-of-${participants.length}` })
    this.running.set(sessionId, participants)
    const startedAt = performance.now()
    let answers: FanOut<'keygen'>
    try {
      answers = await runKeySession(this.deps, participants, sessionId, 'keygen', {
        keyId, sessionId, scheme: req.scheme, threshold: req.threshold, participants: bytesOf(participants), timeoutMs, hd: req.hd
      }, timeoutMs + 2_000)
    } finally {
      this.running.delete(sessionId)
      this.ended.add(sessionId)
      if (this.ended.size > MAX_ENDED_SESSIONS_REMEMBERED) this.ended.delete(this.ended.values().next().value!)
    }

    const answeredAt = performance.now()
    const outcome = await session.onAnswers(sessionId, answers)
    const judgedAt = performance.now()
    if (outcome.kind === 'failed' || outcome.kind === 'busy') {
      await fanOut(this.deps, participants, 'keyCommit', () => ({ keyId, sessionId, commit: false }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      await recordFailure(this.deps, 'keygen', sessionId, keyId, outcome.failure)
      if (outcome.kind === 'busy') return { kind: 'busy', busy: outcome.busy, reason: outcome.reason }
      throw new TaskError('failed', outcome.reason, outcome.culprits, outcome.claims)
    }
    const record: KeyRecord = { ...outcome.key, createdAtMs: Date.now(), ...(req.hd === true ? { chainCode: toHex(hdChainCode(outcome.agreement.transcriptHash)) } : {}) }
    await this.deps.recordKey(record, outcome.agreement)
    const commit = await fanOut(this.deps, participants, 'keyCommit', () => ({ keyId, sessionId, commit: true }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
    for (const [peer, err] of commit.failed) this.deps.log.warn({ keyId, peer, err: (err as Error).message }, 'holder did not confirm the key commit')
    this.deps.log.debug({ keyId, sessionId, dkgMs: Math.round(answeredAt - startedAt), agreementMs: Math.round(judgedAt - answeredAt), commitMs: Math.round(performance.now() - judgedAt) }, 'keygen done')
    await this.deps.record({ kind: EventKind.SESSION_FINISHED, operation: 'keygen', sessionId, keyId })
    return { kind: 'key', key: record }
  }

  /** The holders-to-be, sorted: those named (members, not down), or `parties` members at random, up ones first. */
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
      // Members up first, then suspect ones (as signing chooses signers): under load a member's
      // heartbeat comes late and it turns suspect while it works; it is not down.
      const shuffled = (list: string[]): string[] => list.sort(() => Math.random() - 0.5)
      const up = shuffled(roster.filter(m => this.deps.health(m) === 'up'))
      const suspect = shuffled(roster.filter(m => this.deps.health(m) === 'suspect'))
      try { validateThreshold(req.threshold, req.parties) } catch (err) { throw new TaskError('bad_request', (err as Error).message) }
      if (up.length + suspect.length < req.parties) throw new TaskError('unavailable', `only ${up.length + suspect.length} healthy members (${up.length} up, ${suspect.length} suspect); keygen needs ${req.parties}`)
      participants = [...up, ...suspect].slice(0, req.parties)
    }
    try { validateThreshold(req.threshold, participants.length) } catch (err) { throw new TaskError('bad_request', (err as Error).message) }
    return participants.sort()
  }
}

/**
 * Sends a key session's command (keygen, reshare) to every participant and collects the answers. The first member to
 * claim misbehaviour (BLAME) or to refuse for load (BUSY) ends the session for everyone: the
 * others would only wait out the deadline for messages that will not come, and then accuse the
 * wrong peers. After that abort the answers still missing are awaited ABORT_GRACE_MS (with a
 * second abort for a member whose command overtook the first), then counted as aborted by the
 * coordinator: a refusal that proves nothing against anyone.
 */
export async function runKeySession<K extends 'keygen' | 'reshare'> (deps: TaskDeps, participants: readonly string[], sessionId: string, kind: K, body: CommandRequests[K], timeoutMs: number): Promise<FanOut<K>> {
  const answers: FanOut<K> = { ok: new Map(), failed: new Map() }
  let abortSent = false
  let onAborted = (): void => {}
  const aborted = new Promise<void>(resolve => { onAborted = resolve })
  const abort = (): void => { void fanOut(deps, participants, 'abort', () => ({ sessionId }), DEFAULT_SIGN_ROUND_TIMEOUT_MS) }
  const all = Promise.all(participants.map(async p => {
    const one = await fanOut(deps, [p], kind, () => body, timeoutMs)
    for (const [peer, r] of one.ok) answers.ok.set(peer, r)
    for (const [peer, err] of one.failed) {
      answers.failed.set(peer, err)
      if (!abortSent && err instanceof CommandRefusedError && (err.code === ErrorCode.BLAME || err.code === ErrorCode.BUSY)) {
        abortSent = true
        abort()
        onAborted()
      }
    }
  }))
  const graceOver = async (): Promise<void> => { await sleep(ABORT_GRACE_MS) }
  await Promise.race([all, aborted.then(async () => {
    await Promise.race([all, graceOver()])
    abort()
    await Promise.race([all, graceOver()])
  })])
  for (const p of participants) {
    if (!answers.ok.has(p) && !answers.failed.has(p)) answers.failed.set(p, new Error(`${kind} aborted by the coordinator before ${p} answered`))
  }
  return { ok: new Map(answers.ok), failed: new Map(answers.failed) }
}
