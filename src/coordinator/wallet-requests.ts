/**
 * The wallet routes' bodies (issue 15), checked field by field: a 400 names the field. Amounts
 * are whole satoshis or lamports, as JSON numbers or decimal strings (lamports pass 2^53).
 */
import { formatHdPath } from '../crypto/index.js'
import type { BitcoinNetwork } from '../crypto/suites.js'
import { ApiError } from '../protocols/errors.js'
import type { SignedRequest } from '../protocols/policy.js'
import type { Utxo } from '../wallet/bitcoin.js'
import { wholeAmount } from '../wallet/spend.js'
import type { BitcoinSendParams, BitcoinSigned, SolanaSigned, SolanaTransferParams } from './wallet-task.js'
import { onlyFields, parseNetwork, parsePath, parseRequestField } from './requests.js'

function bad (message: string): never {
  throw new ApiError(400, 'bad_request', message)
}

const TXID = /^[0-9a-fA-F]{64}$/
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/** A whole amount (wholeAmount: a JSON number or a decimal string, 0 to 2^64-1). */
export function parseAmount (value: unknown, name: string): bigint {
  return wholeAmount(value) ?? bad(`${name} must be a whole number (satoshis or lamports), as a number or a decimal string`)
}

/** A coin as `TXID:VOUT:SATS` (the CLI's form) or `{ txid, vout, amount }`. */
export function parseUtxo (value: unknown, name: string): Utxo {
  if (typeof value === 'string') {
    const [txid, vout, amount, ...rest] = value.split(':')
    if (rest.length > 0 || amount === undefined) bad(`${name} must be TXID:VOUT:SATS`)
    return parseUtxo({ txid, vout: /^[0-9]{1,10}$/.test(vout ?? '') ? Number(vout) : vout, amount }, name)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(`${name} must be TXID:VOUT:SATS or { txid, vout, amount }`)
  const obj = value as Record<string, unknown>
  const unknown = Object.keys(obj).filter(k => !['txid', 'vout', 'amount'].includes(k))
  if (unknown.length > 0) bad(`${name} has unknown field(s): ${unknown.join(', ')}`)
  if (typeof obj.txid !== 'string' || !TXID.test(obj.txid)) bad(`${name}.txid must be 64 hex characters`)
  if (typeof obj.vout !== 'number' || !Number.isSafeInteger(obj.vout) || obj.vout < 0 || obj.vout > 0xffffffff) bad(`${name}.vout must be an output index (0 to 4294967295)`)
  return { txid: obj.txid.toLowerCase(), vout: obj.vout, amount: parseAmount(obj.amount, `${name}.amount`) }
}

function path (value: unknown): string {
  return value === undefined ? 'm' : formatHdPath(parsePath(value))
}

function text (value: unknown, name: string, max = 128): string {
  if (typeof value !== 'string' || value === '' || value.length > max) bad(`${name} must be a string of 1-${max} characters`)
  return value
}

export interface WalletBody { request: SignedRequest | undefined, path: string, build: boolean }

function common (body: Record<string, unknown>): WalletBody {
  if (body.build !== undefined && typeof body.build !== 'boolean') bad('build must be true or false')
  return { request: parseRequestField(body.request), path: path(body.path), build: body.build === true }
}

/** `POST /v1/keys/:id/bitcoin/psbt`: `{ psbt: base64 (or hex), network?, request, path? }`. */
export function parsePsbtBody (body: Record<string, unknown> = {}): { psbt: Uint8Array, network: BitcoinNetwork } & WalletBody {
  onlyFields(body, ['psbt', 'network', 'request', 'path'])
  if (typeof body.psbt !== 'string' || body.psbt === '') bad('psbt must be the PSBT as base64 (or hex)')
  const psbt = /^[0-9a-fA-F]+$/.test(body.psbt) && body.psbt.length % 2 === 0
    ? Buffer.from(body.psbt, 'hex')
    : BASE64.test(body.psbt) ? Buffer.from(body.psbt, 'base64') : bad('psbt must be the PSBT as base64 (or hex)')
  return { psbt: new Uint8Array(psbt), network: parseNetwork(body.network), ...common(body), build: false }
}

/** `POST /v1/keys/:id/bitcoin/send`: `{ network?, utxos: [TXID:VOUT:SATS…], to, amount, feeRate, change?, request, path?, build? }`. */
export function parseBitcoinSendBody (body: Record<string, unknown> = {}): { params: BitcoinSendParams } & WalletBody {
  onlyFields(body, ['network', 'utxos', 'to', 'amount', 'feeRate', 'change', 'request', 'path', 'build'])
  if (!Array.isArray(body.utxos) || body.utxos.length === 0) bad('utxos must list the coins to spend (TXID:VOUT:SATS or { txid, vout, amount })')
  if (body.utxos.length > 1000) bad('utxos lists more than 1000 coins')
  if (typeof body.feeRate !== 'number' || !Number.isFinite(body.feeRate)) bad('feeRate must be a number of sat/vB')
  const params: BitcoinSendParams = {
    network: parseNetwork(body.network),
    utxos: body.utxos.map((u, i) => parseUtxo(u, `utxos[${i}]`)),
    to: text(body.to, 'to'),
    amount: parseAmount(body.amount, 'amount'),
    feeRate: body.feeRate,
    ...(body.change === undefined ? {} : { change: text(body.change, 'change') })
  }
  return { params, ...common(body) }
}

/** `POST /v1/keys/:id/solana/transfer`: `{ to, lamports, blockhash, request, path?, build? }`. */
export function parseSolanaTransferBody (body: Record<string, unknown> = {}): { params: SolanaTransferParams } & WalletBody {
  onlyFields(body, ['to', 'lamports', 'blockhash', 'request', 'path', 'build'])
  return { params: { to: text(body.to, 'to', 64), lamports: parseAmount(body.lamports, 'lamports'), blockhash: text(body.blockhash, 'blockhash', 64) }, ...common(body) }
}

/** An unsigned transaction for a client to sign a request over (`build: true`). */
export function unsignedView (chain: 'bitcoin' | 'solana', payload: Uint8Array, from: string, network?: BitcoinNetwork): Record<string, unknown> {
  return {
    chain,
    ...(network === undefined ? {} : { network }),
    from,
    [chain === 'bitcoin' ? 'psbt' : 'message']: Buffer.from(payload).toString('base64'),
    transaction: chain === 'bitcoin' ? { chain, network } : { chain }
  }
}

const outputsView = (outputs: BitcoinSigned['outputs']): Array<{ to: string, amount: string, ours: boolean }> => outputs.map(o => ({ to: o.to, amount: o.amount.toString(), ours: o.ours }))

export function bitcoinView (t: BitcoinSigned): Record<string, unknown> {
  return {
    chain: 'bitcoin', keyId: t.keyId, path: t.path, network: t.network, from: t.from, txid: t.txid, hex: t.hex, vsize: t.vsize, fee: t.fee.toString(),
    amount: t.amount.toString(), outputs: outputsView(t.outputs), prevouts: t.prevouts.map(p => ({ script: p.script, amount: p.amount.toString() })), signatures: t.signatures, ms: t.ms
  }
}

export function solanaView (t: SolanaSigned): Record<string, unknown> {
  return {
    chain: 'solana', keyId: t.keyId, path: t.path, from: t.from, to: t.to, lamports: t.lamports.toString(), blockhash: t.blockhash, base64: t.base64, signature: t.signature,
    signatures: t.signatures, ms: t.ms
  }
}
