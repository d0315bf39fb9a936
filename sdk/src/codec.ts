// The canonical encoding, driven by type descriptions (src/schema.ts):
// fixed-width little-endian integers, `u64` lengths before sequences, one
// byte before an option, a `u32` tag before an enum's fields. Decoding is
// strict: one value has exactly one encoding, and malformed bytes throw a
// DecodeError that says where and why.
//
// Values in JavaScript: u8, u16 and u32 are numbers; u64 is a bigint; bool
// a boolean; hashes and signatures lowercase hex strings; addresses and
// public keys `mrt1…` strings; strings and symbols strings; an option is
// the value or null; a list an array; a struct an object; an enum value
// `{ type: 'Variant', ...fields }`; a rejection code its name.

import { DecodeError, EncodeError, Reader, Writer, fromHex, toHex, utf8 } from './bytes.js';
import { decodeAddress, encodeAddress } from './crypto.js';
import { REJECT_CODES } from './reject.js';

export type Type =
  | { k: 'u8' }
  | { k: 'u16' }
  | { k: 'u32' }
  | { k: 'u64' }
  | { k: 'bool' }
  | { k: 'hash' }
  | { k: 'address' }
  | { k: 'accountRef' }
  | { k: 'signature' }
  | { k: 'string'; max: number; name: string }
  | { k: 'symbol' }
  | { k: 'option'; of: Type }
  | { k: 'vec'; of: Type; max: number; name: string; rule?: number }
  | { k: 'array'; of: Type; len: number }
  | { k: 'tuple'; of: Type[] }
  | { k: 'struct'; name: string; fields: Field[] }
  | { k: 'enum'; name: string; variants: Variant[] }
  | { k: 'rejectCode' };

export type Field = [name: string, type: Type];
export type Variant = [name: string, fields: Field[]];

// Constructors for the descriptions.
export const u8: Type = { k: 'u8' };
export const u16: Type = { k: 'u16' };
export const u32: Type = { k: 'u32' };
export const u64: Type = { k: 'u64' };
export const bool: Type = { k: 'bool' };
export const hash: Type = { k: 'hash' };
export const address: Type = { k: 'address' };
/**
 * An account: an address and the number of one of its accounts (0 the
 * address itself, `N` its sub-account `ADDRESS/N`). Encodes from
 * `{address, sub}`, `"ADDRESS"` or `"ADDRESS/N"`; decodes to `{address, sub}`.
 */
export const accountRef: Type = { k: 'accountRef' };
export const signature: Type = { k: 'signature' };
export const symbol: Type = { k: 'symbol' };
export const rejectCode: Type = { k: 'rejectCode' };
export const string = (max: number, name = ''): Type => ({ k: 'string', max, name });
export const option = (of: Type): Type => ({ k: 'option', of });
export const vec = (of: Type, max: number, name = '', rule?: number): Type => ({ k: 'vec', of, max, name, rule });
export const array = (of: Type, len: number): Type => ({ k: 'array', of, len });
export const tuple = (...of: Type[]): Type => ({ k: 'tuple', of });
export const struct = (name: string, fields: Field[]): Type => ({ k: 'struct', name, fields });
export const enumeration = (name: string, variants: Variant[]): Type => ({ k: 'enum', name, variants });

const HASH_HEX = /^[0-9a-f]{64}$/;
const SIG_HEX = /^[0-9a-f]{128}$/;
const SYMBOL = /^[A-Z0-9]{2,12}$/;
const U32_MAX = 0xffff_ffff;

/** Why a symbol is not one, in the words the node uses. */
export function checkSymbol(s: string): string | null {
  return SYMBOL.test(s) ? null : `a token symbol is 2 to 12 characters of A-Z and 0-9, got \`${s}\``;
}

function at(path: string, message: string): string {
  return path ? `${path}: ${message}` : message;
}

