/**
 * Reshare and refresh through the pure state machine, on real keys from a real in-memory DKG,
 * with messages routed in shuffled order and duplicated. The new keys sign through the wallet's
 * signing code and noble's own, and the signatures are checked by code that is not ours:
 * Node's crypto.verify (OpenSSL) for Ed25519, libsecp256k1 (tiny-secp256k1) for BIP-340.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import type { FrostPublic, Key } from '@noble/curves/abstract/frost.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import * as ecc from 'tiny-secp256k1'
import { describe, expect, it } from 'vitest'
import {
  aggregateSignature, BlameError, commitNonces, CryptoInputError, decodeKey, encodeKey, encodePublic, frostSuite, generateX25519,
  missingReshareMessages, ownReshareMessages, participantIdentifier, receiveDkg, receiveReshare, reshareMessageDigest, reshareParticipants,
  reshareTranscriptHash, sealShare,
  signShare, startDkg, startReshare, verifySignature,
  type DkgMessage, type DkgState, type ReshareMessage, type ReshareOutcome, type ReshareParams, type ReshareRound1Message,
  type ReshareRound2Message, type ReshareState, type Rng, type Scheme
} from '../../src/crypto/index.js'
import { mulberry32 } from '../prng.js'

/** Name pool: A..L; an old committee of n is the first n. */
const POOL = Array.from({ length: 12 }, (_, i) => `12D3KooWPeer${String.fromCharCode(65 + i)}`)
const nm = (letters: string): string[] => [...letters].map((c) => POOL[c.charCodeAt(0) - 65] ?? '')

/** Deterministic bytes from mulberry32: test-only injected randomness (never for real keys). */
function seededRng (seed: number): Rng {
  const next = mulberry32(seed)
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256))
}

// ---- old keys from a real DKG (run once per scheme and shape)

const dkgCache = new Map<string, Key[]>()

function dkgKeys (scheme: Scheme, t: number, n: number): Key[] {
  const cacheKey = `${scheme}/${t}/${n}`
  const cached = dkgCache.get(cacheKey)
  if (cached !== undefined) return cached
  const names = POOL.slice(0, n)
  const states = new Map<string, DkgState>()
  const queue: Array<{ to: string, msg: DkgMessage }> = []
  const send = (from: string, msgs: DkgMessage[]): void => { for (const msg of msgs) for (const to of names) if (to !== from) queue.push({ to, msg }) }
  for (const self of names) {
    const { state, outbound } = startDkg({ scheme, clusterId: 'cluster-a', sessionId: `dkg-${cacheKey}`, threshold: t, participants: names, self })
    states.set(self, state)
    send(self, outbound)
  }
  const keys = new Map<string, Key>()
  for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
    const res = receiveDkg(states.get(d.to) as DkgState, d.msg)
    states.set(d.to, res.state)
    send(d.to, res.outbound)
    if (res.outcome !== undefined) keys.set(d.to, res.outcome.key)
  }
  const out = names.map((name) => keys.get(name) as Key)
  expect(out.every((k) => k !== undefined)).toBe(true)
  dkgCache.set(cacheKey, out)
  return out
}

// ---- running a reshare in memory

interface Spec {
  label: string
  mode: 'reshare' | 'refresh'
  t: number
  n: number
  dealers: string
  newHolders: string
  newThreshold: number
}

function paramsFor (scheme: Scheme, spec: Spec, self: string, sessionId = 'reshare-1'): ReshareParams {
  const oldKeys = dkgKeys(scheme, spec.t, spec.n)
  const oldHolders = POOL.slice(0, spec.n)
  const oldIndex = oldHolders.indexOf(self)
  const first = oldKeys[0]
  if (first === undefined) throw new Error('no old keys')
  return {
    scheme,
    clusterId: 'cluster-a',
    sessionId,
    mode: spec.mode,
    oldPublic: first.public,
    oldHolders,
    dealers: nm(spec.dealers),
    newHolders: nm(spec.newHolders),
    newThreshold: spec.newThreshold,
    self,
    ...(oldIndex >= 0 ? { ownKey: oldKeys[oldIndex] } : {})
  }
}

interface Run { participants: string[], outcomes: Map<string, ReshareOutcome>, early: number, duplicates: number }

