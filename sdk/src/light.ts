// A client that trusts no node: it checks headers by their commit
// certificates against the validator set in force at their height, learns
// each later set only from a certificate of the set before, and checks
// what a header commits to by Merkle paths. The same rules as the node's
// own light client (chain/src/light.rs).

import { concat, fromHex, toHex, utf8 } from './bytes.js';
import { decode, encode } from './codec.js';
import { decodeAddress, sha256, verifySignature } from './crypto.js';
import { MAX_CERT_BYTES, MAX_HEADER_BYTES, MAX_TX_PROOF_BYTES } from './limits.js';
import * as S from './schema.js';
import { transactionHash } from './tx.js';
import type { BlockHeader, CommitCertificate, Receipt, TxProof, ValidatorEntry } from './types.js';

/** Why a client refuses what a node sent. */
export class VerifyError extends Error {
  override name = 'VerifyError';
}

/** The prefix of every signed consensus statement. */
export const CONSENSUS_DOMAIN = 'merit/consensus/v1';

/** The hash that names a block: SHA-256 of its encoded header. */
export function headerHash(header: BlockHeader): string {
  return toHex(sha256(encode(S.BlockHeader, header)));
}

/** The hash a header carries for a validator set. */
export function validatorsHash(list: ValidatorEntry[]): string {
  return toHex(sha256(encode(S.ValidatorList, list)));
}

/** Most validators that may be faulty in a set of `n`: `⌊(n − 1)/3⌋`. */
export function maxFaulty(n: number): number {
  return Math.floor(Math.max(n - 1, 0) / 3);
}

/** Signatures that make a quorum in a set of `n`: `n − f`. */
export function quorum(n: number): number {
  return n - maxFaulty(n);
}

/** The exact bytes a validator signs for a Commit of `(height, round, block_hash)`. */
export function commitSigningBytes(chainId: string, vote: { height: bigint; round: number; block_hash: string }): Uint8Array {
  return concat(
    utf8.encode(CONSENSUS_DOMAIN),
    Uint8Array.of(0),
    utf8.encode('commit'),
    Uint8Array.of(0),
    encode(S.ChainId, chainId),
    encode(S.Statement, { type: 'Commit', vote }),
  );
}

/**
 * Checks a commit certificate against a validator set: every signer is in
 * the set and signs once, at least `n − f` sign, and every signature is a
 * valid Commit signature on `chainId`.
 */
export function verifyCertificate(chainId: string, validatorKeys: string[], cert: CommitCertificate): void {
  const members = new Set(validatorKeys);
  const seen = new Set<string>();
  for (const s of cert.signatures) {
    if (!members.has(s.validator)) throw new VerifyError(`${s.validator} signed but is not a validator`);
    if (seen.has(s.validator)) throw new VerifyError(`${s.validator} signed twice`);
    seen.add(s.validator);
  }
  const need = quorum(validatorKeys.length);
  if (seen.size < need) throw new VerifyError(`${seen.size} distinct signatures, a quorum is ${need}`);
  const message = commitSigningBytes(chainId, cert);
  for (const s of cert.signatures) {
    if (!verifySignature(s.validator, message, s.signature)) {
      throw new VerifyError(`the signature of ${s.validator} does not verify`);
    }
  }
}

/** A validator set the client holds, with what headers call it. */
export interface KnownSet {
  list: ValidatorEntry[];
  hash: string;
  keys: string[];
}

function knownSet(list: ValidatorEntry[]): KnownSet {
  if (list.length === 0) throw new VerifyError('the set is invalid: the validator set is empty');
  const keys = list.map((v) => v.key);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup) throw new VerifyError(`the set is invalid: validator ${dup} is listed twice`);
  for (const k of keys) decodeAddress(k);
  return { list, hash: validatorsHash(list), keys };
}

