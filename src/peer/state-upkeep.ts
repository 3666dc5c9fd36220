import { digestIntervalFor } from '../protocols/constants.js'
import { every, type Service } from '../runtime/service.js'
import type { StateSync } from '../runtime/state-sync.js'
import type { RosterBook } from '../state/roster-book.js'
import { DEFAULT_EVENT_RETENTION, startEventCompaction, type EventRetention } from '../state/event-retention.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../log.js'

export interface StateUpkeepInit {
  sync: StateSync
  roster: RosterBook
  store: Store
  eventRetention?: Partial<EventRetention>
  log: Logger
}

/** Publishes this node's state digest on a timer (others pull what they miss) and keeps its event log within its retention. */
export class StateUpkeep implements Service {
  private readonly digests: Service
  private stopCompaction: () => void = () => {}

  constructor (private readonly init: StateUpkeepInit) {
    this.digests = every(() => digestIntervalFor(init.roster.current?.roster.members.length ?? 0), () => { void init.sync.publishDigest() })
  }

  start (): void {
    const { store, eventRetention, log } = this.init
    void this.digests.start()
    this.stopCompaction = startEventCompaction(store, { ...DEFAULT_EVENT_RETENTION, ...eventRetention }, log)
  }

  stop (): void {
    void this.digests.stop()
    this.stopCompaction()
  }
}