/** Every outbound message goes to every other participant, in shuffled order, some twice. */
function runReshare (scheme: Scheme, spec: Spec, seed: number): Run {
  const participants = reshareParticipants({ newHolders: nm(spec.newHolders), dealers: nm(spec.dealers) })
  const random = mulberry32(seed)
  const states = new Map<string, ReshareState>()
  const queue: Array<{ to: string, msg: ReshareMessage }> = []
  const send = (from: string, msgs: ReshareMessage[]): void => { for (const msg of msgs) for (const to of participants) if (to !== from) queue.push({ to, msg }) }
  participants.forEach((self, i) => {
    const { state, outbound } = startReshare(paramsFor(scheme, spec, self), seededRng(seed * 100 + i))
    states.set(self, state)
    send(self, outbound)
  })
  const outcomes = new Map<string, ReshareOutcome>()
  let duplicates = 0
  let early = 0
  while (queue.length > 0) {
    const [d] = queue.splice(Math.floor(random() * queue.length), 1)
    if (d === undefined) break
    if (random() < 0.25 && duplicates < 4 * participants.length) {
      duplicates++
      queue.push(d)
    }
    const state = states.get(d.to) as ReshareState
    if (d.msg.round === 2 && state.step === 'round1') early++
    const res = receiveReshare(state, d.msg)
    states.set(d.to, res.state)
    send(d.to, res.outbound)
    if (res.outcome !== undefined) {
      expect(outcomes.has(d.to)).toBe(false)
      outcomes.set(d.to, res.outcome)
    }
  }
  for (const s of states.values()) {
    expect(s.step).toBe('done')
    expect(missingReshareMessages(s)).toBeUndefined()
  }
  return { participants, outcomes, early, duplicates }
}

// ---- signing and outside verification

function thresholdSign (scheme: Scheme, keys: Key[], pub: FrostPublic, names: Record<string, string>, message: Uint8Array): Uint8Array {
  const commits = keys.map((k) => commitNonces(scheme, k.secret))
  const list = commits.map((c) => c.commitments)
  const shares: Record<string, Uint8Array> = {}
  keys.forEach((k, i) => { shares[k.secret.identifier] = signShare(scheme, k, commits[i] as ReturnType<typeof commitNonces>, list, message) })
  return aggregateSignature(scheme, pub, list, message, shares, names)
}

function externallyVerified (scheme: Scheme, sig: Uint8Array, message: Uint8Array, groupPublicKey: Uint8Array): boolean {
  if (scheme === 'ed25519') {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(groupPublicKey).toString('base64url') }, format: 'jwk' })
    return nodeVerify(null, message, key, sig)
  }
  return ecc.verifySchnorr(message, groupPublicKey.subarray(1), sig)
}

function subsetsOf<T> (items: T[], k: number): T[][] {
  if (k === 0) return [[]]
  if (items.length < k) return []
  const [head, ...rest] = items as [T, ...T[]]
  return [...subsetsOf(rest, k - 1).map((s) => [head, ...s]), ...subsetsOf(rest, k)]
}

const messageFor = (scheme: Scheme, label: string): Uint8Array =>
  scheme === 'taproot' ? sha256(new TextEncoder().encode(label)) : new TextEncoder().encode(label)

const hex = (b: Uint8Array | undefined): string => bytesToHex(b ?? new Uint8Array(0))

function expectBlame (fn: () => unknown, culprits: string[], reason: string): void {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(BlameError)
    expect((err as BlameError).culprits).toEqual(culprits)
    expect((err as BlameError).reason).toBe(reason)
    return
  }
  expect.fail(`expected BlameError(${reason})`)
}

// ---- the sweep

const SPECS: Spec[] = [
  // overlapping, reordered: C and A get new identifiers 1 and 2
  { label: '2-of-3 -> 3-of-5', mode: 'reshare', t: 2, n: 3, dealers: 'AC', newHolders: 'CADEF', newThreshold: 3 },
  // A is a new holder that does not deal; B and D deal and leave
  { label: '3-of-5 -> 2-of-3', mode: 'reshare', t: 3, n: 5, dealers: 'BDE', newHolders: 'EAF', newThreshold: 2 },
  // disjoint committee, every old holder deals (more dealers than t)
  { label: '2-of-3 -> 2-of-3 disjoint', mode: 'reshare', t: 2, n: 3, dealers: 'ABC', newHolders: 'GHI', newThreshold: 2 },
  { label: '3-of-5 -> 4-of-6 overlapping', mode: 'reshare', t: 3, n: 5, dealers: 'ACEB', newHolders: 'ABCFGH', newThreshold: 4 },
  { label: 'refresh 2-of-3', mode: 'refresh', t: 2, n: 3, dealers: 'ABC', newHolders: 'ABC', newThreshold: 2 },
  { label: 'refresh 3-of-5', mode: 'refresh', t: 3, n: 5, dealers: 'ABCDE', newHolders: 'ABCDE', newThreshold: 3 }
]

let earlyTotal = 0