function typeName(t: Type): string {
  switch (t.k) {
    case 'struct':
    case 'enum':
      return t.name;
    case 'option':
      return `Option<${typeName(t.of)}>`;
    default:
      return t.k;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** An account as values carry it: `sub` 0 is the address itself. */
export interface AccountRefValue {
  address: string;
  sub: number;
}

const SUB = /^[0-9]{1,10}$/;

/**
 * Parses `ADDRESS` (the address itself, sub 0) or `ADDRESS/N` (its
 * sub-account N, a u32), as the node and the wallet write them.
 */
export function parseAccountRef(s: string): AccountRefValue {
  if (typeof s !== 'string') throw new EncodeError(`expected an account as ADDRESS or ADDRESS/N, got ${describe(s)}`);
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  let sub = 0;
  if (slash >= 0) {
    const n = s.slice(slash + 1);
    if (!SUB.test(n) || Number(n) > U32_MAX) throw new EncodeError(`\`${n}\` in \`${s}\` is not a sub-account number`);
    sub = Number(n);
  }
  try {
    return { address: encodeAddress(decodeAddress(addr)), sub };
  } catch (e) {
    throw new EncodeError((e as Error).message);
  }
}

/** `ADDRESS` for sub 0, else `ADDRESS/N`: how the node shows an account. */
export function formatAccountRef(ref: AccountRefValue | string): string {
  const r = typeof ref === 'string' ? parseAccountRef(ref) : ref;
  return r.sub === 0 ? r.address : `${r.address}/${r.sub}`;
}

/** An account from `{address, sub}`, `"ADDRESS"` or `"ADDRESS/N"`. */
export function toAccountRef(v: unknown): AccountRefValue {
  if (typeof v === 'string') return parseAccountRef(v);
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const { address: a, sub } = v as { address?: unknown; sub?: unknown };
    if (typeof a !== 'string') throw new EncodeError(`an account needs an \`address\`, got ${describe(a)}`);
    const n = sub === undefined ? 0 : int(sub, U32_MAX, '', 'sub-account number (u32)');
    let address: string;
    try {
      address = encodeAddress(decodeAddress(a));
    } catch (e) {
      throw new EncodeError((e as Error).message);
    }
    return { address, sub: n };
  }
  throw new EncodeError(`expected an account as ADDRESS, ADDRESS/N or {address, sub}, got ${describe(v)}`);
}

function int(v: unknown, max: number, path: string, kind: string): number {
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(max)) return Number(v);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new EncodeError(at(path, `expected a ${kind} (0 to ${max}), got ${describe(v)}`));
  }
  return v;
}

function bigU64(v: unknown, path: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new EncodeError(at(path, `expected a u64 as a bigint, got ${describe(v)}`));
}

function writeValue(w: Writer, t: Type, v: unknown, path: string): void {
  switch (t.k) {
    case 'u8':
      return w.u8(int(v, 0xff, path, 'u8'));
    case 'u16':
      return w.u16(int(v, 0xffff, path, 'u16'));
    case 'u32':
      return w.u32(int(v, U32_MAX, path, 'u32'));
    case 'u64': {
      const n = bigU64(v, path);
      if (n < 0n || n >= 1n << 64n) throw new EncodeError(at(path, `${n} is not a u64`));
      return w.u64(n);
    }
    case 'bool':
      if (typeof v !== 'boolean') throw new EncodeError(at(path, `expected a boolean, got ${describe(v)}`));
      return w.u8(v ? 1 : 0);
    case 'hash':
      if (typeof v !== 'string' || !HASH_HEX.test(v)) {
        throw new EncodeError(at(path, `expected a hash of 64 lowercase hex digits, got ${describe(v)}`));
      }
      return w.bytes(fromHex(v));
    case 'signature':
      if (typeof v !== 'string' || !SIG_HEX.test(v)) {
        throw new EncodeError(at(path, `expected a signature of 128 lowercase hex digits, got ${describe(v)}`));
      }
      return w.bytes(fromHex(v));
    case 'address':
      try {
        return w.bytes(decodeAddress(v as string));
      } catch (e) {
        throw new EncodeError(at(path, (e as Error).message));
      }
    case 'accountRef': {
      let ref: AccountRefValue;
      try {
        ref = toAccountRef(v);
      } catch (e) {
        throw new EncodeError(at(path, (e as Error).message));
      }
      writeValue(w, address, ref.address, path);
      return w.u32(ref.sub);
    }
    case 'string': {
      if (typeof v !== 'string') throw new EncodeError(at(path, `expected a string, got ${describe(v)}`));
      const bytes = utf8.encode(v);
      if (bytes.length > t.max) {
        throw new EncodeError(at(path, `${t.name || 'a string'} is ${bytes.length} bytes, at most ${t.max}`));
      }
      w.u64(BigInt(bytes.length));
      return w.bytes(bytes);
    }
    case 'symbol': {
      if (typeof v !== 'string') throw new EncodeError(at(path, `expected a token symbol, got ${describe(v)}`));
      const bad = checkSymbol(v);
      if (bad) throw new EncodeError(at(path, bad));
      w.u64(BigInt(v.length));
      return w.bytes(utf8.encode(v));
    }
    case 'option':
      if (v === null || v === undefined) return w.u8(0);
      w.u8(1);
      return writeValue(w, t.of, v, path);
    case 'vec': {
      if (!Array.isArray(v)) throw new EncodeError(at(path, `expected an array, got ${describe(v)}`));
      if (v.length > t.max) {
        throw new EncodeError(at(path, `${t.name || 'a list'} has ${v.length} entries, at most ${t.rule ?? t.max}`));
      }
      w.u64(BigInt(v.length));
      v.forEach((item, i) => writeValue(w, t.of, item, `${path}[${i}]`));
      return;
    }
    case 'array':
      if (!Array.isArray(v) || v.length !== t.len) {
        throw new EncodeError(at(path, `expected an array of exactly ${t.len}, got ${describe(v)}`));
      }
      v.forEach((item, i) => writeValue(w, t.of, item, `${path}[${i}]`));
      return;
    case 'tuple':
      if (!Array.isArray(v) || v.length !== t.of.length) {
        throw new EncodeError(at(path, `expected a tuple of ${t.of.length}, got ${describe(v)}`));
      }
      t.of.forEach((ty, i) => writeValue(w, ty, v[i], `${path}[${i}]`));
      return;
    case 'struct':
      writeFields(w, t.fields, v, path, t.name);
      return;
    case 'enum': {
      if (v === null || typeof v !== 'object' || typeof (v as { type?: unknown }).type !== 'string') {
        throw new EncodeError(at(path, `expected a ${t.name} as { type: …, … }, got ${describe(v)}`));
      }
      const name = (v as { type: string }).type;
      const tag = t.variants.findIndex(([n]) => n === name);
      if (tag < 0) {
        throw new EncodeError(
          at(path, `\`${name}\` is not a ${t.name}; one of ${t.variants.map(([n]) => n).join(', ')}`),
        );
      }
      w.u32(tag);
      writeFields(w, t.variants[tag][1], v, path, `${t.name}::${name}`);
      return;
    }
    case 'rejectCode': {
      const code = REJECT_CODES.find(([name]) => name === v);
      if (!code) throw new EncodeError(at(path, `${describe(v)} is not a rejection code`));
      return w.u16(code[1]);
    }
  }
}

