import { childPublic, CryptoInputError, decodePublic, deriveHdChild, describeGroupKey, encodeXpub, formatHdPath, parseHdPath, SCHEMES, type BitcoinNetwork } from '../crypto/index.js'
import { fromHex } from '../crypto/bytes.js'
import { ApiError } from '../protocols/errors.js'
import { parseSignedRequest, PolicyError, type SignedRequest } from '../protocols/policy.js'
import type { KeyRecord } from '../state/key-registry.js'
import type { HealthState } from './health.js'
import type { KeyChangeApprovalSet, KeygenRequest, ReshareChange } from './tasks.js'
import { parseKeyChangeApprovals } from '../protocols/key-change.js'
import { solanaAddress } from '../wallet/solana.js'

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

/** `POST /v1/keys` body: `{ scheme, threshold, parties, members?, network?, hd? }`. */
export function parseKeygenBody (body: Record<string, unknown> = {}): KeygenRequest & { network: BitcoinNetwork } {
  onlyFields(body, ['scheme', 'threshold', 'parties', 'members', 'network', 'hd'])
  if (body.hd !== undefined && typeof body.hd !== 'boolean') bad('hd must be true or false')
  if (typeof body.scheme !== 'string' || !(SCHEMES as readonly string[]).includes(body.scheme)) bad(`scheme must be one of ${SCHEMES.join(', ')}`)
  const threshold = int(body, 'threshold')
  const members = body.members
  if (members !== undefined && (!Array.isArray(members) || members.some(m => typeof m !== 'string'))) bad('members must be an array of PeerId strings')
  const parties = body.parties === undefined && Array.isArray(members) ? members.length : int(body, 'parties')
  if (threshold < 1) bad(`threshold must be at least 1 (got ${threshold})`)
  if (threshold > parties) bad(`threshold ${threshold} is larger than parties ${parties}`)
  return { scheme: body.scheme, threshold, parties, members: members as string[] | undefined, network: parseNetwork(body.network), ...(body.hd === true ? { hd: true } : {}) }
}

/** An HD path as the API takes it ("m/0/5"): 400 with the reason if it is not an unhardened path. */
export function parsePath (value: unknown): number[] {
  if (typeof value !== 'string') bad('path must be a string such as m/0/5')
  try {
    return parseHdPath(value)
  } catch (err) {
    if (err instanceof CryptoInputError) bad(`path: ${err.message}`)
    throw err
  }
}

function peerList (body: Record<string, unknown>, name: string): string[] | undefined {
  const v = body[name]
  if (v === undefined) return undefined
  if (!Array.isArray(v) || v.some(m => typeof m !== 'string') || v.length > 64) bad(`${name} must be an array of at most 64 PeerId strings`)
  return v as string[]
}

/** `approval: { expiresAtMs, approvals: [{ publicKey, signature }] }`: the admins' signatures over a change of holders. */
function parseApproval (value: unknown): KeyChangeApprovalSet | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('approval must be { expiresAtMs, approvals: [{ publicKey, signature }] }')
  const obj = value as Record<string, unknown>
  onlyFields(obj, ['expiresAtMs', 'approvals'])
  const expiresAtMs = int(obj, 'expiresAtMs')
  try {
    return { expiresAtMs, approvals: parseKeyChangeApprovals(obj.approvals) }
  } catch (err) {
    if (err instanceof PolicyError) bad(`approval: ${err.message}`)
    throw err
  }
}

/** `POST /v1/keys/:id/reshare` body: `{ threshold?, members? }` or `{ threshold?, add?, remove? }`, and `approval` to add holders. */
export function parseReshareBody (body: Record<string, unknown> = {}): ReshareChange {
  onlyFields(body, ['threshold', 'members', 'add', 'remove', 'approval'])
  const change: ReshareChange = {}
  const approval = parseApproval(body.approval)
  if (approval !== undefined) change.approval = approval
  if (body.threshold !== undefined) change.threshold = int(body, 'threshold')
  for (const name of ['members', 'add', 'remove'] as const) {
    const list = peerList(body, name)
    if (list !== undefined) change[name] = list
  }
  if (change.threshold === undefined && change.members === undefined && change.add === undefined && change.remove === undefined) bad('a reshare changes something: threshold, members, or add/remove')
  return change
}

/** `POST /v1/keys/:id/repair` body: `{ holder, replacement?, approval? }` (a replacement is a new holder: it needs the admins' approval). */
export function parseRepairBody (body: Record<string, unknown> = {}): { holder: string, replacement?: string, approval?: KeyChangeApprovalSet } {
  onlyFields(body, ['holder', 'replacement', 'approval'])
  const approval = parseApproval(body.approval)
  if (typeof body.holder !== 'string' || body.holder === '') bad('holder must be the PeerId of the holder whose share is lost')
  if (body.replacement !== undefined && (typeof body.replacement !== 'string' || body.replacement === '')) bad('replacement must be a PeerId')
  return { holder: body.holder, ...(typeof body.replacement === 'string' ? { replacement: body.replacement } : {}), ...(approval !== undefined ? { approval } : {}) }
}

