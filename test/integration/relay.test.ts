import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isRelayed } from '../../src/runtime/addresses.js'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { pingOver } from '../../scripts/ping.js'
import { FAST, log, startCluster, waitFor, type TestCluster } from '../helpers.js'
import { Coordinator } from '../../src/coordinator/coordinator.js'
import { join } from 'node:path'
import type { MpcNode } from '../../src/peer/node.js'
import type { Connection } from '@libp2p/interface'

/** The coordinator's loopback TCP address, with its PeerId. */
function coordinatorAddr (cluster: TestCluster): Multiaddr {
  const addr = cluster.coordinator.libp2p.getMultiaddrs().find(ma => !isRelayed(ma))
  if (addr === undefined) throw new Error('the coordinator has no TCP address')
  return addr
}

/** A peer that speaks our protocols but is not in the roster. */
async function stranger (cluster: TestCluster): Promise<MpcLibp2p> {
  return await createPeer({ privateKey: await generateKeyPair('Ed25519'), clusterId: cluster.init.clusterId, listen: ['/ip4/127.0.0.1/tcp/0'] })
}

describe('circuit relay on the coordinator, and the members-only gate', () => {
  let cluster: TestCluster
  let relayed: MpcNode
  let gated: MpcNode
  let plain: MpcNode
  const strangers: MpcLibp2p[] = []

  beforeAll(async () => {
    cluster = await startCluster(0)
    relayed = await cluster.startNode('relayed', { relay: true, noAnnounce: true })
    gated = await cluster.startNode('gated')
    plain = await cluster.startNode('plain', { membersOnly: false })
  })
  afterAll(async () => {
    await Promise.allSettled(strangers.map(async s => { await s.stop() }))
    await cluster.stop()
  })

  it('a member holds a reservation on the coordinator, and another member reaches it through the relay', async () => {
    const relay = cluster.coordinator.libp2p.services.relay
    expect(relay).toBeDefined()
    await waitFor('a reservation of the relayed node on the coordinator', () =>
      relay!.reservations.has(relayed.peerId) && relayed.libp2p.getMultiaddrs().some(isRelayed), 10_000)
    const via = multiaddr(`${coordinatorAddr(cluster).toString()}/p2p-circuit/p2p/${relayed.peerId.toString()}`)
    expect(relayed.libp2p.getMultiaddrs().map(String)).toContain(via.toString())

    // A new connection (not the direct one the members already share), through the coordinator.
    // (Retried: the member may be in the middle of its own dial of the relayed node, which has no
    // address it could use until the roster carries the circuit address; a new dial joins that one.)
    let connection: Connection | undefined
    await waitFor('a relayed connection', async () => {
      connection = await plain.libp2p.dial(via, { force: true }).catch(() => undefined)
      return connection !== undefined
    }, 5_000, 100)
    if (connection === undefined) throw new Error('unreachable')
    expect(isRelayed(connection.remoteAddr)).toBe(true)
    expect(connection.remotePeer.equals(relayed.peerId)).toBe(true)
    expect(connection.limits).toBeDefined() // relayed connections are bounded by the relay
    await pingOver(connection)
    await connection.close()
  })

  it('refuses a relay reservation to a peer outside the roster', async () => {
    const relay = cluster.coordinator.libp2p.services.relay!
    const key = await generateKeyPair('Ed25519')
    const circuit = `${coordinatorAddr(cluster).toString()}/p2p-circuit`
    // Listening on an explicit relay address makes the peer reserve a slot there as it starts;
    // the coordinator's gater (denyInboundRelayReservation) answers PERMISSION_DENIED.
    const started = await createPeer({ privateKey: key, clusterId: cluster.init.clusterId, listen: ['/ip4/127.0.0.1/tcp/0', circuit] })
      .then(peer => { strangers.push(peer); return 'started' }, (err: unknown) => err)
    expect(started).toBeInstanceOf(Error)
    expect((started as Error).message).toMatch(/PERMISSION_DENIED/)
    expect(relay.reservations.has(peerIdFromPrivateKey(key))).toBe(false)
    // The member's reservation is untouched.
    expect(relay.reservations.has(relayed.peerId)).toBe(true)
  })

  it('a node (members-only by default) refuses a stranger once it has a roster, and still admits members', async () => {
    expect(gated.roster.current).toBeDefined()
    const rogue = await stranger(cluster)
    strangers.push(rogue)
    // libp2p accepts at most 5 inbound connections a second from one host, and every peer here is
    // 127.0.0.1: let the connections of the cluster's start age out, so that only the gate refuses.
    await new Promise(resolve => setTimeout(resolve, 1_100))
    // The gate runs at the listener once Noise has proven the dialer's PeerId, so the dialer may
    // see its side of the handshake finish; the connection is then closed and carries nothing.
    const refused = await (async () => {
      const connection = await rogue.dial(gated.libp2p.getMultiaddrs()[0]!, { force: true })
      await pingOver(connection)
    })().then(() => 'pinged', (err: unknown) => err)
    expect(refused).toBeInstanceOf(Error)
    await waitFor('the stranger has no open connection to the gated node', () =>
      rogue.getConnections(gated.peerId).every(c => c.status !== 'open'), 5_000)
    expect(gated.libp2p.getConnections(rogue.peerId)).toHaveLength(0)
    // The same stranger can dial a node without the gate: it was the gate that refused it.
    await rogue.dial(plain.libp2p.getMultiaddrs()[0]!)
    // A member and the coordinator still connect, with fresh inbound connections.
    for (const member of [plain.libp2p, cluster.coordinator.libp2p]) {
      const connection = await member.dial(gated.libp2p.getMultiaddrs().find(ma => !isRelayed(ma))!, { force: true })
      expect(connection.status).toBe('open')
      await pingOver(connection)
    }
  })

  it('finds a member by its PeerId alone through the cluster DHT, and dials it', async () => {
    // `plain` forgets all it knows of `gated`: its connections and every address it had.
    await plain.libp2p.hangUp(gated.peerId)
    await plain.libp2p.peerStore.delete(gated.peerId)
    expect(await plain.libp2p.peerStore.has(gated.peerId)).toBe(false)
    const found = await plain.libp2p.peerRouting.findPeer(gated.peerId, { signal: AbortSignal.timeout(10_000) })
    const direct = gated.libp2p.getMultiaddrs().find(ma => !isRelayed(ma))!.decapsulate('/p2p').toString()
    expect(found.multiaddrs.map(ma => ma.toString())).toContain(direct)
    // (Retried: libp2p takes at most 5 inbound connections a second from one host, and every peer
    // here is 127.0.0.1, so a dial right after the lookup's may be refused.)
    let connection: Connection | undefined
    await waitFor('a dial of the found member', async () => {
      connection = await plain.libp2p.dial(gated.peerId).catch(() => undefined)
      return connection !== undefined
    }, 5_000, 250)
    expect(isRelayed(connection!.remoteAddr)).toBe(false)
    await pingOver(connection!)
  })

  // Last: it restarts the coordinator.
  it('reserves again after the coordinator restarts, and the roster lists the relay address again', async () => {
    const address = coordinatorAddr(cluster).decapsulateCode(421).toString()
    await cluster.coordinator.stop()
    await waitFor('the relay address gone with the relay', () => !relayed.libp2p.getMultiaddrs().some(isRelayed), 10_000)
    cluster.coordinator = await Coordinator.start({ dataDir: join(cluster.root, 'coordinator'), log, health: FAST.health, listen: [address] })
    const relay = cluster.coordinator.libp2p.services.relay!
    await waitFor('a new reservation on the restarted coordinator', () => relay.reservations.has(relayed.peerId), 20_000)
    await waitFor('the roster lists the relay address again', () =>
      cluster.coordinator.cluster().members.find(m => m.peerId === relayed.peerId.toString())?.addrs.some(a => a.includes('/p2p-circuit')) === true, 10_000)
    await waitFor('the relayed node up', () => cluster.coordinator.cluster().members.find(m => m.peerId === relayed.peerId.toString())?.state === 'up', 10_000)
  })
})
