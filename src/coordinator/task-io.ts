/**
 * What the coordinator's tasks share: their dependencies, sending one command to many members,
 * and recording a failed session as events. Keygen and signing judge in their sessions
 * (keygen-session.ts, signing-session.ts); this only carries out what they decide.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { randomBytes } from 'node:crypto'
import { sendCommand, type CommandKind, type CommandRequests, type CommandResponses } from '../protocols/command.js'
import { CommandRefusedError, CommandTransportError } from '../protocols/errors.js'
import { ErrorCode, EventKind, type Event, type SignedRecord } from '../protocols/messages.js'
import type { HealthState } from './health.js'
import type { PolicyAdmin } from './policy-admin.js'
import type { AdminSet } from '../protocols/policy.js'
import { culpritsOf, summary, type Failure, type RoundAnswers } from './signing-session.js'
import type { KeyAgreement, KeyRecord, KeyRegistry } from '../state/key-registry.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { Logger } from '../log.js'

export interface TaskDeps {
  libp2p: MpcLibp2p
  clusterId: () => string
  members: () => string[]
  health: (peerId: string) => HealthState
  /** The nonce pool epoch in a member's last heartbeat, if any (NoncePools). */
  poolEpoch: (peerId: string) => Uint8Array | undefined
  keys: KeyRegistry
  /** Signs and stores a key record (at key.version) with the holders' countersignatures, and publishes it. */
  recordKey: (key: KeyRecord, agreement: KeyAgreement) => Promise<SignedRecord>
  record: (event: Partial<Event> & { kind: EventKind }) => Promise<void>
  /** The admins in force: a quorum of them approves dealing a key to new holders (key-change.ts). */
  admins: () => AdminSet | undefined
  /** The coordinator's own policy check of a sign request, and the count of one completed. */
  policy: Pick<PolicyAdmin, 'check' | 'signed'>
  log: Logger
  keygenTimeoutMs?: number
  signRoundTimeoutMs?: number
  faults?: TaskFaults
}

/** What a test can make the coordinator's tasks do wrong (never set by the CLI). */
export interface TaskFaults {
  /** Runs after a lifecycle change recorded the key's new version, before the commit goes out (a crash there when it throws). */
  afterLifecycleRecord?: () => void | Promise<void>
}

/** The most of a failure's summary kept in an event's `detail`. */
const MAX_DETAIL = 512

export function newSessionId (): string {
  return randomBytes(16).toString('base64url')
}

export const bytesOf = (peerIds: readonly string[]): Uint8Array[] => peerIds.map(p => peerIdFromString(p).toMultihash().bytes)

/** Each peer's answer to one command, or the failure of the command to it. */
export interface FanOut<K extends CommandKind> extends RoundAnswers<CommandResponses[K]> {
  ok: Map<string, CommandResponses[K]>
  failed: Map<string, unknown>
}

/** A resend needs at least this much of the command's deadline left to be worth a fresh connection. */
export const MIN_RESEND_MS = 500

/**
 * Sends one command to each of `peers` at once; each either answers or fails. `onError` sees each
 * failure as it happens. With `resend`, a command that failed on transport before its deadline
 * (reset stream, closed or stale connection, failed dial) is sent once more on a fresh connection
 * within what is left of the deadline (see sendResending): only for commands a node can safely
 * receive twice.
 */
export async function fanOut<K extends CommandKind> (
  deps: Pick<TaskDeps, 'libp2p' | 'clusterId'>, peers: readonly string[], kind: K, body: (peer: string) => CommandRequests[K], timeoutMs: number, onError?: (err: unknown) => void,
  resend = false
): Promise<FanOut<K>> {
  const send = resend ? sendResending : sendOnce
  const settled = await Promise.allSettled(peers.map(async p => await send(deps, p, kind, body(p), timeoutMs).catch((err: unknown) => {
    onError?.(err)
    throw err
  })))
  const ok = new Map<string, CommandResponses[K]>()
  const failed = new Map<string, unknown>()
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') ok.set(peers[i]!, r.value)
    else failed.set(peers[i]!, r.reason)
  })
  return { ok, failed }
}

