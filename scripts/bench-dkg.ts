/**
 * CPU cost of the DKG state machine (src/crypto/dkg.ts) per participant and per round: every
 * participant of a t-of-n DKG runs in this one process, messages are routed between in-memory
 * states (all round-1 messages first, then all round-2 messages), and the CPU time of each call
 * (process.cpuUsage, user + system) is charged to the participant that made it:
 *
 *   round1   startDkg (polynomial, commitments, proof of knowledge, X25519 key)
 *   recv1    receiving the other participants' round-1 messages (checks of each)
 *   round2   the round-1 message that completes round 1 (our shares computed and sealed)
 *   recv2    receiving round-2 messages (open our share, check it against its commitment)
 *   round3   the round-2 message that completes the DKG (group key, verifying shares, transcript)
 *
 * Usage: npx tsx scripts/bench-dkg.ts [--scheme ed25519|taproot] [--t 10] [--n 20] [--json]
 * (or build with `npx tsc -p .` and run `node dist/scripts/bench-dkg.js`).
 */
import { parseArgs } from 'node:util'
import { receiveDkg, startDkg, type DkgMessage, type DkgState, type Scheme, SCHEMES } from '../src/crypto/index.js'

const PHASES = ['round1', 'recv1', 'round2', 'recv2', 'round3'] as const
type Phase = typeof PHASES[number]

export interface DkgCpuReport {
  scheme: Scheme
  threshold: number
  parties: number
  /** mean CPU ms per participant, by phase */
  perParticipantMs: Record<Phase | 'total', number>
  /** the largest total CPU ms of any one participant */
  maxParticipantMs: number
  /** CPU ms summed over all participants */
  totalMs: number
}

function cpuMs (from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from)
  return (d.user + d.system) / 1000
}

export function benchDkg (scheme: Scheme, threshold: number, parties: number): DkgCpuReport {
  const names = Array.from({ length: parties }, (_, i) => `participant-${i + 1}`)
  const cost = new Map(names.map((name) => [name, Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>]))
  const charge = (name: string, phase: Phase, ms: number): void => { cost.get(name)![phase] += ms }
  const states = new Map<string, DkgState>()
  const queues: Record<1 | 2, Array<{ to: string, msg: DkgMessage }>> = { 1: [], 2: [] }
  const post = (from: string, outbound: DkgMessage[]): void => {
    for (const msg of outbound) for (const to of names) if (to !== from) queues[msg.round].push({ to, msg })
  }
  for (const self of names) {
    const t0 = process.cpuUsage()
    const { state, outbound } = startDkg({ scheme, clusterId: 'bench-dkg', sessionId: `bench-${scheme}-${threshold}-${parties}`, threshold, participants: names, self })
    charge(self, 'round1', cpuMs(t0))
    states.set(self, state)
    post(self, outbound)
  }
  let done = 0
  for (const round of [1, 2] as const) {
    for (let item = queues[round].shift(); item !== undefined; item = queues[round].shift()) {
      const t0 = process.cpuUsage()
      const step = receiveDkg(states.get(item.to)!, item.msg)
      const ms = cpuMs(t0)
      const phase: Phase = round === 1 ? (step.outbound.length > 0 ? 'round2' : 'recv1') : (step.outcome !== undefined ? 'round3' : 'recv2')
      charge(item.to, phase, ms)
      states.set(item.to, step.state)
      post(item.to, step.outbound)
      if (step.outcome !== undefined) done++
    }
  }
  if (done !== parties) throw new Error(`only ${done} of ${parties} participants finished`)
  const perParticipantMs = Object.fromEntries([...PHASES, 'total'].map((p) => [p, 0])) as Record<Phase | 'total', number>
  let maxParticipantMs = 0
  let totalMs = 0
  for (const c of cost.values()) {
    const sum = PHASES.reduce((s, p) => s + c[p], 0)
    for (const p of PHASES) perParticipantMs[p] += c[p] / parties
    perParticipantMs.total += sum / parties
    maxParticipantMs = Math.max(maxParticipantMs, sum)
    totalMs += sum
  }
  return { scheme, threshold, parties, perParticipantMs, maxParticipantMs, totalMs }
}

function main (): void {
  const { values } = parseArgs({
    options: {
      scheme: { type: 'string', multiple: true },
      t: { type: 'string', multiple: true },
      n: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    console.log('usage: bench-dkg [--scheme ed25519|taproot]… [--t T --n N]… [--json]   (default: both schemes at 3-of-5 and 10-of-20)')
    return
  }
  const schemes = (values.scheme ?? [...SCHEMES]) as Scheme[]
  for (const s of schemes) if (!SCHEMES.includes(s)) throw new Error(`unknown scheme ${s}`)
  const ts = (values.t ?? ['3', '10']).map(Number)
  const ns = (values.n ?? ['5', '20']).map(Number)
  if (ts.length !== ns.length) throw new Error('give as many --t as --n')
  // Warm up the JIT and noble's precomputed base-point tables, as a running node has them.
  for (const s of schemes) benchDkg(s, 2, 3)
  const reports: DkgCpuReport[] = []
  for (const scheme of schemes) {
    ts.forEach((t, i) => { reports.push(benchDkg(scheme, t, ns[i]!)) })
  }
  const f = (x: number): string => x.toFixed(1).padStart(8)
  if (!values.json) {
    console.log(`${'scheme'.padEnd(8)} ${'t-of-n'.padEnd(7)} ${PHASES.map((p) => p.padStart(8)).join(' ')} ${'total'.padStart(8)} ${'max'.padStart(8)} ${'all'.padStart(9)} ${'all/2'.padStart(8)}`)
    for (const r of reports) {
      console.log(`${r.scheme.padEnd(8)} ${`${r.threshold}-of-${r.parties}`.padEnd(7)} ${PHASES.map((p) => f(r.perParticipantMs[p])).join(' ')} ${f(r.perParticipantMs.total)} ${f(r.maxParticipantMs)} ${r.totalMs.toFixed(0).padStart(9)} ${f(r.totalMs / 2)}`)
    }
    console.log('CPU ms per participant by phase and in total; max: the costliest participant; all: summed over participants;')
    console.log('all/2: the least wall time the DKG crypto alone takes with every participant in its own process on 2 cores')
  } else {
    console.log(JSON.stringify(reports))
  }
}

main()
