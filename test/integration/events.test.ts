import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiClient, ApiClientError } from '../../src/coordinator/client.js'
import { Coordinator } from '../../src/coordinator/coordinator.js'
import { readFile } from 'node:fs/promises'
import { FAST, log, startCluster, waitFor, type TestCluster } from '../helpers.js'

describe('the event log', () => {
  let cluster: TestCluster
  let api: ApiClient
  const coordinatorDir = (): string => join(cluster.root, 'coordinator')
  const connect = async (): Promise<ApiClient> => new ApiClient(cluster.coordinator.apiUrl!, (await readFile(join(coordinatorDir(), 'api-token'), 'utf8')).trim())

  beforeAll(async () => {
    cluster = await startCluster(2)
    await waitFor('both nodes up', () => cluster.coordinator.cluster().members.every(m => m.state === 'up'))
    api = await connect()
  })
  afterAll(async () => { await cluster.stop() })

  it('filters by type, time and id, and pages with a limit', async () => {
    const all = await api.events()
    expect(all.map(e => e.seq)).toEqual(all.map((_, i) => i + 1))
    const joined = await api.events({ types: ['member_joined'] })
    expect(joined).toHaveLength(2)
    expect(joined.every(e => e.kind === 'MEMBER_JOINED')).toBe(true)
    const two = await api.events({ types: ['member_joined', 'health_changed'] })
    expect(two.map(e => e.kind).sort()).toEqual(all.filter(e => e.kind === 'MEMBER_JOINED' || e.kind === 'HEALTH_CHANGED').map(e => e.kind).sort())
    const last = all.at(-1)!
    expect(await api.events({ since: new Date(last.atMs).toISOString() })).toEqual(all.filter(e => e.atMs >= last.atMs))
    expect(await api.events({ since: String(last.atMs + 60_000) })).toEqual([])
    expect(await api.events({ after: 1, limit: 2 })).toEqual(all.slice(1, 3))
  })

  it('refuses a bad query with a 400 that says what is allowed', async () => {
    for (const query of [{ types: ['explosion'] }, { since: 'yesterday-ish' }, { after: -1 }, { limit: 0 }]) {
      const err = await api.events(query).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ApiClientError)
      expect((err as ApiClientError).status).toBe(400)
    }
    const err = await api.events({ types: ['explosion'] }).catch((e: ApiClientError) => e)
    expect((err as ApiClientError).message).toMatch(/member_joined/)
  })

  it('resumes from the last id seen, across a coordinator restart, with exactly the missed events in order', async () => {
    const seen = await api.events()
    const lastSeen = seen.at(-1)!.seq
    // Events the client misses: a node stops and goes down.
    const gone = cluster.nodes[1]!
    await gone.stop()
    await waitFor('the stopped node down', () => cluster.coordinator.cluster().members.find(m => m.peerId === gone.peerId.toString())?.state === 'down', 10_000)
    // The coordinator restarts on the same address; the running node reconnects and is up again.
    const address = cluster.coordinator.libp2p.getMultiaddrs()[0]!.decapsulateCode(421).toString()
    await cluster.coordinator.stop()
    cluster.coordinator = await Coordinator.start({ dataDir: coordinatorDir(), log, health: FAST.health, listen: [address] })
    api = await connect()
    const live = cluster.nodes[0]!.peerId.toString()
    await waitFor('the running node up at the restarted coordinator', () => cluster.coordinator.cluster().members.find(m => m.peerId === live)?.state === 'up', 15_000)

    const missed = await api.events({ after: lastSeen })
    const everything = await api.events()
    expect(everything.slice(0, seen.length)).toEqual(seen)
    expect(missed).toEqual(everything.slice(seen.length))
    expect(missed.map(e => e.seq)).toEqual(missed.map((_, i) => lastSeen + 1 + i))
    expect(missed).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'HEALTH_CHANGED', peerId: gone.peerId.toString(), to: 'DOWN' }),
      expect.objectContaining({ kind: 'HEALTH_CHANGED', peerId: live, to: 'UP' })
    ]))
  })
  it('keeps the log within its retention, and tells a reader who resumes from a compacted id where to read on', async () => {
    const total = (await api.events()).length
    expect(total).toBeGreaterThan(3)
    const address = cluster.coordinator.libp2p.getMultiaddrs()[0]!.decapsulateCode(421).toString()
    await cluster.coordinator.stop()
    cluster.coordinator = await Coordinator.start({ dataDir: coordinatorDir(), log, health: FAST.health, listen: [address], eventRetention: { maxEvents: 3 } })
    api = await connect()
    let err: unknown
    await waitFor('the log compacted at start', async () => {
      err = await api.events({ after: 0 }).then(() => undefined, (e: unknown) => e)
      return err !== undefined
    })
    expect((err as ApiClientError).status).toBe(410)
    const readOn = Number(/after=(\d+)/.exec((err as ApiClientError).message)?.[1])
    // (the node reconnecting to the restarted coordinator may add events meanwhile)
    expect(readOn).toBeGreaterThanOrEqual(total - 3)
    const kept = await api.events({ after: readOn })
    expect(kept.length).toBeGreaterThanOrEqual(3)
    expect(kept.map(e => e.seq)).toEqual(kept.map((_, i) => readOn + 1 + i))
  })
})
