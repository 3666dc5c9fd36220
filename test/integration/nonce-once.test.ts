import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { aggregateSignature, decodePublic } from '../../src/crypto/index.js'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { sendCommand } from '../../src/protocols/command.js'
import { CommandRefusedError } from '../../src/protocols/errors.js'
import { ErrorCode, type NonceCommitment } from '../../src/protocols/messages.js'
import { loadOrCreateIdentity } from '../../src/store/identity.js'
import { messageFor, requestBytesFor, startCluster, verifiesExternally, waitAllUp, type TestCluster } from '../helpers.js'
import type { KeyRecord } from '../../src/state/key-registry.js'
import type { MpcNode } from '../../src/peer/node.js'

/** As many signShare commands for one session as a coordinator could have in flight at once. */
const CONCURRENT_SHARES = 10

const newSessionId = (): string => randomBytes(16).toString('base64url')

/**
 * A compromised coordinator: it holds the coordinator's identity, so every node answers its
 * commands, and it wants two signature shares from one nonce pair (over two messages), from
 * which it could solve for the node's signing share. Each node must give it one share per
 * session at most, however many requests it sends at once, and refuse everything after.
 */
describe('a signing nonce is taken at most once, over the wire', () => {
  let cluster: TestCluster
  let key: KeyRecord
  let rogue: MpcLibp2p | undefined

  const holder = (i: number): MpcNode => {
    const node = cluster.nodes.find(n => n.peerId.toString() === key.holders[i])
    if (node === undefined) throw new Error(`no node for holder ${i}`)
    return node
  }

  beforeAll(async () => {
    cluster = await startCluster(3)
    await waitAllUp(cluster)
    key = await cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })
    // From here on the coordinator's identity is in the attacker's hands.
    await cluster.coordinator.stop()
    rogue = await createPeer({
      privateKey: await loadOrCreateIdentity(join(cluster.root, 'coordinator')),
      clusterId: cluster.init.clusterId,
      listen: ['/ip4/127.0.0.1/tcp/0']
    })
    await rogue.dial(holder(0).libp2p.getMultiaddrs())
    await rogue.dial(holder(1).libp2p.getMultiaddrs())
  })
  afterAll(async () => {
    await rogue?.stop()
    // The coordinator is stopped already; cluster.stop tolerates that and stops the nodes.
    await cluster?.stop()
  })

  /**
   * A command as the rogue sends it, each with a fresh, valid request of the client for its
   * message (as if the attacker held requests the client really signed): the policy allows every
   * one, and what is tested here is the nonce's single use behind it.
   */
  const command = async <K extends 'signCommit' | 'signShare'>(node: MpcNode, kind: K, body: Omit<Parameters<typeof sendCommand<K>>[4], 'request' | 'pooled'>): ReturnType<typeof sendCommand<K>> => {
    const message = 'message' in body ? body.message as Uint8Array : messageFor('ed25519', 'a commitment')
    return await sendCommand(rogue!, node.peerId, cluster.init.clusterId, kind, { ...body, pooled: false, request: requestBytesFor(cluster.init.clusterId, key.id, message) } as Parameters<typeof sendCommand<K>>[4])
  }

  /** Both holders commit to the session, as in a real signing round one; list in identifier order. */
  async function commitBoth (sessionId: string): Promise<NonceCommitment[]> {
    const [first, second] = await Promise.all([0, 1].map(async i => await command(holder(i), 'signCommit', { keyId: key.id, sessionId })))
    return [first!.commitment!, second!.commitment!]
  }

  async function refusalOf (answer: Promise<unknown>): Promise<CommandRefusedError> {
    const outcome = await answer.then(() => undefined, (err: unknown) => err)
    expect(outcome).toBeInstanceOf(CommandRefusedError)
    return outcome as CommandRefusedError
  }

  it('answers one of many concurrent signShare commands for a session, and refuses every other one, then and later', async () => {
    const target = holder(0)
    const sessionId = newSessionId()
    const commitments = await commitBoth(sessionId)
    // A second commit must not replace the nonces whose commitment is out.
    const recommit = await refusalOf(command(target, 'signCommit', { keyId: key.id, sessionId }))
    expect(recommit.code).toBe(ErrorCode.STALE)

    const messages = Array.from({ length: CONCURRENT_SHARES }, (_, i) => messageFor('ed25519', `rogue message ${i}`))
    const answers = await Promise.allSettled(messages.map(async message =>
      await command(target, 'signShare', { keyId: key.id, sessionId, message, commitments })))
    const shares = answers.flatMap((a, i) => a.status === 'fulfilled' ? [i] : [])
    expect(shares, `${shares.length} of ${CONCURRENT_SHARES} shares came back`).toHaveLength(1)
    for (const answer of answers) {
      if (answer.status === 'fulfilled') continue
      expect(answer.reason).toBeInstanceOf(CommandRefusedError)
      expect((answer.reason as CommandRefusedError).code).toBe(ErrorCode.STALE)
    }

    // Later: the very same request, and another message, are refused with what happened.
    const answered = messages[shares[0]!]!
    const repeat = await refusalOf(command(target, 'signShare', { keyId: key.id, sessionId, message: answered, commitments }))
    expect(repeat.code).toBe(ErrorCode.STALE)
    expect(repeat.message).toBe(`session ${sessionId} was already signed on this node`)
    const other = await refusalOf(command(target, 'signShare', { keyId: key.id, sessionId, message: messageFor('ed25519', 'yet another'), commitments }))
    expect(other.code).toBe(ErrorCode.STALE)
    expect(other.message).toBe(`session ${sessionId} is bound to another message/commitment list`)
    // ... and so is the same message over another commitment list.
    const reordered = await refusalOf(command(target, 'signShare', { keyId: key.id, sessionId, message: answered, commitments: [...commitments].reverse() }))
    expect(reordered.message).toBe(`session ${sessionId} is bound to another message/commitment list`)
    const commitAfter = await refusalOf(command(target, 'signCommit', { keyId: key.id, sessionId }))
    expect(commitAfter.code).toBe(ErrorCode.STALE)
  })

  it('keeps running and signs a later, legitimate session', async () => {
    const sessionId = newSessionId()
    const commitments = await commitBoth(sessionId)
    const message = messageFor('ed25519', 'a legitimate request after the attack')
    const shares: Record<string, Uint8Array> = {}
    const names: Record<string, string> = {}
    for (const i of [0, 1]) {
      const { share } = await command(holder(i), 'signShare', { keyId: key.id, sessionId, message, commitments })
      shares[commitments[i]!.identifier] = share
      names[commitments[i]!.identifier] = key.holders[i]!
    }
    const signature = aggregateSignature('ed25519', decodePublic(Buffer.from(key.publicPackage, 'hex')), commitments, message, shares, names)
    expect(verifiesExternally(key, message, signature)).toBe(true)
  })
})
