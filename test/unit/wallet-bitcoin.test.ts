/**
 * Taproot key-path spends of a threshold key (src/wallet/bitcoin.ts), checked by the chain's own
 * rules with code that shares nothing with @scure/btc-signer or @noble: bitcore-lib's script
 * interpreter (its own BIP-341 sighash and BIP-340 verification on elliptic/bn.js) accepts the
 * signed transactions and refuses them once an output is altered; bitcoinjs-lib's PSBT parser and
 * hashForWitnessV1 give the same sighashes; libsecp256k1 (tiny-secp256k1) signs foreign inputs.
 */
import type { Key } from '@noble/curves/abstract/frost.js'
import { p2tr, TEST_NETWORK } from '@scure/btc-signer'
import { address as bjsAddress, initEccLib, networks, Psbt, Transaction as BjsTransaction } from 'bitcoinjs-lib'
import * as ecc from 'tiny-secp256k1'
import { beforeAll, describe, expect, it } from 'vitest'
import { describeGroupKey } from '../../src/crypto/index.js'
import { dkgInProcess, thresholdSign } from '../threshold.js'
import {
  buildSpend, decodePsbt, dustThreshold, finalizePsbt, keyPathVsize, taprootAddress, taprootScript, taprootSighashes
} from '../../src/wallet/bitcoin.js'
import { WalletInputError } from '../../src/wallet/errors.js'
import { bitcore, bitcoreCheck, type BitcoreOutput, type Prevout } from '../chain-checks.js'

// bitcoinjs needs an ECC library to read P2TR addresses; libsecp256k1 is independent of noble.
initEccLib(ecc)

// ---- independent PSBT reading (bitcoinjs-lib's own parser, bip174)

function bjsPrevouts (psbt: Uint8Array): Prevout[] {
  return Psbt.fromBuffer(psbt, { network: networks.regtest }).data.inputs.map((inp) => {
    if (inp.witnessUtxo === undefined) throw new Error('no witnessUtxo')
    return { script: inp.witnessUtxo.script, amount: inp.witnessUtxo.value }
  })
}

function bjsUnsigned (psbt: Uint8Array): BjsTransaction {
  const p = Psbt.fromBuffer(psbt, { network: networks.regtest })
  return BjsTransaction.fromBuffer(p.data.globalMap.unsignedTx.toBuffer())
}

function bjsSighashes (psbt: Uint8Array): Uint8Array[] {
  const prevouts = bjsPrevouts(psbt)
  const tx = bjsUnsigned(psbt)
  return prevouts.map((_, i) => tx.hashForWitnessV1(i, prevouts.map((p) => p.script), prevouts.map((p) => p.amount), BjsTransaction.SIGHASH_DEFAULT))
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
/** A txid (display order) that reads differently reversed, so byte-order slips show. */
const txidOf = (n: number): string => n.toString(16).padStart(2, '0') + '0123456789abcdef'.repeat(4).slice(0, 62)

/** A foreign single-key Taproot owner, with libsecp256k1. */
const FOREIGN_SECRET = Uint8Array.from(Buffer.from('a1'.repeat(32), 'hex'))
const FOREIGN_XONLY = ecc.xOnlyPointFromScalar(FOREIGN_SECRET)
const FOREIGN_SCRIPT = Uint8Array.of(0x51, 0x20, ...FOREIGN_XONLY)

// Destination addresses (regtest), from other keys: P2TR, P2WPKH and P2PKH.
const DEST_SCRIPT = Uint8Array.of(0x51, 0x20, ...ecc.xOnlyPointFromScalar(Uint8Array.from(Buffer.from('b2'.repeat(32), 'hex'))))
const DEST = bjsAddress.fromOutputScript(DEST_SCRIPT, networks.regtest)
const WPKH = bjsAddress.fromOutputScript(Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(7)), networks.regtest)
const PKH = bjsAddress.fromOutputScript(Uint8Array.of(0x76, 0xa9, 0x14, ...new Uint8Array(20).fill(9), 0x88, 0xac), networks.regtest)
const MAINNET_DEST = bjsAddress.fromOutputScript(DEST_SCRIPT, networks.bitcoin)
const TESTNET_DEST = bjsAddress.fromOutputScript(DEST_SCRIPT, networks.testnet)

