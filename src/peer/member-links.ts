import { multiaddr } from '@multiformats/multiaddr'
import { MAX_MEMBER_DIALS, MEMBER_DIAL_TIMEOUT_MS, REDIAL_BACKOFF_MS } from './constants.js'
import type { RosterMember } from '../protocols/roster.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { RosterBook } from '../state/roster-book.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'

export interface MemberDialerInit {
  libp2p: MpcLibp2p
  roster: RosterBook
  /** The coordinator's (or a member's) multiaddrs: how this node reaches the coordinator. */
  bootstrap: string[]
  log: Logger
}

/**
 * Keeps this node's links up: to the coordinator (dialled at the bootstrap addresses) and to a
 * bounded number of members, over which the gossip mesh forms; dials lost ones again with
 * back-off. (runtime/links.ts's MemberLinks counts the links; this dials them.)
 */
export class MemberDialer implements Service {
  private stopping = new AbortController()
  private redialing = false
  private redialAt = 0
  private redialBackoff = REDIAL_BACKOFF_MS.first

  constructor (private readonly init: MemberDialerInit) {}

  start (): void {
    if (this.stopping.signal.aborted) this.stopping = new AbortController()
  }

  stop (): void {
    this.stopping.abort()
  }

  /** Dials the bootstrap addresses unless the coordinator is connected already. */
  async dialBootstrap (signal: AbortSignal): Promise<void> {
    const { libp2p, roster, bootstrap } = this.init
    if (libp2p.getConnections(roster.coordinator).length > 0) return
    await Promise.allSettled(bootstrap.map(async addr => await libp2p.dial(multiaddr(addr), { signal: AbortSignal.any([signal, AbortSignal.timeout(MEMBER_DIAL_TIMEOUT_MS)]) })))
  }

  /** Keeps direct connections to a bounded number of members so the gossip mesh can form. */
  connectMembers (): void {
    void this.connect(this.meshMembers().map(m => m.peerId.toString()))
  }

  /**
   * Dials the given members that have no connection yet, at their roster addresses, and waits
   * (bounded) for the dials: a DKG wants a direct link to every participant, with the
   * coordinator's relay as the fallback.
   */
  async connect (peerIds: string[]): Promise<void> {
    const { libp2p, roster, log } = this.init
    const members = roster.current?.roster.members ?? []
    const targets = members.filter(m => peerIds.includes(m.peerId.toString()) && !m.peerId.equals(libp2p.peerId) && libp2p.getConnections(m.peerId).length === 0)
    await Promise.all(targets.map(async member => {
      try {
        await libp2p.peerStore.merge(member.peerId, { multiaddrs: member.addrs })
        await libp2p.dial(member.peerId, { signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(MEMBER_DIAL_TIMEOUT_MS)]) })
      } catch (err) {
        log.debug({ peer: member.peerId.toString(), err: (err as Error).message }, 'member dial failed')
      }
    }))
  }

  /**
   * Lost the coordinator (it restarted, the network blipped) or members of the mesh: dial them
   * again in the background, backing off (1 s doubling to 30 s) while the attempts fail.
   */
  async maintain (): Promise<void> {
    if (this.redialing || Date.now() < this.redialAt || this.stopping.signal.aborted) return
    const { libp2p, roster } = this.init
    const lost = (): { coordinator: boolean, members: string[] } => ({
      coordinator: libp2p.getConnections(roster.coordinator).length === 0,
      members: this.meshMembers().filter(m => libp2p.getConnections(m.peerId).length === 0).map(m => m.peerId.toString())
    })
    const before = lost()
    if (before.coordinator || before.members.length > 0) {
      this.redialing = true
      try {
        if (before.coordinator) await this.dialBootstrap(this.stopping.signal).catch(() => {})
        if (before.members.length > 0) await this.connect(before.members)
      } finally {
        this.redialing = false
      }
    }
    const after = lost()
    if (after.coordinator || after.members.length > 0) {
      this.redialAt = Date.now() + this.redialBackoff
      this.redialBackoff = Math.min(this.redialBackoff * 2, REDIAL_BACKOFF_MS.max)
    } else {
      this.redialBackoff = REDIAL_BACKOFF_MS.first
    }
  }

  /** The members this node keeps a connection to (the gossip mesh forms over them). */
  private meshMembers (): RosterMember[] {
    const self = this.init.libp2p.peerId
    return (this.init.roster.current?.roster.members ?? []).filter(m => !m.peerId.equals(self)).slice(0, MAX_MEMBER_DIALS)
  }
}
