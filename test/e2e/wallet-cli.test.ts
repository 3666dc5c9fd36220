import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { schnorr } from '@noble/curves/secp256k1.js'
import { base58 } from '@scure/base'
import { address, lamports } from '@solana/kit'
import { LiteSVM, TransactionMetadata } from 'litesvm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchCluster, ProcessGroup, SIM_CLIENT, type LocalCluster } from '../../scripts/processes.js'
import type { BitcoinTxView } from '../../src/coordinator/client.js'
import type { KeyView } from '../../src/coordinator/requests.js'
import { taprootAddress } from '../../src/wallet/bitcoin.js'
import { bitcoreCheck, fromWire } from '../chain-checks.js'
import { tempDir } from '../helpers.js'
import { CLI, ROOT, runNode, type RunResult } from './cli.js'

const cli = async (...args: string[]): Promise<RunResult> => await runNode([CLI, ...args], 60_000)

/** The CLI with `input` on its stdin. */
async function cliWithInput (input: string, ...args: string[]): Promise<RunResult> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdin.end(input)
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  return { code, stdout, stderr }
}

/** Refused: a non-zero exit, `pattern` on stderr, no stack trace, and no transaction on stdout. */
function expectRefused (result: RunResult, pattern: RegExp): void {
  expect(result.code, result.stderr).not.toBe(0)
  expect(result.stderr).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at /)
  expect(result.stdout).toBe('')
}

const otherAddress = (network: 'mainnet' | 'regtest'): string => taprootAddress(schnorr.getPublicKey(schnorr.utils.randomSecretKey()), network)
const coin = (sats: number): string => `${randomBytes(32).toString('hex')}:0:${sats}`
const prevoutsOf = (tx: BitcoinTxView): Array<{ script: Buffer, amount: bigint }> => tx.prevouts.map(p => ({ script: Buffer.from(p.script, 'hex'), amount: BigInt(p.amount) }))

