import { setTimeout as sleep } from 'node:timers/promises'
import { fromHex, toHex } from '../crypto/bytes.js'
import type { KeyRecord } from '../state/key-registry.js'
import { decodePublic, encodePublic, validateThreshold, type ReshareMode } from '../crypto/index.js'
import { CommandRefusedError } from '../protocols/errors.js'
import { peerIdFromBytes } from '../protocols/ids.js'
import { ErrorCode } from '../protocols/messages.js'
import { agreementBytes } from '../protocols/records.js'
import { decodeApprovals, keyChangeOf, newcomers, verifyKeyChange } from '../protocols/key-change.js'
import { PolicyError } from '../protocols/policy.js'
import { MAX_ID_LENGTH } from './constants.js'
import { checkId, refuseCrypto, refuseSessionError, sessionTimeout, type KeyHandlerDeps } from './key-handlers.js'
import type { CommandHandlers } from '../protocols/command.js'

const MODES: readonly ReshareMode[] = ['refresh', 'reshare']
/** A new holder may not have the key's record of that version yet (state sync runs each heartbeat): it waits this long for it. */
const RECORD_WAIT_MS = 3_000

/** The key's synced record, once it is at `version` (or later), or after RECORD_WAIT_MS whatever is there. */
async function syncedRecord (deps: KeyHandlerDeps, keyId: string, version: number): Promise<KeyRecord | undefined> {
  const until = Date.now() + RECORD_WAIT_MS
  for (;;) {
    const record = await deps.keys.get(keyId)
    if ((record !== undefined && record.version >= version) || Date.now() >= until) return record
    await sleep(100)
  }
}

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
      const record = await syncedRecord(deps, req.keyId, req.keyVersion)
      const keyName = req.keyId.slice(0, MAX_ID_LENGTH)
      if (record === undefined) throw new CommandRefusedError(ErrorCode.STALE, `this node has no record of key ${keyName} (yet)`)
      if (record.version !== req.keyVersion) throw new CommandRefusedError(ErrorCode.STALE, `this node has key ${keyName} at version ${record.version}, not ${req.keyVersion}`)
      const dealers = req.dealers.map(b => peerIdFromBytes(b).toString())
      const newHolders = req.newHolders.map(b => peerIdFromBytes(b).toString())
      try {
        validateThreshold(req.newThreshold, newHolders.length)
      } catch (err) { refuseCrypto(err) }
      // A peer that does not hold the key gets it only with the admins' approval of exactly this change.
      const added = newcomers(record.holders, newHolders)
      if (added.length > 0) {
        try {
          const change = keyChangeOf({ clusterId: deps.clusterId(), keyId: req.keyId, fromVersion: record.version, holders: newHolders, threshold: req.newThreshold, expiresAtMs: req.approvalExpiresAtMs ?? 0 })
          verifyKeyChange(change, req.approvals === undefined ? [] : decodeApprovals(req.approvals), deps.admins(), Date.now())
        } catch (err) {
          if (err instanceof PolicyError) throw new CommandRefusedError(ErrorCode.POLICY_DENIED, `${err.message} (new holders: ${added.join(', ')})`, [], err.rule)
          throw err
        }
      }
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
      // The key's chain code (an HD key) goes on unchanged: this node signs the one its synced record has.
      const chainCode = record.chainCode === undefined ? undefined : fromHex(record.chainCode)
      const agreementSignature = await deps.sign(agreementBytes(deps.clusterId(), req.keyId, req.sessionId, outcome.groupPublicKey, outcome.transcriptHash, chainCode))
      return { groupPublicKey: outcome.groupPublicKey, transcriptHash: outcome.transcriptHash, publicPackage: encodePublic(outcome.public), round1Digests: outcome.messageDigests, agreementSignature }
    }
  }
}
