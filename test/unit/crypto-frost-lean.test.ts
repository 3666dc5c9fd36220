/**
 * The lean FROST implementation (src/crypto/frost-lean.ts) against noble's ed25519_FROST and
 * schnorr_FROST: byte-identical shares and signatures over thousands of random signings, the
 * same share-verification verdicts on valid and corrupted shares, outside verifiers (OpenSSL via
 * node:crypto, libsecp256k1 via tiny-secp256k1) on every lean signature, the RFC 9591 Appendix E
 * Ed25519 vectors, and refusal of bad input (CryptoInputError, nothing changed).
 *
 * Everything random comes from seeded generators, so a failure reproduces.
 */
import { readFileSync } from 'node:fs'
import type { FROST, FrostPublic, FrostSecret, NonceCommitments, Nonces } from '@noble/curves/abstract/frost.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { numberToBytesBE, numberToBytesLE } from '@noble/curves/utils.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { verifyBip340External, verifyEd25519External } from '../../scripts/verify.js'
import {
  InvalidAggregateError, leanAggregate, leanCheckCommitment, leanInvalidShares, leanSignShare, leanVerify, leanVerifyShare,
  prepareKey, type LeanCommitment, type LeanPublic, type PreparedKey
} from '../../src/crypto/frost-lean.js'
import { CryptoInputError, frostSuite, receiveDkg, startDkg, type DkgMessage, type DkgState, type Scheme } from '../../src/crypto/index.js'
import { mulberry32 } from '../prng.js'

// ---- seeded randomness

/** Deterministic byte source: SHA-256(seed || counter) blocks. Test material only. */
function seededBytes (seed: string): (n?: number) => Uint8Array<ArrayBuffer> {
  const seedBytes = new TextEncoder().encode(seed)
  let counter = 0
  let buf = new Uint8Array(0)
  return (n = 32) => {
    const out = new Uint8Array(n)
    let off = 0
    while (off < n) {
      if (buf.length === 0) {
        const block = new Uint8Array(seedBytes.length + 4)
        block.set(seedBytes)
        new DataView(block.buffer).setUint32(seedBytes.length, counter++)
        buf = sha256(block)
      }
      const take = Math.min(n - off, buf.length)
      out.set(buf.subarray(0, take), off)
      buf = buf.subarray(take)
      off += take
    }
    return out
  }
}

function shuffle<T> (xs: T[], random: () => number): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const a = out[i] as T
    out[i] = out[j] as T
    out[j] = a
  }
  return out
}

// ---- helpers

interface KeySet { label: string, pub: FrostPublic, secrets: FrostSecret[], prepared: PreparedKey }

const copyNonces = (n: Nonces): Nonces => ({ hiding: Uint8Array.from(n.hiding), binding: Uint8Array.from(n.binding) })
const hex = (b: Uint8Array): string => bytesToHex(b)
const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0)

function dealerKeySet (scheme: Scheme, t: number, n: number, rng: (n?: number) => Uint8Array<ArrayBuffer>, derived: boolean): KeySet {
  const frost = frostSuite(scheme)
  // Derived identifiers are large random scalars: their sort order differs from that of their hex
  // strings (Ed25519 scalars are little-endian), which the lean code must get right.
  const ids = Array.from({ length: n }, (_, i) => derived ? frost.Identifier.derive(`${scheme}-holder-${hex(rng(8))}-${i}`) : frost.Identifier.fromNumber(i + 1))
  const deal = frost.trustedDealer({ min: t, max: n }, ids, undefined, rng)
  const secrets = ids.map((id) => deal.secretShares[id] as FrostSecret)
  return { label: `dealer ${t}-of-${n}${derived ? ' derived ids' : ''}`, pub: deal.public, secrets, prepared: prepareKey(scheme, deal.public) }
}

