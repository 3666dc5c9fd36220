import { adminSetHash, parseAdminSet, parsePolicy, PolicyError, verifyPolicyUpdate, type AdminSet, type Policy, type SignedPolicy } from '../protocols/policy.js'
import type { Store } from '../store/store.js'

const ROOT_RECORD = 'policy-root'
const POLICY_RECORD = 'policy'

/**
 * The signing policy in force on this peer, on disk (issue 12). Its trust root is the admin set
 * fixed when the cluster was made (a node checks it against the hash its invitation carries);
 * the first policy version must be signed by a quorum of that set, and every later one by a
 * quorum of the admins of the version before it. Versions only go up, across restarts too;
 * updates are applied one at a time.
 */
export class PolicyBook {
  private root: AdminSet | undefined
  private signed: SignedPolicy | undefined
  private policy: Policy | undefined
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (private readonly store: Store, private readonly clusterId: string) {}

  static async open (store: Store, clusterId: string): Promise<PolicyBook> {
    const book = new PolicyBook(store, clusterId)
    const root = await store.getJson<unknown>(ROOT_RECORD)
    if (root !== undefined) book.root = parseAdminSet(root)
    const signed = await store.getJson<SignedPolicy>(POLICY_RECORD)
    if (signed !== undefined) {
      book.signed = signed
      // Verified when it was adopted; parsed again to catch a damaged record.
      book.policy = parsePolicy(signed.policy)
    }
    return book
  }

  /** The policy in force, if any. */
  get current (): Policy | undefined {
    return this.policy
  }

  /** Its version; 0 before the first. */
  get version (): number {
    return this.policy?.version ?? 0
  }

  /** The signed document in force, as it travels to other peers. */
  get document (): SignedPolicy | undefined {
    return this.signed
  }

  get rootAdmins (): AdminSet | undefined {
    return this.root
  }

  /**
   * Fixes the trust root: the admin set of the cluster's creation. `expectedHash` (from an
   * invitation) must match it; once fixed, only the same set is accepted again.
   */
  async setRoot (admins: AdminSet, expectedHash?: string): Promise<void> {
    await this.serial(async () => {
      const set = parseAdminSet(admins)
      const hash = adminSetHash(set)
      if (expectedHash !== undefined && hash !== expectedHash) throw new PolicyError('quorum', `the admin set presented (hash ${hash.slice(0, 16)}…) is not the one the invitation names (${expectedHash.slice(0, 16)}…)`)
      if (this.root !== undefined) {
        if (adminSetHash(this.root) !== hash) throw new PolicyError('quorum', 'this peer already trusts another admin set')
        return
      }
      await this.store.putJson(ROOT_RECORD, set)
      this.root = set
    })
  }

  /**
   * Adopts a new policy version if it is newer than the one in force and signed by a quorum of
   * the current admins (the root's for the first version); refuses it with the rule otherwise.
   * On disk before it is in force.
   */
  async adopt (signed: SignedPolicy): Promise<Policy> {
    return await this.serial(async () => {
      const admins = this.policy?.admins ?? this.root
      if (admins === undefined) throw new PolicyError('quorum', 'no admin set is trusted yet: a policy cannot be checked')
      const policy = verifyPolicyUpdate(signed, { clusterId: this.clusterId, version: this.version, admins })
      const stored: SignedPolicy = { policy, signatures: signed.signatures }
      await this.store.putJson(POLICY_RECORD, stored)
      this.signed = stored
      this.policy = policy
      return policy
    })
  }

  private async serial<T> (work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work)
    this.queue = run.catch(() => {})
    return await run
  }
}
