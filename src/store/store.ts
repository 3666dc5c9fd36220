import { Level } from 'level'
import { join } from 'node:path'
import { DataDirError } from './errors.js'
import { ensurePrivateDir } from './files.js'

const SYNC = { sync: true } as const
const EVENT_PREFIX = 'event:'
const EVENT_END = 'event;'
const SEQ_WIDTH = 16
/** The highest event number ever removed by compaction (absent if none was): numbers are never reused. */
const EVENT_FLOOR_KEY = 'sys:eventFloor'
const COMPACT_BATCH = 1000

function eventKey (seq: number): string {
  return EVENT_PREFIX + seq.toString().padStart(SEQ_WIDTH, '0')
}

function seqOf (key: string): number {
  return Number(key.slice(EVENT_PREFIX.length))
}

export interface RetentionPolicy {
  /** Keep at most this many events (the newest). */
  maxEvents?: number
  /** Remove events older than this, as told by `ageOf`; needs `ageOf`. */
  maxAgeMs?: number
  /** The current time for `maxAgeMs` (default Date.now()). */
  nowMs?: number
  /**
   * When an event happened (ms since the epoch), read from its bytes; undefined if unknown. The
   * store does not know the event schema. Age compaction stops at the first event that is not
   * old enough or whose time is unknown, so only a prefix of the log is ever removed.
   */
  ageOf?: (bytes: Uint8Array) => number | undefined
  /** Deletions per synced batch (default 1000). */
  batchSize?: number
}

export interface CompactionResult {
  /** Events removed by this call. */
  removed: number
  /** The lowest event number still readable: the oldest kept event, else the number the next event gets. */
  firstSeq: number
}

export interface StoredEvent {
  seq: number
  bytes: Uint8Array
}

/**
 * The node's durable state in LevelDB under `<dataDir>/db`: JSON metadata records, the current
 * signed roster and the event log. Every write is synchronous (fsync) and acknowledged only once
 * on disk, so a kill -9 loses nothing that was acknowledged. Knows nothing of libp2p.
 */
export class Store {
  private nextEventSeq = 1
  /** Highest event number removed by compaction, 0 if none. */
  private eventFloor = 0
  /** Compactions run one at a time. */
  private compacting: Promise<unknown> = Promise.resolve()

  private constructor (private readonly db: Level<string, Uint8Array>) {}

