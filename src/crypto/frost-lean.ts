/**
 * Lean FROST signing (RFC 9591 section 5) for the wallet's two suites, byte-identical to noble's
 * `ed25519_FROST` and `schnorr_FROST`, on noble's own point, field and hash primitives: no curve
 * or hash code here, only the protocol steps, done once instead of once per call.
 *
 * Where the time goes in noble's FROST, and what this module does instead:
 * - noble decodes the whole public package and every commitment on every call, and on Ed25519
 *   each decode runs the prime-order-subgroup check twice (a full scalar multiplication each).
 *   Here `prepareKey` decodes the public package once, and the per-(commitment list, message)
 *   work (element decoding, binding factors, group commitment, challenge, Lagrange coefficients)
 *   is done once and cached, so signShare, aggregate and every verifyShare of one signing share it.
 * - noble's signShare recomputes its own commitments from the nonces (two constant-time base
 *   multiplications). The caller (sign.ts) already checks that its own commitment is in the list,
 *   and secret scalars here go into field arithmetic only, never into a point multiplication.
 * - group-key multiplications (aggregate verification, `leanVerify`) use a precomputed table of
 *   the group key, built on first use; all other public multiplications are multi-scalar
 *   multiplications (`mulAddUnsafe`) or the precomputed base point. Only public values meet them.
 *
 * Taproot (noble's schnorr_FROST, BIP-340 / frost-secp256k1-tr): when the group key
 * (`commitments[0]`) has odd y, noble negates the whole public package (group key, verifying
 * shares) and every signing share before use (`frostPubToEvenY`, `frostSecretToEvenY`); when the
 * group commitment R has odd y it negates the signer's nonces and, when verifying a share, the
 * signer's commitment share. Signatures are x(R) || z. `prepareKey` does the package negation
 * once; the rest happens per signing exactly as noble does it. DKG keys of this suite are already
 * Taproot-tweaked by noble (`adjustDKG`), so no tweak is applied here.
 *
 * Caches hold public data only (points, binding factors, challenges, Lagrange coefficients), keyed
 * by the bytes they derive from, and are bounded. Secrets are never cached or kept.
 */
import { mulAddUnsafe, type CurvePoint } from '@noble/curves/abstract/curve.js'
import type { IField } from '@noble/curves/abstract/modular.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { schnorr, secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE, bytesToNumberLE } from '@noble/curves/utils.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { concat, utf8 } from './bytes.js'
import { CryptoInputError } from './errors.js'
import { MAX_PARTIES, POINT_BYTES, SCALAR_BYTES, type Scheme } from './suites.js'

/** A round-one commitment as it comes off the wire (noble's NonceCommitments fits). */
export interface LeanCommitment { identifier: string, hiding: Uint8Array, binding: Uint8Array }
/** A public package (noble's FrostPublic fits): `commitments[0]` is the group key. */
export interface LeanPublic {
  signers: { min: number, max: number }
  commitments: Uint8Array[]
  verifyingShares: Record<string, Uint8Array>
}
/** A signer's secret share (noble's FrostSecret fits). */
export interface LeanSecret { identifier: string, signingShare: Uint8Array }
/** A signer's round-one nonces (noble's Nonces fits); consumed (zeroed) by a successful signing. */
export interface LeanNonces { hiding: Uint8Array, binding: Uint8Array }

/**
 * A decoded, validated public package. Opaque apart from the fields below; keep one per key and
 * reuse it (it also carries the per-signing caches). Safe to share: it holds public data only.
 */
export interface PreparedKey {
  readonly scheme: Scheme
  readonly signers: Readonly<{ min: number, max: number }>
  /** `commitments[0]` of the package as given (taproot: possibly odd y, noble negates it at use) */
  readonly groupPublicKey: Uint8Array
  /** identifiers of the holders, ascending by scalar value */
  readonly identifiers: readonly string[]
}

/** leanAggregate: the summed signature does not verify under the group key (some share is bad). */
export class InvalidAggregateError extends CryptoInputError {
  override name = 'InvalidAggregateError'
}

// ---- suites: noble's primitives, wired as noble's createFROST wires them

