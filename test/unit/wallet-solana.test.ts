/**
 * Solana transfers signed by a threshold Ed25519 key, checked by the chain's own rules offline:
 * LiteSVM (Agave's runtime, signature verification on) executes the assembled transaction, and
 * OpenSSL (node:crypto) verifies the signature. The key comes from an in-memory 2-of-3 DKG and
 * the signature from two of its three holders, through src/crypto.
 */
import { createPublicKey, generateKeyPairSync, verify as nodeVerify } from 'node:crypto'
import type { Key } from '@noble/curves/abstract/frost.js'
import { getAssignInstruction, getCreateAccountInstruction, getTransferSolInstruction, SYSTEM_PROGRAM_ADDRESS } from '@solana-program/system'
import {
  AccountRole, address, appendTransactionMessageInstructions, blockhash as toBlockhash, compileTransaction, createNoopSigner,
  createTransactionMessage, lamports as toLamports, pipe, setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash, signature as toSignature, type Instruction
} from '@solana/kit'
import { base58 } from '@scure/base'
import { FailedTransactionMetadata, LiteSVM, TransactionMetadata } from 'litesvm'
import { beforeAll, describe, expect, it } from 'vitest'
import { dkgInProcess, thresholdSign } from '../threshold.js'
import { WalletInputError } from '../../src/wallet/errors.js'
import { expectSignatureFailure, fromWire } from '../chain-checks.js'
import {
  assembleTransfer, buildTransfer, decodeTransfer, SOLANA_MAX_LAMPORTS, SOLANA_TRANSFER_MESSAGE_BYTES, solanaAddress,
  type SolanaTransferInput
} from '../../src/wallet/solana.js'

/** LiteSVM's (and mainnet's) base fee: 5000 lamports per signature, and a transfer has one. */
const FEE = 5000n
const SOL = 1_000_000_000n

function opensslVerifies (sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' })
  return nodeVerify(null, message, key, sig)
}

/** A fresh address with a real key behind it (made by OpenSSL, not by us). */
function freshAddress (): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  if (jwk.x === undefined) throw new Error('no key')
  return base58.encode(Buffer.from(jwk.x, 'base64url'))
}


function expectRefusal (fn: () => unknown, pattern: RegExp): void {
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  expect(thrown).toBeInstanceOf(WalletInputError)
  expect((thrown as Error).message).toMatch(pattern)
}

/** A legacy message of arbitrary instructions, compiled by kit: for the refusals. */
function otherMessage (feePayer: string, instructions: Instruction[], version: 'legacy' | 0 = 'legacy'): Uint8Array {
  return Uint8Array.from(compileTransaction(pipe(
    createTransactionMessage({ version }),
    (m) => setTransactionMessageFeePayer(address(feePayer), m),
    (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: toBlockhash(BLOCKHASH), lastValidBlockHeight: 0n }, m),
    (m) => appendTransactionMessageInstructions(instructions, m)
  )).messageBytes)
}

const BLOCKHASH = 'CmpNeggWJ4JaWJeJ8YKN1Zypmk7uvQq3PECGUCAEMbky'

let groupKey: Uint8Array
let holders: Key[]

beforeAll(() => {
  const dealt = dkgInProcess('ed25519', 2, 3, 'dkg-sol')
  expect(dealt.keys).toHaveLength(3)
  groupKey = dealt.groupPublicKey
  holders = dealt.keys
})

