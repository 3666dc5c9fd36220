import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { isRelayed } from './addresses.js'
import type { MpcLibp2p } from './libp2p.js'

export interface LinkCounts {
  /** Roster members (the coordinator included) this peer has a direct connection to. */
  direct: number
  /** ... and those it reaches only through a relay. */
  relayed: number
  /** Direct connections opened to a peer that was reached through a relay (DCUtR, or a redial). */
  upgrades: number
}

/** The best connection `libp2p` has to `peer` now: direct, only through a relay, or none. */
export function linkTo (libp2p: Libp2p, peer: PeerId): 'direct' | 'relayed' | 'none' {
  const open = libp2p.getConnections(peer).filter(c => c.status === 'open')
  if (open.some(c => !isRelayed(c.remoteAddr))) return 'direct'
  return open.length > 0 ? 'relayed' : 'none'
}

/**
 * How this peer reaches the other members: directly, or only through a relay (a limited
 * connection via the coordinator). Counts the upgrades of a relayed link to a direct one.
 */
export class MemberLinks {
  private upgrades = 0
  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    const opened = evt.detail
    if (isRelayed(opened.remoteAddr)) return
    const others = this.libp2p.getConnections(opened.remotePeer).filter(c => c !== opened)
    if (others.some(c => isRelayed(c.remoteAddr) && c.status === 'open')) this.upgrades++
  }

  constructor (private readonly libp2p: MpcLibp2p, private readonly members: () => PeerId[]) {
    libp2p.addEventListener('connection:open', this.onOpen)
  }

  counts (): LinkCounts {
    let direct = 0
    let relayed = 0
    for (const peer of this.members()) {
      if (peer.equals(this.libp2p.peerId)) continue
      const link = linkTo(this.libp2p, peer)
      if (link === 'direct') direct++
      else if (link === 'relayed') relayed++
    }
    return { direct, relayed, upgrades: this.upgrades }
  }

  stop (): void {
    this.libp2p.removeEventListener('connection:open', this.onOpen)
  }
}
