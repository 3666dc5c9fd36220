import { constants } from 'node:fs'
import { access, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { base58 } from '@scure/base'
import { type Command, InvalidArgumentError, Option } from 'commander'
import type { BitcoinTxView, WalletOptions } from '../coordinator/client.js'
import { NETWORKS } from '../coordinator/requests.js'
import { formatHdPath, parseHdPath, type BitcoinNetwork } from '../crypto/index.js'
import type { RequestSigner } from '../protocols/policy.js'
import { ConfigError } from '../runtime/config.js'
import { writeFileAtomic } from '../store/files.js'
import { printable } from '../terminal.js'
import { addressScript, dustThreshold, MAX_FEE_RATE, MAX_MONEY, type Utxo } from '../wallet/bitcoin.js'
import { WalletInputError } from '../wallet/errors.js'
import { SOLANA_KEY_BYTES, SOLANA_MAX_LAMPORTS } from '../wallet/solana.js'
import { MAX_TRANSACTION_BYTES } from '../wallet/spend.js'
import { type ApiFlags, clientOf, UsageError, withApiOptions } from './options.js'
import { openSigningKey } from './signers.js'

/** `mpc-wallet btc address|sign-psbt|send` and `sol address|transfer`: a key's addresses, and the transactions it signs. */
export function registerWallet (program: Command): void {
  addBitcoin(program.command('btc').description('Bitcoin: a Taproot key\'s address, and the PSBTs and spends it signs'))
  addSolana(program.command('sol').description('Solana: an Ed25519 key\'s address, and the SOL transfers it signs'))
}

interface ClientFlags { client: string, clientKey: string, passphraseFile?: string }
interface KeyFlags { key: string, path?: string, json?: boolean }
interface OutFlags { out?: string }

/** A whole amount from 1 to `max`, as a bigint (lamports pass 2^53). */
function amount (flag: string, max: bigint) {
  return (value: string): bigint => {
    if (!/^[0-9]{1,20}$/.test(value) || BigInt(value) < 1n || BigInt(value) > max) throw new InvalidArgumentError(`${flag} takes a whole number from 1 to ${max}, not "${value}"`)
    return BigInt(value)
  }
}

function feeRate (value: string): number {
  const n = Number(value)
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || n <= 0 || n > MAX_FEE_RATE) throw new InvalidArgumentError(`--fee-rate takes sat/vB, a number above 0 and at most ${MAX_FEE_RATE}, not "${value}"`)
  return n
}

/** `--utxo TXID:VOUT:SATS`, repeatable; the same coin twice is refused. */
function utxo (value: string, previous: Utxo[] | undefined): Utxo[] {
  const m = /^([0-9a-fA-F]{64}):([0-9]{1,10}):([0-9]{1,16})$/.exec(value)
  if (m === null || Number(m[2]) > 0xffffffff || BigInt(m[3]!) < 1n || BigInt(m[3]!) > MAX_MONEY) {
    throw new InvalidArgumentError(`--utxo takes TXID:VOUT:SATS (the coin's transaction id, output index and satoshis), not "${value}"`)
  }
  const coin = { txid: m[1]!.toLowerCase(), vout: Number(m[2]), amount: BigInt(m[3]!) }
  if (previous?.some(p => p.txid === coin.txid && p.vout === coin.vout) === true) throw new InvalidArgumentError(`--utxo ${coin.txid}:${coin.vout} is given twice`)
  return [...(previous ?? []), coin]
}

/** A Solana address or blockhash: base58 of 32 bytes. */
function base58Key (flag: string) {
  return (value: string): string => {
    let bytes: Uint8Array | undefined
    try { bytes = base58.decode(value) } catch { bytes = undefined }
    if (bytes?.length !== SOLANA_KEY_BYTES) throw new InvalidArgumentError(`${flag} takes base58 of ${SOLANA_KEY_BYTES} bytes, not "${value}"`)
    return value
  }
}

/** An HD path as nodes compare it (m/0/5). */
function hdPath (value: string): string {
  try {
    return formatHdPath(parseHdPath(value))
  } catch (err) {
    throw new InvalidArgumentError(`--path: ${(err as Error).message}`)
  }
}

/** The output script of a Bitcoin address of `network`; another network's address, or none, is the flag's error. */
function bitcoinScript (flag: string, address: string, network: BitcoinNetwork): Uint8Array {
  try {
    return addressScript(address, network)
  } catch (err) {
    if (err instanceof WalletInputError) throw new UsageError(`${flag}: ${err.message}`)
    throw err
  }
}

const walletOptions = (opts: { path?: string }): WalletOptions => opts.path === undefined ? {} : { path: opts.path }

