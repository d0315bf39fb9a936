// Proofs of state (`merit_getProof`, `merit_getTokenProof`,
// `merit_getNonceProof`): entries with their paths to the `state_root` of a
// certified header, checked by the rules of chain/src/proof.rs.

import { compareBytes, fromHex, toHex } from './bytes.js';
import { decode, encode } from './codec.js';
import { sha256 } from './crypto.js';
import { BUCKET_BITS, MAX_ENTRIES_PROOF_BYTES, MAX_SUB_ACCOUNTS, PROOF_MAX_AGE_HEARTBEATS } from './limits.js';
import { type LightClient, VerifyError, headerHash } from './light.js';
import * as S from './schema.js';
import type { EntriesProof, Holding, StateKey, StateProof, StateValue, TokenInfo } from './types.js';

/** Which state the caller asked for. */
export type Freshness =
  /** The current state: the header at most `maxAgeMs` older than `nowMs`. */
  | { type: 'Current'; nowMs: bigint; maxAgeMs: bigint }
  /** The state after block `height`, whatever its age. */
  | { type: 'AtHeight'; height: bigint }
  /**
   * The genesis state, under the genesis header whose hash this is (the
   * `parent_hash` of a certified block 1). Its certificate is not read.
   */
  | { type: 'Genesis'; hash: string };

/** The age past which a proof of the current state is refused: six heartbeats. */
export function proofMaxAgeMs(heartbeatMs: bigint): bigint {
  return heartbeatMs * PROOF_MAX_AGE_HEARTBEATS;
}

export function decodeEntriesProof(bytes: Uint8Array | string): EntriesProof {
  return decode<EntriesProof>(S.EntriesProof, bytes, MAX_ENTRIES_PROOF_BYTES);
}

function bucketOf(keyHash: Uint8Array): number {
  return (keyHash[0] << 8) | keyHash[1];
}

function entryHash(keyHash: Uint8Array, value: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0x10), keyHash, value);
}

/**
 * Checks that in the state whose root is `root`, the key (canonical
 * bytes) holds `value` (canonical bytes; null: has no entry). Throws a
 * VerifyError that says what does not hold.
 */
export function verifyStateProof(root: string, key: Uint8Array, value: Uint8Array | null, proof: StateProof): void {
  const kh = sha256(key);
  const b = bucketOf(kh);
  const pairs = proof.bucket.map(([k, e]) => [fromHex(k), fromHex(e)] as const);
  for (let i = 0; i < pairs.length; i++) {
    if ((i > 0 && compareBytes(pairs[i - 1][0], pairs[i][0]) >= 0) || bucketOf(pairs[i][0]) !== b) {
      throw new VerifyError("the proof's bucket is not the key's: an entry is out of order or of another bucket");
    }
  }
  const found = pairs.find(([k]) => compareBytes(k, kh) === 0)?.[1];
  if (value && !found) throw new VerifyError('the key has no entry in the proof');
  if (!value && found) throw new VerifyError('the key has an entry in the proof, and was claimed absent');
  if (value && found && compareBytes(found, entryHash(kh, value)) !== 0) {
    throw new VerifyError("the key's entry in the proof is not the value claimed");
  }
  let node = sha256(Uint8Array.of(0x11), ...pairs.flatMap(([k, e]) => [k, e]));
  let index = b;
  if (proof.siblings.length !== BUCKET_BITS) throw new VerifyError(`a proof has ${BUCKET_BITS} siblings`);
  for (const s of proof.siblings) {
    const sibling = fromHex(s);
    node = index % 2 === 0 ? sha256(Uint8Array.of(0x12), node, sibling) : sha256(Uint8Array.of(0x12), sibling, node);
    index = Math.floor(index / 2);
  }
  if (toHex(node) !== root) throw new VerifyError(`the proof leads to root ${toHex(node)}, not the state root ${root}`);
}

function sameKey(a: StateKey, b: StateKey): boolean {
  return toHex(encode(S.StateKey, a)) === toHex(encode(S.StateKey, b));
}

function checkHolding(index: number, h: Holding): void {
  const lots = (detail: string) => new VerifyError(`entry ${index} breaks the rules of lots: ${detail}`);
  const ordered = h.lots.every((l, i) => l.amount > 0n && (i === 0 || h.lots[i - 1].expires_at_ms < l.expires_at_ms));
  if (!ordered) throw lots('out of order, repeated or empty');
  if (h.frozen > h.balance) throw lots(`${h.frozen} frozen of a balance of ${h.balance}`);
  const sum = h.lots.reduce((s, l) => s + l.amount, 0n);
  if (h.lots.length > 0 && sum !== h.balance) throw lots(`they sum to ${sum}, the balance is ${h.balance}`);
}

const CHECKED_KINDS = ['Holding', 'Token', 'Nonce', 'Merchant', 'ConsensusParams', 'SubAccounts', 'SubAccount'];

function checkValue(index: number, key: StateKey, value: StateValue): void {
  if (!CHECKED_KINDS.includes(key.type)) return;
  const wrongKind = new VerifyError(`entry ${index} holds a value of another kind than its key`);
  if (value.type !== key.type) throw wrongKind;
  if (key.type === 'Token' && (value.value as TokenInfo).symbol !== key.token) throw wrongKind;
  if (key.type === 'Holding') checkHolding(index, value.value as Holding);
  // An address that opened none has no entry: a count is 1 to the most one may open.
  if (key.type === 'SubAccounts') {
    const n = value.value as number;
    if (n < 1 || n > MAX_SUB_ACCOUNTS) throw wrongKind;
  }
}

