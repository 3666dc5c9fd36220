/** The node's own errors. Command refusals sent to the coordinator are protocols/errors' CommandRefusedError. */

/** A DKG session ran out of time; `missing` are the participants we never heard from. */
export class DkgTimeoutError extends Error {
  override name = 'DkgTimeoutError'
  constructor (readonly missing: string[], message: string) {
    super(message)
  }
}

/** A DKG session this node will not run: it already ran here. */
export class DkgSessionRefusedError extends Error {
  override name = 'DkgSessionRefusedError'
}

/** A DKG session this node will not run now: as many as it runs at once are running (a load refusal, BUSY). */
export class DkgSessionBusyError extends Error {
  override name = 'DkgSessionBusyError'
  constructor (readonly limit: number, message: string) {
    super(message)
  }
}
