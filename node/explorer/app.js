// The Merit block explorer: one page, routed by the location hash, that
// reads the chain from this node's JSON-RPC (HTTP POST to /) and follows
// new blocks over its WebSocket (merit_subscribe "newBlocks").
//
// Everything that comes from the chain (memos, order ids, token names,
// addresses) is untrusted: it reaches the page only as text nodes
// (`el()` sets textContent), never as markup.

import { hashOf, parseHash, parseQuery } from './search.js';

const main = document.getElementById('main');
/** Blocks the home page lists, newest first. */
const LATEST_BLOCKS = 15;
const DAY_MS = 86_400_000;
/** How long the home page waits before it reconnects its WebSocket. */
const RECONNECT_MS = 2_000;
/** History entries an account page lists. */
const HISTORY_LIMIT = 25;

// ---------------------------------------------------------------- DOM

/** An element with attributes and children; strings become text nodes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function link(route, text, cls = 'mono') {
  return el('a', { href: hashOf(route), class: cls }, text);
}

/** `ADDRESS`, or `ADDRESS/N` for sub-account N (0 is the address itself). */
function accountName(address, sub) {
  if (typeof address !== 'string' || address.includes('/')) return address;
  return typeof sub === 'number' && sub > 0 ? `${address}/${sub}` : address;
}

/** Whether a value is an account as `{address, sub}`. */
function isAccountRef(v) {
  return v !== null && typeof v === 'object' && typeof v.address === 'string' && typeof v.sub === 'number';
}

/** A link to an account's page: `mrt1…`, `mrt1…/N` or `{address, sub}`. */
function addressLink(address) {
  if (isAccountRef(address)) address = accountName(address.address, address.sub);
  if (typeof address !== 'string') return el('span', { class: 'muted' }, '—');
  const [a, sub] = address.split('/');
  const route = parseQuery(address);
  return route.page === 'account' ? link(route, address) : el('span', { class: 'mono' }, sub ? `${a}/${sub}` : a);
}

function short(hash) {
  return typeof hash === 'string' && hash.length > 16 ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : String(hash);
}

function table(id, headers, rows) {
  return alignHeaders(
    el(
      'table',
      { id },
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
      el('tbody', {}, rows),
    ),
  );
}

/** Right-aligns the header of each column whose first row is a number. */
function alignHeaders(t) {
  const first = t.tBodies[0]?.rows[0];
  const heads = t.tHead?.rows[0]?.cells ?? [];
  if (first) [...first.cells].forEach((td, i) => td.classList.contains('num') && heads[i]?.classList.add('num'));
  return t;
}

/** A definition list of [label, value] pairs; the value may be a Node. */
function fields(id, pairs) {
  return el(
    'dl',
    { class: 'fields', id },
    pairs.flatMap(([k, v, cls]) => [el('dt', {}, k), el('dd', { class: cls, 'data-field': k }, v ?? '—')]),
  );
}

/** Replaces the page's content; arrays (sections left out are []) are flattened. */
function show(...nodes) {
  main.replaceChildren(...nodes.flat(Infinity).filter((n) => n instanceof Node));
}

function notFound(what, query, detail) {
  show(
    el(
      'section',
      { class: 'notfound', id: 'notfound' },
      el('h1', {}, 'Not found'),
      el('p', {}, `No ${what} matches `, el('code', { class: 'mono' }, query), ' on this chain.'),
      detail ? el('p', { class: 'muted' }, detail) : null,
      el('p', {}, link({ page: 'home' }, 'Back to the latest blocks', '')),
    ),
  );
}

function time(ms) {
  return typeof ms === 'number' ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '—';
}

// ---------------------------------------------------------------- RPC

class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
  }
}

let nextId = 1;

async function rpc(method, params = []) {
  const response = await fetch('/', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  });
  const body = await response.json();
  if (body.error) throw new RpcError(body.error);
  return body.result;
}

