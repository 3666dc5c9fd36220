import type { Command } from 'commander'
import { formatClusterTable } from './format.js'
import { type ApiFlags, clientOf, withApiOptions } from './options.js'

/** `mpc-wallet status`. */
export function registerStatus (program: Command): void {
  withApiOptions(program.command('status'))
    .description('show the cluster: members, health and last heartbeat')
    .option('--json', 'print one JSON object per member: peerId, addrs, state, lastHeartbeatMs, rosterEpoch, stateHash, inSync, keysHeld, keysLost, link, reach, links')
    .action(async (opts: ApiFlags & { json?: boolean }) => {
      const view = await (await clientOf(opts)).cluster()
      if (opts.json === true) {
        console.log(JSON.stringify(view.members.map(m => ({
          peerId: m.peerId, addrs: m.addrs, state: m.state, lastHeartbeatMs: m.lastHeartbeatMs,
          rosterEpoch: m.rosterEpoch ?? null, stateHash: m.stateHash ?? null, inSync: m.stateHash === view.stateHash && m.rosterEpoch === view.epoch,
          keysHeld: m.keysHeld ?? null, keysLost: m.keysLost ?? null, link: m.link, reach: m.reach, links: m.links ?? null
        }))))
      } else {
        console.log(formatClusterTable(view))
      }
    })
}
