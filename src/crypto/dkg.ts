/**
 * Distributed key generation as a pure session state machine over noble's FROST DKG
 * (the frost-rs three-call DKG: Pedersen VSS with proofs of knowledge; RFC 9591 leaves DKG out
 * of scope, its Appendix C gives the VSS). The network adapter feeds every inbound message to
 * `receiveDkg` and sends whatever comes back in `outbound`.
 *
 * State handling: every call that changes the session returns a NEW state object and leaves the
 * one passed in untouched; a call that throws CryptoInputError changes nothing. All states of one
 * session share the noble DKG secret, which noble advances in place, so a session is linear:
 * always continue from the most recent state (an older one is refused as stale). Once a call
 * throws BlameError the session is over for good: the DKG secret is wiped (DKG.clean) and every
 * later call on any of its states throws CryptoInputError. On completion the secret is wiped too.
 */
import type { DKG_Round1, DKG_Round2, DKG_Secret, FROST, Key } from '@noble/curves/abstract/frost.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesEqual, concat, lp, u32, utf8 } from './bytes.js'
import { generateX25519, isUsablePeerKey, MAX_SEALED_SHARE_BYTES, openShare, sealShare, type X25519KeyPair } from './ecies.js'
import { BlameError, CryptoInputError } from './errors.js'
import { frostSuite, isScheme, isValidElement, nobleRng, participantIdentifier, POINT_BYTES, type Rng, SCALAR_BYTES, type Scheme, validateThreshold } from './suites.js'

export interface DkgParams {
  scheme: Scheme
  clusterId: string
  sessionId: string
  threshold: number
  /** distinct names (peer ids); participant i (0-based) gets identifier participantIdentifier(scheme, i + 1) */
  participants: string[]
  self: string
}

export interface DkgRound1Message { round: 1, from: string, commitment: Uint8Array[], proofOfKnowledge: Uint8Array, ephemeralPublicKey: Uint8Array }
/** One message per sender, carrying the sealed share for every other participant. */
export interface DkgRound2Message { round: 2, from: string, shares: Array<{ to: string, sealed: Uint8Array }> }
export type DkgMessage = DkgRound1Message | DkgRound2Message

