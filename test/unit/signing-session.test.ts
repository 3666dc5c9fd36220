import { SessionStepError } from '../../src/coordinator/errors.js'
import type { Key } from '@noble/curves/abstract/frost.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { describe, expect, it } from 'vitest'
import { verifyBip340External, verifyEd25519External } from '../../scripts/verify.js'
import {
  MAX_TRANSPORT_RETRIES, SigningSession, type Availability, type EndedAttempt, type RoundAnswers, type SigningStep, type SigningTransition
} from '../../src/coordinator/signing-session.js'
import { commitNonces, frostSuite, participantIdentifier, signShare, type Scheme, type SignerCommit } from '../../src/crypto/index.js'
import { CommandRefusedError, CommandTransportError } from '../../src/protocols/errors.js'
import { ErrorCode, type NonceCommitment } from '../../src/protocols/messages.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const messageFor = (scheme: Scheme, text: string): Uint8Array => scheme === 'taproot' ? sha256(new TextEncoder().encode(text)) : new TextEncoder().encode(text)

/** How a simulated holder behaves in one round. */
type Behaviour = 'honest' | 'badCommitment' | 'wrongIdentifier' | 'noCommitment' | 'badShare' | 'refuse' | 'timeout' | 'reset' | 'claim'
/** A behaviour per round; with `times`, only for the holder's first `times` commands of that round (honest after). */
interface Script { roundOne?: Behaviour, roundTwo?: Behaviour, times?: number }

/** A holder as the coordinator sees it over the network, simulated with src/crypto's real FROST. */
class Holder {
  private readonly nonces = new Map<string, SignerCommit>()
  private commits = 0
  private shares = 0
  /** Sessions this holder produced a share for (its nonce is spent): a second share request for one would be refused. */
  readonly signed: string[] = []
  constructor (readonly name: string, private readonly scheme: Scheme, private readonly key: Key, public script: Script = {}, private readonly others: string[] = []) {}

  commit (sessionId: string): { commitment?: NonceCommitment } {
    const own = commitNonces(this.scheme, this.key.secret)
    this.nonces.set(sessionId, own)
    const c = own.commitments
    switch (this.behaviour(this.script.roundOne, ++this.commits)) {
      case 'badCommitment': return { commitment: { ...c, binding: new Uint8Array(c.binding.length) } }
      case 'wrongIdentifier': return { commitment: { ...c, identifier: participantIdentifier(this.scheme, 60) } }
      case 'noCommitment': return {}
      case 'refuse': throw new CommandRefusedError(ErrorCode.BAD_REQUEST, 'no')
      case 'timeout': throw new CommandTransportError('signCommit timed out')
      case 'reset': throw new CommandTransportError('signCommit failed: stream reset')
      case 'claim': throw new CommandRefusedError(ErrorCode.BLAME, 'they misbehaved', this.others)
      default: return { commitment: c }
    }
  }

  share (sessionId: string, commitments: NonceCommitment[], message: Uint8Array): { share: Uint8Array } {
    const own = this.nonces.get(sessionId)
    if (own === undefined) throw new CommandRefusedError(ErrorCode.NOT_FOUND, 'no such session')
    this.nonces.delete(sessionId)
    const share = signShare(this.scheme, this.key, own, commitments, message)
    this.signed.push(sessionId)
    switch (this.behaviour(this.script.roundTwo, ++this.shares)) {
      case 'badShare': share[share.length - 1] = (share[share.length - 1] ?? 0) ^ 1; return { share }
      case 'refuse': throw new CommandRefusedError(ErrorCode.BAD_REQUEST, 'no')
      case 'timeout': throw new CommandTransportError('signShare timed out')
      // The nonce is spent and the share computed, but the answer is lost on the way.
      case 'reset': throw new CommandTransportError('signShare failed: stream reset')
      default: return { share }
    }
  }

  private behaviour (b: Behaviour | undefined, nth: number): Behaviour {
    return this.script.times === undefined || nth <= this.script.times ? b ?? 'honest' : 'honest'
  }

  holdsNonces (sessionId: string): boolean { return this.nonces.has(sessionId) }
  abort (sessionId: string): void { this.nonces.delete(sessionId) }
}

