//! Expiring points: lots from mints, soonest-first spending, lots keeping
//! their expiry when they move, the exact expiry block, and locked points
//! expiring in offers and escrows.

use merit_chain::encoding::BoundedString;
use merit_chain::ledger::{ExpiringLot, GenesisState, GenesisToken};
use merit_chain::limits::MS_PER_DAY;
use merit_chain::state::{EscrowStatus, LotHolder, MerchantInfo, StateKey};
use merit_chain::{BlockContext, Keypair, Ledger, RejectCode, TxKind};

use crate::exchange::{offer, placed};
use crate::fixture::*;

const DAY: u64 = MS_PER_DAY;

/// The standard alliance plus FLY, issued by `m1`, whose points expire one
/// day after they are minted.
fn with_fly() -> Alliance {
    let mut a = Alliance::new();
    let m1 = a.m1.clone();
    let create = TxKind::CreateToken {
        symbol: sym("FLY"),
        name: BoundedString::new("Fly miles").unwrap(),
        decimals: 0,
        max_supply: 1_000_000,
        expiry_days: Some(1),
        freezable: false,
        clawback: false,
    };
    assert_eq!(a.exec(&m1, create), None);
    a
}

/// Mints `amount` FLY to `to` in a block at `time_ms`; the lot expires a day later.
fn mint_at(a: &mut Alliance, time_ms: u64, to: &Keypair, amount: u64) -> u64 {
    let m1 = a.m1.clone();
    let mint = TxKind::Mint {
        token: sym("FLY"),
        to: to.public().into(),
        amount,
    };
    assert_eq!(a.exec_at(time_ms, &m1, mint), None);
    time_ms + DAY
}

fn lots(a: &Alliance, who: &Keypair) -> Vec<(u64, u64)> {
    a.ledger
        .expiring(&who.public())
        .iter()
        .filter(|l| l.token == sym("FLY"))
        .map(|l| (l.expires_at_ms, l.amount))
        .collect()
}

fn fly(a: &Alliance) -> merit_chain::state::TokenInfo {
    a.ledger.token(&sym("FLY")).unwrap().clone()
}

#[test]
fn spending_consumes_the_soonest_expiring_of_three_lots_first() {
    let mut a = with_fly();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let t = a.now() + 1000;
    let e1 = mint_at(&mut a, t, &alice, 100);
    let e2 = mint_at(&mut a, t + 10_000, &alice, 200);
    let e3 = mint_at(&mut a, t + 20_000, &alice, 300);
    assert_eq!(lots(&a, &alice), vec![(e1, 100), (e2, 200), (e3, 300)]);
    assert_eq!(a.balance(&alice, "FLY"), 600);
    // 250 takes all of the first lot and 150 of the second.
    assert_eq!(a.exec(&alice, Alliance::transfer("FLY", &bob, 250)), None);
    assert_eq!(lots(&a, &alice), vec![(e2, 50), (e3, 300)]);
    assert_eq!(lots(&a, &bob), vec![(e1, 100), (e2, 150)]);
    // Redeeming spends soonest-first too.
    let redeem = TxKind::Redeem {
        token: sym("FLY"),
        amount: 60,
        memo: None,
    };
    assert_eq!(a.exec(&alice, redeem), None);
    assert_eq!(lots(&a, &alice), vec![(e3, 290)]);
    // The first lot expires at its time, in Bob's hands.
    a.block_at(e1, vec![]);
    assert_eq!(a.balance(&bob, "FLY"), 150);
    assert_eq!(lots(&a, &bob), vec![(e2, 150)]);
    assert_eq!(fly(&a).expired, 100);
    a.assert_conserved();
}

