import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { loadavg, cpus } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { sendCommand, serveCommands, type CommandContext, type CommandHandlers } from '../protocols/command.js'
import { CommandRefusedError, CommandTransportError } from '../protocols/errors.js'
import { ErrorCode } from '../protocols/messages.js'
import { openSignedRoster, type RosterMember, type VerifiedRoster } from '../protocols/roster.js'
import { formatJoinToken, parseJoinToken, type JoinToken } from '../protocols/token.js'
import { loadOrCreateIdentity } from '../store/identity.js'
import { Store } from '../store/store.js'
import { GossipChannels } from '../runtime/channels.js'
import { HeartbeatFreshness } from '../protocols/freshness.js'
import { DkgSessions } from './dkg-sessions.js'
import { keyCommandHandlers } from './key-handlers.js'
import { isRelayed, needsRelay } from '../runtime/addresses.js'
import { MemberLinks } from '../runtime/links.js'
import { PeerMetrics } from '../runtime/metrics.js'
import { TextBody, UserApi } from '../runtime/http-api.js'
import { parseEventQuery, queryEvents } from '../state/event-log.js'
import type { NodeFaults } from '../runtime/faults.js'
import { ShareVault, type ShareRecord } from '../state/share-vault.js'
import { RecordBook } from '../state/record-book.js'
import { DIGEST_INTERVAL_MS, StateSync } from '../runtime/state-sync.js'
import { EventCatchUp, eventLogHandlers } from '../runtime/event-sync.js'
import { DEFAULT_EVENT_RETENTION, startEventCompaction, type EventRetention } from '../state/event-retention.js'
import { KeyRegistry } from '../state/key-registry.js'
import { CLUSTER_RECORD, ConfigError, parseMultiaddrs, SOFTWARE_VERSION, type ClusterRecord } from '../runtime/config.js'
import { createPeer, rescorePeers, type MpcLibp2p } from '../runtime/libp2p.js'
import { RosterBook } from '../state/roster-book.js'
import {
  BOOTSTRAP_RECORD, DEFAULT_APPROVAL_WAIT_MS, DEFAULT_FIRST_JOIN_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_NODE_LISTEN, JOIN_BACKOFF_MS, MAX_MEMBER_DIALS,
  MEMBER_DIAL_TIMEOUT_MS, NONCE_SWEEP_MS, NONCE_TTL_MS, PENDING_SHARE_TTL_MS, REDIAL_BACKOFF_MS, RESERVATION_WAIT_MS, SPENT_MARKER_TTL_MS
} from './constants.js'
import type { Logger } from '../log.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

export { DEFAULT_APPROVAL_WAIT_MS, DEFAULT_FIRST_JOIN_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_NODE_LISTEN, NONCE_TTL_MS, PENDING_SHARE_TTL_MS, SPENT_MARKER_TTL_MS } from './constants.js'

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

/**
 * An MPC node: joins with a token, follows the coordinator's signed roster, heartbeats on its
 * channel, keeps the cluster's events, and executes commands only from the coordinator.
 */
export class MpcNode {
  private readonly startedAt = Date.now()
  private readonly stopping = new AbortController()
  private heartbeatTimer: NodeJS.Timeout | undefined
  private nonceSweepTimer: NodeJS.Timeout | undefined
  private digestTimer: NodeJS.Timeout | undefined
  private stopCompaction: () => void = () => {}
  private heartbeatSeq = 0
  private redialing = false
  private redialAt = 0
  private redialBackoff = REDIAL_BACKOFF_MS.first
  private readonly channels: GossipChannels
  /** Members' heartbeats must be fresh here too, so that a replayed one is not forwarded. */
  private readonly freshness = new HeartbeatFreshness()
  private readonly dkg: DkgSessions
  private keysHeld = 0
  private keysLost: string[] = []
  /** The record and share generations the key counts were made at, while no share is pending. */
  private countedAt: string | undefined
  readonly keys: KeyRegistry
  readonly sync: StateSync
  private rejoining = false
  readonly metrics: PeerMetrics
  readonly links: MemberLinks
  private http: UserApi | undefined