/**
 * Checks a proof's header against the client (or, for genesis, against
 * the genesis hash) and every entry against the header's state root.
 */
export function verifyEntries(client: LightClient, proof: EntriesProof, freshness: Freshness): void {
  const header = proof.header;
  switch (freshness.type) {
    case 'Current': {
      const age = freshness.nowMs - header.timestamp_ms;
      if (age > freshness.maxAgeMs) {
        throw new VerifyError(
          `the proof is stale: its block at height ${header.height} is from ${header.timestamp_ms} ms, more than ${freshness.maxAgeMs} ms before now (${freshness.nowMs} ms)`,
        );
      }
      break;
    }
    case 'AtHeight':
      if (freshness.height !== header.height) {
        throw new VerifyError(`the proof is for height ${header.height}, not the height ${freshness.height} asked for`);
      }
      break;
    case 'Genesis':
      if (header.height !== 0n) throw new VerifyError(`the proof is for height ${header.height}, not the height 0 asked for`);
      if (headerHash(header) !== freshness.hash) {
        throw new VerifyError(
          `the proof's header hashes to ${headerHash(header)}, not to the genesis ${freshness.hash} block 1 names`,
        );
      }
      break;
  }
  if (freshness.type !== 'Genesis') client.verifyHeader(header, proof.certificate);
  proof.entries.forEach((entry, index) => {
    const value = entry.value ? encode(S.StateValue, entry.value) : null;
    try {
      verifyStateProof(header.state_root, encode(S.StateKey, entry.key), value, entry.proof);
    } catch (e) {
      throw new VerifyError(`entry ${index} does not lead to the certified state root: ${(e as Error).message}`);
    }
    if (entry.value) checkValue(index, entry.key, entry.value);
  });
}

/** A holding as a verified proof shows it; an absent one is empty. */
export interface ProvenHolding extends Holding {
  token: string;
}

/**
 * Checks a proof of `address`'s holdings in `tokens` (account `sub`):
 * every token asked for is proven, present or absent, and nothing else.
 */
export function verifyHoldings(
  client: LightClient,
  proof: EntriesProof,
  address: string,
  sub: number,
  tokens: string[],
  freshness: Freshness,
): ProvenHolding[] {
  verifyEntries(client, proof, freshness);
  const asked: StateKey[] = tokens.map((token) => ({ type: 'Holding', address, sub, token }));
  proof.entries.forEach((entry, index) => {
    if (!asked.some((k) => sameKey(k, entry.key))) {
      throw new VerifyError(`entry ${index} is not one asked for: ${JSON.stringify(entry.key)}`);
    }
  });
  return asked.map((key, i) => {
    const entry = proof.entries.find((e) => sameKey(e.key, key));
    if (!entry) throw new VerifyError(`the proof leaves out the holding of ${tokens[i]}, which was asked for`);
    const h = (entry.value?.value as Holding | undefined) ?? { balance: 0n, frozen: 0n, lots: [] };
    return { token: tokens[i], balance: h.balance, frozen: h.frozen, lots: h.lots };
  });
}

/**
 * Checks a proof of how many sub-accounts `owner` has opened (0 when the
 * entry is absent): its sub-accounts are exactly `1..=` that, and never
 * closed. With proofs of each account's holdings at the same height
 * (`proof.header.height`), a roll-up over `0..=n` is complete.
 */
export function verifySubAccounts(client: LightClient, proof: EntriesProof, owner: string, freshness: Freshness): number {
  verifyEntries(client, proof, freshness);
  const key: StateKey = { type: 'SubAccounts', address: owner };
  proof.entries.forEach((entry, index) => {
    if (!sameKey(entry.key, key)) throw new VerifyError(`entry ${index} is not one asked for: ${JSON.stringify(entry.key)}`);
  });
  const entry = proof.entries[0];
  if (!entry) throw new VerifyError(`the proof leaves out the sub-account count of ${owner}, which was asked for`);
  return entry.value?.type === 'SubAccounts' ? (entry.value.value as number) : 0;
}

/** Checks a proof of token `symbol`'s entry; null if the certified state has no such token. */
export function verifyToken(client: LightClient, proof: EntriesProof, symbol: string, freshness: Freshness): TokenInfo | null {
  verifyEntries(client, proof, freshness);
  const key: StateKey = { type: 'Token', token: symbol };
  proof.entries.forEach((entry, index) => {
    if (!sameKey(entry.key, key)) throw new VerifyError(`entry ${index} is not one asked for: ${JSON.stringify(entry.key)}`);
  });
  const entry = proof.entries[0];
  if (!entry) throw new VerifyError(`the proof leaves out token ${symbol}, which was asked for`);
  return entry.value?.type === 'Token' ? (entry.value.value as TokenInfo) : null;
}

/**
 * Checks a proof that `(sender, nonce)` was unused at `height`: its entry
 * is absent. Proven at `expires_at_height - 1`, it shows the transaction
 * can never commit.
 */
export function verifyNonceUnused(client: LightClient, proof: EntriesProof, sender: string, nonce: bigint, height: bigint): boolean {
  verifyEntries(client, proof, { type: 'AtHeight', height });
  const key: StateKey = { type: 'Nonce', address: sender, nonce };
  const entry = proof.entries.find((e) => sameKey(e.key, key));
  if (!entry) throw new VerifyError(`the proof leaves out nonce ${nonce} of ${sender}, which was asked for`);
  return entry.value === null;
}
