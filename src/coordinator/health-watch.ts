import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { CommandHandler } from '../protocols/command.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { HeartbeatFreshness } from '../protocols/freshness.js'
import { ErrorCode, EventKind, Health, type Heartbeat } from '../protocols/messages.js'
import { isRosterMember, type RosterMember } from '../protocols/roster.js'
import type { GossipChannels } from '../runtime/channels.js'
import type { RosterBook } from '../state/roster-book.js'
import type { Logger } from '../log.js'
import { HEALTH_TICKS_PER_SUSPECT_WINDOW, MAX_HEALTH_TICK_MS, MIN_HEALTH_TICK_MS } from './constants.js'
import { HealthTracker, type HealthChange, type HealthState, type HealthThresholds, type MemberHealth } from './health.js'
import type { EventFields } from './journal.js'

const HEALTH_WIRE: Record<HealthState, Health> = { up: Health.UP, suspect: Health.SUSPECT, down: Health.DOWN }

export interface HealthWatchInit {
  thresholds: HealthThresholds
  roster: RosterBook
  /** The coordinator itself: the writer of the records a member may report conflicts in. */
  self: PeerId
  record: (event: EventFields) => Promise<void>
  /** Where heartbeats come from: this service takes the `heartbeats` channel while started. */
  channels: () => GossipChannels
  log: Logger
}

/**
 * The members' health as the coordinator sees it: heartbeats (from the `heartbeats` channel) feed
 * a HealthTracker, a timer evaluates it against the clock, and every change is recorded as a
 * HEALTH_CHANGED event (a conflict a member reports, as a CONFLICT event). Also answers Status.
 */
export class HealthWatch {
  /** Heartbeats must be fresh: a replayed or long-delayed one does not bring a member up. */
  readonly freshness = new HeartbeatFreshness()
  private readonly tracker: HealthTracker
  private readonly lastHeartbeat = new Map<string, Heartbeat>()
  private readonly startedAt = Date.now()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly init: HealthWatchInit) {
    this.tracker = new HealthTracker(init.thresholds)
  }

  start (): void {
    this.init.channels().handle('heartbeats', this.onHeartbeat)
    this.setMembers(this.members())
    const { suspectAfterMs } = this.init.thresholds
    const tick = Math.max(MIN_HEALTH_TICK_MS, Math.min(MAX_HEALTH_TICK_MS, Math.floor(suspectAfterMs / HEALTH_TICKS_PER_SUSPECT_WINDOW)))
    this.timer = setInterval(() => {
      for (const change of this.tracker.evaluate(Date.now())) {
        this.recordChange(change).catch(err => { this.init.log.error({ err }, 'recording a health change failed') })
      }
    }, tick)
  }

  stop (): void {
    clearInterval(this.timer)
    this.init.channels().unhandle('heartbeats')
  }

  /** Follows the roster: new members are `down` until heard; those gone are forgotten. */
  setMembers (members: RosterMember[]): void {
    const ids = members.map(m => m.peerId.toString())
    this.tracker.setMembers(ids)
    const kept = new Set(ids)
    for (const id of this.lastHeartbeat.keys()) if (!kept.has(id)) this.lastHeartbeat.delete(id)
  }

  get (peerId: string): MemberHealth {
    return this.tracker.get(peerId)
  }

  state (peerId: string): HealthState {
    return this.tracker.get(peerId).state
  }

  /** The member's last heartbeat, if one came since start. */
  heartbeatOf (peerId: string): Heartbeat | undefined {
    return this.lastHeartbeat.get(peerId)
  }

  /** The `heartbeats` channel's handler. */
  readonly onHeartbeat = async (hb: Heartbeat, author: PeerId): Promise<void> => {
    const self = this.init.self
    const previous = this.lastHeartbeat.get(author.toString())
    this.lastHeartbeat.set(author.toString(), hb)
    if (hb.recordConflicts > (previous?.recordConflicts ?? 0)) {
      // A member holds two different records at one version from us, the records' writer.
      await this.init.record({
        kind: EventKind.CONFLICT,
        peerId: author.toMultihash().bytes,
        culprits: [self.toMultihash().bytes],
        detail: `${author.toString()} saw ${hb.recordConflicts} conflicting record version(s) written by ${self.toString()}`
      })
    }
    const change = this.tracker.heartbeat(author.toString(), Date.now())
    if (change !== undefined) await this.recordChange(change)
  }

  /** The Status command, served to cluster members. */
  readonly status: CommandHandler<'status'> = async (_req, ctx) => {
    const roster = this.init.roster
    if (!isRosterMember(roster.current?.roster, ctx.remotePeer)) throw new CommandRefusedError(ErrorCode.UNAUTHORIZED, 'status is served to cluster members')
    return {
      role: 'coordinator',
      rosterEpoch: roster.epoch,
      uptimeMs: Date.now() - this.startedAt,
      members: this.members().map(m => {
        const h = this.tracker.get(m.peerId.toString())
        return { peerId: m.peerId.toMultihash().bytes, health: HEALTH_WIRE[h.state], lastHeartbeatMs: h.lastHeartbeatMs ?? 0 }
      })
    }
  }

  private members (): RosterMember[] {
    return this.init.roster.current?.roster.members ?? []
  }

  private async recordChange (change: HealthChange): Promise<void> {
    this.init.log.info({ peer: change.peerId, from: change.from, to: change.to }, 'health changed')
    await this.init.record({ kind: EventKind.HEALTH_CHANGED, peerId: peerIdFromString(change.peerId).toMultihash().bytes, from: HEALTH_WIRE[change.from], to: HEALTH_WIRE[change.to] })
  }
}
