/**
 * Transactions (issue 15): a Bitcoin Taproot PSBT signed input by input, a spend built from coins
 * and a destination, and a Solana transfer. The coordinator reads each transaction itself to know
 * what to ask, then asks every signer with the transaction's own bytes: each holder reads them
 * again and signs only what it computes (sign-guard.ts), so a coordinator that lies about a
 * digest gets no share. A signature per input runs as any signature does (SignTask), under the
 * client's one request for the whole transaction.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { toHex } from '../crypto/bytes.js'
import { CryptoInputError, parseHdPath } from '../crypto/index.js'
import type { BitcoinNetwork } from '../crypto/suites.js'
import type { SignedRequest, SpendAsked } from '../protocols/policy.js'
import type { KeyRecord, KeyRegistry } from '../state/key-registry.js'
import { buildSpend, finalizePsbt, taprootAddress, type SpendParams } from '../wallet/bitcoin.js'
import { WalletInputError } from '../wallet/errors.js'
import { assembleTransfer, buildTransfer, decodeTransfer } from '../wallet/solana.js'
import { readPsbt, readSpend, type SpendOutput } from '../wallet/spend.js'
import { TaskError } from './errors.js'
import type { SignOptions, SignResult } from './sign-task.js'

/** One signature of a key (Tasks.sign without its admission: the whole transaction was admitted once). */
export type SignOne = (keyId: string, message: Uint8Array, request: SignedRequest | undefined, opts: SignOptions) => Promise<SignResult>

export interface WalletDeps {
  keys: KeyRegistry
  sign: SignOne
  /** The public key that signs for a key at an HD path (SignTask.signingPublicKey). */
  signingPublicKey: (key: KeyRecord, path: readonly number[]) => Uint8Array
}

/** What a transaction signed: its outputs as the coordinator read them, and each signature's session. */
export interface SignedTransaction {
  keyId: string
  /** the HD child that signed (m: the key itself) */
  path: string
  /** the signing key's address */
  from: string
  outputs: SpendOutput[]
  amount: bigint
  signatures: Array<{ input?: number, sessionId: string, signers: string[], attempts: number }>
  ms: number
}

export interface BitcoinSigned extends SignedTransaction {
  network: BitcoinNetwork
  /** the finalised transaction, hex: what `sendrawtransaction` takes */
  hex: string
  txid: string
  vsize: number
  fee: bigint
  /** what each input spent: script (hex) and amount, so anyone can verify the transaction with their own tools */
  prevouts: Array<{ script: string, amount: bigint }>
}

export interface SolanaSigned extends SignedTransaction {
  /** the signed wire transaction, base64: what `sendTransaction` takes */
  base64: string
  /** the transaction id: the signature, base58 */
  signature: string
  to: string
  lamports: bigint
  blockhash: string
}

/** A spend of the key's coins as a client states it (the key is the task's to fill in). */
export type BitcoinSendParams = Omit<SpendParams, 'groupKey'>

export interface SolanaTransferParams {
  to: string
  lamports: bigint
  blockhash: string
}

/** Inputs of one PSBT whose signing sessions run at once (a PSBT may have hundreds). */
const INPUTS_AT_ONCE = 8

/** A caller's bad transaction as the task's refusal (400). */
function refuseInput<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof WalletInputError || err instanceof CryptoInputError) throw new TaskError('bad_request', err.message)
    throw err
  }
}

export class WalletTask {
  constructor (private readonly deps: WalletDeps) {}

  /** The unsigned PSBT of a spend of `keyId`'s coins (change back to the key): what a client's request names before `bitcoinSend`. */
  async bitcoinBuild (keyId: string, params: BitcoinSendParams, path = 'm'): Promise<{ psbt: Uint8Array, from: string }> {
    const { signing } = await this.signer(keyId, 'taproot', path)
    const psbt = refuseInput(() => buildSpend({ ...params, groupKey: signing }))
    return { psbt, from: taprootAddress(signing, params.network) }
  }

