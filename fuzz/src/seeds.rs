//! Seed corpora, built from the golden fixtures and from honest runs.
//! `examples/gen_corpus.rs` writes them to `seeds/<target>/<name>`.

use std::collections::BTreeSet;

use merit_chain::encoding::{self, BoundedString};
use merit_chain::tx::{AccountRef, Price};
use merit_chain::{Block, Keypair, Transaction, TxKind};

use crate::consensus::{Cluster, Host};
use crate::fixture::sym;
use crate::rpc::{self, method_index};
use crate::world::{ALICE, BOB, CAROL, M1, M2, World};

/// One seed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: impl Into<String>, bytes: Vec<u8>) -> Seed {
    Seed {
        target,
        name: name.into(),
        bytes,
    }
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let world = World::new();
    let mut out = Vec::new();
    out.extend(tx_seeds(&world));
    out.extend(block_seeds(&world));
    out.extend(consensus_seeds());
    out.extend(rpc_seeds());
    out
}

/// Transactions that mean something in the world, each signed by the key
/// its nonce picks.
pub fn world_transactions(world: &World) -> Vec<(&'static str, Transaction)> {
    let w = world;
    let pk = |i: usize| w.signers[i].public();
    let order = |s: &str| BoundedString::new(s).expect("an order id");
    let pay = |n: usize| TxKind::Pay {
        order_id: order(&format!("order-{n}")),
        legs: crate::fixture::legs(
            sym("BEAN"),
            &(0..n)
                .map(|i| (pk([BOB, CAROL, M1][i % 3]), 1 + i as u64))
                .collect::<Vec<_>>(),
        ),
        memo: None,
    };
    let pay_path = |path: &[&str]| TxKind::PayPath {
        send_token: sym("BEAN"),
        send_max: 100,
        dest_token: sym("PERK"),
        dest_amount: 10,
        to: pk(CAROL).into(),
        path: merit_chain::encoding::BoundedVec::new(path.iter().map(|t| sym(t)).collect())
            .expect("a short path"),
        order_id: None,
        memo: None,
    };
    let late = |who: usize, hours: u64| -> u64 {
        let n = hours << 40;
        let len = w.signers.len() as u64;
        n + (who as u64 + len - n % len) % len
    };
    let mut txs = vec![
        (
            "mint",
            w.tx(
                M1,
                1,
                TxKind::Mint {
                    token: sym("BEAN"),
                    to: pk(CAROL).into(),
                    amount: 777,
                },
            ),
        ),
        (
            "create-token",
            w.tx(
                M2,
                2,
                TxKind::CreateToken {
                    symbol: sym("PAGE"),
                    name: BoundedString::new("Page points").expect("a name"),
                    decimals: 3,
                    max_supply: 10_000,
                    expiry_days: Some(90),
                    freezable: false,
                    clawback: false,
                },
            ),
        ),
        (
            "transfer-expiring",
            w.tx(
                ALICE,
                3,
                TxKind::Transfer {
                    token: sym("PERK"),
                    to: pk(BOB).into(),
                    amount: 150,
                    memo: None,
                },
            ),
        ),
        ("pay-3", w.tx(ALICE, 4, pay(3))),
        ("pay-50", w.tx(ALICE, 5, pay(50))),
        ("pay-51", w.tx(ALICE, 6, pay(51))),
        (
            "refund",
            w.tx(
                BOB,
                7,
                TxKind::Refund {
                    payment: w.payment,
                    token: sym("BEAN"),
                    amount: 30,
                },
            ),
        ),
        (
            "redeem",
            w.tx(
                BOB,
                8,
                TxKind::Redeem {
                    token: sym("BEAN"),
                    amount: 40,
                    memo: Some(BoundedString::new("coffee").expect("a memo")),
                },
            ),
        ),
        (
            "offer-cross",
            w.tx(
                CAROL,
                9,
                TxKind::PlaceOffer {
                    sell: sym("BOOK"),
                    buy: sym("BEAN"),
                    amount: 90,
                    price: Price::new(3, 1),
                },
            ),
        ),
        (
            "offer-self-cross",
            w.tx(
                ALICE,
                10,
                TxKind::PlaceOffer {
                    sell: sym("BOOK"),
                    buy: sym("BEAN"),
                    amount: 10,
                    price: Price::new(3, 1),
                },
            ),
        ),
        (
            "offer-take-carol",
            w.tx(
                BOB,
                11,
                TxKind::PlaceOffer {
                    sell: sym("BEAN"),
                    buy: sym("BOOK"),
                    amount: 400,
                    price: Price::new(1, 4),
                },
            ),
        ),
        (
            "offer-take-perk",
            w.tx(
                BOB,
                12,
                TxKind::PlaceOffer {
                    sell: sym("BEAN"),
                    buy: sym("PERK"),
                    amount: 120,
                    price: Price::new(1, 1),
                },
            ),
        ),
        (
            "cancel-offer",
            w.tx(
                ALICE,
                13,
                TxKind::CancelOffer {
                    offer_id: w.offers[0],
                },
            ),
        ),
        (
            "escrow-create",
            w.tx(
                CAROL,
                14,
                TxKind::EscrowCreate {
                    token: sym("BOOK"),
                    to: pk(ALICE).into(),
                    amount: 60,
                    deadline_ms: w.ledger.tip().timestamp_ms + 3_600_000,
                    order_id: Some(order("trade-9")),
                },
            ),
        ),
        (
            "escrow-release",
            w.tx(ALICE, 15, TxKind::EscrowRelease { id: w.escrows[0] }),
        ),
        (
            "escrow-refund-payee",
            w.tx(BOB, 16, TxKind::EscrowRefund { id: w.escrows[0] }),
        ),
        (
            "escrow-refund-payer",
            w.tx(ALICE, 17, TxKind::EscrowRefund { id: w.escrows[1] }),
        ),
        (
            "escrow-closed",
            w.tx(BOB, 18, TxKind::EscrowRelease { id: w.escrows[2] }),
        ),
        (
            "freeze-not-freezable",
            w.tx(
                M1,
                20,
                TxKind::Freeze {
                    token: sym("BEAN"),
                    account: merit_chain::tx::AccountRef::main(pk(ALICE)),
                    amount: 5,
                },
            ),
        ),
        (
            "clawback-disabled",
            w.tx(
                M1,
                21,
                TxKind::Clawback {
                    token: sym("BEAN"),
                    from: merit_chain::tx::AccountRef::main(pk(ALICE)),
                    amount: 5,
                    memo: None,
                },
            ),
        ),
        (
            "pay-combined",
            w.tx(
                ALICE,
                22,
                TxKind::Pay {
                    order_id: order("order-combined"),
                    legs: merit_chain::encoding::BoundedVec::new(vec![
                        merit_chain::tx::PayLeg {
                            to: pk(BOB).into(),
                            token: sym("BEAN"),
                            amount: 5,
                        },
                        merit_chain::tx::PayLeg {
                            to: pk(CAROL).into(),
                            token: sym("PERK"),
                            amount: 3,
                        },
                    ])
                    .expect("two legs"),
                    memo: None,
                },
            ),
        ),
        (
            "open-sub-account",
            w.tx(
                ALICE,
                26,
                TxKind::OpenSubAccount {
                    label: BoundedString::new("store 12 · 南京路").expect("a label"),
                },
            ),
        ),
        (
            "transfer-to-sub-account",
            w.tx(
                ALICE,
                27,
                TxKind::Transfer {
                    token: sym("BEAN"),
                    to: AccountRef::new(pk(BOB), 1),
                    amount: 25,
                    memo: None,
                },
            ),
        ),
        (
            "transfer-from-sub-account",
            w.tx_from(
                BOB,
                1,
                28,
                TxKind::Transfer {
                    token: sym("BEAN"),
                    to: pk(CAROL).into(),
                    amount: 40,
                    memo: None,
                },
            ),
        ),
        (
            "transfer-to-unopened-sub-account",
            w.tx(
                ALICE,
                29,
                TxKind::Transfer {
                    token: sym("BEAN"),
                    to: AccountRef::new(pk(BOB), 2),
                    amount: 25,
                    memo: None,
                },
            ),
        ),
        (
            "pay-from-unopened-sub-account",
            w.tx_from(ALICE, 1, 30, pay(3)),
        ),
        ("pay-path", w.tx(BOB, 23, pay_path(&[]))),
        ("pay-path-self-cross", w.tx(ALICE, 24, pay_path(&[]))),
        (
            "pay-path-too-long",
            w.tx(BOB, 25, pay_path(&["A1", "A2", "A3", "A4"])),
        ),
    ];
    // A day and more later: the expiring token's lots are gone.
    let mut body = w
        .tx(
            ALICE,
            19,
            TxKind::Redeem {
                token: sym("PERK"),
                amount: 10,
                memo: None,
            },
        )
        .body;
    body.nonce = late(ALICE, 30);
    txs.push(("redeem-after-expiry", w.resign(body)));
    txs
}

