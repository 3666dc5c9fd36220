/**
 * The coordinator's side of one signature request (RFC 9591 section 5, the coordinator as
 * aggregator) as a pure state machine, beside the nodes' side in the share vault and DKG's in
 * crypto/dkg.ts. It chooses the signers of each attempt, checks round-one commitments where they
 * arrive, aggregates round-two shares (verifying them one by one only when the aggregate fails),
 * and keeps apart what it proved (culprits), what members claimed of each other, and refusals.
 *
 * No sockets, no clock, no events: each step takes the answers of the round just run and returns
 * what to record about an attempt that ended and what to do next. The caller (Tasks.sign) sends
 * the commands, records the events and loops. Steps run in order only:
 *
 *   new --start--> roundOne --onRoundOne--> roundTwo --onRoundTwo--> done
 *                     ^  |                     |
 *                     +--+---- retry ----------+      (either round, when holders remain)
 *                        +---------------------+----> failed (out of holders or attempts)
 *
 * An attempt whose every signer has a pooled commitment (deps.pooled, RFC 9591 5.1's
 * preprocessing) starts at roundTwo with `pooled: true`: one round. A signer's POOL_MISS (the
 * pool was not its own any more) proves nothing against it; the request goes on in two rounds.
 *
 * A step called out of order, for another attempt's session, or with answers that are not
 * exactly the signers' throws SessionStepError and changes nothing.
 *
 * How long a holder stays out after a failure depends on what failed, not on who is blamed:
 *
 * - A proven-bad answer (a commitment or share that fails its check) or a refusal takes the
 *   holder out of the whole request: asking again would get the same answer.
 * - A transport failure (no answer: dial failure, reset stream, deadline) takes it out of the
 *   attempt only. The holder may have crashed and be back already, or its connection was stale;
 *   it stays a candidate for later attempts while the health watch has it `up`, chosen last (after
 *   every holder that has not failed in this request), so a crashed holder costs no attempt while
 *   others can sign, and a restarted one still counts when it is needed to reach the threshold.
 *   Blame is unchanged (judgeFailure: it did not answer, which the coordinator saw itself).
 *
 * Requests and retries: each node acts on a client's signed request once (issue 12). A holder
 * that released a share in an attempt that made no signature has spent the request and is left
 * out of later attempts; when too few remain, the request fails and the client, which alone can
 * sign requests, asks again with a new one.
 *
 * Nonces and retries: a node takes a session's nonces at most once and refuses a second signShare
 * for the session (STALE), and a commit under a session id that has nonces already (STALE too).
 * So no step here ever asks for round two again: when round two fails for anyone, its outcome at
 * that signer is unknown (its nonce may be spent, and its share lost on the way), and the request
 * goes on with a new attempt, a new session id and fresh commitments from every signer. Round one
 * may be resent within its deadline by the caller (fanOut's resend on a fresh connection): a
 * resent commit either lands first (and commits fresh nonces) or is refused STALE because the first
 * one landed, which the caller reports as the first transport failure; either way no nonce is
 * used twice, and nonces left behind by an unknown outcome are never asked for again (their session
 * id is abandoned) and go with the node's nonce sweep.
 */
import { SessionStepError } from './errors.js'
import type { FrostPublic } from '@noble/curves/abstract/frost.js'
import { aggregateSignature, BlameError, isScheme, isValidNonceCommitment, participantIdentifier, validateMessage, validateThreshold, type Scheme } from '../crypto/index.js'
import { CommandRefusedError, CommandTransportError, MalformedMessageError } from '../protocols/errors.js'
import { ErrorCode, type NonceCommitment } from '../protocols/messages.js'

/** A holder's availability as the coordinator sees it now (the coordinator's HealthState). */
export type Availability = 'up' | 'suspect' | 'down'

/** What one member said of others, on its word alone: recorded, never counted as proof (invariant 10). */
export interface Claim {
  claimant: string
  accused: string[]
  reason: string
}

/** The most of a peer's own words (an error message it sent) kept in an event or a task error. */
const MAX_PEER_TEXT = 512
const peerText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, MAX_PEER_TEXT)

