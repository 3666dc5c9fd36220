import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { keyView } from '../../src/coordinator/requests.js'
import { MpcNode } from '../../src/peer/node.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode } from '../../src/protocols/messages.js'
import { FAST, log, memberState, messageFor, startCluster, VAULT, verifiesExternally, waitAllUp, waitFor, type TestCluster } from '../helpers.js'

let cluster: TestCluster | undefined

afterEach(async () => {
  await cluster?.stop()
  cluster = undefined
})

/** Starts a node outside cluster.startNode, with exactly this invitation. */
async function startWith (c: TestCluster, name: string, joinToken: string, extra: { approvalTimeoutMs?: number } = {}): Promise<MpcNode> {
  const node = await MpcNode.start({
    ...VAULT, dataDir: join(c.root, name), log, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: c.bootstrap, joinToken,
    heartbeatIntervalMs: FAST.heartbeatIntervalMs, firstJoinTimeoutMs: 10_000, ...extra
  })
  c.nodes.push(node)
  return node
}

async function refusal (promise: Promise<unknown>): Promise<CommandRefusedError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(CommandRefusedError)
  return err as CommandRefusedError
}

const memberIds = (c: TestCluster): string[] => c.coordinator.cluster().members.map(m => m.peerId)

describe('membership only by invitation', () => {
  it('admits one node with the first invitation and refuses a second node with it (it is single use)', async () => {
    cluster = await startCluster(0)
    const first = await startWith(cluster, 'first', cluster.init.joinToken)
    expect(memberIds(cluster)).toEqual([first.peerId.toString()])
    const err = await refusal(startWith(cluster, 'second', cluster.init.joinToken))
    expect(err.code).toBe(ErrorCode.BAD_TOKEN)
    expect(err.message).toMatch(/used up/)
    expect(memberIds(cluster)).toEqual([first.peerId.toString()])
  })

  it('refuses an expired invitation with its reason, and an unknown one', async () => {
    cluster = await startCluster(0)
    const { token } = await cluster.coordinator.invitations.create({ ttlMs: 1_000 })
    await sleep(1_100)
    expect((await refusal(startWith(cluster, 'late', token))).message).toMatch(/expired at/)
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA')
    expect((await refusal(startWith(cluster, 'forged', forged))).message).toMatch(/unknown invitation/)
    expect(memberIds(cluster)).toEqual([])
  })

  it('lets ten joins race for one single-use invitation: exactly one gets in', async () => {
    cluster = await startCluster(0)
    const { token } = await cluster.coordinator.invitations.create({ note: 'raced' })
    const results = await Promise.allSettled(Array.from({ length: 10 }, async (_, i) => await startWith(cluster!, `racer-${i}`, token)))
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect((r.reason as CommandRefusedError).code).toBe(ErrorCode.BAD_TOKEN)
    expect(memberIds(cluster)).toHaveLength(1)
    const [invitation] = (await cluster.coordinator.invitations.list()).filter(i => i.note === 'raced')
    expect(invitation?.usesLeft).toBe(0)
    expect(invitation?.usedBy).toEqual(memberIds(cluster))
  })

  it('admits as many nodes as an invitation has uses, then no more', async () => {
    cluster = await startCluster(0)
    const { token } = await cluster.coordinator.invitations.create({ uses: 2 })
    await startWith(cluster, 'a', token)
    await startWith(cluster, 'b', token)
    expect((await refusal(startWith(cluster, 'c', token))).message).toMatch(/used up \(2 uses\)/)
  })

  it('refuses a join that would break the member cap, with a clear reason, without using the invitation', async () => {
    cluster = await startCluster(2, { maxMembers: 2 })
    const { token } = await cluster.coordinator.invitations.create({ note: 'one too many' })
    const err = await refusal(startWith(cluster, 'third', token))
    expect(err.code).toBe(ErrorCode.LIMIT)
    expect(err.message).toMatch(/cluster is full: 2 members at most/)
    const [invitation] = (await cluster.coordinator.invitations.list()).filter(i => i.note === 'one too many')
    expect(invitation?.usesLeft).toBe(1)
  })
})

