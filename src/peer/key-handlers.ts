import { setTimeout as sleep } from 'node:timers/promises'
import { fromHex, toHex } from '../crypto/bytes.js'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  BlameError, childKey, CryptoInputError, commitNonces, deriveHdChild, encodePublic, hdChainCode, isScheme, parseHdPath, signShare, validateMessage, validateThreshold, type SignerCommit
} from '../crypto/index.js'
import type { Key } from '@noble/curves/abstract/frost.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { peerIdFromBytes } from '../protocols/ids.js'
import { agreementBytes, lengthPrefixed, lifecycleTestMessage } from '../protocols/records.js'
import { fromString } from 'uint8arrays/from-string'
import { ErrorCode, SignedRecord, type SignShareRequest } from '../protocols/messages.js'
import type { KeyRegistry } from '../state/key-registry.js'
import type { AdminSet } from '../protocols/policy.js'
import type { RecordBook } from '../state/record-book.js'
import { MAX_ID_LENGTH } from './constants.js'
import { DEFAULT_KEYGEN_TIMEOUT_MS, MAX_KEYGEN_TIMEOUT_MS } from '../protocols/constants.js'
import { DkgSessionBusyError, DkgSessionRefusedError, DkgTimeoutError } from './errors.js'
import type { DkgSessions } from './dkg-sessions.js'
import type { NoncePool } from './nonce-pool.js'
import type { SignGuard, TransactionAsked } from './sign-guard.js'
import { flipBit, type NodeFaults } from '../runtime/faults.js'
import type { CommitRefusal, ShareVault, TakeRefusal } from '../state/share-vault.js'
import type { CommandContext, CommandHandlers } from '../protocols/command.js'
import type { Logger } from '../log.js'
import type { PeerId } from '@libp2p/interface'

export interface KeyHandlerDeps {
  self: PeerId
  clusterId: () => string
  vault: ShareVault
  /** The synced key records: which version of a key is in force, its holders, its chain code. */
  keys: KeyRegistry
  records: RecordBook
  /** Brings the node's shares in line with the key records (KeyCustody.count): promotes, retires. */
  settle: () => Promise<void>
  /** The admins in force (PolicyBook): a quorum of them approves dealing a key to new holders. */
  admins: () => AdminSet | undefined
  dkg: DkgSessions
  /** Preprocessed nonces for one-round signing (this process's only). */
  pool: NoncePool
  /** The node's own policy check before a commitment or a share leaves. */
  guard: SignGuard
  /** Throws UNAUTHORIZED unless the command comes from the coordinator. */
  requireCoordinator: (ctx: CommandContext) => void
  /** Signs with this node's identity key (its countersignature of a key agreement). */
  sign: (data: Uint8Array) => Promise<Uint8Array>
  /** Opens direct connections to these members where there are none (bounded wait). */
  connect: (peerIds: string[]) => Promise<void>
  log: Logger
  faults: NodeFaults
}

/** A share as the vault opens it: its record and the key. */
export type LoadedShare = NonNullable<Awaited<ReturnType<ShareVault['loadShare']>>>

/** HD child keys made from a share, by key, share session and path: a child costs a few point additions per holder. */
const MAX_CHILD_KEYS = 1024

export function checkId (what: string, id: string): void {
  if (id.length === 0 || id.length > MAX_ID_LENGTH || !/^[A-Za-z0-9_-]+$/.test(id)) {
    throw new CommandRefusedError(ErrorCode.BAD_REQUEST, `${what} must be 1-${MAX_ID_LENGTH} characters of A-Z a-z 0-9 _ -`)
  }
}

/** Domain separation of the digest that binds a signing session to the request it answered. */
const SIGN_REQUEST_DOMAIN = 'mpc-wallet/sign-request/1'

/**
 * The digest (hex) of what a signShare request asks: key, message and commitment list, each
 * field length-prefixed as signed records are, so no two requests encode alike. The session id
 * is not in it: the digest is stored under the session it belongs to.
 */
function signRequestDigest (req: Pick<SignShareRequest, 'keyId' | 'message' | 'commitments' | 'candidate' | 'path'>): string {
  return toHex(sha256(lengthPrefixed(
    fromString(SIGN_REQUEST_DOMAIN), fromString(req.keyId), req.message, fromString(req.candidate ?? ''), fromString(req.path ?? ''),
    ...req.commitments.flatMap(c => [fromString(c.identifier), c.hiding, c.binding])
  )))
}

