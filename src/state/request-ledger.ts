import type { RequestHistory, SpendAsked } from '../protocols/policy.js'
import type { Store } from '../store/store.js'

const PREFIX = 'request:'
const DAY_MS = 24 * 60 * 60_000
/** How often a running peer forgets entries that can matter no more. */
export const LEDGER_SWEEP_MS = 10 * 60_000
/** Request ids are the client's own: one client cannot use up another's. */
const requestOf = (e: Pick<LedgerEntry, 'client' | 'requestId'>): string => `${e.client}/${e.requestId}`
/** An entry's own id: its request's, and a PSBT input's index past the first (each input is signed once under one request). */
const idOf = (client: string, requestId: string, input = 0): string => `${client}/${requestId}${input === 0 ? '' : `#${input}`}`
const entryId = (e: LedgerEntry): string => idOf(e.client, e.requestId, e.input)

/** One request this node released a signature share for. */
export interface LedgerEntry {
  requestId: string
  keyId: string
  client: string
  /** the request's own expiry */
  notAfter: number
  /** when the share left this node */
  atMs: number
  /** a PSBT input (0 when absent) */
  input?: number
  /** what the transaction sent out (satoshis or lamports, decimal): counts once per request towards a daily volume */
  amount?: string
}

/** What a ledger entry keeps of a transaction: the input signed, and the amount sent out. */
export function spendFields (spend: SpendAsked | undefined): Pick<LedgerEntry, 'input' | 'amount'> {
  if (spend === undefined) return {}
  return { amount: spend.amount.toString(), ...(spend.input === undefined || spend.input === 0 ? {} : { input: spend.input }) }
}

/**
 * The sign requests this node acted on (issue 12), on disk: the replay check (a request id is
 * acted on once, remembered until it expires), the rate-limit counters (each request signed counts
 * once, however many PSBT inputs it took) and the daily volume of transactions (issue 15); kept a
 * day, the longest window a limit counts over. A restart reloads it, so none of them resets.
 * `claim` decides synchronously, as the share vault's nonce claim does: of two requests racing
 * for one id or the last unit of a limit, the first to claim wins before either waits for the disk.
 */
export class RequestLedger implements RequestHistory {
  private readonly entries = new Map<string, LedgerEntry>()

  private constructor (private readonly store: Store) {}

  static async open (store: Store, nowMs = Date.now()): Promise<RequestLedger> {
    const ledger = new RequestLedger(store)
    for (const { value } of await store.listJson<LedgerEntry>(PREFIX)) ledger.entries.set(entryId(value), value)
    await ledger.sweep(nowMs)
    return ledger
  }

  seen (client: string, requestId: string, input?: number): boolean {
    return this.entries.has(idOf(client, requestId, input))
  }

  signedSince (keyId: string, sinceMs: number, client?: string, except?: string): number {
    const requests = new Set<string>()
    for (const e of this.entries.values()) {
      if (e.keyId === keyId && e.atMs >= sinceMs && (client === undefined || e.client === client) && requestOf(e) !== except) requests.add(requestOf(e))
    }
    return requests.size
  }

  volumeSince (keyId: string, sinceMs: number, except?: string): bigint {
    const amounts = new Map<string, bigint>()
    for (const e of this.entries.values()) {
      if (e.keyId !== keyId || e.atMs < sinceMs || e.amount === undefined || requestOf(e) === except) continue
      amounts.set(requestOf(e), BigInt(e.amount))
    }
    let total = 0n
    for (const a of amounts.values()) total += a
    return total
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
    const id = entryId(entry)
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
    await this.store.batch({ json: Object.fromEntries(old.map(e => [PREFIX + entryId(e), null])) })
    for (const e of old) this.entries.delete(entryId(e))
    return old.length
  }
}
