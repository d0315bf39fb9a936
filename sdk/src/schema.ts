// The protocol's types, field by field in declaration order, as
// docs/protocol.md states them. An enum's variants are listed in tag order
// (tag = position): a new kind, event or state entry is one line appended
// to its list, and a new field of the envelope one line in `TxBody`.

import {
  type Field,
  type Type,
  accountRef,
  address,
  array,
  bool,
  enumeration,
  hash,
  option,
  rejectCode,
  signature,
  string,
  struct,
  symbol,
  tuple,
  u16,
  u32,
  u64,
  u8,
  vec,
} from './codec.js';
import * as L from './limits.js';

export { u16 };

// Bounded strings, by the names errors give them.
export const ChainId = string(L.MAX_CHAIN_ID_BYTES, 'chain_id');
export const OrderId = string(L.MAX_ORDER_ID_BYTES, 'order_id');
export const Memo = string(L.MAX_MEMO_BYTES, 'memo');
export const TokenName = string(L.MAX_TOKEN_NAME_BYTES, 'name');
export const MerchantName = string(L.MAX_MERCHANT_NAME_BYTES, 'name');
export const P2pAddress = string(L.MAX_P2P_ADDRESS_BYTES, 'p2p_address');
export const SubAccountLabel = string(L.MAX_SUB_ACCOUNT_LABEL_BYTES, 'label');

export const Price = struct('Price', [
  ['n', u64],
  ['d', u64],
]);

/** `address` then `sub: u32`: an address (sub 0) or its sub-account `ADDRESS/N`. */
export const AccountRef = accountRef;

export const PayLeg = struct('PayLeg', [
  ['to', AccountRef],
  ['token', symbol],
  ['amount', u64],
]);

export const ValidatorRecord = struct('ValidatorRecord', [
  ['key', address],
  ['p2p_key', address],
  ['p2p_address', P2pAddress],
]);

export const MerchantRecord = struct('MerchantRecord', [
  ['name', MerchantName],
  ['account', address],
  ['validator', option(ValidatorRecord)],
]);

export const SignedMerchant = struct('SignedMerchant', [
  ['record', MerchantRecord],
  [
    'proofs',
    struct('MerchantProofs', [
      ['account', option(signature)],
      ['validator_key', option(signature)],
      ['p2p_key', option(signature)],
    ]),
  ],
]);

export const GovAction = enumeration('GovAction', [
  ['AddMerchant', [['merchant', SignedMerchant]]],
  ['RemoveMerchant', [['account', address]]],
  ['RotateValidatorKey', [['merchant', SignedMerchant]]],
  [
    'ReassignIssuer',
    [
      ['token', symbol],
      ['new_issuer', address],
    ],
  ],
  [
    'SetConsensusParams',
    [
      ['timeout_base_ms', u64],
      ['timeout_max_ms', u64],
      ['precision_ms', u64],
      ['message_delay_ms', u64],
    ],
  ],
  [
    'ScheduleUpgrade',
    [
      ['protocol_version', u32],
      ['height', u64],
    ],
  ],
]);

