// The block explorer `merit-node` serves at GET /explorer, in a real
// headless Chromium against a 4-validator devnet. Each check reads a page
// and compares what it shows with what the node's JSON-RPC answers.
//
// With EXPLORER_SCREENSHOTS=DIR each page is also saved as DIR/NAME.png
// (`npm run screenshots` writes docs/explorer/).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, afterEach, before, beforeEach, test } from 'node:test';

import { Keypair } from '@merit/sdk';

import { startDevnet } from './support/devnet.mjs';
import { launch } from './support/browser.mjs';

const SHOTS = process.env.EXPLORER_SCREENSHOTS ? resolve(process.env.EXPLORER_SCREENSHOTS) : null;
/** A memo with markup in it: the page must show it as text and run nothing. */
const HOSTILE_MEMO = '<img src=x onerror="document.title=\'pwned\'"><b>table 4</b>';

const alice = Keypair.insecureFromLabel('merit-devnet/shopper/alice');
const bob = Keypair.insecureFromLabel('merit-devnet/shopper/bob').address;
const carol = Keypair.insecureFromLabel('merit-devnet/shopper/carol').address;
const merchant = (n) => Keypair.insecureFromLabel(`merit-devnet/merchant-${n}/account`);

let net;
let browser;
let page;
/** What the page logged as an error, or threw: none is expected. */
let problems;

before(async () => {
  net = await startDevnet();
  browser = await launch();
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await net?.stop();
});

beforeEach(async () => {
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
});

afterEach(async () => {
  await page?.close();
  // A Content-Security-Policy violation is logged as a console error.
  assert.deepEqual(problems, []);
});

async function commit(key, kind) {
  const signed = await net.client.signAndSend(key, kind);
  const info = await net.client.waitForCommit(signed.hash, { timeoutMs: 60_000 });
  assert.equal(info.status, 'committed', `${kind.type}: ${info.code}`);
  return info;
}

/** Opens the explorer at a route (`/tx/…`), or at home. */
async function open(route = '/') {
  await page.goto(`${net.url}/explorer#${route}`);
}

/** Types a query into the search box and submits it. */
async function search(query) {
  await page.fill('#q', query);
  await page.press('#q', 'Enter');
}

