import { peerIdFromString } from '@libp2p/peer-id'
import { Serial } from '../serial.js'
import { sendCommand } from '../protocols/command.js'
import { CommandRefusedError, MalformedMessageError } from '../protocols/errors.js'
import { multiaddrFromBytes } from '../protocols/ids.js'
import { ErrorCode, EventKind, type JoinRequest, type JoinResponse } from '../protocols/messages.js'
import { checkRosterBounds, isRosterMember, RosterBoundsError, signRoster, type RosterMember, type RosterState } from '../protocols/roster.js'
import type { Invitations } from './invitations.js'
import type { EventFields } from './journal.js'
import { MAX_PENDING_JOINS, ROSTER_PUSH_TIMEOUT_MS, ROSTER_REPUBLISH_MS } from './constants.js'
import { InvitationError, MembershipError } from './errors.js'
import { MAX_MEMBERS } from '../protocols/constants.js'
import type { GossipChannels } from '../runtime/channels.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { RosterBook } from '../state/roster-book.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../log.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

const PENDING_PREFIX = 'pending:'
const DENIED_PREFIX = 'denied:'

/** A join that waits for `members approve` (with `coordinator start --approve-joins`). */
export interface PendingJoin {
  peerId: string
  addrs: string[]
  requestedAtMs: number
  /** The invitation it came with: its id and note (never the invitation itself). */
  invitation: string
  note: string
}

/** A peer that may not come back: the operator removed it, or rejected its join. */
interface Denied {
  reason: 'removed' | 'rejected'
  atMs: number
}

export interface MembershipDeps {
  libp2p: MpcLibp2p
  store: Store
  roster: RosterBook
  key: PrivateKey
  invitations: Invitations
  /** The cluster's first admin set (canonical JSON): every Join answer carries it. */
  adminSet: Uint8Array
  channels: () => GossipChannels
  /** Called with the members after every roster change (health tracking follows the roster). */
  onMembers: (members: RosterMember[]) => void
  /** Whether a member is down (the roster is not pushed to members that are down). */
  isDown: (peerId: string) => boolean
  record: (event: EventFields) => Promise<void>
  log: Logger
  /** Joins wait as pending until the operator approves them. */
  approveJoins?: boolean
  /** At most this many members (default MAX_MEMBERS, which is also what a roster can decode). */
  maxMembers?: number
}

function parsePeer (text: string): PeerId {
  try {
    return peerIdFromString(text)
  } catch {
    throw new MembershipError('bad_request', `"${text.slice(0, 80)}" is not a PeerId`)
  }
}

/** An invitation that cannot be used, as the joining node is told. */
function refuseInvitation (err: unknown): never {
  if (err instanceof InvitationError) throw new CommandRefusedError(ErrorCode.BAD_TOKEN, err.message)
  throw err
}

/** A join that would break a roster bound: refused to the node with the reason, and told to the operator. */
function refuseBounds (err: unknown, peer: PeerId, log: Logger): never {
  if (err instanceof RosterBoundsError) {
    log.warn({ peer: peer.toString(), reason: err.message }, 'join refused: the roster would break a bound')
    throw new CommandRefusedError(ErrorCode.LIMIT, err.message)
  }
  throw err
}

/**
 * Who is in the cluster: admission by invitation (single use, expiring), optional approval by the
 * operator, removal. Every change is one new signed roster epoch, serialised with every other,
 * checked against the roster's bounds before it is made, stored, recorded as an event, gossiped
 * on `state` and pushed to every member directly. Removed and rejected peers are refused for good.
 */
export class Membership {
  private readonly writes = new Serial()
  private readonly pending = new Map<string, PendingJoin>()
  private readonly denied = new Map<string, Denied>()
  /** Joins being answered now, by peer: such a peer is no stranger while it waits for the lock. */
  private readonly joining = new Map<string, number>()
  private readonly maxMembers: number
  private republish: NodeJS.Timeout | undefined

