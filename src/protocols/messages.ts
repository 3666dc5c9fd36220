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
  events?: EventBatch
  round?: RoundMessage
  digest?: StateDigest
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

        if (obj.events != null) {
          w.uint32(98)
          EventBatch.codec().encode(obj.events, w)
        }

        if (obj.round != null) {
          w.uint32(106)
          RoundMessage.codec().encode(obj.round, w)
        }

        if (obj.digest != null) {
          w.uint32(114)
          StateDigest.codec().encode(obj.digest, w)
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
              obj.events = EventBatch.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.events
              })
              break
            }
            case 13: {
              obj.round = RoundMessage.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.round
              })
              break
            }
            case 14: {
              obj.digest = StateDigest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.digest
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

export interface SignedRecord {
  id: string
  version: number
  body: Uint8Array
  signature: Uint8Array
}

export namespace SignedRecord {
  let _codec: Codec<SignedRecord>

  export const codec = (): Codec<SignedRecord> => {
    if (_codec == null) {
      _codec = message<SignedRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.version)
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.body)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          version: 0,
          body: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.version = reader.uint64Number()
              break
            }
            case 3: {
              obj.body = reader.bytes()
              break
            }
            case 4: {
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

  export const encode = (obj: Partial<SignedRecord>): Uint8Array => {
    return encodeMessage(obj, SignedRecord.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedRecord>): SignedRecord => {
    return decodeMessage(buf, SignedRecord.codec(), opts)
  }
}

export interface KeyRecordBody {
  id: string
  scheme: string
  threshold: number
  holders: Uint8Array[]
  groupPublicKey: Uint8Array
  publicPackage: Uint8Array
  sessionId: string
  transcriptHash: Uint8Array
  createdAtMs: number
  holderSignatures: Uint8Array[]
  chainCode: Uint8Array
}

export namespace KeyRecordBody {
  let _codec: Codec<KeyRecordBody>

  export const codec = (): Codec<KeyRecordBody> => {
    if (_codec == null) {
      _codec = message<KeyRecordBody>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.scheme != null && obj.scheme !== '')) {
          w.uint32(18)
          w.string(obj.scheme)
        }

        if ((obj.threshold != null && obj.threshold !== 0)) {
          w.uint32(24)
          w.uint32(obj.threshold)
        }

        if (obj.holders != null) {
          for (const value of obj.holders) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if ((obj.groupPublicKey != null && obj.groupPublicKey.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.groupPublicKey)
        }

        if ((obj.publicPackage != null && obj.publicPackage.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.publicPackage)
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(58)
          w.string(obj.sessionId)
        }

        if ((obj.transcriptHash != null && obj.transcriptHash.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.transcriptHash)
        }

        if ((obj.createdAtMs != null && obj.createdAtMs !== 0)) {
          w.uint32(72)
          w.uint64Number(obj.createdAtMs)
        }

        if (obj.holderSignatures != null) {
          for (const value of obj.holderSignatures) {
            w.uint32(82)
            w.bytes(value)
          }
        }

        if ((obj.chainCode != null && obj.chainCode.byteLength > 0)) {
          w.uint32(90)
          w.bytes(obj.chainCode)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          scheme: '',
          threshold: 0,
          holders: [],
          groupPublicKey: uint8ArrayAlloc(0),
          publicPackage: uint8ArrayAlloc(0),
          sessionId: '',
          transcriptHash: uint8ArrayAlloc(0),
          createdAtMs: 0,
          holderSignatures: [],
          chainCode: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.scheme = reader.string()
              break
            }
            case 3: {
              obj.threshold = reader.uint32()
              break
            }
            case 4: {
              if (opts.limits?.holders != null && obj.holders.length === opts.limits.holders) {
                throw new MaxLengthError('Decode error - map field "holders" had too many elements')
              }

              obj.holders.push(reader.bytes())
              break
            }
            case 5: {
              obj.groupPublicKey = reader.bytes()
              break
            }
            case 6: {
              obj.publicPackage = reader.bytes()
              break
            }
            case 7: {
              obj.sessionId = reader.string()
              break
            }
            case 8: {
              obj.transcriptHash = reader.bytes()
              break
            }
            case 9: {
              obj.createdAtMs = reader.uint64Number()
              break
            }
            case 10: {
              if (opts.limits?.holderSignatures != null && obj.holderSignatures.length === opts.limits.holderSignatures) {
                throw new MaxLengthError('Decode error - map field "holderSignatures" had too many elements')
              }

              obj.holderSignatures.push(reader.bytes())
              break
            }
            case 11: {
              obj.chainCode = reader.bytes()
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

  export const encode = (obj: Partial<KeyRecordBody>): Uint8Array => {
    return encodeMessage(obj, KeyRecordBody.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeyRecordBody>): KeyRecordBody => {
    return decodeMessage(buf, KeyRecordBody.codec(), opts)
  }
}

export interface StateDigest {
  rosterEpoch: number
  records: number
  hash: Uint8Array
}

export namespace StateDigest {
  let _codec: Codec<StateDigest>

  export const codec = (): Codec<StateDigest> => {
    if (_codec == null) {
      _codec = message<StateDigest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.rosterEpoch != null && obj.rosterEpoch !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.rosterEpoch)
        }

        if ((obj.records != null && obj.records !== 0)) {
          w.uint32(16)
          w.uint32(obj.records)
        }

        if ((obj.hash != null && obj.hash.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.hash)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          rosterEpoch: 0,
          records: 0,
          hash: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.rosterEpoch = reader.uint64Number()
              break
            }
            case 2: {
              obj.records = reader.uint32()
              break
            }
            case 3: {
              obj.hash = reader.bytes()
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

  export const encode = (obj: Partial<StateDigest>): Uint8Array => {
    return encodeMessage(obj, StateDigest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StateDigest>): StateDigest => {
    return decodeMessage(buf, StateDigest.codec(), opts)
  }
}

export interface RecordVersion {
  id: string
  version: number
  bodyHash: Uint8Array
}

export namespace RecordVersion {
  let _codec: Codec<RecordVersion>

  export const codec = (): Codec<RecordVersion> => {
    if (_codec == null) {
      _codec = message<RecordVersion>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.version)
        }

        if ((obj.bodyHash != null && obj.bodyHash.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.bodyHash)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          version: 0,
          bodyHash: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.version = reader.uint64Number()
              break
            }
            case 3: {
              obj.bodyHash = reader.bytes()
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

  export const encode = (obj: Partial<RecordVersion>): Uint8Array => {
    return encodeMessage(obj, RecordVersion.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordVersion>): RecordVersion => {
    return decodeMessage(buf, RecordVersion.codec(), opts)
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
  stateHash: Uint8Array
  keysLost: number
  recordConflicts: number
  directLinks: number
  relayedLinks: number
  linkUpgrades: number
  startedAtMs: number
  sentAtMs: number
  poolEpoch: Uint8Array
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

        if ((obj.stateHash != null && obj.stateHash.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.stateHash)
        }

        if ((obj.keysLost != null && obj.keysLost !== 0)) {
          w.uint32(72)
          w.uint32(obj.keysLost)
        }

        if ((obj.recordConflicts != null && obj.recordConflicts !== 0)) {
          w.uint32(80)
          w.uint32(obj.recordConflicts)
        }

        if ((obj.directLinks != null && obj.directLinks !== 0)) {
          w.uint32(88)
          w.uint32(obj.directLinks)
        }

        if ((obj.relayedLinks != null && obj.relayedLinks !== 0)) {
          w.uint32(96)
          w.uint32(obj.relayedLinks)
        }

        if ((obj.linkUpgrades != null && obj.linkUpgrades !== 0)) {
          w.uint32(104)
          w.uint32(obj.linkUpgrades)
        }

        if ((obj.startedAtMs != null && obj.startedAtMs !== 0)) {
          w.uint32(112)
          w.uint64Number(obj.startedAtMs)
        }

        if ((obj.sentAtMs != null && obj.sentAtMs !== 0)) {
          w.uint32(120)
          w.uint64Number(obj.sentAtMs)
        }

        if ((obj.poolEpoch != null && obj.poolEpoch.byteLength > 0)) {
          w.uint32(130)
          w.bytes(obj.poolEpoch)
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
          rosterEpoch: 0,
          stateHash: uint8ArrayAlloc(0),
          keysLost: 0,
          recordConflicts: 0,
          directLinks: 0,
          relayedLinks: 0,
          linkUpgrades: 0,
          startedAtMs: 0,
          sentAtMs: 0,
          poolEpoch: uint8ArrayAlloc(0)
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
            case 8: {
              obj.stateHash = reader.bytes()
              break
            }
            case 9: {
              obj.keysLost = reader.uint32()
              break
            }
            case 10: {
              obj.recordConflicts = reader.uint32()
              break
            }
            case 11: {
              obj.directLinks = reader.uint32()
              break
            }
            case 12: {
              obj.relayedLinks = reader.uint32()
              break
            }
            case 13: {
              obj.linkUpgrades = reader.uint32()
              break
            }
            case 14: {
              obj.startedAtMs = reader.uint64Number()
              break
            }
            case 15: {
              obj.sentAtMs = reader.uint64Number()
              break
            }
            case 16: {
              obj.poolEpoch = reader.bytes()
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
  HEALTH_CHANGED = 'HEALTH_CHANGED',
  SESSION_STARTED = 'SESSION_STARTED',
  SESSION_FINISHED = 'SESSION_FINISHED',
  SESSION_FAILED = 'SESSION_FAILED',
  BLAME = 'BLAME',
  CONFLICT = 'CONFLICT',
  MEMBER_PENDING = 'MEMBER_PENDING',
  MEMBER_REJECTED = 'MEMBER_REJECTED',
  MEMBER_REMOVED = 'MEMBER_REMOVED',
  INVITATION_CREATED = 'INVITATION_CREATED',
  BLAME_CLAIM = 'BLAME_CLAIM',
  POLICY_DENIED = 'POLICY_DENIED',
  POLICY_CHANGED = 'POLICY_CHANGED'
}

enum __EventKindValues {
  EVENT_UNKNOWN = 0,
  MEMBER_JOINED = 1,
  MEMBER_ADDRS_CHANGED = 2,
  HEALTH_CHANGED = 3,
  SESSION_STARTED = 4,
  SESSION_FINISHED = 5,
  SESSION_FAILED = 6,
  BLAME = 7,
  CONFLICT = 8,
  MEMBER_PENDING = 9,
  MEMBER_REJECTED = 10,
  MEMBER_REMOVED = 11,
  INVITATION_CREATED = 12,
  BLAME_CLAIM = 13,
  POLICY_DENIED = 14,
  POLICY_CHANGED = 15
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
  operation: string
  sessionId: string
  keyId: string
  detail: string
  culprits: Uint8Array[]
  accused: Uint8Array[]
  signers: Uint8Array[]
  requestHash: string
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

        if ((obj.operation != null && obj.operation !== '')) {
          w.uint32(66)
          w.string(obj.operation)
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(74)
          w.string(obj.sessionId)
        }

        if ((obj.keyId != null && obj.keyId !== '')) {
          w.uint32(82)
          w.string(obj.keyId)
        }

        if ((obj.detail != null && obj.detail !== '')) {
          w.uint32(90)
          w.string(obj.detail)
        }

        if (obj.culprits != null) {
          for (const value of obj.culprits) {
            w.uint32(98)
            w.bytes(value)
          }
        }

        if (obj.accused != null) {
          for (const value of obj.accused) {
            w.uint32(106)
            w.bytes(value)
          }
        }

        if (obj.signers != null) {
          for (const value of obj.signers) {
            w.uint32(114)
            w.bytes(value)
          }
        }

        if ((obj.requestHash != null && obj.requestHash !== '')) {
          w.uint32(122)
          w.string(obj.requestHash)
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
          to: Health.HEALTH_UNKNOWN,
          operation: '',
          sessionId: '',
          keyId: '',
          detail: '',
          culprits: [],
          accused: [],
          signers: [],
          requestHash: ''
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
            case 8: {
              obj.operation = reader.string()
              break
            }
            case 9: {
              obj.sessionId = reader.string()
              break
            }
            case 10: {
              obj.keyId = reader.string()
              break
            }
            case 11: {
              obj.detail = reader.string()
              break
            }
            case 12: {
              if (opts.limits?.culprits != null && obj.culprits.length === opts.limits.culprits) {
                throw new MaxLengthError('Decode error - map field "culprits" had too many elements')
              }

              obj.culprits.push(reader.bytes())
              break
            }
            case 13: {
              if (opts.limits?.accused != null && obj.accused.length === opts.limits.accused) {
                throw new MaxLengthError('Decode error - map field "accused" had too many elements')
              }

              obj.accused.push(reader.bytes())
              break
            }
            case 14: {
              if (opts.limits?.signers != null && obj.signers.length === opts.limits.signers) {
                throw new MaxLengthError('Decode error - map field "signers" had too many elements')
              }

              obj.signers.push(reader.bytes())
              break
            }
            case 15: {
              obj.requestHash = reader.string()
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

export interface EventBatch {
  events: Event[]
}

export namespace EventBatch {
  let _codec: Codec<EventBatch>

  export const codec = (): Codec<EventBatch> => {
    if (_codec == null) {
      _codec = message<EventBatch>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.events != null) {
          for (const value of obj.events) {
            w.uint32(10)
            Event.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          events: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.events != null && obj.events.length === opts.limits.events) {
                throw new MaxLengthError('Decode error - map field "events" had too many elements')
              }

              obj.events.push(Event.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.events$
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

  export const encode = (obj: Partial<EventBatch>): Uint8Array => {
    return encodeMessage(obj, EventBatch.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EventBatch>): EventBatch => {
    return decodeMessage(buf, EventBatch.codec(), opts)
  }
}

export interface RoundMessage {
  sessionId: string
  dkgRound1?: DkgRound1
  dkgRound2?: DkgRound2
  nack?: RoundNack
  reshareRound1?: ReshareRound1
  reshareRound2?: ReshareRound2
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

        if (obj.dkgRound1 != null) {
          w.uint32(82)
          DkgRound1.codec().encode(obj.dkgRound1, w)
        }

        if (obj.dkgRound2 != null) {
          w.uint32(90)
          DkgRound2.codec().encode(obj.dkgRound2, w)
        }

        if (obj.nack != null) {
          w.uint32(98)
          RoundNack.codec().encode(obj.nack, w)
        }

        if (obj.reshareRound1 != null) {
          w.uint32(106)
          ReshareRound1.codec().encode(obj.reshareRound1, w)
        }

        if (obj.reshareRound2 != null) {
          w.uint32(114)
          ReshareRound2.codec().encode(obj.reshareRound2, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          sessionId: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sessionId = reader.string()
              break
            }
            case 10: {
              obj.dkgRound1 = DkgRound1.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.dkgRound1
              })
              break
            }
            case 11: {
              obj.dkgRound2 = DkgRound2.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.dkgRound2
              })
              break
            }
            case 12: {
              obj.nack = RoundNack.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.nack
              })
              break
            }
            case 13: {
              obj.reshareRound1 = ReshareRound1.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reshareRound1
              })
              break
            }
            case 14: {
              obj.reshareRound2 = ReshareRound2.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reshareRound2
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

  export const encode = (obj: Partial<RoundMessage>): Uint8Array => {
    return encodeMessage(obj, RoundMessage.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RoundMessage>): RoundMessage => {
    return decodeMessage(buf, RoundMessage.codec(), opts)
  }
}

export interface ReshareRound1 {
  ephemeralPublicKey: Uint8Array
}

export namespace ReshareRound1 {
  let _codec: Codec<ReshareRound1>

  export const codec = (): Codec<ReshareRound1> => {
    if (_codec == null) {
      _codec = message<ReshareRound1>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ephemeralPublicKey != null && obj.ephemeralPublicKey.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.ephemeralPublicKey)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ephemeralPublicKey: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ephemeralPublicKey = reader.bytes()
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

  export const encode = (obj: Partial<ReshareRound1>): Uint8Array => {
    return encodeMessage(obj, ReshareRound1.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ReshareRound1>): ReshareRound1 => {
    return decodeMessage(buf, ReshareRound1.codec(), opts)
  }
}

export interface ReshareRound2 {
  commitment: Uint8Array[]
  shares: SealedShare[]
}

export namespace ReshareRound2 {
  let _codec: Codec<ReshareRound2>

  export const codec = (): Codec<ReshareRound2> => {
    if (_codec == null) {
      _codec = message<ReshareRound2>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.commitment != null) {
          for (const value of obj.commitment) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (obj.shares != null) {
          for (const value of obj.shares) {
            w.uint32(18)
            SealedShare.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          commitment: [],
          shares: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.commitment != null && obj.commitment.length === opts.limits.commitment) {
                throw new MaxLengthError('Decode error - map field "commitment" had too many elements')
              }

              obj.commitment.push(reader.bytes())
              break
            }
            case 2: {
              if (opts.limits?.shares != null && obj.shares.length === opts.limits.shares) {
                throw new MaxLengthError('Decode error - map field "shares" had too many elements')
              }

              obj.shares.push(SealedShare.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.shares$
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

  export const encode = (obj: Partial<ReshareRound2>): Uint8Array => {
    return encodeMessage(obj, ReshareRound2.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ReshareRound2>): ReshareRound2 => {
    return decodeMessage(buf, ReshareRound2.codec(), opts)
  }
}

export interface DkgRound1 {
  commitment: Uint8Array[]
  proofOfKnowledge: Uint8Array
  ephemeralPublicKey: Uint8Array
}

export namespace DkgRound1 {
  let _codec: Codec<DkgRound1>

  export const codec = (): Codec<DkgRound1> => {
    if (_codec == null) {
      _codec = message<DkgRound1>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.commitment != null) {
          for (const value of obj.commitment) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if ((obj.proofOfKnowledge != null && obj.proofOfKnowledge.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.proofOfKnowledge)
        }

        if ((obj.ephemeralPublicKey != null && obj.ephemeralPublicKey.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.ephemeralPublicKey)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          commitment: [],
          proofOfKnowledge: uint8ArrayAlloc(0),
          ephemeralPublicKey: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.commitment != null && obj.commitment.length === opts.limits.commitment) {
                throw new MaxLengthError('Decode error - map field "commitment" had too many elements')
              }

              obj.commitment.push(reader.bytes())
              break
            }
            case 2: {
              obj.proofOfKnowledge = reader.bytes()
              break
            }
            case 3: {
              obj.ephemeralPublicKey = reader.bytes()
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

  export const encode = (obj: Partial<DkgRound1>): Uint8Array => {
    return encodeMessage(obj, DkgRound1.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DkgRound1>): DkgRound1 => {
    return decodeMessage(buf, DkgRound1.codec(), opts)
  }
}

export interface SealedShare {
  to: Uint8Array
  sealed: Uint8Array
}

export namespace SealedShare {
  let _codec: Codec<SealedShare>

  export const codec = (): Codec<SealedShare> => {
    if (_codec == null) {
      _codec = message<SealedShare>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.to != null && obj.to.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.to)
        }

        if ((obj.sealed != null && obj.sealed.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.sealed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          to: uint8ArrayAlloc(0),
          sealed: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.to = reader.bytes()
              break
            }
            case 2: {
              obj.sealed = reader.bytes()
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

  export const encode = (obj: Partial<SealedShare>): Uint8Array => {
    return encodeMessage(obj, SealedShare.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SealedShare>): SealedShare => {
    return decodeMessage(buf, SealedShare.codec(), opts)
  }
}

export interface DkgRound2 {
  shares: SealedShare[]
}

export namespace DkgRound2 {
  let _codec: Codec<DkgRound2>

  export const codec = (): Codec<DkgRound2> => {
    if (_codec == null) {
      _codec = message<DkgRound2>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.shares != null) {
          for (const value of obj.shares) {
            w.uint32(10)
            SealedShare.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          shares: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.shares != null && obj.shares.length === opts.limits.shares) {
                throw new MaxLengthError('Decode error - map field "shares" had too many elements')
              }

              obj.shares.push(SealedShare.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.shares$
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

  export const encode = (obj: Partial<DkgRound2>): Uint8Array => {
    return encodeMessage(obj, DkgRound2.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DkgRound2>): DkgRound2 => {
    return decodeMessage(buf, DkgRound2.codec(), opts)
  }
}

export interface RoundNack {
  round: number
  missing: Uint8Array[]
}

export namespace RoundNack {
  let _codec: Codec<RoundNack>

  export const codec = (): Codec<RoundNack> => {
    if (_codec == null) {
      _codec = message<RoundNack>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.round != null && obj.round !== 0)) {
          w.uint32(8)
          w.uint32(obj.round)
        }

        if (obj.missing != null) {
          for (const value of obj.missing) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          round: 0,
          missing: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.round = reader.uint32()
              break
            }
            case 2: {
              if (opts.limits?.missing != null && obj.missing.length === opts.limits.missing) {
                throw new MaxLengthError('Decode error - map field "missing" had too many elements')
              }

              obj.missing.push(reader.bytes())
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

  export const encode = (obj: Partial<RoundNack>): Uint8Array => {
    return encodeMessage(obj, RoundNack.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RoundNack>): RoundNack => {
    return decodeMessage(buf, RoundNack.codec(), opts)
  }
}

export interface CommandRequest {
  version: number
  clusterId: string
  join?: JoinRequest
  status?: StatusRequest
  rosterUpdate?: RosterUpdate
  keygen?: KeygenRequest
  keyCommit?: KeyCommitRequest
  signCommit?: SignCommitRequest
  signShare?: SignShareRequest
  abort?: AbortRequest
  listRecords?: ListRecordsRequest
  fetchRecords?: FetchRecordsRequest
  fetchEvents?: FetchEventsRequest
  fetchAudit?: FetchAuditRequest
  noncePool?: NoncePoolRequest
  reshare?: ReshareRequest
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

        if (obj.keygen != null) {
          w.uint32(106)
          KeygenRequest.codec().encode(obj.keygen, w)
        }

        if (obj.keyCommit != null) {
          w.uint32(114)
          KeyCommitRequest.codec().encode(obj.keyCommit, w)
        }

        if (obj.signCommit != null) {
          w.uint32(122)
          SignCommitRequest.codec().encode(obj.signCommit, w)
        }

        if (obj.signShare != null) {
          w.uint32(130)
          SignShareRequest.codec().encode(obj.signShare, w)
        }

        if (obj.abort != null) {
          w.uint32(138)
          AbortRequest.codec().encode(obj.abort, w)
        }

        if (obj.listRecords != null) {
          w.uint32(146)
          ListRecordsRequest.codec().encode(obj.listRecords, w)
        }

        if (obj.fetchRecords != null) {
          w.uint32(154)
          FetchRecordsRequest.codec().encode(obj.fetchRecords, w)
        }

        if (obj.fetchEvents != null) {
          w.uint32(162)
          FetchEventsRequest.codec().encode(obj.fetchEvents, w)
        }

        if (obj.fetchAudit != null) {
          w.uint32(170)
          FetchAuditRequest.codec().encode(obj.fetchAudit, w)
        }

        if (obj.noncePool != null) {
          w.uint32(178)
          NoncePoolRequest.codec().encode(obj.noncePool, w)
        }

        if (obj.reshare != null) {
          w.uint32(186)
          ReshareRequest.codec().encode(obj.reshare, w)
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
            case 13: {
              obj.keygen = KeygenRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.keygen
              })
              break
            }
            case 14: {
              obj.keyCommit = KeyCommitRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.keyCommit
              })
              break
            }
            case 15: {
              obj.signCommit = SignCommitRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.signCommit
              })
              break
            }
            case 16: {
              obj.signShare = SignShareRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.signShare
              })
              break
            }
            case 17: {
              obj.abort = AbortRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.abort
              })
              break
            }
            case 18: {
              obj.listRecords = ListRecordsRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.listRecords
              })
              break
            }
            case 19: {
              obj.fetchRecords = FetchRecordsRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fetchRecords
              })
              break
            }
            case 20: {
              obj.fetchEvents = FetchEventsRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fetchEvents
              })
              break
            }
            case 21: {
              obj.fetchAudit = FetchAuditRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fetchAudit
              })
              break
            }
            case 22: {
              obj.noncePool = NoncePoolRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.noncePool
              })
              break
            }
            case 23: {
              obj.reshare = ReshareRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reshare
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
  keygen?: KeygenResponse
  keyCommit?: KeyCommitResponse
  signCommit?: SignCommitResponse
  signShare?: SignShareResponse
  abort?: AbortResponse
  listRecords?: ListRecordsResponse
  fetchRecords?: FetchRecordsResponse
  fetchEvents?: EventBatch
  fetchAudit?: FetchAuditResponse
  noncePool?: NoncePoolResponse
  reshare?: KeygenResponse
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

        if (obj.keygen != null) {
          w.uint32(106)
          KeygenResponse.codec().encode(obj.keygen, w)
        }

        if (obj.keyCommit != null) {
          w.uint32(114)
          KeyCommitResponse.codec().encode(obj.keyCommit, w)
        }

        if (obj.signCommit != null) {
          w.uint32(122)
          SignCommitResponse.codec().encode(obj.signCommit, w)
        }

        if (obj.signShare != null) {
          w.uint32(130)
          SignShareResponse.codec().encode(obj.signShare, w)
        }

        if (obj.abort != null) {
          w.uint32(138)
          AbortResponse.codec().encode(obj.abort, w)
        }

        if (obj.listRecords != null) {
          w.uint32(146)
          ListRecordsResponse.codec().encode(obj.listRecords, w)
        }

        if (obj.fetchRecords != null) {
          w.uint32(154)
          FetchRecordsResponse.codec().encode(obj.fetchRecords, w)
        }

        if (obj.fetchEvents != null) {
          w.uint32(162)
          EventBatch.codec().encode(obj.fetchEvents, w)
        }

        if (obj.fetchAudit != null) {
          w.uint32(170)
          FetchAuditResponse.codec().encode(obj.fetchAudit, w)
        }

        if (obj.noncePool != null) {
          w.uint32(178)
          NoncePoolResponse.codec().encode(obj.noncePool, w)
        }

        if (obj.reshare != null) {
          w.uint32(186)
          KeygenResponse.codec().encode(obj.reshare, w)
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
            case 13: {
              obj.keygen = KeygenResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.keygen
              })
              break
            }
            case 14: {
              obj.keyCommit = KeyCommitResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.keyCommit
              })
              break
            }
            case 15: {
              obj.signCommit = SignCommitResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.signCommit
              })
              break
            }
            case 16: {
              obj.signShare = SignShareResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.signShare
              })
              break
            }
            case 17: {
              obj.abort = AbortResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.abort
              })
              break
            }
            case 18: {
              obj.listRecords = ListRecordsResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.listRecords
              })
              break
            }
            case 19: {
              obj.fetchRecords = FetchRecordsResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fetchRecords
              })
              break
            }
            case 20: {
              obj.fetchEvents = EventBatch.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fetchEvents
              })
              break
            }
            case 21: {
              obj.fetchAudit = FetchAuditResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fetchAudit
              })
              break
            }
            case 22: {
              obj.noncePool = NoncePoolResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.noncePool
              })
              break
            }
            case 23: {
              obj.reshare = KeygenResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reshare
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
  INTERNAL = 'INTERNAL',
  BLAME = 'BLAME',
  NOT_FOUND = 'NOT_FOUND',
  TIMEOUT = 'TIMEOUT',
  PENDING = 'PENDING',
  LIMIT = 'LIMIT',
  BUSY = 'BUSY',
  POLICY_DENIED = 'POLICY_DENIED',
  POOL_MISS = 'POOL_MISS'
}

