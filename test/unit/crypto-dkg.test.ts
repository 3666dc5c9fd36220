/**
 * DKG through the pure state machine, with messages routed in shuffled order and duplicated,
 * then threshold signing with the resulting keys. Signatures are checked by code that is not
 * ours: Node's crypto.verify (OpenSSL) for Ed25519, libsecp256k1 (tiny-secp256k1) for BIP-340.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import type { DKG_Secret, Key } from '@noble/curves/abstract/frost.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { bech32m } from '@scure/base'
import * as ecc from 'tiny-secp256k1'
import { describe, expect, it } from 'vitest'
import {
  aggregateSignature, BlameError, commitNonces, CryptoInputError, decodeKey, describeGroupKey, encodeKey, frostSuite, generateX25519,
  missingDkgMessages, ownDkgMessages, participantIdentifier, receiveDkg, sealShare, signShare, startDkg,
  verifySignature, type DkgMessage, type DkgOutcome, type DkgParams, type DkgRound1Message, type DkgRound2Message,
  type DkgState, type Scheme
} from '../../src/crypto/index.js'
import { mulberry32 } from '../prng.js'

const peerNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `12D3KooWPeer${String.fromCharCode(65 + i)}`)

function paramsFor (scheme: Scheme, threshold: number, participants: string[], self: string, sessionId = 'session-1'): DkgParams {
  return { scheme, clusterId: 'cluster-a', sessionId, threshold, participants, self }
}

interface Delivery { to: string, msg: DkgMessage }

/** Run a whole DKG: every outbound message goes to every other participant, in shuffled order, some twice. */
function runDkg (scheme: Scheme, t: number, n: number, seed: number): { names: string[], outcomes: Map<string, DkgOutcome> } {
  const names = peerNames(n)
  const random = mulberry32(seed)
  const states = new Map<string, DkgState>()
  const queue: Delivery[] = []
  const broadcast = (from: string, msgs: DkgMessage[]): void => {
    for (const msg of msgs) for (const to of names) if (to !== from) queue.push({ to, msg })
  }
  for (const self of names) {
    const { state, outbound } = startDkg(paramsFor(scheme, t, names, self))
    states.set(self, state)
    broadcast(self, outbound)
  }
  const outcomes = new Map<string, DkgOutcome>()
  let duplicates = 0
  let early = 0 // round-2 messages that arrive before their recipient has finished round 1
  while (queue.length > 0) {
    const [d] = queue.splice(Math.floor(random() * queue.length), 1)
    if (d === undefined) break
    if (random() < 0.25 && duplicates < 4 * n) {
      duplicates++
      queue.push(d) // delivered again later
    }
    const state = states.get(d.to)
    if (state === undefined) throw new Error('no state')
    if (d.msg.round === 2 && state.step === 'round1') early++
    const res = receiveDkg(state, d.msg)
    states.set(d.to, res.state)
    broadcast(d.to, res.outbound)
    if (res.outcome !== undefined) {
      expect(outcomes.has(d.to)).toBe(false)
      outcomes.set(d.to, res.outcome)
    }
  }
  expect(duplicates).toBeGreaterThan(0)
  expect(early).toBeGreaterThan(0) // the buffering path was exercised
  for (const s of states.values()) {
    expect(s.step).toBe('done')
    expect(missingDkgMessages(s)).toBeUndefined()
  }
  return { names, outcomes }
}

/** Sign `message` with the given keys (one per signer) through commitNonces / signShare / aggregateSignature. */
function thresholdSign (scheme: Scheme, keys: Key[], names: Record<string, string>, message: Uint8Array): Uint8Array {
  const commits = keys.map((k) => commitNonces(scheme, k.secret))
  const list = commits.map((c) => c.commitments)
  const shares: Record<string, Uint8Array> = {}
  keys.forEach((k, i) => {
    const own = commits[i]
    if (own === undefined) throw new Error('no commit')
    shares[k.secret.identifier] = signShare(scheme, k, own, list, message)
  })
  const pub = keys[0]?.public
  if (pub === undefined) throw new Error('no signers')
  return aggregateSignature(scheme, pub, list, message, shares, names)
}

