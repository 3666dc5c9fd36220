import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { commitNonces, frostSuite, participantIdentifier } from '../../src/crypto/index.js'
import { PassphraseError, ShareVault } from '../../src/state/share-vault.js'
import { Store } from '../../src/store/store.js'

const COST = { logN: 6, r: 8, p: 1 }
/** Stand-ins for the digests of two different signShare requests. */
const REQUEST_A = 'aa'.repeat(32)
const REQUEST_B = 'bb'.repeat(32)
const CONCURRENT_TAKES = 10

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
})
