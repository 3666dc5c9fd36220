import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiClient } from '../../src/coordinator/client.js'
import { startCluster, waitAllUp, waitFor, type TestCluster } from '../helpers.js'
import type { MpcNode } from '../../src/peer/node.js'

describe('a node\'s read-only HTTP: metrics and its copy of the event log', () => {
  let cluster: TestCluster
  let node: MpcNode

  beforeAll(async () => {
    cluster = await startCluster(2)
    node = await cluster.startNode('observed', { http: { host: '127.0.0.1', port: 0 } })
    await waitAllUp(cluster)
  })
  afterAll(async () => { await cluster.stop() })

  it('serves Prometheus metrics that count this node\'s sessions and gossip', async () => {
    await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
    const text = await (await fetch(`${node.httpUrl!}/metrics`)).text()
    expect(text).toMatch(/^mpc_sessions_total\{operation="keygen",outcome="success"\} 1$/m)
    expect(text).toMatch(/^mpc_session_seconds_count\{operation="keygen"\} 1$/m)
    expect(text).toMatch(/^mpc_gossip_accepted\{channel="heartbeats"\} [1-9]\d*$/m)
    expect(text).toMatch(/^mpc_connected_peers [1-9]\d*$/m)
  })

  it('serves the same event history as the coordinator, with the same queries', async () => {
    const fromNode = new ApiClient(node.httpUrl!, undefined)
    await waitFor('the node has every event the coordinator has', async () => {
      const all = await cluster.coordinator.events(new URL('http://x/?limit=10000'))
      const mine = await fromNode.events({ limit: 10_000 })
      return mine.length >= all.length && all.every((e, i) => JSON.stringify(e) === JSON.stringify(mine[i]))
    })
    const joined = await fromNode.events({ types: ['member_joined'] })
    expect(joined.map(e => e.peerId)).toContain(node.peerId.toString())
    const refused = await fetch(`${node.httpUrl!}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(refused.status).toBe(405)
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed')
    expect((await fetch(`${node.httpUrl!}/v1/keys`)).status).toBe(404)
  })
})
