// Every vector of docs/protocol.md (sdk/test/vectors.json, written by the
// node's own encoder): the SDK encodes the same bytes, decodes them back,
// verifies signatures and proofs, and refuses tampered ones.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  DecodeError,
  Keypair,
  LightClient,
  REJECT_CODES,
  VerifyError,
  decode,
  decodeAddress,
  decodeEntriesProof,
  decodeSetChange,
  decodeTransaction,
  decodeTxProof,
  encode,
  encodeAddress,
  fromHex,
  fromJson,
  kindTag,
  schema as S,
  signTransaction,
  signingBytes,
  toHex,
  toJson,
  validatorsHash,
  verifyHoldings,
  verifySubAccounts,
  verifyToken,
  verifyTransaction,
  verifyTxProof,
} from '../src/index.js';
import * as limits from '../src/limits.js';
import type { BlockHeader, CommitCertificate, EntriesProof, TxBody, ValidatorEntry } from '../src/index.js';

const here = new URL('.', import.meta.url);
// Compiled to dist/test; the vectors stay in test/.
const V = JSON.parse(readFileSync(new URL('../../test/vectors.json', here), 'utf8'));

test('every bound is the node’s', () => {
  for (const [name, value] of Object.entries(V.limits as Record<string, string>)) {
    const mine = (limits as Record<string, number | bigint>)[name];
    assert.notEqual(mine, undefined, `the SDK has no ${name}`);
    assert.equal(BigInt(mine), BigInt(value), name);
  }
});

test('every rejection code is the node’s, by name, number and sentence', () => {
  assert.deepEqual(
    REJECT_CODES.map(([n, num, d]) => [n, num, d]),
    V.reject_codes,
  );
});

test('demo keys derive from their labels, and addresses are bech32m of the key', () => {
  for (const k of V.keys) {
    const key = Keypair.insecureFromLabel(k.label);
    assert.equal(toHex(key.seed()), k.seed, k.label);
    assert.equal(toHex(key.publicKey), k.public_key, k.label);
    assert.equal(key.address, k.address, k.label);
    assert.equal(encodeAddress(fromHex(k.public_key)), k.address);
    assert.equal(toHex(decodeAddress(k.address)), k.public_key);
    assert.equal(toHex(decodeAddress(k.address.toUpperCase())), k.public_key, 'all upper case is the same address');
    const mixed = 'MRT' + k.address.slice(3);
    assert.throws(() => decodeAddress(mixed), DecodeError);
  }
});

test('the vectors cover every kind the SDK knows, each once at least', () => {
  const tags = new Set(V.transactions.map((t: { kind_tag: number }) => t.kind_tag));
  assert.deepEqual([...tags].sort((a, b) => (a as number) - (b as number)), S.TX_KINDS.map((_, i) => i));
});

for (const v of V.transactions) {
  test(`transaction ${v.name}: same bytes, round trip, signature, hash`, () => {
    const body = fromJson<TxBody>(S.TxBody, v.body);
    assert.equal(kindTag(body.kind), v.kind_tag);
    assert.equal(toHex(signingBytes(body)), v.signing_bytes);
    // Signing again gives the same signature: ed25519 is deterministic.
    const key = Keypair.insecureFromLabel('merit-vectors/sender');
    const signed = signTransaction(body, key);
    assert.equal(signed.transaction.signature, v.signature);
    assert.equal(toHex(signed.bytes), v.transaction);
    assert.equal(signed.hash, v.hash);
    const decoded = decodeTransaction(v.transaction);
    assert.deepEqual(decoded.transaction.body, body);
    assert.deepEqual(toJson(decoded.transaction.body), v.body);
    assert.equal(decoded.hash, v.hash);
    assert.ok(verifyTransaction(decoded.transaction));
    // Any other body or signature does not verify.
    const other = { ...decoded.transaction, body: { ...decoded.transaction.body, nonce: body.nonce + 1n } };
    assert.ok(!verifyTransaction(other));
    const sig = fromHex(v.signature);
    sig[0] ^= 1;
    assert.ok(!verifyTransaction({ ...decoded.transaction, signature: toHex(sig) }));
  });
}

for (const e of V.events) {
  test(`event ${e.name}: same bytes, round trip`, () => {
    const event = fromJson(S.Event, e.event);
    assert.equal(toHex(encode(S.Event, event)), e.bytes);
    assert.deepEqual(decode(S.Event, e.bytes), event);
  });
}

