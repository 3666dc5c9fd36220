import { type Command, Option } from 'commander'
import { createLogger } from '../log.js'
import { MpcNode } from '../peer/node.js'
import { parseJoinToken } from '../protocols/token.js'
import { reachOf } from '../runtime/addresses.js'
import { ConfigError } from '../runtime/config.js'
import { parseHostPort } from '../runtime/http-api.js'
import { REACH_TEXT } from './format.js'
import { announceOf, dataDirOption, logLevelOf, multiaddrOption, positiveInt, readSecretOption, retentionOf, stopSignal, wholeNumber } from './options.js'
import { DEFAULT_NONCE_POOL, MAX_NONCE_POOL } from '../protocols/constants.js'

/** `mpc-wallet node start`. */
export function registerNode (program: Command): void {
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
    .option('--nonce-pool <n>', `preprocessed nonces kept per key, in memory only, for one-round signing (default ${DEFAULT_NONCE_POOL}, at most ${MAX_NONCE_POOL}; 0: every signature takes two rounds)`, wholeNumber('--nonce-pool', MAX_NONCE_POOL))
    .option('--passphrase-file <file>', 'file holding the key store passphrase (or set MPC_WALLET_PASSPHRASE)')
    .option('--http <host:port>', 'serve read-only GET /metrics (Prometheus) and GET /v1/events here, without a token')
    .option('--event-retention-count <n>', 'keep at most this many events (default 1000000)', positiveInt('--event-retention-count'))
    .option('--event-retention-days <d>', 'remove events older than this many days (default 90)', positiveInt('--event-retention-days'))
    .option('--json', 'print the ready line as one JSON object')
    .action(runNode)
}

interface NodeFlags {
  dataDir: string, bootstrap?: string[], join?: string, joinFile?: string, listen?: string[], announce?: string[] | false,
  relay?: boolean, membersOnly?: boolean, heartbeatMs?: number, noncePool?: number, passphraseFile?: string, http?: string,
  eventRetentionCount?: number, eventRetentionDays?: number, json?: boolean
}

/** The join token and key store passphrase, each from its file, its flag or the environment; checked before anything starts. */
async function secretsOf (opts: NodeFlags): Promise<{ joinToken?: string, passphrase: string }> {
  const joinToken = opts.joinFile !== undefined ? (await readSecretOption(opts.joinFile, '--join-file')).trim() : opts.join
  if (joinToken !== undefined) parseJoinToken(joinToken)
  const passphrase = opts.passphraseFile !== undefined
    ? (await readSecretOption(opts.passphraseFile, '--passphrase-file')).replace(/\r?\n$/, '')
    : process.env.MPC_WALLET_PASSPHRASE
  if (passphrase === undefined || passphrase === '') throw new ConfigError('the node needs its key store passphrase: set MPC_WALLET_PASSPHRASE or pass --passphrase-file <file>')
  return { joinToken, passphrase }
}

/** Starts the node, prints where it is, and runs it until SIGINT/SIGTERM. */
async function runNode (opts: NodeFlags, cmd: Command): Promise<void> {
  const { joinToken, passphrase } = await secretsOf(opts)
  const log = createLogger(logLevelOf(cmd), { role: 'node' })
  const http = opts.http === undefined ? undefined : parseHostPort(opts.http, '--http')
  const node = await MpcNode.start({ dataDir: opts.dataDir, log, bootstrap: opts.bootstrap, joinToken, listen: opts.listen, ...announceOf(opts.announce), relay: opts.relay, membersOnly: opts.membersOnly, heartbeatIntervalMs: opts.heartbeatMs, noncePool: opts.noncePool, passphrase, http, eventRetention: retentionOf(opts) })
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
}
