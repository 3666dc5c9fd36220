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
/**
 * A behaviour per round; with `times`, only for the holder's first `times` commands of that round
 * (honest after). `ledger`: acts on the request once, as a real node does (issue 12): after its
 * first share it refuses any command for the request POLICY_DENIED, rule `replayed`.
 */
interface Script { roundOne?: Behaviour, roundTwo?: Behaviour, times?: number, ledger?: boolean }

/** A holder as the coordinator sees it over the network, simulated with src/crypto's real FROST. */
class Holder {
  private readonly nonces = new Map<string, SignerCommit>()
  private commits = 0
  private shares = 0
  /** Sessions this holder produced a share for (its nonce is spent): a second share request for one would be refused. */
  readonly signed: string[] = []
  constructor (readonly name: string, private readonly scheme: Scheme, private readonly key: Key, public script: Script = {}, private readonly others: string[] = []) {}

  commit (sessionId: string): { commitment?: NonceCommitment } {
    this.refuseReplay()
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
    this.refuseReplay()
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

  private refuseReplay (): void {
    if (this.script.ledger === true && this.signed.length > 0) throw new CommandRefusedError(ErrorCode.POLICY_DENIED, 'policy denied (replayed): request already acted on', [], 'replayed')
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
    expect(first!.failure.proven).toEqual([{ peer: 'peer-1', reason: 'peer-1 sent a commitment that is not a pair of valid points', answered: true }])
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

  it('blames an invalid share only after the aggregate fails, and retries without its sender or the co-signer that spent the request', () => {
    const { final, ended, steps, session, publicPackage, message, holders } = run(scheme, 2, 4, { 'peer-2': { roundTwo: 'badShare' } })
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'roundTwo', 'roundOne', 'roundTwo', 'done'])
    expect(ended).toEqual([{ sessionId: expect.any(String) as string, failure: { proven: [{ peer: 'peer-2', reason: 'invalid signature share from peer-2', answered: true }], claims: [], notes: [] }, abort: [] }])
    if (final.kind !== 'done') throw new Error('not done')
    // peer-1 released a valid share in the attempt that made no signature: it is not asked again.
    expect(final.signers).toEqual(['peer-3', 'peer-4'])
    expect(holders.find(h => h.name === 'peer-1')!.signed).toEqual([ended[0]!.sessionId])
    expect(verifiesExternally(scheme, publicPackage.commitments[0]!, message, final.signature)).toBe(true)
    expect(session.culprits).toEqual(['peer-2'])
    // Spent is not blamed nor counted as a refusal: only the culprit is excluded.
    expect(session.excludedHolders).toEqual(['peer-2'])
  })
})

