import { TopicValidatorResult, type Message, type PeerId } from '@libp2p/interface'
import { GossipValidationError, type GossipRejectReason } from '../protocols/errors.js'
import { encodeGossip, validateGossip, type GossipBodies, type GossipContext } from '../protocols/gossip.js'
import { CHANNELS, clusterTopics, parseTopic, type Channel } from '../protocols/topics.js'
import type { MpcLibp2p } from './libp2p.js'
import type { GossipMessage } from '../protocols/messages.js'
import type { Logger } from '../log.js'

/** The handler of one channel's validated body, typed by the channel. */
export type ChannelHandler<C extends Channel> = (body: GossipBodies[C], author: PeerId) => Promise<void>

/** The participants of a session a service runs or relays (see GossipContext.sessionParticipants). */
export type SessionLookup = GossipContext['sessionParticipants']

/** What the validator needs of the assembly's state: everything but the sessions, which their owner registers. */
export type ChannelContext = Omit<GossipContext, 'sessionParticipants'>

export interface GossipCounters {
  accepted: Record<Channel, number>
  rejected: Partial<Record<GossipRejectReason, number>>
  publishFailures: number
}

/**
 * Wires the four cluster topics to a runtime: one topic validator per channel (the single
 * validation path of protocols/gossip.ts, mapped to gossipsub's accept / ignore / reject),
 * typed dispatch of accepted bodies, and counters by outcome and reason. Each service registers
 * the handler of the channel it owns (`handle`, one per channel) and the owner of sessions their
 * participants (`sessions`), in its start(), and removes them in its stop(). An accepted message
 * on a channel nobody handles is counted and dropped.
 */
export class GossipChannels {
  readonly counters: GossipCounters = {
    accepted: { rounds: 0, state: 0, heartbeats: 0, events: 0 },
    rejected: {},
    publishFailures: 0
  }

  private readonly topics: Record<Channel, string>
  /** Bodies decoded by the validator, handed to the message listener without decoding twice. */
  private readonly validated = new WeakMap<Message, unknown>()
  private readonly onMessage = (evt: CustomEvent<Message>): void => { this.dispatch(evt.detail) }
  private readonly handlers: { [C in Channel]?: ChannelHandler<C> } = {}
  private sessionLookup: SessionLookup | undefined

  constructor (
    private readonly libp2p: MpcLibp2p,
    private readonly context: () => ChannelContext,
    private readonly log: Logger
  ) {
    this.topics = clusterTopics(context().clusterId)
  }

  /** How many of the members' heartbeats reached us, if we check their freshness. */
  get heartbeatDelivery (): Readonly<{ received: number, expected: number }> | undefined {
    return this.context().heartbeatFreshness?.delivery
  }

  /** Registers the one handler of `channel`; a second registration is a wiring error and throws. */
  handle<C extends Channel> (channel: C, handler: ChannelHandler<C>): void {
    if (this.handlers[channel] !== undefined) throw new Error(`the ${channel} channel already has a handler`)
    this.handlers[channel] = handler as { [K in Channel]?: ChannelHandler<K> }[C]
  }

  unhandle (channel: Channel): void {
    delete this.handlers[channel]
  }

  /** Registers the one source of session participants the validator checks round authors against. */
  sessions (lookup: SessionLookup): void {
    if (this.sessionLookup !== undefined) throw new Error('session participants already have a provider')
    this.sessionLookup = lookup
  }

  unsessions (): void {
    this.sessionLookup = undefined
  }

  start (): void {
    const pubsub = this.libp2p.services.pubsub
    for (const channel of CHANNELS) {
      pubsub.topicValidators.set(this.topics[channel], async (from, msg) => await this.validate(channel, from, msg))
      pubsub.subscribe(this.topics[channel])
    }
    pubsub.addEventListener('message', this.onMessage)
  }

  stop (): void {
    const pubsub = this.libp2p.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    for (const channel of CHANNELS) {
      pubsub.unsubscribe(this.topics[channel])
      pubsub.topicValidators.delete(this.topics[channel])
    }
  }

  /** Publishes on a channel; a failure is logged and counted, never thrown (gossip is best-effort). */
  async publish (channel: Channel, body: Partial<Pick<GossipMessage, 'heartbeat' | 'roster' | 'events' | 'round' | 'digest'>>): Promise<void> {
    try {
      await this.libp2p.services.pubsub.publish(this.topics[channel], encodeGossip(this.context().clusterId, body))
    } catch (err) {
      this.counters.publishFailures++
      this.log.debug({ err, channel }, 'publish failed')
    }
  }

  private async validate (channel: Channel, from: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const author = msg.type === 'signed' ? msg.from : undefined
    try {
      this.validated.set(msg, await validateGossip(channel, author, msg.data, { ...this.validationContext(), propagationSource: from }))
      return TopicValidatorResult.Accept
    } catch (err) {
      if (!(err instanceof GossipValidationError)) {
        this.log.error({ err, channel }, 'gossip validator failed')
        return TopicValidatorResult.Ignore
      }
      this.counters.rejected[err.reason] = (this.counters.rejected[err.reason] ?? 0) + 1
      this.log.debug({ channel, reason: err.reason, author: author?.toString(), detail: err.message }, 'gossip message refused')
      return err.verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
  }

  private validationContext (): GossipContext {
    const lookup = this.sessionLookup
    return { ...this.context(), sessionParticipants: (id) => lookup?.(id) }
  }

  private dispatch (msg: Message): void {
    const parsed = parseTopic(msg.topic)
    const body = this.validated.get(msg)
    if (parsed === undefined || body === undefined || msg.type !== 'signed') return
    this.validated.delete(msg)
    const channel = parsed.channel
    this.counters.accepted[channel]++
    const handler = this.handlers[channel] as ((body: unknown, author: PeerId) => Promise<void>) | undefined
    if (handler === undefined) return
    handler(body, msg.from).catch(err => { this.log.error({ err, channel }, 'gossip handler failed') })
  }
}
