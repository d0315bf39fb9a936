// The five-minute example of docs/sdk.md: connect to a devnet, make a key,
// have it funded, pay with it, wait for the commit, and check the balance
// against a proof that no single node can forge.
//
//   MERIT_RPC=http://127.0.0.1:8545 MERIT_GENESIS=.devnet/genesis.json \
//     node dist/examples/quickstart.js

import { readFileSync } from 'node:fs';

import { Keypair, LightClient, connect, formatAmount, parseAmount } from '@merit/sdk';

const url = process.env.MERIT_RPC ?? 'http://127.0.0.1:8545';
const genesisFile = process.env.MERIT_GENESIS ?? '.devnet/genesis.json';

// 1. Connect.
const node = connect(url);
const status = await node.status();
console.log(`connected to ${status.chain_id} at height ${status.height}`);

// 2. Keys: a new one of ours, and the devnet's public demo shopper alice.
const me = Keypair.generate();
const alice = Keypair.insecureFromLabel('merit-devnet/shopper/alice');
const bean = await node.getToken('BEAN');

// 3. Sign and send: alice gives us 20.00 BEAN.
const funding = await node.signAndSend(alice, {
  type: 'Transfer',
  token: 'BEAN',
  to: me.address,
  amount: parseAmount('20.00', bean.decimals),
  memo: null,
});

// 4. Wait until it is in a block.
const funded = await node.waitForCommit(funding.hash);
console.log(`funding ${funded.status} in block ${funded.height}`);

// We pay a coffee shop 12.50 BEAN, 2.50 of it to a partner: one split payment.
const shop = 'mrt14jl0qllpv40yk5jcfl4rlna9e8jetjcmw5k5dm46yptcctwx9cvsnhtl8h';
const partner = Keypair.generate().address;
const payment = await node.signAndSend(me, {
  type: 'Pay',
  order_id: `order-${Date.now()}`,
  legs: [
    { to: shop, token: 'BEAN', amount: parseAmount('10.00', bean.decimals) },
    { to: partner, token: 'BEAN', amount: parseAmount('2.50', bean.decimals) },
  ],
  memo: null,
});
const paid = await node.waitForCommit(payment.hash);
console.log(`payment ${paid.status}${paid.code ? ` (${paid.code})` : ''}: ${paid.events.map((e) => e.type).join(', ')}`);

// 5. Verify: trust only the genesis validators, never the node.
const light = LightClient.fromGenesis(JSON.parse(readFileSync(genesisFile, 'utf8')));
const [holding] = await node.verifyBalance(light, me.address, ['BEAN']);
console.log(`verified balance: ${formatAmount(holding.balance, bean.decimals)} BEAN`);