/** What the coordinator's own check of one failed command shows. */
export type FailureVerdict =
  /** Proof against the peer: it gave no answer by the deadline, or one that does not decode. */
  | { kind: 'proven', reason: string }
  /** The peer refused and named others (BLAME, TIMEOUT): its claim against them, not evidence. */
  | { kind: 'claim', accused: string[], reason: string }
  /**
   * The peer refused without naming anyone, or the failure arose on this side: no evidence against
   * it. A refusal can be caused by others (a co-signer's bad commitment, a coordinator restart
   * that lost a session), so it only takes the peer out of the request at hand.
   */
  | { kind: 'refused', reason: string }

/**
 * Classifies a failed command to `peer` (invariant 10: blame follows evidence). Only peers among
 * `within` (the session's participants) can be accused; anything else a peer names is dropped.
 */
export function judgeFailure (peer: string, err: unknown, within: readonly string[]): FailureVerdict {
  if (err instanceof CommandTransportError) return { kind: 'proven', reason: `${peer} did not answer: ${peerText(err)}` }
  if (err instanceof MalformedMessageError) return { kind: 'proven', reason: `${peer} answered with a malformed response: ${peerText(err)}` }
  if (err instanceof CommandRefusedError) {
    const accused = [...new Set(err.culprits)].filter(c => c !== peer && within.includes(c))
    if (accused.length > 0 && err.code === ErrorCode.BLAME) return { kind: 'claim', accused, reason: `${peer} claims ${accused.join(', ')} misbehaved: ${peerText(err)}` }
    if (accused.length > 0 && err.code === ErrorCode.TIMEOUT) return { kind: 'claim', accused, reason: `${peer} claims it received nothing from ${accused.join(', ')}: ${peerText(err)}` }
    return { kind: 'refused', reason: `${peer} refused (${err.code}): ${peerText(err)}` }
  }
  return { kind: 'refused', reason: `command to ${peer} failed on the coordinator: ${peerText(err)}` }
}

/**
 * Why a round-one answer cannot go into the commitment list of key `pub`, or undefined if it can
 * (RFC 9591 5.1). The points checked stay decoded for the aggregation.
 */
export function commitmentProblem (scheme: Scheme, commitment: NonceCommitment | undefined, identifier: string, pub: FrostPublic): string | undefined {
  if (commitment === undefined) return 'sent no commitment'
  if (commitment.identifier !== identifier) return 'committed under a wrong identifier'
  if (!isValidNonceCommitment(scheme, commitment, pub)) return 'sent a commitment that is not a pair of valid points'
  return undefined
}

/** One failed session: what the coordinator proved, what members claimed, and what else went wrong. */
export interface Failure {
  /** Culprits by the coordinator's own checks, each with its reason. */
  /** `answered`: the peer's own answer failed the check (a bad commitment or share), not merely no answer. */
  proven: Array<{ peer: string, reason: string, answered?: true }>
  claims: Claim[]
  /** Refusals and other failures that prove nothing against anyone. */
  notes: string[]
}

export const noFailure = (): Failure => ({ proven: [], claims: [], notes: [] })
export const isFailure = (f: Failure): boolean => f.proven.length > 0 || f.claims.length > 0 || f.notes.length > 0
export const culpritsOf = (f: Failure): string[] => [...new Set(f.proven.map(p => p.peer))]
export const summary = (f: Failure): string => [...f.proven.map(p => p.reason), ...f.claims.map(c => c.reason), ...f.notes].join('; ')

export function addVerdict (failure: Failure, peer: string, verdict: FailureVerdict): void {
  if (verdict.kind === 'proven') failure.proven.push({ peer, reason: verdict.reason })
  else if (verdict.kind === 'claim') failure.claims.push({ claimant: peer, accused: verdict.accused, reason: verdict.reason })
  else failure.notes.push(verdict.reason)
}

/** The outcome of one round's commands: each signer either answered or failed, never both. */
export interface RoundAnswers<T> {
  ok: ReadonlyMap<string, T>
  failed: ReadonlyMap<string, unknown>
}

