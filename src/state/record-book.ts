import { toString, fromString } from 'uint8arrays'
import { Serial } from '../serial.js'
import { digestOf, openRecord, type RecordEntry, type VerifiedKeyRecord, type VerifiedRecord } from '../protocols/records.js'
import type { PolicyBook } from './policy-book.js'
import type { Policy } from '../protocols/policy.js'
import { toHex } from '../crypto/bytes.js'
import type { SignedRecord, StateDigest } from '../protocols/messages.js'
import type { Store } from '../store/store.js'
import type { PeerId } from '@libp2p/interface'

interface StoredRecord {
  id: string
  version: number
  bodyHash: string
  body: string
  signature: string
}

export type ApplyOutcome = 'added' | 'updated' | 'unchanged' | 'stale' | 'conflict-kept' | 'conflict-replaced'

/**
 * The synced records this peer holds (key records and policy versions), each verified before it
 * is stored, in the store under `record:<id>` and in memory for digests. Only a newer version
 * replaces a key record; two different bodies at one version are a conflict: the body with the
 * lower hash wins everywhere (so every peer keeps the same one), and the conflict is counted and
 * reported. A policy version is stored only if the policy book can adopt it next (the admins of
 * the version before signed it), and once stored is never replaced.
 */
export class RecordBook {
  private readonly records = new Map<string, VerifiedRecord>()
  private readonly writes = new Serial()
  private changes = 0
  private lastDigest: StateDigest | undefined
  conflicts = 0

  constructor (private readonly store: Store, readonly clusterId: string, readonly writer: PeerId, readonly policies: PolicyBook) {}

  /** Reads every record back, policy versions in order into the policy book. */
  async load (): Promise<void> {
    for (const { value } of await this.store.listJson<StoredRecord>('record:')) {
      const signed: SignedRecord = { id: value.id, version: value.version, body: fromString(value.body, 'base64'), signature: fromString(value.signature, 'base64') }
      const record = await this.verify(signed)
      if (record.kind === 'policy') this.policies.adopt(record.document)
      this.records.set(value.id, record)
    }
  }

  /** Verifies a record (writer's signature; a key's holders' countersignatures) without applying it. */
  async verify (signed: SignedRecord): Promise<VerifiedRecord> {
    return await openRecord(signed, { clusterId: this.clusterId, coordinator: this.writer })
  }

  get (id: string): VerifiedRecord | undefined {
    return this.records.get(id)
  }

  all (): VerifiedRecord[] {
    return [...this.records.values()]
  }

  /** The key records. */
  keys (): VerifiedKeyRecord[] {
    return this.all().filter((r): r is VerifiedKeyRecord => r.kind === 'key')
  }

  entries (): RecordEntry[] {
    return this.all().map(r => ({ id: r.signed.id, version: r.signed.version, bodyHash: r.bodyHash }))
  }

  /** Counts the changes to the records: equal values mean the same records. */
  get generation (): number {
    return this.changes
  }

  /** The digest is asked for at every heartbeat and every peer's digest; it is computed once per change. */
  digest (rosterEpoch: number): StateDigest {
    if (this.lastDigest?.rosterEpoch !== rosterEpoch) this.lastDigest = digestOf(rosterEpoch, this.entries())
    return this.lastDigest
  }

  /**
   * Stores a verified record if it is new, newer, or the winner of a conflict at its version. A
   * policy version the policy book cannot adopt next throws its PolicyError.
   */
  async apply (record: VerifiedRecord): Promise<ApplyOutcome> {
    return await this.writes.run(async (): Promise<ApplyOutcome> => {
      const current = this.records.get(record.signed.id)
      let outcome: ApplyOutcome
      let policy: Policy | undefined
      if (record.kind === 'policy') {
        if (current !== undefined) {
          if (toHex(record.bodyHash) === toHex(current.bodyHash)) return 'unchanged'
          this.conflicts++
          return 'conflict-kept'
        }
        policy = this.policies.check(record.document)
        outcome = 'added'
      } else if (current === undefined) outcome = 'added'
      else if (record.signed.version < current.signed.version) return 'stale'
      else if (record.signed.version > current.signed.version) outcome = 'updated'
      else if (toHex(record.bodyHash) === toHex(current.bodyHash)) return 'unchanged'
      else {
        this.conflicts++
        if (toHex(record.bodyHash) > toHex(current.bodyHash)) return 'conflict-kept'
        outcome = 'conflict-replaced'
      }
      await this.store.putJson(`record:${record.signed.id}`, {
        id: record.signed.id,
        version: record.signed.version,
        bodyHash: toHex(record.bodyHash),
        body: toString(record.signed.body, 'base64'),
        signature: toString(record.signed.signature, 'base64')
      } satisfies StoredRecord)
      if (record.kind === 'policy') this.policies.adopt(record.document, policy)
      this.records.set(record.signed.id, record)
      this.changes++
      this.lastDigest = undefined
      return outcome
    })
  }
}
