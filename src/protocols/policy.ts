import { createPublicKey, randomBytes, verify as verifySignature, type KeyObject } from 'node:crypto'
import { sha256 } from '@noble/hashes/sha2.js'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { fieldParsers } from './fields.js'
import { isBitcoinNetwork, wholeAmount, type Spend, type TransactionRef } from '../wallet/spend.js'

/**
 * The signing policy (issue 12) as data: who the admins are, which clients may use which keys,
 * rate limits and approvals per key, and the signed sign request a client sends. Pure: parsing
 * with clear errors, canonical bytes, and signature checks (Ed25519 by OpenSSL, node:crypto).
 * The node-side guard and the stores that remember request ids and counts build on this.
 */

/** A document or request that does not parse, or does not verify; the message says which rule. */
export class PolicyError extends Error {
  override name = 'PolicyError'
  constructor (readonly rule: PolicyRule, message: string) {
    super(message)
  }
}

/** The rule a refused policy update or sign request failed; the refusal's label. */
export type PolicyRule =
  | 'malformed'
  | 'wrong-cluster'
  | 'old-version'
  | 'skipped-version'
  | 'quorum'
  | 'unknown-client'
  | 'bad-signature'
  | 'not-allowed'
  | 'wrong-message'
  | 'expired'
  | 'replayed'
  | 'rate-limit'
  | 'approvals'
  | 'transactions-only'
  | 'destination'
  | 'amount'
  | 'daily-volume'

export const POLICY_LIMITS = {
  admins: 32,
  clients: 256,
  keys: 4096,
  approvers: 32,
  nameLength: 64,
  idLength: 128,
  /** A request may be valid at most this long: its id is remembered until it expires. */
  maxRequestLifetimeMs: 24 * 60 * 60_000,
  /** A signed policy's encoded size: one travels whole in a synced record (a command answer). */
  documentBytes: 48 * 1024,
  /** A signed request's encoded size, approvals included. */
  requestBytes: 8 * 1024,
  /** addresses in one key's `transactions.destinations` */
  destinations: 256,
  addressLength: 128
} as const

/** The admin set and how many of them must sign a new policy version. */
export interface AdminSet {
  /** Ed25519 public keys, hex, sorted, distinct */
  keys: string[]
  quorum: number
}

export interface PolicyClient {
  name: string
  /** Ed25519 public key, hex */
  publicKey: string
  /** key ids this client may use; "*" for every key */
  keys: string[]
}

export interface RateLimits {
  /** signatures of this key per hour / per day, all clients together */
  perHour?: number
  perDay?: number
  /** signatures of this key per hour / per day by one client */
  perClientPerHour?: number
  perClientPerDay?: number
}

/**
 * Rules on the transactions a key signs (issue 15), judged by every holder on the transaction it
 * decodes itself. A key with these rules signs transactions only: a request for plain bytes
 * (which could be a transaction's sighash in disguise) is refused.
 */
export interface TransactionRules {
  /** the only addresses outputs may pay, besides change back to the key; absent: any */
  destinations?: string[]
  /** the most one transaction may send out (satoshis or lamports, a decimal string) */
  maxAmount?: string
  /** the most the key may send out in any 24 hours, all clients together (a decimal string) */
  dailyVolume?: string
}

export interface KeyRules {
  /** clients (names) allowed this key besides those whose own entry names it */
  clients?: string[]
  rateLimits?: RateLimits
  approvals?: { approvers: string[], required: number }
  transactions?: TransactionRules
}

export interface Policy {
  version: number
  clusterId: string
  admins: AdminSet
  clients: PolicyClient[]
  keys: Record<string, KeyRules>
}

/** A policy version with the admins' signatures over its canonical bytes. */
export interface SignedPolicy {
  policy: Policy
  /** admin public key (hex) -> signature (hex) */
  signatures: Record<string, string>
}

/** What a client asks: one signature of `messageDigest` (sha256 of the message) with `keyId`. */
export interface SignRequest {
  clusterId: string
  keyId: string
  /** sha256 of the message to sign, hex */
  messageDigest: string
  /** chosen by the client, unique: a request is carried out at most once */
  requestId: string
  /** ms since the epoch after which no node acts on it */
  notAfter: number
  /** An HD key's child that signs (`m/0/5`); absent: the key itself (its root, `m`) */
  path?: string
  /**
   * A transaction: `messageDigest` is then the sha256 of the transaction's bytes (a PSBT, or a
   * Solana transfer message), each holder reads it itself, and signs what it computes from it
   * (every input of ours of a PSBT, once each). Absent: plain bytes.
   */
  transaction?: TransactionRef
}

