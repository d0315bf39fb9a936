//! `merit-indexer`: follows a Merit chain through a node it does not trust
//! and writes each verified block into PostgreSQL, exactly once.
//!
//! A thread reads blocks from the node and verifies them ([`fetch`]): the
//! certificate against the validator set in force at the height, the link
//! to the block before, and the roots the header names. The async side
//! writes each one as a single database transaction that also moves the
//! cursor ([`db`]). A crash of either side, of the node, or of PostgreSQL
//! loses nothing: the next session starts from the cursor the database
//! holds. The schema is in `docs/indexer.md`.

pub mod db;
pub mod fetch;

use std::time::{Duration, Instant};

use merit_chain::crypto::Hash32;
use merit_genesis::Genesis;
use merit_wallet::rpc::RpcClient;
use tokio::sync::mpsc;

use crate::db::{Cursor, DbError};
use crate::fetch::{FetchError, Follower, VerifiedBlock};

/// Verified blocks the reader may hold ahead of the writer.
pub const PREFETCH_BLOCKS: usize = 32;
/// How long to wait before reconnecting after PostgreSQL or the node
/// failed.
pub const RETRY_DELAY_MS: u64 = 1_000;
/// How often progress is logged while blocks arrive.
pub const PROGRESS_EVERY_MS: u64 = 10_000;

/// What an indexer needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The node's RPC URL, `http://HOST:PORT` (a `ws://` URL of the same
    /// node is taken as its HTTP twin).
    pub rpc: String,
    /// `postgresql://…` or a key-value connection string.
    pub postgres: String,
    pub genesis: Genesis,
    /// How often to ask for new blocks once caught up.
    pub poll: Duration,
}

/// Why the indexer stopped for good: nothing the node or the database will
/// fix by waiting.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error(transparent)]
    Db(DbError),
    #[error(transparent)]
    Untrusted(FetchError),
    #[error("{0}")]
    Config(String),
}

/// The HTTP URL of the node `url` names.
pub fn http_url(url: &str) -> String {
    match url.strip_prefix("ws://") {
        Some(rest) => format!("http://{rest}"),
        None => url.to_string(),
    }
}

/// Checks what can be wrong with a configuration before anything connects.
pub fn check(config: &Config) -> Result<(), Fatal> {
    RpcClient::new(&http_url(&config.rpc)).map_err(|e| Fatal::Config(e.to_string()))?;
    config
        .postgres
        .parse::<tokio_postgres::Config>()
        .map_err(|e| {
            Fatal::Config(format!(
                "`{}` is not a PostgreSQL connection string: {e}",
                config.postgres
            ))
        })?;
    Ok(())
}

/// Indexes until a fatal error; reconnects after every other one.
pub async fn run(config: &Config) -> Result<(), Fatal> {
    check(config)?;
    loop {
        match session(config).await {
            Ok(never) => match never {},
            Err(Stop::Fatal(e)) => return Err(e),
            Err(Stop::Retry(why)) => {
                tracing::warn!("{why}; retrying in {RETRY_DELAY_MS} ms");
                tokio::time::sleep(Duration::from_millis(RETRY_DELAY_MS)).await;
            }
        }
    }
}

enum Never {}

enum Stop {
    Fatal(Fatal),
    Retry(String),
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        if e.is_transient() {
            Stop::Retry(e.to_string())
        } else {
            Stop::Fatal(Fatal::Db(e))
        }
    }
}

impl From<FetchError> for Stop {
    fn from(e: FetchError) -> Self {
        if e.is_transient() {
            Stop::Retry(e.to_string())
        } else {
            Stop::Fatal(Fatal::Untrusted(e))
        }
    }
}