interface Suite<P extends CurvePoint<bigint, P>> {
  readonly scheme: Scheme
  readonly Fn: IField<bigint>
  readonly base: P
  readonly zero: P
  readonly taproot: boolean
  /** RFC 9591 §3.1 DeserializeElement: canonical, on the curve, not the identity, prime-order subgroup. Throws. */
  decode: (bytes: Uint8Array) => P
  /** A point this process made itself (canonical, on the curve), decoded without the subgroup check. Throws. */
  decodeOwn: (bytes: Uint8Array) => P
  /** RFC 9591 §3.1 SerializeElement. */
  encode: (p: P) => Uint8Array
  /**
   * R of a group signature (taproot: x(R), taken as the even-y point): its serialization and
   * point. No subgroup check: with the group key in the subgroup, R outside it fails z·G == R + c·PK.
   */
  signatureR: (rPart: Uint8Array) => { bytes: Uint8Array, point: P }
  /** Σ scalars[i]·points[i], variable time: public inputs only. */
  msm: (points: P[], scalars: bigint[]) => P
  /** RFC 9591 §6.1 / §6.5 H1 (binding factor), H4 (message), H5 (commitment list). */
  h1: (input: Uint8Array) => bigint
  h4: (msg: Uint8Array) => Uint8Array
  h5: (encoded: Uint8Array) => Uint8Array
  /** RFC 9591 §4.6 challenge (taproot: BIP-340 challenge over x-only R and key). */
  challenge: (R: Uint8Array, PK: Uint8Array, msg: Uint8Array) => bigint
}

type EdPoint = ReturnType<typeof ed25519.Point.fromBytes>
type SecpPoint = ReturnType<typeof secp256k1.Point.fromBytes>

const ED_NAME = 'FROST-ED25519-SHA512-v1'
const ED_RHO = utf8(ED_NAME + 'rho')
const ED_MSG = utf8(ED_NAME + 'msg')
const ED_COM = utf8(ED_NAME + 'com')
const edFn = ed25519.Point.Fn

const ED25519: Suite<EdPoint> = {
  scheme: 'ed25519',
  Fn: edFn,
  base: ed25519.Point.BASE,
  zero: ed25519.Point.ZERO,
  taproot: false,
  decode: (bytes) => {
    if (bytes.length !== POINT_BYTES.ed25519) throw new Error('wrong element length')
    const p = ed25519.Point.fromBytes(bytes, false) // RFC 8032 strict: y < p, no x=0 with sign bit
    p.assertValidity() // on the curve; throws on the identity
    if (p.is0() || !p.isTorsionFree()) throw new Error('element not in the prime-order subgroup')
    return p
  },
  decodeOwn: (bytes) => {
    const p = ed25519.Point.fromBytes(bytes, false)
    p.assertValidity()
    return p
  },
  encode: (p) => p.toBytes(),
  signatureR: (rPart) => {
    const point = ed25519.Point.fromBytes(rPart, false)
    point.assertValidity() // throws on the identity
    return { bytes: rPart, point }
  },
  msm: (points, scalars) => mulAddUnsafe(ed25519.Point, points, scalars),
  // RFC 9591 §6.1: H1(m) = SHA-512(contextString || "rho" || m) as a little-endian scalar mod L.
  h1: (input) => edFn.create(bytesToNumberLE(sha512(concat(ED_RHO, input)))),
  h4: (msg) => sha512(concat(ED_MSG, msg)),
  h5: (encoded) => sha512(concat(ED_COM, encoded)),
  // RFC 9591 §6.1: H2(m) = SHA-512(m), undecorated for RFC 8032 compatibility.
  challenge: (R, PK, msg) => edFn.create(bytesToNumberLE(sha512(concat(R, PK, msg))))
}

const TR_NAME = 'FROST-secp256k1-SHA256-TR-v1'
const TR_RHO = utf8(TR_NAME + 'rho')
const TR_MSG = utf8(TR_NAME + 'msg')
const TR_COM = utf8(TR_NAME + 'com')
const secpFn = secp256k1.Point.Fn

