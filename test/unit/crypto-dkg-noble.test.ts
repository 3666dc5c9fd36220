/**
 * Differential tests: our DKG state machine (src/crypto/dkg.ts decodes each round-1 package once
 * and checks shares by Horner evaluation) against noble's plain DKG.round1/round2/round3 on the
 * same randomness. The keys must be identical, byte for byte and in the same layout, and a
 * package or share that noble refuses must be refused by us, blamed on its sender.
 */
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js'
import type { DKG_Round1, Key } from '@noble/curves/abstract/frost.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import {
  BlameError, frostSuite, generateX25519, nobleRng, participantIdentifier, receiveDkg, sealShare, startDkg,
  type DkgMessage, type DkgOutcome, type DkgRound1Message, type DkgState, type Rng, type Scheme
} from '../../src/crypto/index.js'

/** Deterministic bytes: sha256(seed || counter), concatenated. Test randomness only. */
function seededRng (seed: string): Rng {
  let counter = 0
  let pool = new Uint8Array(0)
  return (n) => {
    while (pool.length < n) {
      const block = sha256(new TextEncoder().encode(`${seed}/${counter++}`))
      const next = new Uint8Array(pool.length + block.length)
      next.set(pool)
      next.set(block, pool.length)
      pool = next
    }
    const out = pool.slice(0, n)
    pool = pool.slice(n)
    return out
  }
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `peer-${i + 1}`)
const params = (scheme: Scheme, t: number, all: string[], self: string): Parameters<typeof startDkg>[0] =>
  ({ scheme, clusterId: 'cluster-d', sessionId: 'session-d', threshold: t, participants: all, self })

/** Our DKG with participant i drawing from seededRng(`${seed}/${i}`); all round-1 first, then round 2. */
function runOurs (scheme: Scheme, t: number, n: number, seed: string): { round1: DkgRound1Message[], outcomes: DkgOutcome[] } {
  const all = names(n)
  const states = new Map<string, DkgState>()
  const queue: Array<{ to: string, msg: DkgMessage }> = []
  const round1: DkgRound1Message[] = []
  const post = (from: string, msgs: DkgMessage[]): void => { for (const msg of msgs) for (const to of all) if (to !== from) queue.push({ to, msg }) }
  all.forEach((self, i) => {
    const { state, outbound } = startDkg(params(scheme, t, all, self), seededRng(`${seed}/${i}`))
    states.set(self, state)
    const m = outbound[0]
    if (m?.round !== 1) throw new Error('no round-1 message')
    round1.push(m)
    post(self, outbound)
  })
  const outcomes = new Map<string, DkgOutcome>()
  for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
    const res = receiveDkg(states.get(d.to)!, d.msg)
    states.set(d.to, res.state)
    post(d.to, res.outbound)
    if (res.outcome !== undefined) outcomes.set(d.to, res.outcome)
  }
  return { round1, outcomes: all.map((name) => outcomes.get(name)!) }
}

/** noble's plain DKG on the same randomness (startDkg draws the X25519 key first, then noble's round 1). */
function runNoble (scheme: Scheme, t: number, n: number, seed: string): { round1: DKG_Round1[], keys: Key[] } {
  const frost = frostSuite(scheme)
  const ids = names(n).map((_, i) => participantIdentifier(scheme, i + 1))
  const r1 = ids.map((id, i) => {
    const rng = seededRng(`${seed}/${i}`)
    generateX25519(rng)
    return frost.DKG.round1(id, { min: t, max: n }, undefined, nobleRng(rng))
  })
  const r2 = r1.map((mine) => frost.DKG.round2(mine.secret, r1.filter((o) => o !== mine).map((o) => o.public)))
  const keys = r1.map((mine, i) => frost.DKG.round3(
    mine.secret,
    r1.filter((o) => o !== mine).map((o) => o.public),
    r2.filter((_, j) => j !== i).map((out) => out[ids[i]!]!)
  ))
  return { round1: r1.map((r) => r.public), keys }
}