describe('signing session: commitments checked where they arrive', () => {
  it.each([
    ['wrongIdentifier', 'peer-2 committed under a wrong identifier'],
    ['noCommitment', 'peer-2 sent no commitment']
  ] as const)('%s is proven against its sender', (behaviour, reason) => {
    const { final, ended } = run('ed25519', 2, 3, { 'peer-2': { roundOne: behaviour } })
    expect(ended[0]!.failure.proven).toEqual([{ peer: 'peer-2', reason, answered: true }])
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

  it('a refusal in round two excludes without blame, discards no nonces (the others signed), and the others that signed are not asked again', () => {
    const { final, ended, session } = run('ed25519', 2, 4, { 'peer-2': { roundTwo: 'refuse' } })
    expect(ended).toHaveLength(1)
    expect(ended[0]).toEqual({ sessionId: expect.any(String) as string, failure: { proven: [], claims: [], notes: ['peer-2 refused (BAD_REQUEST): no'] }, abort: [] })
    expect(final).toMatchObject({ kind: 'done', signers: ['peer-3', 'peer-4'], attempts: 2 })
    expect(session.culprits).toEqual([])
    expect(session.excludedHolders).toEqual(['peer-2'])
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
      culprits: ['peer-1'],
      spent: false
    })
    expect(session.step).toBe('failed')
  })

  it('fails at once when too few holders are up to start', () => {
    const { final, steps } = run('ed25519', 2, 3, {}, { 'peer-1': 'down', 'peer-2': 'down' })
    expect(steps.map(s => s.kind)).toEqual(['failed'])
    expect(final).toEqual({ kind: 'failed', reason: 'cannot sign with key key-1: 1 usable holders, 2 needed', culprits: [], spent: false })
  })

  it('excludes someone after every failed attempt, so it ends within n - t + 1 attempts', () => {
    // Each attempt loses its bad-share signer to blame and the rest to the spent request. One bad
    // share per attempt: two shares with the same bit flipped can cancel out in the sum.
    const { final, ended, steps } = run('ed25519', 2, 4, { 'peer-1': { roundTwo: 'badShare' }, 'peer-3': { roundTwo: 'badShare' } })
    const roundOnes = steps.flatMap(s => s.kind === 'roundOne' ? [s.signers] : [])
    expect(roundOnes).toEqual([['peer-1', 'peer-2'], ['peer-3', 'peer-4']])
    expect(roundOnes.length).toBeLessThanOrEqual(4 - 2 + 1)
    expect(ended.map(e => e.failure.proven.map(p => p.peer))).toEqual([['peer-1'], ['peer-3']])
    // peer-2 and peer-4 are honest and up, and together would make the threshold: the request is spent.
    expect(final).toEqual({
      kind: 'failed',
      reason: 'cannot sign with key key-1: 0 usable holders, 2 needed (excluded as proven at fault: peer-1, peer-3) ' +
        '(released a share in an attempt that made no signature, so the request is spent there: peer-2, peer-4; ask again with a new request)',
      culprits: ['peer-1', 'peer-3'],
      spent: true
    })
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
      culprits: ['peer-1'],
      spent: false
    })
  })

  it.each(['reset', 'timeout'] as const)('round two that fails on transport (%s) is never asked again: a new attempt with a new session and fresh commitments, without the signers that released shares', (behaviour) => {
    const { final, steps, holders, publicPackage, message, session } = run('taproot', 3, 5, { 'peer-2': { roundTwo: behaviour, times: 1 } })
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'roundTwo', 'roundOne', 'roundTwo', 'done'])
    const [first, second] = steps.filter((s): s is Extract<SigningStep, { kind: 'roundTwo' }> => s.kind === 'roundTwo')
    expect(second!.sessionId).not.toBe(first!.sessionId)
    expect(first!.signers).toEqual(['peer-1', 'peer-2', 'peer-3'])
    // peer-1 and peer-3 released shares in the first attempt: the request is spent there. peer-2's
    // outcome is unknown (no answer), so it stays a candidate of last resort, needed here.
    expect(second!.signers).toEqual(['peer-2', 'peer-4', 'peer-5'])
    // Fresh nonces: no commitment of the first attempt comes back in the second.
    const seen = new Set(first!.commitments.map(c => hex(c.hiding)))
    expect(second!.commitments.some(c => seen.has(hex(c.hiding)))).toBe(false)
    // Each holder produced at most one share per session: no nonce was asked for twice.
    for (const h of holders) expect(new Set(h.signed).size).toBe(h.signed.length)
    const signed = Object.fromEntries(holders.map(h => [h.name, h.signed]))
    expect(signed).toEqual({
      'peer-1': [first!.sessionId],
      'peer-2': [first!.sessionId, second!.sessionId],
      'peer-3': [first!.sessionId],
      'peer-4': [second!.sessionId],
      'peer-5': [second!.sessionId]
    })
    if (final.kind !== 'done') throw new Error('not done')
    expect(final.signers).toEqual(['peer-2', 'peer-4', 'peer-5'])
    expect(verifiesExternally('taproot', publicPackage.commitments[0]!, message, final.signature)).toBe(true)
    expect(session.excludedHolders).toEqual([])
  })

  it('a holder that keeps failing on transport while up ends the request within n - t + 1 + MAX_TRANSPORT_RETRIES attempts', () => {
    const { final, steps, session } = run('ed25519', 3, 5, { 'peer-1': { roundOne: 'reset' } }, twoDown)
    const attempts = 5 - 3 + 1 + MAX_TRANSPORT_RETRIES
    expect(roundOnes(steps)).toHaveLength(attempts)
    expect(final).toEqual({
      kind: 'failed',
      reason: `cannot sign with key key-1: no attempt left after ${attempts} (unreachable at their last command: peer-1)`,
      culprits: ['peer-1'],
      spent: false
    })
    expect(session.step).toBe('failed')
  })

  it('starts no new attempt past the caller\'s deadline', () => {
    const { final, steps } = run('ed25519', 3, 5, { 'peer-1': { roundOne: 'reset', times: 1 } }, {}, () => false)
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'failed'])
    expect(final).toMatchObject({ kind: 'failed', reason: expect.stringContaining('no attempt left after 1') as string })
  })

  it('a proven-bad share or a refusal still takes a holder out of the whole request, even while it is up', () => {
    // Attempt 1 (peer-1..3) loses peer-2 to its refusal; attempt 2 (peer-1, 3, 4) loses peer-1 to
    // its bad share, and peer-3 and peer-4 to the spent request; peer-5 is down.
    const bad = run('ed25519', 3, 5, { 'peer-1': { roundTwo: 'badShare' }, 'peer-2': { roundOne: 'refuse' } }, { 'peer-5': 'down' })
    expect(roundOnes(bad.steps)).toEqual([['peer-1', 'peer-2', 'peer-3'], ['peer-1', 'peer-3', 'peer-4']])
    expect(bad.final).toEqual({
      kind: 'failed',
      reason: 'cannot sign with key key-1: 0 usable holders, 3 needed (excluded as proven at fault: peer-1) (excluded after refusing, not blamed: peer-2) ' +
        '(released a share in an attempt that made no signature, so the request is spent there: peer-3, peer-4; ask again with a new request)',
      culprits: ['peer-1'],
      spent: false
    })
    expect(bad.session.excludedHolders).toEqual(['peer-2', 'peer-1'])
    const badOnce = run('ed25519', 3, 5, { 'peer-1': { roundOne: 'badCommitment', times: 1 } })
    expect(badOnce.final).toMatchObject({ kind: 'done', signers: ['peer-2', 'peer-3', 'peer-4'] })
    expect(badOnce.session.excludedHolders).toEqual(['peer-1'])
  })
})

