import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { formatJoinToken, InvalidTokenError, newTokenSecret, parseJoinToken, tokenSecretMatches, type JoinToken } from '../../src/protocols/token.js'
import type { PeerId } from '@libp2p/interface'

let coordinator: PeerId
let token: JoinToken

beforeAll(async () => {
  coordinator = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  token = { clusterId: 'mpc-test', coordinator, secret: newTokenSecret() }
})

describe('join token format', () => {
  it('round-trips cluster, coordinator and secret', () => {
    const text = formatJoinToken(token)
    expect(text).toBe(`mpcw1.mpc-test.${coordinator.toString()}.${token.secret}`)
    const parsed = parseJoinToken(text)
    expect(parsed.clusterId).toBe('mpc-test')
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

  const bad: Array<[string, () => string, RegExp]> = [
    ['wrong prefix', () => formatJoinToken(token).replace(/^mpcw1/, 'mpcw2'), /must look like/],
    ['too few parts', () => `mpcw1.mpc-test.${coordinator.toString()}`, /must look like/],
    ['too many parts', () => `${formatJoinToken(token)}.extra`, /must look like/],
    ['empty text', () => '', /must look like/],
    ['uppercase cluster id', () => `mpcw1.MPC.${coordinator.toString()}.${token.secret}`, /invalid cluster id/],
    ['empty cluster id', () => `mpcw1..${coordinator.toString()}.${token.secret}`, /invalid cluster id/],
    ['secret one character short', () => `mpcw1.mpc-test.${coordinator.toString()}.${token.secret.slice(1)}`, /invalid secret/],
    ['secret one character long', () => `mpcw1.mpc-test.${coordinator.toString()}.${token.secret}A`, /invalid secret/],
    ['secret in standard base64', () => `mpcw1.mpc-test.${coordinator.toString()}.${'+'.repeat(43)}`, /invalid secret/],
    ['empty secret', () => `mpcw1.mpc-test.${coordinator.toString()}.`, /invalid secret/],
    ['garbage peer id', () => `mpcw1.mpc-test.not-a-peer-id.${token.secret}`, /invalid coordinator peer id/],
    ['truncated peer id', () => `mpcw1.mpc-test.${coordinator.toString().slice(0, -4)}.${token.secret}`, /invalid coordinator peer id/]
  ]

  it.each(bad)('refuses a token with %s', (_why, make, message) => {
    const text = make()
    expect(() => parseJoinToken(text)).toThrow(InvalidTokenError)
    expect(() => parseJoinToken(text)).toThrow(message)
  })

  it('never echoes the secret in its error messages', () => {
    const text = `mpcw1.mpc-test.not-a-peer-id.${token.secret}`
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
