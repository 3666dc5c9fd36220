import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { serveCommands } from '../protocols/command.js'
import { ApiError, CommandRefusedError } from '../protocols/errors.js'
import { MAX_EVENTS_PER_BATCH } from '../protocols/constants.js'
import { newEvent } from '../protocols/events.js'
import { ErrorCode, Event, EventKind, Health, type Heartbeat } from '../protocols/messages.js'
import { isRosterMember, signRoster, type RosterMember } from '../protocols/roster.js'
import { GossipChannels } from '../runtime/channels.js'
import { CLUSTER_RECORD, ConfigError, parseMultiaddrs, type ClusterRecord } from '../runtime/config.js'
import { createPeer, rescorePeers, type MpcLibp2p } from '../runtime/libp2p.js'
import { Strangers } from './strangers.js'
import { RosterBook } from '../state/roster-book.js'
import { DataDirError } from '../store/errors.js'
import { readPrivateFile, writeFileAtomic } from '../store/files.js'
import { loadOrCreateIdentity } from '../store/identity.js'
import { Store } from '../store/store.js'
import { parseApiListen, TextBody, UserApi } from '../runtime/http-api.js'
import { parseEventQuery, queryEvents, type EventView } from '../state/event-log.js'
import { KeyRegistry } from '../state/key-registry.js'
import { RecordBook } from '../state/record-book.js'
import { DIGEST_INTERVAL_MS, StateSync } from '../runtime/state-sync.js'
import { eventLogHandlers } from '../runtime/event-sync.js'
import { DEFAULT_EVENT_RETENTION, startEventCompaction, type EventRetention } from '../state/event-retention.js'
import { hex } from '../protocols/records.js'
import { keyView, parseKeygenBody, parseNetwork, parseSignBody, type HolderState } from './requests.js'
import { TaskError, Tasks } from './tasks.js'
import { PeerMetrics } from '../runtime/metrics.js'
import { HealthTracker, type HealthChange, type HealthState, type HealthThresholds } from './health.js'
import type { Logger } from '../log.js'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { DialBack, type Reach } from './dial-back.js'
import { linkTo, type LinkCounts } from '../runtime/links.js'
import { checkInvitationOptions, Invitations, type InvitationOptions, type NewInvitation } from './invitations.js'
import { Membership } from './membership.js'
import { DEFAULT_HEALTH } from './constants.js'
import { InvitationError, MembershipError } from './errors.js'
import { HeartbeatFreshness } from '../protocols/freshness.js'

export const DEFAULT_COORDINATOR_LISTEN = ['/ip4/0.0.0.0/tcp/7400']
export const DEFAULT_API_LISTEN = '127.0.0.1:7401'
/** The first invitation, written by init (single use, 24 h): `coordinator invite` makes more. */
export const JOIN_TOKEN_FILE = 'join-token'
export const API_TOKEN_FILE = 'api-token'
/** Written at every start: where the running coordinator's API listens. */
export const API_INFO_FILE = 'api.json'
/** The signed roster is re-published this often, so a node that missed a change still converges. */
const ROSTER_REPUBLISH_MS = 5_000
/** How often the coordinator looks for members whose addresses need a dial-back (new, changed, or due again). */
const DIAL_BACK_TICK_MS = 1_000
/** Recorded events go out on the events channel in one batch this often. */
const EVENT_FLUSH_MS = 250
const COORDINATOR_RECORD = 'coordinator'

interface CoordinatorRecord {
  listen: string[]
  announce: string[]
  api: string
}

export interface InitResult {
  clusterId: string
  peerId: string
  joinToken: string
  listen: string[]
  api: string
}

export interface InitOptions {
  dataDir: string
  listen?: string[]
  announce?: string[]
  api?: string
}

/**
 * Creates a cluster in an empty data directory: identity, cluster id, join token, API token and
 * the first signed roster (epoch 1, no members). Refuses a directory that already holds one.
 */
