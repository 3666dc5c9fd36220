/**
 * The status page's own routes (issue 16), outside the bearer token: `GET /login?code=` trades a
 * one-time code for a session cookie; `GET /v1/stream` is a Server-Sent Events stream of the
 * cluster (a snapshot of members and keys every SNAPSHOT_MS) and of the event log as it grows,
 * each event with its sequence number as `id`, so a browser's reconnect resumes after
 * `Last-Event-ID`; `GET /` is the page itself (src/ui/page.ts). A request without a live session
 * is 401; one another site makes (a browser says so in Sec-Fetch-Site, or an Origin that is not
 * this server's) is 403. Nothing else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { ApiError } from '../protocols/errors.js'
import type { PageRoute } from '../runtime/http-api.js'
import type { EventView } from '../state/event-log.js'
import { SESSION_COOKIE, type UiLogins } from './ui-login.js'
import { APP_JS, LOGIN_NEEDED_HTML, PAGE_HTML } from '../ui/page.js'

/** No script, style or connection from anywhere but this server; no framing. */
const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer'
}

export const SNAPSHOT_MS = 2_000
export const EVENT_POLL_MS = 500
const EVENTS_PER_POLL = 500
/** A new stream (no Last-Event-ID) starts with this many of the newest events, not the whole log. */
export const REPLAY_EVENTS = 200

export interface UiSources {
  logins: UiLogins
  /** What the page shows of the cluster now: members and keys. */
  snapshot: () => Promise<unknown>
  events: (after: number, limit: number) => Promise<EventView[]>
  /** The newest event's sequence number. */
  lastSeq: () => number
  /** Aborted when the coordinator stops: every stream ends. */
  stopping: AbortSignal
}

/** 403 for a request another site makes: the browser's Sec-Fetch-Site, or an Origin other than this server's. */
function refuseCrossSite (req: IncomingMessage): void {
  const site = req.headers['sec-fetch-site']
  const origin = req.headers.origin
  const host = req.headers.host
  if ((site !== undefined && site !== 'same-origin' && site !== 'none') || (origin !== undefined && origin !== `http://${host ?? ''}`)) {
    throw new ApiError(403, 'forbidden', 'a request from another site')
  }
}

export function uiPages (s: UiSources): Record<string, PageRoute> {
  return {
    'GET /': async (req, res) => {
      refuseCrossSite(req)
      const live = s.logins.valid(req.headers.cookie)
      res.writeHead(live ? 200 : 401, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' })
      res.end(live ? PAGE_HTML : LOGIN_NEEDED_HTML)
    },
    'GET /ui/app.js': async (_req, res) => {
      res.writeHead(200, { ...PAGE_HEADERS, 'content-type': 'text/javascript; charset=utf-8' })
      res.end(APP_JS)
    },
    'GET /login': async (req, res, url) => {
      refuseCrossSite(req)
      const granted = s.logins.exchange(url.searchParams.get('code') ?? '')
      if (granted === undefined) throw new ApiError(401, 'unauthorized', 'this login link is used, expired or wrong: ask for a new one with mpc-wallet ui')
      const maxAge = Math.floor((granted.expiresAtMs - Date.now()) / 1000)
      res.writeHead(303, {
        location: '/',
        'set-cookie': `${SESSION_COOKIE}=${granted.session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}`,
        'cache-control': 'no-store'
      })
      res.end()
    },
    'GET /v1/stream': async (req, res) => {
      refuseCrossSite(req)
      if (!s.logins.valid(req.headers.cookie)) throw new ApiError(401, 'unauthorized', 'log in first: mpc-wallet ui prints a login link')
      const resume = Number(req.headers['last-event-id'])
      await stream(s, res, Number.isSafeInteger(resume) && resume > 0 ? resume : Math.max(0, s.lastSeq() - REPLAY_EVENTS))
    }
  }
}

/** Writes the stream until the browser goes or the coordinator stops. */
async function stream (s: UiSources, res: ServerResponse, after: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
  // A browser that loses the stream asks again after a second (EventSource's default is about 3).
  res.write('retry: 1000\n\n')
  const gone = new AbortController()
  res.on('close', () => { gone.abort() })
  const done = AbortSignal.any([gone.signal, s.stopping])
  let last = after
  let snapshotAt = 0
  while (!done.aborted) {
    if (Date.now() - snapshotAt >= SNAPSHOT_MS) {
      res.write(`event: snapshot\ndata: ${JSON.stringify(await s.snapshot())}\n\n`)
      snapshotAt = Date.now()
    }
    for (const e of await s.events(last, EVENTS_PER_POLL)) {
      res.write(`id: ${e.seq}\nevent: event\ndata: ${JSON.stringify(e)}\n\n`)
      last = e.seq
    }
    await sleep(EVENT_POLL_MS, undefined, { signal: done }).catch(() => {})
  }
  if (s.stopping.aborted) res.write('event: bye\ndata: {"reason":"the coordinator stopped"}\n\n')
  res.end()
}
