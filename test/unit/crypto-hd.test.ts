/**
 * HD (unhardened, public) derivation of threshold keys: BIP-32 CKDpub + BIP-86 for taproot,
 * BIP32-Ed25519 public derivation for ed25519. Checked against code that is not ours: @scure/bip32
 * (public and private derivation, xpub encoding), @scure/btc-signer (p2tr), the BIP-86 test
 * vectors, libsecp256k1 (tiny-secp256k1) for BIP-340 signatures and OpenSSL (node:crypto) for
 * Ed25519, with real DKGs and threshold signing under every child.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import type { FrostPublic, Key } from '@noble/curves/abstract/frost.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberLE, hexToBytes, numberToBytesBE } from '@noble/curves/utils.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { HDKey } from '@scure/bip32'
import { NETWORK, p2tr, TEST_NETWORK } from '@scure/btc-signer'
import * as ecc from 'tiny-secp256k1'
import { describe, expect, it } from 'vitest'
import {
  aggregateSignature, childKey, childPublic, childSigningKey, commitNonces, CryptoInputError, decodeKey, deriveHdChild, describeGroupKey,
  dkgTranscriptHash, encodeKey, encodePublic, encodeXpub, formatHdPath, HD_HARDENED_OFFSET, hdChainCode, MAX_HD_DEPTH, parseHdPath,
  participantIdentifier, receiveDkg, signShare, startDkg, taprootTweakGroupKey, taprootTweakKey, taprootTweakPublic,
  type DkgMessage, type DkgOutcome, type DkgParams, type DkgRound1Message, type HdChild, type Rng, type Scheme
} from '../../src/crypto/index.js'
import { mulberry32 } from '../prng.js'

const hex = bytesToHex
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const peerNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `12D3KooWHdPeer${String.fromCharCode(65 + i)}`)

/**
 * Deterministic key-material randomness for the tests (sha256 in counter mode over a seed), so
 * that two DKG runs that differ only in `untweaked` see the same randomness.
 */
function seededRng (seed: string): Rng {
  let counter = 0
  return (n) => {
    const out = new Uint8Array(n)
    for (let off = 0; off < n; off += 32) out.set(sha256(utf8(`${seed}/${counter++}`)).subarray(0, Math.min(32, n - off)), off)
    return out
  }
}

interface DkgRun { names: string[], params: DkgParams[], round1: DkgRound1Message[], outcomes: DkgOutcome[] }

/** A whole DKG in memory: round 1 to everyone, then round 2 to everyone. */
function runDkg (scheme: Scheme, t: number, n: number, seed: string, untweaked?: boolean): DkgRun {
  const names = peerNames(n)
  const params = names.map((self): DkgParams => ({ scheme, clusterId: 'cluster-hd', sessionId: `hd-${seed}`, threshold: t, participants: names, self, untweaked }))
  const starts = params.map((p, i) => startDkg(p, seededRng(`${seed}/${i}`)))
  const round1 = starts.map((s) => s.outbound[0] as DkgRound1Message)
  const round2: DkgMessage[] = []
  const states = starts.map((s, i) => {
    let state = s.state
    round1.forEach((m, j) => {
      if (j === i) return
      const res = receiveDkg(state, m)
      state = res.state
      round2.push(...res.outbound)
    })
    return state
  })
  const outcomes = states.map((s, i) => {
    let state = s
    let outcome: DkgOutcome | undefined
    for (const m of round2) {
      if (m.from === names[i]) continue
      const res = receiveDkg(state, m)
      state = res.state
      outcome = res.outcome ?? outcome
    }
    if (outcome === undefined) throw new Error(`no outcome for ${names[i]}`)
    return outcome
  })
  return { names, params, round1, outcomes }
}

