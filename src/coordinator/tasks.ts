import type { KeyRecord } from '../state/key-registry.js'
import { KeygenTask, type KeygenRequest } from './keygen-task.js'
import { SignTask, type SignResult } from './sign-task.js'
import type { TaskDeps } from './task-io.js'

export type { KeygenRequest } from './keygen-task.js'
export type { SignResult } from './sign-task.js'
export type { TaskDeps } from './task-io.js'

/**
 * The coordinator's tasks, one object for the API and the gossip check: keygen (DKG among
 * members, then an agreement step before anything is recorded; KeygenTask over KeygenSession)
 * and signing (RFC 9591 with the coordinator as aggregator, blame and retry; SignTask over
 * SigningSession). The coordinator only ever sees public data: commitments, signature shares,
 * public packages.
 */
export class Tasks {
  private readonly keygens: KeygenTask
  private readonly signing: SignTask

  constructor (deps: TaskDeps) {
    this.keygens = new KeygenTask(deps)
    this.signing = new SignTask(deps)
  }

  /** Participants of a keygen running now (the coordinator relays their rounds), or undefined. */
  sessionParticipants (sessionId: string): readonly string[] | undefined {
    return this.keygens.sessionParticipants(sessionId)
  }

  async keygen (req: KeygenRequest): Promise<KeyRecord> {
    return await this.keygens.keygen(req)
  }

  async sign (keyId: string, message: Uint8Array): Promise<SignResult> {
    return await this.signing.sign(keyId, message)
  }
}
