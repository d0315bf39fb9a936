//! The RocksDB store: a node that reopens finds exactly the state it had,
//! and refuses to start on corrupted state.

use merit_chain::encoding;
use merit_chain::state::{Holding, StateKey, StateValue};
use merit_chain::tx::Price;
use merit_chain::{Keypair, Transaction, TxKind};
use merit_store::{BookIndexKey, RocksStorage, Storage, StorageError, TxLocation};

use crate::fixture::*;

/// Writes raw bytes into a column family of a closed store, as disk
/// corruption or a careless operator would, bypassing every check.
fn raw_put(dir: &std::path::Path, cf: &str, key: &[u8], value: &[u8]) {
    let opts = rocksdb::Options::default();
    let cfs = rocksdb::DB::list_cf(&opts, dir).unwrap();
    let db = rocksdb::DB::open_cf(&opts, dir, cfs).unwrap();
    db.put_cf(db.cf_handle(cf).unwrap(), key, value).unwrap();
}

/// Executes one block of `txs` (all must succeed), stores it and applies it.
fn commit(store: &RocksStorage, a: &mut Alliance, txs: Vec<Transaction>) {
    let time = a.ledger.tip().timestamp_ms + 1000;
    let (block, outcome) = a.ledger.build_block(0, time, a.m1.public(), txs);
    assert!(
        outcome.receipts.iter().all(|r| r.code().is_none()),
        "{:?}",
        outcome.receipts
    );
    store.commit_block(&block, None, &outcome).unwrap();
    a.ledger.apply(&block.header, outcome);
}

/// Runs 100 blocks of transfers and payments through a ledger and a store.
fn hundred_blocks(dir: &std::path::Path) -> (Alliance, Vec<Keypair>, Vec<merit_chain::Hash32>) {
    let store = RocksStorage::open(dir).unwrap();
    let mut a = Alliance::new();
    let genesis = a.ledger.tip().clone();
    store.commit_genesis(&genesis, &a.genesis).unwrap();
    let shoppers: Vec<Keypair> = (0..20).map(|i| key(&format!("shopper-{i}"))).collect();
    let alice = a.alice.clone();
    let mut hashes = Vec::new();
    for height in 1..=100u64 {
        let to = &shoppers[(height % 20) as usize];
        let mut txs = vec![a.tx(&alice, Alliance::transfer("BEAN", to, height))];
        if height % 10 == 0 {
            let back = a.tx(to, Alliance::transfer("BEAN", &alice, 1));
            txs.push(back);
        }
        hashes.extend(txs.iter().map(|t| t.hash()));
        let time = GENESIS_TIME_MS + height * 1000;
        let (block, outcome) = a.ledger.build_block(0, time, a.m1.public(), txs);
        store.commit_block(&block, None, &outcome).unwrap();
        a.ledger.apply(&block.header, outcome);
    }
    (a, shoppers, hashes)
}

#[test]
fn reopening_after_100_blocks_restores_the_exact_state() {
    let dir = tempfile::tempdir().unwrap();
    let (a, shoppers, hashes) = hundred_blocks(dir.path());
    let store = RocksStorage::open(dir.path()).unwrap();
    let reopened = store.open_ledger(&chain_id()).unwrap().unwrap();
    assert_eq!(reopened.height(), 100);
    assert_eq!(reopened.state_root(), a.ledger.state_root());
    assert_eq!(reopened.tip(), a.ledger.tip());
    assert_eq!(reopened.state(), a.ledger.state());
    for s in &shoppers {
        assert_eq!(
            reopened.balance(&s.public(), &sym("BEAN")),
            a.ledger.balance(&s.public(), &sym("BEAN"))
        );
    }
    assert!(reopened.balance(&shoppers[5].public(), &sym("BEAN")) > 0);
    // Blocks, receipts and the transaction index are there too.
    let block_50 = store.block(50).unwrap().unwrap();
    assert_eq!(block_50.header.height, 50);
    assert_eq!(
        store.receipts(50).unwrap().unwrap().len(),
        block_50.txs.len()
    );
    for h in &hashes {
        let loc = store.tx_location(h).unwrap().unwrap();
        let block = store.block(loc.height).unwrap().unwrap();
        assert_eq!(block.txs[loc.index as usize].hash(), *h);
    }
    // The reopened ledger keeps executing exactly like the original.
    let mut original = a;
    let alice = original.alice.clone();
    let next = original.tx(
        &alice,
        TxKind::Redeem {
            token: sym("BEAN"),
            amount: 5,
            memo: None,
        },
    );
    let (b1, o1) = original.ledger.build_block(
        0,
        GENESIS_TIME_MS + 200_000,
        original.m1.public(),
        vec![next.clone()],
    );
    let o2 = reopened.verify_block(&b1).unwrap();
    assert_eq!(o1.state_root, o2.state_root);
}

