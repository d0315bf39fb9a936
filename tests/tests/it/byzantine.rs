//! Real validator processes that misbehave: one whose clock runs a day
//! ahead, one that signs two blocks in a round. Both use test-only hooks
//! of workspace builds (`MERIT_TEST_CLOCK_OFFSET_MS`, `MERIT_TEST_MUTANT`);
//! a node built on its own has neither.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use merit_chain::consensus::{Evidence, ValidatorSet};
use merit_chain::encoding::BoundedString;
use merit_chain::{Hash32, Keypair, Symbol, TxKind};
use merit_tests::cluster::Cluster;
use serde_json::json;

const LONG: Duration = Duration::from_secs(60);
const DAY_MS: u64 = 86_400_000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A cluster of 4 validators where `env` of node `faulty` is set.
fn cluster_with(faulty: usize, env: (&str, String)) -> Cluster {
    let mut c = Cluster::prepare(4).expect("cluster files");
    c.nodes[faulty].env.push((env.0.to_string(), env.1));
    for i in 0..4 {
        c.start_node(i);
    }
    assert!(c.wait_rpc(&[0, 1, 2, 3], LONG));
    c
}

/// Signs `kind` from `key`, submits it to node `via` and waits for its
/// outcome: `None` when committed, its rejection code otherwise.
fn run(
    c: &Cluster,
    via: usize,
    key: &Keypair,
    nonce: u64,
    kind: TxKind,
) -> (String, Option<String>) {
    let height = c.rpc(via).height().expect("a live node");
    let tx = c.tx(key, nonce, height + 500, kind);
    let hash = c
        .rpc(via)
        .send(&tx)
        .unwrap_or_else(|e| panic!("submit: {e:?}\n{}", c.log_tail(via)));
    let v = c
        .rpc(via)
        .wait_final(&hash, LONG)
        .unwrap_or_else(|| panic!("{hash} not final\n{}", c.log_tail(via)));
    let code = v["code"].as_str().map(str::to_string);
    (hash, code)
}

#[test]
fn a_validator_a_day_ahead_gets_no_block_final_with_its_time() {
    let faulty = 3;
    let c = cluster_with(faulty, ("MERIT_TEST_CLOCK_OFFSET_MS", DAY_MS.to_string()));
    let merchant = c.layout.merchants[0].account.clone();
    let (alice, bob) = (c.shopper("alice"), c.shopper("bob"));

    // Points that expire a day after they are minted, and an escrow whose
    // deadline is an hour away: a block stamped a day ahead would expire
    // the first and open the second.
    let day = Symbol::new("DAY").unwrap();
    let create = TxKind::CreateToken {
        symbol: day,
        name: BoundedString::new("Day Points").unwrap(),
        decimals: 0,
        max_supply: 1_000,
        expiry_days: Some(1),
        freezable: false,
        clawback: false,
    };
    assert_eq!(run(&c, 0, &merchant, 1, create).1, None);
    let mint = TxKind::Mint {
        token: day,
        to: alice.public().into(),
        amount: 100,
    };
    assert_eq!(run(&c, 1, &merchant, 2, mint).1, None);
    let escrow = TxKind::EscrowCreate {
        token: Symbol::new("BEAN").unwrap(),
        to: bob.public().into(),
        amount: 500,
        deadline_ms: now_ms() + 3_600_000,
        order_id: None,
    };
    let (escrow_hash, code) = run(&c, 2, &alice, 1, escrow);
    assert_eq!(code, None);

    // Keep blocks coming until the fast validator has been the round-0
    // proposer of several heights.
    let start = c.rpc(0).height().unwrap();
    let mut nonce = 100;
    while c.rpc(0).height().unwrap() < start + 12 {
        let transfer = TxKind::Transfer {
            token: Symbol::new("BEAN").unwrap(),
            to: bob.public().into(),
            amount: 1,
            memo: None,
        };
        nonce += 1;
        assert_eq!(run(&c, nonce as usize % 3, &alice, nonce, transfer).1, None);
    }

    // Every final block is stamped no later than now (plus the precision):
    // none carries the fast clock's time.
    let precision = c.layout.genesis.consensus.precision_ms;
    let tip = c.rpc(0).height().unwrap();
    let faulty_key = c.layout.merchants[faulty].validator.public().to_bech32();
    let mut by_faulty = 0;
    for h in 1..=tip {
        let b = c.rpc(0).call("merit_getBlock", json!([h])).unwrap();
        let stamped = b["timestamp_ms"].as_u64().unwrap();
        assert!(
            stamped <= now_ms() + precision,
            "block {h} is stamped {} ms in the future",
            stamped - now_ms()
        );
        if b["proposer"] == faulty_key.as_str() {
            by_faulty += 1;
        }
    }
    // Its proposals were refused as untimely by the others.
    let untimely: f64 = (0..3)
        .filter_map(|i| c.metric(i, "merit_consensus_untimely_proposals_total"))
        .sum();
    assert!(
        untimely > 0.0,
        "the fast validator's proposals were never judged untimely"
    );
    assert_eq!(by_faulty, 0, "a block of the fast validator became final");

    // Points and escrow deadlines follow real time.
    assert_eq!(c.rpc(0).balance(&alice, "DAY").as_deref(), Some("100"));
    let refund = TxKind::EscrowRefund {
        id: Hash32::from_hex(&escrow_hash).unwrap(),
    };
    assert_eq!(
        run(&c, 0, &alice, 2, refund).1.as_deref(),
        Some("DeadlineNotReached")
    );
}

