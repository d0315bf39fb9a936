//! The PostgreSQL side: versioned migrations, the binding of a database to
//! one chain, and the writing of one block as one transaction that also
//! moves the cursor.

use std::collections::BTreeMap;

use merit_chain::block::{CommitCertificate, Event};
use merit_chain::crypto::Hash32;
use merit_chain::encoding;
use merit_chain::governance::{ValidatorList, validators_hash};
use merit_chain::light::{LightClient, SetChange};
use merit_chain::limits::MAX_BLOCK_BYTES;
use merit_chain::postings::{Posting, PostingAccount, Side, genesis_postings};
use merit_chain::tx::TxKind;
use merit_genesis::Genesis;
use tokio_postgres::{Client, GenericClient};

use crate::fetch::VerifiedBlock;

/// The schema's versions, applied in order, each once.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_sub_accounts.sql")),
];

/// The key of the advisory lock one indexer holds on its database: a
/// second indexer waits rather than write the same blocks.
pub const LOCK_KEY: i64 = 0x4d45_5249_5449_4458; // "MERITIDX"

/// Why the database refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("PostgreSQL: {0}")]
    Pg(#[from] tokio_postgres::Error),
    /// The database belongs to another chain: never written to.
    #[error(
        "this database indexes the chain of genesis {bound} ({chain_id}); the genesis file given is {given}. Use another database for another chain"
    )]
    OtherChain {
        bound: String,
        chain_id: String,
        given: String,
    },
    /// Someone else moved the cursor: the block is not written twice.
    #[error("the cursor is no longer at height {height}: another writer moved it")]
    CursorMoved { height: u64 },
    #[error("the database holds something this indexer cannot read: {0}")]
    Corrupt(String),
}

impl DbError {
    /// Whether reconnecting could help.
    pub fn is_transient(&self) -> bool {
        matches!(self, DbError::Pg(_) | DbError::CursorMoved { .. })
    }
}

/// Applies the migrations the database lacks, each in its own transaction.
pub async fn migrate(client: &mut Client) -> Result<(), DbError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    for (version, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        let applied = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[version],
            )
            .await?
            .is_some();
        if !applied {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await?;
            tracing::info!(version, "applied migration");
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Where the indexer stands: the last block written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub height: u64,
    pub hash: Hash32,
}

/// Binds an empty database to `genesis` (writing the genesis state as
/// height 0), or checks that the database is bound to it. Returns the
/// cursor and the hash of the genesis header, which block 1 follows.
pub async fn bind(client: &mut Client, genesis: &Genesis) -> Result<(Cursor, Hash32), DbError> {
    let given = genesis.hash().to_hex();
    let tx = client.transaction().await?;
    let bound = tx
        .query_opt("SELECT genesis_hash, chain_id FROM chain", &[])
        .await?;
    match bound {
        Some(row) => {
            let bound: String = row.get(0);
            if bound != given {
                return Err(DbError::OtherChain {
                    bound,
                    chain_id: row.get(1),
                    given,
                });
            }
        }
        None => {
            write_genesis(&tx, genesis).await?;
            tracing::info!(genesis = %given, "bound the database to this chain");
        }
    }
    let row = tx
        .query_one(
            "SELECT c.height, c.hash, b.hash FROM indexer_cursor c, blocks b WHERE b.height = 0",
            &[],
        )
        .await?;
    tx.commit().await?;
    let height: i64 = row.get(0);
    let hash = |i: usize| {
        let text: String = row.get(i);
        Hash32::from_hex(&text).map_err(|e| DbError::Corrupt(format!("a stored hash: {e}")))
    };
    let cursor = Cursor {
        height: u64::try_from(height).map_err(|_| DbError::Corrupt("a negative cursor".into()))?,
        hash: hash(1)?,
    };
    Ok((cursor, hash(2)?))
}

/// Takes the database's writer lock, if no other session holds it.
pub async fn try_lock(client: &Client) -> Result<bool, DbError> {
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    Ok(row.get(0))
}

