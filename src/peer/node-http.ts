import { TextBody, UserApi } from '../runtime/http-api.js'
import { parseEventQuery, queryEvents } from '../state/event-log.js'
import { ApiError } from '../protocols/errors.js'
import type { PeerMetrics } from '../runtime/metrics.js'
import type { AuditLog } from '../state/audit-log.js'
import type { Store } from '../store/store.js'
import type { Service } from '../runtime/service.js'
import type { Logger } from '../log.js'

export interface NodeHttpInit {
  /** Where to listen; undefined: the node serves no HTTP. */
  listen: { host: string, port: number } | undefined
  metrics: PeerMetrics
  store: Store
  audit: AuditLog
  log: Logger
}

/** `?after=SEQ&limit=N` of `GET /v1/audit`. */
export function parseAuditQuery (params: URLSearchParams): { after: number, limit: number } {
  const after = Number(params.get('after') ?? 0)
  const limit = Number(params.get('limit') ?? 1000)
  if (!Number.isSafeInteger(after) || after < 0 || !Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
    throw new ApiError(400, 'bad_query', 'after must be an integer ≥ 0 and limit an integer from 1 to 1000')
  }
  return { after, limit }
}

/**
 * The node's read-only HTTP server: `GET /metrics` (Prometheus), `GET /v1/events` (its copy of
 * the event log) and `GET /v1/audit` (its audit chain: every signing decision it made).
 */
export class NodeHttp implements Service {
  private api: UserApi | undefined

  constructor (private readonly init: NodeHttpInit) {}

  get url (): string | undefined {
    return this.api?.url
  }

  async start (): Promise<void> {
    const { listen, metrics, store, audit, log } = this.init
    if (listen === undefined) return
    this.api = await UserApi.start({
      ...listen,
      token: undefined,
      log,
      routes: {
        'GET /metrics': async () => new TextBody(await metrics.text()),
        'GET /v1/events': async ({ url }) => await queryEvents(store, parseEventQuery(url.searchParams)),
        'GET /v1/audit': async ({ url }) => {
          const { after, limit } = parseAuditQuery(url.searchParams)
          return { head: audit.head, entries: await audit.list(after, limit) }
        }
      }
    })
    log.info({ url: this.api.url }, 'serving metrics and events')
  }

  async stop (): Promise<void> {
    await this.api?.stop()
  }
}
