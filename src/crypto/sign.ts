/**
 * Threshold signing, RFC 9591 section 5: round one (commit, noble's FROST), round two (sign a
 * share) and aggregation with share verification (section 5.4) to name bad signers through the
 * lean steps of frost-lean.ts (byte-identical to noble's, differential-tested), and strict,
 * versioned binary encodings of keys, public packages and nonces.
 */
import type { FrostPublic, FrostSecret, Key, NonceCommitments, Nonces } from '@noble/curves/abstract/frost.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesEqual, concat, fromHex, Reader, toHex } from './bytes.js'
import { BlameError, CryptoInputError } from './errors.js'
import { leanAggregate, leanCheckCommitment, leanInvalidShares, leanSignShare, leanTrustOwnCommitment, prepareKey, type LeanCommitment, type PreparedKey } from './frost-lean.js'
import {
  frostSuite, isValidElement, MAX_PARTIES, nobleRng, POINT_BYTES, type Rng, SCALAR_BYTES, type Scheme,
  schemeOfElementLength, validateMessage, validateThreshold
} from './suites.js'

/**
 * A nonce commitment as it comes off the wire: noble's NonceCommitments with any Uint8Array
 * (decoders give Uint8Array<ArrayBufferLike>). Noble's own NonceCommitments is one of these.
 */
export type CommitmentInput = LeanCommitment

/** One signer's round-one output: secret nonces (use once) and their public commitments. */
export interface SignerCommit { nonces: Nonces, commitments: NonceCommitments }

const nobleMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 200)

/** The scheme a public package belongs to, from its element length. */
export function schemeOfPublic (pub: FrostPublic): Scheme {
  const first = Array.isArray(pub?.commitments) ? pub.commitments[0] : undefined
  const scheme = first instanceof Uint8Array ? schemeOfElementLength(first.length) : undefined
  if (scheme === undefined) throw new CryptoInputError('public package has no recognizable group key')
  return scheme
}

function isZero (b: Uint8Array): boolean {
  return b.every((x) => x === 0)
}

/** A canonical serialized identifier of the suite: non-zero scalar, lower-case hex of its bytes. */
function isValidIdentifier (scheme: Scheme, id: unknown): id is string {
  if (typeof id !== 'string') return false
  const bytes = fromHex(id)
  if (bytes?.length !== SCALAR_BYTES) return false
  const { Fn } = frostSuite(scheme).utils
  try {
    const n = Fn.fromBytes(bytes)
    return !Fn.is0(n) && toHex(Fn.toBytes(n)) === id
  } catch {
    return false
  }
}

function isValidScalar (scheme: Scheme, b: unknown): b is Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== SCALAR_BYTES) return false
  try {
    frostSuite(scheme).utils.Fn.fromBytes(b)
    return true
  } catch {
    return false
  }
}

/** ScalarBaseMult(nonce) serialized as the suite does (RFC 9591 section 5.1 commitments). */
function commitmentOf (scheme: Scheme, nonce: Uint8Array): Uint8Array {
  const n = frostSuite(scheme).utils.Fn.fromBytes(nonce)
  return scheme === 'ed25519' ? ed25519.Point.BASE.multiply(n).toBytes() : secp256k1.Point.BASE.multiply(n).toBytes(true)
}

/** A byte string of the suite's element length; with `full`, also a valid element (section 3.1). */
function elementOk (scheme: Scheme, b: unknown, full: boolean): boolean {
  return b instanceof Uint8Array && (full ? isValidElement(scheme, b) : b.length === POINT_BYTES[scheme])
}

/**
 * Checks of a public package: identifiers canonical, counts t and n, elements of the right size.
 * `full` also decodes every element (on-curve, subgroup: costly on Ed25519); the decoders use
 * it, while signing leaves element decoding to noble, which does it on every use anyway.
 */
