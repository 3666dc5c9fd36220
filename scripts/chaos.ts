/**
 * Churn under load, bounded: a coordinator and N MPC nodes as processes on loopback TCP, one
 * t-of-N key of each scheme, signing back to back through the HTTP API with both keys while
 * random nodes are SIGKILLed and restarted (never more than --max-down down at once, counting
 * those restarted but not yet up), and now and then a holder killed in the middle of a keygen.
 * At the end: every member up and in sync, no key recorded that was not acknowledged, and every
 * acknowledged key still signs. Every signature is checked by outside code (scripts/verify.ts).
 * Every loop ends by the clock; every child is stopped at exit, also on error or a signal.
 * `npm run chaos -- --help` lists the options.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { ApiClientError, type ApiClient } from '../src/coordinator/client.js'
import type { KeyView } from '../src/coordinator/requests.js'
import { launchCluster, memberInSync, percentile, ProcessGroup, restartNode, untilView, type LocalCluster } from './processes.js'
import { UsageError, wholeNumberArg } from './args.js'
import { verifyKeySignature } from './verify.js'

const USAGE = `usage: npm run chaos -- [options]
  --nodes N                MPC nodes (3-16, default 5)
  --seconds S              how long to sign under churn (5-3600, default 120)
  --threshold T            signers needed (default max(2, N - 2): 3-of-5)
  --max-down K             nodes down at once at most, restarting ones included (0 to N - T, default N - T)
  --kill-every-ms MS       a kill every MS (default 7000)
  --restart-after-ms MS    a killed node is restarted MS after its kill (default 9000)
  --keygen-kill-every K    every Kth kill falls in the middle of a keygen (0: never; default 4)
  --keygen-timeout-ms MS   the coordinator's keygen deadline (default 10000)
  --heartbeat-ms MS        node heartbeat interval (default 1000)
  --suspect-after-ms MS    coordinator: silence before suspect (default 3000)
  --down-after-ms MS       coordinator: silence before down (default 6000)
  --dir DIR                data directories under DIR (default: a temp dir, removed unless something failed)
  --json                   print one JSON summary as the last line`

interface Options {
  nodes: number
  seconds: number
  threshold: number
  maxDown: number
  killEveryMs: number
  restartAfterMs: number
  keygenKillEvery: number
  keygenTimeoutMs: number
  heartbeatMs: number
  suspectAfterMs: number
  downAfterMs: number
  dir?: string
  json: boolean
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nodes: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '120' },
      threshold: { type: 'string' },
      'max-down': { type: 'string' },
      'kill-every-ms': { type: 'string', default: '7000' },
      'restart-after-ms': { type: 'string', default: '9000' },
      'keygen-kill-every': { type: 'string', default: '4' },
      'keygen-timeout-ms': { type: 'string', default: '10000' },
      'heartbeat-ms': { type: 'string', default: '1000' },
      'suspect-after-ms': { type: 'string', default: '3000' },
      'down-after-ms': { type: 'string', default: '6000' },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const nodes = wholeNumberArg('nodes', values.nodes, 3, 16)
  const threshold = values.threshold !== undefined ? wholeNumberArg('threshold', values.threshold, 2, nodes) : Math.max(2, nodes - 2)
  const opts: Options = {
    nodes,
    seconds: wholeNumberArg('seconds', values.seconds, 5, 3600),
    threshold,
    maxDown: values['max-down'] !== undefined ? wholeNumberArg('max-down', values['max-down'], 0, nodes - threshold) : nodes - threshold,
    killEveryMs: wholeNumberArg('kill-every-ms', values['kill-every-ms'], 100, 600_000),
    restartAfterMs: wholeNumberArg('restart-after-ms', values['restart-after-ms'], 0, 600_000),
    keygenKillEvery: wholeNumberArg('keygen-kill-every', values['keygen-kill-every'], 0, 1000),
    keygenTimeoutMs: wholeNumberArg('keygen-timeout-ms', values['keygen-timeout-ms'], 1000, 600_000),
    heartbeatMs: wholeNumberArg('heartbeat-ms', values['heartbeat-ms'], 50, 60_000),
    suspectAfterMs: wholeNumberArg('suspect-after-ms', values['suspect-after-ms'], 1, 600_000),
    downAfterMs: wholeNumberArg('down-after-ms', values['down-after-ms'], 1, 600_000),
    dir: values.dir,
    json: values.json
  }
  if (opts.downAfterMs <= opts.suspectAfterMs) throw new UsageError('--down-after-ms must exceed --suspect-after-ms')
  return opts
}

const started = Date.now()
let quiet = false

function say (line: string): void {
  if (!quiet) console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`)
}

/** A failure's cause with the parts that vary (PeerIds, session and key ids, numbers) blanked out, to count alike ones together. */
function causeOf (err: unknown): string {
  const text = err instanceof ApiClientError ? err.message : `${(err as Error).name}: ${(err as Error).message}`
  return text.replace(/12D3Koo[1-9A-HJ-NP-Za-km-z]+/g, '<peer>').replace(/key-[0-9a-f]+/g, '<key>').replace(/\b[A-Za-z0-9_-]{22}\b/g, '<session>')
    .replace(/\d+/g, 'N').slice(0, 200)
}

