// The SDK against a real chain: a local 4-validator devnet. Transactions
// the SDK signs commit (a transfer, a split payment, a combined payment),
// and what the node says is checked against proofs.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import {
  Keypair,
  LightClient,
  RpcError,
  VerifyError,
  createBody,
  decodeEntriesProof,
  encode,
  formatAmount,
  parseAmount,
  schema as S,
  signTransaction,
  toHex,
  verifyHoldings,
  verifySubAccounts,
} from '../src/index.js';
import type { BlockNotification, EntriesProof, SignedTransaction, TxInfo, TxKind } from '../src/index.js';
import { type Devnet, SDK_DIR, startDevnet } from './support/devnet.js';

let net: Devnet;
const alice = Keypair.insecureFromLabel('merit-devnet/shopper/alice');
const bob = Keypair.insecureFromLabel('merit-devnet/shopper/bob').address;
const carol = Keypair.insecureFromLabel('merit-devnet/shopper/carol').address;
/** A fresh key the tests fund from alice, and pay with. */
const me = Keypair.generate();
let shop: string;
let bookshop: string;
let light: LightClient;

before(async () => {
  net = await startDevnet();
  shop = net.genesis.merchants[0].account;
  bookshop = net.genesis.merchants[1].account;
  light = LightClient.fromGenesis(net.genesis);
});

after(async () => {
  await net?.stop();
});

async function commit(key: Keypair, kind: TxKind): Promise<[SignedTransaction, TxInfo]> {
  const signed = await net.client.signAndSend(key, kind);
  const info = await net.client.waitForCommit(signed.hash, { timeoutMs: 60_000 });
  return [signed, info];
}

function transfers(info: TxInfo): Array<[unknown, unknown, unknown]> {
  return info.events.filter((e) => e.type === 'Transferred').map((e) => [e.to, e.token, e.amount]);
}

test('a transfer signed by the SDK commits', async () => {
  // Alice funds the fresh key in two tokens.
  for (const [token, amount] of [
    ['BEAN', 10_000n],
    ['BOOK', 5_000n],
  ] as const) {
    const [, info] = await commit(alice, { type: 'Transfer', token, to: me.address, amount, memo: 'welcome' });
    assert.equal(info.status, 'committed', `${info.code}`);
    assert.equal(info.memo, 'welcome');
  }
  const [signed, info] = await commit(me, { type: 'Transfer', token: 'BEAN', to: bob, amount: 500n, memo: null });
  assert.equal(info.status, 'committed');
  assert.equal(info.kind, 'Transfer');
  assert.equal(info.sender, me.address);
  assert.equal(info.hash, signed.hash);
  assert.deepEqual(transfers(info), [[bob, 'BEAN', '5.00']]);
});

test('a split payment signed by the SDK commits', async () => {
  const order = `split-${me.address.slice(4, 12)}`;
  const [, info] = await commit(me, {
    type: 'Pay',
    order_id: order,
    legs: [
      { to: shop, token: 'BEAN', amount: 1_000n },
      { to: carol, token: 'BEAN', amount: 250n },
      { to: bob, token: 'BEAN', amount: 100n },
    ],
    memo: 'table 4',
  });
  assert.equal(info.status, 'committed', `${info.code}`);
  assert.equal(info.order_id, order);
  assert.deepEqual(transfers(info), [
    [shop, 'BEAN', '10.00'],
    [carol, 'BEAN', '2.50'],
    [bob, 'BEAN', '1.00'],
  ]);
  const paid = info.events.filter((e) => e.type === 'Paid');
  assert.deepEqual(
    paid.map((e) => [e.token, e.total]),
    [['BEAN', '13.50']],
  );
  // The same order again is recorded, and rejected.
  const [, again] = await commit(me, {
    type: 'Pay',
    order_id: order,
    legs: [{ to: shop, token: 'BEAN', amount: 1n }],
    memo: null,
  });
  assert.equal(again.status, 'rejected');
  assert.equal(again.code, 'DuplicateOrderId');
});

let combined: SignedTransaction;

