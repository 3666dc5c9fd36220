/**
 * Solana: one System Program transfer of SOL, paid for and signed by a threshold Ed25519 key.
 *
 * The message is a legacy (unversioned) Solana message, which is what the cluster signs: the
 * transaction signature is plain Ed25519 over these bytes, so the FROST group signature of an
 * Ed25519 key is the transaction's only signature. A transfer message has exactly one layout:
 *
 *   header [1, 0, 1]                       one signer (the fee payer), no read-only signer,
 *                                          one read-only unsigned account (the System Program)
 *   accounts [from, to, System Program]    from: writable signer; to: writable
 *   recent blockhash (32 bytes)
 *   one instruction: program 2, accounts [0, 1], data u32 LE 2 (Transfer) || u64 LE lamports
 *
 * 150 bytes in all. `decodeTransfer` accepts nothing else: every node runs it on what it is asked
 * to sign, and it ends by rebuilding the message from the decoded fields and comparing bytes.
 *
 * Encoding and decoding are @solana/kit's and @solana-program/system's; point checks and signature
 * verification are src/crypto's (noble). There is no curve or hash code here.
 */
import {
  getTransferSolInstruction, getTransferSolInstructionDataDecoder, identifySystemInstruction, SYSTEM_PROGRAM_ADDRESS,
  SystemInstruction
} from '@solana-program/system'
import {
  appendTransactionMessageInstruction, compileTransaction, createNoopSigner, createTransactionMessage,
  getAddressDecoder, getAddressEncoder, getBase58Decoder, getBase58Encoder, getBase64EncodedWireTransaction,
  getCompiledTransactionMessageDecoder, getCompiledTransactionMessageEncoder, pipe, setTransactionMessageFeePayer, setTransactionMessageLifetimeUsingBlockhash,
  type Address, type Blockhash, type SignatureBytes, type TransactionMessageBytes
} from '@solana/kit'
import { isValidElement, verifySignature } from '../crypto/index.js'
import { WalletInputError } from './errors.js'

/** Ed25519 public keys, addresses and blockhashes are 32 bytes. */
export const SOLANA_KEY_BYTES = 32
/** An Ed25519 signature. */
export const SOLANA_SIGNATURE_BYTES = 64
/** Lamports are a u64 on chain. */
export const SOLANA_MAX_LAMPORTS = (1n << 64n) - 1n
/** The only length a transfer message built here can have (see the layout above). */
export const SOLANA_TRANSFER_MESSAGE_BYTES = 150
/** Solana's limit for a whole wire transaction (signatures and message); longer input is refused unparsed. */
export const SOLANA_MAX_TRANSACTION_BYTES = 1232

/** A transfer as a user states it. `from` is the group key (32 bytes) or its address. */
export interface SolanaTransferInput {
  from: Uint8Array | string
  to: string
  lamports: bigint
  blockhash: string
}

/** A transfer as read back from message bytes. All strings are base58. */
export interface SolanaTransfer {
  from: string
  to: string
  lamports: bigint
  blockhash: string
}

export interface SolanaTransaction {
  /** the wire transaction (one signature, then the message), base64: what `sendTransaction` takes */
  base64: string
  /** the transaction id: the signature, base58 */
  signature: string
}

const MAX_SHOWN = 60
/** 32 bytes are at most 44 base58 characters; longer strings are refused before decoding. */
const BASE58_32_MAX_CHARS = 44

/** A caller's string in an error message: bounded, and with control characters escaped. */
function shown (value: string): string {
  const cut = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value
  return JSON.stringify(cut)
}

/** 32 bytes from a base58 string (an address or a blockhash), or a WalletInputError naming `field`. */
function bytes32 (field: string, value: unknown): Uint8Array {
  if (typeof value !== 'string') throw new WalletInputError(`${field} must be a base58 string (got ${typeof value})`)
  if (value.length > BASE58_32_MAX_CHARS) {
    throw new WalletInputError(`${field} is too long for 32 bytes in base58 (${value.length} characters): ${shown(value)}`)
  }
  let decoded: Uint8Array
  try {
    decoded = Uint8Array.from(getBase58Encoder().encode(value))
  } catch {
    throw new WalletInputError(`${field} is not base58: ${shown(value)}`)
  }
  if (value.length === 0 || decoded.length !== SOLANA_KEY_BYTES) {
    throw new WalletInputError(`${field} must decode to ${SOLANA_KEY_BYTES} bytes (got ${decoded.length}): ${shown(value)}`)
  }
  return decoded
}

