/**
 * Distributed key generation as a pure session state machine: noble's FROST DKG (the frost-rs
 * three-call DKG: Pedersen VSS with proofs of knowledge; RFC 9591 leaves DKG out of scope, its
 * Appendix C gives the VSS), with noble's round 1 as is and its round-2/round-3 checks and
 * arithmetic done once per package with noble's Point and Fn (see "group operations" below;
 * the keys equal noble's DKG output byte for byte). The network adapter feeds every inbound
 * message to `receiveDkg` and sends whatever comes back in `outbound`.
 *
 * State handling: every call that changes the session returns a NEW state object and leaves the
 * one passed in untouched; a call that throws CryptoInputError changes nothing. All states of one
 * session share one mutable core (the noble DKG secret, our sent messages), so a session is linear:
 * always continue from the most recent state (an older one is refused as stale). Once a call
 * throws BlameError the session is over for good: the DKG secret is wiped (DKG.clean) and every
 * later call on any of its states throws CryptoInputError. On completion the secret is wiped too.
 */
import type { IField } from '@noble/curves/abstract/modular.js'
import type { DKG_Secret, FROST, FrostPublic, Key } from '@noble/curves/abstract/frost.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { schnorr, secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE, bytesToNumberLE, hexToBytes } from '@noble/curves/utils.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { bytesEqual, concat, lp, u32, utf8 } from './bytes.js'
import { generateX25519, MAX_SEALED_SHARE_BYTES, openShareWithKey, sealShareWithKey, sharePairKeys, type SharePairKeys, type X25519KeyPair } from './ecies.js'
import { BlameError, CryptoInputError } from './errors.js'
import { checkedSender, SessionStates } from './session-states.js'
import { frostSuite, isScheme, nobleRng, participantIdentifier, POINT_BYTES, type Rng, SCALAR_BYTES, type Scheme, validateThreshold } from './suites.js'

export interface DkgParams {
  scheme: Scheme
  clusterId: string
  sessionId: string
  threshold: number
  /** distinct names (peer ids); participant i (0-based) gets identifier participantIdentifier(scheme, i + 1) */
  participants: string[]
  self: string
  /**
   * Taproot only: keep the plain secp256k1 FROST key (no even-y normalisation, no BIP-86 TapTweak),
   * as the root of HD derivation (hd.ts tweaks each child once, at the leaf). Bound into the
   * transcript hash. Refused for ed25519 (its DKG key is plain already); false is the same as absent.
   */
  untweaked?: boolean
}

export interface DkgRound1Message { round: 1, from: string, commitment: Uint8Array[], proofOfKnowledge: Uint8Array, ephemeralPublicKey: Uint8Array }
/** One message per sender, carrying the sealed share for every other participant. */
export interface DkgRound2Message { round: 2, from: string, shares: Array<{ to: string, sealed: Uint8Array }> }
export type DkgMessage = DkgRound1Message | DkgRound2Message

export interface DkgOutcome {
  /** noble Key: public package + this participant's secret share */
  key: Key
  /** key.public.commitments[0] (taproot: the BIP-86 tweaked output key, compressed; with `untweaked`, the plain FROST key) */
  groupPublicKey: Uint8Array
  /** sha256 over every participant's round-1 message in participant order, bound to cluster and session */
  transcriptHash: Uint8Array
  /** dkgRound1Digest of each participant's round-1 message, in participant order (self included) */
  round1Digests: Uint8Array[]
}

export interface DkgState {
  readonly params: DkgParams
  readonly step: 'round1' | 'round2' | 'done'
}

export const MAX_DKG_NAME_LENGTH = 256

const TRANSCRIPT_DOMAIN = 'mpc-wallet/dkg-transcript/v1'
/** The transcript domain of an untweaked (HD root) Taproot DKG: members that disagree on the flag get different hashes. */
const TRANSCRIPT_DOMAIN_UNTWEAKED = 'mpc-wallet/dkg-transcript/v1/untweaked'
const ROUND1_DIGEST_DOMAIN = 'mpc-wallet/dkg-round1/v1'

/*
 * The group operations the DKG checks need, per suite, from noble only. Noble's DKG.round2 and
 * round3 decode and validate every commitment point again at every call (Ed25519: two subgroup
 * checks per decode), re-verify every proof and evaluate each commitment polynomial with a full
 * multi-scalar multiplication; at 10-of-20 that was 2-2.6 s of CPU per participant. Here each
 * sender's round-1 package is decoded and checked once, on arrival, and its points are kept;
 * our identifiers are the small integers 1..n, so a commitment polynomial is evaluated by
 * Horner's rule with small multipliers. The checks and the output are noble's (a differential
 * test compares both paths on the same randomness): RFC 9591 section 3.1 DeserializeElement for
 * every commitment, the frost-rs proof of knowledge, RFC 9591 Appendix C.2 vss_verify per share.
 */

