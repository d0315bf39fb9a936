// Every bound of the protocol (chain/src/limits.rs and the decoding bounds
// beside the types). The SDK's tests check these against the node's.

/** Largest encoded transaction, in bytes. */
export const MAX_TX_BYTES = 65_536;
/** Legs in one `Pay`. */
export const MAX_PAY_LEGS = 50;
/** Distinct tokens the legs of one `Pay` may name (a combined payment). */
export const MAX_PAY_TOKENS = 5;
/** Intermediate tokens in the path of one `PayPath`. */
export const MAX_PATH_TOKENS = 3;
/** Sub-accounts one address may open, `ADDRESS/1` to `ADDRESS/1000`. */
export const MAX_SUB_ACCOUNTS = 1_000;
/** Bytes of a sub-account's label. */
export const MAX_SUB_ACCOUNT_LABEL_BYTES = 32;
/** Bytes of a memo. */
export const MAX_MEMO_BYTES = 256;
/** Bytes of an `order_id`. */
export const MAX_ORDER_ID_BYTES = 64;
/** Bytes of a token's display name. */
export const MAX_TOKEN_NAME_BYTES = 64;
/** Bytes of a merchant's display name. */
export const MAX_MERCHANT_NAME_BYTES = 64;
/** Bytes of a validator's p2p address. */
export const MAX_P2P_ADDRESS_BYTES = 256;
/** Bytes of a chain id. */
export const MAX_CHAIN_ID_BYTES = 32;
/** Most decimals a token may have. */
export const MAX_DECIMALS = 9;
/** Longest lifetime of a transaction: `expires_at_height <= height + MAX_TX_TTL_BLOCKS`. */
export const MAX_TX_TTL_BLOCKS = 1_000n;
/** Longest point lifetime a token may declare. */
export const MAX_EXPIRY_DAYS = 36_500;
/** Transactions in one block. */
export const MAX_BLOCK_TXS = 20_000;
/** Encoded bytes of one block. */
export const MAX_BLOCK_BYTES = 8 * 1024 * 1024;
/** Encoded bytes of a block header. */
export const MAX_HEADER_BYTES = 1024;
/** Encoded bytes of one receipt. */
export const MAX_RECEIPT_BYTES = 16 * 1024;
/** Encoded bytes of a commit certificate. */
export const MAX_CERT_BYTES = 64 * 1024;
/** Validators in one alliance. */
export const MAX_VALIDATORS = 100;

/** Decoding bound of a `Pay`'s legs: more decode, but are rejected `TooManyLegs`. */
export const PAY_LEGS_DECODE_BOUND = 1024;
/** Decoding bound of a `PayPath`'s path: more than `MAX_PATH_TOKENS` is `PathTooLong`. */
export const PATH_DECODE_BOUND = 16;
/** Decoding bound of the events of one receipt, and of one chunk of block events. */
export const RECEIPT_EVENTS_DECODE_BOUND = 1024;
/** Lots one holding keeps at most. */
export const MAX_LOTS_PER_HOLDING = 256;
/** Entries one bucket of a state proof carries at most. */
export const MAX_PROOF_BUCKET_ENTRIES = 4096;
/** Entries one `EntriesProof` carries at most. */
export const MAX_PROVEN_ENTRIES = 64;
/** Largest encoded `EntriesProof`. */
export const MAX_ENTRIES_PROOF_BYTES = 8 * 1024 * 1024;
/** Largest encoded `TxProof`. */
export const MAX_TX_PROOF_BYTES = 256 * 1024;
/** Siblings in a Merkle path over a block's transactions or receipts. */
export const MAX_MERKLE_PATH = 32;
/** Proposals open at once. */
export const MAX_OPEN_PROPOSALS = 16;
/** Passed proposals waiting for activation at once. */
export const MAX_PENDING_ACTIVATIONS = 64;
/** How many heartbeats old a proof of the current state may be. */
export const PROOF_MAX_AGE_HEARTBEATS = 6n;
/** Depth of the tree over the state's buckets. */
export const BUCKET_BITS = 16;
