import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { formatJoinToken, InvalidTokenError, newTokenSecret, parseJoinToken, tokenSecretMatches, type JoinToken } from '../../src/protocols/token.js'
import type { PeerId } from '@libp2p/interface'

let coordinator: PeerId
let token: JoinToken

beforeAll(async () => {
  coordinator = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  token = { clusterId: 'mpc-test', coordinator, adminSetHash: 'ab'.repeat(32), secret: newTokenSecret() }
})

describe('join token format', () => {
  it('round-trips cluster, coordinator, admin set hash and secret', () => {
    const text = formatJoinToken(token)
    expect(text).toBe(`mpcw2.mpc-test.${coordinator.toString()}.${token.adminSetHash}.${token.secret}`)
    const parsed = parseJoinToken(text)
    expect(parsed.clusterId).toBe('mpc-test')
    expect(parsed.adminSetHash).toBe(token.adminSetHash)
    expect(parsed.coordinator.equals(coordinator)).toBe(true)
    expect(parsed.secret).toBe(token.secret)
  })

  it('tolerates surrounding whitespace from copy and paste', () => {
    const parsed = parseJoinToken(`  ${formatJoinToken(token)}\n`)
    expect(parsed.coordinator.equals(coordinator)).toBe(true)
    expect(parsed.secret).toBe(token.secret)
  })

  it('makes a fresh 43-character base64url secret each time', () => {
    const a = newTokenSecret()
    const b = newTokenSecret()
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(a).not.toBe(b)
  })

  const h = 'ab'.repeat(32)
  const bad: Array<[string, () => string, RegExp]> = [
    ['wrong prefix', () => formatJoinToken(token).replace(/^mpcw2/, 'mpcw3'), /must look like/],
    ['an old invitation without an admin set', () => `mpcw1.mpc-test.${coordinator.toString()}.${token.secret}`, /names no admin set/],
    ['too few parts', () => `mpcw2.mpc-test.${coordinator.toString()}`, /must look like/],
    ['too many parts', () => `${formatJoinToken(token)}.extra`, /must look like/],
    ['empty text', () => '', /must look like/],
    ['uppercase cluster id', () => `mpcw2.MPC.${coordinator.toString()}.${h}.${token.secret}`, /invalid cluster id/],
    ['empty cluster id', () => `mpcw2..${coordinator.toString()}.${h}.${token.secret}`, /invalid cluster id/],
    ['short admin set hash', () => `mpcw2.mpc-test.${coordinator.toString()}.${h.slice(2)}.${token.secret}`, /invalid admin set hash/],
    ['uppercase admin set hash', () => `mpcw2.mpc-test.${coordinator.toString()}.${h.toUpperCase()}.${token.secret}`, /invalid admin set hash/],
    ['secret one character short', () => `mpcw2.mpc-test.${coordinator.toString()}.${h}.${token.secret.slice(1)}`, /invalid secret/],
    ['secret one character long', () => `mpcw2.mpc-test.${coordinator.toString()}.${h}.${token.secret}A`, /invalid secret/],
    ['secret in standard base64', () => `mpcw2.mpc-test.${coordinator.toString()}.${h}.${'+'.repeat(43)}`, /invalid secret/],
    ['empty secret', () => `mpcw2.mpc-test.${coordinator.toString()}.${h}.`, /invalid secret/],
    ['garbage peer id', () => `mpcw2.mpc-test.not-a-peer-id.${h}.${token.secret}`, /invalid coordinator peer id/],
    ['truncated peer id', () => `mpcw2.mpc-test.${coordinator.toString().slice(0, -4)}.${h}.${token.secret}`, /invalid coordinator peer id/]
  ]

  it.each(bad)('refuses a token with %s', (_why, make, message) => {
    const text = make()
    expect(() => parseJoinToken(text)).toThrow(InvalidTokenError)
    expect(() => parseJoinToken(text)).toThrow(message)
  })

  it('never echoes the secret in its error messages', () => {
    const text = `mpcw2.mpc-test.not-a-peer-id.${'ab'.repeat(32)}.${token.secret}`
    let error: unknown
    try {
      parseJoinToken(text)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(InvalidTokenError)
    expect((error as Error).message).not.toContain(token.secret)
  })
})

describe('tokenSecretMatches', () => {
  it('is true for the same secret', () => {
    expect(tokenSecretMatches(token.secret, token.secret)).toBe(true)
  })

  it('is false for a different secret, a prefix or an empty string', () => {
    expect(tokenSecretMatches(newTokenSecret(), token.secret)).toBe(false)
    expect(tokenSecretMatches(token.secret.slice(0, 42), token.secret)).toBe(false)
    expect(tokenSecretMatches(`${token.secret}x`, token.secret)).toBe(false)
    expect(tokenSecretMatches('', token.secret)).toBe(false)
  })
})
