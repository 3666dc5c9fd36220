import { sha256 } from '@noble/hashes/sha2.js'
import { describe, expect, it } from 'vitest'
import {
  adminSetHash, authorise, canonicalJson, parsePolicy, parseSignedRequest, PolicyError, policyBytes, requestBytes, requestHash,
  verifyPolicyUpdate, type Policy, type RequestHistory, type SignedRequest, type SignRequest, type SpendAsked
} from '../../src/protocols/policy.js'
import { personKey } from '../helpers.js'


const CLUSTER = 'mpc-test'
const NOW = 1_800_000_000_000
const admins = [personKey(), personKey(), personKey()]
const alice = personKey()
const bob = personKey()
const approvers = [personKey(), personKey()]
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function policy (version: number, extra: Partial<Policy> = {}): Policy {
  return parsePolicy({
    version,
    clusterId: CLUSTER,
    admins: { keys: admins.map(a => a.pub), quorum: 2 },
    clients: [{ name: 'alice', publicKey: alice.pub, keys: ['key-a'] }, { name: 'bob', publicKey: bob.pub, keys: [] }],
    keys: {
      'key-a': { rateLimits: { perHour: 2 } },
      'key-b': { clients: ['bob'], approvals: { approvers: approvers.map(a => a.pub), required: 2 } }
    },
    ...extra
  })
}

function signedBy (p: Policy, signers: typeof admins): { policy: Policy, signatures: Record<string, string> } {
  return { policy: p, signatures: Object.fromEntries(signers.map(a => [a.pub, a.sign(policyBytes(p))])) }
}

const message = new TextEncoder().encode('pay 1 BTC to bob')

function request (over: Partial<SignRequest> = {}): SignRequest {
  return { clusterId: CLUSTER, keyId: 'key-a', messageDigest: hex(sha256(message)), requestId: 'req-1', notAfter: NOW + 60_000, ...over }
}

function signedRequest (req: SignRequest, client = 'alice', key = alice, approvals: typeof approvers = []): SignedRequest {
  return { request: req, client, signature: key.sign(requestBytes(req)), approvals: Object.fromEntries(approvals.map(a => [a.pub, a.sign(requestHash(req))])) }
}

const fresh: RequestHistory = { seen: () => false, signedSince: () => 0, volumeSince: () => 0n }

describe('policy documents', () => {
  it('have one canonical byte form whatever the key order or list order of the input', () => {
    expect(canonicalJson({ b: 1, a: [2, 'x'], c: { z: 1, y: undefined } })).toBe('{"a":[2,"x"],"b":1,"c":{"z":1}}')
    const reordered = parsePolicy({ ...policy(1), admins: { quorum: 2, keys: [...admins.map(a => a.pub)].reverse() }, clients: [...policy(1).clients].reverse() })
    expect(policyBytes(reordered)).toEqual(policyBytes(policy(1)))
    expect(adminSetHash(reordered.admins)).toBe(adminSetHash(policy(1).admins))
  })

  it('refuse bad input with the field that is wrong', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ ...policy(1), version: 0 }, /version/],
      [{ ...policy(1), admins: { keys: [], quorum: 1 } }, /at least one admin/],
      [{ ...policy(1), admins: { keys: [admins[0]!.pub], quorum: 2 } }, /quorum/],
      [{ ...policy(1), admins: { keys: [admins[0]!.pub, admins[0]!.pub], quorum: 1 } }, /twice/],
      [{ ...policy(1), clients: [{ name: 'x', publicKey: 'zz', keys: [] }] }, /publicKey/],
      [{ ...policy(1), keys: { 'key-b': { clients: ['carol'] } } }, /unknown client/],
      [{ ...policy(1), keys: { 'key-b': { approvals: { approvers: [approvers[0]!.pub], required: 2 } } } }, /required/],
      [{ ...policy(1), surprise: true }, /unknown field/],
      ['not an object', /must be an object/]
    ]
    for (const [input, error] of bad) expect(() => parsePolicy(input), JSON.stringify(input).slice(0, 80)).toThrow(error)
  })
})

describe('policy updates', () => {
  const current = { clusterId: CLUSTER, version: 1, admins: policy(1).admins }

  it('take a newer version signed by a quorum of the current admins', () => {
    expect(verifyPolicyUpdate(signedBy(policy(2), admins.slice(0, 2)), current).version).toBe(2)
  })

  it('refuse fewer than quorum, signatures by others or over other bytes, an old version, another cluster', () => {
    const refusal = (signed: Parameters<typeof verifyPolicyUpdate>[0]): string | undefined => {
      try { verifyPolicyUpdate(signed, current) } catch (err) { return (err as PolicyError).rule }
    }
    expect(refusal(signedBy(policy(2), admins.slice(0, 1)))).toBe('quorum')
    expect(refusal(signedBy(policy(2), [admins[0]!, alice]))).toBe('quorum')
    // Two admins signed version 2; the same signatures on version 3 are worth nothing.
    expect(refusal({ policy: policy(3), signatures: signedBy(policy(2), admins).signatures })).toBe('quorum')
    expect(refusal(signedBy(policy(1), admins))).toBe('old-version')
    expect(refusal(signedBy({ ...policy(2), clusterId: 'other' }, admins))).toBe('wrong-cluster')
  })

  it('let a new admin set in only by the old set\'s signatures', () => {
    const newAdmins = [personKey(), personKey()]
    const next = policy(2, { admins: { keys: newAdmins.map(a => a.pub), quorum: 1 } })
    expect(() => verifyPolicyUpdate(signedBy(next, newAdmins), current)).toThrow(/current admins/)
    expect(verifyPolicyUpdate(signedBy(next, admins.slice(1)), current).admins.quorum).toBe(1)
  })
})

