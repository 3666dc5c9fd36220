import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ProcessGroup, writeSecretFile } from '../../scripts/processes.js'
import { ApiClient } from '../../src/coordinator/client.js'
import { freePort, personKey, tempDir, waitFor } from '../helpers.js'

describe('kill -9 of the coordinator', () => {
  it('loses no roster or event, and the running nodes are up again once it is back', async () => {
    await using dir = await tempDir('mpcw-restart-')
    const group = new ProcessGroup(join(dir.path, 'logs'))
    try {
      const coordinatorDir = join(dir.path, 'coordinator')
      const port = await freePort()
      await group.run(['coordinator', 'init', '--data-dir', coordinatorDir, '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--api', '127.0.0.1:0', '--admin', personKey().pub])
      const apiToken = (await readFile(join(coordinatorDir, 'api-token'), 'utf8')).trim()
      const health = ['--suspect-after-ms', '600', '--down-after-ms', '1200']
      let coordinator = await group.start('coordinator', ['coordinator', 'start', '--data-dir', coordinatorDir, ...health])
      const passphraseFile = join(dir.path, 'passphrase')
      await writeSecretFile(passphraseFile, 'restart test passphrase')
      let api = new ApiClient(coordinator.ready.api!, apiToken)
      // Secrets in 0600 files, never on a command line (visible to every local user); one single-use invitation per node.
      const tokenFile = async (i: number): Promise<string> => {
        const path = join(dir.path, `node-${i}.join-token`)
        await writeSecretFile(path, (await api.invite({ note: `node-${i}` })).token)
        return path
      }
      const nodes = await Promise.all([1, 2].map(async i => await group.start(`node-${i}`, ['node', 'start', '--data-dir', join(dir.path, `node-${i}`),
        '--bootstrap', coordinator.ready.addrs[0]!, '--join-file', await tokenFile(i), '--listen', '/ip4/127.0.0.1/tcp/0', '--heartbeat-ms', '200', '--passphrase-file', passphraseFile])))
      await waitFor('both nodes up', async () => (await api.cluster()).members.filter(m => m.state === 'up').length === 2)
      const before = await api.cluster()
      const eventsBefore = await api.events()

      await group.kill(coordinator, 'SIGKILL')
      coordinator = await group.start('coordinator', ['coordinator', 'start', '--data-dir', coordinatorDir, ...health])
      expect(coordinator.ready.peerId).toBe(before.coordinator.peerId)
      api = new ApiClient(coordinator.ready.api!, apiToken)

      const after = await api.cluster()
      expect(after.epoch).toBe(before.epoch)
      expect(after.members.map(m => m.peerId).sort()).toEqual(nodes.map(n => n.ready.peerId).sort())
      const eventsAfter = await api.events()
      expect(eventsAfter.slice(0, eventsBefore.length)).toEqual(eventsBefore)
      await waitFor('both nodes up again at the restarted coordinator', async () => (await api.cluster()).members.filter(m => m.state === 'up').length === 2)
    } finally {
      await group.stopAll()
    }
  })
})
