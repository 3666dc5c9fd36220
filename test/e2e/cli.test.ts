import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ProcessGroup } from '../../scripts/processes.js'
import { tempDir, waitFor } from '../helpers.js'
import { CLI, runNode } from './cli.js'

const cli = async (...args: string[]): ReturnType<typeof runNode> => await runNode([CLI, ...args], 30_000)

function expectOneLineError (result: { code: number | null, stderr: string }, code: number, pattern: RegExp): void {
  expect(result.code).toBe(code)
  const lines = result.stderr.trim().split('\n').filter(l => !l.startsWith('(run with --help'))
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at /)
}

describe('the mpc-wallet CLI', () => {
  it('refuses bad flags and multiaddrs with one line and a non-zero exit, never a stack trace', async () => {
    expectOneLineError(await cli('node', 'start', '--data-dir', '/tmp/x', '--bootstrap', 'nope'), 2, /--bootstrap: "nope" is not a multiaddr/)
    expectOneLineError(await cli('node', 'start', '--data-dir', '/tmp/x', '--heartbeat-ms', '-5'), 2, /positive whole number/)
    expectOneLineError(await cli('coordinator', 'start'), 2, /--data-dir/)
    expectOneLineError(await cli('--log-level', 'loud', 'status'), 2, /loud/)
    expectOneLineError(await cli('launch'), 2, /unknown command/)
    expectOneLineError(await cli('status', '--api', 'http://127.0.0.1:9', '--api-token-file', '/nonexistent'), 1, /ENOENT|no such file/)
    expectOneLineError(await cli('node', 'start', '--data-dir', '/tmp/x', '--join', 'mpcw2.bad'), 1, /join token must look like/)
    expectOneLineError(await cli('node', 'start', '--data-dir', '/tmp/x', '--join', 'mpcw1.an.old.invitation'), 1, /names no admin set: ask the operator for a new one/)
  })

  it('refuses a passphrase or join-token file that others can read, as ssh does, before it creates the data directory', async () => {
    await using dir = await tempDir('mpcw-cli-modes-')
    const dataDir = join(dir.path, 'node')
    const passphraseFile = join(dir.path, 'passphrase')
    await writeFile(passphraseFile, 'a passphrase others can read\n')
    await chmod(passphraseFile, 0o644)
    const tokenFile = join(dir.path, 'token')
    await writeFile(tokenFile, 'mpcw2.not-checked-before-the-mode\n')
    await chmod(tokenFile, 0o640)
    const env = { ...process.env, MPC_WALLET_PASSPHRASE: undefined, MPC_WALLET_JOIN_TOKEN: undefined }
    const start = async (...flags: string[]): ReturnType<typeof runNode> =>
      await runNode([CLI, 'node', 'start', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', ...flags], 30_000, env)

    const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    expectOneLineError(await start('--passphrase-file', passphraseFile), 1,
      new RegExp(`^mpc-wallet: --passphrase-file: ${literal(passphraseFile)} is readable by other users \\(mode 644\\); run: chmod 600 ${literal(passphraseFile)}$`))
    expectOneLineError(await start('--join-file', tokenFile, '--passphrase-file', passphraseFile), 1,
      new RegExp(`^mpc-wallet: --join-file: ${literal(tokenFile)} is readable by other users \\(mode 640\\); run: chmod 600 ${literal(tokenFile)}$`))
    await expect(stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  describe('against a running coordinator and node', () => {
    let group: ProcessGroup | undefined
    afterAll(async () => { await group?.stopAll() })

    it('init, start, join, status as a table and as JSON, and a clean stop on SIGTERM', async () => {
      await using dir = await tempDir('mpcw-cli-')
      const coordinatorDir = join(dir.path, 'coordinator')
      group = new ProcessGroup(join(dir.path, 'logs'))
      const listen = ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0']
      // The policy's admins must be named, or one admin key made outside the data directory.
      expectOneLineError(await cli('coordinator', 'init', '--data-dir', coordinatorDir, ...listen), 2, /name the admins who will sign the signing policy/)
      const passFile = join(dir.path, 'key-passphrase')
      await writeFile(passFile, 'an admin key passphrase\n', { mode: 0o600 })
      expectOneLineError(await cli('coordinator', 'init', '--data-dir', coordinatorDir, ...listen, '--admin-key-out', join(coordinatorDir, 'admin.key'), '--passphrase-file', passFile), 2, /must be outside the data directory/)
      expectOneLineError(await cli('coordinator', 'init', '--data-dir', coordinatorDir, ...listen, '--admin', 'ab'.repeat(32), '--admin', 'cd'.repeat(32)), 2, /--admin-quorum/)
      const adminKey = join(dir.path, 'admin.key')
      const init = await cli('coordinator', 'init', '--data-dir', coordinatorDir, ...listen, '--admin-key-out', adminKey, '--passphrase-file', passFile)
      expect(init.code, init.stderr).toBe(0)
      expect(init.stderr).toMatch(/admin key written to .*admin\.key\. Move it off this host/)
      expect((await stat(adminKey)).mode & 0o777).toBe(0o600)
      const token = (await readFile(join(coordinatorDir, 'join-token'), 'utf8')).trim()
      expect(init.stdout).toContain(token)
      for (const secret of ['identity.key', 'join-token', 'api-token']) {
        expect((await stat(join(coordinatorDir, secret))).mode & 0o777).toBe(0o600)
      }
      // A second init is refused before any admin key is made.
      expectOneLineError(await cli('coordinator', 'init', '--data-dir', coordinatorDir, '--admin-key-out', join(dir.path, 'second.key'), '--passphrase-file', passFile), 1, /already holds cluster/)
      await expect(stat(join(dir.path, 'second.key'))).rejects.toMatchObject({ code: 'ENOENT' })

      const coordinator = await group.start('cli-coordinator', ['coordinator', 'start', '--data-dir', coordinatorDir])
      const tokenFile = join(dir.path, 'token')
      await writeFile(tokenFile, token + '\n', { mode: 0o600 })
      const passphraseFile = join(dir.path, 'passphrase')
      await writeFile(passphraseFile, 'a passphrase for the e2e node\n', { mode: 0o600 })
      const nodeStart = ['node', 'start', '--data-dir', join(dir.path, 'node'), '--bootstrap', coordinator.ready.addrs[0]!,
        '--join-file', tokenFile, '--listen', '/ip4/127.0.0.1/tcp/0', '--heartbeat-ms', '200']
      expectOneLineError(await cli(...nodeStart), 1, /needs its key store passphrase/)
      const node = await group.start('cli-node', [...nodeStart, '--passphrase-file', passphraseFile])
      expect(node.ready.clusterId).toBe(coordinator.ready.clusterId)

      let members: Array<{ peerId: string, addrs: string[], state: string, lastHeartbeatMs: number | null }> = []
      await waitFor('the node up and dialled back in `status --json`', async () => {
        const status = await cli('status', '--coordinator-dir', coordinatorDir, '--json')
        members = JSON.parse(status.stdout) as typeof members
        return members[0]?.state === 'up' && (members[0] as { reach?: string }).reach !== 'unchecked'
      })
      expect(members).toHaveLength(1)
      expect(members[0]).toMatchObject({ peerId: node.ready.peerId, state: 'up', link: 'direct', reach: 'local', links: { direct: 1, relayed: 0 } })
      expect(members[0]!.addrs.length).toBeGreaterThan(0)
      expect(members[0]!.lastHeartbeatMs).toBeGreaterThan(0)

      const table = await cli('status', '--coordinator-dir', coordinatorDir)
      expect(table.stdout).toMatch(/PEER ID\s+STATE\s+LAST HEARTBEAT\s+EPOCH\s+SYNCED STATE\s+KEYS\s+LINK\s+REACH\s+MEMBER LINKS\s+ADDRESSES/)
      // On loopback the node dialled the coordinator directly and advertises a local address.
      expect(table.stdout).toMatch(new RegExp(`${node.ready.peerId}\\s+up\\s.*\\sdirect\\s+local\\s+1 direct, 0 relayed`))

      const wrongToken = await cli('status', '--api', coordinator.ready.api!, '--api-token-file', tokenFile)
      expectOneLineError(wrongToken, 1, /401 missing or wrong bearer token/)

      // The event log: one JSON object per line, filtered by type, resumable by id.
      const joined = await cli('events', '--coordinator-dir', coordinatorDir, '--type', 'member_joined', '--json')
      const joinedEvents = joined.stdout.trim().split('\n').map(l => JSON.parse(l) as { seq: number, kind: string, peerId: string })
      expect(joinedEvents).toEqual([expect.objectContaining({ kind: 'MEMBER_JOINED', peerId: node.ready.peerId })])
      const text = await cli('events', '--coordinator-dir', coordinatorDir, '--after', String(joinedEvents[0]!.seq - 1))
      expect(text.stdout.split('\n')[0]).toMatch(new RegExp(`^#${joinedEvents[0]!.seq}  \\S+  member_joined  peer=${node.ready.peerId}`))
      expectOneLineError(await cli('events', '--coordinator-dir', coordinatorDir, '--type', 'explosion'), 2, /explosion/)
      expectOneLineError(await cli('events', '--coordinator-dir', coordinatorDir, '--since', 'soon'), 1, /since must be/)

      // --follow prints what happens next (the node stopping, seen as suspect) until SIGTERM.
      const last = JSON.parse((await cli('events', '--coordinator-dir', coordinatorDir, '--json')).stdout.trim().split('\n').at(-1)!) as { seq: number }
      const follow = spawn(process.execPath, [CLI, 'events', '--coordinator-dir', coordinatorDir, '--follow', '--json', '--after', String(last.seq)], { stdio: ['ignore', 'pipe', 'pipe'] })
      let followed = ''
      follow.stdout.on('data', (d: Buffer) => { followed += d.toString() })
      const followExit = new Promise<number | null>(resolve => follow.once('exit', resolve))

      const stopped = async (child: ChildProcess): Promise<number | null> => {
        const exited = new Promise<number | null>(resolve => child.once('exit', resolve))
        child.kill('SIGTERM')
        return await exited
      }
      expect(await stopped(node.child)).toBe(0)
      await waitFor('follow to print the node going suspect', () => followed.includes('"to":"SUSPECT"'), 15_000)
      follow.kill('SIGTERM')
      expect(await followExit).toBe(0)
      expect(await stopped(coordinator.child)).toBe(0)
      const lines = followed.trim().split('\n').map(l => JSON.parse(l) as { seq: number })
      expect(lines[0]!.seq).toBe(last.seq + 1)
    })
  })
})