const TAPROOT: Suite<SecpPoint> = {
  scheme: 'taproot',
  Fn: secpFn,
  base: secp256k1.Point.BASE,
  zero: secp256k1.Point.ZERO,
  taproot: true,
  decode: (bytes) => {
    // Only the 33-byte compressed form, which noble's decoder takes canonically (x < p, on the
    // curve: fromBytes runs assertValidity, which also refuses the identity). Cofactor 1.
    if (bytes.length !== POINT_BYTES.taproot || (bytes[0] !== 2 && bytes[0] !== 3)) throw new Error('wrong element encoding')
    return secp256k1.Point.fromBytes(bytes)
  },
  decodeOwn: (bytes) => secp256k1.Point.fromBytes(bytes),
  encode: (p) => p.toBytes(true),
  signatureR: (rPart) => {
    // BIP-340 lift_x as noble's schnorr_FROST does it: 0x02 || x (x < p, on the curve).
    const bytes = concat(Uint8Array.of(2), rPart)
    return { bytes, point: secp256k1.Point.fromBytes(bytes) }
  },
  // noble's GLV-split joint multiplication (Point.mulAddUnsafe) per pair beats the plain
  // interleaved MSM for the few points of a signing (half-length doubling chains).
  msm: (points, scalars) => {
    let acc = secp256k1.Point.ZERO
    for (let i = 0; i < points.length; i += 2) {
      const p = points[i]
      const q = points[i + 1]
      const a = scalars[i]
      const b = scalars[i + 1]
      if (p === undefined || a === undefined) break
      acc = acc.add(q === undefined || b === undefined ? p.multiplyUnsafe(a) : p.mulAddUnsafe(a, q, b))
    }
    return acc
  },
  // RFC 9591 §6.5: H1 = hash_to_field(m, DST = contextString || "rho") (expand_message_xmd, SHA-256).
  h1: (input) => secp256k1_hasher.hashToScalar(input, { DST: TR_RHO }),
  h4: (msg) => sha256(concat(TR_MSG, msg)),
  h5: (encoded) => sha256(concat(TR_COM, encoded)),
  // BIP-340: e = int(hash_BIP0340/challenge(x(R) || x(P) || m)) mod n, over x-only encodings.
  challenge: (R, PK, msg) => secpFn.create(bytesToNumberBE(schnorr.utils.taggedHash('BIP0340/challenge', R.subarray(1), PK.subarray(1), msg)))
}

// ---- small helpers

const fail = (msg: string): CryptoInputError => new CryptoInputError(msg)

/** Runs `f`, turning whatever noble throws into CryptoInputError with `what` as its message. */
function guard<T> (what: string, f: () => T): T {
  try {
    return f()
  } catch (err) {
    if (err instanceof CryptoInputError) throw err
    throw fail(what)
  }
}

function isBytes (b: unknown, len?: number): b is Uint8Array {
  return b instanceof Uint8Array && (len === undefined || b.length === len)
}

/** A bounded map that forgets the least recently used entry. */
class Lru<V> {
  private readonly map = new Map<string, V>()
  constructor (private readonly cap: number) {}
  get (key: string): V | undefined {
    const v = this.map.get(key)
    if (v !== undefined) {
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }

  set (key: string, v: V): void {
    this.map.delete(key)
    this.map.set(key, v)
    if (this.map.size > this.cap) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) this.map.delete(oldest.value)
    }
  }
}

const SESSION_CACHE = 64
const LAGRANGE_CACHE = 64
const ELEMENT_CACHE = 1024
/** Window of the group key's precomputed table (noble's wNAF tables: ~520 points at W=4). */
const GROUP_KEY_WINDOW = 4

interface Holder<P> { readonly id: string, readonly x: bigint, readonly xBytes: Uint8Array, readonly share: P }

interface SessionEntry<P> {
  readonly hiding: P
  readonly binding: P
  /** binding factor ρ_i (RFC 9591 §4.4) */
  readonly rho: bigint
  /** Lagrange coefficient λ_i over the signer set (RFC 9591 §4.2) */
  readonly lambda: bigint
}

/** Everything of one (commitment list, message) that does not depend on a secret. */
interface Session<P> {
  readonly entries: ReadonlyMap<string, SessionEntry<P>>
  /** the group commitment as computed (taproot: parity as is; encodings use it) */
  readonly R: P
  readonly Rbytes: Uint8Array
  /** taproot: R has odd y, so nonces and commitment shares are negated (noble's adjustNonces) */
  readonly negateR: boolean
  /** the challenge c (RFC 9591 §4.6) */
  readonly c: bigint
}

