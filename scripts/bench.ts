/**
 * `npm run bench`: starts a local multi-process cluster (a coordinator and 5 MPC nodes on
 * loopback TCP) and measures, for each scheme at 2-of-3 and 3-of-5, keygen latency, sign latency
 * (p50/p95) at the client, signatures per second with concurrent requests and the peak RSS of
 * the nodes; beside each figure, the in-process compute floor of the same operation measured in
 * this run (scripts/bench-floor.ts), and their ratio. Every signature is verified with outside
 * code. Nothing here is a timed assertion: the run fails only if something does not work.
 * `npm run bench -- --help` lists the options.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { launchCluster, metricValue, percentile, ProcessGroup, type LocalCluster, type Peer } from './processes.js'
import { newSignedRequest, type SignedRequest } from '../src/protocols/policy.js'
import { verifyKeySignature } from './verify.js'
import { criticalPathMs, dkgInProcess, measureFloor, signNoble, type FloorResult } from './bench-floor.js'
import { measureEventLog } from './bench-store.js'
import { wholeNumberArg } from './args.js'
import { benchScale } from './bench-scale.js'
import { benchLifecycle } from './bench-lifecycle.js'
import { benchWallet } from './bench-wallet.js'
import type { Scheme } from '../src/crypto/index.js'
import type { KeyView } from '../src/coordinator/requests.js'
import type { SignView } from '../src/coordinator/client.js'

const USAGE = `usage: npm run bench -- [options]
  --signs N              sequential signatures timed per scheme and size (default 50)
  --warmup N             untimed signatures before them (default 5)
  --keygens N            keygens timed per scheme and size; the median is reported (default 3)
  --concurrent-signs N   signatures in the throughput phase (default 80)
  --concurrency N        concurrent client loops in the throughput phase (default 8)
  --floor-signs N        in-process signatures timed for the floor (default 30)
  --floor-keygens N      in-process keygens timed for the floor (default 3)
  --heartbeat-ms MS      node heartbeat interval (default 1000)
  --load LEVELS          concurrent HTTP requests per load step, comma-separated (default 8,32,128; 0 skips)
  --only LIST            only these configurations, comma-separated, e.g. taproot:3-of-5 (default: all four)
  --json                 make the last line one JSON object with every figure
  --scale                the simulation at 10, 20 and 50 nodes instead (npm run bench -- --scale --help)
  --lifecycle            refresh, reshare and repair at 3-of-5 and 10-of-20 instead (npm run bench -- --lifecycle --help)
  --wallet               Bitcoin spends and Solana transfers against plain signatures instead (npm run bench -- --wallet --help)`

const NODES = 5
const CONFIGS: ReadonlyArray<{ scheme: Scheme, threshold: number, parties: number }> = [
  { scheme: 'ed25519', threshold: 2, parties: 3 },
  { scheme: 'ed25519', threshold: 3, parties: 5 },
  { scheme: 'taproot', threshold: 2, parties: 3 },
  { scheme: 'taproot', threshold: 3, parties: 5 }
]
const JOIN_DEADLINE_MS = 30_000

interface Options {
  signs: number
  warmup: number
  keygens: number
  concurrentSigns: number
  concurrency: number
  floorSigns: number
  floorKeygens: number
  heartbeatMs: number
  /** Concurrent requests of each load step (keygens per second, signatures per second); empty: none. */
  load: number[]
  json: boolean
  configs: typeof CONFIGS
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      signs: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '5' },
      keygens: { type: 'string', default: '3' },
      'concurrent-signs': { type: 'string', default: '80' },
      concurrency: { type: 'string', default: '8' },
      'floor-signs': { type: 'string', default: '30' },
      'floor-keygens': { type: 'string', default: '3' },
      'heartbeat-ms': { type: 'string', default: '1000' },
      load: { type: 'string', default: '8,32,128' },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  return {
    signs: wholeNumberArg('signs', values.signs, 1, 100_000),
    warmup: wholeNumberArg('warmup', values.warmup, 0, 10_000),
    keygens: wholeNumberArg('keygens', values.keygens, 1, 100),
    concurrentSigns: wholeNumberArg('concurrent-signs', values['concurrent-signs'], 1, 100_000),
    concurrency: wholeNumberArg('concurrency', values.concurrency, 1, 256),
    floorSigns: wholeNumberArg('floor-signs', values['floor-signs'], 1, 100_000),
    floorKeygens: wholeNumberArg('floor-keygens', values['floor-keygens'], 1, 1000),
    heartbeatMs: wholeNumberArg('heartbeat-ms', values['heartbeat-ms'], 50, 60_000),
    load: values.load === '0' ? [] : values.load.split(',').map(v => wholeNumberArg('load', v.trim(), 1, 512)),
    json: values.json,
    configs: configsOf(values.only)
  }
}

const configName = (c: typeof CONFIGS[number]): string => `${c.scheme}:${c.threshold}-of-${c.parties}`

