/* eslint-disable import/export */
/* eslint-disable complexity */
/* eslint-disable @typescript-eslint/no-namespace */
/* eslint-disable @typescript-eslint/no-unnecessary-boolean-literal-compare */
/* eslint-disable @typescript-eslint/no-empty-interface */
/* eslint-disable import/consistent-type-specifier-style */
/* eslint-disable @typescript-eslint/no-unused-vars */

import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface GossipMessage {
  version: number
  clusterId: string
  heartbeat?: Heartbeat
  roster?: SignedRoster
  event?: Event
  round?: RoundMessage
}

export namespace GossipMessage {
  let _codec: Codec<GossipMessage>

  export const codec = (): Codec<GossipMessage> => {
    if (_codec == null) {
      _codec = message<GossipMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.clusterId != null && obj.clusterId !== '')) {
          w.uint32(18)
          w.string(obj.clusterId)
        }

        if (obj.heartbeat != null) {
          w.uint32(82)
          Heartbeat.codec().encode(obj.heartbeat, w)
        }

        if (obj.roster != null) {
          w.uint32(90)
          SignedRoster.codec().encode(obj.roster, w)
        }

        if (obj.event != null) {
          w.uint32(98)
          Event.codec().encode(obj.event, w)
        }

        if (obj.round != null) {
          w.uint32(106)
          RoundMessage.codec().encode(obj.round, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          clusterId: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.clusterId = reader.string()
              break
            }
            case 10: {
              obj.heartbeat = Heartbeat.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.heartbeat
              })
              break
            }
            case 11: {
              obj.roster = SignedRoster.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.roster
              })
              break
            }
            case 12: {
              obj.event = Event.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.event
              })
              break
            }
            case 13: {
              obj.round = RoundMessage.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.round
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<GossipMessage>): Uint8Array => {
    return encodeMessage(obj, GossipMessage.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GossipMessage>): GossipMessage => {
    return decodeMessage(buf, GossipMessage.codec(), opts)
  }
}

export interface Heartbeat {
  seq: number
  uptimeMs: number
  loadPermille: number
  activeSessions: number
  keysHeld: number
  softwareVersion: string
  rosterEpoch: number
}

export namespace Heartbeat {
  let _codec: Codec<Heartbeat>

  export const codec = (): Codec<Heartbeat> => {
    if (_codec == null) {
      _codec = message<Heartbeat>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.seq)
        }

        if ((obj.uptimeMs != null && obj.uptimeMs !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.uptimeMs)
        }

        if ((obj.loadPermille != null && obj.loadPermille !== 0)) {
          w.uint32(24)
          w.uint32(obj.loadPermille)
        }

        if ((obj.activeSessions != null && obj.activeSessions !== 0)) {
          w.uint32(32)
          w.uint32(obj.activeSessions)
        }

        if ((obj.keysHeld != null && obj.keysHeld !== 0)) {
          w.uint32(40)
          w.uint32(obj.keysHeld)
        }

        if ((obj.softwareVersion != null && obj.softwareVersion !== '')) {
          w.uint32(50)
          w.string(obj.softwareVersion)
        }

