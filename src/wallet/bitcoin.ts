/**
 * Bitcoin Taproot key-path spends of a threshold key, as PSBTs (BIP-174) and BIP-341 sighashes.
 *
 * The group key from DKG (noble's schnorr_FROST) is already the BIP-86-tweaked output key, so the
 * wallet's script is `OP_1 <x-only group key>` of that key as it is: tweaking it again (as
 * `p2tr(key)` would) pays to a key nobody can sign for. The group key signs the BIP-341 key-path
 * sighash (SIGHASH_DEFAULT, a 32-byte digest) and the witness is the bare 64-byte signature.
 *
 * Every node recomputes the sighashes itself from the PSBT (`taprootSighashes`): BIP-341 commits
 * to every input's amount and script, so a coordinator that lies about a prevout gets a signature
 * that no node of the network accepts, never a larger fee than the one the holders saw.
 *
 * Pure: no network, no disk. Curve and hash work is done by @scure/btc-signer and @noble/curves.
 */
import { schnorr } from '@noble/curves/secp256k1.js'
import { base64, hex } from '@scure/base'
import { Address, NETWORK, OutScript, SigHash, TEST_NETWORK, Transaction } from '@scure/btc-signer'
import { taprootTweakGroupKey } from '../crypto/dkg.js'
import { type BitcoinNetwork, BITCOIN_HRP, isValidElement } from '../crypto/suites.js'
import { WalletInputError } from './errors.js'

type BtcNetwork = typeof NETWORK

const NETWORKS: Readonly<Record<BitcoinNetwork, BtcNetwork>> = Object.freeze({
  mainnet: NETWORK,
  testnet: TEST_NETWORK,
  // Regtest shares testnet's base58 versions and differs by its bech32 prefix only.
  regtest: { ...TEST_NETWORK, bech32: BITCOIN_HRP.regtest }
})

/** 21 million BTC in satoshis: no amount or sum of amounts may exceed it (consensus MAX_MONEY). */
export const MAX_MONEY = 2_100_000_000_000_000n

/** Largest PSBT a node decodes (bytes): a standard transaction is at most 400,000 weight units. */
export const MAX_PSBT_BYTES = 1_000_000

/** Fee rates (sat/vB) above this are refused as a likely unit mistake (sat/kvB or BTC/kvB for sat/vB). */
export const MAX_FEE_RATE = 5_000

/** Inputs one spend may take: far above need, small enough that a node's work stays bounded. */
export const MAX_SPEND_INPUTS = 1_000

/** An x-only BIP-340 signature with SIGHASH_DEFAULT (no sighash byte). */
export const TAPROOT_SIGNATURE_BYTES = 64

/** Weight units of one key-path witness: item count (1) + length (1) + 64-byte signature. */
const KEY_PATH_WITNESS_WEIGHT = 1 + 1 + TAPROOT_SIGNATURE_BYTES

/** One coin of ours to spend: the outpoint (txid in the usual display order) and its amount. */
export interface Utxo { txid: string, vout: number, amount: bigint }

export interface DecodedInput {
  /** the spent transaction id, hex, display order (as explorers show it) */
  txid: string
  vout: number
  /** satoshis, from the input's witnessUtxo */
  amount: bigint
  /** the spent output's script, hex */
  script: string
  /** whether this input pays to our key (and so is one the group key signs) */
  ours: boolean
  /** the spent output's address on the network asked for, when the script has one */
  address?: string
}

export interface DecodedOutput {
  /** absent for a script with no address form (OP_RETURN data) */
  address?: string
  /** output script, hex */
  script: string
  amount: bigint
  /** `op_return` for data carriers (amount 0, script only); the address type otherwise */
  kind: 'pkh' | 'sh' | 'wpkh' | 'wsh' | 'tr' | 'op_return'
  /** whether this output pays back to our key (change) */
  ours: boolean
}

export interface DecodedPsbt {
  inputs: DecodedInput[]
  outputs: DecodedOutput[]
  /** sum of inputs minus sum of outputs, satoshis (always > 0 here) */
  fee: bigint
  /** vsize the signed transaction will have, when every unsigned input is a Taproot key-path spend */
  vsizeEstimate?: number
  /** fee / vsizeEstimate in sat/vB, rounded down to 0.01 */
  feeRate?: number
  /** the txid the signed transaction will have (witness data does not change it) */
  txid: string
  version: number
  lockTime: number
}

