// A typed client of a Merit node: JSON-RPC over HTTP, subscriptions over
// WebSocket, and the proofs it serves checked against a light client. The
// method names and answers are those of docs/rpc.md.

import WebSocket from 'ws';

import { toHex } from './bytes.js';
import { type LightClient, decodeSetChange, decodeTxProof, verifyTxProof } from './light.js';
import {
  type Freshness,
  type ProvenHolding,
  decodeEntriesProof,
  proofMaxAgeMs,
  verifyHoldings,
  verifyNonceUnused,
  verifySubAccounts,
  verifyToken,
} from './proof.js';
import { formatAccountRef, toAccountRef } from './codec.js';
import { type SignedTransaction, createBody, signTransaction } from './tx.js';
import type { Keypair } from './crypto.js';
import type { AccountLike, Receipt, TokenInfo, Transaction, TxKind } from './types.js';
import { encodeTransaction } from './tx.js';

/** An error answer of the node: its JSON-RPC code, message and data. */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }

  /** The rejection code of a -32003 (`InsufficientBalance`, …), if any. */
  get rejection(): string | undefined {
    const d = this.data as { code?: unknown } | undefined;
    return this.code === -32003 && typeof d?.code === 'string' ? d.code : undefined;
  }
}

/** `merit_status`. */
export interface Status {
  chain_id: string;
  height: number;
  block_hash: string;
  block_time_ms: number;
  state_root: string;
  round: number;
  validators: number;
  validator_index: number | null;
  peers: number;
  mempool_size: number;
  syncing: boolean;
  genesis_hash: string;
  version: string;
}

/** An event as the node shows it: amounts are decimal strings in token units. */
export interface EventInfo {
  type: string;
  [field: string]: unknown;
}

/** `merit_getTransaction`. */
export interface TxInfo {
  hash: string;
  status: 'pending' | 'committed' | 'rejected' | 'unknown';
  height: number | null;
  index: number | null;
  kind: string | null;
  sender: string | null;
  /** Which of the sender's accounts paid (the envelope's `sub`): 0 the address itself. */
  sub?: number | null;
  code: string | null;
  message: string | null;
  original: string | null;
  order_id: string | null;
  memo: string | null;
  events: EventInfo[];
}

/** `merit_getAccount` of `ADDRESS` or of a sub-account `ADDRESS/N`. */
export interface AccountInfo {
  address: string;
  /** How many sub-accounts the address has opened (`ADDRESS/1` to `ADDRESS/N`). */
  sub_accounts?: number;
  /** A sub-account's label; null for the address itself. */
  label?: string | null;
  balances: Record<string, string>;
  frozen?: Record<string, string>;
  locked: Record<string, string>;
  expiring: Array<{ token: string; amount: string; expires_at_ms: number }>;
  offers: unknown[];
  escrows: unknown[];
}

/** `merit_getToken`. */
export interface TokenView {
  symbol: string;
  name: string;
  decimals: number;
  issuer: string;
  max_supply: string;
  minted: string;
  circulating: string;
  redeemed: string;
  expired: string;
  locked_in_offers: string;
  locked_in_escrow: string;
  expiry_days: number | null;
  created_height: number;
  freezable: boolean;
  clawback: boolean;
  frozen: string;
  clawed_back: string;
}

/** `merit_getProof`, `merit_getTokenProof`, `merit_getNonceProof`: `proof` is what a client checks. */
export interface StateProofInfo {
  height: number;
  block_hash: string;
  timestamp_ms: number;
  state_root: string;
  holdings: Array<{ token: string; sub: number; balance: string; frozen: string; lots: unknown[] }>;
  token: TokenView | null;
  nonce_used?: boolean;
  proof: string;
}

/** `merit_getTxProof`. */
export interface TxProofInfo {
  hash: string;
  height: number;
  index: number;
  status: 'committed' | 'rejected';
  code: string | null;
  proof: string;
}

/** One entry of `merit_getSubAccounts`: an opened sub-account. */
export interface SubAccountView {
  sub: number;
  /** `mrt1…/N`. */
  account: string;
  label: string;
  opened_height: number;
}

