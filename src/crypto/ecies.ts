/**
 * DKG round-2 share encryption: X25519 ECDH, HKDF-SHA256, ChaCha20-Poly1305 (RFC 7748, 5869,
 * 8439), all from @noble. Each DKG session has fresh X25519 keys on both sides, and each
 * (sender, recipient) pair seals exactly one share per session under a direction-specific key.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { concat, lp } from './bytes.js'
import { CryptoInputError, DecryptionError } from './errors.js'
import type { Rng } from './suites.js'

export interface X25519KeyPair { secretKey: Uint8Array, publicKey: Uint8Array }

/** What a sealed share is bound to: opening it under any other value fails. */
export interface ShareAad { clusterId: string, sessionId: string, sender: string, recipient: string }

export const X25519_KEY_BYTES = 32
export const SHARE_NONCE_BYTES = 12
export const SHARE_TAG_BYTES = 16
/** Upper bound on one sealed share; a FROST share is a 32-byte scalar. */
export const MAX_SEALED_SHARE_BYTES = 1024

const KDF_INFO_DOMAIN = 'mpc-wallet/dkg-share/kdf/v1'
const AAD_DOMAIN = 'mpc-wallet/dkg-share/aad/v1'

export function generateX25519 (rng?: Rng): X25519KeyPair {
  const secretKey = (rng ?? randomBytes)(X25519_KEY_BYTES)
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== X25519_KEY_BYTES) throw new CryptoInputError('rng returned the wrong number of bytes')
  return { secretKey: Uint8Array.from(secretKey), publicKey: x25519.getPublicKey(secretKey) }
}

/** Length-prefixed, domain-separated encoding of the four associated-data fields. */
export function encodeShareAad (aad: ShareAad): Uint8Array {
  for (const k of ['clusterId', 'sessionId', 'sender', 'recipient'] as const) {
    if (typeof aad[k] !== 'string') throw new CryptoInputError(`share aad.${k} must be a string`)
  }
  return concat(lp(AAD_DOMAIN), lp(aad.clusterId), lp(aad.sessionId), lp(aad.sender), lp(aad.recipient))
}

/** ECDH then HKDF-SHA256, with the domain and both public keys (sender first) as info. */
function shareKey (ownSecret: Uint8Array, senderPublic: Uint8Array, recipientPublic: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  const shared = x25519.getSharedSecret(ownSecret, peerPublic)
  try {
    return directionKey(shared, senderPublic, recipientPublic)
  } finally {
    shared.fill(0)
  }
}

function directionKey (shared: Uint8Array, senderPublic: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, undefined, concat(lp(KDF_INFO_DOMAIN), lp(senderPublic), lp(recipientPublic)), 32)
}

/**
 * Both keys between us and one peer from ONE X25519 exchange (the DKG seals to and opens from
 * every other participant: one ECDH per peer instead of one per share and direction, and no
 * recomputation of our own public key). `seal` is the key sealShare derives for what we send the
 * peer, `open` the one openShare derives for what the peer sends us: same keys, same wire format.
 * Throws CryptoInputError if the peer's key is unusable (low order, wrong length).
 */
export interface SharePairKeys { seal: Uint8Array, open: Uint8Array }

export function sharePairKeys (own: X25519KeyPair, peerPublic: Uint8Array): SharePairKeys {
  checkKey(own.secretKey, 'own secret key')
  checkKey(peerPublic, 'peer public key')
  let shared: Uint8Array
  try {
    shared = x25519.getSharedSecret(own.secretKey, peerPublic)
  } catch {
    throw new CryptoInputError('peer public key is not a usable X25519 key')
  }
  try {
    return { seal: directionKey(shared, own.publicKey, peerPublic), open: directionKey(shared, peerPublic, own.publicKey) }
  } finally {
    shared.fill(0)
  }
}

function checkKey (k: Uint8Array, what: string): void {
  if (!(k instanceof Uint8Array) || k.length !== X25519_KEY_BYTES) throw new CryptoInputError(`${what} must be ${X25519_KEY_BYTES} bytes`)
}