function configsOf (only: string | undefined): typeof CONFIGS {
  if (only === undefined) return CONFIGS
  const names = only.split(',').map(n => n.trim())
  const unknown = names.filter(n => !CONFIGS.some(c => configName(c) === n))
  if (unknown.length > 0) throw new Error(`--only: unknown configuration ${unknown.join(', ')} (known: ${CONFIGS.map(configName).join(', ')})`)
  return CONFIGS.filter(c => names.includes(configName(c)))
}

// ---- small statistics, all in milliseconds

const median = (s: number[]): number => percentile(s, 0.5)
const mean = (s: number[]): number => s.reduce((a, b) => a + b, 0) / s.length
const round = (x: number, digits = 2): number => Number(x.toFixed(digits))

const started = performance.now()
function say (line: string): void {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`)
}

// ---- memory of the child processes, from /proc

const MIB = 1024 * 1024

/** VmHWM (peak RSS) and VmRSS of a process, in bytes; undefined where /proc is not readable. */
function memoryOf (pid: number): { hwm: number, rss: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
    const hwm = kib('VmHWM')
    const rss = kib('VmRSS')
    return Number.isFinite(hwm) && Number.isFinite(rss) ? { hwm, rss } : undefined
  } catch {
    return undefined
  }
}

/** Resets a process's VmHWM to its current RSS (Linux ≥ 4.0, our own children); false if refused. */
function resetPeak (pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

// ---- the cluster

type Cluster = LocalCluster

async function startCluster (opts: Options, group: ProcessGroup, root: string): Promise<Cluster> {
  return await launchCluster(group, root, { nodes: NODES, heartbeatMs: opts.heartbeatMs, joinDeadlineMs: JOIN_DEADLINE_MS, memberMetrics: 'all' })
}

// ---- one scheme and size on the cluster

interface ConfigResult {
  scheme: Scheme
  threshold: number
  parties: number
  keygen: { runsMs: number[], medianMs: number, floorRunsMs: number[], floorMedianMs: number, ratio: number }
  /** The sequential signatures: one round (pooled nonces, the default) and two rounds (pooled: false), side by side. */
  sign: {
    oneRound: SeriesFigures
    twoRounds: SeriesFigures
    /** noble's sequential FROST signature in this process (bench-floor.ts signNoble). */
    floorCount: number
    floorP50Ms: number
    floorP95Ms: number
    /** One signer's share + aggregation + verify (noble), sampled before the cluster runs and after each of its signatures. */
    criticalCount: number
    criticalP50Ms: number
    /** One-round p50 ÷ floor p50, one-round p95 ÷ floor p50, one-round p50 ÷ critical-path p50. */
    ratio: number
    p95Ratio: number
    criticalRatio: number
  }
  /** `signaturesPerSecond` against what the machine's cores could do at the floor's CPU time a signature. */
  concurrent: { concurrency: number, signatures: number, seconds: number, signaturesPerSecond: number, p50Ms: number, p95Ms: number, oneRound: number, coresPerSecond: number, ratio: number }
  /** Peak RSS during this configuration (VmHWM reset at its start) of the key's holders, and of the coordinator. */
  rss: { holders: Array<{ name: string, rssAtStartMiB: number, peakMiB: number }>, maxMiB: number, meanMiB: number, coordinatorPeakMiB: number, exact: boolean }
  /**
   * What the policy checks add to a signature, from the peers' own histograms over the sequential
   * signatures: the coordinator's check, then on each signer (in parallel) its check before the
   * commitment and before the share, each in the signature's critical path once.
   */
  policy: PolicyCost
  keyId: string
  verified: number
}

interface SeriesFigures {
  count: number
  p50Ms: number
  p95Ms: number
  meanMs: number
  minMs: number
  maxMs: number
  /** Signatures made in one round (pool hits). */
  oneRound: number
  /** Medians of the coordinator's own timing of the attempt that signed (SignView.timing). */
  phases: { round1Ms: number, round2Ms: number, aggregateMs: number }
}

interface PolicyCost { coordinatorMs: number, commitMs: number, shareMs: number, perSignMs: number, percentOfP50: number, nodeShareMs: number }

type CheckSums = Record<'coordinator' | 'commit' | 'share' | 'nodeShare', { sum: number, count: number }>

/** The policy-check histograms' sums and counts: the coordinator's, and every node's added up. */
async function policyChecks (cluster: Cluster): Promise<CheckSums> {
  const [coordinator, ...members] = await Promise.all([
    cluster.api.metrics(),
    ...cluster.nodes.map(async n => n.ready.http === undefined ? '' : await fetch(`${n.ready.http}/metrics`).then(async r => await r.text()))
  ])
  const read = (texts: string[], stage: string): { sum: number, count: number } => ({
    sum: texts.reduce((a, text) => a + (metricValue(text, `mpc_policy_check_seconds_sum{stage="${stage}"}`) ?? 0), 0),
    count: texts.reduce((a, text) => a + (metricValue(text, `mpc_policy_check_seconds_count{stage="${stage}"}`) ?? 0), 0)
  })
  // A node's whole signShare command, from decoded request to encoded answer (its own clock).
  const nodeShare = {
    sum: members.reduce((a, text) => a + (metricValue(text, 'mpc_session_seconds_sum{operation="sign"}') ?? 0), 0),
    count: members.reduce((a, text) => a + (metricValue(text, 'mpc_session_seconds_count{operation="sign"}') ?? 0), 0)
  }
  return { coordinator: read([coordinator], 'coordinator'), commit: read(members, 'commit'), share: read(members, 'share'), nodeShare }
}

function policyCost (before: CheckSums, after: CheckSums, p50Ms: number): PolicyCost {
  const meanMs = (stage: keyof CheckSums): number => {
    const n = after[stage].count - before[stage].count
    return n > 0 ? 1000 * (after[stage].sum - before[stage].sum) / n : 0
  }
  const [coordinatorMs, commitMs, shareMs] = [meanMs('coordinator'), meanMs('commit'), meanMs('share')]
  const perSignMs = coordinatorMs + commitMs + shareMs
  return { coordinatorMs: round(coordinatorMs, 3), commitMs: round(commitMs, 3), shareMs: round(shareMs, 3), perSignMs: round(perSignMs, 3), percentOfP50: round(100 * perSignMs / p50Ms, 1), nodeShareMs: round(meanMs('nodeShare'), 3) }
}

function verifierFor (key: KeyView): (messageHex: string, signatureHex: string) => boolean {
  return (m, s) => verifyKeySignature(key, m, s)
}

async function benchConfig (
  opts: Options, cluster: Cluster, config: typeof CONFIGS[number], floor: FloorResult
): Promise<ConfigResult> {
  const { scheme, threshold, parties } = config
  const label = `${scheme} ${threshold}-of-${parties}`
  const holders = cluster.nodes.slice(0, parties)
  const tracked = [...holders, cluster.coordinator]
  const rssAtStart = new Map(holders.map(h => [h.name, memoryOf(h.ready.pid)?.rss ?? NaN]))
  const exact = tracked.map(p => resetPeak(p.ready.pid)).every(Boolean)
  // Where the kernel refuses the reset, fall back to sampling VmRSS every 50 ms.
  const sampled = new Map<number, number>()
  const sampler = exact
    ? undefined
    : setInterval(() => {
      for (const p of tracked) sampled.set(p.ready.pid, Math.max(sampled.get(p.ready.pid) ?? 0, memoryOf(p.ready.pid)?.rss ?? 0))
    }, 50)

  try {
    const keygenMs: number[] = []
    const keygenFloorMs = [...floor.keygenMs]
    let key: KeyView | undefined
    for (let i = 0; i < opts.keygens; i++) {
      const t0 = performance.now()
      key = await cluster.api.keygen({ scheme, threshold, parties, members: holders.map(h => h.ready.peerId), network: 'regtest' })
      keygenMs.push(performance.now() - t0)
      // The keygen floor too, after each cluster keygen (see the signing floors below).
      const f0 = performance.now()
      dkgInProcess(scheme, threshold, parties, `interleaved-${i}`)
      keygenFloorMs.push(performance.now() - f0)
      if (key.scheme !== scheme || key.threshold !== threshold || key.parties !== parties) throw new Error(`keygen ${label} returned a ${key.scheme} ${key.threshold}-of-${key.parties} key`)
    }
    if (key === undefined) throw new Error('no key')
    const keyId = key.id
    say(`${label}: keygen median ${median(keygenMs).toFixed(0)} ms over ${keygenMs.length} (${keygenMs.map(x => x.toFixed(0)).join(', ')}); signing with key ${keyId}`)

    const verify = verifierFor(key)
    let verified = 0
    const critical = [...floor.criticalMs]
    const sequential = [...floor.signMs]
    const series = async (count: number, pooled: boolean): Promise<{ ms: number[], views: SignView[] }> => {
      const ms: number[] = []
      const views: SignView[] = []
      for (let i = 0; i < count; i++) {
        const message = randomBytes(32).toString('hex')
        const t0 = performance.now()
        const result = await cluster.sign(keyId, message, { pooled })
        ms.push(performance.now() - t0)
        if (result.signers.length !== threshold) throw new Error(`${label}: signed by ${result.signers.length} holders, expected ${threshold}`)
        if (!verify(message, result.signature)) throw new Error(`${label}: signature over ${message} does not verify`)
        verified++
        views.push(result)
        // Both floors, interleaved with the cluster's signatures (the cluster is idle now): on a
        // shared host the CPU's speed drifts, and a floor taken only before the cluster ran can
        // flatter or wrong it (the same noble signature took 60 ms in one run and 95 in another).
        critical.push(criticalPathMs(floor.key, randomBytes(32)))
        const t1 = performance.now()
        signNoble(floor.key, randomBytes(32))
        sequential.push(performance.now() - t1)
      }
      return { ms, views }
    }
    const figures = ({ ms, views }: { ms: number[], views: SignView[] }): SeriesFigures => ({
      count: ms.length,
      p50Ms: round(median(ms)),
      p95Ms: round(percentile(ms, 0.95)),
      meanMs: round(mean(ms)),
      minMs: round(Math.min(...ms)),
      maxMs: round(Math.max(...ms)),
      oneRound: views.filter(v => v.rounds === 1).length,
      phases: {
        round1Ms: round(median(views.map(v => v.timing.round1Ms))),
        round2Ms: round(median(views.map(v => v.timing.round2Ms))),
        aggregateMs: round(median(views.map(v => v.timing.aggregateMs)))
      }
    })

    await series(opts.warmup, true)
    const checksBefore = await policyChecks(cluster)
    const oneRound = figures(await series(opts.signs, true))
    const checks = policyCost(checksBefore, await policyChecks(cluster), oneRound.p50Ms)
    const twoRounds = figures(await series(opts.signs, false))
    say(`${label}: ${opts.signs} sequential signatures in one round: p50 ${oneRound.p50Ms} ms, p95 ${oneRound.p95Ms} ms (${oneRound.oneRound} pool hits; phases: share round ${oneRound.phases.round2Ms} ms, of it a signer's own signShare ${checks.nodeShareMs} ms on average; aggregate ${oneRound.phases.aggregateMs} ms); policy checks ${checks.perSignMs.toFixed(2)} ms of it`)
    say(`${label}: ${opts.signs} sequential signatures in two rounds: p50 ${twoRounds.p50Ms} ms, p95 ${twoRounds.p95Ms} ms (phases: commit round ${twoRounds.phases.round1Ms} ms, share round ${twoRounds.phases.round2Ms} ms, aggregate ${twoRounds.phases.aggregateMs} ms)`)

    // Throughput: `concurrency` client loops share one counter; verification happens afterwards.
    const pending: Array<{ message: string, signature: string }> = []
    const loadMs: number[] = []
    let issued = 0
    let concurrentOneRound = 0
    const t0 = performance.now()
    await Promise.all(Array.from({ length: opts.concurrency }, async () => {
      while (issued < opts.concurrentSigns) {
        issued++
        const message = randomBytes(32).toString('hex')
        const s0 = performance.now()
        const result = await cluster.sign(keyId, message)
        loadMs.push(performance.now() - s0)
        if (result.rounds === 1) concurrentOneRound++
        pending.push({ message, signature: result.signature })
      }
    }))
    const seconds = (performance.now() - t0) / 1000
    for (const { message, signature } of pending) {
      if (!verify(message, signature)) throw new Error(`${label}: concurrent signature over ${message} does not verify`)
      verified++
    }
    const perSecond = pending.length / seconds
    say(`${label}: ${pending.length} signatures by ${opts.concurrency} concurrent clients in ${seconds.toFixed(2)} s: ${perSecond.toFixed(1)}/s`)

    const peakOf = (p: Peer): number => exact ? (memoryOf(p.ready.pid)?.hwm ?? NaN) : (sampled.get(p.ready.pid) ?? NaN)
    const holderPeaks = holders.map(h => ({ name: h.name, rssAtStartMiB: round((rssAtStart.get(h.name) ?? NaN) / MIB, 1), peakMiB: round(peakOf(h) / MIB, 1) }))
    const keygenFloor = median(keygenFloorMs)
    const signFloor = median(sequential)
    const criticalFloor = median(critical)
    // What the cores could do if every signature cost the floor's CPU time and nothing else.
    const coresPerSecond = cpus().length / (signFloor / 1000)
    return {
      scheme,
      threshold,
      parties,
      keygen: { runsMs: keygenMs.map(x => round(x)), medianMs: round(median(keygenMs)), floorRunsMs: keygenFloorMs.map(x => round(x, 3)), floorMedianMs: round(keygenFloor, 3), ratio: round(median(keygenMs) / keygenFloor, 1) },
      sign: {
        oneRound,
        twoRounds,
        floorCount: sequential.length,
        floorP50Ms: round(signFloor, 3),
        floorP95Ms: round(percentile(sequential, 0.95), 3),
        criticalCount: critical.length,
        criticalP50Ms: round(criticalFloor, 3),
        ratio: round(oneRound.p50Ms / signFloor, 2),
        p95Ratio: round(oneRound.p95Ms / signFloor, 2),
        criticalRatio: round(oneRound.p50Ms / criticalFloor, 2)
      },
      concurrent: {
        concurrency: opts.concurrency, signatures: pending.length, seconds: round(seconds, 3), signaturesPerSecond: round(perSecond, 1), p50Ms: round(median(loadMs)), p95Ms: round(percentile(loadMs, 0.95)),
        oneRound: concurrentOneRound, coresPerSecond: round(coresPerSecond, 1), ratio: round(perSecond / coresPerSecond, 2)
      },
      rss: {
        holders: holderPeaks,
        maxMiB: round(Math.max(...holderPeaks.map(h => h.peakMiB)), 1),
        meanMiB: round(mean(holderPeaks.map(h => h.peakMiB)), 1),
        coordinatorPeakMiB: round(peakOf(cluster.coordinator) / MIB, 1),
        exact
      },
      policy: checks,
      keyId,
      verified
    }
  } finally {
    if (sampler !== undefined) clearInterval(sampler)
  }
}

