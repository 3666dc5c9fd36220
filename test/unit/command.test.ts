import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { concat } from 'uint8arrays/concat'
import { beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/log.js'
import { decodeCommandRequest, decodeCommandResponse, dispatchCommand, type CommandContext, type CommandHandlers } from '../../src/protocols/command.js'
import { MAX_ADDRS_PER_MEMBER, COMMAND, MAX_ERROR_MESSAGE_LENGTH, MAX_TOKEN_LENGTH, WIRE_VERSION } from '../../src/protocols/constants.js'
import { CommandRefusedError, MalformedMessageError } from '../../src/protocols/errors.js'
import { CommandRequest, CommandResponse, ErrorCode, type StatusResponse } from '../../src/protocols/messages.js'

const CLUSTER = 'mpc-test'
const log = createLogger('silent')

let ctx: CommandContext

const statusResult: StatusResponse = { role: 'coordinator', rosterEpoch: 4, uptimeMs: 9_000, members: [] }

beforeAll(async () => {
  ctx = { remotePeer: peerIdFromPrivateKey(await generateKeyPair('Ed25519')) }
})

function statusRequest (clusterId = CLUSTER): Uint8Array {
  return CommandRequest.encode({ version: WIRE_VERSION, clusterId, status: {} })
}

/** Dispatches and sends the answer through the wire codec, as a remote caller would see it. */
async function dispatch (bytes: Uint8Array, handlers: CommandHandlers): Promise<CommandResponse> {
  const response = await dispatchCommand(bytes, CLUSTER, handlers, ctx, log)
  return decodeCommandResponse(CommandResponse.encode(response))
}

describe('dispatchCommand', () => {
  it('runs the status handler with the caller identity and returns its result', async () => {
    const seen: string[] = []
    const response = await dispatch(statusRequest(), {
      status: async (_req, c) => { seen.push(c.remotePeer.toString()); return statusResult }
    })
    expect(response.error).toBeUndefined()
    expect(response.status).toEqual(statusResult)
    expect(seen).toEqual([ctx.remotePeer.toString()])
  })

  it('passes the join request body to the join handler', async () => {
    const bytes = CommandRequest.encode({ version: WIRE_VERSION, clusterId: CLUSTER, join: { token: 'tok', addrs: [], softwareVersion: '0.1.0' } })
    const tokens: string[] = []
    const response = await dispatch(bytes, {
      join: async (req) => { tokens.push(req.token); return { adminSet: new Uint8Array() } }
    })
    expect(response.error).toBeUndefined()
    expect(response.join).toEqual({ adminSet: new Uint8Array() })
    expect(tokens).toEqual(['tok'])
  })

  it('answers garbage bytes with BAD_REQUEST', async () => {
    const response = await dispatch(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), { status: async () => statusResult })
    expect(response.error?.code).toBe(ErrorCode.BAD_REQUEST)
    expect(response.status).toBeUndefined()
  })

  it('answers a request for another cluster with WRONG_CLUSTER and does not run the handler', async () => {
    let ran = false
    const response = await dispatch(statusRequest('other-cluster'), { status: async () => { ran = true; return statusResult } })
    expect(response.error?.code).toBe(ErrorCode.WRONG_CLUSTER)
    expect(ran).toBe(false)
  })

  it('answers a command this peer has no handler for with UNSUPPORTED', async () => {
    const response = await dispatch(statusRequest(), { join: async () => ({ adminSet: new Uint8Array() }) })
    expect(response.error?.code).toBe(ErrorCode.UNSUPPORTED)
    expect(response.error?.message).toContain('status')
  })

  it('answers a request with no command with BAD_REQUEST', async () => {
    const response = await dispatch(CommandRequest.encode({ version: WIRE_VERSION, clusterId: CLUSTER }), { status: async () => statusResult })
    expect(response.error?.code).toBe(ErrorCode.BAD_REQUEST)
  })

  // Two commands in one request must be refused, not reduced to one of them.
  it('answers a request with two commands with BAD_REQUEST', async () => {
    const bytes = concat([
      CommandRequest.encode({ version: WIRE_VERSION, clusterId: CLUSTER, join: { token: 'tok', addrs: [], softwareVersion: '' } }),
      CommandRequest.encode({ status: {} })
    ])
    const response = await dispatch(bytes, { status: async () => statusResult, join: async () => ({ adminSet: new Uint8Array() }) })
    expect(response.error?.code).toBe(ErrorCode.BAD_REQUEST)
  })

  it.each([0, WIRE_VERSION + 1])('answers wire version %i with BAD_REQUEST', async (version) => {
    const bytes = CommandRequest.encode({ version, clusterId: CLUSTER, status: {} })
    const response = await dispatch(bytes, { status: async () => statusResult })
    expect(response.error?.code).toBe(ErrorCode.BAD_REQUEST)
    expect(response.status).toBeUndefined()
  })

  it('passes a handler refusal through with its code and message', async () => {
    const response = await dispatch(statusRequest(), {
      status: async () => { throw new CommandRefusedError(ErrorCode.UNAUTHORIZED, 'only members may ask') }
    })
    expect(response.error).toEqual({ code: ErrorCode.UNAUTHORIZED, message: 'only members may ask', culprits: [], rule: '' })
  })

  it('answers a MalformedMessageError from a handler with BAD_REQUEST', async () => {
    const response = await dispatch(statusRequest(), {
      status: async () => { throw new MalformedMessageError('roster does not decode') }
    })
    expect(response.error).toEqual({ code: ErrorCode.BAD_REQUEST, message: 'roster does not decode', culprits: [], rule: '' })
  })

  it('answers an internal failure with INTERNAL and keeps its message out of the response', async () => {
    const response = await dispatch(statusRequest(), {
      status: async () => { throw new Error('secret-abc') }
    })
    expect(response.error?.code).toBe(ErrorCode.INTERNAL)
    expect(response.error?.message).not.toContain('secret-abc')
    expect(Buffer.from(CommandResponse.encode(response)).includes('secret-abc')).toBe(false)
  })

  it('answers a synchronous throw in a handler with INTERNAL rather than crashing', async () => {
    const handlers: CommandHandlers = {
      status: () => { throw new Error('secret-abc') }
    }
    const response = await dispatch(statusRequest(), handlers)
    expect(response.error?.code).toBe(ErrorCode.INTERNAL)
    expect(response.error?.message).not.toContain('secret-abc')
  })

  it('caps the length of an error message sent back', async () => {
    const response = await dispatch(statusRequest(), {
      status: async () => { throw new CommandRefusedError(ErrorCode.STALE, 'x'.repeat(MAX_ERROR_MESSAGE_LENGTH * 2)) }
    })
    expect(response.error?.code).toBe(ErrorCode.STALE)
    expect(response.error?.message.length).toBe(MAX_ERROR_MESSAGE_LENGTH)
  })
})

