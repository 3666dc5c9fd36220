import { randomBytes } from 'node:crypto'
import { sha256 } from '@noble/hashes/sha2.js'
import { BlameError, missingDkgMessages, ownDkgMessages, receiveDkg, startDkg, type DkgMessage, type DkgOutcome, type DkgParams, type DkgRound1Message, type DkgRound2Message, type DkgState, type Rng } from '../crypto/index.js'
import { peerIdFromBytes } from '../protocols/ids.js'
import { DkgRound1, type RoundMessage } from '../protocols/messages.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { flipBit, type NodeFaults } from '../runtime/faults.js'
import { DEFAULT_NACK_INTERVAL_MS, DKG_LINGER_MS, MAX_NACK_BACKOFF, MAX_FINISHED_DKG_REMEMBERED, MAX_LIVE_DKG_SESSIONS } from './constants.js'
import { DkgSessionBusyError, DkgSessionRefusedError, DkgTimeoutError } from './errors.js'
import { EarlyRounds } from './early-rounds.js'
import type { GossipChannels } from '../runtime/channels.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'
import type { PeerId } from '@libp2p/interface'


export interface DkgRunResult {
  outcome: DkgOutcome
  /** sha256 of each participant's round-1 message as this node received it, in participant order. */
  round1Digests: Uint8Array[]
}

interface LiveSession {
  state: DkgState
  digests: Map<string, Uint8Array>
  settled: boolean
  resolve: (r: DkgRunResult) => void
  reject: (err: Error) => void
  timers: NodeJS.Timeout[]
  lastResend: Map<number, number>
  /** When a message last moved the session on, when we last asked for missing ones, and how long we wait before asking again. */
  progressAt: number
  nackAt: number
  nackWaitMs: number
  /** for the debug log: when round 1 was complete, nacks sent and resends */
  stats: { startedAt: number, round1At?: number, nacks: number, resends: number }
  /** faults.splitRound1 only: the second package's session, fed the same round-1 messages */
  split?: SplitRound1
}

/** Test fault: a shadow DKG session whose round-1 package and round-2 shares go to `to`. */
interface SplitRound1 {
  shadow: DkgState
  second: DkgRound1Message
  /** the members that get the second package */
  to: readonly string[]
  round2?: DkgRound2Message
}

/** The same X25519 key for both of an equivocator's packages (startDkg draws it first), fresh randomness after. */
function sharedEphemeralRng (ephemeral: Uint8Array): Rng {
  let first = true
  return (n) => {
    if (first) {
      first = false
      return Uint8Array.from(ephemeral)
    }
    return new Uint8Array(randomBytes(n))
  }
}

function toWire (sessionId: string, msg: DkgMessage): RoundMessage {
  if (msg.round === 1) {
    return { sessionId, dkgRound1: { commitment: msg.commitment, proofOfKnowledge: msg.proofOfKnowledge, ephemeralPublicKey: msg.ephemeralPublicKey } }
  }
  return { sessionId, dkgRound2: { shares: msg.shares.map(s => ({ to: peerIdFromString(s.to).toMultihash().bytes, sealed: s.sealed })) } }
}

/** The crypto message of a validated round message; the sender is the gossip-signed author, never a claimed field. */
function fromWire (round: RoundMessage, author: string): DkgMessage | undefined {
  if (round.dkgRound1 !== undefined) return { round: 1, from: author, ...round.dkgRound1 }
  if (round.dkgRound2 !== undefined) return { round: 2, from: author, shares: round.dkgRound2.shares.map(s => ({ to: peerIdFromBytes(s.to).toString(), sealed: s.sealed })) }
  return undefined
}

/**
 * Drives DKG sessions (src/crypto/dkg.ts, a pure state machine) over the rounds channel:
 * publishes this node's messages, feeds validated inbound ones in, asks again (nack) for what
 * is missing, answers others' nacks by publishing its own messages again, and fails a session
 * only at its deadline.
 */
export class DkgSessions implements Service {
  private readonly live = new Map<string, LiveSession>()
  private readonly finished = new Set<string>()
  private readonly early = new EarlyRounds()
  readonly rejected = { finished: 0 }

  constructor (
    private readonly channels: GossipChannels,
    private readonly self: PeerId,
    private readonly log: Logger,
    private readonly faults: NodeFaults = {},
    private readonly nackIntervalMs = DEFAULT_NACK_INTERVAL_MS
  ) {}

  participants (sessionId: string): readonly string[] | 'ended' | undefined {
    return this.live.get(sessionId)?.state.params.participants ?? (this.finished.has(sessionId) ? 'ended' : undefined)
  }

  get active (): number {
    let n = 0
    for (const s of this.live.values()) if (!s.settled) n++
    return n
  }