function checkPublic (scheme: Scheme, pub: FrostPublic, full = false): void {
  if (typeof pub !== 'object' || pub === null || typeof pub.signers !== 'object' || pub.signers === null) throw new CryptoInputError('public package malformed')
  validateThreshold(pub.signers.min, pub.signers.max)
  if (!Array.isArray(pub.commitments) || pub.commitments.length !== pub.signers.min) throw new CryptoInputError('public package must have t commitments')
  if (!pub.commitments.every((c) => elementOk(scheme, c, full))) throw new CryptoInputError('public package has an invalid commitment')
  if (typeof pub.verifyingShares !== 'object' || pub.verifyingShares === null) throw new CryptoInputError('public package has no verifying shares')
  const entries = Object.entries(pub.verifyingShares)
  if (entries.length !== pub.signers.max) throw new CryptoInputError('public package must have n verifying shares')
  for (const [id, point] of entries) {
    if (!isValidIdentifier(scheme, id) || !elementOk(scheme, point, full)) throw new CryptoInputError('public package has an invalid verifying share')
  }
}

function checkCommitmentList (scheme: Scheme, pub: FrostPublic, list: CommitmentInput[]): void {
  if (!Array.isArray(list)) throw new CryptoInputError('commitment list must be an array')
  if (list.length < pub.signers.min || list.length > pub.signers.max) {
    throw new CryptoInputError(`commitment list must have t..n entries (t=${pub.signers.min}, n=${pub.signers.max}, got ${list.length})`)
  }
  const seen = new Set<string>()
  for (const c of list) {
    if (typeof c !== 'object' || c === null || !isValidIdentifier(scheme, c.identifier)) throw new CryptoInputError('commitment list has an invalid identifier')
    if (seen.has(c.identifier)) throw new CryptoInputError(`commitment list names identifier ${c.identifier} twice`)
    seen.add(c.identifier)
    if (!(c.identifier in pub.verifyingShares)) throw new CryptoInputError(`identifier ${c.identifier} is not a holder of this key`)
    if (!elementOk(scheme, c.hiding, false) || !elementOk(scheme, c.binding, false)) throw new CryptoInputError(`commitment of ${c.identifier} has a malformed element`)
  }
}

/**
 * A signer's round-one commitment as RFC 9591 section 3.1 wants it: a holder's identifier of the
 * key `pub`, two valid elements. Its elements are kept decoded for the signature that uses them
 * (see preparedKey).
 */
export function isValidNonceCommitment (scheme: Scheme, c: CommitmentInput, pub: FrostPublic): boolean {
  return leanCheckCommitment(preparedKey(scheme, pub), c)
}

const prepared = new WeakMap<FrostPublic, PreparedKey>()

/**
 * A key's public package decoded and validated once for signing (group key, verifying shares,
 * and bounded caches of commitment lists, Lagrange coefficients and commitment points), per
 * package object: callers keep one decoded package per key (the share vault, SignTask).
 */
export function preparedKey (scheme: Scheme, pub: FrostPublic): PreparedKey {
  let key = prepared.get(pub)
  if (key === undefined) {
    key = prepareKey(scheme, pub)
    prepared.set(pub, key)
  }
  return key
}

/** RFC 9591 section 5.1 commit: fresh hiding and binding nonces and their commitments. */
export function commitNonces (scheme: Scheme, secret: FrostSecret, rng?: Rng): SignerCommit {
  const frost = frostSuite(scheme)
  if (typeof secret !== 'object' || secret === null || !isValidIdentifier(scheme, secret.identifier) || !isValidScalar(scheme, secret.signingShare)) {
    throw new CryptoInputError('secret share malformed')
  }
  const { nonces, commitments } = frost.commit(secret, nobleRng(rng))
  return { nonces, commitments }
}

/**
 * RFC 9591 section 5.2 sign: this signer's share over `message`. Refuses unless `own.commitments`
 * appears byte-for-byte under our identifier in `commitmentList`. Noble zeroes `own.nonces` on
 * success, so the same nonces can never sign twice through this object.
 */
