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
  frostSuite, participantIdentifier, receiveDkg, startDkg, verifySignature, type DkgMessage, type DkgOutcome, type DkgState, type Scheme
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

/**
 * The floor of a signature: noble's FROST (RFC 9591) in one thread, the first `threshold`
 * participants one after another: t commits, t shares, the aggregation and one verification.
 * Our own FROST steps (src/crypto) are not in it, so the ratio shows what the network and our
 * code add or save against noble.
 */
export function signNoble (key: FloorKey, message: Uint8Array): Uint8Array {
  const frost = frostSuite(key.scheme)
  const signers = key.keys.slice(0, key.threshold)
  const commits = signers.map(k => frost.commit(k.secret))
  const list = commits.map(c => c.commitments)
  const shares: Record<string, Uint8Array> = {}
  signers.forEach((k, i) => { shares[k.secret.identifier] = frost.signShare(k.secret, k.public, commits[i]!.nonces, list, message) })
  const signature = frost.aggregate(signers[0]!.public, list, message, shares)
  if (!frost.verify(signature, message, key.groupPublicKey)) throw new Error(`noble ${key.scheme} signature does not verify`)
  return signature
}

/**
 * The critical-path floor of a signature, in ms: with the signers working in parallel and their
 * nonces made ahead of time, a signature cannot take less than one signer's share plus the
 * aggregation and its verification (noble's, one thread). The other shares are made untimed.
 */
export function criticalPathMs (key: FloorKey, message: Uint8Array): number {
  const frost = frostSuite(key.scheme)
  const signers = key.keys.slice(0, key.threshold)
  const commits = signers.map(k => frost.commit(k.secret))
  const list = commits.map(c => c.commitments)
  const shares: Record<string, Uint8Array> = {}
  signers.slice(1).forEach((k, i) => { shares[k.secret.identifier] = frost.signShare(k.secret, k.public, commits[i + 1]!.nonces, list, message) })
  const first = signers[0]!
  const t0 = performance.now()
  shares[first.secret.identifier] = frost.signShare(first.secret, first.public, commits[0]!.nonces, list, message)
  const signature = frost.aggregate(first.public, list, message, shares)
  const ok = frost.verify(signature, message, key.groupPublicKey)
  const ms = performance.now() - t0
  if (!ok) throw new Error(`noble ${key.scheme} signature does not verify`)
  return ms
}

export interface FloorResult {
  /** One in-process key of the configuration, for critical-path samples between the cluster's signatures. */
  key: FloorKey
  keygenMs: number[]
  /** noble's sequential FROST signature (signNoble). */
  signMs: number[]
  /** Critical-path samples taken here, before the cluster runs (more are taken between its signatures). */
  criticalMs: number[]
}

/**
 * Times `keygenRuns` in-process DKGs (after one untimed) and `signRuns` noble signatures and
 * critical paths (after `warmup` untimed), so the JIT has compiled the code as the nodes'
 * warm-up has. Every signature is checked under the group key by outside code, untimed.
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
  const criticalMs: number[] = []
  for (let i = 0; i < warmup + signRuns; i++) {
    const message = randomBytes(32)
    const t0 = performance.now()
    const signature = signNoble(key, message)
    const ms = performance.now() - t0
    if (!verifySignature(scheme, signature, message, key.groupPublicKey)) throw new Error(`noble ${scheme} signature does not verify`)
    const critical = criticalPathMs(key, randomBytes(32))
    if (i >= warmup) {
      signMs.push(ms)
      criticalMs.push(critical)
    }
  }
  return { key, keygenMs, signMs, criticalMs }
}
