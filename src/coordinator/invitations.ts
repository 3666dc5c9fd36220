import { sha256 } from '@noble/hashes/sha2.js'
import { toString } from 'uint8arrays/to-string'
import { EventKind, type Event } from '../protocols/messages.js'
import { formatJoinToken, newTokenSecret, parseJoinToken, InvalidTokenError } from '../protocols/token.js'
import type { Store } from '../store/store.js'
import { DEFAULT_INVITATION_TTL_MS, MAX_INVITATION_NOTE_LENGTH, MAX_INVITATION_TTL_MS, MAX_INVITATION_USES, MAX_OPEN_INVITATIONS, SPENT_INVITATION_KEEP_MS } from './constants.js'
import { InvitationError } from './errors.js'
import type { PeerId } from '@libp2p/interface'

const PREFIX = 'invite:'
const HASH_DOMAIN = 'mpc-wallet/invitation/1:'

/** What the coordinator stores of an invitation: never the secret, only its hash. */
export interface InvitationRecord {
  /** The first 16 hex digits of the secret's hash: names the invitation in lists and events. */
  id: string
  note: string
  createdAtMs: number
  expiresAtMs: number
  uses: number
  usesLeft: number
  /** The PeerIds that joined (or asked to) with it, oldest first. */
  usedBy: string[]
}

export interface NewInvitation {
  /** The whole invitation, `mpcw1.<cluster>.<coordinator>.<secret>`: shown once, never stored. */
  token: string
  invitation: InvitationRecord
}

export interface InvitationOptions {
  ttlMs?: number
  uses?: number
  note?: string
}

function hashOf (secret: string): string {
  return toString(sha256(new TextEncoder().encode(HASH_DOMAIN + secret)), 'base16')
}

/** Checks the options of a new invitation; throws InvitationError with what is wrong. */
export function checkInvitationOptions (opts: InvitationOptions): Required<InvitationOptions> {
  const ttlMs = opts.ttlMs ?? DEFAULT_INVITATION_TTL_MS
  const uses = opts.uses ?? 1
  const note = opts.note ?? ''
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1_000 || ttlMs > MAX_INVITATION_TTL_MS) throw new InvitationError(`an invitation lasts from 1 s to 30 days (asked: ${String(ttlMs)} ms)`)
  if (!Number.isSafeInteger(uses) || uses < 1 || uses > MAX_INVITATION_USES) throw new InvitationError(`an invitation admits 1 to ${MAX_INVITATION_USES} joins (asked: ${String(uses)})`)
  if (note.length > MAX_INVITATION_NOTE_LENGTH || /[\p{Cc}]/u.test(note)) throw new InvitationError(`a note is at most ${MAX_INVITATION_NOTE_LENGTH} characters, without control characters`)
  return { ttlMs, uses, note }
}

/**
 * The coordinator's invitations: single use (or N uses) and expiring, stored as the hash of their
 * secret with what is left of them. Redeeming one is durable before the join it admits is
 * answered, and the caller serialises redemptions (the roster lock), so one use admits one peer
 * however many joins race for it.
 */
export class Invitations {
  constructor (private readonly store: Store, private readonly cluster: { clusterId: string, coordinator: PeerId, adminSetHash: string }) {}

  async create (opts: InvitationOptions, nowMs = Date.now()): Promise<NewInvitation> {
    const { ttlMs, uses, note } = checkInvitationOptions(opts)
    const open = (await this.list(nowMs)).filter(i => i.usesLeft > 0 && i.expiresAtMs > nowMs)
    if (open.length >= MAX_OPEN_INVITATIONS) throw new InvitationError(`${open.length} invitations are open already (at most ${MAX_OPEN_INVITATIONS}); let some expire first`)
    const secret = newTokenSecret()
    const hash = hashOf(secret)
    const invitation: InvitationRecord = { id: hash.slice(0, 16), note, createdAtMs: nowMs, expiresAtMs: nowMs + ttlMs, uses, usesLeft: uses, usedBy: [] }
    await this.store.putJson(PREFIX + hash, invitation)
    return { token: formatJoinToken({ ...this.cluster, secret }), invitation }
  }