/** Seal `plaintext` to `recipientPublic`. Output: 12-byte random nonce || ciphertext || tag. */
export function sealShare (senderSecret: Uint8Array, recipientPublic: Uint8Array, plaintext: Uint8Array, aad: ShareAad, rng?: Rng): Uint8Array {
  checkKey(senderSecret, 'sender secret key')
  checkKey(recipientPublic, 'recipient public key')
  encodeShareAad(aad)
  const senderPublic = x25519.getPublicKey(senderSecret)
  let key: Uint8Array
  try {
    key = shareKey(senderSecret, senderPublic, recipientPublic, recipientPublic)
  } catch {
    throw new CryptoInputError('recipient public key is not a usable X25519 key')
  }
  try {
    return sealShareWithKey(key, plaintext, aad, rng)
  } finally {
    key.fill(0)
  }
}

/** sealShare under a key from sharePairKeys (its `seal` key for this recipient). */
export function sealShareWithKey (key: Uint8Array, plaintext: Uint8Array, aad: ShareAad, rng?: Rng): Uint8Array {
  checkKey(key, 'share key')
  const ad = encodeShareAad(aad)
  const nonce = (rng ?? randomBytes)(SHARE_NONCE_BYTES)
  if (!(nonce instanceof Uint8Array) || nonce.length !== SHARE_NONCE_BYTES) throw new CryptoInputError('rng returned the wrong number of bytes')
  return concat(nonce, chacha20poly1305(key, nonce, ad).encrypt(plaintext))
}

/** Open a sealed share; DecryptionError on any failure (wrong key, tampered bytes, other aad). */
export function openShare (recipientSecret: Uint8Array, senderPublic: Uint8Array, sealed: Uint8Array, aad: ShareAad): Uint8Array {
  checkKey(recipientSecret, 'recipient secret key')
  checkSealed(sealed)
  if (!(senderPublic instanceof Uint8Array) || senderPublic.length !== X25519_KEY_BYTES) throw new DecryptionError('sender public key is malformed')
  encodeShareAad(aad)
  let key: Uint8Array | undefined
  try {
    key = shareKey(recipientSecret, senderPublic, x25519.getPublicKey(recipientSecret), senderPublic)
  } catch {
    throw new DecryptionError('sealed share does not open (wrong key, tampered bytes or different session/sender/recipient)')
  }
  try {
    return openShareWithKey(key, sealed, aad)
  } finally {
    key.fill(0)
  }
}

/** openShare under a key from sharePairKeys (its `open` key for this sender). */
export function openShareWithKey (key: Uint8Array, sealed: Uint8Array, aad: ShareAad): Uint8Array {
  checkKey(key, 'share key')
  checkSealed(sealed)
  const ad = encodeShareAad(aad)
  try {
    return chacha20poly1305(key, sealed.subarray(0, SHARE_NONCE_BYTES), ad).decrypt(sealed.subarray(SHARE_NONCE_BYTES))
  } catch {
    throw new DecryptionError('sealed share does not open (wrong key, tampered bytes or different session/sender/recipient)')
  }
}

function checkSealed (sealed: Uint8Array): void {
  if (!(sealed instanceof Uint8Array) || sealed.length < SHARE_NONCE_BYTES + SHARE_TAG_BYTES || sealed.length > MAX_SEALED_SHARE_BYTES) {
    throw new DecryptionError('sealed share has an impossible length')
  }
}

// Exposed for the DKG: does this public key give a usable shared secret with ours?
export function isUsablePeerKey (ownSecret: Uint8Array, peerPublic: Uint8Array): boolean {
  if (!(peerPublic instanceof Uint8Array) || peerPublic.length !== X25519_KEY_BYTES) return false
  try {
    x25519.getSharedSecret(ownSecret, peerPublic).fill(0)
    return true
  } catch {
    return false
  }
}
