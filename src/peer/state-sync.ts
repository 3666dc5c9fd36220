import { sendCommand, type CommandContext, type CommandHandlers } from '../protocols/command.js'
import { MAX_COMMAND_BYTES, MAX_RECORDS_PER_FETCH, MAX_RECORDS_PER_LIST } from '../protocols/constants.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { ErrorCode, type SignedRecord, type StateDigest } from '../protocols/messages.js'
import { hex, MAX_RECORD_ID_LENGTH } from '../protocols/records.js'
import type { GossipChannels } from './channels.js'
import type { NodeFaults } from './faults.js'
import type { MpcLibp2p } from './libp2p.js'
import type { RecordBook } from './record-book.js'
import type { RosterBook } from './roster-book.js'
import type { Logger } from '../log.js'
import type { PeerId } from '@libp2p/interface'

/** How often every peer publishes its digest, whether or not anything changed. */
export const DIGEST_INTERVAL_MS = 5_000
/** Room left in a fetch answer for framing, below the command size limit. */
const FETCH_ANSWER_BUDGET = MAX_COMMAND_BYTES - 4 * 1024
const SYNC_TIMEOUT_MS = 10_000

export interface StateSyncDeps {
  libp2p: MpcLibp2p
  book: RecordBook
  channels: () => GossipChannels
  /** The cluster id, our roster epoch, and who may ask us for records (roster members and the coordinator). */
  roster: Pick<RosterBook, 'clusterId' | 'epoch' | 'admits'>
  log: Logger
  /** A digest showed a newer roster than ours. */
  onRosterBehind?: (epoch: number) => void
  /** Who to sync from when the author of a digest cannot be reached (the coordinator). */
  fallback?: () => PeerId
  /** Misbehaviour for tests (endlessRecordList, falseDigest); off in every real node. */
  faults?: Pick<NodeFaults, 'endlessRecordList' | 'falseDigest'>
}

/**
 * Anti-entropy for the synced records. Every peer publishes a digest (count and hash of its
 * records) on `state` when its records change and every few seconds; a peer whose digest
 * differs from one it sees asks that peer for its list of versions, fetches what it lacks or
 * holds older, verifies each record (writer's signature, holders' countersignatures) and
 * stores it. Any member can serve any record, and no single message needs to arrive.
 */
export class StateSync {
  /** Pulls run one at a time, in the order asked; a pull from a peer already waiting or running is joined. */
  private lastPull: Promise<void> = Promise.resolve()
  private readonly pulls = new Map<string, Promise<void>>()
  readonly counters = { syncs: 0, fetched: 0, applied: 0, refused: 0 }

  constructor (private readonly deps: StateSyncDeps) {}

  digest (): StateDigest {
    return this.deps.book.digest(this.deps.roster.epoch)
  }

  async publishDigest (): Promise<void> {
    await this.deps.channels().publish('state', { digest: this.digest() })
  }

  handlers (): CommandHandlers {
    return {
      listRecords: async (req, ctx) => {
        this.authorize(ctx)
        const entries = this.deps.book.entries().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).filter(e => e.id > req.afterId)
        const page = entries.slice(0, MAX_RECORDS_PER_LIST)
        return { records: page.map(e => ({ id: e.id, version: e.version, bodyHash: e.bodyHash })), more: entries.length > page.length }
      },
      fetchRecords: async (req, ctx) => {
        this.authorize(ctx)
        const records: SignedRecord[] = []
        let size = 0
        for (const id of req.ids.slice(0, MAX_RECORDS_PER_FETCH)) {
          const record = this.deps.book.get(id)
          if (record === undefined) continue
          size += record.signed.body.length + record.signed.signature.length + id.length + 16
          if (size > FETCH_ANSWER_BUDGET) break
          records.push(record.signed)
        }
        return { records }
      }
    }
  }

  private authorize (ctx: CommandContext): void {
    if (!this.deps.roster.admits(ctx.remotePeer)) throw new CommandRefusedError(ErrorCode.UNAUTHORIZED, 'records are served to cluster members')
  }

  /** A digest seen on `state`: catch up from its author if it holds something we do not. */
  async onDigest (digest: StateDigest, author: PeerId): Promise<void> {
    if (digest.rosterEpoch > this.deps.roster.epoch) this.deps.onRosterBehind?.(digest.rosterEpoch)
    if (digest.records === 0 || hex(digest.hash) === hex(this.digest().hash)) return
    try {
      await this.syncFrom(author)
    } catch (err) {
      const fallback = this.deps.fallback?.()
      if (fallback === undefined || fallback.equals(author)) throw err
      this.deps.log.debug({ from: author.toString(), err: (err as Error).message }, 'sync from the digest author failed; syncing from the coordinator')
      await this.syncFrom(fallback)
    }
  }

  /** Pulls every record `peer` holds that is missing here, newer there, or in conflict. One at a time. */
  async syncFrom (peer: PeerId): Promise<void> {
    const key = peer.toString()
    let pull = this.pulls.get(key)
    if (pull === undefined) {
      pull = this.lastPull.catch(() => {}).then(async () => { await this.pull(peer) }).finally(() => { this.pulls.delete(key) })
      this.pulls.set(key, pull)
      this.lastPull = pull
    }
    await pull
  }

  private async pull (peer: PeerId): Promise<void> {
    this.counters.syncs++
    const { book, libp2p, roster } = this.deps
    const wanted: string[] = []
    let afterId = ''
    for (;;) {
      const page = await sendCommand(libp2p, peer, roster.clusterId, 'listRecords', { afterId }, SYNC_TIMEOUT_MS)
      for (const entry of page.records) {
        if (entry.id.length > MAX_RECORD_ID_LENGTH) continue
        const mine = book.get(entry.id)
        if (mine === undefined || mine.signed.version < entry.version || (mine.signed.version === entry.version && hex(mine.bodyHash) !== hex(entry.bodyHash))) wanted.push(entry.id)
      }
      if (!page.more || page.records.length === 0) break
      afterId = page.records.at(-1)!.id
    }
    let changed = false
    for (let i = 0; i < wanted.length;) {
      const { records } = await sendCommand(libp2p, peer, roster.clusterId, 'fetchRecords', { ids: wanted.slice(i, i + MAX_RECORDS_PER_FETCH) }, SYNC_TIMEOUT_MS)
      if (records.length === 0) break
      i += records.length
      this.counters.fetched += records.length
      for (const signed of records) {
        try {
          const outcome = await book.apply(await book.verify(signed))
          if (outcome === 'conflict-kept' || outcome === 'conflict-replaced') {
            this.deps.log.warn({ record: signed.id, version: signed.version, writer: book.writer.toString(), from: peer.toString(), outcome }, 'two different records at one version from the same writer')
          }
          if (outcome === 'added' || outcome === 'updated' || outcome === 'conflict-replaced') {
            changed = true
            this.counters.applied++
          }
        } catch (err) {
          this.counters.refused++
          this.deps.log.warn({ record: signed.id.slice(0, MAX_RECORD_ID_LENGTH), from: peer.toString(), err: (err as Error).message }, 'record refused')
        }
      }
    }
    if (changed) {
      this.deps.log.info({ from: peer.toString(), records: book.all().length }, 'synced records')
      await this.publishDigest()
    }
  }
}