// ---- throughput under load: many concurrent HTTP requests through the admission queue

/** A load step's client retries a request answered 429 or 503 with Retry-After at most this often. */
const LOAD_MAX_RETRIES = 20
/** Keygens under load: 2-of-3 Ed25519 among the cluster's members. */
const LOAD_KEYGEN = { scheme: 'ed25519', threshold: 2, parties: 3 } as const
/** Client names the load spreads over (X-Client-Id), for the queue's fairness. */
const LOAD_CLIENTS = 4

interface LoadCounts { requests: number, ok: number, seconds: number, perSecond: number, p50Ms: number, p95Ms: number, retried: number, retried429: number, retried503: number, failed: number, failures: string[] }
interface LoadResult { concurrency: number, keygens: LoadCounts, signatures: LoadCounts & { verified: number } }

/**
 * Keygens per second and signatures per second at `concurrency` concurrent requests through the
 * HTTP API: `concurrency` client loops share a counter of `total` requests. A request answered
 * 429 or 503 with Retry-After (the admission queue full, or a client over its share) waits that
 * long and is sent again; those retries are counted apart from failures (anything else).
 */
async function loadStep<T> (
  cluster: Cluster, token: string, concurrency: number, total: number, request: (i: number) => { path: string, body: unknown }, check: (answer: T, i: number) => void
): Promise<LoadCounts> {
  const url = cluster.coordinator.ready.api
  if (url === undefined) throw new Error('the coordinator reported no API address')
  const counts: LoadCounts = { requests: total, ok: 0, seconds: 0, perSecond: 0, p50Ms: 0, p95Ms: 0, retried: 0, retried429: 0, retried503: 0, failed: 0, failures: [] }
  const latencies: number[] = []
  let issued = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
    while (issued < total) {
      const i = issued++
      const { path, body } = request(i)
      const s0 = performance.now()
      for (let attempt = 0; attempt <= LOAD_MAX_RETRIES; attempt++) {
        const res = await fetch(new URL(path, url), {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-client-id': `bench-${loop % LOAD_CLIENTS}` },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(180_000)
        }).catch((err: unknown) => err as Error)
        if (res instanceof Error) {
          counts.failed++
          counts.failures.push(res.message)
          break
        }
        const retryAfter = Number(res.headers.get('retry-after'))
        if ((res.status === 429 || res.status === 503) && retryAfter > 0 && attempt < LOAD_MAX_RETRIES) {
          await res.body?.cancel()
          counts.retried++
          if (res.status === 429) counts.retried429++
          else counts.retried503++
          await new Promise(resolve => setTimeout(resolve, retryAfter * 1000))
          continue
        }
        const answer: unknown = await res.json()
        if (res.status !== 200) {
          counts.failed++
          counts.failures.push(`${res.status} ${JSON.stringify(answer).slice(0, 300)}`)
          break
        }
        check(answer as T, i)
        counts.ok++
        latencies.push(performance.now() - s0)
        break
      }
    }
  }))
  counts.seconds = round((performance.now() - t0) / 1000, 3)
  counts.perSecond = round(counts.ok / counts.seconds, 2)
  if (latencies.length > 0) {
    counts.p50Ms = round(median(latencies))
    counts.p95Ms = round(percentile(latencies, 0.95))
  }
  counts.failures = counts.failures.slice(0, 5)
  return counts
}

