import type { FrostPublic } from '@noble/curves/abstract/frost.js'
import { childPublic, CryptoInputError, decodePublic, deriveHdChild, formatHdPath, participantIdentifier, validateMessage, type Scheme } from '../crypto/index.js'
import { fromHex } from '../crypto/bytes.js'
import { DEFAULT_SIGN_ROUND_TIMEOUT_MS } from '../protocols/constants.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { ErrorCode, EventKind, type NonceCommitment, type NoncePoolResponse } from '../protocols/messages.js'
import { encodeDocument, requestHash, type SignedRequest, type SpendAsked } from '../protocols/policy.js'
import { toHex } from '../crypto/bytes.js'
import type { KeyRecord } from '../state/key-registry.js'
import { TaskError } from './errors.js'
import { commitmentProblem, SigningSession, type Availability } from './signing-session.js'
import { bytesOf, fanOut, newSessionId, recordFailure, type FanOut, type TaskDeps } from './task-io.js'
import { NoncePools } from './nonce-pools.js'
import { KeyGate } from './key-gate.js'
import { sendCommandVia } from '../protocols/command.js'
import { peerIdFromString } from '@libp2p/peer-id'

const MAX_CACHED_KEYS = 1024
/**
 * A holder proven at fault (a bad commitment or share) is chosen after every other usable holder
 * for this long: a request that failed through it is asked again (with a new client request,
 * since its co-signers spent the old one) and should not meet it first again.
 */
const CULPRIT_MEMORY_MS = 10 * 60_000
const MAX_CULPRITS_REMEMBERED = 1024
/**
 * A request starts no new attempt after this many round deadlines: a holder that keeps failing on
 * transport while the health watch has it up could otherwise keep a client waiting through every
 * retry the session allows.
 */
const RETRY_WINDOW_ROUNDS = 4

export interface SignResult {
  keyId: string
  scheme: Scheme
  message: Uint8Array
  signature: Uint8Array
  sessionId: string
  signers: string[]
  attempts: number
  /** Rounds of the attempt that made the signature: 1 with pooled commitments, else 2. */
  rounds: 1 | 2
  /** Where the time of that attempt went at the coordinator, in ms (round 1 is 0 for one round). */
  timing: { round1Ms: number, round2Ms: number, aggregateMs: number }
  /** The key the signature verifies under (hex): the group key, or an HD key's child at `path`. */
  publicKey: string
  /** An HD key's child path (m/…). */
  path?: string
}

/** A key version not committed yet (refresh, reshare, repair): its new holders sign its test message with their pending shares. */
export interface SignCandidate {
  sessionId: string
  holders: readonly string[]
  threshold: number
  publicPackage: FrostPublic
}

export interface SignOptions {
  /** Use the holders' pooled commitments where every signer has one (one round); false: always two rounds. Default true. */
  pooled?: boolean
  /** An HD key: sign with the child at this unhardened path (indices). Default: the root (m). */
  path?: number[]
  /** The lifecycle test signature of a candidate version (LifecycleTask); never from the API. */
  candidate?: SignCandidate
  /**
   * A transaction the message is computed from (WalletTask): its bytes go to every signer, which
   * reads them itself; `spend` is the coordinator's own reading, for its own policy check.
   */
  transaction?: { payload: Uint8Array, spend: SpendAsked }
}

/**
 * Signing as a thin driver over a SigningSession: the session chooses signers, checks answers
 * and judges failures; this sends its commands, records its events and loops.
 */
export class SignTask {
  /** Decoded (and point-validated) public packages by key id: decoding costs more than a signature share. */
  private readonly publics = new Map<string, FrostPublic>()
  /** Holders proven at fault lately, and when. */
  private readonly culprits = new Map<string, number>()
  /** The holders' preprocessed commitments: a signature whose signers all have some takes one round. */
  readonly pools: NoncePools
  /** Signatures of a key run beside each other, never across the commit of its next version (LifecycleTask). */
  readonly gate = new KeyGate()

  constructor (private readonly deps: TaskDeps) {
    this.pools = new NoncePools({
      fetch: async (peer, keyId) => await this.fetchPool(peer, keyId),
      epochOf: deps.poolEpoch,
      connected: (peer, connectionId) => deps.libp2p.getConnections(peerIdFromString(peer)).some(c => c.id === connectionId && c.status === 'open'),
      log: deps.log
    })
  }

