import { Level } from 'level'
import { join } from 'node:path'
import { DataDirError } from './errors.js'
import { ensurePrivateDir } from './files.js'

const SYNC = { sync: true } as const
const EVENT_PREFIX = 'event:'
const EVENT_END = 'event;'
const SEQ_WIDTH = 16

function eventKey (seq: number): string {
  return EVENT_PREFIX + seq.toString().padStart(SEQ_WIDTH, '0')
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
    for await (const key of db.keys({ gte: EVENT_PREFIX, lt: EVENT_END, reverse: true, limit: 1 })) {
      store.nextEventSeq = Number(key.slice(EVENT_PREFIX.length)) + 1
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

  /**
   * Applies several writes atomically (all or none survive a crash), synchronously on disk.
   * `json` and `bytes` name records as getJson/getBytes do; a null value deletes the record.
   */
  async batch (ops: { json?: Record<string, unknown>, bytes?: Record<string, Uint8Array | null> }): Promise<void> {
    const batch = this.db.batch()
    for (const [name, value] of Object.entries(ops.json ?? {})) {
      if (value === null) batch.del(`meta:${name}`)
      else batch.put(`meta:${name}`, Buffer.from(JSON.stringify(value), 'utf8'))
    }
    for (const [name, value] of Object.entries(ops.bytes ?? {})) {
      if (value === null) batch.del(`bytes:${name}`)
      else batch.put(`bytes:${name}`, value)
    }
    await batch.write(SYNC)
  }

  /** Appends an event with the next sequence number; `encode` receives that number. */
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
      out.push({ seq: Number(key.slice(EVENT_PREFIX.length)), bytes })
    }
    return out
  }
}
