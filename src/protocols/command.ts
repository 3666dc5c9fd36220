import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import { COMMAND, MAX_ADDRS_PER_MEMBER, MAX_ERROR_MESSAGE_LENGTH, MAX_AUDIT_PER_FETCH, MAX_EVENTS_PER_BATCH, MAX_MEMBERS, MAX_NONCE_POOL, MAX_RECORDS_PER_FETCH, MAX_RECORDS_PER_LIST, MAX_TOKEN_LENGTH, MAX_VERSION_STRING_LENGTH, WIRE_VERSION } from './constants.js'
import { CommandRefusedError, CommandTransportError, MalformedMessageError } from './errors.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { peerIdFromBytes } from './ids.js'
import {
  CommandRequest, CommandResponse, ErrorCode,
  type AbortRequest, type AbortResponse, type JoinRequest, type JoinResponse, type KeyCommitRequest, type KeyCommitResponse,
  type KeygenRequest, type KeygenResponse, type RosterAck, type RosterUpdate, type SignCommitRequest, type SignCommitResponse,
  type SignShareRequest, type SignShareResponse, type StatusRequest, type StatusResponse,
  type ListRecordsRequest, type ListRecordsResponse, type FetchRecordsRequest, type FetchRecordsResponse,
  type FetchEventsRequest, type EventBatch, type FetchAuditRequest, type FetchAuditResponse,
  type NoncePoolRequest, type NoncePoolResponse, type ReshareRequest
} from './messages.js'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Logger } from 'pino'

/** The command kinds and their payloads; the compiler checks every table keyed by them. */
export interface CommandRequests {
  join: JoinRequest
  status: StatusRequest
  rosterUpdate: RosterUpdate
  keygen: KeygenRequest
  keyCommit: KeyCommitRequest
  signCommit: SignCommitRequest
  signShare: SignShareRequest
  abort: AbortRequest
  listRecords: ListRecordsRequest
  fetchRecords: FetchRecordsRequest
  fetchEvents: FetchEventsRequest
  fetchAudit: FetchAuditRequest
  noncePool: NoncePoolRequest
  reshare: ReshareRequest
}

export interface CommandResponses {
  join: JoinResponse
  status: StatusResponse
  rosterUpdate: RosterAck
  keygen: KeygenResponse
  keyCommit: KeyCommitResponse
  signCommit: SignCommitResponse
  signShare: SignShareResponse
  abort: AbortResponse
  listRecords: ListRecordsResponse
  fetchRecords: FetchRecordsResponse
  fetchEvents: EventBatch
  fetchAudit: FetchAuditResponse
  noncePool: NoncePoolResponse
  reshare: KeygenResponse
}

export type CommandKind = keyof CommandRequests
const COMMAND_KINDS: readonly CommandKind[] = ['join', 'status', 'rosterUpdate', 'keygen', 'keyCommit', 'signCommit', 'signShare', 'abort', 'listRecords', 'fetchRecords', 'fetchEvents', 'fetchAudit', 'noncePool', 'reshare']

export interface CommandContext {
  /** The Noise-authenticated PeerId at the other end of the stream. */
  remotePeer: PeerId
}

export type CommandHandler<K extends CommandKind> = (req: CommandRequests[K], ctx: CommandContext) => Promise<CommandResponses[K]>

/** A runtime answers the commands it has a handler for; any other kind is refused as UNSUPPORTED. */
export type CommandHandlers = { [K in CommandKind]?: CommandHandler<K> }

export interface DecodedRequest {
  kind: CommandKind
  clusterId: string
  request: CommandRequest
}

