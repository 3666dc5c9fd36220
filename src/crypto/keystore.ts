/**
 * Key shares at rest: a passphrase stretched with scrypt (RFC 7914) into a 32-byte key, then
 * XChaCha20-Poly1305 with a random 24-byte nonce. scrypt is Node's own (OpenSSL, on the libuv
 * threadpool): its 128 MiB work buffer lives outside the JS heap and is freed when it returns,
 * where a JS scrypt would leave the heap grown by as much for the life of the process. The
 * cipher is @noble's. No I/O here.
 */
import { scrypt } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { equalBytes } from '@noble/ciphers/utils.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { concat, lp, Reader, utf8 } from './bytes.js'
import { CryptoInputError, KeystoreError } from './errors.js'
import type { Rng } from './suites.js'

export interface KeystoreParams { logN: number, r: number, p: number, salt: Uint8Array }
export interface ScryptCost { logN: number, r: number, p: number }

/** 2^17 * 8 * 128 bytes = 128 MiB and roughly a second of work per unlock. */
export const DEFAULT_SCRYPT: Readonly<ScryptCost> = Object.freeze({ logN: 17, r: 8, p: 1 })

export const KEYSTORE_MIN_LOG_N = 4 // low enough for fast tests; real stores use DEFAULT_SCRYPT
export const KEYSTORE_MAX_LOG_N = 22
export const KEYSTORE_MAX_R = 32
export const KEYSTORE_MAX_P = 16
/** scrypt needs 128 * r * N bytes; refuse parameters that would ask for more than 1 GiB. */
export const KEYSTORE_MAX_MEMORY = 2 ** 30
/**
 * The memory cap handed to scrypt: OpenSSL counts 128 * r * (N + 2) for its work buffer plus
 * 128 * r * p for the block buffer, a little more than KEYSTORE_MAX_MEMORY at the largest
 * accepted parameters (r = 32, p = 16: 8 KiB + 64 KiB more).
 */
const SCRYPT_MAXMEM = KEYSTORE_MAX_MEMORY + 2 ** 20
export const KEYSTORE_SALT_BYTES = 32
const MIN_SALT = 16
const MAX_SALT = 64

const PARAMS_VERSION = 1
const SEAL_VERSION = 1
const NONCE_BYTES = 24
const TAG_BYTES = 16
const KEY_BYTES = 32
const SEAL_DOMAIN = 'mpc-wallet/keystore/seal/v1'
const CHECK_AAD = utf8('mpc-wallet/keystore/passphrase-check/v1')
const CHECK_PLAINTEXT = utf8('mpc-wallet keystore passphrase check, version 1')
const CORRUPT = 'wrong passphrase or corrupt data'

/** Why these cost parameters are refused, or undefined when they are acceptable. */
function costProblem (c: ScryptCost): string | undefined {
  const { logN, r, p } = c
  if (!Number.isSafeInteger(logN) || logN < KEYSTORE_MIN_LOG_N || logN > KEYSTORE_MAX_LOG_N) return `scrypt logN must be an integer in ${KEYSTORE_MIN_LOG_N}..${KEYSTORE_MAX_LOG_N}`
  if (!Number.isSafeInteger(r) || r < 1 || r > KEYSTORE_MAX_R) return `scrypt r must be an integer in 1..${KEYSTORE_MAX_R}`
  if (!Number.isSafeInteger(p) || p < 1 || p > KEYSTORE_MAX_P) return `scrypt p must be an integer in 1..${KEYSTORE_MAX_P}`
  if (128 * r * 2 ** logN > KEYSTORE_MAX_MEMORY) return 'scrypt parameters need more than 1 GiB of memory'
  return undefined
}

function checkParams (params: KeystoreParams, err: (m: string) => Error): void {
  if (typeof params !== 'object' || params === null) throw err('keystore params missing')
  const problem = costProblem(params)
  if (problem !== undefined) throw err(problem)
  if (!(params.salt instanceof Uint8Array) || params.salt.length < MIN_SALT || params.salt.length > MAX_SALT) throw err(`keystore salt must be ${MIN_SALT}..${MAX_SALT} bytes`)
}

/** Fresh params with a random salt. Cost defaults to DEFAULT_SCRYPT. */
export function newKeystoreParams (cost: ScryptCost = DEFAULT_SCRYPT, rng?: Rng): KeystoreParams {
  const problem = costProblem(cost)
  if (problem !== undefined) throw new CryptoInputError(problem)
  const salt = (rng ?? randomBytes)(KEYSTORE_SALT_BYTES)
  if (!(salt instanceof Uint8Array) || salt.length !== KEYSTORE_SALT_BYTES) throw new CryptoInputError('rng returned the wrong number of bytes')
  return { logN: cost.logN, r: cost.r, p: cost.p, salt: Uint8Array.from(salt) }
}

