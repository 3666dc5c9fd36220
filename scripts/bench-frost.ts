/**
 * Per-operation cost of FROST signing: noble's ed25519_FROST / schnorr_FROST against the lean
 * implementation (src/crypto/frost-lean.ts), on a trusted-dealer 3-of-5 key with 3 signers.
 * Each figure is the median of N single operations, in CPU milliseconds (process.cpuUsage,
 * user + system: steadier than wall time on a shared machine).
 *
 *   signShare       one signer's share; lean "cold": the first call for a fresh commitment list
 *                   (decodes and validates it), "warm": another call for the same list and message
 *                   (what a process that signs or verifies several times per session pays)
 *   aggregate       the 3 shares into a signature, verification included (noble verifies too);
 *                   lean cold: commitment list not seen before by this prepared key
 *   verifyShare     one share (RFC 9591 5.4); lean warm: after aggregate over the same list
 *   verify          the group signature under the group key
 *   prepareKey      lean only: decode and validate the public package (once per key)
 *
 * Usage: npx tsx scripts/bench-frost.ts [--n 30] [--json]
 * (or build with `npx tsc -p .` and run `npx node dist/scripts/bench-frost.js`).
 */
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import type { FrostPublic, FrostSecret, NonceCommitments, Nonces } from '@noble/curves/abstract/frost.js'
import { leanAggregate, leanSignShare, leanVerify, leanVerifyShare, prepareKey, type PreparedKey } from '../src/crypto/frost-lean.js'
import { frostSuite, SCHEMES, type Scheme } from '../src/crypto/suites.js'

export interface FrostOpFigure {
  scheme: Scheme
  op: string
  /** median CPU ms per op of noble's FROST, undefined where noble has no such op */
  nobleMs?: number
  /** median CPU ms per op of the lean implementation */
  leanMs: number
  /** nobleMs / leanMs */
  ratio?: number
}

interface Round { list: NonceCommitments[], nonces: Nonces[], message: Uint8Array, shares: Record<string, Uint8Array>, signature: Uint8Array }

