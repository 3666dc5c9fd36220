import { setTimeout as sleep } from 'node:timers/promises'
import type { ClusterView, MemberView } from './cluster-view.js'
import type { EventView } from '../state/event-log.js'
import type { ChildView, KeyView } from './requests.js'
import type { KeyChangeApprovalSet, LifecycleResult, ReshareChange } from './lifecycle-task.js'
import type { PendingJoin } from './membership.js'
import type { InvitationOptions, InvitationRecord, NewInvitation } from './invitations.js'
import { formatHdPath, parseHdPath } from '../crypto/hd.js'
import { newSignedRequest, withNewRequests, type Policy, type RequestSigner, type SignedRequest } from '../protocols/policy.js'
import type { PolicyView } from './policy-admin.js'
import type { BitcoinNetwork } from '../crypto/suites.js'
import { buildSpend } from '../wallet/bitcoin.js'
import { buildTransfer } from '../wallet/solana.js'
import type { TransactionRef } from '../wallet/spend.js'
import type { BitcoinSendParams, SolanaTransferParams } from './wallet-task.js'

/** What a client may ask of a signature: two rounds always (pooled: false), an HD key's child (path "m/0/5"). */
export interface ClientSignOptions {
  pooled?: boolean
  path?: string
}

export interface SignView {
  keyId: string
  scheme: string
  message: string
  signature: string
  signers: string[]
  sessionId: string
  attempts: number
  /** 1: from the holders' pooled nonces; 2: a round of commitments first. */
  rounds: 1 | 2
  /** The coordinator's time in each phase of the attempt that signed, in ms. */
  timing: { round1Ms: number, round2Ms: number, aggregateMs: number }
  /** The key the signature verifies under: the group key, or an HD child's. */
  publicKey: string
  path?: string
}

/** Who signed a transaction: one threshold signature per input of ours (Bitcoin), or the one (Solana). */
export interface TransactionSignature { input?: number, sessionId: string, signers: string[], attempts: number }

/** A signed Bitcoin transaction (`bitcoin/psbt`, `bitcoin/send`); amounts are satoshis as decimal strings. */
export interface BitcoinTxView {
  chain: 'bitcoin'
  keyId: string
  /** the HD child that signed (m: the key itself) */
  path: string
  network: BitcoinNetwork
  /** the signing key's P2TR address */
  from: string
  txid: string
  /** the finalised transaction: what `sendrawtransaction` takes */
  hex: string
  vsize: number
  fee: string
  /** what leaves the key: its coins spent less its change (the payments and the fee) */
  amount: string
  outputs: Array<{ to: string, amount: string, ours: boolean }>
  /** what each input spent (script hex, amount), to verify the transaction with other tools */
  prevouts: Array<{ script: string, amount: string }>
  signatures: TransactionSignature[]
  ms: number
}

/** A signed Solana transfer (`solana/transfer`); lamports as a decimal string (they pass 2^53). */
export interface SolanaTxView {
  chain: 'solana'
  keyId: string
  path: string
  from: string
  to: string
  lamports: string
  blockhash: string
  /** the signed wire transaction: what `sendTransaction` takes */
  base64: string
  /** the transaction id: the signature, base58 */
  signature: string
  signatures: TransactionSignature[]
  ms: number
}

/** An unsigned spend (`bitcoin/send` with build): the PSBT, base64, that a client's request names. */
export interface UnsignedBitcoinView { chain: 'bitcoin', network: BitcoinNetwork, from: string, psbt: string, transaction: TransactionRef }

/** An unsigned transfer (`solana/transfer` with build): the message, base64, that a client's request names. */
export interface UnsignedSolanaView { chain: 'solana', from: string, message: string, transaction: TransactionRef }

/** A transaction's signing key: the key itself, or an HD key's child at `path` ("m/0/5"). */
export interface WalletOptions {
  path?: string
}

const pathField = (opts: WalletOptions): { path?: string } => opts.path === undefined ? {} : { path: opts.path }

/** A spend as the API takes it: amounts as decimal strings. */
function spendBody (spend: BitcoinSendParams): Record<string, unknown> {
  return {
    network: spend.network,
    utxos: spend.utxos.map(u => ({ txid: u.txid, vout: u.vout, amount: u.amount.toString() })),
    to: spend.to,
    amount: spend.amount.toString(),
    feeRate: spend.feeRate,
    ...(spend.change === undefined ? {} : { change: spend.change })
  }
}

const transferBody = (t: SolanaTransferParams): Record<string, unknown> => ({ to: t.to, lamports: t.lamports.toString(), blockhash: t.blockhash })

