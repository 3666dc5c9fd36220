/** The coordinator's own errors. The API maps each to a status in api.ts. */
import type { Claim } from './signing-session.js'

export type MembershipErrorCode = 'bad_request' | 'not_found' | 'conflict' | 'limit'

/** An operator's membership request that cannot be done; the code maps to an HTTP status. */
export class MembershipError extends Error {
  override name = 'MembershipError'
  constructor (readonly code: MembershipErrorCode, message: string) {
    super(message)
  }
}

/** An invitation that cannot be made (bad options, too many open) or used (unknown, expired, used up). */
export class InvitationError extends Error {
  override name = 'InvitationError'
}

export type TaskErrorCode = 'bad_request' | 'not_found' | 'unavailable' | 'failed' | 'busy' | 'policy_denied' | 'request_spent' | 'conflict'

/**
 * A task that could not run or did not succeed. `culprits` are only the peers the coordinator
 * proved at fault by its own checks; `claims` are what members said of each other, unproven.
 * `busy`: members refused for load; nobody is at fault; ask again after `retryAfterMs`.
 * `policy_denied`: the policy check (the coordinator's, or the nodes') refused; `rule` names it.
 * `conflict`: another change of the same key is at work (refresh, reshare, repair).
 * `request_spent`: holders released shares in an attempt that made no signature, and too few
 * others remain: the client asks again with a new request (policy.ts withNewRequests).
 */
export class TaskError extends Error {
  override name = 'TaskError'
  constructor (readonly code: TaskErrorCode, message: string, readonly culprits: string[] = [], readonly claims: Claim[] = [], readonly retryAfterMs?: number, readonly rule?: string) {
    super(message)
  }
}

export type SessionStepErrorCode = 'out_of_order' | 'wrong_session' | 'bad_answers' | 'bad_params'

/**
 * A step of a keygen or signing session misused: called out of order, for another session, or
 * with answers or parameters that do not fit. The session is left as it was.
 */
export class SessionStepError extends Error {
  override name = 'SessionStepError'
  constructor (readonly code: SessionStepErrorCode, message: string) {
    super(message)
  }
}
