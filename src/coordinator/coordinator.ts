import type { TaskFaults } from './task-io.js'
import { RefreshSchedule } from './refresh-schedule.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { GossipChannels } from '../runtime/channels.js'
import { createPeer, rescorePeers, type MpcLibp2p } from '../runtime/libp2p.js'
import { PeerMetrics } from '../runtime/metrics.js'
import { StateSync } from '../runtime/state-sync.js'
import { digestIntervalFor } from '../protocols/constants.js'
import { parseEventQuery, type EventView } from '../state/event-log.js'
import { DEFAULT_EVENT_RETENTION, type EventRetention } from '../state/event-retention.js'
import { KeyRegistry } from '../state/key-registry.js'
import { RecordBook } from '../state/record-book.js'
import { PolicyBook } from '../state/policy-book.js'
import { LEDGER_SWEEP_MS, RequestLedger } from '../state/request-ledger.js'
import { adminSetHash, encodeDocument } from '../protocols/policy.js'
import { sendCommand } from '../protocols/command.js'
import { MAX_AUDIT_PER_FETCH } from '../protocols/constants.js'
import { ApiError } from '../protocols/errors.js'
import { toString } from 'uint8arrays/to-string'
import { PolicyAdmin } from './policy-admin.js'
import { RosterBook } from '../state/roster-book.js'
import { DataDirError } from '../store/errors.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../log.js'
import { apiRoutes, CoordinatorApi, invitationToApi } from './api.js'
import { clusterView, type ClusterView } from './cluster-view.js'
import { coordinatorCommands } from './commands.js'
import { DEFAULT_HEALTH } from './constants.js'
import { openDataDir, rootAdmins } from './data-dir.js'
import { DialBack } from './dial-back.js'
import { UiLogins } from './ui-login.js'
import { uiPages } from './ui-pages.js'
import type { HealthThresholds } from './health.js'
import { HealthWatch } from './health-watch.js'
import { invitationEvent, Invitations, type InvitationOptions, type NewInvitation } from './invitations.js'
import { Journal, type EventFields } from './journal.js'
import { Membership } from './membership.js'
import { every, ServiceGroup, type Service } from '../runtime/service.js'
import { keyView, type HolderState } from './requests.js'
import { Strangers } from './strangers.js'
import { Tasks } from './tasks.js'

export interface CoordinatorOptions {
  dataDir: string
  log: Logger
  /** Overrides of what init stored. */
  listen?: string[]
  announce?: string[]
  /** Advertise no address of our own (see PeerInit.noAnnounce); not stored. */
  noAnnounce?: boolean
  api?: string
  health?: Partial<HealthThresholds>
  /** Deadline of a whole keygen (DKG and agreement). Default 30 s. */
  keygenTimeoutMs?: number
  /** Deadline of each signing round at each signer. Default 5 s. */
  signRoundTimeoutMs?: number
  /** Bounds of the persisted event log (DEFAULT_EVENT_RETENTION otherwise). */
  eventRetention?: Partial<EventRetention>
  /** A join waits as pending until `members approve` (or `reject`). */
  approveJoins?: boolean
  /** At most this many members (default and ceiling: MAX_MEMBERS). */
  maxMembers?: number
  /** How long a peer that is neither a member nor a pending join may stay connected (DEFAULT_STRANGER_GRACE_MS otherwise). */
  strangerGraceMs?: number
  /** Refresh every key once it has been this long at one version (RefreshSchedule); default: never. */
  refreshEveryMs?: number
  /** Test faults (never set by the CLI). */
  faults?: TaskFaults
}

/** What Coordinator.start read and checked before the assembly. */
interface Setup {
  libp2p: MpcLibp2p
  store: Store
  roster: RosterBook
  records: RecordBook
  policies: PolicyBook
  ledger: RequestLedger
  key: PrivateKey
  apiListen: { host: string, port: number }
  apiToken: string
  /** The status page's cookie key (data-dir.ts ui-secret). */
  uiSecret: Uint8Array
  log: Logger
}

/** The status page's latency figures cover this much time. */
const LATENCY_WINDOW_MS = 5 * 60_000

/**
 * The coordinator: admits nodes with an invitation, keeps and signs the roster, tracks health
 * from heartbeats, runs keygen and signing, records events, and serves Status and the user API.
 * Each job is a service; this class builds them, starts them in order and stops them in reverse.
 */
export class Coordinator {
  readonly libp2p: MpcLibp2p
  readonly roster: RosterBook
  readonly keys: KeyRegistry
  readonly sync: StateSync
  readonly metrics: PeerMetrics
  readonly invitations: Invitations
  readonly membership: Membership
  readonly policy: PolicyAdmin
  readonly tasks: Tasks
  readonly gossip: GossipChannels
  private readonly journal: Journal
  private readonly health: HealthWatch
  private readonly dialBack = new DialBack()
  /** The status page's one-time codes and sessions (issue 16). */
  readonly uiLogins: UiLogins
  private readonly uiStopping = new AbortController()
  private readonly api: CoordinatorApi
  /** Started in order, stopped in reverse. */
  private readonly services: ServiceGroup

