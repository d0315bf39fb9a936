//! Exactly once: an indexer killed with SIGKILL 20 times, and a database
//! restarted under it, still holds every block once, and what it holds
//! agrees with the node.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use merit_api::{Account, AuditEntry};
use merit_tests::cluster::Cluster;
use merit_tests::postgres::Postgres;
use merit_tests::sim::rng::SimRng;
use serde_json::json;

use super::{Indexer, Load, cursor, decimals, rows, rpc_url, units, wait_cursor};

const DB: &str = "merit";
const KILLS: usize = 20;

#[test]
fn an_indexer_killed_twenty_times_and_a_database_restart_lose_and_repeat_nothing() {
    let pg = Postgres::start().unwrap_or_else(|e| panic!("{e}"));
    pg.create_db(DB).unwrap();
    let url = pg.url(DB);
    let cluster = Cluster::start(4);
    assert!(
        cluster.wait_height(&[0, 1, 2, 3], 1, Duration::from_secs(60)),
        "the cluster made no block"
    );
    let genesis = cluster.nodes[0].config.genesis.clone();
    let log = cluster.dir.path().join("indexer.log");
    let rpc = rpc_url(&cluster, 0);

    let mut load = Load::start(&cluster, 19);
    let mut indexer = Indexer::spawn(&rpc, &url, &genesis, &log);
    let mut rng = SimRng::new(0x1dec5);
    let mut cursors = Vec::new();
    for k in 0..KILLS {
        std::thread::sleep(Duration::from_millis(rng.range(300, 1_500)));
        if k == KILLS / 2 {
            // PostgreSQL goes away under a running indexer, which must
            // find it again by itself.
            let before = cursor(&pg, DB).unwrap_or(0);
            pg.restart().unwrap_or_else(|e| panic!("{e}"));
            assert!(
                wait_cursor(&pg, DB, before + 3, Duration::from_secs(60)),
                "the indexer did not resume after PostgreSQL restarted (cursor {before}):\n{}",
                indexer.log()
            );
        }
        indexer.kill9();
        cursors.push(cursor(&pg, DB).unwrap_or(0));
        indexer = Indexer::spawn(&rpc, &url, &genesis, &log);
    }
    let sent = load.stop();
    assert!(sent > 100, "the load sent only {sent} transactions");
    assert!(
        cursors.windows(2).filter(|w| w[1] > w[0]).count() >= KILLS / 2,
        "the indexer hardly moved between kills: {cursors:?}"
    );

    // Let the last transactions commit, then catch up and stop.
    let rpc0 = cluster.rpc(0);
    let quiet = rpc0.height().unwrap() + 5;
    assert!(cluster.wait_height(&[0], quiet, Duration::from_secs(120)));
    let tip = rpc0.height().unwrap();
    assert!(
        wait_cursor(&pg, DB, tip, Duration::from_secs(120)),
        "the indexer did not reach height {tip}:\n{}",
        indexer.log()
    );
    indexer.kill9();
    let resumed = indexer.log().matches("resuming from the cursor").count();
    assert!(
        resumed > KILLS,
        "{resumed} sessions for {KILLS} kills and a restart"
    );

    let indexed = cursor(&pg, DB).unwrap();
    blocks_form_the_nodes_chain(&pg, &cluster, indexed);
    journal_balances(&pg);
    aggregates_match_the_audit(&pg, &cluster);
    balances_match_the_accounts(&pg, &cluster);

    let kinds: BTreeSet<String> = rows(
        &pg,
        DB,
        "SELECT DISTINCT kind FROM transactions WHERE status = 'committed'",
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    sub_accounts_are_indexed(&pg, &cluster);
    for kind in [
        "OpenSubAccount",
        "Mint",
        "Transfer",
        "Pay",
        "Redeem",
        "PlaceOffer",
        "Freeze",
        "Unfreeze",
        "Clawback",
        "PayPath",
    ] {
        assert!(kinds.contains(kind), "no committed {kind}: {kinds:?}");
    }
}

/// The load's store: one row in `sub_accounts` with its label, the block
/// and the transaction that opened it, as the node has it; committed
/// payments into it (postings to `ADDRESS/1`, named so as counterparty)
/// and out of it (transactions whose envelope's `sub` is 1).
fn sub_accounts_are_indexed(pg: &Postgres, cluster: &Cluster) {
    let owner = cluster.layout.shoppers[0].key.public().to_bech32();
    let opened = rows(
        pg,
        DB,
        "SELECT account, sub, label, opened_height, tx_hash FROM sub_accounts ORDER BY account, sub",
    );
    assert_eq!(opened.len(), 1, "{opened:?}");
    let row = &opened[0];
    assert_eq!(
        row[..3],
        [
            owner.clone(),
            super::STORE.to_string(),
            "store 1".to_string()
        ]
    );
    let tx = cluster
        .rpc(0)
        .call("merit_getTransaction", json!([row[4]]))
        .unwrap();
    assert_eq!(tx["status"], "committed", "{tx}");
    assert_eq!(tx["height"].to_string(), row[3], "{tx}");
    let event = tx["events"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["type"] == "SubAccountOpened"))
        .unwrap_or_else(|| panic!("no SubAccountOpened event: {tx}"));
    assert_eq!(event["label"], "store 1", "{tx}");
    let kinds = rows(
        pg,
        DB,
        "SELECT kind, sender, sub FROM transactions WHERE status = 'committed' AND kind = 'OpenSubAccount'",
    );
    assert_eq!(
        kinds,
        vec![vec![
            "OpenSubAccount".to_string(),
            owner.clone(),
            "0".to_string()
        ]]
    );

    let store = format!("{owner}/{}", super::STORE);
    let count = |sql: &str| -> u64 { rows(pg, DB, sql)[0][0].parse().unwrap() };
    let paid_in = count(&format!(
        "SELECT count(*) FROM postings WHERE account = '{owner}' AND sub = {} AND side = 'credit' AND kind = 'Pay'",
        super::STORE
    ));
    let named = count(&format!(
        "SELECT count(*) FROM postings WHERE counterparty = '{store}' AND side = 'debit'"
    ));
    let paid_out = count(&format!(
        "SELECT count(*) FROM transactions WHERE sender = '{owner}' AND sub = {} AND status = 'committed'",
        super::STORE
    ));
    let journal_out = count(&format!(
        "SELECT count(*) FROM postings p JOIN transactions t ON t.hash = p.tx_hash
         WHERE t.sub = {s} AND p.account = '{owner}' AND p.sub = {s} AND p.side = 'debit'",
        s = super::STORE
    ));
    assert!(paid_in > 0, "no payment reached {store}");
    assert_eq!(named, paid_in, "payers' postings name {store}");
    assert!(paid_out > 0, "{store} paid nothing");
    assert_eq!(
        journal_out, paid_out,
        "each payment from {store} debits it once"
    );
}