const dkgCache = new Map<string, DkgRun>()
function dkg (scheme: Scheme, t: number, n: number, untweaked?: boolean): DkgRun {
  const seed = `${scheme}-${t}-of-${n}`
  const k = `${seed}/${String(untweaked)}`
  let run = dkgCache.get(k)
  if (run === undefined) {
    run = runDkg(scheme, t, n, seed, untweaked)
    dkgCache.set(k, run)
  }
  return run
}

const fieldOf = (scheme: Scheme): typeof secp256k1.Point.Fn => scheme === 'taproot' ? secp256k1.Point.Fn : ed25519.Point.Fn
const baseTimes = (scheme: Scheme, s: bigint): Uint8Array => scheme === 'taproot' ? secp256k1.Point.BASE.multiply(s).toBytes(true) : ed25519.Point.BASE.multiply(s).toBytes()

/** Test-only: the secret the shares of `keys` stand for (Lagrange interpolation at 0). */
function interpolate (scheme: Scheme, keys: Key[]): bigint {
  const Fn = fieldOf(scheme)
  const xs = keys.map((k) => Fn.fromBytes(hexToBytes(k.secret.identifier)))
  let secret = 0n
  keys.forEach((k, i) => {
    const xi = xs[i] ?? 0n
    let lambda = 1n
    xs.forEach((xj, j) => { if (j !== i) lambda = Fn.mul(lambda, Fn.div(xj, Fn.sub(xj, xi))) })
    secret = Fn.add(secret, Fn.mul(lambda, Fn.fromBytes(k.secret.signingShare)))
  })
  return secret
}

function combinations (n: number, t: number): number[][] {
  if (t === 0) return [[]]
  if (n < t) return []
  return [...combinations(n - 1, t - 1).map((c) => [...c, n - 1]), ...combinations(n - 1, t)]
}

function thresholdSign (scheme: Scheme, keys: Key[], names: Record<string, string>, message: Uint8Array): Uint8Array {
  const commits = keys.map((k) => commitNonces(scheme, k.secret))
  const list = commits.map((c) => c.commitments)
  const shares: Record<string, Uint8Array> = {}
  keys.forEach((k, i) => { shares[k.secret.identifier] = signShare(scheme, k, commits[i] ?? commits[0]!, list, message) })
  return aggregateSignature(scheme, keys[0]!.public, list, message, shares, names)
}

const ED25519_SPKI_PREFIX = hexToBytes('302a300506032b6570032100')

/** BIP-340 by libsecp256k1, Ed25519 by OpenSSL (a raw key wrapped in an SPKI). */
function externallyVerified (scheme: Scheme, sig: Uint8Array, message: Uint8Array, signingKey: Uint8Array): boolean {
  if (scheme === 'taproot') return ecc.verifySchnorr(message, signingKey.subarray(1), sig)
  const key = createPublicKey({ key: Buffer.from([...ED25519_SPKI_PREFIX, ...signingKey]), format: 'der', type: 'spki' })
  return nodeVerify(null, message, key, sig)
}

/** Test-only private-side BIP32-Ed25519 (Khovratovich-Law section V.D): k_i = k + 8*ZL, A_i = k_i*B computed from the secret. */
function ed25519PrivateDerive (k: bigint, chainCode: Uint8Array, path: number[]): { secret: bigint, publicKey: Uint8Array, chainCode: Uint8Array } {
  const Fn = ed25519.Point.Fn
  let secret = k
  let c = chainCode
  for (const i of path) {
    const a = ed25519.Point.BASE.multiply(secret).toBytes()
    const le = Uint8Array.of(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24)
    const z = hmac(sha512, c, Uint8Array.from([0x02, ...a, ...le]))
    secret = Fn.add(secret, Fn.create(8n * bytesToNumberLE(z.subarray(0, 28))))
    c = hmac(sha512, c, Uint8Array.from([0x03, ...a, ...le])).slice(32)
  }
  return { secret, publicKey: ed25519.Point.BASE.multiply(secret).toBytes(), chainCode: c }
}