async function shot(name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The text of each cell of each body row of a table. */
function rows(selector) {
  return page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
}

test('GET /explorer serves the page with a strict policy, and the devnet prints its URL', async () => {
  const response = await page.goto(`${net.url}/explorer`);
  assert.equal(response.status(), 200);
  const headers = response.headers();
  assert.equal(headers['content-type'], 'text/html; charset=utf-8');
  assert.match(headers['content-security-policy'], /^default-src 'self'; script-src 'self';/);
  assert.doesNotMatch(headers['content-security-policy'], /unsafe/);
  const js = await page.request.get(`${net.url}/explorer/app.js`);
  assert.equal(js.headers()['content-type'], 'text/javascript; charset=utf-8');
  assert.ok(net.banner().includes(`Block explorer: ${net.url}/explorer`), net.banner());
  // The page asks for nothing outside the node.
  const origins = new Set();
  page.on('request', (r) => origins.add(new URL(r.url()).origin));
  await page.reload();
  await page.waitForSelector('#blocks tbody tr');
  assert.deepEqual([...origins], [net.url]);
});

test('the home page shows new blocks arriving live', async () => {
  await open('/');
  await page.waitForSelector('#live:text("on")');
  const before = Number(await page.textContent('#tip'));
  // The blocks listed are the chain's, newest first.
  for (const [height, hash, , txs] of await rows('#blocks')) {
    const block = await net.client.call('merit_getBlock', [Number(height)]);
    assert.ok(hash.startsWith(block.hash.slice(0, 10)) && hash.endsWith(block.hash.slice(-6)), `${height}: ${hash}`);
    assert.equal(Number(txs), block.txs.length, height);
  }
  // A transaction makes a block now rather than at the next heartbeat.
  const info = await commit(alice, { type: 'Transfer', token: 'BEAN', to: bob, amount: 1n, memo: null });
  assert.ok(info.height > before, `${info.height} > ${before}`);
  const row = page.locator(`#blocks tr[data-height="${info.height}"]`);
  await row.waitFor({ timeout: 30_000 });
  const block = await net.client.call('merit_getBlock', [info.height]);
  const [height, hash, , txs] = await row.locator('td').allTextContents();
  assert.equal(Number(height), block.height);
  assert.ok(hash.startsWith(block.hash.slice(0, 10)) && hash.endsWith(block.hash.slice(-6)), hash);
  assert.equal(Number(txs), block.txs.length);
  assert.ok(Number(await page.textContent('#tip')) >= info.height);
  // The validators listed are the set RPC names.
  const set = await net.client.call('merit_validators', []);
  const listed = await rows('#validators');
  assert.deepEqual(
    listed.map((r) => [r[1], r[2], r[3]]),
    set.validators.map((v) => [v.name, v.account, v.validator_key]),
  );
  await shot('home');
});

test('the home page resubscribes after a lost connection and misses no block', async () => {
  // The page's WebSocket goes through a route that forwards it to the
  // node: the first connection is cut, and the second one's subscription
  // is held until a block has been committed, so only a subscription that
  // replays from the first block not yet shown can list it.
  const subscriptions = [];
  const connections = [];
  let committed;
  const held = new Promise((done) => {
    committed = done;
  });
  await page.routeWebSocket(/^ws:\/\/127\.0\.0\.1:\d+\/$/, (ws) => {
    const server = ws.connectToServer();
    const n = connections.push(ws);
    ws.onMessage(async (m) => {
      const call = JSON.parse(m);
      if (call.method === 'merit_subscribe') {
        subscriptions.push(call.params);
        if (n > 1) await held;
      }
      server.send(m);
    });
    server.onMessage((m) => ws.send(m));
  });
  await open('/');
  await page.waitForSelector('#live:text("on")');
  const shown = Number(await page.textContent('#tip'));
  await connections[0].close();
  await page.waitForSelector('#live:text("reconnecting")');
  const info = await commit(alice, { type: 'Transfer', token: 'BEAN', to: bob, amount: 1n, memo: null });
  committed();
  await page.locator(`#blocks tr[data-height="${info.height}"]`).waitFor({ timeout: 30_000 });
  await page.waitForSelector('#live:text("on")');
  assert.equal(connections.length, 2);
  // Each subscription starts right after the newest block shown then (a
  // heartbeat block may have arrived between the two reads here).
  assert.deepEqual(subscriptions.map((p) => p[0]), ['newBlocks', 'newBlocks']);
  assert.ok(subscriptions[0][1].from_height <= shown + 1, JSON.stringify(subscriptions));
  const resumed = subscriptions[1][1].from_height;
  assert.ok(resumed > shown && resumed <= info.height, JSON.stringify(subscriptions));
  // Newest first, one row per height, none missing.
  const heights = (await rows('#blocks')).map((r) => Number(r[0]));
  assert.deepEqual(
    heights,
    heights.map((_, i) => heights[0] - i),
  );
});

test('searching a split payment\'s hash shows its legs and memo, as text', async () => {
  const shop = net.genesis.merchants[0].account;
  const info = await commit(alice, {
    type: 'Pay',
    order_id: 'explorer-split-1',
    legs: [
      { to: shop, token: 'BEAN', amount: 4_500n },
      { to: carol, token: 'BEAN', amount: 500n },
      { to: bob, token: 'BOOK', amount: 250n },
    ],
    memo: HOSTILE_MEMO,
  });
  await open('/');
  await page.waitForSelector('#blocks');
  const title = await page.title();
  await search(info.hash);
  await page.waitForSelector('#legs');
  const tx = await net.client.call('merit_getTransaction', [info.hash]);
  const legs = tx.events.filter((e) => e.type === 'Transferred');
  assert.equal(legs.length, 3);
  assert.deepEqual(
    await rows('#legs'),
    legs.map((e) => [e.to, e.token, e.amount]),
  );
  assert.equal(await page.textContent('#memo'), tx.memo);
  assert.equal(tx.memo, HOSTILE_MEMO);
  // The memo's markup stayed text: no element was made from it, and its
  // handler never ran.
  assert.equal(await page.locator('main img, main b').count(), 0);
  assert.equal(await page.title(), title);
  const shown = await page.$$eval('#tx dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  assert.equal(shown.Kind, 'Pay');
  assert.equal(shown.Status, tx.status);
  assert.equal(shown.Order, tx.order_id);
  assert.equal(shown.Block, String(tx.height));
  // Every event, the Paid totals included.
  assert.deepEqual(
    (await rows('#events')).map((r) => r[0]),
    tx.events.map((e) => e.type),
  );
  await shot('transaction');
  // The block page lists it, with its memo as text.
  await page.click('#tx a[href^="#/block/"]');
  await page.waitForSelector('#txs');
  const txsRows = await rows('#txs');
  assert.ok(txsRows.some(([h, memo]) => h === info.hash && memo === HOSTILE_MEMO), JSON.stringify(txsRows));
  await shot('block');
  // The same order again is recorded, rejected: its page says why.
  const signed = await net.client.signAndSend(alice, {
    type: 'Pay',
    order_id: 'explorer-split-1',
    legs: [{ to: shop, token: 'BEAN', amount: 1n }],
    memo: null,
  });
  const again = await net.client.waitForCommit(signed.hash, { timeoutMs: 60_000 });
  assert.equal(again.status, 'rejected');
  await search(signed.hash);
  await page.waitForSelector('#status:text("rejected")');
  const rejection = await page.$eval('#tx dd[data-field="Rejection"]', (dd) => dd.textContent);
  assert.ok(rejection.startsWith(again.code), `${rejection} for ${again.code}`);
  assert.equal(await page.locator('#legs').count(), 0, 'a rejected payment paid no leg');
});

test('an account page\'s balances match merit_getAccount', async () => {
  await open('/');
  await page.waitForSelector('#blocks');
  await search(alice.address);
  await page.waitForSelector('#balances');
  const account = await net.client.call('merit_getAccount', [alice.address]);
  const tokens = [...new Set([...Object.keys(account.balances), ...Object.keys(account.frozen ?? {}), ...Object.keys(account.locked)])].sort();
  assert.ok(tokens.length >= 4, JSON.stringify(account));
  assert.deepEqual(
    await rows('#balances'),
    tokens.map((t) => [t, account.balances[t] ?? '0', account.frozen?.[t] ?? '0', account.locked[t] ?? '0']),
  );
  // Its recent history is merit_getHistory's, newest first.
  const history = await net.client.call('merit_getHistory', [alice.address, { limit: 25 }]);
  assert.ok(history.entries.length > 0);
  assert.deepEqual(
    (await rows('#history')).map((r) => [Number(r[0]), r[2], r[3]]),
    history.entries.map((e) => [e.height, e.kind, e.code ?? e.status]),
  );
  // Today's statement is merit_getStatement's for the same period.
  const period = await page.$eval('#statement tbody tr', (tr) => ({
    from_ms: Number(tr.dataset.fromMs),
    to_ms: Number(tr.dataset.toMs),
  }));
  const statement = await net.client.call('merit_getStatement', [alice.address, period]);
  assert.ok(statement.tokens.length > 0);
  assert.deepEqual(
    await rows('#statement'),
    statement.tokens.map((t) => [t.token, t.opening, t.credits, t.debits, t.closing, String(t.postings.length)]),
  );
  await shot('account');
  // The sub-account form is parsed; one never opened is not found.
  await search(`${alice.address}/3`);
  await page.waitForSelector('#notfound');
  assert.ok((await page.textContent('#notfound')).includes(`${alice.address}/3`));
});

test('a sub-account page shows its own balances and its label as text; its parent lists it', async () => {
  // A label with markup in it: shown as text, like a memo.
  const label = '<b>Store</b> 7 · Zürich';
  const opened = await commit(alice, { type: 'OpenSubAccount', label });
  const event = opened.events.find((e) => e.type === 'SubAccountOpened');
  const store = event.account;
  const sub = Number(store.split('/')[1]);
  assert.equal(store, `${alice.address}/${sub}`);
  assert.equal(event.label, label);
  await commit(alice, { type: 'Transfer', token: 'BEAN', to: store, amount: 1_234n, memo: null });
  await commit(alice, { type: 'Transfer', token: 'BOOK', to: store, amount: 50n, memo: null });
  // The store pays bob from its own balance: the envelope names it.
  const signed = await net.client.signAndSend(alice, { type: 'Transfer', token: 'BEAN', to: bob, amount: 34n, memo: null }, { sub });
  const paid = await net.client.waitForCommit(signed.hash, { timeoutMs: 60_000 });
  assert.equal(paid.status, 'committed', `${paid.code}`);

  await open('/');
  await page.waitForSelector('#blocks');
  const title = await page.title();
  await search(store);
  await page.waitForSelector('#balances');
  const account = await net.client.call('merit_getAccount', [store]);
  const tokens = [...new Set([...Object.keys(account.balances), ...Object.keys(account.frozen ?? {}), ...Object.keys(account.locked)])].sort();
  assert.deepEqual(account.balances, { BEAN: '12.00', BOOK: '0.50' });
  assert.deepEqual(
    await rows('#balances'),
    tokens.map((t) => [t, account.balances[t] ?? '0', account.frozen?.[t] ?? '0', account.locked[t] ?? '0']),
  );
  assert.equal(await page.textContent('h1'), `Sub-account ${sub}`);
  assert.equal(await page.textContent('#label'), label);
  assert.equal(account.label, label);
  assert.equal(await page.locator('main b').count(), 0, 'the label made no element');
  assert.equal(await page.title(), title);
  // Its history is the sub-account's own.
  const history = await net.client.call('merit_getHistory', [alice.address, { limit: 25, sub }]);
  assert.deepEqual(
    (await rows('#history')).map((r) => [Number(r[0]), r[2]]),
    history.entries.map((e) => [e.height, e.kind]),
  );
  await shot('sub-account');

  // The parent's page lists its sub-accounts, each linked to its page.
  await page.click('#account dd[data-field="Parent"] a');
  await page.waitForSelector('#sub-accounts');
  const subs = await net.client.call('merit_getSubAccounts', [alice.address]);
  assert.deepEqual(
    await rows('#sub-accounts'),
    subs.map((x) => [x.account, x.label, String(x.opened_height)]),
  );
  assert.equal(await page.locator('main b').count(), 0);
  await page.click(`#sub-accounts tr[data-sub="${sub}"] a[href^="#/account/"]`);
  await page.waitForSelector('#label');
  assert.equal(await page.textContent('#account dd[data-field="Address"]'), store);

  // The payment's page names the sub-account that paid, and its events link to it.
  await search(signed.hash);
  await page.waitForSelector('#paying-account');
  assert.equal(await page.textContent('#paying-account'), store);
  const from = await page.$eval('#events tr[data-type="Transferred"] a', (a) => a.getAttribute('href'));
  assert.equal(from, `#/account/${store}`);
  // The opening's page shows the new account and its label, as text.
  await search(opened.hash);
  await page.waitForSelector('#opened');
  assert.equal(await page.textContent('#tx dd[data-field="Kind"]'), 'OpenSubAccount');
  assert.equal(await page.textContent('#opened'), `${store} ${label}`);
  assert.deepEqual((await rows('#events')).map((r) => r[0]), ['SubAccountOpened']);
  assert.equal(await page.locator('main b').count(), 0);
});

test('a token page\'s supply figures match merit_audit', async () => {
  await open('/');
  await page.waitForSelector('#blocks');
  await search('bean');
  await page.waitForSelector('#audit');
  const [audit] = await net.client.call('merit_audit', ['BEAN']);
  const figures = ['minted', 'redeemed', 'expired', 'clawed_back', 'circulating', 'frozen', 'locked_in_offers', 'locked_in_escrow'];
  assert.deepEqual(
    await rows('#audit'),
    figures.map((f) => [f.replaceAll('_', ' '), audit[f]]),
  );
  assert.equal(await page.textContent('#holds'), audit.holds ? 'The supply invariant holds.' : 'The supply invariant does NOT hold.');
  const token = await net.client.call('merit_getToken', ['BEAN']);
  const name = await page.$eval('#token dd[data-field="Name"]', (dd) => dd.textContent);
  assert.equal(name, token.name);
  await shot('token');
});

test('an order book page lists both sides as merit_getOrderBook does', async () => {
  // Alice offers 10 BEAN for at least 0.5 BOOK each; bob offers 1 BOOK
  // for at least 3 BEAN. The prices do not cross: both rest.
  const bobKey = Keypair.insecureFromLabel('merit-devnet/shopper/bob');
  await commit(alice, { type: 'PlaceOffer', sell: 'BEAN', buy: 'BOOK', amount: 1_000n, price: { n: 1n, d: 2n } });
  await commit(bobKey, { type: 'PlaceOffer', sell: 'BOOK', buy: 'BEAN', amount: 100n, price: { n: 3n, d: 1n } });
  await open('/');
  await page.waitForSelector('#blocks');
  await search('bean/book');
  await page.waitForSelector('#offers');
  const book = await net.client.call('merit_getOrderBook', ['BEAN', 'BOOK']);
  assert.equal(book.offers.length, 1);
  assert.equal(book.opposite.length, 1);
  const expected = (offers) => offers.map((o) => [String(o.id), o.owner, o.price, o.remaining, o.amount, `block ${o.height}`]);
  assert.deepEqual(await rows('#offers'), expected(book.offers));
  assert.deepEqual(await rows('#opposite'), expected(book.opposite));
  await shot('order-book');
  // Alice's locked points show on her account page.
  await search(alice.address);
  await page.waitForSelector('#balances');
  const account = await net.client.call('merit_getAccount', [alice.address]);
  const bean = await page.$$eval('#balances tr[data-token="BEAN"] td', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(bean, ['BEAN', account.balances.BEAN, account.frozen?.BEAN ?? '0', account.locked.BEAN]);
});

test('a proposal page shows its votes', async () => {
  // Merchant 1 proposes removing merchant 4 and votes for it; merchant 2
  // votes no. With one approval of the three a quorum needs, it stays open.
  const status = await net.client.status();
  const proposed = await commit(merchant(1), {
    type: 'Propose',
    action: { type: 'RemoveMerchant', account: net.genesis.merchants[3].account },
    voting_ends_height: BigInt(status.height + 10_000),
  });
  const id = Number(proposed.events.find((e) => e.type === 'Proposed').proposal);
  await commit(merchant(1), { type: 'Vote', proposal: BigInt(id), approve: true });
  await commit(merchant(2), { type: 'Vote', proposal: BigInt(id), approve: false });
  await open('/');
  await page.waitForSelector('#blocks');
  await search(`p${id}`);
  await page.waitForSelector('#votes');
  const proposal = await net.client.call('merit_getProposal', [id]);
  assert.equal(proposal.approvals.length + proposal.rejections.length, 2);
  assert.deepEqual(await rows('#votes'), [
    ...proposal.approvals.map((a) => [a, 'approve']),
    ...proposal.rejections.map((a) => [a, 'reject']),
  ]);
  assert.equal(await page.textContent('#status'), proposal.status);
  await shot('proposal');
  // The governance page lists it, and this node's (empty) evidence.
  await page.click('nav a[href="#/governance"]');
  await page.waitForSelector('#proposals');
  const listed = await net.client.call('merit_listProposals', []);
  assert.deepEqual(
    (await rows('#proposals')).map((r) => [Number(r[0]), r[1], r[2]]),
    [...listed].reverse().map((p) => [p.id, p.action.type, p.status]),
  );
  assert.deepEqual(await net.client.call('merit_getEvidence', []), []);
  await page.waitForSelector('#no-evidence');
  await shot('governance');
});

test('an unknown hash, height, address, symbol or proposal shows a clear "not found"', async () => {
  await open('/');
  await page.waitForSelector('#blocks');
  const unknownHash = 'ab'.repeat(32);
  const tx = await net.client.call('merit_getTransaction', [unknownHash]);
  assert.equal(tx.status, 'unknown');
  await search(unknownHash);
  await page.waitForSelector('#notfound');
  assert.equal(await page.textContent('#notfound h1'), 'Not found');
  assert.ok((await page.textContent('#notfound')).includes(unknownHash));
  await shot('not-found');
  for (const query of ['99999999', Keypair.generate().address, 'ZZZZ', 'ZZZZ/BEAN', 'p4242', 'no such thing']) {
    await open('/');
    await page.waitForSelector('#blocks');
    await search(query);
    await page.waitForSelector('#notfound');
    // A proposal is named by its number.
    assert.ok((await page.textContent('#notfound')).includes(query.replace(/^p(?=\d)/, '')), query);
  }
});
