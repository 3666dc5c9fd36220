import { setTimeout as sleep } from 'node:timers/promises'
import { toHex } from '../crypto/bytes.js'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  BlameError, CryptoInputError, commitNonces, encodePublic, isScheme, signShare, validateMessage, validateThreshold, type SignerCommit
} from '../crypto/index.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { peerIdFromBytes } from '../protocols/ids.js'
import { agreementBytes, lengthPrefixed } from '../protocols/records.js'
import { fromString } from 'uint8arrays/from-string'
import { ErrorCode, type SignShareRequest } from '../protocols/messages.js'
import { MAX_ID_LENGTH } from './constants.js'
import { DEFAULT_KEYGEN_TIMEOUT_MS, MAX_KEYGEN_TIMEOUT_MS } from '../protocols/constants.js'
import { DkgSessionBusyError, DkgSessionRefusedError, DkgTimeoutError } from './errors.js'
import type { DkgSessions } from './dkg-sessions.js'
import type { NoncePool } from './nonce-pool.js'
import type { SignGuard } from './sign-guard.js'
import { flipBit, type NodeFaults } from '../runtime/faults.js'
import type { CommitRefusal, ShareVault, TakeRefusal } from '../state/share-vault.js'
import type { CommandContext, CommandHandlers } from '../protocols/command.js'
import type { Logger } from '../log.js'
import type { PeerId } from '@libp2p/interface'

export interface KeyHandlerDeps {
  self: PeerId
  clusterId: () => string
  vault: ShareVault
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
type LoadedShare = NonNullable<Awaited<ReturnType<ShareVault['loadShare']>>>

function checkId (what: string, id: string): void {
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
function signRequestDigest (req: Pick<SignShareRequest, 'keyId' | 'message' | 'commitments'>): string {
  return toHex(sha256(lengthPrefixed(
    fromString(SIGN_REQUEST_DOMAIN), fromString(req.keyId), req.message,
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

function refuseCrypto (err: unknown): never {
  if (err instanceof CryptoInputError) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, err.message)
  throw err
}

/**
 * The node's side of keygen and signing, as command handlers. Keygen runs the DKG on the
 * rounds channel and stores the share sealed and `pending` until the coordinator's agreement
 * step commits it. Signing is RFC 9591's two rounds with the coordinator as aggregator: commit
 * (nonces stored durably first) and sign (nonces spent durably first).
 */
export function keyCommandHandlers (deps: KeyHandlerDeps): CommandHandlers {
  const { vault, dkg, self, log, pool } = deps
  /** The key's share, or NOT_FOUND unless this node holds an active one. */
  const activeShare = async (keyId: string): Promise<LoadedShare> => {
    const share = await vault.loadShare(keyId)
    if (share === undefined || share.record.status !== 'active') throw new CommandRefusedError(ErrorCode.NOT_FOUND, `this node holds no active share of key ${keyId.slice(0, MAX_ID_LENGTH)}`)
    return share
  }
  /** RFC 9591 5.2 with nonces taken for this request; signShare checks that our own commitment is in the list. */
  const shareOf = (share: LoadedShare, nonces: SignerCommit, req: SignShareRequest): Uint8Array => {
    try {
      const sigShare = signShare(share.record.scheme, share.key, nonces, req.commitments, req.message)
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
      const timeoutMs = Math.min(req.timeoutMs > 0 ? req.timeoutMs : DEFAULT_KEYGEN_TIMEOUT_MS, MAX_KEYGEN_TIMEOUT_MS)
      await deps.connect(participants)
      if (deps.faults.delayKeygenMs !== undefined) await sleep(deps.faults.delayKeygenMs)
      let result
      try {
        result = await dkg.run({ scheme: req.scheme, clusterId: deps.clusterId(), sessionId: req.sessionId, threshold: req.threshold, participants, self: self.toString() }, timeoutMs)
      } catch (err) {
        if (err instanceof BlameError) throw new CommandRefusedError(ErrorCode.BLAME, `${err.reason}: ${err.culprits.join(', ')}`, err.culprits)
        if (err instanceof DkgTimeoutError) throw new CommandRefusedError(ErrorCode.TIMEOUT, err.message, err.missing)
        // Load and reruns are this node's own refusals, not faults of anyone: the coordinator asks again later (BUSY) or gives up (STALE).
        if (err instanceof DkgSessionBusyError) throw new CommandRefusedError(ErrorCode.BUSY, err.message)
        if (err instanceof DkgSessionRefusedError) throw new CommandRefusedError(ErrorCode.STALE, err.message)
        refuseCrypto(err)
      }
      const { outcome, round1Digests } = result
      await vault.saveShare({
        keyId: req.keyId, scheme: req.scheme, sessionId: req.sessionId, status: 'pending',
        groupPublicKey: toHex(outcome.groupPublicKey), createdAtMs: Date.now()
      }, outcome.key)
      log.info({ keyId: req.keyId, session: req.sessionId }, 'DKG finished; share stored, pending agreement')
      const agreementSignature = await deps.sign(agreementBytes(deps.clusterId(), req.keyId, req.sessionId, outcome.groupPublicKey, outcome.transcriptHash))
      return { groupPublicKey: outcome.groupPublicKey, transcriptHash: outcome.transcriptHash, publicPackage: encodePublic(outcome.key.public), round1Digests, agreementSignature }
    },

    keyCommit: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      if (deps.faults.dropKeyCommit === true) return {}
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
      const share = await activeShare(req.keyId)
      await deps.guard.commit(req.keyId, req.sessionId, req.request)
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
      const share = await activeShare(req.keyId)
      try {
        validateMessage(share.record.scheme, req.message)
      } catch (err) { refuseCrypto(err) }
      if (req.pooled) {
        // One round: our commitment in the list must be an unused one of this process's pool,
        // and it leaves the pool here, before anything else, whatever happens next.
        const own = req.commitments.find(c => c.identifier === share.key.secret.identifier)
        const nonces = own === undefined ? undefined : pool.take(req.keyId, own)
        if (nonces === undefined) throw new CommandRefusedError(ErrorCode.POOL_MISS, `no unused pooled nonce of this process has our commitment in the list for key ${req.keyId.slice(0, MAX_ID_LENGTH)}`)
        await deps.guard.share(req.keyId, req.sessionId, req.request, req.message)
        deps.faults.afterPooledNonceTaken?.()
        return { share: shareOf(share, nonces, req) }
      }
      // The policy decides first, and takes the client's request id: a command the policy refuses
      // costs no nonce, and one it allows is on record before the share leaves.
      await deps.guard.share(req.keyId, req.sessionId, req.request, req.message)
      // The first request to take the nonces binds the session to what it asked (key, message,
      // commitment list): two shares from one nonce pair over different messages or lists
      // would let the sender solve for our signing share, so any later request is refused.
      const taken = await vault.takeNonces(req.sessionId, req.keyId, signRequestDigest(req))
      if (!taken.taken) throw new CommandRefusedError(ErrorCode.STALE, takeRefusal(req.sessionId, taken.refusal))
      deps.faults.afterNonceSpent?.()
      return { share: shareOf(share, taken.nonces, req) }
    },

    abort: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      dkg.abort(req.sessionId)
      await vault.discardSessionNonces(req.sessionId)
      return {}
    }
  }
}

