// Bad input gets a clear error: malformed bytes never decode to garbage,
// and a value over a bound or of the wrong shape never encodes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  DecodeError,
  EncodeError,
  Keypair,
  createBody,
  decode,
  decodeTransaction,
  encode,
  formatAccountRef,
  fromHex,
  parseAccountRef,
  schema as S,
  signTransaction,
  toHex,
  verifySignature,
} from '../src/index.js';
import type { TxKind } from '../src/index.js';

const V = JSON.parse(readFileSync(new URL('../../test/vectors.json', new URL('.', import.meta.url)), 'utf8'));
const transfer = V.transactions.find((t: { name: string }) => t.name === 'transfer');

const key = Keypair.insecureFromLabel('codec-test');
const sign = (kind: TxKind) =>
  signTransaction(createBody({ chainId: 'merit-test', sender: key.address, kind, nonce: 1n, expiresAtHeight: 10n }), key);

test('trailing bytes and short input are refused with where and why', () => {
  assert.throws(() => decodeTransaction(transfer.transaction + '00'), {
    name: 'DecodeError',
    message: '1 bytes follow the end of the Transaction',
  });
  assert.throws(() => decodeTransaction(transfer.transaction.slice(0, -2)), /input ends early: at least 1 more bytes expected/);
  assert.throws(() => decodeTransaction('00ff'), /input ends early/);
  assert.throws(() => decodeTransaction('zz'), /not hexadecimal/);
});

test('an unknown tag, a bad boolean or option flag, a bad symbol are named', () => {
  const bytes = fromHex(transfer.transaction);
  // The kind's tag follows chain id (8 + 13), sender (32), sub (4), nonce and expiry (16).
  const at = 8 + 13 + 32 + 4 + 16;
  const tagged = Uint8Array.from(bytes);
  tagged.set([99, 0, 0, 0], at);
  assert.throws(() => decodeTransaction(tagged), /body\.kind: 99 is not a tag of TxKind/);

  const vote = sign({ type: 'Vote', proposal: 1n, approve: true }).bytes;
  const badBool = Uint8Array.from(vote);
  badBool[vote.length - 65] = 2;
  assert.throws(() => decodeTransaction(badBool), /body\.kind\.approve: 2 is not a boolean/);

  const memo = sign({ type: 'Redeem', token: 'BEAN', amount: 5n, memo: null }).bytes;
  const badFlag = Uint8Array.from(memo);
  badFlag[memo.length - 65] = 7;
  assert.throws(() => decodeTransaction(badFlag), /7 is not a tag of Option/);

  const lower = encode(S.ChainId, 'bean');
  assert.throws(() => decode(S.Event, Uint8Array.from([0, 0, 0, 0, ...lower, ...new Uint8Array(32)])), /a token symbol is 2 to 12 characters/);
});

test('a length over its bound is refused before anything is read', () => {
  const huge = new Uint8Array(8).fill(0xff);
  assert.throws(() => decode(S.Memo, huge), /memo is 18446744073709551615 bytes, at most 256/);
  const legs = (n: number) => Array.from({ length: n }, () => ({ to: key.address, token: 'BEAN', amount: 1n }));
  // 51 legs encode and decode (the ledger rejects them with TooManyLegs); 1,025 do not.
  const wide = sign({ type: 'Pay', order_id: 'x', legs: legs(51), memo: null });
  assert.equal(decodeTransaction(wide.bytes).transaction.body.kind.type, 'Pay');
  assert.throws(() => sign({ type: 'Pay', order_id: 'x', legs: legs(1025), memo: null }), /legs has 1025 entries, at most 50/);
  // A list that claims more entries than bytes follow.
  const claim = Uint8Array.from([4, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.throws(() => decode(S.Lots, claim), /a list claims 4 entries, but only 1 bytes follow/);
  const invalidUtf8 = Uint8Array.from([2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe]);
  assert.throws(() => decode(S.Memo, invalidUtf8), /memo is not UTF-8/);
  assert.throws(() => decodeTransaction(new Uint8Array(65_537)), /65537 bytes, at most 65536/);
});

test('a value of the wrong shape or over a bound does not encode', () => {
  assert.throws(() => sign({ type: 'Transfer', token: 'BEAN', to: key.address, amount: 1n, memo: 'm'.repeat(257) }), {
    name: 'EncodeError',
    message: 'kind.memo: memo is 257 bytes, at most 256',
  });
  // A memo's bound is in bytes: 86 three-byte characters are 258 bytes.
  assert.throws(() => sign({ type: 'Transfer', token: 'BEAN', to: key.address, amount: 1n, memo: '€'.repeat(86) }), /258 bytes/);
  assert.throws(() => sign({ type: 'Transfer', token: 'bean', to: key.address, amount: 1n, memo: null }), /kind\.token: a token symbol/);
  assert.throws(() => sign({ type: 'Transfer', token: 'BEAN', to: 'mrt1nope', amount: 1n, memo: null }), /kind\.to: .*not an address/);
  assert.throws(() => sign({ type: 'Transfer', token: 'BEAN', to: key.address, amount: -1n, memo: null }), EncodeError);
  assert.throws(() => sign({ type: 'Transfer', token: 'BEAN', to: key.address, amount: 1n << 64n, memo: null }), /not a u64/);
  assert.throws(() => sign({ type: 'Teleport' } as unknown as TxKind), /`Teleport` is not a TxKind/);
  assert.throws(() => sign({ type: 'Mint', token: 'BEAN', amount: 1n } as unknown as TxKind), /missing field `to`/);
  assert.throws(() => encode(S.Price, { n: 1.5, d: 1n }), /expected a u64/);
});

test('signatures by the rule: only the key, the message and canonical values verify', () => {
  const message = new TextEncoder().encode('pay 5');
  const sig = key.sign(message);
  assert.ok(verifySignature(key.publicKey, message, sig));
  assert.ok(!verifySignature(key.publicKey, new TextEncoder().encode('pay 6'), sig));
  assert.ok(!verifySignature(Keypair.insecureFromLabel('other').publicKey, message, sig));
  assert.ok(!verifySignature(new Uint8Array(32), message, sig), 'a small-order key never verifies');
  // s + ℓ is the same scalar, but not canonical: refused.
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]);
  let big = s + L;
  const malleated = Uint8Array.from(sig);
  for (let i = 32; i < 64; i++) {
    malleated[i] = Number(big & 0xffn);
    big >>= 8n;
  }
  if (big === 0n) assert.ok(!verifySignature(key.publicKey, message, malleated));
  assert.equal(toHex(Keypair.fromSeed(toHex(key.seed())).publicKey), toHex(key.publicKey));
  assert.throws(() => Keypair.fromSeed('00'), DecodeError);
});