describe.each(['ed25519', 'taproot'] as const)('reshare and refresh, %s', (scheme) => {
  const frost = frostSuite(scheme)

  it.each(SPECS.map((s, i) => [s.label, s, i] as const))('%s: agreement, same key, every t\'-subset signs, old and new do not mix', (_label, spec, i) => {
    const oldKeys = dkgKeys(scheme, spec.t, spec.n)
    const oldPublic = (oldKeys[0] as Key).public
    const groupKey = oldPublic.commitments[0] as Uint8Array
    const run = runReshare(scheme, spec, 1000 + i * 7 + (scheme === 'taproot' ? 3 : 0))
    earlyTotal += run.early
    expect(run.duplicates).toBeGreaterThan(0)
    expect(run.outcomes.size).toBe(run.participants.length)
    const newHolders = nm(spec.newHolders)
    const all = run.participants.map((p) => run.outcomes.get(p) as ReshareOutcome)
    const first = all[0] as ReshareOutcome

    // Everyone computed the same package, group key, transcript and digests; the group key is unchanged.
    for (const o of all) {
      expect(hex(encodePublic(o.public))).toBe(hex(encodePublic(first.public)))
      expect(hex(o.groupPublicKey)).toBe(hex(groupKey))
      expect(hex(o.public.commitments[0])).toBe(hex(groupKey))
      expect(hex(o.transcriptHash)).toBe(hex(first.transcriptHash))
      expect(o.messageDigests.map(hex)).toEqual(first.messageDigests.map(hex))
      expect(o.messageDigests).toHaveLength(run.participants.length)
      expect(Object.keys(o.public.verifyingShares)).toEqual(newHolders.map((_, j) => participantIdentifier(scheme, j + 1)))
    }
    expect(first.public.signers).toEqual({ min: spec.newThreshold, max: newHolders.length })

    // New holders got keys with their new identifiers; dealers that leave got none.
    const keys = newHolders.map((name, j) => {
      const o = run.outcomes.get(name) as ReshareOutcome
      expect(o.key?.secret.identifier).toBe(participantIdentifier(scheme, j + 1))
      expect(hex(encodePublic(o.key?.public as FrostPublic))).toBe(hex(encodePublic(first.public)))
      const k = o.key as Key
      frost.validateSecret(k.secret, k.public) // noble's VSS check
      expect(hex(decodeKey(encodeKey(k)).secret.signingShare)).toBe(hex(k.secret.signingShare))
      return k
    })
    for (const p of run.participants) if (!newHolders.includes(p)) expect(run.outcomes.get(p)?.key).toBeUndefined()

    // Test-only interpolation: t' new shares and t old shares give the same secret.
    const oldSecret = hex(frost.combineSecret(oldKeys.slice(0, spec.t).map((k) => k.secret), oldPublic.signers))
    expect(hex(frost.combineSecret(keys.slice(-spec.newThreshold).map((k) => k.secret), first.public.signers))).toBe(oldSecret)

    // Every t'-subset of the new holders signs; outside verifiers accept.
    const nameOf: Record<string, string> = {}
    keys.forEach((k, j) => { nameOf[k.secret.identifier] = newHolders[j] ?? '' })
    for (const [s, subset] of subsetsOf(keys.map((_, j) => j), spec.newThreshold).entries()) {
      const stored = s % 4 === 1 // every fourth subset signs with keys that went through encodeKey/decodeKey (as from the store)
      const signers = subset.map((j) => keys[j] as Key).map((k) => stored ? decodeKey(encodeKey(k)) : k)
      const message = messageFor(scheme, `${spec.label} by ${subset.join(',')}`)
      const sig = thresholdSign(scheme, signers, first.public, nameOf, message)
      expect(verifySignature(scheme, sig, message, groupKey)).toBe(true)
      expect(externallyVerified(scheme, sig, message, groupKey)).toBe(true)
    }

    // Old and new shares do not mix: holder 1's old share under the new package is an invalid signature share.
    const signers = keys.slice(0, spec.newThreshold)
    const mixed = signers.map((k, j) => j === 0 ? { public: k.public, secret: (oldKeys[0] as Key).secret } : k)
    expect(mixed[0]?.secret.identifier).toBe(participantIdentifier(scheme, 1))
    expectBlame(() => thresholdSign(scheme, mixed, first.public, nameOf, messageFor(scheme, 'mixed')), [newHolders[0] ?? ''], 'invalid signature share')
    expect(hex(frost.combineSecret(mixed.map((k) => k.secret), first.public.signers))).not.toBe(oldSecret)

    if (spec.mode === 'refresh') {
      // Same identifiers, every share and verifying share changed, the non-constant commitments too.
      keys.forEach((k, j) => {
        const old = oldKeys[j] as Key
        expect(k.secret.identifier).toBe(old.secret.identifier)
        expect(hex(k.secret.signingShare)).not.toBe(hex(old.secret.signingShare))
        expect(hex(k.public.verifyingShares[k.secret.identifier])).not.toBe(hex(oldPublic.verifyingShares[k.secret.identifier]))
      })
      for (let k = 1; k < spec.t; k++) expect(hex(first.public.commitments[k])).not.toBe(hex(oldPublic.commitments[k]))
      // and the old package does not accept a refreshed share either
      const oldSigners = oldKeys.slice(0, spec.t).map((k, j) => j === 0 ? { public: oldPublic, secret: (keys[0] as Key).secret } : k)
      const oldNames: Record<string, string> = {}
      oldKeys.forEach((k, j) => { oldNames[k.secret.identifier] = POOL[j] ?? '' })
      expectBlame(() => thresholdSign(scheme, oldSigners, oldPublic, oldNames, messageFor(scheme, 'mixed-old')), [POOL[0] ?? ''], 'invalid signature share')
    }
  })

  it('new keys sign through noble\'s own FROST as well', () => {
    const spec = SPECS[3] as Spec
    const run = runReshare(scheme, spec, 77)
    const keys = nm(spec.newHolders).map((name) => run.outcomes.get(name)?.key as Key).slice(1, 1 + spec.newThreshold)
    const pub = (keys[0] as Key).public
    const msg = messageFor(scheme, 'noble')
    const commits = keys.map((k) => frost.commit(k.secret))
    const list = commits.map((c) => c.commitments)
    const shares = Object.fromEntries(keys.map((k, j) => [k.secret.identifier, frost.signShare(k.secret, pub, (commits[j] as typeof commits[number]).nonces, list, msg)]))
    const sig = frost.aggregate(pub, list, msg, shares)
    expect(externallyVerified(scheme, sig, msg, pub.commitments[0] as Uint8Array)).toBe(true)
  })
})

