import { type Command, Option } from 'commander'
import { NETWORKS } from '../coordinator/requests.js'
import { SCHEMES } from '../crypto/index.js'
import { formatKey } from './format.js'
import { type ApiFlags, clientOf, duration, UsageError, wholeNumber, withApiOptions } from './options.js'
import { messageOf, openSigningKey } from './signers.js'
import type { KeyChangeApprovalSet, LifecycleResult } from '../coordinator/lifecycle-task.js'
import type { ApiClient } from '../coordinator/client.js'
import type { KeyView } from '../coordinator/requests.js'
import { DEFAULT_KEY_CHANGE_TTL_MS, keyChangeBytes, keyChangeOf, MAX_KEY_CHANGE_LIFETIME_MS, parseKeyChangeFile, type KeyChange, type KeyChangeFile } from '../protocols/key-change.js'
import { canonicalJson, PolicyError } from '../protocols/policy.js'
import { writeFileAtomic } from '../store/files.js'
import { stat } from 'node:fs/promises'
import { ConfigError } from '../runtime/config.js'
import { readJson } from './signers.js'

/** `mpc-wallet keygen`, `sign`, `keys` and `key refresh|reshare|repair|derive`. */
export function registerKeys (program: Command): void {
  addKeygen(program)
  addSign(program)
  addKeys(program)
  addLifecycle(program)
}

const peerIds = (list: string | undefined): string[] | undefined => list?.split(',').map(m => m.trim()).filter(m => m !== '')

/** A lifecycle result: the new version, its holders and the test signature, or the JSON. */
function printLifecycle (result: LifecycleResult, json: boolean | undefined): void {
  if (json === true) {
    console.log(JSON.stringify(result))
    return
  }
  console.log(`${result.op} of ${result.keyId}: version ${result.version}, ${result.threshold}-of-${result.holders.length}, group key unchanged ${result.groupPublicKey}`)
  console.log(`  holders: ${result.holders.join(', ')}`)
  console.log(`  test signature by ${result.signers.length} new holders: ${result.signature}`)
  console.log(`  time: session ${result.timing.sessionMs} ms, test signature ${result.timing.testSignMs} ms, commit ${result.timing.commitMs} ms`)
}

const collect = (value: string, previous: string[]): string[] => [...previous, value]

interface AdminFlags { adminKey: string[], approvalFile?: string, passphraseFile?: string }

/**
 * The admins' approval of dealing the key to `holders` at `threshold` (key-change.ts): read from
 * --approval-file (made by `key approve-change` on the admins' machines; refused unless it is for
 * exactly this change), or signed here with each --admin-key; undefined when neither is given
 * (then only changes that add no holder go through: the coordinator and every node refuse the others).
 */
async function approvalOf (api: ApiClient, opts: AdminFlags, key: KeyView, holders: string[], threshold: number): Promise<KeyChangeApprovalSet | undefined> {
  const { clusterId } = await api.cluster()
  if (opts.approvalFile !== undefined) {
    if (opts.adminKey.length > 0) throw new UsageError('give either --approval-file or --admin-key')
    const file = await readApprovalFile(opts.approvalFile)
    const wanted = keyChangeOf({ clusterId, keyId: key.id, fromVersion: key.version, holders, threshold, expiresAtMs: file.change.expiresAtMs })
    if (canonicalJson(wanted) !== canonicalJson(file.change)) {
      throw new ConfigError(`${opts.approvalFile} approves another change: ${describeChange(file.change)}; this one is ${describeChange(wanted)}`)
    }
    return { expiresAtMs: file.change.expiresAtMs, approvals: file.approvals }
  }
  if (opts.adminKey.length === 0) return undefined
  const expiresAtMs = Date.now() + DEFAULT_KEY_CHANGE_TTL_MS
  const bytes = keyChangeBytes(keyChangeOf({ clusterId, keyId: key.id, fromVersion: key.version, holders, threshold, expiresAtMs }))
  const approvals = []
  for (const file of opts.adminKey) {
    const admin = await openSigningKey(file, '--admin-key', opts.passphraseFile)
    approvals.push({ publicKey: admin.publicKey, signature: admin.sign(bytes) })
  }
  return { expiresAtMs, approvals }
}

function describeChange (c: KeyChange): string {
  return `key ${c.keyId} of cluster ${c.clusterId} from version ${c.fromVersion} to ${c.threshold}-of-${c.holders.length} held by ${c.holders.join(', ')}, until ${new Date(c.expiresAtMs).toISOString()}`
}

async function readApprovalFile (path: string): Promise<KeyChangeFile> {
  try {
    return parseKeyChangeFile(await readJson(path, 'approval'))
  } catch (err) {
    if (err instanceof PolicyError) throw new ConfigError(`${path}: ${err.message}`)
    throw err
  }
}