/** Each load level: `level` keygens from `level` concurrent clients, then max(2·level, 64) signatures with one key from `level` clients. */
async function benchLoad (opts: Options, cluster: Cluster, token: string): Promise<LoadResult[]> {
  const results: LoadResult[] = []
  for (const concurrency of opts.load) {
    const keys: KeyView[] = []
    const keygens = await loadStep<KeyView>(cluster, token, concurrency, concurrency, () => ({ path: '/v1/keys', body: LOAD_KEYGEN }), key => { keys.push(key) })
    say(`load @${concurrency}: ${keygens.ok}/${keygens.requests} keygens (${LOAD_KEYGEN.threshold}-of-${LOAD_KEYGEN.parties} ${LOAD_KEYGEN.scheme}) in ${keygens.seconds} s: ${keygens.perSecond}/s, p50 ${keygens.p50Ms} ms, p95 ${keygens.p95Ms} ms; retried ${keygens.retried} (429: ${keygens.retried429}, 503: ${keygens.retried503}); failed ${keygens.failed}${keygens.failures.length > 0 ? ` (${keygens.failures.join(' | ')})` : ''}`)
    const key = keys[0]
    if (key === undefined) throw new Error(`load @${concurrency}: no keygen succeeded`)
    const verify = verifierFor(key)
    const signed: Array<{ message: string, signature: string }> = []
    const total = Math.max(2 * concurrency, 64)
    const messages = Array.from({ length: total }, () => randomBytes(32).toString('hex'))
    const request = (i: number): SignedRequest => newSignedRequest(cluster.client, { clusterId: cluster.clusterId, keyId: key.id, message: Buffer.from(messages[i]!, 'hex') })
    const signs = await loadStep<{ signature: string }>(cluster, token, concurrency, total, i => ({ path: `/v1/keys/${encodeURIComponent(key.id)}/sign`, body: { message: messages[i], request: request(i) } }), (answer, i) => {
      signed.push({ message: messages[i]!, signature: answer.signature })
    })
    let verified = 0
    for (const { message, signature } of signed) {
      if (!verify(message, signature)) throw new Error(`load @${concurrency}: signature over ${message} does not verify`)
      verified++
    }
    say(`load @${concurrency}: ${signs.ok}/${signs.requests} signatures in ${signs.seconds} s: ${signs.perSecond}/s, p50 ${signs.p50Ms} ms, p95 ${signs.p95Ms} ms; retried ${signs.retried} (429: ${signs.retried429}, 503: ${signs.retried503}); failed ${signs.failed}; ${verified} verified${signs.failures.length > 0 ? ` (${signs.failures.join(' | ')})` : ''}`)
    results.push({ concurrency, keygens, signatures: { ...signs, verified } })
  }
  return results
}

