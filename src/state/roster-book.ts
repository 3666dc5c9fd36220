import { SignedRoster } from '../protocols/messages.js'
import { Serial } from '../serial.js'
import { isRosterMember, openSignedRoster, type VerifiedRoster } from '../protocols/roster.js'
import type { Store } from '../store/store.js'
import type { PeerId } from '@libp2p/interface'

const ROSTER_KEY = 'roster'

/**
 * The latest signed roster this peer has accepted, kept in its store. Only a roster signed by
 * the cluster's coordinator with a higher epoch replaces it, and only once it is on disk.
 */
export class RosterBook {
  private latest: VerifiedRoster | undefined
  private readonly writes = new Serial()

  constructor (private readonly store: Store, readonly clusterId: string, readonly coordinator: PeerId) {}

  get current (): VerifiedRoster | undefined {
    return this.latest
  }

  get epoch (): number {
    return this.latest?.roster.epoch ?? 0
  }

  /** True for the coordinator and the members of the current roster: who may ask for cluster state. */
  admits (peer: PeerId | string): boolean {
    return peer.toString() === this.coordinator.toString() || isRosterMember(this.latest?.roster, peer)
  }

  async load (): Promise<void> {
    const bytes = await this.store.getBytes(ROSTER_KEY)
    if (bytes === undefined) return
    this.latest = await openSignedRoster(SignedRoster.decode(bytes), this)
  }

  /** Stores and adopts `roster` if it is newer than the current one; returns whether it did. */
  async apply (roster: VerifiedRoster, also: Record<string, unknown> = {}): Promise<boolean> {
    // Serialised, so that a slower write of an older roster can never land after a newer one.
    // `also`: JSON records written in the same synced batch (the writer's bookkeeping of the change).
    return await this.writes.run(async () => {
      if (roster.roster.epoch <= this.epoch) return false
      await this.store.batch({ bytes: { [ROSTER_KEY]: SignedRoster.encode(roster.signed) }, json: also })
      this.latest = roster
      return true
    })
  }
}
