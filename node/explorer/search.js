// What the search box was given, as a page of the explorer. Pure: no DOM,
// no network, so that the rules are the same wherever they run.
//
//   64 hex digits (0x optional)  a transaction
//   digits                       a block height
//   p7, proposal 7, #7           a governance proposal
//   mrt1…, mrt1…/N               an account, or its sub-account N
//   2 to 12 of A-Z and 0-9       a token symbol (any case)
//   SELL/BUY, two symbols        the order book selling SELL for BUY
//
// Anything else is a page that says nothing was found.

/** The most a query may be; longer is not found without asking the node. */
export const MAX_QUERY = 200;

const HASH = /^(?:0x)?([0-9a-fA-F]{64})$/;
const HEIGHT = /^\d{1,16}$/;
const PROPOSAL = /^(?:p|proposal\s*|#)(\d{1,16})$/i;
// bech32m: the human part, '1', then the data characters (no 1, b, i, o).
const ADDRESS = /^(mrt1[02-9ac-hj-np-z]{6,100})(?:\/(\d{1,10}))?$/i;
const SYMBOL = /^[A-Za-z0-9]{2,12}$/;
const BOOK = /^([A-Za-z0-9]{2,12})\s*\/\s*([A-Za-z0-9]{2,12})$/;

/** The route for a query: `{page, ...}`. */
export function parseQuery(input) {
  const q = String(input ?? '').trim();
  if (q.length === 0) return { page: 'home' };
  if (q.length > MAX_QUERY) return { page: 'notfound', query: q.slice(0, MAX_QUERY) };
  let m;
  if ((m = HASH.exec(q))) return { page: 'tx', hash: m[1].toLowerCase() };
  if (HEIGHT.test(q)) return { page: 'block', height: Number(q) };
  if ((m = PROPOSAL.exec(q))) return { page: 'proposal', id: Number(m[1]) };
  if ((m = ADDRESS.exec(q))) {
    const route = { page: 'account', address: m[1].toLowerCase() };
    if (m[2] !== undefined) route.sub = Number(m[2]);
    return route;
  }
  if (SYMBOL.test(q)) return { page: 'token', symbol: q.toUpperCase() };
  if ((m = BOOK.exec(q))) return { page: 'book', sell: m[1].toUpperCase(), buy: m[2].toUpperCase() };
  return { page: 'notfound', query: q };
}

/** The location hash of a route. */
export function hashOf(route) {
  switch (route.page) {
    case 'tx':
      return `#/tx/${route.hash}`;
    case 'block':
      return `#/block/${route.height}`;
    case 'proposal':
      return `#/proposal/${route.id}`;
    case 'account':
      return route.sub === undefined ? `#/account/${route.address}` : `#/account/${route.address}/${route.sub}`;
    case 'token':
      return `#/token/${route.symbol}`;
    case 'book':
      return `#/book/${route.sell}/${route.buy}`;
    case 'governance':
      return '#/governance';
    case 'notfound':
      return `#/notfound/${encodeURIComponent(route.query)}`;
    default:
      return '#/';
  }
}

/** The route of a location hash, the inverse of `hashOf`. */
export function parseHash(hash) {
  const parts = String(hash ?? '').replace(/^#\/?/, '').split('/');
  const [page, a, b] = parts;
  switch (page) {
    case 'tx':
      return parseQuery(a ?? '').page === 'tx' ? parseQuery(a) : { page: 'notfound', query: a ?? '' };
    case 'block':
      return HEIGHT.test(a ?? '') ? { page: 'block', height: Number(a) } : { page: 'notfound', query: a ?? '' };
    case 'proposal':
      return HEIGHT.test(a ?? '') ? { page: 'proposal', id: Number(a) } : { page: 'notfound', query: a ?? '' };
    case 'account': {
      const r = parseQuery(b === undefined ? a ?? '' : `${a}/${b}`);
      return r.page === 'account' ? r : { page: 'notfound', query: a ?? '' };
    }
    case 'token': {
      const r = parseQuery(a ?? '');
      return r.page === 'token' ? r : { page: 'notfound', query: a ?? '' };
    }
    case 'book': {
      const r = parseQuery(`${a ?? ''}/${b ?? ''}`);
      return r.page === 'book' ? r : { page: 'notfound', query: `${a ?? ''}/${b ?? ''}` };
    }
    case 'governance':
      return { page: 'governance' };
    case 'notfound': {
      let q = a ?? '';
      try {
        q = decodeURIComponent(q);
      } catch {
        // Shown as it came.
      }
      return { page: 'notfound', query: q };
    }
    default:
      return { page: 'home' };
  }
}