/// Heights 0 to the cursor, each once, each the node's block, each
/// naming the one before as its parent; every transaction once.
fn blocks_form_the_nodes_chain(pg: &Postgres, cluster: &Cluster, indexed: u64) {
    let blocks = rows(
        pg,
        DB,
        "SELECT height, hash, parent_hash, tx_count FROM blocks ORDER BY height",
    );
    assert_eq!(blocks.len() as u64, indexed + 1, "a height is missing");
    let bound = rows(pg, DB, "SELECT genesis_hash FROM chain")[0][0].clone();
    let genesis = merit_genesis::Genesis::load(&cluster.nodes[0].config.genesis).unwrap();
    assert_eq!(bound, genesis.hash().to_hex());
    let rpc = cluster.rpc(0);
    let mut txs = 0u64;
    for (h, pair) in blocks.windows(2).enumerate() {
        let (parent, block) = (&pair[0], &pair[1]);
        let height = h as u64 + 1;
        assert_eq!(block[0], height.to_string());
        assert_eq!(block[2], parent[1], "block {height} does not follow {}", h);
        let node = rpc.call("merit_getBlock", json!([height])).unwrap();
        assert_eq!(block[1], node["hash"].as_str().unwrap(), "block {height}");
        let count = node["txs"].as_array().unwrap().len();
        assert_eq!(
            block[3],
            count.to_string(),
            "transactions of block {height}"
        );
        txs += count as u64;
    }
    let stored = rows(
        pg,
        DB,
        "SELECT count(*), count(DISTINCT hash) FROM transactions",
    );
    assert_eq!(stored[0], vec![txs.to_string(), txs.to_string()]);
    assert!(txs > 100, "only {txs} transactions were indexed");
}

/// Per block and token, debits equal credits; the balances and supply
/// tables are the postings' sums.
fn journal_balances(pg: &Postgres) {
    let unbalanced = rows(
        pg,
        DB,
        "SELECT height, token FROM postings GROUP BY height, token
         HAVING sum(CASE side WHEN 'credit' THEN amount ELSE -amount END) <> 0",
    );
    assert!(unbalanced.is_empty(), "unbalanced blocks: {unbalanced:?}");
    let drift = rows(
        pg,
        DB,
        "SELECT b.account, b.sub, b.token FROM balances b
         FULL JOIN (SELECT account, sub, token,
                           sum(CASE side WHEN 'credit' THEN amount ELSE -amount END) AS net
                    FROM postings WHERE account LIKE 'mrt1%' GROUP BY 1, 2, 3) p
           USING (account, sub, token)
         WHERE b.balance IS DISTINCT FROM p.net",
    );
    assert!(
        drift.is_empty(),
        "balances that are not their postings: {drift:?}"
    );
}