export function signShare (scheme: Scheme, key: Key, own: SignerCommit, commitmentList: CommitmentInput[], message: Uint8Array): Uint8Array {
  validateMessage(scheme, message)
  if (typeof key !== 'object' || key === null) throw new CryptoInputError('key missing')
  checkPublic(scheme, key.public)
  if (typeof key.secret !== 'object' || key.secret === null || !isValidIdentifier(scheme, key.secret.identifier) || !isValidScalar(scheme, key.secret.signingShare)) {
    throw new CryptoInputError('secret share malformed')
  }
  const id = key.secret.identifier
  if (typeof own !== 'object' || own === null || typeof own.commitments !== 'object' || typeof own.nonces !== 'object') throw new CryptoInputError('own commitment malformed')
  if (own.commitments.identifier !== id) throw new CryptoInputError('own commitment belongs to another identifier')
  checkCommitmentList(scheme, key.public, commitmentList)
  const listed = commitmentList.find((c) => c.identifier === id)
  if (listed === undefined || !bytesEqual(listed.hiding, own.commitments.hiding) || !bytesEqual(listed.binding, own.commitments.binding)) {
    throw new CryptoInputError('our own nonce commitment is not in the commitment list')
  }
  if (!(own.nonces.hiding instanceof Uint8Array) || !(own.nonces.binding instanceof Uint8Array) || isZero(own.nonces.hiding) || isZero(own.nonces.binding)) {
    throw new CryptoInputError('signing nonces already used')
  }
  try {
    // Our own commitment was checked against the list above; it matches our nonces (commitNonces,
    // decodeNonces), so its points need no subgroup check.
    const prepared = preparedKey(scheme, key.public)
    leanTrustOwnCommitment(prepared, listed)
    return leanSignShare(prepared, key.secret, own.nonces, commitmentList, message)
  } catch (err) {
    throw new CryptoInputError(`signing refused: ${nobleMessage(err)}`)
  }
}

/**
 * RFC 9591 section 5.3 aggregate, then verify the result under the group key. Only when that
 * fails, verify each share (section 5.4) and throw BlameError naming the signers whose shares
 * are invalid, as frost-rs does. `names` maps identifiers to participant names for the blame.
 */
export function aggregateSignature (
  scheme: Scheme, pub: FrostPublic, commitmentList: CommitmentInput[], message: Uint8Array,
  shares: Record<string, Uint8Array>, names: Record<string, string>
): Uint8Array {
  validateMessage(scheme, message)
  checkPublic(scheme, pub)
  checkCommitmentList(scheme, pub, commitmentList)
  if (typeof shares !== 'object' || shares === null || typeof names !== 'object' || names === null) throw new CryptoInputError('shares and names must be records')
  const ids = commitmentList.map((c) => c.identifier)
  if (Object.keys(shares).length !== ids.length) throw new CryptoInputError('exactly one share per listed signer is needed')
  for (const id of ids) {
    if (!Object.hasOwn(shares, id)) throw new CryptoInputError(`no signature share from identifier ${id}`)
    if (!Object.hasOwn(names, id) || typeof names[id] !== 'string') throw new CryptoInputError(`no participant name for identifier ${id}`)
  }
  const key = preparedKey(scheme, pub)
  // A commitment that is not a valid element makes every share fail below: name its sender instead.
  const badCommitments = commitmentList.filter((c) => !leanCheckCommitment(key, c)).map((c) => names[c.identifier] ?? c.identifier)
  if (badCommitments.length > 0) throw new BlameError(badCommitments, 'invalid nonce commitment', `invalid nonce commitment from ${badCommitments.join(', ')}`)
  try {
    // Aggregated and verified under the group key (it throws if the signature does not verify).
    return leanAggregate(key, commitmentList, message, shares)
  } catch {
    // fall through to per-share verification
  }
  const culprits = leanInvalidShares(key, commitmentList, message, shares).map((id) => names[id] ?? id)
  if (culprits.length > 0) throw new BlameError(culprits, 'invalid signature share', `invalid signature share from ${culprits.join(', ')}`)
  throw new CryptoInputError('aggregation failed although every share verifies: public package or commitment list inconsistent')
}

