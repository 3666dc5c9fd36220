/**
 * A part of a peer with a lifecycle, as js-libp2p's services: `start()` registers its handlers
 * and timers, `stop()` removes them. `stop()` must be safe on a service whose `start()` failed
 * or never finished.
 */
export interface Service {
  start: () => void | Promise<void>
  stop: () => void | Promise<void>
}

/** A service that runs `fn` every `ms` while started. */
export function every (ms: number | (() => number), fn: () => void): Service {
  let timer: NodeJS.Timeout | undefined
  let running = false
  const interval = typeof ms === 'number' ? () => ms : ms
  const arm = (): void => {
    timer = setTimeout(() => {
      if (!running) return
      arm()
      fn()
    }, interval())
  }
  return {
    start: () => { running = true; arm() },
    stop: () => { running = false; clearTimeout(timer) }
  }
}

/**
 * The services of one peer (the node or the coordinator), started in order and stopped in
 * reverse. A service counts as started as soon as its start() is called, so that one which failed
 * half-way is stopped too; stop() stops only those, once.
 */
export class ServiceGroup {
  private readonly started: Service[] = []

  constructor (private readonly services: readonly Service[]) {}

  async start (): Promise<void> {
    for (const service of this.services) {
      this.started.push(service)
      await service.start()
    }
  }

  async stop (): Promise<void> {
    while (this.started.length > 0) await this.started.pop()!.stop()
  }
}
