import { peerIdFromString } from '@libp2p/peer-id'
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto'
import { isClusterId } from './topics.js'
import type { PeerId } from '@libp2p/interface'

/**
 * A join token: `mpcw1.<clusterId>.<coordinatorPeerId>.<secret>`. It tells a new node which
 * cluster to join and which PeerId must answer as coordinator (Noise proves that identity),
 * and carries the secret the coordinator checks.
 */
export interface JoinToken {
  clusterId: string
  coordinator: PeerId
  secret: string
}

const PREFIX = 'mpcw1'
const SECRET = /^[A-Za-z0-9_-]{43}$/

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError'
}

export function newTokenSecret (): string {
  return randomBytes(32).toString('base64url')
}

export function formatJoinToken (token: JoinToken): string {
  return [PREFIX, token.clusterId, token.coordinator.toString(), token.secret].join('.')
}

export function parseJoinToken (text: string): JoinToken {
  const parts = text.trim().split('.')
  if (parts.length !== 4 || parts[0] !== PREFIX) throw new InvalidTokenError('join token must look like mpcw1.<cluster>.<peer id>.<secret>')
  const [, clusterId = '', peer = '', secret = ''] = parts
  if (!isClusterId(clusterId)) throw new InvalidTokenError('join token has an invalid cluster id')
  if (!SECRET.test(secret)) throw new InvalidTokenError('join token has an invalid secret')
  let coordinator: PeerId
  try {
    coordinator = peerIdFromString(peer)
  } catch {
    throw new InvalidTokenError('join token has an invalid coordinator peer id')
  }
  return { clusterId, coordinator, secret }
}

/** Constant-time comparison of a presented secret with the expected one (both hashed first). */
export function tokenSecretMatches (presented: string, expected: string): boolean {
  const hash = (s: string): Buffer => createHash('sha256').update(`mpc-wallet/join-token/1:${s}`).digest()
  return timingSafeEqual(hash(presented), hash(expected))
}