/// The light client the database's validator sets give: the genesis set,
/// then each change, verified again from its proof.
pub async fn light_client(client: &Client, genesis: &Genesis) -> Result<LightClient, DbError> {
    let rows = client
        .query(
            "SELECT from_height, validators, header, certificate FROM validator_sets ORDER BY from_height",
            &[],
        )
        .await?;
    let corrupt = |what: String| DbError::Corrupt(what);
    let mut out: Option<LightClient> = None;
    for row in rows {
        let from: i64 = row.get(0);
        let from = u64::try_from(from).map_err(|_| corrupt("a negative set height".into()))?;
        let set: ValidatorList = decode("validator set", row.get(1)).map_err(corrupt)?;
        match out.as_mut() {
            None => {
                out = Some(
                    LightClient::new(genesis.chain_id().clone(), from, set)
                        .map_err(|e| corrupt(e.to_string()))?,
                );
            }
            Some(client) => {
                let header: Option<&[u8]> = row.get(2);
                let cert: Option<&[u8]> = row.get(3);
                let (Some(header), Some(cert)) = (header, cert) else {
                    return Err(corrupt(format!("the set of height {from} has no proof")));
                };
                let change = SetChange {
                    height: from,
                    header: decode("header", header).map_err(corrupt)?,
                    certificate: decode("certificate", cert).map_err(corrupt)?,
                    set,
                };
                client
                    .follow(&change)
                    .map_err(|e| corrupt(format!("the set of height {from}: {e}")))?;
            }
        }
    }
    out.ok_or_else(|| corrupt("no validator set".into()))
}

fn decode<T: encoding::Decode<()>>(what: &str, bytes: &[u8]) -> Result<T, String> {
    encoding::decode(bytes, MAX_BLOCK_BYTES).map_err(|e| format!("its {what} does not decode: {e}"))
}

/// Writes one verified block, moving the cursor from `from`: all of it, or
/// nothing.
pub async fn write_block(
    client: &mut Client,
    from: Cursor,
    block: &VerifiedBlock,
) -> Result<Cursor, DbError> {
    let header = &block.header;
    let to = Cursor {
        height: header.height,
        hash: block.hash,
    };
    let tx = client.transaction().await?;
    let moved = tx
        .execute(
            "UPDATE indexer_cursor SET height = $1, hash = $2 WHERE height = $3 AND hash = $4",
            &[
                &big(to.height),
                &to.hash.to_hex(),
                &big(from.height),
                &from.hash.to_hex(),
            ],
        )
        .await?;
    if moved != 1 {
        return Err(DbError::CursorMoved {
            height: from.height,
        });
    }
    let signers: Vec<String> = block
        .certificate
        .signatures
        .iter()
        .map(|s| s.validator.to_bech32())
        .collect();
    tx.execute(
        "INSERT INTO blocks (height, hash, parent_hash, round, time_ms, proposer, tx_root,
             receipts_root, state_root, validators_hash, tx_count, signers)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &big(header.height),
            &block.hash.to_hex(),
            &header.parent_hash.to_hex(),
            &i32::try_from(header.round).unwrap_or(i32::MAX),
            &big(header.timestamp_ms),
            &header.proposer.to_bech32(),
            &header.tx_root.to_hex(),
            &header.receipts_root.to_hex(),
            &header.state_root.to_hex(),
            &header.validators_hash.to_hex(),
            &count(block.txs.len()),
            &signers,
        ],
    )
    .await?;
    write_transactions(&tx, block).await?;
    write_postings(&tx, &block.postings).await?;
    write_sub_accounts(&tx, block).await?;
    for (tx_body, receipt) in block.txs.iter().zip(&block.receipts) {
        if let (TxKind::CreateToken { .. }, None) = (&tx_body.body.kind, receipt.code()) {
            write_token(&tx, &tx_body.body.kind, &tx_body.body.sender, header.height).await?;
        }
    }
    if let Some(change) = &block.set_change {
        write_set(
            &tx,
            change.height,
            &change.set,
            Some((block, &change.certificate)),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(to)
}

async fn write_genesis(tx: &impl GenericClient, genesis: &Genesis) -> Result<(), DbError> {
    let hash = genesis.hash().to_hex();
    let time = big(genesis.genesis_time_ms());
    tx.execute(
        "INSERT INTO chain (chain_id, genesis_hash, genesis_time)
         VALUES ($1, $2, to_timestamp($3::bigint / 1000.0))",
        &[&genesis.chain_id().as_str(), &hash, &time],
    )
    .await?;
    let (ledger, _) = genesis
        .ledger()
        .map_err(|e| DbError::Corrupt(format!("the genesis does not build a ledger: {e}")))?;
    let set = ledger
        .validators_at(1)
        .ok_or_else(|| DbError::Corrupt("the genesis has no validator set".into()))?;
    // Block 1 follows the genesis header, which commits to the genesis
    // state; the file's own hash binds the database.
    let block0 = ledger.tip().hash().to_hex();
    tx.execute(
        "INSERT INTO indexer_cursor (height, hash) VALUES (0, $1)",
        &[&block0],
    )
    .await?;
    let zero = Hash32::default().to_hex();
    tx.execute(
        "INSERT INTO blocks (height, hash, parent_hash, round, time_ms, proposer, tx_root,
             receipts_root, state_root, validators_hash, tx_count, signers)
         VALUES (0, $1, $2, 0, $3, '', $2, $2, $4, $5, 0, '{}')",
        &[
            &block0,
            &zero,
            &time,
            &genesis.state_root().to_hex(),
            &validators_hash(set).to_hex(),
        ],
    )
    .await?;
    for t in genesis.tokens() {
        tx.execute(
            "INSERT INTO tokens (symbol, name, issuer, decimals, max_supply, expiry_days, created_height,
                 freezable, clawback)
             VALUES ($1, $2, $3, $4, $5::text::numeric, $6, 0, $7, $8)",
            &[
                &t.symbol.to_string(),
                &t.name.as_str(),
                &t.issuer.to_bech32(),
                &i16::from(t.decimals),
                &t.max_supply.to_string(),
                &t.expiry_days.map(days),
                &t.freezable,
                &t.clawback,
            ],
        )
        .await?;
    }
    write_set(tx, 1, set, None).await?;
    write_postings(
        tx,
        &genesis_postings(ledger.state(), genesis.genesis_time_ms()),
    )
    .await
}

