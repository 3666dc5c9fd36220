import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../helpers.js'
import { verifyBip340External, verifyEd25519External, verifyKeySignature } from '../../scripts/verify.js'
import { alive, ROOT, runNode } from './cli.js'
import { base58 } from '@scure/base'
import { bitcoreCheck } from '../chain-checks.js'

/** How often the --keep test reads every process's command line. */
const CMDLINE_SAMPLE_MS = 50

/**
 * The command lines (arguments joined by spaces) of the processes whose command line mentions
 * `text`, by pid, as /proc shows them to every user of the machine. Synchronous, so that one
 * sample is one moment.
 */
function commandLinesMentioning (text: string): Map<number, string> {
  const found = new Map<number, string>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let line: string
    try {
      line = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ')
    } catch {
      continue // the process ended meanwhile
    }
    if (line.includes(text)) found.set(Number(entry), line)
  }
  return found
}

describe('npm run simulate, as a user runs it (built script, real processes)', () => {
  it('joins every node, detects a SIGKILL, restarts the node under the same PeerId, and leaves nothing running', async () => {
    const result = await runNode(['dist/scripts/simulate.js', '--nodes', '3', '--json', '--steady-ms', '2000', '--sign-samples', '2',
      '--heartbeat-ms', '200', '--suspect-after-ms', '600', '--down-after-ms', '1200'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const lines = result.stdout.trim().split('\n')
    const summary = JSON.parse(lines.at(-1)!) as Record<string, unknown>
    expect(summary).toMatchObject({ nodes: 3, up: 3, restartedSamePeerId: true, restartedWithStoredRoster: true, ok: true })
    expect(summary.downDetectedMs).toBeGreaterThanOrEqual(1200 - 200)
    // The scale figures: delivery measured at the coordinator and at a member, each a share of what was sent.
    const scale = summary.scale as { heartbeatIntervalMs: number, heartbeatDeliveryPercent: Record<string, number>, keygenMs: Record<string, number>, signP50Ms: Record<string, number>, nodeRssMiB: { max: number } }
    expect(scale.heartbeatIntervalMs).toBe(200)
    for (const where of ['coordinator', 'member']) expect(scale.heartbeatDeliveryPercent[where]).toBeGreaterThan(0)
    for (const where of ['coordinator', 'member']) expect(scale.heartbeatDeliveryPercent[where]).toBeLessThanOrEqual(100)
    expect(Object.keys(scale.keygenMs).sort()).toEqual(['ed25519', 'taproot'])
    expect(Object.keys(scale.signP50Ms).sort()).toEqual(['ed25519', 'taproot'])
    expect(scale.nodeRssMiB.max).toBeGreaterThan(0)
    // The human part of the output shows the cluster table with every node up.
    expect(result.stdout).toMatch(/members 3 \(3 up\)/)
    expect(result.stdout).toMatch(/is down/)
    expect(result.stdout).toMatch(/up again with the same PeerId/)
    for (const pid of summary.pids as number[]) expect(alive(pid)).toBe(false)

    // One key of each scheme, two signatures each (before and after a holder was killed),
    // checked again here by code that is not ours.
    const keys = summary.keys as Array<{ id: string, scheme: string, groupPublicKey: string, xOnlyPublicKey?: string, address?: string }>
    const signatures = summary.signatures as Array<{ keyId: string, message: string, signature: string, signers: string[] }>
    expect(keys.map(k => k.scheme).sort()).toEqual(['ed25519', 'taproot'])
    expect(keys.find(k => k.scheme === 'taproot')?.address).toMatch(/^bcrt1p/)
    expect(summary.killedBeforeSecondSigning).toBe(1)
    // the killed holder came back and caught up with everything made while it was away
    expect(summary.convergenceMs).toHaveLength(1)
    expect(summary.inSync).toBe(true)
    expect(signatures).toHaveLength(4)
    for (const sig of signatures) {
      const key = keys.find(k => k.id === sig.keyId)!
      expect(sig.signature).toMatch(/^[0-9a-f]{128}$/)
      const check = (message: string): boolean => verifyKeySignature(key, message, sig.signature)
      expect(check(sig.message)).toBe(true)
      // and the same check refuses the signature for any other message
      expect(check((sig.message.startsWith('00') ? 'ff' : '00') + sig.message.slice(2))).toBe(false)
    }

    // The lifecycle: an HD child's signature before and after a reshare, a refresh and a repair,
    // each under the key it names, checked here by code that is not ours; the group keys never change.
    const lifecycle = summary.lifecycle as Array<{ op: string, keyId: string, version: number, groupPublicKey: string, publicKey: string, signature: string, message: string, path?: string }>
    expect(lifecycle.map(e => e.op)).toEqual(['derive', 'reshare', 'derive', 'refresh', 'repair'])
    for (const e of lifecycle) {
      const scheme = keys.find(k => k.id === e.keyId)?.scheme ?? 'taproot'
      const check = (message: string): boolean => scheme === 'ed25519' ? verifyEd25519External(e.publicKey, message, e.signature) : verifyBip340External(e.publicKey, message, e.signature)
      expect(check(e.message), `${e.op} ${e.keyId}`).toBe(true)
      expect(check((e.message.startsWith('00') ? 'ff' : '00') + e.message.slice(2))).toBe(false)
      if (e.op !== 'derive') expect(e.version).toBe(2)
    }
    for (const k of keys) {
      const changed = lifecycle.find(e => e.keyId === k.id)
      expect(changed?.groupPublicKey, k.scheme).toBe(k.groupPublicKey)
    }

    // The transactions, checked again from the JSON alone: bitcore's interpreter runs the Bitcoin
    // spend against its prevouts (and refuses it altered); the Solana transfer's signature verifies
    // under its sender's key by OpenSSL over the message in the wire bytes.
    const [btc, sol] = summary.transactions as [{ chain: string, keyId: string, hex: string, txid: string, prevouts: Array<{ script: string, amount: number }> }, { chain: string, base64: string, signature: string, from: string }]
    expect([btc.chain, sol.chain]).toEqual(['bitcoin', 'solana'])
    const prevouts = btc.prevouts.map(p => ({ script: Buffer.from(p.script, 'hex'), amount: BigInt(p.amount) }))
    expect(prevouts[0]!.script.toString('hex')).toBe(`5120${keys.find(k => k.id === btc.keyId)!.xOnlyPublicKey!}`)
    expect(bitcoreCheck(btc.hex, prevouts)).toEqual([''])
    expect(bitcoreCheck(btc.hex, prevouts, tx => { tx.outputs[0]!.satoshis -= 1 })).toEqual(['failed'])
    const wire = Buffer.from(sol.base64, 'base64')
    expect(base58.encode(wire.subarray(1, 65))).toBe(sol.signature)
    expect(verifyEd25519External(Buffer.from(base58.decode(sol.from)).toString('hex'), wire.subarray(65).toString('hex'), wire.subarray(1, 65).toString('hex'))).toBe(true)
  })

  it('refuses a bad option with a one-line error and usage, exit code 2', async () => {
    const result = await runNode(['dist/scripts/simulate.js', '--nodes', 'many'])
    expect(result.code).toBe(2)
    expect(result.stderr.split('\n')[0]).toBe('simulate: --nodes must be a whole number from 1 to 64, not "many"')
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })
  it('with --keep runs until SIGTERM, prints how to reach the cluster, then stops every process', async () => {
    const { spawn } = await import('node:child_process')
    const root = await mkdtemp(join(tmpdir(), 'mpcw-sim-keep-'))
    // Every command line of the run, as any local user can read it (`ps`, /proc/<pid>/cmdline),
    // sampled from the start: the nodes that join with the token are restarted without it later.
    const cmdlines = new Map<number, string>()
    const sample = (): void => { for (const [pid, line] of commandLinesMentioning(root)) cmdlines.set(pid, line) }
    const sampler = setInterval(sample, CMDLINE_SAMPLE_MS)
    const child = spawn(process.execPath, ['dist/scripts/simulate.js', '--nodes', '1', '--keep', '--json', '--dir', root, '--steady-ms', '500',
      '--heartbeat-ms', '200', '--suspect-after-ms', '600', '--down-after-ms', '1200'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<string>(resolve => child.on('exit', (code, signal) => { resolve(`code ${code} signal ${signal}`) }))
    try {
      await waitFor('the keep message', () => stdout.includes('Ctrl-C'), 60_000)
      sample()
      clearInterval(sampler)
      expect(stdout).toMatch(/export MPC_WALLET_COORDINATOR_DIR=/)
      expect(stdout).toMatch(/coordinator multiaddrs \(for --bootstrap\): \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)

      // No secret on any command line: no join token (the node's, the one init wrote), no passphrase.
      const secrets = await Promise.all(['nodes.join-token', join('coordinator', 'join-token'), 'node-1.passphrase']
        .map(async file => (await readFile(join(root, file), 'utf8')).trim()))
      const lines = [...cmdlines.values()]
      expect(lines.filter(l => l.includes(' node start ')).length, lines.join('\n')).toBeGreaterThanOrEqual(2) // the first start and the restart
      expect(lines.some(l => l.includes(' coordinator start '))).toBe(true)
      for (const line of lines) {
        expect(line).not.toContain('mpcw1.')
        for (const secret of secrets) expect(line).not.toContain(secret)
      }
    } finally {
      clearInterval(sampler)
      child.kill('SIGTERM')
      await exited
      await rm(root, { recursive: true, force: true })
    }
    expect(await exited, `stderr: ${stderr.slice(-2000)}`).toBe('code 0 signal null')
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { pids: number[] }
    for (const pid of summary.pids) expect(alive(pid)).toBe(false)
  })
})
