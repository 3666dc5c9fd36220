import { randomBytes } from 'node:crypto'
import { schnorr } from '@noble/curves/secp256k1.js'
import { base58 } from '@scure/base'
import { address, lamports } from '@solana/kit'
import { LiteSVM, TransactionMetadata } from 'litesvm'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { p2tr, Transaction } from '@scure/btc-signer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskError } from '../../src/coordinator/errors.js'
import { sendCommand } from '../../src/protocols/command.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode } from '../../src/protocols/messages.js'
import { encodeDocument, newSignedRequest, parsePolicy, type Policy, type SignedRequest } from '../../src/protocols/policy.js'
import type { KeyRecord } from '../../src/state/key-registry.js'
import { deriveHdChild, parseHdPath } from '../../src/crypto/index.js'
import { taprootAddress, taprootScript, taprootSighashes } from '../../src/wallet/bitcoin.js'
import type { TransactionRef } from '../../src/wallet/spend.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { bitcoreCheck, expectSignatureFailure, fromWire } from '../chain-checks.js'
import { firstPolicy, signedPolicy, startCluster, TEST_CLIENT, waitAllUp, waitFor, type TestCluster } from '../helpers.js'

/**
 * Issue 15 on real nodes over TCP: a Taproot key spends coins in a PSBT and an Ed25519 key makes a
 * Solana transfer; bitcore-lib's interpreter and LiteSVM (signature verification on) accept what
 * the cluster signed and refuse it altered. Every holder reads the transaction itself: a
 * coordinator that asks for another digest, another transaction, or the sighash as plain bytes
 * gets no share; the key's transaction rules (destinations, amount, daily volume) are judged by
 * the nodes on what they decoded, and the audit chain records the outputs.
 */
