import type { NodeFaults } from '../runtime/faults.js'
import type { EventRetention } from '../state/event-retention.js'
import type { Logger } from '../log.js'

export interface NodeOptions {
  dataDir: string
  log: Logger
  listen?: string[]
  announce?: string[]
  /** Advertise no address of our own, only relay (`/p2p-circuit`) addresses: see PeerInit.noAnnounce. */
  noAnnounce?: boolean
  /**
   * Also listen on `/p2p-circuit`: hold a circuit relay v2 reservation on a relay this node is
   * connected to (the coordinator, its bootstrap peer, runs one for roster members), so peers
   * that cannot dial it directly reach it through `<relay addr>/p2p-circuit/p2p/<node>`.
   * Undefined: on when the node needs it (see `needsRelay`: it is behind NAT, its bootstrap is
   * public, and it announces no address of its own).
   */
  relay?: boolean
  /**
   * Once this node has a roster, refuse inbound connections from peers that are neither the
   * coordinator nor roster members (it may still dial anyone; the roster is read at each
   * connection, so new members are admitted as soon as the roster naming them arrives). On unless
   * false: a cluster node has no business with strangers once it is a member.
   */
  membersOnly?: boolean
  /** Multiaddrs to dial first; remembered for restarts. */
  bootstrap?: string[]
  /** Needed on the first start only; later starts rejoin as a known member. */
  joinToken?: string
  heartbeatIntervalMs?: number
  firstJoinTimeoutMs?: number
  /** How long a first join waits for the operator's approval (`coordinator start --approve-joins`). */
  approvalTimeoutMs?: number
  /** Unlocks the key store (key shares and nonces are sealed under it). */
  passphrase: string
  /** scrypt cost of a new key store; tests lower it. Default: DEFAULT_SCRYPT of src/crypto. */
  keystoreCost?: { logN: number, r: number, p: number }
  /** Misbehaviour for tests (see faults.ts); off in every real node. */
  faults?: NodeFaults
  /** Serve `GET /metrics` (Prometheus) and `GET /v1/events` (this node's copy of the event log) here, read-only. */
  http?: { host: string, port: number }
  /** Preprocessed nonces kept per key for one-round signing (DEFAULT_NONCE_POOL; 0: none, every signature takes two rounds). */
  noncePool?: number
  /** Bounds of the event log this node keeps (DEFAULT_EVENT_RETENTION otherwise). */
  eventRetention?: Partial<EventRetention>
}

export interface NodeStatus {
  peerId: string
  clusterId: string
  coordinator: string
  rosterEpoch: number
  members: string[]
  uptimeMs: number
  connectedPeers: number
}
