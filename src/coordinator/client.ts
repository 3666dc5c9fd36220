import type { ClusterView, MemberView } from './cluster-view.js'
import type { EventView } from '../state/event-log.js'
import type { KeyView } from './requests.js'
import type { PendingJoin } from './membership.js'
import type { InvitationOptions, InvitationRecord, NewInvitation } from './invitations.js'

export interface SignView {
  keyId: string
  scheme: string
  message: string
  signature: string
  signers: string[]
  sessionId: string
  attempts: number
}

export interface KeygenParams {
  scheme: string
  threshold: number
  parties: number
  members?: string[]
  network?: string
}

/** The API answered with an error, or could not be reached; the message is for people. */
export class ApiClientError extends Error {
  override name = 'ApiClientError'
  constructor (message: string, readonly status?: number, readonly culprits: string[] = []) {
    super(message)
  }
}

const DEFAULT_TIMEOUT_MS = 5_000
/** Keygen and signing wait for the cluster; their own deadlines are shorter than this. */
const TASK_TIMEOUT_MS = 120_000

/** A client of the coordinator's user API (and of a node's read-only events), used by the CLI and the scripts. */
export class ApiClient {
  constructor (private readonly baseUrl: string, private readonly token: string | undefined, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {}

  async cluster (): Promise<ClusterView> {
    return await this.get<ClusterView>('/v1/cluster')
  }

  async events (query: { after?: number, limit?: number, since?: string, types?: string[] } = {}): Promise<EventView[]> {
    const params = new URLSearchParams({ after: String(query.after ?? 0), limit: String(query.limit ?? 1000) })
    if (query.since !== undefined) params.set('since', query.since)
    for (const t of query.types ?? []) params.append('type', t)
    return await this.get<EventView[]>(`/v1/events?${params.toString()}`)
  }

  async keys (network?: string): Promise<KeyView[]> {
    return await this.get<KeyView[]>(`/v1/keys${network !== undefined ? `?network=${encodeURIComponent(network)}` : ''}`)
  }

  async key (id: string, network?: string): Promise<KeyView> {
    return await this.get<KeyView>(`/v1/keys/${encodeURIComponent(id)}${network !== undefined ? `?network=${encodeURIComponent(network)}` : ''}`)
  }

  async keygen (params: KeygenParams): Promise<KeyView> {
    return await this.request<KeyView>('POST', '/v1/keys', params, TASK_TIMEOUT_MS)
  }

  async sign (keyId: string, messageHex: string): Promise<SignView> {
    return await this.request<SignView>('POST', `/v1/keys/${encodeURIComponent(keyId)}/sign`, { message: messageHex }, TASK_TIMEOUT_MS)
  }

  async members (): Promise<{ members: MemberView[], pending: PendingJoin[] }> {
    return await this.get('/v1/members')
  }

  /** `approve`, `reject` or `remove` a peer. */
  async member (action: 'approve' | 'reject' | 'remove', peerId: string): Promise<void> {
    await this.request('POST', `/v1/members/${encodeURIComponent(peerId)}/${action}`, {}, this.timeoutMs)
  }

  async invite (opts: InvitationOptions): Promise<NewInvitation> {
    return await this.request<NewInvitation>('POST', '/v1/invitations', opts, this.timeoutMs)
  }

  async invitations (): Promise<InvitationRecord[]> {
    return await this.get('/v1/invitations')
  }

  /** The coordinator's Prometheus metrics, as text. */
  async metrics (): Promise<string> {
    const res = await fetch(new URL('/metrics', this.baseUrl), { headers: this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}, signal: AbortSignal.timeout(this.timeoutMs) })
      .catch((err: unknown) => { throw new ApiClientError(`cannot reach the coordinator API at ${this.baseUrl}: ${(err as Error).message}`) })
    if (!res.ok) throw new ApiClientError(`${res.status} ${res.statusText}`, res.status, [])
    return await res.text()
  }

  private async get<T> (path: string): Promise<T> {
    return await this.request<T>('GET', path, undefined, this.timeoutMs)
  }

  private async request<T> (method: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    let res: Response
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: { ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs)
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      if (method === 'POST' && (cause === 'UND_ERR_SOCKET' || cause === 'ECONNRESET')) {
        throw new ApiClientError(`the coordinator at ${this.baseUrl} closed the connection before answering (did it stop or restart?); the request may or may not have taken effect: check "mpc-wallet keys" and "mpc-wallet events"`)
      }
      throw new ApiClientError(`cannot reach the coordinator API at ${this.baseUrl}: ${cause}`)
    }
    const answer = await res.json().catch(() => undefined) as { error?: { message?: string, culprits?: string[] } } | undefined
    if (!res.ok) throw new ApiClientError(`${res.status} ${answer?.error?.message ?? res.statusText}`, res.status, answer?.error?.culprits ?? [])
    return answer as T
  }
}
