import { MAX_EVENTS_PER_BATCH, MAX_GOSSIP_BYTES, MAX_MEMBERS, MAX_SESSION_ID_LENGTH, MAX_VERSION_STRING_LENGTH, WIRE_VERSION } from './constants.js'
import { GossipValidationError, MalformedMessageError } from './errors.js'
import { peerIdFromBytes } from './ids.js'
import { EventKind, GossipMessage, Health, type Event, type Heartbeat, type RoundMessage, type StateDigest } from './messages.js'
import { isRosterMember, openSignedRoster, RosterVerificationError, type RosterState, type VerifiedRoster } from './roster.js'
import type { Channel } from './topics.js'
import type { HeartbeatFreshness } from './freshness.js'
import type { PeerId } from '@libp2p/interface'

/** A gossip message that passed validation, typed by the channel it came on. */
export interface GossipBodies {
  heartbeats: Heartbeat
  state: { roster: VerifiedRoster } | { digest: StateDigest }
  events: Event[]
  rounds: RoundMessage
}

/** What the validator needs to know of local state; nothing else about the node. */
export interface GossipContext {
  clusterId: string
  coordinator: PeerId
  roster: RosterState | undefined
  /**
   * True on the coordinator, which writes the roster and so is never behind it: there a message
   * from an author outside the roster is rejected (the sender's score drops), not ignored.
   */
  rosterAuthority?: boolean
  /**
   * The participants (PeerId strings) of a session this peer takes part in or runs; `ended` for
   * one that ended here; undefined for a session it does not know (yet). The one place a round's
   * author is checked against them, where they are known.
   */
  sessionParticipants: (sessionId: string) => readonly string[] | 'ended' | undefined
  /** Per-sender freshness of heartbeats: a replayed or old one is ignored (not forwarded, not acted on). */
  heartbeatFreshness?: HeartbeatFreshness
  /** The peer that sent us this copy (the author, or a member relaying it). */
  propagationSource?: PeerId
}

export function encodeGossip (clusterId: string, body: Partial<Pick<GossipMessage, 'heartbeat' | 'roster' | 'events' | 'round' | 'digest'>>): Uint8Array {
  return GossipMessage.encode({ version: WIRE_VERSION, clusterId, ...body })
}

function reject (reason: ConstructorParameters<typeof GossipValidationError>[1], message: string): never {
  throw new GossipValidationError('reject', reason, message)
}

function ignore (reason: ConstructorParameters<typeof GossipValidationError>[1], message: string): never {
  throw new GossipValidationError('ignore', reason, message)
}

function decodeEnvelope (channel: Channel, data: Uint8Array): GossipMessage {
  if (data.byteLength > MAX_GOSSIP_BYTES[channel]) reject('oversized', `${data.byteLength} bytes exceeds the ${channel} limit of ${MAX_GOSSIP_BYTES[channel]}`)
  try {
    return GossipMessage.decode(data, { limits: { events: { events: MAX_EVENTS_PER_BATCH, events$: { culprits: MAX_MEMBERS, accused: MAX_MEMBERS, signers: MAX_MEMBERS } }, round: { dkgRound1: { commitment: MAX_MEMBERS }, dkgRound2: { shares: MAX_MEMBERS }, reshareRound2: { commitment: MAX_MEMBERS, shares: MAX_MEMBERS }, nack: { missing: MAX_MEMBERS } } } })
  } catch (err) {
    reject('malformed', `does not decode: ${(err as Error).message}`)
  }
}

function requireAuthorMember (author: PeerId, ctx: GossipContext): void {
  if (isRosterMember(ctx.roster, author)) return
  const verdict = ctx.rosterAuthority === true ? reject : ignore
  verdict('unknown-sender', `author ${author.toString()} is not in roster epoch ${ctx.roster?.epoch ?? 0}`)
}

/**
 * The one validation path for inbound gossip: size, schema, version, cluster, channel/body
 * match, then who may author what. `author` is the StrictSign-verified `from` of the message.
 * Returns the typed body or throws GossipValidationError with the verdict for gossipsub.
 */
