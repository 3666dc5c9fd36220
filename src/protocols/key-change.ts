import { fromString } from 'uint8arrays/from-string'
import { fieldParsers } from './fields.js'
import { canonicalJson, PolicyError, POLICY_LIMITS, verifyEd25519, type AdminSet } from './policy.js'

/**
 * The admins' approval of a change of a key's holders (issue 14). The coordinator's host can
 * admit members (it issues invitations), so a reshare that deals a key to peers that do not hold
 * it yet would otherwise let it deal the key to members of its own making. Every node therefore
 * takes part in such a change only with a quorum of the admins in force signing exactly it: this
 * cluster, this key at this version, the new holders (as a set) and threshold, until a deadline.
 * A refresh, a repair of a holder in its own place, a change of threshold or a removal of holders
 * deals to no one new and needs no approval.
 */

export interface KeyChange {
  clusterId: string
  keyId: string
  /** The version the change starts from: an approval is spent once the key moves on. */
  fromVersion: number
  /** Every new holder (PeerIds), sorted. */
  holders: string[]
  threshold: number
  expiresAtMs: number
}

export interface KeyChangeApproval {
  /** The admin's Ed25519 public key, hex. */
  publicKey: string
  /** Its Ed25519 signature over keyChangeBytes(change), hex. */
  signature: string
}

const KEY_CHANGE_DOMAIN = 'mpc-wallet/key-change/1\n'
/** An approval is good for at most this long: it is meant for the change about to run. */
export const MAX_KEY_CHANGE_LIFETIME_MS = 24 * 60 * 60_000
export const DEFAULT_KEY_CHANGE_TTL_MS = 10 * 60_000

/** The change as its approvers see it; holders sorted, so the order in which they are named does not matter. */
export function keyChangeOf (fields: Omit<KeyChange, 'holders'> & { holders: readonly string[] }): KeyChange {
  return { ...fields, holders: [...fields.holders].sort() }
}

/** What each admin signs. */
export function keyChangeBytes (change: KeyChange): Uint8Array {
  return fromString(KEY_CHANGE_DOMAIN + canonicalJson(keyChangeOf(change)))
}

function fail (message: string): never {
  throw new PolicyError('malformed', message)
}

const { object, onlyFields, text, list, whole } = fieldParsers(fail)

/** A change as an approval file carries it (strict: every field, nothing else); holders come back sorted. */
export function parseKeyChange (value: unknown): KeyChange {
  const obj = object(value, 'change')
  onlyFields(obj, ['clusterId', 'keyId', 'fromVersion', 'holders', 'threshold', 'expiresAtMs'], 'change')
  const id = /^[A-Za-z0-9_-]+$/
  return keyChangeOf({
    clusterId: text(obj.clusterId, 'change.clusterId', id, POLICY_LIMITS.idLength),
    keyId: text(obj.keyId, 'change.keyId', id, POLICY_LIMITS.idLength),
    fromVersion: whole(obj.fromVersion, 'change.fromVersion', 1),
    holders: list(obj.holders, 'change.holders', 64, (h, i) => text(h, `change.holders[${i}]`, /^[1-9A-HJ-NP-Za-km-z]+$/, 128)),
    threshold: whole(obj.threshold, 'change.threshold', 2, 64),
    expiresAtMs: whole(obj.expiresAtMs, 'change.expiresAtMs', 0)
  })
}

/** An approval file: one change and the admins' signatures over it so far (key approve-change). */
export interface KeyChangeFile {
  change: KeyChange
  approvals: KeyChangeApproval[]
}

export function parseKeyChangeFile (value: unknown): KeyChangeFile {
  const obj = object(value, 'approval file')
  onlyFields(obj, ['change', 'approvals'], 'approval file')
  return { change: parseKeyChange(obj.change), approvals: parseKeyChangeApprovals(obj.approvals) }
}

/** The approvals as the API and the wire carry them: `[{ publicKey, signature }]`, hex. */
export function parseKeyChangeApprovals (value: unknown): KeyChangeApproval[] {
  return list(value, 'approvals', POLICY_LIMITS.admins, (v, i) => {
    const obj = object(v, `approvals[${i}]`)
    onlyFields(obj, ['publicKey', 'signature'], `approvals[${i}]`)
    return { publicKey: text(obj.publicKey, `approvals[${i}].publicKey`, /^[0-9a-f]{64}$/, 64), signature: text(obj.signature, `approvals[${i}].signature`, /^[0-9a-f]{128}$/, 128) }
  })
}

/**
 * Throws PolicyError unless a quorum of distinct admins of `admins` signed `change`, and it has
 * not expired (nor claims a lifetime beyond MAX_KEY_CHANGE_LIFETIME_MS).
 */
export function verifyKeyChange (change: KeyChange, approvals: readonly KeyChangeApproval[], admins: AdminSet | undefined, nowMs: number): void {
  if (admins === undefined) throw new PolicyError('quorum', 'no admin set is trusted yet: a change of holders cannot be approved')
  if (approvals.length === 0) throw new PolicyError('quorum', `dealing key ${change.keyId} to new holders needs the approval of ${admins.quorum} admin(s) (key reshare/repair --admin-key)`)
  if (change.expiresAtMs <= nowMs) throw new PolicyError('expired', `the admins' approval of this change expired at ${new Date(change.expiresAtMs).toISOString()}`)
  if (change.expiresAtMs - nowMs > MAX_KEY_CHANGE_LIFETIME_MS) throw new PolicyError('expired', `an approval may run at most ${MAX_KEY_CHANGE_LIFETIME_MS / 3_600_000} h`)
  const bytes = keyChangeBytes(change)
  const signers = new Set(approvals.filter(a => admins.keys.includes(a.publicKey) && verifyEd25519(a.publicKey, bytes, a.signature)).map(a => a.publicKey))
  if (signers.size < admins.quorum) {
    throw new PolicyError('quorum', `dealing key ${change.keyId} to new holders needs ${admins.quorum} admin signature(s) over exactly this change; ${signers.size} valid`)
  }
}

/** The holders a change deals the key to that do not hold it now: these need the admins' approval. */
export function newcomers (oldHolders: readonly string[], newHolders: readonly string[]): string[] {
  return newHolders.filter(h => !oldHolders.includes(h))
}

/** Approvals as the wire carries them (canonical JSON), and back. */
export function encodeApprovals (approvals: readonly KeyChangeApproval[]): Uint8Array {
  return fromString(canonicalJson(approvals))
}

export function decodeApprovals (bytes: Uint8Array): KeyChangeApproval[] {
  if (bytes.length > POLICY_LIMITS.documentBytes) fail('approvals too large')
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    fail('approvals are not JSON')
  }
  return parseKeyChangeApprovals(value)
}
