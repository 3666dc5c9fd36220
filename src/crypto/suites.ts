/**
 * The two FROST ciphersuites the wallet signs with (RFC 9591 via @noble/curves), their bounds,
 * and what a group key looks like to the outside world (hex, x-only key, Taproot address).
 */
import type { FROST } from '@noble/curves/abstract/frost.js'
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js'
import { schnorr_FROST, secp256k1 } from '@noble/curves/secp256k1.js'
import { bech32m } from '@scure/base'
import { concat, toHex } from './bytes.js'
import { CryptoInputError } from './errors.js'

/** Injectable randomness: returns `n` random bytes. Defaults everywhere to the platform CSPRNG. */
export type Rng = (n: number) => Uint8Array

/**
 * `ed25519`: FROST(Ed25519, SHA-512), RFC 9591 section 6.1; signatures verify as plain Ed25519.
 * `taproot`: FROST(secp256k1, SHA-256) with BIP-340 challenges (noble's `schnorr_FROST`); DKG
 * keys are tweaked with the empty Taproot merkle root (BIP-86), signatures verify as BIP-340.
 */
export type Scheme = 'ed25519' | 'taproot'

export const SCHEMES: readonly Scheme[] = Object.freeze(['ed25519', 'taproot'] as const)

export function isScheme (s: string): s is Scheme {
  return (SCHEMES as readonly string[]).includes(s)
}

function assertScheme (scheme: string): asserts scheme is Scheme {
  if (!isScheme(scheme)) throw new CryptoInputError(`unknown scheme ${JSON.stringify(String(scheme).slice(0, 32))}`)
}

export function frostSuite (scheme: Scheme): FROST {
  assertScheme(scheme)
  return scheme === 'ed25519' ? ed25519_FROST : schnorr_FROST
}

/** Serialized element length of each suite (RFC 9591 sections 6.1 and 6.5). Scalars are 32 bytes in both. */
export const POINT_BYTES: Readonly<Record<Scheme, number>> = Object.freeze({ ed25519: 32, taproot: 33 })
export const SCALAR_BYTES = 32

/**
 * Strict element decoding, RFC 9591 section 3.1 DeserializeElement: on the curve, not the
 * identity, in the prime-order subgroup, canonical encoding. Returns false instead of throwing.
 */
export function isValidElement (scheme: Scheme, bytes: Uint8Array): boolean {
  if (bytes.length !== POINT_BYTES[scheme]) return false
  try {
    if (scheme === 'ed25519') {
      const p = ed25519.Point.fromBytes(bytes, false)
      p.assertValidity()
      return !p.is0() && p.isTorsionFree()
    }
    const p = secp256k1.Point.fromBytes(bytes)
    p.assertValidity()
    return !p.is0() && p.toBytes(true).every((b, i) => b === bytes[i])
  } catch {
    return false
  }
}

/** The scheme whose serialized element has this length (used by self-describing encodings). */
export function schemeOfElementLength (len: number): Scheme | undefined {
  if (len === POINT_BYTES.ed25519) return 'ed25519'
  if (len === POINT_BYTES.taproot) return 'taproot'
  return undefined
}

export const MAX_PARTIES = 64

/** RFC 9591 section 3 (and noble, like frost-rs): 2 <= MIN_PARTICIPANTS <= MAX_PARTICIPANTS. */
export function validateThreshold (threshold: number, parties: number): void {
  if (!Number.isSafeInteger(threshold) || !Number.isSafeInteger(parties)) {
    throw new CryptoInputError(`threshold and party count must be integers (t=${threshold}, n=${parties})`)
  }
  if (parties < 2 || parties > MAX_PARTIES) {
    throw new CryptoInputError(`party count must be between 2 and ${MAX_PARTIES} (t=${threshold}, n=${parties})`)
  }
  if (threshold < 2 || threshold > parties) {
    throw new CryptoInputError(`threshold must satisfy 2 <= t <= n (t=${threshold}, n=${parties})`)
  }
}

export const MAX_SIGN_MESSAGE_BYTES = 16 * 1024
export const TAPROOT_MESSAGE_BYTES = 32

