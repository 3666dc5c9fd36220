/**
 * A part of the node with a lifecycle, as js-libp2p's services: `start()` registers its
 * handlers and timers, `stop()` removes them. `stop()` is safe on a service whose `start()`
 * failed or never finished.
 */
export interface NodeService {
  start: () => void | Promise<void>
  stop: () => void | Promise<void>
}