  async run (params: DkgParams, timeoutMs: number): Promise<DkgRunResult> {
    if (this.live.has(params.sessionId) || this.finished.has(params.sessionId)) throw new DkgSessionRefusedError(`session ${params.sessionId} already ran on this node`)
    if (this.active >= MAX_LIVE_DKG_SESSIONS) throw new DkgSessionBusyError(MAX_LIVE_DKG_SESSIONS, `too many DKG sessions at once (${MAX_LIVE_DKG_SESSIONS})`)
    const splitFault = this.faults.splitRound1
    const ephemeral = splitFault === undefined ? undefined : new Uint8Array(randomBytes(32))
    const { state, outbound } = startDkg(params, ephemeral === undefined ? undefined : sharedEphemeralRng(ephemeral))
    const split = ephemeral === undefined || splitFault === undefined ? undefined : splitSession(params, ephemeral, splitFault.to)
    const result = new Promise<DkgRunResult>((resolve, reject) => {
      const session: LiveSession = { state, digests: new Map(), settled: false, resolve, reject, timers: [], lastResend: new Map(), split, progressAt: Date.now(), nackAt: 0, nackWaitMs: this.nackIntervalMs, stats: { startedAt: Date.now(), nacks: 0, resends: 0 } }
      this.live.set(params.sessionId, session)
      session.timers.push(setTimeout(() => {
        const missing = missingDkgMessages(session.state)?.from ?? []
        this.settle(params.sessionId, new DkgTimeoutError(missing, `DKG session timed out after ${timeoutMs} ms waiting for round ${missingDkgMessages(session.state)?.round ?? '?'} from ${missing.join(', ')}`))
      }, timeoutMs))
      session.timers.push(setInterval(() => { void this.nack(params.sessionId) }, this.nackIntervalMs))
    })
    const session = this.live.get(params.sessionId)!
    for (const msg of outbound) this.recordDigest(session, msg)
    await this.publish(params.sessionId, outbound, true)
    for (const early of this.early.take(params.sessionId)) await this.handle(early.round, early.author)
    return await result
  }

  /**
   * A validated round message: for one of our sessions if its author takes part, else kept for a
   * session not started here yet (the validator relays rounds of sessions it does not know).
   */
  async handle (round: RoundMessage, author: PeerId): Promise<void> {
    const session = this.live.get(round.sessionId)
    if (session === undefined) {
      if (round.nack === undefined && !this.finished.has(round.sessionId)) this.early.add(round, author)
      return
    }
    const from = author.toString()
    if (author.equals(this.self) || !session.state.params.participants.includes(from)) return
    if (round.nack !== undefined) {
      const missing = round.nack.missing.map(b => peerIdFromBytes(b))
      if (missing.some(p => p.equals(this.self))) await this.resend(round.sessionId, session, round.nack.round)
      return
    }
    if (session.settled) return
    const msg = fromWire(round, from)
    if (msg === undefined) return
    try {
      const step = receiveDkg(session.state, msg)
      if (step.state !== session.state) {
        session.progressAt = Date.now()
        session.nackWaitMs = this.nackIntervalMs
      }
      session.state = step.state
      if (session.split !== undefined) feedSplit(session.split, msg)
      if (msg.round === 1) this.recordDigest(session, msg, round)
      if (session.stats.round1At === undefined && missingDkgMessages(session.state)?.round !== 1) session.stats.round1At = Date.now()
      for (const out of step.outbound) this.recordDigest(session, out)
      await this.publish(round.sessionId, step.outbound)
      if (step.outcome !== undefined) {
        const order = session.state.params.participants
        const { startedAt, round1At, nacks, resends } = session.stats
        this.log.debug({ session: round.sessionId, round1Ms: (round1At ?? startedAt) - startedAt, totalMs: Date.now() - startedAt, nacks, resends }, 'DKG session done')
        session.resolve({ outcome: step.outcome, round1Digests: order.map(p => session.digests.get(p) ?? new Uint8Array()) })
        this.settle(round.sessionId)
      }
    } catch (err) {
      if (err instanceof BlameError) {
        this.log.warn({ session: round.sessionId, culprits: err.culprits, reason: err.reason }, 'DKG participant blamed')
        this.settle(round.sessionId, err)
      } else {
        this.log.debug({ session: round.sessionId, from, err: (err as Error).message }, 'DKG message refused')
      }
    }
  }

  /** Ends a session early (coordinator abort, or shutdown). */
  abort (sessionId: string, reason = 'aborted'): void {
    if (this.live.has(sessionId)) this.settle(sessionId, new Error(`DKG session ${reason}`))
  }

  /** Takes the rounds channel and tells the validator who takes part in each of our sessions. */
  start (): void {
    this.channels.handle('rounds', async (round, author) => { await this.handle(round, author) })
    this.channels.sessions((id) => this.participants(id))
  }

  stop (): void {
    this.channels.unsessions()
    this.channels.unhandle('rounds')
    for (const id of [...this.live.keys()]) this.abort(id, 'stopped')
    for (const session of this.live.values()) session.timers.forEach(t => { clearTimeout(t); clearInterval(t) })
    this.live.clear()
  }