describe('signing session: a holder that released a share in an attempt that made no signature has spent the request', () => {
  const roundOnes = (steps: SigningStep[]): string[][] => steps.flatMap(s => s.kind === 'roundOne' ? [s.signers] : [])
  const spentClause = (holders: string): string => ` (released a share in an attempt that made no signature, so the request is spent there: ${holders}; ask again with a new request)`

  it('after a round-two transport failure, the other signers of that attempt are never chosen again, while holders that only committed in a round-one failure still are', () => {
    // Attempt 1: peer-1's commit is lost, peer-2 only committed. Attempt 2: peer-3's share is lost,
    // peer-2 released one. Attempt 3: peer-4's commit is lost, peer-5 only committed. Attempt 4
    // needs a second signer besides peer-5: a holder that failed on transport (last resort) is
    // chosen before peer-2, which is never asked again.
    const { final, ended, steps, holders, session, publicPackage, message } = run('ed25519', 2, 5, {
      'peer-1': { roundOne: 'reset', times: 1 },
      'peer-3': { roundTwo: 'reset', times: 1 },
      'peer-4': { roundOne: 'timeout', times: 1 }
    })
    expect(roundOnes(steps)).toEqual([['peer-1', 'peer-2'], ['peer-2', 'peer-3'], ['peer-4', 'peer-5'], ['peer-1', 'peer-5']])
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'roundOne', 'roundTwo', 'roundOne', 'roundOne', 'roundTwo', 'done'])
    expect(ended.map(e => e.abort)).toEqual([['peer-2'], [], ['peer-5']])
    expect(ended[1]!.failure.proven).toEqual([{ peer: 'peer-3', reason: 'peer-3 did not answer: signShare failed: stream reset' }])
    // peer-2 released a share once, in attempt 2, and nothing after.
    expect(holders.find(h => h.name === 'peer-2')!.signed).toEqual([ended[1]!.sessionId])
    if (final.kind !== 'done') throw new Error(`not done: ${JSON.stringify(final)}`)
    expect(final.signers).toEqual(['peer-1', 'peer-5'])
    expect(final.attempts).toBe(4)
    expect(verifiesExternally('ed25519', publicPackage.commitments[0]!, message, final.signature)).toBe(true)
    expect(session.excludedHolders).toEqual([])
    expect(session.unreachableHolders).toEqual(['peer-3', 'peer-4'])
  })

  it('a holder whose share got no answer and then refuses the request as already acted on has spent it: the request ends spent, the holder neither excluded nor blamed for the refusal', () => {
    // peer-2's share is computed (and the request taken) but its answer is lost; asked again as a
    // candidate of last resort, it refuses as a real node does.
    const { final, steps, session } = run('ed25519', 3, 5, { 'peer-2': { roundTwo: 'reset', times: 1, ledger: true } })
    expect(roundOnes(steps)).toEqual([['peer-1', 'peer-2', 'peer-3'], ['peer-2', 'peer-4', 'peer-5']])
    expect(session.excludedHolders).toEqual([])
    // peer-1 and peer-3 released shares, peer-2 (it says) acted on it: with only peer-4 and peer-5 left, the client must ask again.
    expect(final).toMatchObject({ kind: 'failed', spent: true })
  })

  it('a round-two transport failure with only t holders up ends the request as spent: the spent holders would make the threshold', () => {
    const { final, ended, steps } = run('ed25519', 3, 5, { 'peer-2': { roundTwo: 'reset' } }, { 'peer-4': 'down', 'peer-5': 'down' })
    expect(steps.map(s => s.kind)).toEqual(['roundOne', 'roundTwo', 'failed'])
    expect(ended[0]!.abort).toEqual([])
    expect(final).toEqual({
      kind: 'failed',
      reason: 'cannot sign with key key-1: 1 usable holders, 3 needed' + spentClause('peer-1, peer-3') + ' (unreachable at their last command: peer-2)',
      culprits: ['peer-2'],
      spent: true
    })
  })

  it.each([
    ['up', true, 1],
    ['down', false, 0]
  ] as const)('with peer-5 %s, spent is %s: peer-3 and peer-4 spent the request and make the threshold only with peer-5; the culprit and the refuser do not count', (peer5, spent, usable) => {
    // peer-2 refuses round one (out, not blamed); peer-1 sends a bad share in attempt 2 (out, blamed)
    // and peer-3 and peer-4 spend the request. Neither the refuser nor the culprit counts as spent.
    const { final, steps } = run('ed25519', 3, 5, { 'peer-1': { roundTwo: 'badShare' }, 'peer-2': { roundOne: 'refuse' } }, { 'peer-5': peer5 })
    expect(roundOnes(steps)).toEqual([['peer-1', 'peer-2', 'peer-3'], ['peer-1', 'peer-3', 'peer-4']])
    expect(final).toEqual({
      kind: 'failed',
      reason: `cannot sign with key key-1: ${usable} usable holders, 3 needed (excluded as proven at fault: peer-1) (excluded after refusing, not blamed: peer-2)` + spentClause('peer-3, peer-4'),
      culprits: ['peer-1'],
      spent
    })
  })

  it('counts only spent holders still usable but for the spent request: spent while peer-1 is up, not once it is down', () => {
    const up = run('ed25519', 2, 3, { 'peer-2': { roundTwo: 'refuse' } })
    expect(up.ended).toHaveLength(1)
    expect(up.final).toEqual({
      kind: 'failed',
      reason: 'cannot sign with key key-1: 1 usable holders, 2 needed (excluded after refusing, not blamed: peer-2)' + spentClause('peer-1'),
      culprits: [],
      spent: true
    })

    // The same request, but peer-1 goes down after it released its share.
    let peer1Down = false
    const availability = (p: string): Availability => p === 'peer-1' && peer1Down ? 'down' : 'up'
    const { holders, names, publicPackage } = cluster('ed25519', 2, 3, { 'peer-2': { roundTwo: 'refuse' } })
    const message = messageFor('ed25519', 'x')
    const byName = (p: string): Holder => holders.find(h => h.name === p)!
    const session = new SigningSession({ keyId: 'key-1', scheme: 'ed25519', threshold: 2, holders: names, publicPackage, message }, { availability, newSessionId })
    const one = session.start().next
    if (one.kind !== 'roundOne') throw new Error('no round one')
    expect(one.signers).toEqual(['peer-1', 'peer-2'])
    const two = session.onRoundOne(one.sessionId, answersOf(one.signers, p => byName(p).commit(one.sessionId))).next
    if (two.kind !== 'roundTwo') throw new Error('no round two')
    const answers = answersOf(two.signers, p => byName(p).share(two.sessionId, two.commitments, message))
    peer1Down = true
    expect(session.onRoundTwo(two.sessionId, answers).next).toEqual({
      kind: 'failed',
      reason: 'cannot sign with key key-1: 1 usable holders, 2 needed (excluded after refusing, not blamed: peer-2)' + spentClause('peer-1'),
      culprits: [],
      spent: false
    })
  })

  it('is not spent when the request fails for other reasons: too few holders up, or round-one failures only', () => {
    const down = run('ed25519', 3, 5, {}, { 'peer-3': 'down', 'peer-4': 'down', 'peer-5': 'down' })
    expect(down.final).toEqual({ kind: 'failed', reason: 'cannot sign with key key-1: 2 usable holders, 3 needed', culprits: [], spent: false })
    // Holders that only committed hold no released share: a commitment is not a share.
    const committed = run('ed25519', 3, 4, { 'peer-1': { roundOne: 'refuse' }, 'peer-2': { roundOne: 'badCommitment' } })
    expect(roundOnes(committed.steps)).toEqual([['peer-1', 'peer-2', 'peer-3']])
    expect(committed.ended[0]!.abort).toEqual(['peer-2', 'peer-3'])
    expect(committed.holders.flatMap(h => h.signed)).toEqual([])
    expect(committed.final).toEqual({
      kind: 'failed',
      reason: 'cannot sign with key key-1: 2 usable holders, 3 needed (excluded as proven at fault: peer-2) (excluded after refusing, not blamed: peer-1)',
      culprits: ['peer-2'],
      spent: false
    })
  })
})