/** n holders (peer-1..peer-n) of one t-of-n key from noble's trusted dealer. */
function cluster (scheme: Scheme, t: number, n: number, scripts: Record<string, Script> = {}): { holders: Holder[], names: string[], publicPackage: Key['public'] } {
  const ids = Array.from({ length: n }, (_, i) => participantIdentifier(scheme, i + 1))
  const deal = frostSuite(scheme).trustedDealer({ min: t, max: n }, ids)
  const names = ids.map((_, i) => `peer-${i + 1}`)
  const holders = ids.map((id, i) => new Holder(names[i]!, scheme, { public: deal.public, secret: deal.secretShares[id]! }, scripts[names[i]!], names.filter(o => o !== names[i])))
  return { holders, names, publicPackage: deal.public }
}

function answersOf<T> (signers: string[], answer: (peer: string) => T): RoundAnswers<T> {
  const ok = new Map<string, T>()
  const failed = new Map<string, unknown>()
  for (const s of signers) {
    try { ok.set(s, answer(s)) } catch (err) { failed.set(s, err) }
  }
  return { ok, failed }
}

let counter = 0
const newSessionId = (): string => `session-${++counter}`

interface Run { final: SigningStep, ended: EndedAttempt[], steps: SigningStep[], session: SigningSession }

/** What Tasks.sign does, minus the network: run each step against the holders and loop. */
function run (
  scheme: Scheme, t: number, n: number, scripts: Record<string, Script> = {}, availability: Record<string, Availability> | ((peer: string) => Availability) = {}, mayRetry?: () => boolean
): Run & { publicPackage: Key['public'], message: Uint8Array, holders: Holder[] } {
  const { holders, names, publicPackage } = cluster(scheme, t, n, scripts)
  const message = messageFor(scheme, 'send 1 BTC')
  const byName = new Map(holders.map(h => [h.name, h]))
  const availabilityOf = typeof availability === 'function' ? availability : (p: string) => availability[p] ?? 'up'
  const session = new SigningSession(
    { keyId: 'key-1', scheme, threshold: t, holders: names, publicPackage, message },
    { availability: availabilityOf, newSessionId, ...(mayRetry !== undefined ? { mayRetry } : {}) }
  )
  const ended: EndedAttempt[] = []
  const steps: SigningStep[] = []
  let transition: SigningTransition = session.start()
  for (;;) {
    if (transition.ended !== undefined) {
      ended.push(transition.ended)
      for (const p of transition.ended.abort) byName.get(p)!.abort(transition.ended.sessionId)
    }
    const step = transition.next
    steps.push(step)
    if (step.kind === 'done' || step.kind === 'failed') return { final: step, ended, steps, session, publicPackage, message, holders }
    if (step.kind === 'roundOne') {
      transition = session.onRoundOne(step.sessionId, answersOf(step.signers, p => byName.get(p)!.commit(step.sessionId)))
    } else {
      transition = session.onRoundTwo(step.sessionId, answersOf(step.signers, p => byName.get(p)!.share(step.sessionId, step.commitments, message)))
    }
  }
}

function verifiesExternally (scheme: Scheme, groupKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return scheme === 'taproot'
    ? verifyBip340External(hex(groupKey.slice(1)), hex(message), hex(signature))
    : verifyEd25519External(hex(groupKey), hex(message), hex(signature))
}