const hexKey = (k: Key): unknown => ({
  public: {
    signers: k.public.signers,
    commitments: k.public.commitments.map(bytesToHex),
    // as entries, so that the order of the verifying shares is compared too
    verifyingShares: Object.entries(k.public.verifyingShares).map(([id, v]) => [id, bytesToHex(v)])
  },
  secret: { identifier: k.secret.identifier, signingShare: bytesToHex(k.secret.signingShare) }
})

/** Parity of the untweaked Taproot group key (sum of the constant-term commitments). */
function untweakedIsEven (round1: DkgRound1Message[]): boolean {
  const sum = round1.map((m) => secp256k1.Point.fromBytes(m.commitment[0]!)).reduce((a, b) => a.add(b))
  return sum.toBytes(true)[0] === 0x02
}

describe.each(['ed25519', 'taproot'] as const)('our DKG equals noble\'s DKG, %s', (scheme) => {
  it.each([[2, 3], [3, 5], [4, 7]])('%i-of-%i: same round-1 packages, same keys byte for byte', (t, n) => {
    const seed = `${scheme}-${t}-${n}`
    const ours = runOurs(scheme, t, n, seed)
    const noble = runNoble(scheme, t, n, seed)
    ours.round1.forEach((m, i) => {
      expect(m.commitment.map(bytesToHex)).toEqual(noble.round1[i]!.commitment.map(bytesToHex))
      expect(bytesToHex(m.proofOfKnowledge)).toBe(bytesToHex(noble.round1[i]!.proofOfKnowledge))
    })
    ours.outcomes.forEach((o, i) => {
      expect(hexKey(o.key)).toEqual(hexKey(noble.keys[i]!))
      expect(bytesToHex(o.groupPublicKey)).toBe(bytesToHex(noble.keys[i]!.public.commitments[0]!))
    })
  })

  if (scheme === 'taproot') {
    it('2-of-3 over many seeds: identical keys whether the untweaked group key has even or odd y', () => {
      const seen = new Set<boolean>()
      for (let s = 0; s < 24 && seen.size < 2; s++) {
        const seed = `parity-${s}`
        const ours = runOurs(scheme, 2, 3, seed)
        const noble = runNoble(scheme, 2, 3, seed)
        ours.outcomes.forEach((o, i) => { expect(hexKey(o.key)).toEqual(hexKey(noble.keys[i]!)) })
        seen.add(untweakedIsEven(ours.round1))
      }
      expect([...seen].sort()).toEqual([false, true])
    })
  }
})

// ---- refusals: whatever noble's round 2 / validateSecret refuses, we refuse and blame the sender

/** Does noble's DKG.round2 accept this package as participant 1's (with honest packages from the others)? */
function nobleAccepts (scheme: Scheme, t: number, n: number, pkg: DKG_Round1, honest: DKG_Round1[]): boolean {
  const frost = frostSuite(scheme)
  const own = frost.DKG.round1(participantIdentifier(scheme, 1), { min: t, max: n })
  try {
    frost.DKG.round2(own.secret, [pkg, ...honest])
    return true
  } catch {
    return false
  } finally {
    frost.DKG.clean(own.secret)
  }
}

function oursAccepts (state: DkgState, msg: DkgRound1Message): { accepted: boolean, blamed?: string[], reason?: string } {
  try {
    receiveDkg(state, msg)
    return { accepted: true }
  } catch (err) {
    if (!(err instanceof BlameError)) throw err
    return { accepted: false, blamed: err.culprits, reason: err.reason }
  }
}

function withTorsion (scheme: Scheme, bytes: Uint8Array): Uint8Array {
  if (scheme !== 'ed25519') return bytes
  return ed25519.Point.fromBytes(bytes).add(ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[4]!)).toBytes()
}