function commitRefusal (sessionId: string, refusal: CommitRefusal): string {
  switch (refusal) {
    case 'busy': return `another command for session ${sessionId} is at work on this node`
    case 'committed': return `session ${sessionId} already has a commitment on this node`
    case 'spent': return `session ${sessionId} was already signed on this node`
  }
}

function takeRefusal (sessionId: string, refusal: TakeRefusal): string {
  switch (refusal) {
    case 'busy': return `another command for session ${sessionId} is at work on this node`
    case 'signed': return `session ${sessionId} was already signed on this node`
    case 'bound': return `session ${sessionId} is bound to another message/commitment list`
    case 'none': return `no unspent nonce for session ${sessionId}: it was discarded, never committed, or committed for another key`
  }
}

/** The transaction a signShare carries, for the guard to read with the public key that signs (the key's or the child's). */
function transactionOf (req: SignShareRequest, key: Key): TransactionAsked | undefined {
  if (req.transaction === undefined) return undefined
  return { payload: req.transaction, signingPublic: key.public.commitments[0]!, ...(req.input === undefined ? {} : { input: req.input }) }
}

export function refuseCrypto (err: unknown): never {
  if (err instanceof CryptoInputError) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, err.message)
  throw err
}

/** A key session's failure as the command's refusal. */
export function refuseSessionError (err: unknown): never {
  if (err instanceof BlameError) throw new CommandRefusedError(ErrorCode.BLAME, `${err.reason}: ${err.culprits.join(', ')}`, err.culprits)
  if (err instanceof DkgTimeoutError) throw new CommandRefusedError(ErrorCode.TIMEOUT, err.message, err.missing)
  // Load and reruns are this node's own refusals, not faults of anyone: the coordinator asks again later (BUSY) or gives up (STALE).
  if (err instanceof DkgSessionBusyError) throw new CommandRefusedError(ErrorCode.BUSY, err.message)
  if (err instanceof DkgSessionRefusedError) throw new CommandRefusedError(ErrorCode.STALE, err.message)
  refuseCrypto(err)
}

/** The keygen command's deadline: the coordinator's, within the node's bounds. */
export function sessionTimeout (requestedMs: number): number {
  return Math.min(requestedMs > 0 ? requestedMs : DEFAULT_KEYGEN_TIMEOUT_MS, MAX_KEYGEN_TIMEOUT_MS)
}

/**
 * The node's side of keygen and signing, as command handlers. Keygen runs the DKG on the
 * rounds channel and stores the share sealed and `pending` until the coordinator's agreement
 * step commits it. Signing is RFC 9591's two rounds with the coordinator as aggregator: commit
 * (nonces stored durably first) and sign (nonces spent durably first).
 */