#[test]
fn account_history_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, shoppers, _) = hundred_blocks(dir.path());
    let store = RocksStorage::open(dir.path()).unwrap();
    // shopper-0 received at heights 20, 40, 60, 80, 100 and paid back at each.
    let who = shoppers[0].public();
    let first = store.history(&who, None, 3).unwrap();
    assert_eq!(
        first.iter().map(|e| e.location.height).collect::<Vec<_>>(),
        vec![100, 100, 80]
    );
    let rest = store.history(&who, Some(first[2].location), 100).unwrap();
    assert_eq!(
        rest.iter().map(|e| e.location.height).collect::<Vec<_>>(),
        vec![80, 60, 60, 40, 40, 20, 20]
    );
    assert!(
        store
            .history(
                &who,
                Some(TxLocation {
                    height: 20,
                    index: 0
                }),
                10
            )
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .history(&key("nobody").public(), None, 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_corrupted_state_value_is_detected_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (a, shoppers, _) = hundred_blocks(dir.path());
    let victim = shoppers[3].public();
    let real = a.ledger.balance(&victim, &sym("BEAN"));
    raw_put(
        dir.path(),
        "state",
        &encoding::encode(&StateKey::Holding(victim, 0, sym("BEAN"))),
        &encoding::encode(&StateValue::Holding(Holding {
            balance: real + 1,
            ..Holding::default()
        })),
    );
    let store = RocksStorage::open(dir.path()).unwrap();
    let err = store.open_ledger(&chain_id()).unwrap_err();
    assert!(
        matches!(err, StorageError::StateRootMismatch { height: 100, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("state root mismatch"), "{err}");
}

#[test]
fn blocks_must_be_stored_in_order_and_on_the_right_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, _, _) = hundred_blocks(dir.path());
    let store = RocksStorage::open(dir.path()).unwrap();
    let (block, outcome) =
        a.ledger
            .build_block(0, GENESIS_TIME_MS + 500_000, a.m1.public(), vec![]);
    let mut skipped = block.clone();
    skipped.header.height += 1;
    assert!(matches!(
        store.commit_block(&skipped, None, &outcome),
        Err(StorageError::OutOfOrder { .. })
    ));
    store.commit_block(&block, None, &outcome).unwrap();
    a.ledger.apply(&block.header, outcome);
    let other = merit_chain::tx::ChainId::new("another-chain").unwrap();
    assert!(matches!(
        store.open_ledger(&other),
        Err(StorageError::WrongChain { .. })
    ));
    assert_eq!(
        store.open_ledger(&chain_id()).unwrap().unwrap().height(),
        101
    );
}

/// Offers, escrows and lots of an expiring token survive a reopen: the same
/// state root, the same derived indexes (locked amounts, books, and the lots
/// due next), so the reopened ledger expires exactly what the original does.
#[test]
fn reopening_restores_offers_escrows_and_lots() {
    use merit_chain::encoding::BoundedString;
    use merit_chain::limits::MS_PER_DAY;
    use merit_chain::tx::Price;

    let dir = tempfile::tempdir().unwrap();
    let store = RocksStorage::open(dir.path()).unwrap();
    let mut a = Alliance::new();
    store
        .commit_genesis(&a.ledger.tip().clone(), &a.genesis)
        .unwrap();
    let (m1, alice, bob) = (a.m1.clone(), a.alice.clone(), a.bob.clone());
    let create = TxKind::CreateToken {
        symbol: sym("FLY"),
        name: BoundedString::new("Fly miles").unwrap(),
        decimals: 0,
        max_supply: 1_000_000,
        expiry_days: Some(1),
        freezable: false,
        clawback: false,
    };
    let mint = |amount| TxKind::Mint {
        token: sym("FLY"),
        to: alice.public().into(),
        amount,
    };
    let offer = |sell: &str, buy: &str, amount| TxKind::PlaceOffer {
        sell: sym(sell),
        buy: sym(buy),
        amount,
        price: Price::new(1, 1),
    };
    let deadline = GENESIS_TIME_MS + 3 * MS_PER_DAY;
    let escrow = TxKind::EscrowCreate {
        token: sym("FLY"),
        to: bob.public().into(),
        amount: 30,
        deadline_ms: deadline,
        order_id: Some(BoundedString::new("trip-1").unwrap()),
    };
    let blocks = vec![
        vec![a.tx(&m1, create)],
        vec![a.tx(&m1, mint(100))],
        vec![a.tx(&m1, mint(200))],
        vec![
            a.tx(&alice, offer("FLY", "BEAN", 120)),
            a.tx(&alice, escrow),
            a.tx(&alice, offer("BEAN", "BOOK", 500)),
        ],
    ];
    for (i, txs) in blocks.into_iter().enumerate() {
        let time = GENESIS_TIME_MS + (i as u64 + 1) * 1000;
        let (block, outcome) = a.ledger.build_block(0, time, m1.public(), txs);
        assert!(outcome.receipts.iter().all(|r| r.code().is_none()));
        store.commit_block(&block, None, &outcome).unwrap();
        a.ledger.apply(&block.header, outcome);
    }
    assert_eq!(a.ledger.order_book(&sym("FLY"), &sym("BEAN")).count(), 1);
    assert_eq!(a.ledger.locked(&alice.public()).len(), 2);
    drop(store);

    let store = RocksStorage::open(dir.path()).unwrap();
    let reopened = store.open_ledger(&chain_id()).unwrap().unwrap();
    assert_eq!(reopened.state_root(), a.ledger.state_root());
    assert_eq!(reopened.state(), a.ledger.state());
    assert_eq!(
        reopened.locked(&alice.public()),
        a.ledger.locked(&alice.public())
    );
    assert_eq!(
        reopened.expiring(&alice.public()),
        a.ledger.expiring(&alice.public())
    );
    let book: Vec<_> = reopened.order_book(&sym("BEAN"), &sym("BOOK")).collect();
    assert_eq!(book.len(), 1);
    reopened.check_consistency().unwrap();
    // The block at the first lot's expiry changes both ledgers alike.
    let first_expiry = a.ledger.expiring(&alice.public())[0].expires_at_ms;
    let (b1, o1) = a.ledger.build_block(0, first_expiry, m1.public(), vec![]);
    assert!(!o1.changes.is_empty());
    let o2 = reopened.verify_block(&b1).unwrap();
    assert_eq!(o1.state_root, o2.state_root);
    assert_eq!(o1.changes, o2.changes);
}

fn place(sell: &str, buy: &str, amount: u64, n: u64, d: u64) -> TxKind {
    TxKind::PlaceOffer {
        sell: sym(sell),
        buy: sym(buy),
        amount,
        price: Price::new(n, d),
    }
}

/// The ids of the `(sell, buy)` book as the ledger walks it.
fn ledger_book(a: &Alliance, sell: &str, buy: &str) -> Vec<u64> {
    a.ledger
        .order_book(&sym(sell), &sym(buy))
        .map(|o| o.id)
        .collect()
}

#[test]
fn the_stored_book_index_walks_in_match_order_through_fills_cancels_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStorage::open(dir.path()).unwrap();
    let mut a = Alliance::new();
    store
        .commit_genesis(&a.ledger.tip().clone(), &a.genesis)
        .unwrap();
    let (m2, alice, bob) = (a.m2.clone(), a.alice.clone(), a.bob.clone());
    // Prices chosen to defeat any order but the exact one: equal values in
    // other terms (2/6 = 1/3), neighbours that differ by less than 2^-120,
    // and the extremes.
    let big = u64::MAX;
    let offers = vec![
        place("BEAN", "BOOK", 10, 1, 2),
        place("BEAN", "BOOK", 10, 2, 6),
        place("BEAN", "BOOK", 10, 1, 3),
        place("BEAN", "BOOK", 10, big - 1, big),
        place("BEAN", "BOOK", 10, big - 2, big - 1),
        place("BEAN", "BOOK", 10, 1, big),
        place("BEAN", "BOOK", 10, big, 1),
        place("BEAN", "BOOK", 10, 3, 1),
        place("BEAN", "BOOK", 10, 1, 2),
    ];
    let txs = offers.into_iter().map(|k| a.tx(&alice, k)).collect();
    commit(&store, &mut a, txs);
    let bean_book = ledger_book(&a, "BEAN", "BOOK");
    assert_eq!(bean_book.len(), 9);
    assert_eq!(
        store.order_book(&sym("BEAN"), &sym("BOOK"), 100).unwrap(),
        bean_book
    );
    assert_eq!(
        store.order_book(&sym("BEAN"), &sym("BOOK"), 3).unwrap(),
        bean_book[..3]
    );
    assert!(
        store
            .order_book(&sym("BOOK"), &sym("BEAN"), 100)
            .unwrap()
            .is_empty()
    );

    // Bob sells BOOK for BEAN and takes the cheapest offers; alice cancels
    // one from the middle; bob leaves a resting offer on the other side.
    let mint = TxKind::Mint {
        token: sym("BOOK"),
        to: bob.public().into(),
        amount: 1_000,
    };
    let txs = vec![a.tx(&m2, mint)];
    commit(&store, &mut a, txs);
    let cancel = TxKind::CancelOffer {
        offer_id: bean_book[4],
    };
    let txs = vec![
        a.tx(&bob, place("BOOK", "BEAN", 12, 1, 1_000_000)),
        a.tx(&alice, cancel),
        a.tx(&bob, place("BOOK", "BEAN", 50, 1_000, 1)),
    ];
    commit(&store, &mut a, txs);
    let bean_book = ledger_book(&a, "BEAN", "BOOK");
    let book_book = ledger_book(&a, "BOOK", "BEAN");
    assert!(bean_book.len() < 8, "{bean_book:?}");
    assert_eq!(book_book.len(), 1);
    assert_eq!(
        store.order_book(&sym("BEAN"), &sym("BOOK"), 100).unwrap(),
        bean_book
    );
    assert_eq!(
        store.order_book(&sym("BOOK"), &sym("BEAN"), 100).unwrap(),
        book_book
    );
    drop(store);

    let store = RocksStorage::open(dir.path()).unwrap();
    let reopened = store.open_ledger(&chain_id()).unwrap().unwrap();
    assert_eq!(reopened.state(), a.ledger.state());
    assert_eq!(
        store.order_book(&sym("BEAN"), &sym("BOOK"), 100).unwrap(),
        bean_book
    );
}

