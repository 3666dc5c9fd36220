import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { isDeepStrictEqual, promisify } from 'node:util'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { Topology, removeStale, unsupportedReason, type TopologySpec } from './topology.js'

/**
 * Builds a small topology and checks it with real traffic: TCP through each NAT kind, the
 * port forward, isolation of private hosts, partition/heal, and cleanup. Needs root.
 *
 *   npm run test:netns:topology
 *
 * Prints PASS/FAIL per check and exits non-zero on any failure (SKIP and 0 if unsupported).
 */

const run = promisify(execFile)
const SPEC: TopologySpec = {
  prefix: 'mwchk',
  publicHosts: ['coord', 'other'],
  nats: [
    { name: 'nat1', mode: 'forward', hosts: ['a1', 'a2'], hostPort: 4001, forwardBase: 4100 },
    { name: 'nat2', mode: 'symmetric', hosts: ['b1', 'b2'] }
  ]
}
const PUBLIC_PORT = 5000
const PRIVATE_PORT = 4001
const BLOCKED_MS = 1_500

/** TCP server: greets each connection with who it is and whom it sees, then echoes. */
const SERVER = `
const net = require('node:net')
const [name, port] = process.argv.slice(1)
net.createServer(s => {
  s.on('error', () => {})
  s.write(JSON.stringify({ me: name, ip: s.remoteAddress, port: s.remotePort }) + '\\n')
  s.pipe(s)
}).listen(Number(port), '0.0.0.0', () => console.log('listening'))
`
/** TCP client: prints the server's greeting plus its own local port, or the error, as JSON. */
const PROBE = `
const net = require('node:net')
const [ip, port, ms] = process.argv.slice(1)
const done = r => { console.log(JSON.stringify(r)); process.exit(0) }
setTimeout(() => done({ ok: false, error: 'TIMEOUT' }), Number(ms))
const s = net.connect({ host: ip, port: Number(port) })
let buf = ''
s.on('data', d => {
  buf += d
  const i = buf.indexOf('\\n')
  if (i >= 0) done({ ok: true, local: s.localPort, ...JSON.parse(buf.slice(0, i)) })
})
s.on('error', e => done({ ok: false, error: e.code }))
`
/** Long-lived TCP client: sends a counter every 250 ms, prints every line echoed back. */
const STREAM = `
const net = require('node:net')
const readline = require('node:readline')
const [ip, port] = process.argv.slice(1)
const s = net.connect({ host: ip, port: Number(port) })
let n = 0
s.on('connect', () => setInterval(() => s.write(String(++n) + '\\n'), 250))
readline.createInterface({ input: s }).on('line', l => console.log('line ' + l))
s.on('error', e => { console.log('error ' + e.code); process.exit(0) })
s.on('close', () => { console.log('close'); process.exit(0) })
`
/** One ICMP echo over a raw socket (no ping binary needed); exit 0 iff a reply came within 1 s. */
const ICMP = `
import os, socket, struct, sys, time
ip = sys.argv[1]
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
ident = os.getpid() & 0xffff
body = struct.pack('!BBHHH', 8, 0, 0, ident, 1) + b'mwcheck!'
pkt = body[:2] + struct.pack('!H', csum(body)) + body[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
try:
    s.sendto(pkt, (ip, 0))
except OSError:
    sys.exit(1)
end = time.time() + 1
while time.time() < end:
    s.settimeout(max(end - time.time(), 0.01))
    try:
        buf, addr = s.recvfrom(1500)
    except OSError:
        sys.exit(1)
    h = (buf[0] & 15) * 4
    kind, _, _, rid, _ = struct.unpack('!BBHHH', buf[h:h + 8])
    if kind == 0 and rid == ident and addr[0] == ip:
        sys.exit(0)
sys.exit(1)
`

interface ProbeResult { ok: boolean, error?: string, me?: string, ip?: string, port?: number, local?: number }