/** Strict decoding of a command request: bounded, exactly one command, known version. */
export function decodeCommandRequest (bytes: Uint8Array): DecodedRequest {
  if (bytes.byteLength > COMMAND.maxBytes) throw new MalformedMessageError('command too large')
  let request: CommandRequest
  try {
    request = CommandRequest.decode(bytes, { limits: { join: { addrs: MAX_ADDRS_PER_MEMBER }, keygen: { participants: MAX_MEMBERS }, signShare: { commitments: MAX_MEMBERS }, reshare: { dealers: MAX_MEMBERS, newHolders: MAX_MEMBERS }, fetchRecords: { ids: MAX_RECORDS_PER_FETCH } } })
  } catch (err) {
    throw new MalformedMessageError(`command does not decode: ${(err as Error).message}`)
  }
  if (request.version !== WIRE_VERSION) throw new MalformedMessageError(`wire version ${request.version}, expected ${WIRE_VERSION}`)
  const kinds = COMMAND_KINDS.filter(k => request[k] !== undefined)
  if (kinds.length !== 1 || kinds[0] === undefined) throw new MalformedMessageError('request must carry exactly one command')
  const join = request.join
  if (join !== undefined && (join.token.length > MAX_TOKEN_LENGTH || join.softwareVersion.length > MAX_VERSION_STRING_LENGTH)) {
    throw new MalformedMessageError('join request field too long')
  }
  return { kind: kinds[0], clusterId: request.clusterId, request }
}

export function decodeCommandResponse (bytes: Uint8Array): CommandResponse {
  try {
    return CommandResponse.decode(bytes, { limits: { status: { members: MAX_MEMBERS }, listRecords: { records: MAX_RECORDS_PER_LIST }, fetchRecords: { records: MAX_RECORDS_PER_FETCH }, fetchEvents: { events: MAX_EVENTS_PER_BATCH, events$: { culprits: MAX_MEMBERS, accused: MAX_MEMBERS, signers: MAX_MEMBERS } }, fetchAudit: { entries: MAX_AUDIT_PER_FETCH }, noncePool: { commitments: MAX_NONCE_POOL } } })
  } catch (err) {
    throw new MalformedMessageError(`response does not decode: ${(err as Error).message}`)
  }
}

function errorResponse (code: ErrorCode, message: string, culprits: string[] = [], rule = ''): CommandResponse {
  return { error: { code, message: message.slice(0, MAX_ERROR_MESSAGE_LENGTH), culprits: culprits.map(c => peerIdFromString(c).toMultihash().bytes), rule: rule.slice(0, 32) } }
}

/**
 * Runs one decoded request through the handler table. Pure of the network, so handlers and
 * authorization are testable without streams. Never throws: every failure is a CommandError.
 */
export async function dispatchCommand (bytes: Uint8Array, clusterId: string, handlers: CommandHandlers, ctx: CommandContext, log?: Logger): Promise<CommandResponse> {
  let decoded: DecodedRequest
  try {
    decoded = decodeCommandRequest(bytes)
  } catch (err) {
    return errorResponse(ErrorCode.BAD_REQUEST, (err as Error).message)
  }
  if (decoded.clusterId !== clusterId) return errorResponse(ErrorCode.WRONG_CLUSTER, `this peer serves cluster ${clusterId}`)
  const { kind, request } = decoded
  const handler = handlers[kind] as CommandHandler<typeof kind> | undefined
  if (handler === undefined) return errorResponse(ErrorCode.UNSUPPORTED, `command ${kind} is not served by this peer`)
  try {
    const result = await handler(request[kind] as never, ctx)
    return { [kind]: result }
  } catch (err) {
    if (err instanceof CommandRefusedError) return errorResponse(err.code, err.message, err.culprits, err.rule)
    if (err instanceof MalformedMessageError) return errorResponse(ErrorCode.BAD_REQUEST, err.message)
    // Internal failures may carry anything in their message: log it here, tell the caller only the kind.
    log?.error({ err, command: kind, peer: ctx.remotePeer.toString() }, 'command handler failed')
    return errorResponse(ErrorCode.INTERNAL, `command ${kind} failed inside the peer`)
  }
}

async function readOne (source: Stream['source'], signal: AbortSignal): Promise<Uint8Array> {
  for await (const frame of lp.decode(source, { maxDataLength: COMMAND.maxBytes })) {
    return frame.subarray()
  }
  signal.throwIfAborted()
  throw new CommandTransportError('stream closed before a message arrived')
}

export interface CommandServerOptions {
  clusterId: () => string
  handlers: CommandHandlers
  log: Logger
  timeoutMs?: number
}