describe('reshare delivery', () => {
  it('the sweep exercised round-2 messages arriving before round 1 completed', () => {
    expect(earlyTotal).toBeGreaterThan(0)
  })

  it('buffers a round 2 that arrives before round 1 completes and opens it when it does', () => {
    const spec = SPECS[0] as Spec
    const parties = startAll('ed25519', spec)
    const after = throughRound1(parties, nm('D'))
    const c = parties.find((p) => p.name === nm('C')[0]) as Party // new holder and dealer
    const d = parties.find((p) => p.name === nm('D')[0]) as Party // new holder only
    const a = after.get(nm('A')[0] ?? '') as { round2: ReshareRound2Message }
    // D: A's round 2 first, then round 1 from everyone, then C's round 2
    let s = receiveReshare(d.state, structuredClone(a.round2)).state
    expect(s.step).toBe('round1')
    expect(missingReshareMessages(s)).toEqual({ round: 1, from: parties.filter((p) => p !== d).map((p) => p.name) })
    for (const p of parties) if (p !== d) s = receiveReshare(s, p.round1).state
    expect(s.step).toBe('round2')
    expect(missingReshareMessages(s)).toEqual({ round: 2, from: [c.name] })
    const res = receiveReshare(s, (after.get(c.name) as { round2: ReshareRound2Message }).round2)
    expect(res.state.step).toBe('done')
    expect(res.outcome?.key?.secret.identifier).toBe(participantIdentifier('ed25519', 3))
    // the exported transcript and digest functions give what the session reported
    const messages = parties.map((p) => ({ round1: p.round1, ...(after.get(p.name)?.round2 === undefined ? {} : { round2: after.get(p.name)?.round2 }) }))
    const dParams = paramsFor('ed25519', spec, d.name)
    expect(hex(reshareTranscriptHash(dParams, messages))).toBe(hex(res.outcome?.transcriptHash))
    expect(messages.map((m) => hex(reshareMessageDigest(dParams, m.round1, m.round2)))).toEqual(res.outcome?.messageDigests.map(hex))
  })

  it('same seed, same messages (randomness is injected)', () => {
    const spec = SPECS[0] as Spec
    const p = paramsFor('ed25519', spec, nm('A')[0] ?? '')
    const x = startReshare(p, seededRng(5)).outbound
    const y = startReshare(p, seededRng(5)).outbound
    expect(x).toEqual(y)
  })
})

// ---- negative cases

interface Party { name: string, state: ReshareState, round1: ReshareRound1Message }

function startAll (scheme: Scheme, spec: Spec, sessionId = 'reshare-1'): Party[] {
  const participants = reshareParticipants({ newHolders: nm(spec.newHolders), dealers: nm(spec.dealers) })
  return participants.map((self) => {
    const { state, outbound } = startReshare(paramsFor(scheme, spec, self, sessionId))
    return { name: self, state, round1: outbound[0] as ReshareRound1Message }
  })
}

