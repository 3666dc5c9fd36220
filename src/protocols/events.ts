import { EventKind, Health, type Event } from './messages.js'

/** An event with every field at its empty default, then `fields` over it. */
export function newEvent (fields: Partial<Event> & { kind: EventKind }): Event {
  return {
    seq: 0,
    atMs: Date.now(),
    peerId: new Uint8Array(),
    epoch: 0,
    from: Health.HEALTH_UNKNOWN,
    to: Health.HEALTH_UNKNOWN,
    operation: '',
    sessionId: '',
    keyId: '',
    detail: '',
    culprits: [],
    accused: [],
    signers: [],
    requestHash: '',
    ...fields
  }
}
