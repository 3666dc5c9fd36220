import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { toHex } from '../crypto/bytes.js'
import { ApiError } from '../protocols/errors.js'
import { TextBody, UserApi, type PageRoute, type RouteTable } from '../runtime/http-api.js'
import type { PeerMetrics } from '../runtime/metrics.js'
import { parseEventQuery } from '../state/event-log.js'
import type { KeyRegistry } from '../state/key-registry.js'
import type { Logger } from '../log.js'
import type { ClusterView } from './cluster-view.js'
import { writeApiInfo } from './data-dir.js'
import { InvitationError, MembershipError } from './errors.js'
import { checkInvitationOptions, type InvitationOptions, type Invitations, type NewInvitation } from './invitations.js'
import type { Journal } from './journal.js'
import type { Membership } from './membership.js'
import { childView, keyView, onlyFields, parseKeygenBody, parseNetwork, parsePath, parseRepairBody, parseReshareBody, parseSignBody, type HolderState } from './requests.js'
import type { Tasks } from './tasks.js'
import type { PolicyAdmin } from './policy-admin.js'
import { TaskError } from './errors.js'
import { bitcoinView, parseBitcoinSendBody, parsePsbtBody, parseSolanaTransferBody, solanaView, unsignedView } from './wallet-requests.js'
import { AdmissionError } from './admission.js'

/** What the routes answer from. */
export interface ApiSources {
  tasks: Tasks
  keys: KeyRegistry
  membership: Membership
  invitations: Invitations
  /** Makes and records an invitation (Coordinator.invite). */
  invite: (opts: InvitationOptions) => Promise<NewInvitation>
  journal: Journal
  cluster: () => ClusterView
  metrics: PeerMetrics
  /** A key holder as the key views show it. */
  holderState: (peerId: string) => HolderState
  policy: PolicyAdmin
  /** A page of a member's audit chain, as the member sent it (checked by whoever verifies it, not here). */
  audit: (peerId: string, after: number) => Promise<{ node: string, entries: unknown[], more: boolean }>
  /** Who asks, for the admission queue's fairness (default: clientOf). */
  client?: (headers: IncomingHttpHeaders) => string
  /** A one-time code for the status page's login (UiLogins.newCode). */
  uiLogin: () => { code: string, expiresAtMs: number }
}

/** The header a client names itself in, for its fair share of the admission queue. */
export const CLIENT_ID_HEADER = 'x-client-id'
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * The client a request counts against in the admission queue: the `X-Client-Id` it names (1-64
 * characters of A-Z a-z 0-9 . _ : -), else its bearer token (by hash: one token, one client).
 * The name is the caller's word: it spreads requests fairly among cooperating callers that share
 * the token; the queue's total bound holds whatever they claim. A sign request's client name is
 * not used: admission comes before the request is checked, when that name is as unproven as this.
 */
export function clientOf (headers: IncomingHttpHeaders): string {
  const named = headers[CLIENT_ID_HEADER]
  if (typeof named === 'string' && named !== '') {
    if (!CLIENT_ID.test(named)) throw new ApiError(400, 'bad_request', `${CLIENT_ID_HEADER} must be 1-64 characters of A-Z a-z 0-9 . _ : -`)
    return `id:${named}`
  }
  const auth = headers.authorization ?? ''
  return `token:${createHash('sha256').update(auth).digest('hex').slice(0, 16)}`
}