  private constructor (
    readonly libp2p: MpcLibp2p,
    private readonly store: Store,
    readonly roster: RosterBook,
    readonly records: RecordBook,
    private readonly vault: ShareVault,
    private readonly identity: PrivateKey,
    private readonly eventLog: EventCatchUp,
    private readonly opts: NodeOptions & { heartbeatIntervalMs: number },
    private readonly log: Logger
  ) {
    this.channels = new GossipChannels(libp2p, () => ({
      clusterId: roster.clusterId,
      coordinator: roster.coordinator,
      roster: roster.current?.roster,
      heartbeatFreshness: this.freshness,
      hasSession: (id) => this.dkg.has(id),
      sessionParticipants: (id) => this.dkg.participants(id)
    }), {
      heartbeats: async () => {},
      rounds: async (round, author) => { await this.dkg.handle(round, author) },
      state: async (body, author) => {
        if ('roster' in body) await this.adoptRoster(body.roster)
        else await this.sync.onDigest(body.digest, author).catch(err => { this.log.debug({ err: (err as Error).message, from: author.toString() }, 'sync failed') })
      },
      events: async (events) => {
        await this.eventLog.onBatch(events, () => ({ libp2p, peer: roster.coordinator, clusterId: roster.clusterId }))
          .catch(err => { this.log.debug({ err: (err as Error).message }, 'event catch-up failed') })
      }
    }, log)
    this.dkg = new DkgSessions(this.channels, libp2p.peerId, log, opts.faults ?? {})
    this.metrics = new PeerMetrics(libp2p, () => this.channels)
    this.links = new MemberLinks(libp2p, () => [roster.coordinator, ...(roster.current?.roster.members ?? []).map(m => m.peerId)])
    this.keys = new KeyRegistry(records)
    this.sync = new StateSync({
      libp2p,
      book: records,
      channels: () => this.channels,
      roster,
      log,
      onRosterBehind: () => { this.rejoin() },
      fallback: () => roster.coordinator,
      faults: opts.faults
    })
  }

  /** Where this node serves its metrics and events, if it does. */
  get httpUrl (): string | undefined {
    return this.http?.url
  }