const PATHS = ['m', 'm/0', 'm/0/5', 'm/1/2/3', `m/7/${HD_HARDENED_OFFSET - 1}`]

describe('HD paths', () => {
  it('parses and formats unhardened paths', () => {
    expect(parseHdPath('m')).toEqual([])
    expect(parseHdPath('m/0/5')).toEqual([0, 5])
    expect(parseHdPath('m/2147483647')).toEqual([2 ** 31 - 1])
    const deepest = ['m', ...Array.from({ length: MAX_HD_DEPTH }, (_, i) => String(i))].join('/')
    expect(parseHdPath(deepest)).toHaveLength(MAX_HD_DEPTH)
    for (const p of [...PATHS, deepest]) expect(formatHdPath(parseHdPath(p))).toBe(p)
    expect(formatHdPath([])).toBe('m')
  })

  it('refuses hardened steps, bad syntax, indices from 2^31 and paths too deep', () => {
    for (const p of ["m/0'", 'm/0/44h', 'm/1H']) expect(() => parseHdPath(p)).toThrow(/public derivation cannot do hardened steps/)
    expect(() => parseHdPath('m/2147483648')).toThrow(/hardened \(>= 2\^31\)/)
    for (const p of ['', 'M/0', '0/1', 'm/', 'm//1', 'm/01', 'm/-1', 'm/a', 'm/1.5', 'm/ 1', 'm/99999999999', `m/${'1'.repeat(300)}`]) {
      expect(() => parseHdPath(p), p).toThrow(CryptoInputError)
    }
    const tooDeep = ['m', ...Array.from({ length: MAX_HD_DEPTH + 1 }, () => '0')].join('/')
    expect(() => parseHdPath(tooDeep)).toThrow(/at most 16 steps/)
    expect(() => parseHdPath(42 as unknown as string)).toThrow(CryptoInputError)
    for (const p of [[-1], [2 ** 31], [1.5], [Number.NaN], Array.from({ length: MAX_HD_DEPTH + 1 }, () => 0)]) {
      expect(() => formatHdPath(p), String(p)).toThrow(CryptoInputError)
    }
    expect(() => formatHdPath('m/0' as unknown as number[])).toThrow(CryptoInputError)
  })
})