  private constructor (private readonly setup: Setup, opts: CoordinatorOptions) {
    const { libp2p, store, roster, records, policies, ledger, key, log } = setup
    const root = rootAdmins(policies)
    this.libp2p = libp2p
    this.roster = roster
    this.uiLogins = new UiLogins(setup.uiSecret)
    const channels = (): GossipChannels => this.gossip
    this.journal = new Journal({ store, channels, retention: { ...DEFAULT_EVENT_RETENTION, ...opts.eventRetention }, log })
    const record = async (event: EventFields): Promise<void> => { await this.journal.record(event) }
    this.health = new HealthWatch({ thresholds: { ...DEFAULT_HEALTH, ...opts.health }, roster, self: libp2p.peerId, record, channels, log })
    this.invitations = new Invitations(store, { clusterId: roster.clusterId, coordinator: libp2p.peerId, adminSetHash: adminSetHash(root) })
    this.membership = new Membership({
      libp2p, store, roster, key, invitations: this.invitations, adminSet: encodeDocument(root), channels, record, log,
      onMembers: (members) => {
        this.health.setMembers(members)
        // Gossipsub caches scores for a heartbeat: score a new member as one (a removed one as a stranger) at once.
        rescorePeers(libp2p)
      },
      isDown: (peerId) => this.health.state(peerId) === 'down',
      approveJoins: opts.approveJoins,
      maxMembers: opts.maxMembers
    })
    // Who may stay connected: members and joins waiting for approval; any other peer is hung up on after its grace period.
    const strangers = new Strangers({ libp2p, isKnown: (peer) => this.membership.isKnown(peer), isBusy: (peer) => this.membership.isJoining(peer), graceMs: opts.strangerGraceMs, log })
    this.keys = new KeyRegistry(records)
    this.sync = new StateSync({ libp2p, book: records, channels, roster, log })
    this.metrics = new PeerMetrics(libp2p, channels)
    this.policy = new PolicyAdmin({
      store, policies, records, ledger, key, record, log,
      published: async () => { await this.sync.publishDigest() },
      time: () => this.metrics.policyChecks.startTimer({ stage: 'coordinator' })
    })
    this.tasks = new Tasks({
      libp2p,
      clusterId: () => roster.clusterId,
      members: () => this.membership.members().map(m => m.peerId.toString()),
      health: (peerId) => this.health.state(peerId),
      poolEpoch: (peerId) => this.health.heartbeatOf(peerId)?.poolEpoch,
      keys: this.keys,
      recordKey: async (k, agreement) => {
        const signed = await this.keys.record(key, k, agreement)
        await this.sync.publishDigest()
        return signed
      },
      record,
      policy: this.policy,
      admins: () => policies.admins,
      log,
      faults: opts.faults,
      keygenTimeoutMs: opts.keygenTimeoutMs,
      signRoundTimeoutMs: opts.signRoundTimeoutMs
    })
    this.gossip = new GossipChannels(libp2p, () => ({
      clusterId: roster.clusterId,
      coordinator: roster.coordinator,
      roster: roster.current?.roster,
      rosterAuthority: true,
      heartbeatFreshness: this.health.freshness
    }), log)
    // HealthWatch takes `heartbeats` in its start(). The coordinator writes the roster and the
    // events, so what others gossip on `state` and `events` it already has: no handler there.
    // It relays the rounds of the keygens it runs (gossipsub forwards only what a peer accepted,
    // and the coordinator is connected to every participant) but handles none of them: the
    // keygens' participants are what the validator checks those rounds against.
    const keygenRounds: Service = {
      start: () => { this.gossip.sessions((id) => this.tasks.sessionParticipants(id)) },
      stop: () => { this.gossip.unsessions() }
    }
    /** A key holder as the key views show it: its health, or `removed` once the operator took it out. */
    const holderState = (peerId: string): HolderState => this.membership.isRemoved(peerId) ? 'removed' : this.health.state(peerId)
    this.api = new CoordinatorApi({
      listen: setup.apiListen,
      token: setup.apiToken,
      dataDir: opts.dataDir,
      log,
      routes: apiRoutes({
        tasks: this.tasks, keys: this.keys, membership: this.membership, invitations: this.invitations, journal: this.journal, metrics: this.metrics, policy: this.policy,
        invite: async (o) => await this.invite(o), cluster: () => this.cluster(), holderState,
        audit: async (peer, after) => await this.audit(peer, after),
        uiLogin: () => this.uiLogins.newCode()
      }),
      pages: uiPages({
        logins: this.uiLogins,
        snapshot: async () => ({
          cluster: this.cluster(),
          keys: (await this.keys.list()).map(k => keyView(k, holderState, 'mainnet')),
          latency: { windowMs: LATENCY_WINDOW_MS, sign: this.metrics.recent('sign', LATENCY_WINDOW_MS), keygen: this.metrics.recent('keygen', LATENCY_WINDOW_MS) },
          policyVersion: setup.policies.current?.version ?? 0
        }),
        events: async (after, limit) => await this.journal.events({ after, limit }),
        lastSeq: () => store.lastEventSeq,
        stopping: this.uiStopping.signal
      })
    })
    this.services = new ServiceGroup([
      this.membership,
      this.health,
      this.gossip,
      keygenRounds,
      this.journal,
      strangers,
      coordinatorCommands({ libp2p, store, roster, membership: this.membership, sync: this.sync, health: this.health, log }),
      every(() => digestIntervalFor(this.membership.members().length), () => { void this.sync.publishDigest() }),
      every(LEDGER_SWEEP_MS, () => { ledger.sweep().catch(err => { log.warn({ err: (err as Error).message }, 'request ledger sweep failed') }) }),
      { start: () => { this.dialBack.start(() => this.membership.members().map(m => ({ peerId: m.peerId.toString(), addrs: m.addrs }))) }, stop: () => { this.dialBack.stop() } },
      ...(opts.refreshEveryMs === undefined ? [] : [new RefreshSchedule({ everyMs: opts.refreshEveryMs, keys: this.keys, health: (p) => this.health.state(p), refresh: async (id) => await this.tasks.refresh(id), log })]),
      this.api
    ])
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  get apiUrl (): string | undefined {
    return this.api.url
  }

  static async start (opts: CoordinatorOptions): Promise<Coordinator> {
    const { store, cluster, key, listen, announce, apiListen, apiToken, uiSecret } = await openDataDir(opts.dataDir, opts)
    let coordinator: Coordinator | undefined
    try {
      // Relay reservations only for roster members (read at each request, so new members are served).
      const roster = new RosterBook(store, cluster.clusterId, peerIdFromPrivateKey(key))
      // Removed members are refused at the gate (after Noise proves who they are).
      const libp2p = await createPeer({
        privateKey: key, clusterId: cluster.clusterId, listen, announce, noAnnounce: opts.noAnnounce,
        relayServer: { isAllowed: (peer) => roster.admits(peer) },
        // Gossip goes to the coordinator and roster members only (peer scoring: see libp2p.ts).
        isMember: (peer) => roster.admits(peer),
        floodPublish: true,
        admits: (peer) => coordinator?.membership.isRemoved(peer) === true ? false : undefined
      })
      if (libp2p.peerId.toString() !== cluster.coordinator) {
        await libp2p.stop()
        throw new DataDirError(`the identity in ${opts.dataDir} is not the coordinator of cluster ${cluster.clusterId}`)
      }
      await roster.load()
      const policies = await PolicyBook.open(store, cluster.clusterId)
      const records = new RecordBook(store, cluster.clusterId, libp2p.peerId, policies)
      await records.load()
      const ledger = await RequestLedger.open(store)
      const log = opts.log.child({ component: 'coordinator' })
      coordinator = new Coordinator({ libp2p, store, roster, records, policies, ledger, key, apiListen, apiToken, uiSecret, log }, opts)
      await coordinator.services.start()
      return coordinator
    } catch (err) {
      if (coordinator !== undefined) await coordinator.stop().catch(() => {})
      else await store.close().catch(() => {})
      throw err
    }
  }

  /** A new invitation (its whole text is returned once and never stored), recorded as an event. */
  async invite (opts: InvitationOptions): Promise<NewInvitation> {
    const made = await this.invitations.create(opts).catch(invitationToApi)
    await this.journal.record(invitationEvent(made))
    return made
  }

  /** A page of member `peer`'s audit chain, fetched from it. */
  async audit (peer: string, after: number): Promise<{ node: string, entries: unknown[], more: boolean }> {
    const member = this.membership.members().find(m => m.peerId.toString() === peer)
    if (member === undefined) throw new ApiError(404, 'not_found', `${peer.slice(0, 80)} is not a member`)
    const page = await sendCommand(this.libp2p, member.peerId, this.roster.clusterId, 'fetchAudit', { after, limit: MAX_AUDIT_PER_FETCH })
      .catch((err: unknown) => { throw new ApiError(502, 'unreachable', `cannot read the audit chain of ${peer}: ${(err as Error).message}`) })
    const entries = page.entries.map(bytes => {
      try { return JSON.parse(toString(bytes)) as unknown } catch { return { undecodable: toString(bytes, 'base64') } }
    })
    return { node: peer, entries, more: page.more }
  }

  /** The version of the signing policy in force (0: none yet). */
  get policyVersion (): number {
    return this.setup.policies.version
  }

  cluster (): ClusterView {
    return clusterView({ libp2p: this.libp2p, roster: this.roster, sync: this.sync, health: this.health, dialBack: this.dialBack })
  }

  /** The event log; it holds the event of every change `cluster()` already shows. */
  async events (url?: URL): Promise<EventView[]> {
    return await this.journal.events(parseEventQuery(url?.searchParams ?? new URLSearchParams()))
  }

  /** Stops the services in reverse, then libp2p; waits for the changes and events under way; closes the store. */
  async stop (): Promise<void> {
    this.uiStopping.abort()
    await this.services.stop()
    await this.libp2p.stop()
    await this.membership.settled()
    await this.journal.written()
    await this.setup.store.close()
  }
}

