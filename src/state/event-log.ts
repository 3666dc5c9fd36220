import { peerIdFromBytes } from '../protocols/ids.js'
import { Event, EventKind, Health } from '../protocols/messages.js'
import { ApiError } from '../protocols/errors.js'
import type { Store } from '../store/store.js'

export interface EventView {
  seq: number
  atMs: number
  kind: string
  peerId?: string
  epoch?: number
  from?: string
  to?: string
  operation?: string
  sessionId?: string
  keyId?: string
  detail?: string
  culprits?: string[]
  /** BLAME_CLAIM: the peers `peerId` named, on its word alone. */
  accused?: string[]
  /** SESSION_FINISHED of a signature: its signers and the hash of the request they authorised. */
  signers?: string[]
  requestHash?: string
}

export interface EventQuery {
  /** Events with a sequence number above this one: resume from the last id seen. */
  after: number
  limit: number
  /** Only events at or after this time (Unix ms). */
  sinceMs?: number
  /** Only these kinds. */
  kinds?: Set<EventKind>
}

export const MAX_EVENT_PAGE = 10_000
const SCAN_PAGE = 1_000

/** The event kinds as users name them: `member_joined`, `blame`, ... */
const KINDS: readonly EventKind[] = Object.values(EventKind).filter((k): k is EventKind => typeof k === 'string' && k !== EventKind.EVENT_UNKNOWN)
export const EVENT_TYPES: readonly string[] = KINDS.map(k => k.toLowerCase())

/** A time as `--since` or `?since=` gives it: Unix milliseconds or an ISO 8601 date. */
export function parseSince (value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isSafeInteger(ms) || ms < 0) throw new ApiError(400, 'bad_query', `since must be Unix milliseconds or an ISO 8601 time, not "${value.slice(0, 64)}"`)
  return ms
}

export function parseEventType (value: string): EventKind {
  const kind = value.trim().toUpperCase() as EventKind
  if (!KINDS.includes(kind)) {
    throw new ApiError(400, 'bad_query', `unknown event type "${value.slice(0, 64)}"; one of ${EVENT_TYPES.join(', ')}`)
  }
  return kind
}

/** `GET /v1/events?after=SEQ&since=TIME&type=KIND[,KIND]&limit=N` */
export function parseEventQuery (params: URLSearchParams): EventQuery {
  const after = Number(params.get('after') ?? 0)
  const limit = Number(params.get('limit') ?? 1000)
  if (!Number.isSafeInteger(after) || after < 0 || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE) {
    throw new ApiError(400, 'bad_query', `after must be an integer ≥ 0 and limit an integer from 1 to ${MAX_EVENT_PAGE}`)
  }
  const since = params.get('since')
  const types = params.getAll('type').flatMap(t => t.split(',')).filter(t => t !== '')
  return {
    after,
    limit,
    ...(since !== null ? { sinceMs: parseSince(since) } : {}),
    ...(types.length > 0 ? { kinds: new Set(types.map(parseEventType)) } : {})
  }
}

export function eventView (e: Event): EventView {
  return {
    seq: e.seq,
    atMs: e.atMs,
    kind: e.kind,
    ...(e.peerId.length > 0 ? { peerId: peerIdFromBytes(e.peerId).toString() } : {}),
    ...(e.epoch > 0 ? { epoch: e.epoch } : {}),
    ...(e.from !== Health.HEALTH_UNKNOWN ? { from: e.from } : {}),
    ...(e.to !== Health.HEALTH_UNKNOWN ? { to: e.to } : {}),
    ...(e.operation !== '' ? { operation: e.operation } : {}),
    ...(e.sessionId !== '' ? { sessionId: e.sessionId } : {}),
    ...(e.keyId !== '' ? { keyId: e.keyId } : {}),
    ...(e.detail !== '' ? { detail: e.detail } : {}),
    ...(e.culprits.length > 0 ? { culprits: e.culprits.map(c => peerIdFromBytes(c).toString()) } : {}),
    ...(e.accused.length > 0 ? { accused: e.accused.map(c => peerIdFromBytes(c).toString()) } : {}),
    ...(e.signers.length > 0 ? { signers: e.signers.map(c => peerIdFromBytes(c).toString()) } : {}),
    ...(e.requestHash !== '' ? { requestHash: e.requestHash } : {})
  }
}

/** Reads the persisted log in order, page by page, keeping only what the query asks for. */
export async function queryEvents (store: Store, query: EventQuery): Promise<EventView[]> {
  const compacted = store.compactedThrough()
  if (query.after < compacted) {
    throw new ApiError(410, 'events_compacted', `events up to #${compacted} were removed by the retention policy; read on from after=${compacted}`)
  }
  const out: EventView[] = []
  let after = query.after
  for (;;) {
    const page = await store.listEvents(after, SCAN_PAGE)
    for (const { seq, bytes } of page) {
      after = seq
      const e = Event.decode(bytes)
      if (query.sinceMs !== undefined && e.atMs < query.sinceMs) continue
      if (query.kinds !== undefined && !query.kinds.has(e.kind)) continue
      out.push(eventView(e))
      if (out.length >= query.limit) return out
    }
    if (page.length < SCAN_PAGE) return out
  }
}