class Engine<P extends CurvePoint<bigint, P>> {
  private readonly sessions = new Lru<Session<P>>(SESSION_CACHE)
  private readonly lagrange = new Lru<ReadonlyMap<string, bigint>>(LAGRANGE_CACHE)
  private readonly elements = new Lru<P>(ELEMENT_CACHE)
  private groupKeyTable = false

  constructor (
    readonly suite: Suite<P>,
    readonly min: number,
    readonly max: number,
    /** group key as noble uses it (taproot: even y) */
    private readonly groupKey: P,
    /** its serialization, the first part of the binding-factor input */
    private readonly groupKeyBytes: Uint8Array,
    /** taproot: the package was negated to even y, so signing shares are negated too */
    private readonly negateKey: boolean,
    private readonly holders: ReadonlyMap<string, Holder<P>>
  ) {}

  /** holder identifiers, ascending by scalar value */
  get identifiers (): string[] {
    return [...this.holders.keys()]
  }

  /** A commitment element, fully validated once per distinct byte string. */
  private element (bytes: Uint8Array): P {
    const key = bytesToHex(bytes)
    const cached = this.elements.get(key)
    if (cached !== undefined) return cached
    const p = this.suite.decode(bytes)
    this.elements.set(key, p)
    return p
  }

  /**
   * Our own commitment, made from our own nonces ([d]B is in the prime-order subgroup by
   * construction): cached after a plain decode, without the subgroup check (RFC 9591 §3.1 asks it
   * of elements received; this one was not).
   */
  trustOwn (c: LeanCommitment): void {
    for (const bytes of [c.hiding, c.binding]) {
      const key = bytesToHex(bytes)
      if (this.elements.get(key) === undefined) this.elements.set(key, this.suite.decodeOwn(bytes))
    }
  }

  checkCommitment (c: LeanCommitment): boolean {
    try {
      if (typeof c !== 'object' || c === null || typeof c.identifier !== 'string' || !this.holders.has(c.identifier)) return false
      if (!isBytes(c.hiding, POINT_BYTES[this.suite.scheme]) || !isBytes(c.binding, POINT_BYTES[this.suite.scheme])) return false
      this.element(c.hiding)
      this.element(c.binding)
      return true
    } catch {
      return false
    }
  }

  /** λ_i for every member of a signer set, ids ascending (RFC 9591 §4.2 derive_interpolating_value). */
  private lagrangeOf (sorted: ReadonlyArray<Holder<P>>): ReadonlyMap<string, bigint> {
    const key = sorted.map((h) => h.id).join(',')
    const cached = this.lagrange.get(key)
    if (cached !== undefined) return cached
    const { Fn } = this.suite
    const nums: bigint[] = []
    const dens: bigint[] = []
    for (const hi of sorted) {
      let num = Fn.ONE
      let den = Fn.ONE
      for (const hj of sorted) {
        if (hj === hi) continue
        num = Fn.mul(num, hj.x) // numerator *= x_j
        den = Fn.mul(den, Fn.sub(hj.x, hi.x)) // denominator *= x_j - x_i
      }
      nums.push(num)
      dens.push(den)
    }
    const invs = Fn.invertBatch(dens)
    const out = new Map<string, bigint>()
    sorted.forEach((h, i) => out.set(h.id, Fn.mul(nums[i] ?? Fn.ZERO, invs[i] ?? Fn.ZERO)))
    this.lagrange.set(key, out)
    return out
  }

