import { loadavg, cpus } from 'node:os'
import { heartbeatIntervalFor } from '../protocols/constants.js'
import { SOFTWARE_VERSION } from '../runtime/config.js'
import type { Heartbeat as HeartbeatMessage } from '../protocols/messages.js'
import type { GossipChannels } from '../runtime/channels.js'
import type { MemberLinks } from '../runtime/links.js'
import type { StateSync } from '../runtime/state-sync.js'
import type { RecordBook } from '../state/record-book.js'
import type { RosterBook } from '../state/roster-book.js'
import type { KeyCustody } from './key-custody.js'
import type { MemberDialer } from './member-links.js'
import type { NodeMembership } from './membership.js'
import { every, type Service } from '../runtime/service.js'
import type { Logger } from '../log.js'

export interface HeartbeatInit {
  intervalMs: number
  /** When this node started (ms since the epoch): uptime counts from here. */
  startedAt: number
  channels: GossipChannels
  roster: RosterBook
  records: RecordBook
  sync: StateSync
  /** How this node reaches the members (counts for the heartbeat). */
  links: MemberLinks
  dkg: { readonly active: number }
  /** The tick's upkeep before each beat: key counts first (the beat reports them) ... */
  custody: Pick<KeyCustody, 'count' | 'keysHeld' | 'keysLostCount'>
  /** ... then lost links redialled, and a Join again if our addresses changed. */
  dialer: Pick<MemberDialer, 'maintain'>
  membership: Pick<NodeMembership, 'followAddresses'>
  /** This process's nonce pool epoch (NoncePool.epoch). */
  poolEpoch: Uint8Array
  log: Logger
}

/**
 * The node's tick: every interval it brings its key counts and links up to date and publishes
 * a heartbeat on its channel (what the coordinator's health view is made of).
 */
export class Heartbeat implements Service {
  private seq = 0
  private stopped = false
  private readonly timer: Service

  constructor (private readonly init: HeartbeatInit) {
    this.timer = every(() => this.intervalMs, () => {
      this.tick().catch(err => {
        if (!this.stopped) this.init.log.warn({ err: (err as Error).message }, 'heartbeat failed')
      })
    })
  }

  start (): void {
    this.stopped = false
    void this.timer.start()
  }

  stop (): void {
    this.stopped = true
    void this.timer.stop()
  }

  /** The interval now: the configured one, longer in a large cluster (protocols/constants). */
  get intervalMs (): number {
    return heartbeatIntervalFor(this.init.intervalMs, this.init.roster.current?.roster.members.length ?? 0)
  }

  private async tick (): Promise<void> {
    if (this.stopped) return
    await this.init.custody.count()
    if (this.stopped) return
    void this.init.dialer.maintain()
    this.init.membership.followAddresses()
    await this.init.channels.publish('heartbeats', { heartbeat: this.build() })
  }

  /** The next heartbeat, from this node's state now. */
  build (): HeartbeatMessage {
    const { startedAt, roster, records, sync, links, dkg, custody } = this.init
    const load = loadavg()[0] ?? 0
    const counts = links.counts()
    return {
      seq: ++this.seq,
      uptimeMs: Date.now() - startedAt,
      loadPermille: Math.min(0xffffffff, Math.round(load / Math.max(1, cpus().length) * 1000)),
      activeSessions: dkg.active,
      keysHeld: custody.keysHeld,
      softwareVersion: SOFTWARE_VERSION,
      rosterEpoch: roster.epoch,
      stateHash: sync.digest().hash,
      keysLost: custody.keysLostCount,
      recordConflicts: records.conflicts,
      directLinks: counts.direct,
      relayedLinks: counts.relayed,
      linkUpgrades: counts.upgrades,
      startedAtMs: startedAt,
      sentAtMs: Date.now(),
      poolEpoch: this.init.poolEpoch
    }
  }
}
