// The shapes of decoded values (see src/codec.ts for the conventions).

export type Address = string;
export type Hash = string;
export type Symbol = string;

export interface Price {
  n: bigint;
  d: bigint;
}

/** An account: `sub` 0 is the address itself, `N` its sub-account `ADDRESS/N`. */
export interface AccountRef {
  address: Address;
  sub: number;
}

/**
 * An account as the encoder takes it: `{address, sub}`, `"ADDRESS"` (the
 * address itself) or `"ADDRESS/N"`. Decoding always gives an `AccountRef`.
 */
export type AccountLike = AccountRef | string;

export interface PayLeg {
  to: AccountLike;
  token: Symbol;
  amount: bigint;
}

export interface SignedMerchant {
  record: {
    name: string;
    account: Address;
    validator: { key: Address; p2p_key: Address; p2p_address: string } | null;
  };
  proofs: { account: string | null; validator_key: string | null; p2p_key: string | null };
}

export type GovAction =
  | { type: 'AddMerchant'; merchant: SignedMerchant }
  | { type: 'RemoveMerchant'; account: Address }
  | { type: 'RotateValidatorKey'; merchant: SignedMerchant }
  | { type: 'ReassignIssuer'; token: Symbol; new_issuer: Address }
  | {
      type: 'SetConsensusParams';
      timeout_base_ms: bigint;
      timeout_max_ms: bigint;
      precision_ms: bigint;
      message_delay_ms: bigint;
    }
  | { type: 'ScheduleUpgrade'; protocol_version: number; height: bigint };

/** What a transaction does. */
export type TxKind =
  | {
      type: 'CreateToken';
      symbol: Symbol;
      name: string;
      decimals: number;
      max_supply: bigint;
      expiry_days: number | null;
      freezable: boolean;
      clawback: boolean;
    }
  | { type: 'Mint'; token: Symbol; to: AccountLike; amount: bigint }
  | { type: 'Transfer'; token: Symbol; to: AccountLike; amount: bigint; memo: string | null }
  | { type: 'Pay'; order_id: string; legs: PayLeg[]; memo: string | null }
  | { type: 'Refund'; payment: Hash; token: Symbol; amount: bigint }
  | { type: 'Redeem'; token: Symbol; amount: bigint; memo: string | null }
  | { type: 'PlaceOffer'; sell: Symbol; buy: Symbol; amount: bigint; price: Price }
  | { type: 'CancelOffer'; offer_id: bigint }
  | { type: 'EscrowCreate'; token: Symbol; to: AccountLike; amount: bigint; deadline_ms: bigint; order_id: string | null }
  | { type: 'EscrowRelease'; id: Hash }
  | { type: 'EscrowRefund'; id: Hash }
  | { type: 'Propose'; action: GovAction; voting_ends_height: bigint }
  | { type: 'Vote'; proposal: bigint; approve: boolean }
  | { type: 'Freeze'; token: Symbol; account: AccountLike; amount: bigint }
  | { type: 'Unfreeze'; token: Symbol; account: AccountLike; amount: bigint }
  | { type: 'Clawback'; token: Symbol; from: AccountLike; amount: bigint; memo: string | null }
  | {
      type: 'PayPath';
      send_token: Symbol;
      send_max: bigint;
      dest_token: Symbol;
      dest_amount: bigint;
      to: AccountLike;
      path: Symbol[];
      order_id: string | null;
      memo: string | null;
    }
  /** Opens the sender's next sub-account, `ADDRESS/N`; the label is at most 32 bytes. */
  | { type: 'OpenSubAccount'; label: string };

/** Everything a transaction says but its signature: what the sender signs. */
export interface TxBody {
  chain_id: string;
  sender: Address;
  /** Which of the sender's accounts pays: 0 the address itself, `N` its sub-account `ADDRESS/N`. */
  sub: number;
  nonce: bigint;
  expires_at_height: bigint;
  kind: TxKind;
}

export interface Transaction {
  body: TxBody;
  signature: string;
}

/** An event: its `type` and its fields (docs/protocol.md lists them). */
export interface Event {
  type: string;
  [field: string]: unknown;
}

export type TxOutcome =
  | { type: 'Committed'; events: Event[] }
  | { type: 'Rejected'; code: string; original: Hash | null };

export interface Receipt {
  tx_hash: Hash;
  outcome: TxOutcome;
}

export interface BlockHeader {
  chain_id: string;
  height: bigint;
  round: number;
  parent_hash: Hash;
  timestamp_ms: bigint;
  proposer: Address;
  tx_root: Hash;
  receipts_root: Hash;
  state_root: Hash;
  validators_hash: Hash;
  next_validators_hash: Hash;
}

export interface CommitCertificate {
  height: bigint;
  round: number;
  block_hash: Hash;
  signatures: Array<{ validator: Address; signature: string }>;
}

export interface ValidatorEntry {
  account: Address;
  key: Address;
  p2p_key: Address;
}

export interface Lot {
  expires_at_ms: bigint;
  amount: bigint;
}

export interface Holding {
  balance: bigint;
  frozen: bigint;
  lots: Lot[];
}

/** An opened sub-account's entry (`SubAccount(address, N)`). */
export interface SubAccountInfo {
  label: string;
  opened_height: bigint;
}

export interface TokenInfo {
  symbol: Symbol;
  name: string;
  decimals: number;
  max_supply: bigint;
  expiry_days: number | null;
  freezable: boolean;
  clawback: boolean;
  issuer: Address;
  created_height: bigint;
  minted: bigint;
  redeemed: bigint;
  expired: bigint;
  locked_in_offers: bigint;
  locked_in_escrow: bigint;
  frozen: bigint;
  clawed_back: bigint;
}

export type StateKey = { type: string; [field: string]: unknown };
export type StateValue = { type: string; value?: unknown };

export interface StateProof {
  bucket: Array<[Hash, Hash]>;
  siblings: Hash[];
}

export interface ProvenEntry {
  key: StateKey;
  value: StateValue | null;
  proof: StateProof;
}

export interface EntriesProof {
  entries: ProvenEntry[];
  header: BlockHeader;
  certificate: CommitCertificate;
}

export interface TxProof {
  tx: Transaction;
  receipt: Receipt;
  index: bigint;
  count: bigint;
  tx_path: Hash[];
  receipt_leaves: bigint;
  receipt_path: Hash[];
  header: BlockHeader;
  certificate: CommitCertificate;
}