enum __ErrorCodeValues {
  ERROR_UNSPECIFIED = 0,
  BAD_REQUEST = 1,
  UNAUTHORIZED = 2,
  WRONG_CLUSTER = 3,
  BAD_TOKEN = 4,
  UNSUPPORTED = 5,
  STALE = 6,
  INTERNAL = 7,
  BLAME = 8,
  NOT_FOUND = 9,
  TIMEOUT = 10,
  PENDING = 11,
  LIMIT = 12,
  BUSY = 13,
  POLICY_DENIED = 14,
  POOL_MISS = 15
}

export namespace ErrorCode {
  export const codec = (): Codec<ErrorCode> => {
    return enumeration<ErrorCode>(__ErrorCodeValues)
  }
}

export interface CommandError {
  code: ErrorCode
  message: string
  culprits: Uint8Array[]
  rule: string
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

        if (obj.culprits != null) {
          for (const value of obj.culprits) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if ((obj.rule != null && obj.rule !== '')) {
          w.uint32(34)
          w.string(obj.rule)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: ErrorCode.ERROR_UNSPECIFIED,
          message: '',
          culprits: [],
          rule: ''
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
            case 3: {
              if (opts.limits?.culprits != null && obj.culprits.length === opts.limits.culprits) {
                throw new MaxLengthError('Decode error - map field "culprits" had too many elements')
              }

              obj.culprits.push(reader.bytes())
              break
            }
            case 4: {
              obj.rule = reader.string()
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
  adminSet: Uint8Array
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

        if ((obj.adminSet != null && obj.adminSet.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.adminSet)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          adminSet: uint8ArrayAlloc(0)
        }

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
            case 2: {
              obj.adminSet = reader.bytes()
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

export interface KeygenRequest {
  keyId: string
  sessionId: string
  scheme: string
  threshold: number
  participants: Uint8Array[]
  timeoutMs: number
  hd?: boolean
}

export namespace KeygenRequest {
  let _codec: Codec<KeygenRequest>

  export const codec = (): Codec<KeygenRequest> => {
    if (_codec == null) {
      _codec = message<KeygenRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.keyId != null && obj.keyId !== '')) {
          w.uint32(10)
          w.string(obj.keyId)
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(18)
          w.string(obj.sessionId)
        }

        if ((obj.scheme != null && obj.scheme !== '')) {
          w.uint32(26)
          w.string(obj.scheme)
        }

        if ((obj.threshold != null && obj.threshold !== 0)) {
          w.uint32(32)
          w.uint32(obj.threshold)
        }

        if (obj.participants != null) {
          for (const value of obj.participants) {
            w.uint32(42)
            w.bytes(value)
          }
        }

        if ((obj.timeoutMs != null && obj.timeoutMs !== 0)) {
          w.uint32(48)
          w.uint32(obj.timeoutMs)
        }

        if (obj.hd != null) {
          w.uint32(56)
          w.bool(obj.hd)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          keyId: '',
          sessionId: '',
          scheme: '',
          threshold: 0,
          participants: [],
          timeoutMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.keyId = reader.string()
              break
            }
            case 2: {
              obj.sessionId = reader.string()
              break
            }
            case 3: {
              obj.scheme = reader.string()
              break
            }
            case 4: {
              obj.threshold = reader.uint32()
              break
            }
            case 5: {
              if (opts.limits?.participants != null && obj.participants.length === opts.limits.participants) {
                throw new MaxLengthError('Decode error - map field "participants" had too many elements')
              }

              obj.participants.push(reader.bytes())
              break
            }
            case 6: {
              obj.timeoutMs = reader.uint32()
              break
            }
            case 7: {
              obj.hd = reader.bool()
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

  export const encode = (obj: Partial<KeygenRequest>): Uint8Array => {
    return encodeMessage(obj, KeygenRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeygenRequest>): KeygenRequest => {
    return decodeMessage(buf, KeygenRequest.codec(), opts)
  }
}

export interface ReshareRequest {
  keyId: string
  sessionId: string
  mode: string
  keyVersion: number
  dealers: Uint8Array[]
  newHolders: Uint8Array[]
  newThreshold: number
  timeoutMs: number
  approvals?: Uint8Array
  approvalExpiresAtMs?: number
}

export namespace ReshareRequest {
  let _codec: Codec<ReshareRequest>

  export const codec = (): Codec<ReshareRequest> => {
    if (_codec == null) {
      _codec = message<ReshareRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.keyId != null && obj.keyId !== '')) {
          w.uint32(10)
          w.string(obj.keyId)
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(18)
          w.string(obj.sessionId)
        }

        if ((obj.mode != null && obj.mode !== '')) {
          w.uint32(26)
          w.string(obj.mode)
        }

        if ((obj.keyVersion != null && obj.keyVersion !== 0)) {
          w.uint32(32)
          w.uint32(obj.keyVersion)
        }

        if (obj.dealers != null) {
          for (const value of obj.dealers) {
            w.uint32(42)
            w.bytes(value)
          }
        }

        if (obj.newHolders != null) {
          for (const value of obj.newHolders) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if ((obj.newThreshold != null && obj.newThreshold !== 0)) {
          w.uint32(56)
          w.uint32(obj.newThreshold)
        }

        if ((obj.timeoutMs != null && obj.timeoutMs !== 0)) {
          w.uint32(64)
          w.uint32(obj.timeoutMs)
        }

        if (obj.approvals != null) {
          w.uint32(74)
          w.bytes(obj.approvals)
        }

        if (obj.approvalExpiresAtMs != null) {
          w.uint32(80)
          w.uint64Number(obj.approvalExpiresAtMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          keyId: '',
          sessionId: '',
          mode: '',
          keyVersion: 0,
          dealers: [],
          newHolders: [],
          newThreshold: 0,
          timeoutMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.keyId = reader.string()
              break
            }
            case 2: {
              obj.sessionId = reader.string()
              break
            }
            case 3: {
              obj.mode = reader.string()
              break
            }
            case 4: {
              obj.keyVersion = reader.uint32()
              break
            }
            case 5: {
              if (opts.limits?.dealers != null && obj.dealers.length === opts.limits.dealers) {
                throw new MaxLengthError('Decode error - map field "dealers" had too many elements')
              }

              obj.dealers.push(reader.bytes())
              break
            }
            case 6: {
              if (opts.limits?.newHolders != null && obj.newHolders.length === opts.limits.newHolders) {
                throw new MaxLengthError('Decode error - map field "newHolders" had too many elements')
              }

              obj.newHolders.push(reader.bytes())
              break
            }
            case 7: {
              obj.newThreshold = reader.uint32()
              break
            }
            case 8: {
              obj.timeoutMs = reader.uint32()
              break
            }
            case 9: {
              obj.approvals = reader.bytes()
              break
            }
            case 10: {
              obj.approvalExpiresAtMs = reader.uint64Number()
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

  export const encode = (obj: Partial<ReshareRequest>): Uint8Array => {
    return encodeMessage(obj, ReshareRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ReshareRequest>): ReshareRequest => {
    return decodeMessage(buf, ReshareRequest.codec(), opts)
  }
}

export interface KeygenResponse {
  groupPublicKey: Uint8Array
  transcriptHash: Uint8Array
  publicPackage: Uint8Array
  round1Digests: Uint8Array[]
  agreementSignature: Uint8Array
}

export namespace KeygenResponse {
  let _codec: Codec<KeygenResponse>

  export const codec = (): Codec<KeygenResponse> => {
    if (_codec == null) {
      _codec = message<KeygenResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.groupPublicKey != null && obj.groupPublicKey.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.groupPublicKey)
        }

        if ((obj.transcriptHash != null && obj.transcriptHash.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.transcriptHash)
        }

        if ((obj.publicPackage != null && obj.publicPackage.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.publicPackage)
        }

        if (obj.round1Digests != null) {
          for (const value of obj.round1Digests) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if ((obj.agreementSignature != null && obj.agreementSignature.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.agreementSignature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          groupPublicKey: uint8ArrayAlloc(0),
          transcriptHash: uint8ArrayAlloc(0),
          publicPackage: uint8ArrayAlloc(0),
          round1Digests: [],
          agreementSignature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.groupPublicKey = reader.bytes()
              break
            }
            case 2: {
              obj.transcriptHash = reader.bytes()
              break
            }
            case 3: {
              obj.publicPackage = reader.bytes()
              break
            }
            case 4: {
              if (opts.limits?.round1Digests != null && obj.round1Digests.length === opts.limits.round1Digests) {
                throw new MaxLengthError('Decode error - map field "round1Digests" had too many elements')
              }

              obj.round1Digests.push(reader.bytes())
              break
            }
            case 5: {
              obj.agreementSignature = reader.bytes()
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

  export const encode = (obj: Partial<KeygenResponse>): Uint8Array => {
    return encodeMessage(obj, KeygenResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeygenResponse>): KeygenResponse => {
    return decodeMessage(buf, KeygenResponse.codec(), opts)
  }
}

export interface KeyCommitRequest {
  keyId: string
  sessionId: string
  commit: boolean
  record?: Uint8Array
}

export namespace KeyCommitRequest {
  let _codec: Codec<KeyCommitRequest>

  export const codec = (): Codec<KeyCommitRequest> => {
    if (_codec == null) {
      _codec = message<KeyCommitRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.keyId != null && obj.keyId !== '')) {
          w.uint32(10)
          w.string(obj.keyId)
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(18)
          w.string(obj.sessionId)
        }

        if ((obj.commit != null && obj.commit !== false)) {
          w.uint32(24)
          w.bool(obj.commit)
        }

        if (obj.record != null) {
          w.uint32(34)
          w.bytes(obj.record)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          keyId: '',
          sessionId: '',
          commit: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.keyId = reader.string()
              break
            }
            case 2: {
              obj.sessionId = reader.string()
              break
            }
            case 3: {
              obj.commit = reader.bool()
              break
            }
            case 4: {
              obj.record = reader.bytes()
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

  export const encode = (obj: Partial<KeyCommitRequest>): Uint8Array => {
    return encodeMessage(obj, KeyCommitRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeyCommitRequest>): KeyCommitRequest => {
    return decodeMessage(buf, KeyCommitRequest.codec(), opts)
  }
}

export interface KeyCommitResponse {}

export namespace KeyCommitResponse {
  let _codec: Codec<KeyCommitResponse>

  export const codec = (): Codec<KeyCommitResponse> => {
    if (_codec == null) {
      _codec = message<KeyCommitResponse>((obj, w, opts = {}) => {
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

  export const encode = (obj: Partial<KeyCommitResponse>): Uint8Array => {
    return encodeMessage(obj, KeyCommitResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeyCommitResponse>): KeyCommitResponse => {
    return decodeMessage(buf, KeyCommitResponse.codec(), opts)
  }
}

export interface NonceCommitment {
  identifier: string
  hiding: Uint8Array
  binding: Uint8Array
}

export namespace NonceCommitment {
  let _codec: Codec<NonceCommitment>

  export const codec = (): Codec<NonceCommitment> => {
    if (_codec == null) {
      _codec = message<NonceCommitment>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.identifier != null && obj.identifier !== '')) {
          w.uint32(10)
          w.string(obj.identifier)
        }

        if ((obj.hiding != null && obj.hiding.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.hiding)
        }

        if ((obj.binding != null && obj.binding.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.binding)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          identifier: '',
          hiding: uint8ArrayAlloc(0),
          binding: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.identifier = reader.string()
              break
            }
            case 2: {
              obj.hiding = reader.bytes()
              break
            }
            case 3: {
              obj.binding = reader.bytes()
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

  export const encode = (obj: Partial<NonceCommitment>): Uint8Array => {
    return encodeMessage(obj, NonceCommitment.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NonceCommitment>): NonceCommitment => {
    return decodeMessage(buf, NonceCommitment.codec(), opts)
  }
}

export interface SignCommitRequest {
  keyId: string
  sessionId: string
  request: Uint8Array
  candidate?: string
}

export namespace SignCommitRequest {
  let _codec: Codec<SignCommitRequest>

  export const codec = (): Codec<SignCommitRequest> => {
    if (_codec == null) {
      _codec = message<SignCommitRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.keyId != null && obj.keyId !== '')) {
          w.uint32(10)
          w.string(obj.keyId)
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(18)
          w.string(obj.sessionId)
        }

        if ((obj.request != null && obj.request.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.request)
        }

        if (obj.candidate != null) {
          w.uint32(34)
          w.string(obj.candidate)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          keyId: '',
          sessionId: '',
          request: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.keyId = reader.string()
              break
            }
            case 2: {
              obj.sessionId = reader.string()
              break
            }
            case 3: {
              obj.request = reader.bytes()
              break
            }
            case 4: {
              obj.candidate = reader.string()
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

  export const encode = (obj: Partial<SignCommitRequest>): Uint8Array => {
    return encodeMessage(obj, SignCommitRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignCommitRequest>): SignCommitRequest => {
    return decodeMessage(buf, SignCommitRequest.codec(), opts)
  }
}

export interface SignCommitResponse {
  commitment?: NonceCommitment
}

export namespace SignCommitResponse {
  let _codec: Codec<SignCommitResponse>

  export const codec = (): Codec<SignCommitResponse> => {
    if (_codec == null) {
      _codec = message<SignCommitResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.commitment != null) {
          w.uint32(10)
          NonceCommitment.codec().encode(obj.commitment, w)
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
              obj.commitment = NonceCommitment.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.commitment
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

  export const encode = (obj: Partial<SignCommitResponse>): Uint8Array => {
    return encodeMessage(obj, SignCommitResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignCommitResponse>): SignCommitResponse => {
    return decodeMessage(buf, SignCommitResponse.codec(), opts)
  }
}

export interface SignShareRequest {
  keyId: string
  sessionId: string
  message: Uint8Array
  commitments: NonceCommitment[]
  request: Uint8Array
  pooled: boolean
  candidate?: string
  path?: string
  transaction?: Uint8Array
  input?: number
}

export namespace SignShareRequest {
  let _codec: Codec<SignShareRequest>

  export const codec = (): Codec<SignShareRequest> => {
    if (_codec == null) {
      _codec = message<SignShareRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.keyId != null && obj.keyId !== '')) {
          w.uint32(10)
          w.string(obj.keyId)
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(18)
          w.string(obj.sessionId)
        }

        if ((obj.message != null && obj.message.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.message)
        }

        if (obj.commitments != null) {
          for (const value of obj.commitments) {
            w.uint32(34)
            NonceCommitment.codec().encode(value, w)
          }
        }

        if ((obj.request != null && obj.request.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.request)
        }

        if ((obj.pooled != null && obj.pooled !== false)) {
          w.uint32(48)
          w.bool(obj.pooled)
        }

        if (obj.candidate != null) {
          w.uint32(58)
          w.string(obj.candidate)
        }

        if (obj.path != null) {
          w.uint32(66)
          w.string(obj.path)
        }

        if (obj.transaction != null) {
          w.uint32(74)
          w.bytes(obj.transaction)
        }

        if (obj.input != null) {
          w.uint32(80)
          w.uint32(obj.input)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          keyId: '',
          sessionId: '',
          message: uint8ArrayAlloc(0),
          commitments: [],
          request: uint8ArrayAlloc(0),
          pooled: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.keyId = reader.string()
              break
            }
            case 2: {
              obj.sessionId = reader.string()
              break
            }
            case 3: {
              obj.message = reader.bytes()
              break
            }
            case 4: {
              if (opts.limits?.commitments != null && obj.commitments.length === opts.limits.commitments) {
                throw new MaxLengthError('Decode error - map field "commitments" had too many elements')
              }

              obj.commitments.push(NonceCommitment.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.commitments$
              }))
              break
            }
            case 5: {
              obj.request = reader.bytes()
              break
            }
            case 6: {
              obj.pooled = reader.bool()
              break
            }
            case 7: {
              obj.candidate = reader.string()
              break
            }
            case 8: {
              obj.path = reader.string()
              break
            }
            case 9: {
              obj.transaction = reader.bytes()
              break
            }
            case 10: {
              obj.input = reader.uint32()
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

  export const encode = (obj: Partial<SignShareRequest>): Uint8Array => {
    return encodeMessage(obj, SignShareRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignShareRequest>): SignShareRequest => {
    return decodeMessage(buf, SignShareRequest.codec(), opts)
  }
}

export interface SignShareResponse {
  share: Uint8Array
}

export namespace SignShareResponse {
  let _codec: Codec<SignShareResponse>

  export const codec = (): Codec<SignShareResponse> => {
    if (_codec == null) {
      _codec = message<SignShareResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.share != null && obj.share.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.share)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          share: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.share = reader.bytes()
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

  export const encode = (obj: Partial<SignShareResponse>): Uint8Array => {
    return encodeMessage(obj, SignShareResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignShareResponse>): SignShareResponse => {
    return decodeMessage(buf, SignShareResponse.codec(), opts)
  }
}

export interface NoncePoolRequest {
  keyId: string
}

export namespace NoncePoolRequest {
  let _codec: Codec<NoncePoolRequest>

  export const codec = (): Codec<NoncePoolRequest> => {
    if (_codec == null) {
      _codec = message<NoncePoolRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.keyId != null && obj.keyId !== '')) {
          w.uint32(10)
          w.string(obj.keyId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          keyId: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.keyId = reader.string()
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

  export const encode = (obj: Partial<NoncePoolRequest>): Uint8Array => {
    return encodeMessage(obj, NoncePoolRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NoncePoolRequest>): NoncePoolRequest => {
    return decodeMessage(buf, NoncePoolRequest.codec(), opts)
  }
}

export interface NoncePoolResponse {
  epoch: Uint8Array
  commitments: NonceCommitment[]
}

export namespace NoncePoolResponse {
  let _codec: Codec<NoncePoolResponse>

  export const codec = (): Codec<NoncePoolResponse> => {
    if (_codec == null) {
      _codec = message<NoncePoolResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.epoch)
        }

        if (obj.commitments != null) {
          for (const value of obj.commitments) {
            w.uint32(18)
            NonceCommitment.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: uint8ArrayAlloc(0),
          commitments: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.epoch = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.commitments != null && obj.commitments.length === opts.limits.commitments) {
                throw new MaxLengthError('Decode error - map field "commitments" had too many elements')
              }

              obj.commitments.push(NonceCommitment.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.commitments$
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

  export const encode = (obj: Partial<NoncePoolResponse>): Uint8Array => {
    return encodeMessage(obj, NoncePoolResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NoncePoolResponse>): NoncePoolResponse => {
    return decodeMessage(buf, NoncePoolResponse.codec(), opts)
  }
}

export interface AbortRequest {
  sessionId: string
}

export namespace AbortRequest {
  let _codec: Codec<AbortRequest>

  export const codec = (): Codec<AbortRequest> => {
    if (_codec == null) {
      _codec = message<AbortRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.sessionId != null && obj.sessionId !== '')) {
          w.uint32(10)
          w.string(obj.sessionId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          sessionId: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sessionId = reader.string()
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

  export const encode = (obj: Partial<AbortRequest>): Uint8Array => {
    return encodeMessage(obj, AbortRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AbortRequest>): AbortRequest => {
    return decodeMessage(buf, AbortRequest.codec(), opts)
  }
}

export interface AbortResponse {}

export namespace AbortResponse {
  let _codec: Codec<AbortResponse>

  export const codec = (): Codec<AbortResponse> => {
    if (_codec == null) {
      _codec = message<AbortResponse>((obj, w, opts = {}) => {
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

  export const encode = (obj: Partial<AbortResponse>): Uint8Array => {
    return encodeMessage(obj, AbortResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AbortResponse>): AbortResponse => {
    return decodeMessage(buf, AbortResponse.codec(), opts)
  }
}

export interface ListRecordsRequest {
  afterId: string
}

export namespace ListRecordsRequest {
  let _codec: Codec<ListRecordsRequest>

  export const codec = (): Codec<ListRecordsRequest> => {
    if (_codec == null) {
      _codec = message<ListRecordsRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.afterId != null && obj.afterId !== '')) {
          w.uint32(10)
          w.string(obj.afterId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          afterId: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.afterId = reader.string()
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

  export const encode = (obj: Partial<ListRecordsRequest>): Uint8Array => {
    return encodeMessage(obj, ListRecordsRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ListRecordsRequest>): ListRecordsRequest => {
    return decodeMessage(buf, ListRecordsRequest.codec(), opts)
  }
}

export interface ListRecordsResponse {
  records: RecordVersion[]
  more: boolean
}

export namespace ListRecordsResponse {
  let _codec: Codec<ListRecordsResponse>

  export const codec = (): Codec<ListRecordsResponse> => {
    if (_codec == null) {
      _codec = message<ListRecordsResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.records != null) {
          for (const value of obj.records) {
            w.uint32(10)
            RecordVersion.codec().encode(value, w)
          }
        }

        if ((obj.more != null && obj.more !== false)) {
          w.uint32(16)
          w.bool(obj.more)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          records: [],
          more: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.records != null && obj.records.length === opts.limits.records) {
                throw new MaxLengthError('Decode error - map field "records" had too many elements')
              }

              obj.records.push(RecordVersion.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.records$
              }))
              break
            }
            case 2: {
              obj.more = reader.bool()
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

  export const encode = (obj: Partial<ListRecordsResponse>): Uint8Array => {
    return encodeMessage(obj, ListRecordsResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ListRecordsResponse>): ListRecordsResponse => {
    return decodeMessage(buf, ListRecordsResponse.codec(), opts)
  }
}

export interface FetchRecordsRequest {
  ids: string[]
}

export namespace FetchRecordsRequest {
  let _codec: Codec<FetchRecordsRequest>

  export const codec = (): Codec<FetchRecordsRequest> => {
    if (_codec == null) {
      _codec = message<FetchRecordsRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.ids != null) {
          for (const value of obj.ids) {
            w.uint32(10)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ids: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.ids != null && obj.ids.length === opts.limits.ids) {
                throw new MaxLengthError('Decode error - map field "ids" had too many elements')
              }

              obj.ids.push(reader.string())
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

  export const encode = (obj: Partial<FetchRecordsRequest>): Uint8Array => {
    return encodeMessage(obj, FetchRecordsRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchRecordsRequest>): FetchRecordsRequest => {
    return decodeMessage(buf, FetchRecordsRequest.codec(), opts)
  }
}

export interface FetchRecordsResponse {
  records: SignedRecord[]
}

export namespace FetchRecordsResponse {
  let _codec: Codec<FetchRecordsResponse>

  export const codec = (): Codec<FetchRecordsResponse> => {
    if (_codec == null) {
      _codec = message<FetchRecordsResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.records != null) {
          for (const value of obj.records) {
            w.uint32(10)
            SignedRecord.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          records: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.records != null && obj.records.length === opts.limits.records) {
                throw new MaxLengthError('Decode error - map field "records" had too many elements')
              }

              obj.records.push(SignedRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.records$
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

  export const encode = (obj: Partial<FetchRecordsResponse>): Uint8Array => {
    return encodeMessage(obj, FetchRecordsResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchRecordsResponse>): FetchRecordsResponse => {
    return decodeMessage(buf, FetchRecordsResponse.codec(), opts)
  }
}

export interface FetchEventsRequest {
  after: number
  limit: number
}

export namespace FetchEventsRequest {
  let _codec: Codec<FetchEventsRequest>

  export const codec = (): Codec<FetchEventsRequest> => {
    if (_codec == null) {
      _codec = message<FetchEventsRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.after != null && obj.after !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.after)
        }

        if ((obj.limit != null && obj.limit !== 0)) {
          w.uint32(16)
          w.uint32(obj.limit)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          after: 0,
          limit: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.after = reader.uint64Number()
              break
            }
            case 2: {
              obj.limit = reader.uint32()
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

  export const encode = (obj: Partial<FetchEventsRequest>): Uint8Array => {
    return encodeMessage(obj, FetchEventsRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchEventsRequest>): FetchEventsRequest => {
    return decodeMessage(buf, FetchEventsRequest.codec(), opts)
  }
}

export interface FetchAuditRequest {
  after: number
  limit: number
}

export namespace FetchAuditRequest {
  let _codec: Codec<FetchAuditRequest>

  export const codec = (): Codec<FetchAuditRequest> => {
    if (_codec == null) {
      _codec = message<FetchAuditRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.after != null && obj.after !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.after)
        }

        if ((obj.limit != null && obj.limit !== 0)) {
          w.uint32(16)
          w.uint32(obj.limit)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          after: 0,
          limit: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.after = reader.uint64Number()
              break
            }
            case 2: {
              obj.limit = reader.uint32()
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

  export const encode = (obj: Partial<FetchAuditRequest>): Uint8Array => {
    return encodeMessage(obj, FetchAuditRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchAuditRequest>): FetchAuditRequest => {
    return decodeMessage(buf, FetchAuditRequest.codec(), opts)
  }
}

export interface FetchAuditResponse {
  entries: Uint8Array[]
  more: boolean
}

export namespace FetchAuditResponse {
  let _codec: Codec<FetchAuditResponse>

  export const codec = (): Codec<FetchAuditResponse> => {
    if (_codec == null) {
      _codec = message<FetchAuditResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.entries != null) {
          for (const value of obj.entries) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if ((obj.more != null && obj.more !== false)) {
          w.uint32(16)
          w.bool(obj.more)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          entries: [],
          more: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - map field "entries" had too many elements')
              }

              obj.entries.push(reader.bytes())
              break
            }
            case 2: {
              obj.more = reader.bool()
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

  export const encode = (obj: Partial<FetchAuditResponse>): Uint8Array => {
    return encodeMessage(obj, FetchAuditResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchAuditResponse>): FetchAuditResponse => {
    return decodeMessage(buf, FetchAuditResponse.codec(), opts)
  }
}