#[test]
fn a_book_index_that_disagrees_with_the_state_is_detected_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RocksStorage::open(dir.path()).unwrap();
        let mut a = Alliance::new();
        store
            .commit_genesis(&a.ledger.tip().clone(), &a.genesis)
            .unwrap();
        let alice = a.alice.clone();
        let txs = vec![a.tx(&alice, place("BEAN", "BOOK", 10, 1, 2))];
        commit(&store, &mut a, txs);
    }
    // An index entry for an offer that does not exist.
    let ghost = BookIndexKey::new(&sym("BEAN"), &sym("BOOK"), Price::new(1, 4), 99);
    raw_put(dir.path(), "book", &ghost.0, &[]);
    let store = RocksStorage::open(dir.path()).unwrap();
    let err = store.open_ledger(&chain_id()).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Corrupt {
                what: "book index",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("book index"), "{err}");
}

fn price() -> impl proptest::strategy::Strategy<Value = Price> {
    use proptest::prelude::*;
    let term = prop_oneof![
        1u64..16,
        1u64..=u64::MAX,
        (u64::MAX - 16)..=u64::MAX,
        (1u64 << 32)..(1u64 << 32) + 16,
    ];
    (term.clone(), term).prop_map(|(n, d)| Price::new(n, d))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 20_000, ..Default::default() })]

    /// The stored book's byte order is exactly the order of price values.
    #[test]
    fn price_keys_sort_exactly_as_the_prices_they_encode(a in price(), b in price()) {
        use merit_store::price_order_bytes;
        proptest::prop_assert_eq!(
            price_order_bytes(a).cmp(&price_order_bytes(b)),
            a.cmp_value(&b),
            "{:?} vs {:?}", a, b
        );
        proptest::prop_assert_eq!(price_order_bytes(a), price_order_bytes(a.reduced()));
    }
}