/** A roll-up of an address and all its sub-accounts, every figure proven at one height. */
export interface ProvenRollUp {
  height: bigint;
  /** How many sub-accounts the address had opened: the accounts are `0..=subAccounts`. */
  subAccounts: number;
  /** Each account's holdings, in account order (index = sub). */
  accounts: Array<{ sub: number; account: string; holdings: ProvenHolding[] }>;
  /** The sum over every account, per token asked for (base units). */
  total: Record<string, bigint>;
}

/** `merit_validators`. */
export interface ValidatorSetInfo {
  height: number;
  validators_hash: string;
  quorum: number;
  validators: Array<{
    index: number;
    name: string | null;
    account: string;
    validator_key: string;
    peer_id: string | null;
    p2p: string | null;
  }>;
  bytes: string;
}

/** A `newBlocks` notification. */
export interface BlockNotification {
  height: number;
  hash: string;
  timestamp_ms: number;
  state_root: string;
  txs: string[];
  rejected: Array<{ hash: string; code: string }>;
  memos?: Record<string, string>;
}

/** An `account` notification. */
export interface AccountNotification {
  height: number;
  hash: string;
  status: 'committed' | 'rejected';
  code: string | null;
  order_id: string | null;
  memo: string | null;
  events: EventInfo[];
}

export interface ConnectOptions {
  /** The WebSocket URL; by default the RPC URL with `ws://` (or `wss://`). */
  wsUrl?: string;
  /** How long one HTTP call may take, in ms (default 30,000). */
  timeoutMs?: number;
}

/** What a subscription yields, one notification at a time, until closed. */
export interface Subscription<T> extends AsyncIterable<T> {
  /** The id the node gave the subscription. */
  readonly id: string | number;
  /** The next notification; rejects if the connection fails. */
  next(): Promise<T>;
  /** Unsubscribes and closes the connection. */
  close(): Promise<void>;
}

interface JsonRpcResponse {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
  method?: string;
  params?: { subscription: string | number; result: unknown };
}

/** The client of one node. `connect(url)` makes one. */
export class MeritClient {
  private nextId = 1;
  private readonly timeoutMs: number;
  readonly wsUrl: string;

  constructor(
    readonly url: string,
    options: ConnectOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.wsUrl = options.wsUrl ?? url.replace(/^http/, 'ws');
  }