export interface TaprootSighash { index: number, sighash: Uint8Array }

export interface FinalizedTransaction { hex: string, txid: string, vsize: number }

export interface SpendParams {
  /** the group key (33-byte compressed as the key record has it, or 32-byte x-only) */
  groupKey: Uint8Array
  network: BitcoinNetwork
  /** every coin given is spent (no coin selection here): all must pay to the group key */
  utxos: Utxo[]
  /** destination address of `network` */
  to: string
  /** satoshis to `to` */
  amount: bigint
  /** sat/vB, > 0 and <= MAX_FEE_RATE; may be fractional, the fee is rounded up to a whole satoshi */
  feeRate: number
  /** change address of `network`; defaults to the group key's own address */
  change?: string
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 160)

/** Run a library call on caller input: anything it throws becomes a WalletInputError saying what failed. */
function guard<T> (what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof WalletInputError) throw err
    throw new WalletInputError(`${what}: ${errText(err)}`)
  }
}

function networkOf (network: BitcoinNetwork): BtcNetwork {
  const net = Object.hasOwn(NETWORKS, network) ? NETWORKS[network] : undefined
  if (net === undefined) throw new WalletInputError(`unknown bitcoin network ${JSON.stringify(String(network).slice(0, 16))} (mainnet, testnet or regtest)`)
  return net
}

/** The 32-byte x-only key of a group key given 33-byte compressed or 32-byte x-only; validated on the curve. */
function xOnlyOf (groupKey: Uint8Array): Uint8Array {
  if (!(groupKey instanceof Uint8Array)) throw new WalletInputError('group key must be bytes')
  if (groupKey.length === 33 && isValidElement('taproot', groupKey)) return groupKey.slice(1)
  if (groupKey.length === 32 && isValidElement('taproot', Uint8Array.of(2, ...groupKey))) return groupKey.slice()
  throw new WalletInputError(`invalid Taproot group key (expected a 33-byte compressed or 32-byte x-only secp256k1 key, got ${groupKey.length} bytes)`)
}

/** The output script of the group key used as the Taproot output key as it is: OP_1 <32-byte x-only key>. */
export function taprootScript (groupKey: Uint8Array): Uint8Array {
  return OutScript.encode({ type: 'tr', pubkey: xOnlyOf(groupKey) })
}

/** The bech32m P2TR address of the group key (the output key itself, not tweaked again). */
export function taprootAddress (groupKey: Uint8Array, network: BitcoinNetwork): string {
  const net = networkOf(network)
  return Address(net).encode({ type: 'tr', pubkey: xOnlyOf(groupKey) })
}

/** Which of our networks an address parses under, if any. */
function networksOfAddress (address: string): BitcoinNetwork[] {
  return (Object.keys(NETWORKS) as BitcoinNetwork[]).filter((name) => {
    try {
      Address(NETWORKS[name]).decode(address)
      return true
    } catch {
      return false
    }
  })
}

/** The output script an address of `network` pays to; refuses another network's address or nonsense, naming which. */
export function addressScript (address: string, network: BitcoinNetwork): Uint8Array {
  const net = networkOf(network)
  if (typeof address !== 'string' || address.length === 0 || address.length > 100) throw new WalletInputError('address must be a non-empty string of at most 100 characters')
  try {
    return OutScript.encode(Address(net).decode(address))
  } catch (err) {
    const others = networksOfAddress(address)
    const shown = JSON.stringify(address.slice(0, 100))
    if (others.length > 0) throw new WalletInputError(`address ${shown} is a ${others.join('/')} address, not ${network}`)
    throw new WalletInputError(`address ${shown} is not a bitcoin address: ${errText(err)}`)
  }
}

type OutputKind = DecodedOutput['kind']
const ADDRESS_KINDS: ReadonlySet<string> = new Set(['pkh', 'sh', 'wpkh', 'wsh', 'tr'])
/** Bitcoin Core's standard data-carrier limit: OP_RETURN scripts of up to 83 bytes. */
const MAX_OP_RETURN_SCRIPT = 83
const OP_RETURN = 0x6a