        if ((obj.rosterEpoch != null && obj.rosterEpoch !== 0)) {
          w.uint32(56)
          w.uint64Number(obj.rosterEpoch)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0,
          uptimeMs: 0,
          loadPermille: 0,
          activeSessions: 0,
          keysHeld: 0,
          softwareVersion: '',
          rosterEpoch: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64Number()
              break
            }
            case 2: {
              obj.uptimeMs = reader.uint64Number()
              break
            }
            case 3: {
              obj.loadPermille = reader.uint32()
              break
            }
            case 4: {
              obj.activeSessions = reader.uint32()
              break
            }
            case 5: {
              obj.keysHeld = reader.uint32()
              break
            }
            case 6: {
              obj.softwareVersion = reader.string()
              break
            }
            case 7: {
              obj.rosterEpoch = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<Heartbeat>): Uint8Array => {
    return encodeMessage(obj, Heartbeat.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Heartbeat => {
    return decodeMessage(buf, Heartbeat.codec(), opts)
  }
}

export interface Member {
  peerId: Uint8Array
  addrs: Uint8Array[]
  joinedAtMs: number
}

export namespace Member {
  let _codec: Codec<Member>

  export const codec = (): Codec<Member> => {
    if (_codec == null) {
      _codec = message<Member>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peerId != null && obj.peerId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.peerId)
        }

        if (obj.addrs != null) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if ((obj.joinedAtMs != null && obj.joinedAtMs !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.joinedAtMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peerId: uint8ArrayAlloc(0),
          addrs: [],
          joinedAtMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peerId = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - map field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 3: {
              obj.joinedAtMs = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<Member>): Uint8Array => {
    return encodeMessage(obj, Member.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Member>): Member => {
    return decodeMessage(buf, Member.codec(), opts)
  }
}

export interface Roster {
  clusterId: string
  epoch: number
  coordinator: Uint8Array
  members: Member[]
  issuedAtMs: number
}

export namespace Roster {
  let _codec: Codec<Roster>

  export const codec = (): Codec<Roster> => {
    if (_codec == null) {
      _codec = message<Roster>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.clusterId != null && obj.clusterId !== '')) {
          w.uint32(10)
          w.string(obj.clusterId)
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.epoch)
        }

        if ((obj.coordinator != null && obj.coordinator.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.coordinator)
        }

        if (obj.members != null) {
          for (const value of obj.members) {
            w.uint32(34)
            Member.codec().encode(value, w)
          }
        }

        if ((obj.issuedAtMs != null && obj.issuedAtMs !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.issuedAtMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          clusterId: '',
          epoch: 0,
          coordinator: uint8ArrayAlloc(0),
          members: [],
          issuedAtMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.clusterId = reader.string()
              break
            }
            case 2: {
              obj.epoch = reader.uint64Number()
              break
            }
            case 3: {
              obj.coordinator = reader.bytes()
              break
            }
            case 4: {
              if (opts.limits?.members != null && obj.members.length === opts.limits.members) {
                throw new MaxLengthError('Decode error - map field "members" had too many elements')
              }

              obj.members.push(Member.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.members$
              }))
              break
            }
            case 5: {
              obj.issuedAtMs = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<Roster>): Uint8Array => {
    return encodeMessage(obj, Roster.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Roster>): Roster => {
    return decodeMessage(buf, Roster.codec(), opts)
  }
}

export interface SignedRoster {
  roster: Uint8Array
  signature: Uint8Array
}

export namespace SignedRoster {
  let _codec: Codec<SignedRoster>

  export const codec = (): Codec<SignedRoster> => {
    if (_codec == null) {
      _codec = message<SignedRoster>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.roster != null && obj.roster.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.roster)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          roster: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.roster = reader.bytes()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<SignedRoster>): Uint8Array => {
    return encodeMessage(obj, SignedRoster.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedRoster>): SignedRoster => {
    return decodeMessage(buf, SignedRoster.codec(), opts)
  }
}

export enum Health {
  HEALTH_UNKNOWN = 'HEALTH_UNKNOWN',
  UP = 'UP',
  SUSPECT = 'SUSPECT',
  DOWN = 'DOWN'
}

enum __HealthValues {
  HEALTH_UNKNOWN = 0,
  UP = 1,
  SUSPECT = 2,
  DOWN = 3
}

export namespace Health {
  export const codec = (): Codec<Health> => {
    return enumeration<Health>(__HealthValues)
  }
}

export enum EventKind {
  EVENT_UNKNOWN = 'EVENT_UNKNOWN',
  MEMBER_JOINED = 'MEMBER_JOINED',
  MEMBER_ADDRS_CHANGED = 'MEMBER_ADDRS_CHANGED',
  HEALTH_CHANGED = 'HEALTH_CHANGED'
}

enum __EventKindValues {
  EVENT_UNKNOWN = 0,
  MEMBER_JOINED = 1,
  MEMBER_ADDRS_CHANGED = 2,
  HEALTH_CHANGED = 3
}

export namespace EventKind {
  export const codec = (): Codec<EventKind> => {
    return enumeration<EventKind>(__EventKindValues)
  }
}

export interface Event {
  seq: number
  atMs: number
  kind: EventKind
  peerId: Uint8Array
  epoch: number
  from: Health
  to: Health
}

export namespace Event {
  let _codec: Codec<Event>

  export const codec = (): Codec<Event> => {
    if (_codec == null) {
      _codec = message<Event>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.seq)
        }

        if ((obj.atMs != null && obj.atMs !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.atMs)
        }

        if (obj.kind != null && __EventKindValues[obj.kind] !== 0) {
          w.uint32(24)
          EventKind.codec().encode(obj.kind, w)
        }

        if ((obj.peerId != null && obj.peerId.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.peerId)
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.epoch)
        }

        if (obj.from != null && __HealthValues[obj.from] !== 0) {
          w.uint32(48)
          Health.codec().encode(obj.from, w)
        }

        if (obj.to != null && __HealthValues[obj.to] !== 0) {
          w.uint32(56)
          Health.codec().encode(obj.to, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0,
          atMs: 0,
          kind: EventKind.EVENT_UNKNOWN,
          peerId: uint8ArrayAlloc(0),
          epoch: 0,
          from: Health.HEALTH_UNKNOWN,
          to: Health.HEALTH_UNKNOWN
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64Number()
              break
            }
            case 2: {
              obj.atMs = reader.uint64Number()
              break
            }
            case 3: {
              obj.kind = EventKind.codec().decode(reader)
              break
            }
            case 4: {
              obj.peerId = reader.bytes()
              break
            }
            case 5: {
              obj.epoch = reader.uint64Number()
              break
            }
            case 6: {
              obj.from = Health.codec().decode(reader)
              break
            }
            case 7: {
              obj.to = Health.codec().decode(reader)
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<Event>): Uint8Array => {
    return encodeMessage(obj, Event.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Event>): Event => {
    return decodeMessage(buf, Event.codec(), opts)
  }
}

export interface RoundMessage {
  sessionId: string
  round: number
  to: Uint8Array
  payload: Uint8Array
}

export namespace RoundMessage {
  let _codec: Codec<RoundMessage>

  export const codec = (): Codec<RoundMessage> => {
    if (_codec == null) {
      _codec = message<RoundMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(10)
          w.string(obj.sessionId)
        }

        if ((obj.round != null && obj.round !== 0)) {
          w.uint32(16)
          w.uint32(obj.round)
        }

        if ((obj.to != null && obj.to.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.to)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.payload)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          sessionId: '',
          round: 0,
          to: uint8ArrayAlloc(0),
          payload: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sessionId = reader.string()
              break
            }
            case 2: {
              obj.round = reader.uint32()
              break
            }
            case 3: {
              obj.to = reader.bytes()
              break
            }
            case 4: {
              obj.payload = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<RoundMessage>): Uint8Array => {
    return encodeMessage(obj, RoundMessage.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RoundMessage>): RoundMessage => {
    return decodeMessage(buf, RoundMessage.codec(), opts)
  }
}

export interface CommandRequest {
  version: number
  clusterId: string
  join?: JoinRequest
  status?: StatusRequest
  rosterUpdate?: RosterUpdate
}

export namespace CommandRequest {
  let _codec: Codec<CommandRequest>

  export const codec = (): Codec<CommandRequest> => {
    if (_codec == null) {
      _codec = message<CommandRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.clusterId != null && obj.clusterId !== '')) {
          w.uint32(18)
          w.string(obj.clusterId)
        }

        if (obj.join != null) {
          w.uint32(82)
          JoinRequest.codec().encode(obj.join, w)
        }

        if (obj.status != null) {
          w.uint32(90)
          StatusRequest.codec().encode(obj.status, w)
        }

        if (obj.rosterUpdate != null) {
          w.uint32(98)
          RosterUpdate.codec().encode(obj.rosterUpdate, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          clusterId: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.clusterId = reader.string()
              break
            }
            case 10: {
              obj.join = JoinRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.join
              })
              break
            }
            case 11: {
              obj.status = StatusRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 12: {
              obj.rosterUpdate = RosterUpdate.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.rosterUpdate
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<CommandRequest>): Uint8Array => {
    return encodeMessage(obj, CommandRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommandRequest>): CommandRequest => {
    return decodeMessage(buf, CommandRequest.codec(), opts)
  }
}

export interface CommandResponse {
  error?: CommandError
  join?: JoinResponse
  status?: StatusResponse
  rosterUpdate?: RosterAck
}

export namespace CommandResponse {
  let _codec: Codec<CommandResponse>

  export const codec = (): Codec<CommandResponse> => {
    if (_codec == null) {
      _codec = message<CommandResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.error != null) {
          w.uint32(10)
          CommandError.codec().encode(obj.error, w)
        }

        if (obj.join != null) {
          w.uint32(82)
          JoinResponse.codec().encode(obj.join, w)
        }

        if (obj.status != null) {
          w.uint32(90)
          StatusResponse.codec().encode(obj.status, w)
        }

        if (obj.rosterUpdate != null) {
          w.uint32(98)
          RosterAck.codec().encode(obj.rosterUpdate, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.error = CommandError.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.error
              })
              break
            }
            case 10: {
              obj.join = JoinResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.join
              })
              break
            }
            case 11: {
              obj.status = StatusResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 12: {
              obj.rosterUpdate = RosterAck.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.rosterUpdate
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<CommandResponse>): Uint8Array => {
    return encodeMessage(obj, CommandResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommandResponse>): CommandResponse => {
    return decodeMessage(buf, CommandResponse.codec(), opts)
  }
}

export enum ErrorCode {
  ERROR_UNSPECIFIED = 'ERROR_UNSPECIFIED',
  BAD_REQUEST = 'BAD_REQUEST',
  UNAUTHORIZED = 'UNAUTHORIZED',
  WRONG_CLUSTER = 'WRONG_CLUSTER',
  BAD_TOKEN = 'BAD_TOKEN',
  UNSUPPORTED = 'UNSUPPORTED',
  STALE = 'STALE',
  INTERNAL = 'INTERNAL'
}

enum __ErrorCodeValues {
  ERROR_UNSPECIFIED = 0,
  BAD_REQUEST = 1,
  UNAUTHORIZED = 2,
  WRONG_CLUSTER = 3,
  BAD_TOKEN = 4,
  UNSUPPORTED = 5,
  STALE = 6,
  INTERNAL = 7
}

export namespace ErrorCode {
  export const codec = (): Codec<ErrorCode> => {
    return enumeration<ErrorCode>(__ErrorCodeValues)
  }
}

export interface CommandError {
  code: ErrorCode
  message: string
}

export namespace CommandError {
  let _codec: Codec<CommandError>

  export const codec = (): Codec<CommandError> => {
    if (_codec == null) {
      _codec = message<CommandError>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.code != null && __ErrorCodeValues[obj.code] !== 0) {
          w.uint32(8)
          ErrorCode.codec().encode(obj.code, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: ErrorCode.ERROR_UNSPECIFIED,
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.code = ErrorCode.codec().decode(reader)
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<CommandError>): Uint8Array => {
    return encodeMessage(obj, CommandError.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommandError>): CommandError => {
    return decodeMessage(buf, CommandError.codec(), opts)
  }
}

export interface JoinRequest {
  token: string
  addrs: Uint8Array[]
  softwareVersion: string
}

export namespace JoinRequest {
  let _codec: Codec<JoinRequest>

  export const codec = (): Codec<JoinRequest> => {
    if (_codec == null) {
      _codec = message<JoinRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.token != null && obj.token !== '')) {
          w.uint32(10)
          w.string(obj.token)
        }

        if (obj.addrs != null) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if ((obj.softwareVersion != null && obj.softwareVersion !== '')) {
          w.uint32(26)
          w.string(obj.softwareVersion)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          token: '',
          addrs: [],
          softwareVersion: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.token = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - map field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 3: {
              obj.softwareVersion = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<JoinRequest>): Uint8Array => {
    return encodeMessage(obj, JoinRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JoinRequest>): JoinRequest => {
    return decodeMessage(buf, JoinRequest.codec(), opts)
  }
}

export interface JoinResponse {
  roster?: SignedRoster
}

export namespace JoinResponse {
  let _codec: Codec<JoinResponse>

  export const codec = (): Codec<JoinResponse> => {
    if (_codec == null) {
      _codec = message<JoinResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.roster != null) {
          w.uint32(10)
          SignedRoster.codec().encode(obj.roster, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.roster = SignedRoster.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.roster
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<JoinResponse>): Uint8Array => {
    return encodeMessage(obj, JoinResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JoinResponse>): JoinResponse => {
    return decodeMessage(buf, JoinResponse.codec(), opts)
  }
}

export interface StatusRequest {}

export namespace StatusRequest {
  let _codec: Codec<StatusRequest>

  export const codec = (): Codec<StatusRequest> => {
    if (_codec == null) {
      _codec = message<StatusRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<StatusRequest>): Uint8Array => {
    return encodeMessage(obj, StatusRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StatusRequest>): StatusRequest => {
    return decodeMessage(buf, StatusRequest.codec(), opts)
  }
}

export interface MemberStatus {
  peerId: Uint8Array
  health: Health
  lastHeartbeatMs: number
}

export namespace MemberStatus {
  let _codec: Codec<MemberStatus>

  export const codec = (): Codec<MemberStatus> => {
    if (_codec == null) {
      _codec = message<MemberStatus>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peerId != null && obj.peerId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.peerId)
        }

        if (obj.health != null && __HealthValues[obj.health] !== 0) {
          w.uint32(16)
          Health.codec().encode(obj.health, w)
        }

        if ((obj.lastHeartbeatMs != null && obj.lastHeartbeatMs !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.lastHeartbeatMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peerId: uint8ArrayAlloc(0),
          health: Health.HEALTH_UNKNOWN,
          lastHeartbeatMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peerId = reader.bytes()
              break
            }
            case 2: {
              obj.health = Health.codec().decode(reader)
              break
            }
            case 3: {
              obj.lastHeartbeatMs = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<MemberStatus>): Uint8Array => {
    return encodeMessage(obj, MemberStatus.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MemberStatus>): MemberStatus => {
    return decodeMessage(buf, MemberStatus.codec(), opts)
  }
}

export interface StatusResponse {
  role: string
  rosterEpoch: number
  uptimeMs: number
  members: MemberStatus[]
}

export namespace StatusResponse {
  let _codec: Codec<StatusResponse>

  export const codec = (): Codec<StatusResponse> => {
    if (_codec == null) {
      _codec = message<StatusResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.role != null && obj.role !== '')) {
          w.uint32(10)
          w.string(obj.role)
        }

        if ((obj.rosterEpoch != null && obj.rosterEpoch !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.rosterEpoch)
        }

        if ((obj.uptimeMs != null && obj.uptimeMs !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.uptimeMs)
        }

        if (obj.members != null) {
          for (const value of obj.members) {
            w.uint32(34)
            MemberStatus.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          role: '',
          rosterEpoch: 0,
          uptimeMs: 0,
          members: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.role = reader.string()
              break
            }
            case 2: {
              obj.rosterEpoch = reader.uint64Number()
              break
            }
            case 3: {
              obj.uptimeMs = reader.uint64Number()
              break
            }
            case 4: {
              if (opts.limits?.members != null && obj.members.length === opts.limits.members) {
                throw new MaxLengthError('Decode error - map field "members" had too many elements')
              }

              obj.members.push(MemberStatus.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.members$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<StatusResponse>): Uint8Array => {
    return encodeMessage(obj, StatusResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StatusResponse>): StatusResponse => {
    return decodeMessage(buf, StatusResponse.codec(), opts)
  }
}

export interface RosterUpdate {
  roster?: SignedRoster
}

export namespace RosterUpdate {
  let _codec: Codec<RosterUpdate>

  export const codec = (): Codec<RosterUpdate> => {
    if (_codec == null) {
      _codec = message<RosterUpdate>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.roster != null) {
          w.uint32(10)
          SignedRoster.codec().encode(obj.roster, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.roster = SignedRoster.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.roster
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<RosterUpdate>): Uint8Array => {
    return encodeMessage(obj, RosterUpdate.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RosterUpdate>): RosterUpdate => {
    return decodeMessage(buf, RosterUpdate.codec(), opts)
  }
}

export interface RosterAck {
  epoch: number
}

export namespace RosterAck {
  let _codec: Codec<RosterAck>

  export const codec = (): Codec<RosterAck> => {
    if (_codec == null) {
      _codec = message<RosterAck>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.epoch)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.epoch = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<RosterAck>): Uint8Array => {
    return encodeMessage(obj, RosterAck.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RosterAck>): RosterAck => {
    return decodeMessage(buf, RosterAck.codec(), opts)
  }
}