  /** Calls `method` with positional `params` and returns its result. */
  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const id = this.nextId++;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: controller.signal,
      });
    } catch (e) {
      throw new Error(`${method}: cannot reach ${this.url}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    const text = await response.text();
    let body: JsonRpcResponse;
    try {
      body = JSON.parse(text) as JsonRpcResponse;
    } catch {
      throw new Error(`${method}: the node answered HTTP ${response.status} with no JSON-RPC body: ${text.slice(0, 200)}`);
    }
    if (body.error) {
      throw new RpcError(body.error.code, `${method}: ${body.error.message}`, body.error.data);
    }
    return body.result as T;
  }

  status(): Promise<Status> {
    return this.call('merit_status');
  }

  health(): Promise<{ status: 'ok'; height: number; peers: number }> {
    return this.call('merit_health');
  }

  /** An account: `ADDRESS`, `ADDRESS/N` (its sub-account N) or `{address, sub}`. */
  getAccount(account: AccountLike): Promise<AccountInfo> {
    return this.call('merit_getAccount', [formatAccountRef(toAccountRef(account))]);
  }

  /** The sub-accounts `address` has opened, `ADDRESS/1` first. */
  getSubAccounts(address: string): Promise<SubAccountView[]> {
    return this.call('merit_getSubAccounts', [address]);
  }

  getToken(symbol: string): Promise<TokenView> {
    return this.call('merit_getToken', [symbol]);
  }

  listTokens(): Promise<TokenView[]> {
    return this.call('merit_listTokens');
  }

  getBlock(height: number | 'latest', options: { full?: boolean } = {}): Promise<Record<string, unknown> | null> {
    return this.call('merit_getBlock', [height, options]);
  }

  getTransaction(hash: string): Promise<TxInfo> {
    return this.call('merit_getTransaction', [hash]);
  }

  getHistory(address: string, options: { cursor?: string; limit?: number; token?: string; sub?: number } = {}): Promise<unknown> {
    return this.call('merit_getHistory', [address, options]);
  }

  getStatement(address: string, options: { from_ms: number; to_ms: number; token?: string; sub?: number }): Promise<unknown> {
    return this.call('merit_getStatement', [address, options]);
  }

  getEscrow(id: string): Promise<unknown> {
    return this.call('merit_getEscrow', [id]);
  }

  getOrderBook(sell: string, buy: string, limit?: number): Promise<unknown> {
    return this.call('merit_getOrderBook', limit === undefined ? [sell, buy] : [sell, buy, limit]);
  }

  audit(token?: string): Promise<unknown[]> {
    return this.call('merit_audit', token === undefined ? [] : [token]);
  }

  validators(options: { height?: number } = {}): Promise<ValidatorSetInfo> {
    return this.call('merit_validators', [options]);
  }

  getValidatorChanges(fromHeight: number): Promise<Array<{ height: number; header: string; certificate: string; set: ValidatorSetInfo }>> {
    return this.call('merit_getValidatorChanges', [fromHeight]);
  }

  /**
   * A proof of `address`'s holdings (of account `sub`), or with
   * `sub_accounts: true` of its one `SubAccounts` entry: how many it opened.
   */
  getProof(
    address: string,
    options: { tokens?: string[]; sub?: number; height?: number; sub_accounts?: boolean } = {},
  ): Promise<StateProofInfo> {
    return this.call('merit_getProof', [address, options]);
  }

  getTokenProof(symbol: string, options: { height?: number } = {}): Promise<StateProofInfo> {
    return this.call('merit_getTokenProof', [symbol, options]);
  }

  getNonceProof(address: string, nonce: bigint, options: { height?: number } = {}): Promise<StateProofInfo> {
    // A u64 nonce may pass 2^53: it is sent as a JSON number written out exactly.
    return this.callRaw('merit_getNonceProof', `[${JSON.stringify(address)},${nonce.toString()},${JSON.stringify(options)}]`);
  }

  getTxProof(hash: string): Promise<TxProofInfo | null> {
    return this.call('merit_getTxProof', [hash]);
  }

  getDayEnds(): Promise<Array<{ date: string; height: number }>> {
    return this.call('merit_getDayEnds', []);
  }

  getProposal(id: number): Promise<unknown> {
    return this.call('merit_getProposal', [id]);
  }

  listProposals(options: { status?: string } = {}): Promise<unknown[]> {
    return this.call('merit_listProposals', [options]);
  }

  getEvidence(options: { from_height?: number; limit?: number } = {}): Promise<unknown[]> {
    return this.call('merit_getEvidence', [options]);
  }

  private async callRaw<T>(method: string, params: string): Promise<T> {
    const id = this.nextId++;
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":${params}}`,
    });
    const body = (await response.json()) as JsonRpcResponse;
    if (body.error) throw new RpcError(body.error.code, `${method}: ${body.error.message}`, body.error.data);
    return body.result as T;
  }

  /** Submits a signed transaction; returns its hash once the node admitted it. */
  sendTransaction(tx: SignedTransaction | Transaction | Uint8Array | string): Promise<string> {
    let hex: string;
    if (typeof tx === 'string') hex = tx;
    else if (tx instanceof Uint8Array) hex = toHex(tx);
    else if ('bytes' in tx) hex = toHex(tx.bytes);
    else hex = toHex(encodeTransaction(tx));
    return this.call('merit_sendTransaction', [hex]);
  }

  /**
   * Builds, signs and submits a transaction of `kind` from `key`, valid for
   * `ttlBlocks` (default 100) blocks from the current height. With `sub`,
   * the key's sub-account `ADDRESS/sub` pays.
   */
  async signAndSend(
    key: Keypair,
    kind: TxKind,
    options: { ttlBlocks?: bigint; nonce?: bigint; sub?: number } = {},
  ): Promise<SignedTransaction> {
    const status = await this.status();
    const body = createBody({
      chainId: status.chain_id,
      sender: key.address,
      sub: options.sub,
      kind,
      height: BigInt(status.height),
      ttlBlocks: options.ttlBlocks,
      nonce: options.nonce,
    });
    const signed = signTransaction(body, key);
    const hash = await this.sendTransaction(signed);
    if (hash !== signed.hash) throw new Error(`the node named the transaction ${hash}, its hash is ${signed.hash}`);
    return signed;
  }

  /**
   * Waits until transaction `hash` is in a block, committed or rejected,
   * polling every `pollMs`; throws after `timeoutMs`.
   */
  async waitForCommit(hash: string, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<TxInfo> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const poll = options.pollMs ?? 250;
    for (;;) {
      const info = await this.getTransaction(hash);
      if (info.status === 'committed' || info.status === 'rejected') return info;
      if (Date.now() >= deadline) {
        throw new Error(`transaction ${hash} is still ${info.status} after ${options.timeoutMs ?? 60_000} ms`);
      }
      await new Promise((r) => setTimeout(r, poll));
    }
  }

  /**
   * Brings `client` up to date with every change of the validator set the
   * node reports, each checked by a certificate of the set before.
   */
  async followValidatorChanges(client: LightClient): Promise<void> {
    for (;;) {
      const from = Number(client.lastChange()) + 1;
      const changes = await this.getValidatorChanges(from);
      for (const c of changes) client.follow(decodeSetChange(c));
      if (changes.length < 100) return;
    }
  }

  /**
   * The holdings of `address` in `tokens`, proven: fetches `merit_getProof`
   * and checks it against `client` (the sets it trusts), without trusting
   * the node. By default the proof must be of the current state, at most
   * six heartbeats (of `heartbeatMs`, default 10,000) old by `nowMs`
   * (default the local clock); with `height`, of the state at that height.
   */
  async verifyBalance(
    client: LightClient,
    account: AccountLike,
    tokens: string[],
    options: { sub?: number; height?: number; nowMs?: bigint; heartbeatMs?: bigint } = {},
  ): Promise<ProvenHolding[]> {
    // `ADDRESS/N` names the sub-account as `sub: N` does.
    const ref = toAccountRef(account);
    const sub = options.sub ?? ref.sub;
    await this.followValidatorChanges(client);
    const info = await this.getProof(ref.address, { tokens, sub, height: options.height });
    const proof = decodeEntriesProof(info.proof);
    return verifyHoldings(client, proof, ref.address, sub, tokens, freshnessOf(options));
  }

  /**
   * How many sub-accounts `address` has opened, proven, at the tip (checked
   * fresh as `verifyBalance` does) or at `height`; with the height proven.
   */
  async verifySubAccounts(
    client: LightClient,
    address: string,
    options: { height?: number; nowMs?: bigint; heartbeatMs?: bigint } = {},
  ): Promise<{ count: number; height: bigint }> {
    await this.followValidatorChanges(client);
    const info = await this.getProof(address, { sub_accounts: true, height: options.height });
    const proof = decodeEntriesProof(info.proof);
    return { count: verifySubAccounts(client, proof, address, freshnessOf(options)), height: proof.header.height };
  }

  /**
   * The holdings of `address` and of every sub-account it opened, in
   * `tokens`, summed: the count of sub-accounts and each account's
   * holdings are proven at one height, so no account is left out without
   * a proof failing.
   */
  async verifyRollUp(
    client: LightClient,
    address: string,
    tokens: string[],
    options: { height?: number; nowMs?: bigint; heartbeatMs?: bigint } = {},
  ): Promise<ProvenRollUp> {
    const { count, height } = await this.verifySubAccounts(client, address, options);
    const at: Freshness = { type: 'AtHeight', height };
    const accounts: ProvenRollUp['accounts'] = [];
    const total: Record<string, bigint> = Object.fromEntries(tokens.map((t) => [t, 0n]));
    for (let sub = 0; sub <= count; sub++) {
      const info = await this.getProof(address, { tokens, sub, height: Number(height) });
      const holdings = verifyHoldings(client, decodeEntriesProof(info.proof), address, sub, tokens, at);
      for (const h of holdings) total[h.token] += h.balance;
      accounts.push({ sub, account: formatAccountRef({ address, sub }), holdings });
    }
    return { height, subAccounts: count, accounts, total };
  }

  /** Token `symbol`'s entry at the tip (or `height`), proven; null if there is no such token. */
  async verifyToken(client: LightClient, symbol: string, options: { height?: number } = {}): Promise<TokenInfo | null> {
    await this.followValidatorChanges(client);
    const info = await this.getTokenProof(symbol, options);
    const proof = decodeEntriesProof(info.proof);
    return verifyToken(client, proof, symbol, { type: 'AtHeight', height: proof.header.height });
  }

  /** The receipt of committed transaction `hash`, proven; null if the node has not committed it. */
  async verifyTransaction(client: LightClient, hash: string): Promise<Receipt | null> {
    await this.followValidatorChanges(client);
    const info = await this.getTxProof(hash);
    if (!info) return null;
    return verifyTxProof(client, hash, decodeTxProof(info.proof));
  }

  /** Whether `(address, nonce)` was unused at `height`, proven. */
  async verifyNonceUnused(client: LightClient, address: string, nonce: bigint, height: number): Promise<boolean> {
    await this.followValidatorChanges(client);
    const info = await this.getNonceProof(address, nonce, { height });
    return verifyNonceUnused(client, decodeEntriesProof(info.proof), address, nonce, BigInt(height));
  }

  /**
   * Subscribes over WebSocket: `newBlocks`, or `account` with an address.
   * With `fromHeight`, the node first replays the committed blocks from
   * there.
   */
  subscribe(topic: 'newBlocks', options?: { fromHeight?: number }): Promise<Subscription<BlockNotification>>;
  subscribe(topic: 'account', address: string, options?: { fromHeight?: number }): Promise<Subscription<AccountNotification>>;
  async subscribe(
    topic: 'newBlocks' | 'account',
    a?: string | { fromHeight?: number },
    b?: { fromHeight?: number },
  ): Promise<Subscription<unknown>> {
    const options = (typeof a === 'string' ? b : a) ?? {};
    const params: unknown[] = [topic];
    if (typeof a === 'string') params.push(a);
    if (options.fromHeight !== undefined) params.push({ from_height: options.fromHeight });
    return openSubscription(this.wsUrl, params);
  }
}

