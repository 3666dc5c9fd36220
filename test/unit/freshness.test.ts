import { describe, expect, it } from 'vitest'
import { HeartbeatFreshness, MAX_HEARTBEAT_AGE_MS, MAX_HEARTBEAT_SKEW_MS } from '../../src/protocols/freshness.js'

const NOW = 1_800_000_000_000
const START = NOW - 60_000

describe('heartbeat freshness', () => {
  it('takes growing sequence numbers and refuses a repeated or older one from the same process start', () => {
    const f = new HeartbeatFreshness()
    expect(f.check('a', { startedAtMs: START, seq: 1, sentAtMs: NOW }, NOW)).toBeUndefined()
    expect(f.check('a', { startedAtMs: START, seq: 2, sentAtMs: NOW }, NOW)).toBeUndefined()
    expect(f.check('a', { startedAtMs: START, seq: 2, sentAtMs: NOW }, NOW)).toBe('replayed')
    expect(f.check('a', { startedAtMs: START, seq: 1, sentAtMs: NOW }, NOW)).toBe('replayed')
    // Another sender has its own sequence.
    expect(f.check('b', { startedAtMs: START, seq: 1, sentAtMs: NOW }, NOW)).toBeUndefined()
  })

  it('takes a restarted sender from seq 1 again, and refuses its previous run afterwards', () => {
    const f = new HeartbeatFreshness()
    expect(f.check('a', { startedAtMs: START, seq: 50, sentAtMs: NOW }, NOW)).toBeUndefined()
    expect(f.check('a', { startedAtMs: START + 1_000, seq: 1, sentAtMs: NOW }, NOW)).toBeUndefined()
    expect(f.check('a', { startedAtMs: START, seq: 51, sentAtMs: NOW }, NOW)).toBe('replayed')
  })

  it('refuses a heartbeat sent longer ago than the window, or from too far ahead, whatever its sequence', () => {
    const f = new HeartbeatFreshness()
    expect(f.check('a', { startedAtMs: START, seq: 1, sentAtMs: NOW - MAX_HEARTBEAT_AGE_MS - 1 }, NOW)).toBe('old')
    expect(f.check('a', { startedAtMs: START, seq: 1, sentAtMs: NOW + MAX_HEARTBEAT_SKEW_MS + 1 }, NOW)).toBe('future')
    // Neither was recorded: the sender's real next heartbeat is taken.
    expect(f.check('a', { startedAtMs: START, seq: 1, sentAtMs: NOW - MAX_HEARTBEAT_AGE_MS + 1 }, NOW)).toBeUndefined()
  })

  it('keeps the window below gossipsub\'s duplicate cache (2 min): a replay is a duplicate or too old', () => {
    expect(MAX_HEARTBEAT_AGE_MS + MAX_HEARTBEAT_SKEW_MS).toBeLessThan(120_000)
  })

  it('counts delivery: fresh heartbeats received against the sequence numbers they cover', () => {
    const f = new HeartbeatFreshness()
    for (const seq of [1, 2, 3, 5, 6, 10]) f.check('a', { startedAtMs: START, seq, sentAtMs: NOW }, NOW)
    // 6 of seq 1..10 arrived; a late 4 is not news and is not counted.
    expect(f.check('a', { startedAtMs: START, seq: 4, sentAtMs: NOW }, NOW)).toBe('replayed')
    expect(f.delivery).toEqual({ received: 6, expected: 10 })
    // A restart begins a new run; its first heartbeat counts as one.
    f.check('a', { startedAtMs: START + 1, seq: 7, sentAtMs: NOW }, NOW)
    f.check('b', { startedAtMs: START, seq: 40, sentAtMs: NOW }, NOW)
    expect(f.delivery).toEqual({ received: 8, expected: 12 })
  })
})

