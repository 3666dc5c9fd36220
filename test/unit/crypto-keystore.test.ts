import { beforeAll, describe, expect, it } from 'vitest'
import {
  CryptoInputError, decodeKeystoreParams, DEFAULT_SCRYPT, deriveKeystoreKey, encodeKeystoreParams, KeystoreError,
  makePassphraseCheck, newKeystoreParams, openWithKey, passphraseMatches, sealWithKey
} from '../../src/crypto/index.js'

const FAST = { logN: 6, r: 8, p: 1 }
const enc = new TextEncoder()

describe('keystore', () => {
  const params = newKeystoreParams(FAST)
  let key: Uint8Array
  beforeAll(async () => { key = await deriveKeystoreKey('correct horse battery staple', params) })

  it('derives a 32-byte key deterministically from passphrase and params', async () => {
    expect(key).toBeInstanceOf(Uint8Array)
    expect(key.length).toBe(32)
    expect(await deriveKeystoreKey('correct horse battery staple', params)).toEqual(key)
    expect(await deriveKeystoreKey('correct horse battery stapler', params)).not.toEqual(key)
    expect(await deriveKeystoreKey('correct horse battery staple', newKeystoreParams(FAST))).not.toEqual(key) // new salt
    // NFKC: the precomposed and decomposed forms of é are one passphrase
    expect(await deriveKeystoreKey('caf\u00e9', params)).toEqual(await deriveKeystoreKey('cafe\u0301', params))
  })

  it('refuses an empty passphrase, and params out of bounds', async () => {
    await expect(deriveKeystoreKey('', params)).rejects.toThrow(KeystoreError)
    await expect(deriveKeystoreKey('pass', { ...params, logN: 23 })).rejects.toThrow(KeystoreError)
    await expect(deriveKeystoreKey('pass', { ...params, salt: new Uint8Array(8) })).rejects.toThrow(KeystoreError)
  })

  it('seals and opens; sealed bytes do not contain the plaintext', () => {
    const plaintext = enc.encode('secret share bytes: 0123456789abcdef0123456789abcdef')
    const aad = enc.encode('key-id-1')
    const sealed = sealWithKey(key, plaintext, aad)
    expect(sealed[0]).toBe(1)
    expect(sealed.length).toBe(1 + 24 + plaintext.length + 16)
    expect(Buffer.from(sealed).includes(Buffer.from(plaintext.subarray(0, 12)))).toBe(false)
    expect(openWithKey(key, sealed, aad)).toEqual(plaintext)
    expect(() => openWithKey(key, sealed, enc.encode('key-id-2'))).toThrow(KeystoreError)
    const tampered = Uint8Array.from(sealed)
    tampered[30] = (tampered[30] ?? 0) ^ 1
    expect(() => openWithKey(key, tampered, aad)).toThrow('wrong passphrase or corrupt data')
    expect(() => openWithKey(key, sealed.subarray(0, 10), aad)).toThrow(KeystoreError)
    const otherVersion = Uint8Array.from(sealed)
    otherVersion[0] = 2
    expect(() => openWithKey(key, otherVersion, aad)).toThrow(KeystoreError)
  })

  it('detects a wrong passphrase with the check value and when opening', async () => {
    const check = makePassphraseCheck(key)
    expect(passphraseMatches(key, check)).toBe(true)
    const wrong = await deriveKeystoreKey('Correct horse battery staple', params)
    expect(passphraseMatches(wrong, check)).toBe(false)
    expect(passphraseMatches(key, new Uint8Array(50))).toBe(false)
    const sealed = sealWithKey(key, enc.encode('share'), new Uint8Array())
    expect(() => openWithKey(wrong, sealed, new Uint8Array())).toThrow(KeystoreError)
  })

  it('encodes and strictly decodes params', () => {
    const back = decodeKeystoreParams(encodeKeystoreParams(params))
    expect(back).toEqual(params)
    const bytes = encodeKeystoreParams(params)
    expect(() => decodeKeystoreParams(bytes.subarray(0, bytes.length - 1))).toThrow(KeystoreError)
    expect(() => decodeKeystoreParams(Uint8Array.from([...bytes, 0]))).toThrow(KeystoreError)
    for (const [i, v] of [[0, 9], [1, 3], [1, 23], [2, 0], [3, 0], [4, 4]] as const) {
      const b = Uint8Array.from(bytes)
      b[i] = v
      expect(() => decodeKeystoreParams(b), `byte ${i} = ${v}`).toThrow(KeystoreError)
    }
    expect(() => decodeKeystoreParams(new Uint8Array())).toThrow(KeystoreError)
  })

  it('bounds the cost parameters', () => {
    expect(DEFAULT_SCRYPT).toEqual({ logN: 17, r: 8, p: 1 })
    expect(() => newKeystoreParams({ logN: 3, r: 8, p: 1 })).toThrow(CryptoInputError)
    expect(() => newKeystoreParams({ logN: 23, r: 1, p: 1 })).toThrow(CryptoInputError)
    expect(() => newKeystoreParams({ logN: 22, r: 8, p: 1 })).toThrow(/1 GiB/)
    expect(() => newKeystoreParams({ logN: 10, r: 0, p: 1 })).toThrow(CryptoInputError)
    expect(() => newKeystoreParams({ logN: 10, r: 8, p: 1.5 })).toThrow(CryptoInputError)
    expect(newKeystoreParams(FAST, (n) => new Uint8Array(n).fill(3)).salt).toEqual(new Uint8Array(32).fill(3))
  })
})