/** A point of either suite's group (noble's Point classes, seen through the methods used here). */
interface GroupElement {
  add: (other: GroupElement) => GroupElement
  negate: () => GroupElement
  multiply: (scalar: bigint) => GroupElement
  multiplyUnsafe: (scalar: bigint) => GroupElement
  equals: (other: GroupElement) => boolean
  is0: () => boolean
  toBytes: () => Uint8Array<ArrayBuffer>
}

export interface DkgGroup {
  readonly Fn: IField<bigint>
  readonly base: GroupElement
  readonly zero: GroupElement
  /** RFC 9591 section 3.1 DeserializeElement (on the curve, not the identity, prime-order subgroup, canonical); undefined if invalid. */
  decode: (bytes: Uint8Array) => GroupElement | undefined
  /** Decoding of a point we made ourselves (no subgroup check). */
  decodeOwn: (bytes: Uint8Array) => GroupElement
  /** The R of a proof of knowledge: on the curve and not the identity (see verifyProofOfKnowledge). */
  decodeProofR: (proof: Uint8Array) => GroupElement | undefined
  /** H_dkg of frost-rs (noble's DKG challenge hash): hash-to-scalar under the suite's "dkg" domain. */
  challenge: (msg: Uint8Array) => bigint
  /** The suite's DKG output adjustment (noble's adjustDKG hook); identity for Ed25519. */
  adjustKey: (key: KeyPoints) => KeyPoints
}

/** A DKG key before serialisation: the group commitment, every verifying share (in noble's order), our share. */
interface KeyPoints {
  commitments: GroupElement[]
  verifyingShares: Array<[string, GroupElement]>
  signingShare: bigint
}

const ED25519_DKG_DOMAIN = utf8('FROST-ED25519-SHA512-v1dkg')
const TAPROOT_DKG_DOMAIN = utf8('FROST-secp256k1-SHA256-TR-v1dkg')

function edwardsGroup (): DkgGroup {
  const P = ed25519.Point
  const fromBytes = (bytes: Uint8Array): ReturnType<typeof P.fromBytes> => {
    const p = P.fromBytes(bytes, false)
    p.assertValidity()
    return p
  }
  return {
    Fn: P.Fn,
    base: P.BASE as unknown as GroupElement,
    zero: P.ZERO as unknown as GroupElement,
    decode: (bytes) => {
      if (bytes.length !== POINT_BYTES.ed25519) return undefined
      try {
        const p = fromBytes(bytes)
        return p.is0() || !p.isTorsionFree() ? undefined : p as unknown as GroupElement
      } catch {
        return undefined
      }
    },
    decodeOwn: (bytes) => fromBytes(bytes) as unknown as GroupElement,
    decodeProofR: (proof) => {
      try {
        const r = fromBytes(proof.subarray(0, POINT_BYTES.ed25519))
        return r.is0() ? undefined : r as unknown as GroupElement
      } catch {
        return undefined
      }
    },
    // noble's default hashToScalar: H(DST || msg) read little-endian, reduced mod L
    challenge: (msg) => P.Fn.create(bytesToNumberLE(sha512(concat(ED25519_DKG_DOMAIN, msg)))),
    adjustKey: (key) => key
  }
}

function taprootGroup (): DkgGroup {
  const P = secp256k1.Point
  const Fn = P.Fn
  const decode = (bytes: Uint8Array): GroupElement | undefined => {
    if (bytes.length !== POINT_BYTES.taproot) return undefined
    try {
      const p = P.fromBytes(bytes)
      p.assertValidity()
      return p.is0() || !bytesEqual(p.toBytes(true), bytes) ? undefined : p as unknown as GroupElement
    } catch {
      return undefined
    }
  }
  return {
    Fn,
    base: P.BASE as unknown as GroupElement,
    zero: P.ZERO as unknown as GroupElement,
    decode,
    decodeOwn: (bytes) => P.fromBytes(bytes) as unknown as GroupElement,
    // noble's schnorr_FROST encodes a proof BIP-340 style (x-only R) and decodes it with an even-y prefix
    decodeProofR: (proof) => decode(concat(Uint8Array.of(0x02), proof.subarray(0, POINT_BYTES.taproot - 1))),
    challenge: (msg) => secp256k1_hasher.hashToScalar(msg, { DST: TAPROOT_DKG_DOMAIN }),
    adjustKey: taprootTweakDkgKey
  }
}

export const groups: Record<Scheme, DkgGroup> = { ed25519: edwardsGroup(), taproot: taprootGroup() }

const hasEvenY = (p: GroupElement): boolean => p.toBytes()[0] === 0x02

/**
 * noble's schnorr_FROST adjustDKG (frost-secp256k1-tr compatibility): the DKG key is normalised to
 * an even-y group key (every commitment, verifying share and the signing share negated if it was
 * odd) and tweaked with the empty Taproot merkle root, BIP-341 taproot_tweak_pubkey/seckey with
 * t = hash_TapTweak(x(P)) (BIP-86): t*G added to the group key and to every verifying share, t to the share.
 */
