import { adminSetHash, parseAdminSet, PolicyError, verifyPolicyUpdate, type AdminSet, type Policy, type SignedPolicy } from '../protocols/policy.js'
import type { Store } from '../store/store.js'

const ROOT_RECORD = 'policy-root'

/**
 * The signing policy in force on this peer (issue 12). Its trust root is the admin set fixed when
 * the cluster was made (a node checks it against the hash its invitation carries); version 1 must
 * be signed by a quorum of that set, and every later version by a quorum of the admins of the
 * version before it, one version at a time. The versions themselves are synced records on disk
 * (RecordBook, `policy:<version>`), which hands each to `adopt` in order, at load and when a new
 * one arrives; this book holds the root (on disk) and the chain's head (in memory).
 */
export class PolicyBook {
  private root: AdminSet | undefined
  private signed: SignedPolicy | undefined

  private constructor (private readonly store: Store, readonly clusterId: string) {}

  static async open (store: Store, clusterId: string): Promise<PolicyBook> {
    const book = new PolicyBook(store, clusterId)
    const root = await store.getJson<unknown>(ROOT_RECORD)
    if (root !== undefined) book.root = parseAdminSet(root)
    return book
  }

  /** The policy in force, if any. */
  get current (): Policy | undefined {
    return this.signed?.policy
  }

  /** Its version; 0 before the first. */
  get version (): number {
    return this.signed?.policy.version ?? 0
  }

  /** The signed document in force, as it travels to other peers. */
  get document (): SignedPolicy | undefined {
    return this.signed
  }

  get rootAdmins (): AdminSet | undefined {
    return this.root
  }

  /** The admins whose quorum signs the next version: those of the version in force, or the root. */
  get admins (): AdminSet | undefined {
    return this.signed?.policy.admins ?? this.root
  }

  /**
   * Fixes the trust root: the admin set of the cluster's creation. `expectedHash` (from an
   * invitation) must match it; once fixed, only the same set is accepted again.
   */
  async setRoot (admins: AdminSet, expectedHash?: string): Promise<void> {
    const set = parseAdminSet(admins)
    const hash = adminSetHash(set)
    if (expectedHash !== undefined && hash !== expectedHash) throw new PolicyError('quorum', `the admin set presented (hash ${hash.slice(0, 16)}…) is not the one the invitation names (${expectedHash.slice(0, 16)}…)`)
    if (this.root !== undefined) {
      if (adminSetHash(this.root) !== hash) throw new PolicyError('quorum', 'this peer already trusts another admin set')
      return
    }
    await this.store.putJson(ROOT_RECORD, set)
    this.root = set
  }

  /**
   * Whether `signed` may follow the version in force: the next version exactly, for this
   * cluster, signed by a quorum of the current admins (the root's for version 1). Changes
   * nothing; throws PolicyError with the rule otherwise.
   */
  check (signed: SignedPolicy): Policy {
    const admins = this.admins
    if (admins === undefined) throw new PolicyError('quorum', 'no admin set is trusted yet: a policy cannot be checked')
    const policy = verifyPolicyUpdate(signed, { clusterId: this.clusterId, version: this.version, admins })
    if (policy.version !== this.version + 1) throw new PolicyError('skipped-version', `policy version ${policy.version} cannot follow version ${this.version}: versions are adopted one at a time`)
    return policy
  }

  /**
   * Puts the next version in force (the caller has it on disk first): `policy` is what `check`
   * returned for it, with nothing adopted since; without it, `signed` is checked here.
   */
  adopt (signed: SignedPolicy, policy: Policy = this.check(signed)): Policy {
    this.signed = { policy, signatures: signed.signatures }
    return policy
  }
}
