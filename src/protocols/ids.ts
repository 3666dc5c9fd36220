import { peerIdFromMultihash } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import * as Digest from 'multiformats/hashes/digest'
import { MAX_ADDR_BYTES } from './constants.js'
import { MalformedMessageError } from './errors.js'
import type { PeerId } from '@libp2p/interface'

/** PeerIds travel as their multihash bytes; a byte string that is not one is malformed. */
export function peerIdFromBytes (bytes: Uint8Array): PeerId {
  try {
    return peerIdFromMultihash(Digest.decode(bytes))
  } catch {
    throw new MalformedMessageError('invalid peer id bytes')
  }
}

export function peerIdToBytes (peerId: PeerId): Uint8Array {
  return peerId.toMultihash().bytes
}

export function multiaddrFromBytes (bytes: Uint8Array): Multiaddr {
  if (bytes.length > MAX_ADDR_BYTES) throw new MalformedMessageError('multiaddr too long')
  try {
    return multiaddr(bytes)
  } catch {
    throw new MalformedMessageError('invalid multiaddr bytes')
  }
}
