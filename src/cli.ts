import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { ApiClient, ApiClientError } from './coordinator/client.js'
import { NETWORKS, type KeyView } from './coordinator/requests.js'
import { parseHostPort } from './runtime/http-api.js'
import { EVENT_TYPES, type EventView } from './state/event-log.js'
import { API_TOKEN_FILE, Coordinator, initCoordinator, inviteOffline, JOIN_TOKEN_FILE, readApiInfo, readSecretFile, type ClusterView } from './coordinator/coordinator.js'
import { InvitationError } from './coordinator/errors.js'
import type { InvitationOptions, NewInvitation } from './coordinator/invitations.js'
import type { PendingJoin } from './coordinator/membership.js'
import { createLogger, LOG_LEVELS, type LogLevel } from './log.js'
import { reachOf } from './runtime/addresses.js'
import { ConfigError, parseMultiaddrs, SOFTWARE_VERSION } from './runtime/config.js'
import { MpcNode } from './peer/node.js'
import { PassphraseError } from './state/share-vault.js'
import { KeystoreError, SCHEMES } from './crypto/index.js'
import { CommandRefusedError, CommandTransportError } from './protocols/errors.js'
import { InvalidTokenError, parseJoinToken } from './protocols/token.js'
import { DataDirError } from './store/errors.js'
import { readPrivateFile } from './store/files.js'
import { printable } from './terminal.js'

/** `--announce <addr>...` (a list), `--no-announce` (false) or neither (undefined), as start options. */
function announceOf (announce: string[] | false | undefined): { announce?: string[], noAnnounce?: boolean } {
  return announce === false ? { noAnnounce: true } : { announce }
}

function retentionOf (opts: { eventRetentionCount?: number, eventRetentionDays?: number }): { maxEvents?: number, maxAgeMs?: number } {
  return {
    ...(opts.eventRetentionCount !== undefined ? { maxEvents: opts.eventRetentionCount } : {}),
    ...(opts.eventRetentionDays !== undefined ? { maxAgeMs: opts.eventRetentionDays * 24 * 3600 * 1000 } : {})
  }
}

/** A wrong combination of options found after parsing: one line, exit code 2, as for bad flags. */
class UsageError extends Error {}

/**
 * Reads a secret named on the command line by its file (the key store passphrase, a join token),
 * refusing a file that group or others may read, as ssh refuses such a private key and as the
 * data directory's own secret files are refused. Runs before anything is written to the data
 * directory, so a refused start leaves nothing behind.
 */
async function readSecretOption (path: string, flag: string): Promise<string> {
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

/** Errors whose message is the whole story for the user: printed as one line, no stack. */
const USER_ERRORS = [ConfigError, DataDirError, InvalidTokenError, CommandRefusedError, CommandTransportError, ApiClientError, PassphraseError, KeystoreError]

function wholeNumber (flag: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${flag} takes a whole number, not "${value}"`)
    return n
  }
}

function positiveInt (flag: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} takes a positive whole number of milliseconds, not "${value}"`)
    return n
  }
}

function positiveWhole (flag: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} takes a whole number of at least 1, not "${value}"`)
    return n
  }
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90s`, `30m`, `24h`, `7d` as milliseconds. */
function duration (flag: string) {
  return (value: string): number => {
    const m = /^(\d+)([smhd])$/.exec(value)
    if (m === null) throw new InvalidArgumentError(`${flag} takes a duration such as 90s, 30m, 24h or 7d, not "${value}"`)
    return Number(m[1]) * DURATION_UNITS[m[2]!]!
  }
}

/**
 * An invitation from the coordinator of `dataDir`: through its API while it runs (its store is
 * locked then), else written to its store directly.
 */
async function invite (dataDir: string, opts: InvitationOptions): Promise<NewInvitation> {
  let client: ApiClient | undefined
  try {
    client = new ApiClient((await readApiInfo(dataDir)).url, await readSecretFile(dataDir, API_TOKEN_FILE))
  } catch (err) {
    if (!(err instanceof DataDirError)) throw err
  }
  if (client !== undefined) {
    try {
      return await client.invite(opts)
    } catch (err) {
      // Not running (a stale api.json): write to the store. A refusal (status) is final.
      if (!(err instanceof ApiClientError) || err.status !== undefined) throw err
    }
  }
  try {
    return await inviteOffline(dataDir, opts)
  } catch (err) {
    if (err instanceof InvitationError) throw new ConfigError(err.message)
    throw err
  }
}

