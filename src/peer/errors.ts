/** The node's own errors. Command refusals sent to the coordinator are protocols/errors' CommandRefusedError. */

/** A DKG session ran out of time; `missing` are the participants we never heard from. */
export class DkgTimeoutError extends Error {
  override name = 'DkgTimeoutError'
  constructor (readonly missing: string[], message: string) {
    super(message)
  }
}

/** A DKG session this node will not run: it already ran here, or too many run at once. */
export class DkgSessionRefusedError extends Error {
  override name = 'DkgSessionRefusedError'
}
