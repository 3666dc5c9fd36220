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
}

interface NonceRecord {
  keyId: string
  sessionId: string
  createdAtMs: number
}

/** The passphrase is wrong, or missing: the node must not start. */
export class PassphraseError extends Error {
  override name = 'PassphraseError'
}

/**
 * A node's secrets at rest: key shares and signing nonces, sealed under a key derived from the
 * operator's passphrase (scrypt → XChaCha20-Poly1305), each bound by associated data to what
 * it is, so a sealed blob cannot be moved to another record. Nonces live from commit to share:
 * they are deleted, atomically with a "spent" marker, before a signature share leaves the node.
 */
export class ShareVault {
  private changes = 0
  /**
   * Opened shares by key id. Opening checks the share against every commitment (point
   * validation), which costs more than a signature share; a signing node keeps its shares in
   * memory anyway while it signs.
   */
  private readonly opened = new Map<string, Key>()

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
      const key = deriveKeystoreKey(passphrase, params)
      await store.batch({ bytes: { [PARAMS]: encodeKeystoreParams(params), [CHECK]: makePassphraseCheck(key) } })
      return new ShareVault(store, key, owner)
    }
    const key = deriveKeystoreKey(passphrase, decodeKeystoreParams(stored))
    const check = await store.getBytes(CHECK)
    if (check === undefined || !passphraseMatches(key, check)) throw new PassphraseError('wrong passphrase for this node\'s key store')
    return new ShareVault(store, key, owner)
  }

  private aad (kind: string, id: string): Uint8Array {
    return new TextEncoder().encode(`mpc-wallet/${kind}/1\0${this.owner}\0${id}`)
  }

  /** Counts the changes to the shares: equal values mean the same shares with the same status. */
  get generation (): number {
    return this.changes
  }

  async saveShare (record: ShareRecord, key: Key): Promise<void> {
    this.changes++
    await this.store.batch({
      json: { [`share:${record.keyId}`]: record },
      bytes: { [`share:${record.keyId}`]: sealWithKey(this.key, encodeKey(key), this.aad('share', record.keyId)) }
    })
  }

  async shareRecord (keyId: string): Promise<ShareRecord | undefined> {
    return await this.store.getJson<ShareRecord>(`share:${keyId}`)
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
      this.changes++
      await this.store.putJson(`share:${keyId}`, { ...record, status })
    }
    return true
  }

  async discardShare (keyId: string): Promise<void> {
    this.changes++
    this.opened.delete(keyId)
    await this.store.batch({ json: { [`share:${keyId}`]: null }, bytes: { [`share:${keyId}`]: null } })
  }

  async listShares (): Promise<ShareRecord[]> {
    return (await this.store.listJson<ShareRecord>('share:')).map(r => r.value)
  }

  /** Stores fresh nonces before their commitments leave the node. */
  async saveNonces (sessionId: string, keyId: string, commit: SignerCommit): Promise<void> {
    await this.store.batch({
      json: { [`nonce:${sessionId}`]: { keyId, sessionId, createdAtMs: Date.now() } satisfies NonceRecord },
      bytes: { [`nonce:${sessionId}`]: sealWithKey(this.key, encodeNonces(commit), this.aad('nonce', sessionId)) }
    })
  }

  /**
   * Takes the nonces of a session out of the store for their single use: they are deleted and
   * the session marked spent, in one synchronous batch, before the caller computes the share.
   * A crash after this point can never reuse them; undefined if there are none (never committed,
   * already spent, or discarded).
   */
  async takeNonces (sessionId: string, keyId: string): Promise<SignerCommit | undefined> {
    const record = await this.store.getJson<NonceRecord>(`nonce:${sessionId}`)
    const sealed = await this.store.getBytes(`nonce:${sessionId}`)
    if (record === undefined || sealed === undefined || record.keyId !== keyId) return undefined
    const commit = decodeNonces(openWithKey(this.key, sealed, this.aad('nonce', sessionId)))
    await this.store.batch({
      json: { [`nonce:${sessionId}`]: null, [`spent:${sessionId}`]: { keyId, spentAtMs: Date.now() } },
      bytes: { [`nonce:${sessionId}`]: null }
    })
    return commit
  }

  /**
   * Drops the spent markers of sessions signed before `beforeMs`. A marker only lets a late or
   * repeated commit for that session be refused as stale; its nonces are gone either way, so no
   * nonce can be reused once it is dropped.
   */
  async forgetSpent (beforeMs: number): Promise<number> {
    const old = (await this.store.listJson<{ spentAtMs: number }>('spent:')).filter(({ value }) => value.spentAtMs < beforeMs)
    if (old.length > 0) await this.store.batch({ json: Object.fromEntries(old.map(({ name }) => [name, null])) })
    return old.length
  }

  async isSpent (sessionId: string): Promise<boolean> {
    return (await this.store.getJson(`spent:${sessionId}`)) !== undefined
  }

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
