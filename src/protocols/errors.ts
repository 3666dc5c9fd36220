import { ErrorCode } from './messages.js'

/**
 * What gossipsub should do with a message that failed validation: `reject` when it is invalid
 * whatever our local state (malformed, wrong cluster, oversized), `ignore` when it may only look
 * wrong because this node is behind (an author not yet in our roster) or is done with it (a
 * round of a session that ended here).
 */
export type GossipVerdict = 'ignore' | 'reject'

/** Why an inbound gossip message was not accepted; the reason is the metrics label. */
export type GossipRejectReason =
  | 'oversized'
  | 'malformed'
  | 'bad-version'
  | 'wrong-cluster'
  | 'wrong-channel'
  | 'unsigned'
  | 'unknown-sender'
  | 'not-coordinator'
  | 'bad-signature'
  | 'ended-session'
  | 'not-participant'
  | 'stale'

export class GossipValidationError extends Error {
  override name = 'GossipValidationError'
  constructor (readonly verdict: GossipVerdict, readonly reason: GossipRejectReason, message: string) {
    super(message)
  }
}

/** A refused command, carried back to the caller as a CommandError with this code. */
export class CommandRefusedError extends Error {
  override name = 'CommandRefusedError'
  /** With ErrorCode.BLAME: the PeerIds (strings) at fault; with POLICY_DENIED: the rule that failed. */
  constructor (readonly code: ErrorCode, message: string, readonly culprits: string[] = [], readonly rule = '') {
    super(message)
  }
}

/**
 * A refusal for load: the peer is at its own limit (ErrorCode.BUSY). It proves nothing against
 * the peer and accuses no one; the caller asks again later.
 */
export function isBusyRefusal (err: unknown): err is CommandRefusedError {
  return err instanceof CommandRefusedError && err.code === ErrorCode.BUSY
}

/** Bytes that do not decode as the schema says, or break a bound. */
export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError'
}

/**
 * The command could not be delivered or answered: dial failure, reset stream, deadline.
 * `connectionId` names the connection it failed on, when it got as far as one.
 */
export class CommandTransportError extends Error {
  override name = 'CommandTransportError'
  constructor (message: string, readonly connectionId?: string) {
    super(message)
  }
}

/**
 * A client error the API answers with its status and a message; never a 500 for bad input.
 * `headers` go on the response (Retry-After on 429 and 503).
 */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor (readonly status: number, readonly code: string, message: string, readonly details?: Record<string, unknown>, readonly headers?: Record<string, string>) {
    super(message)
  }
}