let failures = 0
const background = new Set<ChildProcess>()

function check (name: string, ok: boolean, detail = ''): void {
  if (!ok) failures++
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail !== '' ? ` (${detail})` : ''}`)
}

function describe (r: ProbeResult): string {
  return r.ok ? `reached ${r.me ?? '?'}, seen from ${r.ip ?? '?'}:${r.port ?? '?'}, local port ${r.local ?? '?'}` : (r.error ?? 'failed')
}

/** `argv` run inside `host`, split into command and arguments. */
function inHost (topo: Topology, host: string, argv: string[]): [string, string[]] {
  const [cmd, ...args] = [...topo.wrap(host), ...argv]
  if (cmd === undefined) throw new Error('empty command')
  return [cmd, args]
}

/** Starts a long-lived command in a host and returns it with a line reader. */
function startIn (topo: Topology, host: string, argv: string[]): { child: ChildProcess, lines: string[], onLine: (cb: () => void) => void } {
  const [cmd, args] = inHost(topo, host, argv)
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  background.add(child)
  child.on('exit', () => { background.delete(child) })
  const lines: string[] = []
  const listeners: Array<() => void> = []
  createInterface({ input: child.stdout }).on('line', line => {
    lines.push(line)
    for (const cb of listeners) cb()
  })
  return { child, lines, onLine: cb => { listeners.push(cb) } }
}

async function waitFor (what: string, cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
  return Date.now() - start
}

async function listen (topo: Topology, host: string, port: number): Promise<void> {
  const server = startIn(topo, host, [process.execPath, '-e', SERVER, host, String(port)])
  await waitFor(`${host}'s listener on ${port}`, () => server.lines.includes('listening'), 10_000)
}

async function probe (topo: Topology, from: string, ip: string, port: number, ms = BLOCKED_MS): Promise<ProbeResult> {
  const [cmd, args] = inHost(topo, from, [process.execPath, '-e', PROBE, ip, String(port), String(ms)])
  const { stdout } = await run(cmd, args, { timeout: ms + 10_000 })
  return JSON.parse(stdout) as ProbeResult
}

async function icmp (topo: Topology, from: string, ip: string): Promise<boolean> {
  const [cmd, args] = inHost(topo, from, ['python3', '-c', ICMP, ip])
  return await run(cmd, args, { timeout: 10_000 }).then(() => true, () => false)
}

async function reach (topo: Topology, label: string, from: string, ip: string, port: number, expect: Partial<ProbeResult>): Promise<ProbeResult> {
  const r = await probe(topo, from, ip, port, 5_000)
  const matches = Object.entries(expect).every(([k, v]) => r[k as keyof ProbeResult] === v)
  check(label, r.ok && matches, describe(r))
  return r
}

async function blocked (topo: Topology, label: string, from: string, ip: string, port: number): Promise<void> {
  const r = await probe(topo, from, ip, port)
  check(label, !r.ok, describe(r))
}

