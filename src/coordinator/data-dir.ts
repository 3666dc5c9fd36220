import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { signRoster } from '../protocols/roster.js'
import { CLUSTER_RECORD, ConfigError, parseMultiaddrs, type ClusterRecord } from '../runtime/config.js'
import { parseApiListen } from '../runtime/http-api.js'
import { adminSetHash, parseAdminSet, type AdminSet } from '../protocols/policy.js'
import { PolicyBook } from '../state/policy-book.js'
import { RosterBook } from '../state/roster-book.js'
import { DataDirError } from '../store/errors.js'
import { readPrivateFile, writeFileAtomic } from '../store/files.js'
import { loadOrCreateIdentity } from '../store/identity.js'
import { Store } from '../store/store.js'
import { DEFAULT_API_LISTEN, DEFAULT_COORDINATOR_LISTEN } from './constants.js'
import { invitationEvent, Invitations, type InvitationOptions, type NewInvitation } from './invitations.js'
import { appendEvent } from './journal.js'

/** The first invitation, written by init (single use, 24 h): `coordinator invite` makes more. */
export const JOIN_TOKEN_FILE = 'join-token'
export const API_TOKEN_FILE = 'api-token'
/** The key of the status page's session cookies (HMAC): a restart keeps the browsers logged in. */
export const UI_SECRET_FILE = 'ui-secret'
/** Written at every start: where the running coordinator's API listens. */
export const API_INFO_FILE = 'api.json'
const COORDINATOR_RECORD = 'coordinator'

/** What init stored of the coordinator's own settings (start's options override them). */
interface CoordinatorRecord {
  listen: string[]
  announce: string[]
  api: string
}

export interface InitResult {
  clusterId: string
  peerId: string
  joinToken: string
  listen: string[]
  api: string
  admins: AdminSet
}

export interface InitOptions {
  dataDir: string
  /** The first admin set: a quorum of these keys signs the policy (issue 12). */
  admins: AdminSet
  listen?: string[]
  announce?: string[]
  api?: string
}

/**
 * Creates a cluster in an empty data directory: identity, cluster id, join token, API token and
 * the first signed roster (epoch 1, no members). Refuses a directory that already holds one.
 */
export async function initCoordinator (opts: InitOptions): Promise<InitResult> {
  const listen = opts.listen ?? DEFAULT_COORDINATOR_LISTEN
  const announce = opts.announce ?? []
  const api = opts.api ?? DEFAULT_API_LISTEN
  parseMultiaddrs(listen, '--listen')
  parseMultiaddrs(announce, '--announce')
  parseApiListen(api)
  const admins = parseAdminSet(opts.admins)
  const store = await Store.open(opts.dataDir)
  try {
    await noClusterIn(store, opts.dataDir)
    const key = await loadOrCreateIdentity(opts.dataDir)
    const peerId = peerIdFromPrivateKey(key)
    const clusterId = `mpc-${randomBytes(6).toString('hex')}`
    await (await PolicyBook.open(store, clusterId)).setRoot(admins)
    const first = await new Invitations(store, { clusterId, coordinator: peerId, adminSetHash: adminSetHash(admins) }).create({ note: 'first invitation (coordinator init)' })
    await appendEvent(store, invitationEvent(first))
    const joinToken = first.token
    await writeFileAtomic(join(opts.dataDir, JOIN_TOKEN_FILE), joinToken + '\n')
    await writeFileAtomic(join(opts.dataDir, API_TOKEN_FILE), randomBytes(32).toString('base64url') + '\n')
    const book = new RosterBook(store, clusterId, peerId)
    await book.apply(await signRoster(key, { clusterId, epoch: 1, coordinator: peerId, members: [], issuedAtMs: Date.now() }))
    await store.putJson(COORDINATOR_RECORD, { listen, announce, api } satisfies CoordinatorRecord)
    // Written last: a directory with a cluster record is a complete one.
    await store.putJson(CLUSTER_RECORD, { clusterId, coordinator: peerId.toString() } satisfies ClusterRecord)
    return { clusterId, peerId: peerId.toString(), joinToken, listen, api, admins }
  } finally {
    await store.close()
  }
}

async function noClusterIn (store: Store, dataDir: string): Promise<void> {
  const existing = await store.getJson<ClusterRecord>(CLUSTER_RECORD)
  if (existing !== undefined) throw new ConfigError(`${dataDir} already holds cluster ${existing.clusterId}; start it with: mpc-wallet coordinator start --data-dir ${dataDir}`)
}