/** A sign request with its client's signature and any approvals (over its hash). */
export interface SignedRequest {
  request: SignRequest
  client: string
  /** the client's signature over requestBytes(request), hex */
  signature: string
  /** approver public key (hex) -> signature over requestHash(request) (hex) */
  approvals: Record<string, string>
}

const POLICY_DOMAIN = 'mpc-wallet/policy/1\n'
const REQUEST_DOMAIN = 'mpc-wallet/sign-request/1\n'
const ADMIN_SET_DOMAIN = 'mpc-wallet/admin-set/1\n'
const HEX_KEY = /^[0-9a-f]{64}$/
const HEX_SIG = /^[0-9a-f]{128}$/
const ID = /^[A-Za-z0-9_-]+$/
/** An unhardened HD path as formatHdPath writes it (src/crypto/hd.ts): m, then /index with no leading zero. */
const HD_PATH = /^m(\/(0|[1-9][0-9]{0,9}))*$/

/**
 * JSON with object keys sorted and no whitespace: the one byte form of a document, what is signed
 * and hashed. Only what the formats here hold: objects, arrays, strings, booleans, safe integers.
 */
export function canonicalJson (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'boolean') return String(value)
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new PolicyError('malformed', `${value} is not a whole number`)
    return String(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  throw new PolicyError('malformed', `cannot encode ${typeof value}`)
}

export function policyBytes (policy: Policy): Uint8Array {
  return fromString(POLICY_DOMAIN + canonicalJson(policy))
}

export function requestBytes (request: SignRequest): Uint8Array {
  return fromString(REQUEST_DOMAIN + canonicalJson(request))
}

/** What approvers sign: the hash of the request's bytes. */
export function requestHash (request: SignRequest): Uint8Array {
  return sha256(requestBytes(request))
}

/** The hash an invitation carries, so a joining node accepts only this admin set. */
export function adminSetHash (admins: AdminSet): string {
  return toString(sha256(fromString(ADMIN_SET_DOMAIN + canonicalJson(admins))), 'hex')
}

/** Ed25519 by OpenSSL. False for a key or signature that is not one. */
export function verifyEd25519 (publicKeyHex: string, data: Uint8Array, signatureHex: string): boolean {
  if (!HEX_KEY.test(publicKeyHex) || !HEX_SIG.test(signatureHex)) return false
  let key: KeyObject
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKeyHex, 'hex').toString('base64url') }, format: 'jwk' })
  } catch {
    return false
  }
  return verifySignature(null, data, key, Buffer.from(signatureHex, 'hex'))
}

// ---- parsing: every field checked, every error names it ----

function fail (message: string): never {
  throw new PolicyError('malformed', message)
}

const { object, onlyFields, whole, text, list } = fieldParsers(fail)

function distinct (values: string[], what: string): void {
  if (new Set(values).size !== values.length) fail(`${what} lists an entry twice`)
}

const publicKey = (value: unknown, what: string): string => text(value, what, HEX_KEY, 64)
const keyId = (value: unknown, what: string): string => text(value, what, ID, POLICY_LIMITS.idLength)
const name = (value: unknown, what: string): string => text(value, what, ID, POLICY_LIMITS.nameLength)

export function parseAdminSet (value: unknown): AdminSet {
  const obj = object(value, 'admins')
  onlyFields(obj, ['keys', 'quorum'], 'admins')
  const keys = list(obj.keys, 'admins.keys', POLICY_LIMITS.admins, (k, i) => publicKey(k, `admins.keys[${i}]`))
  if (keys.length === 0) fail('admins.keys must name at least one admin')
  distinct(keys, 'admins.keys')
  const quorum = whole(obj.quorum, 'admins.quorum', 1, keys.length)
  return { keys: [...keys].sort(), quorum }
}

function parseClient (value: unknown, i: number): PolicyClient {
  const obj = object(value, `clients[${i}]`)
  onlyFields(obj, ['name', 'publicKey', 'keys'], `clients[${i}]`)
  const keys = list(obj.keys ?? [], `clients[${i}].keys`, POLICY_LIMITS.keys, (k, j) => k === '*' ? '*' : keyId(k, `clients[${i}].keys[${j}]`))
  distinct(keys, `clients[${i}].keys`)
  return { name: name(obj.name, `clients[${i}].name`), publicKey: publicKey(obj.publicKey, `clients[${i}].publicKey`), keys: [...keys].sort() }
}

