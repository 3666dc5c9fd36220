import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  AUDIT_LIMITS, auditEntryHash, auditSigningBytes, crossCheck, GENESIS_HASH, parseAuditEntry, verifyChain,
  type AuditDecision, type AuditEntry, type ProducedSignature
} from '../../src/protocols/audit.js'
import { AuditLog, type AuditSigner } from '../../src/state/audit-log.js'
import { Store } from '../../src/store/store.js'
import { tempDir } from '../helpers.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const digest = (c: string): string => c.repeat(64)

/** A node's identity as the node has it: a libp2p Ed25519 key, its PeerId string, a signer. */
async function identity (): Promise<AuditSigner> {
  const key = await generateKeyPair('Ed25519')
  return { node: peerIdFromPrivateKey(key).toString(), sign: async (data) => await key.sign(data) }
}

function allowedShare (sessionId: string, requestHash = digest('a'), keyId = 'key-1'): AuditDecision {
  return {
    stage: 'share', outcome: 'allowed', keyId, sessionId, requestId: `req-${sessionId}`, requestHash,
    client: 'payments', approvals: [digest('c'), digest('b')], messageDigest: digest('d'), policyVersion: 3
  }
}

const denial: AuditDecision = {
  stage: 'commit', outcome: 'denied', rule: 'rate-limit', reason: 'key key-1 is at its limit of 5 signature(s) per hour',
  keyId: 'key-1', sessionId: 'sess-denied', client: 'payments', approvals: [], policyVersion: 3
}

const name = (seq: number): string => `audit:${String(seq).padStart(12, '0')}`

let dir: Awaited<ReturnType<typeof tempDir>>
let store: Store
let self: AuditSigner

beforeEach(async () => {
  dir = await tempDir('mpcw-audit-')
  store = await Store.open(dir.path)
  self = await identity()
})
afterEach(async () => {
  try {
    await store.close()
  } finally {
    await dir[Symbol.asyncDispose]()
  }
})

/** A chain of `n` entries (allowed shares of sessions s1…sn, a denial every third), through a real AuditLog. */
async function chainOf (n: number): Promise<{ log: AuditLog, entries: AuditEntry[] }> {
  const log = await AuditLog.open(store, self)
  for (let i = 1; i <= n; i++) await log.append(i % 3 === 0 ? { ...denial, sessionId: `s${i}` } : allowedShare(`s${i}`), 1_700_000_000_000 + i)
  return { log, entries: await log.list(0, 1000) }
}

/** Re-reads entry `seq` from the store, changes it, writes it back under its name. */
async function tamper (seq: number, change: (e: AuditEntry) => AuditEntry): Promise<void> {
  const stored = await store.getJson<AuditEntry>(name(seq))
  await store.putJson(name(seq), change(stored!))
}

