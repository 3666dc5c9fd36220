/** Every default and bound of the MPC node, in one place. */

export const DEFAULT_NODE_LISTEN = ['/ip4/0.0.0.0/tcp/0']
export { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../protocols/constants.js'
/** A shorter heartbeat interval is refused as a configuration error. */
export const MIN_HEARTBEAT_INTERVAL_MS = 50
/** How long a first start keeps trying to reach the coordinator before it gives up. */
export const DEFAULT_FIRST_JOIN_TIMEOUT_MS = 30_000
/** How long a first join that waits for the operator's approval keeps asking. */
export const DEFAULT_APPROVAL_WAIT_MS = 60 * 60_000
/** A rejoin (newer roster seen, or our addresses changed) gives up after this long. */
export const REJOIN_TIMEOUT_MS = 10_000
/** Between Join attempts while the coordinator is not reachable. */
export const JOIN_BACKOFF_MS = { first: 250, max: 5_000 }
/** How long a first start waits for its relay reservation before it reports ready anyway. */
export const RESERVATION_WAIT_MS = 5_000
/** The store key of the bootstrap addresses, remembered for restarts. */
export const BOOTSTRAP_RECORD = 'bootstrap'

/** Members a node keeps a direct connection to, beyond the coordinator, for a healthy mesh. */
export const MAX_MEMBER_DIALS = 8
export const MEMBER_DIAL_TIMEOUT_MS = 5_000
/** Between attempts to reconnect to a lost coordinator or members, while the attempts fail. */
export const REDIAL_BACKOFF_MS = { first: 1_000, max: 30_000 }

/**
 * An unspent nonce older than this belongs to a signing session the coordinator abandoned: its
 * second round would have come within the coordinator's round deadline (5 s by default).
 */
export const NONCE_TTL_MS = 60_000
export const NONCE_SWEEP_MS = 10_000
/** Spent markers are kept this long: a late commit or share request for a signed session is refused STALE, and a repeat told from another message (after that, a share request finds no nonce and is refused all the same). */
export const SPENT_MARKER_TTL_MS = 7 * 24 * 60 * 60_000
/** A pending share with no key record this long after its keygen belongs to a keygen that failed. */
export const PENDING_SHARE_TTL_MS = 30 * 60_000

/** Key and session ids in commands: at most this long, of A-Z a-z 0-9 _ -. */
export const MAX_ID_LENGTH = 128

/**
 * A participant still missing DKG messages asks for them once none has come for this long, then
 * waits twice as long before each next ask, up to MAX_NACK_BACKOFF times this.
 */
export const DEFAULT_NACK_INTERVAL_MS = 500
export const MAX_NACK_BACKOFF = 8
/** A finished DKG session keeps answering nacks this long, for participants still behind. */
export const DKG_LINGER_MS = 10_000
/** At most this many DKG sessions run on one node at once. */
export const MAX_LIVE_DKG_SESSIONS = 16
/** Finished DKG session ids remembered (a rerun of one is refused). */
export const MAX_FINISHED_DKG_REMEMBERED = 1024