export async function initCoordinator (opts: InitOptions): Promise<InitResult> {
  const listen = opts.listen ?? DEFAULT_COORDINATOR_LISTEN
  const announce = opts.announce ?? []
  const api = opts.api ?? DEFAULT_API_LISTEN
  parseMultiaddrs(listen, '--listen')
  parseMultiaddrs(announce, '--announce')
  parseApiListen(api)
  const store = await Store.open(opts.dataDir)
  try {
    const existing = await store.getJson<ClusterRecord>(CLUSTER_RECORD)
    if (existing !== undefined) throw new ConfigError(`${opts.dataDir} already holds cluster ${existing.clusterId}; start it with: mpc-wallet coordinator start --data-dir ${opts.dataDir}`)
    const key = await loadOrCreateIdentity(opts.dataDir)
    const peerId = peerIdFromPrivateKey(key)
    const clusterId = `mpc-${randomBytes(6).toString('hex')}`
    const first = await new Invitations(store, { clusterId, coordinator: peerId }).create({ note: 'first invitation (coordinator init)' })
    await appendEventTo(store, invitationEvent(first))
    const joinToken = first.token
    await writeFileAtomic(join(opts.dataDir, JOIN_TOKEN_FILE), joinToken + '\n')
    await writeFileAtomic(join(opts.dataDir, API_TOKEN_FILE), randomBytes(32).toString('base64url') + '\n')
    const book = new RosterBook(store, clusterId, peerId)
    await book.apply(await signRoster(key, { clusterId, epoch: 1, coordinator: peerId, members: [], issuedAtMs: Date.now() }))
    await store.putJson(COORDINATOR_RECORD, { listen, announce, api } satisfies CoordinatorRecord)
    // Written last: a directory with a cluster record is a complete one.
    await store.putJson(CLUSTER_RECORD, { clusterId, coordinator: peerId.toString() } satisfies ClusterRecord)
    return { clusterId, peerId: peerId.toString(), joinToken, listen, api }
  } finally {
    await store.close()
  }
}

/**
 * Makes an invitation in the data directory of a coordinator that is not running (its store is
 * locked while it runs: then ask its API, `POST /v1/invitations`). Records the event as the
 * running coordinator does.
 */
export async function inviteOffline (dataDir: string, opts: InvitationOptions): Promise<NewInvitation> {
  const store = await Store.open(dataDir)
  try {
    const cluster = await store.getJson<ClusterRecord>(CLUSTER_RECORD)
    if (cluster === undefined) throw new ConfigError(`${dataDir} holds no cluster; create one with: mpc-wallet coordinator init --data-dir ${dataDir}`)
    const made = await new Invitations(store, { clusterId: cluster.clusterId, coordinator: peerIdFromString(cluster.coordinator) }).create(opts)
    await appendEventTo(store, invitationEvent(made))
    return made
  } finally {
    await store.close()
  }
}

function invitationEvent (made: NewInvitation): Partial<Event> & { kind: EventKind } {
  const { id, uses, expiresAtMs, note } = made.invitation
  return { kind: EventKind.INVITATION_CREATED, detail: `invitation ${id}, ${uses} use${uses === 1 ? '' : 's'}, until ${new Date(expiresAtMs).toISOString()}${note !== '' ? `: ${note}` : ''}` }
}

/** Appends one event to the log in `store`; returns it as recorded. */
async function appendEventTo (store: Store, fields: Partial<Event> & { kind: EventKind }): Promise<Event> {
  let event: Event | undefined
  await store.appendEvent(seq => {
    event = newEvent({ ...fields, seq })
    return Event.encode(event)
  })
  return event!
}

export async function readSecretFile (dataDir: string, name: string): Promise<string> {
  const bytes = await readPrivateFile(join(dataDir, name))
  if (bytes === undefined) throw new DataDirError(`${join(dataDir, name)} is missing; was this directory made by "mpc-wallet coordinator init"?`)
  return Buffer.from(bytes).toString('utf8').trim()
}

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
}