function taprootTweakDkgKey (key: KeyPoints): KeyPoints {
  const group = groups.taproot
  const { Fn } = group
  let { commitments, verifyingShares, signingShare } = key
  const vk = commitments[0]
  if (vk === undefined) throw new CryptoInputError('DKG key without a group key')
  if (!hasEvenY(vk)) {
    commitments = commitments.map((c) => c.negate())
    verifyingShares = verifyingShares.map(([id, v]) => [id, v.negate()])
    signingShare = Fn.neg(signingShare)
  }
  const t = bytesToNumberBE(schnorr.utils.taggedHash('TapTweak', (commitments[0] ?? vk).toBytes().subarray(1), new Uint8Array(0)))
  if (!Fn.isValid(t)) throw new CryptoInputError('invalid TapTweak hash')
  if (t === 0n) return { commitments, verifyingShares, signingShare }
  const tG = group.base.multiply(t)
  return {
    commitments: commitments.map((c, i) => i === 0 ? c.add(tG) : c),
    verifyingShares: verifyingShares.map(([id, v]) => [id, v.add(tG)]),
    signingShare: Fn.add(signingShare, t)
  }
}

/** A Taproot public package's points, each strictly decoded (RFC 9591 section 3.1), with a share (0n when there is none). */
function taprootPoints (pub: FrostPublic, signingShare: bigint): KeyPoints {
  const group = groups.taproot
  if (typeof pub !== 'object' || pub === null || typeof pub.signers !== 'object' || pub.signers === null ||
    !Array.isArray(pub.commitments) || pub.commitments.length === 0 || typeof pub.verifyingShares !== 'object' || pub.verifyingShares === null) {
    throw new CryptoInputError('taproot public package malformed')
  }
  const point = (b: unknown, what: string): GroupElement => {
    const p = b instanceof Uint8Array ? group.decode(b) : undefined
    if (p === undefined) throw new CryptoInputError(`taproot public package has an invalid ${what}`)
    return p
  }
  return {
    commitments: pub.commitments.map((c) => point(c, 'commitment')),
    verifyingShares: Object.entries(pub.verifyingShares).map(([id, v]): [string, GroupElement] => [id, point(v, 'verifying share')]),
    signingShare
  }
}

function taprootPackage (pub: FrostPublic, key: KeyPoints): FrostPublic {
  return {
    signers: { min: pub.signers.min, max: pub.signers.max },
    commitments: key.commitments.map((c) => c.toBytes()),
    verifyingShares: Object.fromEntries(key.verifyingShares.map(([id, v]) => [id, v.toBytes()]))
  }
}

/**
 * The step a Taproot DKG ends with (taprootTweakDkgKey: even-y normalisation, then the BIP-86
 * TapTweak), applied to a whole public package of a plain secp256k1 FROST key (an untweaked DKG's,
 * or an HD child's). Apply it once: tweaking a tweaked key gives a key no wallet derives.
 */
export function taprootTweakPublic (pub: FrostPublic): FrostPublic {
  return taprootPackage(pub, taprootTweakDkgKey(taprootPoints(pub, 0n)))
}

/** taprootTweakPublic for a holder's whole Key: the share is negated if the key had odd y, then t is added to it. */
export function taprootTweakKey (key: Key): Key {
  if (typeof key !== 'object' || key === null || typeof key.secret !== 'object' || key.secret === null) throw new CryptoInputError('key missing')
  const { identifier, signingShare } = key.secret
  const { Fn } = groups.taproot
  let share: bigint
  try {
    share = Fn.fromBytes(signingShare)
  } catch {
    throw new CryptoInputError('secret share malformed')
  }
  const tweaked = taprootTweakDkgKey(taprootPoints(key.public, share))
  if (!tweaked.verifyingShares.some(([id]) => id === identifier)) throw new CryptoInputError('secret share identifier is not in the public package')
  return { public: taprootPackage(key.public, tweaked), secret: { identifier, signingShare: Uint8Array.from(Fn.toBytes(tweaked.signingShare)) } }
}

/** The BIP-86 output key (33 bytes compressed, even y) of a plain secp256k1 key: BIP-341 taproot_tweak_pubkey with no script tree. */
export function taprootTweakGroupKey (internalKey: Uint8Array): Uint8Array {
  const p = internalKey instanceof Uint8Array ? groups.taproot.decode(internalKey) : undefined
  if (p === undefined) throw new CryptoInputError('invalid secp256k1 public key (expected 33-byte compressed)')
  const out = taprootTweakDkgKey({ commitments: [p], verifyingShares: [], signingShare: 0n }).commitments[0]
  if (out === undefined) throw new CryptoInputError('TapTweak gave no key')
  return Uint8Array.from(out.toBytes())
}

