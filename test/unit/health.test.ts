import { describe, expect, it } from 'vitest'
import { HealthTracker } from '../../src/coordinator/health.js'
import { DEFAULT_HEALTH } from '../../src/coordinator/constants.js'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, heartbeatIntervalFor } from '../../src/protocols/constants.js'

const T = { suspectAfterMs: 3_000, downAfterMs: 6_000 }

function tracker (...members: string[]): HealthTracker {
  const t = new HealthTracker(T)
  t.setMembers(members)
  return t
}

describe('HealthTracker', () => {
  it('starts a new member as down with no heartbeat time', () => {
    const t = tracker('a')
    expect(t.get('a')).toEqual({ state: 'down' })
    expect(t.get('a').lastHeartbeatMs).toBeUndefined()
  })

  it('keeps a never-heard member down however much time passes', () => {
    const t = tracker('a')
    expect(t.evaluate(0)).toEqual([])
    expect(t.evaluate(1_000_000)).toEqual([])
    expect(t.get('a').state).toBe('down')
  })

  it('brings a member up on its first heartbeat and records the time', () => {
    const t = tracker('a')
    expect(t.heartbeat('a', 1_000)).toEqual({ peerId: 'a', from: 'down', to: 'up' })
    expect(t.get('a')).toEqual({ state: 'up', lastHeartbeatMs: 1_000 })
  })

  it('reports no change for further heartbeats while up, but moves the time', () => {
    const t = tracker('a')
    t.heartbeat('a', 1_000)
    expect(t.heartbeat('a', 2_000)).toBeUndefined()
    expect(t.get('a')).toEqual({ state: 'up', lastHeartbeatMs: 2_000 })
  })

  it('turns suspect at exactly suspectAfterMs of silence, not before', () => {
    const t = tracker('a')
    t.heartbeat('a', 1_000)
    expect(t.evaluate(1_000 + T.suspectAfterMs - 1)).toEqual([])
    expect(t.get('a').state).toBe('up')
    expect(t.evaluate(1_000 + T.suspectAfterMs)).toEqual([{ peerId: 'a', from: 'up', to: 'suspect' }])
    expect(t.get('a').state).toBe('suspect')
  })

  it('turns down at exactly downAfterMs of silence, not before', () => {
    const t = tracker('a')
    t.heartbeat('a', 1_000)
    t.evaluate(1_000 + T.suspectAfterMs)
    expect(t.evaluate(1_000 + T.downAfterMs - 1)).toEqual([])
    expect(t.get('a').state).toBe('suspect')
    expect(t.evaluate(1_000 + T.downAfterMs)).toEqual([{ peerId: 'a', from: 'suspect', to: 'down' }])
    expect(t.get('a')).toEqual({ state: 'down', lastHeartbeatMs: 1_000 })
  })

  it('goes straight from up to down when the first evaluation is already past downAfterMs', () => {
    const t = tracker('a')
    t.heartbeat('a', 0)
    expect(t.evaluate(T.downAfterMs + 1)).toEqual([{ peerId: 'a', from: 'up', to: 'down' }])
  })

  it('reports each change once', () => {
    const t = tracker('a')
    t.heartbeat('a', 0)
    expect(t.evaluate(T.suspectAfterMs)).toHaveLength(1)
    expect(t.evaluate(T.suspectAfterMs + 1)).toEqual([])
  })

  it('brings a down or suspect member back up on a heartbeat', () => {
    const t = tracker('a', 'b')
    t.heartbeat('a', 0)
    t.heartbeat('b', 0)
    t.evaluate(T.downAfterMs) // both down
    expect(t.heartbeat('a', 7_000)).toEqual({ peerId: 'a', from: 'down', to: 'up' })

    const s = tracker('c')
    s.heartbeat('c', 0)
    s.evaluate(T.suspectAfterMs)
    expect(s.heartbeat('c', 4_000)).toEqual({ peerId: 'c', from: 'suspect', to: 'up' })
    expect(s.evaluate(4_000 + T.suspectAfterMs - 1)).toEqual([])
  })

  it('returns changes in member order and only for members that changed', () => {
    const t = tracker('a', 'b', 'c')
    t.heartbeat('a', 0)
    t.heartbeat('b', 2_000)
    t.heartbeat('c', 0)
    expect(t.evaluate(T.suspectAfterMs)).toEqual([
      { peerId: 'a', from: 'up', to: 'suspect' },
      { peerId: 'c', from: 'up', to: 'suspect' }
    ])
    expect(t.get('b').state).toBe('up')
  })

  it('ignores heartbeats from peers that are not members', () => {
    const t = tracker('a')
    expect(t.heartbeat('stranger', 1_000)).toBeUndefined()
    expect(t.get('stranger')).toEqual({ state: 'down' })
    expect(t.evaluate(1_000)).toEqual([])
  })

  it('forgets members dropped by setMembers and keeps the state of those kept', () => {
    const t = tracker('a', 'b')
    t.heartbeat('a', 1_000)
    t.heartbeat('b', 1_000)
    t.setMembers(['a', 'c'])
    expect(t.get('a')).toEqual({ state: 'up', lastHeartbeatMs: 1_000 })
    expect(t.get('c')).toEqual({ state: 'down' })
    // b is gone: its heartbeats are ignored and it never shows up in evaluations
    expect(t.heartbeat('b', 2_000)).toBeUndefined()
    expect(t.get('b')).toEqual({ state: 'down' })
    expect(t.evaluate(1_000 + T.suspectAfterMs).map(c => c.peerId)).toEqual(['a'])
  })

  it('returns a copy from get, so callers cannot change the tracked state', () => {
    const t = tracker('a')
    t.heartbeat('a', 1_000)
    const snapshot = t.get('a')
    snapshot.state = 'down'
    snapshot.lastHeartbeatMs = 0
    expect(t.get('a')).toEqual({ state: 'up', lastHeartbeatMs: 1_000 })
  })

  it.each([
    ['suspect equal to down', { suspectAfterMs: 5_000, downAfterMs: 5_000 }],
    ['suspect above down', { suspectAfterMs: 6_000, downAfterMs: 3_000 }],
    ['zero suspect', { suspectAfterMs: 0, downAfterMs: 3_000 }],
    ['negative suspect', { suspectAfterMs: -1, downAfterMs: 3_000 }],
    ['NaN', { suspectAfterMs: Number.NaN, downAfterMs: 3_000 }]
  ])('refuses thresholds with %s', (_why, thresholds) => {
    expect(() => new HealthTracker(thresholds)).toThrow(RangeError)
  })

  it('accepts the default thresholds', () => {
    expect(() => new HealthTracker(DEFAULT_HEALTH)).not.toThrow()
  })

  it('stretches its thresholds as the members\' heartbeat interval grows in a large cluster', () => {
    const five = tracker(...Array.from({ length: 5 }, (_, i) => `m${i}`))
    expect(five.current).toEqual(T)
    const fifty = Array.from({ length: 50 }, (_, i) => `m${i}`)
    const t = tracker(...fifty)
    // 50 members beat every 10 s (heartbeatIntervalFor): 10 times the thresholds of a small cluster.
    expect(heartbeatIntervalFor(DEFAULT_HEARTBEAT_INTERVAL_MS, 50)).toBe(10_000)
    expect(t.current).toEqual({ suspectAfterMs: 30_000, downAfterMs: 60_000 })
    // A configured interval is kept as it is up to 5 members, and stretched by the same factor above.
    expect(heartbeatIntervalFor(100, 5)).toBe(100)
    expect(heartbeatIntervalFor(100, 7)).toBe(140)
    expect(heartbeatIntervalFor(100, 50)).toBe(1_000)
    t.heartbeat('m0', 0)
    expect(t.evaluate(29_999)).toEqual([])
    expect(t.evaluate(30_000)).toEqual([{ peerId: 'm0', from: 'up', to: 'suspect' }])
    // The cluster shrinks: the thresholds with it.
    t.setMembers(fifty.slice(0, 5))
    expect(t.evaluate(30_000)).toEqual([{ peerId: 'm0', from: 'suspect', to: 'down' }])
  })

})
