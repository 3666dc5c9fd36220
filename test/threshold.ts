/**
 * A threshold signature in this process, through src/crypto's RFC 9591 steps (commit, sign,
 * aggregate), for tests that need one without a cluster. The keys come from an in-process DKG:
 * dkgInProcess in scripts/bench-floor.ts.
 */
import type { Key } from '@noble/curves/abstract/frost.js'
import { aggregateSignature, commitNonces, signShare, type Scheme } from '../src/crypto/index.js'

export { dkgInProcess } from '../scripts/bench-floor.js'

/** The signature of `message` by exactly these holders' keys (at least the threshold of them). */
export function thresholdSign (scheme: Scheme, keys: Key[], message: Uint8Array): Uint8Array {
  const first = keys[0]
  if (first === undefined) throw new Error('no signers')
  const names: Record<string, string> = Object.fromEntries(keys.map((k, i) => [k.secret.identifier, `signer ${i + 1}`]))
  const commits = keys.map((k) => commitNonces(scheme, k.secret))
  const list = commits.map((c) => c.commitments)
  const shares: Record<string, Uint8Array> = Object.fromEntries(keys.map((k, i) => [k.secret.identifier, signShare(scheme, k, commits[i]!, list, message)]))
  return aggregateSignature(scheme, first.public, list, message, shares, names)
}
