import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorise, parsePolicy, parseSignedRequest } from '../../src/protocols/policy.js'
import { CLI, runNode } from './cli.js'

/**
 * Issue 12's people and their keys through the real CLI: an admin key and client keys in
 * passphrase-sealed 0600 files, a sign request made and signed by a client, approved by an
 * approver, and checked by the same authorise() the nodes will run.
 */
describe('signing keys and sign requests through the CLI', () => {
  let dir: string
  const passphrase = 'correct horse battery staple'
  const env = { ...process.env, MPC_WALLET_KEY_PASSPHRASE: passphrase }
  const cli = async (...args: string[]): Promise<Awaited<ReturnType<typeof runNode>>> => await runNode([CLI, ...args], 60_000, env)

  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'mpc-signers-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('makes keys, a signed and approved request that a policy allows, and refuses bad input', async () => {
    const admin = await cli('admin', 'keygen', '--out', join(dir, 'admin.key'))
    expect(admin.code, admin.stderr).toBe(0)
    expect(admin.stdout.trim()).toMatch(/^[0-9a-f]{64}$/)
    expect(admin.stderr).toMatch(/off the coordinator's host/)
    expect((await stat(join(dir, 'admin.key'))).mode & 0o777).toBe(0o600)
    expect(await readFile(join(dir, 'admin.key'), 'utf8')).not.toContain(passphrase)

    const again = await cli('admin', 'keygen', '--out', join(dir, 'admin.key'))
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/exists/)

    const client = JSON.parse((await cli('client', 'keygen', '--out', join(dir, 'alice.key'), '--json')).stdout) as { publicKey: string }
    const approver = JSON.parse((await cli('client', 'keygen', '--out', join(dir, 'approver.key'), '--json')).stdout) as { publicKey: string }

    const req = join(dir, 'req.json')
    const made = await cli('request', 'new', '--cluster-id', 'mpc-test', '--key', 'key-1', '--message', 'cafe', '--client', 'alice', '--client-key', join(dir, 'alice.key'), '--out', req)
    expect(made.code, made.stderr).toBe(0)
    const approved = await cli('request', 'approve', req, '--approver-key', join(dir, 'approver.key'))
    expect(approved.code, approved.stderr).toBe(0)

    const policy = parsePolicy({
      version: 1,
      clusterId: 'mpc-test',
      admins: { keys: [admin.stdout.trim()], quorum: 1 },
      clients: [{ name: 'alice', publicKey: client.publicKey, keys: ['key-1'] }],
      keys: { 'key-1': { approvals: { approvers: [approver.publicKey], required: 1 } } }
    })
    // The request file: the signed request, and the message it names for the approvers to see.
    const { message, ...fields } = JSON.parse(await readFile(req, 'utf8')) as Record<string, unknown>
    expect(message).toBe('cafe')
    const signed = parseSignedRequest(fields)
    expect(signed.request.requestId).toBe(made.stdout.trim())
    const history = { seen: () => false, signedSince: () => 0, volumeSince: () => 0n }
    expect(authorise(policy, signed, 'key-1', Buffer.from('cafe', 'hex'), Date.now(), history)).toMatchObject({ allowed: true })
    expect(authorise(policy, { ...signed, approvals: {} }, 'key-1', Buffer.from('cafe', 'hex'), Date.now(), history)).toMatchObject({ allowed: false, rule: 'approvals' })

    // Wrong passphrase, an edited key file, a missing one: clear one-line errors, nothing written.
    const wrong = await runNode([CLI, 'request', 'new', '--cluster-id', 'mpc-test', '--key', 'key-1', '--message', 'cafe', '--client', 'alice', '--client-key', join(dir, 'alice.key'), '--out', join(dir, 'never.json')], 60_000, { ...env, MPC_WALLET_KEY_PASSPHRASE: 'wrong' })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/does not open: wrong passphrase/)
    const edited = JSON.parse(await readFile(join(dir, 'alice.key'), 'utf8')) as { publicKey: string }
    await writeFile(join(dir, 'edited.key'), JSON.stringify({ ...edited, publicKey: approver.publicKey }), { mode: 0o600 })
    const swapped = await cli('request', 'approve', req, '--approver-key', join(dir, 'edited.key'))
    expect(swapped.code).toBe(1)
    expect(swapped.stderr).toMatch(/does not open/)
    const noMessage = await cli('request', 'new', '--cluster-id', 'mpc-test', '--key', 'key-1', '--client', 'alice', '--client-key', join(dir, 'alice.key'), '--out', join(dir, 'never.json'))
    expect(noMessage.code).toBe(2)
    await expect(stat(join(dir, 'never.json'))).rejects.toThrow()
    const noPassphrase = await runNode([CLI, 'admin', 'keygen', '--out', join(dir, 'other.key')], 60_000, { ...process.env, MPC_WALLET_KEY_PASSPHRASE: '' })
    expect(noPassphrase.code).toBe(1)
    expect(noPassphrase.stderr).toMatch(/needs a passphrase/)
  }, 120_000)
})