test('a combined payment in two tokens signed by the SDK commits', async () => {
  const [signed, info] = await commit(me, {
    type: 'Pay',
    order_id: `combined-${me.address.slice(4, 12)}`,
    legs: [
      { to: shop, token: 'BEAN', amount: 2_000n },
      { to: bookshop, token: 'BOOK', amount: 1_000n },
      { to: carol, token: 'BOOK', amount: 500n },
    ],
    memo: null,
  });
  combined = signed;
  assert.equal(info.status, 'committed', `${info.code}`);
  assert.deepEqual(transfers(info), [
    [shop, 'BEAN', '20.00'],
    [bookshop, 'BOOK', '10.00'],
    [carol, 'BOOK', '5.00'],
  ]);
  const paid = info.events.filter((e) => e.type === 'Paid').map((e) => [e.token, e.total]);
  assert.deepEqual(paid.sort(), [
    ['BEAN', '20.00'],
    ['BOOK', '15.00'],
  ]);
});

test('a balance proof verifies, and a forged one does not', async () => {
  // 100.00 − 5.00 − 13.50 − 20.00 BEAN; 50.00 − 15.00 BOOK; no FUEL.
  const proven = await net.client.verifyBalance(light, me.address, ['BEAN', 'BOOK', 'FUEL']);
  assert.deepEqual(
    proven.map((h) => [h.token, h.balance, h.frozen, h.lots.length]),
    [
      ['BEAN', 6_150n, 0n, 0],
      ['BOOK', 3_500n, 0n, 0],
      ['FUEL', 0n, 0n, 0],
    ],
  );
  const account = await net.client.getAccount(me.address);
  assert.deepEqual(account.balances, { BEAN: '61.50', BOOK: '35.00' });

  // A node that claims more is caught: the entry no longer leads to the certified root.
  const info = await net.client.getProof(me.address, { tokens: ['BEAN'] });
  const forged: EntriesProof = decodeEntriesProof(info.proof);
  (forged.entries[0].value!.value as { balance: bigint }).balance += 100n;
  assert.throws(
    () => verifyHoldings(light, forged, me.address, 0, ['BEAN'], { type: 'AtHeight', height: BigInt(info.height) }),
    (e: Error) => e instanceof VerifyError && /not the value claimed/.test(e.message),
  );
  // A proof of another account's holding does not pass for this one's.
  const alices = decodeEntriesProof((await net.client.getProof(alice.address, { tokens: ['BEAN'] })).proof);
  assert.throws(
    () => verifyHoldings(light, alices, me.address, 0, ['BEAN'], { type: 'AtHeight', height: alices.header.height }),
    /not one asked for/,
  );
  assert.equal(toHex(encode(S.EntriesProof, forged)).length, info.proof.length, 'a re-encoded proof keeps its size');
});

test('the combined payment is in a certified block, with its receipt', async () => {
  const receipt = await net.client.verifyTransaction(light, combined.hash);
  assert.ok(receipt);
  assert.equal(receipt.tx_hash, combined.hash);
  assert.equal(receipt.outcome.type, 'Committed');
  const events = receipt.outcome.type === 'Committed' ? receipt.outcome.events : [];
  assert.deepEqual(
    events.filter((e) => e.type === 'Paid').map((e) => [e.token, e.total]).sort(),
    [
      ['BEAN', 2_000n],
      ['BOOK', 1_500n],
    ],
  );
  const token = await net.client.verifyToken(light, 'BOOK');
  assert.equal(token?.decimals, 2);
  assert.equal(token?.issuer, bookshop);
});

test('nonce proofs tell a used nonce from an unused one', async () => {
  const status = await net.client.status();
  const used = combined.transaction.body.nonce;
  assert.equal(await net.client.verifyNonceUnused(light, me.address, used, status.height), false);
  assert.equal(await net.client.verifyNonceUnused(light, me.address, used ^ 1n, status.height), true);
});

const STORE = 'Store 12 · 南京路';