/** An HD key's child as a watch-only wallet sees it: its signing key, address, and the root as an xpub (Taproot). */
export interface ChildView {
  keyId: string
  path: string
  /** The key the child's signatures verify under (Taproot: the BIP-86 output key, compressed). */
  publicKey: string
  xOnlyPublicKey?: string
  address?: string
  network?: BitcoinNetwork
  /** Taproot: the root as a BIP-32 extended public key (untweaked), for watch-only wallets. */
  xpub?: string
}

/** The child of an HD key at `path` (coordinator and watchers derive it without shares); 400 for a plain key. */
export function childView (key: KeyRecord, path: number[], network: BitcoinNetwork): ChildView {
  if (key.chainCode === undefined) throw new ApiError(400, 'bad_request', `key ${key.id} is not an HD key (made without hd): it has no child keys`)
  const root = fromHex(key.groupPublicKey)!
  const chainCode = fromHex(key.chainCode)!
  const pub = childPublic(key.scheme, decodePublic(fromHex(key.publicPackage)!), deriveHdChild(key.scheme, root, chainCode, path))
  const described = describeGroupKey(key.scheme, pub.commitments[0]!, network)
  return {
    keyId: key.id,
    path: formatHdPath(path),
    publicKey: described.publicKey,
    ...(described.address !== undefined ? { xOnlyPublicKey: described.xOnlyPublicKey, address: described.address, network, xpub: encodeXpub(root, chainCode, network) } : { address: solanaAddress(pub.commitments[0]!) })
  }
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/

/** A signed client request in a body (policy.ts), or undefined when the body has none. */
export function parseRequestField (value: unknown): SignedRequest | undefined {
  if (value === undefined) return undefined
  try {
    return parseSignedRequest(value)
  } catch (err) {
    if (err instanceof PolicyError) bad(`request: ${err.message}`)
    throw err
  }
}

export function parseHex (value: unknown, name: string): Uint8Array {
  if (typeof value !== 'string' || !HEX.test(value)) bad(`${name} must be a non-empty hex string of whole bytes`)
  return new Uint8Array(Buffer.from(value, 'hex'))
}

/** `POST /v1/keys/:id/sign` body: `{ message: hex, request: the client's signed request }` (policy.ts). */
export function parseSignBody (body: Record<string, unknown> = {}): { message: Uint8Array, request: SignedRequest | undefined, pooled: boolean, path?: number[] } {
  onlyFields(body, ['message', 'request', 'pooled', 'path'])
  const message = parseHex(body.message, 'message')
  if (body.pooled !== undefined && typeof body.pooled !== 'boolean') bad('pooled must be true or false')
  const pooled = body.pooled !== false
  const path = body.path === undefined ? {} : { path: parsePath(body.path) }
  return { message, request: parseRequestField(body.request), pooled, ...path }
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
  /** Taproot: the P2TR address on `network`; Ed25519: the Solana address (base58 of the key) */
  address?: string
  network?: BitcoinNetwork
  createdAtMs: number
  /** 1 from keygen; each refresh, reshare or repair adds one. */
  version: number
  /** HD keys: the root's chain code (hex); the address shown is the root child's (m). */
  chainCode?: string
}

export function keyView (key: KeyRecord, state: (peerId: string) => HolderState, network: BitcoinNetwork): KeyView {
  const holders = key.holders.map(peerId => ({ peerId, state: state(peerId) }))
  const up = holders.filter(h => h.state === 'up').length
  const removed = holders.filter(h => h.state === 'removed').map(h => h.peerId)
  // An HD key's group key is its root (Taproot: untweaked); what it pays to is the root child's key.
  const signingKey = key.chainCode === undefined ? fromHex(key.groupPublicKey)! : fromHex(childView(key, [], network).publicKey)!
  const described = describeGroupKey(key.scheme, signingKey, network)
  return {
    id: key.id,
    scheme: key.scheme,
    threshold: key.threshold,
    parties: key.holders.length,
    holders,
    status: up === holders.length ? 'ok' : up >= key.threshold ? 'degraded' : 'unavailable',
    ...(removed.length > 0 ? { note: `reshare due: ${removed.join(', ')} ${removed.length === 1 ? 'was' : 'were'} removed from the cluster, and ${removed.length === 1 ? 'its share stays' : 'their shares stay'} valid until the key is reshared` } : {}),
    groupPublicKey: key.groupPublicKey,
    ...(described.xOnlyPublicKey !== undefined ? { xOnlyPublicKey: described.xOnlyPublicKey, address: described.address, network } : { address: solanaAddress(signingKey) }),
    createdAtMs: key.createdAtMs,
    version: key.version,
    ...(key.chainCode === undefined ? {} : { chainCode: key.chainCode })
  }
}
