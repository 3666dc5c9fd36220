import { MAX_EVENTS_PER_BATCH } from '../protocols/constants.js'
import { newEvent } from '../protocols/events.js'
import { Event, type EventKind } from '../protocols/messages.js'
import { queryEvents, type EventQuery, type EventView } from '../state/event-log.js'
import { startEventCompaction, type EventRetention } from '../state/event-retention.js'
import { EVENT_FLUSH_MS } from './constants.js'
import type { GossipChannels } from '../runtime/channels.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../log.js'

/** The fields of an event to record; the journal gives it its sequence number and time. */
export type EventFields = Partial<Event> & { kind: EventKind }

/** Appends one event to the log in `store`; returns it as recorded. */
export async function appendEvent (store: Store, fields: EventFields): Promise<Event> {
  let event: Event | undefined
  await store.appendEvent(seq => {
    event = newEvent({ ...fields, seq })
    return Event.encode(event)
  })
  return event!
}

export interface JournalInit {
  store: Store
  /** Read when publishing (the channels are built after the journal). */
  channels: () => GossipChannels
  retention: EventRetention
  log: Logger
}

/**
 * The coordinator's event journal: every change is recorded durably in the event log, then
 * published to the members on `events` in batches (every EVENT_FLUSH_MS, or at once when a batch
 * is full). The log is compacted to its retention bounds while the journal runs.
 */
export class Journal {
  /** Appends under way: a state change (health, roster) is visible before its event is on disk. */
  private readonly writes = new Set<Promise<void>>()
  private readonly unpublished: Event[] = []
  private timer: NodeJS.Timeout | undefined
  private stopCompaction: () => void = () => {}

  constructor (private readonly init: JournalInit) {}

  start (): void {
    this.stopCompaction = startEventCompaction(this.init.store, this.init.retention, this.init.log)
    this.timer = setInterval(() => { void this.publish() }, EVENT_FLUSH_MS)
  }

  /** Stops the flush timer and compaction, and publishes what was recorded until now. */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.stopCompaction()
    await this.written()
    await this.publish()
  }

  /** Stores an event durably; the members get it in the next published batch. */
  async record (fields: EventFields): Promise<void> {
    const write = this.append(fields)
    this.writes.add(write)
    try { await write } finally { this.writes.delete(write) }
  }

  /** Waits for the events of every state change already made to be on disk (or to have failed, which is logged). */
  async written (): Promise<void> {
    await Promise.allSettled([...this.writes])
  }

  /** The event log; it holds the event of every change already made. */
  async events (query: EventQuery): Promise<EventView[]> {
    await this.written()
    return await queryEvents(this.init.store, query)
  }

  private async append (fields: EventFields): Promise<void> {
    this.unpublished.push(await appendEvent(this.init.store, fields))
    if (this.unpublished.length >= MAX_EVENTS_PER_BATCH) await this.publish()
  }

  /** Publishes the recorded events not yet published, as batches on `events`. */
  private async publish (): Promise<void> {
    while (this.unpublished.length > 0) {
      const events = this.unpublished.splice(0, MAX_EVENTS_PER_BATCH)
      await this.init.channels().publish('events', { events: { events } })
    }
  }
}