export function keyCommandHandlers (deps: KeyHandlerDeps): CommandHandlers {
  const { vault, dkg, self, log, pool } = deps
  const children = new Map<string, Key>()
  /**
   * The key's share of the version in force, or NOT_FOUND unless this node holds an active one.
   * A share older than the synced key record is of a version that was replaced: the next share
   * is promoted first if the record commits it, else the share is refused (it would only make a
   * signature fail, and its holder look at fault).
   */
  const activeShare = async (keyId: string): Promise<LoadedShare> => {
    let share = await vault.loadShare(keyId)
    const record = await deps.keys.get(keyId)
    if (share !== undefined && record !== undefined && share.record.sessionId !== record.sessionId && (share.record.version ?? 1) < record.version) {
      await deps.settle()
      share = await vault.loadShare(keyId)
      if (share !== undefined && share.record.sessionId !== record.sessionId) {
        throw new CommandRefusedError(ErrorCode.STALE, `this node's share of key ${keyId.slice(0, MAX_ID_LENGTH)} is of version ${share.record.version ?? 1}, the key is at version ${record.version}`)
      }
    }
    if (share === undefined || share.record.status !== 'active') throw new CommandRefusedError(ErrorCode.NOT_FOUND, `this node holds no active share of key ${keyId.slice(0, MAX_ID_LENGTH)}`)
    return share
  }
  /** The pending share of a lifecycle session (its test signature), or NOT_FOUND. */
  const candidateShare = async (keyId: string, sessionId: string): Promise<LoadedShare> => {
    checkId('candidate session id', sessionId)
    const share = await vault.loadNextShare(keyId, sessionId)
    if (share === undefined) throw new CommandRefusedError(ErrorCode.NOT_FOUND, `this node holds no pending share of key ${keyId.slice(0, MAX_ID_LENGTH)} from session ${sessionId}`)
    return share
  }
  /** The share that signs: a candidate's, the active one, or (an HD key) the active one's child at `path`. */
  const signingKey = async (share: LoadedShare, req: SignShareRequest): Promise<Key> => {
    if (req.candidate !== undefined) return share.key
    const record = await deps.keys.get(req.keyId)
    if (record?.chainCode === undefined) {
      if (req.path !== undefined) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, `key ${req.keyId.slice(0, MAX_ID_LENGTH)} is not an HD key (made without --hd): it has no child keys`)
      return share.key
    }
    const id = `${req.keyId}\0${share.record.sessionId}\0${req.path ?? 'm'}`
    const cached = children.get(id)
    if (cached !== undefined) return cached
    let child: Key
    try {
      const path = parseHdPath(req.path ?? 'm')
      child = childKey(share.record.scheme, share.key, deriveHdChild(share.record.scheme, fromHex(record.groupPublicKey)!, fromHex(record.chainCode)!, path))
    } catch (err) { refuseCrypto(err) }
    if (children.size >= MAX_CHILD_KEYS) children.delete(children.keys().next().value!)
    children.set(id, child)
    return child
  }
  /** RFC 9591 5.2 with nonces taken for this request; signShare checks that our own commitment is in the list. */
  const shareOf = (share: LoadedShare, key: Key, nonces: SignerCommit, req: SignShareRequest): Uint8Array => {
    try {
      const sigShare = signShare(share.record.scheme, key, nonces, req.commitments, req.message)
      return deps.faults.corruptSignatureShare === true ? flipBit(sigShare, 7) : sigShare
    } catch (err) { refuseCrypto(err) }
  }
  return {
    keygen: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      checkId('key id', req.keyId)
      checkId('session id', req.sessionId)
      if (!isScheme(req.scheme)) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, `unknown scheme "${req.scheme.slice(0, 32)}"`)
      const participants = req.participants.map(b => peerIdFromBytes(b).toString())
      try {
        validateThreshold(req.threshold, participants.length)
      } catch (err) { refuseCrypto(err) }
      if (!participants.includes(self.toString())) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, 'this node is not a participant of that keygen')
      if (await vault.shareRecord(req.keyId) !== undefined) throw new CommandRefusedError(ErrorCode.STALE, `key ${req.keyId} already exists on this node`)
      const timeoutMs = sessionTimeout(req.timeoutMs)
      await deps.connect(participants)
      if (deps.faults.delayKeygenMs !== undefined) await sleep(deps.faults.delayKeygenMs)
      let result
      try {
        result = await dkg.run({ scheme: req.scheme, clusterId: deps.clusterId(), sessionId: req.sessionId, threshold: req.threshold, participants, self: self.toString(), ...(req.hd && req.scheme === 'taproot' ? { untweaked: true } : {}) }, timeoutMs)
      } catch (err) { refuseSessionError(err) }
      const { outcome, round1Digests } = result
      await vault.saveShare({
        keyId: req.keyId, scheme: req.scheme, sessionId: req.sessionId, status: 'pending',
        groupPublicKey: toHex(outcome.groupPublicKey), createdAtMs: Date.now(), version: 1
      }, outcome.key)
      log.info({ keyId: req.keyId, session: req.sessionId }, 'DKG finished; share stored, pending agreement')
      // An HD root's chain code is the transcript's (hdChainCode): each holder computes it and signs it.
      const chainCode = req.hd === true ? hdChainCode(outcome.transcriptHash) : undefined
      const agreementSignature = await deps.sign(agreementBytes(deps.clusterId(), req.keyId, req.sessionId, outcome.groupPublicKey, outcome.transcriptHash, chainCode))
      return { groupPublicKey: outcome.groupPublicKey, transcriptHash: outcome.transcriptHash, publicPackage: encodePublic(outcome.key.public), round1Digests, agreementSignature }
    },

    keyCommit: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      if (deps.faults.dropKeyCommit === true) return {}
      if (req.record !== undefined) {
        // A lifecycle commit: the node believes the record, not the command. Checked as any synced
        // record (coordinator's signature, every new holder's countersignature), applied, and the
        // shares follow it: the pending share promoted, or, no longer a holder, the old one erased.
        let signed: SignedRecord
        try {
          signed = SignedRecord.decode(req.record)
        } catch { throw new CommandRefusedError(ErrorCode.BAD_REQUEST, 'the key record does not decode') }
        if (signed.id !== `key:${req.keyId}`) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, `the record is not key ${req.keyId.slice(0, MAX_ID_LENGTH)}'s`)
        try {
          await deps.records.apply(await deps.records.verify(signed))
        } catch (err) { throw new CommandRefusedError(ErrorCode.BAD_REQUEST, `the key record does not verify: ${(err as Error).message}`) }
        pool.discard(req.keyId)
        await deps.settle()
        return {}
      }
      if (!req.commit) await vault.discardNextShare(req.keyId, req.sessionId)
      const record = await vault.shareRecord(req.keyId)
      if (record === undefined || record.sessionId !== req.sessionId) {
        if (!req.commit) return {}
        throw new CommandRefusedError(ErrorCode.NOT_FOUND, `no share of key ${req.keyId.slice(0, MAX_ID_LENGTH)} from session ${req.sessionId.slice(0, MAX_ID_LENGTH)}`)
      }
      if (req.commit) await vault.setStatus(req.keyId, 'active')
      else if (record.status === 'pending') {
        pool.discard(req.keyId)
        await vault.discardShare(req.keyId)
      }
      return {}
    },

    noncePool: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      const share = await activeShare(req.keyId)
      // RFC 9591 5.1: nonces and commitments made ahead of the signing they serve.
      return { epoch: pool.epoch, commitments: await pool.fill(req.keyId, share.record.scheme, share.key.secret) }
    },

    signCommit: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      checkId('session id', req.sessionId)
      const candidate = req.candidate !== undefined
      const share = req.candidate !== undefined ? await candidateShare(req.keyId, req.candidate) : await activeShare(req.keyId)
      // A candidate signs only its session's fixed test message (checked at the share): no client request.
      if (!candidate) await deps.guard.commit(req.keyId, req.sessionId, req.request)
      // RFC 9591 5.1: fresh nonces, stored before their commitments leave this node. The vault
      // refuses a session that has nonces already, is spent, or is being committed or signed.
      const commit = commitNonces(share.record.scheme, share.key.secret)
      const saved = await vault.saveNonces(req.sessionId, req.keyId, commit)
      if (!saved.saved) throw new CommandRefusedError(ErrorCode.STALE, commitRefusal(req.sessionId, saved.refusal))
      if (deps.faults.invalidCommitment === true) return { commitment: { ...commit.commitments, hiding: new Uint8Array(commit.commitments.hiding.length).fill(0xff) } }
      return { commitment: commit.commitments }
    },

    signShare: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      checkId('session id', req.sessionId)
      const candidate = req.candidate !== undefined
      const share = req.candidate !== undefined ? await candidateShare(req.keyId, req.candidate) : await activeShare(req.keyId)
      try {
        validateMessage(share.record.scheme, req.message)
      } catch (err) { refuseCrypto(err) }
      if (req.candidate !== undefined && toHex(req.message) !== toHex(lifecycleTestMessage(deps.clusterId(), req.keyId, req.candidate, encodePublic(share.key.public)))) {
        throw new CommandRefusedError(ErrorCode.BAD_REQUEST, `a pending share signs only its session's test message (key ${req.keyId.slice(0, MAX_ID_LENGTH)}, session ${req.candidate})`)
      }
      const key = await signingKey(share, req)
      if (req.pooled && !candidate) {
        // One round: our commitment in the list must be an unused one of this process's pool,
        // and it leaves the pool here, before anything else, whatever happens next.
        const own = req.commitments.find(c => c.identifier === share.key.secret.identifier)
        const nonces = own === undefined ? undefined : pool.take(req.keyId, own)
        if (nonces === undefined) throw new CommandRefusedError(ErrorCode.POOL_MISS, `no unused pooled nonce of this process has our commitment in the list for key ${req.keyId.slice(0, MAX_ID_LENGTH)}`)
        await deps.guard.share(req.keyId, req.sessionId, req.request, req.message, req.path, transactionOf(req, key))
        deps.faults.afterPooledNonceTaken?.()
        return { share: shareOf(share, key, nonces, req) }
      }
      // The policy decides first, and takes the client's request id: a command the policy refuses
      // costs no nonce, and one it allows is on record before the share leaves.
      if (!candidate) await deps.guard.share(req.keyId, req.sessionId, req.request, req.message, req.path, transactionOf(req, key))
      // The first request to take the nonces binds the session to what it asked (key, message,
      // commitment list): two shares from one nonce pair over different messages or lists
      // would let the sender solve for our signing share, so any later request is refused.
      const taken = await vault.takeNonces(req.sessionId, req.keyId, signRequestDigest(req))
      if (!taken.taken) throw new CommandRefusedError(ErrorCode.STALE, takeRefusal(req.sessionId, taken.refusal))
      deps.faults.afterNonceSpent?.()
      return { share: shareOf(share, key, taken.nonces, req) }
    },

    abort: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      dkg.abort(req.sessionId)
      await vault.discardSessionNonces(req.sessionId)
      return {}
    }
  }
}

