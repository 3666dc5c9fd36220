import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import { COMPACT_BATCH, KEEP_EVENTS, eventPayload, pairNumber } from '../../scripts/store-writer.js'
import { Store } from '../../src/store/store.js'
import { tempDir } from '../helpers.js'
import { ROOT } from './cli.js'

const ROUNDS = 30
/** The writer stops by itself after this long if the test never kills it. */
const WRITER_MAX_MS = 8000

interface Round {
  acks: { event: number[], pair: number[], counter: number[], compact: number[] }
  done: boolean
  /** The writer had begun a compaction and not acknowledged it when killed. */
  inCompaction: boolean
  signal: NodeJS.Signals | null
  code: number | null
  stderr: string
}

const random = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1))

/**
 * Runs the writer on `dataDir` and SIGKILLs it: every third round at a random time after the
 * spawn (which may fall in start-up or in LevelDB's recovery of the last kill), the other rounds
 * a random 0-20 ms after a random number of acknowledgements (1-150), so mid-stream.
 */
async function runAndKill (dataDir: string, round: number): Promise<Round> {
  const child = spawn(process.execPath, ['--import', 'tsx', join('scripts', 'store-writer.ts'), dataDir, '1000000', String(WRITER_MAX_MS)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const result: Round = { acks: { event: [], pair: [], counter: [], compact: [] }, done: false, inCompaction: false, signal: null, code: null, stderr: '' }
  const closed = new Promise<void>(resolve => child.on('close', (code, signal) => { result.code = code; result.signal = signal; resolve() }))
  const timers: NodeJS.Timeout[] = []
  const kill = (): void => { child.kill('SIGKILL') }
  try {
    child.stderr.on('data', (d: Buffer) => { result.stderr += d.toString() })
    let acked = 0
    const killAfterAcks = round % 3 === 0 ? Infinity : random(1, 150)
    if (round % 3 === 0) timers.push(setTimeout(kill, random(30, 500)))
    createInterface({ input: child.stdout }).on('line', line => {
      if (line === 'done') { result.done = true; return }
      if (line === 'begin compact') { result.inCompaction = true; return }
      const [word, kind, n] = line.split(' ')
      if (word !== 'ack' || n === undefined || !(kind === 'event' || kind === 'pair' || kind === 'counter' || kind === 'compact')) {
        result.stderr += `unexpected writer output: ${line}\n`
        return
      }
      result.acks[kind].push(Number(n))
      if (kind === 'compact') result.inCompaction = false
      if (++acked === killAfterAcks) timers.push(setTimeout(kill, random(0, 20)))
    })
    timers.push(setTimeout(kill, WRITER_MAX_MS + 5000))
    await closed
    return result
  } finally {
    for (const t of timers) clearTimeout(t)
    if (child.exitCode === null && child.signalCode === null) {
      kill()
      await closed
    }
  }
}

/** Consecutive numbers from `from` on, as every writer run must acknowledge them. */
function expectConsecutive (what: string, acked: number[], from: number): void {
  expect(acked, `${what} acknowledged in order from ${from}`).toEqual(acked.map((_, i) => from + i))
}

describe('kill -9 of a store writer', () => {
  it(`loses no acknowledged write and leaves a readable, consistent store, over ${ROUNDS} kills`, async () => {
    await using dir = await tempDir('mpcw-store-kill-')
    const dataDir = join(dir.path, 'data')
    // what the store held at the last check: every later run must go on from there
    let lastEvent = 0
    let lastPair = 0
    let lastCounter = 0
    let compactedTo = 0
    let midStream = 0
    let unacknowledgedFound = 0
    let totalAcks = 0
    let compactions = 0
    let inCompaction = 0

    for (let round = 0; round < ROUNDS; round++) {
      const run = await runAndKill(dataDir, round)
      const at = `round ${round}`
      expect(run.stderr, `${at}: writer stderr`).toBe('')
      expect(run.done, `${at}: the writer was killed before it stopped by itself`).toBe(false)
      expect(run.signal, at).toBe('SIGKILL')
      const { event, pair, counter, compact } = run.acks
      const acks = event.length + pair.length + counter.length + compact.length
      totalAcks += acks
      compactions += compact.length
      if (acks > 0) midStream++
      if (run.inCompaction) inCompaction++

      // each run resumes exactly after what the store held: no number reused, none skipped
      expectConsecutive(`${at}: events`, event, lastEvent + 1)
      expectConsecutive(`${at}: pairs`, pair, lastPair + 1)
      expectConsecutive(`${at}: counters`, counter, lastCounter + 1)

      const store = await Store.open(dataDir)
      try {
        // events: a contiguous run ending at or one past the last acknowledged, each intact
        const ackedEvent = event.at(-1) ?? lastEvent
        const seqs: number[] = []
        for (let after = 0; ;) {
          const page = await store.listEvents(after, 200)
          if (page.length === 0) break
          for (const e of page) {
            expect(Buffer.from(e.bytes).equals(Buffer.from(eventPayload(e.seq))), `${at}: event ${e.seq} intact`).toBe(true)
            seqs.push(e.seq)
          }
          after = page[page.length - 1]!.seq
        }
        const first = seqs[0] ?? 0
        const last = seqs.at(-1) ?? 0
        expect(seqs, `${at}: events without holes`).toEqual(seqs.map((_, i) => first + i))
        expect(last === ackedEvent || last === ackedEvent + 1, `${at}: last event ${last}, last acknowledged ${ackedEvent}`).toBe(true)
        if (last > ackedEvent) unacknowledgedFound++
        // compaction removed a prefix only, recorded where it stopped, and kept at least KEEP_EVENTS
        if (last > 0) {
          expect(await store.firstEventSeq(), at).toBe(first)
          expect(store.compactedThrough(), `${at}: compaction floor`).toBe(first - 1)
          expect(seqs.length, `${at}: events kept`).toBeGreaterThanOrEqual(Math.min(KEEP_EVENTS, last))
        }
        compactedTo = Math.max(compactedTo, ...compact)
        expect(first, `${at}: acknowledged compactions kept`).toBeGreaterThanOrEqual(compactedTo)

        // the three pair records are written in one batch: all of a write or none of it
        const ackedPair = pair.at(-1) ?? lastPair
        const a = await store.getJson<number>('pair:a')
        const b = await store.getBytes('pair:b')
        const c = await store.getJson<number>('pair:c')
        if (a === undefined || b === undefined || c === undefined) {
          expect([a, b, c, ackedPair], `${at}: pair records`).toEqual([undefined, undefined, undefined, 0])
        } else {
          expect([pairNumber(b), c], `${at}: pair:b and pair:c match pair:a`).toEqual([a, a])
          expect(a === ackedPair || a === ackedPair + 1, `${at}: pair ${a}, last acknowledged ${ackedPair}`).toBe(true)
        }

        const ackedCounter = counter.at(-1) ?? lastCounter
        const stored = (await store.getJson<number>('counter')) ?? 0
        expect(stored === ackedCounter || stored === ackedCounter + 1, `${at}: counter ${stored}, last acknowledged ${ackedCounter}`).toBe(true)

        lastEvent = last
        lastPair = a ?? 0
        lastCounter = stored
      } finally {
        await store.close()
      }
    }

    // the kills fell while the writer was writing, not only before it began
    expect(midStream).toBeGreaterThanOrEqual(Math.floor(ROUNDS / 2))
    expect(totalAcks).toBeGreaterThan(0)
    // the log grew past KEEP_EVENTS, so compactions (in batches of COMPACT_BATCH) ran and were killed too
    expect(lastEvent).toBeGreaterThan(KEEP_EVENTS + COMPACT_BATCH)
    expect(compactions).toBeGreaterThan(0)
    console.log(`store kill test: ${ROUNDS} kills, ${midStream} mid-stream, ${totalAcks} acknowledged writes checked, ` +
      `${unacknowledgedFound} kills after a write landed but before its acknowledgement, ${compactions} compactions, ` +
      `${inCompaction} kills during a compaction, ${lastEvent} events written`)
  }, 90_000)
})