/** The nodes refused a request as used up by an attempt that made no signature: ask again with a new one (withNewRequests). */
const spentRequest = (err: unknown): boolean => err instanceof ApiClientError && (err.code === 'request_spent' || (err.code === 'policy_denied' && err.rule === 'replayed'))

/**
 * The transaction the coordinator built (`built`) must be the one asked: this client builds it
 * too, from the key's public key, and compares bytes. Else the client's request would name
 * whatever the coordinator chose. (A coordinator that lies about the key too gets no signature:
 * the holders sign only spends of their own key.)
 */
function expectBuilt (built: Uint8Array, what: string, build: () => Uint8Array): void {
  let mine: Uint8Array
  try {
    mine = build()
  } catch (err) {
    throw new ApiClientError(`the coordinator built a ${what} this client cannot build itself (${(err as Error).message}); no request was signed`)
  }
  if (!Buffer.from(mine).equals(built)) throw new ApiClientError(`the coordinator built another ${what} than the one asked; no request was signed`)
}

export interface KeygenParams {
  scheme: string
  threshold: number
  parties: number
  members?: string[]
  network?: string
  hd?: boolean
}

/** An HD path as nodes compare it (m/0/5), however it was typed; a bad one is left as is for the API to refuse with its reason. */
function canonicalPath (path: string): string {
  try {
    return formatHdPath(parseHdPath(path))
  } catch {
    return path
  }
}

/** The API answered with an error, or could not be reached; the message is for people. */
export class ApiClientError extends Error {
  override name = 'ApiClientError'
  /** With 429 and 503: when the coordinator said to ask again. `code` is the API's error code; `rule` a policy refusal's rule. */
  constructor (message: string, readonly status?: number, readonly culprits: string[] = [], readonly retryAfterMs?: number, readonly code?: string, readonly rule?: string) {
    super(message)
  }
}

const DEFAULT_TIMEOUT_MS = 5_000
/** Keygen and signing wait for the cluster; their own deadlines are shorter than this. */
const TASK_TIMEOUT_MS = 120_000
/**
 * A keygen or sign refused for load (429) or for want of healthy members (503) ran nothing, so
 * the client asks again after the answer's Retry-After, this many times at most, within the
 * request's own deadline.
 */
export const BUSY_RETRIES = 4

