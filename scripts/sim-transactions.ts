import { randomBytes } from 'node:crypto'
import { schnorr } from '@noble/curves/secp256k1.js'
import { base58 } from '@scure/base'
import { address, lamports } from '@solana/kit'
import { LiteSVM, TransactionMetadata } from 'litesvm'
import type { KeyView } from '../src/coordinator/requests.js'
import { taprootAddress } from '../src/wallet/bitcoin.js'
import { bitcoreCheck, fromWire } from './chain-checks.js'
import type { LocalCluster } from './processes.js'

/** A signed transaction as the simulation's JSON lists it, so anyone can check it with their own tools. */
export type TransactionEntry = {
  chain: 'bitcoin'
  network: 'regtest'
  keyId: string
  hex: string
  txid: string
  prevouts: Array<{ script: string, amount: number }>
  to: string
  amount: number
  fee: number
  verifiedBy: string
  /** from the request to the signed transaction, at the client: build, the client's check of it, every signature, finalising */
  ms: number
} | {
  chain: 'solana'
  keyId: string
  base64: string
  signature: string
  from: string
  to: string
  lamports: number
  blockhash: string
  verifiedBy: string
  ms: number
}

type Say = (line: string) => void

const FUNDING_SATS = 100_000n
const SEND_SATS = 40_000n
const SEND_LAMPORTS = 1_500_000_000n

/**
 * The wallet part of the simulation (issue 15): the Taproot key spends a regtest coin it is given
 * (a funding outpoint invented here: nothing checks that it exists) to a fresh address with change
 * back to itself, and the Ed25519 key sends SOL. Both are built by the coordinator, checked by the
 * client, read again by every holder, and then checked by the chains' own rules: bitcore-lib's
 * script interpreter runs the Bitcoin transaction's witness against its prevouts, and LiteSVM
 * (signature verification on) executes the Solana transfer from an airdropped balance.
 */
export async function simulateTransactions (cluster: LocalCluster, keys: KeyView[], say: Say): Promise<TransactionEntry[]> {
  const { api, client } = cluster
  const [taproot, ed25519] = [keys.find(k => k.scheme === 'taproot')!, keys.find(k => k.scheme === 'ed25519')!]

  const to = taprootAddress(schnorr.getPublicKey(schnorr.utils.randomSecretKey()), 'regtest')
  const utxos = [{ txid: randomBytes(32).toString('hex'), vout: 0, amount: FUNDING_SATS }]
  let started = Date.now()
  const btc = await api.bitcoinSendAs(client, taproot.id, { network: 'regtest', utxos, to, amount: SEND_SATS, feeRate: 2 })
  const btcMs = Date.now() - started
  const prevouts = btc.prevouts.map(p => ({ script: Buffer.from(p.script, 'hex'), amount: BigInt(p.amount) }))
  const verdicts = bitcoreCheck(btc.hex, prevouts)
  if (verdicts.some(v => v !== '')) throw new Error(`bitcore's interpreter refuses the simulation's Bitcoin spend: ${verdicts.join(', ')}`)
  say(`bitcoin (regtest): key ${taproot.id} spent ${utxos[0]!.txid}:0 (${FUNDING_SATS} sats) — ${SEND_SATS} sats to ${to}, fee ${btc.fee} sats, ${btc.vsize} vB; txid ${btc.txid}; every holder computed the sighash itself; accepted by bitcore-lib's script interpreter (${btcMs} ms from request to signed transaction)`)

  const svm = new LiteSVM().withSigverify(true).withBlockhashCheck(true)
  if (!(svm.airdrop(address(ed25519.address!), lamports(10n * SEND_LAMPORTS)) instanceof TransactionMetadata)) throw new Error('LiteSVM refused the airdrop')
  const recipient = address(base58.encode(randomBytes(32)))
  const blockhash = svm.latestBlockhash()
  started = Date.now()
  const sol = await api.solanaTransferAs(client, ed25519.id, { to: recipient, lamports: SEND_LAMPORTS, blockhash })
  const solMs = Date.now() - started
  const executed = svm.sendTransaction(fromWire(Uint8Array.from(Buffer.from(sol.base64, 'base64'))))
  if (!(executed instanceof TransactionMetadata) || svm.getBalance(recipient) !== SEND_LAMPORTS) throw new Error(`LiteSVM did not execute the simulation's Solana transfer: ${String(executed.toString())}`)
  say(`solana: key ${ed25519.id} (${sol.from}) sent ${SEND_LAMPORTS} lamports to ${recipient}; signature ${sol.signature}; executed by LiteSVM with signature verification on, the lamports arrived (${solMs} ms from request to signed transaction)`)

  return [
    { chain: 'bitcoin', network: 'regtest', keyId: taproot.id, hex: btc.hex, txid: btc.txid, prevouts: btc.prevouts.map(p => ({ script: p.script, amount: Number(p.amount) })), to, amount: Number(SEND_SATS), fee: Number(btc.fee), verifiedBy: 'bitcore-lib Interpreter (taproot, witness, p2sh flags)', ms: btcMs },
    { chain: 'solana', keyId: ed25519.id, base64: sol.base64, signature: sol.signature, from: sol.from, to: recipient, lamports: Number(SEND_LAMPORTS), blockhash, verifiedBy: 'LiteSVM (sigverify, blockhash check)', ms: solMs }
  ]
}