/** The kind of a standard output script, or undefined for anything else. */
function outputKind (script: Uint8Array): OutputKind | undefined {
  if (script.length >= 1 && script.length <= MAX_OP_RETURN_SCRIPT && script[0] === OP_RETURN) return 'op_return'
  let type: string
  try {
    type = OutScript.decode(script).type
  } catch {
    return undefined
  }
  return ADDRESS_KINDS.has(type) ? type as OutputKind : undefined
}

/**
 * Bitcoin Core's dust threshold (policy GetDustThreshold at the default 3 sat/vB dust relay fee):
 * 3 x (size of the output + size of the input that will spend it). That gives 330 sats for P2TR
 * and P2WSH, 294 for P2WPKH, 540 for P2SH and 546 for P2PKH. Outputs below it are not relayed.
 */
export function dustThreshold (script: Uint8Array): bigint {
  const kind = outputKind(script)
  if (kind === 'op_return') return 0n
  const outputSize = 8 + compactSizeLength(script.length) + script.length
  const witness = kind === 'wpkh' || kind === 'wsh' || kind === 'tr'
  // A witness spend counts its 107 assumed witness bytes at a quarter; a legacy one in full.
  const inputSize = witness ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4
  return BigInt(3 * (outputSize + inputSize))
}

function compactSizeLength (n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9
}

/**
 * Virtual size of a transaction whose every input is a Taproot key-path spend (no scriptSig, a
 * one-item witness of a 64-byte signature): BIP-141 weight = 4 x base size + witness size.
 * Per input 41 bytes base + 66 witness = 57.5 vB; per output 8 + script; 10.5 vB of overhead.
 */
export function keyPathVsize (inputs: number, outputScripts: Uint8Array[], witnessWeights?: number[]): number {
  let base = 4 + compactSizeLength(inputs) + inputs * (32 + 4 + 1 + 4) + compactSizeLength(outputScripts.length) + 4
  for (const s of outputScripts) base += 8 + compactSizeLength(s.length) + s.length
  let witness = 2 // segwit marker and flag
  for (let i = 0; i < inputs; i++) witness += witnessWeights?.[i] ?? KEY_PATH_WITNESS_WEIGHT
  return Math.ceil((4 * base + witness) / 4)
}

function parsePsbt (psbt: Uint8Array | string): Transaction {
  let bytes: Uint8Array
  if (typeof psbt === 'string') {
    const text = psbt.trim()
    if (text.length === 0 || text.length > Math.ceil(MAX_PSBT_BYTES / 3) * 4) throw new WalletInputError(`a base64 PSBT must be 1..${MAX_PSBT_BYTES} bytes`)
    bytes = guard('PSBT is not valid base64', () => base64.decode(text))
  } else if (psbt instanceof Uint8Array) {
    bytes = psbt
  } else {
    throw new WalletInputError('PSBT must be bytes or a base64 string')
  }
  if (bytes.length === 0 || bytes.length > MAX_PSBT_BYTES) throw new WalletInputError(`a PSBT must be 1..${MAX_PSBT_BYTES} bytes (got ${bytes.length})`)
  // allowUnknownOutputs only lets OP_RETURN and other scripts through parsing: checkOutputs decides.
  return guard('not a valid PSBT', () => Transaction.fromPSBT(bytes, { allowUnknownOutputs: true }))
}

interface Prevout { script: Uint8Array, amount: bigint }

interface Checked {
  tx: Transaction
  prevouts: Prevout[]
  ours: number[]
  ourScript: Uint8Array
  fee: bigint
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** Every input has a witnessUtxo with a sane amount; returns the prevouts in input order. */
function prevoutsOf (tx: Transaction): Prevout[] {
  if (tx.inputsLength === 0) throw new WalletInputError('PSBT has no inputs')
  if (tx.outputsLength === 0) throw new WalletInputError('PSBT has no outputs')
  const prevouts: Prevout[] = []
  const seen = new Set<string>()
  let total = 0n
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i)
    const utxo = input.witnessUtxo
    if (utxo === undefined) throw new WalletInputError(`input ${i} has no witnessUtxo (the spent output's script and amount): a Taproot signer needs it for every input`)
    if (utxo.amount < 0n || utxo.amount > MAX_MONEY) throw new WalletInputError(`input ${i} spends an impossible amount (${utxo.amount} sats)`)
    if (input.txid === undefined || input.index === undefined) throw new WalletInputError(`input ${i} has no outpoint`)
    const outpoint = `${hex.encode(input.txid)}:${input.index}`
    if (seen.has(outpoint)) throw new WalletInputError(`input ${i} spends ${outpoint} a second time`)
    seen.add(outpoint)
    total += utxo.amount
    prevouts.push({ script: utxo.script, amount: utxo.amount })
  }
  if (total > MAX_MONEY) throw new WalletInputError('inputs sum to more than 21 million BTC')
  return prevouts
}