  /**
   * The public part of a signing over `list` and `message`, computed once and cached by the
   * binding-factor prefix (group key || H4(msg) || H5(encoded list)), which pins all of it.
   */
  session (list: LeanCommitment[], message: Uint8Array): Session<P> {
    const { suite, holders } = this
    if (!isBytes(message)) throw fail('message must be bytes')
    if (!Array.isArray(list)) throw fail('commitment list must be an array')
    // RFC 9591 §5.2/§5.3: MIN_PARTICIPANTS <= NUM_PARTICIPANTS <= MAX_PARTICIPANTS.
    if (list.length < this.min || list.length > this.max) {
      throw fail(`commitment list must have t..n entries (t=${this.min}, n=${this.max}, got ${list.length})`)
    }
    const elementLength = POINT_BYTES[suite.scheme]
    const rows: Array<{ h: Holder<P>, c: LeanCommitment }> = []
    const seen = new Set<string>()
    for (const c of list) {
      if (typeof c !== 'object' || c === null || typeof c.identifier !== 'string') throw fail('commitment list has an invalid entry')
      const h = holders.get(c.identifier)
      if (h === undefined) throw fail('commitment list names an identifier that is not a holder of this key')
      if (seen.has(c.identifier)) throw fail('commitment list names an identifier twice')
      seen.add(c.identifier)
      if (!isBytes(c.hiding, elementLength) || !isBytes(c.binding, elementLength)) throw fail('commitment list has a malformed element')
      rows.push({ h, c })
    }
    // RFC 9591 §4.3: the commitment list is sorted by identifier (scalar value) and encoded as
    // SerializeScalar(id) || SerializeElement(hiding) || SerializeElement(binding) per entry.
    rows.sort((a, b) => (a.h.x < b.h.x ? -1 : a.h.x > b.h.x ? 1 : 0))
    const encoded = concat(...rows.flatMap(({ h, c }) => [h.xBytes, c.hiding, c.binding]))
    // RFC 9591 §4.4: rho_input_prefix = SerializeElement(group key) || H4(msg) || H5(encoded list).
    const prefix = concat(this.groupKeyBytes, suite.h4(message), suite.h5(encoded))
    const key = bytesToHex(prefix)
    const cached = this.sessions.get(key)
    if (cached !== undefined) return cached

    // RFC 9591 §3.1: every commitment element must deserialize (canonical, valid, not the identity).
    const points = guard('commitment list has an invalid element', () => rows.map(({ c }) => ({ hiding: this.element(c.hiding), binding: this.element(c.binding) })))
    // RFC 9591 §4.4: binding_factor_i = H1(rho_input_prefix || SerializeScalar(id_i)).
    const rhos = rows.map(({ h }) => suite.h1(concat(prefix, h.xBytes)))
    // RFC 9591 §4.5: R = Σ hiding_i + Σ binding_factor_i·binding_i (public: one MSM).
    let hidingSum = suite.zero
    for (const p of points) hidingSum = hidingSum.add(p.hiding)
    const R = hidingSum.add(suite.msm(points.map((p) => p.binding), rhos))
    if (R.is0()) throw fail('group commitment is the identity')
    const Rbytes = suite.encode(R)
    // RFC 9591 §4.6: c = H2(SerializeElement(R) || SerializeElement(group key) || msg); BIP-340 for taproot.
    const c = suite.challenge(Rbytes, this.groupKeyBytes, message)
    const lambdas = this.lagrangeOf(rows.map(({ h }) => h))
    const entries = new Map<string, SessionEntry<P>>()
    rows.forEach(({ h }, i) => {
      const p = points[i]
      const rho = rhos[i]
      const lambda = lambdas.get(h.id)
      if (p === undefined || rho === undefined || lambda === undefined) throw fail('internal: session rows out of step')
      entries.set(h.id, Object.freeze({ hiding: p.hiding, binding: p.binding, rho, lambda }))
    })
    // BIP-340 even-y R: noble negates the nonces (and commitment shares) when R has odd y.
    const negateR = suite.taproot && Rbytes[0] === 3
    const session: Session<P> = Object.freeze({ entries, R, Rbytes, negateR, c })
    this.sessions.set(key, session)
    return session
  }

