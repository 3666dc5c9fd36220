import { afterEach, describe, expect, it, vi } from 'vitest'
import { Admission, AdmissionError, RETRY_AFTER_MAX_MS, RETRY_AFTER_MIN_MS, type AdmissionLimits } from '../../src/coordinator/admission.js'

/** Work that runs until the test finishes it, recording when it started. */
interface Gate { finish: () => void, fail: (err: Error) => void, started: boolean, done: boolean }

function gated (log: string[], name: string): { gate: Gate, work: () => Promise<string> } {
  const gate: Gate = { finish: () => {}, fail: () => {}, started: false, done: false }
  const work = async (): Promise<string> => {
    gate.started = true
    log.push(name)
    return await new Promise<string>((resolve, reject) => {
      gate.finish = () => { gate.done = true; resolve(name) }
      gate.fail = (err) => { gate.done = true; reject(err) }
    })
  }
  return { gate, work }
}

/** Lets queued promise callbacks run (grants hand over on the microtask queue). */
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

const limits = (over: Partial<AdmissionLimits> = {}): Partial<AdmissionLimits> => ({
  maxRunning: { keygen: 1, sign: 2 }, maxQueued: 10, maxQueuedPerClient: 10, maxWaitMs: 60_000, ...over
})

async function refusal (p: Promise<unknown>): Promise<AdmissionError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  if (!(err instanceof AdmissionError)) throw new Error(`expected an AdmissionError, got ${String(err)}`)
  return err
}

afterEach(() => { vi.useRealTimers() })

