import { randomBytes } from 'node:crypto'
import { setImmediate } from 'node:timers/promises'
import { bytesEqual, toHex } from '../crypto/bytes.js'
import { commitNonces, type CommitmentInput, type Scheme, type SignerCommit } from '../crypto/index.js'
import type { FrostSecret, NonceCommitments } from '@noble/curves/abstract/frost.js'

/**
 * Keys with a pool on one node, at most: a pool costs ~200 bytes a nonce, so this bounds what a
 * coordinator asking for every key's pool can make a node hold (4096 x 32 nonces: ~26 MB). Past
 * it, the pool used longest ago goes (its commitments at the coordinator then miss, and that
 * signature takes two rounds).
 */
export const MAX_POOLED_KEYS = 4096

/**
 * Preprocessed nonces (RFC 9591 5.1: commitments may be made ahead of time), per key, for
 * one-round signing. They live in this process's memory only and never reach the disk, so a
 * pool belongs to one process start: after a crash, a restart or a restore from a disk snapshot
 * the node has a new, empty pool under a new random epoch, and no nonce of an earlier start can
 * be used again, whatever commitment list names it. A nonce leaves the pool exactly once, in
 * `take`, synchronously, before any share is computed with it.
 */
export class NoncePool {
  /** Random per process start; the heartbeat and every pool answer carry it. */
  readonly epoch: Uint8Array = new Uint8Array(randomBytes(16))
  /** Unused nonces by key id, each pool by the hex of its hiding commitment; in least-recently-used order. */
  private readonly pools = new Map<string, Map<string, SignerCommit>>()

  constructor (private readonly size: number) {}

  /**
   * Tops the key's pool up to its size with fresh nonces and returns the commitments of every
   * unused one. One nonce per turn of the event loop, letting other work (a signature share) run
   * in between.
   */
  async fill (keyId: string, scheme: Scheme, secret: FrostSecret): Promise<NonceCommitments[]> {
    let pool = this.poolOf(keyId)
    while (pool.size < this.size) {
      const commit = commitNonces(scheme, secret)
      pool.set(toHex(commit.commitments.hiding), commit)
      await setImmediate()
      pool = this.poolOf(keyId)
    }
    return [...pool.values()].map(c => c.commitments)
  }

  /**
   * Takes the unused nonces whose commitments are exactly `commitment` out of the key's pool,
   * for their single use; undefined if there are none (used already, never ours, or from an
   * earlier process start). Synchronous: of two concurrent requests naming one commitment, one
   * gets the nonces and the other nothing.
   */
  take (keyId: string, commitment: CommitmentInput): SignerCommit | undefined {
    const pool = this.pools.get(keyId)
    if (pool === undefined || !(commitment.hiding instanceof Uint8Array)) return undefined
    const id = toHex(commitment.hiding)
    const found = pool.get(id)
    if (found === undefined) return undefined
    const { identifier, binding } = found.commitments
    if (commitment.identifier !== identifier || !(commitment.binding instanceof Uint8Array) || !bytesEqual(commitment.binding, binding)) return undefined
    pool.delete(id)
    return found
  }

  /** Drops a key's pool (its share is gone). */
  discard (keyId: string): void {
    this.pools.delete(keyId)
  }

  private poolOf (keyId: string): Map<string, SignerCommit> {
    let pool = this.pools.get(keyId)
    if (pool !== undefined) this.pools.delete(keyId)
    else {
      pool = new Map()
      if (this.pools.size >= MAX_POOLED_KEYS) this.pools.delete(this.pools.keys().next().value!)
    }
    this.pools.set(keyId, pool)
    return pool
  }
}