/** Throws ConfigError if `dataDir` holds a cluster already (init checks this again under its own store lock). */
export async function refuseInitialised (dataDir: string): Promise<void> {
  const store = await Store.open(dataDir)
  try {
    await noClusterIn(store, dataDir)
  } finally {
    await store.close()
  }
}

/** An initialised data directory, opened for a start: its store (open), identity and settings. */
export interface OpenedDataDir {
  store: Store
  cluster: ClusterRecord
  key: PrivateKey
  listen: string[]
  announce: string[]
  apiListen: { host: string, port: number }
  apiToken: string
  uiSecret: Uint8Array
}

/**
 * Opens the data directory init made, with start's overrides of what init stored (checked here).
 * Throws if it holds no cluster; the store is closed again on any failure.
 */
export async function openDataDir (dataDir: string, overrides: Pick<InitOptions, 'listen' | 'announce' | 'api'>): Promise<OpenedDataDir> {
  const store = await Store.open(dataDir)
  try {
    const cluster = await store.getJson<ClusterRecord>(CLUSTER_RECORD)
    const saved = await store.getJson<CoordinatorRecord>(COORDINATOR_RECORD)
    if (cluster === undefined || saved === undefined) throw new ConfigError(`${dataDir} holds no cluster; create one with: mpc-wallet coordinator init --data-dir ${dataDir}`)
    const key = await loadOrCreateIdentity(dataDir)
    const listen = overrides.listen ?? saved.listen
    const announce = overrides.announce ?? saved.announce
    const apiListen = parseApiListen(overrides.api ?? saved.api)
    parseMultiaddrs([...listen, ...announce], '--listen/--announce')
    const apiToken = await readSecretFile(dataDir, API_TOKEN_FILE)
    return { store, cluster, key, listen, announce, apiListen, apiToken, uiSecret: await uiSecretOf(dataDir) }
  } catch (err) {
    await store.close().catch(() => {})
    throw err
  }
}

/**
 * Makes an invitation in the data directory of a coordinator that is not running (its store is
 * locked while it runs: then ask its API, `POST /v1/invitations`). Records the event as the
 * running coordinator does.
 */
export async function inviteOffline (dataDir: string, opts: InvitationOptions): Promise<NewInvitation> {
  const store = await Store.open(dataDir)
  try {
    const cluster = await store.getJson<ClusterRecord>(CLUSTER_RECORD)
    if (cluster === undefined) throw new ConfigError(`${dataDir} holds no cluster; create one with: mpc-wallet coordinator init --data-dir ${dataDir}`)
    const made = await new Invitations(store, { clusterId: cluster.clusterId, coordinator: peerIdFromString(cluster.coordinator), adminSetHash: adminSetHash(rootAdmins(await PolicyBook.open(store, cluster.clusterId))) }).create(opts)
    await appendEvent(store, invitationEvent(made))
    return made
  } finally {
    await store.close()
  }
}

/** The admin set init fixed (every invitation names its hash); a data directory without one is refused. */
export function rootAdmins (policies: PolicyBook): AdminSet {
  const root = policies.rootAdmins
  if (root === undefined) throw new DataDirError('this data directory holds no admin set (made before admins existed): create the cluster again with mpc-wallet coordinator init')
  return root
}

export async function readSecretFile (dataDir: string, name: string): Promise<string> {
  const bytes = await readPrivateFile(join(dataDir, name))
  if (bytes === undefined) throw new DataDirError(`${join(dataDir, name)} is missing; was this directory made by "mpc-wallet coordinator init"?`)
  return Buffer.from(bytes).toString('utf8').trim()
}

/** The status page's cookie key, made at the first start that needs it (a directory from before issue 16 has none). */
async function uiSecretOf (dataDir: string): Promise<Uint8Array> {
  const path = join(dataDir, UI_SECRET_FILE)
  const bytes = await readPrivateFile(path)
  if (bytes !== undefined && bytes.length === 32) return bytes
  const secret = randomBytes(32)
  await writeFileAtomic(path, secret)
  return secret
}

/** Records where the running coordinator's API listens (readApiInfo reads it). */
export async function writeApiInfo (dataDir: string, url: string): Promise<void> {
  await writeFileAtomic(join(dataDir, API_INFO_FILE), JSON.stringify({ url, pid: process.pid }) + '\n', 0o600)
}

export async function readApiInfo (dataDir: string): Promise<{ url: string }> {
  try {
    return JSON.parse(await readFile(join(dataDir, API_INFO_FILE), 'utf8')) as { url: string }
  } catch {
    throw new DataDirError(`no running coordinator API recorded in ${dataDir} (${API_INFO_FILE} missing): is the coordinator started?`)
  }
}