describe('sign requests', () => {
  const p = policy(1)
  const verdict = (signed: SignedRequest, keyId = 'key-a', msg = message, history = fresh): string =>
    ((r) => r.allowed ? 'allowed' : r.rule)(authorise(p, signed, keyId, msg, NOW, history))

  it('allow a known client\'s signed, fresh request for a key it may use', () => {
    expect(verdict(signedRequest(request()))).toBe('allowed')
  })

  it('refuse each broken rule with its name', () => {
    expect(verdict({ ...signedRequest(request()), client: 'mallory' })).toBe('unknown-client')
    expect(verdict(signedRequest(request(), 'alice', bob))).toBe('bad-signature')
    expect(verdict({ ...signedRequest(request()), request: request({ requestId: 'req-2' }) }), 'a signature over another request').toBe('bad-signature')
    expect(verdict(signedRequest(request()), 'key-b')).toBe('wrong-message')
    expect(verdict(signedRequest(request()), 'key-a', new TextEncoder().encode('pay 100 BTC to mallory'))).toBe('wrong-message')
    expect(verdict(signedRequest(request({ keyId: 'key-c' })), 'key-c')).toBe('not-allowed')
    expect(verdict(signedRequest(request({ notAfter: NOW - 1 })))).toBe('expired')
    expect(verdict(signedRequest(request({ notAfter: NOW + 25 * 60 * 60_000 })))).toBe('expired')
    expect(verdict(signedRequest(request()), 'key-a', message, { ...fresh, seen: (_client, id) => id === 'req-1' })).toBe('replayed')
    expect(verdict(signedRequest(request()), 'key-a', message, { ...fresh, signedSince: () => 2 })).toBe('rate-limit')
    expect(verdict(signedRequest(request({ clusterId: 'other' })))).toBe('wrong-cluster')
  })

  it('count approvals only from the key\'s approvers, over this request', () => {
    const forB = request({ keyId: 'key-b' })
    expect(verdict(signedRequest(forB, 'bob', bob, approvers), 'key-b')).toBe('allowed')
    expect(verdict(signedRequest(forB, 'bob', bob, approvers.slice(0, 1)), 'key-b')).toBe('approvals')
    const strangers = signedRequest(forB, 'bob', bob, [personKey(), personKey()])
    expect(verdict(strangers, 'key-b')).toBe('approvals')
    const otherRequest = signedRequest(request({ keyId: 'key-b', requestId: 'other' }), 'bob', bob, approvers)
    expect(verdict({ ...signedRequest(forB, 'bob', bob), approvals: otherRequest.approvals }, 'key-b')).toBe('approvals')
  })

  it('parse from JSON with clear errors', () => {
    const good = signedRequest(request())
    expect(parseSignedRequest(JSON.parse(JSON.stringify(good)))).toEqual(good)
    expect(() => parseSignedRequest({ ...good, signature: 'abc' })).toThrow(/signature/)
    expect(() => parseSignedRequest({ ...good, request: { ...good.request, notAfter: -1 } })).toThrow(/notAfter/)
    expect(() => parseSignedRequest({ ...good, request: { ...good.request, keyId: '../etc' } })).toThrow(/keyId/)
  })
})

