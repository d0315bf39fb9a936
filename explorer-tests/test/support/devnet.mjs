// A local devnet for the browser tests: `merit-node devnet` from the
// workspace's target/debug, in a temporary directory, on free loopback
// ports, stopped and removed afterwards. The same approach as the SDK's
// tests (sdk/test/support/devnet.ts).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { connect } from '@merit/sdk';

/** The explorer-tests/ directory. */
export const PACKAGE_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** Where `cargo build` / `cargo test --workspace` put the node. */
export const NODE_BINARY = process.env.MERIT_NODE_BIN ?? resolve(PACKAGE_DIR, '../target/debug/merit-node');

function portFree(port) {
  return new Promise((ok) => {
    const server = createServer();
    server.once('error', () => ok(false));
    server.listen(port, '127.0.0.1', () => server.close(() => ok(true)));
  });
}

/** Three runs of `n` free consecutive ports: p2p, RPC and metrics. */
async function freePorts(n) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 24_000 + Math.floor(Math.random() * 4_000) * 10;
    const all = [0, 100, 200].flatMap((offset) => Array.from({ length: n }, (_, i) => base + offset + i));
    const free = await Promise.all(all.map(portFree));
    if (free.every(Boolean)) return [base, base + 100, base + 200];
  }
  throw new Error('found no free loopback ports for a devnet in 50 tries');
}

/**
 * Starts a 4-validator devnet and waits until it has committed a block.
 * Returns `{url, client, genesis, banner(), stop()}`.
 */
export async function startDevnet(validators = 4, binary = NODE_BINARY) {
  if (!existsSync(binary)) {
    throw new Error(
      `the explorer tests need the node binary at ${binary}, which does not exist: ` +
        'build it first with `cargo build --workspace --bins` at the root of the repository',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'merit-explorer-devnet-'));
  const [p2p, rpc, metrics] = await freePorts(validators);
  const logFile = join(dir, 'devnet.log');
  const log = openSync(logFile, 'w');
  const child = spawn(
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
  let exited = null;
  const exit = new Promise((done) =>
    child.once('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : 0);
      done();
    }),
  );
  const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
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
      const last = tail();
      await stop();
      throw new Error(`the devnet exited with ${exited} before it answered:\n${last}`);
    }
    try {
      const status = await client.status();
      if (status.height >= 1) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      const last = tail();
      await stop();
      throw new Error(`the devnet made no block within 90 s:\n${last}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const genesis = JSON.parse(readFileSync(join(dir, 'devnet', 'genesis.json'), 'utf8'));
  return { url, client, genesis, banner: () => readFileSync(logFile, 'utf8'), stop };
}