export function validateMessage (scheme: Scheme, message: Uint8Array): void {
  assertScheme(scheme)
  if (!(message instanceof Uint8Array)) throw new CryptoInputError('message must be bytes')
  if (scheme === 'taproot') {
    if (message.length !== TAPROOT_MESSAGE_BYTES) {
      throw new CryptoInputError(`a Taproot message is a 32-byte digest, as a sighash is (got ${message.length} bytes)`)
    }
    return
  }
  if (message.length < 1 || message.length > MAX_SIGN_MESSAGE_BYTES) {
    throw new CryptoInputError(`an Ed25519 message must be 1..${MAX_SIGN_MESSAGE_BYTES} bytes (got ${message.length})`)
  }
}

export type BitcoinNetwork = 'mainnet' | 'testnet' | 'regtest'

/** Bech32 human-readable parts of segwit addresses (BIP-173, BIP-350). */
export const BITCOIN_HRP: Readonly<Record<BitcoinNetwork, string>> = Object.freeze({ mainnet: 'bc', testnet: 'tb', regtest: 'bcrt' })

export interface GroupKeyDescription {
  /** hex of the key as noble gives it (taproot: 33-byte compressed, Ed25519: 32 bytes) */
  publicKey: string
  /** taproot: the 32-byte x-only output key (BIP-340), hex */
  xOnlyPublicKey?: string
  /** taproot: the bech32m P2TR address of the output key (BIP-341, BIP-350) */
  address?: string
}

/**
 * The group key as a wallet user sees it. For `taproot`, the key from DKG is already the
 * BIP-86 output key (noble tweaks DKG output with the empty merkle root), so the address pays
 * to its x coordinate directly: witness version 1, 32-byte program.
 */
export function describeGroupKey (scheme: Scheme, groupPublicKey: Uint8Array, network: BitcoinNetwork): GroupKeyDescription {
  assertScheme(scheme)
  if (!(groupPublicKey instanceof Uint8Array)) throw new CryptoInputError('group public key must be bytes')
  if (scheme === 'ed25519') {
    if (!isValidElement('ed25519', groupPublicKey)) throw new CryptoInputError('invalid Ed25519 group public key')
    return { publicKey: toHex(groupPublicKey) }
  }
  const hrp = BITCOIN_HRP[network]
  if (hrp === undefined) throw new CryptoInputError('unknown bitcoin network')
  let xOnly: Uint8Array
  if (groupPublicKey.length === 33 && isValidElement('taproot', groupPublicKey)) {
    xOnly = groupPublicKey.slice(1)
  } else if (groupPublicKey.length === 32 && isValidElement('taproot', concat(Uint8Array.of(2), groupPublicKey))) {
    xOnly = groupPublicKey.slice()
  } else {
    throw new CryptoInputError('invalid secp256k1 group public key (expected 33-byte compressed or 32-byte x-only)')
  }
  // BIP-341: a P2TR output is witness v1 with the 32-byte x-only output key as program.
  const address = bech32m.encode(hrp, [1, ...bech32m.toWords(xOnly)])
  return { publicKey: toHex(groupPublicKey), xOnlyPublicKey: toHex(xOnly), address }
}

/** Verify a group signature (Ed25519 or BIP-340). Never throws: false on anything malformed. */
export function verifySignature (scheme: Scheme, signature: Uint8Array, message: Uint8Array, groupPublicKey: Uint8Array): boolean {
  try {
    validateMessage(scheme, message)
    return frostSuite(scheme).verify(signature, message, groupPublicKey)
  } catch {
    return false
  }
}

/** RFC 9591 section 5: participant identifiers are the non-zero scalars 1..MAX_PARTICIPANTS. */
export function participantIdentifier (scheme: Scheme, index: number): string {
  if (!Number.isSafeInteger(index) || index < 1 || index > MAX_PARTIES) {
    throw new CryptoInputError(`participant index must be an integer in 1..${MAX_PARTIES} (got ${index})`)
  }
  return frostSuite(scheme).Identifier.fromNumber(index)
}

/** Noble's rng parameter type (its length argument is optional there). */
export function nobleRng (rng: Rng | undefined): ((n?: number) => Uint8Array<ArrayBuffer>) | undefined {
  if (rng === undefined) return undefined
  return (n = 32) => {
    const out = rng(n)
    if (!(out instanceof Uint8Array) || out.length !== n) throw new CryptoInputError(`rng returned the wrong number of bytes (wanted ${n})`)
    return Uint8Array.from(out)
  }
}