  /**
   * Takes one use of the invitation `token` for `peer`, durably; returns what is left of it.
   * Throws InvitationError saying why it cannot be used. The caller serialises calls.
   */
  async redeem (token: string, peer: PeerId, nowMs = Date.now()): Promise<InvitationRecord> {
    const { invitation, write } = await this.take(token, peer, nowMs)
    await this.store.batch({ json: write })
    return invitation
  }

  /**
   * One use of `token` for `peer`, as the store write that records it: the caller puts `write`
   * into the same synced batch as what the use admits (the new roster, a pending join), so that
   * the use and its effect land together or not at all. Throws InvitationError like `redeem`.
   */
  async take (token: string, peer: PeerId, nowMs = Date.now()): Promise<{ invitation: InvitationRecord, write: Record<string, InvitationRecord> }> {
    const { key, invitation } = await this.usable(token, nowMs)
    const used: InvitationRecord = { ...invitation, usesLeft: invitation.usesLeft - 1, usedBy: [...invitation.usedBy, peer.toString()] }
    return { invitation: used, write: { [key]: used } }
  }

  /**
   * Throws InvitationError unless `token` is an invitation that could be used now; takes nothing.
   * Join asks this before it waits for the roster lock, so that strangers with made-up or spent
   * invitations are refused at once and never queue behind real joins; `redeem` decides.
   */
  async check (token: string, nowMs = Date.now()): Promise<void> {
    await this.usable(token, nowMs)
  }

  private async usable (token: string, nowMs: number): Promise<{ key: string, invitation: InvitationRecord }> {
    if (token === '') throw new InvitationError('an invitation is required to join this cluster: ask its operator for one (mpc-wallet coordinator invite)')
    let secret: string
    try {
      const parsed = parseJoinToken(token)
      if (parsed.clusterId !== this.cluster.clusterId || !parsed.coordinator.equals(this.cluster.coordinator) || parsed.adminSetHash !== this.cluster.adminSetHash) throw new InvitationError('the invitation is for another cluster or coordinator')
      secret = parsed.secret
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new InvitationError(err.message)
      throw err
    }
    const key = PREFIX + hashOf(secret)
    const invitation = await this.store.getJson<InvitationRecord>(key)
    if (invitation === undefined) throw new InvitationError('unknown invitation (never made here, or dropped long after it expired)')
    if (invitation.expiresAtMs <= nowMs) throw new InvitationError(`invitation ${invitation.id} expired at ${new Date(invitation.expiresAtMs).toISOString()}`)
    if (invitation.usesLeft <= 0) throw new InvitationError(`invitation ${invitation.id} is used up (${invitation.uses} use${invitation.uses === 1 ? '' : 's'})`)
    return { key, invitation }
  }

  /** Every invitation kept, newest first; drops those used up or expired more than a week ago. */
  async list (nowMs = Date.now()): Promise<InvitationRecord[]> {
    const rows = await this.store.listJson<InvitationRecord>(PREFIX)
    const old = rows.filter(({ value }) => value.expiresAtMs + SPENT_INVITATION_KEEP_MS < nowMs)
    if (old.length > 0) await this.store.batch({ json: Object.fromEntries(old.map(({ name }) => [name, null])) })
    return rows.filter(r => !old.includes(r)).map(r => r.value).sort((a, b) => b.createdAtMs - a.createdAtMs)
  }
}

/** The event that records a new invitation (by its id, never its secret). */
export function invitationEvent (made: NewInvitation): Partial<Event> & { kind: EventKind } {
  const { id, uses, expiresAtMs, note } = made.invitation
  return { kind: EventKind.INVITATION_CREATED, detail: `invitation ${id}, ${uses} use${uses === 1 ? '' : 's'}, until ${new Date(expiresAtMs).toISOString()}${note !== '' ? `: ${note}` : ''}` }
}
