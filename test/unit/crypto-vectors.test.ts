/**
 * RFC 9591 Appendix E test vectors (final CFRG version), byte for byte. The Ed25519 vectors run
 * through our own wrapper (commitNonces, signShare, aggregateSignature) with the vector's nonce
 * randomness fed through the `rng` argument. The secp256k1 vectors are for plain
 * FROST(secp256k1, SHA-256), which our wrapper does not expose (it has the Taproot suite only),
 * so they run the same steps against noble's `secp256k1_FROST` directly.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FROST, FrostPublic, Key } from '@noble/curves/abstract/frost.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import {
  aggregateSignature, commitNonces, decodeKey, encodeKey, frostSuite, participantIdentifier, signShare, verifySignature
} from '../../src/crypto/index.js'

interface Vector {
  config: { MAX_PARTICIPANTS: string, MIN_PARTICIPANTS: string }
  inputs: {
    participant_list: number[]
    group_public_key: string
    message: string
    share_polynomial_coefficients: string[]
    participant_shares: Array<{ identifier: number, participant_share: string }>
  }
  round_one_outputs: {
    outputs: Array<{
      identifier: number
      hiding_nonce_randomness: string
      binding_nonce_randomness: string
      hiding_nonce: string
      binding_nonce: string
      hiding_nonce_commitment: string
      binding_nonce_commitment: string
    }>
  }
  round_two_outputs: { outputs: Array<{ identifier: number, sig_share: string }> }
  final_output: { sig: string }
}

const load = (name: string): Vector => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as Vector

/** An rng that hands out the given byte strings in order, each exactly once. */
function scriptedRng (chunks: string[]): (n?: number) => Uint8Array<ArrayBuffer> {
  const queue = chunks.map((h) => hexToBytes(h))
  return (n = 32) => {
    const next = queue.shift()
    if (next?.length !== n) throw new Error('scripted rng exhausted or asked for the wrong length')
    return next
  }
}

/** Key packages from the vector's dealer polynomial (RFC 9591 Appendix C): commitments and verifying shares. */
function vectorKeys (v: Vector, frost: FROST, basePoint: (scalar: bigint) => Uint8Array<ArrayBuffer>): Record<number, Key> {
  const { Fn } = frost.utils
  const min = Number(v.config.MIN_PARTICIPANTS)
  const max = Number(v.config.MAX_PARTICIPANTS)
  const commitments = [hexToBytes(v.inputs.group_public_key), ...v.inputs.share_polynomial_coefficients.map((c) => basePoint(Fn.fromBytes(hexToBytes(c))))]
  const verifyingShares: Record<string, Uint8Array<ArrayBuffer>> = {}
  for (const s of v.inputs.participant_shares) {
    verifyingShares[frost.Identifier.fromNumber(s.identifier)] = basePoint(Fn.fromBytes(hexToBytes(s.participant_share)))
  }
  const pub: FrostPublic = { signers: { min, max }, commitments, verifyingShares }
  const keys: Record<number, Key> = {}
  for (const s of v.inputs.participant_shares) {
    const secret = { identifier: frost.Identifier.fromNumber(s.identifier), signingShare: hexToBytes(s.participant_share) }
    frost.validateSecret(secret, pub)
    keys[s.identifier] = { public: pub, secret }
  }
  return keys
}

