/**
 * Logins to the status page (issue 16) without the API token ever in a URL: `mpc-wallet ui`
 * asks the API (with the token) for a one-time code; the browser exchanges the code, once and
 * within CODE_TTL_MS, for a session kept in an HttpOnly, SameSite=Strict cookie. Codes are
 * random 256-bit values kept here only as their sha256, in memory (bounded: the oldest goes).
 * A session is `expiry.nonce.mac`, the mac an HMAC-SHA256 under the data directory's ui-secret:
 * nothing to store, and a browser stays logged in across a coordinator restart.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export const CODE_TTL_MS = 2 * 60_000
export const SESSION_TTL_MS = 12 * 60 * 60_000
export const SESSION_COOKIE = 'mpcw_session'
const MAX_CODES = 16

const hash = (secret: string): string => createHash('sha256').update(secret).digest('hex')

export class UiLogins {
  /** hash of a code → when it expires */
  private readonly codes = new Map<string, number>()
  constructor (private readonly secret: Uint8Array, private readonly now: () => number = Date.now) {}

  /** A new one-time code, valid CODE_TTL_MS. */
  newCode (): { code: string, expiresAtMs: number } {
    const code = randomBytes(32).toString('base64url')
    const expiresAtMs = this.now() + CODE_TTL_MS
    bounded(this.codes, MAX_CODES, this.now()).set(hash(code), expiresAtMs)
    return { code, expiresAtMs }
  }

  /** A new session for a code not used and not expired (the code is spent either way), else undefined. */
  exchange (code: string): { session: string, expiresAtMs: number } | undefined {
    const id = hash(code)
    const expires = this.codes.get(id)
    this.codes.delete(id)
    if (expires === undefined || expires < this.now()) return undefined
    const expiresAtMs = this.now() + SESSION_TTL_MS
    const body = `${expiresAtMs}.${randomBytes(16).toString('base64url')}`
    return { session: `${body}.${this.mac(body)}`, expiresAtMs }
  }

  /** Whether a Cookie header carries a live session. */
  valid (cookieHeader: string | undefined): boolean {
    const match = /^([0-9]{1,16})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(cookieOf(cookieHeader, SESSION_COOKIE) ?? '')
    if (match === null || Number(match[1]) < this.now()) return false
    const expected = Buffer.from(this.mac(`${match[1]!}.${match[2]!}`))
    const given = Buffer.from(match[3]!)
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  private mac (body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url')
  }
}

/** `map` with room for one more entry: expired ones go first, then the oldest. */
function bounded (map: Map<string, number>, max: number, now: number): Map<string, number> {
  if (map.size < max) return map
  for (const [k, expires] of map) if (expires < now) map.delete(k)
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