test('a sub-account opened with an SDK-signed OpenSubAccount receives, and pays', async () => {
  const [, opened] = await commit(me, { type: 'OpenSubAccount', label: STORE });
  assert.equal(opened.status, 'committed', `${opened.code}`);
  assert.equal(opened.kind, 'OpenSubAccount');
  const store = `${me.address}/1`;
  assert.deepEqual(
    opened.events.map((e) => [e.type, e.account, e.label]),
    [['SubAccountOpened', store, STORE]],
  );
  assert.deepEqual(await net.client.getSubAccounts(me.address), [
    { sub: 1, account: store, label: STORE, opened_height: opened.height },
  ]);

  // Alice pays 20.00 BEAN to the store's account, not to the address.
  const [, funded] = await commit(alice, { type: 'Transfer', token: 'BEAN', to: store, amount: 2_000n, memo: null });
  assert.equal(funded.status, 'committed', `${funded.code}`);
  assert.deepEqual(transfers(funded), [[store, 'BEAN', '20.00']]);
  const before = await net.client.getAccount(me.address);

  // The store pays: the envelope's sub names it, the address's key signs.
  const signed = await net.client.signAndSend(
    me,
    { type: 'Pay', order_id: `store-${me.address.slice(4, 12)}`, legs: [{ to: shop, token: 'BEAN', amount: 1_250n }], memo: null },
    { sub: 1 },
  );
  assert.equal(signed.transaction.body.sub, 1);
  const paid = await net.client.waitForCommit(signed.hash, { timeoutMs: 60_000 });
  assert.equal(paid.status, 'committed', `${paid.code}`);
  assert.equal(paid.sender, me.address);
  assert.equal(paid.sub, 1);
  assert.deepEqual(
    paid.events.map((e) => [e.type, e.from ?? e.payer, e.token]),
    [
      ['Transferred', store, 'BEAN'],
      ['Paid', store, 'BEAN'],
    ],
  );
  const sub = await net.client.getAccount(store);
  assert.deepEqual(sub.balances, { BEAN: '7.50' });
  assert.equal(sub.label, STORE);
  assert.deepEqual((await net.client.getAccount({ address: me.address, sub: 1 })).balances, sub.balances);
  // The address's own balances did not move, and it counts one sub-account.
  const after = await net.client.getAccount(me.address);
  assert.deepEqual(after.balances, before.balances);
  assert.equal(after.sub_accounts, 1);

  // Paying from, or paying to, a sub-account never opened is rejected:
  // in a block, or already at admission.
  const rejection = async (key: Keypair, kind: TxKind, sub = 0): Promise<string | undefined> => {
    try {
      const signed = await net.client.signAndSend(key, kind, { sub });
      const info = await net.client.waitForCommit(signed.hash, { timeoutMs: 60_000 });
      assert.equal(info.status, 'rejected');
      return info.code ?? undefined;
    } catch (e) {
      if (e instanceof RpcError) return e.rejection;
      throw e;
    }
  };
  assert.equal(await rejection(me, { type: 'Transfer', token: 'BEAN', to: bob, amount: 1n, memo: null }, 2), 'UnknownSubAccount');
  assert.equal(
    await rejection(alice, { type: 'Transfer', token: 'BEAN', to: `${me.address}/2`, amount: 1n, memo: null }),
    'UnknownSubAccount',
  );
});