/** A whole DKG through the project's state machine (src/crypto/dkg.ts), messages in FIFO order. */
function dkgKeySet (scheme: Scheme, t: number, n: number, seed: string): KeySet {
  const names = Array.from({ length: n }, (_, i) => `12D3KooWLean${String.fromCharCode(65 + i)}`)
  const states = new Map<string, DkgState>()
  const queue: Array<{ to: string, msg: DkgMessage }> = []
  const broadcast = (from: string, msgs: DkgMessage[]): void => {
    for (const msg of msgs) for (const to of names) if (to !== from) queue.push({ to, msg })
  }
  for (const self of names) {
    const { state, outbound } = startDkg({ scheme, clusterId: 'lean-cluster', sessionId: seed, threshold: t, participants: names, self }, seededBytes(`${seed}/${self}`))
    states.set(self, state)
    broadcast(self, outbound)
  }
  const secrets: FrostSecret[] = []
  let pub: FrostPublic | undefined
  for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
    const res = receiveDkg(states.get(d.to) as DkgState, d.msg)
    states.set(d.to, res.state)
    broadcast(d.to, res.outbound)
    if (res.outcome !== undefined) {
      secrets.push(res.outcome.key.secret)
      pub = res.outcome.key.public
    }
  }
  if (pub === undefined || secrets.length !== n) throw new Error('DKG did not complete')
  return { label: `DKG ${t}-of-${n}`, pub, secrets, prepared: prepareKey(scheme, pub) }
}

function externallyVerified (scheme: Scheme, pub: FrostPublic, message: Uint8Array, sig: Uint8Array): boolean {
  const groupKey = pub.commitments[0] as Uint8Array
  // BIP-340 keys are x-only: the x coordinate of the (possibly odd-y) compressed group key.
  if (scheme === 'taproot') return verifyBip340External(hex(groupKey.subarray(1)), hex(message), hex(sig))
  return verifyEd25519External(hex(groupKey), hex(message), hex(sig))
}

type Outcome = boolean | 'throws'
function outcome (f: () => boolean): Outcome {
  try {
    return f()
  } catch {
    return 'throws'
  }
}

function expectInputError (f: () => unknown): void {
  expect(f).toThrow(CryptoInputError)
}

/** A share that is a valid scalar but not the right one: z + 1. */
function plusOne (scheme: Scheme, share: Uint8Array): Uint8Array {
  const { Fn } = frostSuite(scheme).utils
  return Fn.toBytes(Fn.add(Fn.fromBytes(share), Fn.ONE))
}

/** The same scalar as `id`, encoded as scalar + group order: not the canonical form. */
function nonCanonicalId (scheme: Scheme, id: string): string {
  const { Fn } = frostSuite(scheme).utils
  const x = Fn.fromBytes(hexToBytes(id)) + Fn.ORDER
  return hex(scheme === 'ed25519' ? numberToBytesLE(x, 32) : numberToBytesBE(x, 32))
}

const ED_MESSAGE_LENGTHS = [0, 1, 2, 31, 32, 33, 64, 100, 255, 1000, 4096, 16_384]

// ---- 1 + 2: differential against noble, outside verifiers on every lean signature

interface Tally { shares: number, signatures: number, verifyShare: number, aggregateRejects: number, verifies: number, outside: number, oddKeys: number }

/**
 * Random signings with lean and noble side by side. Noble's cost grows with the number of signers
 * (it decodes the whole list on every call), so each signing compares the shares of up to two
 * random signers with noble's, and the signature with noble's aggregate over the lean shares
 * (noble verifies before it returns, so a wrong lean share fails there too); every lean share is
 * still checked by lean share verification and every lean signature by the outside verifier.
 */