  /** Signs every input of ours in `psbt` (each a threshold signature of its own sighash) and finalises it. */
  async bitcoinPsbt (keyId: string, psbt: Uint8Array, network: BitcoinNetwork, request: SignedRequest | undefined, path = 'm'): Promise<BitcoinSigned> {
    const started = Date.now()
    const { indices, signing } = await this.signer(keyId, 'taproot', path)
    // Read once, as every holder will read it: the spend, and the sighash of each input of ours.
    const { spend: read, sighashes, decoded } = refuseInput(() => readPsbt({ chain: 'bitcoin', network }, psbt, signing))
    const payloadDigest = toHex(sha256(psbt))
    const spends = [...sighashes].map(([input, message]): SpendAsked => ({ ...read, message, payloadDigest, input }))
    const signatures = new Map<number, Uint8Array>()
    const sessions: SignedTransaction['signatures'] = []
    // Inputs sign side by side, a few at a time: each is a session of its own under the one
    // request. Every session of a batch ends before a failure is answered (none is left running).
    for (let i = 0; i < spends.length; i += INPUTS_AT_ONCE) {
      const batch = await Promise.allSettled(spends.slice(i, i + INPUTS_AT_ONCE).map(async spend => {
        const result = await this.deps.sign(keyId, spend.message, request, { path: indices, transaction: { payload: psbt, spend } })
        signatures.set(spend.input!, result.signature)
        sessions.push({ input: spend.input, sessionId: result.sessionId, signers: result.signers, attempts: result.attempts })
      }))
      const failed = batch.find(r => r.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    }
    sessions.sort((a, b) => a.input! - b.input!)
    const final = refuseInput(() => finalizePsbt(psbt, signatures))
    return {
      keyId,
      path,
      network,
      from: taprootAddress(signing, network),
      outputs: read.outputs,
      amount: read.amount,
      fee: decoded.fee,
      prevouts: decoded.inputs.map(i => ({ script: i.script, amount: i.amount })),
      signatures: sessions,
      ...final,
      ms: Date.now() - started
    }
  }

  /** Builds the spend (as bitcoinBuild) and signs it: the client's request must name exactly that PSBT. */
  async bitcoinSend (keyId: string, params: BitcoinSendParams, request: SignedRequest | undefined, path = 'm'): Promise<BitcoinSigned> {
    const started = Date.now()
    const { psbt } = await this.bitcoinBuild(keyId, params, path)
    const signed = await this.bitcoinPsbt(keyId, psbt, params.network, request, path)
    return { ...signed, ms: Date.now() - started }
  }

  /** The unsigned message of a transfer from `keyId`: what a client's request names before `solanaTransfer`. */
  async solanaBuild (keyId: string, params: SolanaTransferParams, path = 'm'): Promise<{ message: Uint8Array, from: string }> {
    const { signing } = await this.signer(keyId, 'ed25519', path)
    const { message } = refuseInput(() => buildTransfer({ from: signing, to: params.to, lamports: params.lamports, blockhash: params.blockhash }))
    return { message, from: decodeTransfer(message).from }
  }

  /** Builds a System Program transfer from the key, signs its message and assembles the wire transaction. */
  async solanaTransfer (keyId: string, params: SolanaTransferParams, request: SignedRequest | undefined, path = 'm'): Promise<SolanaSigned> {
    const started = Date.now()
    const { indices, signing } = await this.signer(keyId, 'ed25519', path)
    const { message, from } = await this.solanaBuild(keyId, params, path)
    const spend: SpendAsked = { ...refuseInput(() => readSpend({ chain: 'solana' }, message, signing)), payloadDigest: toHex(sha256(message)) }
    const result = await this.deps.sign(keyId, message, request, { path: indices, transaction: { payload: message, spend } })
    const wire = refuseInput(() => assembleTransfer(message, result.signature))
    return {
      keyId,
      path,
      from,
      to: params.to,
      lamports: params.lamports,
      blockhash: params.blockhash,
      outputs: spend.outputs,
      amount: spend.amount,
      signatures: [{ sessionId: result.sessionId, signers: result.signers, attempts: result.attempts }],
      ...wire,
      ms: Date.now() - started
    }
  }

  /** The key (of `scheme`), the HD path's indices, and the public key that signs there. */
  private async signer (keyId: string, scheme: 'taproot' | 'ed25519', path: string): Promise<{ key: KeyRecord, indices: number[], signing: Uint8Array }> {
    const key = await this.deps.keys.get(keyId)
    if (key === undefined) throw new TaskError('not_found', `no key ${keyId}`)
    const chain = scheme === 'taproot' ? 'Bitcoin' : 'Solana'
    if (key.scheme !== scheme) throw new TaskError('bad_request', `key ${keyId} is a ${key.scheme} key; ${chain} transactions need ${scheme === 'ed25519' ? 'an' : 'a'} ${scheme} key`)
    const indices = refuseInput(() => parseHdPath(path))
    if (indices.length > 0 && key.chainCode === undefined) throw new TaskError('bad_request', `key ${keyId} is not an HD key (made without --hd): it has no child keys`)
    return { key, indices, signing: refuseInput(() => this.deps.signingPublicKey(key, indices)) }
  }
}
