import { ed25519 } from '@noble/curves/ed25519.js'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { KeystoreError } from '../crypto/errors.js'
import { DEFAULT_SCRYPT, deriveKeystoreKey, newKeystoreParams, openWithKey, sealWithKey, type ScryptCost } from '../crypto/keystore.js'
import { PolicyError } from './policy.js'

/**
 * A person's Ed25519 signing key in a file (issue 12): an admin's, who signs policy versions, or
 * a client's or an approver's, who sign requests. The secret is sealed under a passphrase as the
 * key store is (scrypt, XChaCha20-Poly1305), bound to the file's role and public key; the file
 * is written 0600 by its caller and belongs off the coordinator's host.
 */

export const KEY_FILE_FORMAT = 'mpc-wallet/signing-key/1'
export const KEY_FILE_ROLES = ['admin', 'client'] as const
export type KeyFileRole = typeof KEY_FILE_ROLES[number]

export interface KeyFile {
  format: typeof KEY_FILE_FORMAT
  role: KeyFileRole
  /** Ed25519 public key, hex */
  publicKey: string
  scrypt: { logN: number, r: number, p: number, salt: string }
  /** the 32-byte secret, sealed; hex */
  sealed: string
}

/** An opened key file: its public key and a signer (the secret stays inside). */
export interface SigningKey {
  role: KeyFileRole
  publicKey: string
  sign: (data: Uint8Array) => string
}

const aad = (role: string, publicKey: string): Uint8Array => fromString(`${KEY_FILE_FORMAT}\n${role}\n${publicKey}`)

/** A new key, sealed under `passphrase`: the file's content and the public key. */
export async function newKeyFile (role: KeyFileRole, passphrase: string, cost: ScryptCost = DEFAULT_SCRYPT): Promise<KeyFile> {
  const secret = ed25519.utils.randomSecretKey()
  try {
    const publicKey = toString(ed25519.getPublicKey(secret), 'hex')
    const params = newKeystoreParams(cost)
    const key = await deriveKeystoreKey(passphrase, params)
    try {
      return {
        format: KEY_FILE_FORMAT,
        role,
        publicKey,
        scrypt: { logN: params.logN, r: params.r, p: params.p, salt: toString(params.salt, 'hex') },
        sealed: toString(sealWithKey(key, secret, aad(role, publicKey)), 'hex')
      }
    } finally {
      key.fill(0)
    }
  } finally {
    secret.fill(0)
  }
}

function parseKeyFile (value: unknown): KeyFile {
  const f = value as Partial<KeyFile> | null
  if (typeof f !== 'object' || f === null || f.format !== KEY_FILE_FORMAT) throw new PolicyError('malformed', `not a signing key file (format ${KEY_FILE_FORMAT})`)
  if (!KEY_FILE_ROLES.includes(f.role as KeyFileRole)) throw new PolicyError('malformed', `the key file's role must be one of ${KEY_FILE_ROLES.join(', ')}`)
  if (typeof f.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(f.publicKey)) throw new PolicyError('malformed', 'the key file\'s public key is not 32 bytes of hex')
  const s = f.scrypt
  if (typeof s !== 'object' || s === null || typeof s.salt !== 'string' || !/^[0-9a-f]+$/.test(s.salt) || ![s.logN, s.r, s.p].every(Number.isSafeInteger)) throw new PolicyError('malformed', 'the key file\'s scrypt parameters are malformed')
  if (typeof f.sealed !== 'string' || !/^[0-9a-f]+$/.test(f.sealed)) throw new PolicyError('malformed', 'the key file\'s sealed secret is not hex')
  return f as KeyFile
}

/**
 * Opens a key file's JSON with its passphrase. A wrong passphrase, or a file whose role or public
 * key was edited, is a KeystoreError; a secret that does not give the file's public key too.
 */
export async function openKeyFile (json: string, passphrase: string): Promise<SigningKey> {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    throw new PolicyError('malformed', 'the key file is not JSON')
  }
  const file = parseKeyFile(value)
  const key = await deriveKeystoreKey(passphrase, { logN: file.scrypt.logN, r: file.scrypt.r, p: file.scrypt.p, salt: fromString(file.scrypt.salt, 'hex') })
  let secret: Uint8Array
  try {
    secret = openWithKey(key, fromString(file.sealed, 'hex'), aad(file.role, file.publicKey))
  } catch (err) {
    if (err instanceof KeystoreError) throw new KeystoreError('the key file does not open: wrong passphrase, or the file was changed')
    throw err
  } finally {
    key.fill(0)
  }
  if (secret.length !== 32 || toString(ed25519.getPublicKey(secret), 'hex') !== file.publicKey) throw new KeystoreError('the key file\'s secret does not match its public key')
  return { role: file.role, publicKey: file.publicKey, sign: (data) => toString(ed25519.sign(data, secret), 'hex') }
}
