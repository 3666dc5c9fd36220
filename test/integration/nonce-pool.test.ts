import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sendCommand } from '../../src/protocols/command.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode, type NonceCommitment } from '../../src/protocols/messages.js'
import { participantIdentifier } from '../../src/crypto/index.js'
import type { KeyRecord } from '../../src/state/key-registry.js'
import type { MpcNode } from '../../src/peer/node.js'
import { messageFor, requestBytesFor, requestFor, restartNode, startCluster, verifiesExternally, waitAllUp, type TestCluster } from '../helpers.js'

const newSessionId = (): string => randomBytes(16).toString('base64url')

/**
 * Issue 13: one-round signing from nonces the holders made ahead of time. A signature whose
 * signers all have pooled commitments at the coordinator takes one round; a pooled nonce is used
 * at most once, by any number of requests and across a restart of its holder; a holder without a
 * pool signs in two rounds.
 */
describe('one-round signing from nonce pools', () => {
  let cluster: TestCluster
  let clusterId: string
  const keys: KeyRecord[] = []

  beforeAll(async () => {
    cluster = await startCluster(3)
    await waitAllUp(cluster)
    clusterId = cluster.init.clusterId
    for (const scheme of ['ed25519', 'taproot'] as const) keys.push(await cluster.coordinator.tasks.keygen({ scheme, threshold: 2, parties: 3 }))
  })

  afterAll(async () => { await cluster?.stop() })

  const node = (peerId: string): MpcNode => cluster.nodes.find(n => n.peerId.toString() === peerId)!
  const pools = (): TestCluster['coordinator']['tasks']['pools'] => cluster.coordinator.tasks.pools

  /** Sends a one-round signShare as the coordinator does (from its own identity) and returns the share or the refusal. */
  async function pooledShare (key: KeyRecord, holder: string, commitments: NonceCommitment[], text: string): Promise<Uint8Array | CommandRefusedError> {
    const message = messageFor(key.scheme, text)
    return await sendCommand(cluster.coordinator.libp2p, node(holder).peerId, clusterId, 'signShare', {
      keyId: key.id, sessionId: newSessionId(), message, commitments, request: requestBytesFor(clusterId, key.id, message), pooled: true
    }).then(r => r.share, (err: unknown) => err as CommandRefusedError)
  }

  /** A commitment list of the key's first two holders (its signers while all are up) from the coordinator's pools (not taken from them). */
  function listOf (key: KeyRecord, at = 0): NonceCommitment[] {
    return key.holders.slice(0, 2).map(h => pools().held(key.id, h)[at]!)
  }

  it('signs a key\'s first signature in two rounds, and in one round once its signers\' pools came; each signature verifies outside our code', async () => {
    for (const key of keys) {
      const first = messageFor(key.scheme, 'first')
      const firstResult = await cluster.sign(key.id, first)
      expect(firstResult.rounds).toBe(2)
      expect(verifiesExternally(key, first, firstResult.signature)).toBe(true)
      await pools().settled()
      // The signers' pools (the third holder signed nothing and holds none).
      for (const h of key.holders) expect(pools().held(key.id, h).length, `${h}'s pool of ${key.scheme}`).toBe(firstResult.signers.includes(h) ? 32 : 0)
      for (let i = 0; i < 3; i++) {
        const message = messageFor(key.scheme, `one round ${i}`)
        const result = await cluster.sign(key.id, message)
        expect(result.rounds).toBe(1)
        expect(result.attempts).toBe(1)
        expect(result.timing.round1Ms).toBe(0)
        expect(verifiesExternally(key, message, result.signature)).toBe(true)
      }
      // One commitment of each signer was used per signature.
      const used = firstResult.signers.map(h => 32 - pools().held(key.id, h).length).reduce((a, b) => a + b, 0)
      expect(used).toBe(3 * 2)
    }
  })

  it('gives one share for a pooled commitment, however many requests name it at once; the rest are refused POOL_MISS', async () => {
    const key = keys[0]!
    const list = listOf(key)
    const holder = key.holders[0]!
    const answers = await Promise.all(Array.from({ length: 10 }, async (_, i) => await pooledShare(key, holder, list, `race ${i}`)))
    const shares = answers.filter(a => a instanceof Uint8Array)
    expect(shares).toHaveLength(1)
    for (const a of answers.filter(a => !(a instanceof Uint8Array))) expect((a as CommandRefusedError).code).toBe(ErrorCode.POOL_MISS)
    // Later too, for the same message.
    expect(((await pooledShare(key, holder, list, 'race 0')) as CommandRefusedError).code).toBe(ErrorCode.POOL_MISS)
  })

  it('refuses a commitment that is not in this key\'s pool: another key\'s, one made up, or another holder\'s under our identifier', async () => {
    const [ed, tr] = keys as [KeyRecord, KeyRecord]
    const holder = ed.holders[0]!
    // The Taproot key's pooled commitment under the Ed25519 key: wrong pool (and wrong suite).
    const foreign = [pools().held(tr.id, tr.holders[0]!)[5]!, pools().held(ed.id, ed.holders[1]!)[5]!]
    expect(((await pooledShare(ed, holder, foreign, 'foreign')) as CommandRefusedError).code).toBe(ErrorCode.POOL_MISS)
    const other = pools().held(ed.id, ed.holders[1]!)[6]!
    const stolen = [{ ...other, identifier: participantIdentifier('ed25519', 1) }, pools().held(ed.id, ed.holders[1]!)[7]!]
    expect(((await pooledShare(ed, holder, stolen, 'stolen')) as CommandRefusedError).code).toBe(ErrorCode.POOL_MISS)
  })

  it('after a holder restarts, none of its earlier pooled commitments is accepted, and the coordinator signs without a failed attempt', async () => {
    const key = keys[1]!
    const holder = key.holders[0]!
    const stale = pools().held(key.id, holder)
    expect(stale.length).toBeGreaterThan(4)
    await restartNode(cluster, node(holder))
    await waitAllUp(cluster)
    for (const [i, c] of stale.slice(0, 4).entries()) {
      const refused = await pooledShare(key, holder, [c, pools().held(key.id, key.holders[1]!)[i]!], `stale ${i}`)
      expect((refused as CommandRefusedError).code, 'a commitment of the process before the restart').toBe(ErrorCode.POOL_MISS)
    }
    // The coordinator knew the pool was the old process's: no attempt is wasted on it.
    const message = messageFor(key.scheme, 'after the restart')
    const first = await cluster.sign(key.id, message)
    expect(first.attempts).toBe(1)
    expect(verifiesExternally(key, message, first.signature)).toBe(true)
    await pools().settled()
    const again = await cluster.sign(key.id, messageFor(key.scheme, 'refilled'))
    expect(again.rounds).toBe(1)
  })

  it('signs in two rounds with a holder that keeps no pool (--nonce-pool 0), and with pooled: false', async () => {
    const late = await cluster.startNode('no-pool', { noncePool: 0 })
    await waitAllUp(cluster)
    const members = [cluster.nodes[0]!.peerId.toString(), late.peerId.toString()]
    const key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members })
    // The first signature has both pools asked for; the node without one answers none.
    for (const text of ['first', 'no pool']) {
      const message = messageFor(key.scheme, text)
      const result = await cluster.sign(key.id, message)
      expect(result.rounds).toBe(2)
      expect(verifiesExternally(key, message, result.signature)).toBe(true)
      await pools().settled()
      expect(pools().held(key.id, late.peerId.toString())).toEqual([])
      expect(pools().held(key.id, members[0]!)).toHaveLength(32)
    }

    const pooledKey = keys[0]!
    const forcedMessage = messageFor('ed25519', 'forced')
    const forced = await cluster.coordinator.tasks.sign(pooledKey.id, forcedMessage, requestFor(clusterId, pooledKey.id, forcedMessage), undefined, { pooled: false })
    expect(forced.rounds).toBe(2)
    expect(verifiesExternally(pooledKey, forcedMessage, forced.signature)).toBe(true)
  })
})