/** sum_k commitment[k] * x^k by Horner's rule; x is a participant index (small), so each step is cheap. */
export function evaluateCommitment (group: DkgGroup, commitment: readonly GroupElement[], x: bigint): GroupElement {
  let acc = commitment[commitment.length - 1] ?? group.zero
  for (let k = commitment.length - 2; k >= 0; k--) acc = acc.multiplyUnsafe(x).add(commitment[k] ?? group.zero)
  return acc
}

/**
 * Feldman/VSS check of a share opened from a dealing: g^share = prod_k C_k^{x^k} (RFC 9591
 * Appendix C.2 vss_verify). Fn.fromBytes refuses a scalar >= the group order and multiply
 * refuses 0, as noble's validateSecret does; anything malformed is false.
 */
export function shareMatchesCommitment (group: DkgGroup, share: Uint8Array, commitment: readonly GroupElement[], x: bigint): boolean {
  try {
    return share.length === SCALAR_BYTES && group.base.multiply(group.Fn.fromBytes(share)).equals(evaluateCommitment(group, commitment, x))
  } catch {
    return false
  }
}

/** sum_k coefficient[k] * x^k in the scalar field (Horner). */
export function evaluatePolynomial (Fn: IField<bigint>, coefficients: readonly bigint[], x: bigint): bigint {
  let acc = Fn.ZERO
  for (let k = coefficients.length - 1; k >= 0; k--) acc = Fn.add(Fn.mul(acc, x), coefficients[k] ?? Fn.ZERO)
  return acc
}

/** Shared by all states of one session; mutable. */
interface Core {
  readonly params: DkgParams
  readonly frost: FROST
  readonly group: DkgGroup
  /** identifier scalars by participant name */
  readonly xs: ReadonlyMap<string, bigint>
  /** our own commitment, decoded */
  readonly ownPoints: readonly GroupElement[]
  /** every share key derived in this session (SharePairKeys), wiped when the session ends */
  readonly derivedKeys: Uint8Array[]
  readonly rng: Rng | undefined
  readonly ids: readonly string[]
  readonly index: ReadonlyMap<string, number>
  readonly selfId: string
  readonly secret: DKG_Secret
  readonly ephemeral: X25519KeyPair
  readonly own1: DkgRound1Message
  own2?: DkgRound2Message
  failed: boolean
  /** the only state of this session that receiveDkg accepts */
  latest?: DkgState
}

/** One state's own view: what it has received so far. */
interface Snapshot {
  readonly core: Core
  readonly round1: ReadonlyMap<string, DkgRound1Message>
  /** each round-1 sender's commitment, decoded and validated once on arrival */
  readonly points: ReadonlyMap<string, readonly GroupElement[]>
  /** the share keys between us and each round-1 sender (one X25519 exchange each; secret) */
  readonly pairKeys: ReadonlyMap<string, SharePairKeys>
  /** every round-2 message received, including those buffered while round 1 was incomplete */
  readonly round2: ReadonlyMap<string, DkgRound2Message>
  /** decrypted, VSS-verified shares by sender (secret) */
  readonly opened: ReadonlyMap<string, Uint8Array>
}

const states = new SessionStates<DkgState, Snapshot>('DKG', 'startDkg/receiveDkg')

function makeState (step: DkgState['step'], snap: Snapshot): DkgState {
  return states.make(Object.freeze({ params: snap.core.params, step }), snap)
}

function snapshotOf (state: DkgState, forUpdate: boolean): Snapshot {
  return states.of(state, forUpdate)
}

function others (core: Core): string[] {
  return core.params.participants.filter((p) => p !== core.params.self)
}

function validateParams (params: DkgParams): DkgParams {
  if (typeof params !== 'object' || params === null) throw new CryptoInputError('DKG params missing')
  const { scheme, clusterId, sessionId, threshold, participants, self, untweaked } = params
  if (typeof scheme !== 'string' || !isScheme(scheme)) throw new CryptoInputError('unknown scheme')
  if (untweaked !== undefined && typeof untweaked !== 'boolean') throw new CryptoInputError('untweaked must be a boolean')
  if (untweaked === true && scheme !== 'taproot') throw new CryptoInputError('untweaked applies to taproot only (an ed25519 DKG key is never tweaked)')
  for (const [what, v] of [['clusterId', clusterId], ['sessionId', sessionId], ['self', self]] as const) {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_DKG_NAME_LENGTH) throw new CryptoInputError(`${what} must be a non-empty string of at most ${MAX_DKG_NAME_LENGTH} characters`)
  }
  if (!Array.isArray(participants)) throw new CryptoInputError('participants must be an array')
  validateThreshold(threshold, participants.length)
  const seen = new Set<string>()
  for (const p of participants) {
    if (typeof p !== 'string' || p.length === 0 || p.length > MAX_DKG_NAME_LENGTH) throw new CryptoInputError('every participant must be a non-empty string')
    if (seen.has(p)) throw new CryptoInputError(`participant ${p} is listed twice`)
    seen.add(p)
  }
  if (!seen.has(self)) throw new CryptoInputError(`self (${self}) is not among the participants`)
  const frozen = Object.freeze([...participants]) as string[]
  // Without the flag the params object keeps its old shape (no `untweaked` key at all).
  return Object.freeze(untweaked === true
    ? { scheme, clusterId, sessionId, threshold, participants: frozen, self, untweaked }
    : { scheme, clusterId, sessionId, threshold, participants: frozen, self })
}

