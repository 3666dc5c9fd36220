import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sendCommand, serveCommands, type CommandContext } from '../protocols/command.js'
import { CommandRefusedError, MalformedMessageError } from '../protocols/errors.js'
import { MAX_EVENTS_PER_BATCH } from '../protocols/constants.js'
import { newEvent } from '../protocols/events.js'
import { multiaddrFromBytes } from '../protocols/ids.js'
import { ErrorCode, Event, EventKind, Health, type Heartbeat, type JoinRequest, type JoinResponse } from '../protocols/messages.js'
import { isRosterMember, signRoster, type RosterMember, type RosterState } from '../protocols/roster.js'
import { formatJoinToken, InvalidTokenError, newTokenSecret, parseJoinToken, tokenSecretMatches } from '../protocols/token.js'
import { GossipChannels } from '../peer/channels.js'
import { CLUSTER_RECORD, ConfigError, parseMultiaddrs, type ClusterRecord } from '../peer/config.js'
import { createPeer, type MpcLibp2p } from '../peer/libp2p.js'
import { RosterBook } from '../peer/roster-book.js'
import { DataDirError } from '../store/errors.js'
import { readPrivateFile, writeFileAtomic } from '../store/files.js'
import { loadOrCreateIdentity } from '../store/identity.js'
import { Store } from '../store/store.js'
import { ApiError, parseApiListen, TextBody, UserApi } from '../peer/http-api.js'
import { parseEventQuery, queryEvents, type EventView } from '../peer/event-log.js'
import { KeyRegistry } from '../peer/key-registry.js'
import { RecordBook } from '../peer/record-book.js'
import { DIGEST_INTERVAL_MS, StateSync } from '../peer/state-sync.js'
import { eventLogHandlers } from '../peer/event-sync.js'
import { DEFAULT_EVENT_RETENTION, startEventCompaction, type EventRetention } from '../peer/event-retention.js'
import { hex } from '../protocols/records.js'
import { keyView, parseKeygenBody, parseNetwork, parseSignBody } from './requests.js'
import { TaskError, Tasks } from './tasks.js'
import { PeerMetrics } from '../peer/metrics.js'
import { DEFAULT_HEALTH, HealthTracker, type HealthChange, type HealthState, type HealthThresholds } from './health.js'
import type { Logger } from '../log.js'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { DialBack, type Reach } from './dial-back.js'
import { linkTo, type LinkCounts } from '../peer/links.js'
import type { Multiaddr } from '@multiformats/multiaddr'

