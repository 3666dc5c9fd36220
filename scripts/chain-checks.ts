/**
 * Transactions checked by the chains' own rules, offline, with code that shares nothing with ours:
 * bitcore-lib's script interpreter for Bitcoin, LiteSVM (Agave's runtime) for Solana. Dev
 * dependencies: the simulation and the tests use them, the product never does.
 */
import { createRequire } from 'node:module'
import { getTransactionDecoder, type Transaction } from '@solana/kit'

// ---- bitcore-lib (CommonJS, untyped): the few members used here

interface BitcoreScript { toBuffer: () => Buffer }
export interface BitcoreOutput { satoshis: number, script: BitcoreScript, setScript: (s: BitcoreScript) => void }
interface BitcoreInput { script: BitcoreScript, witnesses: Buffer[], output?: BitcoreOutput }
interface BitcoreTx { inputs: BitcoreInput[], outputs: BitcoreOutput[], id: string, toString: () => string }
interface Bitcore {
  Transaction: { new (hex: string): BitcoreTx, Output: new (o: { script: BitcoreScript, satoshis: number }) => BitcoreOutput }
  Script: {
    fromBuffer: (b: Buffer) => BitcoreScript
    Interpreter: {
      new (): { verify: (sig: BitcoreScript, pub: BitcoreScript, tx: BitcoreTx, nin: number, flags: number, witness: Buffer[], sats: number) => boolean, errstr: string }
      SCRIPT_VERIFY_P2SH: number
      SCRIPT_VERIFY_WITNESS: number
      SCRIPT_VERIFY_TAPROOT: number
      SCRIPT_VERIFY_STRICTENC: number
      SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM: number
    }
  }
}
export const bitcore = createRequire(import.meta.url)('bitcore-lib') as Bitcore
const I = bitcore.Script.Interpreter
// Consensus flags of a Taproot-era block, plus two standardness ones. Not CLEANSTACK: bitcore checks
// it against the scriptSig's stack (empty for any segwit spend) where Bitcoin Core checks the stack
// left by the witness, so bitcore refuses every valid segwit spend with it.
const FLAGS = I.SCRIPT_VERIFY_P2SH | I.SCRIPT_VERIFY_WITNESS | I.SCRIPT_VERIFY_TAPROOT | I.SCRIPT_VERIFY_STRICTENC |
  I.SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM

export interface Prevout { script: Uint8Array, amount: bigint }

/**
 * Check every input of a signed transaction under bitcore's interpreter. BIP-341 key-path
 * sighashes commit to every input's prevout, which bitcore reads from `tx.inputs[i].output`.
 * Returns the error string of each input: '' when it verifies, 'failed' when the key-path
 * signature does not verify (bitcore sets no error string for that).
 */
export function bitcoreCheck (txHex: string, prevouts: Prevout[], alter?: (tx: BitcoreTx) => void): string[] {
  const tx = new bitcore.Transaction(txHex)
  if (tx.inputs.length !== prevouts.length) throw new Error(`the transaction has ${tx.inputs.length} inputs, ${prevouts.length} prevouts given`)
  tx.inputs.forEach((input, i) => {
    const p = prevouts[i] as Prevout
    input.output = new bitcore.Transaction.Output({ script: bitcore.Script.fromBuffer(Buffer.from(p.script)), satoshis: Number(p.amount) })
  })
  alter?.(tx)
  return tx.inputs.map((input, i) => {
    const output = input.output as BitcoreOutput
    const interp = new I()
    const ok = interp.verify(input.script, output.script, tx, i, FLAGS, input.witnesses, output.satoshis)
    return ok ? '' : (interp.errstr === '' ? 'failed' : interp.errstr)
  })
}

/** TransactionErrorFieldless.SignatureFailure in litesvm (a const enum, so not importable at run time). */
export const SIGNATURE_FAILURE = 11

/** The bytes LiteSVM takes (a kit Transaction), read from wire bytes by kit's own decoder. */
export function fromWire (wire: Uint8Array): Transaction {
  return getTransactionDecoder().decode(wire)
}
