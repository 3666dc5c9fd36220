import { type Command, Option } from 'commander'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { sha256 } from '@noble/hashes/sha2.js'
import { toString } from 'uint8arrays/to-string'
import { KEY_FILE_ROLES, newKeyFile, openKeyFile, type KeyFileRole } from '../protocols/key-file.js'
import { parseSignedRequest, parseSignRequest, POLICY_LIMITS, requestBytes, requestHash, type SignedRequest } from '../protocols/policy.js'
import { ConfigError } from '../runtime/config.js'
import { writeFileAtomic } from '../store/files.js'
import { duration, readSecretOption, UsageError } from './options.js'

/** The passphrase of a signing key file: from --passphrase-file, else MPC_WALLET_KEY_PASSPHRASE. */
async function keyPassphrase (file: string | undefined): Promise<string> {
  const passphrase = file !== undefined
    ? (await readSecretOption(file, '--passphrase-file')).replace(/\r?\n$/, '')
    : process.env.MPC_WALLET_KEY_PASSPHRASE
  if (passphrase === undefined || passphrase === '') throw new ConfigError('a signing key file needs a passphrase: set MPC_WALLET_KEY_PASSPHRASE or pass --passphrase-file <file>')
  return passphrase
}

async function readText (path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}

/** `mpc-wallet admin keygen` and `client keygen`: a person's signing key, sealed in a 0600 file. */
export function registerSigners (program: Command): void {
  for (const role of KEY_FILE_ROLES) {
    program.command(role).description(role === 'admin' ? 'admins: people who sign policy versions' : 'clients: services that sign their requests (approvers use client keys too)')
      .command('keygen')
      .description(`make a new ${role} signing key in a file (mode 0600, sealed under a passphrase); prints its public key`)
      .requiredOption('--out <file>', 'the key file to create (refused if it exists)')
      .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
      .option('--json', 'print {role, publicKey, file} as JSON')
      .action(async (opts: { out: string, passphraseFile?: string, json?: boolean }) => { await keygen(role, opts) })
  }
  registerRequest(program)
}

async function keygen (role: KeyFileRole, opts: { out: string, passphraseFile?: string, json?: boolean }): Promise<void> {
  const passphrase = await keyPassphrase(opts.passphraseFile)
  const file = await newKeyFile(role, passphrase)
  try {
    await writeFileAtomic(opts.out, `${JSON.stringify(file, null, 2)}\n`, 0o600, { exclusive: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(code === 'EEXIST' ? `--out: ${opts.out} exists; choose another file (a key file is never overwritten)` : `--out: cannot write ${opts.out} (${code ?? (err as Error).message})`)
  }
  if (opts.json === true) {
    console.log(JSON.stringify({ role, publicKey: file.publicKey, file: opts.out }))
    return
  }
  console.log(file.publicKey)
  console.error(`${role} key written to ${opts.out} (mode 0600). Keep it off the coordinator's host${role === 'admin' ? ': whoever holds a quorum of admin keys sets the policy' : ''}.`)
}

function registerRequest (program: Command): void {
  const request = program.command('request').description('sign requests: made and signed by a client, approved by approvers, then submitted')
  request.command('new')
    .description('make a sign request for a message and sign it with a client key; writes the signed request as JSON')
    .requiredOption('--cluster-id <id>', 'the cluster the request is for')
    .requiredOption('--key <id>', 'key id to sign with')
    .option('--message <hex>', 'message as hex')
    .option('--file <file>', 'sign the bytes of this file instead')
    .requiredOption('--client <name>', 'the client\'s name in the policy')
    .requiredOption('--client-key <file>', 'the client\'s key file')
    .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .addOption(new Option('--ttl <duration>', 'how long the request is valid (at most 24h)').argParser(duration('--ttl')).default(10 * 60_000, '10m'))
    .option('--request-id <id>', 'the request id (default: random); a request is carried out at most once')
    .requiredOption('--out <file>', 'where to write the signed request')
    .action(async (opts: { clusterId: string, key: string, message?: string, file?: string, client: string, clientKey: string, passphraseFile?: string, ttl: number, requestId?: string, out: string }) => {
      if ((opts.message === undefined) === (opts.file === undefined)) throw new UsageError('give exactly one of --message <hex> or --file <file>')
      if (opts.ttl > POLICY_LIMITS.maxRequestLifetimeMs) throw new UsageError('--ttl must be at most 24h')
      let message: Uint8Array
      if (opts.file !== undefined) {
        try { message = await readFile(opts.file) } catch (err) { throw new ConfigError(`--file: cannot read ${opts.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`) }
      } else {
        if (!/^([0-9a-fA-F]{2})*$/.test(opts.message!)) throw new UsageError('--message must be hex')
        message = Buffer.from(opts.message!, 'hex')
      }
      const key = await openKeyFile(await readText(opts.clientKey, '--client-key'), await keyPassphrase(opts.passphraseFile))
      const request = parseSignRequest({ clusterId: opts.clusterId, keyId: opts.key, messageDigest: toString(sha256(message), 'hex'), requestId: opts.requestId ?? randomBytes(12).toString('hex'), notAfter: Date.now() + opts.ttl })
      // Parsed whole once signed: the client's name is checked as a node will check it.
      const signed = parseSignedRequest({ request, client: opts.client, signature: key.sign(requestBytes(request)), approvals: {} })
      await writeRequest(opts.out, signed)
      console.log(signed.request.requestId)
    })
  request.command('approve')
    .description('add an approval (a signature over the request hash) to a signed request file')
    .argument('<file>', 'the signed request (JSON), rewritten with the approval')
    .requiredOption('--approver-key <file>', 'the approver\'s key file')
    .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .action(async (path: string, opts: { approverKey: string, passphraseFile?: string }) => {
      let signed: SignedRequest
      try {
        signed = parseSignedRequest(JSON.parse(await readText(path, 'request')))
      } catch (err) {
        if (err instanceof SyntaxError) throw new ConfigError(`${path} is not JSON`)
        throw err
      }
      const key = await openKeyFile(await readText(opts.approverKey, '--approver-key'), await keyPassphrase(opts.passphraseFile))
      if (signed.request.notAfter < Date.now()) throw new ConfigError(`request ${signed.request.requestId} expired at ${new Date(signed.request.notAfter).toISOString()}; nothing to approve`)
      await writeRequest(path, { ...signed, approvals: { ...signed.approvals, [key.publicKey]: key.sign(requestHash(signed.request)) } })
      console.log(`approved request ${signed.request.requestId} as ${key.publicKey}`)
    })
}

async function writeRequest (path: string, signed: SignedRequest): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(signed, null, 2)}\n`, 0o600)
}
