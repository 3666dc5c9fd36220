import type { PeerId } from '@libp2p/interface'
import { toHex } from '../crypto/bytes.js'
import { linkTo, type LinkCounts } from '../runtime/links.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { StateSync } from '../runtime/state-sync.js'
import type { RosterBook } from '../state/roster-book.js'
import type { DialBack, Reach } from './dial-back.js'
import type { HealthState } from './health.js'
import type { HealthWatch } from './health-watch.js'

export interface MemberView {
  peerId: string
  addrs: string[]
  state: HealthState
  lastHeartbeatMs: number | null
  joinedAtMs: number
  /** From the member's last heartbeat: its roster epoch, synced-state hash and key counts. */
  rosterEpoch?: number
  stateHash?: string
  keysHeld?: number
  keysLost?: number
  /** How the coordinator reaches the member now: a direct connection, only through a relay, or not at all. */
  link: 'direct' | 'relayed' | 'none'
  /** Where the coordinator could dial the member back: a public address, only local ones, only its relay address, or nowhere. */
  reach: Reach
  /** From its last heartbeat: members it has direct and only relayed connections to, and relayed links it upgraded. */
  links?: LinkCounts
}

export interface ClusterView {
  clusterId: string
  epoch: number
  /** The coordinator's own synced state: members at the same hash hold the same records. */
  stateHash: string
  coordinator: { peerId: string, addrs: string[] }
  members: MemberView[]
}

export interface ClusterViewSources {
  libp2p: MpcLibp2p
  roster: RosterBook
  sync: StateSync
  health: HealthWatch
  dialBack: DialBack
}

/** The cluster as the coordinator sees it now: the roster, each member's health, link and reach, and what its last heartbeat said. */
export function clusterView ({ libp2p, roster, sync, health, dialBack }: ClusterViewSources): ClusterView {
  const self: PeerId = libp2p.peerId
  return {
    clusterId: roster.clusterId,
    epoch: roster.epoch,
    stateHash: toHex(sync.digest().hash),
    coordinator: { peerId: self.toString(), addrs: libp2p.getMultiaddrs().map(String) },
    members: (roster.current?.roster.members ?? []).map(m => {
      const h = health.get(m.peerId.toString())
      const hb = health.heartbeatOf(m.peerId.toString())
      return {
        peerId: m.peerId.toString(), addrs: m.addrs.map(String), state: h.state, lastHeartbeatMs: h.lastHeartbeatMs ?? null, joinedAtMs: m.joinedAtMs,
        link: linkTo(libp2p, m.peerId), reach: dialBack.reach(m.peerId.toString(), m.addrs),
        ...(hb !== undefined
          ? {
              rosterEpoch: hb.rosterEpoch, stateHash: toHex(hb.stateHash), keysHeld: hb.keysHeld, keysLost: hb.keysLost,
              links: { direct: hb.directLinks, relayed: hb.relayedLinks, upgrades: hb.linkUpgrades }
            }
          : {})
      }
    })
  }
}