// ---- serialization: version(1) || kind(1) || scheme(1) || body, every field fixed-size or counted.

const VERSION = 1
const KIND_KEY = 0x4b // 'K'
const KIND_PUBLIC = 0x50 // 'P'
const KIND_NONCES = 0x4e // 'N'
const SCHEME_CODE: Readonly<Record<Scheme, number>> = { ed25519: 1, taproot: 2 }

const decodeError = (what: string) => (why: string) => new CryptoInputError(`malformed ${what} encoding (${why})`)

function header (kind: number, scheme: Scheme): Uint8Array {
  return Uint8Array.of(VERSION, kind, SCHEME_CODE[scheme])
}

function readHeader (r: Reader, kind: number, fail: (why: string) => Error): Scheme {
  if (r.u8() !== VERSION) throw fail('unsupported version')
  if (r.u8() !== kind) throw fail('wrong kind')
  const code = r.u8()
  const scheme = (Object.keys(SCHEME_CODE) as Scheme[]).find((s) => SCHEME_CODE[s] === code)
  if (scheme === undefined) throw fail('unknown scheme')
  return scheme
}

/** min(1) || max(1) || commitments (t elements) || n x (identifier(32) || verifying share), identifiers ascending. */
function publicBody (scheme: Scheme, pub: FrostPublic): Uint8Array {
  checkPublic(scheme, pub, true)
  const entries = Object.entries(pub.verifyingShares).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return concat(
    Uint8Array.of(pub.signers.min, pub.signers.max),
    ...pub.commitments,
    ...entries.flatMap(([id, point]) => [fromHex(id) ?? new Uint8Array(0), point])
  )
}

function readPublicBody (r: Reader, scheme: Scheme, fail: (why: string) => Error): FrostPublic {
  const min = r.u8()
  const max = r.u8()
  if (min < 2 || min > max || max > MAX_PARTIES) throw fail('threshold out of bounds')
  const P = POINT_BYTES[scheme]
  const commitments: Array<Uint8Array<ArrayBuffer>> = []
  for (let i = 0; i < min; i++) {
    const c = r.take(P)
    if (!isValidElement(scheme, c)) throw fail('invalid commitment')
    commitments.push(c)
  }
  const verifyingShares: Record<string, Uint8Array<ArrayBuffer>> = {}
  let previous = ''
  for (let i = 0; i < max; i++) {
    const id = toHex(r.take(SCALAR_BYTES))
    if (!isValidIdentifier(scheme, id)) throw fail('invalid identifier')
    if (id <= previous) throw fail('identifiers not strictly ascending')
    previous = id
    const point = r.take(P)
    if (!isValidElement(scheme, point)) throw fail('invalid verifying share')
    verifyingShares[id] = point
  }
  return { signers: { min, max }, commitments, verifyingShares }
}

export function encodePublic (pub: FrostPublic): Uint8Array {
  const scheme = schemeOfPublic(pub)
  return concat(header(KIND_PUBLIC, scheme), publicBody(scheme, pub))
}

export function decodePublic (bytes: Uint8Array): FrostPublic {
  const fail = decodeError('public package')
  if (!(bytes instanceof Uint8Array)) throw fail('not bytes')
  const r = new Reader(bytes, fail)
  const scheme = readHeader(r, KIND_PUBLIC, fail)
  const pub = readPublicBody(r, scheme, fail)
  r.end()
  return pub
}

/** header || public body || identifier(32) || signing share(32). The share is checked against the commitments (VSS). */
export function encodeKey (key: Key): Uint8Array {
  if (typeof key !== 'object' || key === null) throw new CryptoInputError('key missing')
  const scheme = schemeOfPublic(key.public)
  const { secret } = key
  if (typeof secret !== 'object' || secret === null || !isValidIdentifier(scheme, secret.identifier) || !isValidScalar(scheme, secret.signingShare)) {
    throw new CryptoInputError('secret share malformed')
  }
  if (!(secret.identifier in key.public.verifyingShares)) throw new CryptoInputError('secret share identifier is not in the public package')
  return concat(header(KIND_KEY, scheme), publicBody(scheme, key.public), fromHex(secret.identifier) ?? new Uint8Array(0), secret.signingShare)
}

