import { peerIdFromString } from '@libp2p/peer-id'
import { concat } from 'uint8arrays/concat'
import { fromString } from 'uint8arrays/from-string'
import { MAX_ADDR_BYTES, MAX_ADDRS_PER_MEMBER, MAX_MEMBERS, MAX_ROSTER_BYTES, ROSTER_SIGNATURE_DOMAIN } from './constants.js'
import { MalformedMessageError } from './errors.js'
import { multiaddrFromBytes, peerIdFromBytes, peerIdToBytes } from './ids.js'
import { Roster, SignedRoster } from './messages.js'
import { isClusterId } from './topics.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface RosterMember {
  peerId: PeerId
  addrs: Multiaddr[]
  joinedAtMs: number
}

/** The cluster membership at one epoch, as the coordinator decided it. */
export interface RosterState {
  clusterId: string
  epoch: number
  coordinator: PeerId
  members: RosterMember[]
  issuedAtMs: number
}

/** A roster together with the exact signed bytes it was read from, ready to forward or store. */
export interface VerifiedRoster {
  roster: RosterState
  signed: SignedRoster
}

const ED25519_SIGNATURE_BYTES = 64

export class RosterVerificationError extends Error {
  override name = 'RosterVerificationError'
}

/** A roster change would break a bound every member relies on to decode and carry the roster. */
export class RosterBoundsError extends Error {
  override name = 'RosterBoundsError'
}

function encodeRoster (roster: RosterState): Uint8Array {
  return Roster.encode({
    clusterId: roster.clusterId,
    epoch: roster.epoch,
    coordinator: peerIdToBytes(roster.coordinator),
    members: roster.members.map(m => ({
      peerId: peerIdToBytes(m.peerId),
      addrs: m.addrs.map(a => a.bytes),
      joinedAtMs: m.joinedAtMs
    })),
    issuedAtMs: roster.issuedAtMs
  })
}

/**
 * Checks a roster before it is signed: members (at most `maxMembers`, never above MAX_MEMBERS,
 * which is what a roster decodes with), addresses per member and bytes per address, and the
 * encoded size (MAX_ROSTER_BYTES). Throws RosterBoundsError saying which bound and by how much.
 */
export function checkRosterBounds (roster: RosterState, maxMembers = MAX_MEMBERS): void {
  const cap = Math.min(maxMembers, MAX_MEMBERS)
  if (roster.members.length > cap) throw new RosterBoundsError(`the cluster is full: ${cap} members at most`)
  for (const m of roster.members) {
    if (m.addrs.length > MAX_ADDRS_PER_MEMBER) throw new RosterBoundsError(`${m.peerId.toString()} advertises ${m.addrs.length} addresses; at most ${MAX_ADDRS_PER_MEMBER}`)
    const long = m.addrs.find(a => a.bytes.length > MAX_ADDR_BYTES)
    if (long !== undefined) throw new RosterBoundsError(`an address of ${m.peerId.toString()} is ${long.bytes.length} bytes; at most ${MAX_ADDR_BYTES}`)
  }
  const size = encodeRoster(roster).length
  if (size > MAX_ROSTER_BYTES) throw new RosterBoundsError(`the roster would be ${size} bytes, over its limit of ${MAX_ROSTER_BYTES}: members must advertise fewer or shorter addresses (--announce)`)
}

function signedBytes (rosterBytes: Uint8Array): Uint8Array {
  return concat([fromString(ROSTER_SIGNATURE_DOMAIN), rosterBytes])
}

/** Encodes and signs a roster with the coordinator's identity key. */
export async function signRoster (key: PrivateKey, roster: RosterState): Promise<VerifiedRoster> {
  const rosterBytes = encodeRoster(roster)
  const signature = await key.sign(signedBytes(rosterBytes))
  return { roster, signed: { roster: rosterBytes, signature } }
}

/**
 * Decodes a signed roster and checks it was signed by `coordinator` for `clusterId`.
 * Throws MalformedMessageError for bytes that do not decode, RosterVerificationError for a
 * roster of another cluster or coordinator, or a signature that does not verify.
 */
export async function openSignedRoster (signed: SignedRoster, expect: { clusterId: string, coordinator: PeerId }): Promise<VerifiedRoster> {
  let decoded: Roster
  try {
    decoded = Roster.decode(signed.roster, { limits: { members: MAX_MEMBERS, members$: { addrs: MAX_ADDRS_PER_MEMBER } } })
  } catch (err) {
    throw new MalformedMessageError(`roster does not decode: ${(err as Error).message}`)
  }
  if (!isClusterId(decoded.clusterId)) throw new MalformedMessageError('roster has an invalid cluster id')
  const coordinator = peerIdFromBytes(decoded.coordinator)
  if (decoded.clusterId !== expect.clusterId) throw new RosterVerificationError(`roster is for cluster ${decoded.clusterId}, not ${expect.clusterId}`)
  if (!coordinator.equals(expect.coordinator)) throw new RosterVerificationError('roster names another coordinator')
  const publicKey = expect.coordinator.publicKey ?? peerIdFromString(expect.coordinator.toString()).publicKey
  if (publicKey === undefined) throw new RosterVerificationError('coordinator peer id carries no public key')
  if (signed.signature.length !== ED25519_SIGNATURE_BYTES) throw new RosterVerificationError(`roster signature is ${signed.signature.length} bytes, not ${ED25519_SIGNATURE_BYTES}`)
  let valid: boolean
  try {
    valid = await publicKey.verify(signedBytes(signed.roster), signed.signature)
  } catch (err) {
    throw new RosterVerificationError(`roster signature cannot be checked: ${(err as Error).message}`)
  }
  if (!valid) throw new RosterVerificationError('roster signature does not verify against the coordinator key')
  const seen = new Set<string>()
  const members = decoded.members.map(m => {
    const peerId = peerIdFromBytes(m.peerId)
    if (seen.has(peerId.toString())) throw new MalformedMessageError(`roster lists ${peerId.toString()} twice`)
    seen.add(peerId.toString())
    return { peerId, addrs: m.addrs.map(multiaddrFromBytes), joinedAtMs: m.joinedAtMs }
  })
  return {
    roster: { clusterId: decoded.clusterId, epoch: decoded.epoch, coordinator, members, issuedAtMs: decoded.issuedAtMs },
    signed
  }
}

export function isRosterMember (roster: RosterState | undefined, peerId: PeerId | string): boolean {
  if (roster === undefined) return false
  let ids = memberIds.get(roster)
  if (ids === undefined) {
    ids = new Set(roster.members.map(m => m.peerId.toString()))
    memberIds.set(roster, ids)
  }
  return ids.has(peerId.toString())
}
/** Each roster's member ids, made at its first lookup: gossipsub asks for every peer's score, often. */
const memberIds = new WeakMap<RosterState, Set<string>>()
