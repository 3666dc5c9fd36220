import type { Command } from 'commander'
import { join } from 'node:path'
import { ApiClient, ApiClientError } from '../coordinator/client.js'
import { Coordinator } from '../coordinator/coordinator.js'
import { API_TOKEN_FILE, initCoordinator, refuseInitialised, inviteOffline, JOIN_TOKEN_FILE, readApiInfo, readSecretFile } from '../coordinator/data-dir.js'
import { InvitationError } from '../coordinator/errors.js'
import type { InvitationOptions, NewInvitation } from '../coordinator/invitations.js'
import { createLogger } from '../log.js'
import { ConfigError } from '../runtime/config.js'
import { DataDirError } from '../store/errors.js'
import { announceOf, dataDirOption, duration, logLevelOf, multiaddrOption, positiveInt, positiveWhole, retentionOf, stopSignal, UsageError } from './options.js'
import { parseAdminSet, PolicyError, type AdminSet } from '../protocols/policy.js'
import { isAbsolute, relative, resolve } from 'node:path'
import { writeKeyFile } from './signers.js'

/** `mpc-wallet coordinator init|start|token|invite`. */
export function registerCoordinator (program: Command): void {
  const coordinator = program.command('coordinator').description('create and run the cluster coordinator')
  addInit(coordinator)
  addStart(coordinator)
  addToken(coordinator)
  addInvite(coordinator)
}

interface InitFlags {
  dataDir: string, listen?: string[], announce?: string[], api?: string, json?: boolean,
  admin?: string[], adminQuorum?: number, adminKeyOut?: string, passphraseFile?: string
}

/**
 * The first admin set from init's flags: the --admin keys and --admin-quorum, or, without
 * --admin, one admin key made now in --admin-key-out (outside the data directory: it belongs off
 * this host).
 */
async function initialAdmins (opts: InitFlags): Promise<{ admins: AdminSet, madeKeyFile?: string }> {
  const keys = opts.admin ?? []
  if (keys.length > 0) {
    if (opts.adminKeyOut !== undefined) throw new UsageError('give either --admin <public key> (repeatable) or --admin-key-out <file>, not both')
    if (keys.length > 1 && opts.adminQuorum === undefined) throw new UsageError(`${keys.length} admins: say how many must sign a policy version with --admin-quorum <m>`)
    try {
      return { admins: parseAdminSet({ keys, quorum: opts.adminQuorum ?? 1 }) }
    } catch (err) {
      if (err instanceof PolicyError) throw new UsageError(`--admin/--admin-quorum: ${err.message}`)
      throw err
    }
  }
  if (opts.adminKeyOut === undefined) throw new UsageError('name the admins who will sign the signing policy: --admin <public key> (from mpc-wallet admin keygen; repeatable) with --admin-quorum <m>, or --admin-key-out <file> to have one admin key made now (outside the data directory)')
  if (opts.adminQuorum !== undefined && opts.adminQuorum !== 1) throw new UsageError('--admin-key-out makes one admin: its quorum is 1')
  const inside = relative(resolve(opts.dataDir), resolve(opts.adminKeyOut))
  if (!inside.startsWith('..') && !isAbsolute(inside)) throw new UsageError('--admin-key-out must be outside the data directory: the admin key belongs off the coordinator\'s host')
  const publicKey = await writeKeyFile('admin', opts.adminKeyOut, opts.passphraseFile)
  return { admins: { keys: [publicKey], quorum: 1 }, madeKeyFile: opts.adminKeyOut }
}

