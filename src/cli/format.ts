import type { ClusterView } from '../coordinator/cluster-view.js'
import type { PendingJoin } from '../coordinator/membership.js'
import type { KeyView } from '../coordinator/requests.js'
import type { reachOf } from '../runtime/addresses.js'
import type { EventView } from '../state/event-log.js'
import { printable } from '../terminal.js'

export function ago (ms: number | null, now: number): string {
  if (ms === null) return 'never'
  return `${((now - ms) / 1000).toFixed(1)}s ago`
}

export const REACH_TEXT: Record<ReturnType<typeof reachOf>, string> = {
  public: 'at a public address',
  relay: 'through the coordinator\'s relay only (behind NAT; DCUtR upgrades links where the other side allows)',
  local: 'on local addresses only (loopback or LAN)'
}

/** A key as text lines; each line goes through printable(): ids and states come from the API, not from us. */
export function formatKey (key: KeyView): string {
  return [
    `key ${key.id}: ${key.scheme} ${key.threshold}-of-${key.parties}, ${key.status}, version ${key.version}${key.chainCode !== undefined ? ', HD root' : ''}`,
    `  group public key: ${key.groupPublicKey}${key.chainCode !== undefined && key.scheme === 'taproot' ? ' (untweaked root; the address is child m\'s)' : ''}`,
    ...(key.xOnlyPublicKey !== undefined ? [`  x-only public key: ${key.xOnlyPublicKey}`, `  P2TR address (${key.network ?? 'mainnet'}): ${key.address ?? ''}`] : []),
    `  holders: ${key.holders.map(h => `${h.peerId} (${h.state})`).join(', ')}`
  ].map(printable).join('\n')
}

export function formatMembers (members: ClusterView['members'], pending: PendingJoin[], now = Date.now()): string {
  const lines = [`${members.length} member${members.length === 1 ? '' : 's'}`]
  for (const m of members) lines.push(`  ${m.peerId}  ${m.state}  joined ${new Date(m.joinedAtMs).toISOString()}  last heartbeat ${ago(m.lastHeartbeatMs, now)}`)
  lines.push(pending.length === 0 ? 'no joins wait for approval' : `${pending.length} join${pending.length === 1 ? '' : 's'} waiting for approval (mpc-wallet members approve|reject <peer id>)`)
  for (const p of pending) lines.push(`  ${p.peerId}  asked ${new Date(p.requestedAtMs).toISOString()}  invitation ${p.invitation}${p.note !== '' ? `  (${p.note})` : ''}`)
  return lines.join('\n')
}

/**
 * The `status` table. Members report their own addresses, versions and state hashes, so every
 * cell is made printable() before the column widths are measured: a member's text can neither
 * drive the terminal nor break the table's lines.
 */
export function formatClusterTable (view: ClusterView, now = Date.now()): string {
  const state = view.stateHash.slice(0, 12)
  const rows = view.members.map(m => [
    m.peerId, m.state, ago(m.lastHeartbeatMs, now),
    m.rosterEpoch === undefined ? '-' : String(m.rosterEpoch),
    m.stateHash === undefined ? '-' : m.stateHash.slice(0, 12) + (m.stateHash === view.stateHash ? '' : ' (behind)'),
    m.keysHeld === undefined ? '-' : `${m.keysHeld}${(m.keysLost ?? 0) > 0 ? ` (${m.keysLost ?? 0} lost)` : ''}`,
    m.link, m.reach,
    m.links === undefined ? '-' : `${m.links.direct} direct, ${m.links.relayed} relayed`,
    m.addrs.map(a => a.replace(/\/p2p\/[^/]+$/, '')).join(',')
  ].map(printable))
  const header = ['PEER ID', 'STATE', 'LAST HEARTBEAT', 'EPOCH', 'SYNCED STATE', 'KEYS', 'LINK', 'REACH', 'MEMBER LINKS', 'ADDRESSES']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]?.length ?? 0)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ')
  const up = view.members.filter(m => m.state === 'up').length
  return [
    printable(`cluster ${view.clusterId}  epoch ${view.epoch}  state ${state}  coordinator ${view.coordinator.peerId}  members ${view.members.length} (${up} up)`),
    line(header),
    ...rows.map(line)
  ].join('\n')
}

/**
 * One event as one line. Details, ids and operation names may come from members (a failed
 * session's error text is the member's own), so the whole line goes through printable().
 */
export function formatEvent (e: EventView): string {
  const parts = [
    `#${e.seq}`, new Date(e.atMs).toISOString(), e.kind.toLowerCase(),
    ...(e.operation !== undefined ? [e.operation] : []),
    ...(e.peerId !== undefined ? [`peer=${e.peerId}`] : []),
    ...(e.to !== undefined ? [`${(e.from ?? '?').toLowerCase()}->${e.to.toLowerCase()}`] : []),
    ...(e.epoch !== undefined ? [`epoch=${e.epoch}`] : []),
    ...(e.keyId !== undefined ? [`key=${e.keyId}`] : []),
    ...(e.sessionId !== undefined ? [`session=${e.sessionId}`] : []),
    ...(e.culprits !== undefined ? [`culprits=${e.culprits.join(',')}`] : []),
    ...(e.accused !== undefined ? [`accused=${e.accused.join(',')}`] : []),
    ...(e.detail !== undefined ? [`(${e.detail})`] : [])
  ]
  return printable(parts.join('  '))
}