export interface MemberView {
  peerId: string
  addrs: string[]
  state: HealthState
  lastHeartbeatMs: number | null
  joinedAtMs: number
  /** From the member's last heartbeat: its roster epoch, synced-state hash and key counts. */
  rosterEpoch?: number
  stateHash?: string
  keysHeld?: number
  keysLost?: number
  /** How the coordinator reaches the member now: a direct connection, only through a relay, or not at all. */
  link: 'direct' | 'relayed' | 'none'
  /** Where the coordinator could dial the member back: a public address, only local ones, only its relay address, or nowhere. */
  reach: Reach
  /** From its last heartbeat: members it has direct and only relayed connections to, and relayed links it upgraded. */
  links?: LinkCounts
}

export interface ClusterView {
  clusterId: string
  epoch: number
  /** The coordinator's own synced state: members at the same hash hold the same records. */
  stateHash: string
  coordinator: { peerId: string, addrs: string[] }
  members: MemberView[]
}

const HEALTH_WIRE: Record<HealthState, Health> = { up: Health.UP, suspect: Health.SUSPECT, down: Health.DOWN }

/**
 * The coordinator: admits nodes with the join token, keeps and signs the roster, publishes it
 * on `state`, tracks health from heartbeats, records events, and serves Status and the user API.
 */
export class Coordinator {
  private readonly channels: GossipChannels
  private readonly health: HealthTracker
  private readonly timers: NodeJS.Timeout[] = []
  /** Event appends under way: a state change (health, roster) is visible before its event is on disk. */
  private readonly eventWrites = new Set<Promise<void>>()
  private readonly unpublished: Event[] = []
  private stopCompaction: () => void = () => {}
  private api: UserApi | undefined
  private readonly startedAt = Date.now()
  private readonly dialBack = new DialBack()
  /** Hangs up on peers that are neither members nor pending joins, after a grace period. */
  private readonly strangers: Strangers
  readonly keys: KeyRegistry
  readonly sync: StateSync
  private readonly lastHeartbeat = new Map<string, Heartbeat>()
  readonly tasks: Tasks
  readonly metrics: PeerMetrics
  readonly invitations: Invitations
  readonly membership: Membership
  /** Heartbeats must be fresh: a replayed or long-delayed one does not bring a member up. */
  private readonly freshness = new HeartbeatFreshness()
  private readonly healthOf = (peerId: string): HealthState => this.health.get(peerId).state
  /** A key holder as the key views show it: its health, or `removed` once the operator took it out. */
  private readonly holderState = (peerId: string): HolderState => this.membership.isRemoved(peerId) ? 'removed' : this.healthOf(peerId)

