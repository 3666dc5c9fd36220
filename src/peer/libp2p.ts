import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { identify, identifyPush, type Identify, type IdentifyPush } from '@libp2p/identify'
import { StrictSign, type ConnectionGater, type Libp2p, type PeerId, type PrivateKey, type PubSub } from '@libp2p/interface'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping, type PingService } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { advertised, isRelayed, isWildcard, scopeOf } from './addresses.js'
import { MAX_GOSSIP_BYTES } from '../protocols/constants.js'
import { CHANNELS, topicName } from '../protocols/topics.js'

export type PeerServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: PingService
  dht: KadDHT
  pubsub: PubSub<GossipsubEvents>
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
   * Gate inbound connections: when this returns false for a peer (once the cluster has a roster),
   * its inbound connection is refused after the Noise handshake (which proves its PeerId).
   * Undefined or true admits. Nodes only: the coordinator must accept unknown peers so Join works.
   */
  admits?: (peer: PeerId) => boolean | undefined
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
    ...(admits !== undefined ? { denyInboundEncryptedConnection: (peer: PeerId) => admits(peer) === false } : {}),
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
      pubsub: gossipsub({
        globalSignaturePolicy: StrictSign,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        maxInboundDataLength: MAX_GOSSIP_DATA + 1024,
        allowedTopics: CHANNELS.map(c => topicName(init.clusterId, c))
      })
    }
  })
  return libp2p
}

function namedPublicListenAddrs (listen: string[]): string[] {
  return listen.filter(a => {
    const ma = multiaddr(a)
    if (isRelayed(ma) || scopeOf(ma) !== 'public') return false
    return ma.toOptions().port !== 0 && !isWildcard(ma)
  })
}