/** What a transaction does: each kind's fields, in tag order. */
export const TX_KINDS: Array<[name: string, fields: Field[]]> = [
  /* 0 */ [
    'CreateToken',
    [
      ['symbol', symbol],
      ['name', TokenName],
      ['decimals', u8],
      ['max_supply', u64],
      ['expiry_days', option(u32)],
      ['freezable', bool],
      ['clawback', bool],
    ],
  ],
  /* 1 */ ['Mint', [['token', symbol], ['to', AccountRef], ['amount', u64]]],
  /* 2 */ ['Transfer', [['token', symbol], ['to', AccountRef], ['amount', u64], ['memo', option(Memo)]]],
  /* 3 */ [
    'Pay',
    [
      ['order_id', OrderId],
      ['legs', vec(PayLeg, L.PAY_LEGS_DECODE_BOUND, 'legs', L.MAX_PAY_LEGS)],
      ['memo', option(Memo)],
    ],
  ],
  /* 4 */ ['Refund', [['payment', hash], ['token', symbol], ['amount', u64]]],
  /* 5 */ ['Redeem', [['token', symbol], ['amount', u64], ['memo', option(Memo)]]],
  /* 6 */ ['PlaceOffer', [['sell', symbol], ['buy', symbol], ['amount', u64], ['price', Price]]],
  /* 7 */ ['CancelOffer', [['offer_id', u64]]],
  /* 8 */ [
    'EscrowCreate',
    [['token', symbol], ['to', AccountRef], ['amount', u64], ['deadline_ms', u64], ['order_id', option(OrderId)]],
  ],
  /* 9 */ ['EscrowRelease', [['id', hash]]],
  /* 10 */ ['EscrowRefund', [['id', hash]]],
  /* 11 */ ['Propose', [['action', GovAction], ['voting_ends_height', u64]]],
  /* 12 */ ['Vote', [['proposal', u64], ['approve', bool]]],
  /* 13 */ ['Freeze', [['token', symbol], ['account', AccountRef], ['amount', u64]]],
  /* 14 */ ['Unfreeze', [['token', symbol], ['account', AccountRef], ['amount', u64]]],
  /* 15 */ ['Clawback', [['token', symbol], ['from', AccountRef], ['amount', u64], ['memo', option(Memo)]]],
  /* 16 */ [
    'PayPath',
    [
      ['send_token', symbol],
      ['send_max', u64],
      ['dest_token', symbol],
      ['dest_amount', u64],
      ['to', AccountRef],
      ['path', vec(symbol, L.PATH_DECODE_BOUND, 'path', L.MAX_PATH_TOKENS)],
      ['order_id', option(OrderId)],
      ['memo', option(Memo)],
    ],
  ],
  /* 17 */ ['OpenSubAccount', [['label', SubAccountLabel]]],
];

export const TxKind = enumeration('TxKind', TX_KINDS);

/** The envelope: everything a transaction says but its signature. */
export const TX_BODY_FIELDS: Field[] = [
  ['chain_id', ChainId],
  ['sender', address],
  ['sub', u32],
  ['nonce', u64],
  ['expires_at_height', u64],
  ['kind', TxKind],
];

export const TxBody = struct('TxBody', TX_BODY_FIELDS);

export const Transaction = struct('Transaction', [
  ['body', TxBody],
  ['signature', signature],
]);

export const LotHolder = enumeration('LotHolder', [
  ['Account', [['account', AccountRef]]],
  ['Offer', [['offer', u64]]],
  ['Escrow', [['escrow', hash]]],
]);

/** What a committed transaction, or a block, did: each event's fields, in tag order. */
export const EVENTS: Array<[name: string, fields: Field[]]> = [
  /* 0 */ ['TokenCreated', [['token', symbol], ['issuer', address]]],
  /* 1 */ ['Minted', [['token', symbol], ['to', AccountRef], ['amount', u64]]],
  /* 2 */ ['Transferred', [['token', symbol], ['from', AccountRef], ['to', AccountRef], ['amount', u64]]],
  /* 3 */ ['Paid', [['token', symbol], ['payer', AccountRef], ['order_id', OrderId], ['total', u64]]],
  /* 4 */ [
    'Refunded',
    [['token', symbol], ['payment', hash], ['from', AccountRef], ['to', AccountRef], ['amount', u64]],
  ],
  /* 5 */ ['Redeemed', [['token', symbol], ['from', AccountRef], ['amount', u64]]],
  /* 6 */ [
    'OfferPlaced',
    [['offer', u64], ['owner', AccountRef], ['sell', symbol], ['buy', symbol], ['amount', u64], ['price', Price]],
  ],
  /* 7 */ [
    'Trade',
    [
      ['taker_offer', u64],
      ['maker_offer', u64],
      ['taker', AccountRef],
      ['maker', AccountRef],
      ['pay_token', symbol],
      ['paid', u64],
      ['get_token', symbol],
      ['got', u64],
      ['maker_remaining', u64],
    ],
  ],
  /* 8 */ ['OfferCancelled', [['offer', u64], ['owner', AccountRef], ['token', symbol], ['returned', u64]]],
  /* 9 */ [
    'EscrowCreated',
    [
      ['escrow', hash],
      ['token', symbol],
      ['payer', AccountRef],
      ['payee', AccountRef],
      ['amount', u64],
      ['deadline_ms', u64],
    ],
  ],
  /* 10 */ [
    'EscrowReleased',
    [['escrow', hash], ['token', symbol], ['payer', AccountRef], ['payee', AccountRef], ['amount', u64]],
  ],
  /* 11 */ [
    'EscrowRefunded',
    [['escrow', hash], ['token', symbol], ['payer', AccountRef], ['payee', AccountRef], ['amount', u64]],
  ],
  /* 12 */ [
    'Proposed',
    [['proposal', u64], ['proposer', address], ['action', string(32, 'action')], ['voting_ends_height', u64]],
  ],
  /* 13 */ ['Voted', [['proposal', u64], ['voter', address], ['approve', bool]]],
  /* 14 */ ['ProposalPassed', [['proposal', u64], ['activation_height', u64]]],
  /* 15 */ ['ProposalRejected', [['proposal', u64]]],
  /* 16 */ ['ProposalFailed', [['proposal', u64], ['code', rejectCode]]],
  /* 17 */ [
    'LotExpired',
    [
      ['token', symbol],
      ['holder', LotHolder],
      ['owner', AccountRef],
      ['amount', u64],
      ['expires_at_ms', u64],
      ['frozen', u64],
    ],
  ],
  /* 18 */ ['EscrowExpired', [['escrow', hash], ['token', symbol], ['payer', AccountRef], ['payee', AccountRef]]],
  /* 19 */ ['Frozen', [['token', symbol], ['account', AccountRef], ['amount', u64]]],
  /* 20 */ ['Unfrozen', [['token', symbol], ['account', AccountRef], ['amount', u64]]],
  /* 21 */ ['ClawedBack', [['token', symbol], ['from', AccountRef], ['amount', u64], ['frozen', u64]]],
  /* 22 */ [
    'PathTrade',
    [
      ['payer', AccountRef],
      ['maker', AccountRef],
      ['maker_offer', u64],
      ['pay_token', symbol],
      ['paid', u64],
      ['get_token', symbol],
      ['got', u64],
      ['maker_remaining', u64],
    ],
  ],
  /* 23 */ [
    'PathPaid',
    [
      ['payer', AccountRef],
      ['to', AccountRef],
      ['send_token', symbol],
      ['sent', u64],
      ['dest_token', symbol],
      ['received', u64],
    ],
  ],
  /* 24 */ ['SubAccountOpened', [['account', AccountRef], ['label', SubAccountLabel]]],
];