describe('transaction rules (issue 15)', () => {
  const psbt = new TextEncoder().encode('the bytes of a PSBT')
  const sighash = sha256(new TextEncoder().encode('its sighash of input 0'))
  const DEST = 'bcrt1pdestination'
  const p = policy(1, {
    clients: [{ name: 'alice', publicKey: alice.pub, keys: ['key-a', 'key-t'] }],
    keys: { 'key-t': { rateLimits: { perHour: 1 }, transactions: { destinations: [DEST], maxAmount: '50000', dailyVolume: 70000 as unknown as string } } }
  })
  const txRequest = (over: Partial<SignRequest> = {}): SignRequest =>
    request({ keyId: 'key-t', messageDigest: hex(sha256(psbt)), transaction: { chain: 'bitcoin', network: 'regtest' }, ...over })
  const spend = (amount: bigint, to = DEST, over: Partial<SpendAsked> = {}): SpendAsked => ({
    ref: { chain: 'bitcoin', network: 'regtest' },
    message: sighash,
    amount,
    outputs: [{ to, amount, ours: false }, { to: 'bcrt1pchange', amount: 1000n, ours: true }],
    payloadDigest: hex(sha256(psbt)),
    input: 0,
    ...over
  })
  const verdict = (signed: SignedRequest, s: SpendAsked | undefined, msg: Uint8Array | 'commit' = sighash, history = fresh): string =>
    ((r) => r.allowed ? 'allowed' : r.rule)(authorise(p, signed, signed.request.keyId, msg === 'commit' ? undefined : msg, NOW, history, undefined, s))

  it('keep amounts as decimal strings, and refuse bad rules with the field', () => {
    expect(p.keys['key-t']!.transactions).toEqual({ destinations: [DEST], maxAmount: '50000', dailyVolume: '70000' })
    const bad = (transactions: unknown): unknown => () => policy(1, { keys: { 'key-t': { transactions } } } as unknown as Partial<Policy>)
    expect(bad({ maxAmount: -1 })).toThrow(/maxAmount/)
    expect(bad({ maxAmount: '18446744073709551616' })).toThrow(/maxAmount/)
    expect(bad({ dailyVolume: 1.5 })).toThrow(/dailyVolume/)
    expect(bad({ destinations: ['a b'] })).toThrow(/destinations\[0\]/)
    expect(bad({ destinations: [DEST, DEST] })).toThrow(/twice/)
    expect(bad({ limit: 1 })).toThrow(/limit/)
  })

  it('allow a spend to an allowed destination within the amounts', () => {
    expect(verdict(signedRequest(txRequest()), spend(50_000n))).toBe('allowed')
  })

  it('match a bech32 destination written in capitals (as a QR code has it) to the decoded, lower-case address; base58 keeps its case', () => {
    const upper = policy(1, { keys: { 'key-t': { transactions: { destinations: ['BCRT1PDESTINATION', 'So11111111111111111111111111111111111111112'] } } } })
    expect(upper.keys['key-t']!.transactions!.destinations).toEqual(['So11111111111111111111111111111111111111112', DEST])
  })

  it('refuse plain bytes for a key with transaction rules, at the commitment already', () => {
    const plain = signedRequest(request({ keyId: 'key-t', messageDigest: hex(sha256(sighash)) }))
    expect(verdict(plain, undefined, sighash)).toBe('transactions-only')
    expect(verdict(plain, undefined, 'commit')).toBe('transactions-only')
  })

  it('refuse a digest, a transaction or a chain other than the request names', () => {
    expect(verdict(signedRequest(txRequest()), spend(10n, DEST, { message: sha256(sighash) }))).toBe('wrong-message')
    expect(verdict(signedRequest(txRequest()), spend(10n, DEST, { payloadDigest: hex(sha256(sighash)) }))).toBe('wrong-message')
    expect(verdict(signedRequest(txRequest()), spend(10n, DEST, { ref: { chain: 'bitcoin', network: 'mainnet' } }))).toBe('wrong-message')
    expect(verdict(signedRequest(txRequest()), undefined)).toBe('wrong-message')
    // A transaction under a request for plain bytes (key-a has no transaction rules).
    expect(verdict(signedRequest(request()), spend(10n), message)).toBe('wrong-message')
  })

  it('judge destinations (change excepted), the amount per transaction, and the day\'s volume without this request', () => {
    expect(verdict(signedRequest(txRequest()), spend(10n, 'bcrt1pelsewhere'))).toBe('destination')
    expect(verdict(signedRequest(txRequest()), spend(50_001n))).toBe('amount')
    const spent = (total: bigint): RequestHistory => ({ ...fresh, volumeSince: (_k, _s, except) => except === 'alice/req-1' ? total : total + 999_999n })
    expect(verdict(signedRequest(txRequest()), spend(30_000n), sighash, spent(40_000n))).toBe('allowed')
    expect(verdict(signedRequest(txRequest()), spend(30_001n), sighash, spent(40_000n))).toBe('daily-volume')
  })

  it('take a request once per PSBT input, and count it once against rate limits', () => {
    const taken = (input: number): RequestHistory => ({ ...fresh, seen: (_c, id, i) => id === 'req-1' && (i ?? 0) === input, signedSince: (_k, _s, _c, except) => except === 'alice/req-1' ? 0 : 1 })
    expect(verdict(signedRequest(txRequest()), spend(10n, DEST, { input: 1 }), sighash, taken(0))).toBe('allowed')
    expect(verdict(signedRequest(txRequest()), spend(10n, DEST, { input: 0 }), sighash, taken(0))).toBe('replayed')
    // The commitment of a transaction does not know its input yet: the share decides.
    expect(verdict(signedRequest(txRequest()), undefined, 'commit', taken(0))).toBe('allowed')
  })
})