  constructor (private readonly deps: MembershipDeps) {
    this.maxMembers = Math.min(deps.maxMembers ?? MAX_MEMBERS, MAX_MEMBERS)
  }

  /** Loads the pending joins and denied peers, and re-publishes the roster every ROSTER_REPUBLISH_MS. */
  async start (): Promise<void> {
    for (const { value } of await this.deps.store.listJson<PendingJoin>(PENDING_PREFIX)) this.pending.set(value.peerId, value)
    for (const { name, value } of await this.deps.store.listJson<Denied>(DENIED_PREFIX)) this.denied.set(name.slice(DENIED_PREFIX.length), value)
    this.republish = setInterval(() => { void this.publishRoster() }, ROSTER_REPUBLISH_MS)
  }

  /** Stops re-publishing; changes under way go on (await settled()). */
  stop (): void {
    clearInterval(this.republish)
  }

  members (): RosterMember[] {
    return this.deps.roster.current?.roster.members ?? []
  }

  pendingJoins (): PendingJoin[] {
    return [...this.pending.values()].sort((a, b) => a.requestedAtMs - b.requestedAtMs)
  }

  isPending (peer: PeerId | string): boolean {
    return this.pending.has(peer.toString())
  }

  /**
   * Removed by the operator: refused at the connection gate and the relay, and shown as removed in
   * its keys. (A rejected join is refused at Join, with the reason; the stranger guard then drops it.)
   */
  isRemoved (peer: PeerId | string): boolean {
    return this.denied.get(peer.toString())?.reason === 'removed'
  }

  private isMember (peer: PeerId): boolean {
    return isRosterMember(this.deps.roster.current?.roster, peer)
  }

  /** Runs `fn` with no other membership change under way. */
  private async locked<T> (fn: () => Promise<T>): Promise<T> {
    return await this.writes.run(fn)
  }

  /** Waits for the changes under way (at stop). */
  async settled (): Promise<void> {
    await this.writes.settled()
  }

  /**
   * Join (node → coordinator): a member updates its addresses; a pending peer is told to wait;
   * anyone else needs an unused, unexpired invitation, and then is admitted or, with
   * `approveJoins`, waits as pending. Bounds are checked before the invitation is used.
   */
  async join (req: JoinRequest, peer: PeerId): Promise<JoinResponse> {
    let addrs: Multiaddr[]
    try {
      addrs = req.addrs.map(multiaddrFromBytes)
    } catch (err) {
      throw new CommandRefusedError(ErrorCode.BAD_REQUEST, (err as MalformedMessageError).message)
    }
    const denied = this.denied.get(peer.toString())
    if (denied !== undefined) throw new CommandRefusedError(ErrorCode.UNAUTHORIZED, `this peer was ${denied.reason} by the operator and may not join again (a new identity needs a new invitation)`)
    // A newcomer's invitation is looked at before the lock: a made-up, expired or spent one is
    // refused at once instead of queueing behind real joins (`take` decides, under the lock).
    if (!this.isMember(peer) && !this.isPending(peer)) {
      await this.deps.invitations.check(req.token).catch(refuseInvitation)
    }
    const id = peer.toString()
    this.joining.set(id, (this.joining.get(id) ?? 0) + 1)
    try {
      await this.admit(req, peer, addrs)
    } finally {
      const left = (this.joining.get(id) ?? 1) - 1
      if (left > 0) this.joining.set(id, left)
      else this.joining.delete(id)
    }
    return { roster: this.deps.roster.current!.signed, adminSet: this.deps.adminSet }
  }

