-- Sub-accounts (ADR 020). An address opens sub-accounts `ADDRESS/1`,
-- `ADDRESS/2`, …; the envelope of a transaction names which of the
-- sender's accounts pays.

-- The sender's account that paid: 0 for the address itself, `N` for its
-- sub-account `ADDRESS/N`.
ALTER TABLE transactions ADD COLUMN sub bigint NOT NULL DEFAULT 0;

-- Each opened sub-account, from its `SubAccountOpened` event. They are
-- numbered 1 up per address and never closed.
CREATE TABLE sub_accounts (
    account        text NOT NULL,
    sub            bigint NOT NULL CHECK (sub > 0),
    label          text NOT NULL,
    opened_height  bigint NOT NULL REFERENCES blocks (height),
    tx_hash        text NOT NULL REFERENCES transactions (hash),
    PRIMARY KEY (account, sub)
);
