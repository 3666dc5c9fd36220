import type { Service } from '../runtime/service.js'
import type { KeyRegistry } from '../state/key-registry.js'
import type { Logger } from '../log.js'
import type { HealthState } from './health.js'

export interface RefreshScheduleDeps {
  /** Refresh each key when it has been this long at one version. */
  everyMs: number
  keys: KeyRegistry
  health: (peerId: string) => HealthState
  refresh: (keyId: string) => Promise<unknown>
  log: Logger
}

/** How often the schedule looks at the keys: a tenth of the interval, from 1 s to 1 min. */
const checkMsFor = (everyMs: number): number => Math.min(60_000, Math.max(1_000, Math.floor(everyMs / 10)))

/**
 * `coordinator start --refresh-every D`: every key is refreshed once it has been at one version
 * for D (counted from when this coordinator process first saw that version: a restart, or any
 * change of the key, starts the count again), one key at a time, and only while every holder is
 * up or suspect (a refresh needs them all). A refresh that fails is tried again at a later look.
 */
export class RefreshSchedule implements Service {
  /** When this process first saw each key version, by `id:version`. */
  private readonly seen = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private working = false

  constructor (private readonly deps: RefreshScheduleDeps) {}

  start (): void {
    this.timer = setInterval(() => { void this.tick() }, checkMsFor(this.deps.everyMs))
  }

  stop (): void {
    clearInterval(this.timer)
  }

  private async tick (): Promise<void> {
    if (this.working) return
    this.working = true
    try {
      const now = Date.now()
      const current = new Set<string>()
      for (const key of await this.deps.keys.list()) {
        const id = `${key.id}:${key.version}`
        current.add(id)
        const since = this.seen.get(id) ?? now
        this.seen.set(id, since)
        if (now - since < this.deps.everyMs || key.holders.some(h => this.deps.health(h) === 'down')) continue
        try {
          await this.deps.refresh(key.id)
          this.deps.log.info({ keyId: key.id, version: key.version + 1 }, 'scheduled refresh done')
        } catch (err) {
          this.deps.log.warn({ keyId: key.id, err: (err as Error).message }, 'scheduled refresh failed; it is tried again later')
        }
      }
      for (const id of this.seen.keys()) if (!current.has(id)) this.seen.delete(id)
    } finally {
      this.working = false
    }
  }
}
