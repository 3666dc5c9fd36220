import type { RequestHistory } from '../protocols/policy.js'
import type { Store } from '../store/store.js'

const PREFIX = 'request:'
const DAY_MS = 24 * 60 * 60_000
/** How often a running peer forgets entries that can matter no more. */
export const LEDGER_SWEEP_MS = 10 * 60_000
/** Request ids are the client's own: one client cannot use up another's. */
const idOf = (client: string, requestId: string): string => `${client}/${requestId}`

/** One request this node released a signature share for. */
export interface LedgerEntry {
  requestId: string
  keyId: string
  client: string
  /** the request's own expiry */
  notAfter: number
  /** when the share left this node */
  atMs: number
}

/**
 * The sign requests this node acted on (issue 12), on disk: the replay check (a request id is
 * acted on once, remembered until it expires) and the rate-limit counters (each entry is one
 * share released; kept a day, the longest window a limit counts over). A restart reloads it, so
 * neither resets. `claim` decides synchronously, as the share vault's nonce claim does: of two
 * requests racing for one id or the last unit of a limit, the first to claim wins before either
 * waits for the disk.
 */
export class RequestLedger implements RequestHistory {
  private readonly entries = new Map<string, LedgerEntry>()

  private constructor (private readonly store: Store) {}

  static async open (store: Store, nowMs = Date.now()): Promise<RequestLedger> {
    const ledger = new RequestLedger(store)
    for (const { value } of await store.listJson<LedgerEntry>(PREFIX)) ledger.entries.set(idOf(value.client, value.requestId), value)
    await ledger.sweep(nowMs)
    return ledger
  }

  seen (client: string, requestId: string): boolean {
    return this.entries.has(idOf(client, requestId))
  }

  signedSince (keyId: string, sinceMs: number, client?: string): number {
    let n = 0
    for (const e of this.entries.values()) if (e.keyId === keyId && e.atMs >= sinceMs && (client === undefined || e.client === client)) n++
    return n
  }

  get size (): number {
    return this.entries.size
  }

  /**
   * Takes the request id for one share: false if it was taken before. In memory at once (the
   * check and the take have no await between them); the caller writes `write` to the store (with
   * whatever else belongs in the same batch) and calls `release` if that fails: no share may
   * leave for an id that is not on disk.
   */
  reserve (entry: LedgerEntry): false | { write: Record<string, LedgerEntry>, release: () => void } {
    const id = idOf(entry.client, entry.requestId)
    if (this.entries.has(id)) return false
    this.entries.set(id, entry)
    return { write: { [PREFIX + id]: entry }, release: () => { this.entries.delete(id) } }
  }

  /** `reserve` and its write on its own; if the write fails the id is given back and the error thrown. */
  claim (entry: LedgerEntry): false | Promise<void> {
    const reserved = this.reserve(entry)
    if (reserved === false) return false
    return this.store.batch({ json: reserved.write }).catch((err: unknown) => {
      reserved.release()
      throw err
    })
  }

  /** Forgets entries that can matter no more: expired requests older than every rate window. */
  async sweep (nowMs = Date.now()): Promise<number> {
    const old = [...this.entries.values()].filter(e => Math.max(e.notAfter, e.atMs + DAY_MS) < nowMs)
    if (old.length === 0) return 0
    await this.store.batch({ json: Object.fromEntries(old.map(e => [PREFIX + idOf(e.client, e.requestId), null])) })
    for (const e of old) this.entries.delete(idOf(e.client, e.requestId))
    return old.length
  }
}
