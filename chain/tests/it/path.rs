//! Path payments (DESIGN §12): strict receive across up to four books. The
//! rules one by one, then the ledger against a model of the books over
//! random books and routes.

use std::collections::BTreeMap;

use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::ledger::{LedgerMutant, with_mutant};
use merit_chain::limits::{MAX_OFFERS_CROSSED, MAX_PATH_TOKENS};
use merit_chain::{Event, Keypair, Receipt, RejectCode, TxKind};
use proptest::prelude::*;

use crate::exchange::offer;
use crate::fixture::*;

fn pay_path(
    send: &str,
    send_max: u64,
    dest: &str,
    dest_amount: u64,
    to: &Keypair,
    path: &[&str],
) -> TxKind {
    TxKind::PayPath {
        send_token: sym(send),
        send_max,
        dest_token: sym(dest),
        dest_amount,
        to: to.public().into(),
        path: BoundedVec::new(path.iter().map(|t| sym(t)).collect()).unwrap(),
        order_id: None,
        memo: None,
    }
}

/// `(maker offer, paid, got)` of every hop's trades, in order.
fn path_trades(r: &Receipt) -> Vec<(u64, u64, u64)> {
    r.events()
        .iter()
        .filter_map(|e| match e {
            Event::PathTrade {
                maker_offer,
                paid,
                got,
                ..
            } => Some((*maker_offer, *paid, *got)),
            _ => None,
        })
        .collect()
}

fn create(sym_: &str, expiry_days: Option<u32>) -> TxKind {
    TxKind::CreateToken {
        symbol: sym(sym_),
        name: BoundedString::new(format!("{sym_} points")).unwrap(),
        decimals: 0,
        max_supply: u64::MAX,
        expiry_days,
        freezable: false,
        clawback: false,
    }
}

fn mint(token: &str, to: &Keypair, amount: u64) -> TxKind {
    TxKind::Mint {
        token: sym(token),
        to: to.public().into(),
        amount,
    }
}

/// BEAN (alice holds 10,000), BOOK and FUEL; bob and carol hold 1,000
/// BOOK and 1,000 FUEL each.
fn market() -> Alliance {
    let mut a = Alliance::new();
    let (m1, m2) = (a.m1.clone(), a.m2.clone());
    assert_eq!(a.exec(&m1, create("FUEL", None)), None);
    for who in [a.bob.clone(), a.carol.clone()] {
        assert_eq!(a.exec(&m2, mint("BOOK", &who, 1_000)), None);
        assert_eq!(a.exec(&m1, mint("FUEL", &who, 1_000)), None);
    }
    a
}

fn place(a: &mut Alliance, who: &Keypair, kind: TxKind) -> u64 {
    let tx = a.tx(who, kind);
    crate::exchange::placed(&a.run(tx))
}

#[test]
fn it_delivers_exactly_the_amount_best_price_first() {
    let mut a = market();
    let (alice, bob, carol, shop) = (
        a.alice.clone(),
        a.bob.clone(),
        a.carol.clone(),
        a.m2.clone(),
    );
    // Both sell BOOK for BEAN: carol at 3 BEAN a BOOK, bob at 2.
    let dear = place(&mut a, &carol, offer("BOOK", "BEAN", 100, 3, 1));
    let cheap = place(&mut a, &bob, offer("BOOK", "BEAN", 100, 2, 1));
    let tx = a.tx(&alice, pay_path("BEAN", 400, "BOOK", 150, &shop, &[]));
    let r = a.run(tx);
    assert_eq!(r.code(), None, "{r:?}");
    assert_eq!(path_trades(&r), vec![(cheap, 200, 100), (dear, 150, 50)]);
    assert_eq!(a.balance(&shop, "BOOK"), 150);
    assert_eq!(a.balance(&alice, "BEAN"), 10_000 - 350);
    assert_eq!(a.balance(&bob, "BEAN"), 200);
    assert_eq!(a.balance(&carol, "BEAN"), 150);
    assert!(a.ledger.offer(cheap).is_none(), "bob's offer is filled");
    assert_eq!(a.ledger.offer(dear).unwrap().remaining, 50);
    assert!(r.events().iter().any(|e| matches!(
        e,
        Event::PathPaid {
            sent: 350,
            received: 150,
            ..
        }
    )));
    a.assert_conserved();
}

