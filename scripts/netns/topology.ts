import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

/**
 * A simulated multi-host network on one Linux machine, built from network namespaces, for
 * end-to-end runs of real libp2p processes. Needs root (CAP_NET_ADMIN), iproute2 and iptables.
 *
 *   <prefix>-sw        the public switch: bridge br0, no address, 11.0.0.0/24 behind it
 *   <prefix>-<host>    a public host: eth0 = 11.0.0.<n> (n from 1), no route beyond 11.0.0.0/24
 *   <prefix>-<nat>     NAT k (from 1): wan = 11.0.0.<100+k>, bridge lan = 10.<k>.0.1/24
 *   <prefix>-<host>    a private host n of NAT k: eth0 = 10.<k>.0.<n+1>, default via 10.<k>.0.1
 *
 * 11.0.0.0/24 is used because libp2p treats every RFC 1918 / documentation range as private;
 * it never leaves the namespaces. Only TCP is port-forwarded (the project's only transport).
 */

const run = promisify(execFile)
const CMD_TIMEOUT_MS = 15_000
const PUBLIC_NET = '11.0.0'
const ROUTER_BASE = 100
/** The router's chain that partition() fills with a DROP and heal() empties. */
const CUT_CHAIN = 'PARTITION'

export type NatMode = 'symmetric' | 'forward'

export interface TopologySpec {
  /** ≤ 6 chars of [a-z0-9]; every namespace is named `<prefix>-<name>`. */
  prefix: string
  /** Names of hosts on the public segment, e.g. ['coord', 'stranger']. */
  publicHosts: string[]
  /** `hostPort` is required for 'forward'; `forwardBase` defaults to hostPort - 1. */
  nats: Array<{ name: string, mode: NatMode, hosts: string[], hostPort?: number, forwardBase?: number }>
}

export interface Host {
  name: string
  /** Its network namespace. */
  ns: string
  /** Its own address (public, or private behind its NAT). */
  ip: string
  /** The NAT it sits behind. */
  nat?: string
  /** Forward mode: where the outside reaches the host's hostPort. */
  publicAddr?: { ip: string, port: number }
}

interface Router {
  name: string
  ns: string
  publicIp: string
}

/** Runs a command to completion; throws an Error carrying the command line and its stderr. */
async function sh (cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { timeout: CMD_TIMEOUT_MS })
    return stdout
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string }
    const detail = e.stderr?.trim() ?? ''
    throw new Error(`\`${[cmd, ...args].join(' ')}\` failed: ${detail !== '' ? detail : e.message}`)
  }
}

/** `ip -n <ns> ...` */
async function ipIn (ns: string, ...args: string[]): Promise<void> {
  await sh('ip', ['-n', ns, ...args])
}

/** iptables inside a namespace (-w: wait for the xtables lock rather than fail). */
async function iptablesIn (ns: string, ...args: string[]): Promise<void> {
  await sh('ip', ['netns', 'exec', ns, 'iptables', '-w', ...args])
}

async function sysctlIn (ns: string, setting: string): Promise<void> {
  await sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', setting])
}

async function listNamespaces (): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list'])
  // Lines look like `name` or `name (id: 3)`.
  return out.split('\n').map(line => line.trim().split(' ')[0] ?? '').filter(name => name !== '')
}

