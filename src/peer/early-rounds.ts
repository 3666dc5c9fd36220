import type { RoundMessage } from '../protocols/messages.js'
import type { PeerId } from '@libp2p/interface'

/** How much of the sessions not started here yet a node keeps (see EarlyRounds). */
export const EARLY_ROUND_LIMITS = {
  /** all early messages together */
  totalBytes: 4 * 1024 * 1024,
  /** one author's: a member cannot crowd out the others */
  perAuthorBytes: 512 * 1024,
  /** sessions kept at once */
  sessions: 64,
  /** the keygen command reaches the last participant within seconds of the first */
  ttlMs: 30_000
} as const

export interface EarlyRound {
  round: RoundMessage
  author: PeerId
}

interface Kept extends EarlyRound {
  bytes: number
  at: number
}

/** The bytes a round message holds (its byte fields; the envelope is bounded by the gossip limit). */
function roundBytes (round: RoundMessage): number {
  let n = round.sessionId.length
  if (round.dkgRound1 !== undefined) {
    const r1 = round.dkgRound1
    n += r1.proofOfKnowledge.length + r1.ephemeralPublicKey.length + r1.commitment.reduce((sum, c) => sum + c.length, 0)
  }
  for (const share of round.dkgRound2?.shares ?? []) n += share.to.length + share.sealed.length
  return n
}

/**
 * Round messages of sessions this node has not started yet. The coordinator's keygen command
 * reaches the participants at different times, and the first to start publish their round-1
 * messages before the last know the session: kept here, the late ones take them when they start
 * instead of asking for them again (a nack, and a resend flooded to the whole cluster).
 * Bounded in bytes, overall and per author, in sessions, and in time; whether the author takes
 * part in the session is checked when the session starts and its participants are known.
 */
export class EarlyRounds {
  private readonly bySession = new Map<string, Kept[]>()
  private readonly byAuthor = new Map<string, number>()
  private total = 0

  constructor (
    private readonly limits: { [K in keyof typeof EARLY_ROUND_LIMITS]: number } = EARLY_ROUND_LIMITS,
    private readonly now: () => number = Date.now
  ) {}

  /** Keeps a round message for later; false when it does not fit the limits (it is dropped). */
  add (round: RoundMessage, author: PeerId): boolean {
    this.expire()
    const bytes = roundBytes(round)
    const who = author.toString()
    const kept = this.bySession.get(round.sessionId)
    if (kept === undefined && this.bySession.size >= this.limits.sessions) return false
    if (this.total + bytes > this.limits.totalBytes || (this.byAuthor.get(who) ?? 0) + bytes > this.limits.perAuthorBytes) return false
    const entry: Kept = { round, author, bytes, at: this.now() }
    if (kept === undefined) this.bySession.set(round.sessionId, [entry])
    else kept.push(entry)
    this.count(who, bytes)
    return true
  }

  /** The messages kept for a session, in arrival order; they are forgotten here. */
  take (sessionId: string): EarlyRound[] {
    this.expire()
    const kept = this.bySession.get(sessionId) ?? []
    this.bySession.delete(sessionId)
    for (const k of kept) this.count(k.author.toString(), -k.bytes)
    return kept.map(({ round, author }) => ({ round, author }))
  }

  get bytes (): number {
    return this.total
  }

  private count (author: string, bytes: number): void {
    this.total += bytes
    const left = (this.byAuthor.get(author) ?? 0) + bytes
    if (left > 0) this.byAuthor.set(author, left)
    else this.byAuthor.delete(author)
  }

  private expire (): void {
    const oldest = this.now() - this.limits.ttlMs
    for (const [sessionId, kept] of this.bySession) {
      if ((kept[0]?.at ?? 0) >= oldest) continue
      const fresh = kept.filter(k => k.at >= oldest)
      for (const k of kept) if (k.at < oldest) this.count(k.author.toString(), -k.bytes)
      if (fresh.length === 0) this.bySession.delete(sessionId)
      else this.bySession.set(sessionId, fresh)
    }
  }
}
