import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { advertised, reachOf, scopeOf } from '../../src/peer/addresses.js'

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
