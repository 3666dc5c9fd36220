/** The coordinator's defaults and bounds, in one place. */
import type { HealthThresholds } from './health.js'

/** Where `coordinator init` has the coordinator listen for peers, unless `--listen` says otherwise. */
export const DEFAULT_COORDINATOR_LISTEN = ['/ip4/0.0.0.0/tcp/7400']
/** Where `coordinator init` has the user API listen, unless `--api` says otherwise. */
export const DEFAULT_API_LISTEN = '127.0.0.1:7401'

/** The signed roster is re-published this often, so a node that missed a change still converges. */
export const ROSTER_REPUBLISH_MS = 5_000
/** A roster pushed to a member over the command protocol gets this long. */
export const ROSTER_PUSH_TIMEOUT_MS = 3_000
/** Joins waiting for the operator at once: each used an invitation, but the list stays short to read. */
export const MAX_PENDING_JOINS = 64

/** Recorded events go out on the events channel in one batch this often. */
export const EVENT_FLUSH_MS = 250

/** Health is evaluated several times per suspect window (this many), so that a change is seen promptly... */
export const HEALTH_TICKS_PER_SUSPECT_WINDOW = 4
/** ...but no more often than this... */
export const MIN_HEALTH_TICK_MS = 25
/** ...and no less often than this. */
export const MAX_HEALTH_TICK_MS = 250
export const DEFAULT_HEALTH: HealthThresholds = { suspectAfterMs: 3_000, downAfterMs: 6_000 }

/** How often the coordinator looks for members whose addresses need a dial-back (new, changed, or due again). */
export const DIAL_BACK_TICK_MS = 1_000
export const DIAL_BACK_TIMEOUT_MS = 3_000
/** A member's addresses are checked again this long after the last check (and at once when they change). */
export const DIAL_BACK_RECHECK_MS = 5 * 60_000

/**
 * How long a peer that is neither a member nor a join waiting for approval may stay connected to
 * the coordinator: a joining node needs a dial, identify and one Join command (well under a
 * second on a LAN, a few over a slow relayed link), and Join makes it known; a stranger holds
 * a connection slot for no longer than this.
 */
export const DEFAULT_STRANGER_GRACE_MS = 10_000
/**
 * At most this many connected strangers are waited for at once; one more is hung up on at once.
 * Above libp2p's default connection limit (300), so it only bites under a flood of strangers,
 * and then no more timers are kept than this.
 */
export const MAX_WATCHED_STRANGERS = 512

/** An invitation lasts this long unless `--ttl` says otherwise. */
export const DEFAULT_INVITATION_TTL_MS = 24 * 60 * 60_000
/** The longest an invitation may last: an old invitation is a standing way in. */
export const MAX_INVITATION_TTL_MS = 30 * 24 * 60 * 60_000
/** Joins one invitation may admit, at most (a simulation's whole cluster, not an open door). */
export const MAX_INVITATION_USES = 256
/** Unexpired invitations kept at once: each is a row the coordinator stores and lists. */
export const MAX_OPEN_INVITATIONS = 1024
export const MAX_INVITATION_NOTE_LENGTH = 200
/** Used-up and expired invitations are kept this long (so a late join says why), then dropped. */
export const SPENT_INVITATION_KEEP_MS = 7 * 24 * 60 * 60_000