describe.each(['ed25519', 'taproot'] as const)('signing session, %s', (scheme) => {
  it('signs in one attempt with the first t holders; the signature verifies outside our code', () => {
    const { final, ended, steps, session, publicPackage, message } = run(scheme, 3, 5)
    expect(ended).toEqual([])
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'roundTwo', 'done'])
    if (final.kind !== 'done') throw new Error('not done')
    expect(final.signers).toEqual(['peer-1', 'peer-2', 'peer-3'])
    expect(final.attempts).toBe(1)
    expect(final.sessionId).toBe((steps[0] as { sessionId: string }).sessionId)
    expect(verifiesExternally(scheme, publicPackage.commitments[0]!, message, final.signature)).toBe(true)
    expect(session.step).toBe('done')
    expect(session.culprits).toEqual([])
  })

  it('blames an invalid commitment on its sender where it arrives, discards the nonces and retries without it', () => {
    const { final, ended, steps, session, publicPackage, message, holders } = run(scheme, 2, 3, { 'peer-1': { roundOne: 'badCommitment' } })
    expect(ended).toHaveLength(1)
    const [first] = ended
    expect(first!.failure.proven).toEqual([{ peer: 'peer-1', reason: 'peer-1 sent a commitment that is not a pair of valid points' }])
    expect(first!.failure.claims).toEqual([])
    // Every signer that answered holds nonces for the failed session: all are told to discard them.
    expect(first!.abort).toEqual(['peer-1', 'peer-2'])
    expect(holders.some(h => h.holdsNonces(first!.sessionId))).toBe(false)
    // No round two for the failed attempt.
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'roundOne', 'roundTwo', 'done'])
    if (final.kind !== 'done') throw new Error('not done')
    expect(final.signers).toEqual(['peer-2', 'peer-3'])
    expect(final.attempts).toBe(2)
    expect(final.sessionId).not.toBe(first!.sessionId)
    expect(verifiesExternally(scheme, publicPackage.commitments[0]!, message, final.signature)).toBe(true)
    expect(session.culprits).toEqual(['peer-1'])
  })

  it('blames an invalid share only after the aggregate fails, and retries without its sender', () => {
    const { final, ended, steps, session, publicPackage, message } = run(scheme, 2, 3, { 'peer-2': { roundTwo: 'badShare' } })
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'roundTwo', 'roundOne', 'roundTwo', 'done'])
    expect(ended).toEqual([{ sessionId: expect.any(String) as string, failure: { proven: [{ peer: 'peer-2', reason: 'invalid signature share from peer-2' }], claims: [], notes: [] }, abort: [] }])
    if (final.kind !== 'done') throw new Error('not done')
    expect(final.signers).toEqual(['peer-1', 'peer-3'])
    expect(verifiesExternally(scheme, publicPackage.commitments[0]!, message, final.signature)).toBe(true)
    expect(session.culprits).toEqual(['peer-2'])
  })
})

describe('signing session: commitments checked where they arrive', () => {
  it.each([
    ['wrongIdentifier', 'peer-2 committed under a wrong identifier'],
    ['noCommitment', 'peer-2 sent no commitment']
  ] as const)('%s is proven against its sender', (behaviour, reason) => {
    const { final, ended } = run('ed25519', 2, 3, { 'peer-2': { roundOne: behaviour } })
    expect(ended[0]!.failure.proven).toEqual([{ peer: 'peer-2', reason }])
    expect(final).toMatchObject({ kind: 'done', signers: ['peer-1', 'peer-3'] })
  })

  it('an unanswered command is proven; it is excluded and blamed', () => {
    const { final, ended, session } = run('ed25519', 2, 3, { 'peer-1': { roundOne: 'timeout' } })
    expect(ended[0]!.failure.proven).toEqual([{ peer: 'peer-1', reason: 'peer-1 did not answer: signCommit timed out' }])
    expect(ended[0]!.abort).toEqual(['peer-2'])
    expect(final).toMatchObject({ kind: 'done', signers: ['peer-2', 'peer-3'] })
    expect(session.culprits).toEqual(['peer-1'])
  })
})

describe('signing session: refusals and claims prove nothing', () => {
  it('a refusal in round one excludes the holder from the request without blame', () => {
    const { final, ended, session } = run('ed25519', 2, 3, { 'peer-1': { roundOne: 'refuse' } })
    expect(ended).toHaveLength(1)
    expect(ended[0]!.failure).toEqual({ proven: [], claims: [], notes: ['peer-1 refused (BAD_REQUEST): no'] })
    expect(final).toMatchObject({ kind: 'done', signers: ['peer-2', 'peer-3'], attempts: 2 })
    expect(session.culprits).toEqual([])
    expect(session.excludedHolders).toEqual(['peer-1'])
  })

  it('a refusal in round two excludes without blame, and discards no nonces (the others signed)', () => {
    const { final, ended, session } = run('ed25519', 2, 3, { 'peer-2': { roundTwo: 'refuse' } })
    expect(ended[0]).toMatchObject({ failure: { proven: [], notes: ['peer-2 refused (BAD_REQUEST): no'] }, abort: [] })
    expect(final).toMatchObject({ kind: 'done', signers: ['peer-1', 'peer-3'] })
    expect(session.culprits).toEqual([])
  })

  it('a claim against co-signers is recorded as the claimant\'s word: only the claimant leaves, no one is blamed', () => {
    const { final, ended, session } = run('ed25519', 2, 4, { 'peer-1': { roundOne: 'claim' } })
    // peer-1 names peer-2, peer-3, peer-4; only peer-2 is a signer of the attempt, so only it can be accused.
    expect(ended[0]!.failure.claims).toEqual([{ claimant: 'peer-1', accused: ['peer-2'], reason: 'peer-1 claims peer-2 misbehaved: they misbehaved' }])
    expect(ended[0]!.failure.proven).toEqual([])
    expect(final).toMatchObject({ kind: 'done', signers: ['peer-2', 'peer-3'] })
    expect(session.culprits).toEqual([])
    expect(session.excludedHolders).toEqual(['peer-1'])
  })
})