describe.each(['ed25519', 'taproot'] as const)('round-1 refusals match noble, %s', (scheme) => {
  const t = 3
  const n = 4
  const all = names(n)
  const base = (): { state: DkgState, pkgs: DkgRound1Message[] } => {
    const pkgs = all.map((self, i) => startDkg(params(scheme, t, all, self), seededRng(`refuse-${scheme}/${i}`)).outbound[0] as DkgRound1Message)
    return { state: startDkg(params(scheme, t, all, all[0]!), seededRng(`refuse-${scheme}/0`)).state, pkgs }
  }
  const flip = (b: Uint8Array, i: number): Uint8Array => { const c = Uint8Array.from(b); c[i]! ^= 1; return c }
  const mutations: Record<string, (m: DkgRound1Message, other: DkgRound1Message) => DkgRound1Message | undefined> = {
    honest: (m) => m,
    'proof of another participant': (m, o) => ({ ...m, proofOfKnowledge: o.proofOfKnowledge }),
    'proof R changed': (m) => ({ ...m, proofOfKnowledge: flip(m.proofOfKnowledge, 2) }),
    'proof mu changed': (m) => ({ ...m, proofOfKnowledge: flip(m.proofOfKnowledge, m.proofOfKnowledge.length - 3) }),
    'proof mu >= group order': (m) => {
      const p = Uint8Array.from(m.proofOfKnowledge)
      p.fill(0xff, p.length - 32)
      return { ...m, proofOfKnowledge: p }
    },
    'commitment[0] changed': (m) => ({ ...m, commitment: [flip(m.commitment[0]!, 5), ...m.commitment.slice(1)] }),
    'commitment[2] changed': (m) => ({ ...m, commitment: [...m.commitment.slice(0, 2), flip(m.commitment[2]!, 7)] }),
    'commitment[0] replaced by another valid point': (m, o) => ({ ...m, commitment: [o.commitment[0]!, ...m.commitment.slice(1)] }),
    'commitment[1] replaced by another valid point': (m, o) => ({ ...m, commitment: [m.commitment[0]!, o.commitment[1]!, m.commitment[2]!] }),
    ...(scheme === 'ed25519'
      ? {
          'commitment[1] with a small-order component': (m: DkgRound1Message) => ({ ...m, commitment: [m.commitment[0]!, withTorsion(scheme, m.commitment[1]!), m.commitment[2]!] }),
          'commitment[0] with a small-order component': (m: DkgRound1Message) => ({ ...m, commitment: [withTorsion(scheme, m.commitment[0]!), ...m.commitment.slice(1)] }),
          'proof R with a small-order component': (m: DkgRound1Message) => ({ ...m, proofOfKnowledge: Uint8Array.from([...withTorsion(scheme, m.proofOfKnowledge.subarray(0, 32)), ...m.proofOfKnowledge.subarray(32)]) })
        }
      : {
          'commitment[1] uncompressed-prefix byte': (m: DkgRound1Message) => { const c = Uint8Array.from(m.commitment[1]!); c[0] = 0x04; return { ...m, commitment: [m.commitment[0]!, c, m.commitment[2]!] } },
          'commitment[1] with the other parity': (m: DkgRound1Message) => { const c = Uint8Array.from(m.commitment[1]!); c[0] = c[0] === 2 ? 3 : 2; return { ...m, commitment: [m.commitment[0]!, c, m.commitment[2]!] } }
        })
  }

  const stillValid = ['honest', 'commitment[1] replaced by another valid point', 'commitment[1] with the other parity']
  /** a flipped bit may or may not give another valid point */
  const uncertain = ['commitment[2] changed']

  it.each(Object.keys(mutations))('%s', (label) => {
    const { state, pkgs } = base()
    const [, b, c, d] = pkgs
    const mutated = mutations[label]!(b!, c!)!
    const toNoble = (m: DkgRound1Message, i: number): DKG_Round1 => ({ identifier: participantIdentifier(scheme, i), commitment: m.commitment.map((c) => Uint8Array.from(c)), proofOfKnowledge: Uint8Array.from(m.proofOfKnowledge) })
    const noble = nobleAccepts(scheme, t, n, toNoble(mutated, 2), [toNoble(c!, 3), toNoble(d!, 4)])
    const ours = oursAccepts(state, mutated)
    expect(ours.accepted).toBe(noble)
    // the proof covers only commitment[0]: another valid point elsewhere is a valid (different) package
    if (stillValid.includes(label)) expect(ours.accepted).toBe(true)
    else if (!uncertain.includes(label)) expect(ours.accepted).toBe(false)
    if (!ours.accepted) {
      expect(ours.blamed).toEqual([b!.from])
      expect(['malformed round-1 message', 'invalid proof of knowledge']).toContain(ours.reason)
    }
  })
})