function count (map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

function messageFor (key: KeyView, label: string): string {
  const text = `mpc-wallet chaos ${label} ${randomBytes(8).toString('hex')}`
  return key.scheme === 'taproot' ? createHash('sha256').update(text).digest('hex') : Buffer.from(text).toString('hex')
}

/** What one run saw. */
interface Tally {
  requests: number
  signed: number
  /** Signed requests by the attempts they took (more than one: a retry after a failed attempt). */
  attempts: Map<string, number>
  failed: number
  /** Failed while at least `threshold` holders were up (neither killed nor restarting): the goal is none. */
  failedWithQuorum: number
  badSignatures: number
  causes: Map<string, number>
  samples: string[]
  latenciesMs: number[]
  kills: number
  keygenKills: number
  skippedKills: number
  restarts: number
  restartFailures: string[]
  keygens: { ok: number, failed: number, causes: Map<string, number> }
}

class Chaos {
  readonly tally: Tally = {
    requests: 0, signed: 0, attempts: new Map(), failed: 0, failedWithQuorum: 0, badSignatures: 0, causes: new Map(), samples: [], latenciesMs: [],
    kills: 0, keygenKills: 0, skippedKills: 0, restarts: 0, restartFailures: [], keygens: { ok: 0, failed: 0, causes: new Map() }
  }

  /** Nodes (1-based) killed and not yet up again at the coordinator. */
  readonly down = new Set<number>()
  /** Keys whose keygen the API acknowledged. */
  readonly keys: KeyView[] = []
  /** Restarts and keygens under way; each ends by its own deadline. */
  private readonly pending = new Set<Promise<void>>()

  constructor (private readonly opts: Options, private readonly group: ProcessGroup, private readonly cluster: LocalCluster, private readonly endAt: number) {}

  private get api (): ApiClient { return this.cluster.api }

  private track (work: Promise<void>): void {
    this.pending.add(work)
    void work.finally(() => this.pending.delete(work))
  }

  async settle (): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  /** Signs back to back with `key` until the end. */
  async signLoop (key: KeyView): Promise<void> {
    const { threshold } = this.opts
    while (Date.now() < this.endAt) {
      const message = messageFor(key, 'load')
      const quorumUp = this.opts.nodes - this.down.size >= threshold
      const t0 = performance.now()
      this.tally.requests++
      try {
        const result = await this.cluster.sign(key.id, message)
        this.tally.latenciesMs.push(performance.now() - t0)
        if (verifyKeySignature(key, message, result.signature)) {
          this.tally.signed++
          count(this.tally.attempts, String(result.attempts))
          continue
        }
        this.tally.badSignatures++
        this.fail('a signature that does not verify', quorumUp && this.opts.nodes - this.down.size >= threshold)
      } catch (err) {
        this.tally.latenciesMs.push(performance.now() - t0)
        // A quorum at the start and at the end of the request: never fewer than t holders up in between.
        this.fail(causeOf(err), quorumUp && this.opts.nodes - this.down.size >= threshold, (err as Error).message)
        await sleep(100)
      }
    }
  }

  private fail (cause: string, withQuorum: boolean, full?: string): void {
    this.tally.failed++
    if (withQuorum) this.tally.failedWithQuorum++
    count(this.tally.causes, cause)
    if (this.tally.samples.length < 10) this.tally.samples.push(full ?? cause)
    say(`sign failed${withQuorum ? ' with a quorum up' : ''}: ${full ?? cause}`)
  }

  /** A kill every killEveryMs until the end, within the cap on nodes down. */
  async killLoop (): Promise<void> {
    let round = 0
    while (Date.now() + this.opts.killEveryMs < this.endAt) {
      await sleep(this.opts.killEveryMs)
      round++
      if (this.down.size >= this.opts.maxDown) {
        this.tally.skippedKills++
        continue
      }
      // A keygen needs t + 1 parties at least, so that one may be killed and the key still be made with the rest.
      const keygenKill = this.opts.keygenKillEvery > 0 && round % this.opts.keygenKillEvery === 0 && this.opts.nodes - this.down.size > this.opts.threshold
      if (keygenKill) this.track(this.keygenWithKill())
      else await this.kill(this.randomUpNode(), 'random')
    }
  }

  private randomUpNode (): number {
    const up = Array.from({ length: this.opts.nodes }, (_, k) => k + 1).filter(i => !this.down.has(i))
    return up[Math.floor(Math.random() * up.length)]!
  }

  /** SIGKILLs node `i` and schedules its restart. */
  private async kill (i: number, why: string): Promise<void> {
    this.down.add(i)
    this.tally.kills++
    const node = this.cluster.nodes[i - 1]!
    say(`SIGKILL node-${i} (${why}); ${this.down.size} down`)
    await this.group.kill(node, 'SIGKILL')
    this.track(this.restartLater(i))
  }

  private async restartLater (i: number): Promise<void> {
    await sleep(this.opts.restartAfterMs)
    try {
      const peer = await restartNode(this.group, this.cluster, i)
      this.tally.restarts++
      await untilView(this.api, `node-${i} up after its restart`, 30_000, view => view.members.find(m => m.peerId === peer.ready.peerId)?.state === 'up')
      this.down.delete(i)
      say(`node-${i} is up again; ${this.down.size} down`)
    } catch (err) {
      // It stays counted as down, so the kills that follow keep within the cap.
      this.tally.restartFailures.push(`node-${i}: ${(err as Error).message}`)
      say(`node-${i} did not come back: ${(err as Error).message}`)
    }
  }

  /** A keygen of every node up, one of which is SIGKILLed while it runs: it fails cleanly or completes. */
  private async keygenWithKill (): Promise<void> {
    const { nodes, threshold } = this.opts
    const scheme = this.tally.keygenKills % 2 === 0 ? 'ed25519' : 'taproot'
    this.tally.keygenKills++
    const keygen = this.api.keygen({ scheme, threshold, parties: nodes - this.down.size, network: 'regtest' })
    const killed = (async () => {
      await sleep(50 + Math.floor(Math.random() * 1500))
      if (this.down.size < this.opts.maxDown) await this.kill(this.randomUpNode(), `in the middle of a ${scheme} keygen`)
    })()
    try {
      const key = await keygen
      this.keys.push(key)
      this.tally.keygens.ok++
      say(`keygen under a kill completed: ${key.id}`)
    } catch (err) {
      this.tally.keygens.failed++
      count(this.tally.keygens.causes, causeOf(err))
      say(`keygen under a kill failed: ${(err as Error).message.slice(0, 200)}`)
    }
    await killed
  }
}

interface Final {
  allUpInSync: boolean
  /** Keys the coordinator lists whose keygen was not acknowledged (half-made): none expected. */
  unacknowledgedKeys: string[]
  /** Acknowledged keys the coordinator does not list: none expected. */
  missingKeys: string[]
  /** Acknowledged keys that signed (verified) at the end. */
  keysSigning: number
  keyFailures: string[]
}

async function finalCheck (chaos: Chaos, group: ProcessGroup, cluster: LocalCluster): Promise<Final> {
  const { api } = cluster
  // Anything still down (a restart that failed) is started once more.
  for (const i of [...chaos.down]) {
    const node = cluster.nodes[i - 1]!
    if (node.child.exitCode === null && node.child.signalCode === null) continue
    await restartNode(group, cluster, i).catch((err: unknown) => { say(`node-${i} did not restart: ${(err as Error).message}`) })
  }
  let allUpInSync = true
  try {
    await untilView(api, 'every member up and in sync', 60_000, view => cluster.nodes.every(n => memberInSync(view, n.ready.peerId)))
    say('every member is up and in sync (roster epoch and synced records as the coordinator\'s)')
  } catch (err) {
    allUpInSync = false
    say((err as Error).message)
  }
  const listed = (await api.keys()).map(k => k.id)
  const acknowledged = chaos.keys.map(k => k.id)
  const final: Final = {
    allUpInSync,
    unacknowledgedKeys: listed.filter(id => !acknowledged.includes(id)),
    missingKeys: acknowledged.filter(id => !listed.includes(id)),
    keysSigning: 0,
    keyFailures: []
  }
  for (const key of chaos.keys) {
    const message = messageFor(key, 'final')
    try {
      const result = await cluster.sign(key.id, message)
      if (verifyKeySignature(key, message, result.signature)) final.keysSigning++
      else final.keyFailures.push(`${key.id}: a signature that does not verify`)
    } catch (err) {
      final.keyFailures.push(`${key.id}: ${(err as Error).message}`)
    }
  }
  say(`${final.keysSigning} of ${chaos.keys.length} acknowledged keys sign and verify`)
  return final
}

async function run (opts: Options, group: ProcessGroup, root: string): Promise<Record<string, unknown>> {
  const { nodes, threshold } = opts
  say(`starting a coordinator and ${nodes} nodes (data in ${root})`)
  const cluster = await launchCluster(group, root, {
    nodes,
    heartbeatMs: opts.heartbeatMs,
    coordinatorArgs: ['--suspect-after-ms', String(opts.suspectAfterMs), '--down-after-ms', String(opts.downAfterMs), '--keygen-timeout-ms', String(opts.keygenTimeoutMs)],
    joinDeadlineMs: 30_000
  })
  const keys: KeyView[] = []
  for (const scheme of ['ed25519', 'taproot'] as const) {
    const key = await cluster.api.keygen({ scheme, threshold, parties: nodes, network: 'regtest' })
    keys.push(key)
    say(`keygen ${scheme} ${threshold}-of-${nodes}: ${key.id}`)
  }
  const endAt = Date.now() + opts.seconds * 1000
  const chaos = new Chaos(opts, group, cluster, endAt)
  chaos.keys.push(...keys)
  say(`signing with both keys for ${opts.seconds} s, a kill every ${opts.killEveryMs} ms (restart after ${opts.restartAfterMs} ms, at most ${opts.maxDown} down)`)
  await Promise.all([...keys.map(async key => { await chaos.signLoop(key) }), chaos.killLoop()])
  say('load and kills over; waiting for restarts and keygens under way')
  await chaos.settle()
  const final = await finalCheck(chaos, group, cluster)
  const t = chaos.tally
  const sorted = [...t.latenciesMs].sort((a, b) => a - b)
  const ms = (v: number): number => Math.round(v)
  return {
    nodes,
    threshold,
    maxDown: opts.maxDown,
    seconds: opts.seconds,
    requests: t.requests,
    signed: t.signed,
    signedByAttempts: Object.fromEntries([...t.attempts].sort(([a], [b]) => Number(a) - Number(b))),
    failed: t.failed,
    failedWithQuorum: t.failedWithQuorum,
    badSignatures: t.badSignatures,
    failuresByCause: Object.fromEntries(t.causes),
    failureSamples: t.samples,
    latencyMs: { p50: ms(sorted.length > 0 ? percentile(sorted, 0.5) : 0), p95: ms(sorted.length > 0 ? percentile(sorted, 0.95) : 0), max: ms(sorted.at(-1) ?? 0) },
    kills: t.kills,
    keygenKills: t.keygenKills,
    skippedKills: t.skippedKills,
    restarts: t.restarts,
    restartFailures: t.restartFailures,
    keygensUnderKill: { ok: t.keygens.ok, failed: t.keygens.failed, causes: Object.fromEntries(t.keygens.causes) },
    ...final,
    acknowledgedKeys: chaos.keys.length,
    ok: t.failedWithQuorum === 0 && t.badSignatures === 0 && final.allUpInSync && final.unacknowledgedKeys.length === 0 &&
      final.missingKeys.length === 0 && final.keyFailures.length === 0 && t.restartFailures.length === 0
  }
}

function human (s: Record<string, unknown>): string {
  const latency = s.latencyMs as { p50: number, p95: number, max: number }
  const causes = Object.entries(s.failuresByCause as Record<string, number>).map(([cause, n]) => `    ${n} × ${cause}`)
  const keygens = s.keygensUnderKill as { ok: number, failed: number, causes: Record<string, number> }
  return [
    `chaos: ${String(s.nodes)} nodes, ${String(s.threshold)}-of-${String(s.nodes)} keys, at most ${String(s.maxDown)} down, ${String(s.seconds)} s`,
    `  sign requests ${String(s.requests)}: ${String(s.signed)} signed and verified, ${String(s.failed)} failed (${String(s.failedWithQuorum)} while a quorum was up), ${String(s.badSignatures)} bad signatures`,
    ...causes,
    `  attempts per signed request: ${Object.entries(s.signedByAttempts as Record<string, number>).map(([a, n]) => `${a}: ${n}`).join(', ')}`,
    `  latency p50 ${latency.p50} ms, p95 ${latency.p95} ms, max ${latency.max} ms`,
    `  kills ${String(s.kills)} (${String(s.keygenKills)} in a keygen), ${String(s.skippedKills)} skipped at the cap; restarts ${String(s.restarts)}`,
    `  keygens under a kill: ${keygens.ok} completed, ${keygens.failed} failed cleanly`,
    `  at the end: ${s.allUpInSync === true ? 'every member up and in sync' : 'NOT every member up and in sync'}; ` +
      `${String(s.keysSigning)} of ${String(s.acknowledgedKeys)} acknowledged keys sign; unacknowledged keys listed: ${(s.unacknowledgedKeys as string[]).length}`,
    `  ${s.ok === true ? 'OK' : 'NOT OK'}`
  ].join('\n')
}

async function main (): Promise<number> {
  let opts: Options
  try {
    opts = parseOptions(process.argv.slice(2))
  } catch (err) {
    console.error(`chaos: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const root = opts.dir !== undefined ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'mpc-wallet-chaos-'))
  const group = new ProcessGroup(join(root, 'logs'))
  const onSignal = (): void => { void group.stopAll().then(() => process.exit(130)) }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let summary: Record<string, unknown>
  try {
    summary = await run(opts, group, root)
  } catch (err) {
    summary = { nodes: opts.nodes, ok: false, error: (err as Error).message }
    console.error(`chaos: ${(err as Error).message}`)
  } finally {
    await group.stopAll()
  }
  say('stopped every process')
  const keep = opts.dir !== undefined || summary.ok !== true
  if (keep) summary.dataDir = root
  else await rm(root, { recursive: true, force: true })
  if (summary.requests !== undefined) console.log(human(summary) + (keep ? `\n  data and logs in ${root}` : ''))
  if (opts.json) {
    quiet = true
    console.log(JSON.stringify(summary))
  }
  return summary.ok === true ? 0 : 1
}

process.exitCode = await main()
