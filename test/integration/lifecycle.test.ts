import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import { HDKey } from '@scure/bip32'
import { p2tr, NETWORK, TEST_NETWORK } from '@scure/btc-signer'
import * as ecc from 'tiny-secp256k1'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskError } from '../../src/coordinator/errors.js'
import { childView } from '../../src/coordinator/requests.js'
import { deriveHdChild, parseHdPath } from '../../src/crypto/index.js'
import { sendCommand } from '../../src/protocols/command.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode } from '../../src/protocols/messages.js'
import type { KeyRecord } from '../../src/state/key-registry.js'
import type { MpcNode } from '../../src/peer/node.js'
import { keyChangeBytes, keyChangeOf, encodeApprovals } from '../../src/protocols/key-change.js'
import type { KeyChangeApprovalSet } from '../../src/coordinator/tasks.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { eventsAfter, lastEventSeq, messageFor, personKey, requestFor, startCluster, TEST_ADMIN, verifiesExternally, waitAllUp, waitFor, type TestCluster } from '../helpers.js'

/**
 * Issue 14 on real nodes over TCP: refresh, reshare to a new committee and threshold, repair, and
 * HD child keys. The group key never changes; every signature after a change verifies with OpenSSL
 * or libsecp256k1; a holder left out erases its share; the old version's shares stop signing.
 */
