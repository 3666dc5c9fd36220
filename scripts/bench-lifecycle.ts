/**
 * `npm run bench -- --lifecycle`: the key lifecycle (issue 14) timed on a cluster of processes on
 * loopback, at each size's default t-of-n (3-of-5 at 5 nodes, 10-of-20 at 20): refresh, reshare
 * (to t+1 and back, same holders), repair (one holder in its own place), each from request to
 * committed version at the API, with its phases (session, test signature, commit). Baselines
 * measured in the same run: the same cluster's keygen of the same size, and the floor, a refresh
 * of all n participants through src/crypto/reshare.ts in this process, one thread, no network.
 * Every test signature is verified by OpenSSL or libsecp256k1.
 */
import { receiveReshare, startReshare, type ReshareMessage, type ReshareState, type Scheme } from '../src/crypto/index.js'
import type { LifecycleResult } from '../src/coordinator/tasks.js'
import { dkgInProcess } from './bench-floor.js'
import { median, onCluster, parseSizeOptions, thresholdFor } from './bench-sizes.js'
import { verifyBip340External, verifyEd25519External } from './verify.js'

const USAGE = `usage: npm run bench -- --lifecycle [options]
  --sizes N,N,...   cluster sizes (default 5,20: 3-of-5 and 10-of-20 keys)
  --reps N          timed runs of each operation per scheme and size; the median is reported (default 3)
  --json            make the last line a JSON object`

interface Row { size: number, scheme: Scheme, threshold: number, parties: number, keygenMs: number, floorRefreshMs: number, ops: Record<string, { ms: number, sessionMs: number, testSignMs: number, commitMs: number }> }

const say = (line: string): void => { console.log(`[lifecycle] ${line}`) }

/** The floor: a refresh of every participant's share in this process (src/crypto/reshare.ts), every message delivered in turn. */
function refreshInProcess (scheme: Scheme, threshold: number, parties: number): number {
  const floorKey = dkgInProcess(scheme, threshold, parties, 'lifecycle-floor')
  const started = performance.now()
  const { names, keys } = floorKey
  const states = new Map<string, ReshareState>()
  const queue: Array<{ to: string, msg: ReshareMessage }> = []
  let done = 0
  const post = (from: string, out: ReshareMessage[]): void => { for (const msg of out) for (const to of names) if (to !== from) queue.push({ to, msg }) }
  names.forEach((self, i) => {
    const { state, outbound } = startReshare({ scheme, clusterId: 'bench', sessionId: 'floor', mode: 'refresh', oldPublic: keys[0]!.public, oldHolders: names, dealers: names, newHolders: names, newThreshold: threshold, self, ownKey: keys[i] })
    states.set(self, state)
    post(self, outbound)
  })
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    const step = receiveReshare(states.get(item.to)!, item.msg)
    states.set(item.to, step.state)
    if (step.outcome !== undefined) done++
    post(item.to, step.outbound)
  }
  if (done !== parties) throw new Error(`in-process refresh finished for ${done} of ${parties}`)
  return performance.now() - started
}

function verified (scheme: Scheme, result: LifecycleResult): boolean {
  return scheme === 'ed25519'
    ? verifyEd25519External(result.groupPublicKey, result.message, result.signature)
    : verifyBip340External(result.groupPublicKey.slice(2), result.message, result.signature)
}

export async function benchLifecycle (argv: string[]): Promise<number> {
  const opts = parseSizeOptions(argv, 'lifecycle', USAGE, { sizes: '5,20', reps: '3' })
  if (typeof opts === 'number') return opts
  const { sizes, reps } = opts
  const rows: Row[] = []
  for (const size of sizes) {
    await onCluster('lifecycle', size, async cluster => {
      const threshold = thresholdFor(size)
      say(`${size} nodes up; keys ${threshold}-of-${size}`)
      for (const scheme of ['ed25519', 'taproot'] as const) {
        const keygens: number[] = []
        let keyId = ''
        for (let i = 0; i < reps; i++) {
          const t0 = performance.now()
          keyId = (await cluster.api.keygen({ scheme, threshold, parties: size })).id
          keygens.push(performance.now() - t0)
        }
        const holders = (await cluster.api.key(keyId)).holders.map(h => h.peerId)
        const ops: Row['ops'] = {}
        const run = async (op: string, call: (i: number) => Promise<LifecycleResult>): Promise<void> => {
          const samples: Array<{ ms: number, r: LifecycleResult }> = []
          for (let i = 0; i < reps; i++) {
            const t0 = performance.now()
            const r = await call(i)
            samples.push({ ms: performance.now() - t0, r })
            if (!verified(scheme, r)) throw new Error(`${op} ${scheme}: the test signature does not verify`)
          }
          ops[op] = {
            ms: median(samples.map(s => s.ms)),
            sessionMs: median(samples.map(s => s.r.timing.sessionMs)),
            testSignMs: median(samples.map(s => s.r.timing.testSignMs)),
            commitMs: median(samples.map(s => s.r.timing.commitMs))
          }
          say(`${scheme} ${threshold}-of-${size} ${op}: median ${ops[op].ms} ms (session ${ops[op].sessionMs}, test signature ${ops[op].testSignMs}, commit ${ops[op].commitMs}) over ${reps}`)
        }
        await run('refresh', async () => await cluster.api.refresh(keyId))
        // To t+1 and back: the same holders, a new threshold each time.
        await run('reshare', async (i) => await cluster.api.reshare(keyId, { threshold: i % 2 === 0 ? threshold + 1 : threshold }))
        if (reps % 2 === 1) await cluster.api.reshare(keyId, { threshold })
        await run('repair', async (i) => await cluster.api.repair(keyId, holders[i % holders.length]!))
        const floorRefreshMs = refreshInProcess(scheme, threshold, size)
        rows.push({ size, scheme, threshold, parties: size, keygenMs: median(keygens), floorRefreshMs: Math.round(floorRefreshMs), ops })
      }
    })
  }
  console.log('')
  console.log('scheme   t-of-n    keygen   refresh (÷keygen, ÷floor)   reshare (÷keygen)   repair (÷keygen)   floor refresh')
  for (const r of rows) {
    const ratio = (ms: number, base: number): string => (ms / base).toFixed(2)
    const { refresh, reshare, repair } = r.ops
    console.log(`${r.scheme.padEnd(8)} ${`${r.threshold}-of-${r.parties}`.padEnd(9)} ${`${r.keygenMs} ms`.padStart(8)}   ${`${refresh!.ms} ms (${ratio(refresh!.ms, r.keygenMs)}, ${ratio(refresh!.ms, r.floorRefreshMs)})`.padEnd(26)}  ${`${reshare!.ms} ms (${ratio(reshare!.ms, r.keygenMs)})`.padEnd(18)}  ${`${repair!.ms} ms (${ratio(repair!.ms, r.keygenMs)})`.padEnd(17)}  ${r.floorRefreshMs} ms`)
  }
  console.log('median of each operation at the API, from request to committed version (session + agreement, test signature, commit); keygen: the same cluster, same size, same run; floor: a refresh of all n participants in this process, one thread, no network; every test signature verified by OpenSSL (Ed25519) or libsecp256k1 (BIP-340)')
  if (opts.json) console.log(JSON.stringify({ ok: true, rows }))
  return 0
}