describe('joins that wait for the operator', () => {
  it('keeps joins pending (never keygen holders) until approved; a rejected one is refused for good', async () => {
    cluster = await startCluster(0, { approveJoins: true })
    const c = cluster
    const { token } = await c.coordinator.invitations.create({ uses: 3, note: 'three hosts' })
    const starts = ['a', 'b', 'c'].map(name => startWith(c, name, token))
    starts.forEach(p => { p.catch(() => {}) })
    await waitFor('three pending joins', () => c.coordinator.membership.pendingJoins().length === 3)
    expect(memberIds(c)).toEqual([])
    expect(c.coordinator.membership.pendingJoins().every(p => p.note === 'three hosts')).toBe(true)
    // Pending peers are not members: no keygen can pick them.
    await expect(c.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2 })).rejects.toThrow(/only 0 healthy members/)
    const [a, b, rejected] = c.coordinator.membership.pendingJoins().map(p => p.peerId)
    await c.coordinator.membership.approve(a!)
    await c.coordinator.membership.approve(b!)
    await c.coordinator.membership.reject(rejected!)
    const settled = await Promise.allSettled(starts)
    const admitted = settled.flatMap(r => r.status === 'fulfilled' ? [r.value.peerId.toString()] : [])
    expect(admitted.sort()).toEqual([a!, b!].sort())
    const refused = settled.find(r => r.status === 'rejected') as PromiseRejectedResult
    expect((refused.reason as CommandRefusedError).code).toBe(ErrorCode.UNAUTHORIZED)
    expect((refused.reason as Error).message).toMatch(/rejected by the operator/)
    expect(c.coordinator.membership.pendingJoins()).toEqual([])
    await expect(c.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members: [a!, rejected!] })).rejects.toThrow(/not cluster members/)
    await waitAllUp(c)
    const key = await c.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2 })
    expect([...key.holders].sort()).toEqual([a!, b!].sort())
    // A named holder must be up now.
    await c.nodes.find(n => n.peerId.toString() === b)!.stop()
    await waitFor('b down', () => memberState(c, b!) === 'down')
    await expect(c.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members: [a!, b!] })).rejects.toThrow(/down now/)
    const kinds = (await c.coordinator.events()).map(e => e.kind)
    expect(kinds.filter(k => k === 'MEMBER_PENDING')).toHaveLength(3)
    expect(kinds.filter(k => k === 'MEMBER_JOINED')).toHaveLength(2)
    expect(kinds.filter(k => k === 'MEMBER_REJECTED')).toHaveLength(1)
  })
})

describe('removing a member', () => {
  it('takes it out of the roster, closes and refuses its connections everywhere, and marks its keys for a reshare', async () => {
    cluster = await startCluster(4)
    const c = cluster
    await waitAllUp(c)
    const key = await c.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 4 })
    const victim = c.nodes[0]!
    const victimId = victim.peerId.toString()
    const others = c.nodes.slice(1)
    await waitFor('every member connected to the victim', () => others.some(n => n.libp2p.getConnections(victim.peerId).length > 0))
    await c.coordinator.membership.remove(victimId)

    expect(memberIds(c)).not.toContain(victimId)
    await waitFor('every node has the roster without it', () => others.every(n => !n.status().members.includes(victimId)))
    // Its connections are closed, and its attempts to come back are refused by every gate, for a while.
    const connected = (): boolean => c.coordinator.libp2p.getConnections(victim.peerId).length > 0 || others.some(n => n.libp2p.getConnections(victim.peerId).length > 0)
    await waitFor('no peer connected to the removed member', () => !connected())
    for (let i = 0; i < 10; i++) {
      await Promise.allSettled([c.coordinator.libp2p, ...others.map(n => n.libp2p)].map(async p => await victim.libp2p.dial(p.getMultiaddrs()[0]!)))
      expect(connected()).toBe(false)
      await sleep(200)
    }
    expect(memberState(c, victimId)).toBeUndefined()
    await expect(c.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members: [victimId, others[0]!.peerId.toString()] })).rejects.toThrow(/not cluster members/)
    const rejoin = await refusal(c.coordinator.membership.join({ token: '', addrs: [], softwareVersion: 'x' }, victim.peerId))
    expect(rejoin.code).toBe(ErrorCode.UNAUTHORIZED)
    expect(rejoin.message).toMatch(/removed by the operator/)

    const shown = keyView((await c.coordinator.keys.get(key.id))!, id => c.coordinator.membership.isRemoved(id) ? 'removed' : 'up', 'mainnet')
    expect(shown.status).toBe('degraded')
    expect(shown.note).toMatch(/reshare due: .*was removed/)
    expect(shown.holders.find(h => h.peerId === victimId)?.state).toBe('removed')

    // The others still sign (t of the remaining holders), and the removed member is never asked.
    const message = messageFor('ed25519', 'after a removal')
    const signed = await c.sign(key.id, message)
    expect(signed.signers).not.toContain(victimId)
    expect(verifiesExternally(key, message, signed.signature)).toBe(true)
    expect((await c.coordinator.events()).some(e => e.kind === 'MEMBER_REMOVED' && e.peerId === victimId)).toBe(true)
  })
})