function differential (scheme: Scheme, keySets: KeySet[], rounds: number, compareUpTo: number, seed: number): Tally {
  const frost: FROST = frostSuite(scheme)
  const random = mulberry32(seed)
  const rng = seededBytes(`differential/${scheme}/${seed}`)
  const tally: Tally = { shares: 0, signatures: 0, verifyShare: 0, aggregateRejects: 0, verifies: 0, outside: 0, oddKeys: 0 }
  for (let r = 0; r < rounds; r++) {
    const ks = keySets[r % keySets.length] as KeySet
    const { pub, prepared } = ks
    const { min, max } = pub.signers
    if (scheme === 'taproot' && (pub.commitments[0] as Uint8Array)[0] === 3) tally.oddKeys++
    // Mostly exactly t signers (the common case, and the cheapest for noble), sometimes up to n.
    const count = random() < 0.7 ? min : min + Math.floor(random() * (max - min + 1))
    const signers = shuffle(ks.secrets, random).slice(0, count)
    const commits = signers.map((s) => frost.commit(s, rng))
    // The list in random order: both implementations sort it by identifier.
    const list = shuffle(commits.map((c) => c.commitments), random)
    const message = scheme === 'taproot' ? rng(32) : rng(ED_MESSAGE_LENGTHS[Math.floor(random() * ED_MESSAGE_LENGTHS.length)])
    const compared = new Set(shuffle(signers, random).slice(0, compareUpTo))
    const leanShares: Record<string, Uint8Array> = {}
    signers.forEach((secret, i) => {
      const nonces = (commits[i] as { nonces: Nonces }).nonces
      const forLean = copyNonces(nonces)
      const share = leanSignShare(prepared, secret, forLean, list, message)
      leanShares[secret.identifier] = share
      expect(isZero(forLean.hiding) && isZero(forLean.binding)).toBe(true) // consumed, as noble does
      if (compared.has(secret)) {
        const noble = frost.signShare(secret, pub, copyNonces(nonces), list, message)
        expect(hex(share), `${scheme} ${ks.label} round ${r} share`).toBe(hex(noble))
        tally.shares++
      }
    })
    const leanSig = leanAggregate(prepared, list, message, leanShares)
    expect(hex(leanSig), `${scheme} ${ks.label} round ${r} signature`).toBe(hex(frost.aggregate(pub, list, message, leanShares)))
    tally.signatures++
    // 2: outside verifiers accept every lean signature.
    expect(externallyVerified(scheme, pub, message, leanSig), `${scheme} round ${r} outside verifier`).toBe(true)
    tally.outside++
    expect(leanVerify(prepared, leanSig, message)).toBe(true)
    const victim = signers[Math.floor(random() * signers.length)] as FrostSecret
    const good = leanShares[victim.identifier] as Uint8Array
    const bad = { ...leanShares, [victim.identifier]: plusOne(scheme, good) }
    if (r % 2 === 0) {
      // Every share verifies with the lean code (the signing's public part is cached by now).
      expect(leanInvalidShares(prepared, list, message, leanShares)).toEqual([])
    } else {
      // One wrong share: the aggregate is refused and exactly that share is named.
      expect(() => leanAggregate(prepared, list, message, bad)).toThrow(InvalidAggregateError)
      expect(leanInvalidShares(prepared, list, message, bad)).toEqual([victim.identifier])
    }
    if (r % 4 === 0) {
      // Share verification verdicts against noble's, on a valid share and on corrupted ones.
      const flipped = Uint8Array.from(good)
      const at = Math.floor(random() * flipped.length)
      flipped[at] = (flipped[at] ?? 0) ^ (1 << Math.floor(random() * 8))
      const other = signers.find((s) => s !== victim) as FrostSecret
      // [what, share, lean's verdict when it is known beforehand]
      const candidates: Array<[string, Uint8Array, Outcome | undefined]> = [
        ['valid', good, true],
        ['plus one', plusOne(scheme, good), false],
        ['bit flip', flipped, undefined] // false, or refused as a non-canonical scalar, as noble does
      ]
      if (r % 8 === 0) candidates.push(['another signer\'s', leanShares[other.identifier] as Uint8Array, false])
      for (const [what, share, expected] of candidates) {
        const noble = outcome(() => frost.verifyShare(pub, list, message, victim.identifier, share))
        const lean = outcome(() => leanVerifyShare(prepared, list, message, victim.identifier, share))
        expect(lean, `${scheme} round ${r} verifyShare (${what})`).toBe(noble)
        if (expected !== undefined) expect(lean).toBe(expected)
        tally.verifyShare++
      }
    }
    if (r % 8 === 4) {
      // Tampered signatures and a changed message: neither verifier accepts them.
      const tampered = Uint8Array.from(leanSig)
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1
      const otherMessage = Uint8Array.from([...message.subarray(0, Math.max(0, message.length - 1)), (message[message.length - 1] ?? 0) ^ 1])
      for (const [sig, msg] of [[tampered, message], [leanSig, otherMessage]] as const) {
        const noble = outcome(() => frost.verify(sig, msg, pub.commitments[0] as Uint8Array))
        expect(noble === true).toBe(false)
        expect(leanVerify(prepared, sig, msg)).toBe(false)
        tally.verifies++
      }
    }
    if (r % 16 === 8) {
      // A bad share: noble refuses to aggregate too (it then verifies every share: slow, so rarely).
      expect(() => frost.aggregate(pub, list, message, bad)).toThrow()
      tally.aggregateRejects++
    }
  }
  return tally
}

