import { pino, destination, type Logger } from 'pino'

export type { Logger }

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/**
 * Structured JSON logs on stderr, so stdout stays for command output. Quiet by default.
 * Log lines carry ids, counts and reasons; never a key, token, share or nonce.
 */
export function createLogger (level: LogLevel = 'warn', base: Record<string, unknown> = {}): Logger {
  return pino({ level, base, redact: { paths: ['token', '*.token', 'secret', '*.secret'], censor: '[redacted]' } }, destination({ fd: 2, sync: true }))
}