/** --key and --path, and the client's flags when the command signs. */
function withKeyOptions (cmd: Command, signs: boolean): Command {
  withApiOptions(cmd)
    .requiredOption('--key <id>', 'key id')
    .option('--path <path>', 'an HD key: its child at this unhardened path, e.g. m/0/5', hdPath)
  if (signs) {
    cmd.requiredOption('--client <name>', 'the client\'s name in the policy')
      .requiredOption('--client-key <file>', 'the client\'s key file: it signs the request every node checks')
      .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
  }
  return cmd
}

const networkOption = (): Option => new Option('--network <network>', 'Bitcoin network of the addresses').choices(NETWORKS).default('mainnet')

async function requestSigner (opts: ClientFlags): Promise<RequestSigner> {
  const key = await openSigningKey(opts.clientKey, '--client-key', opts.passphraseFile)
  return { client: opts.client, sign: key.sign }
}

/** --out's directory must take the file before anything is signed: a signature is not asked for twice. */
async function checkOut (out: string | undefined): Promise<void> {
  if (out === undefined) return
  try {
    await access(dirname(out), constants.W_OK)
  } catch (err) {
    throw new UsageError(`--out: cannot write in ${dirname(out)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}

/** The address of --key (or its child at --path), a key of `scheme`: another scheme is --key's error. */
async function addressOf (opts: ApiFlags & KeyFlags, scheme: 'taproot' | 'ed25519', network?: BitcoinNetwork): Promise<{ address: string }> {
  const api = await clientOf(opts)
  const key = await api.key(opts.key, network)
  if (key.scheme !== scheme) {
    throw new UsageError(`--key: key ${opts.key} is a ${key.scheme} key; ${scheme === 'taproot' ? 'Bitcoin needs a taproot key (for this one: mpc-wallet sol)' : 'Solana needs an ed25519 key (for this one: mpc-wallet btc)'}`)
  }
  const { address } = opts.path === undefined ? key : await api.derive(opts.key, opts.path, network)
  if (address === undefined) throw new ConfigError(`the coordinator shows no address for key ${opts.key}`)
  return { address }
}

/** The signed transaction: `txid`, the hex (or --out), the fee; or the JSON. */
async function printBitcoin (tx: BitcoinTxView, opts: { json?: boolean } & OutFlags): Promise<void> {
  if (opts.out !== undefined) {
    try {
      await writeFileAtomic(opts.out, `${tx.hex}\n`, 0o644)
    } catch (err) {
      throw new ConfigError(`--out: cannot write ${opts.out} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the transaction ${tx.txid} is signed: ${tx.hex}`)
    }
  }
  if (opts.json === true) {
    console.log(JSON.stringify(tx))
    return
  }
  console.log(printable(`txid ${tx.txid}`))
  if (opts.out === undefined) console.log(printable(tx.hex))
  console.log(printable(`fee ${tx.fee} sats, vsize ${tx.vsize} vB (${(Number(tx.fee) / tx.vsize).toFixed(2)} sat/vB)${opts.out !== undefined ? `, transaction written to ${opts.out}` : ''}`))
}

/** The first bytes of every PSBT (BIP-174): "psbt" 0xff. */
const PSBT_MAGIC = Buffer.from('70736274ff', 'hex')

/** A PSBT file's bytes: binary, or base64 or hex text (as Bitcoin Core and Sparrow write them); `-` is stdin. */
async function readPsbt (file: string): Promise<Uint8Array> {
  const name = file === '-' ? 'stdin' : file
  let raw: Buffer
  try {
    raw = file === '-' ? Buffer.concat(await process.stdin.toArray() as Buffer[]) : await readFile(file)
  } catch (err) {
    throw new ConfigError(`--psbt: cannot read ${name} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  const text = raw.subarray(0, PSBT_MAGIC.length).equals(PSBT_MAGIC) ? undefined : raw.toString('latin1').replace(/\s+/g, '')
  const psbt = text === undefined
    ? raw
    : /^([0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : undefined
  if (psbt?.subarray(0, PSBT_MAGIC.length).equals(PSBT_MAGIC) !== true) throw new UsageError(`--psbt: ${name} is not a PSBT (binary, base64 or hex)`)
  if (psbt.length > MAX_TRANSACTION_BYTES) throw new UsageError(`--psbt: the PSBT is ${psbt.length} bytes, at most ${MAX_TRANSACTION_BYTES}: split it into smaller ones`)
  return psbt
}

function addBitcoin (btc: Command): void {
  withKeyOptions(btc.command('address'), false)
    .description('the P2TR address of a Taproot key (or of its HD child at --path)')
    .addOption(networkOption())
    .option('--json', 'print {keyId, path, network, address} as JSON')
    .action(async (opts: ApiFlags & KeyFlags & { network: BitcoinNetwork }) => {
      const { address } = await addressOf(opts, 'taproot', opts.network)
      console.log(opts.json === true ? JSON.stringify({ keyId: opts.key, path: opts.path ?? 'm', network: opts.network, address }) : printable(address))
    })
  withKeyOptions(btc.command('sign-psbt'), true)
    .description('sign every input of the key\'s in a PSBT (from Bitcoin Core, Sparrow…) and finalise it: prints the transaction to broadcast')
    .requiredOption('--psbt <file>', 'the PSBT: binary, base64 or hex; - reads stdin')
    .addOption(networkOption())
    .option('--out <file>', 'write the transaction\'s hex to this file instead of printing it')
    .option('--json', 'print the signed transaction as JSON (txid, hex, fee, outputs, prevouts)')
    .action(async (opts: ApiFlags & KeyFlags & ClientFlags & OutFlags & { psbt: string, network: BitcoinNetwork }) => {
      await checkOut(opts.out)
      const psbt = await readPsbt(opts.psbt)
      const signer = await requestSigner(opts)
      await printBitcoin(await (await clientOf(opts)).bitcoinPsbtAs(signer, opts.key, psbt, opts.network, undefined, walletOptions(opts)), opts)
    })
  withKeyOptions(btc.command('send'), true)
    .description('spend the key\'s coins: --amount to --to, change back to the key (or --change), every --utxo spent')
    .requiredOption('--utxo <txid:vout:sats>', 'a coin of the key\'s to spend (repeat for more)', utxo)
    .requiredOption('--to <address>', 'the address paid')
    .requiredOption('--amount <sats>', 'satoshis to --to', amount('--amount', MAX_MONEY))
    .requiredOption('--fee-rate <sat/vB>', 'fee rate in sat/vB', feeRate)
    .option('--change <address>', 'where the change goes (default: the key\'s own address)')
    .addOption(networkOption())
    .option('--out <file>', 'write the transaction\'s hex to this file instead of printing it')
    .option('--json', 'print the signed transaction as JSON (txid, hex, fee, outputs, prevouts)')
    .action(async (opts: ApiFlags & KeyFlags & ClientFlags & OutFlags & { utxo: Utxo[], to: string, amount: bigint, feeRate: number, change?: string, network: BitcoinNetwork }) => {
      const dust = dustThreshold(bitcoinScript('--to', opts.to, opts.network))
      if (opts.amount < dust) throw new UsageError(`--amount: ${opts.amount} sats is below the dust threshold of ${dust} sats for --to's address type (the network would not relay it)`)
      if (opts.change !== undefined) bitcoinScript('--change', opts.change, opts.network)
      await checkOut(opts.out)
      const signer = await requestSigner(opts)
      const spend = { network: opts.network, utxos: opts.utxo, to: opts.to, amount: opts.amount, feeRate: opts.feeRate, ...(opts.change !== undefined ? { change: opts.change } : {}) }
      await printBitcoin(await (await clientOf(opts)).bitcoinSendAs(signer, opts.key, spend, undefined, walletOptions(opts)), opts)
    })
}

function addSolana (sol: Command): void {
  withKeyOptions(sol.command('address'), false)
    .description('the Solana address of an Ed25519 key (or of its HD child at --path)')
    .option('--json', 'print {keyId, path, address} as JSON')
    .action(async (opts: ApiFlags & KeyFlags) => {
      const { address } = await addressOf(opts, 'ed25519')
      console.log(opts.json === true ? JSON.stringify({ keyId: opts.key, path: opts.path ?? 'm', address }) : printable(address))
    })
  withKeyOptions(sol.command('transfer'), true)
    .description('transfer SOL from the key (it pays the fee): prints the signed transaction to send')
    .requiredOption('--to <address>', 'the address paid (base58)', base58Key('--to'))
    .requiredOption('--lamports <n>', 'lamports to --to', amount('--lamports', SOLANA_MAX_LAMPORTS))
    .requiredOption('--blockhash <hash>', 'a recent blockhash (base58), e.g. from getLatestBlockhash', base58Key('--blockhash'))
    .option('--json', 'print the signed transfer as JSON (signature, base64, from, to, lamports)')
    .action(async (opts: ApiFlags & KeyFlags & ClientFlags & { to: string, lamports: bigint, blockhash: string }) => {
      const signer = await requestSigner(opts)
      const tx = await (await clientOf(opts)).solanaTransferAs(signer, opts.key, { to: opts.to, lamports: opts.lamports, blockhash: opts.blockhash }, undefined, walletOptions(opts))
      if (opts.json === true) {
        console.log(JSON.stringify(tx))
        return
      }
      console.log([`signature ${tx.signature}`, tx.base64, `${tx.lamports} lamports from ${tx.from} to ${tx.to}`].map(printable).join('\n'))
    })
}