function writeFields(w: Writer, fields: Field[], v: unknown, path: string, what: string): void {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new EncodeError(at(path, `expected a ${what} object, got ${describe(v)}`));
  }
  const obj = v as Record<string, unknown>;
  for (const [name, ty] of fields) {
    if (!(name in obj) && ty.k !== 'option') {
      throw new EncodeError(at(path, `${what} is missing field \`${name}\``));
    }
    writeValue(w, ty, obj[name], path ? `${path}.${name}` : name);
  }
}

function readValue(r: Reader, t: Type, path: string): unknown {
  const fail = (message: string): never => {
    throw located(new DecodeError(at(path, message)));
  };
  const len = (max: number, over: (n: bigint) => string): number => {
    const n = r.u64();
    if (n > BigInt(max)) fail(over(n));
    return Number(n);
  };
  try {
    switch (t.k) {
      case 'u8':
        return r.u8();
      case 'u16':
        return r.u16();
      case 'u32':
        return r.u32();
      case 'u64':
        return r.u64();
      case 'bool': {
        const b = r.u8();
        if (b > 1) fail(`${b} is not a boolean (0 or 1)`);
        return b === 1;
      }
      case 'hash':
        return toHex(r.bytes(32));
      case 'signature':
        return toHex(r.bytes(64));
      case 'address':
        return encodeAddress(r.bytes(32));
      case 'accountRef': {
        const address = encodeAddress(r.bytes(32));
        return { address, sub: r.u32() };
      }
      case 'string': {
        const name = t.name || 'a string';
        const n = len(t.max, (n) => `${name} is ${n} bytes, at most ${t.max}`);
        const bytes = r.bytes(n);
        try {
          return utf8.decode(bytes);
        } catch {
          return fail(`${name} is not UTF-8`);
        }
      }
      case 'symbol': {
        const n = len(12, (n) => `token symbol is ${n} bytes, at most 12`);
        const bytes = r.bytes(n);
        let s: string;
        try {
          s = utf8.decode(bytes);
        } catch {
          return fail('token symbol is not UTF-8');
        }
        const bad = checkSymbol(s);
        if (bad) fail(bad);
        return s;
      }
      case 'option': {
        const flag = r.u8();
        if (flag === 0) return null;
        if (flag !== 1) fail(`${flag} is not a tag of ${typeName(t)}`);
        return readValue(r, t.of, path);
      }
      case 'vec': {
        const n = len(t.max, (n) => `${t.name || 'a list'} has ${n} entries, at most ${t.rule ?? t.max}`);
        // Every element takes at least one byte: a length past the input is
        // refused before anything is allocated.
        if (n > r.remaining) fail(`a list claims ${n} entries, but only ${r.remaining} bytes follow`);
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(readValue(r, t.of, `${path}[${i}]`));
        return out;
      }
      case 'array': {
        const out: unknown[] = [];
        for (let i = 0; i < t.len; i++) out.push(readValue(r, t.of, `${path}[${i}]`));
        return out;
      }
      case 'tuple':
        return t.of.map((ty, i) => readValue(r, ty, `${path}[${i}]`));
      case 'struct':
        return readFields(r, t.fields, path, {});
      case 'enum': {
        const tag = r.u32();
        const variant = t.variants[tag];
        if (!variant) fail(`${tag} is not a tag of ${t.name}`);
        return readFields(r, variant[1], path, { type: variant[0] });
      }
      case 'rejectCode': {
        const n = r.u16();
        const code = REJECT_CODES.find(([, num]) => num === n);
        if (!code) fail(`unknown rejection code ${n}`);
        return code![0];
      }
    }
  } catch (e) {
    // A reader's error (the input ended) gets the path of the innermost
    // value being read, once.
    if (e instanceof DecodeError && !LOCATED.has(e)) throw located(new DecodeError(at(path, e.message)));
    throw e;
  }
}

