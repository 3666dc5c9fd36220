import {
  decodeKey, decodeKeystoreParams, decodeNonces, deriveKeystoreKey, encodeKey, encodeKeystoreParams, encodeNonces,
  KeystoreError, makePassphraseCheck, newKeystoreParams, openWithKey, passphraseMatches, sealWithKey,
  type Scheme, type SignerCommit
} from '../crypto/index.js'
import type { Store } from '../store/store.js'
import type { Key } from '@noble/curves/abstract/frost.js'

const PARAMS = 'keystore-params'
const CHECK = 'keystore-check'
const MAX_OPENED_SHARES = 1024

export type ShareStatus = 'pending' | 'active'

/** What a node records of a key share, beside the sealed share itself. Public data only. */
export interface ShareRecord {
  keyId: string
  scheme: Scheme
  sessionId: string
  status: ShareStatus
  groupPublicKey: string
  createdAtMs: number
  /** The key record version this share belongs to (1: from keygen; each refresh or reshare adds one). Absent in shares stored before versions: 1. */
  version?: number
}

interface NonceRecord {
  keyId: string
  sessionId: string
  createdAtMs: number
}

/**
 * The durable mark that a session's nonces were used. `request` is the digest (hex) of the one
 * request they answered, so a later request for the session is told apart as a repeat or as an
 * attempt to sign something else with the same nonces. Markers written before the digest was
 * kept have none and count as bound to another request: refused either way.
 */
interface SpentRecord {
  keyId: string
  spentAtMs: number
  request?: string
}

/** Why the vault will not hand out a session's nonces, or store new ones for it. */
export type NonceRefusal =
  /** Another commit or take of this session is at work on this node right now. */
  | 'busy'
  /** Nonces of this session are stored already: their commitment is out, they must not be replaced. */
  | 'committed'
  /** The session's nonces were used (a commit sees only this; a take tells the two below apart). */
  | 'spent'
  /** The session was signed on this node, answering this very request. */
  | 'signed'
  /** The session was signed on this node, answering another request (message or commitment list). */
  | 'bound'
  /** No nonces of this session for this key: never committed, discarded, or committed for another key. */
  | 'none'

export type CommitRefusal = Extract<NonceRefusal, 'busy' | 'committed' | 'spent'>
export type TakeRefusal = Extract<NonceRefusal, 'busy' | 'signed' | 'bound' | 'none'>
export type NonceSave = { saved: true } | { saved: false, refusal: CommitRefusal }
export type NonceTake = { taken: true, nonces: SignerCommit } | { taken: false, refusal: TakeRefusal }

/** The passphrase is wrong, or missing: the node must not start. */
export class PassphraseError extends Error {
  override name = 'PassphraseError'
}

/**
 * A node's secrets at rest: key shares and signing nonces, sealed under a key derived from the
 * operator's passphrase (scrypt → XChaCha20-Poly1305), each bound by associated data to what
 * it is, so a sealed blob cannot be moved to another record. Nonces live from commit to share:
 * they are deleted, atomically with a "spent" marker, before a signature share leaves the node.
 * Each session's nonces are handed out at most once, even to concurrent requests: two shares
 * from the same nonces over different messages would give away the signing share.
 */
export class ShareVault {
  private changes = 0
  /**
   * Opened shares by key id. Opening checks the share against every commitment (point
   * validation), which costs more than a signature share; a signing node keeps its shares in
   * memory anyway while it signs.
   */
  private readonly opened = new Map<string, Key>()
  /** Share records (public metadata) as last read or written here, by key id: a signature reads its key's on every command. */
  private readonly records = new Map<string, ShareRecord>()
  /** Counts the writes of share records begun here: a read overtaken by one is not cached. */
  private recordWrites = 0
  /**
   * Sessions whose nonces a take is at work on, and sessions a commit is at work on, in this
   * process. A session enters synchronously before the first await of the operation and leaves
   * when the operation settles: by then the spent marker (or the stored nonces) on disk answers
   * every later request, so the sets hold only work in flight, which the command protocol's
   * stream limits bound; no expiry is needed. A crash empties them, and at start every unspent
   * nonce is discarded anyway.
   */
  private readonly claimed = new Set<string>()
  private readonly committing = new Set<string>()

