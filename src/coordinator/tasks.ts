import type { SignedRequest } from '../protocols/policy.js'
import type { KeyRecord } from '../state/key-registry.js'
import { Admission, type AdmissionLimits } from './admission.js'
import { KeygenTask, type KeygenRequest } from './keygen-task.js'
import type { NoncePools } from './nonce-pools.js'
import { SignTask, type SignOptions, type SignResult } from './sign-task.js'
import { LifecycleTask, type KeyChangeApprovalSet, type LifecycleResult, type ReshareChange } from './lifecycle-task.js'
import type { TaskDeps } from './task-io.js'
import { WalletTask, type BitcoinSendParams, type BitcoinSigned, type SolanaSigned, type SolanaTransferParams } from './wallet-task.js'
import type { BitcoinNetwork } from '../crypto/suites.js'

export type { KeygenRequest } from './keygen-task.js'
export type { SignResult } from './sign-task.js'
export type { KeyChangeApprovalSet, LifecycleResult, ReshareChange } from './lifecycle-task.js'
export type { TaskDeps } from './task-io.js'

/** The client of requests made inside the coordinator's process (tests, the simulation), not through the API. */
export const LOCAL_CLIENT = 'local'

/**
 * The coordinator's tasks, one object for the API and the gossip check: keygen (DKG among
 * members, then an agreement step before anything is recorded; KeygenTask over KeygenSession)
 * and signing (RFC 9591 with the coordinator as aggregator, blame and retry; SignTask over
 * SigningSession). The coordinator only ever sees public data: commitments, signature shares,
 * public packages. Every request passes the admission queue first (admission.ts): bounded,
 * fair across clients, with a wait deadline; a request it does not admit throws AdmissionError.
 */
export class Tasks {
  private readonly keygens: KeygenTask
  private readonly signing: SignTask
  private readonly lifecycle: LifecycleTask
  /** Transactions: building them (no signature, no admission) and signing them (below). */
  readonly wallet: WalletTask
  readonly admission: Admission

  constructor (deps: TaskDeps, admission: Partial<AdmissionLimits> = {}) {
    this.keygens = new KeygenTask(deps)
    this.signing = new SignTask(deps)
    this.lifecycle = new LifecycleTask(deps, this.signing)
    this.wallet = new WalletTask({
      keys: deps.keys,
      sign: async (keyId, message, request, opts) => await this.signing.sign(keyId, message, request, opts),
      signingPublicKey: (key, path) => this.signing.signingPublicKey(key, path)
    })
    this.admission = new Admission(admission)
  }

  /** The holders' preprocessed commitments, as the coordinator holds them (one-round signing). */
  get pools (): NoncePools {
    return this.signing.pools
  }

  /** Participants of a keygen running now (the coordinator relays their rounds), or undefined. */
  sessionParticipants (sessionId: string): readonly string[] | 'ended' | undefined {
    return this.keygens.sessionParticipants(sessionId) ?? this.lifecycle.sessionParticipants(sessionId)
  }

  async keygen (req: KeygenRequest, client = LOCAL_CLIENT): Promise<KeyRecord> {
    return await this.admission.run('keygen', client, async () => await this.keygens.keygen(req))
  }

  /** A signature for the client's signed `request` (policy.ts); `client` names its share of the admission queue. */
  async sign (keyId: string, message: Uint8Array, request: SignedRequest | undefined, client = LOCAL_CLIENT, opts: SignOptions = {}): Promise<SignResult> {
    return await this.admission.run('sign', client, async () => await this.signing.sign(keyId, message, request, opts))
  }

  /** Every input of ours in a PSBT signed and the transaction finalised; one request in the admission queue, however many inputs. */
  async bitcoinPsbt (keyId: string, psbt: Uint8Array, network: BitcoinNetwork, request: SignedRequest | undefined, path?: string, client = LOCAL_CLIENT): Promise<BitcoinSigned> {
    return await this.admission.run('sign', client, async () => await this.wallet.bitcoinPsbt(keyId, psbt, network, request, path))
  }

  /** A spend of the key's coins built and signed (the request names the PSBT `wallet.bitcoinBuild` gives). */
  async bitcoinSend (keyId: string, params: BitcoinSendParams, request: SignedRequest | undefined, path?: string, client = LOCAL_CLIENT): Promise<BitcoinSigned> {
    return await this.admission.run('sign', client, async () => await this.wallet.bitcoinSend(keyId, params, request, path))
  }

  /** A Solana transfer from the key built and signed (the request names the message `wallet.solanaBuild` gives). */
  async solanaTransfer (keyId: string, params: SolanaTransferParams, request: SignedRequest | undefined, path?: string, client = LOCAL_CLIENT): Promise<SolanaSigned> {
    return await this.admission.run('sign', client, async () => await this.wallet.solanaTransfer(keyId, params, request, path))
  }

  /** New shares for the key's holders (same threshold); runs as a keygen does in the admission queue. */
  async refresh (keyId: string, client = LOCAL_CLIENT): Promise<LifecycleResult> {
    return await this.admission.run('keygen', client, async () => await this.lifecycle.refresh(keyId))
  }

  /** The key to a new committee and/or threshold. */
  async reshare (keyId: string, change: ReshareChange, client = LOCAL_CLIENT): Promise<LifecycleResult> {
    return await this.admission.run('keygen', client, async () => await this.lifecycle.reshare(keyId, change))
  }

  /** A share dealt anew to `holder` (which lost it), or to `replacement` in its place. */
  async repair (keyId: string, holder: string, replacement?: string, approval?: KeyChangeApprovalSet, client = LOCAL_CLIENT): Promise<LifecycleResult> {
    return await this.admission.run('keygen', client, async () => await this.lifecycle.repair(keyId, holder, replacement, approval))
  }

  /** Refuses queued and later requests (the coordinator stops). */
  close (): void {
    this.admission.close()
  }
}