#[test]
fn over_send_max_or_past_the_books_nothing_moves() {
    let mut a = market();
    let (alice, bob, shop) = (a.alice.clone(), a.bob.clone(), a.m2.clone());
    let id = place(&mut a, &bob, offer("BOOK", "BEAN", 100, 2, 1));
    assert_eq!(
        a.exec(&alice, pay_path("BEAN", 199, "BOOK", 100, &shop, &[])),
        Some(RejectCode::SendMaxExceeded)
    );
    assert_eq!(
        a.exec(&alice, pay_path("BEAN", 1_000, "BOOK", 101, &shop, &[])),
        Some(RejectCode::NoPath)
    );
    // No book at all on the way.
    assert_eq!(
        a.exec(&alice, pay_path("BEAN", 1_000, "BOOK", 1, &shop, &["FUEL"])),
        Some(RejectCode::NoPath)
    );
    assert_eq!(a.ledger.offer(id).unwrap().remaining, 100);
    assert_eq!(a.balance(&alice, "BEAN"), 10_000);
    assert_eq!(a.balance(&shop, "BOOK"), 0);
    // At exactly the cost it goes through.
    assert_eq!(
        a.exec(&alice, pay_path("BEAN", 200, "BOOK", 100, &shop, &[])),
        None
    );
    a.assert_conserved();
}

#[test]
fn rounding_favours_the_resting_offer() {
    let mut a = market();
    let (alice, bob, shop) = (a.alice.clone(), a.bob.clone(), a.m2.clone());
    // 1 BEAN buys 3 BOOK: a single BOOK still costs a whole BEAN.
    let id = place(&mut a, &bob, offer("BOOK", "BEAN", 100, 1, 3));
    let tx = a.tx(&alice, pay_path("BEAN", 10, "BOOK", 1, &shop, &[]));
    assert_eq!(path_trades(&a.run(tx)), vec![(id, 1, 1)]);
    let tx = a.tx(&alice, pay_path("BEAN", 10, "BOOK", 4, &shop, &[]));
    assert_eq!(path_trades(&a.run(tx)), vec![(id, 2, 4)]);
    a.assert_conserved();
}

#[test]
fn two_hops_pay_the_first_with_what_the_second_costs() {
    let mut a = market();
    let (alice, bob, carol, shop) = (
        a.alice.clone(),
        a.bob.clone(),
        a.carol.clone(),
        a.m2.clone(),
    );
    // BEAN → FUEL at 2 BEAN a FUEL (carol), FUEL → BOOK at 3 FUEL a BOOK (bob).
    let fuel = place(&mut a, &carol, offer("FUEL", "BEAN", 500, 2, 1));
    let book = place(&mut a, &bob, offer("BOOK", "FUEL", 500, 3, 1));
    let tx = a.tx(&alice, pay_path("BEAN", 60, "BOOK", 10, &shop, &["FUEL"]));
    let r = a.run(tx);
    assert_eq!(r.code(), None, "{r:?}");
    assert_eq!(path_trades(&r), vec![(fuel, 60, 30), (book, 30, 10)]);
    assert_eq!(a.balance(&shop, "BOOK"), 10);
    assert_eq!(a.balance(&alice, "BEAN"), 9_940);
    // alice only passed the FUEL on.
    assert_eq!(a.balance(&alice, "FUEL"), 0);
    assert_eq!(a.balance(&carol, "BEAN"), 60);
    assert_eq!(a.balance(&bob, "FUEL"), 1_000 + 30);
    // The quote agrees with what the payment paid.
    let q = a
        .ledger
        .quote_path(&sym("BEAN"), &[sym("FUEL")], &sym("BOOK"), 10)
        .unwrap();
    assert_eq!(q.send_amount, 60);
    a.assert_conserved();
}