/** Several calls in one JSON-RPC batch; the results in the calls' order. */
async function rpcBatch(calls) {
  if (calls.length === 0) return [];
  const first = nextId;
  nextId += calls.length;
  const response = await fetch('/', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: first + i, method, params }))),
  });
  const answers = await response.json();
  if (!Array.isArray(answers)) throw new RpcError(answers.error ?? { code: 0, message: 'not a batch answer' });
  const byId = new Map(answers.map((a) => [a.id, a]));
  return calls.map((_, i) => {
    const a = byId.get(first + i);
    if (!a || a.error) throw new RpcError(a?.error ?? { code: 0, message: 'a call of the batch went unanswered' });
    return a.result;
  });
}

/** A -32602 (invalid params): the node refused what was asked for. */
function refused(e) {
  return e instanceof RpcError && e.code === -32602;
}

// ---------------------------------------------------------------- pages

let live = null; // the home page's WebSocket, closed when leaving it

function blockRow(b, fresh) {
  const txs = Array.isArray(b.txs) ? b.txs.length : 0;
  const rejected = Array.isArray(b.rejected) ? b.rejected.length : null;
  return el(
    'tr',
    { 'data-height': b.height, class: fresh ? 'new' : null },
    el('td', { class: 'num' }, link({ page: 'block', height: b.height }, String(b.height))),
    el('td', { class: 'mono' }, short(b.hash)),
    el('td', {}, time(b.timestamp_ms)),
    el('td', { class: 'num' }, String(txs), rejected ? el('span', { class: 'bad' }, ` (${rejected} rejected)`) : null),
  );
}

async function home(token) {
  const [status, validators] = await Promise.all([rpc('merit_status'), rpc('merit_validators')]);
  if (token !== current) return;
  const heights = [];
  for (let h = status.height; h >= 1 && heights.length < LATEST_BLOCKS; h--) heights.push(h);
  const blocks = (await rpcBatch(heights.map((h) => ['merit_getBlock', [h]]))).filter(Boolean);
  if (token !== current) return;
  const rows = el('tbody', {}, blocks.map((b) => blockRow(b, false)));
  const tip = el('b', { id: 'tip' }, String(status.height));
  const rate = el('b', { id: 'tps' }, '—');
  const liveState = el('b', { id: 'live' }, 'connecting');
  const recent = blocks.map((b) => ({ t: b.timestamp_ms, n: b.txs.length }));
  const updateRate = () => {
    if (recent.length < 2) return;
    const span = (recent[0].t - recent[recent.length - 1].t) / 1000;
    const n = recent.slice(0, -1).reduce((s, r) => s + r.n, 0);
    rate.textContent = span > 0 ? (n / span).toFixed(2) : '—';
  };
  updateRate();
  show(
    el('h1', {}, 'Latest blocks'),
    el(
      'div',
      { class: 'stats' },
      el('div', {}, 'Height', tip),
      el('div', {}, 'tx/s (recent blocks)', rate),
      el('div', {}, 'Validators', el('b', {}, String(validators.validators?.length ?? status.validators))),
      el('div', {}, 'Live updates', liveState),
    ),
    alignHeaders(
      el(
        'table',
        { id: 'blocks' },
        el('thead', {}, el('tr', {}, ['Height', 'Hash', 'Time', 'Txs'].map((h) => el('th', {}, h)))),
        rows,
      ),
    ),
    el('h2', {}, 'Validators'),
    table(
      'validators',
      ['#', 'Merchant', 'Account', 'Validator key'],
      (validators.validators ?? []).map((v) =>
        el('tr', {}, el('td', {}, String(v.index)), el('td', {}, v.name), el('td', {}, addressLink(v.account)), el('td', { class: 'mono' }, v.validator_key)),
      ),
    ),
  );
  // Follow new blocks from the one after the tip listed, so that none is
  // missed between the listing and the subscription; after a lost
  // connection, resubscribe from the first block not yet shown.
  let seen = status.height;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const follow = () => {
    const ws = new WebSocket(`${scheme}://${location.host}/`);
    live = ws;
    ws.addEventListener('open', () => {
      const params = ['newBlocks', { from_height: seen + 1 }];
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'merit_subscribe', params }));
    });
    ws.addEventListener('message', (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.id === 1 && msg.result !== undefined) liveState.textContent = 'on';
      if (msg.id === 1 && msg.error) liveState.textContent = `off: ${msg.error.message}`;
      if (msg.method !== 'merit_subscription') return;
      const b = msg.params?.result;
      if (!b || typeof b.height !== 'number' || b.height <= seen) return;
      seen = b.height;
      rows.prepend(blockRow(b, true));
      while (rows.children.length > LATEST_BLOCKS) rows.lastElementChild.remove();
      tip.textContent = String(b.height);
      recent.unshift({ t: b.timestamp_ms, n: b.txs.length });
      recent.length = Math.min(recent.length, LATEST_BLOCKS);
      updateRate();
    });
    ws.addEventListener('close', () => {
      if (live !== ws || token !== current) return; // left the page
      liveState.textContent = 'reconnecting';
      setTimeout(() => {
        if (live === ws && token === current) follow();
      }, RECONNECT_MS);
    });
  };
  follow();
}