fn tx_seeds(world: &World) -> Vec<Seed> {
    let t = "tx_decode_validate";
    let mut out: Vec<Seed> = crate::golden_transactions()
        .into_iter()
        .map(|(name, tx)| seed(t, format!("golden-{name}"), tx.to_bytes()))
        .collect();
    out.extend(
        world_transactions(world)
            .into_iter()
            .map(|(name, tx)| seed(t, format!("world-{name}"), tx.to_bytes())),
    );
    out
}

fn block_seeds(world: &World) -> Vec<Seed> {
    let t = "block_cert_decode";
    let ledger = &world.ledger;
    let time = ledger.tip().timestamp_ms + 1000;
    let proposer = world.validators[1].public();
    let blocks: Vec<(&str, Block)> = vec![
        ("empty", ledger.build_block(0, time, proposer, Vec::new()).0),
        (
            "world",
            ledger
                .build_block(
                    0,
                    time,
                    proposer,
                    world_transactions(world)
                        .into_iter()
                        .map(|(_, tx)| tx)
                        .collect(),
                )
                .0,
        ),
        (
            "golden",
            ledger
                .build_block(
                    2,
                    time + 90_000_000,
                    proposer,
                    crate::golden_transactions()
                        .into_iter()
                        .map(|(_, tx)| tx)
                        .collect(),
                )
                .0,
        ),
    ];
    let mut out = Vec::new();
    for (name, block) in &blocks {
        out.push(seed(t, format!("block-{name}"), block.to_bytes()));
        out.push(seed(
            t,
            format!("header-{name}"),
            encoding::encode(&block.header),
        ));
        let cert = certificate(&world.validators[..3], block);
        out.push(seed(t, format!("cert-{name}"), encoding::encode(&cert)));
    }
    let (_, outcome) = ledger.build_block(
        0,
        time,
        proposer,
        world_transactions(world)
            .into_iter()
            .map(|(_, tx)| tx)
            .collect(),
    );
    let mut kinds = BTreeSet::new();
    for r in &outcome.receipts {
        let kind = match r.code() {
            Some(code) => format!("rejected-{}", code.name()),
            None => format!("events-{}", r.events().len()),
        };
        if kinds.insert(kind.clone()) {
            out.push(seed(t, format!("receipt-{kind}"), encoding::encode(r)));
        }
    }
    out
}

