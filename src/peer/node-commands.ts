import { serveCommands, type CommandHandlers } from '../protocols/command.js'
import { COMMAND } from '../protocols/constants.js'
import type { PeerMetrics } from '../runtime/metrics.js'
import type { MpcLibp2p } from '../runtime/libp2p.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'

export interface NodeCommandsInit {
  libp2p: MpcLibp2p
  clusterId: () => string
  /** The node's command table, gathered from its services. */
  handlers: CommandHandlers
  log: Logger
}

/** Serves the node's command table on the command protocol while started. */
export class NodeCommands implements Service {
  private serving = false

  constructor (private readonly init: NodeCommandsInit) {}

  async start (): Promise<void> {
    const { libp2p, clusterId, handlers, log } = this.init
    this.serving = true
    await serveCommands(libp2p, { clusterId, log, handlers })
  }

  async stop (): Promise<void> {
    if (!this.serving) return
    this.serving = false
    await this.init.libp2p.unhandle(COMMAND.id)
  }
}

/** Counts and times this node's part of keygen and signing. */
export function observed (metrics: PeerMetrics, handlers: CommandHandlers): CommandHandlers {
  const { keygen, signShare } = handlers
  return {
    ...handlers,
    ...(keygen !== undefined ? { keygen: async (req, ctx) => await metrics.observe('keygen', async () => await keygen(req, ctx)) } : {}),
    ...(signShare !== undefined ? { signShare: async (req, ctx) => await metrics.observe('sign', async () => await signShare(req, ctx)) } : {})
  }
}
