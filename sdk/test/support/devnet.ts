// A local 4-validator devnet for the tests: `merit-node devnet` from the
// workspace's target/debug, in a temporary directory, on free loopback
// ports, stopped and removed afterwards.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { MeritClient, connect } from '../../src/index.js';

/** The sdk/ directory (this file runs from sdk/dist/test/support). */
export const SDK_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** Where `cargo build` / `cargo test --workspace` put the node. */
export const NODE_BINARY = process.env.MERIT_NODE_BIN ?? resolve(SDK_DIR, '../target/debug/merit-node');

function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const server = createServer();
    server.once('error', () => ok(false));
    server.listen(port, '127.0.0.1', () => server.close(() => ok(true)));
  });
}

/** Three runs of `n` free consecutive ports: p2p, RPC and metrics. */
async function freePorts(n: number): Promise<[number, number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 4_000) * 10;
    const all = [0, 100, 200].flatMap((offset) => Array.from({ length: n }, (_, i) => base + offset + i));
    const free = await Promise.all(all.map(portFree));
    if (free.every(Boolean)) return [base, base + 100, base + 200];
  }
  throw new Error('found no free loopback ports for a devnet in 50 tries');
}

export interface Devnet {
  /** The RPC URL of validator 0. */
  url: string;
  client: MeritClient;
  dir: string;
  genesisFile: string;
  genesis: { chain_id: string; merchants: Array<{ name: string; account: string; validator_key?: string; p2p_key?: string }> };
  stop(): Promise<void>;
}

/** Starts a devnet and waits until it has committed a block. */
export async function startDevnet(validators = 4, binary = NODE_BINARY): Promise<Devnet> {
  if (!existsSync(binary)) {
    throw new Error(
      `the devnet tests need the node binary at ${binary}, which does not exist: ` +
        'build it first with `cargo build --workspace --bins` (or `cargo test --workspace`) at the root of the repository',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'merit-sdk-devnet-'));
  const [p2p, rpc, metrics] = await freePorts(validators);
  const logFile = join(dir, 'devnet.log');
  const log = openSync(logFile, 'w');
  const child: ChildProcess = spawn(
    binary,
    [
      'devnet',
      '--dir',
      join(dir, 'devnet'),
      '--reset',
      '--validators',
      String(validators),
      '--p2p-base-port',
      String(p2p),
      '--rpc-base-port',
      String(rpc),
      '--metrics-base-port',
      String(metrics),
    ],
    { stdio: ['ignore', log, log] },
  );
  let exited: number | null = null;
  const exit = new Promise<void>((done) =>
    child.once('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : 0);
      done();
    }),
  );
  const stop = async () => {
    if (exited === null) {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${rpc}`;
  const client = connect(url);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited !== null) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      await stop();
      throw new Error(`the devnet exited with ${exited} before it answered:\n${tail}`);
    }
    try {
      const status = await client.status();
      if (status.height >= 1) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      await stop();
      throw new Error(`the devnet made no block within 90 s:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const genesisFile = join(dir, 'devnet', 'genesis.json');
  return { url, client, dir, genesisFile, genesis: JSON.parse(readFileSync(genesisFile, 'utf8')), stop };
}
