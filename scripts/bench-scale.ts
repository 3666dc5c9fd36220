/**
 * `npm run bench -- --scale`: the simulation at several cluster sizes, one after the other, each
 * a coordinator and N node processes on loopback with keys of up to 10-of-20. Per size: time until
 * all are up, heartbeat delivery over a steady window (at the coordinator and at a member), the
 * coordinator's CPU and RSS, the nodes' RSS, keygen time per scheme and sign p50; every figure
 * also as a ratio to the smallest size's, measured in the same run.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { UsageError, wholeNumberArg } from './args.js'

const USAGE = `usage: npm run bench -- --scale [options]
  --sizes N,N,...      cluster sizes, smallest first (default 10,20,50; each 3-64)
  --steady-ms MS       quiet window per size for delivery, CPU and memory (default 60000)
  --sign-samples N     timed signatures per key and size (default 10)
  --json               make the last line a JSON object`

interface ScaleOptions { sizes: number[], steadyMs: number, signSamples: number, json: boolean }

function parseOptions (argv: string[]): ScaleOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scale: { type: 'boolean', default: true },
      sizes: { type: 'string', default: '10,20,50' },
      'steady-ms': { type: 'string', default: '60000' },
      'sign-samples': { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const sizes = values.sizes.split(',').map(s => wholeNumberArg('sizes', s.trim(), 3, 64))
  if (sizes.some((n, i) => i > 0 && n <= sizes[i - 1]!)) throw new UsageError('--sizes must grow from smallest to largest')
  return { sizes, steadyMs: wholeNumberArg('steady-ms', values['steady-ms'], 1_000, 600_000), signSamples: wholeNumberArg('sign-samples', values['sign-samples'], 1, 1_000), json: values.json }
}

interface Scale {
  upMs: number
  heartbeatIntervalMs: number
  heartbeatDeliveryPercent: { coordinator?: number, member?: number }
  coordinatorCpuPercent?: number
  coordinatorRssMiB?: number
  nodeCpuPercent?: { median: number, max: number, total: number }
  nodeRssMiB?: { median: number, max: number }
  keygenMs: Record<string, number>
  signP50Ms: Record<string, number>
}

interface SizeResult { nodes: number, ok: boolean, error?: string, keys?: Array<{ threshold: number, parties: number }>, scale?: Scale }

/** One simulation run of `nodes` as a child process; its JSON summary. */
async function simulateOnce (nodes: number, opts: ScaleOptions): Promise<SizeResult> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'simulate.js'), '--nodes', String(nodes), '--json', '--steady-ms', String(opts.steadyMs), '--sign-samples', String(opts.signSamples)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (!opts.json) process.stdout.write(d)
  })
  const stop = (): void => { child.kill('SIGTERM') }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await new Promise(resolve => child.on('exit', resolve))
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  const last = out.trim().split('\n').at(-1) ?? ''
  try {
    return JSON.parse(last) as SizeResult
  } catch {
    return { nodes, ok: false, error: `simulate printed no summary (exit ${child.exitCode ?? child.signalCode})` }
  }
}

const ratio = (value: number | undefined, base: number | undefined): string =>
  value === undefined || base === undefined || base === 0 ? '' : ` (${(value / base).toFixed(2)}x)`

function figureLines (r: SizeResult, base: SizeResult | undefined): string[] {
  const s = r.scale
  if (s === undefined) return [`${r.nodes} nodes: FAILED ${r.error ?? ''}`]
  const b = base?.scale
  const key = r.keys?.[0]
  return [
    `${r.nodes} nodes${r.ok ? '' : ' (run not ok)'}: all up in ${(s.upMs / 1000).toFixed(1)} s${ratio(s.upMs, b?.upMs)}, heartbeats every ${s.heartbeatIntervalMs} ms`,
    `  heartbeat delivery: ${s.heartbeatDeliveryPercent.coordinator ?? '?'}% at the coordinator, ${s.heartbeatDeliveryPercent.member ?? '?'}% at a member`,
    `  node CPU median ${s.nodeCpuPercent?.median ?? '?'}%, all nodes together ${s.nodeCpuPercent?.total ?? '?'}%${ratio(s.nodeCpuPercent?.total, b?.nodeCpuPercent?.total)}`,
    `  coordinator CPU ${s.coordinatorCpuPercent ?? '?'}%${ratio(s.coordinatorCpuPercent, b?.coordinatorCpuPercent)}, RSS ${s.coordinatorRssMiB ?? '?'} MiB${ratio(s.coordinatorRssMiB, b?.coordinatorRssMiB)}; node RSS median ${s.nodeRssMiB?.median ?? '?'} MiB, max ${s.nodeRssMiB?.max ?? '?'} MiB${ratio(s.nodeRssMiB?.max, b?.nodeRssMiB?.max)}`,
    ...Object.keys(s.keygenMs).map(scheme => `  ${scheme} ${key?.threshold ?? '?'}-of-${key?.parties ?? '?'}: keygen ${s.keygenMs[scheme]} ms${ratio(s.keygenMs[scheme], b?.keygenMs[scheme])}, sign p50 ${s.signP50Ms[scheme] ?? '?'} ms${ratio(s.signP50Ms[scheme], b?.signP50Ms[scheme])}`)
  ]
}

export async function benchScale (argv: string[]): Promise<number> {
  let opts: ScaleOptions
  try {
    opts = parseOptions(argv)
  } catch (err) {
    console.error(`bench --scale: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const results: SizeResult[] = []
  for (const nodes of opts.sizes) {
    if (!opts.json) console.log(`\n=== ${nodes} nodes ===`)
    results.push(await simulateOnce(nodes, opts))
  }
  const base = results[0]
  console.log(['', `scale (ratios against ${base?.nodes ?? '?'} nodes, measured in this run):`, ...results.flatMap(r => figureLines(r, base))].join('\n'))
  if (opts.json) console.log(JSON.stringify({ scale: results.map(r => ({ nodes: r.nodes, ok: r.ok, error: r.error, keys: r.keys?.map(k => `${k.threshold}-of-${k.parties}`), ...r.scale })) }))
  return results.every(r => r.ok) ? 0 : 1
}
