import { TextBody, UserApi } from '../runtime/http-api.js'
import { parseEventQuery, queryEvents } from '../state/event-log.js'
import type { PeerMetrics } from '../runtime/metrics.js'
import type { Store } from '../store/store.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'

export interface NodeHttpInit {
  /** Where to listen; undefined: the node serves no HTTP. */
  listen: { host: string, port: number } | undefined
  metrics: PeerMetrics
  store: Store
  log: Logger
}

/** The node's read-only HTTP server: `GET /metrics` (Prometheus) and `GET /v1/events` (its copy of the event log). */
export class NodeHttp implements Service {
  private api: UserApi | undefined

  constructor (private readonly init: NodeHttpInit) {}

  get url (): string | undefined {
    return this.api?.url
  }

  async start (): Promise<void> {
    const { listen, metrics, store, log } = this.init
    if (listen === undefined) return
    this.api = await UserApi.start({
      ...listen,
      token: undefined,
      log,
      routes: {
        'GET /metrics': async () => new TextBody(await metrics.text()),
        'GET /v1/events': async ({ url }) => await queryEvents(store, parseEventQuery(url.searchParams))
      }
    })
    log.info({ url: this.api.url }, 'serving metrics and events')
  }

  async stop (): Promise<void> {
    await this.api?.stop()
  }
}