  static async open (dataDir: string): Promise<Store> {
    await ensurePrivateDir(dataDir)
    const db = new Level<string, Uint8Array>(join(dataDir, 'db'), { valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message
      throw new DataDirError(`cannot open the store in ${dataDir}: ${cause}`)
    }
    const store = new Store(db)
    try {
      const floor = await db.get(EVENT_FLOOR_KEY)
      if (floor !== undefined) store.eventFloor = Number(Buffer.from(floor).toString('utf8'))
      if (!Number.isSafeInteger(store.eventFloor) || store.eventFloor < 0) throw new Error(`invalid event floor ${store.eventFloor}`)
      let last = store.eventFloor
      for await (const key of db.keys({ gte: EVENT_PREFIX, lt: EVENT_END, reverse: true, limit: 1 })) last = Math.max(last, seqOf(key))
      store.nextEventSeq = last + 1
    } catch (err) {
      await db.close()
      throw new DataDirError(`cannot read the store in ${dataDir}: ${(err as Error).message}`)
    }
    return store
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  async getJson<T> (name: string): Promise<T | undefined> {
    const bytes = await this.db.get(`meta:${name}`)
    return bytes === undefined ? undefined : JSON.parse(Buffer.from(bytes).toString('utf8')) as T
  }

  async putJson (name: string, value: unknown): Promise<void> {
    await this.db.put(`meta:${name}`, Buffer.from(JSON.stringify(value), 'utf8'), SYNC)
  }

  async getBytes (name: string): Promise<Uint8Array | undefined> {
    return await this.db.get(`bytes:${name}`)
  }

  async putBytes (name: string, value: Uint8Array): Promise<void> {
    await this.db.put(`bytes:${name}`, value, SYNC)
  }

  /** JSON records whose name starts with `prefix`, in name order. */
  async listJson<T> (prefix: string): Promise<Array<{ name: string, value: T }>> {
    const out: Array<{ name: string, value: T }> = []
    for await (const [key, bytes] of this.db.iterator({ gte: `meta:${prefix}`, lt: `meta:${prefix}\xff` })) {
      out.push({ name: key.slice('meta:'.length), value: JSON.parse(Buffer.from(bytes).toString('utf8')) as T })
    }
    return out
  }

  /** The JSON record with the greatest name starting with `prefix` (reading that one alone), if any. */
  async lastJson<T> (prefix: string): Promise<{ name: string, value: T } | undefined> {
    for await (const [key, bytes] of this.db.iterator({ gte: `meta:${prefix}`, lt: `meta:${prefix}\xff`, reverse: true, limit: 1 })) {
      return { name: key.slice('meta:'.length), value: JSON.parse(Buffer.from(bytes).toString('utf8')) as T }
    }
    return undefined
  }

  /**
   * One page of the JSON records whose name starts with `prefix`: those whose name sorts after
   * `afterName` (exclusive; one before `prefix`, such as '', starts at the first), in name order,
   * at most `limit`. The next page starts after the last name of this one.
   */
  async listJsonPage<T> (prefix: string, afterName: string, limit: number): Promise<Array<{ name: string, value: T }>> {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`invalid limit ${limit}`)
    if (limit === 0) return []
    const from = afterName < prefix ? { gte: `meta:${prefix}` } : { gt: `meta:${afterName}` }
    const out: Array<{ name: string, value: T }> = []
    for await (const [key, bytes] of this.db.iterator({ ...from, lt: `meta:${prefix}\xff`, limit })) {
      out.push({ name: key.slice('meta:'.length), value: JSON.parse(Buffer.from(bytes).toString('utf8')) as T })
    }
    return out
  }

  /**
   * Applies several writes atomically (all or none survive a crash), synchronously on disk.
   * `json` and `bytes` name records as getJson/getBytes do; a null value deletes the record.
   * `synced: false` skips the fsync: the batch survives a killed process (it is in the OS's
   * hands), not a machine crash, and a later synced write carries it to the disk with it.
   */
  async batch (ops: { json?: Record<string, unknown>, bytes?: Record<string, Uint8Array | null> }, { synced = true }: { synced?: boolean } = {}): Promise<void> {
    const batch = this.db.batch()
    for (const [name, value] of Object.entries(ops.json ?? {})) {
      if (value === null) batch.del(`meta:${name}`)
      else batch.put(`meta:${name}`, Buffer.from(JSON.stringify(value), 'utf8'))
    }
    for (const [name, value] of Object.entries(ops.bytes ?? {})) {
      if (value === null) batch.del(`bytes:${name}`)
      else batch.put(`bytes:${name}`, value)
    }
    await batch.write(synced ? SYNC : {})
  }

  /** Appends an event with the next sequence number; `encode` receives that number. */
  /** The sequence number of the newest event appended or stored (0 before the first). */
  get lastEventSeq (): number {
    return this.nextEventSeq - 1
  }

  async appendEvent (encode: (seq: number) => Uint8Array): Promise<StoredEvent> {
    const seq = this.nextEventSeq++
    const bytes = encode(seq)
    await this.db.put(eventKey(seq), bytes, SYNC)
    return { seq, bytes }
  }

  /** Stores an event numbered by its origin (a node keeping the coordinator's log). Idempotent. */
  async putEvent (seq: number, bytes: Uint8Array): Promise<void> {
    await this.putEvents([{ seq, bytes }])
  }

  /** Stores several events numbered by their origin, atomically. Idempotent. */
  async putEvents (events: StoredEvent[]): Promise<void> {
    for (const { seq } of events) if (!Number.isSafeInteger(seq) || seq < 1) throw new DataDirError(`invalid event sequence ${seq}`)
    await this.db.batch(events.map(({ seq, bytes }) => ({ type: 'put' as const, key: eventKey(seq), value: bytes })), SYNC)
    for (const { seq } of events) if (seq >= this.nextEventSeq) this.nextEventSeq = seq + 1
  }

  /** Events with sequence number above `afterSeq`, oldest first, at most `limit`. */
  async listEvents (afterSeq = 0, limit = 1000): Promise<StoredEvent[]> {
    const out: StoredEvent[] = []
    for await (const [key, bytes] of this.db.iterator({ gt: eventKey(afterSeq), lt: EVENT_END, limit })) {
      out.push({ seq: seqOf(key), bytes })
    }
    return out
  }

  /**
   * The lowest event number a reader can still get: the oldest stored event or, when compaction
   * removed every event, the number after the last one removed. Undefined for an empty log that
   * was never compacted.
   */
  async firstEventSeq (): Promise<number | undefined> {
    for await (const key of this.db.keys({ gte: EVENT_PREFIX, lt: EVENT_END, limit: 1 })) return seqOf(key)
    return this.eventFloor > 0 ? this.eventFloor + 1 : undefined
  }

  /**
   * The highest event number removed by compaction, 0 if none was. A reader resuming after
   * `afterSeq` has missed compacted events exactly when `afterSeq < compactedThrough()`.
   */
  compactedThrough (): number {
    return this.eventFloor
  }

  /**
   * Removes the oldest events: those beyond the newest `maxEvents`, and those older than
   * `maxAgeMs`. Only a prefix of the log is removed, in synced batches of `batchSize` deletions,
   * streaming keys rather than loading the log; a crash part way leaves a shorter prefix removed.
   * Event numbers removed are never reused, also after a reopen.
   */
  async compactEvents (policy: RetentionPolicy): Promise<CompactionResult> {
    const { maxEvents, maxAgeMs, ageOf } = policy
    const nowMs = policy.nowMs ?? Date.now()
    const batchSize = policy.batchSize ?? COMPACT_BATCH
    if (maxEvents !== undefined && (!Number.isSafeInteger(maxEvents) || maxEvents < 0)) throw new RangeError(`invalid maxEvents ${maxEvents}`)
    if (maxAgeMs !== undefined && (!Number.isFinite(maxAgeMs) || maxAgeMs < 0)) throw new RangeError(`invalid maxAgeMs ${maxAgeMs}`)
    if (maxAgeMs !== undefined && ageOf === undefined) throw new RangeError('maxAgeMs needs ageOf')
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`invalid batchSize ${batchSize}`)
    const run = this.compacting.then(async () => await this.compactNow(maxEvents, maxAgeMs, ageOf, nowMs, batchSize))
    this.compacting = run.catch(() => {})
    return await run
  }