function keySetsFor (scheme: Scheme): KeySet[] {
  const rng = seededBytes(`keys/${scheme}`)
  const sets: KeySet[] = []
  for (const [t, n] of [[2, 3], [3, 5], [4, 7], [5, 5]] as const) {
    sets.push(dealerKeySet(scheme, t, n, rng, false))
    sets.push(dealerKeySet(scheme, t, n, rng, true))
  }
  sets.push(dkgKeySet(scheme, 2, 3, `dkg/${scheme}/2-3`))
  sets.push(dkgKeySet(scheme, 3, 5, `dkg/${scheme}/3-5`))
  if (scheme === 'taproot') {
    // Both parities of the group key (noble negates odd-y packages): add keys until both occur.
    const parities = (): Set<number> => new Set(sets.map((s) => (s.pub.commitments[0] as Uint8Array)[0] ?? 0))
    while (parities().size < 2) sets.push(dealerKeySet(scheme, 2, 3, rng, false))
  }
  return sets
}

describe.each([
  // [scheme, signings, noble share comparisons per signing]: noble's FROST is the slow side
  // (Ed25519 signShare ~12 ms, Taproot ~5 ms, more with more signers): balanced for ~20 s.
  ['ed25519', 100, 2],
  ['taproot', 260, 3]
] as const)('lean FROST against noble, %s', (scheme, rounds, compareUpTo) => {
  it(`gives byte-identical shares and signatures over ${rounds} random signings, accepted by the outside verifier`, () => {
    const keySets = keySetsFor(scheme)
    const tally = differential(scheme, keySets, rounds, compareUpTo, scheme === 'ed25519' ? 0x5eed : 0x7a9)
    expect(tally.signatures).toBe(rounds)
    expect(tally.outside).toBe(rounds)
    if (scheme === 'taproot') expect(tally.oddKeys).toBeGreaterThan(0)
    console.log(`${scheme}: ${tally.shares} shares, ${tally.signatures} signatures, ${tally.verifyShare} verifyShare verdicts, ` +
      `${tally.aggregateRejects} bad aggregates, ${tally.verifies} bad signatures compared with noble`)
  })
})

// ---- 3: RFC 9591 Appendix E, FROST(Ed25519, SHA-512), through the lean path

interface Vector {
  config: { MAX_PARTICIPANTS: string, MIN_PARTICIPANTS: string }
  inputs: {
    group_public_key: string
    message: string
    share_polynomial_coefficients: string[]
    participant_shares: Array<{ identifier: number, participant_share: string }>
  }
  round_one_outputs: { outputs: Array<{ identifier: number, hiding_nonce: string, binding_nonce: string, hiding_nonce_commitment: string, binding_nonce_commitment: string }> }
  round_two_outputs: { outputs: Array<{ identifier: number, sig_share: string }> }
  final_output: { sig: string }
}