describe('signing session: choosing signers and running out', () => {
  it('skips holders that are down and prefers up to suspect, signers in identifier order', () => {
    const { final } = run('ed25519', 2, 4, {}, { 'peer-1': 'down', 'peer-2': 'suspect' })
    expect(final).toMatchObject({ kind: 'done', signers: ['peer-3', 'peer-4'] })
  })

  it('fails when too few usable holders remain, naming the proven culprits and the refusals apart', () => {
    const { final, ended, steps, session } = run('ed25519', 2, 3, { 'peer-1': { roundOne: 'badCommitment' }, 'peer-2': { roundOne: 'refuse' } })
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'failed'])
    expect(ended).toHaveLength(1)
    expect(final).toEqual({
      kind: 'failed',
      reason: 'cannot sign with key key-1: 1 usable holders, 2 needed (excluded as proven at fault: peer-1) (excluded after refusing, not blamed: peer-2)',
      culprits: ['peer-1']
    })
    expect(session.step).toBe('failed')
  })

  it('fails at once when too few holders are up to start', () => {
    const { final, steps } = run('ed25519', 2, 3, {}, { 'peer-1': 'down', 'peer-2': 'down' })
    expect(steps.map(s => s.kind)).toEqual(['failed'])
    expect(final).toEqual({ kind: 'failed', reason: 'cannot sign with key key-1: 1 usable holders, 2 needed', culprits: [] })
  })

  it('excludes someone after every failed attempt, so it ends within n - t + 1 attempts', () => {
    // Each attempt loses one signer to a bad share; 2-of-4 allows three attempts.
    const { final, ended, steps } = run('ed25519', 2, 4, { 'peer-1': { roundTwo: 'badShare' }, 'peer-3': { roundTwo: 'badShare' }, 'peer-4': { roundTwo: 'badShare' } })
    expect(steps.filter(s => s.kind === 'roundOne').map(s => (s as { signers: string[] }).signers)).toEqual([['peer-1', 'peer-2'], ['peer-2', 'peer-3'], ['peer-2', 'peer-4']])
    expect(ended.map(e => e.failure.proven.map(p => p.peer))).toEqual([['peer-1'], ['peer-3'], ['peer-4']])
    expect(final).toMatchObject({ kind: 'failed', culprits: ['peer-1', 'peer-3', 'peer-4'] })
  })
})

