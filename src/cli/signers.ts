import { formatHdPath, parseHdPath } from '../crypto/hd.js'
import { type Command, Option } from 'commander'
import { readFile } from 'node:fs/promises'
import { sha256 } from '@noble/hashes/sha2.js'
import { toString } from 'uint8arrays/to-string'
import { KEY_FILE_ROLES, newKeyFile, openKeyFile, type KeyFileRole, type SigningKey } from '../protocols/key-file.js'
import { newSignedRequest, parseSignedRequest, POLICY_LIMITS, requestHash, type SignedRequest } from '../protocols/policy.js'
import { ConfigError } from '../runtime/config.js'
import { writeFileAtomic } from '../store/files.js'
import { clientOf, duration, readSecretOption, UsageError, withApiOptions, type ApiFlags } from './options.js'

/** The passphrase of a signing key file: from --passphrase-file, else MPC_WALLET_KEY_PASSPHRASE. */
export async function keyPassphrase (file: string | undefined): Promise<string> {
  const passphrase = file !== undefined
    ? (await readSecretOption(file, '--passphrase-file')).replace(/\r?\n$/, '')
    : process.env.MPC_WALLET_KEY_PASSPHRASE
  if (passphrase === undefined || passphrase === '') throw new ConfigError('a signing key file needs a passphrase: set MPC_WALLET_KEY_PASSPHRASE or pass --passphrase-file <file>')
  return passphrase
}

export async function readText (path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}

/** A file's JSON; a file that is not JSON is a one-line error naming the flag and the path. */
export async function readJson (path: string, flag: string): Promise<unknown> {
  try {
    return JSON.parse(await readText(path, flag))
  } catch (err) {
    if (err instanceof SyntaxError) throw new ConfigError(`${flag}: ${path} is not JSON`)
    throw err
  }
}

/** A signing key file opened with its passphrase (--passphrase-file or the environment). */
export async function openSigningKey (path: string, flag: string, passphraseFile: string | undefined): Promise<SigningKey> {
  return await openKeyFile(await readText(path, flag), await keyPassphrase(passphraseFile))
}

/** The message of a command: exactly one of --message <hex> or --file <file>. */
export async function messageOf (opts: { message?: string, file?: string }): Promise<Uint8Array> {
  if ((opts.message === undefined) === (opts.file === undefined)) throw new UsageError('give exactly one of --message <hex> or --file <file>')
  if (opts.file !== undefined) {
    try { return await readFile(opts.file) } catch (err) { throw new ConfigError(`--file: cannot read ${opts.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`) }
  }
  if (!/^([0-9a-fA-F]{2})+$/.test(opts.message!)) throw new UsageError('--message must be hex of whole bytes')
  return Buffer.from(opts.message!, 'hex')
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
      .action(async (opts: { out: string, passphraseFile?: string, json?: boolean }) => {
        const publicKey = await writeKeyFile(role, opts.out, opts.passphraseFile)
        if (opts.json === true) {
          console.log(JSON.stringify({ role, publicKey, file: opts.out }))
          return
        }
        console.log(publicKey)
        console.error(`${role} key written to ${opts.out} (mode 0600). Keep it off the coordinator's host${role === 'admin' ? ': whoever holds a quorum of admin keys sets the policy' : ''}.`)
      })
  }
  registerRequest(program)
}

