import { peerIdFromString } from '@libp2p/peer-id'
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto'
import { isClusterId } from './topics.js'
import type { PeerId } from '@libp2p/interface'

/**
 * A join token: `mpcw2.<clusterId>.<coordinatorPeerId>.<adminSetHash>.<secret>`. It tells a new
 * node which cluster to join, which PeerId must answer as coordinator (Noise proves that
 * identity) and which admin set it must trust (the coordinator presents the set; the node checks
 * it against this hash), and carries the secret the coordinator checks.
 */
export interface JoinToken {
  clusterId: string
  coordinator: PeerId
  /** hex sha256 of the cluster's first admin set (adminSetHash in policy.ts) */
  adminSetHash: string
  secret: string
}

const PREFIX = 'mpcw2'
const SECRET = /^[A-Za-z0-9_-]{43}$/
const HASH = /^[0-9a-f]{64}$/

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError'
}

export function newTokenSecret (): string {
  return randomBytes(32).toString('base64url')
}

export function formatJoinToken (token: JoinToken): string {
  return [PREFIX, token.clusterId, token.coordinator.toString(), token.adminSetHash, token.secret].join('.')
}

export function parseJoinToken (text: string): JoinToken {
  const parts = text.trim().split('.')
  if (parts[0] === 'mpcw1') throw new InvalidTokenError('this invitation (mpcw1) names no admin set: ask the operator for a new one (mpc-wallet coordinator invite)')
  if (parts.length !== 5 || parts[0] !== PREFIX) throw new InvalidTokenError('join token must look like mpcw2.<cluster>.<peer id>.<admin set hash>.<secret>')
  const [, clusterId = '', peer = '', adminSetHash = '', secret = ''] = parts
  if (!isClusterId(clusterId)) throw new InvalidTokenError('join token has an invalid cluster id')
  if (!HASH.test(adminSetHash)) throw new InvalidTokenError('join token has an invalid admin set hash')
  if (!SECRET.test(secret)) throw new InvalidTokenError('join token has an invalid secret')
  let coordinator: PeerId
  try {
    coordinator = peerIdFromString(peer)
  } catch {
    throw new InvalidTokenError('join token has an invalid coordinator peer id')
  }
  return { clusterId, coordinator, adminSetHash, secret }
}

/** Constant-time comparison of a presented secret with the expected one (both hashed first). */
export function tokenSecretMatches (presented: string, expected: string): boolean {
  const hash = (s: string): Buffer => createHash('sha256').update(`mpc-wallet/join-token/1:${s}`).digest()
  return timingSafeEqual(hash(presented), hash(expected))
}
