/**
 * `npm run bench -- --wallet`: transactions (issue 15) timed on a cluster of processes on
 * loopback, at each size's default t-of-n (3-of-5 at 5 nodes, 10-of-20 at 20), from the client's
 * call to the signed transaction: a Bitcoin spend of one coin (build, the client's own check of
 * the build, one threshold signature whose sighash every holder computes from the PSBT,
 * finalising), a PSBT of 5 coins (5 signatures under one request), and a Solana transfer. The
 * baseline, measured in the same run on the same keys: a plain signature of a 32-byte digest
 * (Taproot) or of a 150-byte message (Ed25519) through the same API. Every transaction is
 * checked by the chain's own rules: bitcore-lib's interpreter, LiteSVM.
 */
import { createHash, randomBytes } from 'node:crypto'
import { schnorr } from '@noble/curves/secp256k1.js'
import { base58 } from '@scure/base'
import { address, lamports } from '@solana/kit'
import { LiteSVM, TransactionMetadata } from 'litesvm'
import { buildSpend, taprootAddress } from '../src/wallet/bitcoin.js'
import { bitcoreCheck, fromWire } from './chain-checks.js'
import { median, onCluster, parseSizeOptions, thresholdFor } from './bench-sizes.js'

const USAGE = `usage: npm run bench -- --wallet [options]
  --sizes N,N,...   cluster sizes (default 5: a 3-of-5 key; 5,20 adds 10-of-20)
  --reps N          timed runs of each operation; the median is reported (default 5)
  --json            make the last line a JSON object`

const say = (line: string): void => { console.log(`[wallet] ${line}`) }

interface Row { size: number, threshold: number, signTaprootMs: number, signEd25519Ms: number, btcSendMs: number, btcPsbt5Ms: number, solTransferMs: number }

export async function benchWallet (argv: string[]): Promise<number> {
  const opts = parseSizeOptions(argv, 'wallet', USAGE, { sizes: '5', reps: '5' })
  if (typeof opts === 'number') return opts
  const { sizes, reps } = opts
  const rows: Row[] = []
  for (const size of sizes) {
    await onCluster('wallet', size, async cluster => {
      const { api, client } = cluster
      const { clusterId } = await api.cluster()
      const threshold = thresholdFor(size)
      const taproot = await api.keygen({ scheme: 'taproot', threshold, parties: size, network: 'regtest' })
      const ed25519 = await api.keygen({ scheme: 'ed25519', threshold, parties: size })
      say(`${size} nodes up; keys ${threshold}-of-${size}`)
      const timed = async (what: string, run: (i: number) => Promise<void>): Promise<number> => {
        await run(-1) // one untimed run: connections and pools warm
        const samples: number[] = []
        for (let i = 0; i < reps; i++) {
          const t0 = performance.now()
          await run(i)
          samples.push(performance.now() - t0)
        }
        say(`${threshold}-of-${size} ${what}: median ${median(samples)} ms over ${reps}`)
        return median(samples)
      }
      const digest = (i: number): string => createHash('sha256').update(`bench ${i} ${Date.now()}`).digest('hex')
      const to = (): string => taprootAddress(schnorr.getPublicKey(schnorr.utils.randomSecretKey()), 'regtest')
      const coin = (amount: bigint): { txid: string, vout: number, amount: bigint } => ({ txid: randomBytes(32).toString('hex'), vout: 0, amount })
      const checked = (hex: string, prevouts: Array<{ script: string, amount: string }>): void => {
        const verdicts = bitcoreCheck(hex, prevouts.map(p => ({ script: Buffer.from(p.script, 'hex'), amount: BigInt(p.amount) })))
        if (verdicts.some(v => v !== '')) throw new Error(`bitcore refuses a benchmark transaction: ${verdicts.join(', ')}`)
      }
      const signTaprootMs = await timed('taproot sign of a 32-byte digest (baseline)', async i => { await api.signAs(client, taproot.id, digest(i), clusterId) })
      const signEd25519Ms = await timed('ed25519 sign of a 150-byte message (baseline)', async () => { await api.signAs(client, ed25519.id, randomBytes(150).toString('hex'), clusterId) })
      const btcSendMs = await timed('btc send, 1 coin', async () => {
        const signed = await api.bitcoinSendAs(client, taproot.id, { network: 'regtest', utxos: [coin(100_000n)], to: to(), amount: 40_000n, feeRate: 2 }, clusterId)
        checked(signed.hex, signed.prevouts)
      })
      const btcPsbt5Ms = await timed('btc sign-psbt, 5 coins', async () => {
        const psbt = buildSpend({ groupKey: Buffer.from(taproot.xOnlyPublicKey!, 'hex'), network: 'regtest', utxos: Array.from({ length: 5 }, () => coin(30_000n)), to: to(), amount: 100_000n, feeRate: 2 })
        const signed = await api.bitcoinPsbtAs(client, taproot.id, psbt, 'regtest', clusterId)
        checked(signed.hex, signed.prevouts)
      })
      const svm = new LiteSVM().withSigverify(true).withBlockhashCheck(true)
      svm.airdrop(address(ed25519.address!), lamports(1_000_000_000_000n))
      const solTransferMs = await timed('sol transfer', async () => {
        const recipient = address(base58.encode(randomBytes(32)))
        svm.expireBlockhash()
        const signed = await api.solanaTransferAs(client, ed25519.id, { to: recipient, lamports: 1_000_000n, blockhash: svm.latestBlockhash() }, clusterId)
        if (!(svm.sendTransaction(fromWire(Buffer.from(signed.base64, 'base64'))) instanceof TransactionMetadata)) throw new Error('LiteSVM refuses a benchmark transfer')
      })
      rows.push({ size, threshold, signTaprootMs, signEd25519Ms, btcSendMs, btcPsbt5Ms, solTransferMs })
    })
  }
  console.log('')
  console.log('t-of-n    taproot sign   btc send, 1 coin (÷sign)   btc PSBT, 5 coins (÷5 signs)   ed25519 sign   sol transfer (÷sign)')
  for (const r of rows) {
    const ratio = (ms: number, base: number): string => (ms / base).toFixed(2)
    console.log(`${`${r.threshold}-of-${r.size}`.padEnd(9)} ${`${r.signTaprootMs} ms`.padStart(12)}   ${`${r.btcSendMs} ms (${ratio(r.btcSendMs, r.signTaprootMs)})`.padEnd(24)}   ${`${r.btcPsbt5Ms} ms (${ratio(r.btcPsbt5Ms, 5 * r.signTaprootMs)})`.padEnd(28)}   ${`${r.signEd25519Ms} ms`.padStart(12)}   ${r.solTransferMs} ms (${ratio(r.solTransferMs, r.signEd25519Ms)})`)
  }
  console.log('median at the client, from the call to the signed transaction (build, the client\'s check, every signature, finalising); baseline: a plain signature through the same API, same keys, same run; every transaction accepted by bitcore-lib\'s interpreter or executed by LiteSVM')
  if (opts.json) console.log(JSON.stringify({ ok: true, rows }))
  return 0
}