function addInit (coordinator: Command): void {
  coordinator.command('init')
    .description('create a cluster in an empty data directory and print its first invitation (single use, 24 h)')
    .addOption(dataDirOption())
    .addOption(multiaddrOption('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/0.0.0.0/tcp/7400)'))
    .addOption(multiaddrOption('--announce <multiaddr>', 'address to advertise instead of the listen addresses (repeatable)'))
    .option('--api <host:port>', 'loopback address of the HTTP API (default 127.0.0.1:7401)')
    .option('--admin <public key>', 'an admin\'s Ed25519 public key (hex, from mpc-wallet admin keygen); repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--admin-quorum <m>', 'how many admins must sign a policy version (default 1 with one admin)', positiveWhole('--admin-quorum'))
    .option('--admin-key-out <file>', 'without --admin: make one admin key in this file (outside the data directory; move it off this host)')
    .option('--passphrase-file <file>', 'with --admin-key-out: file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .option('--json', 'print the result as one JSON object')
    .action(async (opts: InitFlags) => {
      // Before an admin key is made: a directory that holds a cluster already is refused as it is.
      await refuseInitialised(opts.dataDir)
      const { admins, madeKeyFile } = await initialAdmins(opts)
      const result = await initCoordinator({ ...opts, admins })
      if (madeKeyFile !== undefined) console.error(`WARNING: admin key written to ${madeKeyFile}. Move it off this host: whoever holds it and this host's API can set the signing policy. Publish a policy with: mpc-wallet policy propose / approve / apply`)
      if (opts.json === true) {
        console.log(JSON.stringify({ ...result, ...(madeKeyFile !== undefined ? { adminKeyFile: madeKeyFile } : {}) }))
        return
      }
      console.log(`admins: ${admins.keys.join(', ')} (quorum ${admins.quorum})`)
      console.log(`cluster ${result.clusterId} created; coordinator peer id ${result.peerId}`)
      console.log(`first invitation, for one node, valid 24 h (also in ${join(opts.dataDir, JOIN_TOKEN_FILE)}):\n  ${result.joinToken}`)
      console.log(`make more with: mpc-wallet coordinator invite --data-dir ${opts.dataDir} [--uses N] [--ttl 24h] [--note TEXT]`)
      console.log(`start it with:\n  mpc-wallet coordinator start --data-dir ${opts.dataDir}`)
      console.log('it then prints the multiaddrs nodes pass to --bootstrap')
    })
}

interface StartFlags {
  dataDir: string, listen?: string[], announce?: string[] | false, api?: string, suspectAfterMs?: number, downAfterMs?: number,
  keygenTimeoutMs?: number, signRoundTimeoutMs?: number, eventRetentionCount?: number, eventRetentionDays?: number,
  approveJoins?: boolean, maxMembers?: number, refreshEvery?: number, json?: boolean
}

function addStart (coordinator: Command): void {
  coordinator.command('start')
    .description('run the coordinator until SIGINT/SIGTERM')
    .addOption(dataDirOption())
    .addOption(multiaddrOption('--listen <multiaddr>', 'override the stored listen addresses (repeatable)'))
    .addOption(multiaddrOption('--announce <multiaddr>', 'override the stored announce addresses (repeatable)'))
    .option('--no-announce', 'advertise no address of our own (only relay /p2p-circuit addresses, if any): reachable only through relays and the connections this peer dials; nodes must be able to dial the --listen address some other way')
    .option('--api <host:port>', 'override the stored API address')
    .option('--suspect-after-ms <ms>', 'heartbeat silence before a member is suspect (default 3000)', positiveInt('--suspect-after-ms'))
    .option('--down-after-ms <ms>', 'heartbeat silence before a member is down (default 6000)', positiveInt('--down-after-ms'))
    .option('--keygen-timeout-ms <ms>', 'deadline of a whole keygen (default 30000, 3000 per participant above 10)', positiveInt('--keygen-timeout-ms'))
    .option('--sign-round-timeout-ms <ms>', 'deadline of each signing round at each signer (default 5000)', positiveInt('--sign-round-timeout-ms'))
    .option('--event-retention-count <n>', 'keep at most this many events (default 1000000)', positiveInt('--event-retention-count'))
    .option('--event-retention-days <d>', 'remove events older than this many days (default 90)', positiveInt('--event-retention-days'))
    .option('--approve-joins', 'a node that joins with a valid invitation waits as pending until "mpc-wallet members approve <peer id>" (or reject)')
    .option('--max-members <n>', 'at most this many members (default and ceiling 256)', positiveWhole('--max-members'))
    .option('--refresh-every <duration>', 'refresh every key once it has been this long at one version, e.g. 24h (default: never)', duration('--refresh-every'))
    .option('--json', 'print the ready line as one JSON object')
    .action(runCoordinator)
}

/** Starts the coordinator, prints where it is, and runs it until SIGINT/SIGTERM. */
async function runCoordinator (opts: StartFlags, cmd: Command): Promise<void> {
  const health = {
    ...(opts.suspectAfterMs !== undefined ? { suspectAfterMs: opts.suspectAfterMs } : {}),
    ...(opts.downAfterMs !== undefined ? { downAfterMs: opts.downAfterMs } : {})
  }
  const log = createLogger(logLevelOf(cmd), { role: 'coordinator' })
  const c = await Coordinator.start({
    dataDir: opts.dataDir, log, listen: opts.listen, ...announceOf(opts.announce), api: opts.api, health,
    keygenTimeoutMs: opts.keygenTimeoutMs, signRoundTimeoutMs: opts.signRoundTimeoutMs, eventRetention: retentionOf(opts),
    approveJoins: opts.approveJoins, maxMembers: opts.maxMembers, refreshEveryMs: opts.refreshEvery
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
}

function addToken (coordinator: Command): void {
  coordinator.command('token')
    .description('print the first invitation, written by init (single use, valid 24 h): make more with "coordinator invite"')
    .addOption(dataDirOption())
    .action(async (opts: { dataDir: string }) => {
      console.log(await readSecretFile(opts.dataDir, JOIN_TOKEN_FILE))
    })
}

function addInvite (coordinator: Command): void {
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