  private constructor (private readonly store: Store, private readonly key: Uint8Array, private readonly owner: string) {}

  /**
   * Opens the vault with the passphrase, creating it on first use. A wrong passphrase is an
   * error here, at start, rather than at the first signature.
   */
  static async open (store: Store, passphrase: string, owner: string, cost?: { logN: number, r: number, p: number }): Promise<ShareVault> {
    if (passphrase.length === 0) throw new PassphraseError('the key store passphrase is empty')
    const stored = await store.getBytes(PARAMS)
    if (stored === undefined) {
      const params = newKeystoreParams(cost)
      const key = await deriveKeystoreKey(passphrase, params)
      await store.batch({ bytes: { [PARAMS]: encodeKeystoreParams(params), [CHECK]: makePassphraseCheck(key) } })
      return new ShareVault(store, key, owner)
    }
    const key = await deriveKeystoreKey(passphrase, decodeKeystoreParams(stored))
    const check = await store.getBytes(CHECK)
    if (check === undefined || !passphraseMatches(key, check)) throw new PassphraseError('wrong passphrase for this node\'s key store')
    return new ShareVault(store, key, owner)
  }

  private aad (kind: string, id: string): Uint8Array {
    return new TextEncoder().encode(`mpc-wallet/${kind}/1\0${this.owner}\0${id}`)
  }

  /**
   * Counts the changes to the shares, each once it is on disk: equal values mean the same shares
   * with the same status. (Counted before the write, a reader listing the shares in between saw
   * the new count and the old shares, and missed the change for good.)
   */
  get generation (): number {
    return this.changes
  }

  async saveShare (record: ShareRecord, key: Key): Promise<void> {
    this.forget(record.keyId)
    this.opened.delete(record.keyId)
    await this.store.batch({
      json: { [`share:${record.keyId}`]: record },
      bytes: { [`share:${record.keyId}`]: sealWithKey(this.key, encodeKey(key), this.aad('share', record.keyId)) }
    })
    this.forget(record.keyId)
    this.changes++
  }

  async shareRecord (keyId: string): Promise<ShareRecord | undefined> {
    const cached = this.records.get(keyId)
    if (cached !== undefined) return { ...cached }
    const writes = this.recordWrites
    const record = await this.store.getJson<ShareRecord>(`share:${keyId}`)
    if (record !== undefined && writes === this.recordWrites) {
      if (this.records.size >= MAX_OPENED_SHARES) this.records.delete(this.records.keys().next().value!)
      this.records.set(keyId, { ...record })
    }
    return record
  }

  async loadShare (keyId: string): Promise<{ record: ShareRecord, key: Key } | undefined> {
    const record = await this.shareRecord(keyId)
    if (record === undefined) return undefined
    const cached = this.opened.get(keyId)
    if (cached !== undefined) return { record, key: cached }
    const sealed = await this.store.getBytes(`share:${keyId}`)
    if (sealed === undefined) return undefined
    try {
      const key = decodeKey(openWithKey(this.key, sealed, this.aad('share', keyId)))
      if (this.opened.size >= MAX_OPENED_SHARES) this.opened.delete(this.opened.keys().next().value!)
      this.opened.set(keyId, key)
      return { record, key }
    } catch (err) {
      if (err instanceof KeystoreError) throw new KeystoreError(`the share of key ${keyId} does not open: corrupt, or sealed for another record`)
      throw err
    }
  }

  async setStatus (keyId: string, status: ShareStatus): Promise<boolean> {
    const record = await this.shareRecord(keyId)
    if (record === undefined) return false
    if (record.status !== status) {
      this.forget(keyId)
      await this.store.putJson(`share:${keyId}`, { ...record, status })
      this.forget(keyId)
      this.changes++
    }
    return true
  }

  async discardShare (keyId: string): Promise<void> {
    this.opened.delete(keyId)
    this.forget(keyId)
    await this.store.batch({ json: { [`share:${keyId}`]: null }, bytes: { [`share:${keyId}`]: null } })
    this.forget(keyId)
    this.changes++
  }

