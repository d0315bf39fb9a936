//! The indexer against real node processes and a real PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod cli;
mod follow;
mod lies;
mod refuse;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::tx::{AccountRef, Memo, OrderId, PayLeg, Price};
use merit_chain::{Keypair, TxKind};
use merit_indexer::fetch::Mutant;
use merit_tests::cluster::Cluster;
use merit_tests::postgres::Postgres;
use merit_tests::sim::rng::SimRng;

/// The `merit-indexer` binary cargo built beside this test.
fn indexer_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_merit-indexer"))
}

/// An indexer process, its output appended to one log.
struct Indexer {
    child: Child,
    log: PathBuf,
}

impl Indexer {
    fn spawn(rpc: &str, postgres: &str, genesis: &Path, log: &Path) -> Indexer {
        Indexer::spawn_mutant(rpc, postgres, genesis, log, None)
    }

    /// An indexer that runs as the mutant `mutant` names.
    fn spawn_mutant(
        rpc: &str,
        postgres: &str,
        genesis: &Path,
        log: &Path,
        mutant: Option<Mutant>,
    ) -> Indexer {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("indexer log");
        let mut command = Command::new(indexer_binary());
        if let Some(m) = mutant {
            command.env(Mutant::ENV, m.name());
        }
        let child = command
            .args(["--rpc", rpc, "--postgres", postgres, "--poll-ms", "50"])
            .arg("--genesis")
            .arg(genesis)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("start merit-indexer");
        Indexer {
            child,
            log: log.to_path_buf(),
        }
    }

    /// SIGKILL: no cleanup of any kind.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn rpc_url(cluster: &Cluster, i: usize) -> String {
    format!("http://{}", cluster.rpc(i).addr)
}

