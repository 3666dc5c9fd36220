import { auditEntryHash, auditSigningBytes, GENESIS_HASH, normaliseDecision, parseAuditEntry, type AuditDecision, type AuditEntry } from '../protocols/audit.js'
import { Serial } from '../serial.js'
import { toString } from 'uint8arrays/to-string'
import { DataDirError } from '../store/errors.js'
import type { Store } from '../store/store.js'

const ENTRY_PREFIX = 'audit:'
const SEQ_WIDTH = 12
/** Entries in one list() page, at most. */
export const MAX_AUDIT_PAGE = 1000

function entryName (seq: number): string {
  return ENTRY_PREFIX + seq.toString().padStart(SEQ_WIDTH, '0')
}

/** The node's identity as the audit log uses it: its PeerId string and a signer with its key. */
export interface AuditSigner {
  node: string
  sign: (data: Uint8Array) => Promise<Uint8Array>
}

/**
 * This node's audit chain on disk (issue 12): one entry per signing decision, numbered from 1,
 * each naming the hash of the one before and signed by the node's identity (src/protocols/audit.ts
 * has the format and the checks). Appends run one at a time; an entry is on disk before the head
 * moves past it, and a failed write leaves the head where it was, so the chain has no gaps.
 */
export class AuditLog {
  private seq = 0
  private hash = GENESIS_HASH
  private readonly appends = new Serial()

  private constructor (private readonly store: Store, private readonly self: AuditSigner) {}

  /**
   * Opens the chain in `store`, reading its last entry alone. Refuses (DataDirError) a last entry
   * that is damaged, is stored under another seq's name (appends would overwrite entries), or is
   * not `self`'s.
   */
  static async open (store: Store, self: AuditSigner): Promise<AuditLog> {
    const log = new AuditLog(store, self)
    const last = await store.lastJson<unknown>(ENTRY_PREFIX)
    if (last !== undefined) {
      const entry = parseStored(last.name, last.value)
      if (entryName(entry.seq) !== last.name) throw new DataDirError(`the audit entry stored as ${last.name} holds seq ${entry.seq}`)
      if (entry.node !== self.node) throw new DataDirError(`the audit chain on disk is ${entry.node}'s, this node is ${self.node}`)
      log.seq = entry.seq
      log.hash = auditEntryHash(entry)
    }
    return log
  }

  /** The last entry's seq and hash (0 and 64 zeros for an empty chain). */
  get head (): { seq: number, hash: string } {
    return { seq: this.seq, hash: this.hash }
  }

  /**
   * Appends `decision` (made at `atMs`, default now) as the next entry, signed, on disk. Refuses
   * a decision that does not parse (AuditError); `reason` is cut to its bound, approvals sorted.
   * `with.also`: other records written in the same atomic batch (what the decision takes, such
   * as a request id); `with.synced: false`: no fsync (see Store.batch), for decisions that release
   * nothing a crash could make us forget.
   */
  async append (decision: AuditDecision, atMs = Date.now(), options: { also?: Record<string, unknown>, synced?: boolean } = {}): Promise<AuditEntry> {
    const checked = normaliseDecision(decision)
    return await this.appends.run(async () => {
      const unsigned = { ...checked, seq: this.seq + 1, atMs, node: this.self.node, prev: this.hash }
      const signature = toString(await this.self.sign(auditSigningBytes(unsigned)), 'hex')
      const entry = parseAuditEntry({ ...unsigned, signature })
      await this.store.batch({ json: { ...options.also, [entryName(entry.seq)]: entry } }, { synced: options.synced ?? true })
      this.seq = entry.seq
      this.hash = auditEntryHash(entry)
      return entry
    })
  }

  /**
   * Entries stored under a seq above `after`, oldest first, at most `limit` (up to
   * MAX_AUDIT_PAGE), as they are on disk: verifyChain tells whether they still form the chain.
   */
  async list (after: number, limit: number): Promise<AuditEntry[]> {
    if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`invalid audit seq ${after}`)
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_AUDIT_PAGE) throw new RangeError(`invalid limit ${limit}: 0 to ${MAX_AUDIT_PAGE}`)
    const page = await this.store.listJsonPage<unknown>(ENTRY_PREFIX, entryName(after), limit)
    return page.map(({ name, value }) => parseStored(name, value))
  }

}

/** A stored entry, parsed; one that does not parse is a DataDirError naming it. */
function parseStored (name: string, value: unknown): AuditEntry {
  try {
    return parseAuditEntry(value)
  } catch (err) {
    throw new DataDirError(`the audit entry stored as ${name} is damaged: ${(err as Error).message}`)
  }
}
