import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { advertised, boundAddresses, needsRelay, reachOf, scopeOf } from '../../src/runtime/addresses.js'

const ma = (s: string): ReturnType<typeof multiaddr> => multiaddr(s)
const loop = ma('/ip4/127.0.0.1/tcp/4001')
const lan = ma('/ip4/10.1.0.2/tcp/4001')
const pub = ma('/ip4/11.0.0.101/tcp/4101')
const circuit = ma('/ip4/11.0.0.1/tcp/7400/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit')
const show = (addrs: Array<ReturnType<typeof multiaddr>>): string[] => addrs.map(String)

describe('which of its addresses a peer advertises', () => {
  it('tells loopback, private and public scopes apart, DNS counting as public', () => {
    expect([loop, lan, pub, ma('/dns4/wallet.example.com/tcp/443')].map(scopeOf)).toEqual(['loopback', 'private', 'public', 'public'])
  })

  it('a node behind NAT joining a public coordinator advertises its relay address, not its LAN one', () => {
    expect(show(advertised([loop, lan, circuit], [ma('/ip4/11.0.0.1/tcp/7400')]))).toEqual([circuit.toString()])
  })

  it('a LAN cluster advertises LAN addresses but not loopback; a loopback simulation keeps loopback', () => {
    expect(show(advertised([loop, lan], [ma('/ip4/10.1.0.1/tcp/7400')]))).toEqual([lan.toString()])
    expect(show(advertised([loop], [ma('/ip4/127.0.0.1/tcp/7400')]))).toEqual([loop.toString()])
  })

  it('a peer with a public address advertises only that (and relay addresses)', () => {
    expect(show(advertised([loop, lan, pub, circuit], []))).toEqual([pub.toString(), circuit.toString()])
  })

  it('reports the best reach a set of addresses gives', () => {
    expect(reachOf([lan, pub])).toBe('public')
    expect(reachOf([lan, circuit])).toBe('relay')
    expect(reachOf([loop, lan])).toBe('local')
  })
})

describe('whether a node needs a relay', () => {
  const behindNat = { lo: [{ address: '127.0.0.1', family: 'IPv4' }], eth0: [{ address: '10.2.0.2', family: 'IPv4' }] } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>
  const onCloudVm = { lo: [{ address: '127.0.0.1', family: 'IPv4' }], eth0: [{ address: '11.0.0.5', family: 'IPv4' }] } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>
  const any = [ma('/ip4/0.0.0.0/tcp/0')]
  const publicCoordinator = [ma('/ip4/11.0.0.1/tcp/7400')]

  it('behind NAT with a public coordinator: yes', () => {
    expect(needsRelay(any, publicCoordinator, behindNat)).toBe(true)
  })

  it('with a public interface, or a coordinator on the same LAN or loopback: no', () => {
    expect(needsRelay(any, publicCoordinator, onCloudVm)).toBe(false)
    expect(needsRelay(any, [ma('/ip4/10.2.0.1/tcp/7400')], behindNat)).toBe(false)
    expect(needsRelay([ma('/ip4/127.0.0.1/tcp/0')], [ma('/ip4/127.0.0.1/tcp/7400')], behindNat)).toBe(false)
  })

  it('expands a wildcard listen address to every interface address of its family', () => {
    expect(show(boundAddresses(any, onCloudVm))).toEqual(['/ip4/127.0.0.1/tcp/0', '/ip4/11.0.0.5/tcp/0'])
    expect(show(boundAddresses([ma('/ip4/10.2.0.2/tcp/4001')], onCloudVm))).toEqual(['/ip4/10.2.0.2/tcp/4001'])
  })
})
