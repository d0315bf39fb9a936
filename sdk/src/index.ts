// @merit/sdk: encode, sign and decode every kind of Merit transaction,
// verify proofs the way the node's light client does, and talk to a node
// over JSON-RPC and WebSocket. docs/sdk.md shows it at work;
// docs/protocol.md specifies every byte.

export * from './bytes.js';
export {
  encode,
  decode,
  fromJson,
  toJson,
  checkSymbol,
  parseAccountRef,
  formatAccountRef,
  toAccountRef,
  type AccountRefValue,
  type Type,
} from './codec.js';
export * as codec from './codec.js';
export * from './crypto.js';
export * from './limits.js';
export * from './amount.js';
export * from './reject.js';
export * from './tx.js';
export * from './light.js';
export * from './proof.js';
export * from './client.js';
export type * from './types.js';
export * as schema from './schema.js';
