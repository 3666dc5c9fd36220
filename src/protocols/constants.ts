/** Wire version carried in every gossip message and command request. */
export const WIRE_VERSION = 1

/**
 * The command protocol as data: one length-prefixed request and one response per stream.
 * `maxBytes`: the largest request or response (a longer length prefix is refused unread);
 * `timeoutMs`: the default deadline of one exchange, from dial to decoded response;
 * `maxStreams`: the concurrent command streams one connection may hold, each way.
 */
export const COMMAND = {
  id: '/mpc-wallet/command/1.0.0',
  maxBytes: 64 * 1024,
  timeoutMs: 5_000,
  maxStreams: 32
} as const

/** A whole keygen (DKG and agreement), when the request names no deadline: both sides use it. */
export const DEFAULT_KEYGEN_TIMEOUT_MS = 30_000
/** A keygen's default deadline among `parties` members: 30 s, and 3 s per participant above 10 (a 10-of-20 DKG on a loaded host). */
export function keygenTimeoutFor (parties: number): number {
  return Math.max(DEFAULT_KEYGEN_TIMEOUT_MS, parties * 3_000)
}
/** The longest keygen deadline a node accepts from a request. */
export const MAX_KEYGEN_TIMEOUT_MS = 300_000
/** Each signing round at each signer (and the short commands around a session: abort, key commit). */
export const DEFAULT_SIGN_ROUND_TIMEOUT_MS = 5_000

/**
 * Heartbeats: a member beats every DEFAULT_HEARTBEAT_INTERVAL_MS (or its configured interval) in
 * a cluster of up to 5 members. Every member receives every heartbeat (a signature check and a
 * few forwarded copies, about 3.5 ms of CPU per heartbeat per member on a 2-core host), so the
 * cluster's cost grows with the square of its size; above 5 members the interval grows with the
 * roster instead (HEARTBEAT_MS_PER_MEMBER per member at the default interval), so that all
 * members together send at most 5 heartbeats a second (at 20 members one every 4 s, at 50 one
 * every 10 s). The coordinator stretches its health thresholds by the same factor.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000
export const HEARTBEAT_MS_PER_MEMBER = 200

/** How many times longer than configured heartbeat intervals are in a cluster of `members` (1 up to 5 members). */
export function heartbeatStretch (members: number): number {
  return Math.max(1, members * HEARTBEAT_MS_PER_MEMBER / DEFAULT_HEARTBEAT_INTERVAL_MS)
}

/** A member's heartbeat interval in a cluster of `members`, configured as `configuredMs`. */
export function heartbeatIntervalFor (configuredMs: number, members: number): number {
  return configuredMs * heartbeatStretch(members)
}

/**
 * State digests: every peer publishes one every DEFAULT_DIGEST_INTERVAL_MS (and when its records
 * change); above 10 members the interval grows by DIGEST_MS_PER_MEMBER per member, so that the
 * cluster's periodic digests stay at most 2 a second (a joining or restarting node does not wait
 * for them: it pulls from the coordinator as soon as it has joined).
 */
export const DEFAULT_DIGEST_INTERVAL_MS = 5_000
export const DIGEST_MS_PER_MEMBER = 500

/** A peer's periodic digest interval in a cluster of `members`. */
export function digestIntervalFor (members: number): number {
  return Math.max(DEFAULT_DIGEST_INTERVAL_MS, members * DIGEST_MS_PER_MEMBER)
}

/** Per-channel size limits for one gossip message payload, in bytes. */
export const MAX_GOSSIP_BYTES = {
  rounds: 64 * 1024,
  state: 64 * 1024,
  heartbeats: 1024,
  events: 64 * 1024
} as const

/** Events in one gossip message on the events channel. */
export const MAX_EVENTS_PER_BATCH = 64

/** Bounds on repeated fields and strings inside a decoded message. */
export const MAX_MEMBERS = 256
export const MAX_ADDRS_PER_MEMBER = 16
export const MAX_ADDR_BYTES = 256
/**
 * The largest encoded roster. A roster travels whole in a Join answer and a rosterUpdate command
 * (MAX_COMMAND_BYTES) and in a gossip message on `state` (MAX_GOSSIP_BYTES.state); this leaves
 * room for the signature and the envelopes. A change that would make it larger is refused.
 */
export const MAX_ROSTER_BYTES = 60 * 1024
export const MAX_CLUSTER_ID_LENGTH = 64
export const MAX_TOKEN_LENGTH = 256
export const MAX_SESSION_ID_LENGTH = 128
export const MAX_VERSION_STRING_LENGTH = 64
export const MAX_ERROR_MESSAGE_LENGTH = 512

/** Domain separation for the coordinator's roster signature. */
export const ROSTER_SIGNATURE_DOMAIN = 'mpc-wallet/roster/1'

/**
 * Audit entries in one fetchAudit answer: each is under 3 KiB (under 1 KiB without a transaction;
 * one lists at most 8 outputs), so the answer stays in COMMAND.maxBytes.
 */
export const MAX_AUDIT_PER_FETCH = 20

/** Anti-entropy pages: record versions per list answer, records per fetch. */
export const MAX_RECORDS_PER_LIST = 500
export const MAX_RECORDS_PER_FETCH = 32

/**
 * Nonce pools (issue 13, RFC 9591 5.1's preprocessing): unused nonces a node keeps per key for
 * one-round signing, by default and at most. The coordinator refills a holder's pool when it has
 * fewer than the low-water mark of its commitments left.
 */
export const DEFAULT_NONCE_POOL = 32
export const MAX_NONCE_POOL = 256
export const NONCE_POOL_LOW_WATER = 0.25
