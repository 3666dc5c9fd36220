import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchCluster, ProcessGroup, type LocalCluster } from '../../scripts/processes.js'
import { tempDir } from '../helpers.js'
import { CLI, runNode } from './cli.js'

/** Debian's Chromium (.ci/run installs it); playwright's own browser downloads cannot be fetched here. */
const CHROMIUM = '/usr/bin/chromium'
/** Flags that keep Chromium off the network it cannot reach here (it would try Google's hosts at every start). */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/**
 * Issue 16 in a real browser: the status page of a real cluster (a coordinator and three node
 * processes on loopback), opened with the one-time link `mpc-wallet ui` prints. Every member is
 * shown up; a SIGKILLed node turns down without a reload; a new key appears; the coordinator
 * stops and comes back and the page follows; a used link is refused. A screenshot is saved under
 * the test's directory (or at $MPCW_SCREENSHOT).
 */
if (!existsSync(CHROMIUM)) console.warn(`ui-browser: skipped, no Chromium at ${CHROMIUM} (.ci/run installs Debian's chromium as root)`)

describe.skipIf(!existsSync(CHROMIUM))('the status page in headless Chromium', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let group: ProcessGroup
  let cluster: LocalCluster
  let browser: Browser

  beforeAll(async () => {
    dir = await tempDir('mpcw-ui-')
    group = new ProcessGroup(join(dir.path, 'logs'))
    cluster = await launchCluster(group, dir.path, { nodes: 3, heartbeatMs: 200, joinDeadlineMs: 30_000, coordinatorArgs: ['--suspect-after-ms', '1000', '--down-after-ms', '2000'] })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  }, 90_000)
  afterAll(async () => {
    await browser?.close()
    await group?.stopAll()
    await dir?.[Symbol.asyncDispose]()
  })

  const link = async (): Promise<string> => {
    const result = await runNode([CLI, 'ui', '--coordinator-dir', cluster.coordinatorDir], 30_000)
    expect(result.code, result.stderr).toBe(0)
    return result.stdout.trim()
  }

  it('logs in once with the link, shows every member up, a killed node down and a new key, all without a reload', async () => {
    const url = await link()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?code=/)
    const page = await browser.newPage()
    await page.goto(url)
    await page.locator('#live.live').waitFor({ timeout: 10_000 })
    const peers = cluster.nodes.map(n => n.ready.peerId)
    for (const p of peers) await page.locator(`#members tr[data-peer="${p}"][data-state="up"]`).waitFor({ timeout: 10_000 })

    await group.kill(cluster.nodes[2]!, 'SIGKILL')
    await page.locator(`#members tr[data-peer="${peers[2]!}"][data-state="down"]`).waitFor({ timeout: 15_000 })

    const key = await cluster.api.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members: peers.slice(0, 2) })
    await page.locator(`#keys tr[data-key="${key.id}"]`).waitFor({ timeout: 10_000 })
    // Its session, and the keygen's latency from the coordinator's own timing.
    await page.locator('#sessions tr[data-outcome="ok"]').first().waitFor({ timeout: 10_000 })
    await page.locator('#latency-now', { hasText: /keygen: p50 \d+ ms/ }).waitFor({ timeout: 10_000 })
    // The filter shows health events only.
    await page.selectOption('#filter', 'HEALTH')
    const kinds = await page.locator('#events tbody tr:not([hidden])').evaluateAll((rows: Array<{ getAttribute: (name: string) => string | null }>) => rows.map(r => r.getAttribute('data-kind')))
    expect(kinds.length).toBeGreaterThan(0)
    expect(new Set(kinds)).toEqual(new Set(['HEALTH_CHANGED']))
    await page.selectOption('#filter', '')
    await page.screenshot({ path: process.env.MPCW_SCREENSHOT ?? join(dir.path, 'status-page.png'), fullPage: true })

    // The coordinator stops: the page says so; it comes back on the same API address, and the
    // page is live again without a reload (the cookie outlives the process).
    const port = new URL(cluster.coordinator.ready.api!).port
    await group.kill(cluster.coordinator, 'SIGTERM')
    await page.locator('#live.down').waitFor({ timeout: 10_000 })
    expect(await page.locator('#live').textContent()).toMatch(/stopped|not live/)
    cluster.coordinator = await group.start('coordinator', ['coordinator', 'start', '--data-dir', cluster.coordinatorDir, '--api', `127.0.0.1:${port}`, '--suspect-after-ms', '1000', '--down-after-ms', '2000'], 30_000)
    await page.locator('#live.live').waitFor({ timeout: 15_000 })
    await page.locator(`#keys tr[data-key="${key.id}"]`).waitFor({ timeout: 10_000 })

    // The same link again: refused, and the page it lands on is not the status page.
    const other = await browser.newPage()
    const response = await other.goto(url)
    expect(response?.status()).toBe(401)
    await other.goto(url.replace(/\/login\?.*$/, '/'))
    expect(await other.locator('h1').textContent()).toBe('Not logged in')
  }, 90_000)
})
