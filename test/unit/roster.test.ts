import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { beforeAll, describe, expect, it } from 'vitest'
import { MalformedMessageError } from '../../src/protocols/errors.js'
import { checkRosterBounds, isRosterMember, openSignedRoster, RosterBoundsError, RosterVerificationError, signRoster, type RosterState } from '../../src/protocols/roster.js'
import { MAX_ADDR_BYTES, COMMAND, MAX_MEMBERS } from '../../src/protocols/constants.js'
import type { SignedRoster } from '../../src/protocols/messages.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const CLUSTER = 'mpc-test'

let key: PrivateKey
let coordinator: PeerId
let memberA: PeerId
let memberB: PeerId
let roster: RosterState

beforeAll(async () => {
  key = await generateKeyPair('Ed25519')
  coordinator = peerIdFromPrivateKey(key)
  memberA = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  memberB = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  roster = {
    clusterId: CLUSTER,
    epoch: 5,
    coordinator,
    members: [
      { peerId: memberA, addrs: [multiaddr('/ip4/127.0.0.1/tcp/4001'), multiaddr('/ip6/::1/tcp/4001')], joinedAtMs: 1_700_000_000_000 },
      { peerId: memberB, addrs: [multiaddr('/dns4/node-b.example/tcp/4002')], joinedAtMs: 1_700_000_000_500 }
    ],
    issuedAtMs: 1_700_000_001_000
  }
})

function flipped (bytes: Uint8Array, index: number): Uint8Array {
  const copy = bytes.slice()
  copy[index] = (copy[index] ?? 0) ^ 0x01
  return copy
}

describe('signRoster / openSignedRoster', () => {
  it('round-trips epoch, coordinator, members, addrs and times', async () => {
    const { signed } = await signRoster(key, roster)
    const { roster: opened, signed: kept } = await openSignedRoster(signed, { clusterId: CLUSTER, coordinator })
    expect(opened.clusterId).toBe(CLUSTER)
    expect(opened.epoch).toBe(5)
    expect(opened.issuedAtMs).toBe(1_700_000_001_000)
    expect(opened.coordinator.equals(coordinator)).toBe(true)
    expect(opened.members.map(m => m.peerId.toString())).toEqual([memberA.toString(), memberB.toString()])
    expect(opened.members.map(m => m.addrs.map(a => a.toString()))).toEqual([
      ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001'],
      ['/dns4/node-b.example/tcp/4002']
    ])
    expect(opened.members.map(m => m.joinedAtMs)).toEqual([1_700_000_000_000, 1_700_000_000_500])
    // The exact signed bytes are kept, so the roster can be forwarded and re-verified.
    expect(kept).toBe(signed)
    expect(isRosterMember(opened, memberB)).toBe(true)
    expect(isRosterMember(opened, coordinator.toString())).toBe(false)
  })

  it('opens an empty roster', async () => {
    const { signed } = await signRoster(key, { ...roster, members: [] })
    const { roster: opened } = await openSignedRoster(signed, { clusterId: CLUSTER, coordinator })
    expect(opened.members).toEqual([])
  })

  it('refuses the roster after any single bit flip in the roster bytes', async () => {
    const { signed } = await signRoster(key, roster)
    for (let i = 0; i < signed.roster.byteLength; i++) {
      const tampered: SignedRoster = { roster: flipped(signed.roster, i), signature: signed.signature }
      const err = await openSignedRoster(tampered, { clusterId: CLUSTER, coordinator }).then(() => undefined, (e: unknown) => e)
      expect(err, `flip at byte ${i}`).toBeDefined()
      expect(err instanceof RosterVerificationError || err instanceof MalformedMessageError, `flip at byte ${i}: ${String(err)}`).toBe(true)
    }
  })

  it('refuses a changed issue time with a signature error', async () => {
    const { signed } = await signRoster(key, roster)
    // The last byte ends the issuedAtMs varint: flipping its low bit still decodes, to another time.
    const tampered = { roster: flipped(signed.roster, signed.roster.byteLength - 1), signature: signed.signature }
    await expect(openSignedRoster(tampered, { clusterId: CLUSTER, coordinator })).rejects.toThrow(RosterVerificationError)
  })

  it('refuses the roster after a bit flip in the signature', async () => {
    const { signed } = await signRoster(key, roster)
    for (const i of [0, 31, 32, signed.signature.byteLength - 1]) {
      const tampered = { roster: signed.roster, signature: flipped(signed.signature, i) }
      await expect(openSignedRoster(tampered, { clusterId: CLUSTER, coordinator })).rejects.toThrow(RosterVerificationError)
    }
  })

  // A signature of the wrong length is a verification failure, not a TypeError from the key.
  it.each([
    ['truncated to 32 bytes', 32],
    ['empty', 0],
    ['65 bytes long', 65]
  ])('refuses a roster whose signature is %s with a verification error', async (_why, length) => {
    const { signed } = await signRoster(key, roster)
    const signature = new Uint8Array(length)
    signature.set(signed.signature.subarray(0, Math.min(length, signed.signature.byteLength)))
    await expect(openSignedRoster({ roster: signed.roster, signature }, { clusterId: CLUSTER, coordinator })).rejects.toThrow(RosterVerificationError)
  })

  it('refuses a roster when another coordinator is expected', async () => {
    const { signed } = await signRoster(key, roster)
    await expect(openSignedRoster(signed, { clusterId: CLUSTER, coordinator: memberA })).rejects.toThrow(RosterVerificationError)
  })

  it('refuses a roster that names the expected coordinator but is signed by another key', async () => {
    const { signed } = await signRoster(await generateKeyPair('Ed25519'), roster)
    await expect(openSignedRoster(signed, { clusterId: CLUSTER, coordinator })).rejects.toThrow(RosterVerificationError)
  })

  it('refuses a correctly signed roster of another cluster', async () => {
    const { signed } = await signRoster(key, { ...roster, clusterId: 'other-cluster' })
    await expect(openSignedRoster(signed, { clusterId: CLUSTER, coordinator })).rejects.toThrow(RosterVerificationError)
  })

  it('refuses a signed roster whose cluster id is not a valid cluster id', async () => {
    const { signed } = await signRoster(key, { ...roster, clusterId: 'Not Valid' })
    await expect(openSignedRoster(signed, { clusterId: CLUSTER, coordinator })).rejects.toThrow(MalformedMessageError)
  })

  it('refuses a signed roster that lists a member twice', async () => {
    const duplicate = { ...roster, members: [...roster.members, { peerId: memberA, addrs: [], joinedAtMs: 3 }] }
    const { signed } = await signRoster(key, duplicate)
    await expect(openSignedRoster(signed, { clusterId: CLUSTER, coordinator })).rejects.toThrow(MalformedMessageError)
    await expect(openSignedRoster(signed, { clusterId: CLUSTER, coordinator })).rejects.toThrow(/twice/)
  })
})

