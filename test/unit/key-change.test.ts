import { describe, expect, it } from 'vitest'
import { decodeApprovals, encodeApprovals, keyChangeBytes, keyChangeOf, MAX_KEY_CHANGE_LIFETIME_MS, newcomers, parseKeyChangeApprovals, verifyKeyChange, type KeyChange } from '../../src/protocols/key-change.js'
import { PolicyError } from '../../src/protocols/policy.js'
import { personKey } from '../helpers.js'

/** The admins' approval of dealing a key to new holders: exactly the change signed, by a quorum, in time. */
describe('key change approvals', () => {
  const [a, b, c] = [personKey(), personKey(), personKey()]
  const admins = { keys: [a.pub, b.pub, c.pub].sort(), quorum: 2 }
  const now = 1_800_000_000_000
  const change: KeyChange = keyChangeOf({ clusterId: 'mpc-1', keyId: 'key-1', fromVersion: 3, holders: ['p3', 'p1', 'p2'], threshold: 2, expiresAtMs: now + 60_000 })
  const approve = (signer: typeof a, what: KeyChange = change): { publicKey: string, signature: string } => ({ publicKey: signer.pub, signature: signer.sign(keyChangeBytes(what)) })
  const rule = (fn: () => void): string | undefined => {
    try {
      fn()
      return undefined
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyError)
      return (err as PolicyError).rule
    }
  }

  it('accepts a quorum of distinct admins over exactly the change, in any holder order', () => {
    expect(rule(() => { verifyKeyChange(change, [approve(a), approve(b)], admins, now) })).toBeUndefined()
    const reordered = keyChangeOf({ ...change, holders: ['p2', 'p3', 'p1'] })
    expect(rule(() => { verifyKeyChange(reordered, [approve(a), approve(c)], admins, now) })).toBeUndefined()
  })

  it('refuses too few, repeated, foreign or misdirected signatures, and an expired or too long approval', () => {
    expect(rule(() => { verifyKeyChange(change, [], admins, now) })).toBe('quorum')
    expect(rule(() => { verifyKeyChange(change, [approve(a)], admins, now) })).toBe('quorum')
    expect(rule(() => { verifyKeyChange(change, [approve(a), approve(a)], admins, now) })).toBe('quorum')
    expect(rule(() => { verifyKeyChange(change, [approve(a), approve(personKey())], admins, now) })).toBe('quorum')
    for (const other of [{ fromVersion: 4 }, { threshold: 3 }, { holders: ['p1', 'p2', 'p4'] }, { keyId: 'key-2' }, { clusterId: 'mpc-2' }]) {
      const signed = keyChangeOf({ ...change, ...other })
      expect(rule(() => { verifyKeyChange(change, [approve(a, signed), approve(b, signed)], admins, now) }), JSON.stringify(other)).toBe('quorum')
    }
    expect(rule(() => { verifyKeyChange(change, [approve(a), approve(b)], admins, change.expiresAtMs) })).toBe('expired')
    const long = keyChangeOf({ ...change, expiresAtMs: now + MAX_KEY_CHANGE_LIFETIME_MS + 1 })
    expect(rule(() => { verifyKeyChange(long, [approve(a, long), approve(b, long)], admins, now) })).toBe('expired')
    expect(rule(() => { verifyKeyChange(change, [approve(a), approve(b)], undefined, now) })).toBe('quorum')
  })

  it('parses approvals strictly and round-trips them over the wire', () => {
    const approvals = [approve(a), approve(b)]
    expect(decodeApprovals(encodeApprovals(approvals))).toEqual(approvals)
    for (const bad of [null, {}, [{}], [{ publicKey: 'zz', signature: 'aa' }], [{ ...approvals[0], extra: 1 }], Array.from({ length: 40 }, () => approvals[0])]) {
      expect(rule(() => parseKeyChangeApprovals(bad))).toBe('malformed')
    }
    expect(rule(() => decodeApprovals(new TextEncoder().encode('{not json')))).toBe('malformed')
    expect(rule(() => decodeApprovals(new Uint8Array([0xff, 0xfe])))).toBe('malformed')
  })

  it('names the holders a change adds', () => {
    expect(newcomers(['p1', 'p2', 'p3'], ['p2', 'p3', 'p4', 'p5'])).toEqual(['p4', 'p5'])
    expect(newcomers(['p1', 'p2', 'p3'], ['p3', 'p1'])).toEqual([])
  })
})