export interface SigningParams {
  keyId: string
  scheme: Scheme
  threshold: number
  /** The key's holders in identifier order: holder i (0-based) has participantIdentifier(scheme, i + 1). */
  holders: readonly string[]
  /** The key's public package (decoded and point-validated). */
  publicPackage: FrostPublic
  message: Uint8Array
}

export interface SigningDeps {
  /** A holder's availability now, asked whenever signers are chosen. */
  availability: (peer: string) => Availability
  /** A fresh, unguessable id for each attempt's session. */
  newSessionId: () => string
  /** Whether another attempt may start (the caller's deadline for the request); asked before each retry. Default: yes. */
  mayRetry?: () => boolean
  /**
   * One pooled commitment per signer (in the signers' order), each handed out once, or undefined
   * when some signer has none (NoncePools.take): with them, an attempt is one round.
   */
  pooled?: (signers: readonly string[]) => NonceCommitment[] | undefined
  /** A signer answered POOL_MISS: the pool held for it is not its own (any more). */
  poolMiss?: (peer: string) => void
}

/**
 * Attempts a request may spend beyond n - t + 1 on attempts that ended with transport failures
 * only (which take no holder out of the request, so they do not bring the end closer by themselves).
 */
export const MAX_TRANSPORT_RETRIES = 3

/** A failure of the command itself (no answer), not an answer: it takes the holder out of the attempt only. */
export const isTransportFailure = (err: unknown): boolean => err instanceof CommandTransportError

/** The signer does not hold the pooled commitment it was asked to use: nobody's fault, it stays a candidate. */
const isPoolMiss = (err: unknown): boolean => err instanceof CommandRefusedError && err.code === ErrorCode.POOL_MISS

/** What the caller does next. */
export type SigningStep =
  /** Send signCommit to each signer (RFC 9591 5.1). */
  | { kind: 'roundOne', attempt: number, sessionId: string, signers: string[] }
  /**
   * Send signShare with this commitment list to each signer (RFC 9591 5.2); `pooled`: the list is
   * of pooled commitments, and this attempt had no round one.
   */
  | { kind: 'roundTwo', attempt: number, sessionId: string, signers: string[], commitments: NonceCommitment[], pooled: boolean }
  /** The signature verifies under the group key; record the session as finished. */
  | { kind: 'done', attempts: number, sessionId: string, signers: string[], signature: Uint8Array }
  /**
   * No attempt is left: too few usable holders. `culprits` are the holders proven at fault;
   * `spent`: holders left out because they spent the request, without whom it could go on.
   */
  | { kind: 'failed', reason: string, culprits: string[], spent: boolean }

/** An attempt that ended without a signature: what to record, and whose nonces to discard. */
export interface EndedAttempt {
  sessionId: string
  failure: Failure
  /** Signers that hold nonces for the session (send them `abort`). */
  abort: string[]
}

export interface SigningTransition {
  ended?: EndedAttempt
  next: SigningStep
}

export type SigningState = 'new' | 'roundOne' | 'roundTwo' | 'done' | 'failed'


/** Signer preference: holders up, then suspect, then (last resort) holders up that failed on transport in this request. */
const RANK: Readonly<Record<Availability, number>> = { up: 0, suspect: 1, down: 3 }
const RANK_AFTER_TRANSPORT_FAILURE = 2

export class SigningSession {
  private state: SigningState = 'new'
  private attempt = 0
  private current: { sessionId: string, signers: string[], commitments?: NonceCommitment[] } | undefined
  private readonly identifierOf: ReadonlyMap<string, string>
  /** Out of this request: proven culprits, and holders that refused (no evidence against them). */
  private readonly excluded = new Set<string>()
  /**
   * Holders that released a signature share in an attempt that made no signature: each node acts
   * on a client's request once (issue 12), so they would refuse any later attempt of this request.
   */
  private readonly spent = new Set<string>()
  /** Holders whose last command in this request failed on transport: out of that attempt, candidates of last resort while up. */
  private readonly unreachable = new Set<string>()
  /** Attempts that ended with transport failures only (bounded by MAX_TRANSPORT_RETRIES). */
  private transportRetries = 0
  /** Proven culprits only (invariant 10). */
  private readonly blamed = new Set<string>()
  /** Whether attempts may use pooled commitments: until one signer reports a pool miss. */
  private pools = true
  /**
   * Holders whose signature share command got no answer: they may have acted on the request. They
   * stay candidates of last resort; one that then refuses the request as already acted on has
   * spent it (it did act), which is no refusal of its own.
   */
  private readonly unknownShare = new Set<string>()
  private readonly params: Readonly<SigningParams>