/** Begin a DKG session: our noble round-1 package plus a fresh X25519 key for round-2 sealing. */
export function startDkg (params: DkgParams, rng?: Rng): { state: DkgState, outbound: DkgMessage[] } {
  const p = validateParams(params)
  const frost = frostSuite(p.scheme)
  const ids = p.participants.map((_, i) => participantIdentifier(p.scheme, i + 1))
  const index = new Map(p.participants.map((name, i) => [name, i]))
  const selfId = ids[index.get(p.self) ?? -1]
  if (selfId === undefined) throw new CryptoInputError('self is not among the participants')
  const ephemeral = generateX25519(rng)
  const r1 = frost.DKG.round1(selfId, { min: p.threshold, max: p.participants.length }, undefined, nobleRng(rng))
  const own1: DkgRound1Message = {
    round: 1,
    from: p.self,
    commitment: r1.public.commitment.map((c) => Uint8Array.from(c)),
    proofOfKnowledge: Uint8Array.from(r1.public.proofOfKnowledge),
    ephemeralPublicKey: ephemeral.publicKey
  }
  const group = groups[p.scheme]
  const xs = new Map(p.participants.map((name, i) => [name, group.Fn.fromBytes(hexToBytes(ids[i] ?? ''))]))
  const ownPoints = own1.commitment.map((c) => group.decodeOwn(c))
  const core: Core = {
    params: p, frost, group, xs, ownPoints, derivedKeys: [], rng, ids, index, selfId, secret: r1.secret, ephemeral, own1, failed: false
  }
  const state = makeState('round1', { core, round1: new Map(), points: new Map(), pairKeys: new Map(), round2: new Map(), opened: new Map() })
  return { state, outbound: [copyMessage(own1)] }
}

/** Feed one inbound message. See the module comment for the state and failure rules. */
export function receiveDkg (state: DkgState, msg: DkgMessage): { state: DkgState, outbound: DkgMessage[], outcome?: DkgOutcome } {
  const snap = snapshotOf(state, true)
  const { core } = snap
  checkedSender('DKG', msg, core.params.self, (name) => core.index.has(name), MAX_DKG_NAME_LENGTH)
  if (msg.round === 1) return onRound1(state, snap, checkRound1Shape(msg))
  if (msg.round === 2) return onRound2(state, snap, checkRound2Shape(msg))
  throw new CryptoInputError('unknown DKG round')
}

function checkRound1Shape (msg: DkgRound1Message): DkgRound1Message {
  if (!Array.isArray(msg.commitment) || msg.commitment.length > 1024 || !msg.commitment.every((c) => c instanceof Uint8Array) ||
    !(msg.proofOfKnowledge instanceof Uint8Array) || !(msg.ephemeralPublicKey instanceof Uint8Array)) {
    throw new CryptoInputError('round-1 message is not shaped as DkgRound1Message')
  }
  return msg
}

function checkRound2Shape (msg: DkgRound2Message): DkgRound2Message {
  if (!Array.isArray(msg.shares) || msg.shares.length > 1024 ||
    !msg.shares.every((s) => typeof s === 'object' && s !== null && typeof s.to === 'string' && s.sealed instanceof Uint8Array)) {
    throw new CryptoInputError('round-2 message is not shaped as DkgRound2Message')
  }
  return msg
}

function fail (snap: Snapshot, err: Error): never {
  const { core } = snap
  core.failed = true
  try {
    core.frost.DKG.clean(core.secret)
  } catch {
    // already cleaned (round 3 done): nothing left to wipe
  }
  wipeKeys(core)
  for (const s of snap.opened.values()) s.fill(0)
  throw err
}

function wipeKeys (core: Core): void {
  core.ephemeral.secretKey.fill(0)
  for (const k of core.derivedKeys) k.fill(0)
}