function feed (state: ReshareState, msgs: ReshareMessage[]): { state: ReshareState, outbound: ReshareMessage[], outcome?: ReshareOutcome } {
  let res: { state: ReshareState, outbound: ReshareMessage[], outcome?: ReshareOutcome } = { state, outbound: [] }
  const out: ReshareMessage[] = []
  for (const m of msgs) {
    res = receiveReshare(res.state, m)
    out.push(...res.outbound)
  }
  return { ...res, outbound: out }
}

/** Round 1 everywhere but at `skip` (their states stay usable): each state after round 1 and (dealers) its round-2 message. */
function throughRound1 (parties: Party[], skip: string[] = []): Map<string, { state: ReshareState, round2?: ReshareRound2Message }> {
  return new Map(parties.filter((p) => !skip.includes(p.name)).map((p) => {
    const res = feed(p.state, parties.filter((q) => q !== p).map((q) => q.round1))
    expect(res.state.step).toBe('round2')
    const round2 = res.outbound[0]
    return [p.name, { state: res.state, ...(round2?.round === 2 ? { round2 } : {}) }]
  }))
}

/** The scalar field and point encoding of a scheme, for hand-built (rogue) dealings. */
function curveOf (scheme: Scheme): { Fn: typeof ed25519.Point.Fn, commit: (a: bigint) => Uint8Array } {
  if (scheme === 'ed25519') return { Fn: ed25519.Point.Fn, commit: (a) => ed25519.Point.BASE.multiply(a).toBytes() }
  return { Fn: secp256k1.Point.Fn, commit: (a) => secp256k1.Point.BASE.multiply(a).toBytes(true) }
}

/**
 * A rogue dealer at old index `i`: an honest round 1 (its own X25519 key), then a round 2 built by
 * hand from `coefficients`, each share sealed to its new holder; `tamper` may change one share.
 */
function rogueDealer (scheme: Scheme, spec: Spec, i: number) {
  const eph = generateX25519()
  const name = POOL[i] ?? ''
  const round1: ReshareRound1Message = { round: 1, from: name, ephemeralPublicKey: eph.publicKey }
  const { Fn, commit } = curveOf(scheme)
  const deal = (coefficients: bigint[], recipients: Party[], tamper?: (to: string, share: bigint) => bigint): ReshareRound2Message => {
    const newHolders = nm(spec.newHolders)
    const shares = newHolders.filter((h) => h !== name).map((to) => {
      const x = BigInt(newHolders.indexOf(to) + 1)
      let y = coefficients.reduceRight((acc, c) => Fn.add(Fn.mul(acc, x), c), Fn.ZERO)
      if (tamper !== undefined) y = tamper(to, y)
      const eph2 = recipients.find((r) => r.name === to)?.round1.ephemeralPublicKey ?? new Uint8Array(32)
      return { to, sealed: sealShare(eph.secretKey, eph2, Fn.toBytes(y), { clusterId: 'cluster-a', sessionId: 'reshare-1', sender: name, recipient: to }) }
    })
    return { round: 2, from: name, commitment: coefficients.map(commit), shares }
  }
  return { name, round1, deal }
}

/** lambda_i at 0 over the dealers' old identifiers (test-only, from the field). */
function lambda (scheme: Scheme, dealerXs: bigint[], xi: bigint): bigint {
  const { Fn } = curveOf(scheme)
  return dealerXs.filter((x) => x !== xi).reduce((acc, xj) => Fn.mul(acc, Fn.div(xj, Fn.sub(xj, xi))), Fn.ONE)
}

// 2-of-3 -> 3-of-4: A and B deal; B, C, D, E hold the new key (A leaves, D and E join)
const FAULT: Spec = { label: 'fault', mode: 'reshare', t: 2, n: 3, dealers: 'AB', newHolders: 'BCDE', newThreshold: 3 }

