import { peerIdFromString } from '@libp2p/peer-id'
import { sha256 } from '@noble/hashes/sha2.js'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { canonicalJson, POLICY_LIMITS, verifyEd25519, type PolicyRule } from './policy.js'
import { fieldParsers } from './fields.js'

/**
 * The audit chain (issue 12): every MPC node appends one entry per signing decision it makes,
 * allowed or denied, each entry naming the hash of the one before and signed by the node's
 * libp2p identity (Ed25519). Editing, removing, reordering or forging an entry breaks the chain
 * at that entry. Pure: parsing, canonical bytes, chain verification and the cross-check of the
 * cluster's signatures against the signers' chains. The node's chain on disk is
 * src/state/audit-log.ts.
 */

/** An audit entry that does not parse; the message names the field. */
export class AuditError extends Error {
  override name = 'AuditError'
}

/**
 * Why a decision was a denial (a policy rule), or how it was taken without one: `no-policy` (no
 * policy in force, the node signs as before; on an allowed entry too), `no-request` (a policy is
 * in force and no signed request came with the command).
 */
export type AuditRule = PolicyRule | 'no-policy' | 'no-request'

const AUDIT_RULES: ReadonlySet<string> = new Set<AuditRule>([
  'malformed', 'wrong-cluster', 'old-version', 'quorum', 'unknown-client', 'bad-signature', 'not-allowed',
  'wrong-message', 'expired', 'replayed', 'rate-limit', 'approvals', 'no-policy', 'no-request',
  'transactions-only', 'destination', 'amount', 'daily-volume'
])

/**
 * A transaction as the node decoded it before deciding (issue 15): where the money went. At most
 * AUDIT_LIMITS.outputs outputs are listed (`outputCount` says how many there were); amounts are
 * decimal strings of satoshis or lamports.
 */
export interface AuditTransaction {
  chain: 'bitcoin' | 'solana'
  network?: string
  /** the PSBT input this share signed */
  input?: number
  /** what left the key: its coins spent less its change (payments and fee), or the lamports sent */
  amount: string
  outputs: Array<{ to: string, amount: string, ours?: true }>
  outputCount: number
}

/** One signing decision of a node, as it enters its chain. Never a secret: no share, nonce or passphrase. */
export interface AuditDecision {
  /** `commit`: a nonce commitment released (signCommit); `share`: a signature share released (signShare) */
  stage: 'commit' | 'share'
  outcome: 'allowed' | 'denied'
  /** a denial's rule; on an allowed entry only `no-policy` */
  rule?: AuditRule
  /** human text of a denial, at most AUDIT_LIMITS.reasonLength characters (longer text is cut) */
  reason?: string
  keyId: string
  sessionId: string
  requestId?: string
  /** requestHash() of the request, hex, when a request was presented and parsed */
  requestHash?: string
  client?: string
  /** approver public keys (hex) whose approval signatures verified, sorted */
  approvals: string[]
  /** sha256 of the message signed, hex (share stage) */
  messageDigest?: string
  /** the policy version in force, 0 when none was */
  policyVersion: number
  /** the transaction the request named, as this node decoded it (share stage) */
  transaction?: AuditTransaction
}

export interface AuditEntry extends AuditDecision {
  /** 1, 2, 3 … without gaps */
  seq: number
  atMs: number
  /** the node's PeerId string (an Ed25519 identity): whose chain this is, and whose key signs it */
  node: string
  /** auditEntryHash of the entry before, hex; GENESIS_HASH for seq 1 */
  prev: string
  /** the node's Ed25519 signature over auditSigningBytes(entry), hex */
  signature: string
}

export const AUDIT_LIMITS = {
  reasonLength: 512,
  approvals: POLICY_LIMITS.approvers,
  idLength: POLICY_LIMITS.idLength,
  clientLength: POLICY_LIMITS.nameLength,
  /** a PeerId string: base58btc of an identity multihash, 52 characters for Ed25519 */
  nodeLength: 128,
  /** outputs of a transaction listed in an entry (the rest are counted) */
  outputs: 8,
  /** an address, or the hex of a script with none (an OP_RETURN's 83 bytes at most as standard) */
  addressLength: 180
} as const

/** What the first entry's `prev` holds. */
export const GENESIS_HASH = '0'.repeat(64)

const SIGNING_DOMAIN = 'mpc-wallet/audit/1\n'
const ENTRY_DOMAIN = 'mpc-wallet/audit-entry/1\n'
const HEX_32 = /^[0-9a-f]{64}$/
const HEX_SIG = /^[0-9a-f]{128}$/
const ID = /^[A-Za-z0-9_-]+$/
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/

