import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Invitations } from '../../src/coordinator/invitations.js'
import { MAX_INVITATION_USES } from '../../src/coordinator/constants.js'
import { InvitationError } from '../../src/coordinator/errors.js'
import { formatJoinToken, newTokenSecret, parseJoinToken } from '../../src/protocols/token.js'
import { Store } from '../../src/store/store.js'
import { tempDir } from '../helpers.js'
import type { PeerId } from '@libp2p/interface'

const CLUSTER = 'mpc-invite'
const ADMIN_HASH = 'cd'.repeat(32)
const NOW = 1_800_000_000_000

describe('invitations on a real store', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let store: Store
  let invitations: Invitations
  let coordinator: PeerId
  let peer: PeerId

  beforeEach(async () => {
    dir = await tempDir('mpcw-invite-')
    store = await Store.open(dir.path)
    coordinator = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    invitations = new Invitations(store, { clusterId: CLUSTER, coordinator, adminSetHash: ADMIN_HASH })
  })
  afterEach(async () => {
    await store.close()
    await dir[Symbol.asyncDispose]()
  })

  it('is a join token of the usual shape for this cluster, stored only as a hash', async () => {
    const { token, invitation } = await invitations.create({ note: 'for host-7' }, NOW)
    const parsed = parseJoinToken(token)
    expect(parsed.clusterId).toBe(CLUSTER)
    expect(parsed.coordinator.equals(coordinator)).toBe(true)
    expect(invitation).toMatchObject({ uses: 1, usesLeft: 1, note: 'for host-7', expiresAtMs: NOW + 24 * 3600_000 })
    await store.close()
    for (const file of await readdir(join(dir.path, 'db'))) {
      expect((await readFile(join(dir.path, 'db', file))).includes(Buffer.from(parsed.secret))).toBe(false)
    }
    store = await Store.open(dir.path)
  })

  it('is used once, durably: a reopened store still knows it is used up', async () => {
    const { token } = await invitations.create({}, NOW)
    expect((await invitations.redeem(token, peer, NOW + 1)).usesLeft).toBe(0)
    await store.close()
    store = await Store.open(dir.path)
    invitations = new Invitations(store, { clusterId: CLUSTER, coordinator, adminSetHash: ADMIN_HASH })
    await expect(invitations.redeem(token, peer, NOW + 2)).rejects.toThrow(/used up \(1 use\)/)
  })

  it('refuses an expired, unknown, foreign or malformed invitation with the reason', async () => {
    const { token } = await invitations.create({ ttlMs: 60_000 }, NOW)
    await expect(invitations.redeem(token, peer, NOW + 60_000)).rejects.toThrow(/expired at/)
    await expect(invitations.redeem(formatJoinToken({ clusterId: CLUSTER, coordinator, adminSetHash: ADMIN_HASH, secret: newTokenSecret() }), peer, NOW)).rejects.toThrow(/unknown invitation/)
    await expect(invitations.redeem(formatJoinToken({ clusterId: 'mpc-other', coordinator, adminSetHash: ADMIN_HASH, secret: newTokenSecret() }), peer, NOW)).rejects.toThrow(/another cluster/)
    await expect(invitations.redeem('mpcw1.nonsense', peer, NOW)).rejects.toThrow(InvitationError)
    await expect(invitations.redeem('', peer, NOW)).rejects.toThrow(/invitation is required/)
  })

  it('refuses bad options: no uses, too many, a lifetime too short or too long, control characters in the note', async () => {
    await expect(invitations.create({ uses: 0 })).rejects.toThrow(/1 to 256 joins/)
    await expect(invitations.create({ uses: MAX_INVITATION_USES + 1 })).rejects.toThrow(InvitationError)
    await expect(invitations.create({ ttlMs: 10 })).rejects.toThrow(/1 s to 30 days/)
    await expect(invitations.create({ ttlMs: 31 * 24 * 3600_000 })).rejects.toThrow(/1 s to 30 days/)
    await expect(invitations.create({ note: 'evil\u001b[2J' })).rejects.toThrow(/control characters/)
    expect(await invitations.list()).toEqual([])
  })
})
