import { GossipSub, type GossipSubComponents } from '@chainsafe/libp2p-gossipsub'
import type { RPC } from '@chainsafe/libp2p-gossipsub/message'
import { createTopicScoreParams, type PeerScoreParams, type PeerScoreThresholds, type TopicScoreParams } from '@chainsafe/libp2p-gossipsub/score'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { identify, identifyPush, type Identify, type IdentifyPush } from '@libp2p/identify'
import { StrictSign, type ConnectionGater, type Libp2p, type PeerId, type PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping, type PingService } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { toString } from 'uint8arrays/to-string'
import { advertised, isRelayed, isWildcard, scopeOf } from './addresses.js'
import { MAX_GOSSIP_BYTES } from '../protocols/constants.js'
import { CHANNELS, topicName, type Channel } from '../protocols/topics.js'

export type PeerServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: PingService
  dht: KadDHT
  /** Gossipsub itself (not only the PubSub interface): its peer scores and meshes are read by metrics and tests. */
  pubsub: GossipSub
  /** Present only on a peer started with `relayServer` (the coordinator). */
  relay?: CircuitRelayService
}

export type MpcLibp2p = Libp2p<PeerServices>

export interface PeerInit {
  privateKey: PrivateKey
  clusterId: string
  listen: string[]
  /** Advertise exactly these (no filtering); otherwise see `advertised` in addresses.ts. */
  announce?: string[]
  bootstrap?: string[]
  /**
   * Advertise no address of our own: only `/p2p-circuit` addresses (reservations on relays) are
   * announced, so the peer is reachable only through relays and the connections it dials itself.
   */
  noAnnounce?: boolean
  /**
   * Serve as a circuit relay v2 (hop) with bounded reservations, granted only to peers for which
   * `isAllowed` is true (the coordinator passes `roster.admits`).
   */
  relayServer?: { isAllowed: (peer: PeerId) => boolean }
  /**
   * Gate connections: when this returns false for a peer (once the cluster has a roster), its
   * inbound connection is refused after the Noise handshake (which proves its PeerId), and we
   * never dial it (a pull or a command that was under way when the peer left the roster must not
   * open a new connection to it). Undefined or true admits. Nodes pass the roster; the coordinator
   * must accept unknown peers so Join works, and passes only its removed and rejected peers.
   */
  admits?: (peer: PeerId) => boolean | undefined
  /**
   * Who counts as a cluster member in gossipsub's peer score (the coordinator and the nodes pass
   * `roster.admits`: the coordinator and the roster's members). Every other peer scores
   * STRANGER_SCORE: its subscriptions are recorded but nothing is published, forwarded, advertised
   * or grafted to it. Undefined: every peer is scored as a member (invalid messages still cost).
   * Takes the peer id as gossipsub has it, a string (asked for every peer, often).
   */
  isMember?: (peerId: string) => boolean
  /** Publish our own messages to every linked peer, not only the mesh (the coordinator; see GOSSIP_MESH). */
  floodPublish?: boolean
}

/** At most this many peers hold a relay reservation on one relay server at a time. */
export const RELAY_MAX_RESERVATIONS = 128
/** A reservation lasts this long; the client refreshes it before it expires. */
export const RELAY_RESERVATION_TTL_MS = 2 * 60 * 60_000
/** Each relayed connection is closed after this long (a relayed connection is limited; DCUtR upgrades to direct). */
export const RELAY_DURATION_LIMIT_MS = 2 * 60_000
/** ... or once this many bytes have been relayed in each direction. */
export const RELAY_DATA_LIMIT_BYTES = 1n << 17n

const MAX_GOSSIP_DATA = Math.max(...Object.values(MAX_GOSSIP_BYTES))
/** The shortest wait for a connection monitor ping before the connection is aborted (see createPeer). */
export const CONNECTION_PING_MIN_TIMEOUT_MS = 30_000
/** How often libp2p's connection monitor pings each connection. */
export const CONNECTION_PING_INTERVAL_MS = 60_000
/**
 * Inbound connections libp2p takes from one IP address a second, and handshakes it runs at once.
 * Its defaults (5 and 10) are for an open network; a cluster's members often share an address
 * (one host, one NAT: every simulation shares 127.0.0.1), and when a roster changes or a keygen
 * starts, members dial each other at the same moment: with the defaults, dials among 20
 * participants and the coordinator's dial-back were refused, and a member that listens showed as
 * unreachable. A handshake costs a node about 2 ms of CPU; strangers are cut off after it by the
 * gate (nodes) or within 10 s (the coordinator).
 */