function expectRefused (fn: () => unknown, message: RegExp): void {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(WalletInputError)
  expect((caught as Error).message).toMatch(message)
}

describe('wallet/bitcoin: Taproot key-path spends of a threshold key', () => {
  let holders: Key[]
  let groupKey: Uint8Array
  let ourScript: Uint8Array
  let ourAddress: string
  const keys = (...which: number[]): Key[] => which.map((h) => holders[h]!)

  beforeAll(() => {
    const dealt = dkgInProcess('taproot', 2, 3, 'wallet-btc-1')
    holders = dealt.keys
    groupKey = dealt.groupPublicKey
    for (const k of holders) expect(hex(k.public.commitments[0]!)).toBe(hex(groupKey))
    ourScript = taprootScript(groupKey)
    ourAddress = taprootAddress(groupKey, 'regtest')
  })

  it('pays to the group key itself: OP_1 <x-only key>, the address crypto/suites gives, not a twice-tweaked key', () => {
    expect(groupKey.length).toBe(33)
    expect(hex(ourScript)).toBe('5120' + hex(groupKey.subarray(1)))
    expect(ourAddress).toBe(describeGroupKey('taproot', groupKey, 'regtest').address)
    expect(ourAddress.startsWith('bcrt1p')).toBe(true)
    expect(taprootAddress(groupKey, 'mainnet')).toBe(describeGroupKey('taproot', groupKey, 'mainnet').address)
    expect(taprootAddress(groupKey, 'testnet').startsWith('tb1p')).toBe(true)
    // bitcoinjs reads our address as a payment to exactly that script
    expect(hex(bjsAddress.toOutputScript(ourAddress, networks.regtest))).toBe(hex(ourScript))
    // the same key from x-only form
    expect(taprootAddress(groupKey.subarray(1), 'regtest')).toBe(ourAddress)
    // p2tr(key) tweaks the key again (BIP-86 on top of BIP-86): coins sent there could never be spent
    const doubleTweaked = p2tr(groupKey.subarray(1), undefined, { ...TEST_NETWORK, bech32: 'bcrt' })
    expect(doubleTweaked.address).not.toBe(ourAddress)
    expect(hex(doubleTweaked.script)).not.toBe(hex(ourScript))
    expectRefused(() => taprootScript(new Uint8Array(33)), /invalid Taproot group key/)
    expectRefused(() => taprootAddress(groupKey, 'signet' as 'regtest'), /unknown bitcoin network/)
  })

  it('one input with change: built, decoded, sighashes equal bitcoinjs, threshold-signed, valid under bitcore; altered outputs fail', () => {
    const utxos = [{ txid: txidOf(0xab), vout: 1, amount: 100_000n }]
    const psbt = buildSpend({ groupKey, network: 'regtest', utxos, to: DEST, amount: 40_000n, feeRate: 2 })
    const decoded = decodePsbt(psbt, groupKey, 'regtest')
    expect(decoded.inputs).toEqual([{ txid: txidOf(0xab), vout: 1, amount: 100_000n, script: hex(ourScript), ours: true, address: ourAddress }])
    // 1 key-path input, 2 P2TR outputs: 154 vB, so 308 sats at 2 sat/vB
    expect(decoded.vsizeEstimate).toBe(154)
    expect(decoded.fee).toBe(308n)
    expect(decoded.feeRate).toBe(2)
    expect(decoded.outputs).toEqual([
      { address: DEST, script: hex(DEST_SCRIPT), amount: 40_000n, kind: 'tr', ours: false },
      { address: ourAddress, script: hex(ourScript), amount: 100_000n - 40_000n - 308n, kind: 'tr', ours: true }
    ])
    // bitcoinjs, reading the PSBT itself, sees the same prevouts, outpoint and outputs
    const unsigned = bjsUnsigned(psbt)
    expect(Buffer.from(unsigned.ins[0]?.hash ?? []).reverse().toString('hex')).toBe(txidOf(0xab))
    expect(unsigned.ins[0]?.index).toBe(1)
    expect(unsigned.outs.map((o) => o.value)).toEqual([40_000n, 59_692n])
    expect(unsigned.getId()).toBe(decoded.txid)
    // base64 gives the same
    expect(decodePsbt(Buffer.from(psbt).toString('base64'), groupKey, 'regtest')).toEqual(decoded)

    const sighashes = taprootSighashes(psbt, groupKey)
    expect(sighashes.map((s) => s.index)).toEqual([0])
    expect(sighashes.map((s) => hex(s.sighash))).toEqual(bjsSighashes(psbt).map(hex))

    const sig = thresholdSign('taproot', keys(0, 2), (sighashes[0] as { sighash: Uint8Array }).sighash)
    const signed = finalizePsbt(psbt, new Map([[0, sig]]))
    expect(signed.txid).toBe(decoded.txid)
    const final = BjsTransaction.fromHex(signed.hex)
    expect(final.getId()).toBe(signed.txid)
    expect(final.virtualSize()).toBe(signed.vsize)
    expect(signed.vsize).toBe(decoded.vsizeEstimate)
    expect(final.ins[0]?.witness.map((w) => w.length)).toEqual([64])
    expect(ecc.verifySchnorr((sighashes[0] as { sighash: Uint8Array }).sighash, groupKey.subarray(1), sig)).toBe(true)

    const prevouts = [{ script: ourScript, amount: 100_000n }]
    expect(bitcoreCheck(signed.hex, prevouts)).toEqual([''])
    // one satoshi moved from change to the destination after signing: refused
    expect(bitcoreCheck(signed.hex, prevouts, (tx) => {
      const [a, b] = tx.outputs as [BitcoreOutput, BitcoreOutput]
      a.satoshis += 1
      b.satoshis -= 1
    })).toEqual(['failed'])
    // the destination script swapped for another: refused
    expect(bitcoreCheck(signed.hex, prevouts, (tx) => {
      (tx.outputs[0] as BitcoreOutput).setScript(bitcore.Script.fromBuffer(Buffer.from(FOREIGN_SCRIPT)))
    })).toEqual(['failed'])
    // a prevout amount that is not what the holders signed for: refused
    expect(bitcoreCheck(signed.hex, [{ script: ourScript, amount: 100_001n }])).toEqual(['failed'])

    // a signature of the wrong length, a wrong one, a missing one, one for no such input
    expectRefused(() => finalizePsbt(psbt, new Map([[0, sig.subarray(0, 63)]])), /must be 64 bytes/)
    expectRefused(() => finalizePsbt(psbt, new Map([[0, Uint8Array.of(...sig, 0)]])), /must be 64 bytes/)
    const bad = Uint8Array.from(sig)
    bad[63] = (bad[63] ?? 0) ^ 1
    expectRefused(() => finalizePsbt(psbt, new Map([[0, bad]])), /does not verify/)
    expectRefused(() => finalizePsbt(psbt, new Map()), /input 0 has no signature/)
    expectRefused(() => finalizePsbt(psbt, new Map([[0, sig], [1, sig]])), /does not have/)
  })

  it('two inputs, both ours, each signed by a different pair of holders', () => {
    const utxos = [{ txid: txidOf(0x01), vout: 0, amount: 30_000n }, { txid: txidOf(0x02), vout: 7, amount: 25_000n }]
    const psbt = buildSpend({ groupKey, network: 'regtest', utxos, to: WPKH, amount: 50_000n, feeRate: 3.5, change: DEST })
    const decoded = decodePsbt(psbt, groupKey, 'regtest')
    expect(decoded.inputs.map((i) => i.ours)).toEqual([true, true])
    // 2 key-path inputs, a P2WPKH (31 B) and a P2TR (43 B) output: 10.5 + 115 + 74 = 199.5, so 200 vB
    expect(decoded.vsizeEstimate).toBe(200)
    expect(decoded.fee).toBe(BigInt(Math.ceil(200 * 3.5)))
    expect(decoded.outputs.map((o) => [o.address, o.kind, o.amount])).toEqual([[WPKH, 'wpkh', 50_000n], [DEST, 'tr', 5_000n - 700n]])

    const sighashes = taprootSighashes(psbt, groupKey)
    expect(sighashes.map((s) => s.index)).toEqual([0, 1])
    expect(sighashes.map((s) => hex(s.sighash))).toEqual(bjsSighashes(psbt).map(hex))
    expect(hex(sighashes[0]?.sighash ?? new Uint8Array())).not.toBe(hex(sighashes[1]?.sighash ?? new Uint8Array()))
    const sigs = new Map(sighashes.map((s, i) => [s.index, thresholdSign('taproot', i === 0 ? keys(0, 1) : keys(1, 2), s.sighash)]))
    const signed = finalizePsbt(psbt, sigs)
    expect(signed.vsize).toBe(200)
    const prevouts = bjsPrevouts(psbt)
    expect(bitcoreCheck(signed.hex, prevouts)).toEqual(['', ''])
    expect(bitcoreCheck(signed.hex, prevouts, (tx) => { (tx.outputs[1] as BitcoreOutput).satoshis -= 1 })).toEqual(['failed', 'failed'])
    // the signatures swapped between the inputs: refused before anything is broadcast
    expectRefused(() => finalizePsbt(psbt, new Map([[0, sigs.get(1) as Uint8Array], [1, sigs.get(0) as Uint8Array]])), /input 0 does not verify/)
  })

  /** A PSBT built by bitcoinjs (not by us): our coin and a foreign one, as a coordinator might relay. */
  function mixedPsbt (opts: { foreignUtxo?: boolean, ours?: Partial<Parameters<Psbt['addInput']>[0]>, outputs?: { script: Uint8Array, value: bigint }[] } = {}): Uint8Array {
    const p = new Psbt({ network: networks.regtest })
    p.addInput({ hash: txidOf(0x11), index: 0, witnessUtxo: { script: ourScript, value: 60_000n }, ...opts.ours })
    p.addInput({ hash: txidOf(0x22), index: 3, ...(opts.foreignUtxo === false ? {} : { witnessUtxo: { script: FOREIGN_SCRIPT, value: 40_000n } }) })
    for (const o of opts.outputs ?? [{ script: DEST_SCRIPT, value: 70_000n }, { script: ourScript, value: 29_000n }]) p.addOutput(o)
    return p.toBuffer()
  }

  it('one input ours, one foreign: only ours is ours to sign, the foreign owner signs its own, bitcore accepts both', () => {
    const psbt = mixedPsbt()
    const decoded = decodePsbt(psbt, groupKey, 'regtest')
    expect(decoded.inputs.map((i) => [i.txid, i.vout, i.ours])).toEqual([[txidOf(0x11), 0, true], [txidOf(0x22), 3, false]])
    expect(decoded.fee).toBe(1_000n)
    expect(decoded.outputs.map((o) => o.ours)).toEqual([false, true])
    const sighashes = taprootSighashes(psbt, groupKey)
    expect(sighashes.map((s) => s.index)).toEqual([0])
    const independent = bjsSighashes(psbt)
    expect(hex(sighashes[0]?.sighash ?? new Uint8Array())).toBe(hex(independent[0] ?? new Uint8Array()))

    const ourSig = thresholdSign('taproot', keys(1, 0), (sighashes[0] as { sighash: Uint8Array }).sighash)
    const foreignSig = ecc.signSchnorr(independent[1] as Uint8Array, FOREIGN_SECRET, new Uint8Array(32))
    expectRefused(() => finalizePsbt(psbt, new Map([[0, ourSig]])), /input 1 has no signature/)
    expectRefused(() => finalizePsbt(psbt, new Map([[0, foreignSig], [1, ourSig]])), /does not verify/)
    const signed = finalizePsbt(psbt, new Map([[0, ourSig], [1, foreignSig]]))
    expect(bitcoreCheck(signed.hex, bjsPrevouts(psbt))).toEqual(['', ''])
    expect(signed.vsize).toBe(decoded.vsizeEstimate)
    // the foreign input's amount misreported to us would have changed our sighash: bitcore refuses both
    expect(bitcoreCheck(signed.hex, [{ script: ourScript, amount: 60_000n }, { script: FOREIGN_SCRIPT, amount: 50_000n }])).toEqual(['failed', 'failed'])
  })

  it('refuses PSBTs a holder must not sign', () => {
    expectRefused(() => decodePsbt(mixedPsbt({ foreignUtxo: false }), groupKey, 'regtest'), /input 1 has no witnessUtxo/)
    expectRefused(() => taprootSighashes(mixedPsbt({ foreignUtxo: false }), groupKey), /input 1 has no witnessUtxo/)
    // not a PSBT at all
    expectRefused(() => decodePsbt(Uint8Array.from([1, 2, 3]), groupKey, 'regtest'), /not a valid PSBT/)
    expectRefused(() => decodePsbt(new TextEncoder().encode('psbt\xff'), groupKey, 'regtest'), /not a valid PSBT/)
    expectRefused(() => decodePsbt('this is not base64!', groupKey, 'regtest'), /base64/)
    expectRefused(() => decodePsbt(Buffer.from('hello world').toString('base64'), groupKey, 'regtest'), /not a valid PSBT/)
    expectRefused(() => decodePsbt(new Uint8Array(), groupKey, 'regtest'), /PSBT must be/)
    expectRefused(() => decodePsbt(42 as unknown as Uint8Array, groupKey, 'regtest'), /bytes or a base64 string/)
    expectRefused(() => finalizePsbt(Uint8Array.from([1, 2, 3]), new Map()), /not a valid PSBT/)
    // no input of ours: another group key
    const other = dkgInProcess('taproot', 2, 3, 'wallet-btc-2')
    expectRefused(() => decodePsbt(mixedPsbt(), other.groupPublicKey, 'regtest'), /no input of this PSBT pays to the group key/)
    expectRefused(() => taprootSighashes(mixedPsbt(), other.groupPublicKey), /no input of this PSBT pays to the group key/)
    // non-default sighash type or script-path data on our input
    expectRefused(() => decodePsbt(mixedPsbt({ ours: { sighashType: 1 } }), groupKey, 'regtest'), /sighash type 1/)
    expectRefused(() => taprootSighashes(mixedPsbt({ ours: { sighashType: 0x83 } }), groupKey), /sighash type 131/)
    expectRefused(() => decodePsbt(mixedPsbt({ ours: { tapMerkleRoot: new Uint8Array(32).fill(5) } }), groupKey, 'regtest'), /script-path data \(tapMerkleRoot\)/)
    // an internal key on our input (as if the group key were tweaked again): btc-signer already finds
    // that it does not commit to the spent script; our own check would name the internal key
    expectRefused(() => decodePsbt(mixedPsbt({ ours: { tapInternalKey: groupKey.subarray(1) } }), groupKey, 'regtest'), /internal key|Taproot commitment does not match/)
    // outputs: above the inputs, equal to them, non-standard, dust, OP_RETURN
    expectRefused(() => decodePsbt(mixedPsbt({ outputs: [{ script: DEST_SCRIPT, value: 100_001n }] }), groupKey, 'regtest'), /more than the inputs.*positive/)
    expectRefused(() => decodePsbt(mixedPsbt({ outputs: [{ script: DEST_SCRIPT, value: 100_000n }] }), groupKey, 'regtest'), /all of the inputs/)
    expectRefused(() => decodePsbt(mixedPsbt({ outputs: [{ script: Uint8Array.of(0x51), value: 1_000n }] }), groupKey, 'regtest'), /output 0 has a non-standard script/)
    expectRefused(() => decodePsbt(mixedPsbt({ outputs: [{ script: DEST_SCRIPT, value: 329n }] }), groupKey, 'regtest'), /below the dust threshold of 330/)
    expectRefused(() => decodePsbt(mixedPsbt({ outputs: [{ script: Uint8Array.of(0x6a, 2, 1, 2), value: 5n }] }), groupKey, 'regtest'), /burns 5 sats/)
    const withData = decodePsbt(mixedPsbt({ outputs: [{ script: DEST_SCRIPT, value: 99_000n }, { script: Uint8Array.of(0x6a, 2, 1, 2), value: 0n }] }), groupKey, 'regtest')
    expect(withData.outputs[1]).toEqual({ script: '6a020102', amount: 0n, kind: 'op_return', ours: false })
  })

  it('buildSpend: dust, change below dust, inputs too small, wrong network, bad fee rate, bad utxos', () => {
    const utxos = [{ txid: txidOf(0x33), vout: 0, amount: 10_000n }]
    const base = { groupKey, network: 'regtest' as const, utxos, to: DEST, amount: 5_000n, feeRate: 1 }
    // dust: Bitcoin Core's threshold for the destination's type
    expect([DEST_SCRIPT, bjsAddress.toOutputScript(WPKH, networks.regtest), bjsAddress.toOutputScript(PKH, networks.regtest)].map(dustThreshold)).toEqual([330n, 294n, 546n])
    expectRefused(() => buildSpend({ ...base, amount: 329n }), /below the dust threshold of 330/)
    expect(decodePsbt(buildSpend({ ...base, amount: 330n }), groupKey, 'regtest').outputs[0]?.amount).toBe(330n)
    expectRefused(() => buildSpend({ ...base, to: WPKH, amount: 293n }), /dust threshold of 294/)
    expect(() => buildSpend({ ...base, to: WPKH, amount: 294n })).not.toThrow()
    expectRefused(() => buildSpend({ ...base, to: PKH, amount: 545n }), /dust threshold of 546/)
    expectRefused(() => buildSpend({ ...base, amount: 0n }), /amount must be/)
    expectRefused(() => buildSpend({ ...base, amount: 5000 as unknown as bigint }), /bigint/)
    // change that would be below dust goes to the fee: 10,000 - 9,500 - 154 = 346 is change; 10,000 - 9,700 - 154 is not
    const withChange = decodePsbt(buildSpend({ ...base, amount: 9_500n }), groupKey, 'regtest')
    expect(withChange.outputs.map((o) => o.amount)).toEqual([9_500n, 346n])
    const noChange = decodePsbt(buildSpend({ ...base, amount: 9_700n }), groupKey, 'regtest')
    expect(noChange.outputs.map((o) => o.amount)).toEqual([9_700n])
    expect(noChange.fee).toBe(300n)
    expect(noChange.vsizeEstimate).toBe(keyPathVsize(1, [DEST_SCRIPT]))
    // inputs too small for amount + fee (1 input, 1 output: 111 vB)
    expect(keyPathVsize(1, [DEST_SCRIPT])).toBe(111)
    expect(() => buildSpend({ ...base, amount: 9_889n })).not.toThrow()
    expectRefused(() => buildSpend({ ...base, amount: 9_890n }), /do not cover the amount \(9890 sats\) plus the fee \(111 sats/)
    expectRefused(() => buildSpend({ ...base, amount: 20_000n }), /do not cover/)
    // addresses of another network, or no address at all
    expectRefused(() => buildSpend({ ...base, to: MAINNET_DEST }), /is a mainnet address, not regtest/)
    expectRefused(() => buildSpend({ ...base, to: TESTNET_DEST }), /is a testnet address, not regtest/)
    expectRefused(() => buildSpend({ ...base, network: 'mainnet', to: DEST }), /is a regtest address, not mainnet/)
    expectRefused(() => buildSpend({ ...base, change: MAINNET_DEST }), /mainnet address/)
    expectRefused(() => buildSpend({ ...base, to: 'bcrt1qnotanaddress' }), /not a bitcoin address/)
    expectRefused(() => buildSpend({ ...base, to: '' }), /non-empty string/)
    // fee rates
    for (const feeRate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expectRefused(() => buildSpend({ ...base, feeRate }), /fee rate must be a positive number/)
    expectRefused(() => buildSpend({ ...base, feeRate: 1e6 }), /above the 5000 sat\/vB limit/)
    // utxos
    expectRefused(() => buildSpend({ ...base, utxos: [] }), /no utxos/)
    expectRefused(() => buildSpend({ ...base, utxos: [{ txid: 'xyz', vout: 0, amount: 1n }] }), /txid must be 64/)
    expectRefused(() => buildSpend({ ...base, utxos: [{ txid: txidOf(1), vout: -1, amount: 1n }] }), /vout must be/)
    expectRefused(() => buildSpend({ ...base, utxos: [...utxos, ...utxos] }), /listed twice/)
    expectRefused(() => buildSpend({ ...base, groupKey: new Uint8Array(5) }), /invalid Taproot group key/)
    // every input carries its witnessUtxo, with our script (bitcoinjs reads them)
    expect(bjsPrevouts(buildSpend(base)).map((p) => [hex(p.script), p.amount])).toEqual([[hex(ourScript), 10_000n]])
  })
})