#[test]
fn past_states_prove_from_the_kept_undo_records_until_they_leave_the_window() {
    use merit_chain::commitment::bucket_of_key;
    use merit_chain::proof::PROOF_RETENTION_BLOCKS;
    let dir = tempfile::tempdir().unwrap();
    let (a, shoppers, _) = hundred_blocks(dir.path());
    let store = RocksStorage::open(dir.path()).unwrap();
    // Shopper 7's BEAN after block 50, proven from today's ledger and the
    // records of blocks 100 down to 51, is the state a replay to 50 has.
    let key = StateKey::Holding(shoppers[7].public(), 0, sym("BEAN"));
    let bytes = encoding::encode(&key);
    let bucket = bucket_of_key(&bytes);
    let undo: Vec<_> = (51..=100)
        .rev()
        .map(|h| store.block_undo(h, bucket).unwrap().expect("kept"))
        .collect();
    let now = a.ledger.state().get(&key).map(encoding::encode);
    let (value, proof, root) = a
        .ledger
        .commitment()
        .prove_key_past(&bytes, now.as_deref(), &undo)
        .unwrap();
    let block_50 = store.block(50).unwrap().unwrap();
    assert_eq!(root, block_50.header.state_root);
    merit_chain::commitment::verify_state_proof(&root, &bytes, value.as_deref(), &proof).unwrap();
    let then: StateValue = encoding::decode(&value.expect("held BEAN then"), 1 << 16).unwrap();
    let StateValue::Holding(then) = then else {
        panic!("a holding")
    };
    // Shopper 7 got 7 BEAN at block 7, 27, 47 (and 67, 87 later).
    assert_eq!(then.balance, 7 + 27 + 47);
    // The window moves with the chain: after PROOF_RETENTION_BLOCKS more
    // blocks, block 1's record is gone and block 100's is still kept.
    let mut a = a;
    for height in 101..=(100 + PROOF_RETENTION_BLOCKS) {
        let time = GENESIS_TIME_MS + height * 1000;
        let (block, outcome) = a.ledger.build_block(0, time, a.m1.public(), Vec::new());
        store.commit_block(&block, None, &outcome).unwrap();
        a.ledger.apply(&block.header, outcome);
    }
    assert!(store.block_undo(100, bucket).unwrap().is_none());
    assert!(store.block_undo(101, bucket).unwrap().is_some());
    assert!(store.block_undo(1, bucket).unwrap().is_none());
}

