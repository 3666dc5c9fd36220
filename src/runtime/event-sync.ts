import { sendCommand, type CommandContext, type CommandHandlers } from '../protocols/command.js'
import { COMMAND, MAX_EVENTS_PER_BATCH } from '../protocols/constants.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { ErrorCode, Event } from '../protocols/messages.js'
import type { GossipChannels } from './channels.js'
import type { MpcLibp2p } from './libp2p.js'
import type { Service } from './service.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/store.js'
import type { PeerId } from '@libp2p/interface'

const CONTIGUOUS_RECORD = 'events-contiguous'
const ANSWER_BUDGET = COMMAND.maxBytes - 4 * 1024
const FETCH_TIMEOUT_MS = 10_000

/** Serves the stored event log to members catching up (`fetchEvents`), oldest first, bounded. */
export function eventLogHandlers (store: Store, mayAsk: (peer: PeerId) => boolean): CommandHandlers {
  return {
    fetchEvents: async (req, ctx: CommandContext) => {
      if (!mayAsk(ctx.remotePeer)) throw new CommandRefusedError(ErrorCode.UNAUTHORIZED, 'the event log is served to cluster members')
      const limit = Math.min(req.limit > 0 ? req.limit : MAX_EVENTS_PER_BATCH, MAX_EVENTS_PER_BATCH)
      // Events removed by retention are gone: a reader behind them continues after them.
      const after = Math.max(req.after, store.compactedThrough())
      const events: Event[] = []
      let size = 0
      for (const { bytes } of await store.listEvents(after, limit)) {
        size += bytes.length + 8
        if (size > ANSWER_BUDGET) break
        events.push(Event.decode(bytes))
      }
      return { events }
    }
  }
}

/**
 * A node's copy of the coordinator's event log, kept whole: batches arrive on `events`, and
 * whatever this node missed (it was down, or a batch was lost) is fetched from the coordinator,
 * so that after a restart it has the same history as the rest. `contiguous` is the highest
 * event number up to which this node holds every event (or retention removed it).
 */
export class EventCatchUp {
  private running: Promise<void> | undefined

  private constructor (private readonly store: Store, private contiguous: number, private readonly log: Logger) {}

  static async open (store: Store, log: Logger): Promise<EventCatchUp> {
    const catchUp = new EventCatchUp(store, (await store.getJson<number>(CONTIGUOUS_RECORD)) ?? 0, log)
    await catchUp.extend()
    return catchUp
  }

  get through (): number {
    return this.contiguous
  }

  /** The service that takes the `events` channel while started: each batch goes to onBatch, gaps are fetched from `source`. */
  follow (channels: GossipChannels, source: () => { libp2p: MpcLibp2p, peer: PeerId, clusterId: string }): Service {
    return {
      start: () => {
        channels.handle('events', async (events) => {
          await this.onBatch(events, source).catch(err => { this.log.debug({ err: (err as Error).message }, 'event catch-up failed') })
        })
      },
      stop: () => { channels.unhandle('events') }
    }
  }

  /** Stores a batch from the events channel; a gap before it means something to fetch. */
  async onBatch (events: Event[], fetchFrom: () => { libp2p: MpcLibp2p, peer: PeerId, clusterId: string }): Promise<void> {
    await this.store.putEvents(events.map(e => ({ seq: e.seq, bytes: Event.encode(e) })))
    await this.extend()
    if (events.some(e => e.seq > this.contiguous)) await this.catchUp(fetchFrom())
  }

  /** Fetches every event after `contiguous` from `source` until it has no more. One at a time. */
  async catchUp (source: { libp2p: MpcLibp2p, peer: PeerId, clusterId: string }): Promise<void> {
    if (this.running !== undefined) return await this.running
    this.running = (async () => {
      for (;;) {
        const { events } = await sendCommand(source.libp2p, source.peer, source.clusterId, 'fetchEvents', { after: this.contiguous, limit: MAX_EVENTS_PER_BATCH }, FETCH_TIMEOUT_MS)
        if (events.length === 0) return
        await this.store.putEvents(events.map(e => ({ seq: e.seq, bytes: Event.encode(e) })))
        // The source may have compacted what we lack: continue after its oldest event.
        if (events[0]!.seq > this.contiguous + 1) this.contiguous = events[0]!.seq - 1
        await this.extend()
        this.log.debug({ through: this.contiguous }, 'caught up on events')
      }
    })().finally(() => { this.running = undefined })
    return await this.running
  }

  /** Advances `contiguous` over the events already stored, and remembers it. */
  private async extend (): Promise<void> {
    const start = this.contiguous
    for (;;) {
      const page = await this.store.listEvents(this.contiguous, 1000)
      let advanced = false
      for (const { seq } of page) {
        if (seq !== this.contiguous + 1) break
        this.contiguous = seq
        advanced = true
      }
      if (!advanced || page.length < 1000) break
    }
    if (this.contiguous !== start) await this.store.putJson(CONTIGUOUS_RECORD, this.contiguous)
  }
}