test('an account is ADDRESS or ADDRESS/N, and encodes as the address then a u32', () => {
  const other = Keypair.insecureFromLabel('codec-test/other').address;
  assert.deepEqual(parseAccountRef(other), { address: other, sub: 0 });
  assert.deepEqual(parseAccountRef(`${other}/7`), { address: other, sub: 7 });
  assert.deepEqual(parseAccountRef(`${other.toUpperCase()}/4294967295`), { address: other, sub: 4294967295 });
  assert.equal(formatAccountRef({ address: other, sub: 0 }), other);
  assert.equal(formatAccountRef({ address: other, sub: 12 }), `${other}/12`);
  assert.equal(formatAccountRef(`${other}/0`), other, 'sub-account 0 is the address itself');
  for (const bad of [`${other}/`, `${other}/-1`, `${other}/4294967296`, `${other}/1/2`, `${other}/x`, 'mrt1nope/1']) {
    assert.throws(() => parseAccountRef(bad), EncodeError, bad);
  }
  // The three forms of one receiver give the same bytes.
  const bytes = (to: unknown) =>
    toHex(sign({ type: 'Transfer', token: 'BEAN', to: to as string, amount: 1n, memo: null }).bytes);
  assert.equal(bytes(`${other}/3`), bytes({ address: other, sub: 3 }));
  assert.notEqual(bytes(other), bytes(`${other}/3`));
  assert.equal(bytes(other), bytes({ address: other, sub: 0 }));
  // Decoding gives the object form.
  const decoded = decodeTransaction(sign({ type: 'Transfer', token: 'BEAN', to: `${other}/3`, amount: 1n, memo: null }).bytes);
  assert.deepEqual((decoded.transaction.body.kind as { to: unknown }).to, { address: other, sub: 3 });
  assert.equal(decoded.transaction.body.sub, 0);
  assert.deepEqual(decode(S.AccountRef, encode(S.AccountRef, `${other}/9`)), { address: other, sub: 9 });
  assert.equal(encode(S.AccountRef, `${other}/9`).length, 36);
  assert.throws(() => sign({ type: 'Transfer', token: 'BEAN', to: { address: other, sub: -1 }, amount: 1n, memo: null }), /kind\.to/);
});

test('the envelope names the paying account, and a label is at most 32 bytes', () => {
  const body = createBody({
    chainId: 'merit-test',
    sender: key.address,
    sub: 5,
    kind: { type: 'OpenSubAccount', label: 'Store 12' },
    nonce: 1n,
    expiresAtHeight: 10n,
  });
  const signed = signTransaction(body, key);
  const round = decodeTransaction(signed.bytes).transaction.body;
  assert.equal(round.sub, 5);
  assert.deepEqual(round.kind, { type: 'OpenSubAccount', label: 'Store 12' });
  assert.throws(() => sign({ type: 'OpenSubAccount', label: '店'.repeat(11) }), /kind\.label: label is 33 bytes, at most 32/);
  assert.equal(decodeTransaction(sign({ type: 'OpenSubAccount', label: '' }).bytes).transaction.body.kind.type, 'OpenSubAccount');
  assert.throws(() => signTransaction({ ...body, sub: 2 ** 32 }, key), /sub: expected a u32/);
});