  async listShares (): Promise<ShareRecord[]> {
    return (await this.store.listJson<ShareRecord>('share:')).map(r => r.value)
  }

  /**
   * A share of a key's next version (refresh, reshare, repair), stored `pending` beside the active
   * one, which stays usable until the next version is committed. One next share per key: a later
   * session's replaces an earlier one that was never committed.
   */
  async saveNextShare (record: ShareRecord, key: Key): Promise<void> {
    await this.store.batch({
      json: { [`next-share:${record.keyId}`]: { ...record, status: 'pending' } },
      bytes: { [`next-share:${record.keyId}`]: sealWithKey(this.key, encodeKey(key), this.aad('next-share', record.keyId)) }
    })
  }

  async nextShareRecord (keyId: string): Promise<ShareRecord | undefined> {
    return await this.store.getJson<ShareRecord>(`next-share:${keyId}`)
  }

  /** The pending next share of `keyId` made by session `sessionId`, opened; undefined if there is none of that session. */
  async loadNextShare (keyId: string, sessionId: string): Promise<{ record: ShareRecord, key: Key } | undefined> {
    const record = await this.nextShareRecord(keyId)
    const sealed = await this.store.getBytes(`next-share:${keyId}`)
    if (record?.sessionId !== sessionId || sealed === undefined) return undefined
    try {
      return { record, key: decodeKey(openWithKey(this.key, sealed, this.aad('next-share', keyId))) }
    } catch (err) {
      if (err instanceof KeystoreError) throw new KeystoreError(`the next share of key ${keyId} does not open: corrupt, or sealed for another record`)
      throw err
    }
  }

  async listNextShares (): Promise<ShareRecord[]> {
    return (await this.store.listJson<ShareRecord>('next-share:')).map(r => r.value)
  }

  /**
   * The next share of session `sessionId` becomes the key's active share, in one batch that also
   * erases the old share: a crash leaves either the old version active (and the next one pending)
   * or the new one active, never neither. False if there is no next share of that session.
   */
  async promoteNextShare (keyId: string, sessionId: string): Promise<boolean> {
    const next = await this.loadNextShare(keyId, sessionId)
    if (next === undefined) return false
    this.opened.delete(keyId)
    this.forget(keyId)
    await this.store.batch({
      json: { [`share:${keyId}`]: { ...next.record, status: 'active' }, [`next-share:${keyId}`]: null },
      bytes: { [`share:${keyId}`]: sealWithKey(this.key, encodeKey(next.key), this.aad('share', keyId)), [`next-share:${keyId}`]: null }
    })
    this.forget(keyId)
    this.changes++
    return true
  }

  /** Drops the pending next share of `keyId` (of `sessionId` only, when given). */
  async discardNextShare (keyId: string, sessionId?: string): Promise<void> {
    if (sessionId !== undefined && (await this.nextShareRecord(keyId))?.sessionId !== sessionId) return
    await this.store.batch({ json: { [`next-share:${keyId}`]: null }, bytes: { [`next-share:${keyId}`]: null } })
  }

  /**
   * Stores fresh nonces before their commitments leave the node, unless the session already has
   * nonces (a second commit must not replace nonces whose commitment is out), is spent, or has
   * another command at work on it right now. The check-and-claim is synchronous, ahead of the
   * first await, so two commits for one session arriving together cannot both pass it.
   */
  async saveNonces (sessionId: string, keyId: string, commit: SignerCommit): Promise<NonceSave> {
    if (this.busy(sessionId)) return { saved: false, refusal: 'busy' }
    this.committing.add(sessionId)
    try {
      if (await this.isSpent(sessionId)) return { saved: false, refusal: 'spent' }
      if (await this.store.getJson<NonceRecord>(`nonce:${sessionId}`) !== undefined) return { saved: false, refusal: 'committed' }
      await this.store.batch({
        json: { [`nonce:${sessionId}`]: { keyId, sessionId, createdAtMs: Date.now() } satisfies NonceRecord },
        bytes: { [`nonce:${sessionId}`]: sealWithKey(this.key, encodeNonces(commit), this.aad('nonce', sessionId)) }
      })
      return { saved: true }
    } finally {
      this.committing.delete(sessionId)
    }
  }