/** A change of the set, as `merit_getValidatorChanges` serves it (decoded). */
export interface SetChange {
  /** The first height of the new set. */
  height: bigint;
  /** The last header of the old set, at `height - 1`. */
  header: BlockHeader;
  certificate: CommitCertificate;
  set: ValidatorEntry[];
}

/** How many accepted header hashes a client remembers for fork checks. */
export const MAX_REMEMBERED_HEADERS = 1024;

export class LightClient {
  /** Each set by the first height it is in force, ascending. */
  private readonly sets: Array<[bigint, KnownSet]>;
  private readonly accepted = new Map<bigint, string>();

  /**
   * A client that trusts `set` from `height` on: the genesis set from
   * height 1 (from the genesis file the alliance published), or a set from
   * a checkpoint.
   */
  constructor(
    readonly chainId: string,
    private readonly trustedHeight: bigint,
    set: ValidatorEntry[] | Uint8Array | string,
  ) {
    const list = Array.isArray(set) ? set : decode<ValidatorEntry[]>(S.ValidatorList, set);
    this.sets = [[trustedHeight, knownSet(list)]];
  }

  /**
   * A client that trusts the validators of a genesis file (its `merchants`
   * that run a validator, in file order), from height 1.
   */
  static fromGenesis(genesis: {
    chain_id: string;
    merchants: Array<{ account: string; validator_key?: string | null; p2p_key?: string | null }>;
  }): LightClient {
    const list = genesis.merchants
      .filter((m) => m.validator_key)
      .map((m) => {
        if (!m.p2p_key) throw new VerifyError(`merchant ${m.account} names a validator key but no p2p key`);
        return { account: m.account, key: m.validator_key!, p2p_key: m.p2p_key };
      });
    return new LightClient(genesis.chain_id, 1n, list);
  }

  /** The set the client holds for `height`. */
  setAt(height: bigint): KnownSet | undefined {
    let found: KnownSet | undefined;
    for (const [from, set] of this.sets) if (from <= height) found = set;
    return found;
  }

  /** The first height of the last set the client learned. */
  lastChange(): bigint {
    return this.sets[this.sets.length - 1][0];
  }

  /** Learns a change of the set from the old set's proof of it. */
  follow(change: SetChange): void {
    const last = this.lastChange();
    if (change.height <= last || change.header.height + 1n !== change.height) {
      throw new VerifyError(`the change at height ${change.height} does not follow the last known change at ${last}`);
    }
    this.verifyHeader(change.header, change.certificate);
    const next = knownSet(change.set);
    if (next.hash !== change.header.next_validators_hash) {
      throw new VerifyError(
        `the new set's hash ${next.hash} is not the ${change.header.next_validators_hash} its boundary header names`,
      );
    }
    this.sets.push([change.height, next]);
  }

  /**
   * Accepts a header if a quorum of the set in force at its height
   * certified it; refuses a header of a set the client has not learned,
   * and reports a fork if it accepted another block at that height.
   */
  verifyHeader(header: BlockHeader, cert: CommitCertificate): void {
    if (header.chain_id !== this.chainId) {
      throw new VerifyError(`the header is for chain ${header.chain_id}, not ${this.chainId}`);
    }
    const hash = headerHash(header);
    if (cert.height !== header.height || cert.block_hash !== hash) {
      throw new VerifyError(
        `the certificate is for block ${cert.block_hash} at height ${cert.height}, not ${hash} at ${header.height}`,
      );
    }
    if (header.height < this.trustedHeight) {
      throw new VerifyError(`height ${header.height} is before this client's trusted height ${this.trustedHeight}`);
    }
    const known = this.setAt(header.height)!;
    if (header.validators_hash !== known.hash) {
      throw new VerifyError(
        `the header at height ${header.height} names validator set ${header.validators_hash}, the set in force is ${known.hash}`,
      );
    }
    try {
      verifyCertificate(this.chainId, known.keys, cert);
    } catch (e) {
      throw new VerifyError(`the certificate does not verify against the set in force: ${(e as Error).message}`);
    }
    const first = this.accepted.get(header.height);
    if (first !== undefined && first !== hash) {
      throw new VerifyError(`two certified blocks at height ${header.height}: ${first} and ${hash}`);
    }
    if (first === undefined) {
      this.accepted.set(header.height, hash);
      while (this.accepted.size > MAX_REMEMBERED_HEADERS) {
        const oldest = [...this.accepted.keys()].reduce((a, b) => (a < b ? a : b));
        this.accepted.delete(oldest);
      }
    }
  }
}