/// The indexer's cursor, or `None` before the database is bound.
fn cursor(pg: &Postgres, db: &str) -> Option<u64> {
    pg.psql(db, "SELECT height FROM indexer_cursor")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

fn wait_cursor(pg: &Postgres, db: &str, height: u64, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cursor(pg, db).is_some_and(|h| h >= height) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Rows of `sql`, each split on `|`.
fn rows(pg: &Postgres, db: &str, sql: &str) -> Vec<Vec<String>> {
    pg.psql(db, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// A load of every kind that moves points: mints, transfers and split
/// payments with memos, redemptions, offers that lock points and trade,
/// and the issuer's freezes, unfreezes and clawbacks. The first shopper
/// opens a sub-account, [`STORE`], which every round pays into and out of
/// (the envelope's `sub`). Some are rejected (an overspend, a crossed book,
/// a payment to the sub-account before it is opened); those post nothing.
/// The sub-account the load's first shopper opens.
const STORE: u32 = 1;

struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(cluster: &Cluster, seed: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let rpcs: Vec<_> = (0..cluster.nodes.len()).map(|i| cluster.rpc(i)).collect();
        let chain_id = cluster.layout.genesis.chain_id.clone();
        let merchants: Vec<(Keypair, merit_chain::Symbol)> = cluster
            .layout
            .merchants
            .iter()
            .map(|m| (m.account.clone(), m.token))
            .collect();
        let shoppers: Vec<Keypair> = cluster
            .layout
            .shoppers
            .iter()
            .map(|s| s.key.clone())
            .collect();
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let mut rng = SimRng::new(seed);
            let mut round = 0u64;
            let owner = &shoppers[0];
            let store = AccountRef::new(owner.public(), STORE);
            let mut opened = false;
            while !stop2.load(Ordering::Relaxed) {
                round += 1;
                let rpc = &rpcs[rng.index(rpcs.len())];
                let Some(tip) = rpc.height() else {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                let (merchant, token) = &merchants[rng.index(merchants.len())];
                let (_, other_token) = &merchants[rng.index(merchants.len())];
                let shopper = &shoppers[rng.index(shoppers.len())];
                let peer = &shoppers[rng.index(shoppers.len())];
                let memo = |s: String| Some(Memo::new(s).unwrap());
                let mut txs: Vec<(&Keypair, u32, TxKind)> = vec![
                    (
                        merchant,
                        0,
                        TxKind::Mint {
                            token: *token,
                            to: shopper.public().into(),
                            amount: rng.range(100, 1_000),
                        },
                    ),
                    (
                        shopper,
                        0,
                        TxKind::Transfer {
                            token: *token,
                            to: peer.public().into(),
                            amount: rng.range(1, 50),
                            memo: memo(format!("round {round}")),
                        },
                    ),
                    (
                        shopper,
                        0,
                        TxKind::Pay {
                            order_id: OrderId::new(format!("order-{seed}-{round}")).unwrap(),
                            legs: BoundedVec::new(vec![
                                PayLeg {
                                    to: merchant.public().into(),
                                    token: *token,
                                    amount: rng.range(1, 40),
                                },
                                // A combined payment when the tokens differ.
                                PayLeg {
                                    to: peer.public().into(),
                                    token: *other_token,
                                    amount: 1,
                                },
                            ])
                            .unwrap(),
                            memo: memo(format!("till {round}")),
                        },
                    ),
                    (
                        shopper,
                        0,
                        TxKind::Redeem {
                            token: *token,
                            amount: rng.range(1, 5),
                            memo: None,
                        },
                    ),
                ];
                // The devnet's BEAN (merchant 0) is freezable, with clawback.
                let (issuer, bean) = &merchants[0];
                let shopper_ref = merit_chain::tx::AccountRef::main(shopper.public());
                txs.push((
                    issuer,
                    0,
                    match round % 4 {
                        0 => TxKind::Unfreeze {
                            token: *bean,
                            account: shopper_ref,
                            amount: rng.range(1, 20),
                        },
                        1 => TxKind::Clawback {
                            token: *bean,
                            from: shopper_ref,
                            amount: rng.range(1, 10),
                            memo: memo(format!("chargeback {round}")),
                        },
                        _ => TxKind::Freeze {
                            token: *bean,
                            account: shopper_ref,
                            amount: rng.range(1, 20),
                        },
                    },
                ));
                if other_token != token {
                    txs.push((
                        shopper,
                        0,
                        TxKind::PlaceOffer {
                            sell: *token,
                            buy: *other_token,
                            amount: rng.range(1, 20),
                            price: Price { n: 1, d: 1 },
                        },
                    ));
                    // A path payment through the offers other rounds rest.
                    txs.push((
                        shopper,
                        0,
                        TxKind::PayPath {
                            send_token: *token,
                            send_max: 1_000,
                            dest_token: *other_token,
                            dest_amount: rng.range(1, 5),
                            to: peer.public().into(),
                            path: BoundedVec::new(Vec::new()).unwrap(),
                            order_id: None,
                            memo: memo(format!("path {round}")),
                        },
                    ));
                }
                // The store's sub-account: opened once, then paid into by
                // a shopper and paying a merchant from the envelope's `sub`.
                if !opened {
                    txs.insert(
                        0,
                        (
                            owner,
                            0,
                            TxKind::OpenSubAccount {
                                label: BoundedString::new("store 1").unwrap(),
                            },
                        ),
                    );
                }
                txs.push((
                    shopper,
                    0,
                    TxKind::Pay {
                        order_id: OrderId::new(format!("store-{seed}-{round}")).unwrap(),
                        legs: BoundedVec::new(vec![PayLeg {
                            to: store,
                            token: *token,
                            amount: rng.range(5, 30),
                        }])
                        .unwrap(),
                        memo: None,
                    },
                ));
                txs.push((
                    owner,
                    STORE,
                    TxKind::Pay {
                        order_id: OrderId::new(format!("till-{seed}-{round}")).unwrap(),
                        legs: BoundedVec::new(vec![PayLeg {
                            to: merchant.public().into(),
                            token: *token,
                            amount: rng.range(1, 5),
                        }])
                        .unwrap(),
                        memo: memo(format!("store till {round}")),
                    },
                ));
                for (key, sub, kind) in txs {
                    let open = matches!(kind, TxKind::OpenSubAccount { .. });
                    let tx = merit_chain::TxBody {
                        chain_id: BoundedString::new(chain_id.clone()).unwrap(),
                        sender: key.public(),
                        sub,
                        nonce: rng.next_u64(),
                        expires_at_height: tip + 100,
                        kind,
                    }
                    .sign(key);
                    if rpc.send(&tx).is_ok() {
                        opened |= open;
                        sent2.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Load {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("the load thread");
        }
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Base units of a decimal amount the node printed.
fn units(text: &str, decimals: u8) -> u64 {
    merit_chain::amount::parse_amount(text, decimals)
        .unwrap_or_else(|e| panic!("the node printed {text}: {e:?}"))
}

/// Each token's decimals, as the database holds them.
fn decimals(pg: &Postgres, db: &str) -> BTreeMap<String, u8> {
    rows(pg, db, "SELECT symbol, decimals FROM tokens")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect()
}
