/**
 * An MPC node process for the kill tests: what `mpc-wallet node start` runs, plus a way to die by
 * its own SIGKILL at a chosen point, which a kill from outside cannot hit (the CLI has no fault
 * flags; real nodes never set one). Run from the build, as the CLI is:
 *
 *   node dist/test/e2e/fault-node.js --data-dir DIR --passphrase-file FILE [--listen MA] [--heartbeat-ms MS]
 *     [--kill-after-nonce-spent] [--kill-after-pooled-nonce] [--kill-after-next-share] [--kill-after-promote] [--kill-at-round-message N] --json
 *
 * --kill-after-nonce-spent: SIGKILL right after a signing nonce is durably spent, before the share
 *   is computed (NodeFaults.afterNonceSpent); --kill-after-pooled-nonce: the same in a one-round
 *   signature, right after a pooled nonce left its pool (NodeFaults.afterPooledNonceTaken).
 * --kill-after-next-share: SIGKILL right after a refresh/reshare stored this node's next share
 *   (pending), before it countersigns (NodeFaults.afterNextShareSaved); --kill-after-promote: right
 *   after the next share became the active one (NodeFaults.afterNextSharePromoted).
 * --kill-at-round-message N: SIGKILL on the Nth message received on the `rounds` channel (in the
 *   middle of a DKG: after this node published its own first round, before its share is stored).
 *
 * Prints the CLI's ready line (`--json`), then runs until SIGTERM/SIGINT or its own kill.
 */
import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import type { Message } from '@libp2p/interface'
import { createLogger } from '../../src/log.js'
import { MpcNode } from '../../src/peer/node.js'
import { topicName } from '../../src/protocols/topics.js'
import type { NodeFaults } from '../../src/runtime/faults.js'

const die = (): void => { process.kill(process.pid, 'SIGKILL') }

const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: true,
  options: {
    'data-dir': { type: 'string' },
    'passphrase-file': { type: 'string' },
    listen: { type: 'string', default: '/ip4/127.0.0.1/tcp/0' },
    'heartbeat-ms': { type: 'string', default: '1000' },
    'kill-after-nonce-spent': { type: 'boolean', default: false },
    'kill-after-pooled-nonce': { type: 'boolean', default: false },
    'kill-after-next-share': { type: 'boolean', default: false },
    'kill-after-promote': { type: 'boolean', default: false },
    'kill-at-round-message': { type: 'string' },
    json: { type: 'boolean', default: false }
  }
})
if (values['data-dir'] === undefined || values['passphrase-file'] === undefined) throw new Error('--data-dir and --passphrase-file are required')
const passphrase = (await readFile(values['passphrase-file'], 'utf8')).replace(/\r?\n$/, '')
const faults: NodeFaults = {
  ...(values['kill-after-nonce-spent'] ? { afterNonceSpent: die } : {}),
  ...(values['kill-after-pooled-nonce'] ? { afterPooledNonceTaken: die } : {}),
  ...(values['kill-after-next-share'] ? { afterNextShareSaved: die } : {}),
  ...(values['kill-after-promote'] ? { afterNextSharePromoted: die } : {})
}
const node = await MpcNode.start({
  dataDir: values['data-dir'],
  log: createLogger('info', { role: 'node' }),
  listen: [values.listen],
  heartbeatIntervalMs: Number(values['heartbeat-ms']),
  passphrase,
  faults
})
const status = node.status()
if (values['kill-at-round-message'] !== undefined) {
  const at = Number(values['kill-at-round-message'])
  const rounds = topicName(status.clusterId, 'rounds')
  let seen = 0
  node.libp2p.services.pubsub.addEventListener('message', (evt: CustomEvent<Message>) => {
    if (evt.detail.topic === rounds && ++seen >= at) die()
  })
}
console.log(JSON.stringify({ ready: true, role: 'node', clusterId: status.clusterId, peerId: status.peerId, addrs: node.libp2p.getMultiaddrs().map(String), rosterEpoch: status.rosterEpoch, pid: process.pid }))
await new Promise<void>(resolve => {
  process.once('SIGTERM', resolve)
  process.once('SIGINT', resolve)
})
await node.stop()