  private constructor (
    readonly libp2p: MpcLibp2p,
    private readonly store: Store,
    readonly roster: RosterBook,
    records: RecordBook,
    private readonly key: PrivateKey,
    private readonly thresholds: HealthThresholds,
    private readonly log: Logger,
    opts: Pick<CoordinatorOptions, 'keygenTimeoutMs' | 'signRoundTimeoutMs' | 'approveJoins' | 'maxMembers' | 'strangerGraceMs'>
  ) {
    this.health = new HealthTracker(thresholds)
    this.invitations = new Invitations(store, { clusterId: roster.clusterId, coordinator: libp2p.peerId })
    this.membership = new Membership({
      libp2p,
      store,
      roster,
      key,
      invitations: this.invitations,
      channels: () => this.channels,
      onMembers: (members) => {
        this.health.setMembers(members.map(m => m.peerId.toString()))
        // Gossipsub caches scores for a heartbeat: score a new member as one (a removed one as a stranger) at once.
        rescorePeers(libp2p)
      },
      isDown: (peerId) => this.health.get(peerId).state === 'down',
      record: async (event) => { await this.recordEvent(event) },
      log,
      approveJoins: opts.approveJoins,
      maxMembers: opts.maxMembers
    })
    // Who may stay connected: members and joins waiting for approval; any other peer is hung up on after its grace period.
    this.strangers = new Strangers({ libp2p, isKnown: (peer) => this.membership.isKnown(peer), graceMs: opts.strangerGraceMs, log })
    this.keys = new KeyRegistry(records)
    this.sync = new StateSync({
      libp2p,
      book: records,
      channels: () => this.channels,
      roster,
      log
    })
    this.metrics = new PeerMetrics(libp2p, () => this.channels)
    this.tasks = new Tasks({
      libp2p,
      clusterId: () => roster.clusterId,
      members: () => this.members().map(m => m.peerId.toString()),
      health: this.healthOf,
      keys: this.keys,
      recordKey: async (key, agreement) => {
        await this.keys.record(this.key, key, agreement)
        await this.sync.publishDigest()
      },
      record: async (event) => { await this.recordEvent(event) },
      log,
      keygenTimeoutMs: opts.keygenTimeoutMs,
      signRoundTimeoutMs: opts.signRoundTimeoutMs
    })
    this.channels = new GossipChannels(libp2p, () => ({
      clusterId: roster.clusterId,
      coordinator: roster.coordinator,
      roster: roster.current?.roster,
      rosterAuthority: true,
      heartbeatFreshness: this.freshness,
      // The coordinator relays the rounds of the keygens it runs: gossipsub forwards only what a
      // peer accepted, and the coordinator is connected to every participant.
      hasSession: (id) => this.tasks.sessionParticipants(id) !== undefined,
      sessionParticipants: (id) => this.tasks.sessionParticipants(id)
    }), {
      heartbeats: async (hb, author) => {
        const previous = this.lastHeartbeat.get(author.toString())
        this.lastHeartbeat.set(author.toString(), hb)
        if (hb.recordConflicts > (previous?.recordConflicts ?? 0)) {
          // A member holds two different records at one version from us, the records' writer.
          await this.recordEvent({
            kind: EventKind.CONFLICT,
            peerId: author.toMultihash().bytes,
            culprits: [this.peerId.toMultihash().bytes],
            detail: `${author.toString()} saw ${hb.recordConflicts} conflicting record version(s) written by ${this.peerId.toString()}`
          })
        }
        const change = this.health.heartbeat(author.toString(), Date.now())
        if (change !== undefined) await this.recordHealthChange(change)
      },
      // The coordinator writes the roster and the events; what others gossip there it already has.
      state: async () => {},
      events: async () => {},
      rounds: async () => {}
    }, log)
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  get gossip (): GossipChannels {
    return this.channels
  }

  get apiUrl (): string | undefined {
    return this.api?.url
  }

  static async start (opts: CoordinatorOptions): Promise<Coordinator> {
    const thresholds = { ...DEFAULT_HEALTH, ...opts.health }
    const store = await Store.open(opts.dataDir)
    let coordinator: Coordinator | undefined
    try {
      const cluster = await store.getJson<ClusterRecord>(CLUSTER_RECORD)
      const saved = await store.getJson<CoordinatorRecord>(COORDINATOR_RECORD)
      if (cluster === undefined || saved === undefined) throw new ConfigError(`${opts.dataDir} holds no cluster; create one with: mpc-wallet coordinator init --data-dir ${opts.dataDir}`)
      const key = await loadOrCreateIdentity(opts.dataDir)
      const listen = opts.listen ?? saved.listen
      const announce = opts.announce ?? saved.announce
      const apiListen = parseApiListen(opts.api ?? saved.api)
      parseMultiaddrs([...listen, ...announce], '--listen/--announce')
      const apiToken = await readSecretFile(opts.dataDir, API_TOKEN_FILE)
      // Relay reservations only for roster members (read at each request, so new members are served).
      const book = new RosterBook(store, cluster.clusterId, peerIdFromPrivateKey(key))
      // Removed members are refused at the gate (after Noise proves who they are).
      const libp2p = await createPeer({
        privateKey: key, clusterId: cluster.clusterId, listen, announce, noAnnounce: opts.noAnnounce,
        relayServer: { isAllowed: (peer) => book.admits(peer) },
        // Gossip goes to the coordinator and roster members only (peer scoring: see libp2p.ts).
        isMember: (peer) => book.admits(peer),
        admits: (peer) => coordinator?.membership.isRemoved(peer) === true ? false : undefined
      })
      if (libp2p.peerId.toString() !== cluster.coordinator) {
        await libp2p.stop()
        throw new DataDirError(`the identity in ${opts.dataDir} is not the coordinator of cluster ${cluster.clusterId}`)
      }
      await book.load()
      const records = new RecordBook(store, cluster.clusterId, libp2p.peerId)
      await records.load()
      const log = opts.log.child({ component: 'coordinator' })
      coordinator = new Coordinator(libp2p, store, book, records, key, thresholds, log, opts)
      await coordinator.run(apiListen, apiToken, opts.dataDir, { ...DEFAULT_EVENT_RETENTION, ...opts.eventRetention })
      return coordinator
    } catch (err) {
      if (coordinator !== undefined) await coordinator.stop().catch(() => {})
      else await store.close().catch(() => {})
      throw err
    }
  }

  private async run (apiListen: { host: string, port: number }, apiToken: string, dataDir: string, retention: EventRetention): Promise<void> {
    await this.membership.load()
    this.stopCompaction = startEventCompaction(this.store, retention, this.log)
    this.health.setMembers(this.members().map(m => m.peerId.toString()))
    this.channels.start()
    this.strangers.start()
    await serveCommands(this.libp2p, {
      clusterId: () => this.roster.clusterId,
      log: this.log,
      handlers: {
        join: async (req, ctx) => await this.membership.join(req, ctx.remotePeer),
        ...this.sync.handlers(),
        ...eventLogHandlers(this.store, (peer) => this.roster.admits(peer)),
        status: async (_req, ctx) => {
          if (!isRosterMember(this.roster.current?.roster, ctx.remotePeer)) throw new CommandRefusedError(ErrorCode.UNAUTHORIZED, 'status is served to cluster members')
          return {
            role: 'coordinator',
            rosterEpoch: this.roster.epoch,
            uptimeMs: Date.now() - this.startedAt,
            members: this.members().map(m => {
              const h = this.health.get(m.peerId.toString())
              return { peerId: m.peerId.toMultihash().bytes, health: HEALTH_WIRE[h.state], lastHeartbeatMs: h.lastHeartbeatMs ?? 0 }
            })
          }
        }
      }
    })
    // Evaluate several times per suspect window so that a change is seen promptly.
    const tick = Math.max(25, Math.min(250, Math.floor(this.thresholds.suspectAfterMs / 4)))
    this.timers.push(setInterval(() => {
      for (const change of this.health.evaluate(Date.now())) {
        this.recordHealthChange(change).catch(err => { this.log.error({ err }, 'recording a health change failed') })
      }
    }, tick))
    this.timers.push(setInterval(() => { void this.membership.publishRoster() }, ROSTER_REPUBLISH_MS))
    this.timers.push(setInterval(() => {
      this.dialBack.refresh(this.members().map(m => ({ peerId: m.peerId.toString(), addrs: m.addrs })), Date.now())
    }, DIAL_BACK_TICK_MS))
    this.timers.push(setInterval(() => { void this.sync.publishDigest() }, DIGEST_INTERVAL_MS))
    this.timers.push(setInterval(() => { void this.publishEvents() }, EVENT_FLUSH_MS))
    this.api = await UserApi.start({
      ...apiListen,
      token: apiToken,
      log: this.log,
      routes: {
        'GET /v1/cluster': async () => this.cluster(),
        'GET /v1/events': async ({ url }) => await this.events(url),
        'GET /v1/keys': async ({ url }) => {
          const network = parseNetwork(url.searchParams.get('network') ?? undefined)
          return (await this.keys.list()).map(k => keyView(k, this.holderState, network))
        },
        'GET /v1/keys/:id': async ({ url, params }) => {
          const key = await this.keys.get(params.id ?? '')
          if (key === undefined) throw new ApiError(404, 'not_found', `no key ${params.id ?? ''}`)
          return keyView(key, this.holderState, parseNetwork(url.searchParams.get('network') ?? undefined))
        },
        'POST /v1/keys': async ({ body }) => {
          const req = parseKeygenBody(body)
          const key = await this.metrics.observe('keygen', async () => await this.tasks.keygen(req).catch(taskToApi))
          return keyView(key, this.holderState, req.network)
        },
        'POST /v1/keys/:id/sign': async ({ params, body }) => {
          const message = parseSignBody(body)
          const result = await this.metrics.observe('sign', async () => await this.tasks.sign(params.id ?? '', message).catch(taskToApi))
          return {
            keyId: result.keyId,
            scheme: result.scheme,
            message: Buffer.from(result.message).toString('hex'),
            signature: Buffer.from(result.signature).toString('hex'),
            signers: result.signers,
            sessionId: result.sessionId,
            attempts: result.attempts
          }
        },
        'GET /v1/members': async () => ({ members: this.cluster().members, pending: this.membership.pendingJoins() }),
        'POST /v1/members/:id/approve': async ({ params }) => {
          const member = await this.membership.approve(params.id ?? '').catch(membershipToApi)
          return { peerId: member.peerId.toString(), approved: true }
        },
        'POST /v1/members/:id/reject': async ({ params }) => {
          await this.membership.reject(params.id ?? '').catch(membershipToApi)
          return { peerId: params.id, rejected: true }
        },
        'POST /v1/members/:id/remove': async ({ params }) => {
          await this.membership.remove(params.id ?? '').catch(membershipToApi)
          return { peerId: params.id, removed: true }
        },
        'GET /v1/invitations': async () => await this.invitations.list(),
        'POST /v1/invitations': async ({ body }) => await this.invite(parseInvitationBody(body)),
        'GET /metrics': async () => new TextBody(await this.metrics.text())
      }
    })
    await writeFileAtomic(join(dataDir, API_INFO_FILE), JSON.stringify({ url: this.api.url, pid: process.pid }) + '\n', 0o600)
  }

  /** A new invitation (its whole text is returned once and never stored), recorded as an event. */
  async invite (opts: InvitationOptions): Promise<NewInvitation> {
    const made = await this.invitations.create(opts).catch((err: unknown) => {
      if (err instanceof InvitationError) throw new ApiError(400, 'bad_request', err.message)
      throw err
    })
    await this.recordEvent(invitationEvent(made))
    return made
  }

  private members (): RosterMember[] {
    return this.roster.current?.roster.members ?? []
  }

  private async recordHealthChange (change: HealthChange): Promise<void> {
    this.log.info({ peer: change.peerId, from: change.from, to: change.to }, 'health changed')
    await this.recordEvent({ kind: EventKind.HEALTH_CHANGED, peerId: peerIdFromString(change.peerId).toMultihash().bytes, from: HEALTH_WIRE[change.from], to: HEALTH_WIRE[change.to] })
  }

  /** Stores an event durably; the members get it in the next published batch. */
  private async recordEvent (fields: Partial<Event> & { kind: EventKind }): Promise<void> {
    const write = this.appendEvent(fields)
    this.eventWrites.add(write)
    try { await write } finally { this.eventWrites.delete(write) }
  }

  private async appendEvent (fields: Partial<Event> & { kind: EventKind }): Promise<void> {
    this.unpublished.push(await appendEventTo(this.store, fields))
    if (this.unpublished.length >= MAX_EVENTS_PER_BATCH) await this.publishEvents()
  }

  /** Waits for the events of every state change already made to be on disk (or to have failed, which is logged). */
  private async eventsWritten (): Promise<void> {
    await Promise.allSettled([...this.eventWrites])
  }

  /** Publishes the recorded events not yet published, as batches on `events`. */
  private async publishEvents (): Promise<void> {
    while (this.unpublished.length > 0) {
      const events = this.unpublished.splice(0, MAX_EVENTS_PER_BATCH)
      await this.channels.publish('events', { events: { events } })
    }
  }

  cluster (): ClusterView {
    const roster = this.roster.current?.roster
    return {
      clusterId: this.roster.clusterId,
      epoch: this.roster.epoch,
      stateHash: hex(this.sync.digest().hash),
      coordinator: { peerId: this.peerId.toString(), addrs: this.libp2p.getMultiaddrs().map(String) },
      members: (roster?.members ?? []).map(m => {
        const h = this.health.get(m.peerId.toString())
        const hb = this.lastHeartbeat.get(m.peerId.toString())
        return {
          peerId: m.peerId.toString(), addrs: m.addrs.map(String), state: h.state, lastHeartbeatMs: h.lastHeartbeatMs ?? null, joinedAtMs: m.joinedAtMs,
          link: linkTo(this.libp2p, m.peerId), reach: this.dialBack.reach(m.peerId.toString(), m.addrs),
          ...(hb !== undefined
            ? {
                rosterEpoch: hb.rosterEpoch, stateHash: hex(hb.stateHash), keysHeld: hb.keysHeld, keysLost: hb.keysLost,
                links: { direct: hb.directLinks, relayed: hb.relayedLinks, upgrades: hb.linkUpgrades }
              }
            : {})
        }
      })
    }
  }

  /** The event log; it holds the event of every change `cluster()` already shows. */
  async events (url?: URL): Promise<EventView[]> {
    const query = parseEventQuery(url?.searchParams ?? new URLSearchParams())
    await this.eventsWritten()
    return await queryEvents(this.store, query)
  }

  async stop (): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    this.stopCompaction()
    this.dialBack.stop()
    this.strangers.stop()
    await this.api?.stop()
    await this.eventsWritten()
    await this.publishEvents()
    this.channels.stop()
    await this.libp2p.stop()
    await this.membership.settled()
    await this.eventsWritten()
    await this.store.close()
  }
}