  /**
   * A holder's pool of a key, every commitment checked where it arrives, as round one's are
   * (RFC 9591 5.1): one that is not the holder's own pair of valid points voids the answer.
   */
  private async fetchPool (peer: string, keyId: string): Promise<{ answer: NoncePoolResponse, check: (c: NonceCommitment) => string | undefined, connectionId: string }> {
    const key = await this.deps.keys.get(keyId)
    const index = key?.holders.indexOf(peer) ?? -1
    if (key === undefined || index < 0) return { answer: { epoch: new Uint8Array(), commitments: [] }, check: () => 'not a holder', connectionId: '' }
    const { response, connectionId } = await sendCommandVia(this.deps.libp2p, peerIdFromString(peer), this.deps.clusterId(), 'noncePool', { keyId }, this.deps.signRoundTimeoutMs ?? DEFAULT_SIGN_ROUND_TIMEOUT_MS)
    const identifier = participantIdentifier(key.scheme, index + 1)
    const pub = this.publicPackage(key)
    return { answer: response, check: c => commitmentProblem(key.scheme, c, identifier, pub), connectionId }
  }

  /** The public key that signs for `key` at `path` (an HD key's child; root: m): a Taproot output key, an Ed25519 key. */
  signingPublicKey (key: KeyRecord, path: readonly number[] = []): Uint8Array {
    return this.publicPackage(key, path).commitments[0]!
  }

  /** The public package that signs: the key version's, or an HD key's child at `path` (root: m). */
  private publicPackage (key: KeyRecord, path: readonly number[] = []): FrostPublic {
    const id = `${key.id}\0${key.sessionId}\0${path.join('/')}`
    let pub = this.publics.get(id)
    if (pub === undefined) {
      pub = decodePublic(Buffer.from(key.publicPackage, 'hex'))
      if (key.chainCode !== undefined) pub = childPublic(key.scheme, pub, deriveHdChild(key.scheme, fromHex(key.groupPublicKey)!, fromHex(key.chainCode)!, path))
      if (this.publics.size >= MAX_CACHED_KEYS) this.publics.delete(this.publics.keys().next().value!)
      this.publics.set(id, pub)
    }
    return pub
  }

  /** A holder's health, with one proven at fault lately ranked as suspect (after every holder up). */
  private availability (peer: string): Availability {
    const state = this.deps.health(peer)
    const at = this.culprits.get(peer)
    if (at === undefined || state !== 'up') return state
    if (Date.now() - at < CULPRIT_MEMORY_MS) return 'suspect'
    this.culprits.delete(peer)
    return state
  }

  private remember (peers: string[]): void {
    for (const peer of peers) {
      this.culprits.delete(peer)
      if (this.culprits.size >= MAX_CULPRITS_REMEMBERED) this.culprits.delete(this.culprits.keys().next().value!)
      this.culprits.set(peer, Date.now())
    }
  }

  /**
   * Signs `message` with `keyId` for the client's signed `request`, which every signer checks
   * against the policy itself before its commitment and its share leave (the coordinator checks
   * first, so that it asks nodes only what they should allow).
   */
  async sign (keyId: string, message: Uint8Array, request: SignedRequest | undefined, opts: SignOptions = {}): Promise<SignResult> {
    return await this.gate.shared(keyId, async () => await this.signOnce(keyId, message, request, opts))
  }

