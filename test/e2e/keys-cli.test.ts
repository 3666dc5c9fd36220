import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyBip340External } from '../../scripts/verify.js'
import { ProcessGroup, type Peer } from '../../scripts/processes.js'
import { ApiClient } from '../../src/coordinator/client.js'
import { tempDir, waitFor } from '../helpers.js'
import { CLI, runNode, type RunResult } from './cli.js'
import type { KeyView } from '../../src/coordinator/requests.js'

const cli = async (...args: string[]): Promise<RunResult> => await runNode([CLI, ...args], 60_000)

/** A failure: non-zero exit (`code` if given), one line on stderr matching `pattern`, no stack trace, nothing on stdout. */
function expectOneLineError (result: RunResult, pattern: RegExp, code?: number): void {
  expect(result.code, result.stderr).not.toBe(0)
  if (code !== undefined) expect(result.code, result.stderr).toBe(code)
  const lines = result.stderr.trim().split('\n').filter(l => !l.startsWith('(run with --help'))
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^(mpc-wallet: |error: )/)
  expect(lines[0]).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at /)
  expect(result.stdout.trim()).toBe('')
}

describe('keys through the CLI, against a real coordinator and three node processes', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let group: ProcessGroup
  let coordinatorDir: string
  let api: ApiClient
  let nodes: Peer[]
  let passphraseFile: string
  let bootstrap: string
  const viaDir = (): string[] => ['--coordinator-dir', coordinatorDir]
  /** The admin's, the client's and the approver's key files, sealed under one passphrase. */
  let keyPassFile: string
  const keyFile = (name: string): string => join(dir.path, `${name}.key`)
  const asClient = (): string[] => ['--client', 'wallet-service', '--client-key', keyFile('client'), '--passphrase-file', keyPassFile]
  let clusterId: string

  /** Makes a key file with the CLI; returns its public key. */
  async function keygenFile (role: 'admin' | 'client', name: string): Promise<string> {
    const made = await cli(role, 'keygen', '--out', keyFile(name), '--passphrase-file', keyPassFile, '--json')
    expect(made.code, made.stderr).toBe(0)
    return (JSON.parse(made.stdout) as { publicKey: string }).publicKey
  }

  /** Proposes `doc` as the next policy version, approves it with the admin key (checked against the file), applies it. */
  async function applyPolicy (doc: unknown, name: string): Promise<void> {
    const file = join(dir.path, `${name}.json`)
    await writeFile(file, JSON.stringify(doc))
    for (const step of [
      ['policy', 'propose', ...viaDir(), '--file', file],
      ['policy', 'approve', ...viaDir(), '--admin-key', keyFile('admin'), '--passphrase-file', keyPassFile, '--file', file],
      ['policy', 'apply', ...viaDir()]
    ]) {
      const done = await cli(...step)
      expect(done.code, `${step.slice(0, 2).join(' ')}: ${done.stderr}`).toBe(0)
    }
    const { stateHash } = await api.cluster()
    await waitFor('every node to hold the policy', async () => { const v = await api.cluster(); return v.stateHash === stateHash && v.members.every(m => m.stateHash === v.stateHash) }, 20_000)
  }

  beforeAll(async () => {
    dir = await tempDir('mpcw-keys-cli-')
    coordinatorDir = join(dir.path, 'coordinator')
    group = new ProcessGroup(join(dir.path, 'logs'))
    keyPassFile = join(dir.path, 'key-passphrase')
    await writeFile(keyPassFile, 'the key files\' passphrase\n', { mode: 0o600 })
    const adminPub = await keygenFile('admin', 'admin')
    const init = await cli('coordinator', 'init', '--data-dir', coordinatorDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--admin', adminPub, '--json')
    expect(init.code, init.stderr).toBe(0)
    clusterId = (JSON.parse(init.stdout) as { clusterId: string }).clusterId
    // One invitation for the three nodes, made before the coordinator runs (straight into its store).
    const invite = await cli('coordinator', 'invite', '--data-dir', coordinatorDir, '--uses', '3', '--ttl', '10m', '--note', 'three test nodes', '--json')
    expect(invite.code, invite.stderr).toBe(0)
    const invitation = JSON.parse(invite.stdout) as { token: string, invitation: { uses: number, usesLeft: number, note: string } }
    expect(invitation.invitation).toMatchObject({ uses: 3, usesLeft: 3, note: 'three test nodes' })
    const coordinator = await group.start('coordinator', ['coordinator', 'start', '--data-dir', coordinatorDir])
    bootstrap = coordinator.ready.addrs[0]!
    const tokenFile = join(dir.path, 'join-token')
    await writeFile(tokenFile, invitation.token + '\n', { mode: 0o600 })
    passphraseFile = join(dir.path, 'passphrase')
    await writeFile(passphraseFile, 'a cli passphrase\n', { mode: 0o600 })
    nodes = await Promise.all([1, 2, 3].map(async i => await group.start(`node-${i}`, [
      'node', 'start', '--data-dir', join(dir.path, `node-${i}`), '--bootstrap', coordinator.ready.addrs[0]!, '--join-file', tokenFile,
      '--passphrase-file', passphraseFile, '--listen', '/ip4/127.0.0.1/tcp/0', '--heartbeat-ms', '200'
    ], 30_000)))
    api = new ApiClient(coordinator.ready.api!, (await readFile(join(coordinatorDir, 'api-token'), 'utf8')).trim())
    await waitFor('three nodes up', async () => (await api.cluster()).members.filter(m => m.state === 'up').length === 3, 20_000)
    // The first policy: one client, every key.
    await applyPolicy({ clients: [{ name: 'wallet-service', publicKey: await keygenFile('client', 'client'), keys: ['*'] }] }, 'policy-1')
  })
  afterAll(async () => {
    await group?.stopAll()
    await dir?.[Symbol.asyncDispose]()
  })

  it('keygen taproot 2-of-3 on regtest, sign a sighash, list the key', async () => {
    const keygen = await cli('keygen', ...viaDir(), '--scheme', 'taproot', '--threshold', '2', '--parties', '3', '--network', 'regtest', '--json')
    expect(keygen.code, keygen.stderr).toBe(0)
    const key = JSON.parse(keygen.stdout) as KeyView
    expect(key).toMatchObject({ scheme: 'taproot', threshold: 2, parties: 3, status: 'ok', network: 'regtest' })
    expect(key.address).toMatch(/^bcrt1p[02-9ac-hj-np-z]{58}$/)
    expect(key.xOnlyPublicKey).toMatch(/^[0-9a-f]{64}$/)

    const sighash = randomBytes(32).toString('hex')
    const sign = await cli('sign', ...viaDir(), ...asClient(), '--key', key.id, '--message', sighash)
    expect(sign.code, sign.stderr).toBe(0)
    const signature = sign.stdout.trim()
    expect(signature).toMatch(/^[0-9a-f]{128}$/)
    expect(verifyBip340External(key.xOnlyPublicKey!, sighash, signature)).toBe(true)
    // Not a signature of anything else.
    expect(verifyBip340External(key.xOnlyPublicKey!, randomBytes(32).toString('hex'), signature)).toBe(false)

    // The same through --file, as JSON.
    const file = join(dir.path, 'sighash.bin')
    const fileSighash = randomBytes(32)
    await writeFile(file, fileSighash)
    const fromFile = await cli('sign', ...viaDir(), ...asClient(), '--key', key.id, '--file', file, '--json')
    expect(fromFile.code, fromFile.stderr).toBe(0)
    const signed = JSON.parse(fromFile.stdout) as { message: string, signature: string, signers: string[] }
    expect(signed.message).toBe(fileSighash.toString('hex'))
    expect(signed.signers).toHaveLength(2)
    expect(verifyBip340External(key.xOnlyPublicKey!, signed.message, signed.signature)).toBe(true)

    const keys = await cli('keys', ...viaDir(), '--network', 'regtest', '--json')
    expect(keys.code, keys.stderr).toBe(0)
    const listed = (JSON.parse(keys.stdout) as KeyView[]).find(k => k.id === key.id)
    expect(listed).toMatchObject({ id: key.id, scheme: 'taproot', status: 'ok', address: key.address, groupPublicKey: key.groupPublicKey })
    expect(listed!.holders.map(h => h.state)).toEqual(['up', 'up', 'up'])
    const table = await cli('keys', ...viaDir(), '--network', 'regtest')
    expect(table.stdout).toContain(`key ${key.id}: taproot 2-of-3, ok`)
    expect(table.stdout).toContain(key.address)
  })

  it('refuses bad keygen and sign input with one clear line and a non-zero exit', async () => {
    const before = await api.keys()
    const taproot = before.find(k => k.scheme === 'taproot')
    expect(taproot, 'the taproot key of the first test').toBeDefined()
    const sighash = randomBytes(32).toString('hex')
    const file = join(dir.path, 'other.bin')
    await writeFile(file, randomBytes(32))
    const [unknownKey, tooHigh, zero, shortMessage, badHex, both, neither] = await Promise.all([
      cli('sign', ...viaDir(), ...asClient(), '--key', 'key-0123456789abcdef', '--message', sighash),
      cli('keygen', ...viaDir(), '--scheme', 'taproot', '--threshold', '4', '--parties', '3'),
      cli('keygen', ...viaDir(), '--scheme', 'taproot', '--threshold', '0', '--parties', '3'),
      cli('sign', ...viaDir(), ...asClient(), '--key', taproot!.id, '--message', sighash.slice(0, 62)),
      cli('sign', ...viaDir(), ...asClient(), '--key', taproot!.id, '--message', 'zz'.repeat(32)),
      cli('sign', ...viaDir(), ...asClient(), '--key', taproot!.id, '--message', sighash, '--file', file),
      cli('sign', ...viaDir(), ...asClient(), '--key', taproot!.id)
    ])
    expectOneLineError(unknownKey, /key-0123456789abcdef/)
    expectOneLineError(unknownKey, /404|no key|unknown key|not found/i)
    expectOneLineError(tooHigh, /threshold/)
    expectOneLineError(tooHigh, /4/)
    expectOneLineError(zero, /threshold/)
    expectOneLineError(shortMessage, /32/)
    expectOneLineError(badHex, /hex/)
    expectOneLineError(both, /--message.*--file|--file.*--message/, 2)
    expectOneLineError(neither, /--message.*--file|--file.*--message/, 2)
    // Nothing was created.
    expect((await api.keys()).map(k => k.id)).toEqual(before.map(k => k.id))
  })

  it('signs only what the policy allows: approvals through request files, refusals in one line, and an audit that verifies', async () => {
    const taproot = (await api.keys()).find(k => k.scheme === 'taproot')!
    const approverPub = await keygenFile('client', 'approver')
    // Version 2: the Taproot key needs the approver's approval.
    await applyPolicy({
      clients: [{ name: 'wallet-service', publicKey: (JSON.parse(await readFile(keyFile('client'), 'utf8')) as { publicKey: string }).publicKey, keys: ['*'] }],
      keys: { [taproot.id]: { approvals: { approvers: [approverPub], required: 1 } } }
    }, 'policy-2')
    const shown = JSON.parse((await cli('policy', 'show', ...viaDir())).stdout) as { version: number, policy: { keys: Record<string, unknown> } }
    expect(shown.version).toBe(2)
    expect(Object.keys(shown.policy.keys)).toEqual([taproot.id])

    const sighash = randomBytes(32).toString('hex')
    expectOneLineError(await cli('sign', ...viaDir(), ...asClient(), '--key', taproot.id, '--message', sighash), /403 policy denied \(approvals\)/, 1)
    const requestFile = join(dir.path, 'request.json')
    const made = await cli('request', 'new', '--cluster-id', clusterId, '--key', taproot.id, '--message', sighash, ...asClient(), '--out', requestFile)
    expect(made.code, made.stderr).toBe(0)
    expectOneLineError(await cli('request', 'submit', requestFile, ...viaDir()), /policy denied \(approvals\): 0 valid approval/, 1)
    const approved = await cli('request', 'approve', requestFile, '--approver-key', keyFile('approver'), '--passphrase-file', keyPassFile)
    expect(approved.code, approved.stderr).toBe(0)
    expect(approved.stdout).toContain(sighash.slice(0, 64))
    const submitted = await cli('request', 'submit', requestFile, ...viaDir(), '--json')
    expect(submitted.code, submitted.stderr).toBe(0)
    expect(verifyBip340External(taproot.xOnlyPublicKey!, sighash, (JSON.parse(submitted.stdout) as { signature: string }).signature)).toBe(true)
    // The same request file again: the nodes act on a request once.
    expectOneLineError(await cli('request', 'submit', requestFile, ...viaDir()), /replayed/, 1)
    // A client the policy does not name.
    await keygenFile('client', 'stranger')
    expectOneLineError(await cli('sign', ...viaDir(), '--client', 'stranger', '--client-key', keyFile('stranger'), '--passphrase-file', keyPassFile, '--key', taproot.id, '--message', sighash), /unknown-client/, 1)

    const audit = await cli('audit', 'verify', ...viaDir())
    expect(audit.code, audit.stdout + audit.stderr).toBe(0)
    expect(audit.stdout).toMatch(/audit verified: 3 chain\(s\), [3-9] signature\(s\) cross-checked/)
  })

  it('changes a key\'s holders and derives HD children through the CLI: derive, sign --path, refresh, reshare with the admin\'s key, repair', async () => {
    const [n1, n2, n3] = nodes.map(n => n.ready.peerId)
    const made = await cli('keygen', ...viaDir(), '--scheme', 'taproot', '--threshold', '2', '--members', `${n1!},${n2!}`, '--network', 'regtest', '--hd', '--json')
    expect(made.code, made.stderr).toBe(0)
    const key = JSON.parse(made.stdout) as KeyView
    expect(key).toMatchObject({ version: 1, parties: 2 })
    expect(key.chainCode).toMatch(/^[0-9a-f]{64}$/)

    const derived = await cli('key', 'derive', ...viaDir(), '--key', key.id, '--path', 'm/0/5', '--network', 'regtest', '--json')
    expect(derived.code, derived.stderr).toBe(0)
    const child = JSON.parse(derived.stdout) as { path: string, xOnlyPublicKey: string, address: string, xpub: string }
    expect(child).toMatchObject({ path: 'm/0/5' })
    expect(child.address).toMatch(/^bcrt1p/)
    expect(child.xpub).toMatch(/^tpub/)
    const sighash = randomBytes(32).toString('hex')
    const signed = await cli('sign', ...viaDir(), ...asClient(), '--key', key.id, '--message', sighash, '--path', 'm/0/5', '--json')
    expect(signed.code, signed.stderr).toBe(0)
    expect(verifyBip340External(child.xOnlyPublicKey, sighash, (JSON.parse(signed.stdout) as { signature: string }).signature)).toBe(true)
    expectOneLineError(await cli('key', 'derive', ...viaDir(), '--key', key.id, '--path', "m/0'/5"), /400 .*hardened/, 1)

    const lifecycle = async (...args: string[]): Promise<{ op: string, version: number, holders: string[], groupPublicKey: string, message: string, signature: string }> => {
      const done = await cli('key', ...args, ...viaDir(), '--key', key.id, '--json')
      expect(done.code, done.stderr).toBe(0)
      const result = JSON.parse(done.stdout) as { op: string, version: number, holders: string[], groupPublicKey: string, message: string, signature: string }
      // The new version's test signature, under the unchanged (root) group key.
      expect(result.groupPublicKey).toBe(key.groupPublicKey)
      expect(verifyBip340External(result.groupPublicKey.slice(2), result.message, result.signature)).toBe(true)
      return result
    }
    expect(await lifecycle('refresh')).toMatchObject({ op: 'refresh', version: 2 })
    // A new holder without the admins' approval: refused in one line, nothing changed.
    expectOneLineError(await cli('key', 'reshare', ...viaDir(), '--key', key.id, '--add', n3!), /403 .*admin/, 1)
    // The admin approves the change on its own machine, offline, into a file the operator submits.
    const approval = join(dir.path, 'change.json')
    const members = [...key.holders.map(h => h.peerId), n3!].join(',')
    const approved = await cli('key', 'approve-change', '--file', approval, '--admin-key', keyFile('admin'), '--passphrase-file', keyPassFile,
      '--cluster-id', clusterId, '--key', key.id, '--from-version', '2', '--members', members, '--threshold', '2')
    expect(approved.code, approved.stderr).toBe(0)
    expect(approved.stdout).toMatch(/approved key .* from version 2 to 2-of-3/)
    // A file for another change (threshold 3) is refused before anything is asked of the cluster.
    const other = join(dir.path, 'other-change.json')
    expect((await cli('key', 'approve-change', '--file', other, '--admin-key', keyFile('admin'), '--passphrase-file', keyPassFile,
      '--cluster-id', clusterId, '--key', key.id, '--from-version', '2', '--members', members, '--threshold', '3')).code).toBe(0)
    expectOneLineError(await cli('key', 'reshare', ...viaDir(), '--key', key.id, '--add', n3!, '--approval-file', other), /approves another change/, 1)
    const reshared = await lifecycle('reshare', '--add', n3!, '--approval-file', approval)
    expect(reshared).toMatchObject({ op: 'reshare', version: 3 })
    expect(reshared.holders).toEqual([...key.holders.map(h => h.peerId), n3])
    expect(await lifecycle('repair', '--holder', n2!)).toMatchObject({ op: 'repair', version: 4 })
    const text = await cli('key', 'refresh', ...viaDir(), '--key', key.id)
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/refresh of .*: version 5, 2-of-3, group key unchanged/)
    // The child signs on, at the same address.
    const again = randomBytes(32).toString('hex')
    const signedAgain = await cli('sign', ...viaDir(), ...asClient(), '--key', key.id, '--message', again, '--path', 'm/0/5', '--json')
    expect(signedAgain.code, signedAgain.stderr).toBe(0)
    expect(verifyBip340External(child.xOnlyPublicKey, again, (JSON.parse(signedAgain.stdout) as { signature: string }).signature)).toBe(true)
  })

  it('invites a fourth node through the running coordinator, lists it, removes it, and refuses its invitation a second time', async () => {
    const invite = await cli('coordinator', 'invite', '--data-dir', coordinatorDir, '--note', 'host four')
    expect(invite.code, invite.stderr).toBe(0)
    const token = /mpcw2\.[^\s]+/.exec(invite.stdout)?.[0]
    expect(token, invite.stdout).toBeDefined()
    const tokenFile = join(dir.path, 'fourth-token')
    await writeFile(tokenFile, token! + '\n', { mode: 0o600 })
    const fourthArgs = (name: string): string[] => ['node', 'start', '--data-dir', join(dir.path, name), '--bootstrap', bootstrap, '--join-file', tokenFile,
      '--passphrase-file', passphraseFile, '--listen', '/ip4/127.0.0.1/tcp/0', '--heartbeat-ms', '200']
    const fourth = await group.start('node-4', fourthArgs('node-4'), 30_000)
    // The same invitation again, for another node: used up.
    expectOneLineError(await cli(...fourthArgs('node-5')), /used up/, 1)

    const listed = await cli('members', ...viaDir(), '--json')
    expect(listed.code, listed.stderr).toBe(0)
    const view = JSON.parse(listed.stdout) as { members: Array<{ peerId: string }>, pending: unknown[] }
    expect(view.members.map(m => m.peerId)).toContain(fourth.ready.peerId)
    expect(view.pending).toEqual([])
    const text = await cli('members', ...viaDir())
    expect(text.stdout).toContain('4 members')

    const removed = await cli('members', 'remove', fourth.ready.peerId, ...viaDir())
    expect(removed.code, removed.stderr).toBe(0)
    expect(removed.stdout).toContain('removed')
    expect((await api.cluster()).members.map(m => m.peerId)).not.toContain(fourth.ready.peerId)
    expectOneLineError(await cli('members', 'remove', fourth.ready.peerId, ...viaDir()), /404 .*is not a member/, 1)
    expectOneLineError(await cli('members', 'approve', 'not-a-peer-id', ...viaDir()), /400 .*not a PeerId/, 1)
    const events = await cli('events', ...viaDir(), '--type', 'member_removed', 'invitation_created', '--json')
    const kinds = events.stdout.trim().split('\n').map(l => (JSON.parse(l) as { kind: string }).kind)
    expect(kinds.filter(k => k === 'INVITATION_CREATED')).toHaveLength(3)
    expect(kinds.filter(k => k === 'MEMBER_REMOVED')).toHaveLength(1)
  })

  it('refuses to start a node with a wrong or missing passphrase, in one line, and starts it with the right one', async () => {
    const node = nodes[2]!
    const exited = new Promise<number | null>(resolve => node.child.once('exit', resolve))
    node.child.kill('SIGTERM')
    // A node holding key shares stops cleanly too.
    expect(await exited).toBe(0)
    const dataDir = join(dir.path, 'node-3')
    const wrongFile = join(dir.path, 'wrong-passphrase')
    await writeFile(wrongFile, 'not it\n', { mode: 0o600 })
    const [wrong, missing] = await Promise.all([
      cli('node', 'start', '--data-dir', dataDir, '--passphrase-file', wrongFile, '--listen', '/ip4/127.0.0.1/tcp/0'),
      runNode([CLI, 'node', 'start', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0'], 60_000, { ...process.env, MPC_WALLET_PASSPHRASE: '' })
    ])
    expectOneLineError(wrong, /passphrase/, 1)
    expect(wrong.stderr).not.toContain('not it')
    expectOneLineError(missing, /passphrase/, 1)

    nodes[2] = await group.start('node-3-again', ['node', 'start', '--data-dir', dataDir, '--passphrase-file', passphraseFile, '--listen', '/ip4/127.0.0.1/tcp/0', '--heartbeat-ms', '200'], 30_000)
    expect(nodes[2].ready.peerId).toBe(node.ready.peerId)
    await waitFor('the node up again', async () => (await api.cluster()).members.find(m => m.peerId === node.ready.peerId)?.state === 'up', 20_000)
  })
})