function parseKeyRules (value: unknown, id: string, clients: Set<string>): KeyRules {
  const what = `keys.${id}`
  const obj = object(value, what)
  onlyFields(obj, ['clients', 'rateLimits', 'approvals', 'transactions'], what)
  const rules: KeyRules = {}
  if (obj.clients !== undefined) {
    const names = list(obj.clients, `${what}.clients`, POLICY_LIMITS.clients, (c, i) => name(c, `${what}.clients[${i}]`))
    distinct(names, `${what}.clients`)
    const unknown = names.filter(n => !clients.has(n))
    if (unknown.length > 0) fail(`${what}.clients names unknown client(s): ${unknown.join(', ')}`)
    rules.clients = [...names].sort()
  }
  if (obj.rateLimits !== undefined) {
    const limits = object(obj.rateLimits, `${what}.rateLimits`)
    const fields = ['perHour', 'perDay', 'perClientPerHour', 'perClientPerDay'] as const
    onlyFields(limits, fields, `${what}.rateLimits`)
    rules.rateLimits = {}
    for (const f of fields) if (limits[f] !== undefined) rules.rateLimits[f] = whole(limits[f], `${what}.rateLimits.${f}`, 0, 1_000_000)
  }
  if (obj.approvals !== undefined) {
    const approvals = object(obj.approvals, `${what}.approvals`)
    onlyFields(approvals, ['approvers', 'required'], `${what}.approvals`)
    const approvers = list(approvals.approvers, `${what}.approvals.approvers`, POLICY_LIMITS.approvers, (k, i) => publicKey(k, `${what}.approvals.approvers[${i}]`))
    distinct(approvers, `${what}.approvals.approvers`)
    rules.approvals = { approvers: [...approvers].sort(), required: whole(approvals.required, `${what}.approvals.required`, 1, approvers.length) }
  }
  if (obj.transactions !== undefined) rules.transactions = parseTransactionRules(obj.transactions, `${what}.transactions`)
  return rules
}

const ADDRESS = /^[A-Za-z0-9]+$/
/** A segwit address's prefix (BIP-173): bech32 may be written in capitals (QR codes do), and decoders write it lower-case. */
const BECH32 = /^(bc|tb|bcrt)1[a-z0-9]+$/i

/** An address as decoded outputs name it: bech32 lower-cased (an address in capitals is the same script); base58 as it is (case matters). */
function canonicalAddress (address: string): string {
  return BECH32.test(address) ? address.toLowerCase() : address
}
/** An amount in satoshis or lamports (wholeAmount), kept as a decimal string. */
function amount (value: unknown, what: string): string {
  const n = wholeAmount(value)
  if (n === undefined) fail(`${what} must be a whole number of satoshis or lamports (0 to 2^64-1), as a number or a decimal string`)
  return n.toString()
}

function parseTransactionRules (value: unknown, what: string): TransactionRules {
  const obj = object(value, what)
  onlyFields(obj, ['destinations', 'maxAmount', 'dailyVolume'], what)
  const rules: TransactionRules = {}
  if (obj.destinations !== undefined) {
    const addresses = list(obj.destinations, `${what}.destinations`, POLICY_LIMITS.destinations, (a, i) => canonicalAddress(text(a, `${what}.destinations[${i}]`, ADDRESS, POLICY_LIMITS.addressLength)))
    distinct(addresses, `${what}.destinations`)
    rules.destinations = [...addresses].sort()
  }
  if (obj.maxAmount !== undefined) rules.maxAmount = amount(obj.maxAmount, `${what}.maxAmount`)
  if (obj.dailyVolume !== undefined) rules.dailyVolume = amount(obj.dailyVolume, `${what}.dailyVolume`)
  return rules
}

function parseTransactionRef (value: unknown, what: string): TransactionRef {
  const obj = object(value, what)
  if (obj.chain === 'solana') {
    onlyFields(obj, ['chain'], what)
    return { chain: 'solana' }
  }
  if (obj.chain !== 'bitcoin') fail(`${what}.chain must be bitcoin or solana`)
  onlyFields(obj, ['chain', 'network'], what)
  if (!isBitcoinNetwork(obj.network)) fail(`${what}.network must be mainnet, testnet or regtest`)
  return { chain: 'bitcoin', network: obj.network }
}