#[test]
fn day_records_keep_one_value_per_key_and_day_across_a_reopen() {
    use merit_chain::commitment::{SnapshotTree, bucket_of_key, verify_state_proof};
    use merit_chain::limits::MS_PER_DAY;
    use merit_chain::proof::utc_day;
    let dir = tempfile::tempdir().unwrap();
    let mut store = RocksStorage::open(dir.path()).unwrap();
    let mut a = Alliance::new();
    let genesis = a.ledger.tip().clone();
    store.commit_genesis(&genesis, &a.genesis).unwrap();
    let bob = key("bob");
    let alice = a.alice.clone();
    let key_bytes = encoding::encode(&StateKey::Holding(bob.public(), 0, sym("BEAN")));
    let bucket = bucket_of_key(&key_bytes);
    let day0 = utc_day(GENESIS_TIME_MS) + 1;
    // Four days of five blocks, each paying bob; the store is reopened in
    // the middle of the third day.
    let mut ends = Vec::new();
    for day in 0..4u64 {
        for block in 0..5u64 {
            if day == 2 && block == 2 {
                drop(store);
                store = RocksStorage::open(dir.path()).unwrap();
            }
            let time = (day0 + day) * MS_PER_DAY + (block + 1) * 60_000;
            let tx = a.tx(&alice, Alliance::transfer("BEAN", &bob, 1));
            let (b, outcome) = a.ledger.build_block(0, time, a.m1.public(), vec![tx]);
            assert_eq!(outcome.day_end.is_some(), day > 0 && block == 0);
            store.commit_block(&b, None, &outcome).unwrap();
            a.ledger.apply(&b.header, outcome);
        }
        ends.push((day0 + day, a.ledger.height(), a.ledger.state_root()));
    }
    // Three days ended; the fourth is open.
    let kept = store.day_ends().unwrap();
    assert_eq!(
        kept,
        ends[..3]
            .iter()
            .map(|(d, h, _)| (*d, *h))
            .collect::<Vec<_>>()
    );
    for (i, (day, height, root)) in ends[..3].iter().enumerate() {
        // One record of bob's BEAN per day, however many blocks paid him,
        // holding what he had at that day's end, the reopen included.
        let records = store.day_records(*day, bucket).unwrap();
        let bobs: Vec<_> = records
            .entries
            .iter()
            .filter(|(k, _)| *k == key_bytes)
            .collect();
        assert_eq!(bobs.len(), 1, "day {i}");
        let held: StateValue =
            encoding::decode(bobs[0].1.as_ref().expect("bob held BEAN"), 1 << 16).unwrap();
        let StateValue::Holding(held) = held else {
            panic!("a holding")
        };
        assert_eq!(
            held.balance,
            5 * (i as u64 + 1),
            "bob's BEAN at day {i}'s end"
        );
        // The snapshot is the state tree of that day's last block.
        let snapshot = store.day_snapshot(*day).unwrap().expect("kept");
        assert_eq!(SnapshotTree::new(snapshot).unwrap().root(), *root);
        assert_eq!(
            store.block(*height).unwrap().unwrap().header.state_root,
            *root
        );
    }
    // Proving bob's BEAN at the first day's end walks the records of every
    // day since, newest first.
    let records: Vec<_> = ends[..3]
        .iter()
        .rev()
        .map(|(d, _, _)| store.day_records(*d, bucket).unwrap())
        .collect();
    let tree = SnapshotTree::new(store.day_snapshot(ends[0].0).unwrap().unwrap()).unwrap();
    let now = a
        .ledger
        .state()
        .get(&StateKey::Holding(bob.public(), 0, sym("BEAN")))
        .map(encoding::encode);
    let (value, proof, root) = a
        .ledger
        .commitment()
        .prove_key_at_day_end(&key_bytes, now.as_deref(), &records, &tree)
        .unwrap();
    assert_eq!(root, ends[0].2);
    verify_state_proof(&root, &key_bytes, value.as_deref(), &proof).unwrap();
}

