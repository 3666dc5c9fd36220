import type { Key } from '@noble/curves/abstract/frost.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import {
  aggregateSignature, BlameError, commitNonces, CryptoInputError, decodeKey, decodeNonces, decodePublic, encodeKey,
  encodeNonces, encodePublic, frostSuite, participantIdentifier, signShare, verifySignature, type Scheme, type SignerCommit
} from '../../src/crypto/index.js'

/** Key packages for n holders from noble's trusted dealer (identifiers 1..n), and a name per identifier. */
function dealerKeys (scheme: Scheme, t: number, n: number): { keys: Key[], names: Record<string, string> } {
  const frost = frostSuite(scheme)
  const ids = Array.from({ length: n }, (_, i) => participantIdentifier(scheme, i + 1))
  const deal = frost.trustedDealer({ min: t, max: n }, ids)
  const names: Record<string, string> = {}
  const keys = ids.map((id, i) => {
    names[id] = `peer-${i + 1}`
    const secret = deal.secretShares[id]
    if (secret === undefined) throw new Error('no share')
    return { public: deal.public, secret }
  })
  return { keys, names }
}

const messageFor = (scheme: Scheme, text: string): Uint8Array => scheme === 'taproot' ? sha256(new TextEncoder().encode(text)) : new TextEncoder().encode(text)

function round (scheme: Scheme, keys: Key[], message: Uint8Array): { commits: SignerCommit[], shares: Record<string, Uint8Array> } {
  const commits = keys.map((k) => commitNonces(scheme, k.secret))
  const list = commits.map((c) => c.commitments)
  const shares: Record<string, Uint8Array> = {}
  keys.forEach((k, i) => { shares[k.secret.identifier] = signShare(scheme, k, commits[i] as SignerCommit, list, message) })
  return { commits, shares }
}

