import { MAX_MEMBERS } from './constants.js'
import type { Heartbeat } from './messages.js'

/**
 * A heartbeat sent longer ago than this (by the sender's clock) is not news of the sender.
 * Gossipsub forgets a message id after its seen-cache TTL (2 min); a replay of a signed
 * heartbeat after that would pass as new, so this window plus the clock skew allowed must stay
 * below it: a replay is then always either a duplicate or too old. Hosts need clocks within
 * MAX_HEARTBEAT_SKEW_MS of each other (NTP), or their heartbeats are ignored.
 */
export const MAX_HEARTBEAT_AGE_MS = 30_000
/** How far ahead of ours a sender's clock may be. */
export const MAX_HEARTBEAT_SKEW_MS = 30_000

export type Staleness = 'old' | 'future' | 'replayed'

/**
 * Keeps, per sender, the newest (process start, sequence number) seen, and says whether a
 * heartbeat is newer than that and recent by the clock. A restarted sender has a later start time,
 * so its sequence numbers may begin again at 1. Bounded: at most 2 × MAX_MEMBERS senders, the
 * least recently heard dropped first (a sender is a roster member; validation checks that first).
 */
export class HeartbeatFreshness {
  private readonly last = new Map<string, { startedAtMs: number, seq: number }>()
  /**
   * Delivery, counted since this process started: `received` fresh heartbeats, `expected` the
   * sequence numbers they cover (a gap in a sender's sequence is a heartbeat that never came; the
   * first one heard of each sender's run counts as one). `received / expected` is the delivery rate.
   */
  readonly delivery = { received: 0, expected: 0 }

  /** Undefined if `hb` is fresh (and records it as the newest), else why it is not. */
  check (sender: string, hb: Pick<Heartbeat, 'startedAtMs' | 'seq' | 'sentAtMs'>, nowMs = Date.now()): Staleness | undefined {
    if (hb.sentAtMs < nowMs - MAX_HEARTBEAT_AGE_MS) return 'old'
    if (hb.sentAtMs > nowMs + MAX_HEARTBEAT_SKEW_MS) return 'future'
    const last = this.last.get(sender)
    if (last !== undefined && (hb.startedAtMs < last.startedAtMs || (hb.startedAtMs === last.startedAtMs && hb.seq <= last.seq))) return 'replayed'
    this.delivery.received++
    this.delivery.expected += last !== undefined && hb.startedAtMs === last.startedAtMs ? hb.seq - last.seq : 1
    this.last.delete(sender)
    if (this.last.size >= 2 * MAX_MEMBERS) this.last.delete(this.last.keys().next().value!)
    this.last.set(sender, { startedAtMs: hb.startedAtMs, seq: hb.seq })
    return undefined
  }
}