#[test]
fn a_day_end_leaves_after_the_retention_days() {
    use merit_chain::limits::MS_PER_DAY;
    use merit_chain::proof::{PROOF_RETENTION_DAYS, utc_day};
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStorage::open(dir.path()).unwrap();
    let mut a = Alliance::new();
    let genesis = a.ledger.tip().clone();
    store.commit_genesis(&genesis, &a.genesis).unwrap();
    let bob = key("bob");
    let alice = a.alice.clone();
    let day0 = utc_day(GENESIS_TIME_MS) + 1;
    let days = PROOF_RETENTION_DAYS + 3;
    for day in 0..days {
        let tx = a.tx(&alice, Alliance::transfer("BEAN", &bob, 1));
        let time = (day0 + day) * MS_PER_DAY;
        let (b, outcome) = a.ledger.build_block(0, time, a.m1.public(), vec![tx]);
        store.commit_block(&b, None, &outcome).unwrap();
        a.ledger.apply(&b.header, outcome);
    }
    // One block a day: day d ended at height d + 1. The newest
    // PROOF_RETENTION_DAYS ends are kept, with their snapshots and records;
    // the older ones are gone whole.
    let kept = store.day_ends().unwrap();
    let first = days - 1 - PROOF_RETENTION_DAYS;
    assert_eq!(
        kept,
        (first..days - 1)
            .map(|d| (day0 + d, d + 1))
            .collect::<Vec<_>>()
    );
    let bucket = merit_chain::commitment::bucket_of_key(&encoding::encode(&StateKey::Holding(
        bob.public(),
        0,
        sym("BEAN"),
    )));
    for d in 0..first {
        assert!(store.day_snapshot(day0 + d).unwrap().is_none());
        assert!(
            store
                .day_records(day0 + d, bucket)
                .unwrap()
                .entries
                .is_empty()
        );
    }
    assert!(store.day_snapshot(day0 + first).unwrap().is_some());
    assert!(
        !store
            .day_records(day0 + first, bucket)
            .unwrap()
            .entries
            .is_empty()
    );
}
