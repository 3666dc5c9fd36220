/**
 * sharePairKeys: one X25519 exchange per peer gives exactly the keys sealShare and openShare
 * derive per call, so shares sealed either way open either way (same wire format).
 */
import { describe, expect, it } from 'vitest'
import { CryptoInputError, DecryptionError, generateX25519, openShare, openShareWithKey, sealShare, sealShareWithKey, sharePairKeys, type ShareAad } from '../../src/crypto/index.js'

const aad: ShareAad = { clusterId: 'c', sessionId: 's', sender: 'alice', recipient: 'bob' }
const share = Uint8Array.from({ length: 32 }, (_, i) => i)

describe('sharePairKeys', () => {
  it('seals and opens as sealShare / openShare do, in both directions', () => {
    const alice = generateX25519()
    const bob = generateX25519()
    const a = sharePairKeys(alice, bob.publicKey)
    const b = sharePairKeys(bob, alice.publicKey)
    expect(a.seal).toEqual(b.open)
    expect(a.open).toEqual(b.seal)
    expect(a.seal).not.toEqual(a.open)
    expect(openShare(bob.secretKey, alice.publicKey, sealShareWithKey(a.seal, share, aad), aad)).toEqual(share)
    expect(openShareWithKey(b.open, sealShare(alice.secretKey, bob.publicKey, share, aad), aad)).toEqual(share)
    // a fixed rng gives byte-identical output either way
    const rng = (n: number): Uint8Array => new Uint8Array(n).fill(7)
    expect(sealShareWithKey(a.seal, share, aad, rng)).toEqual(sealShare(alice.secretKey, bob.publicKey, share, aad, rng))
    // the other direction's key, another aad or a flipped byte do not open
    const sealed = sealShareWithKey(a.seal, share, aad)
    expect(() => openShareWithKey(a.seal === b.open ? b.seal : b.open, sealed, { ...aad, recipient: 'carol' })).toThrow(DecryptionError)
    expect(() => openShareWithKey(b.seal, sealed, aad)).toThrow(DecryptionError)
    const tampered = Uint8Array.from(sealed)
    tampered[20]! ^= 1
    expect(() => openShareWithKey(b.open, tampered, aad)).toThrow(DecryptionError)
  })

  it('refuses an unusable peer key (low order, wrong length)', () => {
    const alice = generateX25519()
    expect(() => sharePairKeys(alice, new Uint8Array(32))).toThrow(CryptoInputError)
    expect(() => sharePairKeys(alice, new Uint8Array(31).fill(9))).toThrow(CryptoInputError)
  })
})