test('a roll-up of an address and its sub-accounts is proven complete at one height', async () => {
  // A second store, funded in BOOK.
  const [, opened] = await commit(me, { type: 'OpenSubAccount', label: 'Store 13' });
  assert.equal(opened.status, 'committed', `${opened.code}`);
  const [, funded] = await commit(alice, { type: 'Transfer', token: 'BOOK', to: `${me.address}/2`, amount: 300n, memo: null });
  assert.equal(funded.status, 'committed', `${funded.code}`);

  const tokens = ['BEAN', 'BOOK'];
  const rollUp = await net.client.verifyRollUp(light, me.address, tokens);
  assert.equal(rollUp.subAccounts, 2);
  assert.deepEqual(
    rollUp.accounts.map((a) => a.account),
    [me.address, `${me.address}/1`, `${me.address}/2`],
  );
  // What the node reports, account by account, is what was proven; and so is the sum.
  const reported = await Promise.all(rollUp.accounts.map((a) => net.client.getAccount(a.account)));
  assert.equal(reported[0].sub_accounts, rollUp.subAccounts);
  const sum: Record<string, bigint> = { BEAN: 0n, BOOK: 0n };
  reported.forEach((info, i) => {
    for (const t of tokens) {
      const held = parseAmount(info.balances[t] ?? '0', 2);
      assert.equal(rollUp.accounts[i].holdings.find((h) => h.token === t)!.balance, held, `${rollUp.accounts[i].account} ${t}`);
      sum[t] += held;
    }
  });
  assert.deepEqual(rollUp.total, sum);
  assert.equal(formatAmount(rollUp.total.BOOK, 2), '38.00');

  // The count is proven: a node that hides a sub-account by claiming a
  // smaller count, or none, is caught.
  const info = await net.client.getProof(me.address, { sub_accounts: true });
  const proof = decodeEntriesProof(info.proof);
  const at = { type: 'AtHeight', height: proof.header.height } as const;
  assert.equal(verifySubAccounts(light, proof, me.address, at), 2);
  const fewer = structuredClone(proof);
  fewer.entries[0].value = { type: 'SubAccounts', value: 1 };
  assert.throws(() => verifySubAccounts(light, fewer, me.address, at), /not the value claimed/);
  const none = structuredClone(proof);
  none.entries[0].value = null;
  assert.throws(() => verifySubAccounts(light, none, me.address, at), /claimed absent/);
  const empty = structuredClone(proof);
  empty.entries = [];
  assert.throws(() => verifySubAccounts(light, empty, me.address, at), /leaves out/);
  // Another address's count does not pass for this one's, and an address
  // that opened none proves 0.
  assert.throws(() => verifySubAccounts(light, proof, bob, at), /not one asked for/);
  assert.equal((await net.client.verifySubAccounts(light, bob)).count, 0);
});

test('the node refuses what it cannot admit, with the rejection code', async () => {
  const status = await net.client.status();
  const wrongChain = signTransaction(
    createBody({
      chainId: 'another-chain',
      sender: me.address,
      kind: { type: 'Transfer', token: 'BEAN', to: bob, amount: 1n, memo: null },
      height: BigInt(status.height),
    }),
    me,
  );
  await assert.rejects(net.client.sendTransaction(wrongChain), (e: Error) => e instanceof RpcError && e.rejection === 'WrongChainId');
  const [, broke] = await commit(me, { type: 'Transfer', token: 'BEAN', to: bob, amount: 1_000_000n, memo: null });
  assert.equal(broke.status, 'rejected');
  assert.equal(broke.code, 'InsufficientBalance');
});

test('newBlocks delivers every block once, in order, from a height', async () => {
  const sub = await net.client.subscribe('newBlocks', { fromHeight: 1 });
  try {
    const seen: BlockNotification[] = [];
    for (let i = 0; i < 3; i++) seen.push(await sub.next());
    assert.deepEqual(
      seen.map((b) => b.height),
      [1, 2, 3],
    );
    assert.ok(seen.every((b) => /^[0-9a-f]{64}$/.test(b.hash)));
  } finally {
    await sub.close();
  }
});

test('the account subscription reports a payment to the account', async () => {
  const sub = await net.client.subscribe('account', me.address);
  try {
    const [signed] = await commit(alice, { type: 'Transfer', token: 'BEAN', to: me.address, amount: 1n, memo: null });
    const note = await sub.next();
    assert.equal(note.hash, signed.hash);
    assert.equal(note.status, 'committed');
  } finally {
    await sub.close();
  }
});

test('the quickstart of docs/sdk.md runs against the devnet', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['dist/examples/quickstart.js'], {
    cwd: SDK_DIR,
    env: { ...process.env, MERIT_RPC: net.url, MERIT_GENESIS: net.genesisFile },
    timeout: 120_000,
  });
  assert.match(stdout, /^connected to merit-devnet at height \d+$/m);
  assert.match(stdout, /^funding committed in block \d+$/m);
  assert.match(stdout, /^payment committed: Transferred, Transferred, Paid$/m);
  assert.match(stdout, /^verified balance: 7\.50 BEAN$/m);
});
