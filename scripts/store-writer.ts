/**
 * A store writer for the kill -9 test (test/e2e/store-kill.test.ts): writes to a Store as fast as
 * it can and prints one line per write, only once the write has resolved:
 *
 *   ack event <seq>     an appended event, whose bytes are eventPayload(seq)
 *   ack pair <n>        an atomic batch of json `pair:a` = n, bytes `pair:b` = pairPayload(n), json `pair:c` = n
 *   ack counter <n>     json `counter` = n
 *   begin compact       (before a compaction starts)
 *   ack compact <seq>   a compaction to the newest KEEP_EVENTS events, after which the oldest event is <seq>
 *
 * It resumes from what the store holds (event numbers, pair and counter values), so it can be run
 * again on the same directory after a kill. It stops by itself after `maxWrites` writes or `maxMs`
 * milliseconds and then prints `done`.
 *
 *   node --import tsx scripts/store-writer.ts <dataDir> [maxWrites] [maxMs]
 */
import { createHash } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { Store } from '../src/store/store.js'

/** Compaction keeps this many events, in deletion batches of COMPACT_BATCH so it spans several. */
export const KEEP_EVENTS = 200
export const COMPACT_BATCH = 4
/** Every this many loop iterations a pair is written, a counter is written, the log is compacted. */
const PAIR_EVERY = 1
const COUNTER_EVERY = 2
const COMPACT_EVERY = 10

function filler (tag: string, n: number, length: number): Buffer {
  const out = Buffer.alloc(length)
  let block = createHash('sha256').update(`${tag}:${n}`).digest()
  for (let at = 0; at < length; at += block.length) {
    block.copy(out, at)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

/**
 * The bytes of event `seq`: its number, a filler of 64 bytes to 16 KiB depending on the number
 * (so writes cross LevelDB's log blocks and fill memtables), and a SHA-256 of all that.
 */
export function eventPayload (seq: number): Uint8Array {
  const body = Buffer.concat([Buffer.from(`event ${seq}\n`, 'utf8'), filler('event', seq, 64 + (seq * 7919) % 16_320)])
  return new Uint8Array(Buffer.concat([body, createHash('sha256').update(body).digest()]))
}

/** The bytes record `pair:b` holds next to json `pair:a` = `pair:c` = n: n as 8 bytes, then 8 KiB of filler. */
export function pairPayload (n: number): Uint8Array {
  const head = Buffer.alloc(8)
  head.writeBigUInt64BE(BigInt(n))
  return new Uint8Array(Buffer.concat([head, filler('pair', n, 8192)]))
}

/** The n that pairPayload(n) encodes, or undefined for bytes it cannot have made. */
export function pairNumber (bytes: Uint8Array): number | undefined {
  if (bytes.length !== 8 + 8192) return undefined
  const n = Number(Buffer.from(bytes).readBigUInt64BE(0))
  return Buffer.from(pairPayload(n)).equals(Buffer.from(bytes)) ? n : undefined
}

async function main (): Promise<void> {
  const [dataDir, maxWritesArg = '100000', maxMsArg = '10000'] = process.argv.slice(2)
  if (dataDir === undefined) throw new Error('usage: store-writer <dataDir> [maxWrites] [maxMs]')
  const maxWrites = Number(maxWritesArg)
  const deadline = Date.now() + Number(maxMsArg)
  const store = await Store.open(dataDir)
  const ack = (what: string): void => { process.stdout.write(`ack ${what}\n`) }
  let pair = (await store.getJson<number>('pair:a')) ?? 0
  let counter = (await store.getJson<number>('counter')) ?? 0
  let writes = 0
  for (let i = 1; writes < maxWrites && Date.now() < deadline; i++) {
    const event = await store.appendEvent(eventPayload)
    ack(`event ${event.seq}`)
    writes++
    if (i % PAIR_EVERY === 0) {
      pair++
      await store.batch({ json: { 'pair:a': pair, 'pair:c': pair }, bytes: { 'pair:b': pairPayload(pair) } })
      ack(`pair ${pair}`)
      writes++
    }
    if (i % COUNTER_EVERY === 0) {
      counter++
      await store.putJson('counter', counter)
      ack(`counter ${counter}`)
      writes++
    }
    if (i % COMPACT_EVERY === 0) {
      process.stdout.write('begin compact\n')
      const { firstSeq } = await store.compactEvents({ maxEvents: KEEP_EVENTS, batchSize: COMPACT_BATCH })
      ack(`compact ${firstSeq}`)
      writes++
    }
  }
  await store.close()
  process.stdout.write('done\n')
}

const entry = process.argv[1]
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
}