describe.each(['ed25519', 'taproot'] as const)('reshare faults, %s', (scheme) => {
  it('names a dealer whose constant term is not lambda_i*s_i, even with shares consistent with its commitment', () => {
    const parties = startAll(scheme, FAULT)
    const rogue = rogueDealer(scheme, FAULT, 0) // A
    const honest = parties.filter((p) => p.name !== rogue.name)
    const { Fn } = curveOf(scheme)
    const sA = Fn.fromBytes((dkgKeys(scheme, 2, 3)[0] as Key).secret.signingShare)
    // the classic slip: deal s_i itself instead of lambda_i*s_i
    const bad = rogue.deal([sA, Fn.ONE + 7n, Fn.ONE + 11n], honest)
    for (const p of honest) {
      const s = feed(p.state, [...honest.filter((q) => q !== p).map((q) => q.round1), rogue.round1]).state
      expectBlame(() => receiveReshare(s, bad), [rogue.name], 'wrong constant term')
      expect(() => receiveReshare(s, bad)).toThrow(CryptoInputError) // the session is over
    }
    // checked on arrival, before round 1 is complete too
    const fresh = startAll(scheme, FAULT).filter((p) => p.name !== rogue.name)
    expectBlame(() => receiveReshare((fresh[0] as Party).state, bad), [rogue.name], 'wrong constant term')
    // control: the same rogue dealing lambda_i*s_i is accepted
    const good = rogue.deal([Fn.mul(lambda(scheme, [1n, 2n], 1n), sA), 5n, 6n], fresh)
    const c = fresh.find((p) => p.name === nm('C')[0]) as Party
    const s = feed(c.state, [...fresh.filter((q) => q !== c).map((q) => q.round1), rogue.round1, good]).state
    expect(missingReshareMessages(s)).toEqual({ round: 2, from: nm('B') })
  })

  it('names a dealer whose share does not match its commitment (only its recipient can tell)', () => {
    const parties = startAll(scheme, FAULT)
    const rogue = rogueDealer(scheme, FAULT, 0)
    const honest = parties.filter((p) => p.name !== rogue.name)
    const { Fn } = curveOf(scheme)
    const sA = Fn.fromBytes((dkgKeys(scheme, 2, 3)[0] as Key).secret.signingShare)
    const victim = nm('D')[0] ?? ''
    const bad = rogue.deal([Fn.mul(lambda(scheme, [1n, 2n], 1n), sA), 3n, 4n], honest, (to, y) => to === victim ? Fn.add(y, 1n) : y)
    for (const p of honest) {
      const s = feed(p.state, [...honest.filter((q) => q !== p).map((q) => q.round1), rogue.round1]).state
      if (p.name === victim) expectBlame(() => receiveReshare(s, bad), [rogue.name], 'invalid share')
      else expect(receiveReshare(s, bad).state.step).toBe(p.name === nm('B')[0] ? 'done' : 'round2') // B deals too: A was all it waited for
    }
  })
})

