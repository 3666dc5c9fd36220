import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { commitNonces, encodeKey, frostSuite, participantIdentifier } from '../../src/crypto/index.js'
import { PassphraseError, ShareVault } from '../../src/state/share-vault.js'
import { Store } from '../../src/store/store.js'

const COST = { logN: 6, r: 8, p: 1 }
/** Stand-ins for the digests of two different signShare requests. */
const REQUEST_A = 'aa'.repeat(32)
const REQUEST_B = 'bb'.repeat(32)
const CONCURRENT_TAKES = 10

/**
 * A vault (logN 10) with one ed25519 share, as the store held it when the key store's scrypt was
 * @noble/hashes' (before the move to Node's crypto.scrypt): it must open unchanged. The share
 * is a trusted dealer's test share, its encoding in `key`.
 */
const NOBLE_VAULT = {
  passphrase: 'the noble-era passphrase',
  owner: 'peer-fixture',
  record: { keyId: 'k-fixture', scheme: 'ed25519', sessionId: 's-fixture', status: 'active', groupPublicKey: 'ab'.repeat(32), createdAtMs: 1700000000000 },
  params: '010a08012072f383693fa4b2fd10fcc2ed0760713259df6e1d2a5c3395f2c79ca5f37b1158',
  check: '01b7a6056b9a03990b9937b7960f38a33a67f566042da025346a38ea6fd1101986779b4df831276f6103594fe44108dace3d795c08044c064b8243926ea3cabd68cea390605a1f43f203a7fc96ff626240142c9290aaec17',
  share: '015eab208d684b82638aefb71b026ab6c95fe5860444be24ca43a6ec7f69847fdbaa251bbb7bc2cb43acbcd25125d54547196a3187d562080c58246776393d6d6e320c27514628390a3c8a8e57ff31faaf4974a9995ba1f5cfbd3f97f5a61f892f20cb0e0d24a842943280f4145bd5c7d88b7cfd1d6fc6039b612b6ae8b157ff37374c455e390a36f51181010543ee582be729dca520ff08bfccbf2ceb489d69c540b4a0bdc24fd3d45c9beb36ee9370099525f3863b304b89c635b7d53d4e4f29bc944acbc2243e06c2d52addc130c4fff39f9ba211bd60254518e0d857f4b9368f0e044f25adea8479d53cf76ea83e832ef57b395749801af76cbb2c82060077ab44540e04c2ee5ecaf62b2b87de2d58dd21fcb2af83b5e141f726a39a2faa9c89d8e7d0e6e87802e5ea50750eab65fc4c841a648f364223726a0fb22eadd3fae0722fd51691bec898d4a19a14b6eb66d9fa062d688099ca7a063fc056b936e31bc8162796460aa65c746e7ac7',
  key: '014b010203745340f9c98c9b9ab710c445acbf2b31aa27e6a8016aafedba80eb41d75ac92f672c4dda2724b52b29064dc5ed5f1da39ac4fa13d7ad9950ad41a0ae98b715bd0100000000000000000000000000000000000000000000000000000000000000ea6f22397952ebe5b5eb76f93aa916b01026668c5a8aa992e23f85bb730f488c02000000000000000000000000000000000000000000000000000000000000009678f5a1cf223f87c85d2b1631001de110905f66435a3d06566518217a02f55a03000000000000000000000000000000000000000000000000000000000000000890035635f64ea4d2533ab13593a9f9e51b021454bca82aa689e93562c9a04201000000000000000000000000000000000000000000000000000000000000001bd0b857ebdb0acbc5598009f17134ada5958cd4f1bf48dfd0fed699ce717502'
} as const
const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))

