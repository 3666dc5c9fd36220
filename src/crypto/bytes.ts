/** Byte helpers for the canonical, length-prefixed encodings of this layer (internal). */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function utf8 (s: string): Uint8Array {
  return encoder.encode(s)
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  let len = 0
  for (const p of parts) len += p.length
  const out = new Uint8Array(len)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

export function u8 (n: number): Uint8Array {
  return Uint8Array.of(n)
}

export function u32 (n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

/** 4-byte big-endian length, then the bytes: unambiguous concatenation of variable fields. */
export function lp (b: Uint8Array | string): Uint8Array {
  const bytes = typeof b === 'string' ? utf8(b) : b
  return concat(u32(bytes.length), bytes)
}

/** Equality of public byte strings (not constant time: never use it on secrets). */
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function toHex (b: Uint8Array): string {
  return bytesToHex(b)
}

/** Lower-case hex only (the form noble gives identifiers in); undefined for anything else. */
export function fromHex (s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) return undefined
  return hexToBytes(s)
}

/**
 * Strict reader over a byte string: every read is bounds-checked and `end()` refuses trailing
 * bytes. Failures throw the error built by `fail`, with a message that names no content.
 */
export class Reader {
  private off = 0
  constructor (private readonly bytes: Uint8Array, private readonly fail: (why: string) => Error) {}

  u8 (): number {
    const v = this.bytes[this.off]
    if (v === undefined) throw this.fail('truncated')
    this.off += 1
    return v
  }

  u32 (): number {
    const b = this.take(4)
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0)
  }

  take (n: number): Uint8Array<ArrayBuffer> {
    if (!Number.isSafeInteger(n) || n < 0 || this.off + n > this.bytes.length) throw this.fail('truncated')
    const out = Uint8Array.from(this.bytes.subarray(this.off, this.off + n))
    this.off += n
    return out
  }

  /** A u32 length prefix, at most `max`, then that many bytes. */
  lp (max: number): Uint8Array<ArrayBuffer> {
    const n = this.u32()
    if (n > max) throw this.fail('field too long')
    return this.take(n)
  }

  lpString (max: number): string {
    try {
      return decoder.decode(this.lp(max))
    } catch (err) {
      if (err instanceof TypeError) throw this.fail('invalid utf-8')
      throw err
    }
  }

  end (): void {
    if (this.off !== this.bytes.length) throw this.fail('trailing bytes')
  }
}
