// docs/sdk.md's TypeScript snippets are the example the devnet test runs:
// each one is a piece of sdk/examples/quickstart.ts, in order, and
// together they are all of its code.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { SDK_DIR, startDevnet } from './support/devnet.js';

test('every snippet of docs/sdk.md is the runnable example, in order', () => {
  const page = readFileSync(`${SDK_DIR}/../docs/sdk.md`, 'utf8');
  const example = readFileSync(`${SDK_DIR}/examples/quickstart.ts`, 'utf8');
  const snippets = [...page.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1].trim());
  assert.ok(snippets.length >= 5, 'the page shows the example in steps');
  let at = 0;
  for (const s of snippets) {
    const found = example.indexOf(s, at);
    assert.ok(found >= 0, `this snippet is not the example's next piece:\n${s}`);
    at = found + s.length;
  }
  const code = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.trim() && !l.trim().startsWith('//'))
      .join('\n');
  assert.equal(code(snippets.join('\n')), code(example), 'the snippets leave out none of the example');
});

test('without the node binary the devnet tests fail, saying how to build it', async () => {
  await assert.rejects(startDevnet(4, `${SDK_DIR}/no-such-merit-node`), (e: Error) => {
    assert.match(e.message, /need the node binary at .*no-such-merit-node, which does not exist/);
    assert.match(e.message, /cargo build --workspace --bins/);
    return true;
  });
});