#[test]
fn a_double_voting_validator_leaves_evidence_that_get_evidence_returns() {
    let faulty = 2;
    let c = cluster_with(faulty, ("MERIT_TEST_MUTANT", "double-voter".to_string()));
    let (alice, bob) = (c.shopper("alice"), c.shopper("bob"));
    for nonce in 1..=4 {
        let transfer = TxKind::Transfer {
            token: Symbol::new("BEAN").unwrap(),
            to: bob.public().into(),
            amount: 1,
            memo: None,
        };
        assert_eq!(run(&c, 0, &alice, nonce, transfer).1, None);
    }
    let faulty_key = c.layout.merchants[faulty].validator.public();
    let set = ValidatorSet::new(
        c.layout
            .merchants
            .iter()
            .map(|m| m.validator.public())
            .collect(),
    )
    .unwrap();
    let chain_id = BoundedString::new(c.layout.genesis.chain_id.clone()).unwrap();
    for i in [0, 1, 3] {
        // A node keeps the evidence when it handles the two votes, which
        // may be a moment after the block is final elsewhere, and counts it
        // just after: wait for both (the double voter votes twice at every
        // height, heartbeats included).
        let end = std::time::Instant::now() + LONG;
        let found = loop {
            let found = c.rpc(i).call("merit_getEvidence", json!([])).unwrap();
            let counted = c.metric(i, "merit_consensus_evidence_total").unwrap_or(0.0);
            if found.as_array().is_some_and(|f| !f.is_empty()) && counted >= 1.0 {
                break found;
            }
            assert!(
                std::time::Instant::now() < end,
                "node {i} kept or counted no evidence: {found}\n{}",
                c.log_tail(i)
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let found = found.as_array().unwrap();
        for entry in found {
            assert_eq!(entry["validator"], faulty_key.to_bech32().as_str());
            assert_eq!(entry["kind"], "prepare");
            // The pair verifies on its own, without trusting the node.
            let bytes = hex::decode(entry["evidence"].as_str().unwrap()).unwrap();
            let e = Evidence::from_bytes(&bytes).unwrap();
            e.verify(&chain_id, &set).unwrap();
            assert_eq!(e.validator(), faulty_key);
        }
    }
}
