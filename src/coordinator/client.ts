import type { ClusterView, EventView } from './coordinator.js'

/** The API answered with an error, or could not be reached; the message is for people. */
export class ApiClientError extends Error {
  override name = 'ApiClientError'
  constructor (message: string, readonly status?: number) {
    super(message)
  }
}

const DEFAULT_TIMEOUT_MS = 5_000

/** A client of the coordinator's user API, used by the CLI and the simulation. */
export class ApiClient {
  constructor (private readonly baseUrl: string, private readonly token: string, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {}

  async cluster (): Promise<ClusterView> {
    return await this.get<ClusterView>('/v1/cluster')
  }

  async events (after = 0, limit = 1000): Promise<EventView[]> {
    return await this.get<EventView[]>(`/v1/events?after=${after}&limit=${limit}`)
  }

  private async get<T> (path: string): Promise<T> {
    let res: Response
    try {
      res = await fetch(new URL(path, this.baseUrl), { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(this.timeoutMs) })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      throw new ApiClientError(`cannot reach the coordinator API at ${this.baseUrl}: ${cause}`)
    }
    const body = await res.json().catch(() => undefined) as { error?: { message?: string } } | undefined
    if (!res.ok) throw new ApiClientError(`coordinator API ${path}: ${res.status} ${body?.error?.message ?? res.statusText}`, res.status)
    return body as T
  }
}
