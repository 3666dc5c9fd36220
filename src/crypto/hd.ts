/**
 * Unhardened (public) child keys of a threshold key. The coordinator and watch-only wallets derive
 * a child from the root public key and chain code alone; every holder adds the child's tweak (one
 * public scalar) to its own share, so a new address needs no DKG and no extra round.
 *
 * taproot: BIP-32 CKDpub along the path on the plain secp256k1 root of an untweaked DKG
 * (DkgParams.untweaked), then, once at the leaf, the BIP-86 tweak (dkg.ts taprootTweakPublic /
 * taprootTweakKey / taprootTweakGroupKey): the keys and addresses a BIP-86 wallet derives as
 * tr(xpub/path) from the xpub encodeXpub gives.
 * ed25519: BIP32-Ed25519 public derivation (Khovratovich-Law 2017); signatures stay plain Ed25519
 * under the child key. Only the public half of that scheme is used: the secret exists only as
 * shares mod L, so its bounds on kL and its kR part do not apply.
 *
 * Chain codes are public (agreed from the DKG transcript, see hdChainCode). With unhardened
 * derivation, one child's whole secret plus the chain code reveals the root secret (BIP-32
 * "Security"); in this wallet no secret is ever whole in one place.
 */
import type { IField } from '@noble/curves/abstract/modular.js'
import type { FrostPublic, Key } from '@noble/curves/abstract/frost.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE, bytesToNumberLE } from '@noble/curves/utils.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { createBase58check } from '@scure/base'
import { bytesEqual, concat, lp, u32 } from './bytes.js'
import { taprootTweakGroupKey, taprootTweakKey, taprootTweakPublic } from './dkg.js'
import { CryptoInputError } from './errors.js'
import { type BitcoinNetwork, isScheme, isValidElement, type Scheme } from './suites.js'

/** The longest derivation path accepted (BIP-32 allows 255 levels; wallets use 2 to 5). */
export const MAX_HD_DEPTH = 16
/** BIP-32: indices from 2^31 up are hardened, which derivation from a public key cannot do. */
export const HD_HARDENED_OFFSET = 0x80000000

const CHAIN_CODE_BYTES = 32
const TRANSCRIPT_HASH_BYTES = 32
const CHAIN_CODE_DOMAIN = 'mpc-wallet/hd-chain-code/1'
const MAX_PATH_CHARS = 256
/** BIP-32 "Serialization format" version bytes of public keys: xpub (mainnet), tpub (testnet and regtest). */
const XPUB_VERSION: Readonly<Record<BitcoinNetwork, number>> = Object.freeze({ mainnet: 0x0488b21e, testnet: 0x043587cf, regtest: 0x043587cf })
const base58check = createBase58check(sha256)

/** A child key as the coordinator derives it from the root public key (no share involved). */
export interface HdChild {
  path: number[]
  /** the child public key before any Taproot tweak: taproot 33-byte compressed, ed25519 32 bytes */
  publicKey: Uint8Array
  /** the child's chain code (32 bytes), for deriving further below it */
  chainCode: Uint8Array
  /** the sum added to the root secret along the path: child key = root key + tweak*G */
  tweak: bigint
}

/** A point of either curve, through the methods used here (noble's Point classes). */
interface HdPoint {
  add: (other: HdPoint) => HdPoint
  multiply: (scalar: bigint) => HdPoint
  is0: () => boolean
  toBytes: () => Uint8Array<ArrayBuffer>
}

interface HdGroup {
  readonly Fn: IField<bigint>
  readonly base: HdPoint
  /** RFC 9591 section 3.1 DeserializeElement (isValidElement); undefined if invalid */
  decode: (bytes: unknown) => HdPoint | undefined
}

const groups: Record<Scheme, HdGroup> = {
  taproot: {
    Fn: secp256k1.Point.Fn,
    base: secp256k1.Point.BASE as unknown as HdPoint,
    decode: (b) => b instanceof Uint8Array && isValidElement('taproot', b) ? secp256k1.Point.fromBytes(b) as unknown as HdPoint : undefined
  },
  ed25519: {
    Fn: ed25519.Point.Fn,
    base: ed25519.Point.BASE as unknown as HdPoint,
    decode: (b) => b instanceof Uint8Array && isValidElement('ed25519', b) ? ed25519.Point.fromBytes(b) as unknown as HdPoint : undefined
  }
}