/** Our inputs must be plain key-path spends with SIGHASH_DEFAULT. */
/**
 * An input of ours is a plain key-path spend with SIGHASH_DEFAULT. A Taproot internal key is
 * accepted only when the BIP-86 tweak of it (no script tree) is our output key, as wallets that
 * watch an HD key by its xpub (tr(xpub/…)) write it; never a key that would need a second tweak.
 */
function checkOurInput (tx: Transaction, i: number, ourScript: Uint8Array): void {
  const input = tx.getInput(i)
  if (input.sighashType !== undefined && input.sighashType !== SigHash.DEFAULT) {
    throw new WalletInputError(`input ${i} (ours) asks for sighash type ${input.sighashType}; the wallet signs SIGHASH_DEFAULT only`)
  }
  const scriptPath = (['tapLeafScript', 'tapScriptSig', 'tapMerkleRoot'] as const).filter((k) => input[k] !== undefined && !(Array.isArray(input[k]) && input[k].length === 0))
  if (scriptPath.length > 0) throw new WalletInputError(`input ${i} (ours) carries Taproot script-path data (${scriptPath.join(', ')}); the wallet key spends by key path only`)
  if (input.tapInternalKey !== undefined && !tweaksTo(input.tapInternalKey, ourScript.subarray(2))) {
    throw new WalletInputError(`input ${i} (ours) names a Taproot internal key whose BIP-86 output key is not this key's; the key is not tweaked again`)
  }
  if (input.redeemScript !== undefined || input.witnessScript !== undefined) throw new WalletInputError(`input ${i} (ours) carries a redeem or witness script, which a Taproot key-path spend has not`)
}

/** Whether the BIP-86 output key of x-only `internal` (even y, no script tree) is x-only `output`. */
function tweaksTo (internal: Uint8Array, output: Uint8Array): boolean {
  if (internal.length !== 32) return false
  try {
    return sameBytes(taprootTweakGroupKey(Uint8Array.of(2, ...internal)).subarray(1), output)
  } catch {
    return false
  }
}

/** Every output is standard (an address type at or above dust, or OP_RETURN data of 0 sats); returns the sum. */
function checkOutputs (tx: Transaction): bigint {
  let total = 0n
  for (let i = 0; i < tx.outputsLength; i++) {
    const out = tx.getOutput(i)
    if (out.script === undefined || out.amount === undefined) throw new WalletInputError(`output ${i} has no script or amount`)
    const kind = outputKind(out.script)
    if (kind === undefined) throw new WalletInputError(`output ${i} has a non-standard script (${hex.encode(out.script).slice(0, 80)}); only address outputs and OP_RETURN data are signed`)
    if (out.amount < 0n || out.amount > MAX_MONEY) throw new WalletInputError(`output ${i} has an impossible amount (${out.amount} sats)`)
    if (kind === 'op_return' && out.amount !== 0n) throw new WalletInputError(`output ${i} burns ${out.amount} sats in an OP_RETURN output`)
    const dust = dustThreshold(out.script)
    if (kind !== 'op_return' && out.amount < dust) throw new WalletInputError(`output ${i} pays ${out.amount} sats, below the dust threshold of ${dust} for its type (the network would not relay it)`)
    total += out.amount
  }
  if (total > MAX_MONEY) throw new WalletInputError('outputs sum to more than 21 million BTC')
  return total
}