/** version(1) || logN(1) || r(1) || p(1) || saltLength(1) || salt */
export function encodeKeystoreParams (p: KeystoreParams): Uint8Array {
  checkParams(p, (m) => new CryptoInputError(m))
  return concat(Uint8Array.of(PARAMS_VERSION, p.logN, p.r, p.p, p.salt.length), p.salt)
}

/** Strict inverse of encodeKeystoreParams; KeystoreError on anything else. */
export function decodeKeystoreParams (b: Uint8Array): KeystoreParams {
  if (!(b instanceof Uint8Array)) throw new KeystoreError('keystore params must be bytes')
  const r = new Reader(b, (why) => new KeystoreError(`corrupt keystore params (${why})`))
  const version = r.u8()
  if (version !== PARAMS_VERSION) throw new KeystoreError(`unsupported keystore params version ${version}`)
  const logN = r.u8()
  const rr = r.u8()
  const p = r.u8()
  const salt = r.take(r.u8())
  r.end()
  const params = { logN, r: rr, p, salt }
  checkParams(params, (m) => new KeystoreError(`corrupt keystore params (${m})`))
  return params
}

/**
 * scrypt(NFKC(passphrase), salt) -> 32-byte key, computed off the JS heap and off the event loop
 * (about a second at DEFAULT_SCRYPT). Rejects with KeystoreError for an empty passphrase or
 * unacceptable params.
 */
export async function deriveKeystoreKey (passphrase: string, params: KeystoreParams): Promise<Uint8Array> {
  if (typeof passphrase !== 'string') throw new KeystoreError('passphrase must be a string')
  const normalized = passphrase.normalize('NFKC')
  if (normalized.length === 0) throw new KeystoreError('refusing an empty passphrase')
  checkParams(params, (m) => new KeystoreError(m))
  const pw = utf8(normalized)
  try {
    const derived = await new Promise<Buffer>((resolve, reject) => {
      scrypt(pw, params.salt, KEY_BYTES, { N: 2 ** params.logN, r: params.r, p: params.p, maxmem: SCRYPT_MAXMEM }, (err, key) => {
        if (err !== null) reject(new KeystoreError(`scrypt failed: ${err.message}`))
        else resolve(key)
      })
    })
    // A copy of our own, so the key is a plain Uint8Array and not a view on a shared Buffer.
    const key = Uint8Array.from(derived)
    derived.fill(0)
    return key
  } finally {
    pw.fill(0)
  }
}

function checkKey (key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new CryptoInputError(`keystore key must be ${KEY_BYTES} bytes`)
}

// The version byte is authenticated along with the caller's associated data.
const sealAad = (version: number, aad: Uint8Array): Uint8Array => concat(lp(SEAL_DOMAIN), Uint8Array.of(version), lp(aad))

/** version(1) || 24-byte random nonce || XChaCha20-Poly1305 ciphertext and tag. */
export function sealWithKey (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, rng?: Rng): Uint8Array {
  checkKey(key)
  if (!(plaintext instanceof Uint8Array) || !(aad instanceof Uint8Array)) throw new CryptoInputError('plaintext and aad must be bytes')
  const nonce = (rng ?? randomBytes)(NONCE_BYTES)
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) throw new CryptoInputError('rng returned the wrong number of bytes')
  return concat(Uint8Array.of(SEAL_VERSION), nonce, xchacha20poly1305(key, nonce, sealAad(SEAL_VERSION, aad)).encrypt(plaintext))
}

/** Inverse of sealWithKey under the same key and aad; KeystoreError otherwise. */
export function openWithKey (key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKey(key)
  if (!(aad instanceof Uint8Array)) throw new CryptoInputError('aad must be bytes')
  if (!(sealed instanceof Uint8Array) || sealed.length < 1 + NONCE_BYTES + TAG_BYTES) throw new KeystoreError(CORRUPT)
  if (sealed[0] !== SEAL_VERSION) throw new KeystoreError(`unsupported sealed data version ${sealed[0]}`)
  try {
    const nonce = sealed.subarray(1, 1 + NONCE_BYTES)
    return xchacha20poly1305(key, nonce, sealAad(SEAL_VERSION, aad)).decrypt(sealed.subarray(1 + NONCE_BYTES))
  } catch {
    throw new KeystoreError(CORRUPT)
  }
}

/** A known constant sealed under the key: store it beside the params to catch a wrong passphrase at start. */
export function makePassphraseCheck (key: Uint8Array, rng?: Rng): Uint8Array {
  return sealWithKey(key, CHECK_PLAINTEXT, CHECK_AAD, rng)
}

/** True when `check` (from makePassphraseCheck) opens under `key`. Never throws on bad `check`. */
export function passphraseMatches (key: Uint8Array, check: Uint8Array): boolean {
  checkKey(key)
  try {
    return equalBytes(openWithKey(key, check, CHECK_AAD), CHECK_PLAINTEXT)
  } catch {
    return false
  }
}
