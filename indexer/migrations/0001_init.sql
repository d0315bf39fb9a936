-- The indexer's first schema. Amounts are base units (numeric(20,0) holds
-- every u64); `tokens.decimals` says where the point goes.

-- The one chain this database indexes: set once, from the genesis file.
CREATE TABLE chain (
    one           boolean PRIMARY KEY DEFAULT true CHECK (one),
    chain_id      text NOT NULL,
    genesis_hash  text NOT NULL,
    genesis_time  timestamptz NOT NULL
);

-- The last block written. Each block's transaction moves it, from the
-- block before, so a block is written once or not at all.
CREATE TABLE indexer_cursor (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    height  bigint NOT NULL,
    hash    text NOT NULL
);

-- Height 0 is the genesis, with the genesis hash.
CREATE TABLE blocks (
    height           bigint PRIMARY KEY,
    hash             text NOT NULL UNIQUE,
    parent_hash      text NOT NULL,
    round            integer NOT NULL,
    time_ms          bigint NOT NULL,
    time             timestamptz GENERATED ALWAYS AS (to_timestamp(time_ms / 1000.0)) STORED,
    proposer         text NOT NULL,
    tx_root          text NOT NULL,
    receipts_root    text NOT NULL,
    state_root       text NOT NULL,
    validators_hash  text NOT NULL,
    tx_count         integer NOT NULL,
    -- The validators whose Commit signatures made the block final.
    signers          text[] NOT NULL,
    -- When the indexer wrote it: `indexed_at - time` is its lag.
    indexed_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX blocks_time ON blocks (time_ms);

-- Every transaction of a block; `status` is `committed` or the rejection
-- code's name (a rejected transaction moved nothing).
CREATE TABLE transactions (
    hash      text PRIMARY KEY,
    height    bigint NOT NULL REFERENCES blocks (height),
    index     integer NOT NULL,
    sender    text NOT NULL,
    nonce     numeric(20, 0) NOT NULL,
    kind      text NOT NULL,
    status    text NOT NULL,
    order_id  text,
    memo      text,
    bytes     bytea NOT NULL,
    UNIQUE (height, index)
);
CREATE INDEX transactions_sender ON transactions (sender);

-- The double-entry journal: each movement is a debit and a credit of one
-- token. `account` is an address or a system account (`issuance`,
-- `redemption`, `expiry`, `clawback`, `offer_locks`, `escrow_locks`,
-- `frozen`);
-- `sub` is the sub-account (0: the account itself).
CREATE TABLE postings (
    height        bigint NOT NULL REFERENCES blocks (height),
    index         integer NOT NULL,
    tx_hash       text,
    tx_index      integer,
    time_ms       bigint NOT NULL,
    time          timestamptz GENERATED ALWAYS AS (to_timestamp(time_ms / 1000.0)) STORED,
    token         text NOT NULL,
    account       text NOT NULL,
    sub           bigint NOT NULL,
    side          text NOT NULL CHECK (side IN ('debit', 'credit')),
    amount        numeric(20, 0) NOT NULL CHECK (amount > 0),
    counterparty  text NOT NULL,
    kind          text NOT NULL,
    order_id      text,
    memo          text,
    PRIMARY KEY (height, index)
);
CREATE INDEX postings_account ON postings (account, sub, token, height);
CREATE INDEX postings_token_time ON postings (token, time_ms);
CREATE INDEX postings_tx ON postings (tx_hash);

-- Each account's balance per token: the net of its postings.
CREATE TABLE balances (
    account  text NOT NULL,
    sub      bigint NOT NULL,
    token    text NOT NULL,
    balance  numeric(20, 0) NOT NULL,
    height   bigint NOT NULL,
    PRIMARY KEY (account, sub, token)
);

-- Each token's supply, one row per term of the invariant
-- minted = circulating + frozen + locked_in_offers + locked_in_escrow
--          + redeemed + expired + clawed_back.
CREATE TABLE supply (
    token   text NOT NULL,
    bucket  text NOT NULL,
    amount  numeric(20, 0) NOT NULL,
    height  bigint NOT NULL,
    PRIMARY KEY (token, bucket)
);

CREATE TABLE tokens (
    symbol          text PRIMARY KEY,
    name            text NOT NULL,
    issuer          text NOT NULL,
    decimals        smallint NOT NULL,
    max_supply      numeric(20, 0) NOT NULL,
    expiry_days     integer,
    created_height  bigint NOT NULL,
    freezable       boolean NOT NULL,
    clawback        boolean NOT NULL
);

-- Each validator set, from the first height it signs, with the proof the
-- set before gave of it (the boundary header and its certificate).
CREATE TABLE validator_sets (
    from_height  bigint PRIMARY KEY,
    set_hash     text NOT NULL,
    validators   bytea NOT NULL,
    header       bytea,
    certificate  bytea
);
