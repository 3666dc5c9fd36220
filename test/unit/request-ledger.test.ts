import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RequestLedger, type LedgerEntry } from '../../src/state/request-ledger.js'
import { Store } from '../../src/store/store.js'
import { tempDir } from '../helpers.js'

const HOUR = 60 * 60_000
const NOW = 1_800_000_000_000
const entry = (requestId: string, fields: Partial<LedgerEntry> = {}): LedgerEntry =>
  ({ requestId, keyId: 'key-a', client: 'payments', notAfter: NOW + 10 * 60_000, atMs: NOW, ...fields })

let dir: Awaited<ReturnType<typeof tempDir>>
let store: Store

beforeEach(async () => {
  dir = await tempDir('mpcw-ledger-')
  store = await Store.open(dir.path)
})
afterEach(async () => {
  await store.close().catch(() => {})
  await dir[Symbol.asyncDispose]()
})

describe('the request ledger', () => {
  it('takes a request id once, per client, decided before any wait', async () => {
    const ledger = await RequestLedger.open(store, NOW)
    // Ten claims of one id at once: the first wins before any of them reaches the disk.
    const claims = Array.from({ length: 10 }, () => ledger.claim(entry('r-1')))
    expect(claims.filter(c => c !== false)).toHaveLength(1)
    await Promise.all(claims.filter((c): c is Promise<void> => c !== false))
    expect(ledger.seen('payments', 'r-1')).toBe(true)
    // Ids are the client's own: another client's r-1 is a different request.
    expect(ledger.seen('treasury', 'r-1')).toBe(false)
    const other = ledger.claim(entry('r-1', { client: 'treasury' }))
    expect(other).not.toBe(false)
    await other
  })

  it('counts signatures per key and client within a window', async () => {
    const ledger = await RequestLedger.open(store, NOW)
    await ledger.claim(entry('a', { atMs: NOW - 2 * HOUR }))
    await ledger.claim(entry('b', { atMs: NOW - 30 * 60_000 }))
    await ledger.claim(entry('c', { atMs: NOW - 60_000, client: 'treasury' }))
    await ledger.claim(entry('d', { keyId: 'key-b' }))
    expect(ledger.signedSince('key-a', NOW - HOUR)).toBe(2)
    expect(ledger.signedSince('key-a', NOW - HOUR, 'payments')).toBe(1)
    expect(ledger.signedSince('key-a', NOW - 24 * HOUR)).toBe(3)
    expect(ledger.signedSince('key-b', NOW - HOUR)).toBe(1)
  })

  it('keeps ids and counts across a restart, and forgets only what can no longer matter', async () => {
    const ledger = await RequestLedger.open(store, NOW)
    await ledger.claim(entry('old', { atMs: NOW - 25 * HOUR, notAfter: NOW - 24 * HOUR - 1 }))
    await ledger.claim(entry('long-lived', { atMs: NOW - 25 * HOUR, notAfter: NOW + HOUR }))
    await ledger.claim(entry('recent', { atMs: NOW - HOUR }))
    await store.close()
    store = await Store.open(dir.path)
    const reopened = await RequestLedger.open(store, NOW)
    // The expired request older than a day is gone; one still valid, or counted in a day's window, stays.
    expect(reopened.seen('payments', 'old')).toBe(false)
    expect(reopened.seen('payments', 'long-lived')).toBe(true)
    expect(reopened.seen('payments', 'recent')).toBe(true)
    expect(reopened.size).toBe(2)
    expect(reopened.claim(entry('recent'))).toBe(false)
  })

  it('gives an id back when its write fails, so that no share leaves for a claim not on disk', async () => {
    const ledger = await RequestLedger.open(store, NOW)
    await store.close()
    const claim = ledger.claim(entry('r-2'))
    expect(claim).not.toBe(false)
    await expect(claim).rejects.toThrow()
    expect(ledger.seen('payments', 'r-2')).toBe(false)
  })
})

describe('the request ledger with transactions (issue 15)', () => {
  it('takes each PSBT input of one request once, counts the request once, and sums a day\'s volume across a restart', async () => {
    const ledger = await RequestLedger.open(store, NOW)
    await ledger.claim(entry('tx-1', { amount: '40000' }))
    await ledger.claim(entry('tx-1', { amount: '40000', input: 1 }))
    expect(ledger.claim(entry('tx-1', { amount: '40000', input: 1 }))).toBe(false)
    await ledger.claim(entry('tx-2', { amount: '25000', atMs: NOW - HOUR }))
    await ledger.claim(entry('old', { amount: '99999', atMs: NOW - 25 * HOUR }))
    await ledger.claim(entry('plain'))
    expect(ledger.seen('payments', 'tx-1')).toBe(true)
    expect(ledger.seen('payments', 'tx-1', 1)).toBe(true)
    expect(ledger.seen('payments', 'tx-1', 2)).toBe(false)
    expect(ledger.signedSince('key-a', NOW - 2 * HOUR)).toBe(3)
    expect(ledger.signedSince('key-a', NOW - 2 * HOUR, undefined, 'payments/tx-1')).toBe(2)
    await store.close()
    store = await Store.open(dir.path)
    const reopened = await RequestLedger.open(store, NOW)
    expect(reopened.volumeSince('key-a', NOW - 24 * HOUR)).toBe(65_000n)
    expect(reopened.volumeSince('key-a', NOW - 24 * HOUR, 'payments/tx-1')).toBe(25_000n)
    expect(reopened.volumeSince('key-b', NOW - 24 * HOUR)).toBe(0n)
    expect(reopened.seen('payments', 'tx-1', 1)).toBe(true)
  })
})
