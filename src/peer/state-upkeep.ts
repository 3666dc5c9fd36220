import { DIGEST_INTERVAL_MS, type StateSync } from '../runtime/state-sync.js'
import { DEFAULT_EVENT_RETENTION, startEventCompaction, type EventRetention } from '../state/event-retention.js'
import type { Store } from '../store/store.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'

export interface StateUpkeepInit {
  sync: StateSync
  store: Store
  eventRetention?: Partial<EventRetention>
  log: Logger
}

/** Publishes this node's state digest on a timer (others pull what they miss) and keeps its event log within its retention. */
export class StateUpkeep implements Service {
  private digestTimer: NodeJS.Timeout | undefined
  private stopCompaction: () => void = () => {}

  constructor (private readonly init: StateUpkeepInit) {}

  start (): void {
    const { sync, store, eventRetention, log } = this.init
    this.digestTimer = setInterval(() => { void sync.publishDigest() }, DIGEST_INTERVAL_MS)
    this.stopCompaction = startEventCompaction(store, { ...DEFAULT_EVENT_RETENTION, ...eventRetention }, log)
  }

  stop (): void {
    clearInterval(this.digestTimer)
    this.stopCompaction()
  }
}
