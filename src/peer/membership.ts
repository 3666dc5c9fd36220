import { setTimeout as sleep } from 'node:timers/promises'
import { sendCommand, type CommandContext, type CommandHandlers } from '../protocols/command.js'
import { CommandRefusedError, CommandTransportError } from '../protocols/errors.js'
import { ErrorCode } from '../protocols/messages.js'
import { decodeAdminSet } from '../protocols/policy.js'
import { openSignedRoster, type VerifiedRoster } from '../protocols/roster.js'
import { formatJoinToken, type JoinToken } from '../protocols/token.js'
import { isRelayed } from '../runtime/addresses.js'
import { CLUSTER_RECORD, ConfigError, SOFTWARE_VERSION, type ClusterRecord } from '../runtime/config.js'
import { rescorePeers, type MpcLibp2p } from '../runtime/libp2p.js'
import { BOOTSTRAP_RECORD, DEFAULT_APPROVAL_WAIT_MS, DEFAULT_FIRST_JOIN_TIMEOUT_MS, JOIN_BACKOFF_MS, REJOIN_TIMEOUT_MS, RESERVATION_WAIT_MS } from './constants.js'
import type { GossipChannels } from '../runtime/channels.js'
import type { EventCatchUp } from '../runtime/event-sync.js'
import type { StateSync } from '../runtime/state-sync.js'
import type { PolicyBook } from '../state/policy-book.js'
import type { RosterBook } from '../state/roster-book.js'
import type { Store } from '../store/store.js'
import type { KeyCustody } from './key-custody.js'
import type { MemberDialer } from './member-links.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'

export interface NodeMembershipInit {
  libp2p: MpcLibp2p
  roster: RosterBook
  store: Store
  sync: StateSync
  channels: GossipChannels
  eventLog: EventCatchUp
  dialer: MemberDialer
  /** Counted again once the first sync after a Join has brought the key records. */
  custody: Pick<KeyCustody, 'count'>
  /** The policy's trust root is fixed at the first Join (checked against the invitation). */
  policies: PolicyBook
  log: Logger
  /** Needed on the first join only. */
  token: JoinToken | undefined
  /** No cluster record in the data directory yet: start() waits for the Join to succeed. */
  firstJoin: boolean
  bootstrap: string[]
  relay: boolean
  announce?: string[]
  firstJoinTimeoutMs?: number
  approvalTimeoutMs?: number
}

/** The cluster a data directory belongs to: the stored record, or the join token's on a first start. */
export function resolveCluster (stored: ClusterRecord | undefined, token: JoinToken | undefined): ClusterRecord {
  if (stored !== undefined) {
    if (token !== undefined && (token.clusterId !== stored.clusterId || token.coordinator.toString() !== stored.coordinator)) {
      throw new ConfigError(`this data directory belongs to cluster ${stored.clusterId}; the join token is for cluster ${token.clusterId}`)
    }
    return stored
  }
  if (token === undefined) throw new ConfigError('this data directory has not joined a cluster yet: pass --join <token> and --bootstrap <multiaddr>')
  return { clusterId: token.clusterId, coordinator: token.coordinator.toString() }
}

/**
 * This node's membership of its cluster: joins (a first start waits for it, through the
 * operator's approval if asked; a known member rejoins in the background), joins again when a
 * newer roster is seen or its addresses change, and adopts each roster the coordinator signs
 * (hanging up on members taken out, rescoring gossip peers, dialling the new mesh). Takes the
 * `state` channel: a roster there is adopted, a digest handed to state sync (one handler, as the
 * channel has one; a digest may show this node behind the roster, which brings it back here).
 */
export class NodeMembership implements Service {
  private stopping = new AbortController()
  private rejoining = false

  constructor (private readonly init: NodeMembershipInit) {}