async fn write_transactions(tx: &impl GenericClient, block: &VerifiedBlock) -> Result<(), DbError> {
    if block.txs.is_empty() {
        return Ok(());
    }
    let n = block.txs.len();
    let (mut hashes, mut indexes, mut senders, mut subs, mut nonces) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut kinds, mut statuses, mut order_ids, mut memos, mut bytes) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (i, ((t, hash), receipt)) in block
        .txs
        .iter()
        .zip(&block.tx_hashes)
        .zip(&block.receipts)
        .enumerate()
    {
        let (order_id, memo) = merit_chain::postings::tx_tags(&t.body.kind);
        hashes.push(hash.to_hex());
        indexes.push(count(i));
        senders.push(t.body.sender.to_bech32());
        subs.push(i64::from(t.body.sub));
        nonces.push(t.body.nonce.to_string());
        kinds.push(t.body.kind.name().to_string());
        statuses.push(receipt.code().map_or("committed", |c| c.name()).to_string());
        order_ids.push(order_id.map(|o| o.as_str().to_string()));
        memos.push(memo.map(|m| m.as_str().to_string()));
        bytes.push(t.to_bytes());
    }
    tx.execute(
        "INSERT INTO transactions (hash, height, index, sender, sub, nonce, kind, status, order_id,
             memo, bytes)
         SELECT h, $1, i, s, sb, n::numeric, k, st, o, m, b
         FROM UNNEST($2::text[], $3::int4[], $4::text[], $5::int8[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::bytea[])
              AS u(h, i, s, sb, n, k, st, o, m, b)",
        &[
            &big(block.header.height),
            &hashes,
            &indexes,
            &senders,
            &subs,
            &nonces,
            &kinds,
            &statuses,
            &order_ids,
            &memos,
            &bytes,
        ],
    )
    .await?;
    Ok(())
}