describe('RFC 9591 FROST(Ed25519, SHA-512) vectors through our wrapper', () => {
  const v = load('rfc9591-frost-ed25519-sha512.json')
  const frost = frostSuite('ed25519')
  const keys = vectorKeys(v, frost, (s) => Uint8Array.from(ed25519.Point.BASE.multiply(s).toBytes()))
  const message = hexToBytes(v.inputs.message)

  it('reproduces nonces, commitments, signature shares and the final signature', () => {
    const commits = v.round_one_outputs.outputs.map((o) => {
      const key = keys[o.identifier]
      if (key === undefined) throw new Error('vector participant without a share')
      const c = commitNonces('ed25519', key.secret, scriptedRng([o.hiding_nonce_randomness, o.binding_nonce_randomness]))
      expect(c.commitments.identifier).toBe(participantIdentifier('ed25519', o.identifier))
      expect(bytesToHex(c.nonces.hiding)).toBe(o.hiding_nonce)
      expect(bytesToHex(c.nonces.binding)).toBe(o.binding_nonce)
      expect(bytesToHex(c.commitments.hiding)).toBe(o.hiding_nonce_commitment)
      expect(bytesToHex(c.commitments.binding)).toBe(o.binding_nonce_commitment)
      return { id: o.identifier, key, c }
    })
    const list = commits.map(({ c }) => c.commitments)
    const shares: Record<string, Uint8Array> = {}
    const names: Record<string, string> = {}
    for (const { id, key, c } of commits) {
      const share = signShare('ed25519', key, c, list, message)
      expect(bytesToHex(share)).toBe(v.round_two_outputs.outputs.find((o) => o.identifier === id)?.sig_share)
      shares[key.secret.identifier] = share
      names[key.secret.identifier] = `participant-${id}`
    }
    const pub = keys[1]?.public
    if (pub === undefined) throw new Error('no public package')
    const sig = aggregateSignature('ed25519', pub, list, message, shares, names)
    expect(bytesToHex(sig)).toBe(v.final_output.sig)
    expect(verifySignature('ed25519', sig, message, hexToBytes(v.inputs.group_public_key))).toBe(true)
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(hexToBytes(v.inputs.group_public_key)).toString('base64url') }
    expect(nodeVerify(null, message, createPublicKey({ key: jwk, format: 'jwk' }), sig)).toBe(true)
  })

  it('survives an encodeKey/decodeKey round trip of the vector key packages', () => {
    for (const key of Object.values(keys)) {
      const back = decodeKey(encodeKey(key))
      expect(back.secret.identifier).toBe(key.secret.identifier)
      expect(bytesToHex(back.secret.signingShare)).toBe(bytesToHex(key.secret.signingShare))
      expect(back.public.commitments.map(bytesToHex)).toEqual(key.public.commitments.map(bytesToHex))
    }
  })
})

describe('RFC 9591 FROST(secp256k1, SHA-256) vectors against noble secp256k1_FROST directly', () => {
  // Our wrapper offers only the Taproot suite (BIP-340 challenge, even-Y keys), which these
  // vectors do not cover; the same steps run against noble's plain RFC 9591 suite.
  const v = load('rfc9591-frost-secp256k1-sha256.json')
  const frost = secp256k1_FROST
  const keys = vectorKeys(v, frost, (s) => Uint8Array.from(secp256k1.Point.BASE.multiply(s).toBytes(true)))
  const message = hexToBytes(v.inputs.message)

  it('reproduces nonces, commitments, signature shares and the final signature', () => {
    const commits = v.round_one_outputs.outputs.map((o) => {
      const key = keys[o.identifier]
      if (key === undefined) throw new Error('vector participant without a share')
      const c = frost.commit(key.secret, scriptedRng([o.hiding_nonce_randomness, o.binding_nonce_randomness]))
      expect(bytesToHex(c.nonces.hiding)).toBe(o.hiding_nonce)
      expect(bytesToHex(c.nonces.binding)).toBe(o.binding_nonce)
      expect(bytesToHex(c.commitments.hiding)).toBe(o.hiding_nonce_commitment)
      expect(bytesToHex(c.commitments.binding)).toBe(o.binding_nonce_commitment)
      return { id: o.identifier, key, c }
    })
    const list = commits.map(({ c }) => c.commitments)
    const shares: Record<string, Uint8Array> = {}
    for (const { id, key, c } of commits) {
      const share = frost.signShare(key.secret, key.public, c.nonces, list, message)
      expect(bytesToHex(share)).toBe(v.round_two_outputs.outputs.find((o) => o.identifier === id)?.sig_share)
      expect(frost.verifyShare(key.public, list, message, key.secret.identifier, share)).toBe(true)
      shares[key.secret.identifier] = share
    }
    const pub = keys[1]?.public
    if (pub === undefined) throw new Error('no public package')
    const sig = frost.aggregate(pub, list, message, shares)
    expect(bytesToHex(sig)).toBe(v.final_output.sig)
    expect(frost.verify(sig, message, hexToBytes(v.inputs.group_public_key))).toBe(true)
  })
})