describe('wallet transactions on real peers', () => {
  let cluster: TestCluster
  let btcKey: KeyRecord
  let solKey: KeyRecord
  const REF: TransactionRef = { chain: 'bitcoin', network: 'regtest' }
  const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef }
  const other = (): string => taprootAddress(schnorr.getPublicKey(schnorr.utils.randomSecretKey()), 'regtest')
  const coin = (amount: bigint): { txid: string, vout: number, amount: bigint } => ({ txid: randomBytes(32).toString('hex'), vout: 0, amount })
  const txRequest = (keyId: string, payload: Uint8Array, transaction: TransactionRef): SignedRequest =>
    newSignedRequest(TEST_CLIENT, { clusterId: cluster.init.clusterId, keyId, message: payload, transaction })
  const spendPsbt = async (to: string, amount: bigint, coins = [coin(100_000n)]): Promise<Uint8Array> =>
    (await cluster.coordinator.tasks.wallet.bitcoinBuild(btcKey.id, { network: 'regtest', utxos: coins, to, amount, feeRate: 2 })).psbt
  const publish = async (policy: Omit<Policy, 'clusterId' | 'admins' | 'clients'>): Promise<void> => {
    const base = firstPolicy(cluster.init.clusterId)
    await cluster.coordinator.policy.publish(signedPolicy(parsePolicy({ ...base, ...policy })))
    await waitFor(`every node to hold policy version ${policy.version}`, () => cluster.nodes.every(n => n.policyVersion === policy.version))
  }
  const policyDenial = async (work: Promise<unknown>): Promise<TaskError> => {
    const err = await work.then(() => undefined, (e: unknown) => e)
    expect(err, (err as Error | undefined)?.message).toBeInstanceOf(TaskError)
    return err as TaskError
  }

  beforeAll(async () => {
    cluster = await startCluster(3)
    await waitAllUp(cluster)
    btcKey = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
    solKey = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
  })

  afterAll(async () => { await cluster?.stop() })

  it('spends two coins of a Taproot key in one PSBT under one request: bitcore\'s interpreter accepts it, and refuses it with one output altered', async () => {
    const to = other()
    const coins = [coin(60_000n), coin(50_000n)]
    const psbt = await spendPsbt(to, 80_000n, coins)
    const request = txRequest(btcKey.id, psbt, REF)
    const signed = await cluster.coordinator.tasks.bitcoinPsbt(btcKey.id, psbt, 'regtest', request)
    expect(signed.signatures).toHaveLength(2)
    expect(signed.outputs.find(o => !o.ours)).toMatchObject({ to, amount: 80_000n })
    const prevouts = signed.prevouts.map(p => ({ script: Buffer.from(p.script, 'hex'), amount: p.amount }))
    expect(bitcoreCheck(signed.hex, prevouts)).toEqual(['', ''])
    expect(bitcoreCheck(signed.hex, prevouts, tx => { tx.outputs[0]!.satoshis -= 1 })).toEqual(['failed', 'failed'])
    // The request took each input once: presented again, it signs nothing.
    const again = await policyDenial(cluster.coordinator.tasks.bitcoinPsbt(btcKey.id, psbt, 'regtest', request))
    expect([again.code, again.rule]).toEqual(['policy_denied', 'replayed'])
  })

  it('signs a PSBT for an HD child as a watch-only wallet writes it (internal key, BIP-32 derivation): bitcore accepts it', async () => {
    const hd = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3, hd: true })
    const path = 'm/0/5'
    const child = deriveHdChild('taproot', Buffer.from(hd.groupPublicKey, 'hex'), Buffer.from(hd.chainCode!, 'hex'), parseHdPath(path))
    const internal = child.publicKey.subarray(1)
    const psbtFor = (internalKey: Uint8Array): Uint8Array => {
      // (An internal key that does not tweak to the spent output key is refused when the PSBT is parsed: wallet-bitcoin.)
      // What Sparrow or Bitcoin Core write for a coin of tr(tpub/0/5): the output of p2tr(internal), its internal key and derivation.
      const pay = p2tr(internal, undefined, REGTEST)
      const tx = new Transaction()
      tx.addInput({
        txid: randomBytes(32), index: 1, witnessUtxo: { script: pay.script, amount: 80_000n }, tapInternalKey: internalKey,
        tapBip32Derivation: [[internal, { hashes: [], der: { fingerprint: 0x01020304, path: [0, 5] } }]]
      })
      tx.addOutputAddress(other(), 50_000n, REGTEST)
      tx.addOutputAddress(pay.address, 29_000n, REGTEST)
      return tx.toPSBT()
    }
    const psbt = psbtFor(internal)
    const signed = await cluster.coordinator.tasks.bitcoinPsbt(hd.id, psbt, 'regtest', newSignedRequest(TEST_CLIENT, { clusterId: cluster.init.clusterId, keyId: hd.id, message: psbt, transaction: REF, path }), path)
    expect(bitcoreCheck(signed.hex, signed.prevouts.map(p => ({ script: Buffer.from(p.script, 'hex'), amount: p.amount })))).toEqual([''])
    expect(signed.outputs.filter(o => o.ours).map(o => o.amount)).toEqual([29_000n])
  })

  it('transfers SOL from an Ed25519 key: LiteSVM executes it with signature verification on, and refuses it with a flipped signature bit', async () => {
    const svm = new LiteSVM().withSigverify(true).withBlockhashCheck(true)
    const to = address(base58.encode(randomBytes(32)))
    const params = { to, lamports: 1_500_000_000n, blockhash: svm.latestBlockhash() }
    const unsigned = await cluster.coordinator.tasks.wallet.solanaBuild(solKey.id, params)
    expect(svm.airdrop(address(unsigned.from), lamports(10_000_000_000n))).toBeInstanceOf(TransactionMetadata)
    const signed = await cluster.coordinator.tasks.solanaTransfer(solKey.id, params, txRequest(solKey.id, unsigned.message, { chain: 'solana' }))
    const wire = Uint8Array.from(Buffer.from(signed.base64, 'base64'))
    const flipped = Uint8Array.from(wire)
    flipped[5]! ^= 1
    expectSignatureFailure(svm.sendTransaction(fromWire(flipped)))
    expect(svm.sendTransaction(fromWire(wire))).toBeInstanceOf(TransactionMetadata)
    expect(svm.getBalance(to)).toBe(1_500_000_000n)
  })

  it('no holder signs a digest it did not compute itself: a lying coordinator\'s other digest, other PSBT, or sighash as plain bytes is refused', async () => {
    const psbt = await spendPsbt(other(), 30_000n)
    const request = encodeDocument(txRequest(btcKey.id, psbt, REF))
    const holders = btcKey.holders.slice(0, 2)
    const lie = async (what: { message: Uint8Array, transaction?: Uint8Array, request?: Uint8Array }): Promise<string[]> => {
      const sessionId = randomBytes(16).toString('base64url')
      const commitments = await Promise.all(holders.map(async h => (await sendCommand(cluster.coordinator.libp2p, peerIdFromString(h), cluster.init.clusterId, 'signCommit', { keyId: btcKey.id, sessionId, request })).commitment!))
      return await Promise.all(holders.map(async h => {
        const err = await sendCommand(cluster.coordinator.libp2p, peerIdFromString(h), cluster.init.clusterId, 'signShare', {
          keyId: btcKey.id, sessionId, message: what.message, commitments, request: what.request ?? request, pooled: false, transaction: what.transaction, input: 0
        }).then(() => undefined, (e: unknown) => e)
        expect(err, 'a holder released a share for a lie').toBeInstanceOf(CommandRefusedError)
        expect((err as CommandRefusedError).code).toBe(ErrorCode.POLICY_DENIED)
        return `${(err as CommandRefusedError).rule}: ${(err as CommandRefusedError).message}`
      }))
    }
    const { sighash } = taprootSighashes(psbt, Buffer.from(btcKey.groupPublicKey, 'hex'))[0]!
    // 1. the PSBT the request names, and a digest that is not its sighash (another spend's)
    const otherSighash = taprootSighashes(await spendPsbt(other(), 30_000n), Buffer.from(btcKey.groupPublicKey, 'hex'))[0]!.sighash
    for (const refusal of await lie({ message: otherSighash, transaction: psbt })) expect(refusal).toMatch(/^wrong-message: .*not the BIP-341 sighash this node computes for input 0/)
    // 2. another PSBT (paying elsewhere) with its own true sighash, under the request for the first
    const swapped = await spendPsbt(other(), 90_000n)
    const swappedSighash = taprootSighashes(swapped, Buffer.from(btcKey.groupPublicKey, 'hex'))[0]!.sighash
    for (const refusal of await lie({ message: swappedSighash, transaction: swapped })) expect(refusal).toMatch(/^wrong-message: .*not the one the request names/)
    // 3. the request's transaction left out: the sighash alone
    for (const refusal of await lie({ message: sighash })) expect(refusal).toMatch(/^wrong-message: .*none came with the command/)
    // 4. a request the client did not sign, with bytes that are no PSBT: refused before they are read
    const forged = encodeDocument({ ...txRequest(btcKey.id, randomBytes(40_000), REF), signature: 'ab'.repeat(64) })
    for (const refusal of await lie({ message: sighash, transaction: randomBytes(40_000), request: forged })) expect(refusal).toMatch(/^bad-signature: /)
    // 5. the sighash as plain bytes under a plain request: refused once the key signs transactions only
    await publish({ version: 2, keys: { [btcKey.id]: { transactions: {} } } })
    const plain = encodeDocument(newSignedRequest(TEST_CLIENT, { clusterId: cluster.init.clusterId, keyId: btcKey.id, message: sighash }))
    const check = cluster.coordinator.policy.check.bind(cluster.coordinator.policy)
    cluster.coordinator.policy.check = async () => {}
    try {
      const denied = await sendCommand(cluster.coordinator.libp2p, peerIdFromString(holders[0]!), cluster.init.clusterId, 'signCommit', { keyId: btcKey.id, sessionId: randomBytes(16).toString('base64url'), request: plain }).then(() => undefined, (e: unknown) => e)
      expect(denied).toBeInstanceOf(CommandRefusedError)
      expect((denied as CommandRefusedError).rule).toBe('transactions-only')
    } finally {
      cluster.coordinator.policy.check = check
    }
    // The true one signs.
    const signed = await cluster.coordinator.tasks.bitcoinPsbt(btcKey.id, psbt, 'regtest', txRequest(btcKey.id, psbt, REF))
    expect(bitcoreCheck(signed.hex, signed.prevouts.map(p => ({ script: Buffer.from(p.script, 'hex'), amount: p.amount })))).toEqual([''])
  })

  it('answers bad transactions at the API with a clear 400 (or 404), and signs nothing', async () => {
    const token = (await readFile(join(cluster.root, 'coordinator', 'api-token'), 'utf8')).trim()
    const post = async (path: string, body: unknown): Promise<{ status: number, message: string }> => {
      const res = await fetch(`${cluster.coordinator.apiUrl!}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const json = await res.json() as { error?: { message: string } }
      return { status: res.status, message: json.error?.message ?? '' }
    }
    const btc = `/v1/keys/${btcKey.id}/bitcoin`
    const sol = `/v1/keys/${solKey.id}/solana/transfer`
    const request = txRequest(btcKey.id, new Uint8Array(1), REF)
    const coins = [`${randomBytes(32).toString('hex')}:0:100000`]
    const send = { network: 'regtest', utxos: coins, to: other(), amount: 40_000, feeRate: 2, request }
    // A PSBT whose input has no witnessUtxo (a wallet must give the amount and script it spends).
    const bare = new Transaction()
    bare.addInput({ txid: randomBytes(32), index: 0 })
    bare.addOutputAddress(other(), 1000n, REGTEST)
    const withWitness = new Transaction()
    withWitness.addInput({ txid: randomBytes(32), index: 0, witnessUtxo: { script: taprootScript(Buffer.from(btcKey.groupPublicKey, 'hex')), amount: 5000n } })
    withWitness.addOutputAddress(other(), 6000n, REGTEST)
    const seq = (await cluster.coordinator.events(new URL('http://x.invalid/?limit=10000'))).at(-1)?.seq ?? 0
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['a PSBT that is not one', `${btc}/psbt`, { psbt: Buffer.from('not a psbt at all').toString('base64'), network: 'regtest', request }, 400, /PSBT|psbt/],
      ['no witnessUtxo', `${btc}/psbt`, { psbt: Buffer.from(bare.toPSBT()).toString('base64'), network: 'regtest', request }, 400, /witnessUtxo/],
      ['outputs above the inputs', `${btc}/psbt`, { psbt: Buffer.from(withWitness.toPSBT()).toString('base64'), network: 'regtest', request }, 400, /fee|exceed|more than/i],
      ['an unknown field', `${btc}/psbt`, { psbt: 'cHNidP8=', network: 'regtest', fee: 1 }, 400, /unknown field/],
      ['an address of another network', `${btc}/send`, { ...send, to: taprootAddress(schnorr.getPublicKey(schnorr.utils.randomSecretKey()), 'mainnet') }, 400, /network|prefix|address/i],
      ['an amount below dust', `${btc}/send`, { ...send, amount: 1 }, 400, /dust/],
      ['an amount above the coins', `${btc}/send`, { ...send, amount: 200_000 }, 400, /cover|insufficient|not enough|exceed|more than/i],
      ['a malformed coin', `${btc}/send`, { ...send, utxos: ['abc:0:1'] }, 400, /utxos\[0\]/],
      ['a bad blockhash', sol, { to: base58.encode(randomBytes(32)), lamports: 1000, blockhash: 'not-base58!' }, 400, /blockhash/],
      ['lamports that are not a whole number', sol, { to: base58.encode(randomBytes(32)), lamports: -5, blockhash: base58.encode(randomBytes(32)) }, 400, /lamports/],
      ['a Solana transfer from a Taproot key', `/v1/keys/${btcKey.id}/solana/transfer`, { to: base58.encode(randomBytes(32)), lamports: 1000, blockhash: base58.encode(randomBytes(32)) }, 400, /ed25519/],
      ['an unknown key', '/v1/keys/key-nope/bitcoin/send', send, 404, /no key/]
    ]
    for (const [what, path, body, status, message] of cases) {
      const answer = await post(path, body)
      expect(answer.status, `${what}: ${answer.message}`).toBe(status)
      expect(answer.message, what).toMatch(message)
    }
    const after = await cluster.coordinator.events(new URL(`http://x.invalid/?after=${seq}&limit=10000`))
    expect(after.filter(e => e.kind === 'SESSION_STARTED'), 'a session for bad input').toEqual([])
  })

  it('judges the key\'s transaction rules on what each node decoded, even when the coordinator skips its own check; the audit chain lists the outputs', async () => {
    // A key of its own: what the other tests sent counts towards the daily volume of theirs.
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
    const allowed = other()
    // Amounts count what leaves the key: the payment and its fee (222 sats here at 2 sat/vB).
    await publish({ version: 3, keys: { [btcKey.id]: { transactions: {} }, [key.id]: { transactions: { destinations: [allowed], maxAmount: '50000', dailyVolume: '71000' } } } })
    const check = cluster.coordinator.policy.check.bind(cluster.coordinator.policy)
    const attempt = async (to: string, amount: bigint): Promise<string> => {
      const { psbt } = await cluster.coordinator.tasks.wallet.bitcoinBuild(key.id, { network: 'regtest', utxos: [coin(100_000n)], to, amount, feeRate: 2 })
      return await cluster.coordinator.tasks.bitcoinPsbt(key.id, psbt, 'regtest', txRequest(key.id, psbt, REF)).then(() => 'signed', (e: unknown) => (e as TaskError).rule ?? (e as Error).message)
    }
    // The coordinator's own check refuses first, naming the rule.
    expect(await attempt(other(), 10_000n)).toBe('destination')
    cluster.coordinator.policy.check = async () => {}
    try {
      expect(await attempt(other(), 10_000n)).toBe('destination')
      expect(await attempt(allowed, 60_000n)).toBe('amount')
      expect(await attempt(allowed, 40_000n)).toBe('signed')
      // 40,000 and its fee sent today; 40,000 more is past the 71,000 a day, 30,000 is not.
      expect(await attempt(allowed, 40_000n)).toBe('daily-volume')
      expect(await attempt(allowed, 30_000n)).toBe('signed')
    } finally {
      cluster.coordinator.policy.check = check
    }
    // Each attempt asks t of the holders: the entries are in the chains of those it asked.
    const chains = await Promise.all(cluster.nodes.filter(n => key.holders.includes(n.peerId.toString())).map(async n => await n.audit.list(0, 1000)))
    const shares = chains.flat().filter(e => e.stage === 'share' && e.keyId === key.id && e.transaction !== undefined).sort((a, b) => a.atMs - b.atMs)
    const volume = shares.filter(e => e.rule === 'daily-volume').at(-1)!
    expect(volume.outcome).toBe('denied')
    expect(volume.transaction!.outputs.find(o => o.ours !== true)).toEqual({ to: allowed, amount: '40000' })
    const last = shares.filter(e => e.outcome === 'allowed').at(-1)!
    expect(last.transaction).toMatchObject({ chain: 'bitcoin', network: 'regtest', input: 0, outputCount: 2 })
    const fee = BigInt(last.transaction!.amount) - 30_000n
    expect(fee > 0n && fee < 1_000n, `the fee counted in the amount: ${fee}`).toBe(true)
    expect(last.transaction!.outputs.some(o => o.ours === true)).toBe(true)
  })
})