/**
 * `key approve-change`: an admin signs one change of a key's holders on its own machine, no API
 * needed. The first admin names the change and creates the file; each next one adds its
 * signature to the file as it stands (after reading what it approves).
 */
function addApproveChange (key: Command): void {
  key.command('approve-change')
    .description('as an admin, approve dealing a key to new holders (offline): creates the approval file, or adds your signature to it')
    .requiredOption('--file <file>', 'the approval file: created with the change named below, or, if it exists, signed as it stands')
    .requiredOption('--admin-key <file>', 'your admin key file')
    .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .option('--cluster-id <id>', 'new file: the cluster')
    .option('--key <id>', 'new file: the key')
    .option('--from-version <v>', 'new file: the key\'s version now (mpc-wallet keys)', wholeNumber('--from-version'))
    .option('--members <peerIds>', 'new file: every holder after the change, comma-separated')
    .option('--threshold <t>', 'new file: the threshold after the change', wholeNumber('--threshold'))
    .addOption(new Option('--ttl <duration>', 'new file: how long the approval stands (at most 24h)').argParser(duration('--ttl')).default(DEFAULT_KEY_CHANGE_TTL_MS, '10m'))
    .action(async (opts: { file: string, adminKey: string, passphraseFile?: string, clusterId?: string, key?: string, fromVersion?: number, members?: string, threshold?: number, ttl: number }) => {
      const exists = await stat(opts.file).then(() => true, () => false)
      let file: KeyChangeFile
      if (exists) {
        if (opts.clusterId !== undefined || opts.key !== undefined || opts.members !== undefined) throw new UsageError(`${opts.file} exists: it is signed as it stands (name a new file to approve another change)`)
        file = await readApprovalFile(opts.file)
      } else {
        const members = peerIds(opts.members)
        if (opts.clusterId === undefined || opts.key === undefined || opts.fromVersion === undefined || members === undefined || opts.threshold === undefined) {
          throw new UsageError('a new approval file needs --cluster-id, --key, --from-version, --members and --threshold')
        }
        if (opts.ttl > MAX_KEY_CHANGE_LIFETIME_MS) throw new UsageError('--ttl must be at most 24h')
        file = { change: keyChangeOf({ clusterId: opts.clusterId, keyId: opts.key, fromVersion: opts.fromVersion, holders: members, threshold: opts.threshold, expiresAtMs: Date.now() + opts.ttl }), approvals: [] }
      }
      if (file.change.expiresAtMs <= Date.now()) throw new ConfigError(`${opts.file}: the change expired at ${new Date(file.change.expiresAtMs).toISOString()}; nothing to approve`)
      const admin = await openSigningKey(opts.adminKey, '--admin-key', opts.passphraseFile)
      const approvals = [...file.approvals.filter(a => a.publicKey !== admin.publicKey), { publicKey: admin.publicKey, signature: admin.sign(keyChangeBytes(file.change)) }]
      await writeFileAtomic(opts.file, `${JSON.stringify({ change: file.change, approvals }, null, 2)}\n`, 0o600)
      console.log(`approved ${describeChange(file.change)} (${approvals.length} signature(s) in ${opts.file})`)
    })
}

