import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskError } from '../../src/coordinator/errors.js'
import { judgeFailure } from '../../src/coordinator/signing-session.js'
import { CommandRefusedError, CommandTransportError, MalformedMessageError } from '../../src/protocols/errors.js'
import { ErrorCode } from '../../src/protocols/messages.js'
import { eventsAfter, lastEventSeq, messageFor, startCluster, startNodeSortingFirst, verifiesExternally, waitAllUp, type TestCluster } from '../helpers.js'
import type { MpcNode } from '../../src/peer/node.js'

const id = (node: MpcNode): string => node.peerId.toString()

/** Invariant 10: a peer is named culprit only by a check the coordinator ran itself. */
describe('blame follows evidence', () => {
  describe('classifying a failed command', () => {
    const [a, b, c] = ['peer-a', 'peer-b', 'peer-c']
    const session = [a, b, c]

    it('a peer that gives no answer, or one that does not decode, is proven at fault', () => {
      expect(judgeFailure(a, new CommandTransportError('signShare timed out'), session)).toMatchObject({ kind: 'proven' })
      expect(judgeFailure(a, new MalformedMessageError('response does not decode'), session)).toMatchObject({ kind: 'proven' })
    })

    it.each([ErrorCode.STALE, ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.INTERNAL, ErrorCode.UNAUTHORIZED])('a %s refusal is no evidence against the refuser', (code) => {
      const verdict = judgeFailure(a, new CommandRefusedError(code, 'no'), session)
      expect(verdict.kind).toBe('refused')
      expect(verdict.reason).toContain(`${a} refused (${code})`)
    })

    it('a member naming others (BLAME, TIMEOUT) makes a claim against them, no more', () => {
      expect(judgeFailure(a, new CommandRefusedError(ErrorCode.BLAME, 'invalid share: peer-b', [b]), session)).toMatchObject({ kind: 'claim', accused: [b] })
      expect(judgeFailure(a, new CommandRefusedError(ErrorCode.TIMEOUT, 'nothing from peer-b, peer-c', [b, c, b]), session)).toMatchObject({ kind: 'claim', accused: [b, c] })
      // Naming only itself or strangers accuses no one.
      expect(judgeFailure(a, new CommandRefusedError(ErrorCode.BLAME, 'odd', [a, 'stranger']), session).kind).toBe('refused')
    })

    it('a failure on the coordinator\'s side proves nothing against the peer', () => {
      expect(judgeFailure(a, new Error('out of file descriptors'), session).kind).toBe('refused')
    })

    it('keeps at most 512 characters of what the peer said', () => {
      const verdict = judgeFailure(a, new CommandRefusedError(ErrorCode.BAD_REQUEST, 'x'.repeat(5000)), session)
      expect(verdict.reason.length).toBeLessThanOrEqual(512 + 64)
    })
  })

  describe('in a cluster', () => {
    let cluster: TestCluster
    /** The three honest nodes of the cluster (each test adds one faulty node sorting first). */
    let honest: MpcNode[]

    beforeAll(async () => {
      cluster = await startCluster(3)
      honest = [...cluster.nodes]
      await waitAllUp(cluster)
    })
    afterAll(async () => { await cluster.stop() })


    describe.each([
      { scheme: 'ed25519' as const, threshold: 3 },
      { scheme: 'taproot' as const, threshold: 2 }
    ])('a holder answering round one with an invalid $scheme commitment', ({ scheme, threshold }) => {
      it(`is the only one blamed and excluded, and the ${threshold}-of-4 key signs without it`, async () => {
        const bad = await startNodeSortingFirst(cluster, `bad-commitment-${scheme}`, { faults: { invalidCommitment: true } })
        try {
          await waitAllUp(cluster)
          const key = await cluster.coordinator.tasks.keygen({ scheme, threshold, parties: 4, members: [id(bad), ...honest.map(id)] })
          // Holder 1, so among the first signers.
          expect(key.holders[0]).toBe(id(bad))

          const since = await lastEventSeq(cluster)
          const message = messageFor(scheme, `sign around an invalid ${scheme} commitment`)
          const outcome = await cluster.sign(key.id, message).then(r => r, (e: unknown) => e)
          expect(outcome, (outcome as Error).message).not.toBeInstanceOf(TaskError)
          const result = outcome as Awaited<ReturnType<typeof cluster.coordinator.tasks.sign>>
          expect(verifiesExternally(key, message, result.signature)).toBe(true)
          expect(result.signers).not.toContain(id(bad))
          // One failed attempt, the faulty holder's; then the honest holders sign at once.
          expect(result.attempts).toBe(2)

          const events = (await eventsAfter(cluster, since)).filter(e => e.keyId === key.id)
          const blames = events.filter(e => e.kind === 'BLAME')
          expect(blames.map(e => e.peerId)).toEqual([id(bad)])
          expect(blames[0]!.detail).toContain('not a pair of valid points')
          const failed = events.filter(e => e.kind === 'SESSION_FAILED')
          expect(failed).toHaveLength(1)
          expect(failed[0]!.culprits).toEqual([id(bad)])
          // No honest holder is named anywhere, as culprit or accused.
          for (const e of events) {
            for (const h of honest.map(id)) {
              expect([...(e.culprits ?? []), ...(e.accused ?? [])]).not.toContain(h)
              if (e.kind === 'BLAME' || e.kind === 'BLAME_CLAIM') expect(e.peerId).not.toBe(h)
            }
          }
        } finally {
          await bad.stop()
        }
      })
    })

    it('a holder refusing round two is left out of the request but not blamed', async () => {
      // The node takes its nonce, then fails inside (as a crash would) and answers with a refusal.
      const refuse = (): never => { throw new Error('refusing round two') }
      const refuser = await startNodeSortingFirst(cluster, 'refuses-round-two', { faults: { afterNonceSpent: refuse, afterPooledNonceTaken: refuse } })
      try {
        await waitAllUp(cluster)
        const key = await cluster.coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 4, members: [id(refuser), ...honest.map(id)] })
        expect(key.holders[0]).toBe(id(refuser))

        const since = await lastEventSeq(cluster)
        const message = messageFor('taproot', 'one holder refuses round two')
        const result = await cluster.sign(key.id, message)
        expect(verifiesExternally(key, message, result.signature)).toBe(true)
        expect(result.signers).not.toContain(id(refuser))
        expect(result.attempts).toBe(2)

        const events = (await eventsAfter(cluster, since)).filter(e => e.keyId === key.id)
        expect(events.filter(e => e.kind === 'BLAME' || e.kind === 'BLAME_CLAIM')).toEqual([])
        const failed = events.filter(e => e.kind === 'SESSION_FAILED')
        expect(failed).toHaveLength(1)
        expect(failed[0]!.culprits).toBeUndefined()
        expect(failed[0]!.detail).toContain(`${id(refuser)} refused (${ErrorCode.INTERNAL})`)
      } finally {
        await refuser.stop()
      }
    })
  })
})
