import { NONCE_SWEEP_MS, NONCE_TTL_MS, PENDING_SHARE_TTL_MS, SPENT_MARKER_TTL_MS } from './constants.js'
import type { KeyRegistry } from '../state/key-registry.js'
import type { RecordBook } from '../state/record-book.js'
import type { ShareRecord, ShareVault } from '../state/share-vault.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'
import type { PeerId } from '@libp2p/interface'

export interface KeyCustodyInit {
  vault: ShareVault
  records: RecordBook
  keys: KeyRegistry
  self: PeerId
  log: Logger
}

/**
 * What this node holds of the cluster's keys: counts its active shares and the keys it should
 * hold but has no share of, settles pending shares from the synced key records, and sweeps the
 * nonces of abandoned signing sessions (at start: those of sessions the last stop interrupted).
 */
export class KeyCustody implements Service {
  private held = 0
  private lost: string[] = []
  /** The record and share generations the key counts were made at, while no share is pending. */
  private countedAt: string | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (private readonly init: KeyCustodyInit) {}

  async start (): Promise<void> {
    const { vault, log } = this.init
    this.stopped = false
    const dropped = await vault.discardNonces()
    if (dropped > 0) log.info({ dropped }, 'discarded nonces of sessions interrupted by the last stop')
    this.sweepTimer = setInterval(() => {
      vault.discardNonces(Date.now() - NONCE_TTL_MS)
        .then(n => { if (n > 0) log.info({ dropped: n }, 'discarded nonces of abandoned signing sessions') })
        .then(async () => await vault.forgetSpent(Date.now() - SPENT_MARKER_TTL_MS))
        .catch(err => { if (!this.stopped) log.warn({ err: (err as Error).message }, 'nonce sweep failed') })
    }, NONCE_SWEEP_MS)
  }

  stop (): void {
    this.stopped = true
    clearInterval(this.sweepTimer)
  }

  /** Active shares at the last count. */
  get keysHeld (): number {
    return this.held
  }

  /** Keys whose record names this node a holder while it has no share of them, at the last count. */
  get keysLost (): string[] {
    return [...this.lost]
  }

  /** Key shares this node holds, with their status (public metadata only). */
  async shares (): Promise<ShareRecord[]> {
    return await this.init.vault.listShares()
  }

  /** Counts the shares held, and the keys this node should hold but has no share of (wiped or lost disk). */
  async count (): Promise<void> {
    const { vault, records, keys, self, log } = this.init
    // Heartbeats ask every second; the counts change only with the records or the shares (a
    // pending share also waits for time to settle it, so then they are always made again).
    const stamp = (): string => `${records.generation}/${vault.generation}`
    if (this.countedAt === stamp()) return
    const shares = await this.settlePendingShares(await vault.listShares())
    const countedAt = shares.some(s => s.status === 'pending') ? undefined : stamp()
    this.held = shares.filter(s => s.status === 'active').length
    const held = new Set(shares.map(s => s.keyId))
    const me = self.toString()
    const lost = (await keys.list()).filter(k => k.holders.includes(me) && !held.has(k.id)).map(k => k.id)
    if (lost.join() !== this.lost.join() && lost.length > 0) {
      log.warn({ keys: lost }, `this node is a holder of ${lost.length} key(s) but has no share of them: it cannot sign for ${lost.join(', ')}`)
    }
    this.lost = lost
    this.countedAt = countedAt
  }

  /**
   * A share stays `pending` until the coordinator commits it. If the commit never came (the
   * coordinator crashed, or this node was away), the synced key record decides: a record of the
   * same session and group key, countersigned by every holder, commits it; no record long after
   * the keygen's deadline means the keygen failed, and the share is discarded.
   */
  private async settlePendingShares (shares: ShareRecord[]): Promise<ShareRecord[]> {
    const { vault, keys, log } = this.init
    const out: ShareRecord[] = []
    for (const share of shares) {
      if (share.status !== 'pending') {
        out.push(share)
        continue
      }
      const record = await keys.get(share.keyId)
      if (record !== undefined && record.sessionId === share.sessionId && record.groupPublicKey === share.groupPublicKey) {
        await vault.setStatus(share.keyId, 'active')
        log.info({ keyId: share.keyId }, 'share committed by its synced key record')
        out.push({ ...share, status: 'active' })
      } else if (record === undefined && Date.now() - share.createdAtMs > PENDING_SHARE_TTL_MS) {
        await vault.discardShare(share.keyId)
        log.info({ keyId: share.keyId }, 'discarded the share of a keygen that was never recorded')
      } else {
        out.push(share)
      }
    }
    return out
  }
}