describe('the audit chain', () => {
  it('verifies a good chain, from the start and from a known head', async () => {
    const { log, entries } = await chainOf(6)
    expect(entries.map(e => e.seq)).toEqual([1, 2, 3, 4, 5, 6])
    expect(entries[0]!.prev).toBe(GENESIS_HASH)
    expect(entries[0]!.node).toBe(self.node)
    expect(entries[0]!.approvals).toEqual([digest('b'), digest('c')])
    expect(verifyChain(self.node, entries)).toEqual({ ok: true, count: 6, head: log.head.hash })
    expect(log.head).toEqual({ seq: 6, hash: auditEntryHash(entries[5]!) })
    expect(verifyChain(self.node, entries.slice(4), { seq: 4, hash: auditEntryHash(entries[3]!) })).toEqual({ ok: true, count: 2, head: log.head.hash })
    expect(verifyChain(self.node, [])).toEqual({ ok: true, count: 0, head: GENESIS_HASH })
    expect(await log.list(2, 3)).toEqual(entries.slice(2, 5))
    expect(await log.list(6, 10)).toEqual([])
  })

  it('names the entry whose field was edited on disk', async () => {
    await chainOf(6)
    // entry 3 is a denial: made to read as an allowed share
    await tamper(3, e => ({ ...e, stage: 'share', outcome: 'allowed', rule: undefined, reason: undefined }))
    const log = await AuditLog.open(store, self)
    expect(verifyChain(self.node, await log.list(0, 1000))).toEqual({ ok: false, seq: 3, reason: 'signature does not verify' })

    await tamper(2, e => ({ ...e, atMs: e.atMs + 1 }))
    expect(verifyChain(self.node, await log.list(0, 1000))).toMatchObject({ ok: false, seq: 2, reason: 'signature does not verify' })
  })

  it('names the entry after a deleted one', async () => {
    await chainOf(6)
    await store.batch({ json: { [name(3)]: null } })
    const log = await AuditLog.open(store, self)
    expect(verifyChain(self.node, await log.list(0, 1000))).toEqual({ ok: false, seq: 4, reason: 'seq 4 follows 2' })
  })

  it('refuses an edited entry re-signed with another key, and a chain checked under another node', async () => {
    const { entries } = await chainOf(5)
    const other = await identity()
    await tamper(3, e => ({ ...e, reason: 'nothing to see' }))
    const edited = (await store.getJson<AuditEntry>(name(3)))!
    const resigned = { ...edited, signature: hex(await other.sign(auditSigningBytes(edited))) }
    await store.putJson(name(3), resigned)
    const log = await AuditLog.open(store, self)
    expect(verifyChain(self.node, await log.list(0, 1000))).toEqual({ ok: false, seq: 3, reason: 'signature does not verify' })
    // claiming the entry for the other node does not help: the chain is self's
    const claimed = { ...edited, node: other.node }
    const forged = { ...claimed, signature: hex(await other.sign(auditSigningBytes(claimed))) }
    expect(verifyChain(self.node, [...entries.slice(0, 2), forged])).toMatchObject({ ok: false, seq: 3, reason: `the entry is from ${other.node}, not ${self.node}` })
    expect(verifyChain(other.node, entries)).toMatchObject({ ok: false, seq: 1 })
  })

  it('refuses two swapped entries', async () => {
    const { entries } = await chainOf(6)
    await store.putJson(name(2), entries[4])
    await store.putJson(name(5), entries[1])
    const log = await AuditLog.open(store, self)
    const listed = await log.list(0, 1000)
    expect(listed.map(e => e.seq)).toEqual([1, 5, 3, 4, 2, 6])
    expect(verifyChain(self.node, listed)).toEqual({ ok: false, seq: 5, reason: 'seq 5 follows 1' })
    // renumbered to fit, the swapped entries no longer link (nor verify)
    const renumbered = listed.map((e, i) => ({ ...e, seq: i + 1 }))
    expect(verifyChain(self.node, renumbered)).toEqual({ ok: false, seq: 2, reason: 'prev does not match the hash of entry 1' })
  })

  it('names a broken link', async () => {
    const { entries } = await chainOf(5)
    const relinked = { ...entries[3]!, prev: digest('e') }
    const resigned = { ...relinked, signature: hex(await self.sign(auditSigningBytes(relinked))) }
    expect(verifyChain(self.node, [...entries.slice(0, 3), resigned, entries[4]!])).toEqual({ ok: false, seq: 4, reason: 'prev does not match the hash of entry 3' })
    expect(verifyChain(self.node, entries.slice(2), { seq: 2, hash: digest('f') })).toEqual({ ok: false, seq: 3, reason: 'prev does not match the hash given for entry 2' })
    expect(verifyChain(self.node, entries.slice(1))).toEqual({ ok: false, seq: 2, reason: 'the chain starts at seq 2, not 1' })
    expect(verifyChain(self.node, [{ ...entries[0]!, extra: 1 } as AuditEntry])).toMatchObject({ ok: false, seq: 1, reason: expect.stringMatching(/^malformed: .*unknown field/) as string })
  })

  it('gives concurrent appends consecutive seqs, each linked to the one before', async () => {
    const log = await AuditLog.open(store, self)
    const appended = await Promise.all(Array.from({ length: 20 }, async (_, i) => await log.append(allowedShare(`c${i}`))))
    expect(appended.map(e => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    const entries = await log.list(0, 1000)
    expect(entries).toHaveLength(20)
    expect(verifyChain(self.node, entries)).toEqual({ ok: true, count: 20, head: log.head.hash })
    expect(log.head.seq).toBe(20)
  })

  it('continues the chain after the store is reopened', async () => {
    const { log } = await chainOf(3)
    const head = log.head
    await store.close()
    store = await Store.open(dir.path)
    const reopened = await AuditLog.open(store, self)
    expect(reopened.head).toEqual(head)
    const next = await reopened.append(denial)
    expect(next).toMatchObject({ seq: 4, prev: head.hash })
    expect(verifyChain(self.node, await reopened.list(0, 1000))).toMatchObject({ ok: true, count: 4 })
    // another identity may not continue this chain
    await expect(AuditLog.open(store, await identity())).rejects.toThrow(/audit chain on disk is/)
  })

  it('leaves the head where it was when signing or writing fails', async () => {
    let failSign = true
    const flaky: AuditSigner = { node: self.node, sign: async (data) => { if (failSign) throw new Error('no key'); return await self.sign(data) } }
    const log = await AuditLog.open(store, flaky)
    await expect(log.append(denial)).rejects.toThrow('no key')
    expect(log.head).toEqual({ seq: 0, hash: GENESIS_HASH })
    failSign = false
    expect((await log.append(denial)).seq).toBe(1)
    const head = log.head

    await store.close()
    await expect(log.append(denial)).rejects.toThrow()
    expect(log.head).toEqual(head)
    store = await Store.open(dir.path)
    const reopened = await AuditLog.open(store, self)
    expect(reopened.head).toEqual(head)
    expect(await reopened.append(denial)).toMatchObject({ seq: 2, prev: head.hash })
  })

  it('bounds the reason, refuses a malformed decision, and pages within bounds', async () => {
    const log = await AuditLog.open(store, self)
    const long = await log.append({ ...denial, reason: 'x'.repeat(2000) })
    expect(long.reason).toHaveLength(AUDIT_LIMITS.reasonLength)
    expect(long.reason!.endsWith('…')).toBe(true)
    await expect(log.append({ ...denial, rule: undefined })).rejects.toThrow(/rule must name the rule of a denial/)
    await expect(log.append({ ...allowedShare('s'), requestHash: 'ABC' })).rejects.toThrow(/requestHash/)
    expect(log.head.seq).toBe(1)
    await expect(log.list(0, 1001)).rejects.toThrow(RangeError)
    await expect(log.list(-1, 10)).rejects.toThrow(RangeError)
  })
})

describe('the store pages the audit uses', () => {
  it('reads the last record of a prefix alone, and pages after a name, within the prefix', async () => {
    expect(await store.lastJson('audit:')).toBeUndefined()
    await store.putJson('audis', 'before')
    await store.putJson('audit;', 'after')
    expect(await store.lastJson('audit:')).toBeUndefined()
    for (const seq of [1, 2, 3, 10]) await store.putJson(name(seq), seq)
    expect(await store.lastJson('audit:')).toEqual({ name: name(10), value: 10 })
    expect(await store.listJsonPage('audit:', '', 2)).toEqual([{ name: name(1), value: 1 }, { name: name(2), value: 2 }])
    expect((await store.listJsonPage<number>('audit:', name(2), 10)).map(r => r.value)).toEqual([3, 10])
    expect(await store.listJsonPage('audit:', name(10), 10)).toEqual([])
    expect(await store.listJsonPage('audit:', name(1), 0)).toEqual([])
    await expect(store.listJsonPage('audit:', '', -1)).rejects.toThrow(RangeError)
  })
})

describe('parseAuditEntry', () => {
  it('takes a stored entry as it is and refuses unknown fields and bad hex', async () => {
    const { entries } = await chainOf(1)
    const entry = entries[0]!
    expect(parseAuditEntry(JSON.parse(JSON.stringify(entry)))).toEqual(entry)
    expect(() => parseAuditEntry({ ...entry, share: '00' })).toThrow(/unknown field\(s\): share/)
    expect(() => parseAuditEntry({ ...entry, prev: 'zz'.repeat(32) })).toThrow(/prev must be/)
    expect(() => parseAuditEntry({ ...entry, prev: entry.prev.toUpperCase() + '0' })).toThrow(/prev must be/)
    expect(() => parseAuditEntry({ ...entry, signature: entry.signature.slice(2) })).toThrow(/signature must be/)
    expect(() => parseAuditEntry({ ...entry, requestHash: 'A'.repeat(64) })).toThrow(/requestHash must be/)
    expect(() => parseAuditEntry({ ...entry, approvals: ['12'] })).toThrow(/approvals\[0\] must be/)
    expect(() => parseAuditEntry({ ...entry, approvals: [...entry.approvals].reverse() })).toThrow(/sorted/)
    expect(() => parseAuditEntry({ ...entry, seq: 0 })).toThrow(/seq must be/)
    expect(() => parseAuditEntry({ ...entry, stage: 'keygen' })).toThrow(/stage must be one of/)
    expect(() => parseAuditEntry({ ...entry, reason: 'x'.repeat(513) })).toThrow(/reason must be/)
    expect(() => parseAuditEntry({ ...entry, node: '0OIl' })).toThrow(/node must be/)
    expect(() => parseAuditEntry([entry])).toThrow(/must be an object/)
  })
})

describe('crossCheck', () => {
  it('finds a missing entry and a different request hash, and passes when all agree', async () => {
    const a = self
    const b = await identity()
    const c = await identity()
    const chainA = await AuditLog.open(store, a)
    await chainA.append(allowedShare('s1'))
    await chainA.append(allowedShare('s2', digest('b')))
    // b's and c's chains live in stores of their own
    const others = await Promise.all([b, c].map(async (who) => {
      const sub = await tempDir('mpcw-audit-peer-')
      const s = await Store.open(sub.path)
      return { who, sub, s, log: await AuditLog.open(s, who) }
    }))
    try {
      const [logB, logC] = others.map(o => o.log) as [AuditLog, AuditLog]
      await logB.append(allowedShare('s1'))
      await logB.append({ ...allowedShare('s2', digest('b')), outcome: 'denied', rule: 'approvals', reason: '1 valid approval(s)' })
      await logC.append({ ...allowedShare('s1'), stage: 'commit' })
      await logC.append(allowedShare('s2', digest('e')))
      const chains = new Map([
        [a.node, await chainA.list(0, 1000)],
        [b.node, await logB.list(0, 1000)],
        [c.node, await logC.list(0, 1000)]
      ])
      const s1: ProducedSignature = { sessionId: 's1', keyId: 'key-1', requestHash: digest('a'), signers: [a.node, b.node] }
      const s2: ProducedSignature = { sessionId: 's2', keyId: 'key-1', requestHash: digest('b'), signers: [a.node, c.node] }
      expect(crossCheck(chains, [s1, s2])).toEqual([
        `${c.node}, session s2: the allowed share entry (seq 2) names request hash ${digest('e')}, the signature's is ${digest('b')}`
      ])
      const problems = crossCheck(chains, [{ ...s1, signers: [a.node, b.node, c.node] }, { ...s2, signers: [b.node] }])
      expect(problems).toEqual([
        `${c.node}, session s1: no allowed share entry for key key-1`,
        `${b.node}, session s2: the chain holds a denied share entry (seq 2, approvals), no allowed one`
      ])
      expect(crossCheck(chains, [{ ...s1, keyId: 'key-2' }])).toEqual([
        `${a.node}, session s1: the allowed share entry (seq 1) is for key key-1, the signature is of key key-2`,
        `${b.node}, session s1: the allowed share entry (seq 1) is for key key-1, the signature is of key key-2`
      ])
      const stranger = await identity()
      expect(crossCheck(chains, [{ ...s1, signers: [stranger.node, a.node] }, { ...s1, sessionId: 's1', signers: [stranger.node] }])).toEqual([`no chain from ${stranger.node}`])
      expect(crossCheck(chains, [s1])).toEqual([])
      expect(crossCheck(chains, [])).toEqual([])
    } finally {
      for (const o of others) {
        await o.s.close()
        await o.sub[Symbol.asyncDispose]()
      }
    }
  })
})
