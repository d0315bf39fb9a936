//! A node that lies about a block gets nothing written: the indexer
//! checks the certificate against the validator set, the roots against
//! the certified header, and the parent against the block before. Each
//! check has a mutant that skips it, and each mutant writes the lie.

use std::time::Duration;

use merit_chain::Keypair;
use merit_indexer::fetch::Mutant;
use merit_tests::cluster::Cluster;
use merit_tests::lying_proxy::{Lie, LyingProxy};
use merit_tests::postgres::Postgres;
use serde_json::json;

use super::{Indexer, rows, wait_cursor};

/// Runs an honest indexer, then the mutant, each into its own database,
/// through a proxy that tells `lie` once the first blocks are written.
fn honest_refuses_and_mutant_writes(lie: Lie, mutant: Mutant) {
    let pg = Postgres::start().unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::start(4);
    assert!(cluster.wait_height(&[0], 1, Duration::from_secs(60)));
    let quorum: Vec<Keypair> = cluster.layout.merchants[..3]
        .iter()
        .map(|m| m.validator.clone())
        .collect();
    let proxy = LyingProxy::start(cluster.rpc(0).addr, quorum);
    let genesis = cluster.nodes[0].config.genesis.clone();

    for (db, run_as) in [("honest", None), ("mutant", Some(mutant))] {
        proxy.lie(Lie::Honest);
        pg.create_db(db).unwrap();
        let log = cluster.dir.path().join(format!("{db}.log"));
        let mut indexer = Indexer::spawn_mutant(&proxy.url(), &pg.url(db), &genesis, &log, run_as);
        let start = cluster.rpc(0).height().unwrap();
        assert!(
            wait_cursor(&pg, db, start, Duration::from_secs(60)),
            "{db}: nothing indexed:\n{}",
            indexer.log()
        );
        proxy.lie(lie);
        // A block with a committed transaction for the lie to change.
        let alice = cluster.shopper("alice");
        let tip = cluster.rpc(0).height().unwrap();
        let tx = cluster.tx(
            &alice,
            0x11e5 + tip,
            tip + 50,
            merit_chain::TxKind::Redeem {
                token: cluster.layout.merchants[1].token,
                amount: 1,
                memo: None,
            },
        );
        let hash = cluster.rpc(0).send(&tx).unwrap();
        assert!(
            cluster
                .rpc(0)
                .wait_final(&hash, Duration::from_secs(60))
                .is_some()
        );
        let status = indexer.wait_exit(Duration::from_secs(30));
        indexer.kill9();
        let written = lies_written(&pg, db, &cluster);
        match run_as {
            None => {
                assert_eq!(status.and_then(|s| s.code()), Some(3), "{}", indexer.log());
                assert!(
                    indexer.log().contains("does not verify"),
                    "{}",
                    indexer.log()
                );
                assert_eq!(
                    written,
                    Vec::<String>::new(),
                    "the honest indexer wrote a lie"
                );
            }
            Some(m) => assert!(
                !written.is_empty(),
                "the mutant {} went uncaught:\n{}",
                m.name(),
                indexer.log()
            ),
        }
    }
}

/// What the database holds that the node does not: blocks with another
/// hash, transactions with another status.
fn lies_written(pg: &Postgres, db: &str, cluster: &Cluster) -> Vec<String> {
    let rpc = cluster.rpc(0);
    let mut out = Vec::new();
    for r in rows(pg, db, "SELECT height, hash FROM blocks WHERE height > 0") {
        let node = rpc
            .call("merit_getBlock", json!([r[0].parse::<u64>().unwrap()]))
            .unwrap();
        if node["hash"] != r[1].as_str() {
            out.push(format!(
                "block {} is {}, the node's is {}",
                r[0], r[1], node["hash"]
            ));
        }
    }
    for r in rows(pg, db, "SELECT hash, status FROM transactions") {
        let node = rpc.call("merit_getTransaction", json!([r[0]])).unwrap();
        let status = node["code"].as_str().unwrap_or("committed");
        if status != r[1] {
            out.push(format!(
                "transaction {} is {}, the node says {status}",
                r[0], r[1]
            ));
        }
    }
    out
}

#[test]
fn a_receipt_that_is_not_under_the_certified_root_is_refused() {
    honest_refuses_and_mutant_writes(Lie::BlockReceipt, Mutant::TrustsRoots);
}

#[test]
fn a_block_certified_by_keys_of_no_validator_is_refused() {
    honest_refuses_and_mutant_writes(Lie::BlockForged, Mutant::TrustsCertificates);
}

#[test]
fn a_certified_block_that_does_not_follow_the_last_one_is_refused() {
    honest_refuses_and_mutant_writes(Lie::BlockForked, Mutant::IgnoresParent);
}
