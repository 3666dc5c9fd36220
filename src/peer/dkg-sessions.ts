import { randomBytes } from 'node:crypto'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  BlameError, missingDkgMessages, missingReshareMessages, ownDkgMessages, ownReshareMessages, receiveDkg, receiveReshare, reshareParticipants, startDkg, startReshare,
  type DkgMessage, type DkgOutcome, type DkgParams, type DkgRound1Message, type DkgRound2Message, type DkgState, type ReshareMessage, type ReshareOutcome, type ReshareParams, type Rng
} from '../crypto/index.js'
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

/**
 * One session's pure state machine (src/crypto's DKG or reshare) as the driver sees it: wire
 * messages in and out, what is still missing, and its own messages for a resend. `receive`
 * throws BlameError for a proven fault (the session ends) and anything else for a message it
 * refuses (the session goes on).
 */
interface Machine<T> {
  readonly participants: readonly string[]
  /** Our first messages, as they go on the wire. */
  readonly first: RoundMessage[]
  receive: (round: RoundMessage, from: string) => { outbound: RoundMessage[], progressed: boolean, result?: T }
  missing: () => { round: 1 | 2, from: string[] } | undefined
  own: (round: number) => RoundMessage[]
}

interface LiveSession {
  machine: Machine<unknown>
  settled: boolean
  resolve: (r: unknown) => void
  reject: (err: Error) => void
  timers: NodeJS.Timeout[]
  lastResend: Map<number, number>
  /** When a message last moved the session on, when we last asked for missing ones, and how long we wait before asking again. */
  progressAt: number
  nackAt: number
  nackWaitMs: number
  /** for the debug log: when round 1 was complete, nacks sent and resends */
  stats: { startedAt: number, round1At?: number, nacks: number, resends: number }
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

const peerBytes = (peer: string): Uint8Array => peerIdFromString(peer).toMultihash().bytes

function dkgToWire (sessionId: string, msg: DkgMessage): RoundMessage {
  if (msg.round === 1) {
    return { sessionId, dkgRound1: { commitment: msg.commitment, proofOfKnowledge: msg.proofOfKnowledge, ephemeralPublicKey: msg.ephemeralPublicKey } }
  }
  return { sessionId, dkgRound2: { shares: msg.shares.map(s => ({ to: peerBytes(s.to), sealed: s.sealed })) } }
}

/** The crypto message of a validated round message; the sender is the gossip-signed author, never a claimed field. */
function dkgFromWire (round: RoundMessage, author: string): DkgMessage | undefined {
  if (round.dkgRound1 !== undefined) return { round: 1, from: author, ...round.dkgRound1 }
  if (round.dkgRound2 !== undefined) return { round: 2, from: author, shares: round.dkgRound2.shares.map(s => ({ to: peerIdFromBytes(s.to).toString(), sealed: s.sealed })) }
  return undefined
}

function reshareToWire (sessionId: string, msg: ReshareMessage): RoundMessage {
  if (msg.round === 1) return { sessionId, reshareRound1: { ephemeralPublicKey: msg.ephemeralPublicKey } }
  return { sessionId, reshareRound2: { commitment: msg.commitment, shares: msg.shares.map(s => ({ to: peerBytes(s.to), sealed: s.sealed })) } }
}

function reshareFromWire (round: RoundMessage, author: string): ReshareMessage | undefined {
  if (round.reshareRound1 !== undefined) return { round: 1, from: author, ephemeralPublicKey: round.reshareRound1.ephemeralPublicKey }
  if (round.reshareRound2 !== undefined) return { round: 2, from: author, commitment: round.reshareRound2.commitment, shares: round.reshareRound2.shares.map(s => ({ to: peerIdFromBytes(s.to).toString(), sealed: s.sealed })) }
  return undefined
}

/** A refresh/reshare session (src/crypto/reshare.ts) as a Machine. */
function reshareMachine (params: ReshareParams): Machine<ReshareOutcome> {
  const { sessionId } = params
  const started = startReshare(params)
  let state = started.state
  return {
    participants: reshareParticipants(params),
    first: started.outbound.map(m => reshareToWire(sessionId, m)),
    receive: (round, from) => {
      const msg = reshareFromWire(round, from)
      if (msg === undefined) return { outbound: [], progressed: false }
      const step = receiveReshare(state, msg)
      const progressed = step.state !== state
      state = step.state
      return { outbound: step.outbound.map(m => reshareToWire(sessionId, m)), progressed, result: step.outcome }
    },
    missing: () => missingReshareMessages(state),
    own: (round) => ownReshareMessages(state).filter(m => m.round === round).map(m => reshareToWire(sessionId, m))
  }
}

/**
 * Drives the key's distributed sessions, DKG (src/crypto/dkg.ts) and refresh/reshare
 * (src/crypto/reshare.ts), pure state machines, over the rounds channel: publishes this node's
 * messages, feeds validated inbound ones in, asks again (nack) for what is missing, answers
 * others' nacks by publishing its own messages again, and fails a session only at its deadline.
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
    return this.live.get(sessionId)?.machine.participants ?? (this.finished.has(sessionId) ? 'ended' : undefined)
  }

  get active (): number {
    let n = 0
    for (const s of this.live.values()) if (!s.settled) n++
    return n
  }

  async run (params: DkgParams, timeoutMs: number): Promise<DkgRunResult> {
    this.admit(params.sessionId)
    return await this.drive(params.sessionId, this.dkgMachine(params), timeoutMs)
  }

  async runReshare (params: ReshareParams, timeoutMs: number): Promise<ReshareOutcome> {
    this.admit(params.sessionId)
    return await this.drive(params.sessionId, reshareMachine(params), timeoutMs)
  }

  private admit (sessionId: string): void {
    if (this.live.has(sessionId) || this.finished.has(sessionId)) throw new DkgSessionRefusedError(`session ${sessionId} already ran on this node`)
    if (this.active >= MAX_LIVE_DKG_SESSIONS) throw new DkgSessionBusyError(MAX_LIVE_DKG_SESSIONS, `too many key sessions at once (${MAX_LIVE_DKG_SESSIONS})`)
  }

  private async drive<T> (sessionId: string, machine: Machine<T>, timeoutMs: number): Promise<T> {
    const result = new Promise<T>((resolve, reject) => {
      const session: LiveSession = { machine, settled: false, resolve: resolve as (r: unknown) => void, reject, timers: [], lastResend: new Map(), progressAt: Date.now(), nackAt: 0, nackWaitMs: this.nackIntervalMs, stats: { startedAt: Date.now(), nacks: 0, resends: 0 } }
      this.live.set(sessionId, session)
      session.timers.push(setTimeout(() => {
        const missing = machine.missing()
        this.settle(sessionId, new DkgTimeoutError(missing?.from ?? [], `key session timed out after ${timeoutMs} ms waiting for round ${missing?.round ?? '?'} from ${(missing?.from ?? []).join(', ')}`))
      }, timeoutMs))
      session.timers.push(setInterval(() => { void this.nack(sessionId) }, this.nackIntervalMs))
    })
    await this.publish(machine.first)
    for (const early of this.early.take(sessionId)) await this.handle(early.round, early.author)
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
    if (author.equals(this.self) || !session.machine.participants.includes(from)) return
    if (round.nack !== undefined) {
      const missing = round.nack.missing.map(b => peerIdFromBytes(b))
      if (missing.some(p => p.equals(this.self))) await this.resend(session, round.nack.round)
      return
    }
    if (session.settled) return
    try {
      const step = session.machine.receive(round, from)
      if (step.progressed) {
        session.progressAt = Date.now()
        session.nackWaitMs = this.nackIntervalMs
      }
      if (session.stats.round1At === undefined && session.machine.missing()?.round !== 1) session.stats.round1At = Date.now()
      await this.publish(step.outbound)
      if (step.result !== undefined) {
        const { startedAt, round1At, nacks, resends } = session.stats
        this.log.debug({ session: round.sessionId, round1Ms: (round1At ?? startedAt) - startedAt, totalMs: Date.now() - startedAt, nacks, resends }, 'key session done')
        session.resolve(step.result)
        this.settle(round.sessionId)
      }
    } catch (err) {
      if (err instanceof BlameError) {
        this.log.warn({ session: round.sessionId, culprits: err.culprits, reason: err.reason }, 'key session participant blamed')
        this.settle(round.sessionId, err)
      } else {
        this.log.debug({ session: round.sessionId, from, err: (err as Error).message }, 'key session message refused')
      }
    }
  }

  /** Ends a session early (coordinator abort, or shutdown). */
  abort (sessionId: string, reason = 'aborted'): void {
    if (this.live.has(sessionId)) this.settle(sessionId, new Error(`key session ${reason}`))
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
    const missing = session.machine.missing()
    if (missing === undefined || missing.from.length === 0) return
    session.nackAt = now
    session.nackWaitMs = Math.min(session.nackWaitMs * 2, this.nackIntervalMs * MAX_NACK_BACKOFF)
    session.stats.nacks++
    await this.channels.publish('rounds', { round: { sessionId, nack: { round: missing.round, missing: missing.from.map(peerBytes) } } })
  }

