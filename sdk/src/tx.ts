// Transactions: build the envelope, sign it, encode, decode and hash it.
//
// The signing bytes are the canonical encoding of the TxBody, with no
// prefix; the transaction is the signing bytes followed by the 64-byte
// signature; its hash is SHA-256 of the transaction's bytes.

import { DecodeError, fromHex, toHex } from './bytes.js';
import { decode, encode, fromJson } from './codec.js';
import { Keypair, sha256, verifySignature } from './crypto.js';
import { MAX_TX_BYTES, MAX_TX_TTL_BLOCKS } from './limits.js';
import * as S from './schema.js';
import type { Transaction, TxBody, TxKind } from './types.js';

/** A signed transaction with its bytes and hash. */
export interface SignedTransaction {
  transaction: Transaction;
  /** The canonical bytes: what `merit_sendTransaction` takes, in hex. */
  bytes: Uint8Array;
  /** SHA-256 of `bytes`, 64 hex digits: the transaction's id. */
  hash: string;
}

/** A nonce no other transaction of the sender is likely to use: 64 random bits. */
export function randomNonce(): bigint {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return new DataView(b.buffer).getBigUint64(0, true);
}

export interface BodyOptions {
  chainId: string;
  sender: string;
  kind: TxKind;
  /**
   * Which of the sender's accounts pays: 0 (the default) the address
   * itself, `N` its opened sub-account `ADDRESS/N`.
   */
  sub?: number;
  /** Defaults to a random nonce. */
  nonce?: bigint;
  /**
   * The first height at which the transaction is no longer valid. Give it,
   * or give `height` (the chain's current height) and `ttlBlocks`.
   */
  expiresAtHeight?: bigint;
  height?: bigint;
  /** Blocks the transaction stays valid after `height`; at most 1,000. */
  ttlBlocks?: bigint;
}

/** The envelope of a transaction, with the admission window checked. */
export function createBody(o: BodyOptions): TxBody {
  let expires = o.expiresAtHeight;
  if (expires === undefined) {
    if (o.height === undefined) throw new Error('give expiresAtHeight, or the current height');
    const ttl = o.ttlBlocks ?? 100n;
    if (ttl < 1n || ttl > MAX_TX_TTL_BLOCKS) throw new Error(`ttlBlocks is ${ttl}, from 1 to ${MAX_TX_TTL_BLOCKS}`);
    expires = o.height + ttl;
  }
  return {
    chain_id: o.chainId,
    sender: o.sender,
    sub: o.sub ?? 0,
    nonce: o.nonce ?? randomNonce(),
    expires_at_height: expires,
    kind: o.kind,
  };
}

/** The bytes the sender signs: the canonical encoding of the body. */
export function signingBytes(body: TxBody): Uint8Array {
  return encode(S.TxBody, body);
}

/** Signs `body` with `key`, which must be the body's sender. */
export function signTransaction(body: TxBody, key: Keypair): SignedTransaction {
  if (key.address !== body.sender) {
    throw new Error(`the key ${key.address} is not the sender ${body.sender}`);
  }
  const signature = toHex(key.sign(signingBytes(body)));
  return withBytes({ body, signature });
}

function withBytes(transaction: Transaction): SignedTransaction {
  const bytes = encodeTransaction(transaction);
  return { transaction, bytes, hash: toHex(sha256(bytes)) };
}

export function encodeTransaction(tx: Transaction): Uint8Array {
  const bytes = encode(S.Transaction, tx);
  if (bytes.length > MAX_TX_BYTES) {
    throw new Error(`the transaction is ${bytes.length} bytes, at most ${MAX_TX_BYTES}`);
  }
  return bytes;
}

/** Decodes a transaction from untrusted bytes (or hex), at most 65,536 bytes. */
export function decodeTransaction(bytes: Uint8Array | string): SignedTransaction {
  const input = typeof bytes === 'string' ? fromHex(bytes, 'the transaction') : bytes;
  const transaction = decode<Transaction>(S.Transaction, input, MAX_TX_BYTES);
  return { transaction, bytes: input, hash: toHex(sha256(input)) };
}

/** The transaction's id: SHA-256 of its canonical bytes. */
export function transactionHash(tx: Transaction | Uint8Array): string {
  return toHex(sha256(tx instanceof Uint8Array ? tx : encodeTransaction(tx)));
}

/** Whether the signature is the sender's over the body. */
export function verifyTransaction(tx: Transaction): boolean {
  return verifySignature(tx.body.sender, signingBytes(tx.body), tx.signature);
}

/** A kind from its JSON form (u64 values as decimal strings). */
export function kindFromJson(json: unknown): TxKind {
  return fromJson<TxKind>(S.TxKind, json);
}

/** A body from its JSON form (u64 values as decimal strings). */
export function bodyFromJson(json: unknown): TxBody {
  return fromJson<TxBody>(S.TxBody, json);
}

/** The kind's tag: its position in the protocol's list of kinds. */
export function kindTag(kind: TxKind | string): number {
  const name = typeof kind === 'string' ? kind : kind.type;
  const tag = S.TX_KINDS.findIndex(([n]) => n === name);
  if (tag < 0) throw new DecodeError(`\`${name}\` is not a kind of transaction`);
  return tag;
}
