import { randomBytes } from 'node:crypto'
import { sendCommand, type CommandContext, type CommandHandlers, type CommandRequests, type CommandResponses } from '../protocols/command.js'
import { COMMAND, DEFAULT_DIGEST_INTERVAL_MS, MAX_RECORDS_PER_FETCH, MAX_RECORDS_PER_LIST } from '../protocols/constants.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { ErrorCode, type ListRecordsResponse, type SignedRecord, type StateDigest } from '../protocols/messages.js'
import { MAX_RECORD_ID_LENGTH } from '../protocols/records.js'
import { toHex } from '../crypto/bytes.js'
import type { GossipChannels } from './channels.js'
import type { NodeFaults } from './faults.js'
import type { MpcLibp2p } from './libp2p.js'
import type { RecordBook } from '../state/record-book.js'
import type { RosterBook } from '../state/roster-book.js'
import type { Logger } from '../log.js'
import type { PeerId } from '@libp2p/interface'

/** Room left in a fetch answer for framing, below the command size limit. */
const FETCH_ANSWER_BUDGET = COMMAND.maxBytes - 4 * 1024
/** Deadline of one listRecords or fetchRecords command. */
const SYNC_TIMEOUT_MS = 10_000

// Bounds on one pull. A member can answer listRecords without end (every page full of versions
// we lack, every page `more: true`) or fetchRecords slowly; these make what one pull costs in
// time, memory and traffic a constant. A real cluster stays far below them (a few records per
// key and member). A pull that reaches one stops with what it verified so far; records applied
// stay, so the next pull from an honest peer wants fewer and gets on.

/** listRecords pages one pull asks: up to 64 × MAX_RECORDS_PER_LIST versions considered. */
export const MAX_PAGES_PER_PULL = 64
/** Record ids one pull sets out to fetch (missing here, newer there, or in conflict). */
export const MAX_WANTED_PER_PULL = 4096
/** Bytes one pull takes in, version lists and records together (an estimate from the decoded answers). */
export const MAX_BYTES_PER_PULL = 8 * 1024 * 1024
/** Deadline of a whole pull, listing and fetching; each command also has its own SYNC_TIMEOUT_MS. */
export const PULL_DEADLINE_MS = 30_000
/**
 * Pulls from members running at once, so that many digests at once (or many liars) do not open
 * a pull to every member together. A pull from the coordinator does not take a slot: it is the
 * writer of every record, and must never wait behind members.
 */
export const MAX_CONCURRENT_PULLS = 4
/** Peers whose pull statistics and quiet time are kept, the least recently pulled forgotten first. */
const MAX_TRACKED_PEERS = 1024
/** Bytes counted for a version or record beyond its id, hash, body and signature (numbers, framing). */
const ENTRY_OVERHEAD_BYTES = 16
/** A command that failed this close to the pull's deadline failed because of it (timers are not exact). */
const DEADLINE_SLACK_MS = 5
/** Ids the endlessRecordList fault invents; they sort after every real key record id of ours. */
const INVENTED_ID_PREFIX = 'key:zz-'

/** Which bound stopped a pull early. */
export type PullCap = 'pages' | 'wanted' | 'bytes' | 'deadline'

const CAP_LIMITS: Record<PullCap, number> = {
  pages: MAX_PAGES_PER_PULL,
  wanted: MAX_WANTED_PER_PULL,
  bytes: MAX_BYTES_PER_PULL,
  deadline: PULL_DEADLINE_MS
}

/** A pull reached one of its bounds; it ends with what it verified so far (not a failure of the pull). */
export class PullCappedError extends Error {
  override name = 'PullCappedError'
  constructor (readonly cap: PullCap) {
    super(`pull stopped at its ${cap} cap (${CAP_LIMITS[cap]})`)
  }
}

/** What pulls from one peer have cost (for metrics, logs and tests). */
export interface PeerPullStats {
  pulls: number
  /** listRecords pages asked, over all pulls. */
  pages: number
  /** The most listRecords pages a single pull asked. */
  mostPages: number
  /** Pulls that stopped at a cap. */
  capped: number
  /** Pulls that added or updated no record. */
  empty: number
}

