import { serveCommands, type CommandHandlers } from '../protocols/command.js'
import { COMMAND } from '../protocols/constants.js'
import { eventLogHandlers } from '../runtime/event-sync.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { StateSync } from '../runtime/state-sync.js'
import type { RosterBook } from '../state/roster-book.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../log.js'
import type { HealthWatch } from './health-watch.js'
import type { Membership } from './membership.js'
import type { Service } from '../runtime/service.js'

export interface CoordinatorCommandsInit {
  libp2p: MpcLibp2p
  store: Store
  roster: RosterBook
  membership: Membership
  sync: StateSync
  health: HealthWatch
  log: Logger
}

/** The commands the coordinator serves: Join, state sync, event-log fetches (to members) and Status. */
export function coordinatorCommands ({ libp2p, store, roster, membership, sync, health, log }: CoordinatorCommandsInit): Service {
  const handlers: CommandHandlers = {
    join: async (req, ctx) => await membership.join(req, ctx.remotePeer),
    ...sync.handlers(),
    ...eventLogHandlers(store, (peer) => roster.admits(peer)),
    status: health.status
  }
  return {
    start: async () => { await serveCommands(libp2p, { clusterId: () => roster.clusterId, log, handlers }) },
    stop: async () => { await libp2p.unhandle(COMMAND.id) }
  }
}