const LOCATED = new WeakSet<Error>();

function located(e: DecodeError): DecodeError {
  LOCATED.add(e);
  return e;
}

function readFields(r: Reader, fields: Field[], path: string, into: Record<string, unknown>): Record<string, unknown> {
  for (const [name, ty] of fields) into[name] = readValue(r, ty, path ? `${path}.${name}` : name);
  return into;
}

/** The canonical bytes of `value` as a `type`. */
export function encode(type: Type, value: unknown): Uint8Array {
  const w = new Writer();
  writeValue(w, type, value, '');
  return w.finish();
}

/**
 * Decodes exactly one `type` from `bytes`, which may be at most `limit`
 * bytes; trailing bytes are refused.
 */
export function decode<T = unknown>(type: Type, bytes: Uint8Array | string, limit = Number.MAX_SAFE_INTEGER): T {
  const input = typeof bytes === 'string' ? fromHex(bytes) : bytes;
  if (input.length > limit) throw new DecodeError(`the input is ${input.length} bytes, at most ${limit}`);
  const r = new Reader(input);
  const value = readValue(r, type, '');
  if (r.remaining > 0) throw new DecodeError(`${r.remaining} bytes follow the end of the ${typeName(type)}`);
  return value as T;
}

/**
 * A value from its JSON form, where each u64 is a decimal string (or a
 * number): what `toJson` gives back. Checks the shape as it goes.
 */
export function fromJson<T = unknown>(type: Type, json: unknown, path = ''): T {
  const bad = (what: string): never => {
    throw new EncodeError(at(path, `expected ${what}, got ${describe(json)}`));
  };
  switch (type.k) {
    case 'u64':
      if (typeof json === 'string' && /^[0-9]+$/.test(json)) return BigInt(json) as T;
      if (typeof json === 'number' && Number.isSafeInteger(json) && json >= 0) return BigInt(json) as T;
      if (typeof json === 'bigint') return json as T;
      return bad('a u64 as a decimal string');
    case 'accountRef':
      try {
        return toAccountRef(json) as T;
      } catch (e) {
        throw new EncodeError(at(path, (e as Error).message));
      }
    case 'option':
      return (json === null || json === undefined ? null : fromJson(type.of, json, path)) as T;
    case 'vec':
    case 'array':
      if (!Array.isArray(json)) bad('an array');
      return (json as unknown[]).map((v, i) => fromJson(type.of, v, `${path}[${i}]`)) as T;
    case 'tuple':
      if (!Array.isArray(json)) bad('a tuple');
      return type.of.map((ty, i) => fromJson(ty, (json as unknown[])[i], `${path}[${i}]`)) as T;
    case 'struct':
      return fieldsFromJson(type.fields, json, path, {}) as T;
    case 'enum': {
      const name = (json as { type?: unknown } | null)?.type;
      const variant = type.variants.find(([n]) => n === name);
      if (!variant) return bad(`a ${type.name} with a known \`type\``);
      return fieldsFromJson(variant![1], json, path, { type: name }) as T;
    }
    default:
      return json as T;
  }
}

function fieldsFromJson(fields: Field[], json: unknown, path: string, into: Record<string, unknown>): unknown {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new EncodeError(at(path, `expected an object, got ${describe(json)}`));
  }
  const obj = json as Record<string, unknown>;
  for (const [name, ty] of fields) into[name] = fromJson(ty, obj[name], path ? `${path}.${name}` : name);
  return into;
}

/** The JSON form of a value: bigints become decimal strings. */
export function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}