describe('solana transfer, executed by LiteSVM with signature verification', () => {
  it('a threshold-signed transfer lands: balances move by amount and fee; a flipped bit or an altered message is refused', () => {
    const svm = new LiteSVM().withSigverify(true).withBlockhashCheck(true)
    const from = solanaAddress(groupKey)
    const to = freshAddress()
    expect(svm.airdrop(address(from), toLamports(10n * SOL))).toBeInstanceOf(TransactionMetadata)
    const blockhash = svm.latestBlockhash()
    const lamports = 1_234_567_890n
    const { message } = buildTransfer({ from: groupKey, to, lamports, blockhash })
    expect(message).toHaveLength(SOLANA_TRANSFER_MESSAGE_BYTES)

    // holders 1 and 3 of 3 sign; OpenSSL accepts the signature under the group key
    const [h1, , h3] = holders
    if (h1 === undefined || h3 === undefined) throw new Error('holders')
    const sig = thresholdSign('ed25519', [h1, h3], message)
    expect(opensslVerifies(sig, message, groupKey)).toBe(true)
    const { base64, signature } = assembleTransfer(message, sig)
    expect(signature).toBe(base58.encode(sig))
    const wire = Uint8Array.from(Buffer.from(base64, 'base64'))
    expect(wire).toEqual(Uint8Array.from([1, ...sig, ...message]))

    const before = svm.getBalance(address(from))
    expect(before).toBe(10n * SOL)
    expect(svm.getBalance(address(to))).toBeNull()

    // one bit of the signature flipped: a signature failure, nothing moves
    for (const bit of [0, 8 * 40 + 3]) {
      const flipped = Uint8Array.from(wire)
      const at = 1 + (bit >> 3)
      flipped[at] = (flipped[at] ?? 0) ^ (1 << (bit & 7))
      expectSignatureFailure(svm.sendTransaction(fromWire(flipped)))
    }
    // the same signature on a message altered after signing (another amount)
    const altered = buildTransfer({ from, to, lamports: lamports + 1n, blockhash }).message
    expect(opensslVerifies(sig, altered, groupKey)).toBe(false)
    expectRefusal(() => assembleTransfer(altered, sig), /does not verify/)
    expectSignatureFailure(svm.sendTransaction(fromWire(Uint8Array.from([1, ...sig, ...altered]))))
    expect(svm.getBalance(address(from))).toBe(before)
    expect(svm.getBalance(address(to))).toBeNull()

    // the real one
    const res = svm.sendTransaction(fromWire(wire))
    if (res instanceof FailedTransactionMetadata) throw new Error(`transfer failed: ${res.toString()}`)
    expect(res.signature()).toEqual(sig)
    expect(svm.getBalance(address(to))).toBe(lamports)
    expect(svm.getBalance(address(from))).toBe(10n * SOL - lamports - FEE)
    expect(svm.getTransaction(toSignature(signature))).toBeInstanceOf(TransactionMetadata)

    // sent again: refused (already processed), nothing moves twice
    expect(svm.sendTransaction(fromWire(wire))).toBeInstanceOf(FailedTransactionMetadata)
    expect(svm.getBalance(address(to))).toBe(lamports)
  })

  it('the other holder pair signs a second transfer (from the address string), which lands too', () => {
    const svm = new LiteSVM().withSigverify(true)
    const from = solanaAddress(groupKey)
    const to = freshAddress()
    svm.airdrop(address(from), toLamports(SOL))
    const { message } = buildTransfer({ from, to, lamports: SOL / 2n, blockhash: svm.latestBlockhash() })
    const [, h2, h3] = holders
    if (h2 === undefined || h3 === undefined) throw new Error('holders')
    const { base64 } = assembleTransfer(message, thresholdSign('ed25519', [h2, h3], message))
    const res = svm.sendTransaction(fromWire(Uint8Array.from(Buffer.from(base64, 'base64'))))
    expect(res).toBeInstanceOf(TransactionMetadata)
    expect(svm.getBalance(address(to))).toBe(SOL / 2n)
    expect(svm.getBalance(address(from))).toBe(SOL / 2n - FEE)
  })
})

