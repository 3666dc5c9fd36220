/**
 * The coordinator's view of its holders' nonce pools (issue 13): per key and holder, the
 * commitments of nonces the holder made ahead of time (RFC 9591 5.1) and has not been asked to
 * use yet, under the holder's pool epoch. A signature whose every signer has one takes one round:
 * `take` hands out one commitment per signer, each once. A signer's pool is asked for when a
 * signature finds it missing or below its low-water mark (so a key's first signature takes two
 * rounds, and holders that never sign hold no pool), in the background, at most one refill per
 * holder and key and MAX_REFILLS_AT_ONCE in all at a time, the others in turn. Not at keygen: checking a fresh pool of every holder (each commitment
 * is two points to decode and check for the subgroup, ~1 ms each on Ed25519) took as much CPU as
 * the keygen itself, and back-to-back keygens were twice as slow (Ed25519 3-of-5 median 704 ms
 * against 310 ms without).
 *
 * A pool is only used while it can still be the holder's: its epoch is the one in the holder's
 * last heartbeat, and the connection its answer came over is still open (a restarted holder has
 * a new epoch and its old connection died with it, and it may not have sent a heartbeat yet;
 * another connection opening beside a live one says nothing of a restart). A pool
 * found stale, or one a holder reports it does not have (POOL_MISS), is dropped; that signature
 * takes two rounds. Nothing here is secret: the nonces never leave their holders.
 */
import { setImmediate } from 'node:timers/promises'
import { bytesEqual, toHex } from '../crypto/bytes.js'
import { MAX_NONCE_POOL, NONCE_POOL_LOW_WATER } from '../protocols/constants.js'
import type { NonceCommitment, NoncePoolResponse } from '../protocols/messages.js'
import type { Logger } from '../log.js'

/** Keys with pools held here, at most (the least recently used goes: it signs with two rounds until refilled). */
export const MAX_POOLED_KEYS = 1024

export interface NoncePoolsDeps {
  /**
   * Asks a holder for its pool of a key (the noncePool command), with the check of one of its
   * commitments (RFC 9591 5.1, as round one's; it decodes two points, so it runs a few at a time).
   */
  fetch: (peer: string, keyId: string) => Promise<{ answer: NoncePoolResponse, check: (c: NonceCommitment) => string | undefined, connectionId: string }>
  /** The pool epoch in the holder's last heartbeat, if any. */
  epochOf: (peer: string) => Uint8Array | undefined
  /** Whether this connection to the holder is still open. */
  connected: (peer: string, connectionId: string) => boolean
  log: Logger
}

interface HolderPool {
  epoch: Uint8Array
  /** the connection the answer came over: the pool is the process's at its other end */
  connectionId: string
  /** Unused commitments, oldest first. */
  commitments: NonceCommitment[]
  /** How many the holder keeps (the size of its last answer): the low-water mark is a share of it. */
  size: number
}

const poolId = (keyId: string, peer: string): string => `${keyId}\0${peer}`
/**
 * Refills at work at once, at most; a pool found low meanwhile waits its turn (at most
 * MAX_QUEUED_REFILLS wait; past that one is asked for at a later signature). Each refill costs its
 * holder a pool of nonces and the coordinator two subgroup checks a commitment: when many keys sign
 * for the first time at once (32 in the keygen-load test), an unbounded burst of refills starved
 * the signatures themselves past their round deadlines.
 */
export const MAX_REFILLS_AT_ONCE = 2
export const MAX_QUEUED_REFILLS = 1024

export class NoncePools {
  /** By key id, then holder; keys in least-recently-used order. */
  private readonly keys = new Map<string, Map<string, HolderPool>>()
  /** Refills at work, by poolId. */
  private readonly refilling = new Map<string, Promise<void>>()
  /** Commitments handed out since a refill was asked for, by poolId: its answer may still list them. */
  private readonly takenDuringRefill = new Map<string, Set<string>>()
  /** How many times each key's pools were forgotten (a new version): a refill started before is void. */
  private readonly forgotten = new Map<string, number>()
  /** Pools found low while MAX_REFILLS_AT_ONCE were at work, by poolId, in the order found. */
  private readonly queued = new Map<string, { keyId: string, peer: string }>()

  constructor (private readonly deps: NoncePoolsDeps) {}

  /**
   * One unused commitment per signer, each removed from its pool, if every signer has one;
   * otherwise undefined and nothing taken. Either way, the signers' pools are refilled where low.
   */
  take (keyId: string, signers: readonly string[]): NonceCommitment[] | undefined {
    const pools = this.keys.get(keyId)
    const usable = signers.map(s => {
      const pool = pools?.get(s)
      return pool !== undefined && pool.commitments.length > 0 && this.current(keyId, s, pool) ? pool : undefined
    })
    const taken = usable.every(p => p !== undefined) ? usable.map(pool => pool.commitments.shift()!) : undefined
    this.touch(keyId)
    signers.forEach((s, i) => {
      this.refillIfLow(keyId, s)
      // After the refill this take may have started: its answer can still list the commitment
      // (the holder gets the signShare that uses it only now).
      if (taken !== undefined) this.takenDuringRefill.get(poolId(keyId, s))?.add(toHex(taken[i]!.hiding))
    })
    return taken
  }