function cpuMs (f: () => unknown): number {
  const from = process.cpuUsage()
  f()
  const d = process.cpuUsage(from)
  return (d.user + d.system) / 1000
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

const copyNonces = (n: Nonces): Nonces => ({ hiding: Uint8Array.from(n.hiding), binding: Uint8Array.from(n.binding) })

/** `count` signing rounds of the same signers over fresh commitments and messages. */
function rounds (scheme: Scheme, pub: FrostPublic, secrets: FrostSecret[], count: number): Round[] {
  const frost = frostSuite(scheme)
  const prepared = prepareKey(scheme, pub)
  const out: Round[] = []
  for (let i = 0; i < count; i++) {
    const commits = secrets.map((s) => frost.commit(s))
    const list = commits.map((c) => c.commitments)
    const message = crypto.getRandomValues(new Uint8Array(32))
    const shares: Record<string, Uint8Array> = {}
    secrets.forEach((s, j) => {
      const c = commits[j]
      if (c === undefined) throw new Error('no commit')
      shares[s.identifier] = leanSignShare(prepared, s, copyNonces(c.nonces), list, message)
    })
    out.push({ list, nonces: commits.map((c) => c.nonces), message, shares, signature: leanAggregate(prepared, list, message, shares) })
  }
  return out
}

function schemeFigures (scheme: Scheme, n: number): FrostOpFigure[] {
  const frost = frostSuite(scheme)
  const deal = frost.trustedDealer({ min: 3, max: 5 })
  const secrets = Object.values(deal.secretShares).slice(0, 3)
  const [s0, s1] = secrets
  if (s0 === undefined || s1 === undefined) throw new Error('dealer gave too few shares')
  const data = rounds(scheme, deal.public, secrets, n + 1)
  const groupKey = deal.public.commitments[0] ?? new Uint8Array(0)
  // A fresh prepared key: its caches start empty. Round 0 warms up the JIT and the group-key table.
  const times = (f: (r: Round) => unknown): number => median(data.slice(1).map((r) => cpuMs(() => f(r))))
  const warm = (f: (r: Round) => unknown): void => { const r0 = data[0]; if (r0 !== undefined) f(r0) }
  const fig = (op: string, noble: ((r: Round) => unknown) | undefined, lean: (r: Round) => unknown): FrostOpFigure => {
    let nobleMs: number | undefined
    if (noble !== undefined) {
      warm(noble)
      nobleMs = times(noble)
    }
    warm(lean)
    const leanMs = times(lean)
    return { scheme, op, nobleMs, leanMs, ...(nobleMs !== undefined ? { ratio: nobleMs / leanMs } : {}) }
  }
  const out: FrostOpFigure[] = []
  const prepareMs = median(Array.from({ length: Math.min(n, 10) }, () => cpuMs(() => prepareKey(scheme, deal.public))))
  out.push({ scheme, op: 'prepareKey (once per key)', leanMs: prepareMs })

  let pk: PreparedKey = prepareKey(scheme, deal.public)
  const nonce0 = (r: Round): Nonces => copyNonces(r.nonces[0] ?? { hiding: new Uint8Array(32), binding: new Uint8Array(32) })
  const nonce1 = (r: Round): Nonces => copyNonces(r.nonces[1] ?? { hiding: new Uint8Array(32), binding: new Uint8Array(32) })
  out.push(fig('signShare (lean cold)',
    (r) => frost.signShare(s0, deal.public, nonce0(r), r.list, r.message),
    (r) => leanSignShare(pk, s0, nonce0(r), r.list, r.message)))
  // warm: the same lists again, now known to pk
  out.push(fig('signShare (lean warm)', undefined, (r) => leanSignShare(pk, s1, nonce1(r), r.list, r.message)))

  pk = prepareKey(scheme, deal.public)
  out.push(fig('aggregate 3-of-5 (lean cold)',
    (r) => frost.aggregate(deal.public, r.list, r.message, r.shares),
    (r) => leanAggregate(pk, r.list, r.message, r.shares)))
  const id0 = s0.identifier
  out.push(fig('verifyShare (lean warm)',
    (r) => frost.verifyShare(deal.public, r.list, r.message, id0, r.shares[id0] ?? new Uint8Array(0)),
    (r) => leanVerifyShare(pk, r.list, r.message, id0, r.shares[id0] ?? new Uint8Array(0))))
  pk = prepareKey(scheme, deal.public)
  out.push(fig('verifyShare (lean cold)', undefined, (r) => leanVerifyShare(pk, r.list, r.message, id0, r.shares[id0] ?? new Uint8Array(0))))
  out.push(fig('verify',
    (r) => frost.verify(r.signature, r.message, groupKey),
    (r) => leanVerify(pk, r.signature, r.message)))
  // Coordinator path of sign.ts today (aggregate, then verify) against lean aggregate (verifies once).
  pk = prepareKey(scheme, deal.public)
  out.push(fig('coordinator: aggregate + verify (lean: aggregate only)',
    (r) => frost.verify(frost.aggregate(deal.public, r.list, r.message, r.shares), r.message, groupKey),
    (r) => leanAggregate(pk, r.list, r.message, r.shares)))
  return out
}

/** Median CPU ms per op, noble against lean, for both schemes. */
export async function measureFrostOps (opts: { n?: number } = {}): Promise<FrostOpFigure[]> {
  const n = opts.n ?? 30
  const out: FrostOpFigure[] = []
  for (const scheme of SCHEMES) {
    out.push(...schemeFigures(scheme, n))
    await new Promise((resolve) => setImmediate(resolve))
  }
  return out
}

function printTable (figs: FrostOpFigure[]): void {
  const fmt = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(2))
  console.log(`${'scheme'.padEnd(8)} ${'op'.padEnd(56)} ${'noble ms'.padStart(9)} ${'lean ms'.padStart(9)} ${'ratio'.padStart(7)}`)
  for (const f of figs) {
    console.log(`${f.scheme.padEnd(8)} ${f.op.padEnd(56)} ${fmt(f.nobleMs).padStart(9)} ${fmt(f.leanMs).padStart(9)} ${(f.ratio === undefined ? '-' : f.ratio.toFixed(1) + 'x').padStart(7)}`)
  }
}

const entry = process.argv[1]
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '30' }, json: { type: 'boolean', default: false } } })
  const n = Number(values.n)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error('--n must be a positive integer')
  const figs = await measureFrostOps({ n })
  if (values.json) console.log(JSON.stringify(figs, null, 2))
  else printTable(figs)
}