const DECISION_FIELDS = ['stage', 'outcome', 'rule', 'reason', 'keyId', 'sessionId', 'requestId', 'requestHash', 'client', 'approvals', 'messageDigest', 'policyVersion', 'transaction'] as const
const ENTRY_FIELDS = [...DECISION_FIELDS, 'seq', 'atMs', 'node', 'prev', 'signature'] as const

/** What the node signs: the entry without its signature, canonical, under a domain string. */
export function auditSigningBytes (entry: Omit<AuditEntry, 'signature'>): Uint8Array {
  // canonicalJson leaves out undefined fields: a signature the entry may carry is not signed
  return fromString(SIGNING_DOMAIN + canonicalJson({ ...entry, signature: undefined }))
}

/** The hash the next entry's `prev` names: of the whole entry, signature included, hex. */
export function auditEntryHash (entry: AuditEntry): string {
  return toString(sha256(fromString(ENTRY_DOMAIN + canonicalJson(entry))), 'hex')
}

/** `reason` cut to AUDIT_LIMITS.reasonLength characters (a cut one ends in "…"), never splitting a surrogate pair. */
export function boundReason (reason: string): string {
  if (reason.length <= AUDIT_LIMITS.reasonLength) return reason
  let cut = reason.slice(0, AUDIT_LIMITS.reasonLength - 1)
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1)
  return cut + '…'
}

/**
 * A decision as it enters a chain: its own fields only, `reason` bounded, `approvals` sorted and
 * each listed once; then checked as parseAuditEntry checks them (throws AuditError).
 */
export function normaliseDecision (decision: AuditDecision): AuditDecision {
  const out: Record<string, unknown> = {}
  for (const field of DECISION_FIELDS) if (decision[field] !== undefined) out[field] = decision[field]
  if (typeof decision.reason === 'string') out.reason = boundReason(decision.reason)
  if (Array.isArray(decision.approvals)) out.approvals = [...new Set(decision.approvals)].sort()
  return parseDecision(out, 'decision: ')
}

// ---- parsing: every field checked, every error names it ----

function fail (message: string): never {
  throw new AuditError(message)
}

const { object, onlyFields, whole, text } = fieldParsers(fail)

function oneOf<T extends string> (value: unknown, what: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) fail(`${what} must be one of ${allowed.join(', ')}`)
  return value as T
}

/** `obj` without its undefined fields: an absent optional field stays absent in what is stored and compared. */
function defined<T extends object> (obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T
}

function optionalText (value: unknown, what: string, pattern: RegExp, maxLength: number): string | undefined {
  return value === undefined ? undefined : text(value, what, pattern, maxLength)
}

function parseRule (value: unknown, what: string): AuditRule | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !AUDIT_RULES.has(value)) fail(`${what} must be a policy rule, no-policy or no-request`)
  return value as AuditRule
}

/** The decision fields of `obj`; `what` prefixes the field names in errors. Absent optional fields stay absent. */
function parseDecision (obj: Record<string, unknown>, what: string): AuditDecision {
  const outcome = oneOf(obj.outcome, `${what}outcome`, ['allowed', 'denied'] as const)
  const rule = parseRule(obj.rule, `${what}rule`)
  if (outcome === 'denied' && rule === undefined) fail(`${what}rule must name the rule of a denial`)
  if (outcome === 'allowed' && rule !== undefined && rule !== 'no-policy') fail(`${what}rule of an allowed decision can only be no-policy`)
  if (obj.reason !== undefined && (typeof obj.reason !== 'string' || obj.reason.length > AUDIT_LIMITS.reasonLength)) {
    fail(`${what}reason must be text of at most ${AUDIT_LIMITS.reasonLength} characters`)
  }
  if (!Array.isArray(obj.approvals)) fail(`${what}approvals must be a list`)
  if (obj.approvals.length > AUDIT_LIMITS.approvals) fail(`${what}approvals holds ${obj.approvals.length} entries, at most ${AUDIT_LIMITS.approvals}`)
  const approvals = obj.approvals.map((k, i) => text(k, `${what}approvals[${i}]`, HEX_32, 64))
  if (approvals.some((k, i) => i > 0 && k <= approvals[i - 1]!)) fail(`${what}approvals must be sorted, each key once`)
  const policyVersion = whole(obj.policyVersion, `${what}policyVersion`, 0)
  if (rule === 'no-policy' && policyVersion !== 0) fail(`${what}rule is no-policy under policy version ${policyVersion}`)
  return defined({
    stage: oneOf(obj.stage, `${what}stage`, ['commit', 'share'] as const),
    outcome,
    rule,
    reason: obj.reason,
    keyId: text(obj.keyId, `${what}keyId`, ID, AUDIT_LIMITS.idLength),
    sessionId: text(obj.sessionId, `${what}sessionId`, ID, AUDIT_LIMITS.idLength),
    requestId: optionalText(obj.requestId, `${what}requestId`, ID, AUDIT_LIMITS.idLength),
    requestHash: optionalText(obj.requestHash, `${what}requestHash`, HEX_32, 64),
    client: optionalText(obj.client, `${what}client`, ID, AUDIT_LIMITS.clientLength),
    approvals,
    messageDigest: optionalText(obj.messageDigest, `${what}messageDigest`, HEX_32, 64),
    policyVersion,
    transaction: obj.transaction === undefined ? undefined : parseTransaction(obj.transaction, `${what}transaction`)
  })
}

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/
const ADDRESS = /^[A-Za-z0-9]+$/