describe('btc and sol through the CLI, against a real coordinator and three node processes', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let group: ProcessGroup
  let cluster: LocalCluster
  let btcKey: KeyView
  let solKey: KeyView
  const api = (): string[] => ['--coordinator-dir', cluster.coordinatorDir]
  const asClient = (): string[] => [...api(), '--client', SIM_CLIENT, '--client-key', cluster.clientKeyFile, '--passphrase-file', cluster.keyPassphraseFile]

  beforeAll(async () => {
    dir = await tempDir('mpcw-wallet-cli-')
    group = new ProcessGroup(join(dir.path, 'logs'))
    cluster = await launchCluster(group, dir.path, { nodes: 3, heartbeatMs: 200, joinDeadlineMs: 30_000 })
    ;[btcKey, solKey] = await Promise.all([
      cluster.api.keygen({ scheme: 'taproot', threshold: 2, parties: 3, network: 'regtest' }),
      cluster.api.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    ])
  })
  afterAll(async () => {
    await group?.stopAll()
    await dir?.[Symbol.asyncDispose]()
  })

  it('shows each key\'s address, and refuses a key of the other chain', async () => {
    const [btc, btcJson, sol, wrongForBtc, wrongForSol] = await Promise.all([
      cli('btc', 'address', ...api(), '--key', btcKey.id, '--network', 'regtest'),
      cli('btc', 'address', ...api(), '--key', btcKey.id, '--network', 'regtest', '--json'),
      cli('sol', 'address', ...api(), '--key', solKey.id),
      cli('btc', 'address', ...api(), '--key', solKey.id),
      cli('sol', 'address', ...api(), '--key', btcKey.id)
    ])
    expect(btc.code, btc.stderr).toBe(0)
    expect(btc.stdout.trim()).toBe(btcKey.address)
    expect(btcKey.address).toMatch(/^bcrt1p/)
    expect(JSON.parse(btcJson.stdout)).toEqual({ keyId: btcKey.id, path: 'm', network: 'regtest', address: btcKey.address })
    expect(sol.stdout.trim()).toBe(solKey.address)
    expectRefused(wrongForBtc, /--key: key .* is a ed25519 key; Bitcoin needs a taproot key/)
    expectRefused(wrongForSol, /--key: key .* is a taproot key; Solana needs an ed25519 key/)
  })

  it('sends from invented coins and signs PSBTs from a file and from stdin: bitcore\'s interpreter accepts every transaction', async () => {
    const to = otherAddress('regtest')
    const sent = await cli('btc', 'send', ...asClient(), '--key', btcKey.id, '--network', 'regtest', '--utxo', coin(100_000), '--to', to, '--amount', '40000', '--fee-rate', '2', '--json')
    expect(sent.code, sent.stderr).toBe(0)
    const tx = JSON.parse(sent.stdout) as BitcoinTxView
    // What left the key: the payment and its fee.
    expect(tx).toMatchObject({ chain: 'bitcoin', keyId: btcKey.id, network: 'regtest', from: btcKey.address, amount: String(40_000 + Number(tx.fee)) })
    expect(tx.outputs).toEqual([{ to, amount: '40000', ours: false }, { to: btcKey.address, amount: String(100_000 - 40_000 - Number(tx.fee)), ours: true }])
    expect(Number(tx.fee)).toBe(Math.ceil(tx.vsize * 2))
    expect(bitcoreCheck(tx.hex, prevoutsOf(tx))).toEqual([''])
    expect(bitcoreCheck(tx.hex, prevoutsOf(tx), t => { t.outputs[0]!.satoshis -= 1 })).toEqual(['failed'])

    // Unsigned PSBTs as a wallet writes them: base64 in a file, hex on stdin.
    const spend = { network: 'regtest' as const, to, amount: 30_000n, feeRate: 2 }
    const utxo = (): { txid: string, vout: number, amount: bigint } => ({ txid: randomBytes(32).toString('hex'), vout: 1, amount: 50_000n })
    const [fromFile, fromStdin] = await Promise.all([utxo(), utxo()].map(async u => (await cluster.api.bitcoinBuild(btcKey.id, { ...spend, utxos: [u] })).psbt))
    const psbtFile = join(dir.path, 'unsigned.psbt')
    await writeFile(psbtFile, `${fromFile!}\n`)
    const signed = await cli('btc', 'sign-psbt', ...asClient(), '--key', btcKey.id, '--network', 'regtest', '--psbt', psbtFile)
    expect(signed.code, signed.stderr).toBe(0)
    const [txidLine, hex, feeLine] = signed.stdout.trim().split('\n')
    expect(txidLine).toMatch(/^txid [0-9a-f]{64}$/)
    expect(feeLine).toMatch(/^fee \d+ sats, vsize \d+ vB/)
    const prevout = [{ script: Buffer.from(tx.prevouts[0]!.script, 'hex'), amount: 50_000n }]
    expect(bitcoreCheck(hex!, prevout)).toEqual([''])

    const out = join(dir.path, 'signed.hex')
    const piped = await cliWithInput(Buffer.from(fromStdin!, 'base64').toString('hex'), 'btc', 'sign-psbt', ...asClient(), '--key', btcKey.id, '--network', 'regtest', '--psbt', '-', '--out', out, '--json')
    expect(piped.code, piped.stderr).toBe(0)
    const pipedTx = JSON.parse(piped.stdout) as BitcoinTxView
    expect((await readFile(out, 'utf8')).trim()).toBe(pipedTx.hex)
    expect(bitcoreCheck(pipedTx.hex, prevoutsOf(pipedTx))).toEqual([''])
  })

  it('transfers SOL: LiteSVM, with signature verification and the blockhash check on, executes the transaction', async () => {
    const svm = new LiteSVM().withSigverify(true).withBlockhashCheck(true)
    expect(svm.airdrop(address(solKey.address!), lamports(10_000_000_000n))).toBeInstanceOf(TransactionMetadata)
    const to = base58.encode(randomBytes(32))
    const sent = await cli('sol', 'transfer', ...asClient(), '--key', solKey.id, '--to', to, '--lamports', '1500000000', '--blockhash', svm.latestBlockhash())
    expect(sent.code, sent.stderr).toBe(0)
    const [signatureLine, base64] = sent.stdout.trim().split('\n')
    const wire = Uint8Array.from(Buffer.from(base64!, 'base64'))
    // One signature (compact length 1, then 64 bytes): the transaction id printed.
    expect(signatureLine).toBe(`signature ${base58.encode(wire.subarray(1, 65))}`)
    expect(svm.sendTransaction(fromWire(wire))).toBeInstanceOf(TransactionMetadata)
    expect(svm.getBalance(address(to))).toBe(1_500_000_000n)
  })

  it('refuses bad input with a clear message on stderr and prints no transaction', async () => {
    const notPsbt = join(dir.path, 'not.psbt')
    await writeFile(notPsbt, 'this is not a PSBT\n')
    const send = (...args: string[]): Promise<RunResult> => cli('btc', 'send', ...asClient(), '--key', btcKey.id, '--network', 'regtest', '--fee-rate', '2', ...args)
    const [psbt, dust, wrongNetwork, uncovered, blockhash, badUtxo] = await Promise.all([
      cli('btc', 'sign-psbt', ...asClient(), '--key', btcKey.id, '--network', 'regtest', '--psbt', notPsbt),
      send('--utxo', coin(100_000), '--to', otherAddress('regtest'), '--amount', '1'),
      send('--utxo', coin(100_000), '--to', otherAddress('mainnet'), '--amount', '40000'),
      send('--utxo', coin(10_000), '--to', otherAddress('regtest'), '--amount', '40000'),
      cli('sol', 'transfer', ...asClient(), '--key', solKey.id, '--to', base58.encode(randomBytes(32)), '--lamports', '1000', '--blockhash', 'not-a-blockhash'),
      send('--utxo', 'abc:0:100', '--to', otherAddress('regtest'), '--amount', '40000')
    ])
    expectRefused(psbt, /--psbt: .*not\.psbt is not a PSBT/)
    expectRefused(dust, /--amount: 1 sats is below the dust threshold of 330 sats/)
    expectRefused(wrongNetwork, /--to: address .* is a mainnet address, not regtest/)
    expectRefused(uncovered, /400 .*do not cover the amount/)
    expectRefused(blockhash, /--blockhash takes base58 of 32 bytes/)
    expectRefused(badUtxo, /--utxo takes TXID:VOUT:SATS/)
  })
})
