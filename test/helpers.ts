import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Coordinator, initCoordinator, type InitResult } from '../src/coordinator/coordinator.js'
import { createLogger } from '../src/log.js'
import { MpcNode, type NodeOptions } from '../src/peer/node.js'

export const log = createLogger((process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent')

/** Fast timings for tests: heartbeats every 100 ms, suspect after 400 ms, down after 800 ms. */
export const FAST = { heartbeatIntervalMs: 100, health: { suspectAfterMs: 400, downAfterMs: 800 } }

export async function tempDir (prefix = 'mpcw-test-'): Promise<{ path: string, [Symbol.asyncDispose]: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, [Symbol.asyncDispose]: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** Polls `check` until it returns true, or fails with `what` after `timeoutMs`. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(everyMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export interface TestCluster {
  root: string
  init: InitResult
  coordinator: Coordinator
  nodes: MpcNode[]
  bootstrap: string[]
  startNode: (name: string, extra?: Partial<NodeOptions>) => Promise<MpcNode>
  stop: () => Promise<void>
}

/** A coordinator and `n` nodes, in this process, over TCP on 127.0.0.1, with real stores on disk. */
export async function startCluster (n: number): Promise<TestCluster> {
  const dir = await tempDir()
  const coordinatorDir = join(dir.path, 'coordinator')
  const init = await initCoordinator({ dataDir: coordinatorDir, listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0' })
  const coordinator = await Coordinator.start({ dataDir: coordinatorDir, log, health: FAST.health })
  const bootstrap = coordinator.libp2p.getMultiaddrs().map(String)
  const nodes: MpcNode[] = []
  const startNode = async (name: string, extra: Partial<NodeOptions> = {}): Promise<MpcNode> => {
    const node = await MpcNode.start({
      dataDir: join(dir.path, name), log, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, joinToken: init.joinToken,
      heartbeatIntervalMs: FAST.heartbeatIntervalMs, firstJoinTimeoutMs: 10_000, ...extra
    })
    nodes.push(node)
    return node
  }
  await Promise.all(Array.from({ length: n }, async (_, i) => await startNode(`node-${i + 1}`)))
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map(async node => await node.stop()))
    await coordinator.stop().catch(() => {})
    await dir[Symbol.asyncDispose]()
  }
  return { root: dir.path, init, coordinator, nodes, bootstrap, startNode, stop }
}