/** A policy document (JSON, as in the CLI's files), checked field by field and normalised (sorted lists). */
export function parsePolicy (value: unknown): Policy {
  const obj = object(value, 'policy')
  onlyFields(obj, ['version', 'clusterId', 'admins', 'clients', 'keys'], 'policy')
  const clients = list(obj.clients ?? [], 'clients', POLICY_LIMITS.clients, parseClient)
  distinct(clients.map(c => c.name), 'clients (by name)')
  distinct(clients.map(c => c.publicKey), 'clients (by public key)')
  const names = new Set(clients.map(c => c.name))
  const keysObj = object(obj.keys ?? {}, 'keys')
  const ids = Object.keys(keysObj)
  if (ids.length > POLICY_LIMITS.keys) fail(`keys holds ${ids.length} entries, at most ${POLICY_LIMITS.keys}`)
  const keys: Record<string, KeyRules> = {}
  for (const id of ids.sort()) keys[keyId(id, `keys.${id.slice(0, 32)}`)] = parseKeyRules(keysObj[id], id, names)
  return {
    version: whole(obj.version, 'version', 1),
    clusterId: text(obj.clusterId, 'clusterId', ID, POLICY_LIMITS.idLength),
    admins: parseAdminSet(obj.admins),
    clients: clients.sort((a, b) => a.name < b.name ? -1 : 1),
    keys
  }
}

export function parseSignRequest (value: unknown): SignRequest {
  const obj = object(value, 'request')
  onlyFields(obj, ['clusterId', 'keyId', 'messageDigest', 'requestId', 'notAfter', 'path', 'transaction'], 'request')
  return {
    clusterId: text(obj.clusterId, 'request.clusterId', ID, POLICY_LIMITS.idLength),
    keyId: keyId(obj.keyId, 'request.keyId'),
    messageDigest: text(obj.messageDigest, 'request.messageDigest', HEX_KEY, 64),
    requestId: keyId(obj.requestId, 'request.requestId'),
    notAfter: whole(obj.notAfter, 'request.notAfter', 0),
    ...(obj.path === undefined ? {} : { path: text(obj.path, 'request.path', HD_PATH, 200) }),
    ...(obj.transaction === undefined ? {} : { transaction: parseTransactionRef(obj.transaction, 'request.transaction') })
  }
}

export function parseSignedRequest (value: unknown): SignedRequest {
  const obj = object(value, 'signed request')
  onlyFields(obj, ['request', 'client', 'signature', 'approvals'], 'signed request')
  const approvals = object(obj.approvals ?? {}, 'approvals')
  if (Object.keys(approvals).length > POLICY_LIMITS.approvers) fail(`approvals holds more than ${POLICY_LIMITS.approvers} entries`)
  for (const [k, v] of Object.entries(approvals)) {
    publicKey(k, 'an approver key')
    text(v, `the approval of ${k.slice(0, 16)}`, HEX_SIG, 128)
  }
  return {
    request: parseSignRequest(obj.request),
    client: name(obj.client, 'client'),
    signature: text(obj.signature, 'signature', HEX_SIG, 128),
    approvals: approvals as Record<string, string>
  }
}

/** A signed policy as a document: the policy parsed, the signatures shaped (not yet verified). */
export function parseSignedPolicy (value: unknown): SignedPolicy {
  const obj = object(value, 'signed policy')
  onlyFields(obj, ['policy', 'signatures'], 'signed policy')
  const signatures = object(obj.signatures ?? {}, 'signatures')
  if (Object.keys(signatures).length > POLICY_LIMITS.admins) fail(`signatures holds more than ${POLICY_LIMITS.admins} entries`)
  for (const [k, v] of Object.entries(signatures)) {
    publicKey(k, 'an admin key')
    text(v, `the signature of ${k.slice(0, 16)}`, HEX_SIG, 128)
  }
  return { policy: parsePolicy(obj.policy), signatures: signatures as Record<string, string> }
}

/** The wire and record form of a document: canonical JSON, UTF-8. */
export function encodeDocument (value: SignedPolicy | SignedRequest | AdminSet): Uint8Array {
  return fromString(canonicalJson(value))
}