/** A proof at `height` if one was asked for, else of the current state, at most six heartbeats old. */
function freshnessOf(options: { height?: number; nowMs?: bigint; heartbeatMs?: bigint }): Freshness {
  return options.height !== undefined
    ? { type: 'AtHeight', height: BigInt(options.height) }
    : {
        type: 'Current',
        nowMs: options.nowMs ?? BigInt(Date.now()),
        maxAgeMs: proofMaxAgeMs(options.heartbeatMs ?? 10_000n),
      };
}

async function openSubscription(url: string, params: unknown[]): Promise<Subscription<unknown>> {
  const socket = new WebSocket(url);
  const queue: unknown[] = [];
  const waiting: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  let failure: Error | null = null;
  let id: string | number | undefined;
  let subscribed!: (v: string | number) => void;
  let refused!: (e: Error) => void;
  const ready = new Promise<string | number>((res, rej) => {
    subscribed = res;
    refused = rej;
  });

  const fail = (e: Error) => {
    if (failure) return;
    failure = e;
    refused(e);
    for (const w of waiting.splice(0)) w.reject(e);
  };
  socket.on('error', (e) => fail(new Error(`WebSocket ${url}: ${e.message}`)));
  socket.on('close', () => fail(new Error(`WebSocket ${url} closed`)));
  socket.on('message', (data) => {
    let msg: JsonRpcResponse;
    try {
      msg = JSON.parse(data.toString()) as JsonRpcResponse;
    } catch {
      return fail(new Error(`WebSocket ${url} sent a message that is not JSON`));
    }
    if (msg.id === 1) {
      if (msg.error) return fail(new RpcError(msg.error.code, `merit_subscribe: ${msg.error.message}`, msg.error.data));
      id = msg.result as string | number;
      return subscribed(id);
    }
    if (msg.method === 'merit_subscription' && msg.params && msg.params.subscription === id) {
      const w = waiting.shift();
      if (w) w.resolve(msg.params.result);
      else queue.push(msg.params.result);
    }
  });
  socket.on('open', () => {
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'merit_subscribe', params }));
  });
  const subId = await ready;

  const next = (): Promise<unknown> => {
    if (queue.length > 0) return Promise.resolve(queue.shift());
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
  const close = async (): Promise<void> => {
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'merit_unsubscribe', params: [subId] }));
    }
    failure ??= new Error('the subscription is closed');
    socket.close();
    for (const w of waiting.splice(0)) w.reject(failure);
  };
  return {
    id: subId,
    next,
    close,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        try {
          yield await next();
        } catch {
          return;
        }
      }
    },
  };
}

/** A client of the node at `url` (`http://127.0.0.1:8545`). */
export function connect(url: string, options: ConnectOptions = {}): MeritClient {
  return new MeritClient(url, options);
}