/** Retry-After in milliseconds (RFC 9110 10.2.3: whole seconds or an HTTP date); undefined if absent or unreadable. */
function retryAfterMs (res: Response): number | undefined {
  const value = res.headers.get('retry-after')
  if (value === null) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/** A client of the coordinator's user API (and of a node's read-only events), used by the CLI and the scripts. */
export class ApiClient {
  constructor (private readonly baseUrl: string, private readonly token: string | undefined, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {}

  /** A one-time login link to the status page (valid two minutes, once): the API's address and a code, never the token. */
  async uiLogin (): Promise<{ url: string, expiresAtMs: number }> {
    const { path, expiresAtMs } = await this.request<{ path: string, expiresAtMs: number }>('POST', '/v1/ui/login', {}, this.timeoutMs)
    return { url: `${this.baseUrl}${path}`, expiresAtMs }
  }

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
    return await this.task<KeyView>('/v1/keys', params)
  }

  /** A signature for a client's signed request (policy.ts: newSignedRequest, or a file from `request new`). */
  async sign (keyId: string, messageHex: string, request: SignedRequest | undefined, opts: ClientSignOptions = {}): Promise<SignView> {
    return await this.task<SignView>(`/v1/keys/${encodeURIComponent(keyId)}/sign`, {
      message: messageHex, ...(request !== undefined ? { request } : {}), ...(opts.pooled === false ? { pooled: false } : {}), ...(opts.path !== undefined ? { path: opts.path } : {})
    })
  }

  /** An HD key's child at `path`: its signing key, address and (Taproot) the root's xpub. */
  async derive (keyId: string, path: string, network?: string): Promise<ChildView> {
    const query = new URLSearchParams({ path, ...(network !== undefined ? { network } : {}) })
    return await this.get(`/v1/keys/${encodeURIComponent(keyId)}/derive?${query.toString()}`)
  }

  async refresh (keyId: string): Promise<LifecycleResult> {
    return await this.task(`/v1/keys/${encodeURIComponent(keyId)}/refresh`, {})
  }

  async reshare (keyId: string, change: ReshareChange): Promise<LifecycleResult> {
    return await this.task(`/v1/keys/${encodeURIComponent(keyId)}/reshare`, change)
  }

  async repair (keyId: string, holder: string, replacement?: string, approval?: KeyChangeApprovalSet): Promise<LifecycleResult> {
    return await this.task(`/v1/keys/${encodeURIComponent(keyId)}/repair`, { holder, ...(replacement !== undefined ? { replacement } : {}), ...(approval !== undefined ? { approval } : {}) })
  }

  /**
   * Signs `messageHex` with `keyId` as the client `signer`: makes and signs the request here
   * (the cluster id from the coordinator), and asks again with a new one if the last was spent
   * by an attempt that made no signature (withNewRequests).
   */
  async signAs (signer: RequestSigner, keyId: string, messageHex: string, clusterId?: string, opts: ClientSignOptions = {}): Promise<SignView> {
    const cluster = clusterId ?? (await this.cluster()).clusterId
    const message = Buffer.from(messageHex, 'hex')
    // The path in the client's signed request as nodes compare it: m/0/5, however it was typed (a bad one is the API's 400).
    const path = opts.path === undefined ? undefined : canonicalPath(opts.path)
    return await withNewRequests(
      () => newSignedRequest(signer, { clusterId: cluster, keyId, message, ...(path !== undefined ? { path } : {}) }),
      async (request) => await this.sign(keyId, messageHex, request, opts),
      spentRequest
    )
  }

  /** Signs every input of ours in `psbt` and finalises it, for the client's request over exactly these bytes. */
  async bitcoinPsbt (keyId: string, psbt: Uint8Array, network: BitcoinNetwork, request: SignedRequest | undefined, opts: WalletOptions = {}): Promise<BitcoinTxView> {
    return await this.task(`/v1/keys/${encodeURIComponent(keyId)}/bitcoin/psbt`, {
      psbt: Buffer.from(psbt).toString('base64'), network, ...(request !== undefined ? { request } : {}), ...pathField(opts)
    })
  }

  /** The unsigned PSBT of a spend of the key's coins (change back to the key); nothing is signed. */
  async bitcoinBuild (keyId: string, spend: BitcoinSendParams, opts: WalletOptions = {}): Promise<UnsignedBitcoinView> {
    return await this.request('POST', `/v1/keys/${encodeURIComponent(keyId)}/bitcoin/send`, { ...spendBody(spend), ...pathField(opts), build: true }, this.timeoutMs)
  }

  /** Builds the spend (as bitcoinBuild) and signs it; `request` must name that PSBT. */
  async bitcoinSend (keyId: string, spend: BitcoinSendParams, request: SignedRequest | undefined, opts: WalletOptions = {}): Promise<BitcoinTxView> {
    return await this.task(`/v1/keys/${encodeURIComponent(keyId)}/bitcoin/send`, { ...spendBody(spend), ...(request !== undefined ? { request } : {}), ...pathField(opts) })
  }

  /** The unsigned message of a SOL transfer from the key; nothing is signed. */
  async solanaBuild (keyId: string, transfer: SolanaTransferParams, opts: WalletOptions = {}): Promise<UnsignedSolanaView> {
    return await this.request('POST', `/v1/keys/${encodeURIComponent(keyId)}/solana/transfer`, { ...transferBody(transfer), ...pathField(opts), build: true }, this.timeoutMs)
  }

  /** Builds the transfer (as solanaBuild) and signs it; `request` must name that message. */
  async solanaTransfer (keyId: string, transfer: SolanaTransferParams, request: SignedRequest | undefined, opts: WalletOptions = {}): Promise<SolanaTxView> {
    return await this.task(`/v1/keys/${encodeURIComponent(keyId)}/solana/transfer`, { ...transferBody(transfer), ...(request !== undefined ? { request } : {}), ...pathField(opts) })
  }

  /** bitcoinPsbt as the client `signer`, its request over the PSBT's bytes (made here; a new one if the last was spent). */
  async bitcoinPsbtAs (signer: RequestSigner, keyId: string, psbt: Uint8Array, network: BitcoinNetwork, clusterId?: string, opts: WalletOptions = {}): Promise<BitcoinTxView> {
    return await this.transactionAs(signer, keyId, psbt, { chain: 'bitcoin', network }, clusterId, opts, async request => await this.bitcoinPsbt(keyId, psbt, network, request, opts))
  }

  /** bitcoinSend as the client `signer`: the coordinator builds the PSBT, this client checks it is the spend asked, signs a request over it and asks for the signatures. */
  async bitcoinSendAs (signer: RequestSigner, keyId: string, spend: BitcoinSendParams, clusterId?: string, opts: WalletOptions = {}): Promise<BitcoinTxView> {
    const built = Buffer.from((await this.bitcoinBuild(keyId, spend, opts)).psbt, 'base64')
    const { xOnlyPublicKey } = await this.signingKey(keyId, spend.network, opts)
    expectBuilt(built, 'PSBT', () => buildSpend({ ...spend, groupKey: Buffer.from(xOnlyPublicKey ?? '', 'hex') }))
    return await this.transactionAs(signer, keyId, built, { chain: 'bitcoin', network: spend.network }, clusterId, opts, async request => await this.bitcoinSend(keyId, spend, request, opts))
  }

  /** solanaTransfer as the client `signer`: built by the coordinator, checked here, then a request over its message. */
  async solanaTransferAs (signer: RequestSigner, keyId: string, transfer: SolanaTransferParams, clusterId?: string, opts: WalletOptions = {}): Promise<SolanaTxView> {
    const built = Buffer.from((await this.solanaBuild(keyId, transfer, opts)).message, 'base64')
    const { address } = await this.signingKey(keyId, undefined, opts)
    expectBuilt(built, 'transfer message', () => buildTransfer({ ...transfer, from: address ?? '' }).message)
    return await this.transactionAs(signer, keyId, built, { chain: 'solana' }, clusterId, opts, async request => await this.solanaTransfer(keyId, transfer, request, opts))
  }

  /** The key that signs at `opts.path`: the key's view (its root child's for an HD key), or the child's. */
  private async signingKey (keyId: string, network: BitcoinNetwork | undefined, opts: WalletOptions): Promise<{ address?: string, xOnlyPublicKey?: string }> {
    return opts.path === undefined || canonicalPath(opts.path) === 'm' ? await this.key(keyId, network) : await this.derive(keyId, opts.path, network)
  }

  /** `submit` with a request of the client's over the transaction's bytes, a new one each time the last was spent. */
  private async transactionAs<T> (signer: RequestSigner, keyId: string, payload: Uint8Array, transaction: TransactionRef, clusterId: string | undefined, opts: WalletOptions, submit: (request: SignedRequest) => Promise<T>): Promise<T> {
    const cluster = clusterId ?? (await this.cluster()).clusterId
    const path = opts.path === undefined ? undefined : canonicalPath(opts.path)
    return await withNewRequests(
      () => newSignedRequest(signer, { clusterId: cluster, keyId, message: payload, transaction, ...(path !== undefined ? { path } : {}) }),
      submit,
      spentRequest
    )
  }

  async policy (): Promise<PolicyView> {
    return await this.get('/v1/policy')
  }

  /** Proposes the next policy version (version and cluster id filled in when absent). */
  async proposePolicy (policy: unknown): Promise<Policy> {
    return await this.request('POST', '/v1/policy/proposal', { policy }, this.timeoutMs)
  }

  async approvePolicy (publicKey: string, signature: string): Promise<PolicyView> {
    return await this.request('POST', '/v1/policy/approvals', { publicKey, signature }, this.timeoutMs)
  }

  async applyPolicy (): Promise<Policy> {
    return await this.request('POST', '/v1/policy/apply', {}, this.timeoutMs)
  }

  /** A page of a member's audit chain, fetched by the coordinator from the member. */
  async audit (peerId: string, after = 0): Promise<{ node: string, entries: unknown[], more: boolean }> {
    return await this.get(`/v1/audit/${encodeURIComponent(peerId)}?after=${after}`)
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

  /** A keygen or sign: asked again after Retry-After while the coordinator is busy (BUSY_RETRIES, within TASK_TIMEOUT_MS). */
  private async task<T> (path: string, body: unknown): Promise<T> {
    const deadline = Date.now() + TASK_TIMEOUT_MS
    for (let retry = 0; ; retry++) {
      try {
        return await this.request<T>('POST', path, body, deadline - Date.now())
      } catch (err) {
        const waitMs = err instanceof ApiClientError ? err.retryAfterMs : undefined
        if (waitMs === undefined || retry >= BUSY_RETRIES || Date.now() + waitMs >= deadline) throw err
        await sleep(waitMs)
      }
    }
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
    const answer = await res.json().catch(() => undefined) as { error?: { code?: string, message?: string, culprits?: string[], rule?: string } } | undefined
    if (!res.ok) {
      const waitMs = res.status === 429 || res.status === 503 ? retryAfterMs(res) : undefined
      const { code, message, culprits, rule } = answer?.error ?? {}
      throw new ApiClientError(`${res.status} ${message ?? res.statusText}`, res.status, culprits ?? [], waitMs, code, rule)
    }
    return answer as T
  }
}