export const INBOUND_CONNECTIONS = { perHostPerSecond: 100, pendingAtOnce: 64 } as const

// ---- Gossipsub peer scoring ----
//
// The roster, not the score, decides who belongs: the score only applies that decision to gossip
// and makes invalid gossip cost its sender. Positive scores serve to choose among many candidate
// peers (opportunistic grafting, peer exchange); a cluster takes its peers from the roster, so
// every positive term is off and the best possible score is 0. Then:
//   - a member that sends nothing invalid scores exactly 0, always: never below a threshold, never
//     refused a GRAFT, never pruned for its score;
//   - a peer outside the roster scores STRANGER_SCORE (application-specific term, P5);
//   - a member that sends invalid messages (ones our topic validators Reject) loses score by P4,
//     the square of its decaying count of them, and crosses the thresholds as the count grows.
// The unit: one invalid heartbeat still counted costs 1; n of them cost n².
//
// Expected honest rates (DESIGN.md; the rates set the decay and rule out the delivery terms):
// heartbeats 1/s per node, a state digest every 5 s per peer (and a roster every 5 s from the
// coordinator), events at most 4 batches a second from the coordinator alone, rounds only while
// a session runs (a burst of a few messages per participant, then nothing for minutes). The
// expected rate of invalid messages from an honest member is zero, but for rare races (see
// INVALID_MESSAGE_WEIGHT).

/**
 * Gossipsub's heartbeat, which is also how long a computed score is cached (gossipsub ties the
 * two): a newly admitted member is scored as a member within this long. Gossipsub's default.
 */
export const GOSSIP_HEARTBEAT_MS = 1_000
/** Score counters decay once a second, gossipsub's minimum; the decay factors below are per second. */
const SCORE_DECAY_INTERVAL_MS = 1_000
/**
 * Misbehaviour (invalid messages, broken promises) is remembered with this half-life: long
 * against every honest message interval (1 s heartbeats, 5 s digests), so that a sender of junk
 * stays below the thresholds for a while, and short enough that one stray invalid message (see
 * INVALID_MESSAGE_WEIGHT) is forgotten within half a minute.
 */
const MISBEHAVIOUR_HALF_LIFE_S = 10
/**
 * Per-second decay for that half-life (≈ 0.933). A steady rate of r invalid messages a second
 * holds the count at r / (1 - decay) ≈ 15 r.
 */
const MISBEHAVIOUR_DECAY = 0.5 ** (1 / MISBEHAVIOUR_HALF_LIFE_S)
/** A decayed count below this is zero: one invalid message counts for log2(1 / 0.1) × 10 s ≈ 33 s. Gossipsub's default. */
const SCORE_DECAY_TO_ZERO = 0.1

/**
 * Below this we ignore a peer's IHAVE and IWANT and advertise nothing to it: more than 4 invalid
 * heartbeats still counted (more than 2 rounds or events); a steady 0.27 invalid heartbeats a second.
 */
export const GOSSIP_THRESHOLD = -16
/**
 * Below this nothing we publish or forward goes to the peer: more than 8 invalid heartbeats still
 * counted (more than 4 rounds or events); a steady 0.54 a second. Strangers are far below it.
 */
export const PUBLISH_THRESHOLD = -64
/**
 * Below this a peer is graylisted: every RPC from it is dropped unread, subscriptions included.
 * A burst of more than 20 invalid heartbeats (more than 10 rounds or events), or a steady 1.3 a
 * second. The member sending them is cut off until the count decays: about 10 s for each doubling
 * of the burst past 20. (bad-input.test's member that sends 3 invalid heartbeats, at -9, keeps
 * being heard.)
 */
export const GRAYLIST_THRESHOLD = -400
/**
 * The application-specific score of a peer outside the roster: under the publish and gossip
 * thresholds (nothing goes to it), and 200 above the graylist threshold, on purpose. Its RPCs are
 * still read, so the subscriptions of a node that connects and subscribes before its Join is
 * answered are recorded, and it is served once admitted; its messages are refused by the topic
 * validators. A stranger that keeps sending invalid messages (15 heartbeats or 8 rounds or events
 * still counted) is graylisted as well.
 */
