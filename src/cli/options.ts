import { Command, InvalidArgumentError, Option } from 'commander'
import { ApiClient, ApiClientError } from '../coordinator/client.js'
import { API_TOKEN_FILE, readApiInfo, readSecretFile } from '../coordinator/data-dir.js'
import { KeystoreError } from '../crypto/index.js'
import type { LogLevel } from '../log.js'
import { CommandRefusedError, CommandTransportError } from '../protocols/errors.js'
import { InvalidTokenError } from '../protocols/token.js'
import { PolicyError } from '../protocols/policy.js'
import { ConfigError, parseMultiaddrs } from '../runtime/config.js'
import { PassphraseError } from '../state/share-vault.js'
import { DataDirError } from '../store/errors.js'
import { readPrivateFile } from '../store/files.js'

/** A wrong combination of options found after parsing: one line, exit code 2, as for bad flags. */
export class UsageError extends Error {}

/** Errors whose message is the whole story for the user: printed as one line, no stack. */
export const USER_ERRORS = [ConfigError, DataDirError, InvalidTokenError, CommandRefusedError, CommandTransportError, ApiClientError, PassphraseError, KeystoreError, PolicyError]

/**
 * Reads a secret named on the command line by its file (the key store passphrase, a join token),
 * refusing a file that group or others may read, as ssh refuses such a private key and as the
 * data directory's own secret files are refused. Runs before anything is written to the data
 * directory, so a refused start leaves nothing behind.
 */
export async function readSecretOption (path: string, flag: string): Promise<string> {
  let bytes: Uint8Array | undefined
  try {
    bytes = await readPrivateFile(path)
  } catch (err) {
    if (err instanceof DataDirError) throw new ConfigError(`${flag}: ${err.message}`)
    throw new ConfigError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  if (bytes === undefined) throw new ConfigError(`${flag}: cannot read ${path} (ENOENT)`)
  return Buffer.from(bytes).toString('utf8')
}

/** `--announce <addr>...` (a list), `--no-announce` (false) or neither (undefined), as start options. */
export function announceOf (announce: string[] | false | undefined): { announce?: string[], noAnnounce?: boolean } {
  return announce === false ? { noAnnounce: true } : { announce }
}

export function retentionOf (opts: { eventRetentionCount?: number, eventRetentionDays?: number }): { maxEvents?: number, maxAgeMs?: number } {
  return {
    ...(opts.eventRetentionCount !== undefined ? { maxEvents: opts.eventRetentionCount } : {}),
    ...(opts.eventRetentionDays !== undefined ? { maxAgeMs: opts.eventRetentionDays * 24 * 3600 * 1000 } : {})
  }
}

export function wholeNumber (flag: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${flag} takes a whole number, not "${value}"`)
    if (n > max) throw new InvalidArgumentError(`${flag} takes at most ${max}, not ${n}`)
    return n
  }
}

export function positiveInt (flag: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} takes a positive whole number of milliseconds, not "${value}"`)
    return n
  }
}

export function positiveWhole (flag: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} takes a whole number of at least 1, not "${value}"`)
    return n
  }
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90s`, `30m`, `24h`, `7d` as milliseconds. */
export function duration (flag: string) {
  return (value: string): number => {
    const m = /^(\d+)([smhd])$/.exec(value)
    if (m === null) throw new InvalidArgumentError(`${flag} takes a duration such as 90s, 30m, 24h or 7d, not "${value}"`)
    return Number(m[1]) * DURATION_UNITS[m[2]!]!
  }
}

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

export function multiaddrOption (flags: string, description: string): Option {
  return new Option(flags, description).argParser((value: string, previous: string[] | undefined) => {
    try {
      parseMultiaddrs([value], flags.split(' ')[0] ?? flags)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
    return collect(value, previous)
  })
}

export function dataDirOption (): Option {
  return new Option('--data-dir <dir>', 'data directory (identity, store, tokens)').makeOptionMandatory()
}

export function logLevelOf (cmd: Command): LogLevel {
  return cmd.optsWithGlobals<{ logLevel: LogLevel }>().logLevel
}

/**
 * Settles at the first SIGINT or SIGTERM. Take it before printing that the peer is ready: whoever
 * reads that line may signal at once, and a signal with no listener kills without a clean stop.
 */
export function stopSignal (): Promise<void> {
  return new Promise<void>(resolve => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

async function apiClientFrom (opts: { api?: string, apiToken?: string, coordinatorDir?: string }): Promise<ApiClient> {
  const dir = opts.coordinatorDir ?? process.env.MPC_WALLET_COORDINATOR_DIR
  let url = opts.api ?? process.env.MPC_WALLET_API
  let token = opts.apiToken ?? process.env.MPC_WALLET_API_TOKEN
  if (dir !== undefined) {
    url ??= (await readApiInfo(dir)).url
    token ??= await readSecretFile(dir, API_TOKEN_FILE)
  }
  if (url === undefined || token === undefined) {
    throw new ConfigError('no coordinator API given: pass --coordinator-dir <dir> (or set MPC_WALLET_COORDINATOR_DIR), or --api <url> with --api-token-file <file> (or MPC_WALLET_API and MPC_WALLET_API_TOKEN)')
  }
  return new ApiClient(url, token)
}

/** The options every client command takes to find the coordinator's API. */
export function withApiOptions (cmd: Command): Command {
  return cmd
    .option('--coordinator-dir <dir>', 'coordinator data directory to read the API address and token from (env MPC_WALLET_COORDINATOR_DIR)')
    .option('--api <url>', 'coordinator API URL (env MPC_WALLET_API)')
    .option('--api-token-file <file>', 'file holding the API bearer token (env MPC_WALLET_API_TOKEN holds the token itself)')
}

export interface ApiFlags { coordinatorDir?: string, api?: string, apiTokenFile?: string }

export async function clientOf (opts: ApiFlags): Promise<ApiClient> {
  const apiToken = opts.apiTokenFile !== undefined ? (await readSecretOption(opts.apiTokenFile, '--api-token-file')).trim() : undefined
  return await apiClientFrom({ ...opts, apiToken })
}
