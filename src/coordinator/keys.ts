import type { Scheme } from '../crypto/index.js'
import type { Store } from '../store/store.js'

/** What the coordinator records of a key once every holder agreed on it. Public data only. */
export interface KeyRecord {
  id: string
  scheme: Scheme
  threshold: number
  /** PeerIds of the holders, in FROST identifier order (holder i has identifier i + 1). */
  holders: string[]
  /** The group public key, hex, as the FROST suite encodes it. */
  groupPublicKey: string
  /** The FROST public package (commitments, verifying shares), hex of src/crypto's encoding. */
  publicPackage: string
  sessionId: string
  createdAtMs: number
}

/** Key metadata in the coordinator's store; a record is written only after the agreement step. */
export class KeyRegistry {
  constructor (private readonly store: Store) {}

  async get (id: string): Promise<KeyRecord | undefined> {
    return await this.store.getJson<KeyRecord>(`key:${id}`)
  }

  async put (record: KeyRecord): Promise<void> {
    await this.store.putJson(`key:${record.id}`, record)
  }

  async list (): Promise<KeyRecord[]> {
    return (await this.store.listJson<KeyRecord>('key:')).map(r => r.value).sort((a, b) => a.createdAtMs - b.createdAtMs)
  }
}