export const STRANGER_SCORE = -200

/**
 * P4, the cost of one invalid message counted once (the count is squared); it is charged to the
 * peer that sent it to us, author or forwarder. Heartbeats and digests are checked against the
 * validating peer's roster, and a new roster reaches peers at different moments: a member that
 * has not yet heard of a removal forwards the removed member's heartbeats, which the coordinator
 * (the roster's author) Rejects. So they cost the unit: such a stray puts an honest member below
 * 0 for half a minute, below no threshold. (A node that has no roster yet gossips with nobody, so
 * its first heartbeats, which the coordinator would Reject, are never sent: see node.ts.) Rounds
 * and events fail only checks that give the same answer everywhere (schema, only the coordinator
 * writes events; a round's author outside its session is rejected only from the author itself,
 * as relays may not know the session): an honest member never sends an invalid one, so each
 * costs four times as much.
 */
const INVALID_MESSAGE_WEIGHT: Record<Channel, number> = { heartbeats: -1, state: -1, rounds: -4, events: -4 }

/**
 * P7, broken promises (a peer advertised a message in IHAVE and did not send it when we asked)
 * and GRAFTs during a prune backoff: this many still counted are tolerated (a message can leave
 * an honest peer's cache between its IHAVE and our IWANT), each one beyond costs its square.
 */
const BEHAVIOUR_PENALTY_TOLERANCE = 2
const BEHAVIOUR_PENALTY_WEIGHT = -1

/**
 * How long a disconnected peer's score is kept (without decay): a member that sent junk cannot
 * wipe its count by reconnecting, and it is long past its decay by then. Bounded, because every
 * stranger's negative score is kept this long too.
 */
const RETAIN_SCORE_MS = 5 * 60_000

/**
 * Topic score parameters: only P4 (invalid messages) is on. P1 (time in mesh) and P2 (first
 * deliveries) are positive terms, off (see above). P3 (mesh delivery rate) and P3b (its sticky
 * penalty) are off: they punish a mesh peer that delivers fewer than a threshold of messages in
 * a window, and our rates are low and bursty (no rounds at all between sessions, a digest per
 * 5 s), so any threshold would punish honest members for a quiet cluster.
 */
function topicScoreParams (channel: Channel): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT[channel],
    invalidMessageDeliveriesDecay: MISBEHAVIOUR_DECAY
  })
}

/** Gossipsub's score parameters for a cluster peer; `isMember` undefined scores everyone as a member. */
export function peerScoreParams (clusterId: string, isMember?: (peerId: string) => boolean): Partial<PeerScoreParams> {
  const member = (id: string): boolean => isMember === undefined || isMember(id)
  return {
    topics: Object.fromEntries(CHANNELS.map(c => [topicName(clusterId, c), topicScoreParams(c)])),
    // No positive topic term, so nothing to cap.
    topicScoreCap: 0,
    appSpecificScore: (id) => member(id) ? 0 : STRANGER_SCORE,
    appSpecificWeight: 1,
    // P6 (IP colocation) is off: it defends open networks from many identities on one address,
    // while here the roster decides who belongs, several nodes may share a NAT address, and every
    // simulation runs all its peers on 127.0.0.1.
    IPColocationFactorWeight: 0,
    behaviourPenaltyWeight: BEHAVIOUR_PENALTY_WEIGHT,
    behaviourPenaltyThreshold: BEHAVIOUR_PENALTY_TOLERANCE,
    behaviourPenaltyDecay: MISBEHAVIOUR_DECAY,
    decayInterval: SCORE_DECAY_INTERVAL_MS,
    decayToZero: SCORE_DECAY_TO_ZERO,
    retainScore: RETAIN_SCORE_MS
  }
}

/**
 * Scores every peer afresh when next asked. Gossipsub caches a peer's score for one heartbeat;
 * call this when the roster changes, so that a member just admitted is scored as one at once
 * (otherwise a GRAFT it sends within that heartbeat is refused as a stranger's, and the prune
 * backoff then keeps it out of our mesh for a minute) and a removed member as a stranger.
 */