function formatMembers (members: ClusterView['members'], pending: PendingJoin[], now = Date.now()): string {
  const lines = [`${members.length} member${members.length === 1 ? '' : 's'}`]
  for (const m of members) lines.push(`  ${m.peerId}  ${m.state}  joined ${new Date(m.joinedAtMs).toISOString()}  last heartbeat ${ago(m.lastHeartbeatMs, now)}`)
  lines.push(pending.length === 0 ? 'no joins wait for approval' : `${pending.length} join${pending.length === 1 ? '' : 's'} waiting for approval (mpc-wallet members approve|reject <peer id>)`)
  for (const p of pending) lines.push(`  ${p.peerId}  asked ${new Date(p.requestedAtMs).toISOString()}  invitation ${p.invitation}${p.note !== '' ? `  (${p.note})` : ''}`)
  return lines.join('\n')
}

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

function multiaddrOption (flags: string, description: string): Option {
  return new Option(flags, description).argParser((value: string, previous: string[] | undefined) => {
    try {
      parseMultiaddrs([value], flags.split(' ')[0] ?? flags)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
    return collect(value, previous)
  })
}

function dataDirOption (): Option {
  return new Option('--data-dir <dir>', 'data directory (identity, store, tokens)').makeOptionMandatory()
}

function logLevelOf (cmd: Command): LogLevel {
  return cmd.optsWithGlobals<{ logLevel: LogLevel }>().logLevel
}

/**
 * Settles at the first SIGINT or SIGTERM. Take it before printing that the peer is ready: whoever
 * reads that line may signal at once, and a signal with no listener kills without a clean stop.
 */
function stopSignal (): Promise<void> {
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

function ago (ms: number | null, now: number): string {
  if (ms === null) return 'never'
  return `${((now - ms) / 1000).toFixed(1)}s ago`
}

/** The options every client command takes to find the coordinator's API. */
function withApiOptions (cmd: Command): Command {
  return cmd
    .option('--coordinator-dir <dir>', 'coordinator data directory to read the API address and token from (env MPC_WALLET_COORDINATOR_DIR)')
    .option('--api <url>', 'coordinator API URL (env MPC_WALLET_API)')
    .option('--api-token-file <file>', 'file holding the API bearer token (env MPC_WALLET_API_TOKEN holds the token itself)')
}

interface ApiFlags { coordinatorDir?: string, api?: string, apiTokenFile?: string }

async function clientOf (opts: ApiFlags): Promise<ApiClient> {
  const apiToken = opts.apiTokenFile !== undefined ? (await readSecretOption(opts.apiTokenFile, '--api-token-file')).trim() : undefined
  return await apiClientFrom({ ...opts, apiToken })
}

/** A key as text lines; each line goes through printable(): ids and states come from the API, not from us. */
export function formatKey (key: KeyView): string {
  return [
    `key ${key.id}: ${key.scheme} ${key.threshold}-of-${key.parties}, ${key.status}`,
    `  group public key: ${key.groupPublicKey}`,
    ...(key.xOnlyPublicKey !== undefined ? [`  x-only public key: ${key.xOnlyPublicKey}`, `  P2TR address (${key.network ?? 'mainnet'}): ${key.address ?? ''}`] : []),
    `  holders: ${key.holders.map(h => `${h.peerId} (${h.state})`).join(', ')}`
  ].map(printable).join('\n')
}

const REACH_TEXT: Record<ReturnType<typeof reachOf>, string> = {
  public: 'at a public address',
  relay: 'through the coordinator\'s relay only (behind NAT; DCUtR upgrades links where the other side allows)',
  local: 'on local addresses only (loopback or LAN)'
}

/**
 * The `status` table. Members report their own addresses, versions and state hashes, so every
 * cell is made printable() before the column widths are measured: a member's text can neither
 * drive the terminal nor break the table's lines.
 */
export function formatClusterTable (view: ClusterView, now = Date.now()): string {
  const state = view.stateHash.slice(0, 12)
  const rows = view.members.map(m => [
    m.peerId, m.state, ago(m.lastHeartbeatMs, now),
    m.rosterEpoch === undefined ? '-' : String(m.rosterEpoch),
    m.stateHash === undefined ? '-' : m.stateHash.slice(0, 12) + (m.stateHash === view.stateHash ? '' : ' (behind)'),
    m.keysHeld === undefined ? '-' : `${m.keysHeld}${(m.keysLost ?? 0) > 0 ? ` (${m.keysLost ?? 0} lost)` : ''}`,
    m.link, m.reach,
    m.links === undefined ? '-' : `${m.links.direct} direct, ${m.links.relayed} relayed`,
    m.addrs.map(a => a.replace(/\/p2p\/[^/]+$/, '')).join(',')
  ].map(printable))
  const header = ['PEER ID', 'STATE', 'LAST HEARTBEAT', 'EPOCH', 'SYNCED STATE', 'KEYS', 'LINK', 'REACH', 'MEMBER LINKS', 'ADDRESSES']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]?.length ?? 0)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ')
  const up = view.members.filter(m => m.state === 'up').length
  return [
    printable(`cluster ${view.clusterId}  epoch ${view.epoch}  state ${state}  coordinator ${view.coordinator.peerId}  members ${view.members.length} (${up} up)`),
    line(header),
    ...rows.map(line)
  ].join('\n')
}

