/**
 * The coordinator's admission queue: keygen and sign requests run only as many at once as the
 * members can take, wait their turn in a bounded queue, fairly across clients, and give up at a
 * deadline. Nothing here knows HTTP or libp2p: the API maps an AdmissionError to 429 or 503 with
 * a Retry-After, and tests drive it without sockets.
 *
 * - Running: at most `maxRunning[kind]` of each kind at once. Keygens are bounded below a node's
 *   own DKG session limit (MAX_LIVE_DKG_SESSIONS, 16): every keygen may include every member, so
 *   as long as the coordinator runs no more than that at once, no node refuses one as BUSY.
 * - Queued: at most `maxQueuedPerClient` waiting per client (over it: `over_share`, 429) and
 *   `maxQueued` in all (over it: `queue_full`, 503).
 * - Fair: a freed slot goes to the next client in turn (round-robin over the clients with a
 *   request waiting), each client's own requests in arrival order; a client that sends a hundred
 *   requests does not make another client's one request wait behind all of them.
 * - Deadline: a request that waited `maxWaitMs` without a slot is refused (`wait_expired`, 503).
 *   One that would wait longer than that by the recent run times (the requests ahead of it in
 *   turn order, over the slots) is refused at once rather than after the wait: `over_share`
 *   (429) when its own client's requests put it past the deadline, `queue_full` (503) when the
 *   others' do. A client with few requests waiting stays ahead of a flood, and is admitted.
 *
 * A client is a string the caller chooses (api.ts: the `X-Client-Id` header, else the bearer
 * token's hash); when client requests are signed (issue 12) the signing key's id takes its place.
 */

export type WorkKind = 'keygen' | 'sign'
export const WORK_KINDS: readonly WorkKind[] = ['keygen', 'sign']

export interface AdmissionLimits {
  /** At most this many of each kind run at once. */
  maxRunning: Record<WorkKind, number>
  /** At most this many requests wait, of all kinds and clients together. */
  maxQueued: number
  /** At most this many requests of one client wait (its share of the queue). */
  maxQueuedPerClient: number
  /** A request that waited this long without a slot is refused. */
  maxWaitMs: number
}

/**
 * Defaults. Keygens: 8 at once, half a node's DKG session limit (16), so that sessions a node
 * still winds down after the coordinator gave up on them leave room. Signs: 16 at once, each two
 * short command rounds. A keygen holds one command stream to each participant for the whole DKG
 * and a sign one at a time to each signer: 8 + 16 leaves room under the 32 command streams a
 * connection holds (COMMAND.maxStreams) for key commits, aborts and status. A stream over that
 * limit is reset by libp2p, which the coordinator can only see as a member that did not answer.
 * The queue holds 512, any one client's share 256: the bench's 128 concurrent requests of one
 * client queue without a refusal.
 */
export const DEFAULT_ADMISSION_LIMITS: Readonly<AdmissionLimits> = Object.freeze({
  maxRunning: Object.freeze({ keygen: 8, sign: 16 }),
  maxQueued: 512,
  maxQueuedPerClient: 256,
  maxWaitMs: 30_000
})

/** A Retry-After is at least this and at most RETRY_AFTER_MAX_MS. */
export const RETRY_AFTER_MIN_MS = 1_000
export const RETRY_AFTER_MAX_MS = 60_000
/** The run time assumed for a kind before any has finished (a 2-of-3 keygen with 8 at once, a sign with 16). */
const INITIAL_RUN_MS: Record<WorkKind, number> = { keygen: 2_000, sign: 200 }
/** Weight of the newest run time in the moving average. */
const RUN_MS_WEIGHT = 0.2

export type AdmissionRefusal =
  /** This client already has its share of the queue waiting (HTTP 429). */
  | 'over_share'
  /** The queue is full (HTTP 503). */
  | 'queue_full'
  /** The request waited its deadline without a slot (HTTP 503). */
  | 'wait_expired'
  /** The coordinator is stopping (HTTP 503). */
  | 'closed'

