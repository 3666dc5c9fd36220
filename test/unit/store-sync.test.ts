import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Store } from '../../src/store/store.js'

/**
 * The kill -9 test (test/e2e/store-kill.test.ts) cannot tell a synced write from an unsynced one:
 * after a process dies the kernel still holds what it wrote. Only an OS crash or power loss would
 * show the difference, so this test checks instead that every write reaching LevelDB asks for sync.
 */
let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpcw-unit-store-sync-'))
})

afterEach(async () => {
  vi.restoreAllMocks()
  await rm(dir, { recursive: true, force: true })
})

interface Write { op: string, sync: unknown }

/** Records every write LevelDB's binding is asked for: puts, deletes, batches and chained batches. */
async function recordWrites (): Promise<Write[]> {
  const writes: Write[] = []
  const probe = new Level<string, Uint8Array>(join(dir, 'probe'))
  await probe.open()
  const chained = probe.batch()
  const chainedProto = Object.getPrototypeOf(chained) as { _write: (options: { sync?: unknown }) => Promise<void> }
  await chained.close()
  await probe.close()
  const proto = Level.prototype as unknown as Record<'_put' | '_del' | '_batch', (...args: unknown[]) => Promise<void>>
  for (const [op, at] of [['_put', 2], ['_del', 1], ['_batch', 1]] as const) {
    const original = proto[op]
    vi.spyOn(proto, op).mockImplementation(async function (this: unknown, ...args: unknown[]) {
      writes.push({ op, sync: (args[at] as { sync?: unknown } | undefined)?.sync })
      return await original.apply(this, args)
    })
  }
  const originalWrite = chainedProto._write
  vi.spyOn(chainedProto, '_write').mockImplementation(async function (this: unknown, options: { sync?: unknown }) {
    writes.push({ op: 'chained batch', sync: options?.sync })
    return await originalWrite.call(this, options)
  })
  return writes
}

describe('Store writes', () => {
  it('ask LevelDB to sync every write, batches and compactions included', async () => {
    const writes = await recordWrites()
    const store = await Store.open(join(dir, 'data'))
    try {
      await store.putJson('config', { epoch: 1 })
      await store.putBytes('roster', new Uint8Array([1, 2, 3]))
      await store.batch({ json: { share: { n: 1 }, old: null }, bytes: { key: new Uint8Array([4]), gone: null } })
      for (let i = 0; i < 5; i++) await store.appendEvent(seq => new Uint8Array([seq]))
      await store.putEvent(9, new Uint8Array([9]))
      await store.putEvents([{ seq: 10, bytes: new Uint8Array([10]) }, { seq: 11, bytes: new Uint8Array([11]) }])
      await store.compactEvents({ maxEvents: 2, batchSize: 2 })
    } finally {
      await store.close()
    }
    const ops = writes.map(w => w.op)
    expect(ops).toContain('_put')
    expect(ops).toContain('_batch')
    expect(ops).toContain('chained batch')
    // 2 puts, 1 chained batch, 5 appends, 2 batches of events, 3 compaction batches
    expect(writes.length).toBeGreaterThanOrEqual(13)
    expect(writes.filter(w => w.sync !== true)).toEqual([])
  })
})