/// Writes the sub-accounts the block's transactions opened.
async fn write_sub_accounts(tx: &impl GenericClient, block: &VerifiedBlock) -> Result<(), DbError> {
    let (mut accounts, mut subs, mut labels, mut hashes) = (vec![], vec![], vec![], vec![]);
    for (receipt, hash) in block.receipts.iter().zip(&block.tx_hashes) {
        for event in receipt.events() {
            if let Event::SubAccountOpened { account, label } = event {
                accounts.push(account.address.to_bech32());
                subs.push(i64::from(account.sub));
                labels.push(label.as_str().to_string());
                hashes.push(hash.to_hex());
            }
        }
    }
    if accounts.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO sub_accounts (account, sub, label, opened_height, tx_hash)
         SELECT a, s, l, $1, h FROM UNNEST($2::text[], $3::int8[], $4::text[], $5::text[])
              AS u(a, s, l, h)",
        &[
            &big(block.header.height),
            &accounts,
            &subs,
            &labels,
            &hashes,
        ],
    )
    .await?;
    Ok(())
}

/// The supply bucket a posting to a system account moves, and the sign it
/// moves it with: points leave `issuance` as they are minted.
fn bucket(account: &PostingAccount) -> (&'static str, i128) {
    match account {
        PostingAccount::Account(..) => ("circulating", 1),
        PostingAccount::Issuance => ("minted", -1),
        PostingAccount::Redemption => ("redeemed", 1),
        PostingAccount::Expiry => ("expired", 1),
        PostingAccount::Clawback => ("clawed_back", 1),
        PostingAccount::OfferLocks => ("locked_in_offers", 1),
        PostingAccount::EscrowLocks => ("locked_in_escrow", 1),
        PostingAccount::Frozen => ("frozen", 1),
    }
}