  constructor (params: SigningParams, private readonly deps: SigningDeps) {
    const { keyId, scheme, threshold, holders, publicPackage, message } = params
    if (typeof keyId !== 'string' || keyId.length === 0) throw new SessionStepError('bad_params', 'key id missing')
    if (!isScheme(scheme)) throw new SessionStepError('bad_params', 'unknown scheme')
    const holderList: unknown = holders
    if (!Array.isArray(holderList) || new Set(holders).size !== holders.length) throw new SessionStepError('bad_params', 'holders must be distinct')
    validateThreshold(threshold, holders.length)
    if (publicPackage?.signers?.min !== threshold || publicPackage.signers.max !== holders.length) {
      throw new SessionStepError('bad_params', 'the public package is not for this threshold and holder count')
    }
    validateMessage(scheme, message)
    this.params = Object.freeze({ keyId, scheme, threshold, holders: Object.freeze([...holders]), publicPackage, message: Uint8Array.from(message) })
    this.identifierOf = new Map(holders.map((h, i) => [h, participantIdentifier(scheme, i + 1)]))
  }

  get step (): SigningState { return this.state }
  get attempts (): number { return this.attempt }
  /** Holders proven at fault so far. */
  get culprits (): string[] { return [...this.blamed] }
  /** Holders out of this request so far (culprits and refusals). */
  get excludedHolders (): string[] { return [...this.excluded] }
  /** Holders whose last command failed on transport: out of their attempt only. */
  get unreachableHolders (): string[] { return [...this.unreachable] }

  /** Chooses the first attempt's signers. */
  start (): SigningTransition {
    this.guard('new')
    return { next: this.nextAttempt() }
  }

  /** Round one's answers: every commitment is checked here, where it arrives. */
  onRoundOne (sessionId: string, answers: RoundAnswers<{ commitment?: NonceCommitment }>): SigningTransition {
    const { signers } = this.guard('roundOne', sessionId)
    this.checkAnswers(signers, answers)
    this.heardFrom(answers)
    // One bad point would otherwise make every honest co-signer refuse round two, and the
    // refusals would hide who sent it.
    const failure = noFailure()
    const out = new Set<string>()
    for (const [peer, err] of answers.failed) {
      addVerdict(failure, peer, judgeFailure(peer, err, signers))
      if (!isTransportFailure(err)) this.leaves(peer, err, out)
    }
    for (const [peer, answer] of answers.ok) {
      const problem = commitmentProblem(this.params.scheme, answer.commitment, this.identifierOf.get(peer)!, this.params.publicPackage)
      if (problem === undefined) continue
      failure.proven.push({ peer, reason: `${peer} ${problem}`, answered: true })
      out.add(peer)
    }
    // Whoever answered holds nonces for this session: they are discarded (the culprit's too).
    if (answers.failed.size > 0 || out.size > 0) return this.retry(failure, answers, out, signers.filter(s => answers.ok.has(s)))
    // In identifier order, as RFC 9591 encodes the commitment list: one per signer, since each
    // answer carries one commitment under that signer's own (distinct) identifier.
    const commitments = signers.map(s => answers.ok.get(s)!.commitment!)
    this.current = { sessionId, signers, commitments }
    this.state = 'roundTwo'
    return { next: { kind: 'roundTwo', attempt: this.attempt, sessionId, signers: [...signers], commitments: [...commitments], pooled: false } }
  }