/** Registers the command protocol on a libp2p node: one framed request, one framed response per stream. */
export async function serveCommands (libp2p: Libp2p, opts: CommandServerOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? COMMAND.timeoutMs
  await libp2p.handle(COMMAND.id, ({ stream, connection }) => {
    // The deadline bounds the wait for the request; a handler bounds its own work (a DKG session
    // has its own deadline) and the caller's deadline bounds the whole exchange.
    const signal = AbortSignal.timeout(timeoutMs)
    const onAbort = (): void => { stream.abort(new CommandTransportError('no request before the deadline')) }
    signal.addEventListener('abort', onAbort, { once: true })
    const run = async (): Promise<void> => {
      let response: CommandResponse
      let bytes: Uint8Array | undefined
      try {
        bytes = await readOne(stream.source, signal)
      } catch (err) {
        response = errorResponse(ErrorCode.BAD_REQUEST, (err as Error).message)
      } finally {
        signal.removeEventListener('abort', onAbort)
      }
      if (bytes !== undefined) response = await dispatchCommand(bytes, opts.clusterId(), opts.handlers, { remotePeer: connection.remotePeer }, opts.log)
      await stream.sink(lp.encode([CommandResponse.encode(response!)]))
    }
    run().catch(err => {
      opts.log.debug({ err, peer: connection.remotePeer.toString() }, 'command stream failed')
      stream.abort(err as Error)
    })
    // Commands also run over a limited (relayed) connection: a member behind NAT is reached
    // through the coordinator's relay until DCUtR upgrades the link. Relay caps bound the cost.
  }, { maxInboundStreams: COMMAND.maxStreams, maxOutboundStreams: COMMAND.maxStreams, runOnLimitedConnection: true })
}

/**
 * Sends one command and waits for its answer within the deadline. Returns the typed response,
 * or throws CommandRefusedError (the peer said no, with its code) or CommandTransportError.
 */
export async function sendCommand<K extends CommandKind> (
  libp2p: Libp2p, peer: PeerId, clusterId: string, kind: K, body: CommandRequests[K], timeoutMs: number = COMMAND.timeoutMs
): Promise<CommandResponses[K]> {
  return (await sendCommandVia(libp2p, peer, clusterId, kind, body, timeoutMs)).response
}

/** sendCommand, also naming the connection the answer came over (what it says may hold only while that connection does). */
export async function sendCommandVia<K extends CommandKind> (
  libp2p: Libp2p, peer: PeerId, clusterId: string, kind: K, body: CommandRequests[K], timeoutMs: number = COMMAND.timeoutMs
): Promise<{ response: CommandResponses[K], connectionId: string }> {
  const signal = AbortSignal.timeout(timeoutMs)
  const request = CommandRequest.encode({ version: WIRE_VERSION, clusterId, [kind]: body })
  let connection: Connection
  try {
    connection = await libp2p.dial(peer, { signal })
  } catch (err) {
    throw new CommandTransportError(`cannot reach ${peer.toString()} for a ${kind}: ${(err as Error).message}`)
  }
  let stream: Stream
  try {
    stream = await connection.newStream(COMMAND.id, { signal, runOnLimitedConnection: true, negotiateFully: false })
  } catch (err) {
    throw new CommandTransportError(`cannot open a command stream to ${peer.toString()}: ${(err as Error).message}`, connection.id)
  }
  const onAbort = (): void => { stream.abort(new CommandTransportError('command deadline passed')) }
  signal.addEventListener('abort', onAbort, { once: true })
  let bytes: Uint8Array
  try {
    bytes = await pipe([request], (source) => lp.encode(source), stream, async (source) => readOne(source, signal))
  } catch (err) {
    if (signal.aborted) throw new CommandTransportError(`${kind} to ${peer.toString()} timed out after ${timeoutMs} ms`, connection.id)
    throw new CommandTransportError(`${kind} to ${peer.toString()} failed: ${(err as Error).message}`, connection.id)
  } finally {
    signal.removeEventListener('abort', onAbort)
    // The answer is in (or the command failed): the stream's closing handshake need not delay it.
    void stream.close().catch(() => {})
  }
  const response = decodeCommandResponse(bytes)
  if (response.error !== undefined) {
    const culprits = response.error.culprits.flatMap(c => { try { return [peerIdFromBytes(c).toString()] } catch { return [] } })
    throw new CommandRefusedError(response.error.code, response.error.message, culprits, response.error.rule.slice(0, 32))
  }
  const result = response[kind]
  if (result === undefined) throw new MalformedMessageError(`response to ${kind} carries no ${kind} result`)
  return { response: result as CommandResponses[K], connectionId: connection.id }
}