describe('RFC 9591 FROST(Ed25519, SHA-512) vectors through the lean path', () => {
  it('reproduces every signature share and the final signature byte for byte', () => {
    const v = JSON.parse(readFileSync(new URL('../vectors/rfc9591-frost-ed25519-sha512.json', import.meta.url), 'utf8')) as Vector
    const frost = frostSuite('ed25519')
    const { Fn } = frost.utils
    const base = (s: string): Uint8Array => ed25519.Point.BASE.multiply(Fn.fromBytes(hexToBytes(s))).toBytes()
    const verifyingShares: Record<string, Uint8Array> = {}
    for (const s of v.inputs.participant_shares) verifyingShares[frost.Identifier.fromNumber(s.identifier)] = base(s.participant_share)
    const pub: FrostPublic = {
      signers: { min: Number(v.config.MIN_PARTICIPANTS), max: Number(v.config.MAX_PARTICIPANTS) },
      commitments: [hexToBytes(v.inputs.group_public_key), ...v.inputs.share_polynomial_coefficients.map(base)] as Array<Uint8Array<ArrayBuffer>>,
      verifyingShares: verifyingShares as Record<string, Uint8Array<ArrayBuffer>>
    }
    const prepared = prepareKey('ed25519', pub)
    const message = hexToBytes(v.inputs.message)
    const list: LeanCommitment[] = v.round_one_outputs.outputs.map((o) => ({
      identifier: frost.Identifier.fromNumber(o.identifier), hiding: hexToBytes(o.hiding_nonce_commitment), binding: hexToBytes(o.binding_nonce_commitment)
    }))
    const shares: Record<string, Uint8Array> = {}
    for (const o of v.round_one_outputs.outputs) {
      const id = frost.Identifier.fromNumber(o.identifier)
      const secretHex = v.inputs.participant_shares.find((s) => s.identifier === o.identifier)?.participant_share ?? ''
      const share = leanSignShare(prepared, { identifier: id, signingShare: hexToBytes(secretHex) }, { hiding: hexToBytes(o.hiding_nonce), binding: hexToBytes(o.binding_nonce) }, list, message)
      expect(hex(share)).toBe(v.round_two_outputs.outputs.find((x) => x.identifier === o.identifier)?.sig_share)
      expect(leanVerifyShare(prepared, list, message, id, share)).toBe(true)
      shares[id] = share
    }
    const sig = leanAggregate(prepared, list, message, shares)
    expect(hex(sig)).toBe(v.final_output.sig)
    expect(leanVerify(prepared, sig, message)).toBe(true)
    expect(verifyEd25519External(v.inputs.group_public_key, v.inputs.message, hex(sig))).toBe(true)
  })
})

// ---- 4: bad input

/** A point of the right length that is not a valid element of the suite (several kinds). */
function invalidElements (scheme: Scheme, valid: Uint8Array): Array<[string, Uint8Array]> {
  if (scheme === 'ed25519') {
    // A point with a torsion component: valid point + a small-order point found from a random curve point.
    let torsion: ReturnType<typeof ed25519.Point.fromBytes> | undefined
    for (let i = 0; torsion === undefined; i++) {
      try {
        const p = ed25519.Point.fromBytes(sha256(Uint8Array.of(i)), false)
        const t = p.multiplyUnsafe(ed25519.Point.Fn.ORDER - 1n).add(p) // [L]P: the torsion part
        if (!t.is0()) torsion = t
      } catch { /* not a curve point, next */ }
    }
    const identity = new Uint8Array(32)
    identity[0] = 1
    const highY = new Uint8Array(32).fill(0xff)
    highY[31] = 0x7f // y >= p: non-canonical
    return [
      ['identity', identity],
      ['not canonical', highY],
      ['torsion component', ed25519.Point.fromBytes(valid, false).add(torsion).toBytes()],
      ['small order', torsion.toBytes()]
    ]
  }
  // secp256k1: an x with no point, a bad prefix, x >= p.
  let offCurve: Uint8Array | undefined
  for (let i = 0; offCurve === undefined; i++) {
    const candidate = Uint8Array.from([2, ...sha256(Uint8Array.of(i))])
    try {
      secp256k1.Point.fromBytes(candidate)
    } catch {
      offCurve = candidate
    }
  }
  return [
    ['off the curve', offCurve],
    ['bad prefix', Uint8Array.from([4, ...valid.subarray(1)])],
    ['x >= p', Uint8Array.from([2, ...new Uint8Array(32).fill(0xff)])]
  ]
}