export const Event = enumeration('Event', EVENTS);

export const TxOutcome = enumeration('TxOutcome', [
  ['Committed', [['events', vec(Event, L.RECEIPT_EVENTS_DECODE_BOUND, 'events')]]],
  [
    'Rejected',
    [
      ['code', rejectCode],
      ['original', option(hash)],
    ],
  ],
]);

export const Receipt = struct('Receipt', [
  ['tx_hash', hash],
  ['outcome', TxOutcome],
]);

/** One leaf's worth of a block's own events. */
export const BlockEventChunk = vec(Event, L.RECEIPT_EVENTS_DECODE_BOUND, 'events');

export const BlockHeader = struct('BlockHeader', [
  ['chain_id', ChainId],
  ['height', u64],
  ['round', u32],
  ['parent_hash', hash],
  ['timestamp_ms', u64],
  ['proposer', address],
  ['tx_root', hash],
  ['receipts_root', hash],
  ['state_root', hash],
  ['validators_hash', hash],
  ['next_validators_hash', hash],
]);

export const Block = struct('Block', [
  ['header', BlockHeader],
  ['txs', vec(Transaction, L.MAX_BLOCK_TXS, 'txs')],
]);

export const ValidatorSignature = struct('ValidatorSignature', [
  ['validator', address],
  ['signature', signature],
]);

export const CommitCertificate = struct('CommitCertificate', [
  ['height', u64],
  ['round', u32],
  ['block_hash', hash],
  ['signatures', vec(ValidatorSignature, L.MAX_VALIDATORS, 'signatures')],
]);

export const ValidatorEntry = struct('ValidatorEntry', [
  ['account', address],
  ['key', address],
  ['p2p_key', address],
]);

export const ValidatorList = vec(ValidatorEntry, L.MAX_VALIDATORS, 'validators');

export const Vote = struct('Vote', [
  ['height', u64],
  ['round', u32],
  ['block_hash', hash],
]);

export const PreparedCertificate = struct('PreparedCertificate', [
  ['height', u64],
  ['round', u32],
  ['block_hash', hash],
  ['signatures', vec(ValidatorSignature, L.MAX_VALIDATORS, 'signatures')],
]);

const ViewChange = struct('ViewChange', [
  ['height', u64],
  ['round', u32],
  ['prepared', option(PreparedCertificate)],
]);