function decodeJson (bytes: Uint8Array, what: string, maxBytes: number): unknown {
  if (bytes.length > maxBytes) fail(`${what} is ${bytes.length} bytes, at most ${maxBytes}`)
  try {
    return JSON.parse(toString(bytes))
  } catch {
    fail(`${what} is not JSON`)
  }
}

export function decodeAdminSet (bytes: Uint8Array): AdminSet {
  return parseAdminSet(decodeJson(bytes, 'an admin set', POLICY_LIMITS.documentBytes))
}

export function decodeSignedPolicy (bytes: Uint8Array): SignedPolicy {
  return parseSignedPolicy(decodeJson(bytes, 'a signed policy', POLICY_LIMITS.documentBytes))
}

export function decodeSignedRequest (bytes: Uint8Array): SignedRequest {
  return parseSignedRequest(decodeJson(bytes, 'a signed request', POLICY_LIMITS.requestBytes))
}

/** A client's signing key as request makers use it: its name in the policy and an Ed25519 signer (hex). */
export interface RequestSigner {
  client: string
  sign: (data: Uint8Array) => string
}

/** How long a request made without `ttlMs` stays valid. */
export const DEFAULT_REQUEST_TTL_MS = 10 * 60_000

/**
 * A new sign request for `message`, signed by the client (a random request id unless given). For
 * a transaction, `message` is the transaction's bytes (a PSBT, a Solana transfer message).
 */
export function newSignedRequest (signer: RequestSigner, fields: { clusterId: string, keyId: string, message: Uint8Array, requestId?: string, ttlMs?: number, nowMs?: number, path?: string, transaction?: TransactionRef }): SignedRequest {
  const request = parseSignRequest({
    clusterId: fields.clusterId,
    keyId: fields.keyId,
    messageDigest: toString(sha256(fields.message), 'hex'),
    requestId: fields.requestId ?? randomBytes(12).toString('hex'),
    notAfter: (fields.nowMs ?? Date.now()) + (fields.ttlMs ?? DEFAULT_REQUEST_TTL_MS),
    ...(fields.path === undefined || fields.path === 'm' ? {} : { path: fields.path }),
    ...(fields.transaction === undefined ? {} : { transaction: fields.transaction })
  })
  // Parsed whole once signed: the client's name is checked as a node will check it.
  return parseSignedRequest({ request, client: signer.client, signature: signer.sign(requestBytes(request)), approvals: {} })
}

/**
 * New requests a client makes for one message when the last was spent without a signature: an
 * attempt in which a co-signer failed after others released their shares uses the request up
 * on those nodes (each acts on a request once), and they refuse it as replayed from then on.
 */
export const SPENT_REQUEST_RETRIES = 2

/**
 * Signs with a new request from `newRequest` each time: again, with a fresh request id, when
 * `spent(err)` says the nodes refused the last one as replayed. Only the client can do this (it
 * alone holds its key): a coordinator that replays a request is refused for good.
 */
export async function withNewRequests<T> (newRequest: () => SignedRequest, sign: (request: SignedRequest) => Promise<T>, spent: (err: unknown) => boolean): Promise<T> {
  // `spent`: the coordinator's request_spent, or the nodes' own refusal as replayed.
  for (let retry = 0; ; retry++) {
    try {
      return await sign(newRequest())
    } catch (err) {
      if (retry >= SPENT_REQUEST_RETRIES || !spent(err)) throw err
    }
  }
}

// ---- verification ----

/**
 * A new policy version, checked against the current one (or, for the first, against the admin
 * set fixed at init): same cluster, a higher version, and signed by at least a quorum of the
 * *current* admins (a new admin set takes over only once the old one has signed it in).
 */
export function verifyPolicyUpdate (signed: SignedPolicy, current: { clusterId: string, version: number, admins: AdminSet }): Policy {
  const policy = parsePolicy(signed.policy)
  const size = encodeDocument({ policy, signatures: signed.signatures }).length
  if (size > POLICY_LIMITS.documentBytes) throw new PolicyError('malformed', `policy version ${policy.version} with its signatures is ${size} bytes, at most ${POLICY_LIMITS.documentBytes}`)
  if (policy.clusterId !== current.clusterId) throw new PolicyError('wrong-cluster', `the policy is for cluster ${policy.clusterId}, this is ${current.clusterId}`)
  if (policy.version <= current.version) throw new PolicyError('old-version', `policy version ${policy.version} is not newer than version ${current.version} in force`)
  const bytes = policyBytes(policy)
  const valid = current.admins.keys.filter(k => signed.signatures[k] !== undefined && verifyEd25519(k, bytes, signed.signatures[k]))
  if (valid.length < current.admins.quorum) {
    throw new PolicyError('quorum', `policy version ${policy.version} carries ${valid.length} valid admin signature(s); ${current.admins.quorum} of the current admins must sign`)
  }
  return policy
}

