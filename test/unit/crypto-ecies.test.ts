import { describe, expect, it } from 'vitest'
import { DecryptionError, generateX25519, openShare, sealShare, type ShareAad } from '../../src/crypto/index.js'

const aad: ShareAad = { clusterId: 'cluster-a', sessionId: 'session-1', sender: 'alice', recipient: 'bob' }

describe('share encryption (X25519 + HKDF-SHA256 + ChaCha20-Poly1305)', () => {
  const alice = generateX25519()
  const bob = generateX25519()
  const share = Uint8Array.from({ length: 32 }, (_, i) => i + 1)

  it('round-trips and hides the plaintext', () => {
    const sealed = sealShare(alice.secretKey, bob.publicKey, share, aad)
    expect(sealed.length).toBe(12 + share.length + 16)
    expect(Buffer.from(sealed).includes(Buffer.from(share.subarray(0, 8)))).toBe(false)
    expect(openShare(bob.secretKey, alice.publicKey, sealed, aad)).toEqual(share)
    // fresh nonce each time
    expect(sealShare(alice.secretKey, bob.publicKey, share, aad)).not.toEqual(sealed)
  })

  it('uses the injected rng for its nonce', () => {
    const rng = (n: number): Uint8Array => new Uint8Array(n).fill(7)
    const sealed = sealShare(alice.secretKey, bob.publicKey, share, aad, rng)
    expect(sealed.subarray(0, 12)).toEqual(new Uint8Array(12).fill(7))
    expect(sealShare(alice.secretKey, bob.publicKey, share, aad, rng)).toEqual(sealed)
  })

  it.each([
    ['another session', { ...aad, sessionId: 'session-2' }],
    ['another cluster', { ...aad, clusterId: 'cluster-b' }],
    ['another sender', { ...aad, sender: 'mallory' }],
    ['another recipient', { ...aad, recipient: 'carol' }],
    // length prefixes keep field boundaries: moving a character between fields is a different aad
    ['shifted field boundary', { ...aad, clusterId: 'cluster-as', sessionId: 'ession-1' }]
  ])('fails to open under %s', (_, other) => {
    const sealed = sealShare(alice.secretKey, bob.publicKey, share, aad)
    expect(() => openShare(bob.secretKey, alice.publicKey, sealed, other)).toThrow(DecryptionError)
  })

  it('fails to open with the wrong key or tampered bytes', () => {
    const sealed = sealShare(alice.secretKey, bob.publicKey, share, aad)
    const carol = generateX25519()
    expect(() => openShare(carol.secretKey, alice.publicKey, sealed, aad)).toThrow(DecryptionError)
    expect(() => openShare(bob.secretKey, carol.publicKey, sealed, aad)).toThrow(DecryptionError)
    for (const i of [0, 11, 12, sealed.length - 1]) {
      const t = Uint8Array.from(sealed)
      t[i] = (t[i] ?? 0) ^ 1
      expect(() => openShare(bob.secretKey, alice.publicKey, t, aad)).toThrow(DecryptionError)
    }
    expect(() => openShare(bob.secretKey, alice.publicKey, sealed.subarray(0, 20), aad)).toThrow(DecryptionError)
    expect(() => openShare(bob.secretKey, new Uint8Array(32), sealed, aad)).toThrow(DecryptionError) // low-order key
  })

  it('is direction-specific: bob cannot replay alice->bob as bob->alice', () => {
    const sealed = sealShare(alice.secretKey, bob.publicKey, share, aad)
    expect(() => openShare(alice.secretKey, bob.publicKey, sealed, aad)).toThrow(DecryptionError)
  })
})
