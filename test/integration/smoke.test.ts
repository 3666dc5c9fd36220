import { describe, expect, it } from 'vitest'
import { startCluster, waitFor } from '../helpers.js'

describe('smoke', () => {
  it('joins and heartbeats', async () => {
    const cluster = await startCluster(3)
    try {
      await waitFor('all up', () => cluster.coordinator.cluster().members.filter(m => m.state === 'up').length === 3)
      await waitFor('roster everywhere', () => cluster.nodes.every(n => n.roster.epoch === cluster.coordinator.roster.epoch))
      console.log(JSON.stringify(cluster.coordinator.cluster(), null, 1))
      expect(cluster.coordinator.roster.epoch).toBe(4)
    } finally {
      await cluster.stop()
    }
  })
})