#[test]
fn a_lot_keeps_its_expiry_when_transferred_paid_and_refunded() {
    let mut a = with_fly();
    let (alice, bob, carol) = (a.alice.clone(), a.bob.clone(), a.carol.clone());
    let t = a.now() + 1000;
    let e0 = mint_at(&mut a, t, &alice, 100);
    let e1 = mint_at(&mut a, t + 1000, &alice, 100);
    // Moved hours later, the points still expire a day after their mint.
    let later = t + 5 * 3_600_000;
    assert_eq!(
        a.exec_at(later, &alice, Alliance::transfer("FLY", &bob, 40)),
        None
    );
    assert_eq!(lots(&a, &bob), vec![(e0, 40)]);
    // A split payment hands out the soonest lots in leg order.
    let pay = TxKind::Pay {
        order_id: BoundedString::new("o-1").unwrap(),
        legs: legs(sym("FLY"), &[(bob.public(), 70), (carol.public(), 50)]),
        memo: None,
    };
    let pay = a.tx(&alice, pay);
    let payment = pay.hash();
    assert_eq!(a.run(pay).code(), None);
    assert_eq!(lots(&a, &bob), vec![(e0, 100), (e1, 10)]);
    assert_eq!(lots(&a, &carol), vec![(e1, 50)]);
    assert_eq!(lots(&a, &alice), vec![(e1, 40)]);
    // A refund returns the refunder's soonest lots.
    assert_eq!(
        a.exec(
            &carol,
            TxKind::Refund {
                payment,
                token: sym("FLY"),
                amount: 20
            }
        ),
        None
    );
    assert_eq!(lots(&a, &alice), vec![(e1, 60)]);
    assert_eq!(lots(&a, &carol), vec![(e1, 30)]);
    a.block_at(e0, vec![]);
    assert_eq!(a.balance(&bob, "FLY"), 10);
    assert_eq!(a.balance(&alice, "FLY"), 60);
    a.block_at(e1, vec![]);
    for who in [&alice, &bob, &carol] {
        assert_eq!(a.balance(who, "FLY"), 0);
    }
    assert_eq!(fly(&a).expired, 200);
    a.assert_conserved();
}

#[test]
fn a_balance_drops_exactly_at_the_expiry_block_time() {
    let mut a = with_fly();
    let alice = a.alice.clone();
    let t = a.now() + 1000;
    let e = mint_at(&mut a, t, &alice, 100);
    assert_eq!(e, t + DAY);
    a.block_at(e - 1, vec![]);
    assert_eq!(a.balance(&alice, "FLY"), 100, "one millisecond before");
    assert_eq!(
        a.ledger.expiring(&alice.public()),
        vec![ExpiringLot {
            token: sym("FLY"),
            expires_at_ms: e,
            amount: 100
        }]
    );
    // Spending in the block at the expiry time finds nothing: expiry runs first.
    let bob = a.bob.clone();
    assert_eq!(
        a.exec_at(e, &alice, Alliance::transfer("FLY", &bob, 1)),
        Some(RejectCode::InsufficientBalance)
    );
    assert_eq!(a.balance(&alice, "FLY"), 0);
    assert!(a.ledger.expiring(&alice.public()).is_empty());
    assert_eq!(fly(&a).expired, 100);
    a.assert_conserved();
}

#[test]
fn the_audit_reports_expired_points() {
    let mut a = with_fly();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let t = a.now() + 1000;
    let e = mint_at(&mut a, t, &alice, 700);
    mint_at(&mut a, t + DAY / 2, &bob, 300);
    let redeem = TxKind::Redeem {
        token: sym("FLY"),
        amount: 200,
        memo: None,
    };
    assert_eq!(a.exec(&alice, redeem), None);
    a.block_at(e, vec![]);
    let audit = a
        .ledger
        .audit()
        .into_iter()
        .find(|s| s.token == sym("FLY"))
        .unwrap();
    assert_eq!(
        (
            audit.minted,
            audit.circulating,
            audit.redeemed,
            audit.expired
        ),
        (1_000, 300, 200, 500)
    );
    assert_eq!((audit.locked_in_offers, audit.locked_in_escrow), (0, 0));
    assert!(audit.holds());
    a.assert_conserved();
}