describe('roster bounds, checked before a change is signed', () => {
  /** A member advertising `addrs` addresses of about `bytes` bytes each (a long DNS name). */
  async function member (addrs: number, bytes: number): Promise<RosterState['members'][number]> {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const host = 'h'.repeat(Math.max(1, bytes - 6)) // dns4 code, length varint, tcp code and port: 6 bytes
    return { peerId, addrs: Array.from({ length: addrs }, (_, i) => multiaddr(`/dns4/${host}/tcp/${4000 + i}`)), joinedAtMs: 1 }
  }

  it('refuses 16 members with 16 long addresses each: that roster would not fit a Join answer or a gossip message', async () => {
    const members = await Promise.all(Array.from({ length: 16 }, async () => await member(16, MAX_ADDR_BYTES)))
    const big = { ...roster, members }
    expect(() => { checkRosterBounds(big) }).toThrow(RosterBoundsError)
    expect(() => { checkRosterBounds(big) }).toThrow(/roster would be \d+ bytes, over its limit of 61440/)
    // What the check prevents: the signed roster is larger than a command or a gossip message may be.
    const signed = await signRoster(key, big)
    expect(signed.signed.roster.length).toBeGreaterThan(COMMAND.maxBytes)
  })

  it('refuses a 257th member, and a roster at the cap (256 members) still decodes, so the coordinator restarts with it', async () => {
    const members = await Promise.all(Array.from({ length: MAX_MEMBERS }, async () => await member(2, 20)))
    const full = { ...roster, members }
    checkRosterBounds(full)
    const reopened = await openSignedRoster((await signRoster(key, full)).signed, { clusterId: CLUSTER, coordinator })
    expect(reopened.roster.members).toHaveLength(MAX_MEMBERS)
    const oneMore = await member(1, 20)
    expect(() => { checkRosterBounds({ ...full, members: [...members, oneMore] }) }).toThrow(/cluster is full: 256 members at most/)
    expect(() => { checkRosterBounds(full, 10) }).toThrow(/cluster is full: 10 members at most/)
  })

  it('refuses too many or too long addresses for one member', async () => {
    expect(() => { checkRosterBounds({ ...roster, members: [roster.members[0]!, { ...roster.members[1]!, addrs: Array.from({ length: 17 }, (_, i) => multiaddr(`/ip4/10.0.0.1/tcp/${i + 1}`)) }] }) }).toThrow(/17 addresses; at most 16/)
    const long = await member(1, 300)
    expect(() => { checkRosterBounds({ ...roster, members: [long] }) }).toThrow(/bytes; at most 256/)
  })
})
