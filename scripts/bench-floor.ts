/**
 * The in-process compute floor of keygen and signing: the pure FROST layer (src/crypto, over
 * noble) driven in one thread, every participant's steps and the aggregation one after another,
 * messages routed between in-memory states, no network, no storage, no processes. What the
 * cluster adds on top of this is the cost of distribution.
 */
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Key } from '@noble/curves/abstract/frost.js'
import {
  aggregateSignature, commitNonces, frostSuite, participantIdentifier, receiveDkg, signShare, startDkg, verifySignature,
  type DkgMessage, type DkgOutcome, type DkgState, type Scheme
} from '../src/crypto/index.js'

export interface FloorKey {
  scheme: Scheme
  threshold: number
  /** participant names in participant order; name i has identifier participantIdentifier(scheme, i + 1) */
  names: string[]
  keys: Key[]
  groupPublicKey: Uint8Array
}

/** One full DKG among `parties` in-memory participants; returns every participant's key. */
export function dkgInProcess (scheme: Scheme, threshold: number, parties: number, sessionId: string): FloorKey {
  const names = Array.from({ length: parties }, (_, i) => `participant-${i + 1}`)
  const states = new Map<string, DkgState>()
  const outcomes = new Map<string, DkgOutcome>()
  const queue: Array<{ to: string, msg: DkgMessage }> = []
  const post = (from: string, outbound: DkgMessage[]): void => {
    for (const msg of outbound) for (const to of names) if (to !== from) queue.push({ to, msg })
  }
  for (const self of names) {
    const { state, outbound } = startDkg({ scheme, clusterId: 'bench-floor', sessionId, threshold, participants: names, self })
    states.set(self, state)
    post(self, outbound)
  }
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    const step = receiveDkg(states.get(item.to)!, item.msg)
    states.set(item.to, step.state)
    if (step.outcome !== undefined) outcomes.set(item.to, step.outcome)
    post(item.to, step.outbound)
  }
  if (outcomes.size !== parties) throw new Error(`in-process DKG finished for ${outcomes.size} of ${parties} participants`)
  const first = outcomes.get(names[0]!)!
  const hex = Buffer.from(first.groupPublicKey).toString('hex')
  if (![...outcomes.values()].every(o => Buffer.from(o.groupPublicKey).toString('hex') === hex)) throw new Error('in-process DKG: participants disagree on the group key')
  return { scheme, threshold, names, keys: names.map(n => outcomes.get(n)!.key), groupPublicKey: first.groupPublicKey }
}

/** One signature by the first `threshold` participants: t commits, t shares, aggregation (which verifies). */
export function signInProcess (key: FloorKey, message: Uint8Array): Uint8Array {
  const { scheme, threshold } = key
  const signers = key.keys.slice(0, threshold)
  const commits = signers.map(k => commitNonces(scheme, k.secret))
  const list = commits.map(c => c.commitments)
  const shares: Record<string, Uint8Array> = {}
  const names: Record<string, string> = {}
  signers.forEach((k, i) => {
    shares[k.secret.identifier] = signShare(scheme, k, commits[i]!, list, message)
    names[k.secret.identifier] = key.names[i]!
  })
  return aggregateSignature(scheme, signers[0]!.public, list, message, shares, names)
}

/**
 * The same signature through noble's FROST alone, without src/crypto's strict input checks
 * (element validation with torsion checks, commitment-list checks): a lower bound below the
 * floor, reported for context only.
 */
export function signNobleOnly (key: FloorKey, message: Uint8Array): Uint8Array {
  const frost = frostSuite(key.scheme)
  const signers = key.keys.slice(0, key.threshold)
  const commits = signers.map(k => frost.commit(k.secret))
  const list = commits.map(c => c.commitments)
  const shares: Record<string, Uint8Array> = {}
  signers.forEach((k, i) => { shares[k.secret.identifier] = frost.signShare(k.secret, k.public, commits[i]!.nonces, list, message) })
  const signature = frost.aggregate(signers[0]!.public, list, message, shares)
  if (!frost.verify(signature, message, key.groupPublicKey)) throw new Error(`noble-only ${key.scheme} signature does not verify`)
  return signature
}

export interface FloorResult {
  keygenMs: number[]
  signMs: number[]
  nobleOnlySignMs: number[]
}

/**
 * Times `keygenRuns` in-process DKGs (after one untimed) and `signRuns` in-process signatures
 * (after `warmup` untimed), so the JIT has compiled the code as the nodes' warm-up has; then the
 * same signatures through noble alone. Every signature is checked under the group key, untimed.
 */
export function measureFloor (scheme: Scheme, threshold: number, parties: number, keygenRuns: number, signRuns: number, warmup: number): FloorResult {
  dkgInProcess(scheme, threshold, parties, 'warmup') // one is enough: a DKG runs each code path many times
  const keygenMs: number[] = []
  let key: FloorKey | undefined
  for (let i = 0; i < keygenRuns; i++) {
    const t0 = performance.now()
    key = dkgInProcess(scheme, threshold, parties, `run-${i}`)
    keygenMs.push(performance.now() - t0)
  }
  if (key === undefined) throw new Error('no in-process key')
  if (participantIdentifier(scheme, 1) !== key.keys[0]!.secret.identifier) throw new Error('in-process DKG: unexpected identifiers')
  const signMs: number[] = []
  for (let i = 0; i < warmup + signRuns; i++) {
    const message = randomBytes(32)
    const t0 = performance.now()
    const signature = signInProcess(key, message)
    const ms = performance.now() - t0
    if (!verifySignature(scheme, signature, message, key.groupPublicKey)) throw new Error(`in-process ${scheme} signature does not verify`)
    if (i >= warmup) signMs.push(ms)
  }
  const nobleOnlySignMs: number[] = []
  for (let i = 0; i < warmup + signRuns; i++) {
    const message = randomBytes(32)
    const t0 = performance.now()
    const signature = signNobleOnly(key, message)
    const ms = performance.now() - t0
    if (!verifySignature(scheme, signature, message, key.groupPublicKey)) throw new Error(`noble-only ${scheme} signature does not verify`)
    if (i >= warmup) nobleOnlySignMs.push(ms)
  }
  return { keygenMs, signMs, nobleOnlySignMs }
}
