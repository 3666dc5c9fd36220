/**
 * What a transaction the cluster is asked to sign spends, read from its own bytes: the one form
 * both the coordinator (to choose what to ask) and every holder (to check what it is asked)
 * compute. A Bitcoin PSBT is signed one input at a time, each input's BIP-341 sighash computed
 * from the PSBT; a Solana transfer's message is itself what is signed. The policy's transaction
 * rules (allowed destinations, amount per transaction, volume per day) judge `amount` and
 * `outputs`. Pure: no network, no disk.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { BITCOIN_HRP, type BitcoinNetwork } from '../crypto/suites.js'
import { decodePsbt, taprootSighashes, type DecodedPsbt } from './bitcoin.js'
import { WalletInputError } from './errors.js'
import { decodeTransfer, solanaAddress } from './solana.js'

/** The chain (and, for Bitcoin, the network) of a transaction a client asks to sign. */
export type TransactionRef = { chain: 'bitcoin', network: BitcoinNetwork } | { chain: 'solana' }

/**
 * The largest transaction a signing command carries (bytes): it travels whole to every signer in
 * a command (at most 64 KiB). A PSBT of a few hundred inputs fits; a larger one is refused before
 * any node is asked, with the advice to split it.
 */
export const MAX_TRANSACTION_BYTES = 48 * 1024

export interface SpendOutput {
  /** the address paid (a script's hex where it has no address: OP_RETURN) */
  to: string
  /** satoshis or lamports */
  amount: bigint
  /** pays back to the signing key (change) */
  ours: boolean
}

export interface Spend {
  ref: TransactionRef
  /** what the key signs: the sighash of `input`, or the Solana message itself */
  message: Uint8Array
  /**
   * the value that leaves the key (satoshis or lamports): Bitcoin, its coins spent less its change
   * (the outputs to others and the fee, but no foreign input's share); Solana, the lamports sent
   * (the runtime's fee is not in the message)
   */
  amount: bigint
  outputs: SpendOutput[]
  /** the network fee (Bitcoin; Solana's is charged by the runtime and not in the message) */
  fee?: bigint
}

/** The most an amount can be: a u64, as Solana's lamports are (Bitcoin's satoshis stay far below). */
export const MAX_AMOUNT = (1n << 64n) - 1n

/** A whole amount of satoshis or lamports, given as a JSON number or a decimal string, 0 to MAX_AMOUNT; undefined when it is not one. */
export function wholeAmount (value: unknown): bigint | undefined {
  const digits = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value
  if (typeof digits !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(digits) || BigInt(digits) > MAX_AMOUNT) return undefined
  return BigInt(digits)
}

export function isBitcoinNetwork (value: unknown): value is BitcoinNetwork {
  return typeof value === 'string' && Object.hasOwn(BITCOIN_HRP, value)
}

/**
 * Reads `payload` (a PSBT, or a Solana transfer message) as a spend by `signingPublic` (the key
 * or HD child that signs: a Taproot output key, 33 bytes compressed or 32 x-only; an Ed25519 key)
 * and gives what that key signs for it: for Bitcoin the sighash of input `input`, which must be
 * one of ours; for Solana the message, whose fee payer and sender must be the key. Throws
 * WalletInputError saying what does not fit.
 */
export function readSpend (ref: TransactionRef, payload: Uint8Array, signingPublic: Uint8Array, input?: number): Spend {
  if (ref.chain === 'bitcoin') {
    const { spend, sighashes, decoded } = readPsbt(ref, payload, signingPublic)
    const index = input ?? 0
    const sighash = sighashes.get(index)
    if (sighash === undefined) throw new WalletInputError(`input ${index} of the PSBT is not one the key signs (its inputs: ${decoded.inputs.length}, ours: ${[...sighashes.keys()].join(', ')})`)
    return { ...spend, message: sighash }
  }
  checkSize(payload)
  if (input !== undefined && input !== 0) throw new WalletInputError('a Solana transfer has no inputs to choose: its message is signed whole')
  const transfer = decodeTransfer(payload)
  const ours = solanaAddress(signingPublic)
  if (transfer.from !== ours) throw new WalletInputError(`the transfer is from ${transfer.from}, not from this key (${ours})`)
  return { ref, message: payload, amount: transfer.lamports, outputs: [{ to: transfer.to, amount: transfer.lamports, ours: false }] }
}

function checkSize (payload: Uint8Array): void {
  if (!(payload instanceof Uint8Array) || payload.length === 0) throw new WalletInputError('the transaction is empty')
  if (payload.length > MAX_TRANSACTION_BYTES) throw new WalletInputError(`the transaction is ${payload.length} bytes, at most ${MAX_TRANSACTION_BYTES}: split it into smaller ones`)
}

/** A PSBT as the key reads it: the spend (every field but the message), the sighash of each input of ours by index, and the decoding. */
export interface ReadPsbt { spend: Omit<Spend, 'message'>, sighashes: Map<number, Uint8Array>, decoded: DecodedPsbt }

/**
 * PSBTs read lately, by network, bytes and key: a PSBT of n inputs is signed in n sessions, each
 * of which reads it again, and reading one (parsing, and BIP-341 sighashes whose every input
 * hashes all prevouts) costs O(n^2); read once, each session takes its own sighash.
 */
const READ_PSBTS = new Map<string, ReadPsbt>()
const MAX_READ_PSBTS = 16

/** The PSBT `payload` read as a spend by `signingPublic` (as readSpend reads it, with the same bounds), once per process while it is among the last read. */
export function readPsbt (ref: { chain: 'bitcoin', network: BitcoinNetwork }, payload: Uint8Array, signingPublic: Uint8Array): ReadPsbt {
  checkSize(payload)
  const id = `${ref.network}:${bytesToHex(sha256(payload))}:${bytesToHex(signingPublic)}`
  const known = READ_PSBTS.get(id)
  if (known !== undefined) return known
  const decoded = decodePsbt(payload, signingPublic, ref.network)
  const outputs = decoded.outputs.map(o => ({ to: o.address ?? o.script, amount: o.amount, ours: o.ours }))
  const read: ReadPsbt = {
    // What the key loses: its coins spent less its change, so the fee counts, and a foreign input (a payjoin's) does not.
    spend: { ref, amount: maxZero(sum(decoded.inputs.filter(i => i.ours)) - sum(outputs.filter(o => o.ours))), outputs, fee: decoded.fee },
    sighashes: new Map(taprootSighashes(payload, signingPublic).map(s => [s.index, s.sighash])),
    decoded
  }
  if (READ_PSBTS.size >= MAX_READ_PSBTS) READ_PSBTS.delete(READ_PSBTS.keys().next().value!)
  READ_PSBTS.set(id, read)
  return read
}

const sum = (items: Array<{ amount: bigint }>): bigint => items.reduce((s, o) => s + o.amount, 0n)
const maxZero = (n: bigint): bigint => n < 0n ? 0n : n