  signShare (secret: LeanSecret, nonces: LeanNonces, list: LeanCommitment[], message: Uint8Array): Uint8Array {
    const { Fn } = this.suite
    if (typeof secret !== 'object' || secret === null || typeof secret.identifier !== 'string') throw fail('secret share malformed')
    if (!this.holders.has(secret.identifier)) throw fail('secret share identifier is not a holder of this key')
    if (!isBytes(secret.signingShare, SCALAR_BYTES)) throw fail('secret share malformed')
    if (typeof nonces !== 'object' || nonces === null || !isBytes(nonces.hiding, SCALAR_BYTES) || !isBytes(nonces.binding, SCALAR_BYTES)) {
      throw fail('nonces malformed')
    }
    const sk0 = guard('secret share malformed', () => Fn.fromBytes(secret.signingShare))
    const d0 = guard('nonces malformed', () => Fn.fromBytes(nonces.hiding))
    const e0 = guard('nonces malformed', () => Fn.fromBytes(nonces.binding))
    if (Fn.is0(d0) || Fn.is0(e0)) throw fail('signing nonces already used')
    if (!Array.isArray(list) || !list.some((c) => typeof c === 'object' && c !== null && c.identifier === secret.identifier)) {
      throw fail('our own commitment is not in the commitment list')
    }
    const s = this.session(list, message)
    const own = s.entries.get(secret.identifier)
    if (own === undefined) throw fail('our own commitment is not in the commitment list')
    // BIP-340 even-y key: noble negates the signing share with the package (frostSecretToEvenY).
    const sk = this.negateKey ? Fn.neg(sk0) : sk0
    // BIP-340 even-y R: noble negates both nonces when R has odd y (frostNoncesToEvenY).
    const d = s.negateR ? Fn.neg(d0) : d0
    const e = s.negateR ? Fn.neg(e0) : e0
    // RFC 9591 §5.2: z_i = d_i + e_i·binding_factor_i + λ_i·s_i·c (field arithmetic only).
    const z = Fn.add(Fn.add(d, Fn.mul(e, own.rho)), Fn.mul(Fn.mul(own.lambda, sk), s.c))
    // RFC 9591 §5.1/§5.2: nonces are single-use; consume them as noble does (all-zero is refused above).
    nonces.hiding.fill(0)
    nonces.binding.fill(0)
    return Fn.toBytes(z)
  }

  /** c·PK for the group key, through a table built on first use (public scalar). */
  private groupKeyTimes (c: bigint): P {
    if (!this.groupKeyTable) {
      this.groupKey.precompute(GROUP_KEY_WINDOW, false)
      this.groupKeyTable = true
    }
    return this.groupKey.multiplyUnsafe(c)
  }

  /** z·G == R + c·PK with R as BIP-340 / RFC 8032 take it (public values; the subgroup is checked on decode). */
  private equationHolds (z: bigint, R: P, c: bigint): boolean {
    return this.suite.base.multiplyUnsafe(z).equals(R.add(this.groupKeyTimes(c)))
  }

  private sigShareScalar (share: unknown): bigint {
    if (!isBytes(share, SCALAR_BYTES)) throw fail('signature share must be a 32-byte scalar')
    return guard('signature share is not a canonical scalar', () => this.suite.Fn.fromBytes(share))
  }

  aggregate (list: LeanCommitment[], message: Uint8Array, shares: Record<string, Uint8Array>, verify: boolean): Uint8Array {
    const { Fn } = this.suite
    const s = this.session(list, message)
    if (typeof shares !== 'object' || shares === null) throw fail('shares must be a record')
    if (Object.keys(shares).length !== s.entries.size) throw fail('exactly one share per listed signer is needed')
    // RFC 9591 §5.3: z = Σ z_i over the listed signers.
    let z = Fn.ZERO
    for (const id of s.entries.keys()) {
      if (!Object.hasOwn(shares, id)) throw fail('a listed signer has no share')
      z = Fn.add(z, this.sigShareScalar(shares[id]))
    }
    // BIP-340: the signature carries x(R) only, so its R is the even-y one.
    const Rsig = s.negateR ? s.R.negate() : s.R
    if (verify && !this.equationHolds(z, Rsig, s.c)) throw new InvalidAggregateError('aggregate signature does not verify: some signature share is invalid')
    // RFC 9591 §5.3 / Appendix A: SerializeElement(R) || SerializeScalar(z); BIP-340: x(R) || z.
    return concat(this.suite.taproot ? s.Rbytes.subarray(1) : s.Rbytes, Fn.toBytes(z))
  }

  verifyShare (list: LeanCommitment[], message: Uint8Array, identifier: string, share: Uint8Array): boolean {
    const { Fn } = this.suite
    if (typeof identifier !== 'string') throw fail('identifier must be a string')
    const holder = this.holders.get(identifier)
    if (holder === undefined) throw fail('identifier is not a holder of this key')
    const zi = this.sigShareScalar(share)
    const s = this.session(list, message)
    const e = s.entries.get(identifier)
    if (e === undefined) throw fail('identifier has no commitment in the list')
    // RFC 9591 §5.4: comm_share = hiding_i + binding_factor_i·binding_i; BIP-340: negated when R has odd y.
    const hiding = s.negateR ? e.hiding.negate() : e.hiding
    const binding = s.negateR ? e.binding.negate() : e.binding
    // RFC 9591 §5.4: z_i·G == comm_share + (c·λ_i)·PK_i (public values: one MSM).
    const rhs = hiding.add(this.suite.msm([binding, holder.share], [e.rho, Fn.mul(s.c, e.lambda)]))
    return this.suite.base.multiplyUnsafe(zi).equals(rhs)
  }