export interface DkgOutcome {
  /** noble Key: public package + this participant's secret share */
  key: Key
  /** key.public.commitments[0] (taproot: the BIP-86 tweaked output key, compressed) */
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
const ROUND1_DIGEST_DOMAIN = 'mpc-wallet/dkg-round1/v1'
const POK_PROBE = 'mpc-wallet/dkg/pok-probe/v1'

/** Shared by all states of one session; mutable. */
interface Core {
  readonly params: DkgParams
  readonly frost: FROST
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
  /** every round-2 message received, including those buffered while round 1 was incomplete */
  readonly round2: ReadonlyMap<string, DkgRound2Message>
  /** decrypted, VSS-verified shares by sender (secret) */
  readonly opened: ReadonlyMap<string, Uint8Array>
}

const snapshots = new WeakMap<DkgState, Snapshot>()

function makeState (step: DkgState['step'], snap: Snapshot): DkgState {
  const state: DkgState = Object.freeze({ params: snap.core.params, step })
  snapshots.set(state, snap)
  snap.core.latest = state
  return state
}

function snapshotOf (state: DkgState, forUpdate: boolean): Snapshot {
  const snap = typeof state === 'object' && state !== null ? snapshots.get(state) : undefined
  if (snap === undefined) throw new CryptoInputError('not a DKG state made by startDkg/receiveDkg')
  if (forUpdate) {
    if (snap.core.failed) throw new CryptoInputError('this DKG session has failed; start a new one')
    if (snap.core.latest !== state) throw new CryptoInputError('stale DKG state: continue from the latest state of the session')
  }
  return snap
}

function others (core: Core): string[] {
  return core.params.participants.filter((p) => p !== core.params.self)
}

function validateParams (params: DkgParams): DkgParams {
  if (typeof params !== 'object' || params === null) throw new CryptoInputError('DKG params missing')
  const { scheme, clusterId, sessionId, threshold, participants, self } = params
  if (typeof scheme !== 'string' || !isScheme(scheme)) throw new CryptoInputError('unknown scheme')
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
  return Object.freeze({ scheme, clusterId, sessionId, threshold, participants: Object.freeze([...participants]) as string[], self })
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
  const core: Core = {
    params: p, frost, rng, ids, index, selfId, secret: r1.secret, ephemeral, own1, failed: false
  }
  const state = makeState('round1', { core, round1: new Map(), round2: new Map(), opened: new Map() })
  return { state, outbound: [copyMessage(own1)] }
}

/** Feed one inbound message. See the module comment for the state and failure rules. */
export function receiveDkg (state: DkgState, msg: DkgMessage): { state: DkgState, outbound: DkgMessage[], outcome?: DkgOutcome } {
  const snap = snapshotOf(state, true)
  const { core } = snap
  if (typeof msg !== 'object' || msg === null) throw new CryptoInputError('DKG message missing')
  const from: unknown = msg.from
  if (typeof from !== 'string') throw new CryptoInputError('DKG message has no sender')
  if (from === core.params.self) throw new CryptoInputError('a DKG message from self cannot be received')
  if (!core.index.has(from)) throw new CryptoInputError(`DKG sender ${from.slice(0, MAX_DKG_NAME_LENGTH)} is not a participant of this session`)
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
  core.ephemeral.secretKey.fill(0)
  for (const s of snap.opened.values()) s.fill(0)
  throw err
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
  if (msg.commitment.length !== threshold || !msg.commitment.every((c) => isValidElement(scheme, c)) ||
    msg.proofOfKnowledge.length !== POINT_BYTES[scheme] - (scheme === 'taproot' ? 1 : 0) + SCALAR_BYTES) {
    fail(snap, new BlameError([from], 'malformed round-1 message', `participant ${from} sent a malformed round-1 message`))
  }
  const identifier = core.ids[core.index.get(from) ?? -1] ?? ''
  if (!proofOfKnowledgeIsValid(core, identifier, msg.commitment, msg.proofOfKnowledge)) {
    fail(snap, new BlameError([from], 'invalid proof of knowledge', `participant ${from} sent an invalid proof of knowledge`))
  }
  if (!isUsablePeerKey(core.ephemeral.secretKey, msg.ephemeralPublicKey)) {
    fail(snap, new BlameError([from], 'invalid ephemeral key', `participant ${from} sent an unusable X25519 key`))
  }
  const round1 = new Map(snap.round1).set(from, copyMessage(msg))
  if (round1.size < core.params.participants.length - 1) {
    return { state: makeState('round1', { ...snap, round1 }), outbound: [] }
  }
  // Round 1 complete: compute and seal our shares, then open whatever round-2 messages were buffered.
  const own2 = sealOwnShares(snap, round1)
  const opened = new Map(snap.opened)
  try {
    for (const [sender, m2] of snap.round2) opened.set(sender, openAndVerify(snap, round1, m2))
  } catch (err) {
    for (const share of opened.values()) share.fill(0)
    throw err
  }
  const next: Snapshot = { core, round1, round2: snap.round2, opened }
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
  const opened = new Map(snap.opened).set(from, openAndVerify(snap, snap.round1, msg))
  const next: Snapshot = { core, round1: snap.round1, round2, opened }
  if (opened.size === core.params.participants.length - 1) {
    const outcome = finish(next)
    return { state: makeState('done', next), outbound: [], outcome }
  }
  return { state: makeState('round2', next), outbound: [] }
}

/** noble DKG round 2 on the complete round-1 set, each share sealed to its recipient's X25519 key. */
function sealOwnShares (snap: Snapshot, round1: ReadonlyMap<string, DkgRound1Message>): DkgRound2Message {
  const { core } = snap
  const { clusterId, sessionId, self } = core.params
  const names = others(core)
  const packages: DKG_Round1[] = names.map((name) => toNoble(core, name, round1))
  let shares: Record<string, DKG_Round2>
  try {
    shares = core.frost.DKG.round2(core.secret, packages)
  } catch {
    // Every package was checked one by one on arrival, so this is not any one sender's fault.
    fail(snap, new BlameError([], 'dkg round 2 failed', 'noble DKG round 2 refused a round-1 set that passed individual checks'))
  }
  const sealed: DkgRound2Message['shares'] = []
  for (const name of names) {
    const id = core.ids[core.index.get(name) ?? -1] ?? ''
    const pkg = shares[id]
    const recipient = round1.get(name)
    if (pkg === undefined || recipient === undefined) fail(snap, new BlameError([], 'dkg round 2 failed', 'noble DKG round 2 produced no share for a participant'))
    sealed.push({
      to: name,
      sealed: sealShare(core.ephemeral.secretKey, recipient.ephemeralPublicKey, pkg.signingShare, { clusterId, sessionId, sender: self, recipient: name }, core.rng)
    })
    pkg.signingShare.fill(0)
  }
  const own2: DkgRound2Message = { round: 2, from: self, shares: sealed }
  core.own2 = own2
  return own2
}

/** Open our share from `msg` and check it against its sender's VSS commitment (RFC 9591 Appendix C.2 vss_verify). */
function openAndVerify (snap: Snapshot, round1: ReadonlyMap<string, DkgRound1Message>, msg: DkgRound2Message): Uint8Array {
  const { core } = snap
  const { clusterId, sessionId, self, threshold, participants } = core.params
  const from = msg.from
  const sender = round1.get(from)
  const mine = msg.shares.find((s) => s.to === self)
  if (sender === undefined || mine === undefined) fail(snap, new BlameError([from], 'missing share'))
  let share: Uint8Array
  try {
    share = openShare(core.ephemeral.secretKey, sender.ephemeralPublicKey, mine.sealed, { clusterId, sessionId, sender: from, recipient: self })
  } catch {
    fail(snap, new BlameError([from], 'undecryptable share', `the share from ${from} does not decrypt`))
  }
  try {
    if (share.length !== SCALAR_BYTES) throw new Error('wrong length')
    core.frost.validateSecret(
      { identifier: core.selfId, signingShare: share },
      { signers: { min: threshold, max: participants.length }, commitments: sender.commitment, verifyingShares: {} }
    )
  } catch {
    share.fill(0)
    fail(snap, new BlameError([from], 'invalid share', `the share from ${from} does not match its commitment`))
  }
  return share
}

/** noble DKG round 3, then the transcript hash; wipes the DKG secret and the opened shares. */
function finish (snap: Snapshot): DkgOutcome {
  const { core } = snap
  const names = others(core)
  let key: Key
  try {
    key = core.frost.DKG.round3(
      core.secret,
      names.map((name) => toNoble(core, name, snap.round1)),
      names.map((name) => ({ identifier: core.ids[core.index.get(name) ?? -1] ?? '', signingShare: snap.opened.get(name) ?? new Uint8Array(0) }))
    )
  } catch {
    fail(snap, new BlameError([], 'dkg round 3 failed', 'noble DKG round 3 refused shares that passed individual checks'))
  }
  core.frost.DKG.clean(core.secret)
  for (const s of snap.opened.values()) s.fill(0)
  core.ephemeral.secretKey.fill(0)
  const all = core.params.participants.map((name) => name === core.params.self ? core.own1 : snap.round1.get(name))
  const messages = all.filter((m): m is DkgRound1Message => m !== undefined)
  return {
    key,
    groupPublicKey: Uint8Array.from(key.public.commitments[0] ?? new Uint8Array(0)),
    transcriptHash: dkgTranscriptHash(core.params, messages),
    round1Digests: messages.map((m) => dkgRound1Digest(core.params, m))
  }
}

function toNoble (core: Core, name: string, round1: ReadonlyMap<string, DkgRound1Message>): DKG_Round1 {
  const m = round1.get(name)
  const identifier = core.ids[core.index.get(name) ?? -1]
  if (m === undefined || identifier === undefined) throw new CryptoInputError(`no round-1 message from ${name}`)
  return { identifier, commitment: m.commitment.map((c) => Uint8Array.from(c)), proofOfKnowledge: Uint8Array.from(m.proofOfKnowledge) }
}

/**
 * Check one sender's proof of knowledge on its own, so a bad one is attributed to its sender
 * (noble's round2 checks the whole set at once and does not say whose proof failed). The check
 * is noble's own: the proof covers only the identifier and commitment[0] (frost-rs PoK, a
 * Schnorr signature under that key with challenge H_dkg(id, commitment[0], R)), so a throwaway
 * 2-of-2 noble round 2 over this one package, cut to its first two commitments, verifies exactly
 * this proof. Noble's round 2 on the full set re-checks every proof when round 1 completes.
 */
function proofOfKnowledgeIsValid (core: Core, identifier: string, commitment: Uint8Array[], proof: Uint8Array): boolean {
  const { frost } = core
  const probe = frost.DKG.round1(frost.Identifier.derive(POK_PROBE), { min: 2, max: 2 }, undefined, nobleRng(core.rng))
  try {
    frost.DKG.round2(probe.secret, [{ identifier, commitment: commitment.slice(0, 2), proofOfKnowledge: proof }])
    return true
  } catch {
    return false
  } finally {
    frost.DKG.clean(probe.secret)
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
 * sha256 over the domain, scheme, cluster, session, t, n, then for each participant in order:
 * name, identifier, round-1 body. Equal hashes mean the members saw the same round 1.
 */
export function dkgTranscriptHash (params: DkgParams, round1InParticipantOrder: DkgRound1Message[]): Uint8Array {
  const { scheme, clusterId, sessionId, threshold, participants } = params
  if (round1InParticipantOrder.length !== participants.length) throw new CryptoInputError('transcript needs one round-1 message per participant')
  const parts: Uint8Array[] = [lp(TRANSCRIPT_DOMAIN), lp(scheme), lp(clusterId), lp(sessionId), u32(threshold), u32(participants.length)]
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