const quote = (s: string): string => JSON.stringify(s.slice(0, 32))

function groupOf (scheme: Scheme): HdGroup {
  if (typeof scheme !== 'string' || !isScheme(scheme)) throw new CryptoInputError(`unknown scheme ${quote(String(scheme))}`)
  return groups[scheme]
}

function decodePoint (g: HdGroup, bytes: unknown, what: string): HdPoint {
  const p = g.decode(bytes)
  if (p === undefined) throw new CryptoInputError(`invalid ${what}`)
  return p
}

/** P + t*G (t a public scalar; noble refuses to multiply by 0). */
function addTweak (g: HdGroup, p: HdPoint, t: bigint): HdPoint {
  return t === 0n ? p : p.add(g.base.multiply(t))
}

function checkPath (path: readonly number[]): number[] {
  const given: unknown = path
  if (!Array.isArray(given)) throw new CryptoInputError('an HD path must be an array of indices')
  if (path.length > MAX_HD_DEPTH) throw new CryptoInputError(`an HD path may have at most ${MAX_HD_DEPTH} steps (got ${path.length})`)
  path.forEach((i, k) => {
    if (!Number.isSafeInteger(i) || i < 0) throw new CryptoInputError(`HD index at depth ${k + 1} must be a non-negative integer`)
    if (i >= HD_HARDENED_OFFSET) throw new CryptoInputError(`HD index ${i} at depth ${k + 1} is hardened (>= 2^31): public derivation cannot do hardened steps`)
  })
  return [...path]
}

function checkChainCode (chainCode: Uint8Array): void {
  if (!(chainCode instanceof Uint8Array) || chainCode.length !== CHAIN_CODE_BYTES) throw new CryptoInputError(`a chain code must be ${CHAIN_CODE_BYTES} bytes`)
}

/**
 * 'm' -> [], 'm/0/5' -> [0, 5]: decimal indices below 2^31, no leading zeros, at most MAX_HD_DEPTH
 * steps. A hardened step (0', 0h, 0H) is refused: public derivation cannot do hardened steps.
 */
