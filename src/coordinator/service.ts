/** A part of the coordinator with a lifecycle: the assembly starts its services in order and stops them in reverse. */
export interface Service {
  start: () => void | Promise<void>
  stop: () => void | Promise<void>
}

/** A service that runs `fn` every `ms` while started. */
export function every (ms: number, fn: () => void): Service {
  let timer: NodeJS.Timeout | undefined
  return { start: () => { timer = setInterval(fn, ms) }, stop: () => { clearInterval(timer) } }
}