async function sendOnce<K extends CommandKind> (deps: Pick<TaskDeps, 'libp2p' | 'clusterId'>, peer: string, kind: K, body: CommandRequests[K], timeoutMs: number): Promise<CommandResponses[K]> {
  return await sendCommand(deps.libp2p, peerIdFromString(peer), deps.clusterId(), kind, body, timeoutMs)
}

/**
 * Sends a command; if it fails on transport with at least MIN_RESEND_MS of its deadline left,
 * closes the connection it failed on (it may be stale: the peer crashed and came back, or the link
 * broke unnoticed) and sends it once more, on another connection or a fresh one, within the time
 * left. A failure at the deadline is not resent (no time is left for it). Only that connection is
 * closed: another one to the peer (a restarted peer's own dial, say) may be sound, and closing it
 * left a redial to the peerstore's addresses, some of them the dead process's ports.
 *
 * The first command's outcome at the peer is unknown: it may have been carried out. A resend is
 * for commands a node can receive twice without harm. For signCommit it is: the node stores
 * nonces for a session once and refuses a second commit for it as STALE, so a resend either
 * commits (the first never arrived) or is refused; that refusal was caused by our own first
 * command, so the first transport failure is reported instead (it proves nothing new against the
 * peer). Never signShare: a second signShare for a session is refused (the nonce is spent), and
 * round two after an unknown outcome is a new attempt with fresh commitments (signing-session.ts).
 */
async function sendResending<K extends CommandKind> (deps: Pick<TaskDeps, 'libp2p' | 'clusterId'>, peer: string, kind: K, body: CommandRequests[K], timeoutMs: number): Promise<CommandResponses[K]> {
  if (kind === 'signShare') throw new Error('signShare is never resent')
  const sentAt = Date.now()
  const peerId = peerIdFromString(peer)
  try {
    return await sendCommand(deps.libp2p, peerId, deps.clusterId(), kind, body, timeoutMs)
  } catch (first) {
    const left = timeoutMs - (Date.now() - sentAt)
    if (!(first instanceof CommandTransportError) || left < MIN_RESEND_MS) throw first
    const failedOn = deps.libp2p.getConnections(peerId).find(c => c.id === first.connectionId)
    failedOn?.abort(new CommandTransportError(`a ${kind} to ${peer} failed on this connection`))
    try {
      return await sendCommand(deps.libp2p, peerId, deps.clusterId(), kind, body, left)
    } catch (second) {
      if (second instanceof CommandRefusedError && second.code === ErrorCode.STALE) throw first
      throw second
    }
  }
}

/**
 * Records a failed session: a BLAME per culprit the coordinator proved, a BLAME_CLAIM per
 * member's claim (the claimant in `peerId`, the peers it named in `accused`), then SESSION_FAILED
 * with the proven culprits only.
 */
export async function recordFailure (deps: Pick<TaskDeps, 'record' | 'log'>, operation: string, sessionId: string, keyId: string, failure: Failure): Promise<void> {
  for (const { peer, reason } of failure.proven) {
    await deps.record({ kind: EventKind.BLAME, operation, sessionId, keyId, peerId: peerIdFromString(peer).toMultihash().bytes, detail: reason.slice(0, MAX_DETAIL) })
  }
  for (const claim of failure.claims) {
    await deps.record({
      kind: EventKind.BLAME_CLAIM, operation, sessionId, keyId, peerId: peerIdFromString(claim.claimant).toMultihash().bytes, accused: bytesOf(claim.accused), detail: claim.reason.slice(0, MAX_DETAIL)
    })
  }
  const culprits = culpritsOf(failure)
  const reason = summary(failure)
  await deps.record({ kind: EventKind.SESSION_FAILED, operation, sessionId, keyId, detail: reason.slice(0, MAX_DETAIL), culprits: bytesOf(culprits) })
  deps.log.warn({ operation, sessionId, keyId, culprits, claims: failure.claims, reason }, 'session failed')
}