export interface StateSyncDeps {
  libp2p: MpcLibp2p
  book: RecordBook
  channels: () => GossipChannels
  /** The cluster id, our roster epoch, and who may ask us for records (roster members and the coordinator). */
  roster: Pick<RosterBook, 'clusterId' | 'epoch' | 'admits'>
  log: Logger
  /** A digest showed a newer roster than ours. */
  onRosterBehind?: (epoch: number) => void
  /**
   * Who to sync from when the author of a digest cannot be reached (the coordinator). Pulls from
   * this peer take no slot of MAX_CONCURRENT_PULLS and its digests are never throttled.
   */
  fallback?: () => PeerId
  /** Misbehaviour for tests (endlessRecordList, falseDigest); off in every real node. */
  faults?: Pick<NodeFaults, 'endlessRecordList' | 'falseDigest'>
}

/** One pull under way: where it stands against its bounds. */
interface PullRun {
  peer: PeerId
  deadline: number
  pages: number
  wanted: number
  bytes: number
  applied: number
  cap?: PullCap
}

interface PeerState {
  stats: PeerPullStats
  /** Until then, digests of this peer start no pull: its last pull brought nothing. */
  quietUntil: number
}

/**
 * Anti-entropy for the synced records. Every peer publishes a digest (count and hash of its
 * records) on `state` when its records change and every few seconds; a peer whose digest
 * differs from one it sees asks that peer for its list of versions, fetches what it lacks or
 * holds older, verifies each record (writer's signature, holders' countersignatures) and
 * stores it. Any member can serve any record, and no single message needs to arrive.
 *
 * No member can stall or bloat this: every pull is bounded (pages, wanted ids, bytes, a
 * deadline); pulls from different peers run side by side (one at a time per peer, at most
 * MAX_CONCURRENT_PULLS from members, the coordinator's never queued); and a peer whose last pull
 * brought nothing is not pulled from again on its digests for DEFAULT_DIGEST_INTERVAL_MS, so a digest
 * that lies costs one pull per interval however often it is published.
 */
export class StateSync {
  /** The pull from each peer that is waiting for a slot or running; asking again joins it. */
  private readonly pulls = new Map<string, Promise<void>>()
  /** Member pulls holding a slot, and those waiting for one (FIFO; at most one per peer, so bounded by the peers). */
  private active = 0
  private readonly waiting: Array<() => void> = []
  private readonly peers = new Map<string, PeerState>()
  /** Ids handed out by the endlessRecordList fault. */
  private invented = 0
  readonly counters = { syncs: 0, fetched: 0, applied: 0, refused: 0, capped: 0, throttled: 0, served: 0 }

  constructor (private readonly deps: StateSyncDeps) {}

  digest (): StateDigest {
    return this.deps.book.digest(this.deps.roster.epoch)
  }

  async publishDigest (): Promise<void> {
    const digest = this.deps.faults?.falseDigest === true ? this.falseDigest() : this.digest()
    await this.deps.channels().publish('state', { digest })
  }

  /** What pulls from `peer` have cost so far (zeros when none is remembered). */
  pullStats (peer: PeerId): PeerPullStats {
    const stats = this.peers.get(peer.toString())?.stats
    return stats === undefined ? { pulls: 0, pages: 0, mostPages: 0, capped: 0, empty: 0 } : { ...stats }
  }

