import { fromHex, toHex } from '../crypto/bytes.js'
import { decodePublic, encodePublic, validateThreshold, type ReshareMode } from '../crypto/index.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { peerIdFromBytes } from '../protocols/ids.js'
import { ErrorCode } from '../protocols/messages.js'
import { agreementBytes } from '../protocols/records.js'
import { MAX_ID_LENGTH } from './constants.js'
import { checkId, refuseCrypto, refuseSessionError, sessionTimeout, type KeyHandlerDeps } from './key-handlers.js'
import type { CommandHandlers } from '../protocols/command.js'

const MODES: readonly ReshareMode[] = ['refresh', 'reshare']

/**
 * The node's side of a key's lifecycle (refresh, reshare, repair) as a command handler: it runs
 * the session on the rounds channel (src/crypto/reshare.ts) against the key record of the version
 * the coordinator names, as this node has it synced, never against what the command says of the
 * key; a new share is stored `pending` beside the active one, which signs on until the record of
 * the new version commits it (keyCommit, or the synced record: KeyCustody). The answer is the
 * keygen's: what this node derived, countersigned, for the agreement step.
 */
export function lifecycleCommandHandlers (deps: KeyHandlerDeps): CommandHandlers {
  const { vault, dkg, self, log } = deps
  return {
    reshare: async (req, ctx) => {
      deps.requireCoordinator(ctx)
      checkId('key id', req.keyId)
      checkId('session id', req.sessionId)
      const mode = MODES.find(m => m === req.mode)
      if (mode === undefined) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, `mode must be one of ${MODES.join(', ')}`)
      const record = await deps.keys.get(req.keyId)
      const keyName = req.keyId.slice(0, MAX_ID_LENGTH)
      if (record === undefined) throw new CommandRefusedError(ErrorCode.STALE, `this node has no record of key ${keyName} (yet)`)
      if (record.version !== req.keyVersion) throw new CommandRefusedError(ErrorCode.STALE, `this node has key ${keyName} at version ${record.version}, not ${req.keyVersion}`)
      const dealers = req.dealers.map(b => peerIdFromBytes(b).toString())
      const newHolders = req.newHolders.map(b => peerIdFromBytes(b).toString())
      try {
        validateThreshold(req.newThreshold, newHolders.length)
      } catch (err) { refuseCrypto(err) }
      const me = self.toString()
      const dealing = dealers.includes(me)
      if (!dealing && !newHolders.includes(me)) throw new CommandRefusedError(ErrorCode.BAD_REQUEST, 'this node takes no part in that session')
      let ownKey
      if (dealing) {
        const share = await vault.loadShare(req.keyId)
        if (share?.record.status !== 'active' || share.record.sessionId !== record.sessionId) {
          throw new CommandRefusedError(ErrorCode.STALE, `this node holds no active share of key ${keyName} at version ${record.version}`)
        }
        ownKey = share.key
      }
      const timeoutMs = sessionTimeout(req.timeoutMs)
      await deps.connect([...new Set([...dealers, ...newHolders])])
      let outcome
      try {
        outcome = await dkg.runReshare({
          scheme: record.scheme, clusterId: deps.clusterId(), sessionId: req.sessionId, mode,
          oldPublic: decodePublic(fromHex(record.publicPackage)!), oldHolders: record.holders, dealers, newHolders, newThreshold: req.newThreshold, self: me, ownKey
        }, timeoutMs)
      } catch (err) { refuseSessionError(err) }
      if (outcome.key !== undefined) {
        await vault.saveNextShare({
          keyId: req.keyId, scheme: record.scheme, sessionId: req.sessionId, status: 'pending',
          groupPublicKey: toHex(outcome.groupPublicKey), createdAtMs: Date.now(), version: record.version + 1
        }, outcome.key)
        log.info({ keyId: req.keyId, session: req.sessionId, mode }, `${mode} finished; the next share is stored, pending agreement`)
      }
      deps.faults.afterNextShareSaved?.()
      const agreementSignature = await deps.sign(agreementBytes(deps.clusterId(), req.keyId, req.sessionId, outcome.groupPublicKey, outcome.transcriptHash))
      return { groupPublicKey: outcome.groupPublicKey, transcriptHash: outcome.transcriptHash, publicPackage: encodePublic(outcome.public), round1Digests: outcome.messageDigests, agreementSignature }
    }
  }
}