/** The coordinator's user API: every route, each answering from `s`; failures mapped to API errors here. */
export function apiRoutes (s: ApiSources): RouteTable {
  return {
    'GET /v1/cluster': async () => s.cluster(),
    'GET /v1/events': async ({ url }) => await s.journal.events(parseEventQuery(url.searchParams)),
    'GET /v1/keys': async ({ url }) => {
      const network = parseNetwork(url.searchParams.get('network') ?? undefined)
      return (await s.keys.list()).map(k => keyView(k, s.holderState, network))
    },
    'GET /v1/keys/:id': async ({ url, params }) => {
      const key = await s.keys.get(params.id ?? '')
      if (key === undefined) throw new ApiError(404, 'not_found', `no key ${params.id ?? ''}`)
      return keyView(key, s.holderState, parseNetwork(url.searchParams.get('network') ?? undefined))
    },
    'POST /v1/keys': async ({ body, headers }) => {
      const req = parseKeygenBody(body)
      const client = (s.client ?? clientOf)(headers)
      const key = await s.metrics.observe('keygen', async () => await s.tasks.keygen(req, client).catch(taskToApi))
      return keyView(key, s.holderState, req.network)
    },
    'GET /v1/keys/:id/derive': async ({ url, params }) => {
      const key = await s.keys.get(params.id ?? '')
      if (key === undefined) throw new ApiError(404, 'not_found', `no key ${params.id ?? ''}`)
      return childView(key, parsePath(url.searchParams.get('path') ?? 'm'), parseNetwork(url.searchParams.get('network') ?? undefined))
    },
    'POST /v1/keys/:id/refresh': async ({ params, body, headers }) => {
      onlyFields(body, [])
      return await s.tasks.refresh(params.id ?? '', (s.client ?? clientOf)(headers)).catch(taskToApi)
    },
    'POST /v1/keys/:id/reshare': async ({ params, body, headers }) => {
      const change = parseReshareBody(body)
      return await s.tasks.reshare(params.id ?? '', change, (s.client ?? clientOf)(headers)).catch(taskToApi)
    },
    'POST /v1/keys/:id/repair': async ({ params, body, headers }) => {
      const { holder, replacement, approval } = parseRepairBody(body)
      return await s.tasks.repair(params.id ?? '', holder, replacement, approval, (s.client ?? clientOf)(headers)).catch(taskToApi)
    },
    'POST /v1/keys/:id/sign': async ({ params, body, headers }) => {
      const { message, request, pooled, path } = parseSignBody(body)
      const client = (s.client ?? clientOf)(headers)
      const result = await s.metrics.observe('sign', async () => await s.tasks.sign(params.id ?? '', message, request, client, { pooled, path }).catch(taskToApi))
      return {
        keyId: result.keyId,
        scheme: result.scheme,
        message: toHex(result.message),
        signature: toHex(result.signature),
        signers: result.signers,
        sessionId: result.sessionId,
        attempts: result.attempts,
        rounds: result.rounds,
        timing: result.timing,
        publicKey: result.publicKey,
        ...(result.path === undefined ? {} : { path: result.path })
      }
    },
    'POST /v1/keys/:id/bitcoin/psbt': async ({ params, body, headers }) => {
      const { psbt, network, request, path } = parsePsbtBody(body)
      const client = (s.client ?? clientOf)(headers)
      return bitcoinView(await s.metrics.observe('sign', async () => await s.tasks.bitcoinPsbt(params.id ?? '', psbt, network, request, path, client).catch(taskToApi)))
    },
    'POST /v1/keys/:id/bitcoin/send': async ({ params, body, headers }) => {
      const { params: spend, request, path, build } = parseBitcoinSendBody(body)
      if (build) {
        const { psbt, from } = await s.tasks.wallet.bitcoinBuild(params.id ?? '', spend, path).catch(taskToApi)
        return unsignedView('bitcoin', psbt, from, spend.network)
      }
      const client = (s.client ?? clientOf)(headers)
      return bitcoinView(await s.metrics.observe('sign', async () => await s.tasks.bitcoinSend(params.id ?? '', spend, request, path, client).catch(taskToApi)))
    },
    'POST /v1/keys/:id/solana/transfer': async ({ params, body, headers }) => {
      const { params: transfer, request, path, build } = parseSolanaTransferBody(body)
      if (build) {
        const { message, from } = await s.tasks.wallet.solanaBuild(params.id ?? '', transfer, path).catch(taskToApi)
        return unsignedView('solana', message, from)
      }
      const client = (s.client ?? clientOf)(headers)
      return solanaView(await s.metrics.observe('sign', async () => await s.tasks.solanaTransfer(params.id ?? '', transfer, request, path, client).catch(taskToApi)))
    },
    'GET /v1/policy': async () => await s.policy.view(),
    'POST /v1/policy/proposal': async ({ body }) => {
      onlyFields(body, ['policy'])
      return await s.policy.propose(body?.policy)
    },
    'POST /v1/policy/approvals': async ({ body }) => {
      onlyFields(body, ['publicKey', 'signature'])
      const { publicKey, signature } = body ?? {}
      if (typeof publicKey !== 'string' || typeof signature !== 'string') throw new ApiError(400, 'bad_request', 'publicKey and signature must be hex strings')
      return await s.policy.approve(publicKey, signature)
    },
    'POST /v1/policy/apply': async () => await s.policy.apply(),
    'GET /v1/audit/:peer': async ({ params, url }) => {
      const after = Number(url.searchParams.get('after') ?? 0)
      if (!Number.isSafeInteger(after) || after < 0) throw new ApiError(400, 'bad_query', 'after must be an integer ≥ 0')
      return await s.audit(params.peer ?? '', after)
    },
    'GET /v1/members': async () => ({ members: s.cluster().members, pending: s.membership.pendingJoins() }),
    'POST /v1/members/:id/approve': async ({ params }) => {
      const member = await s.membership.approve(params.id ?? '').catch(membershipToApi)
      return { peerId: member.peerId.toString(), approved: true }
    },
    'POST /v1/members/:id/reject': async ({ params }) => {
      await s.membership.reject(params.id ?? '').catch(membershipToApi)
      return { peerId: params.id, rejected: true }
    },
    'POST /v1/members/:id/remove': async ({ params }) => {
      await s.membership.remove(params.id ?? '').catch(membershipToApi)
      return { peerId: params.id, removed: true }
    },
    'GET /v1/invitations': async () => await s.invitations.list(),
    'POST /v1/invitations': async ({ body }) => await s.invite(parseInvitationBody(body)),
    'GET /metrics': async () => new TextBody(await s.metrics.text()),
    'POST /v1/ui/login': async ({ body }) => {
      onlyFields(body, [])
      const { code, expiresAtMs } = s.uiLogin()
      return { path: `/login?code=${code}`, expiresAtMs }
    }
  }
}