describe.each(['ed25519', 'taproot'] as const)('round-2 share refusals match noble\'s validateSecret, %s', (scheme) => {
  const frost = frostSuite(scheme)
  const Fn = frost.utils.Fn
  const t = 3
  const n = 3
  const all = names(n)

  /** participant 1 after round 1 with a hand-made participant 2 whose shares we seal ourselves */
  function setup (): { state: DkgState, own: DkgRound1Message, r2: ReturnType<typeof frost.DKG.round1>, eph: ReturnType<typeof generateX25519>, honestShare: Uint8Array } {
    const eph = generateX25519()
    const r2 = frost.DKG.round1(participantIdentifier(scheme, 2), { min: t, max: n })
    const rogue: DkgRound1Message = { round: 1, from: all[1]!, commitment: r2.public.commitment, proofOfKnowledge: r2.public.proofOfKnowledge, ephemeralPublicKey: eph.publicKey }
    const p1 = startDkg(params(scheme, t, all, all[0]!))
    const p3 = startDkg(params(scheme, t, all, all[2]!))
    const own = p1.outbound[0] as DkgRound1Message
    const third = p3.outbound[0] as DkgRound1Message
    const state = receiveDkg(receiveDkg(p1.state, rogue).state, third).state
    const toNoble = (m: DkgRound1Message, i: number): DKG_Round1 => ({ identifier: participantIdentifier(scheme, i), commitment: m.commitment.map((c) => Uint8Array.from(c)), proofOfKnowledge: Uint8Array.from(m.proofOfKnowledge) })
    const honestShare = frost.DKG.round2(r2.secret, [toNoble(own, 1), toNoble(third, 3)])[participantIdentifier(scheme, 1)]!.signingShare
    return { state, own, r2, eph, honestShare }
  }

  const variants: Record<string, (honest: Uint8Array) => Uint8Array> = {
    honest: (s) => s,
    'share + 1': (s) => Fn.toBytes(Fn.add(Fn.fromBytes(s), 1n)),
    'share - 1': (s) => Fn.toBytes(Fn.sub(Fn.fromBytes(s), 1n)),
    zero: () => new Uint8Array(32),
    'the group order (not a canonical scalar)': () => Fn.isLE ? Uint8Array.from(Fn.toBytes(Fn.ORDER - 1n)).map((b, i) => i === 0 ? b + 1 : b) : Uint8Array.from(Fn.toBytes(Fn.ORDER - 1n)).map((b, i) => i === 31 ? b + 1 : b),
    'all ones': () => new Uint8Array(32).fill(0xff)
  }

  it.each(Object.keys(variants))('%s', (label) => {
    const { state, own, r2, eph, honestShare } = setup()
    const share = variants[label]!(honestShare)
    let noble = true
    try {
      frost.validateSecret({ identifier: participantIdentifier(scheme, 1), signingShare: share }, { signers: { min: t, max: n }, commitments: r2.public.commitment, verifyingShares: {} })
    } catch {
      noble = false
    }
    const sealed = sealShare(eph.secretKey, own.ephemeralPublicKey, share, { clusterId: 'cluster-d', sessionId: 'session-d', sender: all[1]!, recipient: all[0]! })
    let ours = true
    try {
      receiveDkg(state, { round: 2, from: all[1]!, shares: [{ to: all[0]!, sealed }] })
    } catch (err) {
      expect(err).toBeInstanceOf(BlameError)
      expect((err as BlameError).culprits).toEqual([all[1]])
      expect((err as BlameError).reason).toBe('invalid share')
      ours = false
    }
    expect(ours).toBe(noble)
    expect(ours).toBe(label === 'honest')
  })
})
