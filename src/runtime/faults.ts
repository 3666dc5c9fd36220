import type { RoundMessage } from '../protocols/messages.js'

/**
 * Misbehaviour a test can switch on in a node, to prove the cluster names and survives it.
 * Never set by the CLI; the defaults (all off) are what every real node runs.
 */
export interface NodeFaults {
  /** Runs after a nonce is durably spent and before the share is computed (a crash there): two rounds. */
  afterNonceSpent?: () => void
  /** Runs after a pooled nonce left its pool and the policy allowed the share, before the share is computed: one round. */
  afterPooledNonceTaken?: () => void
  /** Runs after a lifecycle session stored its next share (pending), before the node countersigns it. */
  afterNextShareSaved?: () => void
  /** Runs when a lifecycle commit promoted the next share (a crash right after it). */
  afterNextSharePromoted?: () => void
  /** Flips a bit of every signature share this node sends. */
  corruptSignatureShare?: boolean
  /** Flips a bit of the sealed DKG share this node sends to these PeerIds. */
  corruptDkgShareTo?: string[]
  /** Publishes a second, different round-1 message in every DKG (equivocation). */
  equivocateRound1?: boolean
  /**
   * Equivocates in every DKG with two valid round-1 packages (each its own polynomial and proof
   * of knowledge, one X25519 key): `deliver` sends the second to the members in `to` and the
   * first to the others; each member's round-2 share matches the package it got, so no member
   * can tell on its own. A test wires `deliver` to gossipsub: two messages under one message id
   * (one sequence number), so every member keeps the one that reaches it first and drops the
   * other as a duplicate.
   */
  splitRound1?: { to: string[], deliver: (sessionId: string, first: RoundMessage, second: RoundMessage) => Promise<void> }
  /** Starts its DKG this long after the keygen command arrives (a command that reached it late). */
  delayKeygenMs?: number
  /** Does not publish its first round-1 message (a lost message the session must recover). */
  dropFirstRound1?: boolean
  /** Answers the coordinator's key commit without acting on it (as if the commit was lost). */
  dropKeyCommit?: boolean
  /** Answers signing round one with a hiding commitment that is not a valid point. */
  invalidCommitment?: boolean
  /** Answers every listRecords with a page of invented versions and `more: true`, forever. */
  endlessRecordList?: boolean
  /** Publishes a digest that claims records it does not have (a random hash), every interval. */
  falseDigest?: boolean
}

export function flipBit (bytes: Uint8Array, index = 0): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy[index % copy.length]! ^= 0x01
  return copy
}
