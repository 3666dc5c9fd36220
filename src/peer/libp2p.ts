import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { identify, type Identify } from '@libp2p/identify'
import { StrictSign, type Libp2p, type PrivateKey, type PubSub } from '@libp2p/interface'
import { kadDHT, type KadDHT } from '@libp2p/kad-dht'
import { ping, type PingService } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { MAX_GOSSIP_BYTES } from '../protocols/constants.js'
import { CHANNELS, topicName } from '../protocols/topics.js'

export type PeerServices = {
  identify: Identify
  ping: PingService
  dht: KadDHT
  pubsub: PubSub<GossipsubEvents>
}

export type MpcLibp2p = Libp2p<PeerServices>

export interface PeerInit {
  privateKey: PrivateKey
  clusterId: string
  listen: string[]
  announce?: string[]
  bootstrap?: string[]
}

const MAX_GOSSIP_DATA = Math.max(...Object.values(MAX_GOSSIP_BYTES))

/**
 * The one factory for a cluster peer, coordinator or node: TCP, Noise, Yamux, identify, ping,
 * a kad-dht in the cluster's own protocol namespace, and gossipsub that signs every message
 * (StrictSign) and only carries this cluster's four topics.
 */
export async function createPeer (init: PeerInit): Promise<MpcLibp2p> {
  const bootstrapList = init.bootstrap ?? []
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen, announce: init.announce ?? [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList })] : [],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: `/mpc-wallet/${init.clusterId}/kad/1.0.0`, clientMode: false }),
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
}
