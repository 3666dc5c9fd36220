import { generateKeyPair } from '@libp2p/crypto/keys'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiClient, ApiClientError } from '../../src/coordinator/client.js'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { MpcNode } from '../../src/peer/node.js'
import { PassphraseError } from '../../src/state/share-vault.js'
import { encodeGossip } from '../../src/protocols/gossip.js'
import { GossipMessage } from '../../src/protocols/messages.js'
import { topicName } from '../../src/protocols/topics.js'
import {
  FAST, log, memberState, messageFor, restartNode, startCluster, VAULT, verifiesExternally, waitAllUp, waitFor, requestFor, type TestCluster
} from '../helpers.js'
import type { GossipRejectReason } from '../../src/protocols/errors.js'
import type { Message } from '@libp2p/interface'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('round messages out of place: replays, unknown sessions, strangers', () => {
  let cluster: TestCluster
  let rogue: MpcLibp2p

  beforeAll(async () => {
    // The members-only gate is off so the stranger's gossip reaches the nodes' validators.
    cluster = await startCluster(3, {}, { membersOnly: false })
    await waitAllUp(cluster)
    rogue = await createPeer({ privateKey: await generateKeyPair('Ed25519'), clusterId: cluster.init.clusterId, listen: ['/ip4/127.0.0.1/tcp/0'] })
    // An attacker sends its messages to every peer it is linked to (our peers use the mesh only).
    rogue.services.pubsub.opts.floodPublish = true
    for (const peer of [cluster.coordinator.libp2p, ...cluster.nodes.map(n => n.libp2p)]) await rogue.dial(peer.getMultiaddrs()[0]!)
  })
  afterAll(async () => {
    await rogue.stop()
    await cluster.stop()
  })

  it('counts them as refused and changes nothing; a later keygen still works', async () => {
    const { coordinator, nodes } = cluster
    const [n1, n2, n3] = nodes as [MpcNode, MpcNode, MpcNode]
    const clusterId = cluster.init.clusterId
    const topic = topicName(clusterId, 'rounds')

    // A real DKG between n1 and n2; n1 keeps what n2 sent on the rounds channel.
    const captured: Uint8Array[] = []
    const onMessage = (evt: CustomEvent<Message>): void => {
      if (evt.detail.topic === topic && evt.detail.type === 'signed' && evt.detail.from.equals(n2.peerId)) captured.push(evt.detail.data)
    }
    n1.libp2p.services.pubsub.addEventListener('message', onMessage)
    let key
    try {
      key = await coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2, members: [n1, n2].map(n => n.peerId.toString()) })
    } finally {
      n1.libp2p.services.pubsub.removeEventListener('message', onMessage)
    }
    const round1 = captured.find(bytes => GossipMessage.decode(bytes).round?.dkgRound1 !== undefined)
    expect(round1, 'a round-1 message of n2 seen by n1').toBeDefined()
    expect(GossipMessage.decode(round1!).round?.sessionId).toBe(key.sessionId)

    const keysBefore = await coordinator.keys.list()
    const sharesBefore = await Promise.all(nodes.map(async n => await n.shares()))
    const epoch = coordinator.roster.epoch
    const peers = { coordinator: coordinator.gossip, n1: n1.gossip, n2: n2.gossip, n3: n3.gossip }
    const before = Object.fromEntries(Object.entries(peers).map(([name, g]) => [name, { ...g.counters.rejected }]))
    const counted = (name: keyof typeof peers, reason: GossipRejectReason): number =>
      (peers[name].counters.rejected[reason] ?? 0) - (before[name]![reason] ?? 0)

    // 1. n2's own round-1 message of the finished session, published again by n2 (a replay).
    await n2.libp2p.services.pubsub.publish(topic, round1!)
    // 2. The same message published by a member that is not a participant, while the participants
    //    still keep the finished session (to answer late nacks).
    await n3.libp2p.services.pubsub.publish(topic, round1!)
    // 3. A round message for a session nobody runs, from a member: relayed (a session may be
    //    unknown only because its keygen command has not arrived yet), acted on by nobody.
    const unknownSession = encodeGossip(clusterId, { round: { sessionId: 'no-such-session', nack: { round: 1, missing: [n1.peerId.toMultihash().bytes] } } })
    await n3.libp2p.services.pubsub.publish(topic, unknownSession)
    // 4. The same round-1 bytes, and a nack, from a peer outside the roster.
    await waitFor('the rogue sees the cluster on the rounds topic', () => rogue.services.pubsub.getSubscribers(topic).length >= 4)
    await rogue.services.pubsub.publish(topic, round1!)
    await rogue.services.pubsub.publish(topic, encodeGossip(clusterId, { round: { sessionId: key.sessionId, nack: { round: 1, missing: [n1.peerId.toMultihash().bytes] } } }))

    await waitFor('the replay and the non-participant\'s copy counted as ended-session at the coordinator', () =>
      counted('coordinator', 'ended-session') >= 2)
    // (It travels the mesh: a participant that gets it refuses it and does not pass it on.)
    await waitFor('the non-participant\'s message counted as not-participant', () =>
      counted('n1', 'not-participant') + counted('n2', 'not-participant') >= 1)
    await waitFor('the stranger\'s messages counted as unknown-sender', () =>
      counted('coordinator', 'unknown-sender') >= 2 && counted('n1', 'unknown-sender') >= 2 && counted('n3', 'unknown-sender') >= 2)

    // Nothing changed: roster, keys, shares; no node answered the stranger's nack.
    expect(coordinator.roster.epoch).toBe(epoch)
    expect(coordinator.cluster().members.map(m => m.peerId)).not.toContain(rogue.peerId.toString())
    expect(await coordinator.keys.list()).toEqual(keysBefore)
    expect(await Promise.all(nodes.map(async n => await n.shares()))).toEqual(sharesBefore)

    // The cluster still works: a new key among all three, and both keys sign.
    const next = await coordinator.tasks.keygen({ scheme: 'taproot', threshold: 2, parties: 3 })
    for (const k of [key, next]) {
      const message = messageFor(k.scheme, 'after the replays')
      expect(verifiesExternally(k, message, (await cluster.sign(k.id, message)).signature)).toBe(true)
    }
  })
})