  async start (): Promise<void> {
    const { roster, store, token, firstJoin, bootstrap, log } = this.init
    if (this.stopping.signal.aborted) this.stopping = new AbortController()
    this.init.channels.handle('state', async (body, author) => {
      if ('roster' in body) await this.adoptRoster(body.roster)
      else await this.init.sync.onDigest(body.digest, author).catch(err => { log.debug({ err: (err as Error).message, from: author.toString() }, 'sync failed') })
    })
    if (firstJoin) {
      await this.join(token, AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.init.firstJoinTimeoutMs ?? DEFAULT_FIRST_JOIN_TIMEOUT_MS)]), true)
      await store.putJson(CLUSTER_RECORD, { clusterId: roster.clusterId, coordinator: roster.coordinator.toString() } satisfies ClusterRecord)
      await store.putJson(BOOTSTRAP_RECORD, bootstrap)
    } else {
      // A known member rejoins in the background: it already has its roster and keeps running
      // (heartbeats, gossip) while the coordinator is away.
      this.join(token, this.stopping.signal).catch(err => {
        if (!this.stopping.signal.aborted) log.error({ err: (err as Error).message }, 'rejoin refused')
      })
    }
    if (roster.current !== undefined) this.init.dialer.connectMembers()
  }

  stop (): void {
    this.stopping.abort()
    this.init.channels.unhandle('state')
  }

  /** Throws UNAUTHORIZED unless the command comes from this node's coordinator. */
  requireCoordinator (ctx: CommandContext): void {
    if (!ctx.remotePeer.equals(this.init.roster.coordinator)) {
      throw new CommandRefusedError(ErrorCode.UNAUTHORIZED, 'a node takes commands only from its coordinator')
    }
  }

  /** The coordinator pushes a new roster. */
  commands (): Pick<CommandHandlers, 'rosterUpdate'> {
    const { roster } = this.init
    return {
      rosterUpdate: async (req, ctx) => {
        this.requireCoordinator(ctx)
        if (req.roster === undefined) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, 'roster update carries no roster')
        const verified = await openSignedRoster(req.roster, roster).catch((err: Error) => {
          throw new CommandRefusedError(ErrorCode.BAD_REQUEST, err.message)
        })
        await this.adoptRoster(verified)
        return { epoch: roster.epoch }
      }
    }
  }

  async adoptRoster (verified: VerifiedRoster): Promise<void> {
    const { libp2p, roster, log } = this.init
    const before = roster.current?.roster.members ?? []
    if (await roster.apply(verified)) {
      // Gossipsub caches scores for a heartbeat: score new members as such (removed ones as strangers) at once.
      rescorePeers(libp2p)
      // Members taken out of the cluster lose their connections here at once; the members-only
      // gate refuses them from now on.
      for (const gone of before.filter(m => !roster.admits(m.peerId) && !m.peerId.equals(libp2p.peerId))) {
        await libp2p.hangUp(gone.peerId).catch(() => {})
      }
      // Every member's roster addresses, so that any of them can be reached by PeerId alone.
      for (const m of verified.roster.members) {
        if (!m.peerId.equals(libp2p.peerId) && m.addrs.length > 0) await libp2p.peerStore.merge(m.peerId, { multiaddrs: m.addrs }).catch(() => {})
      }
      log.info({ epoch: verified.roster.epoch, members: verified.roster.members.length }, 'roster updated')
      this.init.dialer.connectMembers()
    }
  }

  /** A digest showed a newer roster: ask the coordinator for it (Join answers with the roster). */
  rejoin (): void {
    if (this.rejoining || this.stopping.signal.aborted) return
    this.rejoining = true
    this.join(undefined, AbortSignal.any([this.stopping.signal, AbortSignal.timeout(REJOIN_TIMEOUT_MS)]))
      .catch(err => { this.init.log.debug({ err: (err as Error).message }, 'rejoin failed') })
      .finally(() => { this.rejoining = false })
  }

  /**
   * Our advertised addresses changed (a relay reservation arrived or expired, an interface
   * came or went): Join again so that the roster, which members dial from, says where we are.
   */
  followAddresses (): void {
    if (this.addressesChanged()) this.rejoin()
  }

  /**
   * Sends Join to the coordinator until it answers. Transport failures are retried with
   * back-off until `signal` aborts; a refusal (bad token, wrong cluster) ends the attempt.
   */
  private async join (token: JoinToken | undefined, signal: AbortSignal, firstJoin = false): Promise<void> {
    const { libp2p, roster, log } = this.init
    const self = libp2p.peerId.toString()
    let backoff = JOIN_BACKOFF_MS.first
    let lastError: Error | undefined
    let pending = false
    while (!signal.aborted) {
      try {
        await this.init.dialer.dialBootstrap(signal)
        const response = await sendCommand(libp2p, roster.coordinator, roster.clusterId, 'join', {
          token: token === undefined ? '' : formatJoinToken(token),
          addrs: libp2p.getMultiaddrs().map(a => a.bytes),
          softwareVersion: SOFTWARE_VERSION
        })
        if (response.roster === undefined) throw new CommandRefusedError(ErrorCode.INTERNAL, 'join answer carries no roster')
        // The admin set the coordinator presents must be the one the invitation names (and, on a
        // rejoin, the one trusted since): a coordinator cannot swap the policy's trust root.
        await this.init.policies.setRoot(decodeAdminSet(response.adminSet), token?.adminSetHash)
        await this.adoptRoster(await openSignedRoster(response.roster, roster))
        log.info({ epoch: roster.epoch }, 'joined cluster')
        if (firstJoin) await this.askRelayAgain(signal)
        this.init.sync.syncFrom(roster.coordinator).then(async () => { await this.init.custody.count() }).catch(err => { log.debug({ err: (err as Error).message }, 'first sync failed') })
        this.init.eventLog.catchUp({ libp2p, peer: roster.coordinator, clusterId: roster.clusterId })
          .catch(err => { log.debug({ err: (err as Error).message }, 'event catch-up failed') })
        return
      } catch (err) {
        if (err instanceof CommandRefusedError && err.code === ErrorCode.PENDING) {
          // The operator approves joins: ask again until approved (or rejected, or stopped),
          // however long the first-join deadline was.
          if (!pending) {
            log.warn({ peerId: self }, `waiting for the operator to approve this node: mpc-wallet members approve ${self}`)
            signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.init.approvalTimeoutMs ?? DEFAULT_APPROVAL_WAIT_MS)])
            pending = true
          }
          lastError = err
        } else {
          if (!(err instanceof CommandTransportError)) throw err
          lastError = err
          log.debug({ err: err.message, backoff }, 'coordinator not reachable yet')
        }
      }
      await sleep(backoff, undefined, { signal }).catch(() => {})
      backoff = Math.min(backoff * 2, JOIN_BACKOFF_MS.max)
    }
    if (this.stopping.signal.aborted) return
    if (pending) throw new CommandRefusedError(ErrorCode.PENDING, `the operator did not approve this node (${self}) in time`)
    throw new CommandTransportError(`could not reach the coordinator ${roster.coordinator.toString()}: ${lastError?.message ?? 'no attempt finished'}`)
  }

  /**
   * With `relay`, the reservation is asked for as soon as the node connects to the coordinator;
   * on a first join that is before the node is a member, so the coordinator refused it, and the
   * relay client asks a connected relay only once. Reconnecting makes it ask again, as a member;
   * the first start then waits (bounded) for the reservation, so that it reports where it is reachable.
   */
  private async askRelayAgain (signal: AbortSignal): Promise<void> {
    const { libp2p, roster, log } = this.init
    const reserved = (): boolean => libp2p.getMultiaddrs().some(isRelayed)
    if (!this.init.relay || reserved()) return
    log.debug('reconnecting to the coordinator for a relay reservation')
    await libp2p.hangUp(roster.coordinator).catch(() => {})
    await this.init.dialer.dialBootstrap(signal)
    // With --announce the relay address is not advertised (the announced ones are), so there is
    // nothing to wait for or report.
    if ((this.init.announce ?? []).length > 0) return
    const deadline = Date.now() + RESERVATION_WAIT_MS
    while (!reserved() && Date.now() < deadline && !signal.aborted) await sleep(50)
    if (!reserved()) log.warn('no relay reservation yet: members that cannot dial this node directly cannot reach it until one is granted')
  }

  private addressesChanged (): boolean {
    const { libp2p, roster } = this.init
    const listed = roster.current?.roster.members.find(m => m.peerId.equals(libp2p.peerId))?.addrs
    if (listed === undefined) return false
    const now = libp2p.getMultiaddrs().map(String).sort().join()
    return now !== '' && now !== listed.map(String).sort().join()
  }
}