/// Writes postings, then what they change: balances and supply.
async fn write_postings(tx: &impl GenericClient, postings: &[Posting]) -> Result<(), DbError> {
    let Some(first) = postings.first() else {
        return Ok(());
    };
    let height = big(first.height);
    let n = postings.len();
    let mut cols = PostingColumns::with_capacity(n);
    let mut balances: BTreeMap<(String, i64, String), i128> = BTreeMap::new();
    let mut supply: BTreeMap<(String, &'static str), i128> = BTreeMap::new();
    for p in postings {
        cols.push(p);
        let token = p.token.to_string();
        if let PostingAccount::Account(who, sub) = p.account {
            *balances
                .entry((who.to_bech32(), i64::from(sub), token.clone()))
                .or_default() += p.signed();
        }
        let (name, sign) = bucket(&p.account);
        *supply.entry((token, name)).or_default() += sign * p.signed();
    }
    tx.execute(
        "INSERT INTO postings (height, index, tx_hash, tx_index, time_ms, token, account, sub,
             side, amount, counterparty, kind, order_id, memo)
         SELECT $1, i, th, ti, $2, t, a, s, sd, am::numeric, c, k, o, m
         FROM UNNEST($3::int4[], $4::text[], $5::int4[], $6::text[], $7::text[], $8::int8[],
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
              AS u(i, th, ti, t, a, s, sd, am, c, k, o, m)",
        &[
            &height,
            &big(first.time_ms),
            &cols.index,
            &cols.tx_hash,
            &cols.tx_index,
            &cols.token,
            &cols.account,
            &cols.sub,
            &cols.side,
            &cols.amount,
            &cols.counterparty,
            &cols.kind,
            &cols.order_id,
            &cols.memo,
        ],
    )
    .await?;

    let (mut accounts, mut subs, mut tokens, mut deltas) = (vec![], vec![], vec![], vec![]);
    for ((account, sub, token), delta) in balances {
        accounts.push(account);
        subs.push(sub);
        tokens.push(token);
        deltas.push(delta.to_string());
    }
    tx.execute(
        "INSERT INTO balances (account, sub, token, balance, height)
         SELECT a, s, t, d::numeric, $1 FROM UNNEST($2::text[], $3::int8[], $4::text[], $5::text[])
              AS u(a, s, t, d)
         ON CONFLICT (account, sub, token) DO UPDATE
             SET balance = balances.balance + EXCLUDED.balance, height = EXCLUDED.height",
        &[&height, &accounts, &subs, &tokens, &deltas],
    )
    .await?;

    let (mut tokens, mut buckets, mut deltas) = (vec![], vec![], vec![]);
    for ((token, name), delta) in supply {
        tokens.push(token);
        buckets.push(name.to_string());
        deltas.push(delta.to_string());
    }
    tx.execute(
        "INSERT INTO supply (token, bucket, amount, height)
         SELECT t, b, d::numeric, $1 FROM UNNEST($2::text[], $3::text[], $4::text[]) AS u(t, b, d)
         ON CONFLICT (token, bucket) DO UPDATE
             SET amount = supply.amount + EXCLUDED.amount, height = EXCLUDED.height",
        &[&height, &tokens, &buckets, &deltas],
    )
    .await?;
    Ok(())
}

/// Postings as the columns `UNNEST` takes.
#[derive(Debug, Default)]
struct PostingColumns {
    index: Vec<i32>,
    tx_hash: Vec<Option<String>>,
    tx_index: Vec<Option<i32>>,
    token: Vec<String>,
    account: Vec<String>,
    sub: Vec<i64>,
    side: Vec<&'static str>,
    amount: Vec<String>,
    counterparty: Vec<String>,
    kind: Vec<&'static str>,
    order_id: Vec<Option<String>>,
    memo: Vec<Option<String>>,
}

impl PostingColumns {
    fn with_capacity(n: usize) -> Self {
        PostingColumns {
            index: Vec::with_capacity(n),
            tx_hash: Vec::with_capacity(n),
            tx_index: Vec::with_capacity(n),
            token: Vec::with_capacity(n),
            account: Vec::with_capacity(n),
            sub: Vec::with_capacity(n),
            side: Vec::with_capacity(n),
            amount: Vec::with_capacity(n),
            counterparty: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            order_id: Vec::with_capacity(n),
            memo: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, p: &Posting) {
        let (account, sub) = match p.account {
            PostingAccount::Account(who, sub) => (who.to_bech32(), i64::from(sub)),
            system => (system.to_string(), 0),
        };
        self.index.push(i32::try_from(p.index).unwrap_or(i32::MAX));
        self.tx_hash.push(p.tx_hash.map(|h| h.to_hex()));
        self.tx_index
            .push(p.tx_index.map(|i| i32::try_from(i).unwrap_or(i32::MAX)));
        self.token.push(p.token.to_string());
        self.account.push(account);
        self.sub.push(sub);
        self.side.push(match p.side {
            Side::Debit => "debit",
            Side::Credit => "credit",
        });
        self.amount.push(p.amount.to_string());
        self.counterparty.push(p.counterparty.to_string());
        self.kind.push(p.kind);
        self.order_id
            .push(p.order_id.as_ref().map(|o| o.as_str().to_string()));
        self.memo
            .push(p.memo.as_ref().map(|m| m.as_str().to_string()));
    }
}

async fn write_token(
    tx: &impl GenericClient,
    kind: &TxKind,
    issuer: &merit_chain::crypto::Address,
    height: u64,
) -> Result<(), DbError> {
    let TxKind::CreateToken {
        symbol,
        name,
        decimals,
        max_supply,
        expiry_days,
        freezable,
        clawback,
    } = kind
    else {
        return Ok(());
    };
    tx.execute(
        "INSERT INTO tokens (symbol, name, issuer, decimals, max_supply, expiry_days, created_height,
             freezable, clawback)
         VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7, $8, $9)",
        &[
            &symbol.to_string(),
            &name.as_str(),
            &issuer.to_bech32(),
            &i16::from(*decimals),
            &max_supply.to_string(),
            &expiry_days.map(days),
            &big(height),
            freezable,
            clawback,
        ],
    )
    .await?;
    Ok(())
}

async fn write_set(
    tx: &impl GenericClient,
    from_height: u64,
    set: &ValidatorList,
    proof: Option<(&VerifiedBlock, &CommitCertificate)>,
) -> Result<(), DbError> {
    let header = proof.map(|(b, _)| encoding::encode(&b.header));
    let cert = proof.map(|(_, c)| encoding::encode(c));
    tx.execute(
        "INSERT INTO validator_sets (from_height, set_hash, validators, header, certificate)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &big(from_height),
            &validators_hash(set).to_hex(),
            &encoding::encode(set),
            &header,
            &cert,
        ],
    )
    .await?;
    Ok(())
}

/// A height, time or count as PostgreSQL's `bigint`; none of them comes near
/// 2^63.
fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn days(d: u32) -> i32 {
    i32::try_from(d).unwrap_or(i32::MAX)
}

fn count(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