/// The supply of each token, recomputed from the raw postings alone,
/// equals `merit_audit`.
fn aggregates_match_the_audit(pg: &Postgres, cluster: &Cluster) {
    let decimals = decimals(pg, DB);
    let mut nets: BTreeMap<(String, String), i128> = BTreeMap::new();
    for r in rows(
        pg,
        DB,
        "SELECT token, CASE WHEN account LIKE 'mrt1%' THEN 'circulating' ELSE account END,
                sum(CASE side WHEN 'credit' THEN amount ELSE -amount END)
         FROM postings GROUP BY 1, 2",
    ) {
        nets.insert((r[0].clone(), r[1].clone()), r[2].parse().unwrap());
    }
    let net = |token: &str, account: &str| {
        nets.get(&(token.to_string(), account.to_string()))
            .copied()
            .unwrap_or(0)
    };
    let audit: Vec<AuditEntry> =
        serde_json::from_value(cluster.rpc(0).call("merit_audit", json!([])).unwrap()).unwrap();
    assert!(!audit.is_empty());
    for a in &audit {
        let d = decimals[&a.token];
        let t = a.token.as_str();
        let expect = |text: &str| i128::from(units(text, d));
        assert_eq!(-net(t, "issuance"), expect(&a.minted), "{t} minted");
        assert_eq!(
            net(t, "circulating"),
            expect(&a.circulating),
            "{t} circulating"
        );
        assert_eq!(
            net(t, "offer_locks"),
            expect(&a.locked_in_offers),
            "{t} offers"
        );
        assert_eq!(
            net(t, "escrow_locks"),
            expect(&a.locked_in_escrow),
            "{t} escrow"
        );
        assert_eq!(net(t, "redemption"), expect(&a.redeemed), "{t} redeemed");
        assert_eq!(net(t, "expiry"), expect(&a.expired), "{t} expired");
        assert_eq!(net(t, "frozen"), expect(&a.frozen), "{t} frozen");
        assert_eq!(
            net(t, "clawback"),
            expect(&a.clawed_back),
            "{t} clawed back"
        );
        let supply: BTreeMap<String, i128> = rows(
            pg,
            DB,
            &format!("SELECT bucket, amount FROM supply WHERE token = '{t}'"),
        )
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
        assert_eq!(
            supply.get("minted").copied(),
            Some(expect(&a.minted)),
            "{t}"
        );
        assert_eq!(
            supply.get("circulating").copied().unwrap_or(0),
            expect(&a.circulating),
            "{t}"
        );
    }
    let redeemed_somewhere = audit
        .iter()
        .any(|a| units(&a.redeemed, decimals[&a.token]) > 0);
    assert!(redeemed_somewhere, "no points were redeemed: {audit:?}");
}

/// `ADDRESS`, or `ADDRESS/N` for a sub-account.
fn account_ref(address: &str, sub: &str) -> String {
    match sub {
        "0" => address.to_string(),
        n => format!("{address}/{n}"),
    }
}

/// Every account and sub-account the journal names holds, on the node,
/// exactly the balances the database gives it.
fn balances_match_the_accounts(pg: &Postgres, cluster: &Cluster) {
    let decimals = decimals(pg, DB);
    let mut db: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in rows(
        pg,
        DB,
        "SELECT DISTINCT account, sub FROM postings WHERE account LIKE 'mrt1%'",
    ) {
        db.entry(account_ref(&r[0], &r[1])).or_default();
    }
    for r in rows(
        pg,
        DB,
        "SELECT account, sub, token, balance FROM balances WHERE balance <> 0",
    ) {
        db.entry(account_ref(&r[0], &r[1]))
            .or_default()
            .insert(r[2].clone(), r[3].parse().unwrap());
    }
    assert!(db.len() >= 7, "only {} accounts in the journal", db.len());
    let subs = db.keys().filter(|a| a.contains('/')).count();
    assert!(subs >= 1, "no sub-account in the journal: {:?}", db.keys());
    let rpc = cluster.rpc(0);
    for (address, balances) in &db {
        let account: Account =
            serde_json::from_value(rpc.call("merit_getAccount", json!([address])).unwrap())
                .unwrap();
        let node: BTreeMap<String, u64> = account
            .balances
            .iter()
            .map(|(t, v)| (t.clone(), units(v, decimals[t])))
            .filter(|(_, v)| *v > 0)
            .collect();
        assert_eq!(&node, balances, "the balances of {address}");
    }
}