describe('solana transfer messages', () => {
  const to = '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T'
  const input = (): SolanaTransferInput => ({ from: groupKey, to, lamports: 42n, blockhash: BLOCKHASH })

  it('the address is the key in base58', () => {
    expect(solanaAddress(groupKey)).toBe(base58.encode(groupKey))
    expectRefusal(() => solanaAddress(groupKey.subarray(0, 31)), /32 bytes \(got 31\)/)
  })

  it('decodeTransfer(buildTransfer(x)) round-trips, from the key or its address, at the u64 edges', () => {
    const from = solanaAddress(groupKey)
    for (const lamports of [1n, 42n, SOLANA_MAX_LAMPORTS]) {
      const byKey = buildTransfer({ ...input(), lamports }).message
      const byAddress = buildTransfer({ ...input(), from, lamports }).message
      expect(byAddress).toEqual(byKey)
      expect(decodeTransfer(byKey)).toEqual({ from, to, lamports, blockhash: BLOCKHASH })
    }
    // the layout, byte for byte: header, 3 keys, blockhash, one instruction
    const m = buildTransfer(input()).message
    expect([...m.subarray(0, 4)]).toEqual([1, 0, 1, 3])
    expect(m.subarray(4, 36)).toEqual(groupKey)
    expect(m.subarray(68, 100)).toEqual(new Uint8Array(32))
    expect(base58.encode(m.subarray(100, 132))).toBe(BLOCKHASH)
    expect([...m.subarray(132)]).toEqual([1, 2, 2, 0, 1, 12, 2, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0])
  })

  it('decodeTransfer refuses other instructions, programs, signers, flags and lengths', () => {
    const from = solanaAddress(groupKey)
    const good = buildTransfer(input()).message
    const source = createNoopSigner(address(from))
    const transfer = (lamports: bigint): Instruction => getTransferSolInstruction({ source, destination: address(to), amount: lamports })

    expectRefusal(() => decodeTransfer(otherMessage(from, [transfer(1n), transfer(2n)])), /exactly one instruction \(found 2\)/)
    expectRefusal(() => decodeTransfer(otherMessage(from, [])), /exactly one instruction \(found 0\)/)
    // the same accounts and data, sent to another program
    const memo = address('MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr')
    const lookalike = { ...transfer(42n), programAddress: memo }
    expectRefusal(() => decodeTransfer(otherMessage(from, [lookalike])), /calls program MemoSq4g.*not the System Program/)
    const create = getCreateAccountInstruction({ payer: source, newAccount: createNoopSigner(address(to)), lamports: 42n, space: 0, programAddress: memo })
    expectRefusal(() => decodeTransfer(otherMessage(from, [create])), /CreateAccount, not Transfer/)
    const assign = getAssignInstruction({ account: source, programAddress: memo })
    expectRefusal(() => decodeTransfer(otherMessage(from, [assign])), /Assign, not Transfer/)
    // a transfer whose source is another signer than the fee payer: two signers
    const other = freshAddress()
    const foreign = getTransferSolInstruction({ source: createNoopSigner(address(other)), destination: address(to), amount: 42n })
    expectRefusal(() => decodeTransfer(otherMessage(from, [foreign])), /exactly one signer, the fee payer \(found 2\)/)
    // a transfer with an extra (read-only) account appended
    const extra = { ...transfer(42n), accounts: [...(transfer(42n).accounts ?? []), { address: address(other), role: AccountRole.READONLY }] }
    expectRefusal(() => decodeTransfer(otherMessage(from, [extra])), /exactly 3 accounts/)
    // a v0 message with the same transfer
    expectRefusal(() => decodeTransfer(otherMessage(from, [transfer(42n)], 0)), /versioned \(v0\)/)
    // control: kit's own legacy compilation of the same transfer is accepted, and is our bytes
    expect(otherMessage(from, [transfer(42n)])).toEqual(good)

    const edit = (at: number, value: number): Uint8Array => {
      const m = Uint8Array.from(good)
      m[at] = value
      return m
    }
    expectRefusal(() => decodeTransfer(edit(1, 1)), /fee payer must be writable/) // from read-only
    expectRefusal(() => decodeTransfer(edit(2, 2)), /flags do not match a transfer/) // to read-only
    expectRefusal(() => decodeTransfer(edit(2, 0)), /flags do not match a transfer/) // System Program writable
    expectRefusal(() => decodeTransfer(edit(0, 2)), /one signer/)
    expectRefusal(() => decodeTransfer(edit(135, 1)), /accounts must be \[from, to\] = \[0, 1\] \(found \[1, 1\]\)/)
    expectRefusal(() => decodeTransfer(edit(132 + 6, 1)), /Assign, not Transfer/) // discriminator byte of the data
    expectRefusal(() => decodeTransfer(edit(132 + 6, 77)), /not a known System Program instruction/)
    expectRefusal(() => decodeTransfer(edit(132 + 10, 0)), /zero-lamport/)
    expectRefusal(() => decodeTransfer(edit(0, 0x80)), /versioned \(v0\)/)

    expectRefusal(() => decodeTransfer(Uint8Array.from([...good, 0])), /1 trailing byte/)
    for (const n of [0, 1, 3, 4, 35, 99, 131, 132, 140, 149]) {
      expectRefusal(() => decodeTransfer(good.subarray(0, n)), n === 0 ? /empty/ : /truncated/)
    }
    expectRefusal(() => decodeTransfer(new Uint8Array(2000)), /too long/)
    expectRefusal(() => decodeTransfer('AQAB' as unknown as Uint8Array), /must be bytes/)
  })

  it('decodeTransfer on every one-byte change: a clear refusal, or exactly the transfer those bytes describe', () => {
    const good = buildTransfer(input()).message
    let refused = 0
    let accepted = 0
    for (let at = 0; at < good.length; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const m = Uint8Array.from(good)
        m[at] = (m[at] ?? 0) ^ mask
        let decoded
        try {
          decoded = decodeTransfer(m)
        } catch (err) {
          expect(err).toBeInstanceOf(WalletInputError)
          refused++
          continue
        }
        accepted++
        expect(buildTransfer(decoded).message).toEqual(m)
        expect(decoded).not.toEqual(decodeTransfer(good))
      }
    }
    expect(refused).toBeGreaterThan(0)
    expect(accepted).toBeGreaterThan(0)
  })

  it('buildTransfer refuses bad input with WalletInputError', () => {
    const from = solanaAddress(groupKey)
    const cases: Array<[Partial<Record<keyof SolanaTransferInput, unknown>>, RegExp]> = [
      [{ to: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB40' }, /to is not base58/], // 0 is not in the alphabet
      [{ to: 'I' + to.slice(1) }, /to is not base58/],
      [{ to: '' }, /to must decode to 32 bytes \(got 0\)/],
      [{ to: base58.encode(new Uint8Array(31).fill(7)) }, /to must decode to 32 bytes \(got 31\)/],
      [{ to: base58.encode(Uint8Array.from([...new Uint8Array(32), 1])) }, /to must decode to 32 bytes \(got 33\)/],
      [{ to: 42 }, /to must be a base58 string/],
      [{ to: '2'.repeat(100_000) }, /to is too long for 32 bytes/],
      [{ from: groupKey.subarray(0, 31) }, /from: an Ed25519 public key is 32 bytes \(got 31\)/],
      [{ from: new Uint8Array(33) }, /got 33/],
      [{ from: 'not*base58' }, /from is not base58/],
      [{ from: base58.encode(Uint8Array.from([1, ...new Uint8Array(31)])) }, /cannot sign|can sign/], // the identity point
      [{ from: Uint8Array.from([1, ...new Uint8Array(31)]) }, /can sign/],
      [{ lamports: 0n }, /1\.\.2\^64-1 \(got 0\)/],
      [{ lamports: -1n }, /got -1/],
      [{ lamports: 1n << 64n }, /got 18446744073709551616/],
      [{ lamports: 42 }, /lamports must be a bigint \(got number\)/],
      [{ blockhash: 'xyz0' }, /blockhash is not base58/],
      [{ blockhash: base58.encode(new Uint8Array(31).fill(9)) }, /blockhash must decode to 32 bytes \(got 31\)/],
      [{ blockhash: undefined }, /blockhash must be a base58 string/],
      [{ to: from }, /same address/],
      [{ from, to: from }, /same address/],
      [{ to: SYSTEM_PROGRAM_ADDRESS }, /System Program cannot receive/]
    ]
    for (const [change, pattern] of cases) {
      expectRefusal(() => buildTransfer({ ...input(), ...change } as SolanaTransferInput), pattern)
    }
    expectRefusal(() => buildTransfer(null as unknown as SolanaTransferInput), /must be an object/)
  })

  it('assembleTransfer refuses a short signature, a wrong one, and a message that is not a transfer', () => {
    const { message } = buildTransfer(input())
    const [h1, h2] = holders
    if (h1 === undefined || h2 === undefined) throw new Error('holders')
    const sig = thresholdSign('ed25519', [h1, h2], message)
    expect(assembleTransfer(message, sig).signature).toBe(base58.encode(sig))
    expectRefusal(() => assembleTransfer(message, sig.subarray(0, 63)), /64 bytes \(got 63 bytes\)/)
    expectRefusal(() => assembleTransfer(message, new Uint8Array(64)), /does not verify/)
    expectRefusal(() => assembleTransfer(Uint8Array.from([...message, 0]), sig), /trailing/)
  })
})