async function checks (topo: Topology): Promise<void> {
  const coord = topo.host('coord').ip
  const a1 = topo.host('a1')
  const a2 = topo.host('a2')
  const b1 = topo.host('b1')
  const b2 = topo.host('b2')
  const nat1 = topo.natIp('nat1')
  const nat2 = topo.natIp('nat2')

  check('API: addresses as planned', coord === '11.0.0.1' && topo.host('other').ip === '11.0.0.2' && a1.ip === '10.1.0.2' &&
    a2.ip === '10.1.0.3' && b1.ip === '10.2.0.2' && b2.ip === '10.2.0.3' && nat1 === '11.0.0.101' && nat2 === '11.0.0.102' &&
    a1.nat === 'nat1' && b2.nat === 'nat2' && a1.ns === 'mwchk-a1', topo.hosts.map(h => `${h.name}=${h.ip}`).join(' '))
  check('API: forward hosts expose publicAddr, symmetric hosts none', isDeepStrictEqual(a1.publicAddr, { ip: nat1, port: 4101 }) &&
    isDeepStrictEqual(a2.publicAddr, { ip: nat1, port: 4102 }) && b1.publicAddr === undefined)
  check('API: wrap() and unknown host', isDeepStrictEqual(topo.wrap('b1'), ['ip', 'netns', 'exec', 'mwchk-b1']) &&
    (() => { try { topo.host('nope'); return false } catch { return true } })())

  await Promise.all([
    listen(topo, 'coord', PUBLIC_PORT), listen(topo, 'other', PUBLIC_PORT),
    ...['a1', 'a2', 'b1', 'b2'].map(async h => { await listen(topo, h, PRIVATE_PORT) })
  ])

  // Outbound through each NAT.
  const viaNat1 = await reach(topo, 'a1 -> coord via NAT, seen as 11.0.0.101', 'a1', coord, PUBLIC_PORT, { me: 'coord', ip: nat1 })
  check('nat1 (forward mode) keeps the source port', viaNat1.ok && viaNat1.port === viaNat1.local, describe(viaNat1))
  await reach(topo, 'a2 -> other via NAT, seen as 11.0.0.101', 'a2', topo.host('other').ip, PUBLIC_PORT, { me: 'other', ip: nat1 })
  const viaNat2 = await reach(topo, 'b1 -> coord via NAT, seen as 11.0.0.102', 'b1', coord, PUBLIC_PORT, { me: 'coord', ip: nat2 })
  const viaNat2b = await probe(topo, 'b2', coord, PUBLIC_PORT, 5_000)
  check('nat2 (symmetric) randomises source ports', viaNat2.ok && viaNat2b.ok && viaNat2.port !== viaNat2.local && viaNat2b.port !== viaNat2b.local,
    `${describe(viaNat2)}; ${describe(viaNat2b)}`)

  // Inbound: only nat1's forwarded ports get in.
  await reach(topo, 'coord -> 11.0.0.101:4101 forwards to a1:4001', 'coord', nat1, 4101, { me: 'a1', ip: coord })
  await reach(topo, 'coord -> 11.0.0.101:4102 forwards to a2:4001', 'coord', nat1, 4102, { me: 'a2', ip: coord })
  await Promise.all([
    blocked(topo, 'coord -> a1 private 10.1.0.2:4001 unreachable', 'coord', a1.ip, PRIVATE_PORT),
    blocked(topo, 'coord -> 11.0.0.101:4001 (not forwarded) unreachable', 'coord', nat1, PRIVATE_PORT),
    blocked(topo, 'coord -> b1 private 10.2.0.2:4001 unreachable', 'coord', b1.ip, PRIVATE_PORT),
    blocked(topo, 'coord -> 11.0.0.102:4001 unreachable', 'coord', nat2, PRIVATE_PORT),
    blocked(topo, 'coord -> 11.0.0.102:4101 unreachable', 'coord', nat2, 4101)
  ])
  check('coord -> b1 private ICMP unreachable', !await icmp(topo, 'coord', b1.ip))
  check('coord -> 11.0.0.102 ICMP answers (router up)', await icmp(topo, 'coord', nat2))

  // A public neighbour that routes 10.x via the routers itself still gets nowhere.
  await run('ip', ['-n', 'mwchk-other', 'route', 'add', '10.1.0.0/24', 'via', nat1])
  await run('ip', ['-n', 'mwchk-other', 'route', 'add', '10.2.0.0/24', 'via', nat2])
  await Promise.all([
    blocked(topo, 'other routing via nat1 -> a1 private blocked by the router', 'other', a1.ip, PRIVATE_PORT),
    blocked(topo, 'other routing via nat2 -> b1 private blocked by the router', 'other', b1.ip, PRIVATE_PORT)
  ])
  check('other routing via nat2 -> b1 private ICMP blocked', !await icmp(topo, 'other', b1.ip))

  // Inside and across segments.
  await reach(topo, 'a1 -> a2 directly on the LAN, seen as 10.1.0.2', 'a1', a2.ip, PRIVATE_PORT, { me: 'a2', ip: a1.ip })
  await reach(topo, 'b2 -> b1 directly on the LAN, seen as 10.2.0.3', 'b2', b1.ip, PRIVATE_PORT, { me: 'b1', ip: b2.ip })
  check('a1 -> a2 ICMP on the LAN', await icmp(topo, 'a1', a2.ip))
  await blocked(topo, 'a1 -> b1 private 10.2.0.2:4001 unreachable', 'a1', b1.ip, PRIVATE_PORT)

  // Partition nat2 with an established connection b1 -> coord running.
  const stream = startIn(topo, 'b1', [process.execPath, '-e', STREAM, coord, String(PUBLIC_PORT)])
  const echoes = (): number => stream.lines.filter(l => l.startsWith('line ')).length
  const broken = (): string | undefined => stream.lines.find(l => l.startsWith('error') || l === 'close')
  await waitFor('the b1 -> coord stream to echo', () => echoes() >= 3, 5_000)
  await topo.partition('nat2')
  await topo.partition('nat2')
  await sleep(500)
  const before = echoes()
  await sleep(3_000)
  check('partition: established b1 -> coord stalls silently (no echo, no reset/error)', echoes() === before && broken() === undefined,
    `${echoes() - before} echoes, ${broken() ?? 'no error'} in 3 s`)
  await Promise.all([
    blocked(topo, 'partition: new b1 -> coord fails', 'b1', coord, PUBLIC_PORT),
    blocked(topo, 'partition: new b2 -> other fails', 'b2', topo.host('other').ip, PUBLIC_PORT),
    reach(topo, 'partition: nat1 unaffected, a1 -> coord works', 'a1', coord, PUBLIC_PORT, { me: 'coord', ip: nat1 })
  ])
  check('partition: coord -> 11.0.0.102 ICMP unanswered', !await icmp(topo, 'coord', nat2))
  await topo.heal('nat2')
  await topo.heal('nat2')
  const resumedMs = await waitFor('echoes after heal', () => echoes() > before || broken() !== undefined, 20_000).catch(() => -1)
  check('heal: the established connection resumes', resumedMs >= 0 && echoes() > before && broken() === undefined,
    resumedMs >= 0 ? `echo after ${resumedMs} ms` : 'no echo in 20 s')
  await reach(topo, 'heal: new b1 -> coord works, seen as 11.0.0.102', 'b1', coord, PUBLIC_PORT, { me: 'coord', ip: nat2 })
  check('heal: coord -> 11.0.0.102 ICMP answers', await icmp(topo, 'coord', nat2))
}

async function stopBackground (): Promise<void> {
  await Promise.all([...background].map(async child => {
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }))
}

async function mwchkNamespaces (): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list'])
  return stdout.split('\n').map(l => l.split(' ')[0] ?? '').filter(ns => ns.startsWith(SPEC.prefix))
}

async function main (): Promise<number> {
  const reason = await unsupportedReason()
  if (reason !== undefined) {
    console.log(`SKIP ${reason}`)
    return 0
  }
  await removeStale(SPEC.prefix)
  const started = Date.now()
  const topo = await Topology.create(SPEC)
  console.log(`built ${topo.hosts.length} hosts in ${Date.now() - started} ms`)
  try {
    await checks(topo)
  } catch (err) {
    check('checks ran to the end', false, (err as Error).message)
  } finally {
    await stopBackground()
    await topo.destroy()
  }
  await topo.destroy()
  const left = await mwchkNamespaces()
  check('destroy leaves no mwchk namespace (and is idempotent)', left.length === 0, left.join(' '))
  console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`)
  return failures === 0 ? 0 : 1
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  console.error('FAIL', err instanceof Error ? err.message : err)
  process.exitCode = 1
})
