import { describe, expect, it } from 'vitest'
import { MAX_REFILLS_AT_ONCE, NoncePools } from '../../src/coordinator/nonce-pools.js'
import type { NonceCommitment, NoncePoolResponse } from '../../src/protocols/messages.js'
import { log } from '../helpers.js'

/** A commitment whose hiding point is `n` (as bytes): the pools never look inside. */
const commitment = (holder: string, n: number): NonceCommitment => ({ identifier: holder, hiding: Uint8Array.of(n, holder.length), binding: Uint8Array.of(n) })

/** A holder as the pools see it: its epoch, its open connection (undefined: none), what it offers. */
interface Holder { epoch: Uint8Array, connection: string | undefined, offered: NonceCommitment[], bad?: number }

/** The coordinator's pools over holders that answer from `holders` (each fetch counted), at `now`. */
function poolsOver (holders: Record<string, Holder>): { pools: NoncePools, fetches: string[], inFlight: () => number, toggleHold: () => void } {
  const fetches: string[] = []
  let waiting: Array<() => void> = []
  let hold = false
  let inFlight = 0
  const pools = new NoncePools({
    fetch: async (peer) => {
      fetches.push(peer)
      inFlight++
      if (hold) await new Promise<void>(resolve => waiting.push(resolve))
      inFlight--
      const h = holders[peer]!
      const answer: NoncePoolResponse = { epoch: h.epoch, commitments: [...h.offered] }
      return { answer, check: c => h.bad !== undefined && c.hiding[0] === h.bad ? 'sent a commitment that is not a pair of valid points' : undefined, connectionId: h.connection ?? 'closed' }
    },
    epochOf: peer => holders[peer]?.epoch,
    connected: (peer, id) => holders[peer]?.connection === id,
    log
  })
  return {
    pools,
    fetches,
    inFlight: () => inFlight,
    toggleHold: () => {
      hold = !hold
      for (const w of waiting) w()
      waiting = []
    }
  }
}

const holder = (name: string, count: number, extra: Partial<Holder> = {}): Holder =>
  ({ epoch: Uint8Array.of(1), connection: `conn-${name}`, offered: Array.from({ length: count }, (_, i) => commitment(name, i + 1)), ...extra })

describe('the coordinator\'s nonce pools', () => {
  it('hands out each commitment once, one per signer, and nothing unless every signer has one', async () => {
    const { pools } = poolsOver({ a: holder('a', 4), b: holder('b', 4), c: holder('c', 4) })
    expect(pools.take('key', ['a', 'b'])).toBeUndefined() // no pool yet: asked for
    await pools.settled()
    const first = pools.take('key', ['a', 'b'])!
    const second = pools.take('key', ['a', 'b'])!
    expect(first.map(c => c.identifier)).toEqual(['a', 'b'])
    expect(first.map(c => c.hiding[0])).toEqual([1, 1])
    expect(second.map(c => c.hiding[0])).toEqual([2, 2])
    // c has no pool: nothing is taken from a or b either.
    expect(pools.take('key', ['a', 'c'])).toBeUndefined()
    expect(pools.held('key', 'a').map(c => c.hiding[0])).toEqual([3, 4])
  })

  it('refuses a holder\'s whole answer when one of its commitments fails the check', async () => {
    const { pools } = poolsOver({ a: holder('a', 6, { bad: 4 }), b: holder('b', 6) })
    pools.take('key', ['a', 'b'])
    await pools.settled()
    expect(pools.held('key', 'a')).toEqual([])
    expect(pools.held('key', 'b')).toHaveLength(6)
    expect(pools.take('key', ['a', 'b'])).toBeUndefined()
  })

  it('drops a pool that can no longer be the holder\'s: a new epoch in its heartbeat, or the connection its answer came over closed', async () => {
    const holders = { a: holder('a', 4), b: holder('b', 4) }
    const { pools } = poolsOver(holders)
    pools.take('key', ['a', 'b'])
    await pools.settled()
    holders.a.epoch = Uint8Array.of(2) // restarted, and said so in a heartbeat
    expect(pools.take('key', ['a', 'b'])).toBeUndefined()
    await pools.settled()
    expect(pools.take('key', ['a', 'b'])).toBeDefined() // a's new pool, under its new epoch
    await pools.settled()
    holders.b.connection = 'conn-b-2' // b's old connection gone, a new one up (a restart before any heartbeat)
    expect(pools.take('key', ['a', 'b'])).toBeUndefined()
    expect(pools.held('key', 'b')).toEqual([])
    // No connection at all: not used either.
    const gone = poolsOver({ a: holder('a', 4, { connection: undefined }) })
    gone.pools.take('key', ['a'])
    await gone.pools.settled()
    expect(gone.pools.take('key', ['a'])).toBeUndefined()
  })

  it('does not hand out again what it handed out while a refill was under way, though the answer still lists it', async () => {
    const holders = { a: holder('a', 4) }
    const { pools, toggleHold } = poolsOver(holders)
    pools.take('key', ['a'])
    await pools.settled()
    pools.take('key', ['a']) // 1
    pools.take('key', ['a']) // 2
    toggleHold() // refills now wait
    const third = pools.take('key', ['a'])! // 3: one left, below the low-water mark: a refill is asked for
    expect(third[0]!.hiding[0]).toBe(3)
    // The holder answers with what it still has unused, 3 included (its signShare has not come yet).
    holders.a.offered = [commitment('a', 3), commitment('a', 4), commitment('a', 5)]
    toggleHold()
    await pools.settled()
    expect(pools.held('key', 'a').map(c => c.hiding[0])).toEqual([4, 5])
  })

  it(`runs at most ${MAX_REFILLS_AT_ONCE} refills at once; the pools found low meanwhile are filled in turn`, async () => {
    const names = ['a', 'b', 'c', 'd', 'e']
    const { pools, fetches, inFlight, toggleHold } = poolsOver(Object.fromEntries(names.map(n => [n, holder(n, 4)])))
    toggleHold() // hold the fetches
    pools.take('key', names)
    expect(fetches).toEqual(names.slice(0, MAX_REFILLS_AT_ONCE))
    expect(inFlight()).toBe(MAX_REFILLS_AT_ONCE)
    toggleHold()
    await pools.settled()
    expect(fetches).toEqual(names)
    for (const n of names) expect(pools.held('key', n)).toHaveLength(4)
    expect(pools.take('key', names)).toBeDefined()
  })
})