describe('Admission', () => {
  it('runs at most maxRunning of a kind at once, each kind on its own, and frees the slot when work settles (also by throwing)', async () => {
    const q = new Admission(limits())
    const log: string[] = []
    const k1 = gated(log, 'k1'); const k2 = gated(log, 'k2')
    const s1 = gated(log, 's1'); const s2 = gated(log, 's2'); const s3 = gated(log, 's3')
    const runs = [q.run('keygen', 'a', k1.work), q.run('keygen', 'a', k2.work), q.run('sign', 'a', s1.work), q.run('sign', 'a', s2.work), q.run('sign', 'a', s3.work)]
    await settle()
    expect(log).toEqual(['k1', 's1', 's2'])
    expect(q.stats()).toMatchObject({ running: { keygen: 1, sign: 2 }, queued: { keygen: 1, sign: 1 } })

    k1.gate.fail(new Error('keygen failed'))
    await expect(runs[0]).rejects.toThrow('keygen failed')
    await settle()
    expect(log).toEqual(['k1', 's1', 's2', 'k2'])
    s1.gate.finish()
    await expect(runs[2]).resolves.toBe('s1')
    await settle()
    expect(log.at(-1)).toBe('s3')
    for (const g of [k2, s2, s3]) g.gate.finish()
    await Promise.all(runs.slice(1))
    expect(q.stats()).toMatchObject({ running: { keygen: 0, sign: 0 }, queued: { keygen: 0, sign: 0 } })
  })

  it('hands freed slots round-robin across clients, each client\'s requests in order', async () => {
    const q = new Admission(limits())
    const log: string[] = []
    const first = gated(log, 'a0')
    const all: Array<Promise<string>> = [q.run('keygen', 'a', first.work)]
    const gates: Gate[] = []
    // Client a floods the queue first; b and c come later with two each.
    for (const [client, n] of [['a', 4], ['b', 2], ['c', 2]] as const) {
      for (let i = 1; i <= n; i++) {
        const g = gated(log, `${client}${i}`)
        gates.push(g.gate)
        all.push(q.run('keygen', client, g.work))
      }
    }
    await settle()
    first.gate.finish()
    for (let i = 0; i < gates.length; i++) {
      await settle()
      gates.find(g => g.started && !g.done)?.finish()
    }
    await Promise.all(all)
    expect(log).toEqual(['a0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'a3', 'a4'])
  })

  it('refuses a client over its share with over_share (429) and anyone when the queue is full with queue_full (503), with a Retry-After', async () => {
    const q = new Admission(limits({ maxQueued: 3, maxQueuedPerClient: 2 }))
    const log: string[] = []
    const held = gated(log, 'held')
    const running = q.run('keygen', 'a', held.work)
    const waiting = [q.run('keygen', 'a', async () => 'a1'), q.run('keygen', 'a', async () => 'a2')]
    const over = await refusal(q.run('keygen', 'a', async () => 'a3'))
    expect(over.code).toBe('over_share')
    expect(over.retryAfterMs).toBeGreaterThanOrEqual(RETRY_AFTER_MIN_MS)
    // b has no request waiting, but one more fills the queue (3) and the next is refused for all.
    waiting.push(q.run('sign', 'b', async () => 'b1'))
    waiting.push(q.run('sign', 'b', async () => 'b2'))
    await settle()
    waiting.push(q.run('keygen', 'b', async () => 'b3'))
    const full = await refusal(q.run('keygen', 'c', async () => 'c1'))
    expect(full.code).toBe('queue_full')
    expect(q.stats().refused).toMatchObject({ over_share: 1, queue_full: 1 })
    held.gate.finish()
    await expect(Promise.all([running, ...waiting])).resolves.toEqual(['held', 'a1', 'a2', 'b1', 'b2', 'b3'])
  })

  it('refuses a request that waited maxWaitMs with wait_expired, leaving the others queued', async () => {
    vi.useFakeTimers()
    // A keygen is taken to run 2 s until one has run: two waiters fit in 5 s.
    const q = new Admission(limits({ maxWaitMs: 5_000 }))
    const log: string[] = []
    const held = gated(log, 'held')
    const running = q.run('keygen', 'a', held.work)
    const early = q.run('keygen', 'b', async () => 'early')
    const earlyOutcome = refusal(early)
    await vi.advanceTimersByTimeAsync(600)
    const late = q.run('keygen', 'c', async () => 'late')
    await vi.advanceTimersByTimeAsync(4_500)
    const expired = await earlyOutcome
    expect(expired.code).toBe('wait_expired')
    expect(q.stats().queued.keygen).toBe(1)
    held.gate.finish()
    await expect(running).resolves.toBe('held')
    await expect(late).resolves.toBe('late')
    // A granted waiter's timer is cleared: nothing fires later.
    await vi.advanceTimersByTimeAsync(10_000)
    expect(q.stats()).toMatchObject({ running: { keygen: 0 }, queued: { keygen: 0 }, refused: { wait_expired: 1 } })
  })

  it('refuses at once a request that would wait past the deadline: 429 when its own client\'s requests put it there, 503 when the others\' do', async () => {
    // One keygen at a time, taken to run 2 s: a request with n ahead of it waits 2(n + 1) s; 10 s allows 4 ahead.
    const q = new Admission(limits({ maxWaitMs: 10_000 }))
    const log: string[] = []
    const held = gated(log, 'held')
    const all: Array<Promise<string>> = [q.run('keygen', 'a', held.work)]
    for (let i = 1; i <= 5; i++) all.push(q.run('keygen', 'a', async () => `a${i}`))
    const flood = await refusal(q.run('keygen', 'a', async () => 'a6'))
    expect(flood.code).toBe('over_share')
    expect(flood.message).toMatch(/5 keygen requests are ahead/)
    // b is not behind a's flood: in turn order it has one of a's requests ahead, then two.
    all.push(q.run('keygen', 'b', async () => 'b1'))
    all.push(q.run('keygen', 'b', async () => 'b2'))
    // Clients with one request each: c, d, e fit; f would have 5 ahead (a, b, c, d, e) and is
    // refused for the others' requests, not its own.
    for (const c of ['c', 'd', 'e']) all.push(q.run('keygen', c, async () => c))
    const full = await refusal(q.run('keygen', 'f', async () => 'f'))
    expect(full.code).toBe('queue_full')
    expect(full.retryAfterMs).toBeGreaterThan(RETRY_AFTER_MIN_MS)
    await settle()
    held.gate.finish()
    await expect(Promise.all(all)).resolves.toEqual(['held', 'a1', 'a2', 'a3', 'a4', 'a5', 'b1', 'b2', 'c', 'd', 'e'])
    expect(log).toEqual(['held'])
  })

  it('bounds Retry-After by the work ahead, between the minimum and the maximum', async () => {
    const q = new Admission(limits({ maxQueued: 1_000, maxQueuedPerClient: 1_000, maxWaitMs: 600_000 }))
    // Nothing ahead: one keygen's time (taken as 2 s until one has run), at least the minimum.
    expect(q.retryAfterMs('keygen')).toBe(2_000)
    expect(q.retryAfterMs('sign')).toBe(RETRY_AFTER_MIN_MS)
    const log: string[] = []
    const held = gated(log, 'held')
    const all = [q.run('keygen', 'a', held.work)]
    for (let i = 0; i < 200; i++) all.push(q.run('keygen', `c${i}`, async () => 'x'))
    // 200 keygens ahead at one at a time and ~2 s each: more than the maximum.
    expect(q.retryAfterMs('keygen')).toBe(RETRY_AFTER_MAX_MS)
    await settle()
    held.gate.finish()
    await Promise.all(all)
  })

  it('lets raised limits take waiters at once, refuses everything after close, and checks limits', async () => {
    const q = new Admission(limits())
    const log: string[] = []
    const a = gated(log, 'a'); const b = gated(log, 'b')
    const runs = [q.run('keygen', 'x', a.work), q.run('keygen', 'y', b.work)]
    await settle()
    expect(log).toEqual(['a'])
    q.setLimits({ maxRunning: { keygen: 2, sign: 2 } })
    await settle()
    expect(log).toEqual(['a', 'b'])
    const c = gated(log, 'c')
    const queued = q.run('keygen', 'z', c.work)
    q.close()
    expect((await refusal(queued)).code).toBe('closed')
    expect((await refusal(q.run('sign', 'z', async () => 'no'))).code).toBe('closed')
    a.gate.finish(); b.gate.finish()
    await Promise.all(runs)
    expect(() => new Admission({ maxRunning: { keygen: 0, sign: 1 } })).toThrow(RangeError)
    expect(() => new Admission({ maxWaitMs: 1.5 })).toThrow(RangeError)
  })
})