/** A request not admitted; `retryAfterMs` is when asking again is likely to be worth it. */
export class AdmissionError extends Error {
  override name = 'AdmissionError'
  constructor (readonly code: AdmissionRefusal, message: string, readonly retryAfterMs: number) {
    super(message)
  }
}

interface Waiter {
  client: string
  grant: () => void
  refuse: (err: AdmissionError) => void
  timer: NodeJS.Timeout | undefined
}

/** One kind's running count and its waiters, per client in arrival order, with the turn order of clients. */
class Lane {
  running = 0
  queued = 0
  readonly byClient = new Map<string, Waiter[]>()
  /** Clients with a waiter, in turn order: the next slot goes to the first. */
  readonly turn: string[] = []
  runMs: number

  constructor (kind: WorkKind) {
    this.runMs = INITIAL_RUN_MS[kind]
  }

  push (w: Waiter): void {
    const list = this.byClient.get(w.client)
    if (list === undefined) {
      this.byClient.set(w.client, [w])
      this.turn.push(w.client)
    } else {
      list.push(w)
    }
    this.queued++
  }

  /** The first waiter of the client whose turn it is; that client goes to the back of the turn. */
  shift (): Waiter | undefined {
    const client = this.turn.shift()
    if (client === undefined) return undefined
    const list = this.byClient.get(client)!
    const w = list.shift()!
    if (list.length === 0) this.byClient.delete(client)
    else this.turn.push(client)
    this.queued--
    return w
  }

  remove (w: Waiter): boolean {
    const list = this.byClient.get(w.client)
    const at = list?.indexOf(w) ?? -1
    if (list === undefined || at < 0) return false
    list.splice(at, 1)
    if (list.length === 0) {
      this.byClient.delete(w.client)
      this.turn.splice(this.turn.indexOf(w.client), 1)
    }
    this.queued--
    return true
  }

  queuedOf (client: string): number {
    return this.byClient.get(client)?.length ?? 0
  }

  /**
   * The waiters a new request of `client` would have ahead of it in turn order: its client's own
   * `own`, and from every other client at most own + 1 (the turn comes round once per request).
   */
  ahead (client: string): { others: number, own: number } {
    const own = this.queuedOf(client)
    let others = 0
    for (const [c, list] of this.byClient) if (c !== client) others += Math.min(list.length, own + 1)
    return { others, own }
  }
}

export interface AdmissionStats {
  running: Record<WorkKind, number>
  queued: Record<WorkKind, number>
  refused: Record<AdmissionRefusal, number>
}

export class Admission {
  private readonly lanes: Record<WorkKind, Lane> = { keygen: new Lane('keygen'), sign: new Lane('sign') }
  private limits: AdmissionLimits
  private closed = false
  readonly refused: Record<AdmissionRefusal, number> = { over_share: 0, queue_full: 0, wait_expired: 0, closed: 0 }

  constructor (limits: Partial<AdmissionLimits> = {}) {
    this.limits = checkLimits({ ...DEFAULT_ADMISSION_LIMITS, ...limits, maxRunning: { ...DEFAULT_ADMISSION_LIMITS.maxRunning, ...limits.maxRunning } })
  }

  /** Changes the limits; waiters get slots at once if the new ones allow. */
  setLimits (limits: Partial<AdmissionLimits>): void {
    this.limits = checkLimits({ ...this.limits, ...limits, maxRunning: { ...this.limits.maxRunning, ...limits.maxRunning } })
    for (const kind of WORK_KINDS) this.dispatch(kind)
  }

  get current (): Readonly<AdmissionLimits> { return this.limits }

  stats (): AdmissionStats {
    return {
      running: { keygen: this.lanes.keygen.running, sign: this.lanes.sign.running },
      queued: { keygen: this.lanes.keygen.queued, sign: this.lanes.sign.queued },
      refused: { ...this.refused }
    }
  }

  /**
   * Runs `work` once a slot of `kind` is free for `client`, and frees the slot when it settles.
   * Throws AdmissionError when the request is not admitted (over the client's share, queue full,
   * the wait deadline passed, closed); otherwise whatever `work` throws.
   */
  async run<T> (kind: WorkKind, client: string, work: () => Promise<T>): Promise<T> {
    await this.acquire(kind, client)
    const lane = this.lanes[kind]
    const started = Date.now()
    try {
      return await work()
    } finally {
      lane.runMs += RUN_MS_WEIGHT * (Date.now() - started - lane.runMs)
      lane.running--
      this.dispatch(kind)
    }
  }