#[test]
fn crossing_ones_own_offer_on_any_hop_is_rejected() {
    let mut a = market();
    let (alice, bob, carol, shop) = (
        a.alice.clone(),
        a.bob.clone(),
        a.carol.clone(),
        a.m2.clone(),
    );
    let m1 = a.m1.clone();
    assert_eq!(a.exec(&m1, mint("FUEL", &alice, 100)), None);
    // alice's own offer is the first hop's best.
    let own = place(&mut a, &alice, offer("FUEL", "BEAN", 100, 1, 1));
    place(&mut a, &bob, offer("BOOK", "FUEL", 500, 1, 1));
    assert_eq!(
        a.exec(
            &alice,
            pay_path("BEAN", 1_000, "BOOK", 10, &shop, &["FUEL"])
        ),
        Some(RejectCode::SelfCross)
    );
    assert_eq!(a.ledger.offer(own).unwrap().remaining, 100);
    assert_eq!(a.balance(&shop, "BOOK"), 0);
    // A cheaper offer that covers the amount keeps hers out of the way.
    place(&mut a, &carol, offer("FUEL", "BEAN", 100, 1, 2));
    assert_eq!(
        a.exec(
            &alice,
            pay_path("BEAN", 1_000, "BOOK", 10, &shop, &["FUEL"])
        ),
        None
    );
    assert_eq!(a.balance(&shop, "BOOK"), 10);
    a.assert_conserved();
}

/// Two hops of 20 one-point offers each: 40 crossings, more than one
/// payment may make, though each hop alone is within the bound.
fn the_offer_bound_counts_every_hop() {
    let mut a = market();
    let (alice, bob, carol, shop) = (
        a.alice.clone(),
        a.bob.clone(),
        a.carol.clone(),
        a.m2.clone(),
    );
    for _ in 0..20 {
        place(&mut a, &carol, offer("FUEL", "BEAN", 1, 1, 1));
        place(&mut a, &bob, offer("BOOK", "FUEL", 1, 1, 1));
    }
    const { assert!(40 > MAX_OFFERS_CROSSED && 20 <= MAX_OFFERS_CROSSED) };
    assert_eq!(
        a.exec(
            &alice,
            pay_path("BEAN", 1_000, "BOOK", 20, &shop, &["FUEL"])
        ),
        Some(RejectCode::NoPath)
    );
    // Within the bound over both hops, it pays.
    assert_eq!(
        a.exec(
            &alice,
            pay_path("BEAN", 1_000, "BOOK", 16, &shop, &["FUEL"])
        ),
        None
    );
    assert_eq!(a.balance(&shop, "BOOK"), 16);
}