/** A set change as `merit_getValidatorChanges` serves it, decoded. */
export function decodeSetChange(change: { height: number | bigint; header: string; certificate: string; set: { bytes: string } }): SetChange {
  return {
    height: BigInt(change.height),
    header: decode<BlockHeader>(S.BlockHeader, change.header, MAX_HEADER_BYTES),
    certificate: decode<CommitCertificate>(S.CommitCertificate, change.certificate, MAX_CERT_BYTES),
    set: decode<ValidatorEntry[]>(S.ValidatorList, change.set.bytes),
  };
}

// Merkle trees over a block's transactions and receipts.

export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0x00), data);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0x01), left, right);
}

/** The root of already-hashed leaves; the root of nothing is SHA-256 of nothing. */
export function merkleRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  let level = leaves;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i]);
    level = next;
  }
  return level[0];
}

/**
 * The root that leaf `leaf`, at `index` of `count` leaves, and its
 * siblings (bottom up; none where the node is a lone last node) lead to;
 * null if the path does not fit that shape.
 */
export function rootFromPath(leaf: Uint8Array, index: bigint, count: bigint, siblings: string[]): Uint8Array | null {
  if (index >= count) return null;
  let node = leaf;
  let i = index;
  let len = count;
  let used = 0;
  while (len > 1n) {
    if ((i ^ 1n) < len) {
      if (used >= siblings.length) return null;
      const s = fromHex(siblings[used++]);
      node = i % 2n === 0n ? nodeHash(node, s) : nodeHash(s, node);
    }
    i /= 2n;
    len = (len + 1n) / 2n;
  }
  return used === siblings.length ? node : null;
}

/** The first byte of a leaf of a block's own events under `receipts_root`. */
export const BLOCK_EVENTS_LEAF = 0xeb;

export function decodeTxProof(bytes: Uint8Array | string): TxProof {
  return decode<TxProof>(S.TxProof, bytes, MAX_TX_PROOF_BYTES);
}

/**
 * Checks that transaction `hash` is in a block the set in force certified,
 * with the receipt the proof carries. Returns the receipt.
 */
export function verifyTxProof(client: LightClient, hash: string, proof: TxProof): Receipt {
  const txHash = transactionHash(proof.tx);
  if (txHash !== hash) throw new VerifyError(`the transaction is for ${txHash}, not ${hash}`);
  if (proof.receipt.tx_hash !== txHash) {
    throw new VerifyError(`the receipt is for ${proof.receipt.tx_hash}, not ${txHash}`);
  }
  client.verifyHeader(proof.header, proof.certificate);
  const txRoot = rootFromPath(leafHash(fromHex(txHash)), proof.index, proof.count, proof.tx_path);
  if (!txRoot || toHex(txRoot) !== proof.header.tx_root) {
    throw new VerifyError('the transaction is not in the block: its Merkle path does not lead to the header\'s tx_root');
  }
  const receiptLeaf = leafHash(encode(S.Receipt, proof.receipt));
  const receiptsRoot =
    proof.receipt_leaves < proof.count
      ? null
      : rootFromPath(receiptLeaf, proof.index, proof.receipt_leaves, proof.receipt_path);
  if (!receiptsRoot || toHex(receiptsRoot) !== proof.header.receipts_root) {
    throw new VerifyError('the receipt is not in the block: its Merkle path does not lead to the header\'s receipts_root');
  }
  return proof.receipt;
}
