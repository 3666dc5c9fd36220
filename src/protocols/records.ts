import { sha256 } from '@noble/hashes/sha2.js'
import { concat } from 'uint8arrays/concat'
import { fromString } from 'uint8arrays/from-string'
import { MAX_MEMBERS } from './constants.js'
import { MalformedMessageError } from './errors.js'
import { peerIdFromBytes } from './ids.js'
import { KeyRecordBody, type SignedRecord, type StateDigest } from './messages.js'
import { decodeSignedPolicy, PolicyError, type SignedPolicy } from './policy.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const RECORD_DOMAIN = 'mpc-wallet/record/1'
const AGREEMENT_DOMAIN = 'mpc-wallet/key-agreement/1'
const DIGEST_DOMAIN = 'mpc-wallet/state-digest/1'
const LIFECYCLE_TEST_DOMAIN = 'mpc-wallet/lifecycle-test/1'
export const KEY_RECORD_PREFIX = 'key:'
/** Record `policy:<version, 10 digits>`: one per policy version, so they sort (and sync) in version order. */
export const POLICY_RECORD_PREFIX = 'policy:'
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

/**
 * What each holder signs when it agrees on a new key (or a key's new version): the cluster, key,
 * session, group key and transcript, and an HD key's chain code, so that the coordinator cannot
 * put another chain code in the record (it would choose the children every holder signs for).
 */
export function agreementBytes (clusterId: string, keyId: string, sessionId: string, groupPublicKey: Uint8Array, transcriptHash: Uint8Array, chainCode?: Uint8Array): Uint8Array {
  const parts = [fromString(AGREEMENT_DOMAIN), fromString(clusterId), fromString(keyId), fromString(sessionId), groupPublicKey, transcriptHash]
  return lengthPrefixed(...parts, ...(chainCode !== undefined && chainCode.length > 0 ? [chainCode] : []))
}

/**
 * The one message a key's next version signs before it is committed (refresh, reshare, repair):
 * 32 bytes (a Taproot digest, an Ed25519 message), bound to the cluster, key, session and new
 * public package. A domain-separated hash cannot equal a transaction's sighash, so signing it
 * with a pending share needs no client request.
 */
export function lifecycleTestMessage (clusterId: string, keyId: string, sessionId: string, publicPackage: Uint8Array): Uint8Array {
  return sha256(lengthPrefixed(fromString(LIFECYCLE_TEST_DOMAIN), fromString(clusterId), fromString(keyId), fromString(sessionId), publicPackage))
}

export async function signRecord (key: PrivateKey, id: string, version: number, body: Uint8Array): Promise<SignedRecord> {
  return { id, version, body, signature: await key.sign(recordSigningBytes(id, version, body)) }
}

export function bodyHash (body: Uint8Array): Uint8Array {
  return sha256(body)
}

/** The record id of a policy version. */
export function policyRecordId (version: number): string {
  return POLICY_RECORD_PREFIX + String(version).padStart(10, '0')
}

/** A synced record, checked: a key's metadata, or one version of the signing policy. */
export type VerifiedRecord = VerifiedKeyRecord | VerifiedPolicyRecord

export interface VerifiedPolicyRecord {
  kind: 'policy'
  signed: SignedRecord
  /** the admins' document; whether they may sign it depends on the version before (PolicyBook) */
  document: SignedPolicy
  bodyHash: Uint8Array
}

export interface VerifiedKeyRecord {
  kind: 'key'
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
  const agreed = agreementBytes(expect.clusterId, body.id, body.sessionId, body.groupPublicKey, body.transcriptHash, body.chainCode)
  for (const [i, holder] of holders.entries()) {
    if (!(await verifies(holder, agreed, body.holderSignatures[i]!))) throw new RecordVerificationError(`key ${body.id}: holder ${holder.toString()} did not countersign it`)
  }
  return { kind: 'key', signed, body, holders, bodyHash: bodyHash(signed.body) }
}

/**
 * Checks a policy record's form: the coordinator published it (its signature), it holds a signed
 * policy document of the version its id names. The admins' signatures are the authority and are
 * checked against the version in force when the record is applied (PolicyBook.adopt).
 */
export async function openPolicyRecord (signed: SignedRecord, expect: { coordinator: PeerId }): Promise<VerifiedPolicyRecord> {
  if (!(await verifies(expect.coordinator, recordSigningBytes(signed.id, signed.version, signed.body), signed.signature))) {
    throw new RecordVerificationError(`record ${signed.id.slice(0, MAX_RECORD_ID_LENGTH)} is not signed by the coordinator`)
  }
  let document: SignedPolicy
  try {
    document = decodeSignedPolicy(signed.body)
  } catch (err) {
    if (err instanceof PolicyError) throw new MalformedMessageError(`policy record does not decode: ${err.message}`)
    throw err
  }
  if (signed.id !== policyRecordId(document.policy.version) || signed.version !== 1) throw new RecordVerificationError(`record ${signed.id.slice(0, MAX_RECORD_ID_LENGTH)} (version ${signed.version}) carries policy version ${document.policy.version}`)
  return { kind: 'policy', signed, document, bodyHash: bodyHash(signed.body) }
}

/** Checks a synced record of any kind; an id of no known kind is refused. */
export async function openRecord (signed: SignedRecord, expect: { clusterId: string, coordinator: PeerId }): Promise<VerifiedRecord> {
  if (signed.id.startsWith(KEY_RECORD_PREFIX)) return await openKeyRecord(signed, expect)
  if (signed.id.startsWith(POLICY_RECORD_PREFIX)) return await openPolicyRecord(signed, expect)
  throw new RecordVerificationError(`record ${signed.id.slice(0, MAX_RECORD_ID_LENGTH)} is of no known kind`)
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
