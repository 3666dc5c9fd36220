import { heartbeatStretch } from '../protocols/constants.js'

export type HealthState = 'up' | 'suspect' | 'down'

export interface HealthThresholds {
  /** No heartbeat for this long: `suspect`. */
  suspectAfterMs: number
  /** No heartbeat for this long: `down`. Must exceed suspectAfterMs. */
  downAfterMs: number
}

export interface HealthChange {
  peerId: string
  from: HealthState
  to: HealthState
}

export interface MemberHealth {
  state: HealthState
  /** Wall-clock time of the last heartbeat, or undefined if none was seen since start. */
  lastHeartbeatMs?: number
}

/**
 * Health from heartbeats, with the clock passed in: a member is `up` while heartbeats arrive,
 * `suspect` after suspectAfterMs of silence, `down` after downAfterMs. A member never heard from
 * since this process started is `down`.
 */
export class HealthTracker {
  private readonly members = new Map<string, MemberHealth>()
  private stretch = 1

  constructor (private readonly thresholds: HealthThresholds) {
    if (!(thresholds.suspectAfterMs > 0 && thresholds.downAfterMs > thresholds.suspectAfterMs)) {
      throw new RangeError('health thresholds need 0 < suspectAfterMs < downAfterMs')
    }
  }

  /** The thresholds in force: the configured ones, stretched as the members' heartbeat interval is in a large cluster. */
  get current (): HealthThresholds {
    return { suspectAfterMs: this.thresholds.suspectAfterMs * this.stretch, downAfterMs: this.thresholds.downAfterMs * this.stretch }
  }

  /** Keeps exactly these members, adding new ones as `down` until they are heard. */
  setMembers (peerIds: Iterable<string>): void {
    const keep = new Set(peerIds)
    this.stretch = heartbeatStretch(keep.size)
    for (const id of this.members.keys()) if (!keep.has(id)) this.members.delete(id)
    for (const id of keep) if (!this.members.has(id)) this.members.set(id, { state: 'down' })
  }

  /** Records a heartbeat; returns the change if it brings the member up. */
  heartbeat (peerId: string, nowMs: number): HealthChange | undefined {
    const member = this.members.get(peerId)
    if (member === undefined) return undefined
    member.lastHeartbeatMs = nowMs
    if (member.state === 'up') return undefined
    const change: HealthChange = { peerId, from: member.state, to: 'up' }
    member.state = 'up'
    return change
  }

  /** Re-evaluates every member against the clock; returns the changes, in member order. */
  evaluate (nowMs: number): HealthChange[] {
    const changes: HealthChange[] = []
    for (const [peerId, member] of this.members) {
      if (member.lastHeartbeatMs === undefined) continue
      const silence = nowMs - member.lastHeartbeatMs
      const { downAfterMs, suspectAfterMs } = this.current
      const state: HealthState = silence >= downAfterMs ? 'down' : silence >= suspectAfterMs ? 'suspect' : 'up'
      if (state !== member.state) {
        changes.push({ peerId, from: member.state, to: state })
        member.state = state
      }
    }
    return changes
  }

  get (peerId: string): MemberHealth {
    return { ...(this.members.get(peerId) ?? { state: 'down' }) }
  }
}
