import type { Multiaddr } from '@multiformats/multiaddr'
import { connect } from 'node:net'
import { isRelayed, scopeOf } from '../runtime/addresses.js'
import { DIAL_BACK_RECHECK_MS, DIAL_BACK_TICK_MS, DIAL_BACK_TIMEOUT_MS } from './constants.js'

/**
 * Where a member can be dialled, as the coordinator found by dialling back: at a public address,
 * only at local (LAN, loopback) ones, only through its relay address, or nowhere (it is reached
 * only over the connections it dials). `unchecked` until the first dial-back of its addresses ends.
 */
export type Reach = 'public' | 'local' | 'relay' | 'unreachable' | 'unchecked'

/** multistream-select's header, length-prefixed (multiformats/multistream-select, "Protocol"). */
const MSS_HEADER = Buffer.from('\x13/multistream/1.0.0\n', 'latin1')

/**
 * Whether a libp2p listener answers at `ma` within `timeoutMs`: the TCP connection is accepted and
 * multistream-select's header comes back for ours (a middlebox that accepts every connection does
 * not answer). The connection is closed at once, before any security protocol is chosen.
 */
export async function answersLibp2p (ma: Multiaddr, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  if (isRelayed(ma) || signal?.aborted === true) return false
  let target: { host: string, port: number, transport: string }
  try {
    target = ma.toOptions()
  } catch {
    return false // not an address one can dial over TCP
  }
  const { host, port, transport } = target
  if (transport !== 'tcp' || port === 0) return false
  return await new Promise<boolean>(resolve => {
    const socket = connect({ host, port })
    let received = Buffer.alloc(0)
    const done = (ok: boolean): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', abort)
      socket.destroy()
      resolve(ok)
    }
    const abort = (): void => { done(false) }
    const timer = setTimeout(abort, timeoutMs)
    signal?.addEventListener('abort', abort)
    socket.once('connect', () => { socket.write(MSS_HEADER) })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.length >= MSS_HEADER.length) done(received.subarray(0, MSS_HEADER.length).equals(MSS_HEADER))
    })
    socket.once('close', () => { done(false) })
    socket.once('error', () => { done(false) })
  })
}

/** The reach that the answered direct addresses give, else the relay address, else none. */
export function reachFrom (addrs: Multiaddr[], answered: Multiaddr[]): Exclude<Reach, 'unchecked'> {
  if (answered.some(ma => scopeOf(ma) === 'public')) return 'public'
  if (answered.length > 0) return 'local'
  return addrs.some(isRelayed) ? 'relay' : 'unreachable'
}

interface Checked { addrs: string, reach: Exclude<Reach, 'unchecked'>, atMs: number }

/**
 * The coordinator's dial-back, in place of AutoNAT (whose 2.0 server closes the connection it
 * shares with the asker): a fresh connection to each direct address a member advertises,
 * so that a wrong `--announce` or a closed port forward shows in `status` instead of being trusted.
 */
export class DialBack {
  private readonly checked = new Map<string, Checked>()
  private readonly running = new Set<string>()
  private readonly stopping = new AbortController()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly timeoutMs = DIAL_BACK_TIMEOUT_MS, private readonly recheckMs = DIAL_BACK_RECHECK_MS) {}

  reach (peerId: string, addrs: Multiaddr[]): Reach {
    const checked = this.checked.get(peerId)
    return checked !== undefined && checked.addrs === key(addrs) ? checked.reach : 'unchecked'
  }

  /** Starts a check of each member whose addresses are unchecked, changed, or due again; forgets those gone. */
  refresh (members: Array<{ peerId: string, addrs: Multiaddr[] }>, nowMs: number): void {
    const current = new Set(members.map(m => m.peerId))
    for (const id of this.checked.keys()) if (!current.has(id)) this.checked.delete(id)
    if (this.stopping.signal.aborted) return
    for (const { peerId, addrs } of members) {
      const checked = this.checked.get(peerId)
      const addrsKey = key(addrs)
      if (this.running.has(peerId) || (checked?.addrs === addrsKey && nowMs - checked.atMs < this.recheckMs)) continue
      this.running.add(peerId)
      void this.check(addrs).then(reach => {
        this.checked.set(peerId, { addrs: addrsKey, reach, atMs: Date.now() })
      }).finally(() => { this.running.delete(peerId) })
    }
  }

  /** Refreshes `members()` every DIAL_BACK_TICK_MS until stop(). */
  start (members: () => Array<{ peerId: string, addrs: Multiaddr[] }>): void {
    this.timer = setInterval(() => { this.refresh(members(), Date.now()) }, DIAL_BACK_TICK_MS)
  }

  /** Closes the connections of the checks under way; no check starts after. */
  stop (): void {
    clearInterval(this.timer)
    this.stopping.abort()
  }

  private async check (addrs: Multiaddr[]): Promise<Exclude<Reach, 'unchecked'>> {
    const direct = addrs.filter(ma => !isRelayed(ma))
    const answers = await Promise.all(direct.map(async ma => await answersLibp2p(ma, this.timeoutMs, this.stopping.signal)))
    return reachFrom(addrs, direct.filter((_, i) => answers[i]))
  }
}

const key = (addrs: Multiaddr[]): string => addrs.map(String).sort().join(' ')