function onRound1 (state: DkgState, snap: Snapshot, msg: DkgRound1Message): { state: DkgState, outbound: DkgMessage[], outcome?: DkgOutcome } {
  const { core } = snap
  const from = msg.from
  const existing = snap.round1.get(from)
  if (existing !== undefined) {
    if (round1Equal(existing, msg)) return { state, outbound: [] }
    fail(snap, new BlameError([from], 'equivocation', `participant ${from} sent two different round-1 messages`))
  }
  const { scheme, threshold } = core.params
  const points = msg.commitment.length === threshold ? decodeCommitment(core.group, msg.commitment) : undefined
  if (points === undefined || msg.proofOfKnowledge.length !== POINT_BYTES[scheme] - (scheme === 'taproot' ? 1 : 0) + SCALAR_BYTES) {
    fail(snap, new BlameError([from], 'malformed round-1 message', `participant ${from} sent a malformed round-1 message`))
  }
  if (!proofOfKnowledgeIsValid(core, core.xs.get(from) ?? 0n, points, msg.proofOfKnowledge)) {
    fail(snap, new BlameError([from], 'invalid proof of knowledge', `participant ${from} sent an invalid proof of knowledge`))
  }
  let keys: SharePairKeys
  try {
    keys = sharePairKeys(core.ephemeral, msg.ephemeralPublicKey)
  } catch {
    fail(snap, new BlameError([from], 'invalid ephemeral key', `participant ${from} sent an unusable X25519 key`))
  }
  core.derivedKeys.push(keys.seal, keys.open)
  const grown: Snapshot = {
    ...snap,
    round1: new Map(snap.round1).set(from, copyMessage(msg)),
    points: new Map(snap.points).set(from, points),
    pairKeys: new Map(snap.pairKeys).set(from, keys)
  }
  if (grown.round1.size < core.params.participants.length - 1) {
    return { state: makeState('round1', grown), outbound: [] }
  }
  // Round 1 complete: compute and seal our shares, then open whatever round-2 messages were buffered.
  const own2 = sealOwnShares(grown)
  const opened = new Map(snap.opened)
  try {
    for (const m2 of snap.round2.values()) opened.set(m2.from, openAndVerify(grown, m2))
  } catch (err) {
    for (const share of opened.values()) share.fill(0)
    throw err
  }
  const next: Snapshot = { ...grown, opened }
  if (opened.size === core.params.participants.length - 1) {
    const outcome = finish(next)
    return { state: makeState('done', next), outbound: [copyMessage(own2)], outcome }
  }
  return { state: makeState('round2', next), outbound: [copyMessage(own2)] }
}

function onRound2 (state: DkgState, snap: Snapshot, msg: DkgRound2Message): { state: DkgState, outbound: DkgMessage[], outcome?: DkgOutcome } {
  const { core } = snap
  const from = msg.from
  const existing = snap.round2.get(from)
  if (existing !== undefined) {
    if (round2Equal(existing, msg)) return { state, outbound: [] }
    fail(snap, new BlameError([from], 'equivocation', `participant ${from} sent two different round-2 messages`))
  }
  const seen = new Set<string>()
  for (const s of msg.shares) {
    if (s.to === from || !core.index.has(s.to) || seen.has(s.to) || s.sealed.length > MAX_SEALED_SHARE_BYTES) {
      fail(snap, new BlameError([from], 'malformed round-2 message', `participant ${from} sent a malformed round-2 message`))
    }
    seen.add(s.to)
  }
  if (!seen.has(core.params.self)) {
    fail(snap, new BlameError([from], 'missing share', `participant ${from} sent no share for ${core.params.self}`))
  }
  const round2 = new Map(snap.round2).set(from, copyMessage(msg))
  if (state.step === 'round1') {
    // Buffered until round 1 completes (we cannot open it before we have the sender's round-1 key).
    return { state: makeState('round1', { ...snap, round2 }), outbound: [] }
  }
  const opened = new Map(snap.opened).set(from, openAndVerify(snap, msg))
  const next: Snapshot = { ...snap, round2, opened }
  if (opened.size === core.params.participants.length - 1) {
    const outcome = finish(next)
    return { state: makeState('done', next), outbound: [], outcome }
  }
  return { state: makeState('round2', next), outbound: [] }
}

/**
 * Our round-2 shares, each sealed to its recipient's X25519 key: f_i(l) for every other
 * participant l (FROST paper, Komlo-Goldberg, section 5.1 KeyGen round 2 step 1), from the
 * polynomial noble's DKG.round1 made. Every round-1 package was checked on arrival, as noble's
 * round2 would check them.
 */
function sealOwnShares (snap: Snapshot): DkgRound2Message {
  const { core } = snap
  const { clusterId, sessionId, self } = core.params
  const { Fn } = core.group
  const coefficients = core.secret.coefficients
  if (coefficients === undefined) fail(snap, new BlameError([], 'dkg round 2 failed', 'the DKG secret has no polynomial'))
  const sealed: DkgRound2Message['shares'] = []
  for (const name of others(core)) {
    const keys = snap.pairKeys.get(name)
    const x = core.xs.get(name)
    if (keys === undefined || x === undefined) fail(snap, new BlameError([], 'dkg round 2 failed', 'no round-1 message for a participant'))
    const share = Fn.toBytes(evaluatePolynomial(Fn, coefficients, x))
    sealed.push({ to: name, sealed: sealShareWithKey(keys.seal, share, { clusterId, sessionId, sender: self, recipient: name }, core.rng) })
    share.fill(0)
  }
  const own2: DkgRound2Message = { round: 2, from: self, shares: sealed }
  core.own2 = own2
  return own2
}

