import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { GossipChannels } from './channels.js'
import type { MpcLibp2p } from './libp2p.js'

/**
 * Prometheus metrics of one peer, in a registry of its own (no global state): sessions by
 * outcome, keygen and sign latency, gossip accepted/rejected by reason, connected peers.
 */
/** Successful operations' times kept per operation for `recent` (about the last minutes under load). */
const MAX_RECENT_TIMES = 2048

export class PeerMetrics {
  readonly registry = new Registry()
  readonly sessions: Counter<'operation' | 'outcome'>
  readonly latency: Histogram<'operation'>
  /** The policy check of a signing command (issue 12): on a node at commit and at share, on the coordinator before a session. */
  readonly policyChecks: Histogram<'stage'>

  constructor (libp2p: MpcLibp2p, gossip: () => GossipChannels) {
    this.sessions = new Counter({ name: 'mpc_sessions_total', help: 'Threshold sessions by operation and outcome', labelNames: ['operation', 'outcome'], registers: [this.registry] })
    this.latency = new Histogram({
      name: 'mpc_session_seconds', help: 'Latency of successful keygen and sign requests', labelNames: ['operation'],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30], registers: [this.registry]
    })
    this.policyChecks = new Histogram({
      name: 'mpc_policy_check_seconds', help: 'Time of each policy decision on a signing request (verdict, ledger and audit entry on disk), by stage', labelNames: ['stage'],
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], registers: [this.registry]
    })
    new Gauge({
      name: 'mpc_gossip_accepted', help: 'Gossip messages accepted, by channel', labelNames: ['channel'], registers: [this.registry],
      collect () {
        for (const [channel, n] of Object.entries(gossip().counters.accepted)) this.set({ channel }, n)
      }
    })
    new Gauge({
      name: 'mpc_gossip_rejected', help: 'Gossip messages refused, by reason', labelNames: ['reason'], registers: [this.registry],
      collect () {
        for (const [reason, n] of Object.entries(gossip().counters.rejected)) this.set({ reason }, n ?? 0)
      }
    })
    new Gauge({
      name: 'mpc_heartbeats_received', help: 'Fresh heartbeats received from members since start', registers: [this.registry],
      collect () { this.set(gossip().heartbeatDelivery?.received ?? 0) }
    })
    new Gauge({
      name: 'mpc_heartbeats_expected', help: 'Heartbeats the members sent since we first heard each (by their sequence numbers); received / expected is the delivery rate', registers: [this.registry],
      collect () { this.set(gossip().heartbeatDelivery?.expected ?? 0) }
    })
    new Gauge({
      name: 'mpc_connected_peers', help: 'Peers with an open connection', registers: [this.registry],
      collect () { this.set(libp2p.getPeers().length) }
    })
  }

  /** Successful operations' times of late, by operation (the status page's chart): [at ms, seconds], oldest first. */
  private readonly recentTimes = new Map<string, Array<[number, number]>>()

  /** Times `run`, counting its outcome. */
  async observe<T> (operation: string, run: () => Promise<T>): Promise<T> {
    const end = this.latency.startTimer({ operation })
    try {
      const result = await run()
      const seconds = end()
      const times = this.recentTimes.get(operation) ?? []
      times.push([Date.now(), seconds])
      if (times.length > MAX_RECENT_TIMES) times.shift()
      this.recentTimes.set(operation, times)
      this.sessions.inc({ operation, outcome: 'success' })
      return result
    } catch (err) {
      this.sessions.inc({ operation, outcome: 'failure' })
      throw err
    }
  }

  /** p50 and p95 (ms) of the operation's successes in the last `windowMs`, and how many there were. */
  recent (operation: string, windowMs: number, now = Date.now()): { count: number, p50Ms: number | null, p95Ms: number | null } {
    const times = (this.recentTimes.get(operation) ?? []).filter(([at]) => at >= now - windowMs).map(([, s]) => s * 1000).sort((a, b) => a - b)
    const at = (q: number): number | null => times.length === 0 ? null : Math.round(times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!)
    return { count: times.length, p50Ms: at(0.5), p95Ms: at(0.95) }
  }

  async text (): Promise<string> {
    return await this.registry.metrics()
  }
}
