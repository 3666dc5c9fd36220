import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { KeygenSession, type KeygenAnswer, type KeygenOutcome } from '../../src/coordinator/keygen-session.js'
import { SessionStepError } from '../../src/coordinator/errors.js'
import type { RoundAnswers } from '../../src/coordinator/signing-session.js'
import { CommandRefusedError, CommandTransportError, MalformedMessageError } from '../../src/protocols/errors.js'
import { ErrorCode } from '../../src/protocols/messages.js'
import { agreementBytes } from '../../src/protocols/records.js'

const CLUSTER = 'cluster-1'
const KEY = 'key-0011223344556677'
const SESSION = 'session-1'
const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Three participants with real identity keys, in sorted order, as KeygenTask passes them. */
let keys: Map<string, PrivateKey>
let names: string[]

beforeAll(async () => {
  keys = new Map()
  for (let i = 0; i < 3; i++) {
    const key = await generateKeyPair('Ed25519')
    keys.set(peerIdFromPrivateKey(key).toString(), key)
  }
  names = [...keys.keys()].sort()
})

const newSession = (participants = names): KeygenSession =>
  new KeygenSession({ clusterId: CLUSTER, keyId: KEY, sessionId: SESSION, scheme: 'ed25519', threshold: 2, participants })

interface Derived { groupPublicKey?: Uint8Array, publicPackage?: Uint8Array, transcriptHash?: Uint8Array, round1Digests?: Uint8Array[] }

/** An honest answer: everyone's digests alike, the same key, signed over the agreement. */
async function answer (peer: string, derived: Derived = {}): Promise<KeygenAnswer> {
  const groupPublicKey = derived.groupPublicKey ?? bytes(32, 7)
  const transcriptHash = derived.transcriptHash ?? bytes(32, 9)
  const agreed = agreementBytes(CLUSTER, KEY, SESSION, groupPublicKey, transcriptHash)
  return {
    groupPublicKey,
    transcriptHash,
    publicPackage: derived.publicPackage ?? bytes(64, 8),
    round1Digests: derived.round1Digests ?? names.map((_, j) => bytes(32, j + 1)),
    agreementSignature: await keys.get(peer)!.sign(agreed)
  }
}

async function honest (overrides: Record<string, Derived> = {}): Promise<Map<string, KeygenAnswer>> {
  return new Map(await Promise.all(names.map(async p => [p, await answer(p, overrides[p])] as const)))
}

const answers = (ok: Map<string, KeygenAnswer>, failed = new Map<string, unknown>()): RoundAnswers<KeygenAnswer> => ({ ok, failed })

async function judge (ok: Map<string, KeygenAnswer>, failed = new Map<string, unknown>()): Promise<KeygenOutcome> {
  const session = newSession()
  session.start()
  return await session.onAnswers(SESSION, answers(ok, failed))
}

function failed (outcome: KeygenOutcome): Extract<KeygenOutcome, { kind: 'failed' }> {
  if (outcome.kind !== 'failed') throw new Error('expected a failed keygen')
  return outcome
}

