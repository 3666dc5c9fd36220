import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { KeyView } from '../src/coordinator/requests.js'
import type { KeyChangeApprovalSet, LifecycleResult } from '../src/coordinator/tasks.js'
import { DEFAULT_KEY_CHANGE_TTL_MS, keyChangeBytes, keyChangeOf } from '../src/protocols/key-change.js'
import { openKeyFile } from '../src/protocols/key-file.js'
import type { LocalCluster } from './processes.js'
import { externalVerifierName, verifyBip340External, verifyEd25519External } from './verify.js'

/** One lifecycle operation as the simulation's JSON lists it: anyone can check `signature` over `message` under `publicKey`. */
export interface LifecycleEntry {
  op: 'refresh' | 'reshare' | 'repair' | 'derive'
  keyId: string
  version: number
  groupPublicKey: string
  /** The key the signature verifies under (Taproot: x-only), and the path of a derived child. */
  publicKey: string
  path?: string
  signature: string
  message: string
  verifiedBy: string
  ms: number
  detail: string
}

type Say = (line: string) => void

/** A signature over `messageHex` under `publicKeyHex` (Ed25519: 32 bytes; Taproot: x-only or compressed), checked outside our code. */
function verified (scheme: string, publicKeyHex: string, messageHex: string, signatureHex: string): boolean {
  if (scheme === 'ed25519') return verifyEd25519External(publicKeyHex, messageHex, signatureHex)
  return verifyBip340External(publicKeyHex.length === 66 ? publicKeyHex.slice(2) : publicKeyHex, messageHex, signatureHex)
}

/**
 * The lifecycle part of the simulation (issue 14): an HD Taproot key whose child signs, reshared
 * to a new committee at a higher threshold (with the admin's approval, as the CLI signs it) and
 * signing again through the same child; a refresh of the Taproot key and a repair of a holder of
 * the Ed25519 key in its own place. Every new version's test signature, and every child's
 * signature, is verified here with OpenSSL or libsecp256k1.
 */
export async function simulateLifecycle (cluster: LocalCluster, keys: KeyView[], threshold: number, parties: number, say: Say): Promise<LifecycleEntry[]> {
  const { api } = cluster
  const entries: LifecycleEntry[] = []
  const keyPassphrase = (await readFile(cluster.keyPassphraseFile, 'utf8')).trim()
  const admin = await openKeyFile(await readFile(cluster.adminKeyFile, 'utf8'), keyPassphrase)
  const { clusterId } = await api.cluster()
  const approve = (key: KeyView, holders: string[], t: number): KeyChangeApprovalSet => {
    const expiresAtMs = Date.now() + DEFAULT_KEY_CHANGE_TTL_MS
    const bytes = keyChangeBytes(keyChangeOf({ clusterId, keyId: key.id, fromVersion: key.version, holders, threshold: t, expiresAtMs }))
    return { expiresAtMs, approvals: [{ publicKey: admin.publicKey, signature: admin.sign(bytes) }] }
  }
  const record = (result: LifecycleResult, key: KeyView, ms: number, detail: string): void => {
    const publicKey = key.scheme === 'taproot' ? result.groupPublicKey.slice(2) : result.groupPublicKey
    if (!verified(key.scheme, result.groupPublicKey, result.message, result.signature)) throw new Error(`the test signature of ${result.op} ${key.id} does not verify`)
    entries.push({ op: result.op, keyId: key.id, version: result.version, groupPublicKey: result.groupPublicKey, publicKey, signature: result.signature, message: result.message, verifiedBy: externalVerifierName(key.scheme), ms, detail })
    say(`${result.op} ${key.scheme} ${key.id} → version ${result.version}, ${result.threshold}-of-${result.holders.length}, group key unchanged; test signature by ${result.signers.length} new holders verified by ${externalVerifierName(key.scheme)} (${ms} ms: session ${result.timing.sessionMs}, test signature ${result.timing.testSignMs}, commit ${result.timing.commitMs})`)
  }
  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const started = Date.now()
    const result = await work()
    return [result, Date.now() - started]
  }
  const signChild = async (key: KeyView, path: string, label: string): Promise<void> => {
    const child = await api.derive(key.id, path, 'regtest')
    const message = createHash('sha256').update(`mpc-wallet simulation ${label} ${Date.now()}`).digest('hex')
    const [result, ms] = await timed(async () => await cluster.sign(key.id, message, { path }))
    if (result.publicKey !== child.publicKey || !verified(key.scheme, child.xOnlyPublicKey ?? child.publicKey, message, result.signature)) throw new Error(`the child ${path} signature of ${key.id} does not verify`)
    const current = await api.key(key.id, 'regtest')
    entries.push({ op: 'derive', keyId: key.id, version: current.version, groupPublicKey: current.groupPublicKey, publicKey: child.xOnlyPublicKey ?? child.publicKey, path, signature: result.signature, message, verifiedBy: externalVerifierName(key.scheme), ms, detail: `${label}; address ${child.address ?? ''}` })
    say(`signed with child ${path} of HD key ${key.id} (address ${child.address ?? ''}, root xpub ${child.xpub ?? ''}) in ${ms} ms; verified by ${externalVerifierName(key.scheme)}`)
  }

  // An HD root on all but one member, then a new committee: one holder out, the last member in, t + 1 where there is room.
  const everyone = (await api.cluster()).members.map(m => m.peerId)
  const hdParties = Math.min(parties, everyone.length - 1)
  // Below the last member there is room for t < n at 4 members and up; at 3, a 2-of-2 key moves to another 2-of-2.
  const hdThreshold = Math.max(2, Math.min(threshold, hdParties - 1))
  const [hd, keygenMs] = await timed(async () => await api.keygen({ scheme: 'taproot', threshold: hdThreshold, parties: hdParties, members: everyone.slice(0, hdParties), network: 'regtest', hd: true }))
  say(`keygen taproot --hd ${hdThreshold}-of-${hdParties}: key ${hd.id}, root chain code ${hd.chainCode ?? ''}, address of child m ${hd.address ?? ''} (${keygenMs} ms)`)
  await signChild(hd, 'm/0/5', 'before the reshare')
  const leaving = hd.holders[0]!.peerId
  const newHolders = [...hd.holders.map(h => h.peerId).filter(h => h !== leaving), everyone[hdParties]!]
  const raised = Math.min(hdThreshold + 1, newHolders.length)
  const [reshared, reshareMs] = await timed(async () => await api.reshare(hd.id, { threshold: raised, members: newHolders, approval: approve(hd, newHolders, raised) }))
  record(reshared, hd, reshareMs, `${hdThreshold}-of-${hdParties} → ${raised}-of-${newHolders.length}: ${leaving} left, ${everyone[hdParties]!} joined`)
  await signChild(hd, 'm/0/5', 'after the reshare')

  const [taproot, ed25519] = [keys.find(k => k.scheme === 'taproot')!, keys.find(k => k.scheme === 'ed25519')!]
  const [refreshed, refreshMs] = await timed(async () => await api.refresh(taproot.id))
  record(refreshed, taproot, refreshMs, `${taproot.threshold}-of-${taproot.parties}, same holders`)
  const lost = ed25519.holders.at(-1)!.peerId
  const [repaired, repairMs] = await timed(async () => await api.repair(ed25519.id, lost))
  record(repaired, ed25519, repairMs, `${lost} dealt a new share in its own place by ${ed25519.threshold} others`)
  return entries
}