export async function validateGossip<C extends Channel> (channel: C, author: PeerId | undefined, data: Uint8Array, ctx: GossipContext): Promise<GossipBodies[C]> {
  if (author === undefined) reject('unsigned', 'message carries no signed author')
  const msg = decodeEnvelope(channel, data)
  if (msg.version !== WIRE_VERSION) reject('bad-version', `wire version ${msg.version}, expected ${WIRE_VERSION}`)
  if (msg.clusterId !== ctx.clusterId) reject('wrong-cluster', `cluster "${msg.clusterId.slice(0, 64)}" is not ${ctx.clusterId}`)
  const bodies = [msg.heartbeat, msg.roster, msg.events, msg.round, msg.digest].filter(b => b !== undefined)
  if (bodies.length !== 1) reject('malformed', 'message must carry exactly one body')

  const isCoordinator = author.equals(ctx.coordinator)
  switch (channel) {
    case 'heartbeats': {
      const hb = msg.heartbeat ?? reject('wrong-channel', 'heartbeats carries only heartbeats')
      if (hb.softwareVersion.length > MAX_VERSION_STRING_LENGTH) reject('malformed', 'software version too long')
      requireAuthorMember(author, ctx)
      const stale = ctx.heartbeatFreshness?.check(author.toString(), hb)
      if (stale !== undefined) ignore('stale', `heartbeat ${hb.seq} of ${author.toString()} is ${stale}`)
      return hb as GossipBodies[C]
    }
    case 'state': {
      if (!isCoordinator) requireAuthorMember(author, ctx)
      if (msg.digest !== undefined) {
        if (msg.digest.hash.length !== 32) reject('malformed', 'state digest hash must be 32 bytes')
        return { digest: msg.digest } as GossipBodies[C]
      }
      const signed = msg.roster ?? reject('wrong-channel', 'state carries only signed rosters and digests')
      try {
        return { roster: await openSignedRoster(signed, ctx) } as GossipBodies[C]
      } catch (err) {
        if (err instanceof RosterVerificationError) reject('bad-signature', err.message)
        if (err instanceof MalformedMessageError) reject('malformed', err.message)
        throw err
      }
    }
    case 'events': {
      const batch = msg.events ?? reject('wrong-channel', 'events carries only event batches')
      if (!isCoordinator) reject('not-coordinator', 'only the coordinator publishes events')
      if (batch.events.length === 0) reject('malformed', 'empty event batch')
      for (const event of batch.events) {
        if (event.kind === EventKind.EVENT_UNKNOWN) reject('malformed', 'event kind unset')
        if (!Number.isSafeInteger(event.seq) || event.seq < 1) reject('malformed', 'event without a sequence number')
        if (event.peerId.length > 0) parsePeerId(event.peerId)
        event.culprits.forEach(parsePeerId)
        event.accused.forEach(parsePeerId)
        if (event.kind === EventKind.HEALTH_CHANGED && (event.to === Health.HEALTH_UNKNOWN)) reject('malformed', 'health event without a state')
      }
      return batch.events as GossipBodies[C]
    }
    case 'rounds': {
      const round = msg.round ?? reject('wrong-channel', 'rounds carries only round messages')
      if (round.sessionId.length === 0 || round.sessionId.length > MAX_SESSION_ID_LENGTH) reject('malformed', 'bad session id')
      const parts = [round.dkgRound1, round.dkgRound2, round.reshareRound1, round.reshareRound2, round.nack].filter(b => b !== undefined)
      if (parts.length !== 1) reject('malformed', 'round message must carry exactly one body')
      round.dkgRound2?.shares.forEach(s => parsePeerId(s.to))
      round.reshareRound2?.shares.forEach(s => parsePeerId(s.to))
      round.nack?.missing.forEach(parsePeerId)
      requireAuthorMember(author, ctx)
      const participants = ctx.sessionParticipants(round.sessionId)
      if (participants === 'ended') ignore('ended-session', `session ${round.sessionId} ended here`)
      if (participants !== undefined && !participants.includes(author.toString())) {
        // Rejected (and charged) only from its author: members that do not know the session relay
        // it in good faith, and a member could otherwise get honest relays' scores lowered.
        const verdict = ctx.propagationSource === undefined || ctx.propagationSource.equals(author) ? reject : ignore
        verdict('not-participant', `${author.toString()} is not a participant of session ${round.sessionId}`)
      }
      // A member's round of a session unknown here is relayed: in a cluster larger than the gossip
      // mesh, a participant's messages reach the others through members that take no part, and a
      // participant whose keygen command is still on its way keeps them until its session starts.
      return round as GossipBodies[C]
    }
  }
  return reject('wrong-channel', `unknown channel ${String(channel)}`)
}

function parsePeerId (bytes: Uint8Array): PeerId {
  try {
    return peerIdFromBytes(bytes)
  } catch (err) {
    reject('malformed', (err as Error).message)
  }
}

