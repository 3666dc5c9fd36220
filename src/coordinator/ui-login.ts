/**
 * Logins to the status page (issue 16) without the API token ever in a URL: `mpc-wallet ui`
 * asks the API (with the token) for a one-time code; the browser exchanges the code, once and
 * within CODE_TTL_MS, for a session kept in an HttpOnly, SameSite=Strict cookie. Codes and
 * sessions are random 256-bit values kept here only as their sha256, in memory: a coordinator
 * restart logs everyone out. Both are bounded (the oldest goes).
 */
import { createHash, randomBytes } from 'node:crypto'

export const CODE_TTL_MS = 2 * 60_000
export const SESSION_TTL_MS = 12 * 60 * 60_000
export const SESSION_COOKIE = 'mpcw_session'
const MAX_CODES = 16
const MAX_SESSIONS = 64

const hash = (secret: string): string => createHash('sha256').update(secret).digest('hex')

export class UiLogins {
  /** hash of a code → when it expires */
  private readonly codes = new Map<string, number>()
  /** hash of a session → when it expires */
  private readonly sessions = new Map<string, number>()

  constructor (private readonly now: () => number = Date.now) {}

  /** A new one-time code, valid CODE_TTL_MS. */
  newCode (): { code: string, expiresAtMs: number } {
    const code = randomBytes(32).toString('base64url')
    const expiresAtMs = this.now() + CODE_TTL_MS
    bounded(this.codes, MAX_CODES).set(hash(code), expiresAtMs)
    return { code, expiresAtMs }
  }

  /** A new session for a code not used and not expired (the code is spent either way), else undefined. */
  exchange (code: string): { session: string, expiresAtMs: number } | undefined {
    const id = hash(code)
    const expires = this.codes.get(id)
    this.codes.delete(id)
    if (expires === undefined || expires < this.now()) return undefined
    const session = randomBytes(32).toString('base64url')
    const expiresAtMs = this.now() + SESSION_TTL_MS
    bounded(this.sessions, MAX_SESSIONS).set(hash(session), expiresAtMs)
    return { session, expiresAtMs }
  }

  /** Whether a Cookie header carries a live session. */
  valid (cookieHeader: string | undefined): boolean {
    const session = cookieOf(cookieHeader, SESSION_COOKIE)
    if (session === undefined) return false
    const expires = this.sessions.get(hash(session))
    if (expires === undefined) return false
    if (expires >= this.now()) return true
    this.sessions.delete(hash(session))
    return false
  }
}

/** `map` with room for one more entry: expired ones go first, then the oldest. */
function bounded (map: Map<string, number>, max: number): Map<string, number> {
  if (map.size < max) return map
  for (const [k, expires] of map) if (expires < Date.now()) map.delete(k)
  while (map.size >= max) map.delete(map.keys().next().value!)
  return map
}

/** The value of cookie `name` in a Cookie header. */
export function cookieOf (header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return undefined
}