  handlers (): CommandHandlers {
    return {
      listRecords: async (req, ctx) => {
        this.authorize(ctx)
        this.counters.served++
        if (this.deps.faults?.endlessRecordList === true) return this.inventedPage()
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
    if (digest.records === 0 || toHex(digest.hash) === toHex(this.digest().hash)) return
    if (!this.isCoordinator(author) && Date.now() < (this.peers.get(author.toString())?.quietUntil ?? 0)) {
      this.counters.throttled++
      return
    }
    try {
      await this.syncFrom(author)
    } catch (err) {
      const fallback = this.deps.fallback?.()
      if (fallback === undefined || fallback.equals(author)) throw err
      this.deps.log.debug({ from: author.toString(), err: (err as Error).message }, 'sync from the digest author failed; syncing from the coordinator')
      await this.syncFrom(fallback)
    }
  }

  /**
   * Pulls every record `peer` holds that is missing here, newer there, or in conflict, within
   * the bounds of one pull. Resolves when a pull from `peer` has run: one already waiting or
   * running is joined. Never throttled (join, tests and operators ask for it on purpose).
   */
  async syncFrom (peer: PeerId): Promise<void> {
    const key = peer.toString()
    let pull = this.pulls.get(key)
    if (pull === undefined) {
      pull = this.pullInTurn(peer).finally(() => { this.pulls.delete(key) })
      this.pulls.set(key, pull)
    }
    await pull
  }

  private isCoordinator (peer: PeerId): boolean {
    return this.deps.fallback?.().equals(peer) === true
  }

  /** Runs a pull from a member once a slot is free; a pull from the coordinator at once. */
  private async pullInTurn (peer: PeerId): Promise<void> {
    if (this.isCoordinator(peer)) {
      await this.pull(peer)
      return
    }
    if (this.active < MAX_CONCURRENT_PULLS) this.active++
    else await new Promise<void>(resolve => { this.waiting.push(resolve) })
    try {
      await this.pull(peer)
    } finally {
      // Hand the slot straight to the next waiting pull, or give it back.
      const next = this.waiting.shift()
      if (next !== undefined) next()
      else this.active--
    }
  }

  private async pull (peer: PeerId): Promise<void> {
    this.counters.syncs++
    const run: PullRun = { peer, deadline: Date.now() + PULL_DEADLINE_MS, pages: 0, wanted: 0, bytes: 0, applied: 0 }
    try {
      await this.fetch(run, await this.list(run))
    } catch (err) {
      if (!(err instanceof PullCappedError)) throw err
      run.cap = err.cap
    } finally {
      await this.settle(run)
    }
  }

  /** The ids `run.peer` lists that we want; stops early (keeping what it found) at the pages or wanted cap. */
  private async list (run: PullRun): Promise<string[]> {
    const { book } = this.deps
    const wanted: string[] = []
    let afterId = ''
    for (;;) {
      if (run.pages >= MAX_PAGES_PER_PULL) {
        run.cap = 'pages'
        return wanted
      }
      const page = await this.ask(run, 'listRecords', { afterId })
      run.pages++
      for (const entry of page.records) {
        run.bytes += entry.id.length + entry.bodyHash.length + ENTRY_OVERHEAD_BYTES
        if (entry.id.length > MAX_RECORD_ID_LENGTH) continue
        const mine = book.get(entry.id)
        if (mine === undefined || mine.signed.version < entry.version || (mine.signed.version === entry.version && toHex(mine.bodyHash) !== toHex(entry.bodyHash))) {
          if (wanted.length >= MAX_WANTED_PER_PULL) {
            run.cap = 'wanted'
            return wanted
          }
          wanted.push(entry.id)
          run.wanted = wanted.length
        }
      }
      const last = page.records.at(-1)?.id
      // A page that does not move past `afterId` would be asked for again and again.
      if (!page.more || last === undefined || last <= afterId) return wanted
      afterId = last
    }
  }

  /** Fetches, verifies and applies the wanted records, in batches, within the bytes and deadline caps. */
  private async fetch (run: PullRun, wanted: string[]): Promise<void> {
    const { book } = this.deps
    const from = run.peer.toString()
    for (let i = 0; i < wanted.length;) {
      const ids = wanted.slice(i, i + MAX_RECORDS_PER_FETCH)
      const { records } = await this.ask(run, 'fetchRecords', { ids })
      for (const signed of records) run.bytes += signed.id.length + signed.body.length + signed.signature.length + ENTRY_OVERHEAD_BYTES
      // Only what we asked for: a peer cannot make us verify and store records of its choosing.
      const asked = new Set(ids)
      const answered = records.filter(r => asked.has(r.id))
      if (answered.length === 0) break
      i += answered.length
      this.counters.fetched += answered.length
      for (const signed of answered) {
        try {
          const outcome = await book.apply(await book.verify(signed))
          if (outcome === 'conflict-kept' || outcome === 'conflict-replaced') {
            this.deps.log.warn({ record: signed.id, version: signed.version, writer: book.writer.toString(), from, outcome }, 'two different records at one version from the same writer')
          }
          if (outcome === 'added' || outcome === 'updated' || outcome === 'conflict-replaced') {
            run.applied++
            this.counters.applied++
          }
        } catch (err) {
          this.counters.refused++
          this.deps.log.warn({ record: signed.id.slice(0, MAX_RECORD_ID_LENGTH), from, err: (err as Error).message }, 'record refused')
        }
      }
    }
  }

  /** One command of a pull, with what is left of the pull's deadline and bytes. */
  private async ask<K extends 'listRecords' | 'fetchRecords'> (run: PullRun, kind: K, body: CommandRequests[K]): Promise<CommandResponses[K]> {
    const left = run.deadline - Date.now()
    if (left <= 0) throw new PullCappedError('deadline')
    if (run.bytes >= MAX_BYTES_PER_PULL) throw new PullCappedError('bytes')
    try {
      return await sendCommand(this.deps.libp2p, run.peer, this.deps.roster.clusterId, kind, body, Math.min(SYNC_TIMEOUT_MS, left))
    } catch (err) {
      if (left < SYNC_TIMEOUT_MS && Date.now() >= run.deadline - DEADLINE_SLACK_MS) throw new PullCappedError('deadline')
      throw err
    }
  }

  /** After a pull, however it ended: statistics, the peer's quiet time, a warning at a cap, and our new digest. */
  private async settle (run: PullRun): Promise<void> {
    const from = run.peer.toString()
    const state = this.peerState(from)
    state.stats.pulls++
    state.stats.pages += run.pages
    state.stats.mostPages = Math.max(state.stats.mostPages, run.pages)
    if (run.applied === 0) {
      state.stats.empty++
      state.quietUntil = Date.now() + DEFAULT_DIGEST_INTERVAL_MS
    } else {
      state.quietUntil = 0
    }
    if (run.cap !== undefined) {
      state.stats.capped++
      this.counters.capped++
      this.deps.log.warn({ from, cap: run.cap, limit: CAP_LIMITS[run.cap], pages: run.pages, wanted: run.wanted, bytes: run.bytes, applied: run.applied }, 'pull from a peer stopped at a cap')
    }
    if (run.applied > 0) {
      this.deps.log.info({ from, records: this.deps.book.all().length }, 'synced records')
      await this.publishDigest().catch(err => { this.deps.log.debug({ err: (err as Error).message }, 'digest not published') })
    }
  }

  /** The remembered state of a peer, most recently used last; the oldest is forgotten beyond MAX_TRACKED_PEERS. */
  private peerState (key: string): PeerState {
    let state = this.peers.get(key)
    if (state !== undefined) this.peers.delete(key)
    else state = { stats: { pulls: 0, pages: 0, mostPages: 0, capped: 0, empty: 0 }, quietUntil: 0 }
    this.peers.set(key, state)
    if (this.peers.size > MAX_TRACKED_PEERS) this.peers.delete(this.peers.keys().next().value!)
    return state
  }

  /** The endlessRecordList fault: a full page of versions nobody has, and always more. */
  private inventedPage (): ListRecordsResponse {
    const records = Array.from({ length: MAX_RECORDS_PER_LIST }, () => ({
      id: `${INVENTED_ID_PREFIX}${String(++this.invented).padStart(12, '0')}`,
      version: 1,
      bodyHash: new Uint8Array(randomBytes(32))
    }))
    return { records, more: true }
  }

  /** The falseDigest fault: claims one record more than we hold, under a hash nobody has. */
  private falseDigest (): StateDigest {
    const honest = this.digest()
    return { rosterEpoch: honest.rosterEpoch, records: honest.records + 1, hash: new Uint8Array(randomBytes(32)) }
  }
}