/** What a node knows of past requests and signatures, to check replays and rate limits. */
export interface RequestHistory {
  /**
   * The client's request id was acted on before (remembered until its notAfter); ids are per
   * client. `input`: a PSBT's input, each acted on once under one request.
   */
  seen: (client: string, requestId: string, input?: number) => boolean
  /** requests signed with `keyId` since `sinceMs`, by `client` if given (a request of many inputs counts once), `except` one (client/requestId) */
  signedSince: (keyId: string, sinceMs: number, client?: string, except?: string) => number
  /** what transactions signed with `keyId` since `sinceMs` sent out, each request once, `except` one (client/requestId) */
  volumeSince: (keyId: string, sinceMs: number, except?: string) => bigint
}

/**
 * A transaction as the party judging a request read it itself (wallet/spend.ts readSpend): the
 * sha256 of its bytes, which input of a PSBT is asked, and what it spends.
 */
export interface SpendAsked extends Spend {
  payloadDigest: string
  input?: number
}

/** The verdict; when allowed, with the approvers whose approval verified (sorted). */
export type Authorisation = { allowed: true, client: PolicyClient, approvedBy: string[] } | { allowed: false, rule: PolicyRule, reason: string }

const HOUR_MS = 60 * 60_000
const DAY_MS = 24 * HOUR_MS

/**
 * Whether the policy authorises this signed request to sign `message` with `keyId` now (the
 * message is undefined before it is known: a nonce commitment is asked for the request only): the
 * client is known and signed it, may use the key, the request names this key and message and
 * has not expired (nor lives longer than a day), its id is new, the key's rate limits have room,
 * and enough of the key's approvers approved it. The first rule that fails is the answer.
 */
export function authorise (policy: Policy, signed: SignedRequest, keyIdAsked: string, message: Uint8Array | undefined, nowMs: number, history: RequestHistory, pathAsked?: string, spend?: SpendAsked): Authorisation {
  const deny = (rule: PolicyRule, reason: string): Authorisation => ({ allowed: false, rule, reason })
  const { request } = signed
  if (request.clusterId !== policy.clusterId) return deny('wrong-cluster', `the request is for cluster ${request.clusterId}`)
  const client = policy.clients.find(c => c.name === signed.client)
  if (client === undefined) return deny('unknown-client', `no client "${signed.client}" in policy version ${policy.version}`)
  if (!verifyEd25519(client.publicKey, requestBytes(request), signed.signature)) return deny('bad-signature', `the request is not signed by client "${client.name}"`)
  if (request.keyId !== keyIdAsked) return deny('wrong-message', `the request is for key ${request.keyId}, not ${keyIdAsked}`)
  if (message !== undefined) {
    const wrong = wrongMessage(request, message, spend)
    if (wrong !== undefined) return deny('wrong-message', wrong)
  }
  // An HD key's child is part of what the client asked: no other child signs for its request.
  if (message !== undefined && (request.path ?? 'm') !== (pathAsked ?? 'm')) return deny('wrong-message', `the request is for ${request.path ?? 'm'} of key ${request.keyId}, not ${pathAsked ?? 'm'}`)
  const rules = policy.keys[request.keyId] ?? {}
  if (!client.keys.includes('*') && !client.keys.includes(request.keyId) && rules.clients?.includes(client.name) !== true) {
    return deny('not-allowed', `client "${client.name}" may not use key ${request.keyId}`)
  }
  const txRules = rules.transactions
  if (txRules !== undefined && request.transaction === undefined) return deny('transactions-only', `key ${request.keyId} signs transactions only (its policy has transaction rules): ask with a PSBT or a transfer, not bytes`)
  if (request.notAfter < nowMs) return deny('expired', `the request expired at ${new Date(request.notAfter).toISOString()}`)
  if (request.notAfter > nowMs + POLICY_LIMITS.maxRequestLifetimeMs) return deny('expired', 'the request is valid for more than a day; ask with a nearer notAfter')
  // A transaction's request is taken once per PSBT input, and which input a commitment is for is
  // not known before the share: its replay check waits for the share (or the coordinator's check).
  const replayKnown = request.transaction === undefined || message !== undefined
  if (replayKnown && history.seen(client.name, request.requestId, spend?.input)) return deny('replayed', `request ${request.requestId}${spend?.input !== undefined ? ` (input ${spend.input})` : ''} was already acted on`)
  const limits = rules.rateLimits ?? {}
  const checks: Array<[number | undefined, number, string | undefined, string]> = [
    [limits.perHour, HOUR_MS, undefined, 'per hour'],
    [limits.perDay, DAY_MS, undefined, 'per day'],
    [limits.perClientPerHour, HOUR_MS, client.name, `per hour for client "${client.name}"`],
    [limits.perClientPerDay, DAY_MS, client.name, `per day for client "${client.name}"`]
  ]
  // The request itself is left out of the count: another input of its transaction signed already is not another signature.
  const self = `${client.name}/${request.requestId}`
  for (const [limit, window, who, label] of checks) {
    if (limit !== undefined && history.signedSince(request.keyId, nowMs - window, who, self) >= limit) return deny('rate-limit', `key ${request.keyId} is at its limit of ${limit} signature(s) ${label}`)
  }
  if (txRules !== undefined && spend !== undefined) {
    const refused = refusedSpend(txRules, spend, history.volumeSince(request.keyId, nowMs - DAY_MS, self), request.keyId)
    if (refused !== undefined) return deny(refused.rule, refused.reason)
  }
  let approvedBy: string[] = []
  if (rules.approvals !== undefined) {
    const hash = requestHash(request)
    approvedBy = rules.approvals.approvers.filter(a => signed.approvals[a] !== undefined && verifyEd25519(a, hash, signed.approvals[a]))
    if (approvedBy.length < rules.approvals.required) return deny('approvals', `${approvedBy.length} valid approval(s); key ${request.keyId} needs ${rules.approvals.required}`)
  }
  return { allowed: true, client, approvedBy }
}

