/**
 * The key store's scrypt moved from @noble/hashes (in the JS heap) to Node's crypto.scrypt
 * (OpenSSL, off the heap). Stores written before the move must open unchanged: the fixtures
 * below were made by the noble implementation (src/crypto/keystore.ts before the change) with
 * fixed salts and nonces, and noble's scrypt stays here as the reference the new code is
 * compared with.
 */
import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js'
import { describe, expect, it } from 'vitest'
import {
  decodeKeystoreParams, deriveKeystoreKey, KeystoreError, newKeystoreParams, openWithKey, passphraseMatches
} from '../../src/crypto/index.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const enc = new TextEncoder()

/** What the noble keystore produced; `aad` and `plaintext` are what `sealed` was sealed with. */
const NOBLE_FIXTURES = [
  {
    passphrase: 'correct horse battery staple',
    cost: { logN: 10, r: 8, p: 1 },
    params: '010a08012001080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da',
    key: '749ada45e873c442f64de4cbfb4ef4ecefe5f08bd93409773e095927b77bdfe6',
    sealed: '01656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff06319b9ee65c55a7895d57e84e59f9532a3dad20730704ce820a97ca529ce7e38d1c2f7d7721d800d7e148a63c308691f61099f1e409cc6e9bdf2fe1',
    check: '01c9d0d7dee5ecf3fa01080f161d242b323940474e555c636aa7e1b35846c6772c39ebc0662041b216f352d2c7aa40fc52b75f0741351148333497997f53c97c1d60b86e0a9385867b027fa6b5356d653bf0094603b870a6'
  },
  {
    // Fullwidth C, a decomposed é, the ﬁ ligature and ½: NFKC changes each of them.
    passphrase: '\uff23afe\u0301 \ufb01ne \u00bd pass',
    cost: { logN: 8, r: 4, p: 2 },
    params: '0108040220020910171e252c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4db',
    key: '218cb677bd6bf042b00959a4836268571d379f41cf92a1b6af744a5643c2093b',
    sealed: '01666d747b828990979ea5acb3bac1c8cfd6dde4ebf2f90007971680e9ad1157815336a7fb79901af0a5bfce3c18367107178a2b30dfa3d09beeccc2f5653091da9e9195f9a90f3f300842af78f0a614d4181da4',
    check: '01cad1d8dfe6edf4fb020910171e252c333a41484f565d646bbcc1077a405fe72e67951d2bbadc449cad1860268e0dd94931b4a306a300982a68b68aedc64dde0f1634b6f1a99406e335c6f97d8af8a9d7e630ae3967e13c'
  }
] as const
const SEALED_PLAINTEXT = enc.encode('a share sealed by the noble scrypt keystore')
const SEALED_AAD = enc.encode('mpc-wallet/share/1\0node\0key-1')

describe('key stores written with the noble scrypt', () => {
  for (const f of NOBLE_FIXTURES) {
    it(`open unchanged (logN ${f.cost.logN}, r ${f.cost.r}, p ${f.cost.p})`, async () => {
      const params = decodeKeystoreParams(hex(f.params))
      expect({ logN: params.logN, r: params.r, p: params.p }).toEqual(f.cost)
      const key = await deriveKeystoreKey(f.passphrase, params)
      expect(Buffer.from(key).toString('hex')).toBe(f.key)
      expect(passphraseMatches(key, hex(f.check))).toBe(true)
      expect(openWithKey(key, hex(f.sealed), SEALED_AAD)).toEqual(SEALED_PLAINTEXT)
      // and a wrong passphrase is still caught by the check value
      const wrong = await deriveKeystoreKey(f.passphrase + ' ', params)
      expect(passphraseMatches(wrong, hex(f.check))).toBe(false)
      expect(() => openWithKey(wrong, hex(f.sealed), SEALED_AAD)).toThrow(KeystoreError)
    })
  }

  it('the NFKC form of the passphrase is what is stretched', async () => {
    const f = NOBLE_FIXTURES[1]
    expect(f.passphrase.normalize('NFKC')).not.toBe(f.passphrase)
    const key = await deriveKeystoreKey(f.passphrase.normalize('NFKC'), decodeKeystoreParams(hex(f.params)))
    expect(Buffer.from(key).toString('hex')).toBe(f.key)
  })
})

describe('Node\'s scrypt against the noble reference', () => {
  const costs = [
    { logN: 4, r: 1, p: 1 },
    { logN: 6, r: 8, p: 1 },
    { logN: 9, r: 2, p: 3 },
    { logN: 7, r: 16, p: 2 },
    { logN: 12, r: 8, p: 1 }
  ]
  const passphrases = ['correct horse battery staple', 'x', '\u00e9t\u00e9 \u2167 \ud83d\udd11 \u3000 \u0041\u030a']
  for (const cost of costs) {
    it(`gives the same key (logN ${cost.logN}, r ${cost.r}, p ${cost.p})`, async () => {
      for (const [i, passphrase] of passphrases.entries()) {
        const params = newKeystoreParams(cost, (n) => new Uint8Array(n).map((_, j) => (j * 31 + i + cost.logN) & 0xff))
        const reference = nobleScrypt(enc.encode(passphrase.normalize('NFKC')), params.salt, { N: 2 ** cost.logN, r: cost.r, p: cost.p, dkLen: 32 })
        expect(await deriveKeystoreKey(passphrase, params), passphrase).toEqual(reference)
      }
    })
  }

  it('gives the same key at the default cost (128 MiB of work memory, over Node\'s 32 MiB default cap)', async () => {
    const params = newKeystoreParams({ logN: 17, r: 8, p: 1 }, (n) => new Uint8Array(n).fill(9))
    const key = await deriveKeystoreKey('pass', params)
    expect(key).toEqual(nobleScrypt(enc.encode('pass'), params.salt, { N: 2 ** 17, r: 8, p: 1, dkLen: 32, maxmem: 2 ** 28 }))
  })
})