describe('taproot: BIP-32 public derivation and BIP-86', () => {
  it('equals @scure/bip32 public derivation from our xpub, and its private derivation from the interpolated root secret', () => {
    const run = dkg('taproot', 2, 3, true)
    const first = run.outcomes[0]!
    const root = first.groupPublicKey
    const chainCode = hdChainCode(first.transcriptHash)
    const xpub = encodeXpub(root, chainCode, 'mainnet')
    expect(xpub.startsWith('xpub')).toBe(true)
    expect(new HDKey({ publicKey: root, chainCode }).publicExtendedKey).toBe(xpub)
    const fromXpub = HDKey.fromExtendedKey(xpub)
    expect(hex(fromXpub.publicKey!)).toBe(hex(root))
    expect(hex(fromXpub.chainCode!)).toBe(hex(chainCode))
    const testVersions = { private: 0x04358394, public: 0x043587cf }
    for (const net of ['testnet', 'regtest'] as const) {
      const tpub = encodeXpub(root, chainCode, net)
      expect(tpub.startsWith('tpub')).toBe(true)
      expect(hex(HDKey.fromExtendedKey(tpub, testVersions).publicKey!)).toBe(hex(root))
    }
    const rootSecret = interpolate('taproot', run.outcomes.slice(0, 2).map((o) => o.key))
    expect(hex(baseTimes('taproot', rootSecret))).toBe(hex(root))
    const xprv = new HDKey({ privateKey: numberToBytesBE(rootSecret, 32), chainCode })
    for (const p of [...PATHS, 'm/0/2147483647/9', 'm/3/1/4/1/5/9/2/6']) {
      const child = deriveHdChild('taproot', root, chainCode, parseHdPath(p))
      const theirs = fromXpub.derive(p)
      expect(hex(child.publicKey), p).toBe(hex(theirs.publicKey!))
      expect(hex(child.chainCode), p).toBe(hex(theirs.chainCode!))
      // private side: the child secret is root secret + tweak
      expect(hex(numberToBytesBE(secp256k1.Point.Fn.add(rootSecret, child.tweak), 32)), p).toBe(hex(xprv.derive(p).privateKey!))
      // a child derives further below itself as the longer path does
      const deeper = deriveHdChild('taproot', child.publicKey, child.chainCode, [11])
      expect(hex(deeper.publicKey)).toBe(hex(deriveHdChild('taproot', root, chainCode, [...child.path, 11]).publicKey))
    }
  })

  it('gives the BIP-86 test vectors from the account xpub, as @scure/btc-signer p2tr does', () => {
    // BIP-86 test vectors: mnemonic "abandon ... about", account 0 at m/86'/0'/0'
    const account = HDKey.fromExtendedKey('xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ')
    const vectors = [
      { path: [0, 0], internal: 'cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115', output: 'a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c', address: 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr' },
      { path: [0, 1], internal: '83dfe85a3151d2517290da461fe2815591ef69f2b18a2ce63f01697a8b313145', output: 'a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb', address: 'bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh' },
      { path: [1, 0], internal: '399f1b2f4393f29a18c937859c5dd8a77350103157eb880f02e8c08214277cef', output: '882d74e5d0572d5a816cef0041a96b6c1de832f6f9676d9605c44d5e9a97d3dc', address: 'bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7' }
    ]
    for (const v of vectors) {
      const child = deriveHdChild('taproot', account.publicKey!, account.chainCode!, v.path)
      expect(hex(child.publicKey.subarray(1))).toBe(v.internal)
      const outputKey = childSigningKey('taproot', child)
      expect(hex(outputKey.subarray(1))).toBe(v.output)
      expect(describeGroupKey('taproot', outputKey, 'mainnet').address).toBe(v.address)
      const pay = p2tr(child.publicKey.subarray(1), undefined, NETWORK)
      expect(hex(pay.tweakedPubkey)).toBe(v.output)
      expect(pay.address).toBe(v.address)
    }
  })
})

describe('taproot: the BIP-86 vector key, dealt as threshold shares (test only)', () => {
  it('signs for the BIP-86 receiving addresses: the same output keys and addresses as the vectors and @scure/btc-signer, verified by libsecp256k1', () => {
    // BIP-86's "abandon ... about" root; its account m/86'/0'/0' must give the BIP's account xpub.
    const root = HDKey.fromExtendedKey('xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu')
    const account = root.derive("m/86'/0'/0'")
    expect(account.publicExtendedKey).toBe('xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ')
    // The account key dealt 2-of-3 (Shamir with a random line through it), as the untweaked root of an HD key.
    const Fn = secp256k1.Point.Fn
    const secret = Fn.fromBytes(account.privateKey!)
    const slope = Fn.fromBytes(sha256(utf8('bip86 dealer')))
    const ids = [1, 2, 3].map((i) => participantIdentifier('taproot', i))
    const shares = [1n, 2n, 3n].map((x) => Fn.add(secret, Fn.mul(slope, x)))
    const pub: FrostPublic = {
      signers: { min: 2, max: 3 },
      commitments: [secret, slope].map((c) => Uint8Array.from(baseTimes('taproot', c))),
      verifyingShares: Object.fromEntries(ids.map((id, i) => [id, Uint8Array.from(baseTimes('taproot', shares[i]!))]))
    }
    expect(hex(pub.commitments[0]!)).toBe(hex(account.publicKey!))
    const keys: Key[] = ids.map((identifier, i) => ({ public: pub, secret: { identifier, signingShare: Uint8Array.from(Fn.toBytes(shares[i]!)) } }))
    const names = Object.fromEntries(ids.map((id, i) => [id, `holder-${i + 1}`]))
    for (const v of [{ path: [0, 0], address: 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr' }, { path: [1, 0], address: 'bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7' }]) {
      const child = deriveHdChild('taproot', account.publicKey!, account.chainCode!, v.path)
      const signingKey = childPublic('taproot', pub, child).commitments[0]!
      expect(describeGroupKey('taproot', signingKey, 'mainnet').address).toBe(v.address)
      expect(p2tr(child.publicKey.subarray(1), undefined, NETWORK).address).toBe(v.address)
      const message = sha256(utf8(`spend from ${v.address}`))
      for (const pair of combinations(3, 2)) {
        const signature = thresholdSign('taproot', pair.map((i) => childKey('taproot', keys[i]!, child)), names, message)
        expect(externallyVerified('taproot', signature, message, signingKey), `${formatHdPath(v.path)} by ${pair.join(',')}`).toBe(true)
      }
    }
  })
})

describe('ed25519: BIP32-Ed25519 public derivation', () => {
  it('gives a published soft-derivation vector (Khovratovich-Law V2 scheme, as in Topl Bifrost ExtendedPublicKeyEd25519Spec)', () => {
    // extended private key kL || kR || chain code; A = [kL]B; soft child 0 as public key || chain code
    const prv = hexToBytes('402b03cd9c8bed9ba9f9bd6cd9c315ce9fcc59c7c25d37c85a36096617e69d418e35cb4a3b737afd007f0688618f21a8831643c0e6c77fc33c06026d2a0fc93832596435e70647d7d98ef102a32ea40319ca8fb6c851d7346d3bd8f9d1492658')
    const A = ed25519.Point.BASE.multiply(ed25519.Point.Fn.create(bytesToNumberLE(prv.subarray(0, 32)))).toBytes()
    const child = deriveHdChild('ed25519', A, prv.subarray(64), [0])
    expect(hex(child.publicKey) + hex(child.chainCode)).toBe('ec3d5540764b043b21b3744d37448d3f2f8b1ff7188ebec476ac190995f6b047cb1f6e0d259c2b17cb1037d84f192fd419d3f674f6a553cbecda77f0e0bfd985')
    expect(hex(childSigningKey('ed25519', child))).toBe(hex(child.publicKey))
  })
})

describe.each([
  ['taproot', 2, 3], ['taproot', 3, 5], ['ed25519', 2, 3], ['ed25519', 3, 5]
] as const)('%s %i-of-%i: threshold signing under HD children', (scheme, t, n) => {
  it('every t-subset of child shares signs under the child key; packages, secrets and derivations agree', () => {
    const run = dkg(scheme, t, n, scheme === 'taproot' ? true : undefined)
    const roots = run.outcomes.map((o) => o.key)
    const first = run.outcomes[0]!
    for (const o of run.outcomes) expect(hex(o.transcriptHash)).toBe(hex(first.transcriptHash))
    const root = first.groupPublicKey
    const chainCode = hdChainCode(first.transcriptHash)
    const rootSecret = interpolate(scheme, roots.slice(0, t))
    expect(hex(baseTimes(scheme, rootSecret))).toBe(hex(root))
    const nameOf: Record<string, string> = {}
    roots.forEach((k, i) => { nameOf[k.secret.identifier] = run.names[i] ?? '' })
    const Fn = fieldOf(scheme)
    const subsets = combinations(n, t)
    const random = mulberry32(t * 100 + n + (scheme === 'taproot' ? 7 : 0))

    const seen = new Set<string>()
    for (const p of PATHS) {
      const child = deriveHdChild(scheme, root, chainCode, parseHdPath(p))
      const pub = childPublic(scheme, roots[0]!.public, child)
      const signingKey = childSigningKey(scheme, child)
      expect(hex(pub.commitments[0]!), p).toBe(hex(signingKey))
      const keys = roots.map((k) => childKey(scheme, k, child))
      // every holder computes the same package from its own key
      for (const k of keys) expect(hex(encodePublic(k.public))).toBe(hex(encodePublic(pub)))
      // a child key survives the store's encoding, which checks the share against the commitments (VSS)
      const stored = decodeKey(encodeKey(keys[Math.floor(random() * n)]!))
      // the untweaked child key is root secret + tweak; the signing secret interpolates to the signing key
      expect(hex(baseTimes(scheme, Fn.add(rootSecret, child.tweak)))).toBe(hex(child.publicKey))
      const childSecret = interpolate(scheme, subsets[Math.floor(random() * subsets.length)]!.map((i) => keys[i]!))
      expect(hex(baseTimes(scheme, childSecret)), p).toBe(hex(signingKey))
      if (scheme === 'ed25519') {
        // private-side BIP32-Ed25519 from the root secret equals our public derivation
        const priv = ed25519PrivateDerive(rootSecret, chainCode, child.path)
        expect(hex(priv.publicKey)).toBe(hex(child.publicKey))
        expect(hex(priv.chainCode)).toBe(hex(child.chainCode))
        expect(priv.secret).toBe(childSecret)
      } else {
        const expectedAddress = p2tr(child.publicKey.subarray(1), undefined, TEST_NETWORK).address
        expect(describeGroupKey('taproot', signingKey, 'testnet').address).toBe(expectedAddress)
      }
      seen.add(hex(signingKey))
      for (const subset of subsets) {
        const message = scheme === 'taproot' ? sha256(utf8(`${p} ${subset.join(',')}`)) : utf8(`pay from ${p} with ${subset.join(',')}`)
        const signers = subset.map((i) => keys[i]!.secret.identifier === stored.secret.identifier ? stored : keys[i]!)
        const sig = thresholdSign(scheme, signers, nameOf, message)
        expect(externallyVerified(scheme, sig, message, signingKey), `${p} ${subset.join(',')}`).toBe(true)
        // and not under the root's key
        const rootSigningKey = scheme === 'taproot' ? taprootTweakGroupKey(root) : root
        if (p !== 'm') expect(externallyVerified(scheme, sig, message, rootSigningKey)).toBe(false)
      }
    }
    expect(seen.size).toBe(PATHS.length) // every path its own key
  })
})

describe('untweaked Taproot DKG', () => {
  it('keeps the plain FROST key, changes the transcript hash, and tweaking it gives the ordinary DKG key', () => {
    const plain = runDkg('taproot', 2, 3, 'compare', true)
    const tweaked = runDkg('taproot', 2, 3, 'compare')
    expect(plain.params[0]?.untweaked).toBe(true)
    // same randomness, same round 1 ...
    plain.round1.forEach((m, i) => expect(hex(encodeRound1(m))).toBe(hex(encodeRound1(tweaked.round1[i]!))))
    plain.outcomes.forEach((o, i) => expect(o.round1Digests.map(hex)).toEqual(tweaked.outcomes[i]!.round1Digests.map(hex)))
    // ... but other transcript hashes and keys
    const a = plain.outcomes[0]!
    const b = tweaked.outcomes[0]!
    expect(hex(a.transcriptHash)).not.toBe(hex(b.transcriptHash))
    expect(hex(dkgTranscriptHash(plain.params[0]!, plain.round1))).toBe(hex(a.transcriptHash))
    expect(hex(dkgTranscriptHash({ ...plain.params[0]!, untweaked: false }, plain.round1))).toBe(hex(b.transcriptHash))
    expect(hex(dkgTranscriptHash({ ...plain.params[0]!, untweaked: undefined }, plain.round1))).toBe(hex(b.transcriptHash))
    expect(hex(a.groupPublicKey)).not.toBe(hex(b.groupPublicKey))
    // the plain key is the interpolated secret times G, nothing added
    expect(hex(baseTimes('taproot', interpolate('taproot', plain.outcomes.slice(1).map((o) => o.key))))).toBe(hex(a.groupPublicKey))
    // the tweak step on the whole key, per holder, is exactly what the ordinary DKG ends with
    plain.outcomes.forEach((o, i) => {
      expect(hex(encodeKey(taprootTweakKey(o.key)))).toBe(hex(encodeKey(tweaked.outcomes[i]!.key)))
      expect(hex(encodePublic(taprootTweakPublic(o.key.public)))).toBe(hex(encodePublic(tweaked.outcomes[i]!.key.public)))
    })
    expect(hex(taprootTweakGroupKey(a.groupPublicKey))).toBe(hex(b.groupPublicKey))
    // and the HD child at 'm' of the untweaked root is the ordinary DKG key
    const atRoot = deriveHdChild('taproot', a.groupPublicKey, hdChainCode(a.transcriptHash), [])
    expect(atRoot.tweak).toBe(0n)
    expect(hex(encodePublic(childPublic('taproot', a.key.public, atRoot)))).toBe(hex(encodePublic(b.key.public)))
    expect(hex(encodeKey(childKey('taproot', a.key, atRoot)))).toBe(hex(encodeKey(b.key)))
  })

  it('is refused for ed25519 and must be a boolean', () => {
    const names = peerNames(3)
    const base: DkgParams = { scheme: 'ed25519', clusterId: 'c', sessionId: 's', threshold: 2, participants: names, self: names[0]! }
    expect(() => startDkg({ ...base, untweaked: true })).toThrow(/taproot only/)
    expect(() => startDkg({ ...base, scheme: 'taproot', untweaked: 'yes' as unknown as boolean })).toThrow(CryptoInputError)
    expect(startDkg({ ...base, untweaked: false }).state.params).not.toHaveProperty('untweaked')
    expect(startDkg({ ...base, scheme: 'taproot' }).state.params).not.toHaveProperty('untweaked')
  })
})

function encodeRound1 (m: DkgRound1Message): Uint8Array {
  return Uint8Array.from([...m.commitment.flatMap((c) => [...c]), ...m.proofOfKnowledge, ...m.ephemeralPublicKey])
}

describe('HD bad input', () => {
  const run = (): DkgRun => dkg('taproot', 2, 3, true)
  const cc = new Uint8Array(32).fill(7)

  it('refuses bad keys, chain codes, paths and schemes', () => {
    const root = run().outcomes[0]!.groupPublicKey
    expect(() => deriveHdChild('taproot', root.subarray(1), cc, [0])).toThrow(/invalid secp256k1 root public key/)
    const notOnCurve = Uint8Array.from(root)
    notOnCurve[0] = 0x05
    expect(() => deriveHdChild('taproot', notOnCurve, cc, [0])).toThrow(CryptoInputError)
    let x = 1n
    while (isOnCurve(x)) x++
    expect(() => deriveHdChild('taproot', Uint8Array.from([2, ...numberToBytesBE(x, 32)]), cc, [0])).toThrow(CryptoInputError)
    expect(() => deriveHdChild('ed25519', root, cc, [0])).toThrow(/invalid Ed25519 root public key/)
    const identity = new Uint8Array(32)
    identity[0] = 1
    expect(() => deriveHdChild('ed25519', identity, cc, [0])).toThrow(CryptoInputError)
    const smallOrder = hexToBytes('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a') // order 8
    expect(() => deriveHdChild('ed25519', smallOrder, cc, [0])).toThrow(CryptoInputError)
    expect(() => deriveHdChild('taproot', root, cc.subarray(1), [0])).toThrow(/chain code must be 32 bytes/)
    expect(() => deriveHdChild('taproot', root, cc, [HD_HARDENED_OFFSET])).toThrow(/public derivation cannot do hardened steps/)
    expect(() => deriveHdChild('taproot', root, cc, [0.5])).toThrow(CryptoInputError)
    expect(() => deriveHdChild('taproot', root, cc, Array.from({ length: MAX_HD_DEPTH + 1 }, () => 0))).toThrow(CryptoInputError)
    expect(() => deriveHdChild('rsa' as Scheme, root, cc, [0])).toThrow(/unknown scheme/)
    expect(() => hdChainCode(new Uint8Array(31))).toThrow(CryptoInputError)
    expect(() => encodeXpub(root, cc, 'signet' as 'mainnet')).toThrow(/unknown bitcoin network/)
    expect(() => encodeXpub(root.subarray(1), cc, 'mainnet')).toThrow(/taproot only/)
    expect(() => encodeXpub(root, cc.subarray(2), 'mainnet')).toThrow(CryptoInputError)
  })

  it('refuses a child of another root, a tampered child and a key that is not the holder\'s', () => {
    const r = run()
    const first = r.outcomes[0]!
    const chainCode = hdChainCode(first.transcriptHash)
    const child = deriveHdChild('taproot', first.groupPublicKey, chainCode, [0, 5])
    const other = dkg('taproot', 3, 5, true).outcomes[0]!
    expect(() => childPublic('taproot', other.key.public, child)).toThrow(/not derived from this root key/)
    expect(() => childKey('taproot', other.key, child)).toThrow(/not derived from this root key/)
    // an ordinary (already tweaked) DKG key is another root as well
    expect(() => childPublic('taproot', taprootTweakPublic(first.key.public), child)).toThrow(/not derived from this root key/)
    const tampered: HdChild = { ...child, tweak: child.tweak + 1n }
    expect(() => childPublic('taproot', first.key.public, tampered)).toThrow(/not derived from this root key/)
    expect(() => childPublic('taproot', first.key.public, { ...child, tweak: -1n })).toThrow(/tweak out of range/)
    expect(() => childPublic('taproot', first.key.public, { ...child, path: [2 ** 31] })).toThrow(CryptoInputError)
    expect(() => childSigningKey('taproot', { ...child, publicKey: child.publicKey.subarray(1) })).toThrow(CryptoInputError)
    expect(() => childPublic('ed25519', first.key.public, child)).toThrow(CryptoInputError)
    // a share that is not this holder's (another holder's share under this identifier)
    const swapped: Key = { public: first.key.public, secret: { ...first.key.secret, signingShare: r.outcomes[1]!.key.secret.signingShare } }
    expect(() => childKey('taproot', swapped, child)).toThrow(/does not match its verifying share/)
    const outOfRange: Key = { public: first.key.public, secret: { ...first.key.secret, signingShare: new Uint8Array(32).fill(0xff) } }
    expect(() => childKey('taproot', outOfRange, child)).toThrow(/secret share malformed/)
    expect(() => childKey('taproot', null as unknown as Key, child)).toThrow(CryptoInputError)
    const broken: FrostPublic = { ...first.key.public, verifyingShares: { ...first.key.public.verifyingShares, [first.key.secret.identifier]: new Uint8Array(33) } }
    expect(() => childPublic('taproot', broken, child)).toThrow(/invalid root verifying share/)
    const ed = dkg('ed25519', 2, 3).outcomes[0]!
    expect(() => taprootTweakPublic(ed.key.public)).toThrow(CryptoInputError)
    expect(() => taprootTweakKey(ed.key)).toThrow(CryptoInputError)
    expect(() => taprootTweakGroupKey(ed.groupPublicKey)).toThrow(CryptoInputError)
  })
})

function isOnCurve (x: bigint): boolean {
  try {
    secp256k1.Point.fromBytes(Uint8Array.from([2, ...numberToBytesBE(x, 32)]))
    return true
  } catch {
    return false
  }
}