/// A commit certificate for `block` by `signers`.
pub fn certificate(signers: &[Keypair], block: &Block) -> merit_chain::CommitCertificate {
    use merit_chain::block::ValidatorSignature;
    use merit_chain::consensus::{Statement, Vote, signing_bytes};
    let vote = Vote {
        height: block.header.height,
        round: block.header.round,
        block_hash: block.hash(),
    };
    let bytes = signing_bytes(&block.header.chain_id, &Statement::Commit(vote));
    let sigs = signers
        .iter()
        .map(|k| ValidatorSignature {
            validator: k.public(),
            signature: k.sign(&bytes),
        })
        .collect();
    merit_chain::CommitCertificate {
        height: vote.height,
        round: vote.round,
        block_hash: vote.block_hash,
        signatures: merit_chain::encoding::BoundedVec::new(sigs).expect("a few signers"),
    }
}

/// Honest runs of four validators at height 1: a plain round 0, a lost
/// proposal and a view change, a view change with prepared certificates,
/// and a validator that missed the height and gets a Decision.
pub fn consensus_scenarios() -> Vec<(&'static str, Cluster)> {
    use merit_chain::consensus::Statement;
    let mut plain = Cluster::new(1);
    plain.settle();

    let mut lost = Cluster::new(1);
    lost.settle_where(|_, _, m| !matches!(m.statement(), Statement::PrePrepare(_)));
    lost.timeout(&[0, 1, 2, 3]);
    lost.settle();

    let mut locked = Cluster::new(1);
    locked.settle_where(|_, _, m| !matches!(m.statement(), Statement::Commit(_)));
    locked.timeout(&[0, 1, 2, 3]);
    locked.settle();

    let mut behind = Cluster::new(1);
    behind.settle_where(|from, to, _| from != 3 && to != 3);
    behind.timeout(&[3]);
    behind.settle();

    vec![
        ("round0", plain),
        ("viewchange", lost),
        ("locked", locked),
        ("decision", behind),
    ]
}