  /** The holder does not have (all of) the pool we hold for it: drop it, and ask again. */
  drop (keyId: string, peer: string): void {
    this.keys.get(keyId)?.delete(peer)
    this.refillIfLow(keyId, peer)
  }

  /**
   * A key's new version (its holders' identifiers may have changed, and every holder drops its
   * pool of the key): every pool of it is dropped here, and a refill already under way is
   * thrown away when it comes, since the holder may have answered it before it dropped its pool.
   */
  forget (keyId: string): void {
    this.keys.delete(keyId)
    this.forgotten.set(keyId, (this.forgotten.get(keyId) ?? 0) + 1)
    if (this.forgotten.size > MAX_POOLED_KEYS) this.forgotten.delete(this.forgotten.keys().next().value!)
  }

  /** The unused commitments held for a holder's pool of a key, oldest first (none if it has no pool here). */
  held (keyId: string, peer: string): NonceCommitment[] {
    return [...this.keys.get(keyId)?.get(peer)?.commitments ?? []]
  }

  /** Resolves once no refill is at work (tests and the bench wait for full pools). */
  async settled (): Promise<void> {
    while (this.refilling.size > 0) await Promise.allSettled([...this.refilling.values()])
  }

  /** The pool can still be the holder's (see the top of this file). */
  private current (keyId: string, peer: string, pool: HolderPool): boolean {
    const epoch = this.deps.epochOf(peer)
    if (this.deps.connected(peer, pool.connectionId) && (epoch === undefined || bytesEqual(epoch, pool.epoch))) return true
    this.keys.get(keyId)?.delete(peer)
    return false
  }

  private refillIfLow (keyId: string, peer: string): void {
    const id = poolId(keyId, peer)
    if (this.refilling.has(id)) return
    const pool = this.keys.get(keyId)?.get(peer)
    if (pool !== undefined && pool.commitments.length > pool.size * NONCE_POOL_LOW_WATER) return
    if (this.refilling.size >= MAX_REFILLS_AT_ONCE) {
      if (this.queued.size < MAX_QUEUED_REFILLS) this.queued.set(id, { keyId, peer })
      return
    }
    this.queued.delete(id)
    const taken = new Set<string>()
    this.takenDuringRefill.set(id, taken)
    const generation = this.forgotten.get(keyId)
    const refill = this.deps.fetch(peer, keyId)
      .then(async ({ answer, check, connectionId }) => { if (this.forgotten.get(keyId) === generation) await this.adopt(keyId, peer, answer, check, connectionId, taken) })
      .catch(err => { this.deps.log.debug({ keyId, peer, err: (err as Error).message }, 'nonce pool refill failed') })
      .finally(() => {
        this.refilling.delete(id)
        this.takenDuringRefill.delete(id)
        // The next pool waiting its turn, if it is still low.
        const next = this.queued.values().next().value
        if (next !== undefined) {
          this.queued.delete(poolId(next.keyId, next.peer))
          this.refillIfLow(next.keyId, next.peer)
        }
      })
    this.refilling.set(id, refill)
  }

  /**
   * Takes a holder's answer in as its pool, the commitments usable as they pass their check, one
   * per turn of the event loop (a signature waits for one check at most, and a fresh key's first
   * signature need not wait for all of them). One that fails its check voids the pool: the
   * holder's signatures take two rounds until its next answer.
   */
  private async adopt (keyId: string, peer: string, answer: NoncePoolResponse, check: (c: NonceCommitment) => string | undefined, connectionId: string, taken: Set<string>): Promise<void> {
    if (answer.commitments.length === 0) return
    const offered = answer.commitments.slice(0, MAX_NONCE_POOL)
    let pools = this.keys.get(keyId)
    if (pools === undefined) {
      if (this.keys.size >= MAX_POOLED_KEYS) this.keys.delete(this.keys.keys().next().value!)
      pools = new Map()
      this.keys.set(keyId, pools)
    }
    const pool: HolderPool = { epoch: answer.epoch, connectionId, commitments: [], size: offered.length }
    pools.set(peer, pool)
    for (let i = 0; i < offered.length; i++) {
      if (i > 0) {
        await setImmediate()
        if (this.keys.get(keyId)?.get(peer) !== pool) return // dropped, or replaced by a newer answer
      }
      const c = offered[i]!
      if (taken.has(toHex(c.hiding))) continue
      const problem = check(c)
      if (problem !== undefined) {
        this.keys.get(keyId)?.delete(peer)
        this.deps.log.warn({ keyId, peer, problem }, 'a holder\'s nonce pool was refused')
        return
      }
      pool.commitments.push(c)
    }
  }

  private touch (keyId: string): void {
    const pools = this.keys.get(keyId)
    if (pools === undefined) return
    this.keys.delete(keyId)
    this.keys.set(keyId, pools)
  }
}