  private async resend (session: LiveSession, round: number): Promise<void> {
    const now = Date.now()
    // One resend per round and interval answers every nack of that interval: it goes to all.
    if (now - (session.lastResend.get(round) ?? 0) < this.nackIntervalMs) return
    session.lastResend.set(round, now)
    session.stats.resends++
    await this.publish(session.machine.own(round))
  }

  private async publish (messages: RoundMessage[]): Promise<void> {
    for (const round of messages) await this.channels.publish('rounds', { round })
  }

  /**
   * A DKG session as a Machine, with the test faults that change what this node sends (none in
   * a real node) applied to its outbound messages.
   */
  private dkgMachine (params: DkgParams): Machine<DkgRunResult> {
    const { sessionId } = params
    const faults = this.faults
    const splitFault = faults.splitRound1
    const ephemeral = splitFault === undefined ? undefined : new Uint8Array(randomBytes(32))
    const started = startDkg(params, ephemeral === undefined ? undefined : sharedEphemeralRng(ephemeral))
    const split = ephemeral === undefined || splitFault === undefined ? undefined : splitSession(params, ephemeral, splitFault.to)
    let state = started.state
    const digests = new Map<string, Uint8Array>()
    const recordDigest = (msg: DkgMessage, wire?: RoundMessage): void => {
      if (msg.round !== 1) return
      digests.set(msg.from, sha256(DkgRound1.encode(wire?.dkgRound1 ?? dkgToWire('', msg).dkgRound1!)))
    }
    /** Our messages on the wire, with the faults applied; a split round 1 is delivered by the fault itself. */
    const out = (messages: DkgMessage[], first = false): RoundMessage[] => {
      const wires: RoundMessage[] = []
      for (const msg of messages) {
        const wire = dkgToWire(sessionId, misbehave(msg, faults, split))
        if (first && msg.round === 1 && faults.dropFirstRound1 === true) continue
        if (msg.round === 1 && split !== undefined && splitFault !== undefined) {
          void splitFault.deliver(sessionId, wire, dkgToWire(sessionId, split.second))
          continue
        }
        wires.push(wire)
        if (msg.round === 1 && faults.equivocateRound1 === true) {
          wires.push({ sessionId, dkgRound1: { ...wire.dkgRound1!, proofOfKnowledge: flipBit(wire.dkgRound1!.proofOfKnowledge, 3) } })
        }
      }
      return wires
    }
    for (const msg of started.outbound) recordDigest(msg)
    return {
      participants: params.participants,
      first: out(started.outbound, true),
      receive: (round, from) => {
        const msg = dkgFromWire(round, from)
        if (msg === undefined) return { outbound: [], progressed: false }
        const step = receiveDkg(state, msg)
        const progressed = step.state !== state
        state = step.state
        if (split !== undefined) feedSplit(split, msg)
        if (msg.round === 1) recordDigest(msg, round)
        for (const o of step.outbound) recordDigest(o)
        const result = step.outcome === undefined ? undefined : { outcome: step.outcome, round1Digests: params.participants.map(p => digests.get(p) ?? new Uint8Array()) }
        return { outbound: out(step.outbound), progressed, result }
      },
      missing: () => missingDkgMessages(state),
      own: (round) => out(ownDkgMessages(state).filter(m => m.round === round))
    }
  }
}

/** Applies the test faults that change the shares this node sends. */
function misbehave (msg: DkgMessage, faults: NodeFaults, split?: SplitRound1): DkgMessage {
  const targets = faults.corruptDkgShareTo
  if (msg.round !== 2 || (split === undefined && targets === undefined)) return msg
  let shares = msg.shares
  // splitRound1: the members that got the second package get their shares of its polynomial
  if (split?.round2 !== undefined) shares = shares.map(s => split.to.includes(s.to) ? split.round2!.shares.find(o => o.to === s.to) ?? s : s)
  if (targets !== undefined) shares = shares.map(s => targets.includes(s.to) ? { ...s, sealed: flipBit(s.sealed, s.sealed.length - 1) } : s)
  return { ...msg, shares }
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
