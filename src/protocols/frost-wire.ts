import type { NonceCommitment } from './messages.js'
import type { NonceCommitments } from '@noble/curves/abstract/frost.js'

/** Decoded commitments as noble takes them (fresh, ArrayBuffer-backed copies). */
export function commitmentsFromWire (list: NonceCommitment[]): NonceCommitments[] {
  return list.map(c => ({ identifier: c.identifier, hiding: Uint8Array.from(c.hiding), binding: Uint8Array.from(c.binding) }))
}