/** Why the message asked is not the one the request names, or undefined when it is. */
function wrongMessage (request: SignRequest, message: Uint8Array, spend: SpendAsked | undefined): string | undefined {
  const tx = request.transaction
  if (tx === undefined) {
    if (spend !== undefined) return 'a transaction came with a request for plain bytes'
    return request.messageDigest === toString(sha256(message), 'hex') ? undefined : 'the message is not the one the request names'
  }
  if (spend === undefined) return `the request is for a ${tx.chain} transaction, and none came with the command`
  if (spend.payloadDigest !== request.messageDigest) return 'the transaction is not the one the request names'
  if (spend.ref.chain !== tx.chain || (tx.chain === 'bitcoin' && (spend.ref.chain !== 'bitcoin' || spend.ref.network !== tx.network))) return 'the transaction was read for another chain or network than the request names'
  if (toString(spend.message, 'hex') !== toString(message, 'hex')) {
    return tx.chain === 'bitcoin'
      ? `the digest asked is not the BIP-341 sighash this node computes for input ${spend.input ?? 0} of the PSBT`
      : 'the message asked is not the transfer message the request names'
  }
  return undefined
}

/** The transaction rule a spend breaks, or undefined. `spentToday`: the key's volume in the last 24 h, this request left out. */
function refusedSpend (rules: TransactionRules, spend: SpendAsked, spentToday: bigint, keyId: string): { rule: PolicyRule, reason: string } | undefined {
  if (rules.destinations !== undefined) {
    const allowed = new Set(rules.destinations)
    const other = spend.outputs.find(o => !o.ours && !allowed.has(o.to))
    if (other !== undefined) return { rule: 'destination', reason: `${other.to.slice(0, POLICY_LIMITS.addressLength)} is not an allowed destination of key ${keyId}` }
  }
  if (rules.maxAmount !== undefined && spend.amount > BigInt(rules.maxAmount)) {
    return { rule: 'amount', reason: `the transaction sends ${spend.amount}, more than key ${keyId}'s maximum of ${rules.maxAmount} per transaction` }
  }
  if (rules.dailyVolume !== undefined && spentToday + spend.amount > BigInt(rules.dailyVolume)) {
    return { rule: 'daily-volume', reason: `the transaction sends ${spend.amount} and key ${keyId} sent ${spentToday} in the last 24 hours, more than its ${rules.dailyVolume} per day` }
  }
  return undefined
}
