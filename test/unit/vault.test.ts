import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { commitNonces, frostSuite, participantIdentifier } from '../../src/crypto/index.js'
import { PassphraseError, ShareVault } from '../../src/peer/shares.js'
import { Store } from '../../src/store/store.js'

const COST = { logN: 6, r: 8, p: 1 }

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
    expect(await vault.takeNonces('old', 'k1')).toBeUndefined()
    expect(await vault.takeNonces('new', 'k1')).toBeDefined()
    // taken once: spent, and never again
    expect(await vault.takeNonces('new', 'k1')).toBeUndefined()
    expect(await vault.isSpent('new')).toBe(true)
  })

  it('forgets only the spent markers older than the cut-off; the nonces stay gone', async () => {
    const vault = await ShareVault.open(store, 'pass', 'peer-a', COST)
    const share = secret()
    await vault.saveNonces('s1', 'k1', commitNonces('ed25519', share))
    await vault.takeNonces('s1', 'k1')
    await sleep(5)
    const cutoff = Date.now()
    await sleep(5)
    await vault.saveNonces('s2', 'k1', commitNonces('ed25519', share))
    await vault.takeNonces('s2', 'k1')
    expect(await vault.forgetSpent(cutoff)).toBe(1)
    expect(await vault.isSpent('s1')).toBe(false)
    expect(await vault.isSpent('s2')).toBe(true)
    expect(await vault.takeNonces('s1', 'k1')).toBeUndefined()
    expect(await vault.forgetSpent(cutoff)).toBe(0)
  })

  it('refuses a wrong passphrase at open, and an empty one', async () => {
    await ShareVault.open(store, 'right', 'peer-a', COST)
    await expect(ShareVault.open(store, 'wrong', 'peer-a', COST)).rejects.toThrow(PassphraseError)
    await expect(ShareVault.open(store, '', 'peer-a', COST)).rejects.toThrow(PassphraseError)
  })
})