  verify (signature: Uint8Array, message: Uint8Array): boolean {
    const { suite } = this
    if (!isBytes(signature, (suite.taproot ? 32 : POINT_BYTES.ed25519) + SCALAR_BYTES) || !isBytes(message)) return false
    try {
      const R = suite.signatureR(signature.subarray(0, signature.length - SCALAR_BYTES))
      const z = suite.Fn.fromBytes(signature.subarray(signature.length - SCALAR_BYTES))
      // RFC 9591 §4.6 (BIP-340 for taproot) challenge, then z·G == R + c·PK.
      const c = suite.challenge(R.bytes, this.groupKeyBytes, message)
      return this.equationHolds(z, R.point, c)
    } catch {
      return false
    }
  }
}

function prepareWith<P extends CurvePoint<bigint, P>> (suite: Suite<P>, pub: LeanPublic): Engine<P> {
  if (typeof pub !== 'object' || pub === null || typeof pub.signers !== 'object' || pub.signers === null) throw fail('public package malformed')
  const { min, max } = pub.signers
  // noble (like frost-rs): 2 <= min <= max; the wallet caps max at MAX_PARTIES.
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 2 || min > max || max > MAX_PARTIES) throw fail('public package has invalid signer counts')
  if (!Array.isArray(pub.commitments) || pub.commitments.length !== min) throw fail('public package must have t commitments')
  if (typeof pub.verifyingShares !== 'object' || pub.verifyingShares === null) throw fail('public package has no verifying shares')
  // RFC 9591 §3.1: every element of the package deserializes (done once here, never per signing).
  const commitments = guard('public package has an invalid commitment', () => pub.commitments.map((c) => {
    if (!isBytes(c)) throw fail('public package has an invalid commitment')
    return suite.decode(c)
  }))
  const first = pub.commitments[0]
  const gpk0 = commitments[0]
  if (first === undefined || gpk0 === undefined) throw fail('public package has no group key')
  // BIP-340 even y: noble's schnorr_FROST negates the whole package when the group key has odd y.
  const negateKey = suite.taproot && first[0] === 3
  const entries = Object.entries(pub.verifyingShares)
  if (entries.length !== max) throw fail('public package must have n verifying shares')
  const holders: Array<Holder<P>> = []
  for (const [id, bytes] of entries) {
    // Identifiers: canonical lower-case hex of a non-zero scalar (noble's parseIdentifier).
    const x = guard('public package has an invalid identifier', () => {
      if (!/^[0-9a-f]{64}$/.test(id)) throw new Error('not canonical hex')
      const n = suite.Fn.fromBytes(hexToBytes(id))
      if (suite.Fn.is0(n) || bytesToHex(suite.Fn.toBytes(n)) !== id) throw new Error('not canonical')
      return n
    })
    if (!isBytes(bytes)) throw fail('public package has an invalid verifying share')
    const point = guard('public package has an invalid verifying share', () => suite.decode(bytes))
    holders.push({ id, x, xBytes: suite.Fn.toBytes(x), share: negateKey ? point.negate() : point })
  }
  holders.sort((a, b) => (a.x < b.x ? -1 : a.x > b.x ? 1 : 0))
  const groupKey = negateKey ? gpk0.negate() : gpk0
  const groupKeyBytes = negateKey ? suite.encode(groupKey) : Uint8Array.from(first)
  return new Engine(suite, min, max, groupKey, groupKeyBytes, negateKey, new Map(holders.map((h) => [h.id, h])))
}

type AnyEngine = Engine<EdPoint> | Engine<SecpPoint>
const engines = new WeakMap<PreparedKey, AnyEngine>()

function engineOf (prepared: PreparedKey): AnyEngine {
  const e = typeof prepared === 'object' && prepared !== null ? engines.get(prepared) : undefined
  if (e === undefined) throw fail('not a prepared key (use prepareKey)')
  return e
}