describe('decodeCommandRequest', () => {
  it('reports the kind and cluster of a well-formed request', () => {
    const decoded = decodeCommandRequest(statusRequest())
    expect(decoded.kind).toBe('status')
    expect(decoded.clusterId).toBe(CLUSTER)
  })

  it('refuses a request over the size limit', () => {
    expect(() => decodeCommandRequest(new Uint8Array(COMMAND.maxBytes + 1))).toThrow(MalformedMessageError)
  })

  it('refuses a join with an over-long token', () => {
    const bytes = CommandRequest.encode({ version: WIRE_VERSION, clusterId: CLUSTER, join: { token: 't'.repeat(MAX_TOKEN_LENGTH + 1), addrs: [], softwareVersion: '' } })
    expect(() => decodeCommandRequest(bytes)).toThrow(MalformedMessageError)
  })

  it('accepts a join with the maximum number of addresses and refuses one more', () => {
    const addrs = (n: number): Uint8Array[] => Array.from({ length: n }, () => Uint8Array.from([4, 127, 0, 0, 1]))
    const ok = CommandRequest.encode({ version: WIRE_VERSION, clusterId: CLUSTER, join: { token: 't', addrs: addrs(MAX_ADDRS_PER_MEMBER), softwareVersion: '' } })
    expect(decodeCommandRequest(ok).request.join?.addrs).toHaveLength(MAX_ADDRS_PER_MEMBER)
    const tooMany = CommandRequest.encode({ version: WIRE_VERSION, clusterId: CLUSTER, join: { token: 't', addrs: addrs(MAX_ADDRS_PER_MEMBER + 1), softwareVersion: '' } })
    expect(() => decodeCommandRequest(tooMany)).toThrow(MalformedMessageError)
  })
})