  /** The part of Join that changes the roster, under the lock. */
  private async admit (req: JoinRequest, peer: PeerId, addrs: Multiaddr[]): Promise<void> {
    await this.locked(async () => {
      const current = this.current()
      const existing = current.members.find(m => m.peerId.equals(peer))
      if (existing !== undefined) {
        const same = existing.addrs.map(String).sort().join() === addrs.map(String).sort().join()
        if (same || addrs.length === 0) return
        const members = current.members.map(m => m.peerId.equals(peer) ? { ...m, addrs } : m)
        try { checkRosterBounds({ ...current, members }, this.maxMembers) } catch (err) { refuseBounds(err, peer, this.deps.log) }
        await this.commit(current, members, { kind: EventKind.MEMBER_ADDRS_CHANGED, peerId: peer.toMultihash().bytes }, peer)
        return
      }
      if (this.pending.has(peer.toString())) throw this.waiting(peer)
      const members = [...current.members, { peerId: peer, addrs, joinedAtMs: Date.now() }]
      try { checkRosterBounds({ ...current, members }, this.maxMembers) } catch (err) { refuseBounds(err, peer, this.deps.log) }
      if (this.deps.approveJoins === true && this.pending.size >= MAX_PENDING_JOINS) {
        throw new CommandRefusedError(ErrorCode.LIMIT, `${this.pending.size} joins already wait for approval; ask the operator to approve or reject them first`)
      }
      const { invitation, write } = await this.deps.invitations.take(req.token, peer).catch(refuseInvitation)
      const detail = `invitation ${invitation.id}${invitation.note !== '' ? `: ${invitation.note}` : ''}`
      if (this.deps.approveJoins === true) {
        const pending: PendingJoin = { peerId: peer.toString(), addrs: addrs.map(String), requestedAtMs: Date.now(), invitation: invitation.id, note: invitation.note }
        await this.deps.store.batch({ json: { ...write, [PENDING_PREFIX + pending.peerId]: pending } })
        this.pending.set(pending.peerId, pending)
        await this.deps.record({ kind: EventKind.MEMBER_PENDING, peerId: peer.toMultihash().bytes, detail })
        this.deps.log.info({ peer: pending.peerId, invitation: invitation.id }, 'join waits for approval')
        throw this.waiting(peer)
      }
      await this.commit(current, members, { kind: EventKind.MEMBER_JOINED, peerId: peer.toMultihash().bytes, detail }, peer, write)
    })
  }

  private waiting (peer: PeerId): CommandRefusedError {
    return new CommandRefusedError(ErrorCode.PENDING, `the join of ${peer.toString()} waits for the operator: mpc-wallet members approve ${peer.toString()}`)
  }

  /** Admits a pending join. */
  async approve (peerIdText: string): Promise<RosterMember> {
    const peer = parsePeer(peerIdText)
    return await this.locked(async () => {
      const pending = this.pending.get(peer.toString())
      if (pending === undefined) throw new MembershipError('not_found', `no pending join from ${peer.toString()}`)
      const current = this.current()
      const member: RosterMember = { peerId: peer, addrs: pending.addrs.map(a => multiaddr(a)), joinedAtMs: Date.now() }
      const members = [...current.members, member]
      try {
        checkRosterBounds({ ...current, members }, this.maxMembers)
      } catch (err) {
        if (err instanceof RosterBoundsError) throw new MembershipError('limit', err.message)
        throw err
      }
      await this.commit(current, members, { kind: EventKind.MEMBER_JOINED, peerId: peer.toMultihash().bytes, detail: `approved; invitation ${pending.invitation}${pending.note !== '' ? `: ${pending.note}` : ''}` }, peer, { [PENDING_PREFIX + pending.peerId]: null })
      this.pending.delete(pending.peerId)
      return member
    })
  }

  /** Refuses a pending join for good. */
  async reject (peerIdText: string): Promise<void> {
    const peer = parsePeer(peerIdText)
    await this.locked(async () => {
      const pending = this.pending.get(peer.toString())
      if (pending === undefined) throw new MembershipError('not_found', `no pending join from ${peer.toString()}`)
      await this.deny(peer, 'rejected', { [PENDING_PREFIX + pending.peerId]: null })
      this.pending.delete(pending.peerId)
      await this.deps.record({ kind: EventKind.MEMBER_REJECTED, peerId: peer.toMultihash().bytes, detail: `invitation ${pending.invitation}` })
    })
    await this.disconnect(peer)
  }