/// One connection to PostgreSQL, from its cursor on.
async fn session(config: &Config) -> Result<Never, Stop> {
    let (mut client, connection) = tokio_postgres::connect(&config.postgres, tokio_postgres::NoTls)
        .await
        .map_err(|e| Stop::Retry(format!("cannot connect to PostgreSQL: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("PostgreSQL connection: {e}");
        }
    });
    if !db::try_lock(&client).await? {
        return Err(Stop::Retry(
            "another indexer is writing to this database".into(),
        ));
    }
    db::migrate(&mut client).await?;
    let (mut cursor, genesis_block) = db::bind(&mut client, &config.genesis).await?;
    let light = db::light_client(&client, &config.genesis).await?;
    let rpc = RpcClient::new(&http_url(&config.rpc))
        .map_err(|e| Stop::Fatal(Fatal::Config(e.to_string())))?;
    let follower = Follower::new(rpc, light, cursor.height, cursor.hash);
    tracing::info!(height = cursor.height, "resuming from the cursor");

    let (tx, mut rx) = mpsc::channel(PREFETCH_BLOCKS);
    let poll = config.poll;
    std::thread::Builder::new()
        .name("merit-indexer-fetch".into())
        .spawn(move || read_blocks(follower, genesis_block, poll, tx))
        .map_err(|e| Stop::Retry(format!("cannot start the reader: {e}")))?;

    let mut last_log = Instant::now();
    let mut written = 0u64;
    while let Some(next) = rx.recv().await {
        let block = next?;
        cursor = db::write_block(&mut client, cursor, &block).await?;
        written += 1;
        if last_log.elapsed() >= Duration::from_millis(PROGRESS_EVERY_MS) {
            tracing::info!(height = cursor.height, blocks = written, "indexed");
            last_log = Instant::now();
            written = 0;
        }
    }
    Err(Stop::Retry("the block reader stopped".into()))
}

/// The reader thread: checks that the node serves this database's chain,
/// then sends each next verified block until the writer hangs up or a
/// block fails to verify.
fn read_blocks(
    mut follower: Follower,
    genesis: Hash32,
    poll: Duration,
    tx: mpsc::Sender<Result<VerifiedBlock, FetchError>>,
) {
    let (height, hash) = follower.tip();
    let mut checked = false;
    let mut failing = false;
    while !tx.is_closed() {
        let step = if checked {
            follower.next_block().map(Some)
        } else {
            same_chain(&mut follower, genesis, Cursor { height, hash }).map(|()| None)
        };
        match step {
            Ok(None) => checked = true,
            Ok(Some(block)) => {
                failing = false;
                if tx.blocking_send(Ok(block)).is_err() {
                    return;
                }
            }
            Err(FetchError::NotYet { .. }) => std::thread::sleep(poll),
            Err(e) if e.is_transient() => {
                if !failing {
                    tracing::warn!("{e}; retrying");
                    failing = true;
                }
                std::thread::sleep(Duration::from_millis(RETRY_DELAY_MS));
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

/// Refuses a node of another chain before anything else: its block 1 must
/// follow this genesis, and its block at the cursor must be the one
/// written.
fn same_chain(follower: &mut Follower, genesis: Hash32, cursor: Cursor) -> Result<(), FetchError> {
    let untrusted = |follower: &Follower, height: u64, reason: String| FetchError::Untrusted {
        node: follower.rpc().url().to_string(),
        height,
        reason,
    };
    let first = follower.verified(1);
    match first {
        Ok(b) if b.header.parent_hash != genesis => {
            return Err(untrusted(
                follower,
                1,
                format!(
                    "the node serves another chain: its block 1 follows genesis header {}, this database's chain starts at {genesis}",
                    b.header.parent_hash
                ),
            ));
        }
        Ok(_) | Err(FetchError::NotYet { .. }) => {}
        Err(e) => return Err(e),
    }
    if cursor.height > 1 {
        let at = follower.verified(cursor.height)?;
        if at.hash != cursor.hash {
            return Err(untrusted(
                follower,
                cursor.height,
                format!(
                    "the node's block at the cursor is {}, the database wrote {}",
                    at.hash, cursor.hash
                ),
            ));
        }
    }
    Ok(())
}