fn inbox_frames(host: &Host) -> Vec<u8> {
    let frames: Vec<&[u8]> = host
        .inbox
        .iter()
        .map(|f| f.as_deref().unwrap_or(&[]))
        .collect();
    crate::join_frames(frames)
}

fn consensus_seeds() -> Vec<Seed> {
    let t = "consensus_message_decode";
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut persisted = BTreeSet::new();
    for (name, cluster) in consensus_scenarios() {
        for (i, host) in cluster.hosts.iter().enumerate() {
            assert!(
                name == "decision" && i == 3 || host.commits.len() == 1,
                "{name}: validator {i} did not commit"
            );
        }
        out.push(seed(
            t,
            format!("seq-{name}-v0"),
            inbox_frames(&cluster.hosts[0]),
        ));
        if name == "decision" {
            out.push(seed(
                t,
                format!("seq-{name}-v3"),
                inbox_frames(&cluster.hosts[3]),
            ));
        }
        for msg in &cluster.delivered {
            let bytes = msg.to_bytes();
            let kind = msg.statement().kind().name();
            let label = format!(
                "{kind}-r{}-{}",
                msg.statement().round(),
                msg.block.is_some()
            );
            if seen.insert(label.clone()) {
                out.push(seed(t, format!("msg-{name}-{label}"), bytes));
            }
        }
        for host in &cluster.hosts {
            for p in &host.persisted_log {
                let label = format!(
                    "r{}-{}{}{}-{}",
                    p.round,
                    u8::from(p.votes.proposal.is_some()),
                    u8::from(p.votes.prepare.is_some()),
                    u8::from(p.votes.commit.is_some()),
                    p.lock.is_some()
                );
                if persisted.insert(label.clone()) {
                    out.push(seed(t, format!("persisted-{label}"), p.to_bytes()));
                }
            }
        }
    }
    out
}