describe('reshare faults and bad input, ed25519', () => {
  const scheme: Scheme = 'ed25519'
  const [A, B, C, D] = nm('ABCD') as [string, string, string, string]

  it('names a dealer whose sealed share is corrupted, also when the round 2 was buffered', () => {
    const parties = startAll(scheme, FAULT)
    const after = throughRound1(parties, [C])
    const bad = structuredClone(after.get(A)?.round2 as ReshareRound2Message)
    const mine = bad.shares.find((s) => s.to === C)
    if (mine === undefined) throw new Error('no share')
    mine.sealed[20] = (mine.sealed[20] ?? 0) ^ 1
    const cDone = feed((parties.find((p) => p.name === C) as Party).state, parties.filter((p) => p.name !== C).map((p) => p.round1))
    expectBlame(() => receiveReshare(cDone.state, bad), [A], 'undecryptable share')
    // D's own share is intact: D accepts the same message
    expect(receiveReshare(after.get(D)?.state as ReshareState, bad).state.step).toBe('round2')
    // buffered before round 1 completes: blame when it completes
    const c = startAll(scheme, FAULT).find((p) => p.name === C) as Party
    let s = receiveReshare(c.state, bad).state
    for (const p of parties) if (p.name !== C && p.name !== D) s = receiveReshare(s, p.round1).state
    expect(s.step).toBe('round1')
    expectBlame(() => receiveReshare(s, (parties.find((p) => p.name === D) as Party).round1), [A], 'undecryptable share')
  })

  it('names an equivocating dealer and ignores identical duplicates', () => {
    const after = throughRound1(startAll(scheme, FAULT))
    const m = after.get(A)?.round2 as ReshareRound2Message
    const once = receiveReshare(after.get(C)?.state as ReshareState, m)
    const dup = receiveReshare(once.state, structuredClone(m))
    expect(dup.state).toBe(once.state)
    expect(dup.outbound).toEqual([])
    const altered = structuredClone(m)
    const other = altered.shares.find((s) => s.to === D)
    if (other === undefined) throw new Error('no share')
    other.sealed[0] = (other.sealed[0] ?? 0) ^ 0xff
    expectBlame(() => receiveReshare(dup.state, altered), [A], 'equivocation')
    // round 1 too
    const parties = startAll(scheme, FAULT)
    const c = parties.find((p) => p.name === C) as Party
    const s = receiveReshare(c.state, (parties.find((p) => p.name === A) as Party).round1).state
    expectBlame(() => receiveReshare(s, { round: 1, from: A, ephemeralPublicKey: generateX25519().publicKey }), [A], 'equivocation')
  })

  it('names a dealer with the wrong commitment length, an invalid point, a missing or misaddressed share', () => {
    const after = throughRound1(startAll(scheme, FAULT))
    const m = after.get(B)?.round2 as ReshareRound2Message
    const cState = (): ReshareState => after.get(C)?.state as ReshareState
    // each case on a fresh session (a blame ends the session)
    const fresh = (): ReshareState => throughRound1(startAll(scheme, FAULT)).get(C)?.state as ReshareState
    expectBlame(() => receiveReshare(cState(), { ...m, commitment: m.commitment.slice(1) }), [B], 'wrong commitment length')
    expectBlame(() => receiveReshare(fresh(), { ...m, commitment: [...m.commitment, m.commitment[1] as Uint8Array] }), [B], 'wrong commitment length')
    const notAPoint = m.commitment.map((c, k) => k === 1 ? new Uint8Array(32).fill(0xff) : c)
    expectBlame(() => receiveReshare(fresh(), { ...m, commitment: notAPoint }), [B], 'invalid commitment')
    const identity = m.commitment.map((c, k) => k === 1 ? ed25519.Point.ZERO.toBytes() : c)
    expectBlame(() => receiveReshare(fresh(), { ...m, commitment: identity }), [B], 'invalid commitment')
    expectBlame(() => receiveReshare(fresh(), { ...m, shares: m.shares.filter((s) => s.to !== D) }), [B], 'missing share')
    expectBlame(() => receiveReshare(fresh(), { ...m, shares: [...m.shares, { to: A, sealed: new Uint8Array(40) }] }), [B], 'malformed round-2 message')
    expectBlame(() => receiveReshare(fresh(), { ...m, shares: [...m.shares, m.shares[0] as { to: string, sealed: Uint8Array }] }), [B], 'malformed round-2 message')
  })

  it('names a participant with an unusable X25519 key', () => {
    const parties = startAll(scheme, FAULT)
    const c = parties.find((p) => p.name === C) as Party
    expectBlame(() => receiveReshare(c.state, { round: 1, from: A, ephemeralPublicKey: new Uint8Array(31) }), [A], 'invalid ephemeral key')
    expectBlame(() => receiveReshare(startAll(scheme, FAULT).find((p) => p.name === C)?.state as ReshareState,
      { round: 1, from: A, ephemeralPublicKey: new Uint8Array(32) }), [A], 'invalid ephemeral key') // low order: no shared secret
  })

  it('refuses bad input without changing the state; the session then completes', () => {
    const parties = startAll(scheme, FAULT)
    const after = throughRound1(parties, [C])
    const c = parties.find((p) => p.name === C) as Party
    const roundTwoA = after.get(A)?.round2 as ReshareRound2Message
    const roundTwoB = after.get(B)?.round2 as ReshareRound2Message
    const bad: unknown[] = [
      { ...c.round1, from: 'stranger' },
      c.round1, // from self
      { round: 2, from: D, commitment: roundTwoA.commitment, shares: roundTwoA.shares }, // D is not a dealer
      { round: 3, from: A },
      { round: 1, from: A, ephemeralPublicKey: 'not bytes' },
      { round: 2, from: A, commitment: 'x', shares: [] },
      { round: 2, from: A, commitment: roundTwoA.commitment, shares: [{ to: C, sealed: [1, 2, 3] }] },
      { round: 2, from: A, commitment: roundTwoA.commitment, shares: [null] },
      { round: 1 },
      null
    ]
    let s = c.state
    for (const m of bad) {
      expect(() => receiveReshare(s, m as ReshareMessage)).toThrow(CryptoInputError)
      expect(s.step).toBe('round1')
    }
    for (const p of parties) if (p !== c) s = receiveReshare(s, p.round1).state
    for (const m of bad) expect(() => receiveReshare(s, m as ReshareMessage)).toThrow(CryptoInputError)
    expect(missingReshareMessages(s)).toEqual({ round: 2, from: [A, B] })
    const res = feed(s, [roundTwoA, roundTwoB])
    expect(res.state.step).toBe('done')
    expect(res.outcome?.key?.secret.identifier).toBe(participantIdentifier(scheme, 2))
  })

  it('refuses a stale state and any call after a blame', () => {
    const parties = startAll(scheme, FAULT)
    const [p0, p1, p2] = parties as [Party, Party, Party]
    receiveReshare(p0.state, p1.round1)
    expect(() => receiveReshare(p0.state, p2.round1)).toThrow(/stale/)
  })

  it('reports what is missing and what it sent; retransmissions are no-ops', () => {
    const parties = startAll(scheme, FAULT)
    const a = parties.find((p) => p.name === A) as Party // a dealer that leaves
    expect(reshareParticipants({ newHolders: nm('BCDE'), dealers: nm('AB') })).toEqual(nm('BCDEA'))
    expect(missingReshareMessages(a.state)).toEqual({ round: 1, from: nm('BCDE') })
    expect(ownReshareMessages(a.state)).toEqual([a.round1])
    const res = feed(a.state, parties.filter((p) => p !== a).map((p) => p.round1))
    expect(res.state.step).toBe('round2')
    expect(res.outbound).toHaveLength(1)
    const own = ownReshareMessages(res.state)
    expect(own).toEqual([a.round1, res.outbound[0]])
    expect((own[1] as ReshareRound2Message).shares.map((s) => s.to)).toEqual(nm('BCDE'))
    expect(missingReshareMessages(res.state)).toEqual({ round: 2, from: [B] })
    const after = throughRound1(parties, [A])
    const done = receiveReshare(res.state, after.get(B)?.round2 as ReshareRound2Message)
    expect(done.state.step).toBe('done')
    expect(done.outcome?.key).toBeUndefined()
    expect(done.outcome?.public.signers).toEqual({ min: 3, max: 4 })
    // a dealer that also holds the new key keeps no own share in its round 2
    const b = after.get(B)?.round2 as ReshareRound2Message
    expect(b.shares.map((s) => s.to)).toEqual(nm('CDE'))
    expect(b.commitment).toHaveLength(3)
  })

  it('sends t-1 commitment points in a refresh (the zero constant is not sent)', () => {
    const spec = SPECS[5] as Spec
    const after = throughRound1(startAll(scheme, spec))
    for (const v of after.values()) expect(v.round2?.commitment).toHaveLength(spec.t - 1)
  })

  it('validates params', () => {
    const spec = FAULT
    const ok = paramsFor(scheme, spec, A)
    const keys = dkgKeys(scheme, 2, 3)
    const other = dkgKeys(scheme, 3, 5)
    const refresh = paramsFor(scheme, SPECS[4] as Spec, A)
    const tampered = { ...keys[0] as Key, secret: { ...(keys[0] as Key).secret, signingShare: Uint8Array.from((keys[1] as Key).secret.signingShare) } }
    const vs = (i: number): Uint8Array => ok.oldPublic.verifyingShares[participantIdentifier(scheme, i)] as Uint8Array
    const swapped = {
      ...ok.oldPublic,
      verifyingShares: { [participantIdentifier(scheme, 1)]: vs(2), [participantIdentifier(scheme, 2)]: vs(1), [participantIdentifier(scheme, 3)]: vs(3) }
    } as FrostPublic
    const bad: Array<[string, Partial<ReshareParams> | Record<string, unknown>, RegExp?]> = [
      ['scheme', { scheme: 'rsa' }],
      ['other scheme', { scheme: 'taproot' }],
      ['mode', { mode: 'rotate' }],
      ['empty session', { sessionId: '' }],
      ['duplicate new holder', { newHolders: nm('BCDB') }],
      ['dealer not an old holder', { dealers: nm('AD') }],
      ['too few dealers', { dealers: nm('A') }],
      ['t\' too large', { newThreshold: 5 }],
      ['t\' too small', { newThreshold: 1 }],
      ['self outside', { self: 'nobody' }],
      ['old holders count', { oldHolders: nm('ABCD') }],
      ['ownKey missing', { ownKey: undefined }],
      ['ownKey of another holder', { ownKey: keys[1] }],
      ['ownKey share tampered', { ownKey: tampered }, /verifying share/],
      ['ownKey of another key', { ownKey: other[0] }, /verifying share/],
      ['ownKey with another package', { ownKey: { public: (other[0] as Key).public, secret: (keys[0] as Key).secret } }, /another public package/],
      ['oldPublic inconsistent', { oldPublic: swapped }, /Feldman/],
      ['oldPublic malformed', { oldPublic: { ...ok.oldPublic, commitments: [] } }]
    ]
    for (const [what, change, message] of bad) {
      expect(() => startReshare({ ...ok, ...change }), what).toThrow(CryptoInputError)
      if (message !== undefined) expect(() => startReshare({ ...ok, ...change }), what).toThrow(message)
    }
    // a new holder that does not deal needs no ownKey
    expect(() => startReshare({ ...paramsFor(scheme, spec, D), ownKey: undefined })).not.toThrow()
    // refresh: same holders, order and threshold, and every holder's key
    for (const change of [{ newHolders: nm('ABD') }, { newHolders: nm('BAC') }, { dealers: nm('AB') }, { newThreshold: 3 }, { ownKey: undefined }]) {
      expect(() => startReshare({ ...refresh, ...change }), JSON.stringify(change)).toThrow(CryptoInputError)
    }
    expect(() => startReshare(refresh)).not.toThrow()
    // ownKey is not kept in the state
    expect(startReshare(ok).state.params.ownKey).toBeUndefined()
  })
})