function parseAddress (field: string, value: unknown): Address {
  return getAddressDecoder().decode(bytes32(field, value))
}

/** The fee payer: its key must be an Ed25519 point that can sign (on the curve, prime order). */
function parseSigner (value: unknown): Address {
  let key: Uint8Array
  if (value instanceof Uint8Array) {
    if (value.length !== SOLANA_KEY_BYTES) {
      throw new WalletInputError(`from: an Ed25519 public key is ${SOLANA_KEY_BYTES} bytes (got ${value.length})`)
    }
    key = value
  } else {
    key = bytes32('from', value)
  }
  if (!isValidElement('ed25519', key)) {
    throw new WalletInputError('from: not an Ed25519 public key that can sign (off the curve, or of small order)')
  }
  return getAddressDecoder().decode(key)
}

function parseLamports (value: unknown): bigint {
  if (typeof value !== 'bigint') throw new WalletInputError(`lamports must be a bigint (got ${typeof value})`)
  if (value <= 0n || value > SOLANA_MAX_LAMPORTS) {
    throw new WalletInputError(`lamports must be in 1..2^64-1 (got ${value})`)
  }
  return value
}

/** The base58 address of an Ed25519 group key (the address is the public key). */
export function solanaAddress (groupKey: Uint8Array): string {
  if (!(groupKey instanceof Uint8Array)) throw new WalletInputError('an Ed25519 group key must be bytes')
  return parseSigner(groupKey)
}

/**
 * The legacy message of one System Program transfer, fee payer = `from`: the bytes the cluster
 * signs. Refuses from = to, a transfer to the System Program itself, and amounts outside u64.
 */
export function buildTransfer (input: SolanaTransferInput): { message: Uint8Array } {
  if (typeof input !== 'object' || input === null) throw new WalletInputError('transfer must be an object')
  const from = parseSigner(input.from)
  const to = parseAddress('to', input.to)
  const lamports = parseLamports(input.lamports)
  const blockhash = getBase58Decoder().decode(bytes32('blockhash', input.blockhash)) as Blockhash
  if (to === from) throw new WalletInputError(`from and to are the same address (${from})`)
  if (to === SYSTEM_PROGRAM_ADDRESS) throw new WalletInputError('to: the System Program cannot receive a transfer')

  const source = createNoopSigner(from)
  const tx = compileTransaction(pipe(
    createTransactionMessage({ version: 'legacy' }),
    (m) => setTransactionMessageFeePayer(from, m),
    // lastValidBlockHeight is not part of the message; the cluster applies its own expiry
    (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash, lastValidBlockHeight: 0n }, m),
    (m) => appendTransactionMessageInstruction(getTransferSolInstruction({ source, destination: to, amount: lamports }), m)
  ))
  const message = Uint8Array.from(tx.messageBytes)
  if (message.length !== SOLANA_TRANSFER_MESSAGE_BYTES) {
    throw new Error(`internal: a transfer message came out ${message.length} bytes, not ${SOLANA_TRANSFER_MESSAGE_BYTES}`)
  }
  return { message }
}

/**
 * Read a transfer message back, strictly: a legacy message with exactly one instruction, the
 * System Program's Transfer, from the fee payer (the only signer, writable) to one writable
 * account, and nothing else; byte for byte what `buildTransfer` makes of the decoded fields.
 */
