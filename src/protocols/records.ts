import { sha256 } from '@noble/hashes/sha2.js'
import { concat } from 'uint8arrays/concat'
import { fromString } from 'uint8arrays/from-string'
import { MAX_MEMBERS } from './constants.js'
import { MalformedMessageError } from './errors.js'
import { peerIdFromBytes } from './ids.js'
import { KeyRecordBody, type SignedRecord, type StateDigest } from './messages.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const RECORD_DOMAIN = 'mpc-wallet/record/1'
const AGREEMENT_DOMAIN = 'mpc-wallet/key-agreement/1'
const DIGEST_DOMAIN = 'mpc-wallet/state-digest/1'
export const KEY_RECORD_PREFIX = 'key:'
export const MAX_RECORD_ID_LENGTH = 160

export class RecordVerificationError extends Error {
  override name = 'RecordVerificationError'
}

/** Each part behind its 4-byte big-endian length: no two sequences of parts encode alike (signed and hashed bytes). */
export function lengthPrefixed (...parts: Uint8Array[]): Uint8Array {
  return concat(parts.flatMap(p => {
    const len = new Uint8Array(4)
    new DataView(len.buffer).setUint32(0, p.length)
    return [len, p]
  }))
}

function u64 (n: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n))
  return b
}

function recordSigningBytes (id: string, version: number, body: Uint8Array): Uint8Array {
  return lengthPrefixed(fromString(RECORD_DOMAIN), fromString(id), u64(version), body)
}

/** What each holder signs when it agrees on a new key: the cluster, key, session, group key and transcript. */
export function agreementBytes (clusterId: string, keyId: string, sessionId: string, groupPublicKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  return lengthPrefixed(fromString(AGREEMENT_DOMAIN), fromString(clusterId), fromString(keyId), fromString(sessionId), groupPublicKey, transcriptHash)
}

export async function signRecord (key: PrivateKey, id: string, version: number, body: Uint8Array): Promise<SignedRecord> {
  return { id, version, body, signature: await key.sign(recordSigningBytes(id, version, body)) }
}

export function bodyHash (body: Uint8Array): Uint8Array {
  return sha256(body)
}

export interface VerifiedKeyRecord {
  signed: SignedRecord
  body: KeyRecordBody
  holders: PeerId[]
  bodyHash: Uint8Array
}

async function verifies (peer: PeerId, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (peer.publicKey === undefined || signature.length !== 64) return false
  try {
    return await peer.publicKey.verify(data, signature)
  } catch {
    return false
  }
}

/**
 * Checks a key record: signed by the cluster's coordinator (the authoritative writer), its id
 * matches its body, and every holder countersigned the agreement it records. Throws
 * RecordVerificationError (or MalformedMessageError for bytes that do not decode).
 */
export async function openKeyRecord (signed: SignedRecord, expect: { clusterId: string, coordinator: PeerId }): Promise<VerifiedKeyRecord> {
  if (!(await verifies(expect.coordinator, recordSigningBytes(signed.id, signed.version, signed.body), signed.signature))) {
    throw new RecordVerificationError(`record ${signed.id.slice(0, MAX_RECORD_ID_LENGTH)} is not signed by the coordinator`)
  }
  let body: KeyRecordBody
  try {
    body = KeyRecordBody.decode(signed.body, { limits: { holders: MAX_MEMBERS, holderSignatures: MAX_MEMBERS } })
  } catch (err) {
    throw new MalformedMessageError(`key record does not decode: ${(err as Error).message}`)
  }
  if (signed.id !== KEY_RECORD_PREFIX + body.id) throw new RecordVerificationError(`record ${signed.id} carries key ${body.id}`)
  if (signed.version < 1) throw new RecordVerificationError('record version must be at least 1')
  const holders = body.holders.map(peerIdFromBytes)
  if (holders.length === 0 || body.holderSignatures.length !== holders.length) throw new RecordVerificationError(`key ${body.id} lacks a countersignature from each holder`)
  const agreed = agreementBytes(expect.clusterId, body.id, body.sessionId, body.groupPublicKey, body.transcriptHash)
  for (const [i, holder] of holders.entries()) {
    if (!(await verifies(holder, agreed, body.holderSignatures[i]!))) throw new RecordVerificationError(`key ${body.id}: holder ${holder.toString()} did not countersign it`)
  }
  return { signed, body, holders, bodyHash: bodyHash(signed.body) }
}

export interface RecordEntry {
  id: string
  version: number
  bodyHash: Uint8Array
}

/** The digest of a set of records: their count and a hash over the sorted (id, version, body hash). */
export function digestOf (rosterEpoch: number, entries: Iterable<RecordEntry>): StateDigest {
  const sorted = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const hash = sha256(lengthPrefixed(fromString(DIGEST_DOMAIN), ...sorted.flatMap(e => [fromString(e.id), u64(e.version), e.bodyHash])))
  return { rosterEpoch, records: sorted.length, hash }
}
