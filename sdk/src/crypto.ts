// SHA-256, ed25519 keys and signatures, and bech32m addresses, by the rules
// of docs/protocol.md.

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bech32m } from '@scure/base';

import { DecodeError, concat, fromHex, toHex, utf8 } from './bytes.js';

/** The order of the ed25519 base point: a signature's scalar is below it. */
const ED25519_ORDER = (1n << 252n) + 27742317777372353535851937790883648493n;

/** The human-readable part of every Merit address. */
export const ADDRESS_HRP = 'mrt';

/** The prefix of a demo key's seed: `SHA-256(prefix ‖ label)`. */
export const DEMO_KEY_PREFIX = 'merit-insecure-demo-key:';

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  return nobleSha256(parts.length === 1 ? parts[0] : concat(...parts));
}

/** The `mrt1…` address of a 32-byte public key. */
export function encodeAddress(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new DecodeError(`a public key is 32 bytes, got ${publicKey.length}`);
  return bech32m.encode(ADDRESS_HRP, bech32m.toWords(publicKey));
}

/**
 * The public key an `mrt1…` address names. Only bech32m checksums, the
 * `mrt` prefix and 32 bytes are accepted; an all-uppercase address is the
 * same address.
 */
export function decodeAddress(address: string): Uint8Array {
  if (typeof address !== 'string') throw new DecodeError(`an address is a string, got ${typeof address}`);
  let decoded;
  try {
    decoded = bech32m.decode(address as `${string}1${string}`);
  } catch (e) {
    throw new DecodeError(`\`${address}\` is not an address: not a bech32m string (${(e as Error).message})`);
  }
  if (decoded.prefix.toLowerCase() !== ADDRESS_HRP) {
    throw new DecodeError(`address prefix is \`${decoded.prefix}\`, expected \`${ADDRESS_HRP}\``);
  }
  let bytes: Uint8Array;
  try {
    bytes = bech32m.fromWords(decoded.words);
  } catch (e) {
    throw new DecodeError(`\`${address}\` is not an address: ${(e as Error).message}`);
  }
  if (bytes.length !== 32) throw new DecodeError(`address holds ${bytes.length} bytes, expected 32`);
  return bytes;
}

/** Whether `s` is a valid `mrt1…` address. */
export function isAddress(s: string): boolean {
  try {
    decodeAddress(s);
    return true;
  } catch {
    return false;
  }
}

/** An ed25519 key pair. The seed is the 32-byte secret. */
export class Keypair {
  readonly publicKey: Uint8Array;

  private constructor(private readonly secret: Uint8Array) {
    this.publicKey = ed25519.getPublicKey(secret);
  }

  /** The key whose 32-byte seed is `seed` (bytes or 64 hex digits). */
  static fromSeed(seed: Uint8Array | string): Keypair {
    const bytes = typeof seed === 'string' ? fromHex(seed, 'seed') : Uint8Array.from(seed);
    if (bytes.length !== 32) throw new DecodeError(`a seed is 32 bytes, got ${bytes.length}`);
    return new Keypair(bytes);
  }

  /** A fresh random key. */
  static generate(): Keypair {
    return new Keypair(ed25519.utils.randomSecretKey());
  }

  /**
   * A key derived from a label, for demo and test keys only: anyone who
   * knows the label knows the key. The devnet's shoppers are
   * `merit-devnet/shopper/alice`, `…/bob` and `…/carol`.
   */
  static insecureFromLabel(label: string): Keypair {
    return new Keypair(sha256(utf8.encode(DEMO_KEY_PREFIX), utf8.encode(label)));
  }

  /** The 32-byte seed. Keep it secret. */
  seed(): Uint8Array {
    return Uint8Array.from(this.secret);
  }

  /** The account address, `mrt1…`. */
  get address(): string {
    return encodeAddress(this.publicKey);
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.secret);
  }
}

/**
 * Whether `signature` is `publicKey`'s signature of `message` by Merit's
 * rule: the key and the nonce point R are canonical encodings of curve
 * points not of small order, the scalar is canonical, and the cofactored
 * equation holds. Every node reaches the same verdict.
 */
export function verifySignature(publicKey: Uint8Array | string, message: Uint8Array, signature: Uint8Array | string): boolean {
  const key = typeof publicKey === 'string' ? decodeAddress(publicKey) : publicKey;
  const sig = typeof signature === 'string' ? fromHex(signature, 'signature') : signature;
  if (key.length !== 32 || sig.length !== 64) return false;
  try {
    const a = ed25519.Point.fromBytes(key, false);
    const r = ed25519.Point.fromBytes(sig.subarray(0, 32), false);
    if (a.isSmallOrder() || r.isSmallOrder()) return false;
  } catch {
    return false;
  }
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]);
  if (s >= ED25519_ORDER) return false;
  try {
    return ed25519.verify(sig, message, key, { zip215: false });
  } catch {
    return false;
  }
}

/** Whether `key` is a point some signature can be valid under. */
export function isUsableKey(key: Uint8Array): boolean {
  try {
    return key.length === 32 && !ed25519.Point.fromBytes(key, false).isSmallOrder();
  } catch {
    return false;
  }
}

export { toHex, fromHex };
