import { type Command, Option } from 'commander'
import { NETWORKS } from '../coordinator/requests.js'
import { SCHEMES } from '../crypto/index.js'
import { formatKey } from './format.js'
import { type ApiFlags, clientOf, UsageError, wholeNumber, withApiOptions } from './options.js'
import { messageOf, openSigningKey } from './signers.js'

/** `mpc-wallet keygen`, `sign` and `keys`. */
export function registerKeys (program: Command): void {
  addKeygen(program)
  addSign(program)
  addKeys(program)
}

function addKeygen (program: Command): void {
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
}

function addSign (program: Command): void {
  withApiOptions(program.command('sign'))
    .description('sign a message (hex, or a file\'s bytes) with a threshold key, as a client the policy allows (for approvals: request new / approve / submit)')
    .requiredOption('--key <id>', 'key id')
    .option('--message <hex>', 'message as hex (Taproot: the 32-byte sighash)')
    .option('--file <file>', 'sign the bytes of this file instead')
    .requiredOption('--client <name>', 'the client\'s name in the policy')
    .requiredOption('--client-key <file>', 'the client\'s key file: it signs the request every node checks')
    .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: ApiFlags & { key: string, message?: string, file?: string, client: string, clientKey: string, passphraseFile?: string, json?: boolean }) => {
      const message = await messageOf(opts)
      const signer = await openSigningKey(opts.clientKey, '--client-key', opts.passphraseFile)
      const result = await (await clientOf(opts)).signAs({ client: opts.client, sign: signer.sign }, opts.key, Buffer.from(message).toString('hex'))
      console.log(opts.json === true ? JSON.stringify(result) : result.signature)
    })
}

function addKeys (program: Command): void {
  withApiOptions(program.command('keys'))
    .description('list the keys: scheme, threshold, holders and status')
    .addOption(new Option('--network <network>', 'Bitcoin network for Taproot addresses').choices(NETWORKS).default('mainnet'))
    .option('--json', 'print the keys as JSON')
    .action(async (opts: ApiFlags & { network: string, json?: boolean }) => {
      const keys = await (await clientOf(opts)).keys(opts.network)
      if (opts.json === true) console.log(JSON.stringify(keys))
      else console.log(keys.length === 0 ? 'no keys yet (create one with: mpc-wallet keygen)' : keys.map(formatKey).join('\n'))
    })
}