/** Makes a key file at `out` (never over an existing file); returns its public key. */
export async function writeKeyFile (role: KeyFileRole, out: string, passphraseFile: string | undefined): Promise<string> {
  const passphrase = await keyPassphrase(passphraseFile)
  const file = await newKeyFile(role, passphrase)
  try {
    await writeFileAtomic(out, `${JSON.stringify(file, null, 2)}\n`, 0o600, { exclusive: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(code === 'EEXIST' ? `${out} exists; choose another file (a key file is never overwritten)` : `cannot write ${out} (${code ?? (err as Error).message})`)
  }
  return file.publicKey
}

/** A request file: the signed request, and the message it names (hex) so approvers see what they approve. */
interface RequestFile { signed: SignedRequest, message: Uint8Array }

async function readRequestFile (path: string): Promise<RequestFile> {
  const value = await readJson(path, 'request') as Record<string, unknown> | null
  const { message, ...rest } = value ?? {}
  if (typeof message !== 'string' || !/^([0-9a-f]{2})+$/.test(message)) throw new ConfigError(`${path}: "message" must be the message as hex`)
  const signed = parseSignedRequest(rest)
  const bytes = Buffer.from(message, 'hex')
  if (toString(sha256(bytes), 'hex') !== signed.request.messageDigest) throw new ConfigError(`${path}: the message is not the one the request's digest names`)
  return { signed, message: bytes }
}

async function writeRequestFile (path: string, file: RequestFile): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify({ ...file.signed, message: toString(file.message, 'hex') }, null, 2)}\n`, 0o600)
}

function registerRequest (program: Command): void {
  const request = program.command('request').description('sign requests: made and signed by a client, approved by approvers, then submitted')
  request.command('new')
    .description('make a sign request for a message and sign it with a client key; writes the signed request and the message as JSON')
    .requiredOption('--cluster-id <id>', 'the cluster the request is for')
    .requiredOption('--key <id>', 'key id to sign with')
    .option('--message <hex>', 'message as hex')
    .option('--file <file>', 'sign the bytes of this file instead')
    .requiredOption('--client <name>', 'the client\'s name in the policy')
    .requiredOption('--client-key <file>', 'the client\'s key file')
    .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .addOption(new Option('--ttl <duration>', 'how long the request is valid (at most 24h)').argParser(duration('--ttl')).default(10 * 60_000, '10m'))
    .option('--request-id <id>', 'the request id (default: random); a request is carried out at most once')
    .option('--path <path>', 'an HD key: the child that is to sign, e.g. m/0/5 (the request is good for that child only)')
    .requiredOption('--out <file>', 'where to write the signed request')
    .action(async (opts: { clusterId: string, key: string, message?: string, file?: string, client: string, clientKey: string, passphraseFile?: string, ttl: number, requestId?: string, path?: string, out: string }) => {
      if (opts.ttl > POLICY_LIMITS.maxRequestLifetimeMs) throw new UsageError('--ttl must be at most 24h')
      const message = await messageOf(opts)
      const key = await openSigningKey(opts.clientKey, '--client-key', opts.passphraseFile)
      let path: string | undefined
      try { path = opts.path === undefined ? undefined : formatHdPath(parseHdPath(opts.path)) } catch (err) { throw new UsageError(`--path: ${(err as Error).message}`) }
      const signed = newSignedRequest({ client: opts.client, sign: key.sign }, { clusterId: opts.clusterId, keyId: opts.key, message, requestId: opts.requestId, ttlMs: opts.ttl, ...(path !== undefined ? { path } : {}) })
      await writeRequestFile(opts.out, { signed, message })
      console.log(signed.request.requestId)
    })
  request.command('approve')
    .description('add an approval (a signature over the request hash) to a request file')
    .argument('<file>', 'the request file (JSON), rewritten with the approval')
    .requiredOption('--approver-key <file>', 'the approver\'s key file')
    .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .action(async (path: string, opts: { approverKey: string, passphraseFile?: string }) => {
      const file = await readRequestFile(path)
      const { signed } = file
      const key = await openSigningKey(opts.approverKey, '--approver-key', opts.passphraseFile)
      if (signed.request.notAfter < Date.now()) throw new ConfigError(`request ${signed.request.requestId} expired at ${new Date(signed.request.notAfter).toISOString()}; nothing to approve`)
      await writeRequestFile(path, { ...file, signed: { ...signed, approvals: { ...signed.approvals, [key.publicKey]: key.sign(requestHash(signed.request)) } } })
      console.log(`approved request ${signed.request.requestId} of client ${signed.client}: key ${signed.request.keyId}, message ${toString(file.message, 'hex').slice(0, 64)}${file.message.length > 32 ? '…' : ''}`)
    })
  withApiOptions(request.command('submit'))
    .description('ask the cluster to sign a request file (made by request new, approved as the policy asks)')
    .argument('<file>', 'the request file (JSON)')
    .option('--json', 'print the result as JSON')
    .action(async (path: string, opts: ApiFlags & { json?: boolean }) => {
      const { signed, message } = await readRequestFile(path)
      const result = await (await clientOf(opts)).sign(signed.request.keyId, toString(message, 'hex'), signed, signed.request.path === undefined ? {} : { path: signed.request.path })
      console.log(opts.json === true ? JSON.stringify(result) : result.signature)
    })
}