export function buildProgram (): Command {
  const program = new Command('mpc-wallet')
    .description('Threshold-signature wallet network on libp2p: a coordinator and MPC nodes')
    .version(SOFTWARE_VERSION)
    .addOption(new Option('--log-level <level>', 'log level (logs are JSON on stderr)').choices(LOG_LEVELS).default('warn'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()

  const coordinator = program.command('coordinator').description('create and run the cluster coordinator')

  coordinator.command('init')
    .description('create a cluster in an empty data directory and print its first invitation (single use, 24 h)')
    .addOption(dataDirOption())
    .addOption(multiaddrOption('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/0.0.0.0/tcp/7400)'))
    .addOption(multiaddrOption('--announce <multiaddr>', 'address to advertise instead of the listen addresses (repeatable)'))
    .option('--api <host:port>', 'loopback address of the HTTP API (default 127.0.0.1:7401)')
    .option('--json', 'print the result as one JSON object')
    .action(async (opts: { dataDir: string, listen?: string[], announce?: string[], api?: string, json?: boolean }) => {
      const result = await initCoordinator(opts)
      if (opts.json === true) {
        console.log(JSON.stringify(result))
        return
      }
      console.log(`cluster ${result.clusterId} created; coordinator peer id ${result.peerId}`)
      console.log(`first invitation, for one node, valid 24 h (also in ${join(opts.dataDir, JOIN_TOKEN_FILE)}):\n  ${result.joinToken}`)
      console.log(`make more with: mpc-wallet coordinator invite --data-dir ${opts.dataDir} [--uses N] [--ttl 24h] [--note TEXT]`)
      console.log(`start it with:\n  mpc-wallet coordinator start --data-dir ${opts.dataDir}`)
      console.log('it then prints the multiaddrs nodes pass to --bootstrap')
    })

  coordinator.command('start')
    .description('run the coordinator until SIGINT/SIGTERM')
    .addOption(dataDirOption())
    .addOption(multiaddrOption('--listen <multiaddr>', 'override the stored listen addresses (repeatable)'))
    .addOption(multiaddrOption('--announce <multiaddr>', 'override the stored announce addresses (repeatable)'))
    .option('--no-announce', 'advertise no address of our own (only relay /p2p-circuit addresses, if any): reachable only through relays and the connections this peer dials; nodes must be able to dial the --listen address some other way')
    .option('--api <host:port>', 'override the stored API address')
    .option('--suspect-after-ms <ms>', 'heartbeat silence before a member is suspect (default 3000)', positiveInt('--suspect-after-ms'))
    .option('--down-after-ms <ms>', 'heartbeat silence before a member is down (default 6000)', positiveInt('--down-after-ms'))
    .option('--keygen-timeout-ms <ms>', 'deadline of a whole keygen (default 30000)', positiveInt('--keygen-timeout-ms'))
    .option('--sign-round-timeout-ms <ms>', 'deadline of each signing round at each signer (default 5000)', positiveInt('--sign-round-timeout-ms'))
    .option('--event-retention-count <n>', 'keep at most this many events (default 1000000)', positiveInt('--event-retention-count'))
    .option('--event-retention-days <d>', 'remove events older than this many days (default 90)', positiveInt('--event-retention-days'))
    .option('--approve-joins', 'a node that joins with a valid invitation waits as pending until "mpc-wallet members approve <peer id>" (or reject)')
    .option('--max-members <n>', 'at most this many members (default and ceiling 256)', positiveWhole('--max-members'))
    .option('--json', 'print the ready line as one JSON object')
    .action(async (opts: { dataDir: string, listen?: string[], announce?: string[] | false, api?: string, suspectAfterMs?: number, downAfterMs?: number, keygenTimeoutMs?: number, signRoundTimeoutMs?: number, eventRetentionCount?: number, eventRetentionDays?: number, approveJoins?: boolean, maxMembers?: number, json?: boolean }, cmd: Command) => {
      const health = {
        ...(opts.suspectAfterMs !== undefined ? { suspectAfterMs: opts.suspectAfterMs } : {}),
        ...(opts.downAfterMs !== undefined ? { downAfterMs: opts.downAfterMs } : {})
      }
      const log = createLogger(logLevelOf(cmd), { role: 'coordinator' })
      const c = await Coordinator.start({
        dataDir: opts.dataDir, log, listen: opts.listen, ...announceOf(opts.announce), api: opts.api, health,
        keygenTimeoutMs: opts.keygenTimeoutMs, signRoundTimeoutMs: opts.signRoundTimeoutMs, eventRetention: retentionOf(opts),
        approveJoins: opts.approveJoins, maxMembers: opts.maxMembers
      })
      const addrs = c.libp2p.getMultiaddrs().map(String)
      const stopAsked = stopSignal()
      if (opts.json === true) {
        console.log(JSON.stringify({ ready: true, role: 'coordinator', clusterId: c.roster.clusterId, peerId: c.peerId.toString(), addrs, api: c.apiUrl, pid: process.pid }))
      } else {
        console.log(`coordinator ${c.peerId.toString()} of cluster ${c.roster.clusterId} is running`)
        for (const a of addrs) console.log(`  bootstrap multiaddr: ${a}`)
        console.log(`  api: ${c.apiUrl ?? ''} (bearer token in ${join(opts.dataDir, API_TOKEN_FILE)})`)
      }
      await stopAsked
      await c.stop()
    })

  coordinator.command('token')
    .description('print the first invitation, written by init (single use, valid 24 h): make more with "coordinator invite"')
    .addOption(dataDirOption())
    .action(async (opts: { dataDir: string }) => {
      console.log(await readSecretFile(opts.dataDir, JOIN_TOKEN_FILE))
    })

  coordinator.command('invite')
    .description('make an invitation for a node to join (single use and expiring by default); it is printed once, and the coordinator keeps only its hash')
    .addOption(dataDirOption())
    .option('--ttl <duration>', 'how long it stays valid: e.g. 90s, 30m, 24h, 7d (default 24h, at most 30d)', duration('--ttl'))
    .option('--uses <n>', 'how many nodes it admits (default 1)', positiveWhole('--uses'))
    .option('--note <text>', 'a note shown with the join in "members" and "events" (who it is for)')
    .option('--json', 'print { token, invitation } as one JSON object')
    .action(async (opts: { dataDir: string, ttl?: number, uses?: number, note?: string, json?: boolean }) => {
      const made = await invite(opts.dataDir, { ttlMs: opts.ttl, uses: opts.uses, note: opts.note })
      if (opts.json === true) {
        console.log(JSON.stringify(made))
        return
      }
      const { id, uses, expiresAtMs } = made.invitation
      console.log(`invitation ${id}: ${uses} join${uses === 1 ? '' : 's'}, valid until ${new Date(expiresAtMs).toISOString()}`)
      console.log(`  ${made.token}`)
      console.log('give it to the node\'s operator over a private channel; they start the node with it in a file (mode 600):')
      console.log('  mpc-wallet node start --data-dir <dir> --bootstrap <coordinator multiaddr> --join-file <file>')
    })

  program.command('node').description('run an MPC node').command('start')
    .description('join a cluster (first start) or rejoin it, and run until SIGINT/SIGTERM')
    .addOption(dataDirOption())
    .addOption(multiaddrOption('--bootstrap <multiaddr>', 'coordinator or member multiaddr to dial (repeatable; remembered after the first start)'))
    .addOption(new Option('--join <token>', 'invitation from "mpc-wallet coordinator invite" (first start only; prefer --join-file or the environment: a command line is visible to every user)').env('MPC_WALLET_JOIN_TOKEN'))
    .option('--join-file <file>', 'read the join token from a file instead')
    .addOption(multiaddrOption('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/0.0.0.0/tcp/0)'))
    .addOption(multiaddrOption('--announce <multiaddr>', 'address to advertise instead of the listen addresses (repeatable)'))
    .option('--no-announce', 'advertise no address of our own, only relay /p2p-circuit addresses (with --relay): reachable only through relays and the connections this node dials')
    .option('--relay', 'also listen on /p2p-circuit: hold a relay reservation on the coordinator (it relays for roster members only), reachable at <coordinator addr>/p2p-circuit/p2p/<node>. Default: on when no address this node binds is as wide as the bootstrap\'s (behind NAT) and no --announce is given')
    .option('--no-relay', 'never hold a relay reservation')
    .option('--no-members-only', 'accept inbound connections from any peer (by default, once in a roster, a node refuses peers that are neither the coordinator nor roster members)')
    .option('--heartbeat-ms <ms>', 'heartbeat interval (default 1000)', positiveInt('--heartbeat-ms'))
    .option('--passphrase-file <file>', 'file holding the key store passphrase (or set MPC_WALLET_PASSPHRASE)')
    .option('--http <host:port>', 'serve read-only GET /metrics (Prometheus) and GET /v1/events here, without a token')
    .option('--event-retention-count <n>', 'keep at most this many events (default 1000000)', positiveInt('--event-retention-count'))
    .option('--event-retention-days <d>', 'remove events older than this many days (default 90)', positiveInt('--event-retention-days'))
    .option('--json', 'print the ready line as one JSON object')
    .action(async (opts: { dataDir: string, bootstrap?: string[], join?: string, joinFile?: string, listen?: string[], announce?: string[] | false, relay?: boolean, membersOnly?: boolean, heartbeatMs?: number, passphraseFile?: string, http?: string, eventRetentionCount?: number, eventRetentionDays?: number, json?: boolean }, cmd: Command) => {
      const joinToken = opts.joinFile !== undefined ? (await readSecretOption(opts.joinFile, '--join-file')).trim() : opts.join
      if (joinToken !== undefined) parseJoinToken(joinToken)
      const passphrase = opts.passphraseFile !== undefined
        ? (await readSecretOption(opts.passphraseFile, '--passphrase-file')).replace(/\r?\n$/, '')
        : process.env.MPC_WALLET_PASSPHRASE
      if (passphrase === undefined || passphrase === '') throw new ConfigError('the node needs its key store passphrase: set MPC_WALLET_PASSPHRASE or pass --passphrase-file <file>')
      const log = createLogger(logLevelOf(cmd), { role: 'node' })
      const http = opts.http === undefined ? undefined : parseHostPort(opts.http, '--http')
      const node = await MpcNode.start({ dataDir: opts.dataDir, log, bootstrap: opts.bootstrap, joinToken, listen: opts.listen, ...announceOf(opts.announce), relay: opts.relay, membersOnly: opts.membersOnly, heartbeatIntervalMs: opts.heartbeatMs, passphrase, http, eventRetention: retentionOf(opts) })
      const status = node.status()
      const advertised = node.libp2p.getMultiaddrs()
      const addrs = advertised.map(String)
      const reach = reachOf(advertised)
      const stopAsked = stopSignal()
      if (opts.json === true) {
        console.log(JSON.stringify({ ready: true, role: 'node', clusterId: status.clusterId, peerId: status.peerId, addrs, reach, rosterEpoch: status.rosterEpoch, http: node.httpUrl, pid: process.pid }))
      } else {
        console.log(`node ${status.peerId} in cluster ${status.clusterId} (roster epoch ${status.rosterEpoch})`)
        console.log(`  reachable: ${REACH_TEXT[reach]}`)
        for (const a of addrs) console.log(`  advertised: ${a}`)
        if (node.httpUrl !== undefined) console.log(`  metrics and events: ${node.httpUrl}/metrics, ${node.httpUrl}/v1/events`)
      }
      await stopAsked
      await node.stop()
    })

  withApiOptions(program.command('status'))
    .description('show the cluster: members, health and last heartbeat')
    .option('--json', 'print one JSON object per member: peerId, addrs, state, lastHeartbeatMs, rosterEpoch, stateHash, inSync, keysHeld, keysLost, link, reach, links')
    .action(async (opts: ApiFlags & { json?: boolean }) => {
      const view = await (await clientOf(opts)).cluster()
      if (opts.json === true) {
        console.log(JSON.stringify(view.members.map(m => ({
          peerId: m.peerId, addrs: m.addrs, state: m.state, lastHeartbeatMs: m.lastHeartbeatMs,
          rosterEpoch: m.rosterEpoch ?? null, stateHash: m.stateHash ?? null, inSync: m.stateHash === view.stateHash && m.rosterEpoch === view.epoch,
          keysHeld: m.keysHeld ?? null, keysLost: m.keysLost ?? null, link: m.link, reach: m.reach, links: m.links ?? null
        }))))
      } else {
        console.log(formatClusterTable(view))
      }
    })

  withApiOptions(program.command('keygen'))
    .description('create a threshold key by DKG among healthy members')
    .addOption(new Option('--scheme <scheme>', 'signature scheme').choices(SCHEMES).makeOptionMandatory())
    .requiredOption('--threshold <t>', 'signers needed (t)', wholeNumber('--threshold'))
    .option('--parties <n>', 'key holders (n); default: the number of --members', wholeNumber('--parties'))
    .option('--members <peerIds>', 'comma-separated PeerIds of the holders (default: any healthy members)')
    .addOption(new Option('--network <network>', 'Bitcoin network of the Taproot address').choices(NETWORKS).default('mainnet'))
    .option('--json', 'print the key as JSON')
    .action(async (opts: ApiFlags & { scheme: string, threshold: number, parties?: number, members?: string, network: string, json?: boolean }) => {
      const members = opts.members?.split(',').map(m => m.trim()).filter(m => m !== '')
      const parties = opts.parties ?? members?.length
      if (parties === undefined) throw new UsageError('--parties is required unless --members names the holders')
      const key = await (await clientOf(opts)).keygen({ scheme: opts.scheme, threshold: opts.threshold, parties, members, network: opts.network })
      console.log(opts.json === true ? JSON.stringify(key) : formatKey(key))
    })

  withApiOptions(program.command('sign'))
    .description('sign a message (hex, or a file\'s bytes) with a threshold key')
    .requiredOption('--key <id>', 'key id')
    .option('--message <hex>', 'message as hex (Taproot: the 32-byte sighash)')
    .option('--file <file>', 'sign the bytes of this file instead')
    .option('--json', 'print the result as JSON')
    .action(async (opts: ApiFlags & { key: string, message?: string, file?: string, json?: boolean }) => {
      if ((opts.message === undefined) === (opts.file === undefined)) throw new UsageError('give exactly one of --message <hex> or --file <file>')
      let hex = opts.message ?? ''
      if (opts.file !== undefined) {
        try {
          hex = (await readFile(opts.file)).toString('hex')
        } catch (err) {
          throw new ConfigError(`--file: cannot read ${opts.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
        }
      }
      const result = await (await clientOf(opts)).sign(opts.key, hex)
      console.log(opts.json === true ? JSON.stringify(result) : result.signature)
    })

  withApiOptions(program.command('keys'))
    .description('list the keys: scheme, threshold, holders and status')
    .addOption(new Option('--network <network>', 'Bitcoin network for Taproot addresses').choices(NETWORKS).default('mainnet'))
    .option('--json', 'print the keys as JSON')
    .action(async (opts: ApiFlags & { network: string, json?: boolean }) => {
      const keys = await (await clientOf(opts)).keys(opts.network)
      if (opts.json === true) console.log(JSON.stringify(keys))
      else console.log(keys.length === 0 ? 'no keys yet (create one with: mpc-wallet keygen)' : keys.map(formatKey).join('\n'))
    })

  const members = program.command('members').description('list, approve, reject and remove cluster members')

  withApiOptions(members.command('list', { isDefault: true }))
    .description('list the members and the joins waiting for approval (the default)')
    .option('--json', 'print { members, pending } as one JSON object')
    .action(async (opts: ApiFlags & { json?: boolean }) => {
      const view = await (await clientOf(opts)).members()
      if (opts.json === true) {
        console.log(JSON.stringify(view))
        return
      }
      console.log(formatMembers(view.members, view.pending))
    })

  for (const [action, description] of [
    ['approve', 'admit a node whose join waits for approval (coordinator start --approve-joins)'],
    ['reject', 'refuse a waiting join for good'],
    ['remove', 'take a member out of the cluster: a new roster without it, its connections closed and refused everywhere; its keys need a reshare']
  ] as const) {
    withApiOptions(members.command(`${action} <peerId>`))
      .description(description)
      .action(async (peerId: string, opts: ApiFlags) => {
        await (await clientOf(opts)).member(action, peerId)
        console.log(`${peerId}: ${action === 'approve' ? 'approved' : action === 'reject' ? 'rejected' : 'removed'}`)
      })
  }

  withApiOptions(program.command('events'))
    .description('read the persisted event log: joins, health, sessions, blame, conflicts')
    .option('--node <url>', 'read a node\'s copy of the log instead (its --http address, e.g. http://127.0.0.1:9464)')
    .option('--after <id>', 'only events after this id (resume from the last one seen)', wholeNumber('--after'))
    .option('--since <time>', 'only events at or after this time (ISO 8601, or Unix ms)')
    .addOption(new Option('--type <type...>', 'only these event types').choices(EVENT_TYPES))
    .option('--limit <n>', 'at most this many events (default 1000)', positiveInt('--limit'))
    .option('--follow', 'keep printing new events until Ctrl-C')
    .option('--json', 'one JSON object per line')
    .action(async (opts: ApiFlags & { node?: string, after?: number, since?: string, type?: string[], limit?: number, follow?: boolean, json?: boolean }) => {
      const client = opts.node !== undefined ? new ApiClient(opts.node, undefined) : await clientOf(opts)
      let after = opts.after ?? 0
      const print = (events: EventView[]): void => {
        for (const e of events) {
          console.log(opts.json === true ? JSON.stringify(e) : formatEvent(e))
          after = e.seq
        }
      }
      print(await client.events({ after, limit: opts.limit, since: opts.since, types: opts.type }))
      if (opts.follow !== true) return
      const stop = new AbortController()
      const onSignal = (): void => { stop.abort() }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      let unreachable = false
      while (!stop.signal.aborted) {
        await sleep(FOLLOW_POLL_MS, undefined, { signal: stop.signal }).catch(() => {})
        if (stop.signal.aborted) break
        try {
          print(await client.events({ after, limit: opts.limit, since: opts.since, types: opts.type }))
          unreachable = false
        } catch (err) {
          // A coordinator that restarts is waited for; an answer that refuses the query ends the command.
          if (!(err instanceof ApiClientError) || err.status !== undefined) throw err
          if (!unreachable) console.error(`mpc-wallet: ${printable(err.message)}; still trying`)
          unreachable = true
        }
      }
    })

  return program
}

const FOLLOW_POLL_MS = 1_000

/**
 * One event as one line. Details, ids and operation names may come from members (a failed
 * session's error text is the member's own), so the whole line goes through printable().
 */
export function formatEvent (e: EventView): string {
  const parts = [
    `#${e.seq}`, new Date(e.atMs).toISOString(), e.kind.toLowerCase(),
    ...(e.operation !== undefined ? [e.operation] : []),
    ...(e.peerId !== undefined ? [`peer=${e.peerId}`] : []),
    ...(e.to !== undefined ? [`${(e.from ?? '?').toLowerCase()}->${e.to.toLowerCase()}`] : []),
    ...(e.epoch !== undefined ? [`epoch=${e.epoch}`] : []),
    ...(e.keyId !== undefined ? [`key=${e.keyId}`] : []),
    ...(e.sessionId !== undefined ? [`session=${e.sessionId}`] : []),
    ...(e.culprits !== undefined ? [`culprits=${e.culprits.join(',')}`] : []),
    ...(e.accused !== undefined ? [`accused=${e.accused.join(',')}`] : []),
    ...(e.detail !== undefined ? [`(${e.detail})`] : [])
  ]
  return printable(parts.join('  '))
}

/** Parses argv and runs the command; every failure is one line on stderr and a non-zero exit code. */
export async function main (argv = process.argv): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its one-line message (or the help text).
      process.exitCode = err.exitCode === 0 ? 0 : 2
      return
    }
    // Error messages can carry text from peers (a refusal's reason, an API error body): one
    // printable line on stderr.
    if (err instanceof UsageError) {
      console.error(`mpc-wallet: ${printable(err.message)}`)
      process.exitCode = 2
      return
    }
    const known = USER_ERRORS.some(E => err instanceof E)
    const message = err instanceof Error ? err.message : String(err)
    console.error(`mpc-wallet: ${printable(known ? message : `unexpected error: ${message} (run with --log-level debug for details)`)}`)
    if (!known && program.opts<{ logLevel?: string }>().logLevel === 'debug') console.error(err)
    process.exitCode = 1
  }
}
