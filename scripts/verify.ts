import { createPublicKey, verify } from 'node:crypto'
import * as secp from 'tiny-secp256k1'

/**
 * Signature checks by code that is not ours: Node's crypto (OpenSSL) for Ed25519, and
 * libsecp256k1 (tiny-secp256k1) for BIP-340. The simulation and the tests use these.
 */
export function verifyEd25519External (publicKeyHex: string, messageHex: string, signatureHex: string): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKeyHex, 'hex').toString('base64url') }, format: 'jwk' })
  return verify(null, Buffer.from(messageHex, 'hex'), key, Buffer.from(signatureHex, 'hex'))
}

export function verifyBip340External (xOnlyPublicKeyHex: string, messageHex: string, signatureHex: string): boolean {
  return secp.verifySchnorr(Buffer.from(messageHex, 'hex'), Buffer.from(xOnlyPublicKeyHex, 'hex'), Buffer.from(signatureHex, 'hex'))
}

/** Checks a signature of a key as the API describes it, with the outside verifier of its scheme. */
export function verifyKeySignature (key: { scheme: string, groupPublicKey: string, xOnlyPublicKey?: string }, messageHex: string, signatureHex: string): boolean {
  if (key.scheme === 'taproot') {
    if (key.xOnlyPublicKey === undefined) throw new Error('a taproot key needs its x-only public key')
    return verifyBip340External(key.xOnlyPublicKey, messageHex, signatureHex)
  }
  return verifyEd25519External(key.groupPublicKey, messageHex, signatureHex)
}

/** Which outside code verifyKeySignature uses for a scheme. */
export function externalVerifierName (scheme: string): string {
  return scheme === 'taproot' ? 'libsecp256k1 (tiny-secp256k1) verifySchnorr' : 'node:crypto verify (OpenSSL Ed25519)'
}
