import { MAX_CLUSTER_ID_LENGTH } from './constants.js'

export const CHANNELS = ['rounds', 'state', 'heartbeats', 'events'] as const
export type Channel = typeof CHANNELS[number]

const CLUSTER_ID = /^[a-z0-9][a-z0-9-]*$/

/** True when `id` can name a cluster: lowercase letters, digits and dashes, bounded length. */
export function isClusterId (id: string): boolean {
  return id.length > 0 && id.length <= MAX_CLUSTER_ID_LENGTH && CLUSTER_ID.test(id)
}

/** `/mpc-wallet/<clusterId>/<channel>/1` */
export function topicName (clusterId: string, channel: Channel): string {
  if (!isClusterId(clusterId)) throw new Error(`invalid cluster id "${clusterId}"`)
  return `/mpc-wallet/${clusterId}/${channel}/1`
}

export function clusterTopics (clusterId: string): Record<Channel, string> {
  return {
    rounds: topicName(clusterId, 'rounds'),
    state: topicName(clusterId, 'state'),
    heartbeats: topicName(clusterId, 'heartbeats'),
    events: topicName(clusterId, 'events')
  }
}

/** The inverse of topicName; undefined for any topic that is not one of ours. */
export function parseTopic (topic: string): { clusterId: string, channel: Channel } | undefined {
  const parts = topic.split('/')
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'mpc-wallet' || parts[4] !== '1') return undefined
  const [, , clusterId, channel] = parts
  if (clusterId === undefined || !isClusterId(clusterId)) return undefined
  if (!(CHANNELS as readonly string[]).includes(channel ?? '')) return undefined
  return { clusterId, channel: channel as Channel }
}
