import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Store, type StoredEvent } from '../../src/store/store.js'

let dir: string
const open: Store[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpcw-unit-retention-'))
})

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map(async s => { await s.close() }))
  await rm(dir, { recursive: true, force: true })
})

async function openStore (): Promise<Store> {
  const store = await Store.open(dir)
  open.push(store)
  return store
}

async function reopen (store: Store): Promise<Store> {
  open.splice(open.indexOf(store), 1)
  await store.close()
  return await openStore()
}

/** An event as the coordinator might store it: its time and a body, as JSON. */
const eventAt = (atMs: number, body = ''): Uint8Array => new Uint8Array(Buffer.from(JSON.stringify({ atMs, body }), 'utf8'))
const ageOf = (bytes: Uint8Array): number | undefined => {
  try {
    const atMs = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { atMs?: unknown }).atMs
    return typeof atMs === 'number' ? atMs : undefined
  } catch {
    return undefined
  }
}
const bodyOf = (e: StoredEvent): string => (JSON.parse(Buffer.from(e.bytes).toString('utf8')) as { body: string }).body

async function append (store: Store, n: number, atMs: (seq: number) => number = () => 0): Promise<void> {
  for (let i = 0; i < n; i++) await store.appendEvent(seq => eventAt(atMs(seq), `e${seq}`))
}

