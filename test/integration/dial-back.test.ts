import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createServer, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { answersLibp2p, DialBack, reachFrom } from '../../src/coordinator/dial-back.js'
import { createPeer, type MpcLibp2p } from '../../src/runtime/libp2p.js'
import { freePort, waitFor } from '../helpers.js'

/** A TCP server that accepts every connection and never says a word, like a middlebox. */
async function silentServer (): Promise<{ addr: Multiaddr, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer(socket => { sockets.add(socket) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    addr: multiaddr(`/ip4/127.0.0.1/tcp/${(server.address() as { port: number }).port}`),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

async function closedAddr (): Promise<Multiaddr> {
  return multiaddr(`/ip4/127.0.0.1/tcp/${await freePort()}`)
}

async function peer (): Promise<MpcLibp2p> {
  return await createPeer({ privateKey: await generateKeyPair('Ed25519'), clusterId: 'dial-back-test', listen: ['/ip4/127.0.0.1/tcp/0'] })
}

const circuit = multiaddr('/ip4/11.0.0.1/tcp/7400/p2p/12D3KooWPcpnjtY9Kn6brPCnGZfVpKoYH4GAHNga1uU2AYm3GQKq/p2p-circuit')

describe('the coordinator\'s dial-back', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  afterEach(async () => { await Promise.all(cleanup.splice(0).map(async stop => await stop())) })

  it('finds a libp2p listener, and not a silent TCP server, a closed port, a relay address or a UDP address', async () => {
    const target = await peer()
    cleanup.push(async () => { await target.stop() })
    const silent = await silentServer()
    cleanup.push(silent.close)
    expect(await answersLibp2p(target.getMultiaddrs()[0]!, 2_000)).toBe(true)
    const started = Date.now()
    expect(await answersLibp2p(silent.addr, 300)).toBe(false)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(await answersLibp2p(await closedAddr(), 2_000)).toBe(false)
    expect(await answersLibp2p(circuit, 2_000)).toBe(false)
    expect(await answersLibp2p(multiaddr('/ip4/127.0.0.1/udp/4001/quic-v1'), 2_000)).toBe(false)
    // the peer is still fine after the probes
    expect(target.status).toBe('started')
  })

  it('names the widest address that answered, else the relay, else nowhere', () => {
    const pub = multiaddr('/ip4/11.0.0.101/tcp/4101')
    const lan = multiaddr('/ip4/10.1.0.2/tcp/4101')
    expect(reachFrom([pub, lan, circuit], [lan, pub])).toBe('public')
    expect(reachFrom([pub, lan, circuit], [lan])).toBe('local')
    expect(reachFrom([pub, circuit], [])).toBe('relay')
    expect(reachFrom([pub], [])).toBe('unreachable')
    expect(reachFrom([], [])).toBe('unreachable')
  })

  it('checks new and changed addresses, again when due, and forgets members that left', async () => {
    const target = await peer()
    const open = target.getMultiaddrs()[0]!.decapsulateCode(421)
    const closed = await closedAddr()
    const dialBack = new DialBack(2_000, 200)
    let members = [{ peerId: 'a', addrs: [open] }, { peerId: 'b', addrs: [closed] }, { peerId: 'c', addrs: [closed, circuit] }]
    const refresh = (): void => { dialBack.refresh(members, Date.now()) }
    expect(dialBack.reach('a', [open])).toBe('unchecked')
    refresh()
    await waitFor('the three checked', () => members.every(m => dialBack.reach(m.peerId, m.addrs) !== 'unchecked'))
    expect(members.map(m => dialBack.reach(m.peerId, m.addrs))).toEqual(['local', 'unreachable', 'relay'])

    // b corrects its address: unchecked until the new one is dialled back.
    members = [members[0]!, { peerId: 'b', addrs: [open] }, members[2]!]
    expect(dialBack.reach('b', [open])).toBe('unchecked')
    refresh()
    await waitFor('b checked at its new address', () => dialBack.reach('b', [open]) === 'local')

    // a's listener goes away: the next check, once due, finds it.
    await target.stop()
    await waitFor('a rechecked', () => { refresh(); return dialBack.reach('a', [open]) === 'unreachable' }, 5_000)

    members = [members[2]!]
    refresh()
    expect(dialBack.reach('a', [open])).toBe('unchecked')
  })

  it('stops: a check under way ends at once, and none starts after', async () => {
    const silent = await silentServer()
    cleanup.push(silent.close)
    const dialBack = new DialBack(60_000, 60_000)
    dialBack.refresh([{ peerId: 'a', addrs: [silent.addr] }], Date.now())
    await new Promise(resolve => setTimeout(resolve, 100))
    dialBack.stop()
    await waitFor('the check ended', () => dialBack.reach('a', [silent.addr]) === 'unreachable', 2_000)
    dialBack.refresh([{ peerId: 'b', addrs: [silent.addr] }], Date.now())
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(dialBack.reach('b', [silent.addr])).toBe('unchecked')
  })
})