  /**
   * Round two's answers: aggregate and verify against the group key (RFC 9591 5.3); only if that
   * fails, verify each share (5.4) to prove whose is bad. An aggregation that fails with every
   * share valid (an inconsistent public package) throws, and the session is over.
   */
  onRoundTwo (sessionId: string, answers: RoundAnswers<{ share: Uint8Array }>): SigningTransition {
    const { signers, commitments } = this.guard('roundTwo', sessionId)
    this.checkAnswers(signers, answers)
    this.heardFrom(answers)
    if (answers.failed.size > 0) {
      // Never round two again for this session (see the top of this file): the next attempt
      // starts over with a new session and fresh commitments, also from those that answered.
      const failure = noFailure()
      const out = new Set<string>()
      for (const [peer, err] of answers.failed) {
        addVerdict(failure, peer, judgeFailure(peer, err, signers))
        if (isPoolMiss(err)) {
          // Not the holder's fault (it restarted, or its pool was renewed): two rounds from now on.
          this.pools = false
          this.deps.poolMiss?.(peer)
        } else if (isTransportFailure(err)) {
          // No answer: it may have acted on the request (and released a share we never got).
          this.unknownShare.add(peer)
        } else this.leaves(peer, err, out)
      }
      answers.ok.forEach((_, peer) => this.spent.add(peer))
      return this.retry(failure, answers, out, [])
    }
    const shares: Record<string, Uint8Array> = {}
    const names: Record<string, string> = {}
    for (const s of signers) {
      shares[this.identifierOf.get(s)!] = answers.ok.get(s)!.share
      names[this.identifierOf.get(s)!] = s
    }
    const { scheme, publicPackage, message } = this.params
    let signature: Uint8Array
    try {
      signature = aggregateSignature(scheme, publicPackage, commitments!, message, shares, names)
    } catch (err) {
      if (!(err instanceof BlameError) || err.culprits.length === 0) {
        this.state = 'failed'
        throw err
      }
      // Proven here: each culprit's share fails RFC 9591 share verification.
      const proven = err.culprits.map(peer => ({ peer, reason: `invalid signature share from ${peer}`, answered: true as const }))
      signers.forEach(peer => this.spent.add(peer))
      return this.retry({ proven, claims: [], notes: [] }, answers, new Set(err.culprits), [])
    }
    this.state = 'done'
    this.current = undefined
    return { next: { kind: 'done', attempts: this.attempt, sessionId, signers: [...signers], signature } }
  }

  private guard (want: SigningState, sessionId?: string): { sessionId: string, signers: string[], commitments?: NonceCommitment[] } {
    if (this.state !== want) throw new SessionStepError('out_of_order', `signing session is at ${this.state}, not ${want}`)
    const current = this.current
    if (want === 'new') return { sessionId: '', signers: [] }
    if (current === undefined || current.sessionId !== sessionId) throw new SessionStepError('wrong_session', 'answers for another session of this signature request')
    return current
  }

  /** Exactly one answer or failure per signer, from no one else. */
  private checkAnswers (signers: readonly string[], answers: RoundAnswers<unknown>): void {
    if (!(answers?.ok instanceof Map) || !(answers.failed instanceof Map)) throw new SessionStepError('bad_answers', 'answers must be maps')
    const from = [...answers.ok.keys(), ...answers.failed.keys()]
    if (from.length !== signers.length || !signers.every(s => answers.ok.has(s) !== answers.failed.has(s))) {
      throw new SessionStepError('bad_answers', 'answers must come from exactly the signers of the attempt, one each')
    }
  }

  /**
   * Ends the attempt: `out` leave this request (only proven culprits are blamed); signers whose
   * command failed on transport leave this attempt only; then the next attempt.
   */
  private retry (failure: Failure, answers: RoundAnswers<unknown>, out: Set<string>, abort: string[]): SigningTransition {
    const ended: EndedAttempt = { sessionId: this.current!.sessionId, failure, abort }
    out.forEach(p => this.excluded.add(p))
    if (out.size === 0) this.transportRetries++
    culpritsOf(failure).forEach(p => this.blamed.add(p))
    return { ended, next: this.nextAttempt() }
  }