describe('signing session: one round from pooled commitments', () => {
  /** Runs a 2-of-3 request whose holders each pooled two commitments; `miss` answers POOL_MISS to its first pooled share request. */
  function pooledRun (miss?: string): Run & { message: Uint8Array, misses: string[], publicPackage: Key['public'] } {
    const { holders, names, publicPackage } = cluster('ed25519', 2, 3)
    const byName = new Map(holders.map(h => [h.name, h]))
    const message = messageFor('ed25519', 'pooled')
    // A pooled nonce is a commitment made ahead of any session: here, under a session id of its own.
    const poolSession = new Map<string, string>()
    const pools = new Map(names.map(n => [n, [0, 1].map(i => {
      const sid = `pool-${n}-${i}`
      const c = byName.get(n)!.commit(sid).commitment!
      poolSession.set(hex(c.hiding), sid)
      return c
    })]))
    const misses: string[] = []
    let missing = miss
    const session = new SigningSession(
      { keyId: 'key-1', scheme: 'ed25519', threshold: 2, holders: names, publicPackage, message },
      {
        availability: () => 'up',
        newSessionId,
        pooled: signers => signers.every(s => pools.get(s)!.length > 0) ? signers.map(s => pools.get(s)!.shift()!) : undefined,
        poolMiss: p => { misses.push(p) }
      }
    )
    const ended: EndedAttempt[] = []
    const steps: SigningStep[] = []
    let transition = session.start()
    for (;;) {
      if (transition.ended !== undefined) ended.push(transition.ended)
      const step = transition.next
      steps.push(step)
      if (step.kind === 'done' || step.kind === 'failed') return { final: step, ended, steps, session, message, misses, publicPackage }
      if (step.kind === 'roundOne') {
        transition = session.onRoundOne(step.sessionId, answersOf(step.signers, p => byName.get(p)!.commit(step.sessionId)))
      } else {
        transition = session.onRoundTwo(step.sessionId, answersOf(step.signers, p => {
          if (!step.pooled) return byName.get(p)!.share(step.sessionId, step.commitments, message)
          if (p === missing) {
            missing = undefined
            throw new CommandRefusedError(ErrorCode.POOL_MISS, 'not in this process\'s pool')
          }
          const own = step.commitments.find(c => c.identifier === participantIdentifier('ed25519', names.indexOf(p) + 1))!
          return byName.get(p)!.share(poolSession.get(hex(own.hiding))!, step.commitments, message)
        }))
      }
    }
  }

  it('signs in one round when every signer has a pooled commitment; the signature verifies outside our code', () => {
    const { final, steps, message, publicPackage } = pooledRun()
    expect(steps.map(s => s.kind)).toEqual(['roundTwo', 'done'])
    expect(steps[0]).toMatchObject({ pooled: true })
    if (final.kind !== 'done') throw new Error('not done')
    expect(verifiesExternally('ed25519', publicPackage.commitments[0]!, message, final.signature)).toBe(true)
  })

  it('after a POOL_MISS, signs in two rounds with the holder that missed (it is not excluded), leaving out the co-signer that spent the request', () => {
    const { final, steps, ended, misses, message, publicPackage } = pooledRun('peer-1')
    expect(steps.map(s => s.kind)).toEqual(['roundTwo', 'roundOne', 'roundTwo', 'done'])
    expect(misses).toEqual(['peer-1'])
    expect(ended[0]!.failure.proven).toEqual([])
    if (final.kind !== 'done') throw new Error('not done')
    expect(final.signers).toEqual(['peer-1', 'peer-3'])
    expect(verifiesExternally('ed25519', publicPackage.commitments[0]!, message, final.signature)).toBe(true)
  })
})