test('the vectors cover every event the SDK knows', () => {
  const seen = new Set(V.events.map((e: { event: { type: string } }) => e.event.type));
  assert.deepEqual(
    S.EVENTS.map(([n]) => n).filter((n) => !seen.has(n)),
    [],
  );
});

for (const r of V.receipts) {
  test(`receipt ${r.name}: same bytes, round trip`, () => {
    const receipt = fromJson(S.Receipt, r.receipt);
    assert.equal(toHex(encode(S.Receipt, receipt)), r.bytes);
    assert.deepEqual(decode(S.Receipt, r.bytes), receipt);
  });
}

/** The light client of the vectors' chain, having followed every change. */
function followed(): LightClient {
  const P = V.proofs;
  const client = new LightClient(P.chain_id, BigInt(P.trusted_height), P.genesis_set);
  for (const c of P.changes) {
    client.follow(decodeSetChange({ height: c.height, header: c.header, certificate: c.certificate, set: { bytes: c.set } }));
  }
  return client;
}

test('a client follows the validator changes from the genesis set', () => {
  const P = V.proofs;
  const client = followed();
  const list = decode<ValidatorEntry[]>(S.ValidatorList, P.validator_list);
  assert.equal(client.setAt(BigInt(P.height))!.hash, validatorsHash(list));
  // Out of order, or a set the boundary header does not name, is refused.
  const fresh = new LightClient(P.chain_id, BigInt(P.trusted_height), P.genesis_set);
  const [first, second] = P.changes;
  const change = (c: typeof first) => decodeSetChange({ ...c, set: { bytes: c.set } });
  assert.throws(() => fresh.follow(change(second)), VerifyError);
  assert.throws(() => fresh.follow({ ...change(first), set: change(second).set }), /its boundary header names/);
});

test('the holding proof verifies and shows the holdings', () => {
  const P = V.proofs;
  const proof = decodeEntriesProof(P.holding.proof);
  assert.equal(toHex(encode(S.EntriesProof, proof)), P.holding.proof, 'decoding round-trips');
  const held = verifyHoldings(followed(), proof, P.holding.address, P.holding.sub, P.holding.tokens, {
    type: 'AtHeight',
    height: BigInt(P.height),
  });
  assert.deepEqual(toJson(held), P.holding.holdings);
  assert.equal(held[0].lots.length, 3);
});

test('the token proof verifies and shows the token', () => {
  const P = V.proofs;
  const proof = decodeEntriesProof(P.token.proof);
  const token = verifyToken(followed(), proof, P.token.symbol, { type: 'AtHeight', height: BigInt(P.height) });
  assert.deepEqual(toJson(token), P.token.token);
});

test('the tx proof verifies and shows the receipt', () => {
  const P = V.proofs;
  const proof = decodeTxProof(P.tx.proof);
  assert.equal(toHex(encode(S.TxProof, proof)), P.tx.proof);
  const receipt = verifyTxProof(followed(), P.tx.hash, proof);
  assert.deepEqual(toJson(receipt), P.tx.receipt);
});

/** Flips one bit of the hex string `hex` at byte `at`. */
function flip(hex: string, at: number): string {
  const b = fromHex(hex);
  b[at] ^= 1;
  return toHex(b);
}

test('a tampered holding proof fails', () => {
  const P = V.proofs;
  const at = { type: 'AtHeight', height: BigInt(P.height) } as const;
  const check = (proof: EntriesProof) =>
    verifyHoldings(followed(), proof, P.holding.address, P.holding.sub, P.holding.tokens, at);
  const good = decodeEntriesProof(P.holding.proof);

  // A changed balance: the entry hash no longer matches.
  const richer = structuredClone(good);
  const holding = richer.entries[0].value!.value as { balance: bigint; lots: Array<{ amount: bigint }> };
  holding.balance += 1n;
  holding.lots[0].amount += 1n;
  assert.throws(() => check(richer), /not the value claimed/);

  // A sibling changed: the path leads to another root.
  const moved = structuredClone(good);
  moved.entries[0].proof.siblings[3] = flip(moved.entries[0].proof.siblings[3], 0);
  assert.throws(() => check(moved), /leads to root/);

  // The absent entry's pairs shown for the present one: claimed absent, but present.
  const hidden = structuredClone(good);
  hidden.entries[0].value = null;
  assert.throws(() => check(hidden), /claimed absent/);

  // A token left out.
  const short = structuredClone(good);
  short.entries.pop();
  assert.throws(() => check(short), /leaves out/);

  // The header changed: the certificate is not for it.
  const header = structuredClone(good);
  header.header.timestamp_ms += 1n;
  assert.throws(() => check(header), /certificate is for block/);

  // A certificate signature forged.
  const forged = structuredClone(good);
  forged.certificate.signatures[0].signature = flip(forged.certificate.signatures[0].signature, 40);
  assert.throws(() => check(forged), /does not verify/);

  // Too few signatures.
  const few = structuredClone(good);
  few.certificate.signatures = few.certificate.signatures.slice(0, 2);
  assert.throws(() => check(few), /a quorum is/);

  // Another height than asked for, or a stale one.
  assert.throws(
    () => verifyHoldings(followed(), good, P.holding.address, 0, P.holding.tokens, { type: 'AtHeight', height: 1n }),
    /not the height 1/,
  );
  assert.throws(
    () =>
      verifyHoldings(followed(), good, P.holding.address, 0, P.holding.tokens, {
        type: 'Current',
        nowMs: good.header.timestamp_ms + 60_001n,
        maxAgeMs: 60_000n,
      }),
    /stale/,
  );

  // A bit flipped in the bytes decodes to something that does not verify, or does not decode.
  for (const at of [20, 100, 400, 1000, 1900]) {
    assert.throws(() => check(decodeEntriesProof(flip(P.holding.proof, at))), (e: Error) => e instanceof VerifyError || e instanceof DecodeError);
  }
});

