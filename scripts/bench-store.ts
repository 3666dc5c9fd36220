import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Event, EventKind } from '../src/protocols/messages.js'
import { newEvent } from '../src/protocols/events.js'
import { Store } from '../src/store/store.js'

export interface EventLogRate {
  /** Events appended one at a time, each synced before the next (as the coordinator records them). */
  appendsPerSecond: number
  /** Events stored in atomic batches of `batch` (as a node keeps the coordinator's batches). */
  batchedPerSecond: number
  batch: number
  eventBytes: number
}

/** The event-log write rate of the real store on this machine's disk, for `seconds` each way. */
export async function measureEventLog (seconds = 2, batch = 64): Promise<EventLogRate> {
  const dir = await mkdtemp(join(tmpdir(), 'mpc-wallet-store-bench-'))
  const store = await Store.open(dir)
  try {
    const sample = (seq: number): Uint8Array => Event.encode(newEvent({ seq, kind: EventKind.SESSION_FINISHED, operation: 'sign', sessionId: 'AAAAAAAAAAAAAAAAAAAAAA', keyId: 'key-0123456789abcdef', detail: 'signers 12D3KooW…' }))
    let n = 0
    let t0 = performance.now()
    while (performance.now() - t0 < seconds * 1000) {
      await store.appendEvent(sample)
      n++
    }
    const appendsPerSecond = n / ((performance.now() - t0) / 1000)
    let seq = 10_000_000
    let m = 0
    t0 = performance.now()
    while (performance.now() - t0 < seconds * 1000) {
      await store.putEvents(Array.from({ length: batch }, () => { seq++; return { seq, bytes: sample(seq) } }))
      m += batch
    }
    return { appendsPerSecond: Math.round(appendsPerSecond), batchedPerSecond: Math.round(m / ((performance.now() - t0) / 1000)), batch, eventBytes: sample(1).length }
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}
