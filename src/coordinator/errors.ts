/** The coordinator's own errors (TaskError lives with the tasks for now). The API maps each to a status in api.ts. */

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
