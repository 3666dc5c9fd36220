import { crossCheck, verifyChain, type AuditEntry, type ProducedSignature } from '../protocols/audit.js'
import type { ApiClient } from './client.js'

/** Pages of one chain read at most: 48 entries a page, so about five million decisions. */
const MAX_AUDIT_PAGES = 100_000

export interface NodeAudit {
  node: string
  /** entries read (all of the chain when ok) */
  entries: number
  ok: boolean
  /** the first bad entry, when the chain is broken */
  badSeq?: number
  problem?: string
}

export interface AuditReport {
  ok: boolean
  nodes: NodeAudit[]
  /** signatures the coordinator's event log says the cluster made for a signed request */
  signatures: number
  /** cross-node disagreements: a signer whose chain lacks the decision behind a signature */
  problems: string[]
}

/**
 * Reads every member's audit chain through the coordinator and checks it: each chain's links
 * and signatures (the member's identity key, by OpenSSL), then cross-node agreement: every
 * signature the event log records appears, with the same request hash, as an allowed share in
 * the chain of each of its signers. The chains carry their own proof (a coordinator that edits
 * one in transit breaks its signatures); the list of signatures is the coordinator's word.
 */
export async function verifyClusterAudit (api: ApiClient): Promise<AuditReport> {
  const { members } = await api.members()
  const chains = new Map<string, AuditEntry[]>()
  const nodes: NodeAudit[] = []
  for (const { peerId } of members) {
    const entries: unknown[] = []
    try {
      let more = true
      for (let page = 0; more && page < MAX_AUDIT_PAGES; page++) {
        const answer = await api.audit(peerId, entries.length)
        entries.push(...answer.entries)
        more = answer.more && answer.entries.length > 0
      }
    } catch (err) {
      nodes.push({ node: peerId, entries: entries.length, ok: false, problem: `chain not read: ${(err as Error).message}` })
      continue
    }
    const verdict = verifyChain(peerId, entries as AuditEntry[])
    if (verdict.ok) {
      chains.set(peerId, entries as AuditEntry[])
      nodes.push({ node: peerId, entries: verdict.count, ok: true })
    } else {
      nodes.push({ node: peerId, entries: entries.length, ok: false, badSeq: verdict.seq, problem: `entry ${verdict.seq}: ${verdict.reason}` })
    }
  }
  const signatures: ProducedSignature[] = []
  for (let after = 0; ;) {
    const page = await api.events({ after, limit: 1000, types: ['session_finished'] })
    for (const e of page) {
      if (e.operation === 'sign' && e.requestHash !== undefined && e.signers !== undefined && e.sessionId !== undefined && e.keyId !== undefined) {
        signatures.push({ sessionId: e.sessionId, keyId: e.keyId, requestHash: e.requestHash, signers: e.signers })
      }
    }
    if (page.length < 1000) break
    after = page.at(-1)!.seq
  }
  // A broken chain is reported above; its signatures are not checked against it again.
  const readable = signatures.map(s => ({ ...s, signers: s.signers.filter(n => chains.has(n) || !nodes.some(x => x.node === n)) }))
  const problems = crossCheck(chains, readable)
  return { ok: nodes.every(n => n.ok) && problems.length === 0, nodes, signatures: signatures.length, problems }
}
