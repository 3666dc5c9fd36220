import { describe, expect, it } from 'vitest'
import { MAX_CLUSTER_ID_LENGTH } from '../../src/protocols/constants.js'
import { CHANNELS, clusterTopics, isClusterId, parseTopic, topicName } from '../../src/protocols/topics.js'

describe('topicName / parseTopic', () => {
  it.each(CHANNELS)('round-trips the %s channel', (channel) => {
    const topic = topicName('mpc-test', channel)
    expect(topic).toBe(`/mpc-wallet/mpc-test/${channel}/1`)
    expect(parseTopic(topic)).toEqual({ clusterId: 'mpc-test', channel })
  })

  it('gives every channel of a cluster its own topic', () => {
    const topics = clusterTopics('c1')
    expect(Object.keys(topics).sort()).toEqual([...CHANNELS].sort())
    expect(new Set(Object.values(topics)).size).toBe(CHANNELS.length)
    for (const channel of CHANNELS) expect(parseTopic(topics[channel])).toEqual({ clusterId: 'c1', channel })
  })

  it('refuses to build a topic for an invalid cluster id', () => {
    expect(() => topicName('Bad Cluster', 'state')).toThrow(/invalid cluster id/)
    expect(() => topicName('', 'state')).toThrow(/invalid cluster id/)
  })

  it.each([
    ['wrong prefix', '/other-app/mpc-test/state/1'],
    ['no leading slash', 'mpc-wallet/mpc-test/state/1'],
    ['wrong version', '/mpc-wallet/mpc-test/state/2'],
    ['missing version', '/mpc-wallet/mpc-test/state'],
    ['unknown channel', '/mpc-wallet/mpc-test/blocks/1'],
    ['channel in wrong case', '/mpc-wallet/mpc-test/State/1'],
    ['uppercase cluster id', '/mpc-wallet/MPC-test/state/1'],
    ['cluster id starting with a dash', '/mpc-wallet/-mpc/state/1'],
    ['empty cluster id', '/mpc-wallet//state/1'],
    ['too long cluster id', `/mpc-wallet/${'a'.repeat(MAX_CLUSTER_ID_LENGTH + 1)}/state/1`],
    ['extra trailing segment', '/mpc-wallet/mpc-test/state/1/x'],
    ['extra middle segment', '/mpc-wallet/mpc-test/extra/state/1'],
    ['trailing slash', '/mpc-wallet/mpc-test/state/1/'],
    ['empty string', ''],
    ['gossipsub topic of another protocol', '/meshsub/1.1.0']
  ])('rejects a topic with %s', (_why, topic) => {
    expect(parseTopic(topic)).toBeUndefined()
  })
})

describe('isClusterId', () => {
  it.each(['a', '0', 'mpc-test', 'a-b-c-1', 'a'.repeat(MAX_CLUSTER_ID_LENGTH)])('accepts %s', (id) => {
    expect(isClusterId(id)).toBe(true)
  })

  it.each([
    ['empty', ''],
    ['one over the length limit', 'a'.repeat(MAX_CLUSTER_ID_LENGTH + 1)],
    ['leading dash', '-abc'],
    ['uppercase', 'Abc'],
    ['a slash', 'a/b'],
    ['a dot', 'a.b'],
    ['an underscore', 'a_b'],
    ['whitespace', 'a b'],
    ['non-ASCII', 'café']
  ])('rejects %s', (_why, id) => {
    expect(isClusterId(id)).toBe(false)
  })
})