/**
 * Open our share from `msg` and check it against its sender's commitment: g^{f_l(i)} = prod_k
 * phi_lk^{i^k} (FROST paper section 5.1 KeyGen round 2 step 2; RFC 9591 Appendix C.2 vss_verify).
 */
function openAndVerify (snap: Snapshot, msg: DkgRound2Message): Uint8Array {
  const { core } = snap
  const { clusterId, sessionId, self } = core.params
  const from = msg.from
  const keys = snap.pairKeys.get(from)
  const commitment = snap.points.get(from)
  const mine = msg.shares.find((s) => s.to === self)
  if (keys === undefined || commitment === undefined || mine === undefined) fail(snap, new BlameError([from], 'missing share'))
  let share: Uint8Array
  try {
    share = openShareWithKey(keys.open, mine.sealed, { clusterId, sessionId, sender: from, recipient: self })
  } catch {
    fail(snap, new BlameError([from], 'undecryptable share', `the share from ${from} does not decrypt`))
  }
  if (!shareMatchesCommitment(core.group, share, commitment, core.xs.get(self) ?? 0n)) {
    share.fill(0)
    fail(snap, new BlameError([from], 'invalid share', `the share from ${from} does not match its commitment`))
  }
  return share
}

/**
 * Round 3, computed as noble's DKG.round3 computes it from packages and shares already checked,
 * then the transcript hash; wipes the DKG secret, the share keys and the opened shares. The key is built in noble's layout and order: commitments
 * and verifying shares with our own identifier first, then the others by identifier.
 */
function finish (snap: Snapshot): DkgOutcome {
  const { core } = snap
  let key: Key
  try {
    key = computeKey(snap)
  } catch {
    fail(snap, new BlameError([], 'dkg round 3 failed', 'the key could not be computed from shares that passed individual checks'))
  }
  core.frost.DKG.clean(core.secret)
  for (const s of snap.opened.values()) s.fill(0)
  wipeKeys(core)
  const all = core.params.participants.map((name) => name === core.params.self ? core.own1 : snap.round1.get(name))
  const messages = all.filter((m): m is DkgRound1Message => m !== undefined)
  return {
    key,
    groupPublicKey: Uint8Array.from(key.public.commitments[0] ?? new Uint8Array(0)),
    transcriptHash: dkgTranscriptHash(core.params, messages),
    round1Digests: messages.map((m) => dkgRound1Digest(core.params, m))
  }
}

function computeKey (snap: Snapshot): Key {
  const { core } = snap
  const { group, params } = core
  const { Fn } = group
  const coefficients = core.secret.coefficients
  const selfX = core.xs.get(params.self)
  if (coefficients === undefined || selfX === undefined) throw new CryptoInputError('the DKG secret has no polynomial')
  const names = [params.self, ...others(core).sort((a, b) => Number((core.xs.get(a) ?? 0n) - (core.xs.get(b) ?? 0n)))]
  // FROST paper section 5.1 KeyGen round 2 step 3: s_i = sum_l f_l(i), our own f_i(i) included.
  let signingShare = evaluatePolynomial(Fn, coefficients, selfX)
  for (const name of names.slice(1)) {
    const share = snap.opened.get(name)
    if (share === undefined) throw new CryptoInputError(`no share from ${name}`)
    signingShare = Fn.add(signingShare, Fn.fromBytes(share))
  }
  // The group commitment (its constant term is the group key Y = prod_l phi_l0, section 5.1 step 4).
  const merged: GroupElement[] = Array.from({ length: params.threshold }, () => group.zero)
  for (const name of names) {
    const commitment = name === params.self ? core.ownPoints : snap.points.get(name)
    if (commitment?.length !== params.threshold) throw new CryptoInputError(`no commitment from ${name}`)
    commitment.forEach((c, k) => { merged[k] = (merged[k] ?? group.zero).add(c) })
  }
  // Every participant's public verification share Y_l = prod_j prod_k phi_jk^{l^k} (section 5.1 step 4).
  const verifying = names.map((name): [string, GroupElement] => [core.ids[core.index.get(name) ?? -1] ?? '', evaluateCommitment(group, merged, core.xs.get(name) ?? 0n)])
  const plain: KeyPoints = { commitments: merged, verifyingShares: verifying, signingShare }
  const key = params.untweaked === true ? plain : group.adjustKey(plain)
  return {
    public: {
      signers: { min: params.threshold, max: params.participants.length },
      commitments: key.commitments.map((c) => c.toBytes()),
      verifyingShares: Object.fromEntries(key.verifyingShares.map(([id, v]) => [id, v.toBytes()]))
    },
    secret: { identifier: core.selfId, signingShare: Uint8Array.from(Fn.toBytes(key.signingShare)) }
  }
}

function decodeCommitment (group: DkgGroup, commitment: readonly Uint8Array[]): GroupElement[] | undefined {
  const points: GroupElement[] = []
  for (const c of commitment) {
    const p = group.decode(c)
    if (p === undefined) return undefined
    points.push(p)
  }
  return points
}