/** The strict checks every entry point runs on a PSBT before anything is signed or shown. */
function checkPsbt (psbt: Uint8Array | string, groupKey: Uint8Array): Checked {
  const ourScript = taprootScript(groupKey)
  const tx = parsePsbt(psbt)
  const prevouts = prevoutsOf(tx)
  const ours = prevouts.flatMap((p, i) => sameBytes(p.script, ourScript) ? [i] : [])
  if (ours.length === 0) throw new WalletInputError('no input of this PSBT pays to the group key: nothing to sign')
  for (const i of ours) checkOurInput(tx, i, ourScript)
  const outTotal = checkOutputs(tx)
  const inTotal = prevouts.reduce((s, p) => s + p.amount, 0n)
  const fee = inTotal - outTotal
  if (fee <= 0n) throw new WalletInputError(`outputs (${outTotal} sats) take ${fee === 0n ? 'all of' : 'more than'} the inputs (${inTotal} sats): the fee must be positive`)
  return { tx, prevouts, ours, ourScript, fee }
}

function addressOf (script: Uint8Array, net: BtcNetwork): string | undefined {
  try {
    const decoded = OutScript.decode(script)
    return ADDRESS_KINDS.has(decoded.type) ? Address(net).encode(decoded) : undefined
  } catch {
    return undefined
  }
}

/** Weight of each input's witness once signed, or undefined when an unsigned input is not a key-path spend we can size. */
function witnessWeights (tx: Transaction, prevouts: Prevout[]): number[] | undefined {
  const weights: number[] = []
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i)
    if (input.finalScriptSig !== undefined && input.finalScriptSig.length > 0) return undefined
    const witness = input.finalScriptWitness
    if (witness !== undefined) {
      weights.push(compactSizeLength(witness.length) + witness.reduce((s, w) => s + compactSizeLength(w.length) + w.length, 0))
    } else if (outputKind(prevouts[i]?.script ?? new Uint8Array()) === 'tr' && input.tapLeafScript === undefined) {
      weights.push(KEY_PATH_WITNESS_WEIGHT)
    } else {
      return undefined
    }
  }
  return weights
}

/**
 * Decode a PSBT for a holder to check before signing: what it spends (and which inputs are ours),
 * where the money goes, the fee. Strict: refuses an input without witnessUtxo, a PSBT with no
 * input of ours, non-default sighash types or script-path data on our inputs, non-standard or
 * dust outputs, and a fee that is not positive.
 */
export function decodePsbt (psbt: Uint8Array | string, groupKey: Uint8Array, network: BitcoinNetwork): DecodedPsbt {
  const net = networkOf(network)
  const { tx, prevouts, ours, ourScript, fee } = checkPsbt(psbt, groupKey)
  const inputs: DecodedInput[] = prevouts.map((p, i) => {
    const input = tx.getInput(i)
    const address = addressOf(p.script, net)
    return {
      txid: hex.encode(input.txid ?? new Uint8Array()),
      vout: input.index ?? 0,
      amount: p.amount,
      script: hex.encode(p.script),
      ours: ours.includes(i),
      ...(address === undefined ? {} : { address })
    }
  })
  const outputs: DecodedOutput[] = []
  const scripts: Uint8Array[] = []
  for (let i = 0; i < tx.outputsLength; i++) {
    const out = tx.getOutput(i)
    const script = out.script ?? new Uint8Array()
    scripts.push(script)
    const address = addressOf(script, net)
    outputs.push({
      ...(address === undefined ? {} : { address }),
      script: hex.encode(script),
      amount: out.amount ?? 0n,
      kind: outputKind(script) ?? 'op_return',
      ours: sameBytes(script, ourScript)
    })
  }
  const weights = witnessWeights(tx, prevouts)
  const vsizeEstimate = weights === undefined ? undefined : keyPathVsize(tx.inputsLength, scripts, weights)
  const decoded: DecodedPsbt = { inputs, outputs, fee, txid: tx.id, version: tx.version, lockTime: tx.lockTime }
  if (vsizeEstimate !== undefined) {
    decoded.vsizeEstimate = vsizeEstimate
    decoded.feeRate = Math.floor(Number(fee * 100n) / vsizeEstimate) / 100
  }
  return decoded
}