function parseTransaction (value: unknown, what: string): AuditTransaction {
  const obj = object(value, what)
  onlyFields(obj, ['chain', 'network', 'input', 'amount', 'outputs', 'outputCount'], what)
  if (!Array.isArray(obj.outputs) || obj.outputs.length > AUDIT_LIMITS.outputs) fail(`${what}.outputs must be a list of at most ${AUDIT_LIMITS.outputs}`)
  const outputs = obj.outputs.map((o: unknown, i) => {
    const out = object(o, `${what}.outputs[${i}]`)
    onlyFields(out, ['to', 'amount', 'ours'], `${what}.outputs[${i}]`)
    if (out.ours !== undefined && out.ours !== true) fail(`${what}.outputs[${i}].ours must be true when present`)
    return { to: text(out.to, `${what}.outputs[${i}].to`, ADDRESS, AUDIT_LIMITS.addressLength), amount: text(out.amount, `${what}.outputs[${i}].amount`, DECIMAL, 20), ...(out.ours === true ? { ours: true as const } : {}) }
  })
  return defined({
    chain: oneOf(obj.chain, `${what}.chain`, ['bitcoin', 'solana'] as const),
    network: optionalText(obj.network, `${what}.network`, /^[a-z]+$/, 16),
    input: obj.input === undefined ? undefined : whole(obj.input, `${what}.input`, 0),
    amount: text(obj.amount, `${what}.amount`, DECIMAL, 20),
    outputs,
    outputCount: whole(obj.outputCount, `${what}.outputCount`, outputs.length)
  })
}

/**
 * An audit entry (JSON, as stored or fetched from a peer), checked field by field: no unknown
 * field, every id and hex string in its format and bounds, approvals sorted, a denial with its
 * rule. Not normalised: the result holds the input's fields and values (absent ones stay
 * absent), so its hash and signed bytes are the input's.
 */
export function parseAuditEntry (value: unknown): AuditEntry {
  const obj = object(value, 'audit entry')
  onlyFields(obj, ENTRY_FIELDS, 'audit entry')
  const seq = whole(obj.seq, 'audit entry: seq', 1)
  const what = `audit entry ${seq}: `
  return {
    ...parseDecision(obj, what),
    seq,
    atMs: whole(obj.atMs, `${what}atMs`, 0),
    node: text(obj.node, `${what}node`, BASE58, AUDIT_LIMITS.nodeLength),
    prev: text(obj.prev, `${what}prev`, HEX_32, 64),
    signature: text(obj.signature, `${what}signature`, HEX_SIG, 128)
  }
}

// ---- verification ----

export type ChainVerdict = { ok: true, count: number, head: string } | { ok: false, seq: number, reason: string }