function addLifecycle (program: Command): void {
  const key = program.command('key').description('change who holds a key without changing it (refresh, reshare, repair), and derive HD child keys')
  addApproveChange(key)
  withApiOptions(key.command('refresh'))
    .description('new shares for the same holders and threshold: shares stolen before and after no longer combine')
    .requiredOption('--key <id>', 'key id')
    .option('--json', 'print the result as JSON')
    .action(async (opts: ApiFlags & { key: string, json?: boolean }) => {
      printLifecycle(await (await clientOf(opts)).refresh(opts.key), opts.json)
    })
  withApiOptions(key.command('reshare'))
    .description('move the key to a new holder set and/or threshold; holders left out erase their shares once it is committed; new holders need the admins\' approval (--admin-key)')
    .requiredOption('--key <id>', 'key id')
    .option('--threshold <t>', 'the new threshold (default: the key\'s)', wholeNumber('--threshold'))
    .option('--members <peerIds>', 'comma-separated PeerIds of every new holder')
    .option('--add <peerIds>', 'comma-separated PeerIds to add to the holders')
    .option('--remove <peerIds>', 'comma-separated PeerIds to remove from the holders')
    .option('--admin-key <file>', 'an admin\'s key file: it signs this change (repeat for a quorum)', collect, [])
    .option('--approval-file <file>', 'the admins\' approval of this change, made with key approve-change')
    .option('--passphrase-file <file>', 'file holding the key files\' passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: ApiFlags & AdminFlags & { key: string, threshold?: number, members?: string, add?: string, remove?: string, json?: boolean }) => {
      const api = await clientOf(opts)
      const members = peerIds(opts.members)
      const add = peerIds(opts.add) ?? []
      const remove = peerIds(opts.remove) ?? []
      if (opts.threshold === undefined && members === undefined && add.length === 0 && remove.length === 0) throw new UsageError('say what changes: --threshold, --members, or --add/--remove')
      if (members !== undefined && add.length + remove.length > 0) throw new UsageError('give either --members or --add/--remove')
      const current = await api.key(opts.key)
      const holders = members ?? [...current.holders.map(h => h.peerId).filter(h => !remove.includes(h)), ...add]
      const threshold = opts.threshold ?? current.threshold
      const approval = await approvalOf(api, opts, current, holders, threshold)
      printLifecycle(await api.reshare(opts.key, { threshold, members: holders, ...(approval !== undefined ? { approval } : {}) }), opts.json)
    })
  withApiOptions(key.command('repair'))
    .description('deal a new share to a holder that lost its share (or to --replacement in its place, with the admins\' approval); every old share stops combining')
    .requiredOption('--key <id>', 'key id')
    .requiredOption('--holder <peerId>', 'the holder whose share is lost')
    .option('--replacement <peerId>', 'a member that takes the holder\'s place')
    .option('--admin-key <file>', 'an admin\'s key file: it signs this change (repeat for a quorum)', collect, [])
    .option('--approval-file <file>', 'the admins\' approval of this change, made with key approve-change')
    .option('--passphrase-file <file>', 'file holding the key files\' passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: ApiFlags & AdminFlags & { key: string, holder: string, replacement?: string, json?: boolean }) => {
      const api = await clientOf(opts)
      const current = await api.key(opts.key)
      const holders = current.holders.map(h => h.peerId === opts.holder ? opts.replacement ?? h.peerId : h.peerId)
      const approval = await approvalOf(api, opts, current, holders, current.threshold)
      printLifecycle(await api.repair(opts.key, opts.holder, opts.replacement, approval), opts.json)
    })
  withApiOptions(key.command('derive'))
    .description('the child of an HD key (keygen --hd) at an unhardened path: its public key, address and the root xpub')
    .requiredOption('--key <id>', 'key id')
    .requiredOption('--path <path>', 'unhardened path, e.g. m/0/5')
    .addOption(new Option('--network <network>', 'Bitcoin network of the Taproot address and xpub').choices(NETWORKS).default('mainnet'))
    .option('--json', 'print the child as JSON')
    .action(async (opts: ApiFlags & { key: string, path: string, network: string, json?: boolean }) => {
      const child = await (await clientOf(opts)).derive(opts.key, opts.path, opts.network)
      if (opts.json === true) console.log(JSON.stringify(child))
      else console.log([`${child.keyId} ${child.path}`, `  public key: ${child.publicKey}`, ...(child.address !== undefined ? [`  address: ${child.address}`, `  root xpub: ${child.xpub ?? ''}`] : [])].join('\n'))
    })
}

function addKeygen (program: Command): void {
  withApiOptions(program.command('keygen'))
    .description('create a threshold key by DKG among healthy members')
    .addOption(new Option('--scheme <scheme>', 'signature scheme').choices(SCHEMES).makeOptionMandatory())
    .requiredOption('--threshold <t>', 'signers needed (t)', wholeNumber('--threshold'))
    .option('--parties <n>', 'key holders (n); default: the number of --members', wholeNumber('--parties'))
    .option('--members <peerIds>', 'comma-separated PeerIds of the holders (default: any healthy members)')
    .addOption(new Option('--network <network>', 'Bitcoin network of the Taproot address').choices(NETWORKS).default('mainnet'))
    .option('--hd', 'an HD root: child keys by unhardened paths (key derive, sign --path)')
    .option('--json', 'print the key as JSON')
    .action(async (opts: ApiFlags & { scheme: string, threshold: number, parties?: number, members?: string, network: string, hd?: boolean, json?: boolean }) => {
      const members = peerIds(opts.members)
      const parties = opts.parties ?? members?.length
      if (parties === undefined) throw new UsageError('--parties is required unless --members names the holders')
      const key = await (await clientOf(opts)).keygen({ scheme: opts.scheme, threshold: opts.threshold, parties, members, network: opts.network, ...(opts.hd === true ? { hd: true } : {}) })
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
    .option('--path <path>', 'an HD key: sign with its child at this unhardened path, e.g. m/0/5')
    .option('--json', 'print the result as JSON')
    .action(async (opts: ApiFlags & { key: string, message?: string, file?: string, client: string, clientKey: string, passphraseFile?: string, path?: string, json?: boolean }) => {
      const message = await messageOf(opts)
      const signer = await openSigningKey(opts.clientKey, '--client-key', opts.passphraseFile)
      const result = await (await clientOf(opts)).signAs({ client: opts.client, sign: signer.sign }, opts.key, Buffer.from(message).toString('hex'), undefined, opts.path === undefined ? {} : { path: opts.path })
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
