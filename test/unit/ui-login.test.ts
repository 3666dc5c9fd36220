import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CODE_TTL_MS, SESSION_COOKIE, SESSION_TTL_MS, UiLogins } from '../../src/coordinator/ui-login.js'

/** The status page's one-time codes and session cookies, on a clock the test moves. */
describe('status page logins', () => {
  const clock = { now: 1_800_000_000_000 }
  const secret = randomBytes(32)
  const logins = new UiLogins(secret, () => clock.now)
  const cookie = (session: string): string => `other=1; ${SESSION_COOKIE}=${session}`

  it('trade a code once, within its two minutes, for a session valid twelve hours', () => {
    const { code } = logins.newCode()
    const granted = logins.exchange(code)!
    expect(granted.expiresAtMs).toBe(clock.now + SESSION_TTL_MS)
    expect(logins.exchange(code), 'a code works once').toBeUndefined()
    expect(logins.valid(cookie(granted.session))).toBe(true)
    const late = logins.newCode()
    clock.now += CODE_TTL_MS + 1
    expect(logins.exchange(late.code), 'an expired code').toBeUndefined()
    clock.now += SESSION_TTL_MS
    expect(logins.valid(cookie(granted.session)), 'an expired session').toBe(false)
  })

  it('refuse a session with another expiry, another mac, or made under another key; a restart with the same key keeps it', () => {
    const { session } = logins.exchange(logins.newCode().code)!
    const [expiry, nonce, mac] = session.split('.') as [string, string, string]
    expect(logins.valid(cookie(`${Number(expiry) + 60_000}.${nonce}.${mac}`))).toBe(false)
    expect(logins.valid(cookie(`${expiry}.${nonce}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`))).toBe(false)
    expect(logins.valid(undefined)).toBe(false)
    expect(logins.valid('mpcw_session=')).toBe(false)
    expect(new UiLogins(randomBytes(32), () => clock.now).valid(cookie(session))).toBe(false)
    expect(new UiLogins(secret, () => clock.now).valid(cookie(session))).toBe(true)
  })
})