  /** A refusal takes the holder out of the request, or counts it as spent if it had acted on the request unbeknown to us. */
  private leaves (peer: string, err: unknown, out: Set<string>): void {
    if (this.unknownShare.has(peer) && err instanceof CommandRefusedError && err.code === ErrorCode.POLICY_DENIED && err.rule === 'replayed') this.spent.add(peer)
    else out.add(peer)
  }

  /** Who answered is reachable again; whose command failed on transport is not, until it answers. */
  private heardFrom (answers: RoundAnswers<unknown>): void {
    for (const peer of answers.ok.keys()) this.unreachable.delete(peer)
    for (const [peer, err] of answers.failed) if (isTransportFailure(err)) this.unreachable.add(peer)
  }

  /** A holder's rank as a signer, or undefined if it cannot sign now (out of the request, down, or unreachable and not up). */
  private rank (holder: string): number | undefined {
    if (this.excluded.has(holder) || this.spent.has(holder)) return undefined
    const availability = this.deps.availability(holder)
    if (!this.unreachable.has(holder)) return availability === 'down' ? undefined : RANK[availability]
    return availability === 'up' ? RANK_AFTER_TRANSPORT_FAILURE : undefined
  }

  /** Signers for the next attempt: usable holders by rank (see RANK), in identifier order; or the end. */
  private nextAttempt (): SigningStep {
    const { holders, threshold, keyId } = this.params
    const ranks = new Map(holders.flatMap(h => { const r = this.rank(h); return r === undefined ? [] : [[h, r] as const] }))
    const usable = [...ranks.keys()]
    const attemptsAllowed = holders.length - threshold + 1 + Math.min(this.transportRetries, MAX_TRANSPORT_RETRIES)
    const mayStart = this.attempt === 0 || (this.attempt < attemptsAllowed && (this.deps.mayRetry?.() ?? true))
    if (mayStart && usable.length >= threshold) {
      const ranked = [...usable].sort((a, b) => ranks.get(a)! - ranks.get(b)!)
      const signers = ranked.slice(0, threshold).sort((a, b) => holders.indexOf(a) - holders.indexOf(b))
      this.attempt++
      const sessionId = this.deps.newSessionId()
      // Preprocessed commitments for every signer make the attempt one round (RFC 9591 5.1).
      const commitments = this.pools ? this.deps.pooled?.(signers) : undefined
      if (commitments !== undefined) {
        this.current = { sessionId, signers, commitments }
        this.state = 'roundTwo'
        return { kind: 'roundTwo', attempt: this.attempt, sessionId, signers: [...signers], commitments: [...commitments], pooled: true }
      }
      this.current = { sessionId, signers }
      this.state = 'roundOne'
      return { kind: 'roundOne', attempt: this.attempt, sessionId, signers: [...signers] }
    }
    this.state = 'failed'
    this.current = undefined
    const refused = [...this.excluded].filter(h => !this.blamed.has(h))
    const spentNotExcluded = [...this.spent].filter(h => !this.excluded.has(h))
    const provenOut = [...this.excluded].filter(h => this.blamed.has(h))
    const reason = `cannot sign with key ${keyId}: ` +
      (usable.length >= threshold ? `no attempt left after ${this.attempt}` : `${usable.length} usable holders, ${threshold} needed`) +
      (provenOut.length > 0 ? ` (excluded as proven at fault: ${provenOut.join(', ')})` : '') +
      (refused.length > 0 ? ` (excluded after refusing, not blamed: ${refused.join(', ')})` : '') +
      (spentNotExcluded.length > 0 ? ` (released a share in an attempt that made no signature, so the request is spent there: ${spentNotExcluded.join(', ')}; ask again with a new request)` : '') +
      (this.unreachable.size > 0 ? ` (unreachable at their last command: ${[...this.unreachable].join(', ')})` : '')
    const spentOut = [...this.spent].filter(h => !this.excluded.has(h) && this.rank(h) === undefined && (this.unreachable.has(h) ? this.deps.availability(h) === 'up' : this.deps.availability(h) !== 'down'))
    return { kind: 'failed', reason, culprits: [...this.blamed], spent: usable.length < threshold && spentOut.length > 0 && usable.length + spentOut.length >= threshold }
  }
}
