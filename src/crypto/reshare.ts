/**
 * Changing who holds an existing FROST key without changing the key, as a pure session state
 * machine in the shape of dkg.ts (same state rules, same sealing of shares, same errors).
 *
 * - `reshare`: at least t old holders (the dealers) each deal their Lagrange-weighted share
 *   lambda_i*s_i with a fresh polynomial of degree t'-1 to the new holders, who sum what they get
 *   (Desmedt-Jajodia 1997 redistribution; Wong-Wang-Wing 2002 "Verifiable secret redistribution"
 *   section 3). New holders may overlap the old ones or be disjoint; t' and n' may differ.
 * - `refresh`: every holder deals a polynomial with constant term 0 (degree t-1) and every holder
 *   adds what it gets to its share (Herzberg-Jarecki-Krawczyk-Yung 1995 proactive secret sharing,
 *   section 3; ZF frost's keys/refresh.rs). Same holders, identifiers and threshold.
 *
 * Both work on the public package as it is (noble's layout; a Taproot package is already
 * BIP-86-tweaked, or plain when made `untweaked`): it is a Feldman commitment to a polynomial whose
 * constant term is the group secret, and the new package commits to a new polynomial with the same
 * constant term, so `commitments[0]` is kept byte for byte and nothing is tweaked again.
 *
 * Flow: every participant (new holders first, then the dealers that leave) sends round 1, a fresh
 * X25519 key. Once round 1 is complete, each dealer sends round 2: its Feldman commitment and, per
 * new holder other than itself, its evaluation at that holder's NEW identifier, sealed as dkg.ts
 * seals DKG shares (AAD binds cluster, session, sender, recipient). Every participant checks every
 * dealing's public part and computes the same new public package; a new holder also opens and
 * checks its shares. Round-2 messages that arrive before round 1 is complete are checked at once
 * (their public part) and opened when it completes.
 *
 * State handling is dkg.ts's: every call returns a new state and leaves the one passed in alone; a
 * call that throws CryptoInputError changes nothing; a session is linear (older states are stale);
 * BlameError ends the session for good, wiping our secrets (ephemeral key, share keys, polynomial,
 * opened shares), as completion does. `state.params` never holds `ownKey`.
 *
 * BlameError reasons (culprit: the sender): 'equivocation', 'invalid ephemeral key',
 * 'wrong commitment length', 'invalid commitment', 'wrong constant term' (C_i0 != lambda_i*Y_i),
 * 'malformed round-2 message', 'missing share', 'undecryptable share', 'invalid share'; and, with no
 * culprit, 'reshare result invalid' (cannot happen once every dealing passed its checks).
 */
import type { FrostPublic, Key } from '@noble/curves/abstract/frost.js'
import { getMinHashLength, mapHashToField } from '@noble/curves/abstract/modular.js'
import { hexToBytes } from '@noble/curves/utils.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { bytesEqual, concat, lp, u32 } from './bytes.js'
import { type DkgGroup, evaluateCommitment, evaluatePolynomial, groups, MAX_DKG_NAME_LENGTH, shareMatchesCommitment } from './dkg.js'
import { generateX25519, MAX_SEALED_SHARE_BYTES, openShareWithKey, sealShareWithKey, sharePairKeys, type SharePairKeys, X25519_KEY_BYTES, type X25519KeyPair } from './ecies.js'
import { BlameError, CryptoInputError } from './errors.js'
import { checkedSender, SessionStates } from './session-states.js'
import { encodePublic, schemeOfPublic } from './sign.js'
import { isScheme, MAX_PARTIES, participantIdentifier, type Rng, SCALAR_BYTES, type Scheme, validateThreshold } from './suites.js'

export type ReshareMode = 'reshare' | 'refresh'

export interface ReshareParams {
  scheme: Scheme
  clusterId: string
  sessionId: string
  mode: ReshareMode
  /** the key's current public package */
  oldPublic: FrostPublic
  /** old holders in old identifier order (old holder i, 0-based, has identifier i + 1) */
  oldHolders: string[]
  /** the dealing old holders (a subset of oldHolders; at least the old threshold for reshare; all for refresh) */
  dealers: string[]
  /** new holders in new identifier order (new holder i gets identifier i + 1); refresh: equal to oldHolders */
  newHolders: string[]
  newThreshold: number
  self: string
  /** our current Key: required when self is a dealer, and for a refresh (every holder); ignored otherwise */
  ownKey?: Key
}

export interface ReshareRound1Message { round: 1, from: string, ephemeralPublicKey: Uint8Array }
export interface ReshareRound2Message { round: 2, from: string, commitment: Uint8Array[], shares: Array<{ to: string, sealed: Uint8Array }> }
export type ReshareMessage = ReshareRound1Message | ReshareRound2Message

export interface ReshareOutcome {
  /** the new public package (every participant computes it from the public dealings) */
  public: FrostPublic
  /** equal to the old group key (checked) */
  groupPublicKey: Uint8Array
  /** our new Key when self is a new holder; undefined for a dealer that leaves */
  key?: Key
  /**
   * sha256 over domain, scheme, cluster, session, mode, sha256(encodePublic(oldPublic)), oldHolders,
   * dealers, newHolders, t', then every participant's round-1 and every dealer's round-2 body, in
   * participant order (reshareTranscriptHash)
   */
  transcriptHash: Uint8Array
  /** reshareMessageDigest of each participant's messages as this participant received them (its own as sent), in participant order */
  messageDigests: Uint8Array[]
}

