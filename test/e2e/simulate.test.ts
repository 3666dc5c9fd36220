import { describe, expect, it } from 'vitest'
import { rm } from 'node:fs/promises'
import { waitFor } from '../helpers.js'
import { verifyKeySignature } from '../../scripts/verify.js'
import { alive, ROOT, runNode } from './cli.js'

describe('npm run simulate, as a user runs it (built script, real processes)', () => {
  it('joins every node, detects a SIGKILL, restarts the node under the same PeerId, and leaves nothing running', async () => {
    const result = await runNode(['dist/scripts/simulate.js', '--nodes', '3', '--json',
      '--heartbeat-ms', '200', '--suspect-after-ms', '600', '--down-after-ms', '1200'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const lines = result.stdout.trim().split('\n')
    const summary = JSON.parse(lines.at(-1)!) as Record<string, unknown>
    expect(summary).toMatchObject({ nodes: 3, up: 3, restartedSamePeerId: true, restartedWithStoredRoster: true, ok: true })
    expect(summary.downDetectedMs).toBeGreaterThanOrEqual(1200 - 200)
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
  })

  it('refuses a bad option with a one-line error and usage, exit code 2', async () => {
    const result = await runNode(['dist/scripts/simulate.js', '--nodes', 'many'])
    expect(result.code).toBe(2)
    expect(result.stderr.split('\n')[0]).toBe('simulate: --nodes must be a whole number from 1 to 32, not "many"')
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })
  it('with --keep runs until SIGTERM, prints how to reach the cluster, then stops every process', async () => {
    const { spawn } = await import('node:child_process')
    const child = spawn(process.execPath, ['dist/scripts/simulate.js', '--nodes', '1', '--keep', '--json',
      '--heartbeat-ms', '200', '--suspect-after-ms', '600', '--down-after-ms', '1200'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<string>(resolve => child.on('exit', (code, signal) => { resolve(`code ${code} signal ${signal}`) }))
    await waitFor('the keep message', () => stdout.includes('Ctrl-C'), 60_000)
    expect(stdout).toMatch(/export MPC_WALLET_COORDINATOR_DIR=/)
    expect(stdout).toMatch(/coordinator multiaddrs \(for --bootstrap\): \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    child.kill('SIGTERM')
    expect(await exited, `stderr: ${stderr.slice(-2000)}`).toBe('code 0 signal null')
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { pids: number[], dataDir: string }
    for (const pid of summary.pids) expect(alive(pid)).toBe(false)
    await rm(summary.dataDir, { recursive: true, force: true })
  })
})