describe('signing session: step guard', () => {
  const scheme: Scheme = 'ed25519'
  const make = (): { session: SigningSession, holders: Holder[], message: Uint8Array } => {
    const { holders, names, publicPackage } = cluster(scheme, 2, 3)
    const message = messageFor(scheme, 'x')
    return { session: new SigningSession({ keyId: 'key-1', scheme, threshold: 2, holders: names, publicPackage, message }, { availability: () => 'up', newSessionId }), holders, message }
  }
  const refused = (f: () => unknown, code: string): void => {
    expect(f).toThrow(SessionStepError)
    expect(f).toThrow(expect.objectContaining({ code }) as Error)
  }

  it('refuses every step out of order, and a refused step changes nothing', () => {
    const { session, holders, message } = make()
    const none = { ok: new Map(), failed: new Map() }
    refused(() => session.onRoundOne('s', none), 'out_of_order')
    refused(() => session.onRoundTwo('s', none), 'out_of_order')
    expect(session.step).toBe('new')
    const one = session.start().next
    if (one.kind !== 'roundOne') throw new Error('no round one')
    refused(() => session.start(), 'out_of_order')
    refused(() => session.onRoundTwo(one.sessionId, none), 'out_of_order')
    expect(session.step).toBe('roundOne')
    const commits = answersOf(one.signers, p => holders.find(h => h.name === p)!.commit(one.sessionId))
    const two = session.onRoundOne(one.sessionId, commits).next
    if (two.kind !== 'roundTwo') throw new Error('no round two')
    refused(() => session.onRoundOne(one.sessionId, commits), 'out_of_order')
    const done = session.onRoundTwo(two.sessionId, answersOf(two.signers, p => holders.find(h => h.name === p)!.share(two.sessionId, two.commitments, message))).next
    expect(done.kind).toBe('done')
    refused(() => session.start(), 'out_of_order')
    refused(() => session.onRoundOne(one.sessionId, commits), 'out_of_order')
    refused(() => session.onRoundTwo(two.sessionId, none), 'out_of_order')
  })

  it('refuses answers for another attempt\'s session', () => {
    const { session, holders } = make()
    const one = session.start().next
    if (one.kind !== 'roundOne') throw new Error('no round one')
    const commits = answersOf(one.signers, p => holders.find(h => h.name === p)!.commit(one.sessionId))
    refused(() => session.onRoundOne('session-of-another-attempt', commits), 'wrong_session')
    expect(session.onRoundOne(one.sessionId, commits).next.kind).toBe('roundTwo')
  })

  it('refuses answers that are not exactly one per signer', () => {
    const { session, holders } = make()
    const one = session.start().next
    if (one.kind !== 'roundOne') throw new Error('no round one')
    const commits = answersOf(one.signers, p => holders.find(h => h.name === p)!.commit(one.sessionId))
    const [a, b] = one.signers as [string, string]
    refused(() => session.onRoundOne(one.sessionId, { ok: new Map([[a, commits.ok.get(a)!]]), failed: new Map() }), 'bad_answers')
    refused(() => session.onRoundOne(one.sessionId, { ok: commits.ok, failed: new Map([[b, new Error('x')]]) }), 'bad_answers')
    refused(() => session.onRoundOne(one.sessionId, { ok: new Map([...commits.ok, ['peer-3', commits.ok.get(a)!]]), failed: new Map() }), 'bad_answers')
    expect(session.step).toBe('roundOne')
    expect(session.onRoundOne(one.sessionId, commits).next.kind).toBe('roundTwo')
  })

  it('refuses parameters that do not fit together', () => {
    const { names, publicPackage } = cluster(scheme, 2, 3)
    const deps = { availability: (): Availability => 'up', newSessionId }
    const message = messageFor(scheme, 'x')
    expect(() => new SigningSession({ keyId: 'k', scheme, threshold: 3, holders: names, publicPackage, message }, deps)).toThrow(SessionStepError)
    expect(() => new SigningSession({ keyId: 'k', scheme, threshold: 2, holders: ['a', 'a', 'b'], publicPackage, message }, deps)).toThrow(SessionStepError)
    expect(() => new SigningSession({ keyId: 'k', scheme: 'taproot', threshold: 2, holders: names, publicPackage, message: new Uint8Array(3) }, deps)).toThrow()
  })
})