export async function readApiInfo (dataDir: string): Promise<{ url: string }> {
  try {
    return JSON.parse(await readFile(join(dataDir, API_INFO_FILE), 'utf8')) as { url: string }
  } catch {
    throw new DataDirError(`no running coordinator API recorded in ${dataDir} (${API_INFO_FILE} missing): is the coordinator started?`)
  }
}

const MEMBERSHIP_STATUS: Record<MembershipError['code'], number> = { bad_request: 400, not_found: 404, conflict: 409, limit: 409 }

function membershipToApi (err: unknown): never {
  if (err instanceof MembershipError) throw new ApiError(MEMBERSHIP_STATUS[err.code], err.code, err.message)
  throw err
}

/** `POST /v1/invitations` body: `{ ttlMs?, uses?, note? }`. */
function parseInvitationBody (body: Record<string, unknown> = {}): InvitationOptions {
  const unknown = Object.keys(body).filter(k => !['ttlMs', 'uses', 'note'].includes(k))
  if (unknown.length > 0) throw new ApiError(400, 'bad_request', `unknown field(s): ${unknown.join(', ')} (allowed: ttlMs, uses, note)`)
  const { ttlMs, uses, note } = body
  if (ttlMs !== undefined && typeof ttlMs !== 'number') throw new ApiError(400, 'bad_request', 'ttlMs must be a number of milliseconds')
  if (uses !== undefined && typeof uses !== 'number') throw new ApiError(400, 'bad_request', 'uses must be a whole number')
  if (note !== undefined && typeof note !== 'string') throw new ApiError(400, 'bad_request', 'note must be a string')
  try {
    return checkInvitationOptions({ ttlMs, uses, note })
  } catch (err) {
    if (err instanceof InvitationError) throw new ApiError(400, 'bad_request', err.message)
    throw err
  }
}

const TASK_STATUS: Record<TaskError['code'], number> = { bad_request: 400, not_found: 404, unavailable: 503, failed: 502 }

/** A task failure as the API reports it: a JSON error with the culprits, never a bare 500. */
function taskToApi (err: unknown): never {
  if (err instanceof TaskError) {
    // Culprits are what the coordinator proved; claims are what members said of each other.
    const details = { ...(err.culprits.length > 0 ? { culprits: err.culprits } : {}), ...(err.claims.length > 0 ? { claims: err.claims } : {}) }
    throw new ApiError(TASK_STATUS[err.code], err.code, err.message, Object.keys(details).length > 0 ? details : undefined)
  }
  throw err
}
