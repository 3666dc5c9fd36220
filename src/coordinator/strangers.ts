import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Logger } from '../log.js'
import { DEFAULT_STRANGER_GRACE_MS, MAX_WATCHED_STRANGERS } from './constants.js'

export interface StrangersInit {
  libp2p: Pick<Libp2p, 'addEventListener' | 'removeEventListener' | 'getPeers' | 'getConnections' | 'hangUp'>
  /**
   * Whether a peer may stay connected (the coordinator passes `membership.isKnown`: roster members
   * and joins waiting for approval). Read when a peer connects and again when its grace ends.
   */
  isKnown: (peer: PeerId) => boolean
  /**
   * Whether the peer has a request being answered right now (its Join waits for the roster lock
   * behind others): its grace starts again rather than it being hung up on mid-answer.
   */
  isBusy?: (peer: PeerId) => boolean
  /** DEFAULT_STRANGER_GRACE_MS unless set (tests shorten it). */
  graceMs?: number
  /** MAX_WATCHED_STRANGERS unless set. */
  maxWatched?: number
  log: Logger
}

/**
 * Hangs up on strangers. The coordinator accepts connections from anyone, since a joining node is
 * a stranger until its Join is through; a peer that connects while unknown is looked at again
 * after a grace period, and if it is still unknown every connection to it is closed. (Meanwhile it
 * gets no gossip: peer scoring keeps strangers below the publish and gossip thresholds.)
 *
 * The grace runs from the first connection: a stranger that reconnects does not get a new one
 * until the old one has ended. Connections through a relay count like any other (the coordinator
 * is the relay, so its own connections are direct), and the coordinator's dial-back uses bare TCP,
 * which libp2p does not see.
 */
export class Strangers {
  /** Unknown peers whose grace is running, by PeerId string, with the timer that ends it. */
  private readonly watched = new Map<string, NodeJS.Timeout>()
  private running = false
  private readonly graceMs: number
  private readonly maxWatched: number
  /** Strangers hung up on since start: their grace ended, or too many were connected at once. */
  hangUps = 0
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => { this.watch(evt.detail) }

  constructor (private readonly init: StrangersInit) {
    this.graceMs = init.graceMs ?? DEFAULT_STRANGER_GRACE_MS
    this.maxWatched = init.maxWatched ?? MAX_WATCHED_STRANGERS
  }

  /** Starts watching connections, the ones already open included. */
  start (): void {
    if (this.running) return
    this.running = true
    this.init.libp2p.addEventListener('peer:connect', this.onConnect)
    for (const peer of this.init.libp2p.getPeers()) this.watch(peer)
  }

  /** Stops watching; no timer is left running. */
  stop (): void {
    this.running = false
    this.init.libp2p.removeEventListener('peer:connect', this.onConnect)
    for (const timer of this.watched.values()) clearTimeout(timer)
    this.watched.clear()
  }

  /** Strangers whose grace is running now. */
  get waiting (): number {
    return this.watched.size
  }

  /**
   * Gives `peer` its grace period if it is unknown now. Called for every new peer connection;
   * call it also when a connected peer stops being known (a pending join rejected or expired,
   * a member removed), so that it is hung up on in turn.
   */
  watch (peer: PeerId): void {
    const id = peer.toString()
    if (!this.running || this.watched.has(id) || this.init.isKnown(peer)) return
    if (this.watched.size >= this.maxWatched) {
      void this.hangUp(peer, 'too many strangers connected')
      return
    }
    this.watched.set(id, setTimeout(() => {
      this.watched.delete(id)
      if (!this.running || this.init.isKnown(peer)) return
      if (this.init.isBusy?.(peer) === true) this.watch(peer)
      else void this.hangUp(peer, 'still unknown after its grace period')
    }, this.graceMs))
  }

  private async hangUp (peer: PeerId, reason: string): Promise<void> {
    if (this.init.libp2p.getConnections(peer).length === 0) return
    this.hangUps++
    this.init.log.debug({ peer: peer.toString(), reason }, 'hanging up on a stranger')
    await this.init.libp2p.hangUp(peer).catch((err: Error) => {
      this.init.log.debug({ peer: peer.toString(), err: err.message }, 'hang-up failed')
    })
  }
}
