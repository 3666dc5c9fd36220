import { HeartbeatFreshness } from '../protocols/freshness.js'
import { GossipChannels } from '../runtime/channels.js'
import { eventLogHandlers } from '../runtime/event-sync.js'
import { MemberLinks } from '../runtime/links.js'
import { PeerMetrics } from '../runtime/metrics.js'
import { StateSync } from '../runtime/state-sync.js'
import { KeyRegistry } from '../state/key-registry.js'
import { DkgSessions } from './dkg-sessions.js'
import { Heartbeat } from './heartbeat.js'
import { KeyCustody } from './key-custody.js'
import { keyCommandHandlers, type KeyHandlerDeps } from './key-handlers.js'
import { lifecycleCommandHandlers } from './lifecycle-handlers.js'
import { MemberDialer } from './member-links.js'
import { NodeMembership } from './membership.js'
import { NodeCommands, observed } from './node-commands.js'
import { NodeHttp } from './node-http.js'
import { openNodeParts, type NodeParts, type ResolvedNodeOptions } from './setup.js'
import { StateUpkeep } from './state-upkeep.js'
import { SignGuard } from './sign-guard.js'
import { NoncePool } from './nonce-pool.js'
import { auditHandlers } from './audit-handlers.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { RecordBook } from '../state/record-book.js'
import type { PolicyBook } from '../state/policy-book.js'
import type { AuditLog } from '../state/audit-log.js'
import type { RosterBook } from '../state/roster-book.js'
import type { ShareRecord } from '../state/share-vault.js'
import type { Store } from '../store/store.js'
import type { NodeOptions, NodeStatus } from './options.js'
import { every, ServiceGroup, type Service } from '../runtime/service.js'
import { LEDGER_SWEEP_MS } from '../state/request-ledger.js'
import type { PeerId } from '@libp2p/interface'
import { DEFAULT_NONCE_POOL } from '../protocols/constants.js'

export type { NodeOptions, NodeStatus } from './options.js'
export { DEFAULT_APPROVAL_WAIT_MS, DEFAULT_FIRST_JOIN_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_NODE_LISTEN, NONCE_TTL_MS, PENDING_SHARE_TTL_MS, SPENT_MARKER_TTL_MS } from './constants.js'

/**
 * An MPC node: joins with a token, follows the coordinator's signed roster, heartbeats on its
 * channel, keeps the cluster's events, and executes commands only from the coordinator. An
 * assembly of services, started in order and stopped in reverse.
 */
export class MpcNode {
  private readonly startedAt = Date.now()
  private readonly channels: GossipChannels
  /** Members' heartbeats must be fresh here too, so that a replayed one is not forwarded. */
  private readonly freshness = new HeartbeatFreshness()
  private readonly dkg: DkgSessions
  private readonly custody: KeyCustody
  private readonly membership: NodeMembership
  private readonly http: NodeHttp
  /** Started in order, stopped in reverse. */
  private readonly services: ServiceGroup
  readonly keys: KeyRegistry
  readonly sync: StateSync
  readonly metrics: PeerMetrics
  readonly links: MemberLinks

  private readonly store: Store
  private readonly opts: ResolvedNodeOptions
  readonly libp2p: MpcLibp2p
  readonly roster: RosterBook
  readonly records: RecordBook
  private readonly policies: PolicyBook
  /** Every signing decision this node made, hash-linked and signed (GET /v1/audit, audit verify). */
  readonly audit: AuditLog