/** The raw Ed25519 public key of a PeerId string, hex; undefined for one that is not an Ed25519 PeerId. */
function nodeKey (node: string): string | undefined {
  try {
    const peerId = peerIdFromString(node)
    return peerId.type === 'Ed25519' ? toString(peerId.publicKey.raw, 'hex') : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether `entries` are a run of `node`'s chain: each well formed and `node`'s, numbered one after
 * the other from 1 (or from `from.seq + 1`), each `prev` the hash of the entry before (or
 * `from.hash`, GENESIS_HASH at the start), each signed by `node`'s key. The answer names the first
 * entry that is not, by its seq (the seq expected where an entry has none), and why; when all
 * are, how many and the hash of the last (`from.hash` or GENESIS_HASH for none).
 */
export function verifyChain (node: string, entries: readonly AuditEntry[], from?: { seq: number, hash: string }): ChainVerdict {
  let seq = from?.seq ?? 0
  let head = from?.hash ?? GENESIS_HASH
  let headIs = from === undefined ? 'the start of a chain (64 zeros)' : `the hash given for entry ${from.seq}`
  const key = nodeKey(node)
  if (key === undefined) return { ok: false, seq: seq + 1, reason: `${node} is not an Ed25519 PeerId` }
  for (const raw of entries) {
    let entry: AuditEntry
    try {
      entry = parseAuditEntry(raw)
    } catch (err) {
      return { ok: false, seq: claimedSeq(raw) ?? seq + 1, reason: `malformed: ${(err as Error).message}` }
    }
    const bad = (reason: string): ChainVerdict => ({ ok: false, seq: entry.seq, reason })
    if (entry.node !== node) return bad(`the entry is from ${entry.node}, not ${node}`)
    if (entry.seq !== seq + 1) return bad(from === undefined && seq === 0 ? `the chain starts at seq ${entry.seq}, not 1` : `seq ${entry.seq} follows ${seq}`)
    if (entry.prev !== head) return bad(`prev does not match ${headIs}`)
    if (!verifyEd25519(key, auditSigningBytes(entry), entry.signature)) return bad('signature does not verify')
    seq = entry.seq
    head = auditEntryHash(entry)
    headIs = `the hash of entry ${seq}`
  }
  return { ok: true, count: entries.length, head }
}

function claimedSeq (value: unknown): number | undefined {
  const seq = typeof value === 'object' && value !== null ? (value as { seq?: unknown }).seq : undefined
  return typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : undefined
}

/** A signature the cluster produced, as the coordinator's log tells it. */
export interface ProducedSignature {
  sessionId: string
  keyId: string
  requestHash: string
  /** PeerIds of the nodes that released a share of it */
  signers: string[]
}

/**
 * Whether the signers' chains account for the cluster's signatures: for each signature, each
 * signer's chain must hold an allowed `share` entry of that session, key and request hash.
 * Returns the problems, each naming the node, the session and what is missing or different;
 * empty when all agree. A signer whose chain is not in `chains` is reported once, as "no chain
 * from <node>". The chains are taken as they are: check each with verifyChain first.
 */
export function crossCheck (chains: ReadonlyMap<string, readonly AuditEntry[]>, signatures: readonly ProducedSignature[]): string[] {
  const problems: string[] = []
  // per node: its share entries by session, indexed on first use
  const indexes = new Map<string, Map<string, AuditEntry[]>>()
  const sharesOf = (node: string, chain: readonly AuditEntry[]): Map<string, AuditEntry[]> => {
    let index = indexes.get(node)
    if (index === undefined) {
      index = new Map()
      for (const entry of chain) {
        if (entry.stage !== 'share') continue
        const list = index.get(entry.sessionId) ?? []
        list.push(entry)
        index.set(entry.sessionId, list)
      }
      indexes.set(node, index)
    }
    return index
  }
  const missingChains = new Set<string>()
  for (const sig of signatures) {
    for (const node of sig.signers) {
      const chain = chains.get(node)
      if (chain === undefined) {
        if (!missingChains.has(node)) problems.push(`no chain from ${node}`)
        missingChains.add(node)
        continue
      }
      const entries = sharesOf(node, chain).get(sig.sessionId) ?? []
      const allowed = entries.filter(e => e.outcome === 'allowed')
      if (allowed.some(e => e.keyId === sig.keyId && e.requestHash === sig.requestHash)) continue
      problems.push(`${node}, session ${sig.sessionId}: ${difference(sig, allowed, entries)}`)
    }
  }
  return problems
}

/** What a signer's share entries of a session say instead of an allowed share of `sig`. */
function difference (sig: ProducedSignature, allowed: AuditEntry[], entries: AuditEntry[]): string {
  const entry = allowed[0]
  if (entry === undefined) {
    const denial = entries.find(e => e.outcome === 'denied')
    if (denial !== undefined) return `the chain holds a denied share entry (seq ${denial.seq}, ${denial.rule ?? 'no rule'}), no allowed one`
    return `no allowed share entry for key ${sig.keyId}`
  }
  if (entry.keyId !== sig.keyId) return `the allowed share entry (seq ${entry.seq}) is for key ${entry.keyId}, the signature is of key ${sig.keyId}`
  if (entry.requestHash === undefined) return `the allowed share entry (seq ${entry.seq}) names no request hash, the signature's is ${sig.requestHash}`
  return `the allowed share entry (seq ${entry.seq}) names request hash ${entry.requestHash}, the signature's is ${sig.requestHash}`
}
