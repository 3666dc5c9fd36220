import { readFile } from 'node:fs/promises'
import type { ReadableStream, ReadableStreamReadResult } from 'node:stream/web'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, waitAllUp, type TestCluster } from '../helpers.js'

interface SseEvent { id?: string, event: string, data: unknown }

/** Reads Server-Sent Events from a response until `enough` says so (or `timeoutMs` passes). */
async function readEvents (res: Response, enough: (events: SseEvent[]) => boolean, timeoutMs = 10_000): Promise<SseEvent[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const events: SseEvent[] = []
  let buffer = ''
  const deadline = Date.now() + timeoutMs
  try {
    while (!enough(events) && Date.now() < deadline) {
      const chunk: ReadableStreamReadResult<Uint8Array> = await reader.read()
      if (chunk.done) break
      const value = chunk.value
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const field = (name: string): string | undefined => block.split('\n').find(l => l.startsWith(`${name}: `))?.slice(name.length + 2)
        events.push({ id: field('id'), event: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null') })
      }
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
  return events
}

/**
 * Issue 16's server side on a real cluster: a one-time login code (asked for with the API token)
 * traded once for an HttpOnly, SameSite=Strict session cookie; the event stream refuses a missing
 * cookie (401) and another site (403), sends snapshots of members and keys and the event log as
 * it grows, resumes after Last-Event-ID, and says so when the coordinator stops.
 */
describe('the status page\'s login and event stream', () => {
  let cluster: TestCluster
  let base: string
  let token: string
  const login = async (): Promise<string> => {
    const res = await fetch(`${base}/v1/ui/login`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })
    expect(res.status).toBe(200)
    return ((await res.json()) as { path: string }).path
  }

  beforeAll(async () => {
    cluster = await startCluster(2)
    await waitAllUp(cluster)
    base = cluster.coordinator.apiUrl!
    token = (await readFile(join(cluster.root, 'coordinator', 'api-token'), 'utf8')).trim()
  })
  afterAll(async () => { await cluster?.stop() })

  it('trades a one-time code for a session cookie once; a used, wrong or token-less request gets nothing', async () => {
    const path = await login()
    expect(path).toMatch(/^\/login\?code=[A-Za-z0-9_-]{43}$/)
    const first = await fetch(`${base}${path}`, { redirect: 'manual' })
    expect(first.status).toBe(303)
    const cookie = first.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(/^mpcw_session=\d+\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/)
    expect((await fetch(`${base}${path}`, { redirect: 'manual' })).status).toBe(401)
    expect((await fetch(`${base}/login?code=nope`, { redirect: 'manual' })).status).toBe(401)
    expect((await fetch(`${base}/v1/ui/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401)
    // A code fetched by another site's page is refused even before it is tried.
    const cross = await fetch(`${base}${await login()}`, { redirect: 'manual', headers: { 'sec-fetch-site': 'cross-site' } })
    expect(cross.status).toBe(403)
  })

  it('streams snapshots and events to a logged-in browser only, and resumes after Last-Event-ID', async () => {
    const cookie = ((await fetch(`${base}${await login()}`, { redirect: 'manual' })).headers.get('set-cookie') ?? '').split(';')[0]!
    expect((await fetch(`${base}/v1/stream`)).status).toBe(401)
    expect((await fetch(`${base}/v1/stream`, { headers: { cookie: 'mpcw_session=forged' } })).status).toBe(401)
    expect((await fetch(`${base}/v1/stream`, { headers: { cookie, origin: 'http://evil.example' } })).status).toBe(403)

    const res = await fetch(`${base}/v1/stream`, { headers: { cookie } })
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const keygen = cluster.coordinator.tasks.keygen({ scheme: 'ed25519', threshold: 2, parties: 2 })
    const events = await readEvents(res, es => es.some(e => e.event === 'event' && (e.data as { kind: string }).kind === 'SESSION_FINISHED'))
    const key = await keygen
    const snapshot = events.find(e => e.event === 'snapshot')!.data as { cluster: { members: Array<{ peerId: string, state: string }> } }
    expect(snapshot.cluster.members.map(m => m.state)).toEqual(['up', 'up'])
    const finished = events.find(e => e.event === 'event' && (e.data as { kind: string }).kind === 'SESSION_FINISHED')!
    expect(Number(finished.id)).toBeGreaterThan(0)

    // A reconnect with the last id seen gets only what came after it; the next snapshot lists the new key.
    const again = await fetch(`${base}/v1/stream`, { headers: { cookie, 'last-event-id': finished.id! } })
    const later = await readEvents(again, es => es.some(e => e.event === 'snapshot'), 5_000)
    for (const e of later.filter(x => x.event === 'event')) expect(Number(e.id)).toBeGreaterThan(Number(finished.id))
    expect((later.find(e => e.event === 'snapshot')!.data as { keys: Array<{ id: string }> }).keys.map(k => k.id)).toContain(key.id)
  })

  it('starts a new stream with the newest 200 events, not the whole log', async () => {
    const cookie = ((await fetch(`${base}${await login()}`, { redirect: 'manual' })).headers.get('set-cookie') ?? '').split(';')[0]!
    for (let i = 0; i < 250; i++) await cluster.coordinator.invite({ note: `filler ${i}` })
    const newest = (await cluster.coordinator.events(new URL('http://x.invalid/?limit=10000'))).at(-1)!.seq
    const events = await readEvents(await fetch(`${base}/v1/stream`, { headers: { cookie } }), es => es.some(e => e.event === 'event' && Number(e.id) === newest))
    const ids = events.filter(e => e.event === 'event').map(e => Number(e.id))
    expect(ids[0]).toBe(newest - 199)
    expect(ids).toHaveLength(200)
  })
})
