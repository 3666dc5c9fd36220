import { toHex } from '../crypto/bytes.js'
import { NONCE_SWEEP_MS, NONCE_TTL_MS, PENDING_SHARE_TTL_MS, SPENT_MARKER_TTL_MS } from './constants.js'
import type { KeyRegistry } from '../state/key-registry.js'
import type { RecordBook } from '../state/record-book.js'
import type { VerifiedKeyRecord } from '../protocols/records.js'
import type { ShareRecord, ShareVault } from '../state/share-vault.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'
import type { NodeFaults } from '../runtime/faults.js'
import type { PeerId } from '@libp2p/interface'

export interface KeyCustodyInit {
  vault: ShareVault
  records: RecordBook
  keys: KeyRegistry
  self: PeerId
  log: Logger
  faults?: NodeFaults
}

/**
 * What this node holds of the cluster's keys: counts its active shares and the keys it should
 * hold but has no share of, settles pending shares from the synced key records, and sweeps the
 * nonces of abandoned signing sessions (at start: those of sessions the last stop interrupted).
 *
 * The counts are kept up to date change by change, not recounted: an index of this node's
 * shares (public metadata) and of the keys whose record names it a holder is updated for each
 * share stored, committed or discarded and each key record applied, and only the keys touched
 * are looked at again. Changes are found through the books' generations: a new record is a new
 * object in the record book (only those are read), a share change is found by listing the
 * vault's share records (its public metadata; no share is opened) and comparing them with the
 * index. The custody's own changes (settling a pending share) go straight into the index.
 */
export class KeyCustody implements Service {
  /** This node's shares (public metadata) by key id, as the vault had them at the last look. */
  private readonly shareIndex = new Map<string, ShareRecord>()
  /** Keys whose synced record names this node a holder, by key id: the record's creation time. */
  private readonly holderOf = new Map<string, number>()
  /** The record objects looked at, by record id: a record applied since is another object. */
  private readonly seenRecords = new Map<string, VerifiedKeyRecord>()
  /** Key ids whose held/lost standing may have changed since the counts were last brought up to date. */
  private readonly touched = new Set<string>()
  private held = 0
  /** Keys this node should hold but has no share of, by key id: the record's creation time. */
  private readonly lostKeys = new Map<string, number>()
  /** lostKeys in creation order, made again only when it changes. */
  private lost: string[] = []
  /** The vault and record book generations the index follows (-1: not looked at yet). */
  private shareGeneration = -1
  private recordGeneration = -1
  /** The update at work, and the one waiting for it (which every further caller shares). */
  private lastUpdate: Promise<void> = Promise.resolve()
  private nextUpdate: Promise<void> | undefined
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

  /** Keys whose record names this node a holder while it has no share of them, at the last count, oldest first. */
  get keysLost (): string[] {
    return [...this.lost]
  }

  /** How many keys this node should hold but has no share of, at the last count. */
  get keysLostCount (): number {
    return this.lost.length
  }

  /** Key shares this node holds, with their status (public metadata only). */
  async shares (): Promise<ShareRecord[]> {
    return await this.init.vault.listShares()
  }

  /**
   * Brings the counts up to date with the shares and the key records, and settles pending
   * shares. Heartbeats ask every second: with nothing changed and nothing pending it costs two
   * comparisons. Calls do not overlap: a call while one is at work waits for it and shares the
   * next one with every other caller meanwhile.
   */
  async count (): Promise<void> {
    this.nextUpdate ??= this.lastUpdate.catch(() => {}).then(async () => {
      this.nextUpdate = undefined
      await this.update()
    })
    this.lastUpdate = this.nextUpdate
    return await this.nextUpdate
  }

  private async update (): Promise<void> {
    const { vault, records } = this.init
    const changedRecords = records.generation !== this.recordGeneration ? this.followRecords() : []
    if (vault.generation !== this.shareGeneration) await this.followShares()
    await this.settlePendingShares()
    if (changedRecords.length > 0) await this.followVersions(changedRecords)
    this.recount()
  }

  /**
   * A key's new version (refresh, reshare, repair) as the synced records show it: the next share
   * its record names (same session and group key) becomes the active one, in one write that
   * erases the old share; a next share that a newer record passed over, or that no record
   * committed in PENDING_SHARE_TTL_MS, is dropped; and an active share of an older version is
   * erased: the record no longer names this node (removed or replaced), or names it but this node
   * missed the change (its share combines with none of the new version: the key shows as lost).
   * Only a verified record decides: the coordinator's signature and every new holder's. Only the
   * keys whose records were applied since the last look are looked at (at start: every key).
   */
  private async followVersions (changed: VerifiedKeyRecord[]): Promise<void> {
    const { vault, self, log } = this.init
    for (const r of changed) {
      const record = { keyId: r.body.id, sessionId: r.body.sessionId, version: r.signed.version, groupPublicKey: toHex(r.body.groupPublicKey), holder: r.holders.some(h => h.equals(self)) }
      const next = await vault.nextShareRecord(record.keyId)
      if (next === undefined) continue
      if (record.sessionId === next.sessionId && record.groupPublicKey === next.groupPublicKey) {
        await this.ownChange(next.keyId, { ...next, status: 'active' }, async () => await vault.promoteNextShare(next.keyId, next.sessionId))
        log.info({ keyId: next.keyId, version: record.version }, 'the next share is committed by its key record: it signs from now on, the old one is erased')
        this.init.faults?.afterNextSharePromoted?.()
      } else if (record.version >= (next.version ?? 1) || Date.now() - next.createdAtMs > PENDING_SHARE_TTL_MS) {
        await vault.discardNextShare(next.keyId, next.sessionId)
        log.info({ keyId: next.keyId, session: next.sessionId }, 'dropped the next share of a key change that was not committed')
      }
    }
    for (const r of changed) {
      const share = this.shareIndex.get(r.body.id)
      if (share === undefined || r.body.sessionId === share.sessionId || (share.version ?? 1) >= r.signed.version) continue
      const record = { version: r.signed.version }
      if (r.holders.some(h => h.equals(self))) {
        // Still a holder, but this node missed the change: its old share combines with no share
        // of the new version. Erased, the key counts as lost here (status, heartbeats) until a repair.
        await this.ownChange(share.keyId, undefined, async () => { await vault.discardShare(share.keyId) })
        log.warn({ keyId: share.keyId, version: record.version }, `this node missed version ${record.version} of key ${share.keyId}: its old share is erased; the key needs a repair of this holder (mpc-wallet key repair --key ${share.keyId} --holder ${self.toString()})`)
        continue
      }
      await this.ownChange(share.keyId, undefined, async () => { await vault.discardShare(share.keyId) })
      log.info({ keyId: share.keyId, version: record.version }, 'erased the share of a key version this node no longer holds')
    }
  }

