import { CryptoInputError } from './errors.js'

/** What every state of one session shares: whether it failed, and its latest state (the only one that may go on). */
export interface SessionCore<S> {
  failed: boolean
  latest?: S
}

/**
 * The state handling of the crypto session machines (dkg.ts, reshare.ts): a state is a frozen
 * public view, its snapshot (what it has received, its secrets) is kept out of reach in a
 * WeakMap, and a session is linear: only its latest state may be continued, and none once it
 * failed. Each refusal is a CryptoInputError naming the kind of session.
 */
export class SessionStates<S extends object, Snap extends { core: SessionCore<S> }> {
  private readonly snapshots = new WeakMap<S, Snap>()

  /** `kind` names the session in errors ("DKG"), `makers` the calls that make its states. */
  constructor (private readonly kind: string, private readonly makers: string) {}

  /** Registers `state` (frozen by the caller) as the session's latest. */
  make (state: S, snap: Snap): S {
    this.snapshots.set(state, snap)
    snap.core.latest = state
    return state
  }

  /** The snapshot behind `state`; with `forUpdate`, only if the session may go on from it. */
  of (state: S, forUpdate: boolean): Snap {
    const snap = typeof state === 'object' && state !== null ? this.snapshots.get(state) : undefined
    if (snap === undefined) throw new CryptoInputError(`not a ${this.kind} state made by ${this.makers}`)
    if (forUpdate) {
      if (snap.core.failed) throw new CryptoInputError(`this ${this.kind} session has failed; start a new one`)
      if (snap.core.latest !== state) throw new CryptoInputError(`stale ${this.kind} state: continue from the latest state of the session`)
    }
    return snap
  }
}

/**
 * The sender of an inbound session message, checked the same way by every session: a message
 * object from a named participant other than ourselves. The name is the gossip-signed author
 * the driver put there, never a field the sender chose; `kind` names the session in the errors.
 */
export function checkedSender (kind: string, msg: unknown, self: string, participates: (name: string) => boolean, maxNameLength: number): string {
  if (typeof msg !== 'object' || msg === null) throw new CryptoInputError(`${kind} message missing`)
  const from: unknown = (msg as { from?: unknown }).from
  if (typeof from !== 'string') throw new CryptoInputError(`${kind} message has no sender`)
  if (from === self) throw new CryptoInputError(`a ${kind} message from self cannot be received`)
  if (!participates(from)) throw new CryptoInputError(`${kind} sender ${from.slice(0, maxNameLength)} is not a participant of this session`)
  return from
}