export function decodeTransfer (message: Uint8Array): SolanaTransfer {
  if (!(message instanceof Uint8Array)) throw new WalletInputError('a Solana message must be bytes')
  if (message.length === 0) throw new WalletInputError('empty Solana message')
  if (message.length > SOLANA_MAX_TRANSACTION_BYTES) {
    throw new WalletInputError(`Solana message too long (${message.length} bytes, at most ${SOLANA_MAX_TRANSACTION_BYTES})`)
  }
  const first = message[0] ?? 0
  if ((first & 0x80) !== 0) {
    throw new WalletInputError(`a versioned (v${first & 0x7f}) Solana message; only legacy transfer messages are accepted`)
  }
  let decoded: ReturnType<ReturnType<typeof getCompiledTransactionMessageDecoder>['decode']>
  let end: number
  try {
    [decoded, end] = getCompiledTransactionMessageDecoder().read(message, 0)
  } catch (err) {
    throw new WalletInputError(`truncated or malformed Solana message (${message.length} bytes): ${(err as Error).message}`)
  }
  if (decoded.version !== 'legacy') throw new WalletInputError('only legacy transfer messages are accepted')
  if (end !== message.length) {
    throw new WalletInputError(`${message.length - end} trailing byte(s) after the Solana message (it ends at byte ${end})`)
  }
  // kit's decoder reads a missing instruction list at the very end as an empty one: re-encode
  // what it read and insist on the same bytes (this also refuses non-canonical length prefixes).
  const reencoded = getCompiledTransactionMessageEncoder().encode(decoded)
  if (reencoded.length > message.length) throw new WalletInputError(`truncated Solana message (${message.length} bytes)`)
  if (!equalBytes(reencoded, message)) throw new WalletInputError('the Solana message is not in canonical encoding')

  const { header, staticAccounts: accounts, instructions } = decoded
  if (instructions.length !== 1) {
    throw new WalletInputError(`a transfer message has exactly one instruction (found ${instructions.length})`)
  }
  const ix = instructions[0]
  if (ix === undefined) throw new WalletInputError('no instruction')
  const program = accounts[ix.programAddressIndex]
  if (program === undefined) {
    throw new WalletInputError(`the instruction's program index ${ix.programAddressIndex} is outside the ${accounts.length} accounts`)
  }
  if (program !== SYSTEM_PROGRAM_ADDRESS) {
    throw new WalletInputError(`the instruction calls program ${program}, not the System Program`)
  }
  const data = Uint8Array.from(ix.data ?? [])
  let kind: SystemInstruction
  try {
    kind = identifySystemInstruction(data)
  } catch {
    throw new WalletInputError('the instruction is not a known System Program instruction')
  }
  if (kind !== SystemInstruction.TransferSol) {
    throw new WalletInputError(`the System Program instruction is ${SystemInstruction[kind] ?? kind}, not Transfer`)
  }
  if (data.length !== 12) throw new WalletInputError(`Transfer data must be 12 bytes (found ${data.length})`)

  if (header.numSignerAccounts !== 1) {
    throw new WalletInputError(`a transfer message has exactly one signer, the fee payer (found ${header.numSignerAccounts})`)
  }
  if (header.numReadonlySignerAccounts !== 0) throw new WalletInputError('the fee payer must be writable')
  if (accounts.length !== 3) {
    throw new WalletInputError(`a transfer message names exactly 3 accounts: from, to, System Program (found ${accounts.length})`)
  }
  if (header.numReadonlyNonSignerAccounts !== 1 || ix.programAddressIndex !== 2) {
    throw new WalletInputError('account flags do not match a transfer: to must be writable and the System Program the only read-only account')
  }
  const indices = ix.accountIndices ?? []
  if (indices.length !== 2 || indices[0] !== 0 || indices[1] !== 1) {
    throw new WalletInputError(`Transfer accounts must be [from, to] = [0, 1] (found [${indices.join(', ')}])`)
  }
  const [from, to] = accounts
  if (from === undefined || to === undefined) throw new WalletInputError('missing accounts')
  const lamports = getTransferSolInstructionDataDecoder().decode(data).amount
  if (lamports === 0n) throw new WalletInputError('a zero-lamport transfer is refused')
  const transfer: SolanaTransfer = { from, to, lamports, blockhash: decoded.lifetimeToken }

  // Whatever the checks above let through must be exactly the canonical message.
  const canonical = buildTransfer(transfer).message
  if (!equalBytes(canonical, message)) throw new WalletInputError('the message is not in the canonical transfer form')
  return transfer
}

/**
 * The wire transaction for a transfer message and its one signature (by `from`'s key). The
 * message is decoded first and the signature verified, so a transaction that the cluster would
 * refuse for its signature is never handed out.
 */
export function assembleTransfer (message: Uint8Array, signature: Uint8Array): SolanaTransaction {
  const { from } = decodeTransfer(message)
  if (!(signature instanceof Uint8Array) || signature.length !== SOLANA_SIGNATURE_BYTES) {
    const got = signature instanceof Uint8Array ? `${signature.length} bytes` : typeof signature
    throw new WalletInputError(`a Solana signature is ${SOLANA_SIGNATURE_BYTES} bytes (got ${got})`)
  }
  const key = Uint8Array.from(getAddressEncoder().encode(from as Address))
  if (!verifySignature('ed25519', signature, message, key)) {
    throw new WalletInputError(`the signature does not verify for this message under ${from}`)
  }
  const sig = Uint8Array.from(signature)
  const base64 = getBase64EncodedWireTransaction({
    messageBytes: Uint8Array.from(message) as unknown as TransactionMessageBytes,
    signatures: { [from]: sig as SignatureBytes }
  })
  return { base64, signature: getBase58Decoder().decode(sig) }
}

function equalBytes (a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