interface Answer { status: number, contentType: string | null, body: unknown }

describe('bad input through the HTTP API gets a clear JSON refusal and changes nothing', () => {
  let cluster: TestCluster
  let token: string
  let api: ApiClient
  /** A signature through the API for a new request of the test client. */
  let signVia: (keyId: string, messageHex: string) => ReturnType<ApiClient['sign']>
  let edKey: string
  let trKey: string

  const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(new URL(path, cluster.coordinator.apiUrl), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body
    })
    const text = await res.text()
    let parsed: unknown
    try { parsed = JSON.parse(text) } catch { parsed = text }
    return { status: res.status, contentType: res.headers.get('content-type'), body: parsed }
  }
  const post = async (path: string, body: unknown): Promise<Answer> => await call('POST', path, JSON.stringify(body))

  /** Every refusal: the status, a JSON body `{ error: { code, message } }`, a message matching `pattern`. */
  const expectRefusal = (answer: Answer, status: number, pattern?: RegExp): void => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status)
    expect(answer.contentType).toMatch(/^application\/json/)
    const error = (answer.body as { error?: { code?: unknown, message?: unknown } }).error
    expect(typeof error?.code).toBe('string')
    expect(typeof error?.message).toBe('string')
    expect(error?.message).not.toMatch(/\n\s+at /)
    if (pattern !== undefined) expect(error?.message).toMatch(pattern)
  }

  beforeAll(async () => {
    cluster = await startCluster(3)
    await waitAllUp(cluster)
    token = (await readFile(join(cluster.root, 'coordinator', 'api-token'), 'utf8')).trim()
    api = new ApiClient(cluster.coordinator.apiUrl!, token)
    signVia = async (keyId, messageHex) => await api.sign(keyId, messageHex, requestFor(cluster.init.clusterId, keyId, Buffer.from(messageHex, 'hex')))
    edKey = (await api.keygen({ scheme: 'ed25519', threshold: 2, parties: 3 })).id
    trKey = (await api.keygen({ scheme: 'taproot', threshold: 2, parties: 3, network: 'regtest' })).id
  })
  afterAll(async () => { await cluster.stop() })

  it('answers valid requests (the baseline)', async () => {
    const key = await api.key(trKey, 'regtest')
    expect(key).toMatchObject({ id: trKey, scheme: 'taproot', threshold: 2, parties: 3, status: 'ok' })
    expect(key.address).toMatch(/^bcrt1p/)
    const message = randomBytes(32)
    const signed = await signVia(trKey, hex(message))
    expect(verifiesExternally((await cluster.coordinator.keys.get(trKey))!, message, Buffer.from(signed.signature, 'hex'))).toBe(true)
  })

  it('refuses bad keygen, sign and key requests with 4xx JSON errors, and the cluster is unchanged', async () => {
    const keysBefore = (await cluster.coordinator.keys.list()).map(k => k.id)
    const epoch = cluster.coordinator.roster.epoch
    const sharesBefore = await Promise.all(cluster.nodes.map(async n => await n.shares()))

    // Unknown key id.
    expectRefusal(await call('GET', '/v1/keys/key-0000000000000000'), 404, /key-0000000000000000/)
    expectRefusal(await post('/v1/keys/key-0000000000000000/sign', { message: '00' }), 404, /key-0000000000000000/)
    // An absurdly long key id.
    expectRefusal(await call('GET', `/v1/keys/${'k'.repeat(4096)}`), 414)
    expectRefusal(await call('GET', `/v1/keys/${trKey}?network=moon`), 400, /network/)
    expectRefusal(await call('GET', '/v1/events?after=-1'), 400)
    // Keygen parameters.
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: 4, parties: 3 }), 400, /threshold/)
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: 0, parties: 3 }), 400, /threshold/)
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: -1, parties: 3 }), 400, /threshold/)
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: 1.5, parties: 3 }), 400, /threshold/)
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: '2', parties: 3 }), 400, /threshold/)
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: 2, parties: 1e9 }), 400, /part/)
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: 2, members: [] }), 400)
    expectRefusal(await post('/v1/keys', { scheme: 'rsa', threshold: 2, parties: 3 }), 400, /scheme/)
    expectRefusal(await post('/v1/keys', { threshold: 2, parties: 3 }), 400, /scheme/)
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: 2, parties: 3, color: 'blue' }), 400, /unknown field.*color/)
    expectRefusal(await post('/v1/keys', { scheme: 'taproot', threshold: 2, parties: 3, network: 'moon' }), 400, /network/)
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: 2, parties: 2, members: ['12D3KooWnotamember', 'x'] }), 400)
    // More parties than healthy members: not a client error, but a clear one.
    expectRefusal(await post('/v1/keys', { scheme: 'ed25519', threshold: 2, parties: 9 }), 503, /healthy/)
    // Messages.
    expectRefusal(await post(`/v1/keys/${edKey}/sign`, { message: 'ab'.repeat(16 * 1024 + 1) }), 400, /16384/)
    expectRefusal(await post(`/v1/keys/${edKey}/sign`, { message: 'ab'.repeat(40 * 1024) }), 413)
    expectRefusal(await post(`/v1/keys/${trKey}/sign`, { message: 'ab'.repeat(31) }), 400, /32/)
    expectRefusal(await post(`/v1/keys/${trKey}/sign`, { message: 'ab'.repeat(33) }), 400, /32/)
    expectRefusal(await post(`/v1/keys/${edKey}/sign`, { message: 'zz' }), 400, /hex/)
    expectRefusal(await post(`/v1/keys/${edKey}/sign`, { message: 'abc' }), 400, /hex/)
    expectRefusal(await post(`/v1/keys/${edKey}/sign`, { message: '' }), 400, /hex/)
    expectRefusal(await post(`/v1/keys/${edKey}/sign`, { message: 42 }), 400, /hex/)
    expectRefusal(await post(`/v1/keys/${edKey}/sign`, {}), 400, /hex/)
    expectRefusal(await post(`/v1/keys/${edKey}/sign`, { message: '00', extra: true }), 400, /unknown field.*extra/)
    // Not JSON, not an object, not declared JSON.
    expectRefusal(await call('POST', `/v1/keys/${edKey}/sign`, '{"message": "00"'), 400, /JSON/)
    expectRefusal(await call('POST', '/v1/keys', 'scheme=ed25519'), 400, /JSON/)
    expectRefusal(await call('POST', '/v1/keys', '[1,2,3]'), 400, /object/)
    expectRefusal(await call('POST', `/v1/keys/${edKey}/sign`, '{"message": "00"}', { 'content-type': 'text/plain' }), 415)
    // Wrong or missing bearer token.
    expectRefusal(await call('GET', '/v1/keys', undefined, { authorization: `Bearer ${token}x` }), 401)
    expectRefusal(await call('POST', '/v1/keys', JSON.stringify({ scheme: 'ed25519', threshold: 2, parties: 3 }), { authorization: 'Bearer nope' }), 401)
    expectRefusal(await call('GET', '/v1/keys', undefined, { authorization: '' }), 401)

    // Through the client: the status and message reach the caller.
    const notFound = await api.key('key-nope').catch((err: unknown) => err)
    expect(notFound).toBeInstanceOf(ApiClientError)
    expect((notFound as ApiClientError).status).toBe(404)
    expect((notFound as ApiClientError).message).toMatch(/^404 .*key-nope/)
    const tooMany = await api.keygen({ scheme: 'taproot', threshold: 4, parties: 3 }).catch((err: unknown) => err)
    expect((tooMany as ApiClientError).status).toBe(400)
    const wrongToken = await new ApiClient(cluster.coordinator.apiUrl!, 'wrong').keys().catch((err: unknown) => err)
    expect((wrongToken as ApiClientError).status).toBe(401)

    // Nothing changed.
    expect((await cluster.coordinator.keys.list()).map(k => k.id)).toEqual(keysBefore)
    expect(cluster.coordinator.roster.epoch).toBe(epoch)
    expect(await Promise.all(cluster.nodes.map(async n => await n.shares()))).toEqual(sharesBefore)
    expect(cluster.coordinator.cluster().members.every(m => m.state === 'up')).toBe(true)
    // And it still signs.
    const signed = await signVia(edKey, 'cafe')
    expect(verifiesExternally((await cluster.coordinator.keys.get(edKey))!, Buffer.from('cafe', 'hex'), Buffer.from(signed.signature, 'hex'))).toBe(true)
  })

  it('refuses a key id that is not a well-formed URI component as bad input (4xx), not as a coordinator failure', async () => {
    for (const answer of [await call('GET', '/v1/keys/%E0%A4%A'), await post('/v1/keys/%ZZ/sign', { message: '00' })]) {
      expect([400, 404], JSON.stringify(answer.body)).toContain(answer.status)
      expectRefusal(answer, answer.status)
    }
    // Still serving.
    expect((await api.keys()).map(k => k.id)).toEqual(expect.arrayContaining([edKey, trKey]))
  })

  it('serves the session events with their session id, key id and reason', async () => {
    const since = (await api.events({ limit: 10_000 })).at(-1)?.seq ?? 0
    const signed = await signVia(edKey, 'beef')
    const events = (await api.events({ after: since })) as unknown as Array<Record<string, unknown>>
    const started = events.find(e => e.kind === 'SESSION_STARTED')
    const finished = events.find(e => e.kind === 'SESSION_FINISHED')
    // Without these an operator cannot tell which session or key an event is about.
    expect(started).toMatchObject({ sessionId: signed.sessionId, keyId: edKey, operation: 'sign' })
    expect(finished).toMatchObject({ sessionId: signed.sessionId, keyId: edKey, operation: 'sign' })
    expect(await api.events({ after: since })).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'SESSION_FINISHED', sessionId: signed.sessionId })]))
  })

  it('refuses to start a node with the wrong passphrase, with a one-line message, and starts it with the right one', async () => {
    const node = cluster.nodes[2]!
    const peerId = node.peerId.toString()
    const held = (await node.shares()).map(s => s.keyId).sort()
    expect(held.length).toBeGreaterThan(0)
    await node.stop()

    const options = { ...VAULT, dataDir: node.dataDir, log, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeatIntervalMs: FAST.heartbeatIntervalMs }
    for (const passphrase of ['not the passphrase', VAULT.passphrase + ' ']) {
      const err = await MpcNode.start({ ...options, passphrase }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(PassphraseError)
      expect((err as Error).message).toMatch(/passphrase/)
      expect((err as Error).message).not.toContain('\n')
      expect((err as Error).message).not.toContain(passphrase)
    }
    const empty = await MpcNode.start({ ...options, passphrase: '' }).catch((e: unknown) => e)
    expect(empty).toBeInstanceOf(PassphraseError)
    // It never came up in between.
    await waitFor(`${peerId} down`, () => memberState(cluster, peerId) === 'down')

    // The right passphrase opens the same store: same identity, same shares, and it signs.
    const restarted = await restartNode(cluster, node)
    expect(restarted.peerId.toString()).toBe(peerId)
    expect((await restarted.shares()).map(s => s.keyId).sort()).toEqual(held)
    const message = randomBytes(32)
    const signed = await signVia(trKey, hex(message))
    expect(verifiesExternally((await cluster.coordinator.keys.get(trKey))!, message, Buffer.from(signed.signature, 'hex'))).toBe(true)
  })
})
