// Byte helpers: hex, concatenation, and the little-endian writer and reader
// the canonical encoding is built on.

/** Why bytes or a value were refused. The message says where and why. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** A value that cannot be encoded: a wrong type, a bound passed. */
export class EncodeError extends Error {
  override name = 'EncodeError';
}

const HEX = /^[0-9a-fA-F]*$/;

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** The bytes of a hex string (an optional `0x` prefix is allowed). */
export function fromHex(hex: string, what = 'hex'): Uint8Array {
  if (typeof hex !== 'string') throw new DecodeError(`${what} is not a string`);
  const s = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (s.length % 2 !== 0) throw new DecodeError(`${what} has an odd number of hex digits (${s.length})`);
  if (!HEX.test(s)) throw new DecodeError(`${what} is not hexadecimal`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Lexicographic comparison, as Rust orders `[u8; 32]`. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export const utf8 = {
  encode: (s: string): Uint8Array => new TextEncoder().encode(s),
  decode: (b: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(b),
};

const U64_MAX = (1n << 64n) - 1n;

/** Appends little-endian fixed-width integers and raw bytes. */
export class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(n: number): void {
    this.room(1);
    this.buf[this.len++] = n;
  }

  u16(n: number): void {
    this.room(2);
    new DataView(this.buf.buffer).setUint16(this.len, n, true);
    this.len += 2;
  }

  u32(n: number): void {
    this.room(4);
    new DataView(this.buf.buffer).setUint32(this.len, n, true);
    this.len += 4;
  }

  u64(n: bigint): void {
    if (n < 0n || n > U64_MAX) throw new EncodeError(`${n} is not a u64`);
    this.room(8);
    new DataView(this.buf.buffer).setBigUint64(this.len, n, true);
    this.len += 8;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Reads what a [`Writer`] wrote; running out of input is a [`DecodeError`]. */
export class Reader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly input: Uint8Array) {
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  }

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.input.length - this.at;
  }

  private need(n: number): void {
    if (this.remaining < n) {
      throw new DecodeError(
        `the input ends early: at least ${n - this.remaining} more bytes expected at byte ${this.at}`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.input[this.at++];
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    return v;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.input.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
}