  private recordDigest (session: LiveSession, msg: DkgMessage, wire?: RoundMessage): void {
    if (msg.round !== 1) return
    const body = wire?.dkgRound1 ?? toWire('', msg).dkgRound1!
    session.digests.set(msg.from, sha256(DkgRound1.encode(body)))
  }

  private settle (sessionId: string, err?: Error): void {
    const session = this.live.get(sessionId)
    if (session === undefined) return
    if (!session.settled) {
      session.settled = true
      if (err !== undefined) session.reject(err)
    }
    session.timers.forEach(t => { clearTimeout(t); clearInterval(t) })
    session.timers.length = 0
    // Keep answering nacks for a while, also after a failure: others may still miss our messages.
    session.timers.push(setTimeout(() => {
      this.live.delete(sessionId)
      this.finished.add(sessionId)
      if (this.finished.size > MAX_FINISHED_DKG_REMEMBERED) this.finished.delete(this.finished.values().next().value!)
    }, DKG_LINGER_MS))
  }

  /**
   * Asks for the messages still missing, when none has moved the session on for a while; the
   * wait doubles while nothing comes (up to MAX_NACK_BACKOFF times the interval): every nack
   * makes the members it names publish to the whole cluster again.
   */
  private async nack (sessionId: string): Promise<void> {
    const session = this.live.get(sessionId)
    if (session === undefined) return
    const now = Date.now()
    if (now - Math.max(session.progressAt, session.nackAt) < session.nackWaitMs) return
    const missing = missingDkgMessages(session.state)
    if (missing === undefined || missing.from.length === 0) return
    session.nackAt = now
    session.nackWaitMs = Math.min(session.nackWaitMs * 2, this.nackIntervalMs * MAX_NACK_BACKOFF)
    session.stats.nacks++
    await this.channels.publish('rounds', { round: { sessionId, nack: { round: missing.round, missing: missing.from.map(p => peerIdFromString(p).toMultihash().bytes) } } })
  }

  private async resend (sessionId: string, session: LiveSession, round: number): Promise<void> {
    const now = Date.now()
    // One resend per round and interval answers every nack of that interval: it goes to all.
    if (now - (session.lastResend.get(round) ?? 0) < this.nackIntervalMs) return
    session.lastResend.set(round, now)
    session.stats.resends++
    await this.publish(sessionId, ownDkgMessages(session.state).filter(m => m.round === round))
  }

  private async publish (sessionId: string, messages: DkgMessage[], first = false): Promise<void> {
    const split = this.live.get(sessionId)?.split
    for (const msg of messages) {
      const wire = toWire(sessionId, this.misbehave(msg, split))
      if (first && msg.round === 1 && this.faults.dropFirstRound1 === true) continue
      if (msg.round === 1 && split !== undefined && this.faults.splitRound1 !== undefined) {
        await this.faults.splitRound1.deliver(sessionId, wire, toWire(sessionId, split.second))
        continue
      }
      await this.channels.publish('rounds', { round: wire })
      if (msg.round === 1 && this.faults.equivocateRound1 === true) {
        await this.channels.publish('rounds', { round: { sessionId, dkgRound1: { ...wire.dkgRound1!, proofOfKnowledge: flipBit(wire.dkgRound1!.proofOfKnowledge, 3) } } })
      }
    }
  }

  /** Applies the test faults that change what this node sends (none in a real node). */
  private misbehave (msg: DkgMessage, split?: SplitRound1): DkgMessage {
    const targets = this.faults.corruptDkgShareTo
    if (msg.round !== 2 || (split === undefined && targets === undefined)) return msg
    let shares = msg.shares
    // splitRound1: the members that got the second package get their shares of its polynomial
    if (split?.round2 !== undefined) shares = shares.map(s => split.to.includes(s.to) ? split.round2!.shares.find(o => o.to === s.to) ?? s : s)
    if (targets !== undefined) shares = shares.map(s => targets.includes(s.to) ? { ...s, sealed: flipBit(s.sealed, s.sealed.length - 1) } : s)
    return { ...msg, shares }
  }
}

/** faults.splitRound1: the second package's session (same params, same X25519 key, another polynomial). */
function splitSession (params: DkgParams, ephemeral: Uint8Array, to: readonly string[]): SplitRound1 {
  const { state, outbound } = startDkg(params, sharedEphemeralRng(ephemeral))
  const second = outbound.find((m): m is DkgRound1Message => m.round === 1)
  if (second === undefined) throw new Error('no round-1 message')
  return { shadow: state, second, to }
}

/** faults.splitRound1: the shadow session takes the same round-1 messages and yields its round-2 shares. */
function feedSplit (split: SplitRound1, msg: DkgMessage): void {
  if (msg.round !== 1) return
  try {
    const step = receiveDkg(split.shadow, msg)
    split.shadow = step.state
    split.round2 = step.outbound.find((m): m is DkgRound2Message => m.round === 2) ?? split.round2
  } catch {
    // the shadow only mirrors the real session, which already accepted this message
  }
}
