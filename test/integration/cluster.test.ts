import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MpcNode } from '../../src/peer/node.js'
import { FAST, freePort, log, startCluster, VAULT, waitFor, type TestCluster } from '../helpers.js'

describe('a cluster of real peers over TCP on loopback', () => {
  let cluster: TestCluster

  beforeAll(async () => { cluster = await startCluster(3) })
  afterAll(async () => { await cluster.stop() })

  it('admits every node, delivers the roster to each, and shows them all up', async () => {
    const { coordinator, nodes } = cluster
    await waitFor('every node up', () => coordinator.cluster().members.filter(m => m.state === 'up').length === 3)
    // init made epoch 1; each join made one more
    expect(coordinator.roster.epoch).toBe(4)
    const memberIds = coordinator.cluster().members.map(m => m.peerId).sort()
    expect(memberIds).toEqual(nodes.map(n => n.peerId.toString()).sort())
    await waitFor('the latest roster on every node', () => nodes.every(n => n.roster.epoch === 4))
    for (const node of nodes) expect(node.status().members.sort()).toEqual(memberIds)
  })

  it('records joins and health changes as events, in order', async () => {
    const events = await cluster.coordinator.events()
    expect(events.map(e => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(events.filter(e => e.kind === 'MEMBER_JOINED')).toHaveLength(3)
    expect(events.filter(e => e.kind === 'HEALTH_CHANGED' && e.to === 'UP')).toHaveLength(3)
  })

  it('marks a stopped node down within the window and brings it back up, same PeerId and stored roster', async () => {
    const { coordinator, nodes } = cluster
    const node = nodes[0]!
    const peerId = node.peerId.toString()
    const epochBefore = node.roster.epoch
    const dataDir = node.dataDir
    await waitFor('node up', () => coordinator.cluster().members.find(m => m.peerId === peerId)?.state === 'up')
    await node.stop()
    const stoppedAt = Date.now()
    let down: { atMs: number, lastHeartbeatMs: number } | undefined
    await waitFor('node down', () => {
      const member = coordinator.cluster().members.find(m => m.peerId === peerId)
      if (member?.state === 'down') down = { atMs: Date.now(), lastHeartbeatMs: member.lastHeartbeatMs ?? 0 }
      return down !== undefined
    }, FAST.health.downAfterMs + 3_000)
    // Not declared down early: the whole threshold passed after the last heartbeat it had, which came before the stop.
    expect(down!.lastHeartbeatMs).toBeGreaterThan(0)
    expect(down!.lastHeartbeatMs).toBeLessThanOrEqual(stoppedAt)
    expect(down!.atMs - down!.lastHeartbeatMs).toBeGreaterThanOrEqual(FAST.health.downAfterMs)

    // Restart from the data directory alone: no token, no bootstrap flag.
    const restarted = await MpcNode.start({ ...VAULT, dataDir, log, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeatIntervalMs: FAST.heartbeatIntervalMs })
    nodes[0] = restarted
    expect(restarted.peerId.toString()).toBe(peerId)
    expect(restarted.roster.epoch).toBeGreaterThanOrEqual(epochBefore)
    await waitFor('node up again', () => coordinator.cluster().members.find(m => m.peerId === peerId)?.state === 'up')
    const kinds = (await coordinator.events()).filter(e => e.peerId === peerId).map(e => `${e.kind}:${e.to ?? ''}`)
    // Down, then up again (its rejoin with a new address may be recorded before or after the up).
    expect(kinds).toContain('HEALTH_CHANGED:DOWN')
    expect(kinds.lastIndexOf('HEALTH_CHANGED:UP')).toBeGreaterThan(kinds.lastIndexOf('HEALTH_CHANGED:DOWN'))
  })

  it('dials every member back: one that announces an address where nothing listens shows as unreachable', async () => {
    const { coordinator, nodes } = cluster
    const wrong = await cluster.startNode('wrong-announce', { announce: [`/ip4/127.0.0.1/tcp/${await freePort()}`] })
    const reach = (peerId: string): string | undefined => coordinator.cluster().members.find(m => m.peerId === peerId)?.reach
    await waitFor('every member dialled back', () => coordinator.cluster().members.every(m => m.reach !== 'unchecked'), 10_000)
    expect(reach(wrong.peerId.toString())).toBe('unreachable')
    for (const node of nodes.filter(n => n !== wrong)) expect(reach(node.peerId.toString())).toBe('local')
    // It still takes part: it dialled the coordinator, which reaches it over that connection.
    await waitFor('the node up', () => coordinator.cluster().members.find(m => m.peerId === wrong.peerId.toString())?.state === 'up')
  })
})