  /**
   * Takes a member out: a new epoch without it, refused from now on everywhere (the coordinator's
   * gate and relay, every node's members-only gate once the roster reaches it). Its shares stay
   * valid until its keys are reshared.
   */
  async remove (peerIdText: string): Promise<void> {
    const peer = parsePeer(peerIdText)
    await this.locked(async () => {
      const current = this.current()
      if (!current.members.some(m => m.peerId.equals(peer))) {
        throw new MembershipError('not_found', this.pending.has(peer.toString()) ? `${peer.toString()} is not a member yet: reject its pending join instead` : `${peer.toString()} is not a member`)
      }
      await this.deny(peer, 'removed', {})
      await this.commit(current, current.members.filter(m => !m.peerId.equals(peer)), { kind: EventKind.MEMBER_REMOVED, peerId: peer.toMultihash().bytes }, peer)
    })
    await this.disconnect(peer)
  }

  private async deny (peer: PeerId, reason: Denied['reason'], also: Record<string, null>): Promise<void> {
    const denied: Denied = { reason, atMs: Date.now() }
    await this.deps.store.batch({ json: { ...also, [DENIED_PREFIX + peer.toString()]: denied } })
    this.denied.set(peer.toString(), denied)
  }

  private async disconnect (peer: PeerId): Promise<void> {
    await this.deps.libp2p.hangUp(peer).catch(err => { this.deps.log.debug({ peer: peer.toString(), err: (err as Error).message }, 'hang-up failed') })
    // The relay keeps a reservation after its connection closes; nothing can use it (the gate and
    // the relay refuse a denied peer), but drop it so the slot is free at once.
    const relay = this.deps.libp2p.services.relay as unknown as { reservationStore?: { removeReservation: (p: PeerId) => void } } | undefined
    relay?.reservationStore?.removeReservation(peer)
  }

  private current (): RosterState {
    const current = this.deps.roster.current?.roster
    if (current === undefined) throw new CommandRefusedError(ErrorCode.INTERNAL, 'coordinator has no roster')
    return current
  }

  /** Signs, stores and announces the next epoch with `members`. Runs under the lock. */
  private async commit (current: RosterState, members: RosterMember[], event: EventFields, subject: PeerId, also: Record<string, unknown> = {}): Promise<void> {
    const roster: RosterState = { ...current, epoch: current.epoch + 1, members, issuedAtMs: Date.now() }
    // One synced write for the roster and what the change used up (an invitation, a pending join).
    await this.deps.roster.apply(await signRoster(this.deps.key, roster), also)
    this.deps.onMembers(members)
    await this.deps.record({ ...event, epoch: roster.epoch })
    this.deps.log.info({ epoch: roster.epoch, members: members.length, peer: subject.toString(), event: event.kind }, 'roster changed')
    void this.publishRoster()
    this.pushRoster(subject)
  }

  async publishRoster (): Promise<void> {
    const signed = this.deps.roster.current?.signed
    if (signed !== undefined) await this.deps.channels().publish('state', { roster: signed })
  }

  /** Delivers the new roster to every member over the command protocol, not only by gossip. */
  private pushRoster (except: PeerId): void {
    const signed = this.deps.roster.current?.signed
    if (signed === undefined) return
    for (const member of this.members()) {
      if (member.peerId.equals(except) || this.deps.isDown(member.peerId.toString())) continue
      sendCommand(this.deps.libp2p, member.peerId, this.deps.roster.clusterId, 'rosterUpdate', { roster: signed }, ROSTER_PUSH_TIMEOUT_MS)
        .catch(err => { this.deps.log.debug({ peer: member.peerId.toString(), err: (err as Error).message }, 'roster push failed') })
    }
  }

  /** True for peers that may stay connected to the coordinator: members and joins waiting for approval. */
  isKnown (peer: PeerId): boolean {
    return this.isMember(peer) || this.isPending(peer)
  }

  /** A Join of this peer is being answered now (it may wait for the roster lock behind others). */
  isJoining (peer: PeerId): boolean {
    return this.joining.has(peer.toString())
  }
}