/** What a validator signs, in tag order. */
export const Statement = enumeration('Statement', [
  ['PrePrepare', [['vote', Vote]]],
  ['Prepare', [['vote', Vote]]],
  ['Commit', [['vote', Vote]]],
  ['ViewChange', [['view_change', ViewChange]]],
  [
    'NewView',
    [
      [
        'new_view',
        struct('NewView', [
          ['height', u64],
          ['round', u32],
          ['block_hash', hash],
          [
            'view_changes',
            vec(
              struct('SignedViewChange', [
                ['view_change', ViewChange],
                ['validator', address],
                ['signature', signature],
              ]),
              L.MAX_VALIDATORS,
              'view_changes',
            ),
          ],
        ]),
      ],
    ],
  ],
  ['Decision', [['certificate', CommitCertificate]]],
]);

// State entries.

export const Lot = struct('Lot', [
  ['expires_at_ms', u64],
  ['amount', u64],
]);

export const Lots = vec(Lot, L.MAX_LOTS_PER_HOLDING, 'lots');

export const Holding = struct('Holding', [
  ['balance', u64],
  ['frozen', u64],
  ['lots', Lots],
]);

export const TokenInfo = struct('TokenInfo', [
  ['symbol', symbol],
  ['name', TokenName],
  ['decimals', u8],
  ['max_supply', u64],
  ['expiry_days', option(u32)],
  ['freezable', bool],
  ['clawback', bool],
  ['issuer', address],
  ['created_height', u64],
  ['minted', u64],
  ['redeemed', u64],
  ['expired', u64],
  ['locked_in_offers', u64],
  ['locked_in_escrow', u64],
  ['frozen', u64],
  ['clawed_back', u64],
]);

export const MerchantInfo = struct('MerchantInfo', [
  ['name', MerchantName],
  ['validator', option(ValidatorRecord)],
]);

export const PaymentRecord = struct('PaymentRecord', [
  ['payer', AccountRef],
  ['order_id', OrderId],
  ['height', u64],
  [
    'shares',
    vec(
      struct('PaymentShare', [
        ['to', AccountRef],
        ['token', symbol],
        ['received', u64],
        ['refunded', u64],
      ]),
      L.PAY_LEGS_DECODE_BOUND,
      'shares',
    ),
  ],
]);

export const OfferRecord = struct('OfferRecord', [
  ['id', u64],
  ['owner', AccountRef],
  ['sell', symbol],
  ['buy', symbol],
  ['price', Price],
  ['amount', u64],
  ['remaining', u64],
  ['tx', hash],
  ['height', u64],
  ['lots', Lots],
]);

export const EscrowStatus = enumeration('EscrowStatus', [
  ['Open', []],
  ['Released', []],
  ['Refunded', []],
  ['Expired', []],
]);

export const EscrowRecord = struct('EscrowRecord', [
  ['payer', AccountRef],
  ['payee', AccountRef],
  ['token', symbol],
  ['amount', u64],
  ['remaining', u64],
  ['deadline_ms', u64],
  ['order_id', option(OrderId)],
  ['height', u64],
  ['status', EscrowStatus],
  ['lots', Lots],
]);

export const ConsensusParams = struct('ConsensusParams', [
  ['timeout_base_ms', u64],
  ['timeout_max_ms', u64],
  ['precision_ms', u64],
  ['message_delay_ms', u64],
  ['heartbeat_ms', u64],
]);

export const ProposalStatus = enumeration('ProposalStatus', [
  ['Open', []],
  [
    'Passed',
    [
      ['height', u64],
      ['activation_height', u64],
    ],
  ],
  ['Rejected', [['height', u64]]],
  [
    'Failed',
    [
      ['height', u64],
      ['code', rejectCode],
    ],
  ],
]);

export const ProposalRecord = struct('ProposalRecord', [
  ['id', u64],
  ['proposer', address],
  ['action', GovAction],
  ['created_height', u64],
  ['voting_ends_height', u64],
  ['approvals', vec(address, L.MAX_VALIDATORS, 'approvals')],
  ['rejections', vec(address, L.MAX_VALIDATORS, 'rejections')],
  ['status', ProposalStatus],
]);

export const UpgradePlan = struct('UpgradePlan', [
  ['protocol_version', u32],
  ['height', u64],
]);

/** An opened sub-account: its label and the height of the block that opened it. */
export const SubAccountInfo = struct('SubAccountInfo', [
  ['label', SubAccountLabel],
  ['opened_height', u64],
]);

