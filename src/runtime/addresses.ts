import { isLoopback } from '@libp2p/utils/multiaddr/is-loopback'
import { isPrivate } from '@libp2p/utils/multiaddr/is-private'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { networkInterfaces } from 'node:os'

/** How far an address reaches: loopback < private (LAN, NAT inside) < public (IP or DNS). */
export type Scope = 'loopback' | 'private' | 'public'
const RANK: Record<Scope, number> = { loopback: 0, private: 1, public: 2 }

export function isRelayed (ma: Multiaddr): boolean {
  return ma.protoNames().includes('p2p-circuit')
}

/** A listen address on every interface (0.0.0.0 or ::). */
export function isWildcard (ma: Multiaddr): boolean {
  const { host } = ma.toOptions()
  return host === '0.0.0.0' || host === '::'
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

/** The addresses a set of listen multiaddrs binds: a wildcard stands for every local interface address. */
export function boundAddresses (listen: Multiaddr[], interfaces = networkInterfaces()): Multiaddr[] {
  const local = Object.values(interfaces).flatMap(list => list ?? [])
  return listen.filter(ma => !isRelayed(ma)).flatMap(ma => {
    if (!isWildcard(ma)) return [ma]
    const { family } = ma.toOptions()
    return local.filter(i => (family === 4) === (i.family === 'IPv4')).map(i => multiaddr(`/${family === 4 ? 'ip4' : 'ip6'}/${i.address}/tcp/0`))
  })
}

/**
 * Whether a node needs a relay to be reachable: none of the addresses it binds is as wide as its
 * bootstrap peers' (a node behind NAT joining a public coordinator), so no member outside its
 * network could dial it.
 */
export function needsRelay (listen: Multiaddr[], bootstrap: Multiaddr[], interfaces = networkInterfaces()): boolean {
  const rank = (addrs: Multiaddr[]): number => Math.max(-1, ...addrs.filter(ma => !isRelayed(ma)).map(ma => RANK[scopeOf(ma)]))
  return rank(boundAddresses(listen, interfaces)) < rank(bootstrap)
}