/**
 * Decode and validate a public package once: group key, verifying shares by identifier,
 * identifiers as scalars; taproot: the even-y normalization noble applies at every use.
 */
export function prepareKey (scheme: Scheme, pub: LeanPublic): PreparedKey {
  let engine: AnyEngine
  if (scheme === 'ed25519') engine = prepareWith(ED25519, pub)
  else if (scheme === 'taproot') engine = prepareWith(TAPROOT, pub)
  else throw fail('unknown scheme')
  const prepared: PreparedKey = Object.freeze({
    scheme,
    signers: Object.freeze({ min: engine.min, max: engine.max }),
    groupPublicKey: Uint8Array.from(pub.commitments[0] ?? []),
    identifiers: Object.freeze(engine.identifiers)
  })
  engines.set(prepared, engine)
  return prepared
}

/**
 * RFC 9591 §5.2: this signer's share, byte-identical to noble's signShare with the same inputs.
 * Consumes `nonces` (zeroes both in place) on success, as noble does; refuses all-zero nonces.
 * Does NOT recompute the own commitment from the nonces (noble does): the caller must make sure
 * the listed commitment under our identifier is the one of these nonces (sign.ts does).
 */
export function leanSignShare (prepared: PreparedKey, secret: LeanSecret, nonces: LeanNonces, commitmentList: LeanCommitment[], message: Uint8Array): Uint8Array {
  return engineOf(prepared).signShare(secret, nonces, commitmentList, message)
}

/**
 * RFC 9591 §5.3: the group signature, byte-identical to noble's aggregate. With `verify` (the
 * default, as noble does) the result is checked under the group key first and
 * InvalidAggregateError is thrown when it fails; find the bad shares with leanVerifyShare.
 */
export function leanAggregate (
  prepared: PreparedKey, commitmentList: LeanCommitment[], message: Uint8Array, shares: Record<string, Uint8Array>,
  opts: { verify?: boolean } = {}
): Uint8Array {
  return engineOf(prepared).aggregate(commitmentList, message, shares, opts.verify ?? true)
}

/**
 * RFC 9591 §5.4: whether `identifier`'s share verifies. Throws CryptoInputError for malformed
 * input (share not a 32-byte canonical scalar, identifier not listed), as noble throws there.
 */
export function leanVerifyShare (prepared: PreparedKey, commitmentList: LeanCommitment[], message: Uint8Array, identifier: string, share: Uint8Array): boolean {
  return engineOf(prepared).verifyShare(commitmentList, message, identifier, share)
}

/** Identifiers whose shares fail RFC 9591 §5.4 verification (missing or malformed shares count as failing). */
export function leanInvalidShares (prepared: PreparedKey, commitmentList: LeanCommitment[], message: Uint8Array, shares: Record<string, Uint8Array>): string[] {
  const engine = engineOf(prepared)
  engine.session(commitmentList, message)
  const bad: string[] = []
  for (const c of commitmentList) {
    let ok = false
    try {
      ok = Object.hasOwn(shares, c.identifier) && engine.verifyShare(commitmentList, message, c.identifier, shares[c.identifier] as Uint8Array)
    } catch {
      ok = false
    }
    if (!ok) bad.push(c.identifier)
  }
  return bad
}

/**
 * A group signature under the prepared key: the same verdict as noble's verify with
 * `groupPublicKey` (Ed25519: RFC 8032 encoding; taproot: BIP-340 x(R) || z). Never throws.
 */
export function leanVerify (prepared: PreparedKey, signature: Uint8Array, message: Uint8Array): boolean {
  return engineOf(prepared).verify(signature, message)
}

/**
 * A round-one commitment of a holder, validated as RFC 9591 §3.1 wants (the elements are then
 * cached, so a later signing over it does not decode them again). Never throws.
 */
export function leanCheckCommitment (prepared: PreparedKey, commitment: LeanCommitment): boolean {
  return engineOf(prepared).checkCommitment(commitment)
}

/**
 * Caches the points of the signer's OWN commitment without the subgroup check, which a point
 * this process computed from its own nonces cannot fail. Only for a commitment the caller has
 * compared byte for byte with the one of its own nonces (sign.ts signShare does).
 */
export function leanTrustOwnCommitment (prepared: PreparedKey, own: LeanCommitment): void {
  engineOf(prepared).trustOwn(own)
}
