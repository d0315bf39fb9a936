//! Every limit in Merit, named once. Input over a limit is rejected with a clear
//! error and changes no state.

/// Largest encoded transaction, in bytes.
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// Legs in one `Pay`.
pub const MAX_PAY_LEGS: usize = 50;
/// Distinct tokens the legs of one `Pay` may name (a combined payment).
pub const MAX_PAY_TOKENS: usize = 5;
/// Intermediate tokens in the path of one `PayPath`.
pub const MAX_PATH_TOKENS: usize = 3;
/// Sub-accounts one address may open, `ADDRESS/1` to `ADDRESS/1000`.
pub const MAX_SUB_ACCOUNTS: u32 = 1_000;
/// Bytes of a sub-account's label.
pub const MAX_SUB_ACCOUNT_LABEL_BYTES: usize = 32;
/// Bytes of a memo.
pub const MAX_MEMO_BYTES: usize = 256;
/// Bytes of an `order_id`.
pub const MAX_ORDER_ID_BYTES: usize = 64;
/// Bytes of a token's display name.
pub const MAX_TOKEN_NAME_BYTES: usize = 64;
/// Bytes of a merchant's display name.
pub const MAX_MERCHANT_NAME_BYTES: usize = 64;
/// Bytes of a validator's p2p address (a multiaddr in text form).
pub const MAX_P2P_ADDRESS_BYTES: usize = 256;
/// Bytes of a chain id.
pub const MAX_CHAIN_ID_BYTES: usize = 32;
/// Most decimals a token may have.
pub const MAX_DECIMALS: u8 = 9;
/// Longest lifetime of a transaction: `expires_at_height <= height + MAX_TX_TTL_BLOCKS`.
pub const MAX_TX_TTL_BLOCKS: u64 = 1_000;
/// Longest point lifetime a token may declare.
pub const MAX_EXPIRY_DAYS: u32 = 36_500;
/// Transactions in one block.
pub const MAX_BLOCK_TXS: usize = 20_000;
/// Encoded bytes of one block (header plus transactions).
pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;
/// Encoded bytes of a block header.
pub const MAX_HEADER_BYTES: usize = 1024;
/// Encoded bytes of one receipt.
pub const MAX_RECEIPT_BYTES: usize = 16 * 1024;
/// Encoded bytes of one stored state value.
pub const MAX_STATE_VALUE_BYTES: usize = 64 * 1024;
/// Encoded bytes of a commit certificate.
pub const MAX_CERT_BYTES: usize = 64 * 1024;
/// Validators in one alliance.
pub const MAX_VALIDATORS: usize = 100;
/// Offers a single `PlaceOffer` may cross. Every resting offer the matcher
/// visits counts, whether it fills or is skipped; past the bound the
/// remainder rests in the book. A `PayPath` counts the offers of all its
/// hops together; past the bound it is rejected with `NoPath`.
pub const MAX_OFFERS_CROSSED: usize = 32;
/// Farthest ahead of the block time an escrow deadline may be (3,650 days).
pub const MAX_ESCROW_DURATION_MS: u64 = 3_650 * MS_PER_DAY;
/// Milliseconds in a day: a token's `expiry_days` becomes a lot's expiry
/// time as `block time + expiry_days * MS_PER_DAY`.
pub const MS_PER_DAY: u64 = 86_400_000;
/// Entries one history query returns.
pub const MAX_HISTORY_PAGE: usize = 1_000;