  private async compactNow (maxEvents: number | undefined, maxAgeMs: number | undefined, ageOf: RetentionPolicy['ageOf'],
    nowMs: number, batchSize: number): Promise<CompactionResult> {
    // every event numbered up to sizeCut goes: the (maxEvents + 1)-th newest and older
    let sizeCut = 0
    if (maxEvents !== undefined) {
      let seen = 0
      for await (const key of this.db.keys({ gte: EVENT_PREFIX, lt: EVENT_END, reverse: true, limit: maxEvents + 1 })) {
        if (++seen === maxEvents + 1) sizeCut = seqOf(key)
      }
    }
    const byAge = maxAgeMs !== undefined && ageOf !== undefined
    if (sizeCut === 0 && !byAge) return { removed: 0, firstSeq: await this.firstReadable() }

    let removed = 0
    let pending: string[] = []
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return
      const floor = Math.max(this.eventFloor, seqOf(pending[pending.length - 1]!))
      await this.db.batch([
        ...pending.map(key => ({ type: 'del' as const, key })),
        { type: 'put' as const, key: EVENT_FLOOR_KEY, value: Buffer.from(String(floor), 'utf8') }
      ], SYNC)
      this.eventFloor = floor
      removed += pending.length
      pending = []
    }
    const range = { gte: EVENT_PREFIX, lt: EVENT_END }
    const iterator = byAge ? this.db.iterator(range) : this.db.keys(range)
    try {
      for await (const item of iterator) {
        const [key, bytes] = typeof item === 'string' ? [item, undefined] : item
        if (seqOf(key) > sizeCut) {
          if (!byAge || bytes === undefined) break
          const atMs = ageOf(bytes)
          if (atMs === undefined || !(nowMs - atMs > maxAgeMs)) break
        }
        pending.push(key)
        if (pending.length >= batchSize) await flush()
      }
      await flush()
    } finally {
      await iterator.close()
    }
    return { removed, firstSeq: await this.firstReadable() }
  }

  private async firstReadable (): Promise<number> {
    return (await this.firstEventSeq()) ?? this.nextEventSeq
  }
}