export interface ReshareState {
  readonly params: ReshareParams
  readonly step: 'round1' | 'round2' | 'done'
}

export const RESHARE_MODES: readonly ReshareMode[] = Object.freeze(['reshare', 'refresh'] as const)

const TRANSCRIPT_DOMAIN = 'mpc-wallet/reshare-transcript/v1'
const DIGEST_DOMAIN = 'mpc-wallet/reshare-messages/v1'

type Element = DkgGroup['base']

/** Shared by all states of one session; mutable. */
interface Core {
  /** frozen copy of the params, without ownKey */
  readonly params: ReshareParams
  readonly group: DkgGroup
  readonly participants: readonly string[]
  readonly dealers: ReadonlySet<string>
  /** new identifier scalars by new-holder name */
  readonly newXs: ReadonlyMap<string, bigint>
  /** the old package, decoded (commitments) */
  readonly oldCommitments: readonly Element[]
  /** sha256(encodePublic(oldPublic)) */
  readonly oldPublicHash: Uint8Array
  /** oldPublic.commitments[0] as given (our own copy): the new package keeps these bytes */
  readonly groupKey: Uint8Array
  /** reshare: lambda_i*Y_i per dealer, the constant term its commitment must have */
  readonly expectedConstants: ReadonlyMap<string, Element>
  /** points per dealing: t' (reshare) or t-1 (refresh: coefficients 1..t-1; the constant 0 is not sent) */
  readonly commitmentLength: number
  readonly rng: Rng | undefined
  readonly ephemeral: X25519KeyPair
  readonly own1: ReshareRound1Message
  /** our dealing when we are a dealer: secret coefficients (a0 first) and the commitment we publish */
  readonly dealing?: { coefficients: bigint[], points: readonly Element[] }
  /** refresh: our current share s_j (secret) */
  readonly oldShare?: { value: bigint }
  /** every share key derived in this session, wiped when the session ends */
  readonly derivedKeys: Uint8Array[]
  own2?: ReshareRound2Message
  failed: boolean
  latest?: ReshareState
}

/** One state's own view: what it has received so far. */
interface Snapshot {
  readonly core: Core
  readonly round1: ReadonlyMap<string, ReshareRound1Message>
  /** share keys with the round-1 senders we exchange shares with (secret) */
  readonly pairKeys: ReadonlyMap<string, SharePairKeys>
  /** every dealer's round-2 message whose public part passed the checks, buffered ones included */
  readonly round2: ReadonlyMap<string, ReshareRound2Message>
  /** each round-2 sender's commitment, decoded and checked on arrival */
  readonly points: ReadonlyMap<string, readonly Element[]>
  /** our opened, checked shares by dealer (secret) */
  readonly opened: ReadonlyMap<string, Uint8Array>
}

const states = new SessionStates<ReshareState, Snapshot>('reshare', 'startReshare/receiveReshare')

function makeState (step: ReshareState['step'], snap: Snapshot): ReshareState {
  return states.make(Object.freeze({ params: snap.core.params, step }), snap)
}

function snapshotOf (state: ReshareState, forUpdate: boolean): Snapshot {
  return states.of(state, forUpdate)
}

/** Participants in a fixed order: newHolders first, then dealers not among them. */
export function reshareParticipants (params: Pick<ReshareParams, 'newHolders' | 'dealers'>): string[] {
  if (typeof params !== 'object' || params === null || !Array.isArray(params.newHolders) || !Array.isArray(params.dealers)) {
    throw new CryptoInputError('newHolders and dealers must be arrays')
  }
  const newSet = new Set(params.newHolders)
  return [...params.newHolders, ...params.dealers.filter((d) => !newSet.has(d))]
}

function checkName (what: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_DKG_NAME_LENGTH) {
    throw new CryptoInputError(`${what} must be a non-empty string of at most ${MAX_DKG_NAME_LENGTH} characters`)
  }
}

