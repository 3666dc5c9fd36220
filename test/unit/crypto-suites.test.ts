import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { bech32m } from '@scure/base'
import * as ecc from 'tiny-secp256k1'
import { describe, expect, it } from 'vitest'
import {
  CryptoInputError, describeGroupKey, frostSuite, isScheme, MAX_PARTIES, MAX_SIGN_MESSAGE_BYTES,
  participantIdentifier, SCHEMES, validateMessage, validateThreshold, verifySignature
} from '../../src/crypto/index.js'

describe('schemes', () => {
  it('knows exactly ed25519 and taproot', () => {
    expect([...SCHEMES]).toEqual(['ed25519', 'taproot'])
    expect(isScheme('ed25519')).toBe(true)
    expect(isScheme('taproot')).toBe(true)
    expect(isScheme('secp256k1')).toBe(false)
    expect(isScheme('')).toBe(false)
    expect(() => frostSuite('nope' as 'ed25519')).toThrow(CryptoInputError)
  })

  it('maps 1-based indexes to noble identifiers and refuses others', () => {
    expect(participantIdentifier('ed25519', 1)).toBe('01' + '00'.repeat(31)) // little-endian scalar
    expect(participantIdentifier('taproot', 1)).toBe('00'.repeat(31) + '01') // big-endian scalar
    expect(participantIdentifier('taproot', 3)).toBe(frostSuite('taproot').Identifier.fromNumber(3))
    for (const bad of [0, -1, 1.5, MAX_PARTIES + 1, Number.NaN]) expect(() => participantIdentifier('ed25519', bad)).toThrow(CryptoInputError)
  })
})

describe('validateThreshold', () => {
  it.each([[2, 2], [2, 3], [3, 5], [MAX_PARTIES, MAX_PARTIES]])('accepts t=%i n=%i', (t, n) => {
    expect(() => validateThreshold(t, n)).not.toThrow()
  })

  it.each([[1, 3], [0, 3], [4, 3], [2, 1], [2, MAX_PARTIES + 1], [2.5, 3], [2, Number.NaN], [-2, 3]])('refuses t=%s n=%s, naming both', (t, n) => {
    expect(() => validateThreshold(t, n)).toThrow(CryptoInputError)
    expect(() => validateThreshold(t, n)).toThrow(`t=${t}, n=${n}`)
  })
})

describe('validateMessage', () => {
  it('wants a 32-byte digest for taproot', () => {
    expect(() => validateMessage('taproot', new Uint8Array(32))).not.toThrow()
    for (const len of [0, 31, 33, 64]) expect(() => validateMessage('taproot', new Uint8Array(len))).toThrow(/32-byte digest/)
  })

  it('wants 1..16 KiB for ed25519', () => {
    expect(() => validateMessage('ed25519', new Uint8Array(1))).not.toThrow()
    expect(() => validateMessage('ed25519', new Uint8Array(MAX_SIGN_MESSAGE_BYTES))).not.toThrow()
    expect(() => validateMessage('ed25519', new Uint8Array(0))).toThrow(CryptoInputError)
    expect(() => validateMessage('ed25519', new Uint8Array(MAX_SIGN_MESSAGE_BYTES + 1))).toThrow(CryptoInputError)
  })
})

describe('describeGroupKey', () => {
  // BIP-86 test vector (account 0, first receiving address): internal key cc8a4bc6..., output key a60869f0...
  const bip86Output = 'a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c'
  const bip86Address = 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr'

  it('gives the BIP-86 address for an output key (mainnet), from compressed or x-only input', () => {
    for (const prefix of ['02', '03']) {
      const d = describeGroupKey('taproot', hexToBytes(prefix + bip86Output), 'mainnet')
      expect(d.address).toBe(bip86Address)
      expect(d.xOnlyPublicKey).toBe(bip86Output)
      expect(d.publicKey).toBe(prefix + bip86Output)
    }
    expect(describeGroupKey('taproot', hexToBytes(bip86Output), 'mainnet').address).toBe(bip86Address)
  })

  it.each([['mainnet', 'bc'], ['testnet', 'tb'], ['regtest', 'bcrt']] as const)('uses hrp %s -> %s and witness v1 with the x-only key', (network, hrp) => {
    const key = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)
    const d = describeGroupKey('taproot', key, network)
    const decoded = bech32m.decode(d.address as `${string}1${string}`)
    expect(decoded.prefix).toBe(hrp)
    expect(decoded.words[0]).toBe(1)
    expect(bytesToHex(bech32m.fromWords(decoded.words.slice(1)))).toBe(bytesToHex(key.subarray(1)))
  })

  it('gives Ed25519 keys no address', () => {
    const d = describeGroupKey('ed25519', frostSuite('ed25519').trustedDealer({ min: 2, max: 3 }).public.commitments[0] ?? new Uint8Array(), 'mainnet')
    expect(d.address).toBeUndefined()
    expect(d.xOnlyPublicKey).toBeUndefined()
    expect(d.publicKey).toMatch(/^[0-9a-f]{64}$/)
  })

  it('refuses keys that are not curve points', () => {
    expect(() => describeGroupKey('taproot', new Uint8Array(33), 'mainnet')).toThrow(CryptoInputError)
    expect(() => describeGroupKey('taproot', new Uint8Array(20), 'mainnet')).toThrow(CryptoInputError)
    expect(() => describeGroupKey('ed25519', new Uint8Array(33), 'mainnet')).toThrow(CryptoInputError)
  })
})

describe('verifySignature', () => {
  it('accepts a BIP-340 signature from libsecp256k1 and never throws on garbage', () => {
    const sk = secp256k1.utils.randomSecretKey()
    const msg = sha256(new TextEncoder().encode('hello'))
    const sig = ecc.signSchnorr(msg, sk)
    const xOnly = ecc.xOnlyPointFromScalar(sk)
    expect(verifySignature('taproot', sig, msg, xOnly)).toBe(true)
    expect(verifySignature('taproot', sig, sha256(msg), xOnly)).toBe(false)
    expect(verifySignature('taproot', new Uint8Array(3), msg, xOnly)).toBe(false)
    expect(verifySignature('taproot', sig, msg, new Uint8Array(5))).toBe(false)
    expect(verifySignature('taproot', sig, new Uint8Array(7), xOnly)).toBe(false)
    expect(verifySignature('ed25519', sig, msg, new Uint8Array(32))).toBe(false)
    expect(verifySignature('bogus' as 'ed25519', sig, msg, xOnly)).toBe(false)
  })
})