describe('the share vault on a real store', () => {
  let dir: string
  let store: Store

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpcw-vault-'))
    store = await Store.open(dir)
  })
  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  function secret (): Parameters<typeof commitNonces>[1] {
    const ids = [1, 2, 3].map(i => participantIdentifier('ed25519', i))
    return frostSuite('ed25519').trustedDealer({ min: 2, max: 3 }, ids).secretShares[ids[0]!]!
  }

  it('discards only the unspent nonces older than the cut-off, and a discarded nonce never signs', async () => {
    const vault = await ShareVault.open(store, 'pass', 'peer-a', COST)
    const share = secret()
    await vault.saveNonces('old', 'k1', commitNonces('ed25519', share))
    await sleep(5)
    const cutoff = Date.now()
    await sleep(5)
    await vault.saveNonces('new', 'k1', commitNonces('ed25519', share))
    expect(await vault.discardNonces(cutoff)).toBe(1)
    expect(await vault.takeNonces('old', 'k1', REQUEST_A)).toEqual({ taken: false, refusal: 'none' })
    expect(await vault.takeNonces('new', 'k1', REQUEST_A)).toMatchObject({ taken: true })
    // taken once: spent, and never again
    expect(await vault.takeNonces('new', 'k1', REQUEST_A)).toEqual({ taken: false, refusal: 'signed' })
    expect(await vault.isSpent('new')).toBe(true)
  })

  it('forgets only the spent markers older than the cut-off; the nonces stay gone', async () => {
    const vault = await ShareVault.open(store, 'pass', 'peer-a', COST)
    const share = secret()
    await vault.saveNonces('s1', 'k1', commitNonces('ed25519', share))
    await vault.takeNonces('s1', 'k1', REQUEST_A)
    await sleep(5)
    const cutoff = Date.now()
    await sleep(5)
    await vault.saveNonces('s2', 'k1', commitNonces('ed25519', share))
    await vault.takeNonces('s2', 'k1', REQUEST_A)
    expect(await vault.forgetSpent(cutoff)).toBe(1)
    expect(await vault.isSpent('s1')).toBe(false)
    expect(await vault.isSpent('s2')).toBe(true)
    expect(await vault.takeNonces('s1', 'k1', REQUEST_A)).toEqual({ taken: false, refusal: 'none' })
    expect(await vault.forgetSpent(cutoff)).toBe(0)
  })

  it('hands a session\'s nonces to exactly one of many concurrent takes', async () => {
    const vault = await ShareVault.open(store, 'pass', 'peer-a', COST)
    const committed = commitNonces('ed25519', secret())
    expect(await vault.saveNonces('race', 'k1', committed)).toEqual({ saved: true })
    // Each take asks for a different request, as a coordinator would that wants shares over
    // several messages from one nonce pair.
    const takes = await Promise.all(Array.from({ length: CONCURRENT_TAKES }, async (_, i) =>
      await vault.takeNonces('race', 'k1', i.toString(16).padStart(64, '0'))))
    const taken = takes.filter(t => t.taken)
    expect(taken, `${taken.length} of ${CONCURRENT_TAKES} takes got the nonces`).toHaveLength(1)
    const [winner] = taken
    expect(winner?.taken === true && winner.nonces.commitments).toEqual(committed.commitments)
    for (const t of takes.filter(t => !t.taken)) expect(['busy', 'bound']).toContain(!t.taken && t.refusal)
    expect(await vault.isSpent('race')).toBe(true)
  })

  it('refuses a second commit for a session, concurrent or later, and keeps the first nonces', async () => {
    const vault = await ShareVault.open(store, 'pass', 'peer-a', COST)
    const share = secret()
    const first = commitNonces('ed25519', share)
    expect(await vault.saveNonces('twice', 'k1', first)).toEqual({ saved: true })
    expect(await vault.saveNonces('twice', 'k1', commitNonces('ed25519', share))).toEqual({ saved: false, refusal: 'committed' })
    const taken = await vault.takeNonces('twice', 'k1', REQUEST_A)
    expect(taken.taken && taken.nonces.commitments).toEqual(first.commitments)
    // A commit for a spent session is refused as well.
    expect(await vault.saveNonces('twice', 'k1', commitNonces('ed25519', share))).toEqual({ saved: false, refusal: 'spent' })

    const together = await Promise.all([1, 2].map(async () => await vault.saveNonces('together', 'k1', commitNonces('ed25519', share))))
    expect(together.filter(s => s.saved)).toHaveLength(1)
  })

  it('keeps a session claimed while its nonces are discarded (an abort beside a take)', async () => {
    const vault = await ShareVault.open(store, 'pass', 'peer-a', COST)
    await vault.saveNonces('abort', 'k1', commitNonces('ed25519', secret()))
    const first = vault.takeNonces('abort', 'k1', REQUEST_A)
    const discarded = vault.discardSessionNonces('abort')
    const second = vault.takeNonces('abort', 'k1', REQUEST_B)
    const [one, , two] = await Promise.all([first, discarded, second])
    expect(two).toEqual({ taken: false, refusal: 'busy' })
    // The first got the nonces or found them discarded; nobody after it gets them.
    expect([one, two].filter(t => t.taken).length).toBeLessThanOrEqual(1)
    expect(await vault.takeNonces('abort', 'k1', REQUEST_A)).toMatchObject({ taken: false })
  })

  it('refuses a taken session after the vault is reopened: repeat, other request, or new commit', async () => {
    let vault = await ShareVault.open(store, 'pass', 'peer-a', COST)
    const share = secret()
    await vault.saveNonces('once', 'k1', commitNonces('ed25519', share))
    expect(await vault.takeNonces('once', 'k1', REQUEST_A)).toMatchObject({ taken: true })
    await store.close()
    store = await Store.open(dir)
    vault = await ShareVault.open(store, 'pass', 'peer-a', COST)
    expect(await vault.takeNonces('once', 'k1', REQUEST_A)).toEqual({ taken: false, refusal: 'signed' })
    expect(await vault.takeNonces('once', 'k1', REQUEST_B)).toEqual({ taken: false, refusal: 'bound' })
    expect(await vault.saveNonces('once', 'k1', commitNonces('ed25519', share))).toEqual({ saved: false, refusal: 'spent' })
    expect(await vault.takeNonces('once', 'k1', REQUEST_B)).toEqual({ taken: false, refusal: 'bound' })
  })

  it('refuses a wrong passphrase at open, and an empty one', async () => {
    await ShareVault.open(store, 'right', 'peer-a', COST)
    await expect(ShareVault.open(store, 'wrong', 'peer-a', COST)).rejects.toThrow(PassphraseError)
    await expect(ShareVault.open(store, '', 'peer-a', COST)).rejects.toThrow(PassphraseError)
  })

  it('opens a vault written with the noble scrypt, and its share', async () => {
    const f = NOBLE_VAULT
    await store.batch({
      json: { [`share:${f.record.keyId}`]: f.record },
      bytes: { 'keystore-params': fromHex(f.params), 'keystore-check': fromHex(f.check), [`share:${f.record.keyId}`]: fromHex(f.share) }
    })
    await expect(ShareVault.open(store, f.passphrase + '!', f.owner)).rejects.toThrow(PassphraseError)
    const vault = await ShareVault.open(store, f.passphrase, f.owner)
    const loaded = await vault.loadShare(f.record.keyId)
    expect(loaded?.record).toEqual(f.record)
    expect(Buffer.from(encodeKey(loaded!.key)).toString('hex')).toBe(f.key)
  })
})