function checkNameList (what: string, list: unknown): string[] {
  if (!Array.isArray(list)) throw new CryptoInputError(`${what} must be an array`)
  if (list.length === 0 || list.length > MAX_PARTIES) throw new CryptoInputError(`${what} must have 1..${MAX_PARTIES} entries`)
  const seen = new Set<string>()
  for (const name of list) {
    checkName(`every entry of ${what}`, name)
    if (seen.has(name)) throw new CryptoInputError(`${what} lists ${name} twice`)
    seen.add(name)
  }
  return Object.freeze([...list as string[]]) as string[]
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/** An identifier's scalar (our identifiers are the small integers 1..n). */
function idScalar (group: DkgGroup, scheme: Scheme, index: number): bigint {
  return group.Fn.fromBytes(hexToBytes(participantIdentifier(scheme, index)))
}

interface Setup {
  params: ReshareParams
  group: DkgGroup
  oldCommitments: Element[]
  oldShares: Element[]
  ownShare: bigint | undefined
  /** sha256(encodePublic(oldPublic)), for the transcript */
  oldPublicHash: Uint8Array
}

function validateParams (params: ReshareParams): Setup {
  if (typeof params !== 'object' || params === null) throw new CryptoInputError('reshare params missing')
  const { scheme, clusterId, sessionId, mode, oldPublic, newThreshold, self, ownKey } = params
  if (typeof scheme !== 'string' || !isScheme(scheme)) throw new CryptoInputError('unknown scheme')
  if (typeof mode !== 'string' || !(RESHARE_MODES as readonly string[]).includes(mode)) throw new CryptoInputError('mode must be reshare or refresh')
  checkName('clusterId', clusterId)
  checkName('sessionId', sessionId)
  checkName('self', self)
  const oldHolders = checkNameList('oldHolders', params.oldHolders)
  const dealers = checkNameList('dealers', params.dealers)
  const newHolders = checkNameList('newHolders', params.newHolders)
  const group = groups[scheme]

  // The old package: the scheme's, well formed (encodePublic decodes every element), n = oldHolders, identifiers 1..n.
  if (typeof oldPublic !== 'object' || oldPublic === null) throw new CryptoInputError('oldPublic missing')
  if (schemeOfPublic(oldPublic) !== scheme) throw new CryptoInputError('oldPublic belongs to another scheme')
  const oldPublicHash = sha256(encodePublic(oldPublic))
  const oldT = oldPublic.signers.min
  if (oldPublic.signers.max !== oldHolders.length) throw new CryptoInputError(`oldPublic has ${oldPublic.signers.max} holders, oldHolders lists ${oldHolders.length}`)
  const oldCommitments = oldPublic.commitments.map((c) => group.decode(c) ?? group.zero)
  const oldShares = oldHolders.map((_, i) => {
    const id = participantIdentifier(scheme, i + 1)
    const bytes = Object.hasOwn(oldPublic.verifyingShares, id) ? oldPublic.verifyingShares[id] : undefined
    const point = bytes === undefined ? undefined : group.decode(bytes)
    if (point === undefined) throw new CryptoInputError(`oldPublic has no verifying share for identifier ${i + 1}`)
    // Feldman consistency Y_i = sum_k C_k * i^k: then sum over any t holders of lambda_i*Y_i is C_0.
    if (!point.equals(evaluateCommitment(group, oldCommitments, BigInt(i + 1)))) throw new CryptoInputError('oldPublic is not a consistent Feldman commitment')
    return point
  })

  const oldSet = new Set(oldHolders)
  for (const d of dealers) if (!oldSet.has(d)) throw new CryptoInputError(`dealer ${d} is not an old holder`)
  if (mode === 'refresh') {
    if (!sameList(dealers, oldHolders) || !sameList(newHolders, oldHolders)) throw new CryptoInputError('a refresh needs dealers and newHolders equal to oldHolders, in the same order')
    if (newThreshold !== oldT) throw new CryptoInputError(`a refresh keeps the threshold (t=${oldT}, got ${newThreshold})`)
  } else if (dealers.length < oldT) {
    throw new CryptoInputError(`a reshare needs at least ${oldT} dealers (got ${dealers.length})`)
  }
  validateThreshold(newThreshold, newHolders.length)
  if (!reshareParticipants({ newHolders, dealers }).includes(self)) throw new CryptoInputError(`self (${self}) is neither a dealer nor a new holder`)

  let ownShare: bigint | undefined
  if (mode === 'refresh' || dealers.includes(self)) {
    const index = oldHolders.indexOf(self)
    if (typeof ownKey !== 'object' || ownKey === null || typeof ownKey.secret !== 'object' || ownKey.secret === null) throw new CryptoInputError('ownKey is required for a dealer and for a refresh')
    if (ownKey.secret.identifier !== participantIdentifier(scheme, index + 1)) throw new CryptoInputError('ownKey belongs to another identifier')
    const share = ownKey.secret.signingShare
    if (!(share instanceof Uint8Array) || share.length !== SCALAR_BYTES) throw new CryptoInputError('ownKey has a malformed signing share')
    let s: bigint
    try {
      s = group.Fn.fromBytes(share)
    } catch {
      throw new CryptoInputError('ownKey has a malformed signing share')
    }
    const expected = oldShares[index]
    if (group.Fn.is0(s) || expected === undefined || !group.base.multiply(s).equals(expected)) throw new CryptoInputError('ownKey does not match its verifying share in oldPublic')
    if (!samePublic(ownKey.public, oldPublic)) throw new CryptoInputError('ownKey belongs to another public package')
    ownShare = s
  }
  const copy: ReshareParams = Object.freeze({
    scheme,
    clusterId,
    sessionId,
    mode,
    oldPublic: copyPublic(oldPublic),
    oldHolders,
    dealers,
    newHolders,
    newThreshold,
    self
  })
  return { params: copy, group, oldCommitments, oldShares, ownShare, oldPublicHash }
}

/** Byte equality of two public packages (`b` already validated), without decoding `a`'s points again. */
function samePublic (a: FrostPublic, b: FrostPublic): boolean {
  if (typeof a !== 'object' || a === null || typeof a.signers !== 'object' || a.signers === null) return false
  if (a.signers.min !== b.signers.min || a.signers.max !== b.signers.max) return false
  const same = (x: unknown, y: Uint8Array | undefined): boolean => x instanceof Uint8Array && y !== undefined && bytesEqual(x, y)
  if (!Array.isArray(a.commitments) || a.commitments.length !== b.commitments.length || !a.commitments.every((c, k) => same(c, b.commitments[k]))) return false
  if (typeof a.verifyingShares !== 'object' || a.verifyingShares === null) return false
  const entries = Object.entries(a.verifyingShares)
  return entries.length === Object.keys(b.verifyingShares).length &&
    entries.every(([id, v]) => Object.hasOwn(b.verifyingShares, id) && same(v, b.verifyingShares[id]))
}

function copyPublic (pub: FrostPublic): FrostPublic {
  return {
    signers: { min: pub.signers.min, max: pub.signers.max },
    commitments: pub.commitments.map((c) => Uint8Array.from(c)),
    verifyingShares: Object.fromEntries(Object.entries(pub.verifyingShares).map(([id, v]) => [id, Uint8Array.from(v)]))
  }
}

/** Lagrange coefficient at 0 of x_i over the set xs: prod_{j != i} x_j / (x_j - x_i). */
function lagrangeAtZero (group: DkgGroup, xs: readonly bigint[], xi: bigint): bigint {
  const { Fn } = group
  let num = Fn.ONE
  let den = Fn.ONE
  for (const xj of xs) {
    if (xj === xi) continue
    num = Fn.mul(num, xj)
    den = Fn.mul(den, Fn.sub(xj, xi))
  }
  return Fn.div(num, den)
}

/** A uniformly random non-zero scalar, as noble draws its polynomial coefficients (mapHashToField over rng bytes). */
function randomScalar (group: DkgGroup, rng: Rng | undefined): bigint {
  const { Fn } = group
  const len = getMinHashLength(Fn.ORDER)
  const seed = (rng ?? randomBytes)(len)
  if (!(seed instanceof Uint8Array) || seed.length !== len) throw new CryptoInputError('rng returned the wrong number of bytes')
  const bytes = mapHashToField(seed, Fn.ORDER, Fn.isLE)
  seed.fill(0)
  const n = Fn.fromBytes(bytes)
  bytes.fill(0)
  return n
}

/** Begin a reshare or refresh session: a fresh X25519 key (round 1); a dealer also draws its polynomial now. */
export function startReshare (params: ReshareParams, rng?: Rng): { state: ReshareState, outbound: ReshareMessage[] } {
  const { params: p, group, oldCommitments, oldShares, ownShare, oldPublicHash } = validateParams(params)
  const { Fn } = group
  const participants = Object.freeze(reshareParticipants(p))
  const newXs = new Map(p.newHolders.map((name, i) => [name, idScalar(group, p.scheme, i + 1)]))
  const oldIndex = new Map(p.oldHolders.map((name, i) => [name, i]))
  const dealerXs = p.dealers.map((d) => BigInt((oldIndex.get(d) ?? -1) + 1))
  const refresh = p.mode === 'refresh'
  const expectedConstants = new Map<string, Element>()
  const lambdas = new Map<string, bigint>()
  if (!refresh) {
    p.dealers.forEach((d, k) => {
      const x = dealerXs[k] ?? 0n
      const lambda = lagrangeAtZero(group, dealerXs, x)
      lambdas.set(d, lambda)
      // Wong-Wang-Wing 2002 section 3: the dealing's constant is bound to the dealer's share, C_i0 = lambda_i * Y_i.
      expectedConstants.set(d, (oldShares[Number(x) - 1] ?? group.zero).multiplyUnsafe(lambda))
    })
  }
  const commitmentLength = refresh ? p.newThreshold - 1 : p.newThreshold
  let dealing: Core['dealing']
  if (ownShare !== undefined) {
    // Desmedt-Jajodia 1997: deal a0 = lambda_i * s_i (reshare); Herzberg et al. 1995 section 3: a0 = 0 (refresh).
    const a0 = refresh ? Fn.ZERO : Fn.mul(lambdas.get(p.self) ?? Fn.ZERO, ownShare)
    const coefficients = [a0]
    for (let k = 1; k < p.newThreshold; k++) coefficients.push(randomScalar(group, rng))
    const sent = refresh ? coefficients.slice(1) : coefficients
    dealing = { coefficients, points: sent.map((a) => group.base.multiply(a)) }
  }
  const ephemeral = generateX25519(rng)
  const own1: ReshareRound1Message = { round: 1, from: p.self, ephemeralPublicKey: Uint8Array.from(ephemeral.publicKey) }
  const core: Core = {
    params: p,
    group,
    participants,
    dealers: new Set(p.dealers),
    newXs,
    oldCommitments,
    oldPublicHash,
    groupKey: Uint8Array.from(p.oldPublic.commitments[0] ?? new Uint8Array(0)),
    expectedConstants,
    commitmentLength,
    rng,
    ephemeral,
    own1,
    dealing,
    oldShare: refresh && ownShare !== undefined ? { value: ownShare } : undefined,
    derivedKeys: [],
    failed: false
  }
  const state = makeState('round1', { core, round1: new Map(), pairKeys: new Map(), round2: new Map(), points: new Map(), opened: new Map() })
  return { state, outbound: [copyMessage(own1)] }
}

/** Feed one inbound message. See the module comment for the state and failure rules. */
export function receiveReshare (state: ReshareState, msg: ReshareMessage): { state: ReshareState, outbound: ReshareMessage[], outcome?: ReshareOutcome } {
  const snap = snapshotOf(state, true)
  const { core } = snap
  const from = checkedSender('reshare', msg, core.params.self, (name) => core.participants.includes(name), MAX_DKG_NAME_LENGTH)
  if (msg.round === 1) return onRound1(state, snap, checkRound1Shape(msg))
  if (msg.round === 2) {
    if (!core.dealers.has(from)) throw new CryptoInputError(`${from} is not a dealer of this session and cannot send round 2`)
    return onRound2(state, snap, checkRound2Shape(msg))
  }
  throw new CryptoInputError('unknown reshare round')
}

function checkRound1Shape (msg: ReshareRound1Message): ReshareRound1Message {
  if (!(msg.ephemeralPublicKey instanceof Uint8Array)) throw new CryptoInputError('round-1 message is not shaped as ReshareRound1Message')
  return msg
}

function checkRound2Shape (msg: ReshareRound2Message): ReshareRound2Message {
  if (!Array.isArray(msg.commitment) || msg.commitment.length > MAX_PARTIES || !msg.commitment.every((c) => c instanceof Uint8Array) ||
    !Array.isArray(msg.shares) || msg.shares.length > MAX_PARTIES ||
    !msg.shares.every((s) => typeof s === 'object' && s !== null && typeof s.to === 'string' && s.sealed instanceof Uint8Array)) {
    throw new CryptoInputError('round-2 message is not shaped as ReshareRound2Message')
  }
  return msg
}

function wipe (snap: Snapshot): void {
  const { core } = snap
  core.ephemeral.secretKey.fill(0)
  for (const k of core.derivedKeys) k.fill(0)
  for (const s of snap.opened.values()) s.fill(0)
  // bigints cannot be overwritten; as noble's DKG.clean, subtract each from itself and drop it.
  const c = core.dealing?.coefficients
  if (c !== undefined) for (let i = 0; i < c.length; i++) c[i] = (c[i] ?? 0n) - (c[i] ?? 0n)
  if (core.oldShare !== undefined) core.oldShare.value -= core.oldShare.value
}

function fail (snap: Snapshot, err: Error): never {
  snap.core.failed = true
  wipe(snap)
  throw err
}

const isNewHolder = (core: Core, name: string): boolean => core.newXs.has(name)

/** Do we exchange a share with `name` (we deal to it, or it deals to us)? */
function exchangesShares (core: Core, name: string): boolean {
  const self = core.params.self
  return (core.dealers.has(self) && isNewHolder(core, name)) || (isNewHolder(core, self) && core.dealers.has(name))
}

function onRound1 (state: ReshareState, snap: Snapshot, msg: ReshareRound1Message): { state: ReshareState, outbound: ReshareMessage[], outcome?: ReshareOutcome } {
  const { core } = snap
  const from = msg.from
  const existing = snap.round1.get(from)
  if (existing !== undefined) {
    if (bytesEqual(existing.ephemeralPublicKey, msg.ephemeralPublicKey)) return { state, outbound: [] }
    fail(snap, new BlameError([from], 'equivocation', `participant ${from} sent two different round-1 messages`))
  }
  if (msg.ephemeralPublicKey.length !== X25519_KEY_BYTES) fail(snap, new BlameError([from], 'invalid ephemeral key', `participant ${from} sent a malformed X25519 key`))
  let pairKeys = snap.pairKeys
  if (exchangesShares(core, from)) {
    let keys: SharePairKeys
    try {
      keys = sharePairKeys(core.ephemeral, msg.ephemeralPublicKey)
    } catch {
      fail(snap, new BlameError([from], 'invalid ephemeral key', `participant ${from} sent an unusable X25519 key`))
    }
    core.derivedKeys.push(keys.seal, keys.open)
    pairKeys = new Map(pairKeys).set(from, keys)
  }
  const grown: Snapshot = { ...snap, round1: new Map(snap.round1).set(from, copyMessage(msg)), pairKeys }
  if (grown.round1.size < core.participants.length - 1) return { state: makeState('round1', grown), outbound: [] }

  // Round 1 complete: open the buffered round-2 shares, then deal (a dealer).
  const opened = new Map(grown.opened)
  if (isNewHolder(core, core.params.self)) {
    try {
      for (const m2 of grown.round2.values()) opened.set(m2.from, openAndVerify(grown, m2))
    } catch (err) {
      for (const share of opened.values()) share.fill(0)
      throw err
    }
  }
  const next: Snapshot = { ...grown, opened }
  const outbound: ReshareMessage[] = core.dealers.has(core.params.self) ? [copyMessage(sealOwnDealing(next))] : []
  return advance(next, outbound)
}

function onRound2 (state: ReshareState, snap: Snapshot, msg: ReshareRound2Message): { state: ReshareState, outbound: ReshareMessage[], outcome?: ReshareOutcome } {
  const { core } = snap
  const from = msg.from
  const existing = snap.round2.get(from)
  if (existing !== undefined) {
    if (bytesEqual(encodeRound2Body(existing), encodeRound2Body(msg))) return { state, outbound: [] }
    fail(snap, new BlameError([from], 'equivocation', `dealer ${from} sent two different round-2 messages`))
  }
  const points = checkDealing(snap, msg)
  const round2 = new Map(snap.round2).set(from, copyMessage(msg))
  const grown: Snapshot = { ...snap, round2, points: new Map(snap.points).set(from, points) }
  if (state.step === 'round1') return { state: makeState('round1', grown), outbound: [] } // opened when round 1 completes
  const opened = isNewHolder(core, core.params.self) ? new Map(snap.opened).set(from, openAndVerify(grown, msg)) : snap.opened
  return advance({ ...grown, opened }, [])
}

/** After round 1: done when every other dealer's round 2 is in (and, for a new holder, opened). */
function advance (snap: Snapshot, outbound: ReshareMessage[]): { state: ReshareState, outbound: ReshareMessage[], outcome?: ReshareOutcome } {
  const { core } = snap
  const waiting = core.params.dealers.some((d) => d !== core.params.self && !snap.round2.has(d))
  if (waiting) return { state: makeState('round2', snap), outbound }
  const outcome = finish(snap)
  return { state: makeState('done', snap), outbound, outcome }
}

/**
 * The public checks of one dealing, done by every participant on arrival: commitment length and
 * points (RFC 9591 section 3.1 DeserializeElement), the constant term bound to the dealer's old
 * verifying share (reshare), and exactly one sealed share per new holder other than the dealer.
 */
function checkDealing (snap: Snapshot, msg: ReshareRound2Message): Element[] {
  const { core } = snap
  const from = msg.from
  if (msg.commitment.length !== core.commitmentLength) {
    fail(snap, new BlameError([from], 'wrong commitment length', `dealer ${from} sent ${msg.commitment.length} commitment points, not ${core.commitmentLength}`))
  }
  const points: Element[] = []
  for (const c of msg.commitment) {
    const p = core.group.decode(c)
    if (p === undefined) fail(snap, new BlameError([from], 'invalid commitment', `dealer ${from} sent an invalid commitment point`))
    points.push(p)
  }
  const expected = core.expectedConstants.get(from)
  if (core.params.mode === 'reshare' && (expected === undefined || points[0]?.equals(expected) !== true)) {
    fail(snap, new BlameError([from], 'wrong constant term', `the dealing of ${from} does not commit to its Lagrange-weighted share`))
  }
  const seen = new Set<string>()
  for (const s of msg.shares) {
    if (s.to === from || !isNewHolder(core, s.to) || seen.has(s.to) || s.sealed.length > MAX_SEALED_SHARE_BYTES) {
      fail(snap, new BlameError([from], 'malformed round-2 message', `dealer ${from} sent a malformed round-2 message`))
    }
    seen.add(s.to)
  }
  const missing = core.params.newHolders.find((h) => h !== from && !seen.has(h))
  if (missing !== undefined) fail(snap, new BlameError([from], 'missing share', `dealer ${from} sent no share for ${missing}`))
  return points
}

/** The full commitment of a dealing: refresh dealings have the identity as their (unsent) constant term. */
function fullCommitment (core: Core, points: readonly Element[]): readonly Element[] {
  return core.params.mode === 'refresh' ? [core.group.zero, ...points] : points
}

/**
 * Open our share of `msg` and check it against the dealing's commitment: f_i(j)*G = sum_k C_ik*j^k
 * (Feldman VSS; Wong-Wang-Wing 2002 section 3 step 3).
 */
function openAndVerify (snap: Snapshot, msg: ReshareRound2Message): Uint8Array {
  const { core } = snap
  const { clusterId, sessionId, self } = core.params
  const from = msg.from
  const keys = snap.pairKeys.get(from)
  const points = snap.points.get(from)
  const mine = msg.shares.find((s) => s.to === self)
  if (keys === undefined || points === undefined || mine === undefined) fail(snap, new BlameError([from], 'missing share', `dealer ${from} sent no share for ${self}`))
  let share: Uint8Array
  try {
    share = openShareWithKey(keys.open, mine.sealed, { clusterId, sessionId, sender: from, recipient: self })
  } catch {
    fail(snap, new BlameError([from], 'undecryptable share', `the share from ${from} does not decrypt`))
  }
  if (!shareMatchesCommitment(core.group, share, fullCommitment(core, points), core.newXs.get(self) ?? 0n)) {
    share.fill(0)
    fail(snap, new BlameError([from], 'invalid share', `the share from ${from} does not match its commitment`))
  }
  return share
}

/** Our round 2: the commitment and f_i(j') sealed to every new holder j other than us, in new-holder order. */
function sealOwnDealing (snap: Snapshot): ReshareRound2Message {
  const { core } = snap
  const { clusterId, sessionId, self } = core.params
  const { Fn } = core.group
  const dealing = core.dealing
  if (dealing === undefined) fail(snap, new BlameError([], 'reshare result invalid', 'a dealer without a dealing'))
  const shares: ReshareRound2Message['shares'] = []
  for (const name of core.params.newHolders) {
    if (name === self) continue
    const keys = snap.pairKeys.get(name)
    const x = core.newXs.get(name)
    if (keys === undefined || x === undefined) fail(snap, new BlameError([], 'reshare result invalid', 'no round-1 key for a new holder'))
    const share = Fn.toBytes(evaluatePolynomial(Fn, dealing.coefficients, x))
    shares.push({ to: name, sealed: sealShareWithKey(keys.seal, share, { clusterId, sessionId, sender: self, recipient: name }, core.rng) })
    share.fill(0)
  }
  const own2: ReshareRound2Message = { round: 2, from: self, commitment: dealing.points.map((p) => Uint8Array.from(p.toBytes())), shares }
  core.own2 = own2
  return own2
}

/**
 * The new public package from the public dealings (identical at every participant), our new share
 * if we are a new holder, the transcript hash and the message digests; wipes our secrets.
 */
function finish (snap: Snapshot): ReshareOutcome {
  const { core } = snap
  let result: { public: FrostPublic, key?: Key }
  try {
    result = computeResult(snap)
  } catch {
    fail(snap, new BlameError([], 'reshare result invalid', 'the new key could not be computed from dealings that passed their checks'))
  }
  wipe(snap)
  const { params } = core
  const round1 = core.participants.map((name) => name === params.self ? core.own1 : snap.round1.get(name))
  const round2 = core.participants.map((name) => !core.dealers.has(name) ? undefined : name === params.self ? core.own2 : snap.round2.get(name))
  const messages = core.participants.map((name, i) => {
    const m1 = round1[i]
    if (m1 === undefined) fail(snap, new BlameError([], 'reshare result invalid', `no round-1 message from ${name}`))
    return { round1: m1, round2: round2[i] }
  })
  return {
    public: result.public,
    groupPublicKey: Uint8Array.from(core.groupKey),
    ...(result.key === undefined ? {} : { key: result.key }),
    transcriptHash: transcriptHash(params, core.oldPublicHash, messages),
    messageDigests: messages.map((m) => reshareMessageDigest(params, m.round1, m.round2))
  }
}

function computeResult (snap: Snapshot): { public: FrostPublic, key?: Key } {
  const { core } = snap
  const { group, params } = core
  const { Fn } = group
  const refresh = params.mode === 'refresh'
  // Sum of the dealings' commitments, own included (Wong-Wang-Wing section 3 step 4: C'_k = sum_i C_ik).
  const sum: Element[] = Array.from({ length: core.commitmentLength }, () => group.zero)
  for (const dealer of params.dealers) {
    const points = dealer === params.self ? core.dealing?.points : snap.points.get(dealer)
    if (points?.length !== core.commitmentLength) throw new CryptoInputError(`no dealing from ${dealer}`)
    points.forEach((c, k) => { sum[k] = (sum[k] ?? group.zero).add(c) })
  }
  // refresh (Herzberg et al. section 3): C'_0 = C_0, C'_k = C_k + sum_i C_ik; reshare: C' = sum, with C'_0 = C_0 checked.
  const commitments = refresh ? core.oldCommitments.map((c, k) => k === 0 ? c : c.add(sum[k - 1] ?? group.zero)) : sum
  const c0 = commitments[0]
  const oldC0 = core.oldCommitments[0]
  if (c0 === undefined || oldC0 === undefined || !c0.equals(oldC0)) throw new CryptoInputError('the new group key differs from the old one')
  if (commitments.some((c) => c.is0())) throw new CryptoInputError('a new commitment is the identity')
  const verifying = params.newHolders.map((name): [string, Element] => [
    participantIdentifier(params.scheme, params.newHolders.indexOf(name) + 1),
    evaluateCommitment(group, commitments, core.newXs.get(name) ?? 0n)
  ])
  if (verifying.some(([, v]) => v.is0())) throw new CryptoInputError('a new verifying share is the identity')
  const pub: FrostPublic = {
    signers: { min: params.newThreshold, max: params.newHolders.length },
    commitments: commitments.map((c, k) => k === 0 ? Uint8Array.from(core.groupKey) : Uint8Array.from(c.toBytes())),
    verifyingShares: Object.fromEntries(verifying.map(([id, v]) => [id, Uint8Array.from(v.toBytes())]))
  }
  const selfX = core.newXs.get(params.self)
  if (selfX === undefined) return { public: pub }
  // s'_j = sum_i f_i(j') (reshare), s_j + sum_i f_i(j) (refresh); our own dealing's value included.
  let share = refresh ? (core.oldShare?.value ?? Fn.ZERO) : Fn.ZERO
  if (core.dealing !== undefined) share = Fn.add(share, evaluatePolynomial(Fn, core.dealing.coefficients, selfX))
  for (const dealer of params.dealers) {
    if (dealer === params.self) continue
    const opened = snap.opened.get(dealer)
    if (opened === undefined) throw new CryptoInputError(`no share from ${dealer}`)
    share = Fn.add(share, Fn.fromBytes(opened))
  }
  const ownId = participantIdentifier(params.scheme, params.newHolders.indexOf(params.self) + 1)
  const ownVerifying = verifying.find(([id]) => id === ownId)?.[1]
  if (Fn.is0(share) || ownVerifying === undefined || !group.base.multiply(share).equals(ownVerifying)) throw new CryptoInputError('our new share does not match our verifying share')
  const secret = { identifier: ownId, signingShare: Uint8Array.from(Fn.toBytes(share)) }
  return { public: pub, key: { public: copyPublic(pub), secret } }
}

/** Which senders this participant still waits for; undefined when the session is done or failed. */
export function missingReshareMessages (state: ReshareState): { round: 1 | 2, from: string[] } | undefined {
  const snap = snapshotOf(state, false)
  const { core } = snap
  if (core.failed || state.step === 'done') return undefined
  const self = core.params.self
  if (state.step === 'round1') return { round: 1, from: core.participants.filter((p) => p !== self && !snap.round1.has(p)) }
  return { round: 2, from: core.params.dealers.filter((d) => d !== self && !snap.round2.has(d)) }
}

/** What this participant has sent so far (copies), for retransmission. */
export function ownReshareMessages (state: ReshareState): ReshareMessage[] {
  const snap = snapshotOf(state, false)
  const out: ReshareMessage[] = [copyMessage(snap.core.own1)]
  if (state.step !== 'round1' && snap.core.own2 !== undefined) out.push(copyMessage(snap.core.own2))
  return out
}

/** Canonical round-1 body: lp(ephemeral key). */
function encodeRound1Body (m: ReshareRound1Message): Uint8Array {
  return lp(m.ephemeralPublicKey)
}

/** Canonical round-2 body: count || lp(point)... || count || (lp(to) || lp(sealed))... */
function encodeRound2Body (m: ReshareRound2Message): Uint8Array {
  return concat(u32(m.commitment.length), ...m.commitment.map((c) => lp(c)), u32(m.shares.length), ...m.shares.flatMap((s) => [lp(s.to), lp(s.sealed)]))
}

/**
 * sha256 of one participant's messages (round-1 body, then its round-2 body when it is a dealer),
 * bound to the cluster, session and sender: members that report different digests for one sender
 * received different messages from it.
 */
export function reshareMessageDigest (params: Pick<ReshareParams, 'clusterId' | 'sessionId'>, round1: ReshareRound1Message, round2?: ReshareRound2Message): Uint8Array {
  if (round2 !== undefined && round2.from !== round1.from) throw new CryptoInputError('both messages of a digest must come from one sender')
  return sha256(concat(lp(DIGEST_DOMAIN), lp(params.clusterId), lp(params.sessionId), lp(round1.from), encodeRound1Body(round1),
    round2 === undefined ? u32(0) : concat(u32(1), encodeRound2Body(round2))))
}

/**
 * sha256 over the domain, scheme, cluster, session, mode, sha256(encodePublic(oldPublic)), the
 * old holders, dealers and new holders, t', then for each participant in reshareParticipants
 * order: name, round-1 body, and (dealers) round-2 body. Equal hashes mean the members saw the
 * same session and the same messages.
 */
export function reshareTranscriptHash (
  params: ReshareParams,
  messagesInParticipantOrder: Array<{ round1: ReshareRound1Message, round2?: ReshareRound2Message }>
): Uint8Array {
  return transcriptHash(params, sha256(encodePublic(params.oldPublic)), messagesInParticipantOrder)
}

function transcriptHash (
  params: ReshareParams,
  oldPublicHash: Uint8Array,
  messagesInParticipantOrder: Array<{ round1: ReshareRound1Message, round2?: ReshareRound2Message }>
): Uint8Array {
  const { scheme, clusterId, sessionId, mode, oldHolders, dealers, newHolders, newThreshold } = params
  const participants = reshareParticipants(params)
  const dealerSet = new Set(dealers)
  if (messagesInParticipantOrder.length !== participants.length) throw new CryptoInputError('transcript needs the messages of every participant')
  const names = (list: readonly string[]): Uint8Array => concat(u32(list.length), ...list.map((n) => lp(n)))
  const parts: Uint8Array[] = [
    lp(TRANSCRIPT_DOMAIN), lp(scheme), lp(clusterId), lp(sessionId), lp(mode), lp(oldPublicHash),
    names(oldHolders), names(dealers), names(newHolders), u32(newThreshold)
  ]
  participants.forEach((name, i) => {
    const m = messagesInParticipantOrder[i]
    if (m?.round1.from !== name || (dealerSet.has(name) ? m.round2?.from !== name : m.round2 !== undefined)) {
      throw new CryptoInputError('transcript messages must be in participant order, with round 2 from every dealer only')
    }
    parts.push(lp(name), encodeRound1Body(m.round1))
    if (m.round2 !== undefined) parts.push(encodeRound2Body(m.round2))
  })
  return sha256(concat(...parts))
}

function copyMessage<M extends ReshareMessage> (m: M): M {
  if (m.round === 1) return { round: 1, from: m.from, ephemeralPublicKey: Uint8Array.from(m.ephemeralPublicKey) } as M
  return {
    round: 2,
    from: m.from,
    commitment: m.commitment.map((c) => Uint8Array.from(c)),
    shares: m.shares.map((s) => ({ to: s.to, sealed: Uint8Array.from(s.sealed) }))
  } as M
}