function externallyVerified (scheme: Scheme, sig: Uint8Array, message: Uint8Array, groupPublicKey: Uint8Array): boolean {
  if (scheme === 'ed25519') {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(groupPublicKey).toString('base64url') }, format: 'jwk' })
    return nodeVerify(null, message, key, sig)
  }
  return ecc.verifySchnorr(message, groupPublicKey.subarray(1), sig)
}

const subsets: Record<string, number[][]> = {
  '2-of-3': [[0, 1], [0, 2], [1, 2], [0, 1, 2]],
  '3-of-5': [[0, 1, 2], [2, 3, 4], [0, 2, 4], [1, 3, 4], [0, 1, 3, 4], [0, 1, 2, 3, 4]]
}

describe.each(['ed25519', 'taproot'] as const)('DKG and signing, %s', (scheme) => {
  it.each([[2, 3, 11], [3, 5, 23]])('%i-of-%i: everyone agrees, any t-subset signs, outside verifiers accept', (t, n, seed) => {
    const { names, outcomes } = runDkg(scheme, t, n, seed)
    expect(outcomes.size).toBe(n)
    const all = names.map((name) => outcomes.get(name)).filter((o): o is DkgOutcome => o !== undefined)
    const first = all[0]
    if (first === undefined) throw new Error('no outcome')
    for (const o of all) {
      expect(bytesToHex(o.groupPublicKey)).toBe(bytesToHex(first.groupPublicKey))
      expect(bytesToHex(o.transcriptHash)).toBe(bytesToHex(first.transcriptHash))
      expect(o.round1Digests.map(bytesToHex)).toEqual(first.round1Digests.map(bytesToHex))
      expect(bytesToHex(o.key.public.commitments[0] ?? new Uint8Array())).toBe(bytesToHex(o.groupPublicKey))
      expect(Object.keys(o.key.public.verifyingShares).sort()).toEqual(names.map((_, i) => participantIdentifier(scheme, i + 1)).sort())
    }
    all.forEach((o, i) => expect(o.key.secret.identifier).toBe(participantIdentifier(scheme, i + 1)))
    // No two members hold the same share, and t shares reconstruct the key that matches the group key.
    expect(new Set(all.map((o) => bytesToHex(o.key.secret.signingShare))).size).toBe(n)

    const nameOf: Record<string, string> = {}
    all.forEach((o, i) => { nameOf[o.key.secret.identifier] = names[i] ?? '' })
    const label = `${t}-of-${n}`
    for (const [k, subset] of (subsets[label] ?? []).entries()) {
      const message = scheme === 'taproot' ? sha256(Uint8Array.from(subset)) : new TextEncoder().encode(`pay ${subset.join(',')} via ${label}`)
      // every other subset signs with keys that went through encodeKey/decodeKey (as from the store)
      const stored = k % 2 === 1
      const keys = subset.map((i) => all[i]?.key).filter((k): k is Key => k !== undefined).map((k) => stored ? decodeKey(encodeKey(k)) : k)
      const sig = thresholdSign(scheme, keys, nameOf, message)
      expect(verifySignature(scheme, sig, message, first.groupPublicKey)).toBe(true)
      expect(externallyVerified(scheme, sig, message, first.groupPublicKey)).toBe(true)
      // and not for another message
      const other = Uint8Array.from(message)
      other[0] = (other[0] ?? 0) ^ 1
      expect(externallyVerified(scheme, sig, other, first.groupPublicKey)).toBe(false)
    }

    if (scheme === 'taproot') {
      const d = describeGroupKey('taproot', first.groupPublicKey, 'mainnet')
      expect(d.xOnlyPublicKey).toBe(bytesToHex(first.groupPublicKey.subarray(1)))
      const decoded = bech32m.decode(d.address as `${string}1${string}`)
      expect(decoded.prefix).toBe('bc')
      expect(decoded.words[0]).toBe(1)
      expect(bytesToHex(bech32m.fromWords(decoded.words.slice(1)))).toBe(d.xOnlyPublicKey)
    }
  })
})

// ---- negative cases and the state machine's bookkeeping

interface Party { name: string, state: DkgState, round1: DkgRound1Message }