export const DEFAULT_COORDINATOR_LISTEN = ['/ip4/0.0.0.0/tcp/7400']
export const DEFAULT_API_LISTEN = '127.0.0.1:7401'
export const JOIN_TOKEN_FILE = 'join-token'
export const API_TOKEN_FILE = 'api-token'
/** Written at every start: where the running coordinator's API listens. */
export const API_INFO_FILE = 'api.json'
/** The signed roster is re-published this often, so a node that missed a change still converges. */
const ROSTER_REPUBLISH_MS = 5_000
/** How often the coordinator looks for members whose addresses need a dial-back (new, changed, or due again). */
const DIAL_BACK_TICK_MS = 1_000
const ROSTER_PUSH_TIMEOUT_MS = 3_000
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
    const joinToken = formatJoinToken({ clusterId, coordinator: peerId, secret: newTokenSecret() })
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
  private rosterWrites: Promise<unknown> = Promise.resolve()
  /** Event appends under way: a state change (health, roster) is visible before its event is on disk. */
  private readonly eventWrites = new Set<Promise<void>>()
  private readonly unpublished: Event[] = []
  private stopCompaction: () => void = () => {}
  private api: UserApi | undefined
  private readonly startedAt = Date.now()
  private readonly dialBack = new DialBack()
  readonly keys: KeyRegistry
  readonly sync: StateSync
  private readonly lastHeartbeat = new Map<string, Heartbeat>()
  readonly tasks: Tasks
  readonly metrics: PeerMetrics
  private readonly healthOf = (peerId: string): HealthState => this.health.get(peerId).state

  private constructor (
    readonly libp2p: MpcLibp2p,
    private readonly store: Store,
    readonly roster: RosterBook,
    records: RecordBook,
    private readonly key: PrivateKey,
    private readonly joinToken: string,
    private readonly thresholds: HealthThresholds,
    private readonly log: Logger,
    timeouts: { keygenTimeoutMs?: number, signRoundTimeoutMs?: number }
  ) {
    this.health = new HealthTracker(thresholds)
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
      ...timeouts
    })
    this.channels = new GossipChannels(libp2p, () => ({
      clusterId: roster.clusterId,
      coordinator: roster.coordinator,
      roster: roster.current?.roster,
      rosterAuthority: true,
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
      const joinToken = await readSecretFile(opts.dataDir, JOIN_TOKEN_FILE)
      const apiToken = await readSecretFile(opts.dataDir, API_TOKEN_FILE)
      // Relay reservations only for roster members (read at each request, so new members are served).
      const book = new RosterBook(store, cluster.clusterId, peerIdFromPrivateKey(key))
      const libp2p = await createPeer({
        privateKey: key, clusterId: cluster.clusterId, listen, announce, noAnnounce: opts.noAnnounce,
        relayServer: { isAllowed: (peer) => book.admits(peer) }
      })
      if (libp2p.peerId.toString() !== cluster.coordinator) {
        await libp2p.stop()
        throw new DataDirError(`the identity in ${opts.dataDir} is not the coordinator of cluster ${cluster.clusterId}`)
      }
      await book.load()
      const records = new RecordBook(store, cluster.clusterId, libp2p.peerId)
      await records.load()
      const log = opts.log.child({ component: 'coordinator' })
      coordinator = new Coordinator(libp2p, store, book, records, key, joinToken, thresholds, log, { keygenTimeoutMs: opts.keygenTimeoutMs, signRoundTimeoutMs: opts.signRoundTimeoutMs })
      await coordinator.run(apiListen, apiToken, opts.dataDir, { ...DEFAULT_EVENT_RETENTION, ...opts.eventRetention })
      return coordinator
    } catch (err) {
      if (coordinator !== undefined) await coordinator.stop().catch(() => {})
      else await store.close().catch(() => {})
      throw err
    }
  }

  private async run (apiListen: { host: string, port: number }, apiToken: string, dataDir: string, retention: EventRetention): Promise<void> {
    this.stopCompaction = startEventCompaction(this.store, retention, this.log)
    this.health.setMembers(this.members().map(m => m.peerId.toString()))
    this.channels.start()
    await serveCommands(this.libp2p, {
      clusterId: () => this.roster.clusterId,
      log: this.log,
      handlers: {
        join: async (req, ctx) => await this.handleJoin(req, ctx),
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
    this.timers.push(setInterval(() => { void this.publishRoster() }, ROSTER_REPUBLISH_MS))
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
          return (await this.keys.list()).map(k => keyView(k, this.healthOf, network))
        },
        'GET /v1/keys/:id': async ({ url, params }) => {
          const key = await this.keys.get(params.id ?? '')
          if (key === undefined) throw new ApiError(404, 'not_found', `no key ${params.id ?? ''}`)
          return keyView(key, this.healthOf, parseNetwork(url.searchParams.get('network') ?? undefined))
        },
        'POST /v1/keys': async ({ body }) => {
          const req = parseKeygenBody(body)
          const key = await this.metrics.observe('keygen', async () => await this.tasks.keygen(req).catch(taskToApi))
          return keyView(key, this.healthOf, req.network)
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
        'GET /metrics': async () => new TextBody(await this.metrics.text())
      }
    })
    await writeFileAtomic(join(dataDir, API_INFO_FILE), JSON.stringify({ url: this.api.url, pid: process.pid }) + '\n', 0o600)
  }

  private members (): RosterMember[] {
    return this.roster.current?.roster.members ?? []
  }

  private async handleJoin (req: JoinRequest, ctx: CommandContext): Promise<JoinResponse> {
    const peer = ctx.remotePeer
    if (!isRosterMember(this.roster.current?.roster, peer)) this.checkToken(req.token)
    let addrs: Multiaddr[]
    try {
      addrs = req.addrs.map(multiaddrFromBytes)
    } catch (err) {
      throw new CommandRefusedError(ErrorCode.BAD_REQUEST, (err as MalformedMessageError).message)
    }
    await this.changeRoster(async (current) => {
      const existing = current.members.find(m => m.peerId.equals(peer))
      if (existing === undefined) {
        return { members: [...current.members, { peerId: peer, addrs, joinedAtMs: Date.now() }], event: EventKind.MEMBER_JOINED }
      }
      const same = existing.addrs.map(String).sort().join() === addrs.map(String).sort().join()
      if (same || addrs.length === 0) return undefined
      return { members: current.members.map(m => m.peerId.equals(peer) ? { ...m, addrs } : m), event: EventKind.MEMBER_ADDRS_CHANGED }
    }, peer)
    const signed = this.roster.current?.signed
    if (signed === undefined) throw new CommandRefusedError(ErrorCode.INTERNAL, 'coordinator has no roster')
    return { roster: signed }
  }

  private checkToken (presented: string): void {
    if (presented === '') throw new CommandRefusedError(ErrorCode.BAD_TOKEN, 'a join token is required to join this cluster')
    let token
    try {
      token = parseJoinToken(presented)
    } catch (err) {
      throw new CommandRefusedError(ErrorCode.BAD_TOKEN, (err as InvalidTokenError).message)
    }
    const expected = parseJoinToken(this.joinToken)
    if (token.clusterId !== expected.clusterId || !token.coordinator.equals(expected.coordinator) || !tokenSecretMatches(token.secret, expected.secret)) {
      throw new CommandRefusedError(ErrorCode.BAD_TOKEN, 'join token refused')
    }
  }

  /**
   * Applies one membership change as a new signed epoch, serialised with every other change:
   * sign, store, then tell the cluster (event, gossip, direct push to each member).
   */
  private async changeRoster (
    change: (current: RosterState) => Promise<{ members: RosterMember[], event: EventKind } | undefined>, subject: PeerId
  ): Promise<void> {
    const done = this.rosterWrites.then(async () => {
      const current = this.roster.current?.roster
      if (current === undefined) throw new CommandRefusedError(ErrorCode.INTERNAL, 'coordinator has no roster')
      const next = await change(current)
      if (next === undefined) return
      const roster: RosterState = { ...current, epoch: current.epoch + 1, members: next.members, issuedAtMs: Date.now() }
      await this.roster.apply(await signRoster(this.key, roster))
      this.health.setMembers(roster.members.map(m => m.peerId.toString()))
      await this.recordEvent({ kind: next.event, peerId: subject.toMultihash().bytes, epoch: roster.epoch })
      this.log.info({ epoch: roster.epoch, members: roster.members.length, peer: subject.toString(), event: next.event }, 'roster changed')
      void this.publishRoster()
      this.pushRoster(subject)
    })
    this.rosterWrites = done.catch(() => {})
    await done
  }

  private async publishRoster (): Promise<void> {
    const signed = this.roster.current?.signed
    if (signed !== undefined) await this.channels.publish('state', { roster: signed })
  }

  /** Delivers the new roster to every member over the command protocol, not only by gossip. */
  private pushRoster (except: PeerId): void {
    const signed = this.roster.current?.signed
    if (signed === undefined) return
    for (const member of this.members()) {
      if (member.peerId.equals(except) || this.health.get(member.peerId.toString()).state === 'down') continue
      sendCommand(this.libp2p, member.peerId, this.roster.clusterId, 'rosterUpdate', { roster: signed }, ROSTER_PUSH_TIMEOUT_MS)
        .catch(err => { this.log.debug({ peer: member.peerId.toString(), err: (err as Error).message }, 'roster push failed') })
    }
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
    let event: Event | undefined
    await this.store.appendEvent(seq => {
      event = newEvent({ ...fields, seq })
      return Event.encode(event)
    })
    if (event !== undefined) this.unpublished.push(event)
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
    await this.api?.stop()
    await this.eventsWritten()
    await this.publishEvents()
    this.channels.stop()
    await this.libp2p.stop()
    await this.rosterWrites
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

const TASK_STATUS: Record<TaskError['code'], number> = { bad_request: 400, not_found: 404, unavailable: 503, failed: 502 }

/** A task failure as the API reports it: a JSON error with the culprits, never a bare 500. */
function taskToApi (err: unknown): never {
  if (err instanceof TaskError) throw new ApiError(TASK_STATUS[err.code], err.code, err.message, err.culprits.length > 0 ? { culprits: err.culprits } : undefined)
  throw err
}