  /** How long a client refused now should wait: the time for the work ahead of it to drain, bounded. */
  retryAfterMs (kind: WorkKind): number {
    const lane = this.lanes[kind]
    const drain = lane.runMs * (lane.queued + lane.running + 1) / this.limits.maxRunning[kind]
    return Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, Math.ceil(drain / 1000) * 1000))
  }

  /** Refuses every waiter and every later request (the coordinator stops). Running work ends on its own. */
  close (): void {
    this.closed = true
    for (const kind of WORK_KINDS) {
      const lane = this.lanes[kind]
      for (let w = lane.shift(); w !== undefined; w = lane.shift()) {
        clearTimeout(w.timer)
        w.refuse(this.refusal('closed', kind, 'the coordinator is stopping'))
      }
    }
  }

  private async acquire (kind: WorkKind, client: string): Promise<void> {
    const lane = this.lanes[kind]
    if (this.closed) throw this.refusal('closed', kind, 'the coordinator is stopping')
    // A free slot with nobody waiting is taken at once; otherwise the request queues behind the others.
    if (lane.running < this.limits.maxRunning[kind] && lane.queued === 0) {
      lane.running++
      return
    }
    if (lane.queuedOf(client) >= this.limits.maxQueuedPerClient) {
      throw this.refusal('over_share', kind, `client ${client.slice(0, 64)} already has ${this.limits.maxQueuedPerClient} ${kind} requests waiting`)
    }
    if (this.lanes.keygen.queued + this.lanes.sign.queued >= this.limits.maxQueued) {
      throw this.refusal('queue_full', kind, `${this.limits.maxQueued} requests are waiting already`)
    }
    const { others, own } = lane.ahead(client)
    const waitMs = (n: number): number => lane.runMs * (n + 1) / this.limits.maxRunning[kind]
    if (waitMs(others + own) > this.limits.maxWaitMs) {
      const code = waitMs(others) > this.limits.maxWaitMs ? 'queue_full' : 'over_share'
      throw this.refusal(code, kind, `${others + own} ${kind} requests are ahead of this one (${own} of them from client ${client.slice(0, 64)}): about ${Math.round(waitMs(others + own) / 1000)} s, more than the ${this.limits.maxWaitMs} ms it may wait`)
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        client,
        grant: resolve,
        refuse: reject,
        timer: undefined
      }
      waiter.timer = setTimeout(() => {
        if (lane.remove(waiter)) reject(this.refusal('wait_expired', kind, `no ${kind} slot within ${this.limits.maxWaitMs} ms`))
      }, this.limits.maxWaitMs)
      waiter.timer.unref()
      lane.push(waiter)
    })
  }

  /** Hands free slots of `kind` to waiters, one client after another. */
  private dispatch (kind: WorkKind): void {
    const lane = this.lanes[kind]
    while (lane.running < this.limits.maxRunning[kind]) {
      const w = lane.shift()
      if (w === undefined) return
      clearTimeout(w.timer)
      lane.running++
      w.grant()
    }
  }

  private refusal (code: AdmissionRefusal, kind: WorkKind, message: string): AdmissionError {
    this.refused[code]++
    return new AdmissionError(code, message, this.retryAfterMs(kind))
  }
}

function checkLimits (limits: AdmissionLimits): AdmissionLimits {
  const whole = (what: string, v: number, min: number): void => {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`admission: ${what} must be a whole number ≥ ${min}`)
  }
  for (const kind of WORK_KINDS) whole(`maxRunning.${kind}`, limits.maxRunning[kind], 1)
  whole('maxQueued', limits.maxQueued, 0)
  whole('maxQueuedPerClient', limits.maxQueuedPerClient, 0)
  whole('maxWaitMs', limits.maxWaitMs, 1)
  return Object.freeze({ ...limits, maxRunning: Object.freeze({ ...limits.maxRunning }) })
}