function startAll (scheme: Scheme, t: number, n: number, sessionId = 'session-1'): Party[] {
  const names = peerNames(n)
  return names.map((self) => {
    const { state, outbound } = startDkg(paramsFor(scheme, t, names, self, sessionId))
    const round1 = outbound[0]
    if (round1?.round !== 1) throw new Error('expected a round-1 message')
    return { name: self, state, round1 }
  })
}

function feed (state: DkgState, msgs: DkgMessage[]): { state: DkgState, outbound: DkgMessage[], outcome?: DkgOutcome } {
  let res: { state: DkgState, outbound: DkgMessage[], outcome?: DkgOutcome } = { state, outbound: [] }
  const out: DkgMessage[] = []
  for (const m of msgs) {
    res = receiveDkg(res.state, m)
    out.push(...res.outbound)
  }
  return { ...res, outbound: out }
}

/** Round 1 everywhere; returns each party's state after round 1 and its round-2 message. */
function throughRound1 (parties: Party[]): Array<{ name: string, state: DkgState, round2: DkgRound2Message }> {
  return parties.map((p) => {
    const res = feed(p.state, parties.filter((q) => q !== p).map((q) => q.round1))
    const round2 = res.outbound[0]
    if (round2?.round !== 2) throw new Error('expected a round-2 message')
    expect(res.state.step).toBe('round2')
    return { name: p.name, state: res.state, round2 }
  })
}

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

/** A hand-built participant at index `i`: honest round 1, but it can seal anything in round 2. */
function rogue (scheme: Scheme, t: number, n: number, i: number): { round1: DkgRound1Message, ephSecret: Uint8Array, dkgSecret: DKG_Secret } {
  const frost = frostSuite(scheme)
  const eph = generateX25519()
  const r1 = frost.DKG.round1(participantIdentifier(scheme, i + 1), { min: t, max: n })
  const name = peerNames(n)[i] ?? ''
  return {
    round1: { round: 1, from: name, commitment: r1.public.commitment, proofOfKnowledge: r1.public.proofOfKnowledge, ephemeralPublicKey: eph.publicKey },
    ephSecret: eph.secretKey,
    dkgSecret: r1.secret
  }
}

