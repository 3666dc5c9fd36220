import { Event } from '../protocols/messages.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/store.js'

export interface EventRetention {
  /** Keep at most this many events (the newest). */
  maxEvents: number
  /** Remove events older than this. */
  maxAgeMs: number
}

export const DEFAULT_EVENT_RETENTION: EventRetention = { maxEvents: 1_000_000, maxAgeMs: 90 * 24 * 3600 * 1000 }
const COMPACTION_INTERVAL_MS = 10 * 60 * 1000

function ageOf (bytes: Uint8Array): number | undefined {
  try {
    return Event.decode(bytes).atMs
  } catch {
    return undefined
  }
}

/**
 * Keeps the event log within its retention: compacts now and every ten minutes, in the store,
 * by count and age. Returns the stop function.
 */
export function startEventCompaction (store: Store, retention: EventRetention, log: Logger): () => void {
  let stopped = false
  const run = (): void => {
    store.compactEvents({ maxEvents: retention.maxEvents, maxAgeMs: retention.maxAgeMs, ageOf })
      .then(({ removed, firstSeq }) => { if (removed > 0) log.info({ removed, firstSeq }, 'event log compacted') })
      .catch(err => { if (!stopped) log.warn({ err: (err as Error).message }, 'event log compaction failed') })
  }
  run()
  const timer = setInterval(run, COMPACTION_INTERVAL_MS)
  return () => {
    stopped = true
    clearInterval(timer)
  }
}
