import { describeGroupKey, SCHEMES, type BitcoinNetwork } from '../crypto/index.js'
import { ApiError } from '../protocols/errors.js'
import { parseSignedRequest, PolicyError, type SignedRequest } from '../protocols/policy.js'
import type { KeyRecord } from '../state/key-registry.js'
import type { HealthState } from './health.js'
import type { KeygenRequest } from './tasks.js'

export const NETWORKS: readonly BitcoinNetwork[] = ['mainnet', 'testnet', 'regtest']

function bad (message: string): never {
  throw new ApiError(400, 'bad_request', message)
}

/** A request body holds only these fields: 400 naming the others. */
export function onlyFields (body: Record<string, unknown> = {}, allowed: string[]): void {
  const unknown = Object.keys(body).filter(k => !allowed.includes(k))
  if (unknown.length > 0) bad(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (allowed: ${allowed.join(', ')})`)
}

function int (body: Record<string, unknown>, name: string): number {
  const v = body[name]
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(`${name} must be a whole number`)
  return v
}

export function parseNetwork (value: unknown): BitcoinNetwork {
  if (value === undefined || value === null) return 'mainnet'
  if (typeof value !== 'string' || !(NETWORKS as readonly string[]).includes(value)) bad(`network must be one of ${NETWORKS.join(', ')}`)
  return value as BitcoinNetwork
}

/** `POST /v1/keys` body: `{ scheme, threshold, parties, members?, network? }`. */
export function parseKeygenBody (body: Record<string, unknown> = {}): KeygenRequest & { network: BitcoinNetwork } {
  onlyFields(body, ['scheme', 'threshold', 'parties', 'members', 'network'])
  if (typeof body.scheme !== 'string' || !(SCHEMES as readonly string[]).includes(body.scheme)) bad(`scheme must be one of ${SCHEMES.join(', ')}`)
  const threshold = int(body, 'threshold')
  const members = body.members
  if (members !== undefined && (!Array.isArray(members) || members.some(m => typeof m !== 'string'))) bad('members must be an array of PeerId strings')
  const parties = body.parties === undefined && Array.isArray(members) ? members.length : int(body, 'parties')
  if (threshold < 1) bad(`threshold must be at least 1 (got ${threshold})`)
  if (threshold > parties) bad(`threshold ${threshold} is larger than parties ${parties}`)
  return { scheme: body.scheme, threshold, parties, members: members as string[] | undefined, network: parseNetwork(body.network) }
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/

export function parseHex (value: unknown, name: string): Uint8Array {
  if (typeof value !== 'string' || !HEX.test(value)) bad(`${name} must be a non-empty hex string of whole bytes`)
  return new Uint8Array(Buffer.from(value, 'hex'))
}

/** `POST /v1/keys/:id/sign` body: `{ message: hex, request: the client's signed request }` (policy.ts). */
export function parseSignBody (body: Record<string, unknown> = {}): { message: Uint8Array, request: SignedRequest | undefined, pooled: boolean } {
  onlyFields(body, ['message', 'request', 'pooled'])
  const message = parseHex(body.message, 'message')
  if (body.pooled !== undefined && typeof body.pooled !== 'boolean') bad('pooled must be true or false')
  const pooled = body.pooled !== false
  if (body.request === undefined) return { message, request: undefined, pooled }
  try {
    return { message, request: parseSignedRequest(body.request), pooled }
  } catch (err) {
    if (err instanceof PolicyError) bad(`request: ${err.message}`)
    throw err
  }
}

/** A holder's state in a key view: its health, or `removed` from the cluster (its share awaits a reshare). */
export type HolderState = HealthState | 'removed'

export interface KeyView {
  id: string
  scheme: string
  threshold: number
  parties: number
  holders: Array<{ peerId: string, state: HolderState }>
  /** ok: every holder up; degraded: some down or removed but at least `threshold` up; unavailable: fewer. */
  status: 'ok' | 'degraded' | 'unavailable'
  /** Why the key needs attention, e.g. a removed holder whose share stays valid until a reshare. */
  note?: string
  groupPublicKey: string
  xOnlyPublicKey?: string
  address?: string
  network?: BitcoinNetwork
  createdAtMs: number
}

export function keyView (key: KeyRecord, state: (peerId: string) => HolderState, network: BitcoinNetwork): KeyView {
  const holders = key.holders.map(peerId => ({ peerId, state: state(peerId) }))
  const up = holders.filter(h => h.state === 'up').length
  const removed = holders.filter(h => h.state === 'removed').map(h => h.peerId)
  const described = describeGroupKey(key.scheme, Buffer.from(key.groupPublicKey, 'hex'), network)
  return {
    id: key.id,
    scheme: key.scheme,
    threshold: key.threshold,
    parties: key.holders.length,
    holders,
    status: up === holders.length ? 'ok' : up >= key.threshold ? 'degraded' : 'unavailable',
    ...(removed.length > 0 ? { note: `reshare due: ${removed.join(', ')} ${removed.length === 1 ? 'was' : 'were'} removed from the cluster, and ${removed.length === 1 ? 'its share stays' : 'their shares stay'} valid until the key is reshared` } : {}),
    groupPublicKey: described.publicKey,
    ...(described.xOnlyPublicKey !== undefined ? { xOnlyPublicKey: described.xOnlyPublicKey, address: described.address, network } : {}),
    createdAtMs: key.createdAtMs
  }
}