export function rescorePeers (libp2p: MpcLibp2p): void {
  libp2p.services.pubsub.score.scoreCache.clear()
}

/** Gossipsub's score thresholds for a cluster peer (see the constants above). */
export const PEER_SCORE_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: GOSSIP_THRESHOLD,
  publishThreshold: PUBLISH_THRESHOLD,
  graylistThreshold: GRAYLIST_THRESHOLD,
  // Peer exchange: peers come from the roster, never from a PRUNE's suggestions. No score here
  // exceeds 0, so a positive threshold refuses every PX.
  acceptPXThreshold: 1,
  // Opportunistic grafting swaps low-scoring mesh peers for better ones; with every member at 0
  // there is none better, so it never runs.
  opportunisticGraftThreshold: 0
}

/**
 * The one factory for a cluster peer, coordinator or node: TCP, Noise, Yamux, identify, ping,
 * a kad-dht in the cluster's own protocol namespace, and gossipsub that signs every message
 * (StrictSign) and only carries this cluster's four topics.
 */
export async function createPeer (init: PeerInit): Promise<MpcLibp2p> {
  const bootstrapList = init.bootstrap ?? []
  const relayServer = init.relayServer
  const admits = init.admits
  const connectionGater: ConnectionGater = {
    // Default libp2p gater otherwise (libp2p merges ours over its defaults).
    ...(admits !== undefined
      ? {
          denyInboundEncryptedConnection: (peer: PeerId) => admits(peer) === false,
          denyDialPeer: (peer: PeerId) => admits(peer) === false,
          denyOutboundEncryptedConnection: (peer: PeerId) => admits(peer) === false
        }
      : {}),
    ...(relayServer !== undefined ? { denyInboundRelayReservation: (peer: PeerId) => !relayServer.isAllowed(peer) } : {})
  }
  const bootstrapAddrs = bootstrapList.map(a => multiaddr(a))
  const explicit = init.noAnnounce !== true && (init.announce ?? []).length > 0
  const libp2p = await createLibp2p({
    privateKey: init.privateKey,
    addresses: {
      listen: init.listen,
      announce: init.noAnnounce === true ? [] : init.announce ?? [],
      // A public IP the operator named in --listen is ours: advertise it without waiting for
      // confirmation to advertise it (libp2p holds back unconfirmed public transport addresses).
      appendAnnounce: init.noAnnounce === true ? [] : namedPublicListenAddrs(init.listen),
      announceFilter: (addrs: Multiaddr[]) => {
        if (init.noAnnounce === true) return addrs.filter(isRelayed)
        return explicit ? addrs : advertised(addrs, bootstrapAddrs)
      }
    },
    connectionGater,
    connectionManager: { inboundConnectionThreshold: INBOUND_CONNECTIONS.perHostPerSecond, maxIncomingPendingConnections: INBOUND_CONNECTIONS.pendingAtOnce },
    // libp2p pings every connection every 10 s and aborts it when a ping takes longer than its
    // adaptive timeout (5 s at least). A DKG among 8-10 members keeps a node's event loop busy for
    // seconds on noble's point checks, so those pings time out and every stream on the connection,
    // keygen commands included, dies with it: a 10-node simulation failed its keygens that way.
    // A dead peer is noticed by its missing heartbeats anyway; the monitor only needs to find
    // connections that are gone for good.
    // With a 30 s timeout and a 10 s interval a slow ping is still open when the next one starts,
    // and the ping protocol allows one outbound stream: that ping fails at once ("Too many
    // outbound protocol streams for /ipfs/ping/1.0.0 - 1/1") and the monitor aborted the
    // connection, with every command stream on it: under 128 concurrent keygens the coordinator
    // then named healthy nodes culprits ("did not answer"). So a failed ping only measures: a
    // connection gone for good is closed by TCP's inactivity timeout (2 min) or its relay limits.
    // Pings only measure here, so once a minute: the default (every 10 s, a new stream each time,
    // both ends of every connection) was a large part of an idle member's work in a big cluster.
    connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS, pingTimeout: { minTimeout: CONNECTION_PING_MIN_TIMEOUT_MS }, abortConnectionOnPingFailure: false },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList })] : [],
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      dcutr: dcutr(),
      ...(relayServer !== undefined
        ? {
            relay: circuitRelayServer({
              reservations: {
                maxReservations: RELAY_MAX_RESERVATIONS,
                reservationTtl: RELAY_RESERVATION_TTL_MS,
                applyDefaultLimit: true,
                defaultDurationLimit: RELAY_DURATION_LIMIT_MS,
                defaultDataLimit: RELAY_DATA_LIMIT_BYTES
              }
            })
          }
        : {}),
      // Every peer already filters what it advertises (addresses.ts), and a private cluster on a
      // LAN or on loopback must find its members at private addresses: pass them through.
      dht: kadDHT({ protocol: `/mpc-wallet/${init.clusterId}/kad/1.0.0`, clientMode: false, peerInfoMapper: passthroughMapper }),
      pubsub: (components: GossipSubComponents) => new GossipSub(components, {
        globalSignaturePolicy: StrictSign,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        maxInboundDataLength: MAX_GOSSIP_DATA + 1024,
        allowedTopics: CHANNELS.map(c => topicName(init.clusterId, c)),
        heartbeatInterval: GOSSIP_HEARTBEAT_MS,
        ...GOSSIP_MESH,
        floodPublish: init.floodPublish === true,
        fastMsgIdFn,
        scoreParams: peerScoreParams(init.clusterId, init.isMember),
        scoreThresholds: PEER_SCORE_THRESHOLDS
      })
    }
  })
  return libp2p
}