  private async signOnce (keyId: string, message: Uint8Array, request: SignedRequest | undefined, opts: SignOptions): Promise<SignResult> {
    const key = await this.deps.keys.get(keyId)
    if (key === undefined) throw new TaskError('not_found', `no key ${keyId}`)
    const { candidate, path = [] } = opts
    if (path.length > 0 && key.chainCode === undefined) throw new TaskError('bad_request', `key ${keyId} is not an HD key (made without --hd): it has no child keys`)
    let publicPackage: FrostPublic
    try {
      validateMessage(key.scheme, message)
      publicPackage = candidate?.publicPackage ?? this.publicPackage(key, path)
    } catch (err) {
      if (err instanceof CryptoInputError) throw new TaskError('bad_request', err.message)
      throw err
    }
    // A candidate's test message is fixed by the nodes themselves; it is no client's request.
    if (candidate === undefined) await this.deps.policy.check(keyId, message, request, key.chainCode === undefined ? undefined : formatHdPath(path), opts.transaction?.spend)
    const requestBytes = request === undefined ? new Uint8Array() : encodeDocument(request)
    /** Nodes' own policy refusals: the request ends with the first one's rule if it cannot be signed. */
    const denials: CommandRefusedError[] = []
    const noteDenials = async (sessionId: string, answers: FanOut<'signCommit' | 'signShare'>): Promise<void> => {
      for (const [peer, err] of answers.failed) {
        if (!(err instanceof CommandRefusedError) || err.code !== ErrorCode.POLICY_DENIED) continue
        denials.push(err)
        await this.deps.record({ kind: EventKind.POLICY_DENIED, operation: 'sign', sessionId, keyId, peerId: bytesOf([peer])[0], detail: err.message.slice(0, 512) })
      }
    }
    const roundTimeout = this.deps.signRoundTimeoutMs ?? DEFAULT_SIGN_ROUND_TIMEOUT_MS
    const retryUntil = performance.now() + RETRY_WINDOW_ROUNDS * roundTimeout
    const session = new SigningSession(
      { keyId, scheme: key.scheme, threshold: candidate?.threshold ?? key.threshold, holders: candidate?.holders ?? key.holders, publicPackage, message },
      {
        availability: peer => this.availability(peer),
        newSessionId,
        mayRetry: () => performance.now() < retryUntil,
        pooled: opts.pooled === false || candidate !== undefined ? undefined : signers => this.pools.take(keyId, signers),
        poolMiss: peer => { this.pools.drop(keyId, peer) }
      }
    )
    const timing = { round1Ms: 0, round2Ms: 0, aggregateMs: 0 }
    /** Rounds of the attempt at work: 1 when it started with pooled commitments. */
    let rounds: 1 | 2 = 2
    let transition = session.start()
    for (;;) {
      const { ended, next: step } = transition
      if (ended !== undefined) {
        await recordFailure(this.deps, 'sign', ended.sessionId, keyId, ended.failure)
        if (ended.abort.length > 0) await fanOut(this.deps, ended.abort, 'abort', () => ({ sessionId: ended.sessionId }), DEFAULT_SIGN_ROUND_TIMEOUT_MS)
      }
      // A bad answer, not a crash (the health watch sees to those): its sender is chosen last for a while.
      if (ended !== undefined) this.remember(ended.failure.proven.filter(p => p.answered === true).map(p => p.peer))
      if (step.kind === 'failed') {
        const denial = denials[0]
        if (step.spent) throw new TaskError('request_spent', `${step.reason}`, step.culprits)
        if (denial !== undefined) throw new TaskError('policy_denied', `${denial.message} (${denials.length} refusal(s) by signers; ${step.reason})`, step.culprits, [], undefined, denial.rule)
        throw new TaskError('unavailable', step.reason, step.culprits)
      }
      if (step.kind === 'done') {
        const { sessionId, signers, signature, attempts } = step
        this.deps.log.debug({ keyId, sessionId, ...timing }, 'signature aggregated')
        if (request !== undefined) await this.deps.policy.signed(keyId, request, opts.transaction?.spend)
        await this.deps.record({
          kind: EventKind.SESSION_FINISHED, operation: 'sign', sessionId, keyId, detail: `signers ${signers.join(',')}`,
          signers: bytesOf(signers), requestHash: request === undefined ? '' : toHex(requestHash(request.request))
        })
        const publicKey = Buffer.from(publicPackage.commitments[0]!).toString('hex')
        return { keyId, scheme: key.scheme, message, signature, sessionId, signers, attempts, rounds, timing: { ...timing }, publicKey, ...(key.chainCode === undefined ? {} : { path: formatHdPath(path) }) }
      }
      const { sessionId, signers } = step
      // Recorded beside the attempt's first round rather than before it: the start of a signing
      // session is worth a log line, not a wait (its end is recorded before the signature is returned).
      const firstRound = step.kind === 'roundOne' || step.pooled
      const startedEvent = firstRound
        ? this.deps.record({ kind: EventKind.SESSION_STARTED, operation: 'sign', sessionId, keyId, detail: `attempt ${step.attempt}${step.kind === 'roundOne' ? '' : ', one round'}` })
        : Promise.resolve()
      if (firstRound) {
        rounds = step.kind === 'roundOne' ? 2 : 1
        timing.round1Ms = 0
      }
      if (step.kind === 'roundOne') {
        const started = performance.now()
        // A commit is resent once on a fresh connection after a transport failure (task-io's
        // sendResending says why that is safe); a share never is (signing-session.ts).
        const [answers] = await Promise.all([fanOut(this.deps, signers, 'signCommit', () => ({ keyId, sessionId, request: requestBytes, candidate: candidate?.sessionId }), roundTimeout, undefined, true), startedEvent])
        timing.round1Ms = performance.now() - started
        await noteDenials(sessionId, answers)
        transition = session.onRoundOne(sessionId, answers)
      } else {
        const { commitments, pooled } = step
        const started = performance.now()
        const [answers] = await Promise.all([fanOut(this.deps, signers, 'signShare', () => ({ keyId, sessionId, message, commitments, request: requestBytes, pooled, candidate: candidate?.sessionId, path: key.chainCode === undefined ? undefined : formatHdPath(path), transaction: opts.transaction?.payload, input: opts.transaction?.spend.input }), roundTimeout), startedEvent])
        timing.round2Ms = performance.now() - started
        await noteDenials(sessionId, answers)
        const aggregateStart = performance.now()
        transition = session.onRoundTwo(sessionId, answers)
        timing.aggregateMs = performance.now() - aggregateStart
      }
    }
  }
}