function loadTable (results: LoadResult[]): string {
  const head = ['concurrent', 'keygens/s', 'keygen p50/p95 ms', 'keygens ok/retried/failed', 'sigs/s', 'sign p50/p95 ms', 'sigs ok/retried/failed']
  const rows = results.map(r => [
    String(r.concurrency),
    r.keygens.perSecond.toFixed(2),
    `${r.keygens.p50Ms.toFixed(0)}/${r.keygens.p95Ms.toFixed(0)}`,
    `${r.keygens.ok}/${r.keygens.retried}/${r.keygens.failed}`,
    r.signatures.perSecond.toFixed(1),
    `${r.signatures.p50Ms.toFixed(0)}/${r.signatures.p95Ms.toFixed(0)}`,
    `${r.signatures.ok}/${r.signatures.retried}/${r.signatures.failed}`
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  return [head, ...rows].map(cells => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

// ---- output

function table (results: ConfigResult[]): string {
  const head = ['scheme', 't-of-n', 'keygen ms (floor, ratio)', '1-round p50/p95 ms (hits)', '2-round p50/p95 ms', 'floor p50 / critical ms', 'ratio p50, p95, crit', `sigs/s @${results[0]?.concurrent.concurrency ?? 8} (ratio)`, 'peak RSS MiB']
  const rows = results.map(r => [
    r.scheme,
    `${r.threshold}-of-${r.parties}`,
    `${r.keygen.medianMs.toFixed(0)} (${r.keygen.floorMedianMs.toFixed(1)}, ${r.keygen.ratio.toFixed(1)}x)`,
    `${r.sign.oneRound.p50Ms.toFixed(1)}/${r.sign.oneRound.p95Ms.toFixed(1)} (${r.sign.oneRound.oneRound}/${r.sign.oneRound.count})`,
    `${r.sign.twoRounds.p50Ms.toFixed(1)}/${r.sign.twoRounds.p95Ms.toFixed(1)}`,
    `${r.sign.floorP50Ms.toFixed(2)} / ${r.sign.criticalP50Ms.toFixed(2)}`,
    `${r.sign.ratio.toFixed(2)}, ${r.sign.p95Ratio.toFixed(2)}, ${r.sign.criticalRatio.toFixed(1)}`,
    `${r.concurrent.signaturesPerSecond.toFixed(1)} (${r.concurrent.ratio.toFixed(2)})`,
    `${r.rss.maxMiB.toFixed(0)}/${r.rss.meanMiB.toFixed(0)}`
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  return [head, ...rows].map(cells => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

/** The goals of issue 13, at 3-of-5, each a ratio from this run against its bound. */
const GOALS = [
  { figure: 'sign p50 / floor p50', bound: 0.5, atMost: true, value: (r: ConfigResult) => r.sign.ratio },
  { figure: 'sign p95 / floor p50', bound: 1.0, atMost: true, value: (r: ConfigResult) => r.sign.p95Ratio },
  { figure: 'concurrent signatures/s / (cores / floor CPU s)', bound: 0.8, atMost: false, value: (r: ConfigResult) => r.concurrent.ratio },
  { figure: 'keygen median / floor median', bound: 1.5, atMost: true, value: (r: ConfigResult) => r.keygen.ratio }
] as const

interface GoalLine { figure: string, scheme: Scheme, value: number, bound: string, met: boolean, loadAvg: number[] }

function goalsOf (results: ConfigResult[]): GoalLine[] {
  const load = loadavg().map(x => round(x))
  return results.filter(r => r.threshold === 3 && r.parties === 5).flatMap(r => GOALS.map(g => {
    const value = g.value(r)
    return { figure: g.figure, scheme: r.scheme, value, bound: `${g.atMost ? '<=' : '>='} ${g.bound}`, met: g.atMost ? value <= g.bound : value >= g.bound, loadAvg: load }
  }))
}

// ---- main

async function logTails (logDir: string, lines = 8): Promise<string> {
  const files = await readdir(logDir).catch(() => [] as string[])
  const out: string[] = []
  for (const file of files.sort()) {
    const text = await readFile(join(logDir, file), 'utf8').catch(() => '')
    const tail = text.trimEnd().split('\n').slice(-lines).filter(l => l.length > 0)
    if (tail.length > 0) out.push(`--- ${file} (last ${tail.length} lines)`, ...tail)
  }
  return out.join('\n')
}

async function main (): Promise<number> {
  const argv = process.argv.slice(2)
  if (argv.includes('--scale')) return await benchScale(argv)
  if (argv.includes('--lifecycle')) return await benchLifecycle(argv)
  if (argv.includes('--wallet')) return await benchWallet(argv)
  let opts: Options
  try {
    opts = parseOptions(process.argv.slice(2))
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const cpuList = cpus()
  const machine = {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    totalMemMiB: Math.round(totalmem() / MIB),
    loadAvgAtStart: loadavg().map(x => round(x)),
    loadAvgAtEnd: [] as number[]
  }
  say(`machine: ${machine.cpus} cpus (${machine.cpuModel}), ${machine.totalMemMiB} MiB, Node ${machine.node}, load average ${machine.loadAvgAtStart.join(' ')}`)

  // The floor first, on a machine not yet busy with the cluster.
  const floors = new Map<string, FloorResult>()
  for (const c of opts.configs) {
    const f = measureFloor(c.scheme, c.threshold, c.parties, opts.floorKeygens, opts.floorSigns, 3)
    floors.set(`${c.scheme}/${c.threshold}/${c.parties}`, f)
    say(`floor ${c.scheme} ${c.threshold}-of-${c.parties} in this process: keygen median ${median(f.keygenMs).toFixed(1)} ms, noble's sequential sign p50 ${median(f.signMs).toFixed(2)} ms, critical path p50 ${median(f.criticalMs).toFixed(2)} ms`)
  }

  const eventLog = await measureEventLog()
  say(`event log on this disk: ${eventLog.appendsPerSecond} appends/s one at a time (each synced), ${eventLog.batchedPerSecond} events/s in synced batches of ${eventLog.batch} (${eventLog.eventBytes}-byte events)`)

  const root = await mkdtemp(join(tmpdir(), 'mpc-wallet-bench-'))
  const group = new ProcessGroup(join(root, 'logs'))
  let cleaned: Promise<void> | undefined
  const cleanup = async (): Promise<void> => {
    cleaned ??= (async () => {
      await group.stopAll()
      await rm(root, { recursive: true, force: true })
    })()
    await cleaned
  }
  // Ctrl-C or SIGTERM in the middle still stops every child and removes the temp dir.
  let aborting = false
  const abort = (): void => {
    aborting = true
    say('interrupted: stopping every process')
    void cleanup().finally(() => process.exit(130))
  }
  process.once('SIGINT', abort)
  process.once('SIGTERM', abort)

  let code = 0
  let summary: Record<string, unknown> = {}
  try {
    say(`starting a coordinator and ${NODES} nodes on 127.0.0.1 (data in ${root})`)
    const cluster = await startCluster(opts, group, root)
    say(`all ${NODES} nodes are up`)
    const tracked = [cluster.coordinator, ...cluster.nodes]
    // Peak RSS of the whole run per process: start-up included (VmHWM read before every reset).
    const lifetime = new Map<number, number>()
    const notePeaks = (): void => {
      for (const p of tracked) lifetime.set(p.ready.pid, Math.max(lifetime.get(p.ready.pid) ?? 0, memoryOf(p.ready.pid)?.hwm ?? 0))
    }
    notePeaks()
    const startupPeaks = tracked.map(p => ({ name: p.name, peakMiB: round((lifetime.get(p.ready.pid) ?? NaN) / MIB, 1) }))

    const results: ConfigResult[] = []
    for (const c of opts.configs) {
      notePeaks()
      results.push(await benchConfig(opts, cluster, c, floors.get(`${c.scheme}/${c.threshold}/${c.parties}`)!))
    }
    notePeaks()
    const token = (await readFile(join(cluster.coordinatorDir, 'api-token'), 'utf8')).trim()
    const load = await benchLoad(opts, cluster, token)
    notePeaks()
    const endRss = tracked.map(p => ({ name: p.name, rssMiB: round((memoryOf(p.ready.pid)?.rss ?? NaN) / MIB, 1), peakMiB: round((lifetime.get(p.ready.pid) ?? NaN) / MIB, 1) }))
    machine.loadAvgAtEnd = loadavg().map(x => round(x))
    const goals = goalsOf(results)
    const nodesEnd = endRss.filter(p => p.name !== 'coordinator')
    const coordinatorEnd = endRss.find(p => p.name === 'coordinator')

    console.log('')
    console.log(table(results))
    console.log('')
    for (const g of goals) console.log(`goal, ${g.scheme} 3-of-5: ${g.figure} = ${g.value} (goal ${g.bound}): ${g.met ? 'met' : 'NOT MET'} (load average ${g.loadAvg.join(' ')})`)
    for (const r of results) {
      const p = r.policy
      console.log(`policy checks, ${r.scheme} ${r.threshold}-of-${r.parties}: coordinator ${p.coordinatorMs.toFixed(2)} ms + each signer's commit ${p.commitMs.toFixed(2)} ms and share ${p.shareMs.toFixed(2)} ms = ${p.perSignMs.toFixed(2)} ms of the ${r.sign.oneRound.p50Ms} ms one-round p50 (${p.percentOfP50} %)`)
    }
    console.log(`floor, in this process, one thread, no network: keygen = src/crypto's DKG state machine of all n participants (median of ${opts.floorKeygens} before the cluster runs and one after each cluster keygen); sign = noble's FROST, t commits + t shares + aggregation + verify one after another (p50 of ${opts.floorSigns} before the cluster runs and one after each of its sequential signatures); critical path = one signer's share + aggregation + verify (noble), sampled the same way: the host's CPU speed drifts, and every floor sees the same drift as the cluster`)
    console.log(`one round: the holders' pooled nonces (hits = signatures made in one round); two rounds: the same requests with pooled: false; ratio = one-round p50 and p95 over the floor p50, and p50 over the critical path; sigs/s ratio = signatures/s over (cpus / floor CPU seconds a signature)`)
    console.log(`cluster: keygen = median of ${opts.keygens} at the client; sign = ${opts.signs} sequential requests after ${opts.warmup} warm-up; sigs/s = ${opts.concurrentSigns} signatures from ${opts.concurrency} concurrent clients; every signature verified by node:crypto (Ed25519) or libsecp256k1 (BIP-340)`)
    console.log(`peak RSS per row: VmHWM of the key's holders, reset at the row's start${results.every(r => r.rss.exact) ? '' : ' (or sampled VmRSS where the reset was refused)'}, so at least each holder's RSS then ` +
      `(growth during the row: max ${Math.max(...results.flatMap(r => r.rss.holders.map(h => h.peakMiB - h.rssAtStartMiB))).toFixed(0)} MiB); coordinator ${results.map(r => r.rss.coordinatorPeakMiB.toFixed(0)).join('/')} MiB`)
    console.log(`peak RSS over the whole run, start-up included (the key store unlock is scrypt N=2^17 r=8, 128 MiB): nodes max ${Math.max(...nodesEnd.map(p => p.peakMiB)).toFixed(0)} / mean ${mean(nodesEnd.map(p => p.peakMiB)).toFixed(0)} MiB, coordinator ${coordinatorEnd?.peakMiB.toFixed(0) ?? '?'} MiB; RSS now: nodes max ${Math.max(...nodesEnd.map(p => p.rssMiB)).toFixed(0)} / mean ${mean(nodesEnd.map(p => p.rssMiB)).toFixed(0)} MiB`)
    console.log(`machine: ${machine.cpus} cpus (${machine.cpuModel}), Node ${machine.node}, ${machine.platform}; load average ${machine.loadAvgAtStart.join(' ')} at start, ${machine.loadAvgAtEnd.join(' ')} at end; ${NODES} nodes + coordinator + this client share the machine`)
    // The cluster alone keeps about its own load; more than the cpus before it started means other work.
    if (load.length > 0) {
      console.log('')
      console.log(loadTable(load))
      console.log(`load: N concurrent HTTP clients (X-Client-Id over ${LOAD_CLIENTS} names) through the coordinator's admission queue: N keygens (${LOAD_KEYGEN.threshold}-of-${LOAD_KEYGEN.parties} ${LOAD_KEYGEN.scheme}), then max(2N, 64) signatures with one of their keys; per second = made / wall time; a 429 or 503 with Retry-After is waited out and retried (counted as retried, not failed); every signature verified`)
    }
    if ((machine.loadAvgAtStart[0] ?? 0) > machine.cpus * 0.5) console.log(`note: the machine was already busy when the bench started (1-minute load ${machine.loadAvgAtStart[0]} on ${machine.cpus} cpus); the figures, floor included, are noisy`)

    summary = {
      ok: true,
      machine,
      options: opts,
      nodes: NODES,
      results,
      load,
      eventLog,
      goals,
      rssWholeRun: { startup: startupPeaks, end: endRss },
      verified: results.reduce((a, r) => a + r.verified, 0)
    }
  } catch (err) {
    code = 1
    if (aborting) await new Promise(() => {}) // the children are being stopped under us; abort() exits
    console.error(`bench: ${(err as Error).message}`)
    console.error(await logTails(join(root, 'logs')))
    summary = { ok: false, error: (err as Error).message, machine, options: opts }
  } finally {
    await cleanup()
    process.off('SIGINT', abort)
    process.off('SIGTERM', abort)
  }
  say(`stopped every process (${group.running} still running) and removed ${root}`)
  if (opts.json) console.log(JSON.stringify({ ...summary, durationS: round((performance.now() - started) / 1000, 1) }))
  return code
}

process.exitCode = await main()
