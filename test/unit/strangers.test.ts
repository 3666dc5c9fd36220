import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { Strangers } from '../../src/coordinator/strangers.js'
import { log } from '../helpers.js'
import type { PeerId } from '@libp2p/interface'

/** Just the part of libp2p the guard uses: connect events, connections, hang-ups. */
function fakeLibp2p (): { libp2p: ConstructorParameters<typeof Strangers>[0]['libp2p'], connect: (peer: PeerId) => void, hungUp: string[] } {
  const listeners: Array<(evt: CustomEvent<PeerId>) => void> = []
  const connected = new Set<string>()
  const hungUp: string[] = []
  const libp2p = {
    addEventListener: (_: string, fn: (evt: CustomEvent<PeerId>) => void) => { listeners.push(fn) },
    removeEventListener: () => {},
    getPeers: () => [],
    getConnections: (peer?: PeerId) => connected.has(peer?.toString() ?? '') ? [{}] : [],
    hangUp: async (peer: PeerId) => { connected.delete(peer.toString()); hungUp.push(peer.toString()) }
  } as unknown as ConstructorParameters<typeof Strangers>[0]['libp2p']
  const connect = (peer: PeerId): void => {
    connected.add(peer.toString())
    for (const fn of listeners) fn(new CustomEvent('peer:connect', { detail: peer }))
  }
  return { libp2p, connect, hungUp }
}

describe('the stranger guard', () => {
  it('does not hang up on a peer whose Join is still being answered when its grace ends, and does once it is over', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const { libp2p, connect, hungUp } = fakeLibp2p()
    let busy = true
    const guard = new Strangers({ libp2p, isKnown: () => false, isBusy: () => busy, graceMs: 50, log })
    guard.start()
    try {
      connect(peer)
      await sleep(130)
      expect(hungUp).toEqual([])
      busy = false
      await sleep(100)
      expect(hungUp).toEqual([peer.toString()])
    } finally {
      guard.stop()
    }
  })
})