async function block(route, token) {
  const b = await rpc('merit_getBlock', [route.height]);
  if (token !== current) return;
  if (!b) return notFound('block', String(route.height), 'The node has no block at this height.');
  const memos = b.memos ?? {};
  show(
    el('h1', {}, `Block ${b.height}`),
    fields('block', [
      ['Hash', b.hash, 'mono'],
      ['Time', time(b.timestamp_ms)],
      ['Proposer', addressLink(b.proposer)],
      ['Round', String(b.round)],
      ['Parent', b.height > 0 ? link({ page: 'block', height: b.height - 1 }, b.parent_hash) : b.parent_hash, 'mono'],
      ['State root', b.state_root, 'mono'],
      ['Signers', String(b.certificate?.signers?.length ?? 0)],
    ]),
    el('h2', {}, `Transactions (${b.txs.length})`),
    table(
      'txs',
      ['Hash', 'Memo'],
      b.txs.map((h) => el('tr', {}, el('td', {}, link({ page: 'tx', hash: h }, h)), el('td', { class: 'memo' }, memos[h] ?? ''))),
    ),
    b.events?.length ? [el('h2', {}, 'Block events'), eventsTable('block-events', b.events)] : [],
  );
}

/** The fields of an event other than its type, as label: value cells. */
function eventDetail(e) {
  const parts = [];
  for (const [k, v] of Object.entries(e)) {
    if (k === 'type') continue;
    const value =
      (typeof v === 'string' && v.startsWith('mrt1')) || isAccountRef(v)
        ? addressLink(v)
        : el('span', {}, v === null ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    parts.push(el('span', { class: 'kv' }, `${k} `, value, ' '));
  }
  return parts;
}

function eventsTable(id, events) {
  return table(
    id,
    ['Event', 'Details'],
    events.map((e) => el('tr', { 'data-type': e.type }, el('td', {}, e.type), el('td', {}, eventDetail(e)))),
  );
}

async function tx(route, token) {
  const t = await rpc('merit_getTransaction', [route.hash]);
  if (token !== current) return;
  if (!t || t.status === 'unknown') {
    return notFound('transaction', route.hash, 'The node has neither committed nor received a transaction with this hash.');
  }
  // The account that paid: the envelope's sub-account of the sender, or the address itself.
  const payer = accountName(t.sender, t.sub);
  const legs = t.events.filter((e) => e.type === 'Transferred' && e.from === payer);
  const opened = t.events.find((e) => e.type === 'SubAccountOpened');
  show(
    el('h1', {}, `Transaction ${short(t.hash)}`),
    fields('tx', [
      ['Hash', t.hash, 'mono'],
      ['Kind', t.kind],
      ['Status', el('span', { class: `status-${t.status}`, id: 'status' }, t.status)],
      t.code ? ['Rejection', `${t.code}${t.message ? `: ${t.message}` : ''}`, 'bad'] : null,
      ['Block', t.height === null ? 'pending' : link({ page: 'block', height: t.height }, String(t.height))],
      ['Index', t.index === null ? '—' : String(t.index)],
      ['Sender', addressLink(t.sender)],
      typeof t.sub === 'number' && t.sender ? ['Paying account', el('span', { id: 'paying-account' }, addressLink(payer))] : null,
      opened ? ['Opened', el('span', { id: 'opened' }, addressLink(opened.account), ' ', el('span', { class: 'label' }, opened.label ?? ''))] : null,
      ['Order', t.order_id],
      ['Memo', t.memo === null ? null : el('span', { class: 'memo', id: 'memo' }, t.memo)],
      t.original ? ['Refunds', link({ page: 'tx', hash: t.original }, t.original)] : null,
    ].filter(Boolean)),
    legs.length > 0 && t.kind === 'Pay'
      ? [
          el('h2', {}, `Legs (${legs.length})`),
          table(
            'legs',
            ['To', 'Token', 'Amount'],
            legs.map((e) =>
              el('tr', {}, el('td', {}, addressLink(e.to)), el('td', {}, link({ page: 'token', symbol: e.token }, e.token, '')), el('td', { class: 'num' }, e.amount)),
            ),
          ),
        ]
      : [],
    el('h2', {}, `Events (${t.events.length})`),
    eventsTable('events', t.events),
  );
}

async function account(route, token) {
  const name = accountName(route.address, route.sub);
  const isSub = route.sub !== undefined && route.sub > 0;
  let a;
  try {
    // `ADDRESS/N` asks for that sub-account's own balances.
    a = await rpc('merit_getAccount', [name]);
  } catch (e) {
    if (refused(e)) return notFound('account', name, e.message);
    throw e;
  }
  const options = { limit: HISTORY_LIMIT };
  if (route.sub !== undefined) options.sub = route.sub;
  let history = null;
  let historyError = null;
  try {
    history = await rpc('merit_getHistory', [route.address, options]);
  } catch (e) {
    if (!refused(e)) throw e;
    historyError = e.message;
  }
  // The address's sub-accounts, listed on its own page.
  let subAccounts = [];
  if (!isSub && (a.sub_accounts ?? 0) > 0) {
    try {
      subAccounts = await rpc('merit_getSubAccounts', [route.address]);
    } catch (e) {
      if (!refused(e)) throw e;
    }
  }
  // Today's statement, the UTC day of the tip's block time.
  const { block_time_ms: tipMs } = await rpc('merit_status');
  const period = { from_ms: Math.floor(tipMs / DAY_MS) * DAY_MS };
  period.to_ms = period.from_ms + DAY_MS;
  if (route.sub !== undefined) period.sub = route.sub;
  let statement = null;
  try {
    statement = await rpc('merit_getStatement', [route.address, period]);
  } catch (e) {
    if (!refused(e)) throw e;
  }
  if (token !== current) return;
  const entries = history?.entries ?? [];
  const tokens = [...new Set([...Object.keys(a.balances ?? {}), ...Object.keys(a.frozen ?? {}), ...Object.keys(a.locked ?? {})])].sort();
  const empty = tokens.length === 0 && entries.length === 0 && (a.expiring ?? []).length === 0;
  if (!isSub && empty && subAccounts.length === 0 && !(a.sub_accounts > 0)) {
    return notFound('account', name, 'No account at this address holds points or has any history.');
  }
  if (isSub && empty && typeof a.label !== 'string') {
    return notFound('account', name, `The address has not opened sub-account ${route.sub}.`);
  }
  const expiring = a.expiring ?? [];
  const offers = a.offers ?? [];
  show(
    el('h1', {}, isSub ? `Sub-account ${route.sub}` : 'Account'),
    fields('account', [
      ['Address', name, 'mono'],
      isSub ? ['Label', el('span', { id: 'label', class: 'label' }, a.label ?? '')] : null,
      isSub ? ['Parent', link({ page: 'account', address: route.address }, route.address)] : null,
      !isSub && typeof a.sub_accounts === 'number' ? ['Sub-accounts', String(a.sub_accounts)] : null,
    ].filter(Boolean)),
    el('h2', {}, 'Balances'),
    table(
      'balances',
      ['Token', 'Balance', 'Frozen', 'Locked'],
      tokens.map((s) =>
        el(
          'tr',
          { 'data-token': s },
          el('td', {}, link({ page: 'token', symbol: s }, s, '')),
          el('td', { class: 'num', 'data-col': 'balance' }, a.balances?.[s] ?? '0'),
          el('td', { class: 'num', 'data-col': 'frozen' }, a.frozen?.[s] ?? '0'),
          el('td', { class: 'num', 'data-col': 'locked' }, a.locked?.[s] ?? '0'),
        ),
      ),
    ),
    subAccounts.length
      ? [
          el('h2', {}, `Sub-accounts (${subAccounts.length})`),
          table(
            'sub-accounts',
            ['Sub-account', 'Label', 'Opened in block'],
            subAccounts.map((x) =>
              el(
                'tr',
                { 'data-sub': x.sub },
                el('td', {}, addressLink(x.account ?? accountName(route.address, x.sub))),
                el('td', { class: 'label' }, x.label ?? ''),
                el('td', { class: 'num' }, link({ page: 'block', height: x.opened_height }, String(x.opened_height))),
              ),
            ),
          ),
        ]
      : [],
    expiring.length
      ? [
          el('h2', {}, 'Expiring'),
          table(
            'expiring',
            ['Token', 'Amount', 'Expires'],
            expiring.map((x) => el('tr', {}, el('td', {}, x.token), el('td', { class: 'num' }, x.amount), el('td', {}, time(x.expires_at_ms)))),
          ),
        ]
      : [],
    offers.length ? [el('h2', {}, `Open offers (${offers.length})`), el('p', { class: 'muted' }, JSON.stringify(offers.map((o) => o.id ?? o)))] : [],
    statement
      ? [
          el('h2', {}, `Statement for ${time(period.from_ms).slice(0, 10)} (UTC)${statement.complete ? '' : ', so far'}`),
          table(
            'statement',
            ['Token', 'Opening', 'Credits', 'Debits', 'Closing', 'Postings'],
            statement.tokens.map((t) =>
              el(
                'tr',
                { 'data-token': t.token, 'data-from-ms': period.from_ms, 'data-to-ms': period.to_ms },
                el('td', {}, t.token),
                el('td', { class: 'num' }, t.opening),
                el('td', { class: 'num' }, t.credits),
                el('td', { class: 'num' }, t.debits),
                el('td', { class: 'num' }, t.closing),
                el('td', { class: 'num' }, String(t.postings.length)),
              ),
            ),
          ),
        ]
      : [],
    el('h2', {}, 'Recent history'),
    historyError
      ? el('p', { class: 'bad', id: 'history-error' }, historyError)
      : table(
          'history',
          ['Block', 'Transaction', 'Kind', 'Status', 'Postings', 'Memo'],
          entries.map((h) =>
            el(
              'tr',
              {},
              el('td', { class: 'num' }, link({ page: 'block', height: h.height }, String(h.height))),
              el('td', {}, link({ page: 'tx', hash: h.hash }, short(h.hash))),
              el('td', {}, h.kind),
              el('td', { class: `status-${h.status}` }, h.code ?? h.status),
              el('td', {}, (h.postings ?? []).map((p) => el('div', {}, `${p.side === 'debit' ? '−' : '+'}${p.amount} ${p.token} `, p.counterparty ? addressLink(p.counterparty) : null))),
              el('td', { class: 'memo' }, h.memo ?? ''),
            ),
          ),
        ),
  );
}

const AUDIT_FIGURES = ['minted', 'redeemed', 'expired', 'clawed_back', 'circulating', 'frozen', 'locked_in_offers', 'locked_in_escrow'];

async function tokenPage(route, token) {
  let t;
  let audit;
  try {
    [t, audit] = await Promise.all([rpc('merit_getToken', [route.symbol]), rpc('merit_audit', [route.symbol])]);
  } catch (e) {
    if (refused(e)) return notFound('token', route.symbol, e.message);
    throw e;
  }
  if (token !== current) return;
  const a = audit[0] ?? {};
  show(
    el('h1', {}, `Token ${t.symbol}`),
    fields('token', [
      ['Name', t.name],
      ['Issuer', addressLink(t.issuer)],
      ['Decimals', String(t.decimals)],
      ['Supply cap', t.max_supply],
      ['Expiry', t.expiry_days === null ? 'never' : `${t.expiry_days} days after minting`],
      ['Freezable', t.freezable ? 'yes' : 'no'],
      ['Clawback', t.clawback ? 'yes' : 'no'],
      ['Created at block', link({ page: 'block', height: t.created_height }, String(t.created_height))],
    ]),
    el('h2', {}, 'Supply audit (merit_audit)'),
    table(
      'audit',
      ['Figure', 'Amount'],
      AUDIT_FIGURES.map((f) => el('tr', { 'data-figure': f }, el('td', {}, f.replaceAll('_', ' ')), el('td', { class: 'num' }, a[f] ?? '—'))),
    ),
    el(
      'p',
      { id: 'holds', class: a.holds ? 'ok' : 'bad' },
      a.holds ? 'The supply invariant holds.' : 'The supply invariant does NOT hold.',
    ),
  );
}

async function proposal(route, token) {
  const p = await rpc('merit_getProposal', [route.id]);
  if (token !== current) return;
  if (!p) return notFound('proposal', String(route.id), 'No governance proposal has this id.');
  const { type, ...action } = p.action ?? {};
  const votes = [...p.approvals.map((a) => [a, 'approve']), ...p.rejections.map((a) => [a, 'reject'])];
  show(
    el('h1', {}, `Proposal ${p.id}`),
    fields('proposal', [
      ['Action', type],
      ['Details', eventDetail(action)],
      ['Proposer', addressLink(p.proposer)],
      ['Status', el('span', { id: 'status' }, p.status)],
      ['Created at block', link({ page: 'block', height: p.created_height }, String(p.created_height))],
      ['Voting ends at block', String(p.voting_ends_height)],
      ['Quorum', `${p.approvals.length} of ${p.quorum} approvals`],
      p.decided_height === null ? null : ['Decided at block', String(p.decided_height)],
      p.activation_height === null ? null : ['In force from block', String(p.activation_height)],
      p.failure === null ? null : ['Failure', String(p.failure)],
    ].filter(Boolean)),
    el('h2', {}, `Votes (${votes.length})`),
    table(
      'votes',
      ['Merchant', 'Vote'],
      votes.map(([who, how]) => el('tr', { 'data-vote': how }, el('td', {}, addressLink(who)), el('td', { class: how === 'approve' ? 'ok' : 'bad' }, how))),
    ),
  );
}

function offersTable(id, offers) {
  return table(
    id,
    ['Offer', 'Owner', 'Price', 'Remaining', 'Amount', 'Placed in'],
    offers.map((o) =>
      el(
        'tr',
        { 'data-offer': o.id },
        el('td', { class: 'num' }, String(o.id)),
        el('td', {}, addressLink(o.owner)),
        el('td', { class: 'num' }, o.price),
        el('td', { class: 'num' }, o.remaining),
        el('td', { class: 'num' }, o.amount),
        el('td', {}, link({ page: 'tx', hash: o.tx }, `block ${o.height}`, '')),
      ),
    ),
  );
}

async function book(route, token) {
  let b;
  try {
    b = await rpc('merit_getOrderBook', [route.sell, route.buy]);
  } catch (e) {
    if (refused(e)) return notFound('order book', `${route.sell}/${route.buy}`, e.message);
    throw e;
  }
  if (token !== current) return;
  show(
    el('h1', {}, `Order book ${b.sell}/${b.buy}`),
    el('p', { class: 'muted' }, 'Best price first, then oldest. A price is what the offer asks in the token it buys, per unit of the token it sells.'),
    el('h2', {}, `Selling ${b.sell} for ${b.buy} (${b.offers.length})`),
    offersTable('offers', b.offers),
    el('h2', {}, `Selling ${b.buy} for ${b.sell} (${b.opposite.length})`),
    offersTable('opposite', b.opposite),
    el('p', {}, link({ page: 'book', sell: b.buy, buy: b.sell }, `The ${b.buy}/${b.sell} book`, '')),
  );
}

async function governance(token) {
  const [proposals, evidence] = await Promise.all([rpc('merit_listProposals'), rpc('merit_getEvidence', [{ limit: 100 }])]);
  if (token !== current) return;
  show(
    el('h1', {}, 'Governance'),
    el('h2', {}, `Proposals (${proposals.length})`),
    table(
      'proposals',
      ['Proposal', 'Action', 'Status', 'Approvals', 'Rejections', 'Voting ends'],
      [...proposals].reverse().map((p) =>
        el(
          'tr',
          { 'data-proposal': p.id },
          el('td', { class: 'num' }, link({ page: 'proposal', id: p.id }, String(p.id))),
          el('td', {}, p.action?.type ?? ''),
          el('td', {}, p.status),
          el('td', { class: 'num' }, `${p.approvals.length} of ${p.quorum}`),
          el('td', { class: 'num' }, String(p.rejections.length)),
          el('td', { class: 'num' }, String(p.voting_ends_height)),
        ),
      ),
    ),
    el('h2', {}, `Evidence of double signing (${evidence.length})`),
    evidence.length === 0
      ? el('p', { class: 'muted', id: 'no-evidence' }, 'This node has kept no evidence: no validator was seen signing two blocks where it may sign one.')
      : table(
          'evidence',
          ['Height', 'Round', 'Kind', 'Validator', 'Blocks'],
          evidence.map((e) =>
            el(
              'tr',
              {},
              el('td', { class: 'num' }, link({ page: 'block', height: e.height }, String(e.height))),
              el('td', { class: 'num' }, String(e.round)),
              el('td', {}, e.kind),
              el('td', { class: 'mono' }, e.validator),
              el('td', { class: 'mono' }, (e.blocks ?? []).map((h) => el('div', {}, h))),
            ),
          ),
        ),
  );
}

// ---------------------------------------------------------------- routing

let current = 0;

async function route() {
  const token = ++current;
  if (live) {
    const ws = live;
    live = null;
    ws.close();
  }
  const r = parseHash(location.hash);
  try {
    switch (r.page) {
      case 'tx':
        return await tx(r, token);
      case 'block':
        return await block(r, token);
      case 'account':
        return await account(r, token);
      case 'token':
        return await tokenPage(r, token);
      case 'proposal':
        return await proposal(r, token);
      case 'book':
        return await book(r, token);
      case 'governance':
        return await governance(token);
      case 'notfound':
        return notFound('transaction, block, account, token, order book or proposal', r.query, 'Search takes a transaction hash (64 hex digits), a block height, an address (mrt1…, or ADDRESS/N), a token symbol, two symbols for an order book (BEAN/BOOK) or a proposal (p7).');
      default:
        return await home(token);
    }
  } catch (e) {
    if (token === current) show(el('p', { class: 'bad', id: 'error' }, `The node did not answer: ${e.message}`));
  }
}

document.getElementById('search').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = document.getElementById('q');
  const target = hashOf(parseQuery(q.value));
  if (location.hash === target) route();
  else location.hash = target;
});
window.addEventListener('hashchange', route);
rpc('merit_status')
  .then((s) => {
    document.getElementById('chain').textContent = `${s.chain_id} · node ${s.version}`;
  })
  .catch(() => {});
route();