  /**
   * Takes the nonces of a session out of the store for their single use, on behalf of the
   * request whose digest is `request` (see SpentRecord). The session is claimed synchronously,
   * as the first statement, so of any number of concurrent calls only one gets past it; that
   * one deletes the nonces and writes the spent marker in one batch before it returns them, so
   * a crash after this point can never reuse them either. Every other call, concurrent or
   * later, gets a refusal and no nonces.
   */
  async takeNonces (sessionId: string, keyId: string, request: string): Promise<NonceTake> {
    if (this.busy(sessionId)) return { taken: false, refusal: 'busy' }
    this.claimed.add(sessionId)
    try {
      const spent = await this.store.getJson<SpentRecord>(`spent:${sessionId}`)
      if (spent !== undefined) return { taken: false, refusal: spent.request === request ? 'signed' : 'bound' }
      const record = await this.store.getJson<NonceRecord>(`nonce:${sessionId}`)
      const sealed = await this.store.getBytes(`nonce:${sessionId}`)
      if (record === undefined || sealed === undefined || record.keyId !== keyId) return { taken: false, refusal: 'none' }
      const nonces = decodeNonces(openWithKey(this.key, sealed, this.aad('nonce', sessionId)))
      await this.store.batch({
        json: { [`nonce:${sessionId}`]: null, [`spent:${sessionId}`]: { keyId, spentAtMs: Date.now(), request } satisfies SpentRecord },
        bytes: { [`nonce:${sessionId}`]: null }
      })
      return { taken: true, nonces }
    } finally {
      // Settled: either the spent marker is on disk (and every later call reads it), or no
      // nonce left the store. Releasing here keeps the claim set as small as the work in flight.
      this.claimed.delete(sessionId)
    }
  }

  /** A share record changes (called before and after the write): drop its cached copy, and keep reads under way from caching the old one. */
  private forget (keyId: string): void {
    this.recordWrites++
    this.records.delete(keyId)
  }

  /** A commit or a take of this session is at work in this process. */
  private busy (sessionId: string): boolean {
    return this.claimed.has(sessionId) || this.committing.has(sessionId)
  }

  /**
   * Drops the spent markers of sessions signed before `beforeMs`. A marker lets a late or
   * repeated commit or share for that session be refused as stale, and says whether a share
   * request repeats the one answered; its nonces are gone either way, so no nonce can be reused
   * once it is dropped (a late share request then finds no nonce, and a new commit under the
   * old session id gets fresh nonces).
   */
  async forgetSpent (beforeMs: number): Promise<number> {
    const old = (await this.store.listJson<{ spentAtMs: number }>('spent:')).filter(({ value }) => value.spentAtMs < beforeMs)
    if (old.length > 0) await this.store.batch({ json: Object.fromEntries(old.map(({ name }) => [name, null])) })
    return old.length
  }

  async isSpent (sessionId: string): Promise<boolean> {
    return (await this.store.getJson(`spent:${sessionId}`)) !== undefined
  }

  /**
   * Drops the unspent nonces of a session (it was aborted). The session's claim, if a take is
   * at work on it, is left alone: the take already holds the nonces it read and will mark the
   * session spent; removing the claim here would let a second take in beside it.
   */
  async discardSessionNonces (sessionId: string): Promise<void> {
    await this.store.batch({ json: { [`nonce:${sessionId}`]: null }, bytes: { [`nonce:${sessionId}`]: null } })
  }

  /**
   * Drops unspent nonces committed before `beforeMs` (default: all). At start every one belongs
   * to a session that is over; while running, those older than any signing round could wait
   * are left by sessions the coordinator abandoned (it restarted, or the request failed).
   */
  async discardNonces (beforeMs = Number.POSITIVE_INFINITY): Promise<number> {
    const stale = (await this.store.listJson<NonceRecord>('nonce:')).filter(({ value }) => value.createdAtMs < beforeMs)
    for (const { value } of stale) await this.discardSessionNonces(value.sessionId)
    return stale.length
  }
}