  private constructor (parts: NodeParts) {
    const { libp2p, store, roster, records, policies, ledger, audit, vault, identity, eventLog, opts, log } = parts
    this.libp2p = libp2p
    this.store = store
    this.roster = roster
    this.records = records
    this.policies = policies
    this.audit = audit
    this.opts = opts
    // Each service takes the channel it owns in its start(): rounds (DkgSessions), state
    // (NodeMembership), events (the event catch-up). Members' heartbeats are only validated here.
    this.channels = new GossipChannels(libp2p, () => ({
      clusterId: roster.clusterId,
      coordinator: roster.coordinator,
      roster: roster.current?.roster,
      heartbeatFreshness: this.freshness
    }), log)
    this.dkg = new DkgSessions(this.channels, libp2p.peerId, log, opts.faults ?? {})
    this.metrics = new PeerMetrics(libp2p, () => this.channels)
    this.links = new MemberLinks(libp2p, () => [roster.coordinator, ...(roster.current?.roster.members ?? []).map(m => m.peerId)])
    this.keys = new KeyRegistry(records)
    this.sync = new StateSync({
      libp2p, book: records, channels: () => this.channels, roster, log, faults: opts.faults,
      onRosterBehind: () => { this.membership.rejoin() },
      fallback: () => roster.coordinator
    })
    this.custody = new KeyCustody({ vault, records, keys: this.keys, self: libp2p.peerId, log, faults: opts.faults })
    const dialer = new MemberDialer({ libp2p, roster, bootstrap: opts.bootstrap, log })
    this.membership = new NodeMembership({ ...opts, libp2p, roster, store, sync: this.sync, channels: this.channels, eventLog, dialer, custody: this.custody, policies, log })
    this.http = new NodeHttp({ listen: opts.http, metrics: this.metrics, store, audit, log })
    const requireCoordinator = this.membership.requireCoordinator.bind(this.membership)
    const pool = new NoncePool(opts.noncePool ?? DEFAULT_NONCE_POOL)
    const keyDeps: KeyHandlerDeps = {
      self: libp2p.peerId, clusterId: () => roster.clusterId, vault, keys: this.keys, records, dkg: this.dkg, pool, requireCoordinator, log, faults: opts.faults ?? {},
      settle: async () => { await this.custody.count() },
      admins: () => policies.admins,
      guard: new SignGuard({ policies, ledger, audit, log, time: (stage) => this.metrics.policyChecks.startTimer({ stage }) }),
      sign: async (data) => await identity.sign(data),
      connect: async (peerIds) => { await dialer.connect(peerIds) }
    }
    const commands = new NodeCommands({
      libp2p, clusterId: () => roster.clusterId, log,
      handlers: {
        status: async (_req, ctx) => {
          requireCoordinator(ctx)
          return { role: 'node', rosterEpoch: roster.epoch, uptimeMs: Date.now() - this.startedAt, members: [] }
        },
        ...this.membership.commands(),
        ...this.sync.handlers(),
        ...eventLogHandlers(store, (peer) => roster.admits(peer)),
        ...auditHandlers(audit, requireCoordinator),
        ...observed(this.metrics, { ...keyCommandHandlers(keyDeps), ...lifecycleCommandHandlers(keyDeps) })
      }
    })
    const heartbeat = new Heartbeat({
      intervalMs: opts.heartbeatIntervalMs, startedAt: this.startedAt, channels: this.channels, roster, records, sync: this.sync,
      links: this.links, dkg: this.dkg, custody: this.custody, dialer, membership: this.membership, poolEpoch: pool.epoch, log
    })
    const linkCounts: Service = { start: () => {}, stop: () => { this.links.stop() } }
    const ledgerSweep = every(LEDGER_SWEEP_MS, () => { ledger.sweep().catch(err => { log.warn({ err: (err as Error).message }, 'request ledger sweep failed') }) })
    const upkeep = new StateUpkeep({ sync: this.sync, roster, store, eventRetention: opts.eventRetention, log })
    const events = eventLog.follow(this.channels, () => ({ libp2p, peer: roster.coordinator, clusterId: roster.clusterId }))
    this.services = new ServiceGroup([linkCounts, this.channels, this.dkg, events, this.custody, commands, this.http, upkeep, dialer, heartbeat, this.membership, ledgerSweep])
  }

  /** Opens the data directory, starts every service (a first start returns once joined), and returns the running node. */
  static async start (opts: NodeOptions): Promise<MpcNode> {
    const parts = await openNodeParts(opts)
    let node: MpcNode
    try {
      node = new MpcNode(parts)
    } catch (err) {
      await Promise.resolve(parts.libp2p.stop()).then(async () => { await parts.store.close() }).catch(() => {})
      throw err
    }
    try {
      await node.services.start()
      return node
    } catch (err) {
      await node.stop().catch(() => {})
      throw err
    }
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  get dataDir (): string {
    return this.opts.dataDir
  }

  get gossip (): GossipChannels {
    return this.channels
  }

  /** Where this node serves its metrics and events, if it does. */
  get httpUrl (): string | undefined {
    return this.http.url
  }

  status (): NodeStatus {
    return {
      peerId: this.peerId.toString(),
      clusterId: this.roster.clusterId,
      coordinator: this.roster.coordinator.toString(),
      rosterEpoch: this.roster.epoch,
      members: this.roster.current?.roster.members.map(m => m.peerId.toString()) ?? [],
      uptimeMs: Date.now() - this.startedAt,
      connectedPeers: this.libp2p.getPeers().length
    }
  }

  /** Key shares this node holds, with their status (public metadata only). */
  async shares (): Promise<ShareRecord[]> {
    return await this.custody.shares()
  }

  /** The version of the signing policy in force here (0: none yet). */
  get policyVersion (): number {
    return this.policies.version
  }

  /** Keys whose record names this node a holder while it has no share of them. */
  get lostKeys (): string[] {
    return this.custody.keysLost
  }

  /** The event numbers this node holds (the coordinator's numbering), oldest first. */
  async eventSeqs (): Promise<number[]> {
    const seqs: number[] = []
    let after = 0
    for (;;) {
      const page = await this.store.listEvents(after, 1000)
      seqs.push(...page.map(e => e.seq))
      if (page.length < 1000) return seqs
      after = page.at(-1)!.seq
    }
  }

  async stop (): Promise<void> {
    await this.services.stop()
    await this.libp2p.stop()
    await this.store.close()
  }
}
