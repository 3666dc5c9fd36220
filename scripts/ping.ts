import { pipe } from 'it-pipe'
import type { Connection } from '@libp2p/interface'

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_BYTES = 32

/**
 * One libp2p ping (32 random bytes echoed) over exactly this connection, relayed or not.
 * Resolves to the round trip in ms; throws if the echo differs.
 */
export async function pingOver (connection: Connection): Promise<number> {
  const stream = await connection.newStream(PING_PROTOCOL, { runOnLimitedConnection: true })
  const data = crypto.getRandomValues(new Uint8Array(PING_BYTES))
  const start = performance.now()
  const echoed = await pipe([data], stream, async source => {
    const chunks: Uint8Array[] = []
    let length = 0
    for await (const chunk of source) {
      chunks.push(chunk.subarray())
      length += chunk.byteLength
      if (length >= PING_BYTES) break
    }
    return Buffer.concat(chunks)
  })
  const rtt = performance.now() - start
  await stream.close().catch(() => {})
  if (!Buffer.from(echoed.subarray(0, PING_BYTES)).equals(Buffer.from(data))) throw new Error('the ping echo differs from what was sent')
  return rtt
}

/** The median of `count` pings over `connection`, in ms. */
export async function medianPing (connection: Connection, count = 10): Promise<number> {
  const rtts: number[] = []
  for (let i = 0; i < count; i++) rtts.push(await pingOver(connection))
  rtts.sort((a, b) => a - b)
  return rtts[Math.floor(rtts.length / 2)]!
}
