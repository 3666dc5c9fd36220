import { isLoopback } from '@libp2p/utils/multiaddr/is-loopback'
import { isPrivate } from '@libp2p/utils/multiaddr/is-private'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How far an address reaches: loopback < private (LAN, NAT inside) < public (IP or DNS). */
export type Scope = 'loopback' | 'private' | 'public'
const RANK: Record<Scope, number> = { loopback: 0, private: 1, public: 2 }

export function isRelayed (ma: Multiaddr): boolean {
  return ma.protoNames().includes('p2p-circuit')
}

export function scopeOf (ma: Multiaddr): Scope {
  if (isLoopback(ma)) return 'loopback'
  return isPrivate(ma) ? 'private' : 'public'
}

/**
 * Which of its own addresses a peer advertises: only those as wide as the widest network that it,
 * or its bootstrap peers, are on, plus its relay (`/p2p-circuit`) addresses. A node behind NAT
 * that joins a public coordinator so advertises no private address (nobody outside can dial one,
 * and it would describe the LAN to the world); a LAN cluster advertises LAN addresses but not
 * loopback; a loopback simulation advertises loopback.
 */
export function advertised (own: Multiaddr[], bootstrap: Multiaddr[]): Multiaddr[] {
  const direct = own.filter(ma => !isRelayed(ma))
  const widest = Math.max(0, ...[...direct, ...bootstrap.filter(ma => !isRelayed(ma))].map(ma => RANK[scopeOf(ma)]))
  return own.filter(ma => isRelayed(ma) || RANK[scopeOf(ma)] >= widest)
}

/** The best a peer advertises: a public address, else only a relay address, else a local one. */
export function reachOf (addrs: Multiaddr[]): 'public' | 'relay' | 'local' {
  if (addrs.some(ma => !isRelayed(ma) && scopeOf(ma) === 'public')) return 'public'
  return addrs.some(isRelayed) ? 'relay' : 'local'
}