function sighashOf (tx: Transaction, prevouts: Prevout[], index: number): Uint8Array {
  return guard(`cannot compute the sighash of input ${index}`, () => tx.preimageWitnessV1(index, prevouts.map((p) => p.script), SigHash.DEFAULT, prevouts.map((p) => p.amount)))
}

/**
 * The BIP-341 key-path sighash (SIGHASH_DEFAULT) of each of our inputs, computed from the PSBT's
 * own prevouts (every input's witnessUtxo script and amount), after the same checks as decodePsbt.
 * This is what each node signs; a digest sent by the coordinator is never used.
 */
export function taprootSighashes (psbt: Uint8Array | string, groupKey: Uint8Array): TaprootSighash[] {
  const { tx, prevouts, ours } = checkPsbt(psbt, groupKey)
  return ours.map((index) => ({ index, sighash: sighashOf(tx, prevouts, index) }))
}

/**
 * Put the signatures in and extract the signed transaction. `signatures` maps input index to the
 * 64-byte BIP-340 signature; every input not already finalized must have one, and each must verify
 * against its input's Taproot output key and sighash (a bad signature is refused here, not by the
 * network). Returns the transaction hex, txid and vsize.
 */
export function finalizePsbt (psbt: Uint8Array | string, signatures: Map<number, Uint8Array>): FinalizedTransaction {
  if (!(signatures instanceof Map)) throw new WalletInputError('signatures must be a Map of input index to signature')
  const tx = parsePsbt(psbt)
  const prevouts = prevoutsOf(tx)
  for (const [index, sig] of signatures) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= tx.inputsLength) throw new WalletInputError(`signature for input ${String(index)}, which this PSBT does not have (it has ${tx.inputsLength})`)
    if (!(sig instanceof Uint8Array) || sig.length !== TAPROOT_SIGNATURE_BYTES) {
      throw new WalletInputError(`signature for input ${index} must be ${TAPROOT_SIGNATURE_BYTES} bytes (BIP-340, SIGHASH_DEFAULT), got ${sig instanceof Uint8Array ? sig.length : typeof sig}`)
    }
    const input = tx.getInput(index)
    if (input.finalScriptWitness !== undefined || input.finalScriptSig !== undefined) throw new WalletInputError(`input ${index} is already finalized`)
    if (input.sighashType !== undefined && input.sighashType !== SigHash.DEFAULT) throw new WalletInputError(`input ${index} asks for sighash type ${input.sighashType}; only SIGHASH_DEFAULT signatures are added`)
    const prevout = prevouts[index] as Prevout
    const decoded = guard(`input ${index} script`, () => OutScript.decode(prevout.script))
    if (decoded.type !== 'tr') throw new WalletInputError(`input ${index} does not spend a Taproot output`)
    const sighash = sighashOf(tx, prevouts, index)
    let valid: boolean
    try {
      valid = schnorr.verify(sig, sighash, decoded.pubkey)
    } catch {
      valid = false
    }
    if (!valid) throw new WalletInputError(`signature for input ${index} does not verify against its output key and sighash`)
    guard(`cannot add the signature of input ${index}`, () => tx.updateInput(index, { tapKeySig: sig }))
  }
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i)
    if (input.tapKeySig === undefined && input.finalScriptWitness === undefined && input.finalScriptSig === undefined) {
      throw new WalletInputError(`input ${i} has no signature`)
    }
  }
  guard('cannot finalize the transaction', () => tx.finalize())
  const raw = guard('cannot extract the transaction', () => tx.extract())
  return { hex: hex.encode(raw), txid: tx.id, vsize: tx.vsize }
}

const TXID_RE = /^[0-9a-f]{64}$/

function checkAmount (what: string, amount: unknown): bigint {
  if (typeof amount !== 'bigint') throw new WalletInputError(`${what} must be a bigint number of satoshis`)
  if (amount <= 0n || amount > MAX_MONEY) throw new WalletInputError(`${what} must be 1..${MAX_MONEY} sats (got ${amount})`)
  return amount
}

