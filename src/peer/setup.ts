import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { parseJoinToken, type JoinToken } from '../protocols/token.js'
import { loadOrCreateIdentity } from '../store/identity.js'
import { Store } from '../store/store.js'
import { needsRelay } from '../runtime/addresses.js'
import { CLUSTER_RECORD, ConfigError, parseMultiaddrs, type ClusterRecord } from '../runtime/config.js'
import { EventCatchUp } from '../runtime/event-sync.js'
import { createPeer, type MpcLibp2p } from '../runtime/libp2p.js'
import { PolicyBook } from '../state/policy-book.js'
import { RequestLedger } from '../state/request-ledger.js'
import { AuditLog } from '../state/audit-log.js'
import { RecordBook } from '../state/record-book.js'
import { RosterBook } from '../state/roster-book.js'
import { ShareVault } from '../state/share-vault.js'
import { BOOTSTRAP_RECORD, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_NODE_LISTEN, MIN_HEARTBEAT_INTERVAL_MS } from './constants.js'
import { MAX_NONCE_POOL } from '../protocols/constants.js'
import { resolveCluster } from './membership.js'
import type { NodeOptions } from './options.js'
import type { Logger } from '../log.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/** The options with every default resolved, and what the first start learns from the data directory. */
export type ResolvedNodeOptions = NodeOptions & {
  heartbeatIntervalMs: number
  relay: boolean
  bootstrap: string[]
  token: JoinToken | undefined
  /** No cluster record in the data directory yet: this start must join. */
  firstJoin: boolean
}

/** What a node runs on, opened from its data directory: the store, the books, the vault, and libp2p (created, not yet serving anything of ours). */
export interface NodeParts {
  opts: ResolvedNodeOptions
  store: Store
  libp2p: MpcLibp2p
  identity: PrivateKey
  roster: RosterBook
  records: RecordBook
  policies: PolicyBook
  ledger: RequestLedger
  audit: AuditLog
  vault: ShareVault
  eventLog: EventCatchUp
  log: Logger
}

/** Opens the data directory and creates libp2p; closes what it opened if a step fails. */
export async function openNodeParts (opts: NodeOptions): Promise<NodeParts> {
  const heartbeatIntervalMs = opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
  if (!(heartbeatIntervalMs >= MIN_HEARTBEAT_INTERVAL_MS)) throw new ConfigError(`heartbeat interval must be at least ${MIN_HEARTBEAT_INTERVAL_MS} ms`)
  if (opts.noncePool !== undefined && !(Number.isSafeInteger(opts.noncePool) && opts.noncePool >= 0 && opts.noncePool <= MAX_NONCE_POOL)) throw new ConfigError(`the nonce pool takes 0 to ${MAX_NONCE_POOL} nonces per key`)
  const token = opts.joinToken === undefined ? undefined : parseJoinToken(opts.joinToken)
  const store = await Store.open(opts.dataDir)
  let libp2p: MpcLibp2p | undefined
  try {
    const identity = await loadOrCreateIdentity(opts.dataDir)
    const stored = await store.getJson<ClusterRecord>(CLUSTER_RECORD)
    const cluster = resolveCluster(stored, token)
    const roster = new RosterBook(store, cluster.clusterId, peerIdFromString(cluster.coordinator))
    await roster.load()
    const policies = await PolicyBook.open(store, cluster.clusterId)
    const records = new RecordBook(store, cluster.clusterId, roster.coordinator, policies)
    await records.load()
    const bootstrap = opts.bootstrap !== undefined && opts.bootstrap.length > 0
      ? opts.bootstrap
      : (await store.getJson<string[]>(BOOTSTRAP_RECORD)) ?? []
    parseMultiaddrs(bootstrap, '--bootstrap')
    if (bootstrap.length === 0) throw new ConfigError('no bootstrap address: pass --bootstrap <multiaddr of the coordinator or a member>')
    const log = opts.log.child({ component: 'node' })
    const vault = await ShareVault.open(store, opts.passphrase, peerIdFromPrivateKey(identity).toString(), opts.keystoreCost)
    const ownListen = opts.listen ?? DEFAULT_NODE_LISTEN
    const relay = opts.relay ?? ((opts.announce ?? []).length === 0 && needsRelay(ownListen.map(a => multiaddr(a)), bootstrap.map(a => multiaddr(a))))
    if (relay && opts.relay === undefined) log.info('no address of ours is as wide as the bootstrap\'s (behind NAT?): holding a relay reservation on the coordinator')
    const listen = [...ownListen, ...(relay ? ['/p2p-circuit'] : [])]
    const admits = opts.membersOnly !== false
      ? (peer: PeerId) => roster.current === undefined ? undefined : roster.admits(peer)
      : undefined
    // Gossip goes to the coordinator and roster members only (peer scoring: see libp2p.ts), and to
    // nobody before Join has answered with a roster: the coordinator would refuse it as a stranger's.
    // (A connection to a member our roster does not list yet cannot exist: the members-only gate
    // refused it, and we dial only members. A peer we dialled from the DHT's table is no member.)
    const isMember = (peer: string): boolean => roster.current !== undefined && roster.admits(peer)
    libp2p = await createPeer({ privateKey: identity, clusterId: cluster.clusterId, listen, announce: opts.announce, noAnnounce: opts.noAnnounce, bootstrap, admits, isMember })
    const eventLog = await EventCatchUp.open(store, log)
    const ledger = await RequestLedger.open(store)
    const audit = await AuditLog.open(store, { node: libp2p.peerId.toString(), sign: async (data) => await identity.sign(data) })
    return {
      opts: { ...opts, heartbeatIntervalMs, relay, bootstrap, token, firstJoin: stored === undefined },
      store, libp2p, identity, roster, records, policies, ledger, audit, vault, eventLog, log
    }
  } catch (err) {
    await Promise.resolve(libp2p?.stop()).then(async () => { await store.close() }).catch(() => {})
    throw err
  }
}