describe.each(['ed25519', 'taproot'] as const)('signing, %s', (scheme) => {
  const { keys, names } = dealerKeys(scheme, 3, 5)
  const pub = (keys[0] as Key).public
  const signers = [keys[0], keys[2], keys[4]] as Key[]
  const message = messageFor(scheme, 'send 1 BTC')

  it('aggregates a verifying signature', () => {
    const { commits, shares } = round(scheme, signers, message)
    const sig = aggregateSignature(scheme, pub, commits.map((c) => c.commitments), message, shares, names)
    expect(verifySignature(scheme, sig, message, pub.commitments[0] as Uint8Array)).toBe(true)
  })

  it('names exactly the signer whose share is corrupt', () => {
    const { commits, shares } = round(scheme, signers, message)
    const victim = (keys[2] as Key).secret.identifier
    const bad = Uint8Array.from(shares[victim] as Uint8Array)
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1
    try {
      aggregateSignature(scheme, pub, commits.map((c) => c.commitments), message, { ...shares, [victim]: bad }, names)
      expect.fail('expected BlameError')
    } catch (err) {
      expect(err).toBeInstanceOf(BlameError)
      expect((err as BlameError).culprits).toEqual(['peer-3'])
      expect((err as BlameError).reason).toBe('invalid signature share')
    }
  })

  it('names every signer whose share is bad, including a share that is not a scalar', () => {
    const { commits, shares } = round(scheme, signers, message)
    const a = (keys[0] as Key).secret.identifier
    const c = (keys[4] as Key).secret.identifier
    const tampered = { ...shares, [a]: new Uint8Array(32).fill(0xff), [c]: shares[a] as Uint8Array }
    expect(() => aggregateSignature(scheme, pub, commits.map((x) => x.commitments), message, tampered, names))
      .toThrow(expect.objectContaining({ culprits: ['peer-1', 'peer-5'] }) as Error)
  })

  it('refuses to sign when our commitment is missing from the list or altered', () => {
    const commits = signers.map((k) => commitNonces(scheme, k.secret))
    const me = signers[0] as Key
    const own = commits[0] as SignerCommit
    const others = commits.slice(1).map((c) => c.commitments)
    const extra = commitNonces(scheme, (keys[1] as Key).secret).commitments
    expect(() => signShare(scheme, me, own, [...others, extra], message)).toThrow(CryptoInputError)
    const altered = { ...own.commitments, binding: commits[1]?.commitments.binding ?? new Uint8Array() }
    expect(() => signShare(scheme, me, own, [altered, ...others], message)).toThrow(/not in the commitment list/)
    expect(() => signShare(scheme, me, own, [own.commitments, ...others, own.commitments], message)).toThrow(CryptoInputError)
    // nonces untouched by the refusals: the right list still signs
    expect(signShare(scheme, me, own, [own.commitments, ...others], message)).toHaveLength(32)
  })

  it('never signs twice with one set of nonces', () => {
    const commits = signers.map((k) => commitNonces(scheme, k.secret))
    const list = commits.map((c) => c.commitments)
    signShare(scheme, signers[0] as Key, commits[0] as SignerCommit, list, message)
    expect(() => signShare(scheme, signers[0] as Key, commits[0] as SignerCommit, list, messageFor(scheme, 'other'))).toThrow(/already used/)
    expect(() => encodeNonces(commits[0] as SignerCommit)).toThrow(/already used/)
  })

  it('validates the message before signing or aggregating', () => {
    const commits = signers.map((k) => commitNonces(scheme, k.secret))
    const list = commits.map((c) => c.commitments)
    const bad = scheme === 'taproot' ? new Uint8Array(31) : new Uint8Array(0)
    expect(() => signShare(scheme, signers[0] as Key, commits[0] as SignerCommit, list, bad)).toThrow(CryptoInputError)
    expect(() => aggregateSignature(scheme, pub, list, bad, {}, names)).toThrow(CryptoInputError)
  })

  it('refuses too few commitments and a missing share without blaming anyone', () => {
    const { commits, shares } = round(scheme, signers, message)
    const list = commits.map((c) => c.commitments)
    expect(() => aggregateSignature(scheme, pub, list.slice(0, 2), message, shares, names)).toThrow(CryptoInputError)
    const fewer = { ...shares }
    delete fewer[(keys[0] as Key).secret.identifier]
    expect(() => aggregateSignature(scheme, pub, list, message, fewer, names)).toThrow(CryptoInputError)
  })

  it('round-trips keys, public packages and nonces through their encodings', () => {
    const key = keys[1] as Key
    const kb = encodeKey(key)
    const back = decodeKey(kb)
    expect(back.secret.identifier).toBe(key.secret.identifier)
    expect(bytesToHex(back.secret.signingShare)).toBe(bytesToHex(key.secret.signingShare))
    expect(encodeKey(back)).toEqual(kb)
    expect(encodePublic(decodePublic(encodePublic(pub)))).toEqual(encodePublic(pub))
    expect(decodePublic(encodePublic(pub)).commitments.map(bytesToHex)).toEqual(pub.commitments.map(bytesToHex))

    const c = commitNonces(scheme, key.secret)
    const cb = encodeNonces(c)
    const cback = decodeNonces(cb)
    expect(cback.commitments.identifier).toBe(c.commitments.identifier)
    expect(bytesToHex(cback.nonces.hiding)).toBe(bytesToHex(c.nonces.hiding))
    expect(encodeNonces(cback)).toEqual(cb)
    // a decoded key and decoded nonces still sign
    const others = [keys[0], keys[3]].map((k) => commitNonces(scheme, (k as Key).secret))
    const list = [cback.commitments, ...others.map((o) => o.commitments)]
    expect(() => signShare(scheme, back, cback, list, message)).not.toThrow()
  })

  it('decodes strictly: truncation, trailing bytes, flipped bits, wrong kind', () => {
    const key = keys[1] as Key
    const kb = encodeKey(key)
    const pb = encodePublic(pub)
    const nb = encodeNonces(commitNonces(scheme, key.secret))
    for (const [decode, bytes] of [[decodeKey, kb], [decodePublic, pb], [decodeNonces, nb]] as const) {
      expect(() => decode(bytes.subarray(0, bytes.length - 1))).toThrow(CryptoInputError)
      expect(() => decode(Uint8Array.from([...bytes, 0]))).toThrow(CryptoInputError)
      expect(() => decode(new Uint8Array(0))).toThrow(CryptoInputError)
      expect(() => decode(crypto.getRandomValues(new Uint8Array(bytes.length)))).toThrow(CryptoInputError)
      const wrongVersion = Uint8Array.from(bytes)
      wrongVersion[0] = 2
      expect(() => decode(wrongVersion)).toThrow(CryptoInputError)
    }
    expect(() => decodePublic(kb)).toThrow(/wrong kind/)
    expect(() => decodeKey(pb)).toThrow(/wrong kind/)
    // a signing share that is off by one no longer matches the commitments
    const flipped = Uint8Array.from(kb)
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1
    expect(() => decodeKey(flipped)).toThrow(/does not match/)
    // nonces whose commitment was swapped
    const swapped = Uint8Array.from(nb)
    swapped[nb.length - 1] = (swapped[nb.length - 1] ?? 0) ^ 1
    expect(() => decodeNonces(swapped)).toThrow(CryptoInputError)
    // errors never echo secret bytes
    try {
      decodeKey(flipped)
    } catch (err) {
      expect((err as Error).message).not.toContain(bytesToHex(key.secret.signingShare).slice(0, 16))
    }
  })
})

describe('aggregation with a bad nonce commitment', () => {
  it('names the signer whose commitment is not a valid element, not everyone', () => {
    const scheme: Scheme = 'ed25519'
    const { keys, names } = dealerKeys(scheme, 2, 3)
    const signers = [keys[0], keys[1]] as Key[]
    const message = messageFor(scheme, 'x')
    const { commits, shares } = round(scheme, signers, message)
    const list = commits.map((c) => c.commitments)
    const broken = [list[0], { ...list[1], binding: new Uint8Array(32) }] as typeof list // not a valid encoding
    expect(() => aggregateSignature(scheme, (keys[0] as Key).public, broken, message, shares, names))
      .toThrow(expect.objectContaining({ culprits: ['peer-2'], reason: 'invalid nonce commitment' }) as Error)
  })
})