export function parseHdPath (path: string): number[] {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_PATH_CHARS) {
    throw new CryptoInputError(`an HD path must be a string 'm/i/j/…' of at most ${MAX_PATH_CHARS} characters`)
  }
  const parts = path.split('/')
  if (parts[0] !== 'm') throw new CryptoInputError(`an HD path starts with 'm' (got ${quote(path)})`)
  if (parts.length - 1 > MAX_HD_DEPTH) throw new CryptoInputError(`an HD path may have at most ${MAX_HD_DEPTH} steps (got ${parts.length - 1})`)
  return checkPath(parts.slice(1).map((p, k) => {
    if (/^[0-9]+['hH]$/.test(p)) throw new CryptoInputError(`hardened step ${quote(p)} at depth ${k + 1}: public derivation cannot do hardened steps`)
    if (!/^(0|[1-9][0-9]{0,9})$/.test(p)) throw new CryptoInputError(`HD path step ${quote(p)} at depth ${k + 1} is not a decimal index`)
    return Number(p)
  }))
}

/** [] -> 'm', [0, 5] -> 'm/0/5' (the inverse of parseHdPath). */
export function formatHdPath (path: readonly number[]): string {
  return ['m', ...checkPath(path).map(String)].join('/')
}

/**
 * The root chain code: sha256 over a domain string and the DKG transcript hash. Every holder and
 * the coordinator compute the same one from the DKG they agreed on; it is public, as in an xpub.
 */
export function hdChainCode (transcriptHash: Uint8Array): Uint8Array {
  if (!(transcriptHash instanceof Uint8Array) || transcriptHash.length !== TRANSCRIPT_HASH_BYTES) {
    throw new CryptoInputError(`a DKG transcript hash is ${TRANSCRIPT_HASH_BYTES} bytes`)
  }
  return sha256(concat(lp(CHAIN_CODE_DOMAIN), transcriptHash))
}

interface Step { key: HdPoint, chainCode: Uint8Array, tweak: bigint }

/** BIP-32 "Public parent key → public child key" (CKDpub), one step. */
function ckdPubSecp256k1 (g: HdGroup, K: HdPoint, c: Uint8Array, i: number): Step {
  // BIP-32 CKDpub: I = HMAC-SHA512(Key = c_par, Data = ser_P(K_par) || ser_32(i)); IL is the tweak, IR the child chain code
  const I = hmac(sha512, c, concat(K.toBytes(), u32(i)))
  const il = bytesToNumberBE(I.subarray(0, 32))
  // BIP-32 CKDpub: parse256(IL) >= n or K_i at infinity makes the child invalid (BIP-32 goes on with i+1; here the caller chooses)
  if (il >= g.Fn.ORDER) throw new CryptoInputError(`BIP-32 child index ${i} is invalid (IL >= n): use another index`)
  const child = addTweak(g, K, il)
  if (child.is0()) throw new CryptoInputError(`BIP-32 child index ${i} is invalid (child key at infinity): use another index`)
  return { key: child, chainCode: I.slice(32), tweak: il }
}

/** BIP32-Ed25519 (Khovratovich-Law 2017) section V.D, public parent key to public child key, one step. */
function ckdPubEd25519 (g: HdGroup, A: HdPoint, c: Uint8Array, i: number): Step {
  const a = A.toBytes()
  const le = new Uint8Array(4)
  new DataView(le.buffer).setUint32(0, i, true)
  // BIP32-Ed25519 §V.D: Z = HMAC-SHA512(c, 0x02 || A || ser32LE(i)), A_i = A + [8·ZL]B with ZL = Z's first 28 bytes little-endian
  const Z = hmac(sha512, c, concat(Uint8Array.of(0x02), a, le))
  const tweak = g.Fn.create(8n * bytesToNumberLE(Z.subarray(0, 28)))
  const child = addTweak(g, A, tweak)
  if (child.is0()) throw new CryptoInputError(`BIP32-Ed25519 child index ${i} is invalid (child key is the identity): use another index`)
  // BIP32-Ed25519 §V.D: child chain code = right 32 bytes of HMAC-SHA512(c, 0x03 || A || ser32LE(i))
  const chainCode = hmac(sha512, c, concat(Uint8Array.of(0x03), a, le)).slice(32)
  return { key: child, chainCode, tweak }
}

/**
 * The child at `path` below the root (taproot: the untweaked 33-byte key of an untweaked DKG;
 * ed25519: the 32-byte group key), from public data only. Refuses an invalid child (BIP-32's
 * IL >= n or infinity) with an error naming the index, instead of skipping to the next one.
 */
export function deriveHdChild (scheme: Scheme, rootPublicKey: Uint8Array, chainCode: Uint8Array, path: readonly number[]): HdChild {
  const g = groupOf(scheme)
  const steps = checkPath(path)
  checkChainCode(chainCode)
  let key = decodePoint(g, rootPublicKey, scheme === 'taproot' ? 'secp256k1 root public key (expected 33-byte compressed)' : 'Ed25519 root public key')
  let c: Uint8Array = Uint8Array.from(chainCode)
  let tweak = 0n
  for (const i of steps) {
    const step = scheme === 'taproot' ? ckdPubSecp256k1(g, key, c, i) : ckdPubEd25519(g, key, c, i)
    key = step.key
    c = step.chainCode
    tweak = g.Fn.add(tweak, step.tweak)
  }
  return { path: steps, publicKey: key.toBytes(), chainCode: c, tweak }
}

function checkChild (scheme: Scheme, g: HdGroup, child: HdChild): void {
  if (typeof child !== 'object' || child === null) throw new CryptoInputError('HD child missing')
  checkPath(child.path)
  checkChainCode(child.chainCode)
  if (typeof child.tweak !== 'bigint' || child.tweak < 0n || child.tweak >= g.Fn.ORDER) throw new CryptoInputError('HD child tweak out of range')
  if (g.decode(child.publicKey) === undefined) throw new CryptoInputError(`invalid ${scheme} HD child public key`)
}

/** The root package with tweak*G added to the group key and to every verifying share (no Taproot tweak yet). */
function addTweakToPublic (scheme: Scheme, g: HdGroup, rootPublic: FrostPublic, child: HdChild): FrostPublic {
  checkChild(scheme, g, child)
  if (typeof rootPublic !== 'object' || rootPublic === null || typeof rootPublic.signers !== 'object' || rootPublic.signers === null ||
    !Array.isArray(rootPublic.commitments) || typeof rootPublic.verifyingShares !== 'object' || rootPublic.verifyingShares === null) {
    throw new CryptoInputError('root public package malformed')
  }
  const t = child.tweak
  const groupKey = addTweak(g, decodePoint(g, rootPublic.commitments[0], 'root group key'), t).toBytes()
  if (!bytesEqual(groupKey, child.publicKey)) throw new CryptoInputError('the HD child was not derived from this root key (root key + tweak*G differs from the child key)')
  const verifyingShares: Record<string, Uint8Array<ArrayBuffer>> = {}
  for (const [id, v] of Object.entries(rootPublic.verifyingShares)) {
    const share = addTweak(g, decodePoint(g, v, 'root verifying share'), t)
    if (share.is0()) throw new CryptoInputError(`the child verifying share of ${id} is the identity`)
    verifyingShares[id] = share.toBytes()
  }
  return {
    signers: { min: rootPublic.signers.min, max: rootPublic.signers.max },
    commitments: rootPublic.commitments.map((c, k) => k === 0 ? groupKey : Uint8Array.from(c)),
    verifyingShares
  }
}

/**
 * The child's public package as it signs: the root package (taproot: of an untweaked DKG) with
 * tweak*G added to commitments[0] and to every verifying share; taproot then BIP-86-tweaked once.
 * Its commitments[0] is the child's signing key (taproot: the output key the address pays to).
 */
export function childPublic (scheme: Scheme, rootPublic: FrostPublic, child: HdChild): FrostPublic {
  const pub = addTweakToPublic(scheme, groupOf(scheme), rootPublic, child)
  return scheme === 'taproot' ? taprootTweakPublic(pub) : pub
}

/**
 * A holder's child Key: its root share + tweak, with childPublic's package (taproot: then the
 * BIP-86 tweak, which may negate the share). The result is checked: share*G must equal the
 * holder's child verifying share.
 */
export function childKey (scheme: Scheme, rootKey: Key, child: HdChild): Key {
  const g = groupOf(scheme)
  if (typeof rootKey !== 'object' || rootKey === null || typeof rootKey.secret !== 'object' || rootKey.secret === null) throw new CryptoInputError('root key missing')
  const pub = addTweakToPublic(scheme, g, rootKey.public, child)
  const { identifier } = rootKey.secret
  let share: bigint
  try {
    share = g.Fn.fromBytes(rootKey.secret.signingShare)
  } catch {
    throw new CryptoInputError('secret share malformed')
  }
  const plain: Key = { public: pub, secret: { identifier, signingShare: Uint8Array.from(g.Fn.toBytes(g.Fn.add(share, child.tweak))) } }
  const key = scheme === 'taproot' ? taprootTweakKey(plain) : plain
  const s = g.Fn.fromBytes(key.secret.signingShare)
  const expected = key.public.verifyingShares[identifier]
  if (expected === undefined || s === 0n || !bytesEqual(g.base.multiply(s).toBytes(), expected)) {
    throw new CryptoInputError('the child share does not match its verifying share (the root key is not this holder\'s key of that root)')
  }
  return key
}

/**
 * The child's signing public key from the child alone (what a watch-only wallet has): taproot the
 * BIP-86 output key, 33 bytes compressed (its address: describeGroupKey('taproot', key, network));
 * ed25519 the child public key. Equals childPublic(...).commitments[0].
 */
export function childSigningKey (scheme: Scheme, child: HdChild): Uint8Array {
  const g = groupOf(scheme)
  checkChild(scheme, g, child)
  return scheme === 'taproot' ? taprootTweakGroupKey(child.publicKey) : Uint8Array.from(child.publicKey)
}

/**
 * BIP-32 "Serialization format" of a taproot root as an extended public key at depth 0 (xpub on
 * mainnet, tpub on testnet and regtest): version || depth 0 || fingerprint 0 || child number 0 ||
 * chain code || ser_P(K), Base58Check. A wallet importing it as tr(xpub/…) sees our addresses.
 */
export function encodeXpub (rootPublicKey: Uint8Array, chainCode: Uint8Array, network: BitcoinNetwork): string {
  if (typeof network !== 'string' || !Object.hasOwn(XPUB_VERSION, network)) throw new CryptoInputError('unknown bitcoin network')
  decodePoint(groups.taproot, rootPublicKey, 'secp256k1 root public key (an xpub holds a 33-byte compressed key; taproot only)')
  checkChainCode(chainCode)
  return base58check.encode(concat(u32(XPUB_VERSION[network]), Uint8Array.of(0), u32(0), u32(0), chainCode, rootPublicKey))
}