/**
 * Mesh degrees for a cluster. Every member links to the coordinator and up to 8 members (and to
 * the participants of its keygens), and a message travels the mesh only: each member receives it
 * about once per mesh neighbour, and every copy costs a member about 0.4 ms of CPU in js-libp2p.
 * Gossipsub's defaults (6, 4..12) made ~7 copies of every message per member; 3 (2..6) makes ~4
 * and still leaves other paths for every message. Flood publishing (gossipsub's default: the
 * author sends its own message to every linked peer, 30 and more at 50 members) is off: it only
 * added copies the mesh delivers anyway (at 20 members: 9 % less CPU in the whole cluster, and
 * 10-of-20 keygens 20-25 % faster, medians of 4: Ed25519 7.7 -> 6.2 s, Taproot 5.3 -> 4.0 s;
 * delivery still 100 %). Rounds of sessions a relay does not know are forwarded too
 * (protocols/gossip.ts), so they reach participants without a direct link. The coordinator
 * alone floods (PeerInit.floodPublish): it is linked to every member and publishes little
 * (rosters, events, digests), and a member it has just admitted hears it at once, before any
 * mesh has taken the member in.
 * IHAVE gossip (once a second per topic) goes to 2 peers outside the mesh: gossipsub's default is
 * a quarter of them, at least 6, which at the coordinator and the most linked members of a
 * 50-member cluster was a dozen IHAVEs per topic a second, for messages everyone had already.
 */
export const GOSSIP_MESH = { D: 3, Dlo: 2, Dhi: 6, Dlazy: 2, gossipFactor: 0, Dout: 1 } as const

/**
 * A received copy's id before its signature is checked: its author and sequence number, which
 * is what the message id is made of under StrictSign (gossipsub's msgIdFnStrictSign). Without
 * it gossipsub verifies the signature of every copy before it finds the copy is a duplicate, and
 * each message arrives once from its author and once from every mesh neighbour: at 15 members
 * these checks were the largest single cost in the coordinator's profile (7 s of 46 s busy in a
 * minute). A copy with a bad signature is never cached here (only validated messages are), so a
 * forgery cannot shadow the real message; a second copy of a real message is dropped as the
 * duplicate it is.
 */
function fastMsgIdFn (msg: RPC.Message): string {
  return `${toString(msg.from ?? EMPTY, 'base64')}:${toString(msg.seqno ?? EMPTY, 'base64')}`
}
const EMPTY = new Uint8Array(0)

function namedPublicListenAddrs (listen: string[]): string[] {
  return listen.filter(a => {
    const ma = multiaddr(a)
    if (isRelayed(ma) || scopeOf(ma) !== 'public') return false
    return ma.toOptions().port !== 0 && !isWildcard(ma)
  })
}
