/**
 * Errors of the crypto layer. None of them ever carries secret bytes (shares, nonces, keys,
 * passphrases, plaintexts) in its message.
 */

/** The caller's input is unusable: message length, t/n bounds, unknown participant, bad encoding. */
export class CryptoInputError extends Error {
  override name = 'CryptoInputError'
}

/**
 * A protocol run cannot go on because identifiable participants misbehaved. `culprits` are the
 * participant names (peer id strings) exactly as the caller gave them in the session params.
 */
export class BlameError extends Error {
  override name = 'BlameError'
  constructor (readonly culprits: string[], readonly reason: string, message?: string) {
    super(message ?? `${reason}: ${culprits.join(', ')}`)
  }
}

/** A sealed share did not open: wrong key, tampered bytes or different associated data. */
export class DecryptionError extends Error {
  override name = 'DecryptionError'
}

/** Sealed data at rest did not open (wrong passphrase or corrupt data), or keystore params are bad. */
export class KeystoreError extends Error {
  override name = 'KeystoreError'
}