/**
 * Build an unsigned spend of our coins as a PSBT (version 0, witnessUtxo on every input).
 *
 * Every utxo given is spent (the caller selects coins). One output pays `amount` to `to`; the
 * rest minus the fee goes to `change` (our own address by default) unless it would be below the
 * dust threshold of the change script (330 sats for P2TR), in which case it is left to the fee.
 * The fee is feeRate x the exact vsize of the signed transaction: every input is a key-path spend
 * of a 64-byte signature, so keyPathVsize knows it in advance (57.5 vB per input, 8 + script bytes
 * per output, 10.5 vB overhead), rounded up to a whole satoshi.
 * Inputs signal replaceability (BIP-125 sequence 0xfffffffd) so a stuck spend can be bumped.
 */
export function buildSpend (params: SpendParams): Uint8Array {
  if (typeof params !== 'object' || params === null) throw new WalletInputError('spend parameters missing')
  const { groupKey, network, utxos, to, amount, feeRate } = params
  networkOf(network)
  const ourScript = taprootScript(groupKey)
  if (!Array.isArray(utxos) || utxos.length === 0) throw new WalletInputError('no utxos to spend')
  if (utxos.length > MAX_SPEND_INPUTS) throw new WalletInputError(`at most ${MAX_SPEND_INPUTS} utxos per spend (got ${utxos.length})`)
  const seen = new Set<string>()
  let total = 0n
  utxos.forEach((u, i) => {
    if (typeof u !== 'object' || u === null) throw new WalletInputError(`utxo ${i} malformed`)
    if (typeof u.txid !== 'string' || !TXID_RE.test(u.txid)) throw new WalletInputError(`utxo ${i} txid must be 64 lower-case hex characters`)
    if (!Number.isSafeInteger(u.vout) || u.vout < 0 || u.vout > 0xffffffff) throw new WalletInputError(`utxo ${i} vout must be an integer 0..4294967295`)
    checkAmount(`utxo ${i} amount`, u.amount)
    const outpoint = `${u.txid}:${u.vout}`
    if (seen.has(outpoint)) throw new WalletInputError(`utxo ${i} (${outpoint}) is listed twice`)
    seen.add(outpoint)
    total += u.amount
  })
  if (total > MAX_MONEY) throw new WalletInputError('utxos sum to more than 21 million BTC')
  checkAmount('amount', amount)
  if (typeof feeRate !== 'number' || !Number.isFinite(feeRate) || feeRate <= 0) throw new WalletInputError(`fee rate must be a positive number of sat/vB (got ${String(feeRate)})`)
  if (feeRate > MAX_FEE_RATE) throw new WalletInputError(`fee rate ${feeRate} sat/vB is above the ${MAX_FEE_RATE} sat/vB limit (a unit mistake?)`)
  const toScript = addressScript(to, network)
  if (outputKind(toScript) === undefined) throw new WalletInputError(`address ${JSON.stringify(to)} pays to a script the wallet does not send to`)
  const toDust = dustThreshold(toScript)
  if (amount < toDust) throw new WalletInputError(`amount ${amount} sats is below the dust threshold of ${toDust} sats for this address type (the network would not relay it)`)
  const changeScript = params.change === undefined ? ourScript : addressScript(params.change, network)
  if (outputKind(changeScript) === undefined) throw new WalletInputError('change address pays to a script the wallet does not send to')

  const feeFor = (scripts: Uint8Array[]): bigint => BigInt(Math.ceil(keyPathVsize(utxos.length, scripts) * feeRate))
  const feeWithChange = feeFor([toScript, changeScript])
  const changeAmount = total - amount - feeWithChange
  const outputs: { script: Uint8Array, amount: bigint }[] = [{ script: toScript, amount }]
  if (changeAmount >= dustThreshold(changeScript)) {
    outputs.push({ script: changeScript, amount: changeAmount })
  } else {
    const fee = feeFor([toScript])
    if (total < amount + fee) throw new WalletInputError(`inputs (${total} sats) do not cover the amount (${amount} sats) plus the fee (${fee} sats at ${feeRate} sat/vB)`)
    // change below dust (or none): what is left over goes to the fee
  }

  const tx = new Transaction({ version: 2, lockTime: 0 })
  for (const u of utxos) {
    tx.addInput({ txid: u.txid, index: u.vout, sequence: 0xfffffffd, witnessUtxo: { script: ourScript, amount: u.amount } })
  }
  for (const o of outputs) tx.addOutput(o)
  return tx.toPSBT(0)
}
