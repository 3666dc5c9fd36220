import { isScheme, type Scheme } from '../crypto/index.js'
import { KeyRecordBody, type SignedRecord } from '../protocols/messages.js'
import { KEY_RECORD_PREFIX, signRecord, type VerifiedKeyRecord } from '../protocols/records.js'
import { toHex } from '../crypto/bytes.js'
import type { RecordBook } from './record-book.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'

/** What the cluster records of a key once every holder agreed on it. Public data only. */
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
  /** The session that made this version's shares (keygen, refresh or reshare). */
  sessionId: string
  createdAtMs: number
  /** 1 from keygen; each refresh, reshare or repair adds one (the synced record's version). */
  version: number
  /** HD keys (keygen --hd): the chain code, hex; the group key is the root (Taproot: untweaked). */
  chainCode?: string
}

/** The holders' agreement that the coordinator records with a new key. */
export interface KeyAgreement {
  transcriptHash: Uint8Array
  /** Each holder's signature over the agreement, in holder order. */
  holderSignatures: Uint8Array[]
}

function toKeyRecord (r: VerifiedKeyRecord): KeyRecord {
  const scheme = r.body.scheme
  if (!isScheme(scheme)) throw new Error(`key ${r.body.id} has an unknown scheme`)
  return {
    id: r.body.id,
    scheme,
    threshold: r.body.threshold,
    holders: r.holders.map(String),
    groupPublicKey: toHex(r.body.groupPublicKey),
    publicPackage: toHex(r.body.publicPackage),
    sessionId: r.body.sessionId,
    createdAtMs: r.body.createdAtMs,
    version: r.signed.version,
    ...(r.body.chainCode.length > 0 ? { chainCode: toHex(r.body.chainCode) } : {})
  }
}

/**
 * Key metadata as synced records (`key:<id>`, written and signed by the coordinator,
 * countersigned by every holder). The coordinator writes them; every member keeps them.
 */
export class KeyRegistry {
  constructor (private readonly book: RecordBook) {}

  async get (id: string): Promise<KeyRecord | undefined> {
    const record = this.book.get(KEY_RECORD_PREFIX + id)
    return record?.kind === 'key' ? toKeyRecord(record) : undefined
  }

  async list (): Promise<KeyRecord[]> {
    return this.book.keys().map(toKeyRecord).sort((a, b) => a.createdAtMs - b.createdAtMs)
  }

  /**
   * Signs and stores a key record at `key.version` (coordinator only); it is checked like any
   * received one, and a newer version replaces the one before. Returns the signed record.
   */
  async record (signer: PrivateKey, key: KeyRecord, agreement: KeyAgreement): Promise<SignedRecord> {
    const body = KeyRecordBody.encode({
      id: key.id,
      scheme: key.scheme,
      threshold: key.threshold,
      holders: key.holders.map(h => this.holderBytes(h)),
      groupPublicKey: Buffer.from(key.groupPublicKey, 'hex'),
      publicPackage: Buffer.from(key.publicPackage, 'hex'),
      sessionId: key.sessionId,
      transcriptHash: agreement.transcriptHash,
      createdAtMs: key.createdAtMs,
      holderSignatures: agreement.holderSignatures,
      chainCode: key.chainCode === undefined ? new Uint8Array() : Buffer.from(key.chainCode, 'hex')
    })
    const signed = await signRecord(signer, KEY_RECORD_PREFIX + key.id, key.version, body)
    await this.book.apply(await this.book.verify(signed))
    return signed
  }

  private holderBytes (peerId: string): Uint8Array {
    return peerIdFromString(peerId).toMultihash().bytes
  }
}