describe('KeygenSession', () => {
  it('records the key when every participant agrees and countersigns', async () => {
    const session = newSession()
    expect(session.start()).toEqual({ sessionId: SESSION, keyId: KEY, participants: names })
    const ok = await honest()
    const outcome = await session.onAnswers(SESSION, answers(ok))
    expect(session.step).toBe('agreed')
    if (outcome.kind !== 'agreed') throw new Error('expected agreement')
    expect(outcome.key).toEqual({
      id: KEY, scheme: 'ed25519', threshold: 2, holders: names, groupPublicKey: hex(bytes(32, 7)), publicPackage: hex(bytes(64, 8)), sessionId: SESSION, version: 1
    })
    expect(outcome.agreement.transcriptHash).toEqual(bytes(32, 9))
    expect(outcome.agreement.holderSignatures).toEqual(names.map(p => ok.get(p)!.agreementSignature))
  })

  it('judges each kind of failed answer: no answer or a malformed one is proven, a named refusal a claim, the rest a note', async () => {
    const [a, b, c] = names as [string, string, string]
    const ok = await honest()
    const cases: Array<{ err: unknown, proven?: boolean, claim?: string[], note?: RegExp }> = [
      { err: new CommandTransportError('keygen timed out'), proven: true },
      { err: new MalformedMessageError('does not decode'), proven: true },
      { err: new CommandRefusedError(ErrorCode.BLAME, 'bad share', [b, 'not-a-participant', a]), claim: [b] },
      { err: new CommandRefusedError(ErrorCode.TIMEOUT, 'nothing came', [c]), claim: [c] },
      { err: new CommandRefusedError(ErrorCode.BLAME, 'blames itself only', [a]), note: /refused \(/ },
      { err: new CommandRefusedError(ErrorCode.BAD_REQUEST, 'no'), note: /refused \(/ },
      { err: new Error('socket closed here'), note: /failed on the coordinator/ }
    ]
    for (const { err, proven, claim, note } of cases) {
      const rest = new Map([...ok].filter(([p]) => p !== a))
      const outcome = failed(await judge(rest, new Map([[a, err]])))
      expect(outcome.culprits).toEqual(proven === true ? [a] : [])
      expect(outcome.claims.map(x => [x.claimant, x.accused])).toEqual(claim !== undefined ? [[a, claim]] : [])
      if (note !== undefined) expect(outcome.failure.notes).toEqual([expect.stringMatching(note)])
      const proof = proven === true ? '' : claim !== undefined ? ' (no culprit proven; members\' claims follow)' : ' (no culprit proven)'
      expect(outcome.reason.startsWith(`keygen failed${proof}: `)).toBe(true)
    }
  })

  it('judges a BUSY refusal as nobody\'s fault: no culprit, no claim; the keygen is to be run again', async () => {
    const [a, b, c] = names as [string, string, string]
    const busy = (): CommandRefusedError => new CommandRefusedError(ErrorCode.BUSY, 'too many DKG sessions at once (16)')
    // b is busy; a and c were aborted by the coordinator (a plain refusal, or nothing heard) or
    // waited for b and timed out naming it: all explained by b's refusal.
    const outcomes = [
      await judge(new Map(), new Map<string, unknown>([[a, new CommandRefusedError(ErrorCode.INTERNAL, 'command keygen failed inside the peer')], [b, busy()], [c, new Error('keygen aborted by the coordinator')]])),
      await judge(new Map(), new Map<string, unknown>([[a, new CommandRefusedError(ErrorCode.TIMEOUT, 'waiting for round 1', [b])], [b, busy()], [c, busy()]]))
    ]
    for (const outcome of outcomes) {
      if (outcome.kind !== 'busy') throw new Error(`expected busy, got ${outcome.kind}`)
      expect(outcome.failure.proven).toEqual([])
      expect(outcome.failure.claims).toEqual([])
      expect(outcome.reason).toMatch(/BUSY/)
    }
    expect(outcomes[0]!.kind === 'busy' && outcomes[0]!.busy).toEqual([b])
    expect(outcomes[1]!.kind === 'busy' && outcomes[1]!.busy).toEqual([b, c])
    const session = newSession()
    session.start()
    await session.onAnswers(SESSION, answers(new Map(), new Map<string, unknown>(names.map(p => [p, busy()]))))
    expect(session.step).toBe('busy')

    // Busy beside evidence is still a failure: a member that did not answer is proven, and a claim
    // against a member that was not busy stands.
    const proven = failed(await judge(new Map(), new Map<string, unknown>([[a, new CommandTransportError('no answer')], [b, busy()], [c, busy()]])))
    expect(proven.culprits).toEqual([a])
    const claimed = failed(await judge(new Map(), new Map<string, unknown>([[a, new CommandRefusedError(ErrorCode.BLAME, 'bad share', [c])], [b, busy()], [c, new Error('aborted')]])))
    expect(claimed.culprits).toEqual([])
    expect(claimed.claims.map(x => [x.claimant, x.accused])).toEqual([[a, [c]]])
  })

  it('turns disagreeing round-1 digests into claims against the equivocator, proving nothing', async () => {
    const [a, b, c] = names as [string, string, string]
    // c sent a a round-1 message other than the one it sent b (and reports): a's digest of it differs.
    const seenByA = names.map((_, j) => j === 2 ? bytes(32, 0xee) : bytes(32, j + 1))
    const outcome = failed(await judge(await honest({ [a]: { round1Digests: seenByA, groupPublicKey: bytes(32, 6), transcriptHash: bytes(32, 5) } })))
    expect(outcome.culprits).toEqual([])
    expect(outcome.claims.map(x => [x.claimant, x.accused])).toEqual([[a, [c]]])
    expect(outcome.claims[0]!.reason).toContain('equivocation')
    expect(outcome.claims.some(x => x.claimant === b)).toBe(false)
    expect(outcome.reason).toMatch(/^keygen failed \(no culprit proven; members' claims follow\): /)
  })

  it('lets a strict majority on the group key claim against the rest, and notes when there is none', async () => {
    const [a, b, c] = names as [string, string, string]
    const odd = failed(await judge(await honest({ [c]: { groupPublicKey: bytes(32, 1) } })))
    expect(odd.culprits).toEqual([])
    expect(odd.claims.map(x => [x.claimant, x.accused])).toEqual([[a, [c]], [b, [c]]])

    const split = failed(await judge(await honest({ [a]: { groupPublicKey: bytes(32, 1) }, [b]: { groupPublicKey: bytes(32, 2) } })))
    expect(split.claims).toEqual([])
    expect(split.failure.notes).toEqual([expect.stringContaining('no majority agrees')])

    const samekey = failed(await judge(await honest({ [b]: { publicPackage: bytes(64, 1) } })))
    expect(samekey.claims).toEqual([])
    expect(samekey.failure.notes).toEqual(['members derived the same group key but different public packages or transcripts'])
  })

  it('proves a missing or bad agreement signature against its signer', async () => {
    const [a, b, c] = names as [string, string, string]
    const ok = await honest()
    const flipped = Uint8Array.from(ok.get(a)!.agreementSignature)
    flipped[0]! ^= 1
    ok.set(a, { ...ok.get(a)!, agreementSignature: flipped })
    ok.set(b, { ...ok.get(b)!, agreementSignature: new Uint8Array(0) })
    // c signs with another member's key: a valid signature, but not c's.
    ok.set(c, { ...ok.get(c)!, agreementSignature: await keys.get(a)!.sign(agreementBytes(CLUSTER, KEY, SESSION, bytes(32, 7), bytes(32, 9))) })
    const outcome = failed(await judge(ok))
    expect(outcome.culprits).toEqual([a, b, c])
    expect(outcome.claims).toEqual([])
    expect(outcome.reason).toBe(`keygen failed: ${names.map(p => `no valid agreement signature from ${p}`).join('; ')}`)
  })

  it('takes an injected verifier, and a verifier that throws proves the signature bad', async () => {
    const session = new KeygenSession(
      { clusterId: CLUSTER, keyId: KEY, sessionId: SESSION, scheme: 'ed25519', threshold: 2, participants: names },
      { verify: (peer) => { if (peer === names[1]) throw new Error('boom'); return true } }
    )
    session.start()
    const outcome = failed(await session.onAnswers(SESSION, answers(await honest())))
    expect(outcome.culprits).toEqual([names[1]])
  })

  it('refuses steps out of order, answers for another session and answers that are not the participants\'', async () => {
    const ok = await honest()
    const code = async (f: () => unknown): Promise<string> => {
      try { await f() } catch (err) { if (err instanceof SessionStepError) return err.code; throw err }
      return 'none'
    }
    const session = newSession()
    expect(await code(async () => await session.onAnswers(SESSION, answers(ok)))).toBe('out_of_order')
    expect(session.step).toBe('new')
    session.start()
    expect(await code(() => session.start())).toBe('out_of_order')
    expect(await code(async () => await session.onAnswers('another', answers(ok)))).toBe('wrong_session')
    const short = new Map([...ok].slice(1))
    expect(await code(async () => await session.onAnswers(SESSION, answers(short)))).toBe('bad_answers')
    expect(await code(async () => await session.onAnswers(SESSION, answers(ok, new Map([[names[0]!, new Error('x')]]))))).toBe('bad_answers')
    expect(await code(async () => await session.onAnswers(SESSION, answers(new Map([...ok, ['stranger', ok.get(names[0]!)!]]))))).toBe('bad_answers')
    expect(session.step).toBe('running')
    // Concurrent second call while the first is judging: refused.
    const first = session.onAnswers(SESSION, answers(ok))
    expect(await code(async () => await session.onAnswers(SESSION, answers(ok)))).toBe('out_of_order')
    expect((await first).kind).toBe('agreed')
    expect(await code(async () => await session.onAnswers(SESSION, answers(ok)))).toBe('out_of_order')
    expect(() => newSession([names[0]!, names[0]!, names[1]!])).toThrow(SessionStepError)
  })
})