/** Where a state entry lives, in tag order. */
export const StateKey = enumeration('StateKey', [
  /* 0 */ ['Merchant', [['address', address]]],
  /* 1 */ ['Token', [['token', symbol]]],
  /* 2 */ [
    'Holding',
    [
      ['address', address],
      ['sub', u32],
      ['token', symbol],
    ],
  ],
  /* 3 */ [
    'Nonce',
    [
      ['address', address],
      ['nonce', u64],
    ],
  ],
  /* 4 */ [
    'Order',
    [
      ['address', address],
      ['order_id', OrderId],
    ],
  ],
  /* 5 */ ['Payment', [['payment', hash]]],
  /* 6 */ ['Offer', [['offer', u64]]],
  /* 7 */ [
    'BookEntry',
    [
      ['sell', symbol],
      ['buy', symbol],
      ['price', Price],
      ['offer', u64],
    ],
  ],
  /* 8 */ ['NextOfferId', []],
  /* 9 */ ['Escrow', [['escrow', hash]]],
  /* 10 */ ['ConsensusParams', []],
  /* 11 */ ['ValidatorsFrom', [['height', u64]]],
  /* 12 */ ['Proposal', [['proposal', u64]]],
  /* 13 */ ['NextProposalId', []],
  /* 14 */ ['Upgrade', []],
  /* 15 */ ['OpenProposals', []],
  /* 16 */ ['Activations', []],
  /* 17 */ ['SubAccounts', [['address', address]]],
  /* 18 */ [
    'SubAccount',
    [
      ['address', address],
      ['sub', u32],
    ],
  ],
]);

/** What a state entry holds, in tag order; each key kind has one value kind. */
export const StateValue = enumeration('StateValue', [
  /* 0 */ ['Merchant', [['value', MerchantInfo]]],
  /* 1 */ ['Token', [['value', TokenInfo]]],
  /* 2 */ ['Holding', [['value', Holding]]],
  /* 3 */ ['Nonce', [['value', u64]]],
  /* 4 */ ['Order', [['value', hash]]],
  /* 5 */ ['Payment', [['value', PaymentRecord]]],
  /* 6 */ ['Offer', [['value', OfferRecord]]],
  /* 7 */ ['BookEntry', []],
  /* 8 */ ['NextOfferId', [['value', u64]]],
  /* 9 */ ['Escrow', [['value', EscrowRecord]]],
  /* 10 */ ['ConsensusParams', [['value', ConsensusParams]]],
  /* 11 */ ['Validators', [['value', ValidatorList]]],
  /* 12 */ ['Proposal', [['value', ProposalRecord]]],
  /* 13 */ ['NextProposalId', [['value', u64]]],
  /* 14 */ ['Upgrade', [['value', UpgradePlan]]],
  /* 15 */ ['ProposalIds', [['value', vec(u64, L.MAX_OPEN_PROPOSALS, 'proposals')]]],
  /* 16 */ ['Activations', [['value', vec(tuple(u64, u64), L.MAX_PENDING_ACTIVATIONS, 'activations')]]],
  /* 17 */ ['SubAccounts', [['value', u32]]],
  /* 18 */ ['SubAccount', [['value', SubAccountInfo]]],
]);

export const StateProof = struct('StateProof', [
  ['bucket', vec(tuple(hash, hash), L.MAX_PROOF_BUCKET_ENTRIES, 'bucket')],
  ['siblings', array(hash, L.BUCKET_BITS)],
]);

export const ProvenEntry = struct('ProvenEntry', [
  ['key', StateKey],
  ['value', option(StateValue)],
  ['proof', StateProof],
]);

export const EntriesProof = struct('EntriesProof', [
  ['entries', vec(ProvenEntry, L.MAX_PROVEN_ENTRIES, 'entries')],
  ['header', BlockHeader],
  ['certificate', CommitCertificate],
]);

const MerklePath = vec(hash, L.MAX_MERKLE_PATH, 'path');

export const TxProof = struct('TxProof', [
  ['tx', Transaction],
  ['receipt', Receipt],
  ['index', u64],
  ['count', u64],
  ['tx_path', MerklePath],
  ['receipt_leaves', u64],
  ['receipt_path', MerklePath],
  ['header', BlockHeader],
  ['certificate', CommitCertificate],
]);

export type { Type };