fn rpc_seeds() -> Vec<Seed> {
    let t = "rpc_params";
    let f = rpc::facts();
    let hex_of = |tx: &Transaction| hex::encode(tx.to_bytes());
    let alice = &f.addresses[0];
    let merchant = &f.addresses[3];
    let store = &f.sub_accounts[0];
    let committed = &f.committed;
    let rejected = committed.last().expect("a rejected transaction");
    let calls: Vec<(&str, &str, String)> = vec![
        ("merit_health", "none", "[]".into()),
        ("merit_status", "none", "[]".into()),
        (
            "merit_sendTransaction",
            "fresh",
            format!(r#"["{}"]"#, hex_of(&f.fresh[0])),
        ),
        (
            "merit_sendTransaction",
            "fresh-0x",
            format!(r#"["0x{}"]"#, hex_of(&f.fresh[1])),
        ),
        (
            "merit_sendTransaction",
            "escrow-refund",
            format!(r#"["{}"]"#, hex_of(&f.fresh[2])),
        ),
        (
            "merit_sendTransaction",
            "committed",
            format!(r#"["{}"]"#, hex_of(&committed[0])),
        ),
        ("merit_sendTransaction", "not-hex", r#"["zz"]"#.into()),
        (
            "merit_getTransaction",
            "committed",
            format!(r#"["{}"]"#, committed[1].hash()),
        ),
        (
            "merit_getTransaction",
            "rejected",
            format!(r#"["{}"]"#, rejected.hash()),
        ),
        (
            "merit_getTransaction",
            "unknown",
            format!(r#"["0x{}"]"#, "ab".repeat(32)),
        ),
        ("merit_getAccount", "shopper", format!(r#"["{alice}"]"#)),
        ("merit_getAccount", "merchant", format!(r#"["{merchant}"]"#)),
        (
            "merit_getAccount",
            "named",
            format!(r#"{{"address":"{alice}"}}"#),
        ),
        ("merit_getToken", "plain", r#"["BEAN"]"#.into()),
        ("merit_getToken", "expiring", r#"["MILES"]"#.into()),
        ("merit_getToken", "unknown", r#"["NOPE"]"#.into()),
        ("merit_listTokens", "none", "[]".into()),
        ("merit_getBlock", "one", "[1]".into()),
        ("merit_getBlock", "latest", r#"["latest"]"#.into()),
        ("merit_getBlock", "genesis", "[0]".into()),
        ("merit_getBlock", "ahead", "[18446744073709551615]".into()),
        ("merit_getOrderBook", "pair", r#"["BEAN","BOOK"]"#.into()),
        ("merit_getOrderBook", "limit", r#"["BOOK","BEAN",5]"#.into()),
        ("merit_findPaths", "direct", r#"["BOOK","FUEL","0.5"]"#.into()),
        ("merit_findPaths", "too-much", r#"["BEAN","BOOK","1000000"]"#.into()),
        ("merit_findPaths", "same", r#"["BEAN","BEAN","1"]"#.into()),
        ("rpc.discover", "none", "[]".into()),
        (
            "merit_getEscrow",
            "open",
            format!(r#"["{}"]"#, f.escrows[0]),
        ),
        (
            "merit_getEscrow",
            "other",
            format!(r#"["{}"]"#, f.escrows[1]),
        ),
        ("merit_getHistory", "all", format!(r#"["{alice}"]"#)),
        (
            "merit_getHistory",
            "page",
            format!(r#"["{alice}","2:1",2]"#),
        ),
        (
            "merit_getHistory",
            "limit",
            format!(r#"["{alice}",null,1]"#),
        ),
        ("merit_audit", "all", "[]".into()),
        ("merit_audit", "token", r#"["MILES"]"#.into()),
        ("merit_validators", "none", "[]".into()),
        ("merit_subscribe", "blocks", r#"["newBlocks"]"#.into()),
        (
            "merit_subscribe",
            "account",
            format!(r#"["account","{alice}"]"#),
        ),
        ("merit_subscribe", "unknown", r#"["oldBlocks"]"#.into()),
        ("merit_unsubscribe", "id", "[1]".into()),
        ("merit_noSuchMethod", "none", "[]".into()),
        (
            "merit_getSubAccounts",
            "opened",
            format!(r#"["{alice}"]"#),
        ),
        (
            "merit_getSubAccounts",
            "none",
            format!(r#"["{merchant}"]"#),
        ),
        (
            "merit_getSubAccounts",
            "sub-account",
            format!(r#"["{store}"]"#),
        ),
        ("merit_getAccount", "sub-account", format!(r#"["{store}"]"#)),
        (
            "merit_getAccount",
            "unopened-sub-account",
            format!(r#"["{alice}/2"]"#),
        ),
        (
            "merit_getAccount",
            "sub-account-overflow",
            format!(r#"["{alice}/4294967296"]"#),
        ),
        (
            "merit_getHistory",
            "sub-account",
            format!(r#"["{alice}",{{"sub":1}}]"#),
        ),
    ];
    calls
        .into_iter()
        .map(|(method, name, params)| {
            let mut bytes = vec![method_index(method)];
            bytes.extend_from_slice(params.as_bytes());
            let short = method.trim_start_matches("merit_");
            seed(t, format!("{short}-{name}"), bytes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::check_single;

    /// The world seeds reach the rules they are named after.
    #[test]
    fn world_transactions_have_the_expected_outcomes() {
        let world = World::new();
        let rejected = [
            ("pay-51", "TooManyLegs"),
            ("offer-self-cross", "SelfCross"),
            ("escrow-closed", "EscrowClosed"),
            ("redeem-after-expiry", "InsufficientBalance"),
            ("freeze-not-freezable", "NotFreezable"),
            ("clawback-disabled", "ClawbackDisabled"),
            ("pay-path-self-cross", "SelfCross"),
            ("pay-path-too-long", "PathTooLong"),
            ("transfer-to-unopened-sub-account", "UnknownSubAccount"),
            ("pay-from-unopened-sub-account", "UnknownSubAccount"),
        ];
        for (name, tx) in world_transactions(&world) {
            let r = check_single(&world.ledger, &world.context(tx.body.nonce), &tx);
            let want = rejected.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
            assert_eq!(r.code().map(|c| c.name()), want, "{name}: {r:?}");
        }
    }

    #[test]
    fn seeds_are_named_uniquely() {
        let seeds = all();
        let names: BTreeSet<_> = seeds.iter().map(|s| (s.target, s.name.clone())).collect();
        assert_eq!(names.len(), seeds.len());
    }
}