/** Returns undefined if namespaces + iptables work here, else a one-line reason to print when skipping. */
export async function unsupportedReason (): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  try {
    await sh('ip', ['-V'])
  } catch {
    return 'iproute2 is not installed: apt-get install iproute2'
  }
  try {
    await sh('iptables', ['--version'])
  } catch {
    return 'iptables is not installed: apt-get install iptables'
  }
  const probe = `nsprobe${process.pid}`
  try {
    await sh('ip', ['netns', 'add', probe])
  } catch (err) {
    return `cannot create a network namespace (needs root / CAP_NET_ADMIN): ${(err as Error).message}`
  }
  try {
    await ipIn(probe, 'link', 'add', 'br0', 'type', 'bridge')
    await ipIn(probe, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb')
    await iptablesIn(probe, '-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
    await iptablesIn(probe, '-t', 'nat', '-A', 'POSTROUTING', '-o', 'va', '-j', 'MASQUERADE', '--random-fully')
    return undefined
  } catch (err) {
    return `bridges, veths or iptables NAT do not work inside a namespace: ${(err as Error).message}`
  } finally {
    await sh('ip', ['netns', 'del', probe]).catch(() => {})
  }
}

/** Deletes leftover namespaces whose names start with `${prefixStem}` (from a crashed earlier run). */
export async function removeStale (prefixStem: string): Promise<void> {
  if (!/^[a-z0-9]+$/.test(prefixStem)) throw new Error(`refusing to remove namespaces by stem "${prefixStem}": use [a-z0-9]+`)
  for (const ns of await listNamespaces()) {
    if (ns.startsWith(prefixStem)) await sh('ip', ['netns', 'del', ns])
  }
}

export class Topology {
  /** Every namespace made, in creation order; destroy() removes them. */
  private readonly namespaces: string[] = []
  private readonly byName = new Map<string, Host>()
  private readonly routers = new Map<string, Router>()
  private vethCount = 0

  private constructor (private readonly spec: TopologySpec) {}

  /** Builds the whole network; on any failure tears down what it made, then throws. */
  static async create (spec: TopologySpec): Promise<Topology> {
    validate(spec)
    const topo = new Topology(spec)
    try {
      await topo.build()
      return topo
    } catch (err) {
      await topo.destroy()
      throw err
    }
  }

  /** The host called `name`; throws on an unknown name. */
  host (name: string): Host {
    const host = this.byName.get(name)
    if (host === undefined) throw new Error(`no host "${name}" in topology ${this.spec.prefix}`)
    return host
  }

  get hosts (): Host[] {
    return [...this.byName.values()]
  }

  /** The public address of NAT `natName`'s router (what the outside sees its hosts as). */
  natIp (natName: string): string {
    return this.router(natName).publicIp
  }

  /** argv prefix to run a command inside a host: ['ip', 'netns', 'exec', ns]. */
  wrap (name: string): string[] {
    return ['ip', 'netns', 'exec', this.host(name).ns]
  }

  /**
   * Cuts a NAT's public link: the router silently drops everything in or out of its wan
   * interface (no RST, no ICMP), so both directions black-hole. Established TCP connections
   * are not told: they retransmit until their own timeouts, and resume if heal() comes first.
   * Idempotent.
   */
  async partition (natName: string): Promise<void> {
    const { ns } = this.router(natName)
    await iptablesIn(ns, '-F', CUT_CHAIN)
    await iptablesIn(ns, '-A', CUT_CHAIN, '-j', 'DROP')
  }

  /** Restores a NAT's public link (conntrack/NAT mappings survived the cut). Idempotent. */
  async heal (natName: string): Promise<void> {
    await iptablesIn(this.router(natName).ns, '-F', CUT_CHAIN)
  }

  /** Deletes every namespace this topology made (stop processes inside first). Never throws; idempotent. */
  async destroy (): Promise<void> {
    for (const ns of this.namespaces.splice(0).reverse()) {
      await sh('ip', ['netns', 'del', ns]).catch(() => {})
    }
  }

  private router (natName: string): Router {
    const router = this.routers.get(natName)
    if (router === undefined) throw new Error(`no NAT "${natName}" in topology ${this.spec.prefix}`)
    return router
  }

  private async build (): Promise<void> {
    const sw = await this.addNamespace('sw')
    await ipIn(sw, 'link', 'add', 'br0', 'type', 'bridge')
    await ipIn(sw, 'link', 'set', 'br0', 'up')

    for (const [i, name] of this.spec.publicHosts.entries()) {
      const host: Host = { name, ns: await this.addNamespace(name), ip: `${PUBLIC_NET}.${i + 1}` }
      await this.plug(sw, 'br0', host.ns, 'eth0', `${host.ip}/24`)
      this.byName.set(name, host)
    }

    for (const [k0, nat] of this.spec.nats.entries()) {
      const k = k0 + 1
      const router: Router = { name: nat.name, ns: await this.addNamespace(nat.name), publicIp: `${PUBLIC_NET}.${ROUTER_BASE + k}` }
      this.routers.set(nat.name, router)
      const lanNet = `10.${k}.0`
      await this.plug(sw, 'br0', router.ns, 'wan', `${router.publicIp}/24`)
      await ipIn(router.ns, 'link', 'add', 'lan', 'type', 'bridge')
      await ipIn(router.ns, 'addr', 'add', `${lanNet}.1/24`, 'dev', 'lan')
      await ipIn(router.ns, 'link', 'set', 'lan', 'up')
      await sysctlIn(router.ns, 'net.ipv4.ip_forward=1')
      await this.firewall(router.ns, lanNet, nat.mode === 'symmetric')

      for (const [n0, name] of nat.hosts.entries()) {
        const n = n0 + 1
        const host: Host = { name, ns: await this.addNamespace(name), ip: `${lanNet}.${n + 1}`, nat: nat.name }
        await this.plug(router.ns, 'lan', host.ns, 'eth0', `${host.ip}/24`)
        await ipIn(host.ns, 'route', 'add', 'default', 'via', `${lanNet}.1`)
        if (nat.mode === 'forward') {
          const hostPort = nat.hostPort as number
          const port = (nat.forwardBase ?? hostPort - 1) + n
          await iptablesIn(router.ns, '-t', 'nat', '-A', 'PREROUTING', '-i', 'wan', '-d', router.publicIp, '-p', 'tcp', '--dport', String(port),
            '-j', 'DNAT', '--to-destination', `${host.ip}:${hostPort}`)
          await iptablesIn(router.ns, '-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-d', host.ip, '-p', 'tcp', '--dport', String(hostPort),
            '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT')
          host.publicAddr = { ip: router.publicIp, port }
        }
        this.byName.set(name, host)
      }
    }
  }

  /** Creates `<prefix>-<name>` with lo up, and records it for destroy(). */
  private async addNamespace (name: string): Promise<string> {
    const ns = `${this.spec.prefix}-${name}`
    await sh('ip', ['netns', 'add', ns])
    this.namespaces.push(ns)
    await ipIn(ns, 'link', 'set', 'lo', 'up')
    return ns
  }

  /** A veth from bridge `bridge` in `bridgeNs` to interface `ifName` (given `cidr`) in `ns`. */
  private async plug (bridgeNs: string, bridge: string, ns: string, ifName: string, cidr: string): Promise<void> {
    const port = `v${++this.vethCount}`
    await sh('ip', ['link', 'add', port, 'netns', bridgeNs, 'type', 'veth', 'peer', 'name', ifName, 'netns', ns])
    await ipIn(bridgeNs, 'link', 'set', port, 'master', bridge)
    await ipIn(bridgeNs, 'link', 'set', port, 'up')
    await ipIn(ns, 'addr', 'add', cidr, 'dev', ifName)
    await ipIn(ns, 'link', 'set', ifName, 'up')
  }

  /**
   * The router's stateful firewall and masquerade. Unsolicited inbound traffic on wan is
   * dropped silently, as a consumer router does; hairpinning (a LAN host dialling the router's
   * public address) is not supported.
   */
  private async firewall (ns: string, lanNet: string, randomPorts: boolean): Promise<void> {
    const rules: string[][] = [
      // partition() fills this chain; it sees every packet through wan first.
      ['-N', CUT_CHAIN],
      ['-A', 'INPUT', '-i', 'wan', '-j', CUT_CHAIN],
      ['-A', 'OUTPUT', '-o', 'wan', '-j', CUT_CHAIN],
      ['-A', 'FORWARD', '-i', 'wan', '-j', CUT_CHAIN],
      ['-A', 'FORWARD', '-o', 'wan', '-j', CUT_CHAIN],
      ['-A', 'INPUT', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
      ['-A', 'INPUT', '-i', 'wan', '-p', 'icmp', '-j', 'ACCEPT'],
      ['-A', 'INPUT', '-i', 'wan', '-j', 'DROP'],
      // With br_netfilter loaded, traffic bridged between LAN hosts also traverses FORWARD.
      ['-A', 'FORWARD', '-i', 'lan', '-o', 'lan', '-j', 'ACCEPT'],
      ['-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT'],
      ['-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
      ['-P', 'FORWARD', 'DROP'],
      ['-t', 'nat', '-A', 'POSTROUTING', '-s', `${lanNet}.0/24`, '-o', 'wan', '-j', 'MASQUERADE', ...(randomPorts ? ['--random-fully'] : [])]
    ]
    for (const rule of rules) await iptablesIn(ns, ...rule)
  }
}

function validate (spec: TopologySpec): void {
  if (!/^[a-z0-9]{1,6}$/.test(spec.prefix)) throw new Error(`prefix "${spec.prefix}" must be 1-6 chars of [a-z0-9]`)
  const names = [...spec.publicHosts, ...spec.nats.flatMap(nat => [nat.name, ...nat.hosts])]
  for (const name of names) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`name "${name}" must be [a-z0-9-], starting with a letter or digit`)
    if (name === 'sw') throw new Error('"sw" is reserved for the switch namespace')
    if (names.indexOf(name) !== names.lastIndexOf(name)) throw new Error(`name "${name}" is used twice`)
  }
  if (spec.publicHosts.length > ROUTER_BASE) throw new Error(`at most ${ROUTER_BASE} public hosts`)
  if (spec.nats.length > 254 - ROUTER_BASE) throw new Error(`at most ${254 - ROUTER_BASE} NATs`)
  for (const nat of spec.nats) {
    if (nat.hosts.length > 253) throw new Error(`NAT ${nat.name}: at most 253 hosts`)
    if (nat.mode !== 'forward') continue
    const valid = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535
    if (nat.hostPort === undefined || !valid(nat.hostPort)) throw new Error(`NAT ${nat.name}: forward mode needs a hostPort in 1-65535`)
    const base = nat.forwardBase ?? nat.hostPort - 1
    if (!valid(base + 1) || !valid(base + nat.hosts.length)) throw new Error(`NAT ${nat.name}: forwarded ports ${base + 1}-${base + nat.hosts.length} out of range`)
  }
}