  /** Takes in the key records applied since the last look: only those are read. Returns them. */
  private followRecords (): VerifiedKeyRecord[] {
    const { records, self } = this.init
    this.recordGeneration = records.generation
    const changed: VerifiedKeyRecord[] = []
    for (const record of records.keys()) {
      if (this.seenRecords.get(record.signed.id) === record) continue
      this.seenRecords.set(record.signed.id, record)
      const keyId = record.body.id
      if (record.holders.some(h => h.equals(self))) this.holderOf.set(keyId, record.body.createdAtMs)
      else this.holderOf.delete(keyId)
      this.touched.add(keyId)
      changed.push(record)
    }
    return changed
  }

  /**
   * Takes in the shares stored, committed or discarded since the last look. The vault says
   * that its shares changed, not which: its share records are listed (metadata only) and the
   * differences applied.
   */
  private async followShares (): Promise<void> {
    const { vault } = this.init
    const generation = vault.generation
    const listed = new Map((await vault.listShares()).map(s => [s.keyId, s]))
    this.shareGeneration = generation
    for (const keyId of this.shareIndex.keys()) if (!listed.has(keyId)) this.shareChanged(keyId, undefined)
    for (const [keyId, share] of listed) {
      const known = this.shareIndex.get(keyId)
      if (known === undefined || known.status !== share.status || known.sessionId !== share.sessionId || known.groupPublicKey !== share.groupPublicKey) this.shareChanged(keyId, share)
    }
  }

  /** One share stored, committed (or its status otherwise changed) or discarded (`undefined`). */
  private shareChanged (keyId: string, share: ShareRecord | undefined): void {
    const before = this.shareIndex.get(keyId)
    this.held += (share?.status === 'active' ? 1 : 0) - (before?.status === 'active' ? 1 : 0)
    if (share === undefined) this.shareIndex.delete(keyId)
    else this.shareIndex.set(keyId, share)
    this.touched.add(keyId)
  }

  /**
   * A change of our own to the vault: taken into the index directly. If nothing else changed
   * the vault since its last look, the index is as current as before and needs no new look.
   */
  private async ownChange (keyId: string, share: ShareRecord | undefined, change: () => Promise<unknown>): Promise<void> {
    const { vault } = this.init
    const current = this.shareGeneration === vault.generation
    const before = vault.generation
    await change()
    this.shareChanged(keyId, share)
    if (current && vault.generation <= before + 1) this.shareGeneration = vault.generation
  }

  /** The lost keys of the touched keys looked at again; the list (and its warning) only when it changed. */
  private recount (): void {
    if (this.touched.size === 0) return
    let changed = false
    for (const keyId of this.touched) {
      const createdAtMs = this.holderOf.get(keyId)
      if (createdAtMs !== undefined && !this.shareIndex.has(keyId)) {
        if (this.lostKeys.get(keyId) === createdAtMs) continue
        this.lostKeys.set(keyId, createdAtMs) // lost now, or a newer record of a lost key (its place in the order)
      } else if (!this.lostKeys.delete(keyId)) continue
      changed = true
    }
    this.touched.clear()
    if (!changed) return
    this.lost = [...this.lostKeys].sort((a, b) => a[1] - b[1]).map(([keyId]) => keyId)
    if (this.lost.length > 0) {
      this.init.log.warn({ keys: this.lost }, `this node is a holder of ${this.lost.length} key(s) but has no share of them: it cannot sign for ${this.lost.join(', ')}`)
    }
  }

  /**
   * A share stays `pending` until the coordinator commits it. If the commit never came (the
   * coordinator crashed, or this node was away), the synced key record decides: a record of the
   * same session and group key, countersigned by every holder, commits it; no record long after
   * the keygen's deadline means the keygen failed, and the share is discarded. Only pending
   * shares are looked at.
   */
  private async settlePendingShares (): Promise<void> {
    const { vault, keys, log } = this.init
    const pending = [...this.shareIndex.values()].filter(s => s.status === 'pending')
    for (const share of pending) {
      const record = await keys.get(share.keyId)
      if (record !== undefined && record.sessionId === share.sessionId && record.groupPublicKey === share.groupPublicKey) {
        await this.ownChange(share.keyId, { ...share, status: 'active' }, async () => await vault.setStatus(share.keyId, 'active'))
        log.info({ keyId: share.keyId }, 'share committed by its synced key record')
      } else if (record === undefined && Date.now() - share.createdAtMs > PENDING_SHARE_TTL_MS) {
        await this.ownChange(share.keyId, undefined, async () => { await vault.discardShare(share.keyId) })
        log.info({ keyId: share.keyId }, 'discarded the share of a keygen that was never recorded')
      }
    }
  }
}
