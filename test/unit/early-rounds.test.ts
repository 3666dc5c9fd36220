import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { EarlyRounds } from '../../src/peer/early-rounds.js'
import type { RoundMessage } from '../../src/protocols/messages.js'
import type { PeerId } from '@libp2p/interface'

let a: PeerId
let b: PeerId

beforeAll(async () => {
  a = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  b = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
})

/** A round-1 message of about `bytes` bytes (its proof field padded). */
function round1 (sessionId: string, bytes = 100): RoundMessage {
  return { sessionId, dkgRound1: { commitment: [], proofOfKnowledge: new Uint8Array(Math.max(0, bytes - sessionId.length)), ephemeralPublicKey: new Uint8Array(0) } }
}

const LIMITS = { totalBytes: 1_000, perAuthorBytes: 600, sessions: 3, ttlMs: 10_000 }

describe('early rounds: messages of sessions not started here yet', () => {
  it('gives a session its messages once, in arrival order, and frees their room', () => {
    const early = new EarlyRounds(LIMITS)
    expect(early.add(round1('s1'), a)).toBe(true)
    expect(early.add(round1('s2'), a)).toBe(true)
    expect(early.add(round1('s1'), b)).toBe(true)
    expect(early.take('s1').map(e => e.author.toString())).toEqual([a.toString(), b.toString()])
    expect(early.take('s1')).toEqual([])
    expect(early.bytes).toBe(100)
    expect(early.take('s2')).toHaveLength(1)
    expect(early.bytes).toBe(0)
  })

  it('keeps one author within its share, so it cannot crowd out the others', () => {
    const early = new EarlyRounds(LIMITS)
    for (let i = 0; i < 6; i++) expect(early.add(round1('s1'), a)).toBe(true)
    expect(early.add(round1('s1'), a), 'the 7th 100-byte message of one author').toBe(false)
    expect(early.add(round1('s1'), b)).toBe(true)
    expect(early.take('s1').filter(e => e.author.equals(b))).toHaveLength(1)
  })

  it('keeps at most the total bytes and the number of sessions', () => {
    const early = new EarlyRounds({ ...LIMITS, totalBytes: 250 })
    expect(early.add(round1('s1'), a)).toBe(true)
    expect(early.add(round1('s2'), b)).toBe(true)
    expect(early.add(round1('s1'), b), 'past the total').toBe(false)
    const few = new EarlyRounds(LIMITS)
    for (const id of ['s1', 's2', 's3']) expect(few.add(round1(id, 10), a)).toBe(true)
    expect(few.add(round1('s4', 10), b), 'a fourth session').toBe(false)
    expect(few.add(round1('s3', 10), b), 'a known session').toBe(true)
  })

  it('forgets messages older than the time limit', () => {
    let now = 1_000_000
    const early = new EarlyRounds(LIMITS, () => now)
    early.add(round1('s1'), a)
    now += 6_000
    early.add(round1('s1'), b)
    now += 5_000
    expect(early.take('s1').map(e => e.author.toString())).toEqual([b.toString()])
    early.add(round1('s2'), a)
    now += 10_001
    expect(early.take('s2')).toEqual([])
    expect(early.bytes).toBe(0)
  })
})