describe.each(['ed25519', 'taproot'] as const)('lean FROST refuses bad input, %s', (scheme) => {
  const frost = frostSuite(scheme)
  const rng = seededBytes(`bad-input/${scheme}`)
  const ks = dealerKeySet(scheme, 3, 5, rng, false)
  const { pub, prepared } = ks
  const signers = ks.secrets.slice(0, 3)
  const outsider = frost.Identifier.fromNumber(9)
  const message = rng(32)
  const fresh = (): { commits: Array<{ nonces: Nonces, commitments: NonceCommitments }>, list: LeanCommitment[] } => {
    const commits = signers.map((s) => frost.commit(s, rng))
    return { commits, list: commits.map((c) => c.commitments) }
  }
  const signer0 = signers[0] as FrostSecret

  /** After a refused call: the nonces are untouched, and a correct call still matches noble byte for byte. */
  function stillSignsLikeNoble (commits: Array<{ nonces: Nonces }>, list: LeanCommitment[], nonces: Nonces, before: string): void {
    expect(hex(nonces.hiding) + hex(nonces.binding)).toBe(before)
    const own = (commits[0] as { nonces: Nonces }).nonces
    const noble = frost.signShare(signer0, pub, copyNonces(own), list, message)
    expect(hex(leanSignShare(prepared, signer0, copyNonces(own), list, message))).toBe(hex(noble))
  }

  it('signShare: malformed lists, points, nonces and secrets throw CryptoInputError and consume nothing', () => {
    const { commits, list } = fresh()
    const nonces = copyNonces((commits[0] as { nonces: Nonces }).nonces)
    const before = hex(nonces.hiding) + hex(nonces.binding)
    const c1 = list[1] as LeanCommitment
    const c2 = list[2] as LeanCommitment
    const badLists: Array<[string, LeanCommitment[]]> = [
      ['identifier not a holder', [list[0] as LeanCommitment, c1, { ...c2, identifier: outsider }]],
      ['duplicate identifier', [list[0] as LeanCommitment, c1, { ...c1 }]],
      ['non-canonical identifier', [list[0] as LeanCommitment, c1, { ...c2, identifier: nonCanonicalId(scheme, c2.identifier) }]],
      ['too short', [list[0] as LeanCommitment, c1]],
      ['too long', [...list, c1, c2, c1]],
      ['wrong element length', [list[0] as LeanCommitment, c1, { ...c2, hiding: c2.hiding.subarray(1) }]],
      ['own commitment missing', [c1, c2, { ...c1, identifier: frost.Identifier.fromNumber(4) }]],
      ...invalidElements(scheme, c2.hiding).flatMap(([what, bad]): Array<[string, LeanCommitment[]]> => [
        [`hiding ${what}`, [list[0] as LeanCommitment, c1, { ...c2, hiding: bad }]],
        [`binding ${what}`, [list[0] as LeanCommitment, c1, { ...c2, binding: bad }]],
        [`own hiding ${what}`, [{ ...(list[0] as LeanCommitment), hiding: bad }, c1, c2]]
      ])
    ]
    for (const [what, bad] of badLists) {
      const snapshot = JSON.stringify(bad.map((c) => [c.identifier, hex(c.hiding), hex(c.binding)]))
      expect(() => leanSignShare(prepared, signer0, nonces, bad, message), what).toThrow(CryptoInputError)
      expect(JSON.stringify(bad.map((c) => [c.identifier, hex(c.hiding), hex(c.binding)]))).toBe(snapshot)
      if (what.includes('hiding') || what.includes('binding')) {
        // noble refuses the same invalid elements (when it gets that far)
        expect(() => frost.signShare(signer0, pub, copyNonces(nonces), bad as NonceCommitments[], message), what).toThrow()
      }
    }
    expectInputError(() => leanSignShare(prepared, signer0, { hiding: nonces.hiding.subarray(1), binding: nonces.binding }, list, message))
    expectInputError(() => leanSignShare(prepared, signer0, { hiding: new Uint8Array(32), binding: new Uint8Array(32) }, list, message))
    expectInputError(() => leanSignShare(prepared, signer0, { hiding: new Uint8Array(32).fill(0xff), binding: nonces.binding }, list, message))
    expectInputError(() => leanSignShare(prepared, { ...signer0, signingShare: signer0.signingShare.subarray(1) }, nonces, list, message))
    expectInputError(() => leanSignShare(prepared, { ...signer0, signingShare: new Uint8Array(32).fill(0xff) }, nonces, list, message))
    expectInputError(() => leanSignShare(prepared, { ...signer0, identifier: outsider }, nonces, list, message))
    expectInputError(() => leanSignShare(prepared, signer0, nonces, list, 'not bytes' as unknown as Uint8Array))
    expectInputError(() => leanSignShare({ ...prepared }, signer0, nonces, list, message))
    stillSignsLikeNoble(commits, list, nonces, before)
    // The nonces sign once: a second use is refused.
    const once = copyNonces(nonces)
    leanSignShare(prepared, signer0, once, list, message)
    expectInputError(() => leanSignShare(prepared, signer0, once, list, message))
  })

  it('aggregate and verifyShare: wrong-length and non-canonical shares, strangers, duplicates throw CryptoInputError', () => {
    const { commits, list } = fresh()
    const shares: Record<string, Uint8Array> = {}
    signers.forEach((s, i) => { shares[s.identifier] = leanSignShare(prepared, s, copyNonces((commits[i] as { nonces: Nonces }).nonces), list, message) })
    const snapshot = JSON.stringify(Object.entries(shares).map(([k, v]) => [k, hex(v)]))
    const id0 = signer0.identifier
    const good = shares[id0] as Uint8Array
    const order = frost.utils.Fn.ORDER
    const nonCanonical = scheme === 'ed25519' ? numberToBytesLE(order, 32) : numberToBytesBE(order, 32)
    const badShares: Array<[string, Record<string, Uint8Array>]> = [
      ['short share', { ...shares, [id0]: good.subarray(1) }],
      ['long share', { ...shares, [id0]: Uint8Array.from([...good, 0]) }],
      ['share = group order', { ...shares, [id0]: nonCanonical }],
      ['missing share', Object.fromEntries(Object.entries(shares).filter(([k]) => k !== id0))],
      ['extra share', { ...shares, [outsider]: good }],
      ['share under a stranger', { ...Object.fromEntries(Object.entries(shares).filter(([k]) => k !== id0)), [outsider]: good }]
    ]
    for (const [what, bad] of badShares) expect(() => leanAggregate(prepared, list, message, bad), what).toThrow(CryptoInputError)
    const c1 = list[1] as LeanCommitment
    expect(() => leanAggregate(prepared, [list[0] as LeanCommitment, c1, { ...c1 }], message, shares)).toThrow(CryptoInputError)
    expect(() => leanAggregate(prepared, [list[0] as LeanCommitment, c1, { ...(list[2] as LeanCommitment), identifier: outsider }], message, shares)).toThrow(CryptoInputError)
    for (const [what, el] of invalidElements(scheme, c1.binding)) {
      const bad = [list[0] as LeanCommitment, { ...c1, binding: el }, list[2] as LeanCommitment]
      expect(() => leanAggregate(prepared, bad, message, shares), what).toThrow(CryptoInputError)
      expect(() => leanVerifyShare(prepared, bad, message, id0, good), what).toThrow(CryptoInputError)
      expect(leanCheckCommitment(prepared, { ...c1, binding: el }), what).toBe(false)
    }
    // A wrong share: InvalidAggregateError, which is a CryptoInputError.
    expect(() => leanAggregate(prepared, list, message, { ...shares, [id0]: plusOne(scheme, good) })).toThrow(InvalidAggregateError)
    expect(() => leanAggregate(prepared, list, message, { ...shares, [id0]: plusOne(scheme, good) })).toThrow(CryptoInputError)
    expectInputError(() => leanVerifyShare(prepared, list, message, id0, good.subarray(1)))
    expectInputError(() => leanVerifyShare(prepared, list, message, id0, nonCanonical))
    expectInputError(() => leanVerifyShare(prepared, list, message, outsider, good))
    expectInputError(() => leanVerifyShare(prepared, list, message, (ks.secrets[4] as FrostSecret).identifier, good)) // a holder, not listed
    expect(JSON.stringify(Object.entries(shares).map(([k, v]) => [k, hex(v)]))).toBe(snapshot)
    // Nothing was poisoned: the good inputs still give noble's signature.
    const nobleShares: Record<string, Uint8Array> = {}
    signers.forEach((s, i) => { nobleShares[s.identifier] = frost.signShare(s, pub, copyNonces((commits[i] as { nonces: Nonces }).nonces), list, message) })
    expect(hex(leanAggregate(prepared, list, message, shares))).toBe(hex(frost.aggregate(pub, list, message, nobleShares)))
    expect(leanVerifyShare(prepared, list, message, id0, good)).toBe(true)
    expect(leanCheckCommitment(prepared, c1)).toBe(true)
    expect(leanCheckCommitment(prepared, { ...c1, identifier: outsider })).toBe(false)
  })

  it('verify never throws and rejects malformed signatures', () => {
    const { commits, list } = fresh()
    const shares: Record<string, Uint8Array> = {}
    signers.forEach((s, i) => { shares[s.identifier] = leanSignShare(prepared, s, copyNonces((commits[i] as { nonces: Nonces }).nonces), list, message) })
    const sig = leanAggregate(prepared, list, message, shares)
    expect(leanVerify(prepared, sig, message)).toBe(true)
    const bad: Uint8Array[] = [sig.subarray(1), Uint8Array.from([...sig, 0]), new Uint8Array(64), new Uint8Array(64).fill(0xff),
      Uint8Array.from([...sig.subarray(0, 32), ...new Uint8Array(32).fill(0xff)])]
    if (scheme === 'ed25519') {
      // R with a torsion component: noble refuses it on decoding, lean by the equation.
      const [, torsioned] = invalidElements(scheme, sig.subarray(0, 32)).find(([w]) => w === 'torsion component') ?? []
      if (torsioned !== undefined) bad.push(Uint8Array.from([...torsioned, ...sig.subarray(32)]))
    }
    for (const b of bad) {
      expect(leanVerify(prepared, b, message)).toBe(false)
      expect(outcome(() => frost.verify(b, message, pub.commitments[0] as Uint8Array)) === true).toBe(false)
    }
    expect(leanVerify(prepared, sig, 'x' as unknown as Uint8Array)).toBe(false)
  })

  it('prepareKey refuses malformed public packages and leaves them as they were', () => {
    const other = scheme === 'ed25519' ? 'taproot' : 'ed25519'
    const [id0] = Object.keys(pub.verifyingShares) as [string]
    const fewerShares = Object.fromEntries(Object.entries(pub.verifyingShares).filter(([k]) => k !== id0))
    const badPoint = (invalidElements(scheme, pub.commitments[0] as Uint8Array)[0] as [string, Uint8Array])[1]
    const bad: Array<[string, Scheme, LeanPublic]> = [
      ['wrong scheme', other, pub],
      ['too few commitments', scheme, { ...pub, commitments: pub.commitments.slice(1) }],
      ['invalid group key', scheme, { ...pub, commitments: [badPoint, ...pub.commitments.slice(1)] }],
      ['invalid verifying share', scheme, { ...pub, verifyingShares: { ...pub.verifyingShares, [id0]: badPoint } }],
      ['missing verifying share', scheme, { ...pub, verifyingShares: fewerShares }],
      ['non-canonical identifier', scheme, { ...pub, verifyingShares: { ...fewerShares, [nonCanonicalId(scheme, id0)]: pub.verifyingShares[id0] as Uint8Array } }],
      ['upper-case identifier', scheme, { ...pub, verifyingShares: { ...fewerShares, [frost.Identifier.fromNumber(10).toUpperCase()]: pub.verifyingShares[id0] as Uint8Array } }],
      ['zero identifier', scheme, { ...pub, verifyingShares: { ...fewerShares, ['00'.repeat(32)]: pub.verifyingShares[id0] as Uint8Array } }],
      ['threshold 1', scheme, { ...pub, signers: { min: 1, max: pub.signers.max }, commitments: pub.commitments.slice(0, 1) }],
      ['min > max', scheme, { ...pub, signers: { min: 6, max: 5 } }]
    ]
    const snapshot = JSON.stringify(pub, (_k, v: unknown) => v instanceof Uint8Array ? hex(v) : v)
    for (const [what, s, p] of bad) expect(() => prepareKey(s, p), what).toThrow(CryptoInputError)
    expect(JSON.stringify(pub, (_k, v: unknown) => v instanceof Uint8Array ? hex(v) : v)).toBe(snapshot)
    expectInputError(() => prepareKey('bitcoin' as Scheme, pub))
    expect(prepared.identifiers).toHaveLength(5)
    expect(hex(prepared.groupPublicKey)).toBe(hex(pub.commitments[0] as Uint8Array))
  })
})
