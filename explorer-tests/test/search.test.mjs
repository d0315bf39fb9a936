// The search box's rules (node/explorer/search.js), without a browser:
// what each kind of query opens, and that a route survives the trip
// through the location hash.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_QUERY, hashOf, parseHash, parseQuery } from '../../node/explorer/search.js';

const HASH = 'b1011b1cf67ee154a5a7c9885a8013706ab5f4aeb97f0aaa5045df181dd6edca';
const ADDRESS = 'mrt19uw0hpcq7pkjp4vkj5sdpt60k97543yllgegwfafy0dpzkzx7e6s302msw';

test('each kind of query opens its page', () => {
  const cases = [
    ['', { page: 'home' }],
    ['   ', { page: 'home' }],
    [HASH, { page: 'tx', hash: HASH }],
    [`0x${HASH.toUpperCase()}`, { page: 'tx', hash: HASH }],
    ['0', { page: 'block', height: 0 }],
    [' 42 ', { page: 'block', height: 42 }],
    ['p7', { page: 'proposal', id: 7 }],
    ['proposal 7', { page: 'proposal', id: 7 }],
    ['#7', { page: 'proposal', id: 7 }],
    [ADDRESS, { page: 'account', address: ADDRESS }],
    [ADDRESS.toUpperCase(), { page: 'account', address: ADDRESS }],
    [`${ADDRESS}/3`, { page: 'account', address: ADDRESS, sub: 3 }],
    ['bean', { page: 'token', symbol: 'BEAN' }],
    ['MILES', { page: 'token', symbol: 'MILES' }],
    ['bean/book', { page: 'book', sell: 'BEAN', buy: 'BOOK' }],
    ['BEAN / MILES', { page: 'book', sell: 'BEAN', buy: 'MILES' }],
    ['X', { page: 'notfound', query: 'X' }],
    ['THIRTEENCHARS', { page: 'notfound', query: 'THIRTEENCHARS' }],
    ['<script>', { page: 'notfound', query: '<script>' }],
    [`${ADDRESS}/x`, { page: 'notfound', query: `${ADDRESS}/x` }],
    [HASH.slice(1), { page: 'notfound', query: HASH.slice(1) }],
  ];
  for (const [query, route] of cases) assert.deepEqual(parseQuery(query), route, query);
});

test('a query over the bound is not found, and cut to the bound', () => {
  const long = 'a'.repeat(MAX_QUERY + 50);
  assert.deepEqual(parseQuery(long), { page: 'notfound', query: 'a'.repeat(MAX_QUERY) });
});

test('every route survives the location hash', () => {
  for (const query of ['', HASH, '42', 'p7', ADDRESS, `${ADDRESS}/3`, 'bean', 'bean/book', 'no such/thing %']) {
    const route = parseQuery(query);
    assert.deepEqual(parseHash(hashOf(route)), route, query);
  }
  // A hand-edited hash that names nothing real is not found, not an error.
  for (const hash of ['#/tx/123', '#/block/x', '#/proposal/', '#/account/mrt1', '#/token/a', '#/notfound/%E0%A4%A']) {
    assert.equal(parseHash(hash).page, 'notfound', hash);
  }
  assert.deepEqual(parseHash('#/governance'), { page: 'governance' });
  assert.deepEqual(parseHash('#/elsewhere'), { page: 'home' });
});