#[test]
fn locked_points_expire_in_offers_and_escrows_too() {
    let mut a = with_fly();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let t = a.now() + 1000;
    let e0 = mint_at(&mut a, t, &alice, 100);
    let e1 = mint_at(&mut a, t + DAY / 2, &alice, 100);
    let r = {
        let tx = a.tx(&alice, offer("FLY", "BEAN", 150, 1, 1));
        a.run(tx)
    };
    let id = placed(&r);
    assert_eq!(
        a.ledger.lots(&LotHolder::Offer(id), &sym("FLY")),
        vec![(e0, 100), (e1, 50)]
    );
    let deadline = e1 + DAY;
    let tx = a.tx(
        &alice,
        TxKind::EscrowCreate {
            token: sym("FLY"),
            to: bob.public().into(),
            amount: 50,
            deadline_ms: deadline,
            order_id: None,
        },
    );
    let escrow = tx.hash();
    assert_eq!(a.run(tx).code(), None);
    assert_eq!(
        a.ledger.lots(&LotHolder::Escrow(escrow), &sym("FLY")),
        vec![(e1, 50)]
    );
    assert_eq!(a.balance(&alice, "FLY"), 0);
    // The first lot expires inside the offer: the offer shrinks.
    a.block_at(e0, vec![]);
    let o = a.ledger.offer(id).unwrap();
    assert_eq!((o.amount, o.remaining), (150, 50));
    assert_eq!(fly(&a).locked_in_offers, 50);
    assert_eq!(fly(&a).expired, 100);
    a.assert_conserved();
    // The second empties both: the offer leaves the book, the escrow closes.
    a.block_at(e1, vec![]);
    assert!(a.ledger.offer(id).is_none());
    assert_eq!(a.ledger.order_book(&sym("FLY"), &sym("BEAN")).count(), 0);
    let e = a.ledger.escrow(&escrow).unwrap();
    assert_eq!((e.status, e.remaining), (EscrowStatus::Expired, 0));
    // The block's own events say so: the escrow's last lot expired, then
    // the escrow closed, after the offer's last lot.
    let closed: Vec<_> = a
        .postings
        .iter()
        .filter(|p| p.height == a.ledger.height() && p.kind == "LotExpired")
        .map(|p| (p.account, p.amount))
        .collect();
    assert!(
        closed
            .iter()
            .any(|(acct, _)| *acct == merit_chain::postings::PostingAccount::EscrowLocks),
        "{closed:?}"
    );
    assert!(a.last_block_events.iter().any(|ev| matches!(
        ev,
        merit_chain::block::Event::EscrowExpired { escrow: id, .. } if *id == escrow
    )));
    let t = fly(&a);
    assert_eq!(
        (t.locked_in_offers, t.locked_in_escrow, t.expired),
        (0, 0, 200)
    );
    assert!(a.ledger.locked(&alice.public()).is_empty());
    assert_eq!(
        a.exec(&alice, TxKind::EscrowRelease { id: escrow }),
        Some(RejectCode::EscrowClosed)
    );
    assert_eq!(
        a.exec(&alice, TxKind::CancelOffer { offer_id: id }),
        Some(RejectCode::UnknownOffer)
    );
    a.assert_conserved();
}

#[test]
fn a_fill_and_a_cancel_hand_over_the_lots_with_their_expiry() {
    let mut a = with_fly();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let t = a.now() + 1000;
    let e0 = mint_at(&mut a, t, &alice, 60);
    let e1 = mint_at(&mut a, t + 1000, &alice, 60);
    let tx = a.tx(&alice, offer("FLY", "BEAN", 100, 1, 1));
    let id = placed(&a.run(tx));
    assert_eq!(a.exec(&alice, Alliance::transfer("BEAN", &bob, 70)), None);
    let tx = a.tx(&bob, offer("BEAN", "FLY", 70, 1, 1));
    assert_eq!(a.run(tx).code(), None);
    assert_eq!(lots(&a, &bob), vec![(e0, 60), (e1, 10)]);
    assert_eq!(
        a.ledger.lots(&LotHolder::Offer(id), &sym("FLY")),
        vec![(e1, 30)]
    );
    assert_eq!(a.exec(&alice, TxKind::CancelOffer { offer_id: id }), None);
    assert_eq!(lots(&a, &alice), vec![(e1, 50)]);
    a.assert_conserved();
}

#[test]
fn a_block_touches_only_the_lots_that_expire_in_it() {
    let mut a = with_fly();
    let (alice, bob, carol) = (a.alice.clone(), a.bob.clone(), a.carol.clone());
    let t = a.now() + 1000;
    let e = mint_at(&mut a, t, &alice, 10);
    mint_at(&mut a, t + 1, &bob, 10);
    mint_at(&mut a, t + 2, &carol, 10);
    let ctx = BlockContext {
        height: a.ledger.height() + 1,
        timestamp_ms: e,
    };
    let outcome = a.ledger.execute_block(&ctx, &[]);
    let keys: Vec<&StateKey> = outcome.changes.keys().collect();
    assert_eq!(
        keys,
        vec![
            &StateKey::Token(sym("FLY")),
            &StateKey::Holding(alice.public(), 0, sym("FLY")),
        ]
    );
}