describe('signing session: a transport failure takes the holder out of its attempt only', () => {
  const twoDown = { 'peer-4': 'down', 'peer-5': 'down' } as const
  const roundOnes = (steps: SigningStep[]): string[][] => steps.flatMap(s => s.kind === 'roundOne' ? [s.signers] : [])

  it.each(['ed25519', 'taproot'] as const)('%s: with only t holders up, a holder whose commit failed on transport signs in the next attempt; blame stays what the coordinator saw', (scheme) => {
    const { final, ended, steps, session, publicPackage, message } = run(scheme, 3, 5, { 'peer-1': { roundOne: 'reset', times: 1 } }, twoDown)
    expect(roundOnes(steps)).toEqual([['peer-1', 'peer-2', 'peer-3'], ['peer-1', 'peer-2', 'peer-3']])
    expect(ended).toHaveLength(1)
    expect(ended[0]!.failure.proven).toEqual([{ peer: 'peer-1', reason: 'peer-1 did not answer: signCommit failed: stream reset' }])
    expect(ended[0]!.abort).toEqual(['peer-2', 'peer-3'])
    if (final.kind !== 'done') throw new Error(`not done: ${JSON.stringify(final)}`)
    expect(final.attempts).toBe(2)
    expect(verifiesExternally(scheme, publicPackage.commitments[0]!, message, final.signature)).toBe(true)
    expect(session.excludedHolders).toEqual([])
    expect(session.unreachableHolders).toEqual([])
  })

  it('chooses a holder that failed on transport last: others up sign first', () => {
    const { final, steps, session } = run('ed25519', 3, 5, { 'peer-1': { roundOne: 'timeout', times: 1 } })
    expect(roundOnes(steps)).toEqual([['peer-1', 'peer-2', 'peer-3'], ['peer-2', 'peer-3', 'peer-4']])
    expect(final).toMatchObject({ kind: 'done', signers: ['peer-2', 'peer-3', 'peer-4'] })
    expect(session.unreachableHolders).toEqual(['peer-1'])
    expect(session.excludedHolders).toEqual([])
  })

  it('does not choose a holder that failed on transport once the health watch no longer has it up', () => {
    let failed = false
    const availability = (p: string): Availability => p === 'peer-4' || p === 'peer-5' ? 'down' : p === 'peer-1' && failed ? 'suspect' : 'up'
    const { holders, names, publicPackage } = cluster('ed25519', 3, 5, { 'peer-1': { roundOne: 'reset' } })
    const session = new SigningSession({ keyId: 'key-1', scheme: 'ed25519', threshold: 3, holders: names, publicPackage, message: messageFor('ed25519', 'x') }, { availability, newSessionId })
    const one = session.start().next
    if (one.kind !== 'roundOne') throw new Error('no round one')
    const answers = answersOf(one.signers, p => holders.find(h => h.name === p)!.commit(one.sessionId))
    failed = true
    const { next } = session.onRoundOne(one.sessionId, answers)
    expect(next).toEqual({
      kind: 'failed',
      reason: 'cannot sign with key key-1: 2 usable holders, 3 needed (unreachable at their last command: peer-1)',
      culprits: ['peer-1']
    })
  })

  it.each(['reset', 'timeout'] as const)('round two that fails on transport (%s) is never asked again: a new attempt with a new session and fresh commitments from every signer', (behaviour) => {
    const { final, steps, holders, publicPackage, message } = run('taproot', 3, 5, { 'peer-2': { roundTwo: behaviour, times: 1 } }, twoDown)
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'roundTwo', 'roundOne', 'roundTwo', 'done'])
    const [first, second] = steps.filter((s): s is Extract<SigningStep, { kind: 'roundTwo' }> => s.kind === 'roundTwo')
    expect(second!.sessionId).not.toBe(first!.sessionId)
    expect(second!.signers).toEqual(first!.signers)
    // Fresh nonces: no commitment of the first attempt comes back in the second.
    const seen = new Set(first!.commitments.map(c => hex(c.hiding)))
    expect(second!.commitments.some(c => seen.has(hex(c.hiding)))).toBe(false)
    // Each holder produced at most one share per session: no nonce was asked for twice.
    for (const h of holders) expect(new Set(h.signed).size).toBe(h.signed.length)
    expect(holders.find(h => h.name === 'peer-2')!.signed).toEqual([first!.sessionId, second!.sessionId])
    if (final.kind !== 'done') throw new Error('not done')
    expect(verifiesExternally('taproot', publicPackage.commitments[0]!, message, final.signature)).toBe(true)
  })

  it('a holder that keeps failing on transport while up ends the request within n - t + 1 + MAX_TRANSPORT_RETRIES attempts', () => {
    const { final, steps, session } = run('ed25519', 3, 5, { 'peer-1': { roundOne: 'reset' } }, twoDown)
    const attempts = 5 - 3 + 1 + MAX_TRANSPORT_RETRIES
    expect(roundOnes(steps)).toHaveLength(attempts)
    expect(final).toEqual({
      kind: 'failed',
      reason: `cannot sign with key key-1: no attempt left after ${attempts} (unreachable at their last command: peer-1)`,
      culprits: ['peer-1']
    })
    expect(session.step).toBe('failed')
  })

  it('starts no new attempt past the caller\'s deadline', () => {
    const { final, steps } = run('ed25519', 3, 5, { 'peer-1': { roundOne: 'reset', times: 1 } }, {}, () => false)
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'failed'])
    expect(final).toMatchObject({ kind: 'failed', reason: expect.stringContaining('no attempt left after 1') as string })
  })

  it('a proven-bad share or a refusal still takes a holder out of the whole request, even while it is up', () => {
    const bad = run('ed25519', 3, 5, { 'peer-1': { roundTwo: 'badShare' }, 'peer-2': { roundOne: 'refuse' } }, { 'peer-5': 'down' })
    expect(bad.final).toMatchObject({ kind: 'failed', reason: 'cannot sign with key key-1: 2 usable holders, 3 needed (excluded as proven at fault: peer-1) (excluded after refusing, not blamed: peer-2)' })
    const badOnce = run('ed25519', 3, 5, { 'peer-1': { roundOne: 'badCommitment', times: 1 } })
    expect(badOnce.final).toMatchObject({ kind: 'done', signers: ['peer-2', 'peer-3', 'peer-4'] })
    expect(badOnce.session.excludedHolders).toEqual(['peer-1'])
  })
})
