//! A database belongs to one chain: the indexer refuses a genesis file of
//! another, and a node that serves another, and writes nothing.

use std::time::Duration;

use merit_tests::cluster::Cluster;
use merit_tests::postgres::Postgres;

use super::{Indexer, cursor, rows, rpc_url, wait_cursor};

const DB: &str = "bound";

#[test]
fn a_database_bound_to_one_chain_refuses_another() {
    let pg = Postgres::start().unwrap_or_else(|e| panic!("{e}"));
    pg.create_db(DB).unwrap();
    let url = pg.url(DB);
    let keep = tempfile::tempdir().unwrap();
    let first_genesis = keep.path().join("first-genesis.json");

    {
        let first = Cluster::start(4);
        std::fs::copy(&first.nodes[0].config.genesis, &first_genesis).unwrap();
        let log = keep.path().join("first.log");
        let mut indexer = Indexer::spawn(&rpc_url(&first, 0), &url, &first_genesis, &log);
        assert!(
            wait_cursor(&pg, DB, 2, Duration::from_secs(60)),
            "the first chain was not indexed:\n{}",
            indexer.log()
        );
        indexer.kill9();
    }
    let indexed = cursor(&pg, DB).unwrap();
    let count = || rows(&pg, DB, "SELECT count(*) FROM blocks")[0][0].clone();
    let blocks = count();

    // As after `devnet --reset`: a new chain on new ports.
    let second = Cluster::start(4);
    assert!(second.wait_height(&[0], 3, Duration::from_secs(60)));
    let second_genesis = second.nodes[0].config.genesis.clone();
    assert_ne!(
        std::fs::read(&first_genesis).unwrap(),
        std::fs::read(&second_genesis).unwrap()
    );
    let rpc = rpc_url(&second, 0);

    let log = keep.path().join("other-genesis.log");
    let mut indexer = Indexer::spawn(&rpc, &url, &second_genesis, &log);
    let status = indexer.wait_exit(Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(3), "{}", indexer.log());
    assert!(
        indexer
            .log()
            .contains("this database indexes the chain of genesis"),
        "{}",
        indexer.log()
    );

    let log = keep.path().join("other-node.log");
    let mut indexer = Indexer::spawn(&rpc, &url, &first_genesis, &log);
    let status = indexer.wait_exit(Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(3), "{}", indexer.log());
    assert!(
        indexer.log().contains("does not verify"),
        "{}",
        indexer.log()
    );

    assert_eq!(cursor(&pg, DB), Some(indexed), "the cursor moved");
    assert_eq!(count(), blocks, "blocks were written");
}