#[test]
fn genesis_balances_of_an_expiring_token_expire_from_genesis_time() {
    let m = key("merchant-1");
    let shopper = key("shopper");
    let g = GenesisState {
        merchants: vec![(
            m.public(),
            MerchantInfo {
                name: BoundedString::new("m").unwrap(),
                validator: None,
            },
        )],
        tokens: vec![GenesisToken {
            symbol: sym("FLY"),
            name: BoundedString::new("Fly").unwrap(),
            decimals: 0,
            max_supply: 1_000,
            expiry_days: Some(2),
            freezable: false,
            clawback: false,
            issuer: m.public(),
        }],
        balances: vec![(shopper.public(), sym("FLY"), 400)],
        consensus: Default::default(),
    };
    let (ledger, _) = Ledger::genesis(chain_id(), GENESIS_TIME_MS, &g).unwrap();
    assert_eq!(
        ledger.expiring(&shopper.public()),
        vec![ExpiringLot {
            token: sym("FLY"),
            expires_at_ms: GENESIS_TIME_MS + 2 * DAY,
            amount: 400
        }]
    );
    ledger.check_consistency().unwrap();
}

/// Lots that expire as a block begins are its own events, committed after
/// its receipts under `receipts_root`: one `LotExpired` per lot, naming the
/// holder, and a transaction of that block still proves with its receipt.
#[test]
fn expiries_are_block_events_under_the_receipts_root() {
    use merit_chain::block::{Event, receipt_leaves, receipts_root};
    use merit_chain::merkle;
    let mut a = with_fly();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let t0 = a.now() + 1_000;
    let due_a = mint_at(&mut a, t0, &alice, 30);
    mint_at(&mut a, t0 + 10, &bob, 12);
    // Bob puts 5 of his FLY in an offer: that lot expires in the book.
    let place = a.tx(&bob, offer("FLY", "BEAN", 5, 1, 1));
    let offer_id = placed(&a.run(place));

    let m1 = a.m1.clone();
    let transfer = a.tx(&alice, Alliance::transfer("BEAN", &bob, 3));
    let (block, outcome) = a
        .ledger
        .build_block(0, due_a + 10, m1.public(), vec![transfer]);
    let mut expired: Vec<(LotHolder, u64)> = outcome
        .block_events
        .iter()
        .map(|e| match e {
            Event::LotExpired { holder, amount, .. } => (*holder, *amount),
            other => panic!("not an expiry: {other:?}"),
        })
        .collect();
    expired.sort();
    let mut expected = vec![
        (LotHolder::Account(alice.public().into()), 30),
        (LotHolder::Account(bob.public().into()), 7),
        (LotHolder::Offer(offer_id), 5),
    ];
    expected.sort();
    assert_eq!(expired, expected);

    // The header commits to them; without them the root differs.
    assert_eq!(
        block.header.receipts_root,
        receipts_root(&outcome.receipts, &outcome.block_events)
    );
    assert_ne!(
        block.header.receipts_root,
        receipts_root(&outcome.receipts, &[])
    );
    // The transaction's receipt proves at index 0 of the receipts and the
    // events leaf; with the events left out of the count it does not.
    let leaves = receipt_leaves(&outcome.receipts, &outcome.block_events);
    assert_eq!(leaves.len(), 2);
    let path = merkle::path(&leaves, 0).unwrap();
    let leaf = merkle::leaf_hash(&merit_chain::encoding::encode(&outcome.receipts[0]));
    assert_eq!(
        merkle::root_from_path(leaf, 0, 2, &path),
        Some(block.header.receipts_root)
    );
    assert_ne!(
        merkle::root_from_path(leaf, 0, 1, &path),
        Some(block.header.receipts_root)
    );
    // A replica re-executing the block finds the same events.
    assert_eq!(
        a.ledger.verify_block(&block).unwrap().block_events,
        outcome.block_events
    );
}