/** Every stored event, read page by page as a client would. */
async function allEvents (store: Store, pageSize = 1000): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for (let after = 0; ;) {
    const page = await store.listEvents(after, pageSize)
    if (page.length === 0) return out
    out.push(...page)
    after = page[page.length - 1]!.seq
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('Store.compactEvents by size', () => {
  it('keeps the newest maxEvents events and removes the older ones', async () => {
    const store = await openStore()
    await append(store, 25)
    expect(await store.compactEvents({ maxEvents: 10 })).toEqual({ removed: 15, firstSeq: 16 })
    const events = await allEvents(store)
    expect(events.map(e => e.seq)).toEqual(range(16, 25))
    expect(events.map(bodyOf)).toEqual(range(16, 25).map(s => `e${s}`))
    expect(await store.firstEventSeq()).toBe(16)
    expect(store.compactedThrough()).toBe(15)
  })

  it('removes nothing when the log is within the bound', async () => {
    const store = await openStore()
    expect(await store.compactEvents({ maxEvents: 10 })).toEqual({ removed: 0, firstSeq: 1 })
    expect(await store.firstEventSeq()).toBeUndefined()
    await append(store, 10)
    expect(await store.compactEvents({ maxEvents: 10 })).toEqual({ removed: 0, firstSeq: 1 })
    expect(await store.compactEvents({})).toEqual({ removed: 0, firstSeq: 1 })
    expect((await allEvents(store)).map(e => e.seq)).toEqual(range(1, 10))
    expect(store.compactedThrough()).toBe(0)
  })

  it('counts the events a node stored, gaps included, not the numbers', async () => {
    const store = await openStore()
    await store.putEvents([2, 5, 9, 10, 40].map(seq => ({ seq, bytes: eventAt(0, `e${seq}`) })))
    expect(await store.compactEvents({ maxEvents: 2 })).toEqual({ removed: 3, firstSeq: 10 })
    expect((await allEvents(store)).map(e => e.seq)).toEqual([10, 40])
    expect(store.compactedThrough()).toBe(9)
  })

  it('removes every event with maxEvents 0 and goes on numbering after the last, also after reopen', async () => {
    let store = await openStore()
    await append(store, 7)
    expect(await store.compactEvents({ maxEvents: 0 })).toEqual({ removed: 7, firstSeq: 8 })
    expect(await store.listEvents()).toEqual([])
    expect(await store.firstEventSeq()).toBe(8)
    store = await reopen(store)
    expect(await store.firstEventSeq()).toBe(8)
    expect(store.compactedThrough()).toBe(7)
    expect((await store.appendEvent(() => eventAt(0, 'next'))).seq).toBe(8)
    store = await reopen(store)
    expect((await store.appendEvent(() => eventAt(0, 'after'))).seq).toBe(9)
    expect((await allEvents(store)).map(bodyOf)).toEqual(['next', 'after'])
  })

  it('continues numbering after compaction and after reopen, with later compactions', async () => {
    let store = await openStore()
    await append(store, 30)
    await store.compactEvents({ maxEvents: 5 })
    await append(store, 3)
    expect((await allEvents(store)).map(e => e.seq)).toEqual(range(26, 33))
    store = await reopen(store)
    await append(store, 2)
    expect((await allEvents(store)).map(e => e.seq)).toEqual(range(26, 35))
    expect(await store.compactEvents({ maxEvents: 4 })).toEqual({ removed: 6, firstSeq: 32 })
    store = await reopen(store)
    expect(await store.firstEventSeq()).toBe(32)
    await append(store, 1)
    expect((await allEvents(store)).map(e => [e.seq, bodyOf(e)])).toEqual(range(32, 36).map(s => [s, `e${s}`]))
  })

  it('lets a reader tell whether it missed compacted events', async () => {
    const store = await openStore()
    await append(store, 20)
    await store.compactEvents({ maxEvents: 8 })
    // a client that saw up to 12 resumes without loss; one that saw only up to 11 missed event 12
    expect(store.compactedThrough()).toBe(12)
    expect((await store.listEvents(12, 100)).map(e => e.seq)).toEqual(range(13, 20))
    expect((await store.listEvents(5, 3)).map(e => e.seq)).toEqual([13, 14, 15])
    expect(11 < store.compactedThrough()).toBe(true)
    expect(12 < store.compactedThrough()).toBe(false)
  })

  it.each([-1, 1.5, Number.NaN])('refuses maxEvents %s', async (maxEvents) => {
    const store = await openStore()
    await append(store, 3)
    await expect(store.compactEvents({ maxEvents })).rejects.toThrow(RangeError)
    expect((await allEvents(store)).map(e => e.seq)).toEqual([1, 2, 3])
  })
})

describe('Store.compactEvents by age', () => {
  const now = 1_000_000

  it('removes events older than maxAgeMs', async () => {
    const store = await openStore()
    // event n happened n seconds after the epoch of this test
    await append(store, 10, seq => now - 10_000 + seq * 1000)
    // ages are 9 s (event 1) down to 0 s (event 10); older than 4.5 s: events 1-5
    expect(await store.compactEvents({ maxAgeMs: 4500, nowMs: now, ageOf })).toEqual({ removed: 5, firstSeq: 6 })
    expect((await allEvents(store)).map(e => e.seq)).toEqual(range(6, 10))
    // an event exactly maxAgeMs old stays
    expect(await store.compactEvents({ maxAgeMs: 4000, nowMs: now, ageOf })).toEqual({ removed: 0, firstSeq: 6 })
    expect(await store.compactEvents({ maxAgeMs: 3999, nowMs: now, ageOf })).toEqual({ removed: 1, firstSeq: 7 })
  })

  it('uses the current time by default', async () => {
    const store = await openStore()
    await store.appendEvent(() => eventAt(Date.now() - 60_000))
    await store.appendEvent(() => eventAt(Date.now()))
    expect(await store.compactEvents({ maxAgeMs: 30_000, ageOf })).toMatchObject({ removed: 1, firstSeq: 2 })
  })

  it('stops at the first event that is not old enough, so only a prefix goes', async () => {
    const store = await openStore()
    for (const atMs of [0, 0, now, 0, 0]) await store.appendEvent(() => eventAt(atMs))
    expect(await store.compactEvents({ maxAgeMs: 1000, nowMs: now, ageOf })).toEqual({ removed: 2, firstSeq: 3 })
    expect((await allEvents(store)).map(e => e.seq)).toEqual([3, 4, 5])
  })

  it('stops at an event whose time it cannot tell', async () => {
    const store = await openStore()
    await store.appendEvent(() => eventAt(0))
    await store.appendEvent(() => new Uint8Array([0xff, 0x00]))
    await store.appendEvent(() => eventAt(0))
    expect(await store.compactEvents({ maxAgeMs: 1000, nowMs: now, ageOf })).toEqual({ removed: 1, firstSeq: 2 })
  })

  it('needs ageOf for maxAgeMs', async () => {
    const store = await openStore()
    await append(store, 2)
    await expect(store.compactEvents({ maxAgeMs: 1000 })).rejects.toThrow(/ageOf/)
    await expect(store.compactEvents({ maxAgeMs: -1, ageOf })).rejects.toThrow(RangeError)
  })
})

describe('Store.compactEvents by size and age', () => {
  const now = 5_000_000

  it('removes what either bound removes', async () => {
    const store = await openStore()
    // events 1-10 are old, 11-20 are new
    await append(store, 20, seq => seq <= 10 ? now - 100_000 : now)
    // the size bound removes more than the age bound
    expect(await store.compactEvents({ maxEvents: 5, maxAgeMs: 50_000, nowMs: now, ageOf })).toEqual({ removed: 15, firstSeq: 16 })
    await append(store, 10, seq => seq <= 25 ? now - 100_000 : now + 60_000)
    // events 16-20 are new, 21-25 old but after a new one, 26-30 newer: the age bound stops at 16
    expect(await store.compactEvents({ maxEvents: 100, maxAgeMs: 50_000, nowMs: now, ageOf })).toEqual({ removed: 0, firstSeq: 16 })
    // the age bound removes more than the size bound
    expect(await store.compactEvents({ maxEvents: 14, maxAgeMs: 50_000, nowMs: now + 60_000, ageOf })).toEqual({ removed: 10, firstSeq: 26 })
    expect((await allEvents(store)).map(e => e.seq)).toEqual(range(26, 30))
  })

  it('keeps appends made during compactions', async () => {
    const store = await openStore()
    await append(store, 50)
    const results = await Promise.all([
      store.compactEvents({ maxEvents: 30, batchSize: 3 }),
      append(store, 10),
      store.compactEvents({ maxEvents: 20, batchSize: 7 })
    ])
    // how many appends landed before each compaction read the log varies; the outcome is a
    // contiguous log ending with every append, at most 30 and at least 20 events long
    const seqs = (await allEvents(store)).map(e => e.seq)
    expect(seqs[seqs.length - 1]).toBe(60)
    expect(seqs).toEqual(range(seqs[0]!, 60))
    expect(seqs.length).toBeGreaterThanOrEqual(20)
    expect(seqs.length).toBeLessThanOrEqual(30)
    expect(results[0].removed + results[2].removed).toBe(60 - seqs.length)
    expect(await store.firstEventSeq()).toBe(seqs[0])
    expect(store.compactedThrough()).toBe(seqs[0]! - 1)
  })

  it('runs concurrent compactions one after the other', async () => {
    const store = await openStore()
    await append(store, 50)
    const [a, b] = await Promise.all([store.compactEvents({ maxEvents: 30, batchSize: 3 }), store.compactEvents({ maxEvents: 20, batchSize: 7 })])
    expect([a, b]).toEqual([{ removed: 20, firstSeq: 21 }, { removed: 10, firstSeq: 31 }])
    expect((await allEvents(store)).map(e => e.seq)).toEqual(range(31, 50))
  })
})

describe('Store.compactEvents on a large log', () => {
  it('compacts 20 000 events in bounded batches and keeps the newest intact', async () => {
    let store = await openStore()
    const total = 20_000
    // one batch of appends at a time: a synced write per event would take minutes
    for (let from = 1; from <= total; from += 1000) {
      await store.putEvents(range(from, Math.min(total, from + 999)).map(seq => ({ seq, bytes: eventAt(seq, `e${seq}`) })))
    }
    const result = await store.compactEvents({ maxEvents: 2500, batchSize: 1000 })
    expect(result).toEqual({ removed: total - 2500, firstSeq: total - 2500 + 1 })
    const events = await allEvents(store, 700)
    expect(events.map(e => e.seq)).toEqual(range(total - 2499, total))
    expect(events.every(e => bodyOf(e) === `e${e.seq}`)).toBe(true)
    // by age next: every event's time is its number, so older than now - 1000 at now = total
    expect(await store.compactEvents({ maxAgeMs: 1000, nowMs: total, ageOf, batchSize: 333 })).toEqual({ removed: 1499, firstSeq: total - 1000 })
    store = await reopen(store)
    expect(await store.firstEventSeq()).toBe(total - 1000)
    expect((await store.appendEvent(() => eventAt(0))).seq).toBe(total + 1)
    expect((await store.listEvents(total - 1, 10)).map(e => e.seq)).toEqual([total, total + 1])
  }, 60_000)
})