describe('DKG negative cases', () => {
  const scheme: Scheme = 'ed25519'

  it('names an equivocating sender in round 1, then refuses to go on', () => {
    const [a, b] = startAll(scheme, 2, 3)
    if (a === undefined || b === undefined) throw new Error('parties')
    const first = receiveDkg(a.state, b.round1)
    const again = startDkg(paramsFor(scheme, 2, peerNames(3), b.name)).outbound
    expectBlame(() => receiveDkg(first.state, again[0] as DkgMessage), [b.name], 'equivocation')
    expect(() => receiveDkg(first.state, b.round1)).toThrow(CryptoInputError)
  })

  it('names an equivocating sender in round 2 and treats identical duplicates as no-ops', () => {
    const after = throughRound1(startAll(scheme, 3, 4))
    const [a, b] = after
    if (a === undefined || b === undefined) throw new Error('parties')
    const once = receiveDkg(a.state, b.round2)
    const dup = receiveDkg(once.state, structuredClone(b.round2))
    expect(dup.outbound).toEqual([])
    expect(dup.state).toBe(once.state)
    const altered = structuredClone(b.round2)
    const share = altered.shares.find((s) => s.to !== a.name)
    if (share === undefined) throw new Error('no share')
    share.sealed[0] = (share.sealed[0] ?? 0) ^ 0xff
    expectBlame(() => receiveDkg(dup.state, altered), [b.name], 'equivocation')
  })

  it('names the sender of a corrupt (undecryptable) round-2 share, also when it was buffered', () => {
    const parties = startAll(scheme, 2, 3)
    const after = throughRound1(parties)
    const [a, b] = after
    if (a === undefined || b === undefined) throw new Error('parties')
    const bad = structuredClone(b.round2)
    const mine = bad.shares.find((s) => s.to === a.name)
    if (mine === undefined) throw new Error('no share')
    mine.sealed[mine.sealed.length - 1] = (mine.sealed[mine.sealed.length - 1] ?? 0) ^ 1
    expectBlame(() => receiveDkg(a.state, bad), [b.name], 'undecryptable share')

    // Buffered: the bad round-2 arrives before round 1 is complete; blame comes when round 1 completes.
    const [pa, pb, pc] = parties
    if (pa === undefined || pb === undefined || pc === undefined) throw new Error('parties')
    const fresh = startDkg(paramsFor(scheme, 2, peerNames(3), pa.name))
    let s = receiveDkg(fresh.state, pb.round1).state
    s = receiveDkg(s, structuredClone(bad)).state
    expect(s.step).toBe('round1')
    expect(missingDkgMessages(s)).toEqual({ round: 1, from: [pc.name] })
    expectBlame(() => receiveDkg(s, pc.round1), [pb.name], 'undecryptable share')
  })

  it('names the sender of a share that decrypts but does not match its commitment', () => {
    const t = 2
    const n = 3
    const parties = startAll(scheme, t, n)
    const a = parties[0]
    if (a === undefined) throw new Error('parties')
    const r = rogue(scheme, t, n, 1)
    const c = parties[2]
    if (c === undefined) throw new Error('parties')
    const s = feed(a.state, [r.round1, c.round1]).state
    expect(s.step).toBe('round2')
    const aEph = a.round1.ephemeralPublicKey
    const aad = { clusterId: 'cluster-a', sessionId: 'session-1', sender: r.round1.from, recipient: a.name }
    const wrong = frostSuite(scheme).utils.randomScalar() // a valid scalar, but not on r's polynomial
    const sealed = sealShare(r.ephSecret, aEph, wrong, aad)
    expectBlame(() => receiveDkg(s, { round: 2, from: r.round1.from, shares: [{ to: a.name, sealed }] }), [r.round1.from], 'invalid share')

    // Control: the same rogue sealing its honest share is accepted.
    const fresh = startAll(scheme, t, n)
    const fa = fresh[0]
    const fc = fresh[2]
    if (fa === undefined || fc === undefined) throw new Error('parties')
    const r2 = rogue(scheme, t, n, 1)
    const honest = frostSuite(scheme).DKG.round2(r2.dkgSecret, [fa.round1, fc.round1].map((m, k) => ({
      identifier: participantIdentifier(scheme, k === 0 ? 1 : 3), commitment: m.commitment, proofOfKnowledge: m.proofOfKnowledge
    })))
    const good = honest[participantIdentifier(scheme, 1)]?.signingShare
    if (good === undefined) throw new Error('no honest share')
    const fs = feed(fa.state, [r2.round1, fc.round1]).state
    const accepted = receiveDkg(fs, { round: 2, from: r2.round1.from, shares: [{ to: fa.name, sealed: sealShare(r2.ephSecret, fa.round1.ephemeralPublicKey, good, { ...aad, recipient: fa.name }) }] })
    expect(missingDkgMessages(accepted.state)).toEqual({ round: 2, from: [fc.name] })
  })

  it('names the sender of a share sealed for another session (aad mismatch)', () => {
    const parties = startAll(scheme, 2, 3)
    const a = parties[0]
    const c = parties[2]
    if (a === undefined || c === undefined) throw new Error('parties')
    const r = rogue(scheme, 2, 3, 1)
    const s = feed(a.state, [r.round1, c.round1]).state
    const sealed = sealShare(r.ephSecret, a.round1.ephemeralPublicKey, new Uint8Array(32).fill(1), { clusterId: 'cluster-a', sessionId: 'session-OTHER', sender: r.round1.from, recipient: a.name })
    expectBlame(() => receiveDkg(s, { round: 2, from: r.round1.from, shares: [{ to: a.name, sealed }] }), [r.round1.from], 'undecryptable share')
  })

  it('names a sender whose round-2 message has no share for us', () => {
    const after = throughRound1(startAll(scheme, 2, 3))
    const [a, b] = after
    if (a === undefined || b === undefined) throw new Error('parties')
    const stripped: DkgRound2Message = { ...b.round2, shares: b.round2.shares.filter((s) => s.to !== a.name) }
    expectBlame(() => receiveDkg(a.state, stripped), [b.name], 'missing share')
  })

  it.each(['ed25519', 'taproot'] as const)('names the sender of an invalid proof of knowledge (%s)', (sch) => {
    const parties = startAll(sch, 3, 4)
    const [a, b, c] = parties
    if (a === undefined || b === undefined || c === undefined) throw new Error('parties')
    // b presents c's proof with its own commitment: well-formed, but not a proof for b's key
    const forged: DkgRound1Message = { ...b.round1, proofOfKnowledge: c.round1.proofOfKnowledge }
    const s = receiveDkg(a.state, c.round1).state
    expectBlame(() => receiveDkg(s, forged), [b.name], 'invalid proof of knowledge')
    // and a copy of another participant's whole package (rogue key) under b's name
    const copied: DkgRound1Message = { ...c.round1, from: b.name }
    const fresh = startDkg(paramsFor(sch, 3, peerNames(4), a.name)).state
    expectBlame(() => receiveDkg(fresh, copied), [b.name], 'invalid proof of knowledge')
  })

  it('names a sender of a malformed round-1 message (wrong commitment count)', () => {
    const [a, b] = startAll(scheme, 3, 4)
    if (a === undefined || b === undefined) throw new Error('parties')
    expectBlame(() => receiveDkg(a.state, { ...b.round1, commitment: b.round1.commitment.slice(1) }), [b.name], 'malformed round-1 message')
  })

  it('refuses messages from non-participants and from self without changing state', () => {
    const [a, b] = startAll(scheme, 2, 3)
    if (a === undefined || b === undefined) throw new Error('parties')
    expect(() => receiveDkg(a.state, { ...b.round1, from: 'stranger' })).toThrow(CryptoInputError)
    expect(() => receiveDkg(a.state, a.round1)).toThrow(CryptoInputError)
    expect(a.state.step).toBe('round1')
    expect(missingDkgMessages(a.state)?.from).toHaveLength(2)
    expect(receiveDkg(a.state, b.round1).state.step).toBe('round1') // still usable
  })

  it('refuses a stale state once a newer one exists', () => {
    const [a, b, c] = startAll(scheme, 2, 3)
    if (a === undefined || b === undefined || c === undefined) throw new Error('parties')
    receiveDkg(a.state, b.round1)
    expect(() => receiveDkg(a.state, c.round1)).toThrow(/stale/)
  })

  it('validates params', () => {
    const names = peerNames(3)
    const ok = paramsFor(scheme, 2, names, names[0] ?? '')
    expect(() => startDkg({ ...ok, threshold: 1 })).toThrow(CryptoInputError)
    expect(() => startDkg({ ...ok, threshold: 4 })).toThrow(/t=4, n=3/)
    expect(() => startDkg({ ...ok, self: 'nobody' })).toThrow(CryptoInputError)
    expect(() => startDkg({ ...ok, participants: [names[0] ?? '', names[0] ?? '', names[1] ?? ''] })).toThrow(/twice/)
    expect(() => startDkg({ ...ok, scheme: 'rsa' as Scheme })).toThrow(CryptoInputError)
    expect(() => startDkg({ ...ok, sessionId: '' })).toThrow(CryptoInputError)
  })

  it('reports what is missing and what it sent, and retransmissions are byte-identical no-ops', () => {
    const parties = startAll(scheme, 2, 3)
    const [a, b, c] = parties
    if (a === undefined || b === undefined || c === undefined) throw new Error('parties')
    expect(missingDkgMessages(a.state)).toEqual({ round: 1, from: [b.name, c.name] })
    expect(ownDkgMessages(a.state)).toEqual([a.round1])
    const s1 = receiveDkg(a.state, b.round1).state
    const s2 = receiveDkg(s1, c.round1)
    expect(s2.state.step).toBe('round2')
    expect(missingDkgMessages(s2.state)).toEqual({ round: 2, from: [b.name, c.name] })
    const own = ownDkgMessages(s2.state)
    expect(own).toHaveLength(2)
    expect(own[1]).toEqual(s2.outbound[0])
    // b gets a's round 1 twice (retransmitted) and nothing changes the second time
    const bs = receiveDkg(b.state, ownDkgMessages(s2.state)[0] as DkgMessage)
    const bs2 = receiveDkg(bs.state, a.round1)
    expect(bs2.state).toBe(bs.state)
    expect(bs2.outbound).toEqual([])
  })
})
