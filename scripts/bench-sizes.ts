/**
 * What the per-size benchmarks (`--lifecycle`, `--wallet`) share: their options (cluster sizes,
 * repetitions, JSON), the default t-of-n of a size, and a fresh cluster of node processes per
 * size, stopped and removed whatever happens.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { UsageError, wholeNumberArg } from './args.js'
import { launchCluster, percentile, ProcessGroup, type LocalCluster } from './processes.js'

export interface SizeOptions { sizes: number[], reps: number, json: boolean }

/** 3-of-5 at 5 nodes, 10-of-20 at 20. */
export const thresholdFor = (n: number): number => n <= 5 ? Math.max(2, n - 2) : Math.ceil(n / 2)
export const median = (xs: number[]): number => Math.round(percentile(xs, 0.5))

/** The options after `flag`, or the exit code once help (0) or a usage error (2) is printed. */
export function parseSizeOptions (argv: string[], flag: string, usage: string, defaults: { sizes: string, reps: string }): SizeOptions | number {
  const { values } = parseArgs({ args: argv, strict: true, options: { [flag]: { type: 'boolean' }, sizes: { type: 'string', default: defaults.sizes }, reps: { type: 'string', default: defaults.reps }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } })
  if (values.help === true) {
    console.log(usage)
    return 0
  }
  try {
    return {
      sizes: String(values.sizes).split(',').map(s => wholeNumberArg('sizes', s.trim(), 3, 64)),
      reps: wholeNumberArg('reps', String(values.reps), 1, 50),
      json: values.json === true
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    console.error(`bench: ${err.message}\n${usage}`)
    return 2
  }
}

/** `work` on a new cluster of `size` node processes on loopback. */
export async function onCluster<T> (name: string, size: number, work: (cluster: LocalCluster) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), `mpc-wallet-bench-${name}-`))
  const group = new ProcessGroup(join(root, 'logs'))
  try {
    return await work(await launchCluster(group, root, { nodes: size, heartbeatMs: 1_000, joinDeadlineMs: 10_000 + 1_500 * size }))
  } finally {
    await group.stopAll()
    await rm(root, { recursive: true, force: true })
  }
}