test('a tampered token proof fails', () => {
  const P = V.proofs;
  const good = decodeEntriesProof(P.token.proof);
  const more = structuredClone(good);
  (more.entries[0].value!.value as { minted: bigint }).minted += 1n;
  assert.throws(() => verifyToken(followed(), more, 'FLY', { type: 'AtHeight', height: BigInt(P.height) }), VerifyError);
  assert.throws(() => verifyToken(followed(), good, 'BEAN', { type: 'AtHeight', height: BigInt(P.height) }), /not one asked for/);
});

test('a tampered tx proof fails', () => {
  const P = V.proofs;
  const good = decodeTxProof(P.tx.proof);
  const moved = structuredClone(good);
  moved.index += 1n;
  moved.count += 1n;
  assert.throws(() => verifyTxProof(followed(), P.tx.hash, moved), /not in the block/);
  const receipt = structuredClone(good);
  receipt.receipt.outcome = { type: 'Rejected', code: 'InsufficientBalance', original: null };
  assert.throws(() => verifyTxProof(followed(), P.tx.hash, receipt), /receipts_root/);
  assert.throws(() => verifyTxProof(followed(), '00'.repeat(32), good), /the transaction is for/);
  const headerless = structuredClone(good);
  headerless.header.tx_root = '11'.repeat(32);
  assert.throws(() => verifyTxProof(followed(), P.tx.hash, headerless), /certificate is for block/);
});

test('a header of a set the client never learned is refused', () => {
  const P = V.proofs;
  // A client that did not follow the changes holds only the genesis set.
  const naive = new LightClient(P.chain_id, BigInt(P.trusted_height), P.genesis_set);
  const proof = decodeEntriesProof(P.token.proof);
  assert.throws(
    () => naive.verifyHeader(proof.header as BlockHeader, proof.certificate as CommitCertificate),
    /names validator set/,
  );
});

test('a proof of anything but the one SubAccounts entry is no count of sub-accounts', () => {
  const P = V.proofs;
  const at = { type: 'AtHeight', height: BigInt(P.height) } as const;
  const holding = decodeEntriesProof(P.holding.proof);
  assert.throws(() => verifySubAccounts(followed(), holding, P.holding.address, at), /not one asked for/);
  const none = structuredClone(holding);
  none.entries = [];
  assert.throws(() => verifySubAccounts(followed(), none, P.holding.address, at), /leaves out the sub-account count/);
});

test('the new state entries encode by the table: SubAccounts and SubAccount keys are tags 17 and 18', () => {
  const address = V.keys[0].address;
  const key = toHex(decodeAddress(address));
  assert.equal(toHex(encode(S.StateKey, { type: 'SubAccounts', address })), `11000000${key}`);
  assert.equal(toHex(encode(S.StateKey, { type: 'SubAccount', address, sub: 2 })), `12000000${key}02000000`);
  assert.equal(toHex(encode(S.StateValue, { type: 'SubAccounts', value: 3 })), '1100000003000000');
  const info = { type: 'SubAccount', value: { label: 'Store', opened_height: 9n } };
  const bytes = encode(S.StateValue, info);
  assert.equal(toHex(bytes), '120000000500000000000000' + toHex(new TextEncoder().encode('Store')) + '0900000000000000');
  assert.deepEqual(decode(S.StateValue, bytes), info);
});
