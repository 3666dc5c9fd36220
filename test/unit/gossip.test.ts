import { newEvent } from '../../src/protocols/events.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { concat } from 'uint8arrays/concat'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_GOSSIP_BYTES, WIRE_VERSION } from '../../src/protocols/constants.js'
import { GossipValidationError, type GossipRejectReason, type GossipVerdict } from '../../src/protocols/errors.js'
import { encodeGossip, validateGossip, type GossipContext } from '../../src/protocols/gossip.js'
import { peerIdToBytes } from '../../src/protocols/ids.js'
import { EventKind, GossipMessage, Health, type Event, type Heartbeat, type RoundMessage } from '../../src/protocols/messages.js'
import { signRoster, type RosterState } from '../../src/protocols/roster.js'
import { CHANNELS, type Channel } from '../../src/protocols/topics.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const CLUSTER = 'mpc-test'

let coordinatorKey: PrivateKey
let coordinator: PeerId
let memberA: PeerId
let memberB: PeerId
let outsider: PeerId
let roster: RosterState
let ctx: GossipContext

const heartbeat: Heartbeat = { seq: 7, uptimeMs: 12_000, loadPermille: 250, activeSessions: 0, keysHeld: 0, softwareVersion: '0.1.0', rosterEpoch: 3, stateHash: new Uint8Array(32), keysLost: 0, recordConflicts: 0, directLinks: 0, relayedLinks: 0, linkUpgrades: 0, startedAtMs: Date.now(), sentAtMs: Date.now(), poolEpoch: new Uint8Array() }

function round (sessionId: string, payload = new Uint8Array([1, 2, 3])): RoundMessage {
  return { sessionId, dkgRound1: { commitment: [], proofOfKnowledge: payload, ephemeralPublicKey: new Uint8Array(32) } }
}

function memberJoined (peer: PeerId): Event {
  return newEvent({ seq: 1, atMs: 1_000, kind: EventKind.MEMBER_JOINED, peerId: peerIdToBytes(peer), epoch: 3 })
}

/** Runs the validator and returns its verdict; fails the test if the message was accepted. */
async function refusal (channel: Channel, author: PeerId | undefined, data: Uint8Array, context: GossipContext = ctx): Promise<{ verdict: GossipVerdict, reason: GossipRejectReason }> {
  try {
    await validateGossip(channel, author, data, context)
  } catch (err) {
    expect(err).toBeInstanceOf(GossipValidationError)
    const { verdict, reason } = err as GossipValidationError
    return { verdict, reason }
  }
  throw new Error(`message on ${channel} was accepted`)
}

beforeAll(async () => {
  coordinatorKey = await generateKeyPair('Ed25519')
  coordinator = peerIdFromPrivateKey(coordinatorKey)
  memberA = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  memberB = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  outsider = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  roster = {
    clusterId: CLUSTER,
    epoch: 3,
    coordinator,
    members: [
      { peerId: memberA, addrs: [], joinedAtMs: 1_000 },
      { peerId: memberB, addrs: [], joinedAtMs: 2_000 }
    ],
    issuedAtMs: 3_000
  }
  ctx = { clusterId: CLUSTER, coordinator, roster, sessionParticipants: () => undefined }
})