export interface CoordinatorApiInit {
  listen: { host: string, port: number }
  token: string
  /** Routes outside the bearer token: the status page's (ui-pages.ts). */
  pages?: Record<string, PageRoute>
  /** Where api.json is written once the server listens. */
  dataDir: string
  routes: RouteTable
  log: Logger
}

/** The user API server: listens in start() and records where in the data directory; closes in stop(). */
export class CoordinatorApi {
  private server: UserApi | undefined

  constructor (private readonly init: CoordinatorApiInit) {}

  async start (): Promise<void> {
    this.server = await UserApi.start({ ...this.init.listen, token: this.init.token, log: this.init.log, routes: this.init.routes, ...(this.init.pages === undefined ? {} : { pages: this.init.pages }) })
    await writeApiInfo(this.init.dataDir, this.server.url)
  }

  async stop (): Promise<void> {
    await this.server?.stop()
  }

  get url (): string | undefined {
    return this.server?.url
  }
}

const MEMBERSHIP_STATUS: Record<MembershipError['code'], number> = { bad_request: 400, not_found: 404, conflict: 409, limit: 409 }

function membershipToApi (err: unknown): never {
  if (err instanceof MembershipError) throw new ApiError(MEMBERSHIP_STATUS[err.code], err.code, err.message)
  throw err
}

/** An invitation that cannot be made is the asker's mistake: 400. */
export function invitationToApi (err: unknown): never {
  if (err instanceof InvitationError) throw new ApiError(400, 'bad_request', err.message)
  throw err
}

/** `POST /v1/invitations` body: `{ ttlMs?, uses?, note? }`. */
function parseInvitationBody (body: Record<string, unknown> = {}): InvitationOptions {
  onlyFields(body, ['ttlMs', 'uses', 'note'])
  const { ttlMs, uses, note } = body
  if (ttlMs !== undefined && typeof ttlMs !== 'number') throw new ApiError(400, 'bad_request', 'ttlMs must be a number of milliseconds')
  if (uses !== undefined && typeof uses !== 'number') throw new ApiError(400, 'bad_request', 'uses must be a whole number')
  if (note !== undefined && typeof note !== 'string') throw new ApiError(400, 'bad_request', 'note must be a string')
  try {
    return checkInvitationOptions({ ttlMs, uses, note })
  } catch (err) {
    return invitationToApi(err)
  }
}

const TASK_STATUS: Record<TaskError['code'], number> = { bad_request: 400, not_found: 404, unavailable: 503, failed: 502, busy: 503, policy_denied: 403, request_spent: 409, conflict: 409 }
const ADMISSION_STATUS: Record<AdmissionError['code'], number> = { over_share: 429, queue_full: 503, wait_expired: 503, closed: 503 }

/** Retry-After of a 503 for too few healthy members: long enough for a down member to be seen up again. */
const UNAVAILABLE_RETRY_AFTER_MS = 5_000

/** Retry-After in whole seconds (RFC 9110 10.2.3), at least 1. */
const retryAfter = (ms: number): Record<string, string> => ({ 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) })

/**
 * A task failure as the API reports it: a JSON error with the culprits, never a bare 500. A
 * request not admitted (429 over the client's share, 503 queue full or waited too long) and a
 * keygen members refused for load (503 busy) carry Retry-After and name no one.
 */
function taskToApi (err: unknown): never {
  if (err instanceof AdmissionError) {
    throw new ApiError(ADMISSION_STATUS[err.code], err.code, err.message, { retryAfterMs: err.retryAfterMs }, retryAfter(err.retryAfterMs))
  }
  if (err instanceof TaskError && err.code === 'busy') {
    const ms = err.retryAfterMs ?? 1_000
    throw new ApiError(TASK_STATUS.busy, err.code, err.message, { retryAfterMs: ms }, retryAfter(ms))
  }
  if (err instanceof TaskError && err.code === 'unavailable') {
    // Too few members reachable now: a member down is seen up again within a few heartbeats.
    throw new ApiError(TASK_STATUS.unavailable, err.code, err.message, undefined, retryAfter(UNAVAILABLE_RETRY_AFTER_MS))
  }
  if (err instanceof TaskError && err.code === 'policy_denied') throw new ApiError(TASK_STATUS.policy_denied, err.code, err.message, { rule: err.rule })
  if (err instanceof TaskError) {
    // Culprits are what the coordinator proved; claims are what members said of each other.
    const details = { ...(err.culprits.length > 0 ? { culprits: err.culprits } : {}), ...(err.claims.length > 0 ? { claims: err.claims } : {}) }
    throw new ApiError(TASK_STATUS[err.code], err.code, err.message, Object.keys(details).length > 0 ? details : undefined)
  }
  throw err
}