describe('key lifecycle: refresh, reshare, repair, HD children', () => {
  let cluster: TestCluster

  beforeAll(async () => {
    cluster = await startCluster(5)
    await waitAllUp(cluster)
  })

  afterAll(async () => { await cluster?.stop() })

  /** The admins' approval (the test's admin set has quorum 1) of dealing `key` to `holders` at `threshold`. */
  const approval = (key: KeyRecord, holders: string[], threshold: number, signer: { pub: string, sign: (d: Uint8Array) => string } = TEST_ADMIN, ttlMs = 60_000): KeyChangeApprovalSet => {
    const expiresAtMs = Date.now() + ttlMs
    const bytes = keyChangeBytes(keyChangeOf({ clusterId: cluster.init.clusterId, keyId: key.id, fromVersion: key.version, holders, threshold, expiresAtMs }))
    return { expiresAtMs, approvals: [{ publicKey: signer.pub, signature: signer.sign(bytes) }] }
  }
  const node = (peerId: string): MpcNode => cluster.nodes.find(n => n.peerId.toString() === peerId)!
  const peers = (): string[] => cluster.nodes.map(n => n.peerId.toString())
  const shareOf = async (peerId: string, keyId: string): Promise<{ sessionId: string, version?: number } | undefined> => (await node(peerId).shares()).find(s => s.keyId === keyId)
  const signAndCheck = async (key: KeyRecord, text: string): Promise<string[]> => {
    const message = messageFor(key.scheme, text)
    const result = await cluster.sign(key.id, message)
    expect(verifiesExternally(key, message, result.signature), `${key.scheme} ${text}`).toBe(true)
    return result.signers
  }
  /** Until every holder of the record signs with the new version (a commit that did not arrive is followed from the synced record). */
  const committed = async (keyId: string): Promise<KeyRecord> => {
    const key = (await cluster.coordinator.keys.get(keyId))!
    await waitFor(`every holder of ${keyId} at version ${key.version}`, async () => {
      for (const h of key.holders) if ((await shareOf(h, keyId))?.sessionId !== key.sessionId) return false
      return true
    }, 10_000)
    return key
  }

  it('refreshes a key: same holders and group key, new shares, version 2, and it signs', async () => {
    for (const scheme of ['ed25519', 'taproot'] as const) {
      const key = await cluster.coordinator.tasks.keygen({ scheme, threshold: 2, parties: 3 })
      const before = await Promise.all(key.holders.map(async h => (await shareOf(h, key.id))!.sessionId))
      const result = await cluster.coordinator.tasks.refresh(key.id)
      expect(result).toMatchObject({ op: 'refresh', version: 2, groupPublicKey: key.groupPublicKey, threshold: 2, holders: key.holders })
      const after = await committed(key.id)
      expect(after.version).toBe(2)
      expect(after.groupPublicKey).toBe(key.groupPublicKey)
      for (const [i, h] of key.holders.entries()) expect((await shareOf(h, key.id))!.sessionId).not.toBe(before[i])
      // The test signature verifies outside our code, under the unchanged group key.
      expect(verifiesExternally(key, Buffer.from(result.message, 'hex'), Buffer.from(result.signature, 'hex'))).toBe(true)
      await signAndCheck(after, 'after refresh')
    }
  })

  it('reshares to a new committee with a higher threshold: the removed holder erases its share, every new holder signs', async () => {
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
    const others = peers().filter(p => !key.holders.includes(p))
    const removed = key.holders[0]!
    const holders = [...key.holders.slice(1), ...others]
    const result = await cluster.coordinator.tasks.reshare(key.id, { threshold: 3, remove: [removed], add: others, approval: approval(key, holders, 3) })
    expect(result).toMatchObject({ op: 'reshare', version: 2, groupPublicKey: key.groupPublicKey, threshold: 3 })
    expect(result.holders).toHaveLength(4)
    const after = await committed(key.id)
    expect(after.threshold).toBe(3)
    expect(after.holders).not.toContain(removed)
    await waitFor('the removed holder to erase its share', async () => await shareOf(removed, key.id) === undefined, 10_000)
    const signers = new Set<string>()
    for (let i = 0; i < 4; i++) for (const s of await signAndCheck(after, `reshared ${i}`)) signers.add(s)
    expect(signers.size).toBeGreaterThanOrEqual(3)
  })

  it('reshares to a disjoint committee: no first holder keeps a share, and the new ones sign', async () => {
    const [a, b, ...rest] = peers()
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members: [a!, b!] })
    const result = await cluster.coordinator.tasks.reshare(key.id, { threshold: 2, members: rest, approval: approval(key, rest, 2) })
    expect(result.holders).toEqual(rest)
    const after = await committed(key.id)
    for (const old of [a!, b!]) await waitFor(`${old} to erase its share`, async () => await shareOf(old, key.id) === undefined, 10_000)
    expect(after.groupPublicKey).toBe(key.groupPublicKey)
    for (let i = 0; i < 3; i++) await signAndCheck(after, `disjoint ${i}`)
  })

  it('repairs a lost holder by dealing its place to another member; the old shares no longer sign', async () => {
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    const lost = key.holders[2]!
    const replacement = peers().find(p => !key.holders.includes(p))!
    const result = await cluster.coordinator.tasks.repair(key.id, lost, replacement, approval(key, key.holders.map(h => h === lost ? replacement : h), 2))
    expect(result).toMatchObject({ op: 'repair', version: 2, threshold: 2, groupPublicKey: key.groupPublicKey })
    expect(result.holders).toEqual(key.holders.map(h => h === lost ? replacement : h))
    const after = await committed(key.id)
    await waitFor('the replaced holder to erase its share', async () => await shareOf(lost, key.id) === undefined, 10_000)
    await signAndCheck(after, 'after repair')
    // A holder at the new version refuses to sign with a share of the old one: it has none left.
    const stale = await sendCommand(cluster.coordinator.libp2p, node(lost).peerId, cluster.init.clusterId, 'signCommit', {
      keyId: key.id, sessionId: 'stale-session', request: new Uint8Array()
    }).catch((err: unknown) => err)
    expect(stale).toBeInstanceOf(CommandRefusedError)
    expect((stale as CommandRefusedError).code).toBe(ErrorCode.NOT_FOUND)
  })

  it('signs with HD children: the same keys as @scure/bip32 from our xpub and @scure/btc-signer\'s address, verified by libsecp256k1 and OpenSSL', async () => {
    const taproot = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3, hd: true })
    expect(taproot.chainCode).toMatch(/^[0-9a-f]{64}$/)
    for (const path of ['m', 'm/0/5', 'm/1/2/3']) {
      const child = childView(taproot, parseHdPath(path), 'regtest')
      // BIP-32 from the xpub, by code that is not ours, gives the same untweaked child key …
      const untweaked = deriveHdChild('taproot', Buffer.from(taproot.groupPublicKey, 'hex'), Buffer.from(taproot.chainCode!, 'hex'), parseHdPath(path)).publicKey
      const scure = HDKey.fromExtendedKey(child.xpub!, { private: 0x04358394, public: 0x043587cf }).derive(path).publicKey!
      expect(Buffer.from(scure).toString('hex')).toBe(Buffer.from(untweaked).toString('hex'))
      // … and BIP-86 once at the leaf gives btc-signer's address.
      expect(child.address).toBe(p2tr(untweaked.slice(1), undefined, { ...TEST_NETWORK, bech32: 'bcrt' }).address)
      const message = messageFor('taproot', `child ${path}`)
      const result = await cluster.coordinator.tasks.sign(taproot.id, message, requestFor(cluster.init.clusterId, taproot.id, message, undefined, { path }), undefined, { path: parseHdPath(path) })
      expect(result.publicKey).toBe(child.publicKey)
      expect(ecc.verifySchnorr(message, Buffer.from(child.xOnlyPublicKey!, 'hex'), result.signature)).toBe(true)
    }
    expect(p2tr(Buffer.alloc(32, 2), undefined, NETWORK).address).toMatch(/^bc1p/)

    const ed = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3, hd: true })
    const child = childView(ed, parseHdPath('m/7'), 'mainnet')
    const message = messageFor('ed25519', 'ed25519 child')
    const result = await cluster.coordinator.tasks.sign(ed.id, message, requestFor(cluster.init.clusterId, ed.id, message, undefined, { path: 'm/7' }), undefined, { path: [7] })
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(child.publicKey, 'hex')]), format: 'der', type: 'spki' })
    expect(nodeVerify(null, message, spki, result.signature)).toBe(true)
    expect(child.publicKey).not.toBe(ed.groupPublicKey)

    // An HD key keeps its chain code through a refresh; its children sign as before.
    await cluster.coordinator.tasks.refresh(taproot.id)
    const refreshed = await committed(taproot.id)
    expect(refreshed.chainCode).toBe(taproot.chainCode)
    const again = messageFor('taproot', 'child after refresh')
    const afterRefresh = await cluster.coordinator.tasks.sign(taproot.id, again, requestFor(cluster.init.clusterId, taproot.id, again, undefined, { path: 'm/0/5' }), undefined, { path: [0, 5] })
    expect(ecc.verifySchnorr(again, Buffer.from(childView(taproot, [0, 5], 'regtest').xOnlyPublicKey!, 'hex'), afterRefresh.signature)).toBe(true)

    // The client's request names the child: no other child signs for it, at the coordinator or,
    // when a coordinator skips its own check, at any node.
    const other = messageFor('taproot', 'another child')
    const wrongChild = async (): Promise<TaskError> => await cluster.coordinator.tasks.sign(taproot.id, other, requestFor(cluster.init.clusterId, taproot.id, other, undefined, { path: 'm/0/5' }), undefined, { path: [0, 6] }).then(() => { throw new Error('signed') }, (err: unknown) => err as TaskError)
    expect(await wrongChild()).toMatchObject({ code: 'policy_denied', rule: 'wrong-message' })
    const check = cluster.coordinator.policy.check.bind(cluster.coordinator.policy)
    cluster.coordinator.policy.check = async () => {}
    try {
      const denied = await wrongChild()
      expect(denied.code).toBe('policy_denied')
      expect(denied.message).toMatch(/for m\/0\/5 of key .*, not m\/0\/6/)
    } finally {
      cluster.coordinator.policy.check = check
    }
  })

  it('repairs a holder in its own place without approval: it gets a new share and every holder signs', async () => {
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
    const lost = key.holders[1]!
    const result = await cluster.coordinator.tasks.repair(key.id, lost)
    expect(result.holders).toEqual(key.holders)
    const after = await committed(key.id)
    expect((await shareOf(lost, key.id))!.sessionId).toBe(after.sessionId)
    await signAndCheck(after, 'after an in-place repair')
  })

  it('deals a key to no new holder without the admins\' approval of exactly that change, even when the coordinator skips its own check', async () => {
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    const outsider = peers().find(p => !key.holders.includes(p))!
    const holders = [...key.holders, outsider]
    // Through the coordinator: refused before any node is asked.
    const denied = await cluster.coordinator.tasks.reshare(key.id, { add: [outsider] }).catch((err: unknown) => err as TaskError)
    expect(denied).toMatchObject({ code: 'policy_denied', rule: 'quorum' })
    // A compromised coordinator sends the command itself: every node refuses, for each bad approval.
    const mallory = personKey()
    const bad: Array<[string, KeyChangeApprovalSet | undefined, string]> = [
      ['none', undefined, 'quorum'],
      ['a stranger\'s signature', approval(key, holders, 2, mallory), 'quorum'],
      ['another change (threshold 3)', { ...approval(key, holders, 3) }, 'quorum'],
      ['expired', approval(key, holders, 2, TEST_ADMIN, -1_000), 'expired']
    ]
    for (const [what, set, rule] of bad) {
      for (const peer of holders) {
        const err = await sendCommand(cluster.coordinator.libp2p, peerIdFromString(peer), cluster.init.clusterId, 'reshare', {
          keyId: key.id, sessionId: `rogue-${Math.random().toString(36).slice(2)}`, mode: 'reshare', keyVersion: 1,
          dealers: key.holders.slice(0, 2).map(h => peerIdFromString(h).toMultihash().bytes), newHolders: holders.map(h => peerIdFromString(h).toMultihash().bytes),
          newThreshold: 2, timeoutMs: 5_000, ...(set === undefined ? {} : { approvals: encodeApprovals(set.approvals), approvalExpiresAtMs: set.expiresAtMs })
        }).catch((e: unknown) => e)
        expect(err, `${what} at ${peer}`).toBeInstanceOf(CommandRefusedError)
        expect((err as CommandRefusedError).code, `${what} at ${peer}`).toBe(ErrorCode.POLICY_DENIED)
        expect((err as CommandRefusedError).rule, `${what} at ${peer}`).toBe(rule)
      }
    }
    expect((await cluster.coordinator.keys.get(key.id))!.version).toBe(1)
    expect(await shareOf(outsider, key.id)).toBeUndefined()
    // With the approval it goes through, once: the same approval does not move the key again.
    const good = approval(key, holders, 2)
    await cluster.coordinator.tasks.reshare(key.id, { add: [outsider], approval: good })
    const after = await committed(key.id)
    expect(after.holders).toContain(outsider)
    await signAndCheck(after, 'after an approved reshare')
    // Removing a holder needs no approval; adding it back with the old approval is refused (it was for version 1).
    await cluster.coordinator.tasks.reshare(key.id, { remove: [outsider] })
    await committed(key.id)
    await waitFor('the removed outsider to erase its share', async () => await shareOf(outsider, key.id) === undefined, 10_000)
    const replayed = await cluster.coordinator.tasks.reshare(key.id, { add: [outsider], approval: good }).catch((err: unknown) => err as TaskError)
    expect(replayed).toMatchObject({ code: 'policy_denied', rule: 'quorum' })
    expect((await cluster.coordinator.keys.get(key.id))!.version).toBe(3)
  })

  it('signs throughout refreshes: no signature runs across a commit, none fails, no holder is blamed', async () => {
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
    const since = await lastEventSeq(cluster)
    let stop = false
    const signed: number[] = []
    const signer = async (id: number): Promise<void> => {
      for (let i = 0; i < 40 && !stop; i++) {
        const current = (await cluster.coordinator.keys.get(key.id))!
        await signAndCheck(current, `during refreshes ${id}/${i}`)
        signed.push(id)
      }
    }
    const loops = [signer(1), signer(2)]
    for (let i = 0; i < 3; i++) await cluster.coordinator.tasks.refresh(key.id)
    stop = true
    await Promise.all(loops)
    expect(signed.length).toBeGreaterThan(3)
    expect((await cluster.coordinator.keys.get(key.id))!.version).toBe(4)
    const blamed = (await eventsAfter(cluster, since)).filter(e => e.kind === 'BLAME' || e.kind === 'SESSION_FAILED')
    expect(blamed.map(e => e.detail)).toEqual([])
  })

  it('refuses bad lifecycle requests with clear errors and changes nothing', async () => {
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    const code = async (p: Promise<unknown>): Promise<string | undefined> => await p.then(() => undefined, (err: unknown) => (err as TaskError).code)
    expect(await code(cluster.coordinator.tasks.refresh('no-such-key'))).toBe('not_found')
    expect(await code(cluster.coordinator.tasks.reshare(key.id, { threshold: 4 }))).toBe('bad_request')
    expect(await code(cluster.coordinator.tasks.reshare(key.id, { add: ['12D3KooWNotAMemberNotAMemberNotAMemberNotAMember11'] }))).toBe('bad_request')
    expect(await code(cluster.coordinator.tasks.reshare(key.id, { add: [key.holders[0]!] }))).toBe('bad_request')
    expect(await code(cluster.coordinator.tasks.repair(key.id, peers().find(p => !key.holders.includes(p))!))).toBe('bad_request')
    // One change of a key at a time.
    const [first, second] = await Promise.allSettled([cluster.coordinator.tasks.refresh(key.id), cluster.coordinator.tasks.refresh(key.id)])
    expect([first.status, second.status].sort()).toEqual(['fulfilled', 'rejected'])
    expect(((first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason) as TaskError).code).toBe('conflict')
    const after = await committed(key.id)
    expect(after.version).toBe(2)
    // A plain key has no children.
    expect(await code(cluster.coordinator.tasks.sign(key.id, messageFor('ed25519', 'x'), requestFor(cluster.init.clusterId, key.id, messageFor('ed25519', 'x')), undefined, { path: [1] }))).toBe('bad_request')
    await signAndCheck(after, 'still signs')
  })

  it('a pending share signs nothing but its session\'s test message (a coordinator that tries is refused)', async () => {
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    const holder = key.holders[0]!
    const refused = await sendCommand(cluster.coordinator.libp2p, node(holder).peerId, cluster.init.clusterId, 'signCommit', {
      keyId: key.id, sessionId: 'candidate-probe', request: new Uint8Array(), candidate: 'no-such-session'
    }).catch((err: unknown) => err)
    expect((refused as CommandRefusedError).code).toBe(ErrorCode.NOT_FOUND)
    await waitAllUp(cluster)
  })
})

describe('scheduled refresh (coordinator start --refresh-every)', () => {
  it('refreshes every key once it has been at one version that long, and the key signs after', async () => {
    const cluster = await startCluster(3, { refreshEveryMs: 1_500 })
    try {
      await waitAllUp(cluster)
      const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
      await waitFor('a scheduled refresh to move the key to version 2', async () => (await cluster.coordinator.keys.get(key.id))!.version >= 2, 20_000)
      const after = (await cluster.coordinator.keys.get(key.id))!
      expect(after.groupPublicKey).toBe(key.groupPublicKey)
      const message = messageFor('ed25519', 'after a scheduled refresh')
      await waitFor('every holder at the new version', async () => {
        const now = (await cluster.coordinator.keys.get(key.id))!
        for (const n of cluster.nodes) if ((await n.shares()).find(s => s.keyId === key.id)?.sessionId !== now.sessionId) return false
        return true
      }, 10_000)
      const result = await cluster.sign(key.id, message)
      expect(verifiesExternally(after, message, result.signature)).toBe(true)
    } finally {
      await cluster.stop()
    }
  })
})