#[test]
fn max_offers_crossed_counts_all_hops_together() {
    the_offer_bound_counts_every_hop();
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_path_bound_per_hop_is_caught() {
    let caught = std::panic::catch_unwind(|| {
        with_mutant(
            LedgerMutant::PathBoundPerHop,
            the_offer_bound_counts_every_hop,
        )
    });
    assert!(
        caught.is_err(),
        "{} went uncaught",
        LedgerMutant::PathBoundPerHop.name()
    );
}

#[test]
fn a_path_is_checked_before_the_books_are_read() {
    let mut a = market();
    let (alice, shop) = (a.alice.clone(), a.m2.clone());
    let long = ["FUEL", "T1", "T2", "T3"];
    assert_eq!(long.len(), MAX_PATH_TOKENS + 1);
    for (kind, code) in [
        (
            pay_path("BEAN", 10, "BOOK", 1, &shop, &long),
            RejectCode::PathTooLong,
        ),
        (
            pay_path("BEAN", 10, "BOOK", 1, &shop, &["FUEL", "BEAN"]),
            RejectCode::SameToken,
        ),
        (
            pay_path("BEAN", 10, "BEAN", 1, &shop, &[]),
            RejectCode::SameToken,
        ),
        (
            pay_path("BEAN", 10, "BOOK", 0, &shop, &[]),
            RejectCode::ZeroAmount,
        ),
        (
            pay_path("BEAN", 0, "BOOK", 1, &shop, &[]),
            RejectCode::ZeroAmount,
        ),
        (
            pay_path("BEAN", 10, "BOOK", 1, &shop, &["NOPE"]),
            RejectCode::UnknownToken,
        ),
    ] {
        assert_eq!(a.exec(&alice, kind), Some(code));
    }
}

#[test]
fn an_order_id_is_used_once_by_a_path_payment_too() {
    let mut a = market();
    let (alice, bob, shop) = (a.alice.clone(), a.bob.clone(), a.m2.clone());
    place(&mut a, &bob, offer("BOOK", "BEAN", 100, 1, 1));
    let with_order = |n| {
        let mut kind = pay_path("BEAN", 10, "BOOK", n, &shop, &[]);
        if let TxKind::PayPath { order_id, .. } = &mut kind {
            *order_id = Some(BoundedString::new("P-1").unwrap());
        }
        kind
    };
    let tx = a.tx(&alice, with_order(1));
    let first = tx.hash();
    assert_eq!(a.run(tx).code(), None);
    let tx = a.tx(&alice, with_order(2));
    let r = a.run(tx);
    assert_eq!(r.code(), Some(RejectCode::DuplicateOrderId));
    assert_eq!(
        r.outcome,
        merit_chain::TxOutcome::Rejected {
            code: RejectCode::DuplicateOrderId,
            original: Some(first)
        }
    );
}

#[test]
fn find_paths_lists_the_routes_cheapest_first_at_what_they_cost() {
    let mut a = market();
    let (alice, bob, carol, shop) = (
        a.alice.clone(),
        a.bob.clone(),
        a.carol.clone(),
        a.m2.clone(),
    );
    // Directly, 5 BEAN a BOOK; through FUEL, 1 BEAN a FUEL and 2 FUEL a BOOK.
    place(&mut a, &bob, offer("BOOK", "BEAN", 100, 5, 1));
    place(&mut a, &carol, offer("FUEL", "BEAN", 500, 1, 1));
    place(&mut a, &bob, offer("BOOK", "FUEL", 100, 2, 1));
    let found = a.ledger.find_paths(&sym("BEAN"), &sym("BOOK"), 10);
    let routes: Vec<(Vec<String>, u64)> = found
        .iter()
        .map(|(p, q)| (p.iter().map(ToString::to_string).collect(), q.send_amount))
        .collect();
    assert_eq!(routes, vec![(vec!["FUEL".to_string()], 20), (vec![], 50)]);
    // Past what the direct book holds, only the other route is left.
    let found = a.ledger.find_paths(&sym("BEAN"), &sym("BOOK"), 101);
    assert!(found.is_empty(), "{found:?}");
    // The cheapest route pays what it was quoted.
    let tx = a.tx(&alice, pay_path("BEAN", 20, "BOOK", 10, &shop, &["FUEL"]));
    assert_eq!(a.run(tx).code(), None);
    assert_eq!(a.balance(&alice, "BEAN"), 9_980);
}

/// One merchant makes a book between every pair of twelve tokens, so
/// that the routes with up to three tokens between number over a
/// thousand: a path search walks at most `MAX_ROUTES_SEARCHED` of them,
/// and still finds the direct route, which is cheapest, first.
#[test]
fn a_path_search_is_bounded_however_many_books_there_are() {
    let issuer = key("many-books/issuer");
    let mut a = Alliance::with_merchants(std::slice::from_ref(&issuer));
    let tokens: Vec<String> = (0..12).map(|i| format!("TK{i}")).collect();
    let creates = tokens
        .iter()
        .map(|t| a.tx(&issuer, create(t, None)))
        .collect();
    a.block(creates);
    let mints = tokens
        .iter()
        .map(|t| a.tx(&issuer, mint(t, &issuer, 1_000_000)))
        .collect();
    a.block(mints);
    // Every token for every other at 2 of one per unit of the other: two
    // opposite books at 2 never cross, and each extra hop doubles the cost.
    let mut offers = Vec::new();
    for sell in &tokens {
        for buy in tokens.iter().filter(|t| *t != sell) {
            offers.push(a.tx(&issuer, offer(sell, buy, 1_000, 2, 1)));
        }
    }
    assert!(a.block(offers).iter().all(|r| r.code().is_none()));
    let (found, searched) = a.ledger.search_paths(&sym("TK11"), &sym("TK0"), 1);
    assert_eq!(searched, merit_chain::ledger::MAX_ROUTES_SEARCHED);
    assert!(found.len() <= merit_chain::ledger::MAX_PATHS_FOUND);
    assert_eq!(found[0].0, Vec::<merit_chain::Symbol>::new(), "{found:?}");
    assert_eq!(found[0].1.send_amount, 2);
    // A route that exists but was never walked is not claimed.
    for (path, q) in &found {
        let quoted = a
            .ledger
            .quote_path(&sym("TK11"), path, &sym("TK0"), 1)
            .unwrap();
        assert_eq!(&quoted, q);
    }
}

// The ledger against a model of the books. Five tokens, T2 expiring; two
// makers and the payer rest offers selling a token for one listed before
// it, so that no two books cross and the books stay as placed. Routes run
// down the list (or, now and then, up it, where no book is).

const TOKENS: [&str; 5] = ["T0", "T1", "T2", "T3", "T4"];
const PAYER: usize = 2;
const FUNDS: u64 = 10_000;

#[derive(Debug, Clone)]
struct ModelOffer {
    id: u64,
    owner: usize,
    sell: usize,
    buy: usize,
    n: u64,
    d: u64,
    remaining: u64,
}

/// One hop's fill in the model: `(offer index, got, paid)`.
type ModelFill = (usize, u64, u64);

/// Strict receive, written as plainly as the rule reads: for each hop from
/// the last, the cheapest (then oldest) offers give what is still needed
/// and are paid `ceil(got × n / d)`; the hops' offers count together.
fn model_quote(
    offers: &[ModelOffer],
    route: &[usize],
    dest_amount: u64,
) -> Result<(u64, Vec<ModelFill>), RejectCode> {
    let mut budget = MAX_OFFERS_CROSSED;
    let mut need = u128::from(dest_amount);
    let mut fills = Vec::new();
    for hop in route.windows(2).rev() {
        let (pay, get) = (hop[0], hop[1]);
        let mut book: Vec<usize> = (0..offers.len())
            .filter(|&i| offers[i].sell == get && offers[i].buy == pay && offers[i].remaining > 0)
            .collect();
        book.sort_by(|&a, &b| {
            let (x, y) = (&offers[a], &offers[b]);
            (u128::from(x.n) * u128::from(y.d))
                .cmp(&(u128::from(y.n) * u128::from(x.d)))
                .then(x.id.cmp(&y.id))
        });
        let mut cost: u128 = 0;
        for i in book {
            if need == 0 {
                break;
            }
            if budget == 0 {
                return Err(RejectCode::NoPath);
            }
            budget -= 1;
            let got = need.min(u128::from(offers[i].remaining));
            let paid = (got * u128::from(offers[i].n)).div_ceil(u128::from(offers[i].d));
            fills.push((i, got as u64, paid as u64));
            need -= got;
            cost += paid;
        }
        if need > 0 {
            return Err(RejectCode::NoPath);
        }
        need = cost;
    }
    Ok((need as u64, fills))
}

#[derive(Debug, Clone)]
struct Case {
    offers: Vec<(usize, usize, usize, u64, u64, u64)>,
    route: Vec<usize>,
    dest_amount: u64,
    send_max: u64,
}

fn case() -> impl Strategy<Value = Case> {
    let offer = (1usize..5)
        .prop_flat_map(|sell| {
            (
                prop_oneof![8 => 0usize..2, 1 => Just(PAYER)],
                Just(sell),
                0..sell,
            )
        })
        .prop_flat_map(|(owner, sell, buy)| {
            (
                Just(owner),
                Just(sell),
                Just(buy),
                1u64..150,
                1u64..6,
                1u64..6,
            )
        });
    let route = prop::sample::subsequence((0..TOKENS.len()).collect::<Vec<_>>(), 2..=5)
        .prop_flat_map(|r| (Just(r), prop::bool::weighted(0.1)))
        .prop_map(|(mut r, up)| {
            if up {
                r.reverse();
            }
            r
        });
    (
        prop::collection::vec(offer, 0..40),
        route,
        1u64..300,
        prop_oneof![3 => 1u64..3_000, 1 => Just(u64::MAX)],
    )
        .prop_map(|(offers, route, dest_amount, send_max)| Case {
            offers,
            route,
            dest_amount,
            send_max,
        })
}

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    let issuer = key("path-model/issuer");
    let mut a = Alliance::with_merchants(std::slice::from_ref(&issuer));
    let accounts: Vec<Keypair> = (0..3)
        .map(|i| key(&format!("path-model/account-{i}")))
        .collect();
    let receiver = key("path-model/receiver");
    let creates = TOKENS
        .iter()
        .enumerate()
        .map(|(i, t)| a.tx(&issuer, create(t, (i == 2).then_some(30))))
        .collect();
    a.block(creates);
    // Two mints a block apart: T2's holdings have two lots.
    for _ in 0..2 {
        let mints = accounts
            .iter()
            .flat_map(|k| TOKENS.iter().map(move |t| (k, t)))
            .map(|(k, t)| mint(t, k, FUNDS / 2))
            .collect::<Vec<_>>();
        let txs = mints.into_iter().map(|m| a.tx(&issuer, m)).collect();
        a.block(txs);
    }
    let mut model: Vec<ModelOffer> = Vec::new();
    let mut balances: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    for who in 0..=3 {
        for t in 0..TOKENS.len() {
            balances.insert((who, t), if who < 3 { FUNDS } else { 0 });
        }
    }
    let txs: Vec<_> = c
        .offers
        .iter()
        .map(|(owner, sell, buy, amount, n, d)| {
            a.tx(
                &accounts[*owner],
                offer(TOKENS[*sell], TOKENS[*buy], *amount, *n, *d),
            )
        })
        .collect();
    for (i, r) in a.block(txs).iter().enumerate() {
        let (owner, sell, buy, amount, n, d) = c.offers[i];
        model.push(ModelOffer {
            id: crate::exchange::placed(r),
            owner,
            sell,
            buy,
            n,
            d,
            remaining: amount,
        });
        *balances.get_mut(&(owner, sell)).unwrap() -= amount;
    }
    let (send, dest) = (c.route[0], c.route[c.route.len() - 1]);
    let path: Vec<&str> = c.route[1..c.route.len() - 1]
        .iter()
        .map(|i| TOKENS[*i])
        .collect();
    let kind = pay_path(
        TOKENS[send],
        c.send_max,
        TOKENS[dest],
        c.dest_amount,
        &receiver,
        &path,
    );
    let tx = a.tx(&accounts[PAYER], kind);
    let r = a.run(tx);

    // What the model says, in the order the rules apply.
    let expected = match model_quote(&model, &c.route, c.dest_amount) {
        Err(code) => Err(code),
        Ok((cost, _)) if cost > c.send_max => Err(RejectCode::SendMaxExceeded),
        Ok((_, fills)) if fills.iter().any(|(i, _, _)| model[*i].owner == PAYER) => {
            Err(RejectCode::SelfCross)
        }
        Ok((cost, _)) if balances[&(PAYER, send)] < cost => Err(RejectCode::InsufficientBalance),
        Ok(q) => Ok(q),
    };
    match &expected {
        Err(code) => prop_assert_eq!(r.code(), Some(*code)),
        Ok((cost, fills)) => {
            prop_assert_eq!(r.code(), None);
            *balances.get_mut(&(PAYER, send)).unwrap() -= cost;
            for (i, _, paid) in fills {
                let o = &model[*i];
                *balances.get_mut(&(o.owner, o.buy)).unwrap() += paid;
            }
            for (i, got, _) in fills {
                model[*i].remaining -= got;
            }
            *balances.get_mut(&(3, dest)).unwrap() += c.dest_amount;
            // What the receipt says, checked on its own terms.
            let trades: Vec<_> = r
                .events()
                .iter()
                .filter_map(|e| match e {
                    Event::PathTrade {
                        paid,
                        got,
                        maker_offer,
                        ..
                    } => Some((*maker_offer, *paid, *got)),
                    _ => None,
                })
                .collect();
            prop_assert!(trades.len() <= MAX_OFFERS_CROSSED);
            for (id, paid, got) in &trades {
                let o = model.iter().find(|o| o.id == *id).unwrap();
                let owed = u128::from(*got) * u128::from(o.n);
                let (paid, d) = (u128::from(*paid), u128::from(o.d));
                // At least the offer's price, and not a unit more.
                prop_assert!(
                    paid * d >= owed && (paid - 1) * d < owed,
                    "{id}: paid {paid} for {got}"
                );
            }
            let sent = r.events().iter().find_map(|e| match e {
                Event::PathPaid { sent, received, .. } => Some((*sent, *received)),
                _ => None,
            });
            prop_assert_eq!(sent, Some((*cost, c.dest_amount)));
            prop_assert!(*cost <= c.send_max);
        }
    }
    let everyone: Vec<&Keypair> = accounts.iter().chain([&receiver]).collect();
    for (who, k) in everyone.iter().enumerate() {
        for (t, token) in TOKENS.iter().enumerate() {
            prop_assert_eq!(
                a.balance(k, token),
                balances[&(who, t)],
                "account {} in {}",
                who,
                token
            );
        }
    }
    for o in &model {
        let remaining = a.ledger.offer(o.id).map_or(0, |x| x.remaining);
        prop_assert_eq!(remaining, o.remaining, "offer {}", o.id);
    }
    a.assert_conserved();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn path_payments_agree_with_a_model_of_the_books(c in case()) {
        run_case(&c)?;
    }
}

/// A fixed case the rounding mutant must fail: three offers at a third.
fn thirds() -> Case {
    Case {
        offers: vec![
            (0, 1, 0, 100, 1, 3),
            (1, 2, 1, 100, 2, 3),
            (0, 2, 1, 100, 1, 1),
        ],
        route: vec![0, 1, 2],
        dest_amount: 101,
        send_max: 1_000,
    }
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_path_rounds_for_payer_is_caught() {
    run_case(&thirds()).unwrap();
    let caught = with_mutant(LedgerMutant::PathRoundsForPayer, || run_case(&thirds()));
    assert!(
        caught.is_err(),
        "{} went uncaught",
        LedgerMutant::PathRoundsForPayer.name()
    );
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_path_ignores_send_max_is_caught() {
    let mut c = thirds();
    c.send_max = 10;
    run_case(&c).unwrap();
    let caught = with_mutant(LedgerMutant::PathIgnoresSendMax, || run_case(&c));
    assert!(
        caught.is_err(),
        "{} went uncaught",
        LedgerMutant::PathIgnoresSendMax.name()
    );
}