describe('validateGossip: envelope', () => {
  it('accepts a heartbeat from a roster member and returns it', async () => {
    const body = await validateGossip('heartbeats', memberA, encodeGossip(CLUSTER, { heartbeat }), ctx)
    expect(body).toEqual(heartbeat)
  })

  it('rejects a message without a signed author', async () => {
    expect(await refusal('heartbeats', undefined, encodeGossip(CLUSTER, { heartbeat }))).toEqual({ verdict: 'reject', reason: 'unsigned' })
  })

  it.each(CHANNELS)('rejects %s payloads one byte over the channel limit without decoding them', async (channel) => {
    const data = new Uint8Array(MAX_GOSSIP_BYTES[channel] + 1)
    expect(await refusal(channel, memberA, data)).toEqual({ verdict: 'reject', reason: 'oversized' })
  })

  it('rejects a well-formed heartbeat that is too big for the heartbeats channel', async () => {
    const data = encodeGossip(CLUSTER, { heartbeat: { ...heartbeat, softwareVersion: 'x'.repeat(MAX_GOSSIP_BYTES.heartbeats) } })
    expect(data.byteLength).toBeGreaterThan(MAX_GOSSIP_BYTES.heartbeats)
    expect(await refusal('heartbeats', memberA, data)).toEqual({ verdict: 'reject', reason: 'oversized' })
  })

  it('accepts a round message of exactly the channel limit and rejects one byte more', async () => {
    const context = { ...ctx, sessionParticipants: (id: string) => id === 's1' ? [memberA.toString(), memberB.toString()] : undefined }
    let n = MAX_GOSSIP_BYTES.rounds - 64
    while (encodeGossip(CLUSTER, { round: round('s1', new Uint8Array(n)) }).byteLength < MAX_GOSSIP_BYTES.rounds) n++
    const atLimit = encodeGossip(CLUSTER, { round: round('s1', new Uint8Array(n)) })
    expect(atLimit.byteLength).toBe(MAX_GOSSIP_BYTES.rounds)
    const accepted = await validateGossip('rounds', memberA, atLimit, context)
    expect(accepted.dkgRound1!.proofOfKnowledge.byteLength).toBe(n)

    const overLimit = encodeGossip(CLUSTER, { round: round('s1', new Uint8Array(n + 1)) })
    expect(await refusal('rounds', memberA, overLimit, context)).toEqual({ verdict: 'reject', reason: 'oversized' })
  })

  it.each([
    ['bytes that are not protobuf', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['a length running past the end', Uint8Array.from([0x52, 0x7f, 0x01, 0x02])],
    ['a truncated heartbeat', () => { const b = encodeGossip(CLUSTER, { heartbeat }); return b.subarray(0, b.byteLength - 3) }]
  ])('rejects %s as malformed', async (_why, make) => {
    const data = typeof make === 'function' ? make() : make
    expect(await refusal('heartbeats', memberA, data)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })

  it('rejects a message for another cluster', async () => {
    expect(await refusal('heartbeats', memberA, encodeGossip('other-cluster', { heartbeat }))).toEqual({ verdict: 'reject', reason: 'wrong-cluster' })
  })

  it.each([0, WIRE_VERSION + 1])('rejects wire version %i', async (version) => {
    const data = GossipMessage.encode({ version, clusterId: CLUSTER, heartbeat })
    expect(await refusal('heartbeats', memberA, data)).toEqual({ verdict: 'reject', reason: 'bad-version' })
  })

  it('rejects an envelope with no body', async () => {
    const data = GossipMessage.encode({ version: WIRE_VERSION, clusterId: CLUSTER })
    expect(await refusal('heartbeats', memberA, data)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })

  // Two bodies in one envelope must be refused, not reduced to one of them.
  it('rejects an envelope that carries two bodies as malformed', async () => {
    const context = { ...ctx, sessionParticipants: (id: string) => id === 's1' ? [memberA.toString(), memberB.toString()] : undefined }
    const data = concat([
      GossipMessage.encode({ version: WIRE_VERSION, clusterId: CLUSTER, heartbeat }),
      GossipMessage.encode({ round: round('s1') })
    ])
    expect(await refusal('rounds', memberA, data, context)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })
})

describe('validateGossip: heartbeats', () => {
  it('ignores a heartbeat from a peer outside the roster', async () => {
    expect(await refusal('heartbeats', outsider, encodeGossip(CLUSTER, { heartbeat }))).toEqual({ verdict: 'ignore', reason: 'unknown-sender' })
  })

  it('rejects it on the coordinator, which writes the roster and so is never behind it', async () => {
    const data = encodeGossip(CLUSTER, { heartbeat })
    expect(await refusal('heartbeats', outsider, data, { ...ctx, rosterAuthority: true })).toEqual({ verdict: 'reject', reason: 'unknown-sender' })
    await expect(validateGossip('heartbeats', memberA, data, { ...ctx, rosterAuthority: true })).resolves.toBeDefined()
  })

  it('ignores every heartbeat while this node has no roster yet', async () => {
    const data = encodeGossip(CLUSTER, { heartbeat })
    expect(await refusal('heartbeats', memberA, data, { ...ctx, roster: undefined })).toEqual({ verdict: 'ignore', reason: 'unknown-sender' })
  })

  it('rejects a heartbeat with an over-long software version', async () => {
    const data = encodeGossip(CLUSTER, { heartbeat: { ...heartbeat, softwareVersion: 'v'.repeat(65) } })
    expect(await refusal('heartbeats', memberA, data)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })

  it('rejects a signed roster sent on the heartbeats channel', async () => {
    const { signed } = await signRoster(coordinatorKey, roster)
    expect(await refusal('heartbeats', memberA, encodeGossip(CLUSTER, { roster: signed }))).toEqual({ verdict: 'reject', reason: 'wrong-channel' })
  })
})

describe('validateGossip: state', () => {
  it('returns a roster signed and published by the coordinator, verified', async () => {
    const { signed } = await signRoster(coordinatorKey, roster)
    const body = await validateGossip('state', coordinator, encodeGossip(CLUSTER, { roster: signed }), ctx)
    if (!('roster' in body)) throw new Error('expected a roster')
    const verified = body.roster
    expect(verified.roster.epoch).toBe(3)
    expect(verified.roster.coordinator.equals(coordinator)).toBe(true)
    expect(verified.roster.members.map(m => m.peerId.toString())).toEqual([memberA.toString(), memberB.toString()])
    expect(new Uint8Array(verified.signed.signature)).toEqual(new Uint8Array(signed.signature))
  })

  it('accepts the coordinator-signed roster forwarded by a member', async () => {
    const { signed } = await signRoster(coordinatorKey, { ...roster, epoch: 4 })
    const body = await validateGossip('state', memberB, encodeGossip(CLUSTER, { roster: signed }), ctx)
    expect('roster' in body && body.roster.roster.epoch).toBe(4)
  })

  it('accepts a state digest from a member or the coordinator, and refuses a malformed one or one from a stranger', async () => {
    const digest = { rosterEpoch: 3, records: 2, hash: new Uint8Array(32).fill(7) }
    expect(await validateGossip('state', memberA, encodeGossip(CLUSTER, { digest }), ctx)).toEqual({ digest })
    expect(await validateGossip('state', coordinator, encodeGossip(CLUSTER, { digest }), ctx)).toEqual({ digest })
    expect(await refusal('state', memberA, encodeGossip(CLUSTER, { digest: { ...digest, hash: new Uint8Array(5) } }))).toEqual({ verdict: 'reject', reason: 'malformed' })
    expect(await refusal('state', outsider, encodeGossip(CLUSTER, { digest }))).toEqual({ verdict: 'ignore', reason: 'unknown-sender' })
  })

  it('ignores a roster forwarded by a peer outside the roster', async () => {
    const { signed } = await signRoster(coordinatorKey, roster)
    expect(await refusal('state', outsider, encodeGossip(CLUSTER, { roster: signed }))).toEqual({ verdict: 'ignore', reason: 'unknown-sender' })
  })

  it('rejects a roster naming our coordinator but signed by another key', async () => {
    const { signed } = await signRoster(await generateKeyPair('Ed25519'), roster)
    expect(await refusal('state', coordinator, encodeGossip(CLUSTER, { roster: signed }))).toEqual({ verdict: 'reject', reason: 'bad-signature' })
  })

  it('rejects a coordinator-signed roster of another cluster inside our envelope', async () => {
    const { signed } = await signRoster(coordinatorKey, { ...roster, clusterId: 'other-cluster' })
    expect(await refusal('state', coordinator, encodeGossip(CLUSTER, { roster: signed }))).toEqual({ verdict: 'reject', reason: 'bad-signature' })
  })

  // A signature of the wrong length is a bad signature: rejected, not an internal error.
  it('rejects a roster whose signature is not 64 bytes long', async () => {
    const { signed } = await signRoster(coordinatorKey, roster)
    const data = encodeGossip(CLUSTER, { roster: { roster: signed.roster, signature: signed.signature.subarray(0, 32) } })
    expect(await refusal('state', memberA, data)).toEqual({ verdict: 'reject', reason: 'bad-signature' })
  })

  it('rejects roster bytes that do not decode', async () => {
    const signed = { roster: Uint8Array.from([0xff, 0xff, 0xff]), signature: new Uint8Array(64) }
    expect(await refusal('state', coordinator, encodeGossip(CLUSTER, { roster: signed }))).toEqual({ verdict: 'reject', reason: 'malformed' })
  })

  it('rejects a heartbeat sent on the state channel', async () => {
    expect(await refusal('state', coordinator, encodeGossip(CLUSTER, { heartbeat }))).toEqual({ verdict: 'reject', reason: 'wrong-channel' })
  })
})

describe('validateGossip: events', () => {
  it('accepts an event published by the coordinator', async () => {
    const event = memberJoined(memberA)
    const second = { ...memberJoined(memberB), seq: 2 }
    expect(await validateGossip('events', coordinator, encodeGossip(CLUSTER, { events: { events: [event, second] } }), ctx)).toEqual([event, second])
  })

  it('rejects an empty batch, and a batch with one bad event among good ones', async () => {
    expect(await refusal('events', coordinator, encodeGossip(CLUSTER, { events: { events: [] } }))).toEqual({ verdict: 'reject', reason: 'malformed' })
    const bad = { ...memberJoined(memberA), seq: 0 }
    expect(await refusal('events', coordinator, encodeGossip(CLUSTER, { events: { events: [memberJoined(memberB), bad] } }))).toEqual({ verdict: 'reject', reason: 'malformed' })
  })

  it('rejects an event published by a member', async () => {
    const data = encodeGossip(CLUSTER, { events: { events: [memberJoined(memberA)] } })
    expect(await refusal('events', memberA, data)).toEqual({ verdict: 'reject', reason: 'not-coordinator' })
  })

  it('rejects an event without a kind', async () => {
    const data = encodeGossip(CLUSTER, { events: { events: [{ ...memberJoined(memberA), kind: EventKind.EVENT_UNKNOWN }] } })
    expect(await refusal('events', coordinator, data)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })

  it('rejects a health event that does not say the new state', async () => {
    const data = encodeGossip(CLUSTER, { events: { events: [{ ...memberJoined(memberA), kind: EventKind.HEALTH_CHANGED, from: Health.UP, to: Health.HEALTH_UNKNOWN }] } })
    expect(await refusal('events', coordinator, data)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })

  it('rejects an event naming an invalid peer id', async () => {
    const data = encodeGossip(CLUSTER, { events: { events: [{ ...memberJoined(memberA), peerId: Uint8Array.from([1, 2, 3]) }] } })
    expect(await refusal('events', coordinator, data)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })
})

describe('validateGossip: rounds', () => {
  it('relays a member\'s round message for a session unknown here (its participants may not have started it yet)', async () => {
    const body = await validateGossip('rounds', memberA, encodeGossip(CLUSTER, { round: round('s1') }), ctx)
    expect(body.sessionId).toBe('s1')
    expect(await refusal('rounds', outsider, encodeGossip(CLUSTER, { round: round('s1') }))).toEqual({ verdict: 'ignore', reason: 'unknown-sender' })
  })

  it('ignores a round message of a session that ended here', async () => {
    const context = { ...ctx, sessionParticipants: (id: string) => id === 's1' ? 'ended' as const : undefined }
    expect(await refusal('rounds', memberA, encodeGossip(CLUSTER, { round: round('s1') }), context)).toEqual({ verdict: 'ignore', reason: 'ended-session' })
  })

  it('accepts a round message from a member for a known session', async () => {
    const context = { ...ctx, sessionParticipants: (id: string) => id === 's1' ? [memberA.toString(), memberB.toString()] : undefined }
    const body = await validateGossip('rounds', memberA, encodeGossip(CLUSTER, { round: round('s1') }), context)
    expect(body.sessionId).toBe('s1')
    expect(body.dkgRound1!.proofOfKnowledge).toEqual(new Uint8Array([1, 2, 3]))
  })

  it('rejects a round message from a member that is not a participant of the session', async () => {
    const context = { ...ctx, sessionParticipants: () => [memberB.toString()] }
    expect(await refusal('rounds', memberA, encodeGossip(CLUSTER, { round: round('s1') }), context)).toEqual({ verdict: 'reject', reason: 'not-participant' })
    expect(await refusal('rounds', memberA, encodeGossip(CLUSTER, { round: round('s1') }), { ...context, propagationSource: memberA })).toEqual({ verdict: 'reject', reason: 'not-participant' })
    // relayed by a member that does not know the session: ignored, the relay is not charged
    expect(await refusal('rounds', memberA, encodeGossip(CLUSTER, { round: round('s1') }), { ...context, propagationSource: memberB })).toEqual({ verdict: 'ignore', reason: 'not-participant' })
    const body = await validateGossip('rounds', memberB, encodeGossip(CLUSTER, { round: round('s1') }), context)
    expect(body.sessionId).toBe('s1')
  })

  it('rejects a round message carrying two bodies', async () => {
    const context = { ...ctx, sessionParticipants: () => [memberA.toString(), memberB.toString()] }
    const two = { ...round('s1'), nack: { round: 1, missing: [] } }
    expect(await refusal('rounds', memberA, encodeGossip(CLUSTER, { round: two }), context)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })

  it('ignores a round message from a peer outside the roster', async () => {
    const context = { ...ctx, sessionParticipants: () => [memberA.toString(), memberB.toString()] }
    expect(await refusal('rounds', outsider, encodeGossip(CLUSTER, { round: round('s1') }), context)).toEqual({ verdict: 'ignore', reason: 'unknown-sender' })
  })

  it.each([['empty', ''], ['over-long', 's'.repeat(129)]])('rejects an %s session id', async (_why, sessionId) => {
    const context = { ...ctx, sessionParticipants: () => [memberA.toString(), memberB.toString()] }
    expect(await refusal('rounds', memberA, encodeGossip(CLUSTER, { round: round(sessionId) }), context)).toEqual({ verdict: 'reject', reason: 'malformed' })
  })
})