  /** Counts and times this node's part of keygen and signing. */
  private observed (handlers: CommandHandlers): CommandHandlers {
    const { keygen, signShare } = handlers
    return {
      ...handlers,
      ...(keygen !== undefined ? { keygen: async (req, ctx) => await this.metrics.observe('keygen', async () => await keygen(req, ctx)) } : {}),
      ...(signShare !== undefined ? { signShare: async (req, ctx) => await this.metrics.observe('sign', async () => await signShare(req, ctx)) } : {})
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

  static async start (opts: NodeOptions): Promise<MpcNode> {
    const heartbeatIntervalMs = opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    if (!(heartbeatIntervalMs >= 50)) throw new ConfigError('heartbeat interval must be at least 50 ms')
    const token = opts.joinToken === undefined ? undefined : parseJoinToken(opts.joinToken)
    const store = await Store.open(opts.dataDir)
    let libp2p: MpcLibp2p | undefined
    let node: MpcNode | undefined
    try {
      const privateKey = await loadOrCreateIdentity(opts.dataDir)
      const stored = await store.getJson<ClusterRecord>(CLUSTER_RECORD)
      const cluster = resolveCluster(stored, token)
      const roster = new RosterBook(store, cluster.clusterId, peerIdFromString(cluster.coordinator))
      await roster.load()
      const records = new RecordBook(store, cluster.clusterId, roster.coordinator)
      await records.load()
      const bootstrap = opts.bootstrap !== undefined && opts.bootstrap.length > 0
        ? opts.bootstrap
        : (await store.getJson<string[]>(BOOTSTRAP_RECORD)) ?? []
      parseMultiaddrs(bootstrap, '--bootstrap')
      if (bootstrap.length === 0) throw new ConfigError('no bootstrap address: pass --bootstrap <multiaddr of the coordinator or a member>')
      const log = opts.log.child({ component: 'node' })
      const vault = await ShareVault.open(store, opts.passphrase, peerIdFromPrivateKey(privateKey).toString(), opts.keystoreCost)
      const dropped = await vault.discardNonces()
      if (dropped > 0) log.info({ dropped }, 'discarded nonces of sessions interrupted by the last stop')
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
      const isMember = (peer: PeerId): boolean => roster.current !== undefined && roster.admits(peer)
      libp2p = await createPeer({ privateKey, clusterId: cluster.clusterId, listen, announce: opts.announce, noAnnounce: opts.noAnnounce, bootstrap, admits, isMember })
      const eventLog = await EventCatchUp.open(store, log)
      node = new MpcNode(libp2p, store, roster, records, vault, privateKey, eventLog, { ...opts, relay, heartbeatIntervalMs, bootstrap }, log)
      await node.run(token, stored === undefined)
      return node
    } catch (err) {
      if (node !== undefined) await node.stop().catch(() => {})
      else await Promise.resolve(libp2p?.stop()).then(async () => { await store.close() }).catch(() => {})
      throw err
    }
  }

  private async run (token: JoinToken | undefined, firstJoin: boolean): Promise<void> {
    this.channels.start()
    await serveCommands(this.libp2p, {
      clusterId: () => this.roster.clusterId,
      log: this.log,
      handlers: {
        status: async (_req, ctx) => {
          this.requireCoordinator(ctx)
          return { role: 'node', rosterEpoch: this.roster.epoch, uptimeMs: Date.now() - this.startedAt, members: [] }
        },
        rosterUpdate: async (req, ctx) => {
          this.requireCoordinator(ctx)
          if (req.roster === undefined) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, 'roster update carries no roster')
          const verified = await openSignedRoster(req.roster, this.roster).catch((err: Error) => {
            throw new CommandRefusedError(ErrorCode.BAD_REQUEST, err.message)
          })
          await this.adoptRoster(verified)
          return { epoch: this.roster.epoch }
        },
        ...this.sync.handlers(),
        ...eventLogHandlers(this.store, (peer) => this.roster.admits(peer)),
        ...this.observed(keyCommandHandlers({
          self: this.peerId,
          clusterId: () => this.roster.clusterId,
          vault: this.vault,
          dkg: this.dkg,
          requireCoordinator: (ctx) => { this.requireCoordinator(ctx) },
          sign: async (data) => await this.identity.sign(data),
          connect: async (peerIds) => { await this.connect(peerIds) },
          log: this.log,
          faults: this.opts.faults ?? {}
        }))
      }
    })
    if (this.opts.http !== undefined) {
      this.http = await UserApi.start({
        ...this.opts.http,
        token: undefined,
        log: this.log,
        routes: {
          'GET /metrics': async () => new TextBody(await this.metrics.text()),
          'GET /v1/events': async ({ url }) => await queryEvents(this.store, parseEventQuery(url.searchParams))
        }
      })
      this.log.info({ url: this.http.url }, 'serving metrics and events')
    }
    this.digestTimer = setInterval(() => { void this.sync.publishDigest() }, DIGEST_INTERVAL_MS)
    this.stopCompaction = startEventCompaction(this.store, { ...DEFAULT_EVENT_RETENTION, ...this.opts.eventRetention }, this.log)
    this.nonceSweepTimer = setInterval(() => {
      this.vault.discardNonces(Date.now() - NONCE_TTL_MS)
        .then(n => { if (n > 0) this.log.info({ dropped: n }, 'discarded nonces of abandoned signing sessions') })
        .then(async () => await this.vault.forgetSpent(Date.now() - SPENT_MARKER_TTL_MS))
        .catch(err => { if (!this.stopping.signal.aborted) this.log.warn({ err: (err as Error).message }, 'nonce sweep failed') })
    }, NONCE_SWEEP_MS)
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat().catch(err => {
        if (!this.stopping.signal.aborted) this.log.warn({ err: (err as Error).message }, 'heartbeat failed')
      })
    }, this.opts.heartbeatIntervalMs)
    if (firstJoin) {
      await this.join(token, AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.opts.firstJoinTimeoutMs ?? DEFAULT_FIRST_JOIN_TIMEOUT_MS)]), true)
      await this.store.putJson(CLUSTER_RECORD, { clusterId: this.roster.clusterId, coordinator: this.roster.coordinator.toString() } satisfies ClusterRecord)
      await this.store.putJson(BOOTSTRAP_RECORD, this.opts.bootstrap)
    } else {
      // A known member rejoins in the background: it already has its roster and keeps running
      // (heartbeats, gossip) while the coordinator is away.
      this.join(token, this.stopping.signal).catch(err => {
        if (!this.stopping.signal.aborted) this.log.error({ err: (err as Error).message }, 'rejoin refused')
      })
    }
    if (this.roster.current !== undefined) this.connectMembers()
  }

  /**
   * Sends Join to the coordinator until it answers. Transport failures are retried with
   * back-off until `signal` aborts; a refusal (bad token, wrong cluster) ends the attempt.
   */
  private async join (token: JoinToken | undefined, signal: AbortSignal, firstJoin = false): Promise<void> {
    let backoff = JOIN_BACKOFF_MS.first
    let lastError: Error | undefined
    let pending = false
    while (!signal.aborted) {
      try {
        await this.dialBootstrap(signal)
        const response = await sendCommand(this.libp2p, this.roster.coordinator, this.roster.clusterId, 'join', {
          token: token === undefined ? '' : formatJoinToken(token),
          addrs: this.libp2p.getMultiaddrs().map(a => a.bytes),
          softwareVersion: SOFTWARE_VERSION
        })
        if (response.roster === undefined) throw new CommandRefusedError(ErrorCode.INTERNAL, 'join answer carries no roster')
        await this.adoptRoster(await openSignedRoster(response.roster, this.roster))
        this.log.info({ epoch: this.roster.epoch }, 'joined cluster')
        if (firstJoin) await this.askRelayAgain(signal)
        this.sync.syncFrom(this.roster.coordinator).then(() => this.countKeys()).catch(err => { this.log.debug({ err: (err as Error).message }, 'first sync failed') })
        this.eventLog.catchUp({ libp2p: this.libp2p, peer: this.roster.coordinator, clusterId: this.roster.clusterId })
          .catch(err => { this.log.debug({ err: (err as Error).message }, 'event catch-up failed') })
        return
      } catch (err) {
        if (err instanceof CommandRefusedError && err.code === ErrorCode.PENDING) {
          // The operator approves joins: ask again until approved (or rejected, or stopped),
          // however long the first-join deadline was.
          if (!pending) this.log.warn({ peerId: this.peerId.toString() }, `waiting for the operator to approve this node: mpc-wallet members approve ${this.peerId.toString()}`)
          if (!pending) signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.opts.approvalTimeoutMs ?? DEFAULT_APPROVAL_WAIT_MS)])
          pending = true
          lastError = err
        } else {
          if (!(err instanceof CommandTransportError)) throw err
          lastError = err
          this.log.debug({ err: err.message, backoff }, 'coordinator not reachable yet')
        }
      }
      await sleep(backoff, undefined, { signal }).catch(() => {})
      backoff = Math.min(backoff * 2, JOIN_BACKOFF_MS.max)
    }
    if (this.stopping.signal.aborted) return
    if (pending) throw new CommandRefusedError(ErrorCode.PENDING, `the operator did not approve this node (${this.peerId.toString()}) in time`)
    throw new CommandTransportError(`could not reach the coordinator ${this.roster.coordinator.toString()}: ${lastError?.message ?? 'no attempt finished'}`)
  }

  /**
   * With `relay`, the reservation is asked for as soon as the node connects to the coordinator;
   * on a first join that is before the node is a member, so the coordinator refused it, and the
   * relay client asks a connected relay only once. Reconnecting makes it ask again, as a member;
   * the first start then waits (bounded) for the reservation, so that it reports where it is reachable.
   */
  private async askRelayAgain (signal: AbortSignal): Promise<void> {
    const reserved = (): boolean => this.libp2p.getMultiaddrs().some(isRelayed)
    if (this.opts.relay !== true || reserved()) return
    this.log.debug('reconnecting to the coordinator for a relay reservation')
    await this.libp2p.hangUp(this.roster.coordinator).catch(() => {})
    await this.dialBootstrap(signal)
    // With --announce the relay address is not advertised (the announced ones are), so there is
    // nothing to wait for or report.
    if ((this.opts.announce ?? []).length > 0) return
    const deadline = Date.now() + RESERVATION_WAIT_MS
    while (!reserved() && Date.now() < deadline && !signal.aborted) await sleep(50)
    if (!reserved()) this.log.warn('no relay reservation yet: members that cannot dial this node directly cannot reach it until one is granted')
  }

  private async dialBootstrap (signal: AbortSignal): Promise<void> {
    if (this.libp2p.getConnections(this.roster.coordinator).length > 0) return
    await Promise.allSettled(this.opts.bootstrap!.map(async addr => await this.libp2p.dial(multiaddr(addr), { signal: AbortSignal.any([signal, AbortSignal.timeout(MEMBER_DIAL_TIMEOUT_MS)]) })))
  }

  private async adoptRoster (verified: VerifiedRoster): Promise<void> {
    const before = this.roster.current?.roster.members ?? []
    if (await this.roster.apply(verified)) {
      // Gossipsub caches scores for a heartbeat: score new members as such (removed ones as strangers) at once.
      rescorePeers(this.libp2p)
      // Members taken out of the cluster lose their connections here at once; the members-only
      // gate refuses them from now on.
      for (const gone of before.filter(m => !this.roster.admits(m.peerId) && !m.peerId.equals(this.peerId))) {
        await this.libp2p.hangUp(gone.peerId).catch(() => {})
      }
      // Every member's roster addresses, so that any of them can be reached by PeerId alone.
      for (const m of verified.roster.members) {
        if (!m.peerId.equals(this.peerId) && m.addrs.length > 0) await this.libp2p.peerStore.merge(m.peerId, { multiaddrs: m.addrs }).catch(() => {})
      }
      this.log.info({ epoch: verified.roster.epoch, members: verified.roster.members.length }, 'roster updated')
      this.connectMembers()
    }
  }

  /** Keeps direct connections to a bounded number of members so the gossip mesh can form. */
  private connectMembers (): void {
    void this.connect(this.meshMembers().map(m => m.peerId.toString()))
  }

  /**
   * Dials the given members that have no connection yet, at their roster addresses, and waits
   * (bounded) for the dials: a DKG wants a direct link to every participant, with the
   * coordinator's relay as the fallback.
   */
  private async connect (peerIds: string[]): Promise<void> {
    const members = this.roster.current?.roster.members ?? []
    const targets = members.filter(m => peerIds.includes(m.peerId.toString()) && !m.peerId.equals(this.peerId) && this.libp2p.getConnections(m.peerId).length === 0)
    await Promise.all(targets.map(async member => {
      try {
        await this.libp2p.peerStore.merge(member.peerId, { multiaddrs: member.addrs })
        await this.libp2p.dial(member.peerId, { signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(MEMBER_DIAL_TIMEOUT_MS)]) })
      } catch (err) {
        this.log.debug({ peer: member.peerId.toString(), err: (err as Error).message }, 'member dial failed')
      }
    }))
  }

  /** The members this node keeps a connection to (the gossip mesh forms over them). */
  private meshMembers (): RosterMember[] {
    return (this.roster.current?.roster.members ?? []).filter(m => !m.peerId.equals(this.peerId)).slice(0, MAX_MEMBER_DIALS)
  }

  /**
   * Lost the coordinator (it restarted, the network blipped) or members of the mesh: dial them
   * again in the background, backing off (1 s doubling to 30 s) while the attempts fail.
   */
  private async maintainLinks (): Promise<void> {
    if (this.redialing || Date.now() < this.redialAt || this.stopping.signal.aborted) return
    const lost = (): { coordinator: boolean, members: string[] } => ({
      coordinator: this.libp2p.getConnections(this.roster.coordinator).length === 0,
      members: this.meshMembers().filter(m => this.libp2p.getConnections(m.peerId).length === 0).map(m => m.peerId.toString())
    })
    const before = lost()
    if (before.coordinator || before.members.length > 0) {
      this.redialing = true
      try {
        if (before.coordinator) await this.dialBootstrap(this.stopping.signal).catch(() => {})
        if (before.members.length > 0) await this.connect(before.members)
      } finally {
        this.redialing = false
      }
    }
    const after = lost()
    if (after.coordinator || after.members.length > 0) {
      this.redialAt = Date.now() + this.redialBackoff
      this.redialBackoff = Math.min(this.redialBackoff * 2, REDIAL_BACKOFF_MS.max)
    } else {
      this.redialBackoff = REDIAL_BACKOFF_MS.first
    }
  }

  private requireCoordinator (ctx: CommandContext): void {
    if (!ctx.remotePeer.equals(this.roster.coordinator)) {
      throw new CommandRefusedError(ErrorCode.UNAUTHORIZED, 'a node takes commands only from its coordinator')
    }
  }

  private async heartbeat (): Promise<void> {
    if (this.stopping.signal.aborted) return
    await this.countKeys()
    if (this.stopping.signal.aborted) return
    void this.maintainLinks()
    // Our advertised addresses changed (a relay reservation arrived or expired, an interface
    // came or went): Join again so that the roster, which members dial from, says where we are.
    if (this.addressesChanged()) this.rejoin()
    const load = loadavg()[0] ?? 0
    const links = this.links.counts()
    await this.channels.publish('heartbeats', {
      heartbeat: {
        seq: ++this.heartbeatSeq,
        uptimeMs: Date.now() - this.startedAt,
        loadPermille: Math.min(0xffffffff, Math.round(load / Math.max(1, cpus().length) * 1000)),
        activeSessions: this.dkg.active,
        keysHeld: this.keysHeld,
        softwareVersion: SOFTWARE_VERSION,
        rosterEpoch: this.roster.epoch,
        stateHash: this.sync.digest().hash,
        keysLost: this.keysLost.length,
        recordConflicts: this.records.conflicts,
        directLinks: links.direct,
        relayedLinks: links.relayed,
        linkUpgrades: links.upgrades,
        startedAtMs: this.startedAt,
        sentAtMs: Date.now()
      }
    })
  }

  private addressesChanged (): boolean {
    const listed = this.roster.current?.roster.members.find(m => m.peerId.equals(this.peerId))?.addrs
    if (listed === undefined) return false
    const now = this.libp2p.getMultiaddrs().map(String).sort().join()
    return now !== '' && now !== listed.map(String).sort().join()
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
    return await this.vault.listShares()
  }

  /** Counts the shares held, and the keys this node should hold but has no share of (wiped or lost disk). */
  private async countKeys (): Promise<void> {
    // Heartbeats ask every second; the counts change only with the records or the shares (a
    // pending share also waits for time to settle it, so then they are always made again).
    const stamp = (): string => `${this.records.generation}/${this.vault.generation}`
    if (this.countedAt === stamp()) return
    const shares = await this.settlePendingShares(await this.vault.listShares())
    const countedAt = shares.some(s => s.status === 'pending') ? undefined : stamp()
    this.keysHeld = shares.filter(s => s.status === 'active').length
    const held = new Set(shares.map(s => s.keyId))
    const me = this.peerId.toString()
    const lost = (await this.keys.list()).filter(k => k.holders.includes(me) && !held.has(k.id)).map(k => k.id)
    if (lost.join() !== this.keysLost.join() && lost.length > 0) {
      this.log.warn({ keys: lost }, `this node is a holder of ${lost.length} key(s) but has no share of them: it cannot sign for ${lost.join(', ')}`)
    }
    this.keysLost = lost
    this.countedAt = countedAt
  }

  /**
   * A share stays `pending` until the coordinator commits it. If the commit never came (the
   * coordinator crashed, or this node was away), the synced key record decides: a record of the
   * same session and group key, countersigned by every holder, commits it; no record long after
   * the keygen's deadline means the keygen failed, and the share is discarded.
   */
  private async settlePendingShares (shares: ShareRecord[]): Promise<ShareRecord[]> {
    const out: ShareRecord[] = []
    for (const share of shares) {
      if (share.status !== 'pending') {
        out.push(share)
        continue
      }
      const record = await this.keys.get(share.keyId)
      if (record !== undefined && record.sessionId === share.sessionId && record.groupPublicKey === share.groupPublicKey) {
        await this.vault.setStatus(share.keyId, 'active')
        this.log.info({ keyId: share.keyId }, 'share committed by its synced key record')
        out.push({ ...share, status: 'active' })
      } else if (record === undefined && Date.now() - share.createdAtMs > PENDING_SHARE_TTL_MS) {
        await this.vault.discardShare(share.keyId)
        this.log.info({ keyId: share.keyId }, 'discarded the share of a keygen that was never recorded')
      } else {
        out.push(share)
      }
    }
    return out
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

  /** Keys whose record names this node a holder while it has no share of them. */
  get lostKeys (): string[] {
    return [...this.keysLost]
  }

  /** A digest showed a newer roster: ask the coordinator for it (Join answers with the roster). */
  private rejoin (): void {
    if (this.rejoining || this.stopping.signal.aborted) return
    this.rejoining = true
    this.join(undefined, AbortSignal.any([this.stopping.signal, AbortSignal.timeout(10_000)]))
      .catch(err => { this.log.debug({ err: (err as Error).message }, 'rejoin failed') })
      .finally(() => { this.rejoining = false })
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    this.dkg.stop()
    await this.http?.stop()
    clearInterval(this.heartbeatTimer)
    clearInterval(this.nonceSweepTimer)
    clearInterval(this.digestTimer)
    this.stopCompaction()
    this.channels.stop()
    this.links.stop()
    await this.libp2p.stop()
    await this.store.close()
  }
}

function resolveCluster (stored: ClusterRecord | undefined, token: JoinToken | undefined): ClusterRecord {
  if (stored !== undefined) {
    if (token !== undefined && (token.clusterId !== stored.clusterId || token.coordinator.toString() !== stored.coordinator)) {
      throw new ConfigError(`this data directory belongs to cluster ${stored.clusterId}; the join token is for cluster ${token.clusterId}`)
    }
    return stored
  }
  if (token === undefined) throw new ConfigError('this data directory has not joined a cluster yet: pass --join <token> and --bootstrap <multiaddr>')
  return { clusterId: token.clusterId, coordinator: token.coordinator.toString() }
}