export function decodeKey (bytes: Uint8Array): Key {
  const fail = decodeError('key')
  if (!(bytes instanceof Uint8Array)) throw fail('not bytes')
  const r = new Reader(bytes, fail)
  const scheme = readHeader(r, KIND_KEY, fail)
  const pub = readPublicBody(r, scheme, fail)
  const identifier = toHex(r.take(SCALAR_BYTES))
  const signingShare = r.take(SCALAR_BYTES)
  r.end()
  if (!isValidIdentifier(scheme, identifier) || !(identifier in pub.verifyingShares)) throw fail('secret identifier is not a holder')
  if (!isValidScalar(scheme, signingShare)) throw fail('invalid signing share')
  const secret = { identifier, signingShare }
  try {
    // RFC 9591 Appendix C.2 vss_verify: the share must lie on the committed polynomial.
    frostSuite(scheme).validateSecret(secret, pub)
  } catch {
    throw fail('signing share does not match the commitments')
  }
  if (!bytesEqual(commitmentOf(scheme, signingShare), pub.verifyingShares[identifier] ?? new Uint8Array(0))) {
    throw fail('signing share does not match its verifying share')
  }
  return { public: pub, secret }
}

/** header || identifier(32) || hiding nonce(32) || binding nonce(32) || hiding commitment || binding commitment. */
export function encodeNonces (c: SignerCommit): Uint8Array {
  if (typeof c !== 'object' || c === null || typeof c.nonces !== 'object' || typeof c.commitments !== 'object') throw new CryptoInputError('signer commit malformed')
  const { nonces, commitments } = c
  const scheme = commitments.hiding instanceof Uint8Array ? schemeOfElementLength(commitments.hiding.length) : undefined
  if (scheme === undefined || !isValidIdentifier(scheme, commitments.identifier) ||
    !isValidScalar(scheme, nonces.hiding) || !isValidScalar(scheme, nonces.binding)) {
    throw new CryptoInputError('signer commit malformed')
  }
  if (isZero(nonces.hiding) || isZero(nonces.binding)) throw new CryptoInputError('signing nonces already used')
  if (!bytesEqual(commitmentOf(scheme, nonces.hiding), commitments.hiding) || !bytesEqual(commitmentOf(scheme, nonces.binding), commitments.binding)) {
    throw new CryptoInputError('nonces do not match their commitments')
  }
  return concat(header(KIND_NONCES, scheme), fromHex(commitments.identifier) ?? new Uint8Array(0), nonces.hiding, nonces.binding, commitments.hiding, commitments.binding)
}

export function decodeNonces (bytes: Uint8Array): SignerCommit {
  const fail = decodeError('nonces')
  if (!(bytes instanceof Uint8Array)) throw fail('not bytes')
  const r = new Reader(bytes, fail)
  const scheme = readHeader(r, KIND_NONCES, fail)
  const identifier = toHex(r.take(SCALAR_BYTES))
  const hiding = r.take(SCALAR_BYTES)
  const binding = r.take(SCALAR_BYTES)
  const hidingCommitment = r.take(POINT_BYTES[scheme])
  const bindingCommitment = r.take(POINT_BYTES[scheme])
  r.end()
  if (!isValidIdentifier(scheme, identifier)) throw fail('invalid identifier')
  if (!isValidScalar(scheme, hiding) || !isValidScalar(scheme, binding)) throw fail('invalid nonce')
  if (isZero(hiding) || isZero(binding)) throw fail('nonces already used')
  if (!bytesEqual(commitmentOf(scheme, hiding), hidingCommitment) || !bytesEqual(commitmentOf(scheme, binding), bindingCommitment)) {
    throw fail('nonces do not match their commitments')
  }
  return { nonces: { hiding, binding }, commitments: { identifier, hiding: hidingCommitment, binding: bindingCommitment } }
}