/**
 * The sender's proof of knowledge of its constant term (FROST paper section 5.1 KeyGen round 1
 * step 5; the frost-rs/noble form): proof = (R, mu), c = H_dkg(id || phi_0 || R), valid iff
 * R = mu*G - c*phi_0. This is noble's check on points already decoded; R needs no subgroup check
 * of its own, since an R that satisfies the equation is a combination of G and a checked phi_0.
 */
function proofOfKnowledgeIsValid (core: Core, x: bigint, commitment: readonly GroupElement[], proof: Uint8Array): boolean {
  const { group } = core
  const phi0 = commitment[0]
  const R = group.decodeProofR(proof)
  if (phi0 === undefined || R === undefined) return false
  try {
    const mu = group.Fn.fromBytes(proof.subarray(proof.length - SCALAR_BYTES))
    const c = group.challenge(concat(group.Fn.toBytes(x), phi0.toBytes(), R.toBytes()))
    return R.equals(group.base.multiplyUnsafe(mu).add(phi0.multiplyUnsafe(c).negate()))
  } catch {
    return false
  }
}

/** Which senders this participant still waits for; undefined when the session is done or failed. */
export function missingDkgMessages (state: DkgState): { round: 1 | 2, from: string[] } | undefined {
  const snap = snapshotOf(state, false)
  if (snap.core.failed || state.step === 'done') return undefined
  if (state.step === 'round1') return { round: 1, from: others(snap.core).filter((p) => !snap.round1.has(p)) }
  return { round: 2, from: others(snap.core).filter((p) => !snap.round2.has(p)) }
}

/** What this participant has sent so far (copies), for retransmission. */
export function ownDkgMessages (state: DkgState): DkgMessage[] {
  const snap = snapshotOf(state, false)
  const out: DkgMessage[] = [copyMessage(snap.core.own1)]
  if (state.step !== 'round1' && snap.core.own2 !== undefined) out.push(copyMessage(snap.core.own2))
  return out
}

/** Canonical encoding of a round-1 body: count || lp(commitment)... || lp(proof) || lp(ephemeral key). */
function encodeRound1Body (m: DkgRound1Message): Uint8Array {
  return concat(u32(m.commitment.length), ...m.commitment.map((c) => lp(c)), lp(m.proofOfKnowledge), lp(m.ephemeralPublicKey))
}

/** sha256 of one participant's round-1 message, bound to the cluster, session and sender. */
export function dkgRound1Digest (params: Pick<DkgParams, 'clusterId' | 'sessionId'>, msg: DkgRound1Message): Uint8Array {
  return sha256(concat(lp(ROUND1_DIGEST_DOMAIN), lp(params.clusterId), lp(params.sessionId), lp(msg.from), encodeRound1Body(msg)))
}

/**
 * sha256 over the domain (its own for an untweaked DKG), scheme, cluster, session, t, n, then for
 * each participant in order: name, identifier, round-1 body. Equal hashes mean the members saw the
 * same round 1 and meant the same kind of key.
 */
export function dkgTranscriptHash (params: DkgParams, round1InParticipantOrder: DkgRound1Message[]): Uint8Array {
  const { scheme, clusterId, sessionId, threshold, participants } = params
  if (round1InParticipantOrder.length !== participants.length) throw new CryptoInputError('transcript needs one round-1 message per participant')
  const parts: Uint8Array[] = [lp(params.untweaked === true ? TRANSCRIPT_DOMAIN_UNTWEAKED : TRANSCRIPT_DOMAIN), lp(scheme), lp(clusterId), lp(sessionId), u32(threshold), u32(participants.length)]
  participants.forEach((name, i) => {
    const m = round1InParticipantOrder[i]
    if (m === undefined || m.from !== name) throw new CryptoInputError('transcript messages must be in participant order')
    parts.push(lp(name), lp(utf8(participantIdentifier(scheme, i + 1))), encodeRound1Body(m))
  })
  return sha256(concat(...parts))
}

function round1Equal (a: DkgRound1Message, b: DkgRound1Message): boolean {
  return bytesEqual(encodeRound1Body(a), encodeRound1Body(b))
}

function round2Equal (a: DkgRound2Message, b: DkgRound2Message): boolean {
  return a.shares.length === b.shares.length &&
    a.shares.every((s, i) => s.to === b.shares[i]?.to && bytesEqual(s.sealed, b.shares[i].sealed))
}

function copyMessage<M extends DkgMessage> (m: M): M {
  if (m.round === 1) {
    return { round: 1, from: m.from, commitment: m.commitment.map((c) => Uint8Array.from(c)), proofOfKnowledge: Uint8Array.from(m.proofOfKnowledge), ephemeralPublicKey: Uint8Array.from(m.ephemeralPublicKey) } as M
  }
  return { round: 2, from: m.from, shares: m.shares.map((s) => ({ to: s.to, sealed: Uint8Array.from(s.sealed) })) } as M
}
