//! The order book: matching by price then age, partial fills, rounding in
//! the resting offer's favour, the zero-fill and self-cross rules, the
//! `MAX_OFFERS_CROSSED` bound, and cancels.

use merit_chain::limits::MAX_OFFERS_CROSSED;
use merit_chain::tx::Price;
use merit_chain::{Event, Keypair, Receipt, RejectCode, TxKind};

use crate::fixture::*;

/// Sell `amount` of `sell` for at least `n/d` of `buy` per unit.
pub fn offer(sell: &str, buy: &str, amount: u64, n: u64, d: u64) -> TxKind {
    TxKind::PlaceOffer {
        sell: sym(sell),
        buy: sym(buy),
        amount,
        price: Price::new(n, d),
    }
}

/// The id of the offer a receipt placed.
pub fn placed(r: &Receipt) -> u64 {
    assert_eq!(r.code(), None, "{r:?}");
    r.events()
        .iter()
        .find_map(|e| match e {
            Event::OfferPlaced { offer, .. } => Some(*offer),
            _ => None,
        })
        .unwrap()
}

/// `(maker offer, taker paid, taker got)` of every trade in a receipt.
fn trades(r: &Receipt) -> Vec<(u64, u64, u64)> {
    r.events()
        .iter()
        .filter_map(|e| match e {
            Event::Trade {
                maker_offer,
                paid,
                got,
                ..
            } => Some((*maker_offer, *paid, *got)),
            _ => None,
        })
        .collect()
}

/// `(id, remaining)` of the book selling `sell` for `buy`, in match order.
fn book(a: &Alliance, sell: &str, buy: &str) -> Vec<(u64, u64)> {
    a.ledger
        .order_book(&sym(sell), &sym(buy))
        .map(|o| (o.id, o.remaining))
        .collect()
}

fn place(a: &mut Alliance, who: &Keypair, kind: TxKind) -> Receipt {
    let tx = a.tx(who, kind);
    a.run(tx)
}

/// The standard alliance, with `bob` and `carol` holding 1,000 BOOK each
/// and `m2` (BOOK's issuer) 1,000 BOOK of its own.
fn market() -> Alliance {
    let mut a = Alliance::new();
    let m2 = a.m2.clone();
    for who in [a.bob.public(), a.carol.public(), m2.public()] {
        let mint = TxKind::Mint {
            token: sym("BOOK"),
            to: who.into(),
            amount: 1_000,
        };
        assert_eq!(a.exec(&m2, mint), None);
    }
    a
}

fn locked_in_offers(a: &Alliance, token: &str) -> u64 {
    a.ledger.token(&sym(token)).unwrap().locked_in_offers
}

#[test]
fn a_full_fill_empties_both_offers() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    // Bob sells 100 BOOK at 2 BEAN each; Alice sells 200 BEAN at 1/2 BOOK each.
    let maker = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 100, 2, 1)));
    assert_eq!(a.balance(&bob, "BOOK"), 900);
    assert_eq!(locked_in_offers(&a, "BOOK"), 100);
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 200, 1, 2));
    let taker = placed(&r);
    assert_eq!(trades(&r), vec![(maker, 200, 100)]);
    assert_eq!(a.balance(&alice, "BEAN"), 9_800);
    assert_eq!(a.balance(&alice, "BOOK"), 100);
    assert_eq!(a.balance(&bob, "BEAN"), 200);
    assert_eq!(a.balance(&bob, "BOOK"), 900);
    assert!(book(&a, "BOOK", "BEAN").is_empty());
    assert!(book(&a, "BEAN", "BOOK").is_empty());
    assert!(a.ledger.offer(maker).is_none() && a.ledger.offer(taker).is_none());
    assert_eq!(locked_in_offers(&a, "BOOK"), 0);
    assert_eq!(locked_in_offers(&a, "BEAN"), 0);
    a.assert_conserved();
}

#[test]
fn a_partial_fill_leaves_the_resting_offer_with_the_rest() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let maker = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 100, 2, 1)));
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 50, 1, 2));
    assert_eq!(trades(&r), vec![(maker, 50, 25)]);
    // The taker is filled completely and does not rest; the maker keeps 75.
    assert_eq!(book(&a, "BOOK", "BEAN"), vec![(maker, 75)]);
    assert!(book(&a, "BEAN", "BOOK").is_empty());
    assert_eq!(locked_in_offers(&a, "BOOK"), 75);
    let o = a.ledger.offer(maker).unwrap();
    assert_eq!((o.amount, o.remaining), (100, 75));
    assert_eq!(a.balance(&alice, "BOOK"), 25);
    assert_eq!(a.balance(&bob, "BEAN"), 50);
    a.assert_conserved();
}

#[test]
fn a_partial_fill_rests_the_new_offers_remainder() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let maker = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 100, 2, 1)));
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 300, 1, 2));
    let taker = placed(&r);
    assert_eq!(trades(&r), vec![(maker, 200, 100)]);
    assert!(book(&a, "BOOK", "BEAN").is_empty());
    assert_eq!(book(&a, "BEAN", "BOOK"), vec![(taker, 100)]);
    assert_eq!(locked_in_offers(&a, "BEAN"), 100);
    assert_eq!(a.balance(&alice, "BEAN"), 9_700);
    let locked = a.ledger.locked(&alice.public());
    assert_eq!(locked.len(), 1);
    assert_eq!((locked[0].token, locked[0].in_offers), (sym("BEAN"), 100));
    a.assert_conserved();
}

#[test]
fn a_fill_walks_several_price_levels_cheapest_first() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    // Placed worst price first, to show the book orders them.
    let at3 = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 10, 3, 1)));
    let at2 = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 10, 2, 1)));
    let at1 = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 10, 1, 1)));
    let at4 = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 10, 4, 1)));
    assert_eq!(
        book(&a, "BOOK", "BEAN"),
        vec![(at1, 10), (at2, 10), (at3, 10), (at4, 10)]
    );
    // Alice accepts up to 3 BEAN per BOOK: the 4-BEAN level does not cross.
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 100, 1, 3));
    let taker = placed(&r);
    assert_eq!(
        trades(&r),
        vec![(at1, 10, 10), (at2, 20, 10), (at3, 30, 10)]
    );
    assert_eq!(book(&a, "BOOK", "BEAN"), vec![(at4, 10)]);
    assert_eq!(book(&a, "BEAN", "BOOK"), vec![(taker, 40)]);
    assert_eq!(a.balance(&alice, "BOOK"), 30);
    assert_eq!(a.balance(&bob, "BEAN"), 60);
    a.assert_conserved();
}

#[test]
fn equal_prices_fill_oldest_first_and_a_better_price_beats_age() {
    let mut a = market();
    let (alice, bob, carol, m2) = (
        a.alice.clone(),
        a.bob.clone(),
        a.carol.clone(),
        a.m2.clone(),
    );
    let bob_first = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 10, 2, 1)));
    let carol_second = placed(&place(&mut a, &carol, offer("BOOK", "BEAN", 10, 2, 1)));
    // The merchant's standing rate, placed last but cheaper.
    let merchant_rate = placed(&place(&mut a, &m2, offer("BOOK", "BEAN", 10, 1, 1)));
    // The same price written as 4/2 is the same price level.
    let bob_third = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 10, 4, 2)));
    assert_eq!(a.ledger.offer(bob_third).unwrap().price, Price::new(2, 1));
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 40, 1, 2));
    assert_eq!(
        trades(&r),
        vec![
            (merchant_rate, 10, 10),
            (bob_first, 20, 10),
            (carol_second, 10, 5)
        ]
    );
    assert_eq!(
        book(&a, "BOOK", "BEAN"),
        vec![(carol_second, 5), (bob_third, 10)]
    );
    a.assert_conserved();
}

#[test]
fn rounding_favours_the_resting_offer_at_a_price_of_one_third() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    // Bob sells BOOK at 1/3 BEAN each: 4 BOOK are worth 1.33 BEAN.
    let maker = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 4, 1, 3)));
    // Alice wants at least 1 BOOK per BEAN.
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 5, 1, 1));
    let taker = placed(&r);
    // The taker pays ceil(4 / 3) = 2 BEAN for the 4 BOOK: the maker gets the
    // rounding, never less than its price, and nothing is created.
    assert_eq!(trades(&r), vec![(maker, 2, 4)]);
    assert_eq!(a.balance(&bob, "BEAN"), 2);
    assert_eq!(a.balance(&alice, "BOOK"), 4);
    assert_eq!(book(&a, "BEAN", "BOOK"), vec![(taker, 3)]);
    assert_eq!(a.balance(&alice, "BEAN"), 10_000 - 5);
    // Every unit is accounted for: Alice's 5 BEAN are 2 with Bob and 3 locked.
    assert_eq!(locked_in_offers(&a, "BEAN"), 3);
    a.assert_conserved();
}

#[test]
fn a_fill_that_would_deliver_zero_is_not_made_and_the_offer_rests() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    // One BOOK costs 3 BEAN; Alice offers 2 BEAN at exactly that price.
    let maker = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 10, 3, 1)));
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 2, 1, 3));
    let taker = placed(&r);
    // 2 BEAN buy floor(2/3) = 0 BOOK: no trade, and Alice's 2 BEAN rest.
    assert!(trades(&r).is_empty());
    assert_eq!(book(&a, "BOOK", "BEAN"), vec![(maker, 10)]);
    assert_eq!(book(&a, "BEAN", "BOOK"), vec![(taker, 2)]);
    assert_eq!(a.balance(&alice, "BOOK"), 0);
    assert_eq!(a.balance(&bob, "BEAN"), 0);
    a.assert_conserved();
}

#[test]
fn a_fill_whose_rounding_would_break_the_takers_price_is_skipped() {
    let mut a = market();
    let (alice, bob, carol) = (a.alice.clone(), a.bob.clone(), a.carol.clone());
    // Both sell BOOK at 1/3 BEAN each; Bob's offer is older but holds 1 BOOK.
    let small = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 1, 1, 3)));
    let big = placed(&place(&mut a, &carol, offer("BOOK", "BEAN", 3, 1, 3)));
    // Alice sells 1 BEAN for at least 2 BOOK. Against Bob she would pay
    // ceil(1/3) = 1 BEAN for 1 BOOK, below her price: that fill is skipped.
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 1, 2, 1));
    assert_eq!(trades(&r), vec![(big, 1, 3)]);
    assert_eq!(book(&a, "BOOK", "BEAN"), vec![(small, 1)]);
    assert!(book(&a, "BEAN", "BOOK").is_empty());
    assert_eq!(a.balance(&alice, "BOOK"), 3);
    a.assert_conserved();
}

#[test]
fn crossing_ones_own_offer_is_rejected_and_changes_nothing() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    assert_eq!(a.exec(&alice, Alliance::transfer("BEAN", &bob, 500)), None);
    let own = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 100, 2, 1)));
    let before = a.ledger.state_root();
    let state: Vec<_> = a
        .ledger
        .state()
        .iter()
        .filter(|(k, _)| !matches!(k, merit_chain::state::StateKey::Nonce(..)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let r = place(&mut a, &bob, offer("BEAN", "BOOK", 200, 1, 2));
    assert_eq!(r.code(), Some(RejectCode::SelfCross));
    assert_ne!(a.ledger.state_root(), before, "the nonce is spent");
    let after: Vec<_> = a
        .ledger
        .state()
        .iter()
        .filter(|(k, _)| !matches!(k, merit_chain::state::StateKey::Nonce(..)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(state, after, "a rejected offer changes no ledger entry");
    assert_eq!(book(&a, "BOOK", "BEAN"), vec![(own, 100)]);
    // Someone else's better offer in front is filled first; a taker that is
    // filled before reaching its own offer is fine.
    let carol = a.carol.clone();
    let cheap = placed(&place(&mut a, &carol, offer("BOOK", "BEAN", 10, 1, 1)));
    let r = place(&mut a, &bob, offer("BEAN", "BOOK", 10, 1, 2));
    assert_eq!(trades(&r), vec![(cheap, 10, 10)]);
    // An own offer that does not cross is no problem either.
    let r = place(&mut a, &bob, offer("BEAN", "BOOK", 10, 1, 1));
    assert_eq!(r.code(), None);
    a.assert_conserved();
}

#[test]
fn at_most_max_offers_crossed_are_crossed_and_the_rest_rests() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let n = MAX_OFFERS_CROSSED + 1;
    let txs: Vec<_> = (0..n)
        .map(|_| a.tx(&bob, offer("BOOK", "BEAN", 1, 1, 1)))
        .collect();
    let receipts = a.block(txs);
    let ids: Vec<u64> = receipts.iter().map(placed).collect();
    assert_eq!(book(&a, "BOOK", "BEAN").len(), n);
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 100, 1, 1));
    let taker = placed(&r);
    let t = trades(&r);
    assert_eq!(t.len(), MAX_OFFERS_CROSSED);
    assert_eq!(
        t.iter().map(|(m, _, _)| *m).collect::<Vec<_>>(),
        ids[..MAX_OFFERS_CROSSED]
    );
    // The last offer still crosses but was beyond the bound; the remainder
    // rests (the book is left crossed until the next taker).
    let left = 100 - MAX_OFFERS_CROSSED as u64;
    assert_eq!(book(&a, "BOOK", "BEAN"), vec![(ids[n - 1], 1)]);
    assert_eq!(book(&a, "BEAN", "BOOK"), vec![(taker, left)]);
    // The next taker picks up the crossing offer.
    let carol = a.carol.clone();
    assert_eq!(a.exec(&alice, Alliance::transfer("BEAN", &carol, 5)), None);
    let r = place(&mut a, &carol, offer("BEAN", "BOOK", 1, 1, 1));
    assert_eq!(trades(&r), vec![(ids[n - 1], 1, 1)]);
    a.assert_conserved();
}

#[test]
fn a_cancel_returns_exactly_what_remains() {
    let mut a = market();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let id = placed(&place(&mut a, &bob, offer("BOOK", "BEAN", 100, 2, 1)));
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 30, 1, 2));
    assert_eq!(trades(&r), vec![(id, 30, 15)]);
    assert_eq!(a.balance(&bob, "BOOK"), 900);
    assert_eq!(
        a.exec(&alice, TxKind::CancelOffer { offer_id: id }),
        Some(RejectCode::NotOfferOwner)
    );
    let tx = a.tx(&bob, TxKind::CancelOffer { offer_id: id });
    let r = a.run(tx);
    assert_eq!(r.code(), None);
    assert!(r.events().contains(&Event::OfferCancelled {
        offer: id,
        owner: bob.public().into(),
        token: sym("BOOK"),
        returned: 85,
    }));
    assert_eq!(a.balance(&bob, "BOOK"), 985);
    assert_eq!(a.balance(&bob, "BEAN"), 30);
    assert!(a.ledger.offer(id).is_none());
    assert!(book(&a, "BOOK", "BEAN").is_empty());
    assert_eq!(locked_in_offers(&a, "BOOK"), 0);
    assert!(a.ledger.locked(&bob.public()).is_empty());
    assert_eq!(
        a.exec(&bob, TxKind::CancelOffer { offer_id: id }),
        Some(RejectCode::UnknownOffer)
    );
    a.assert_conserved();
}

#[test]
fn offers_in_two_merchants_tokens_cross_each_other() {
    let mut a = market();
    let (m1, m2, alice, bob) = (a.m1.clone(), a.m2.clone(), a.alice.clone(), a.bob.clone());
    // Each merchant publishes a rate as a standing offer in its own points.
    let mint = TxKind::Mint {
        token: sym("BEAN"),
        to: m1.public().into(),
        amount: 1_000,
    };
    assert_eq!(a.exec(&m1, mint), None);
    // BEAN's merchant sells BEAN at 3 per BOOK; BOOK's sells BOOK at 4 BEAN each.
    let bean_rate = placed(&place(&mut a, &m1, offer("BEAN", "BOOK", 500, 1, 3)));
    let book_rate = placed(&place(&mut a, &m2, offer("BOOK", "BEAN", 500, 4, 1)));
    // 4 * 1/3 > 1: the two rates leave a spread and both rest.
    assert_eq!(book(&a, "BEAN", "BOOK"), vec![(bean_rate, 500)]);
    assert_eq!(book(&a, "BOOK", "BEAN"), vec![(book_rate, 500)]);
    // A shopper holding BOOK swaps into BEAN at the BEAN merchant's rate...
    let r = place(&mut a, &bob, offer("BOOK", "BEAN", 20, 3, 1));
    assert_eq!(trades(&r), vec![(bean_rate, 20, 60)]);
    assert_eq!(a.balance(&bob, "BEAN"), 60);
    // ...and one holding BEAN swaps into BOOK at the BOOK merchant's rate.
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 40, 1, 4));
    assert_eq!(trades(&r), vec![(book_rate, 40, 10)]);
    assert_eq!(a.balance(&alice, "BOOK"), 10);
    assert_eq!(a.balance(&m1, "BOOK"), 20);
    assert_eq!(a.balance(&m2, "BEAN"), 40);
    assert_eq!(locked_in_offers(&a, "BEAN"), 440);
    assert_eq!(locked_in_offers(&a, "BOOK"), 490);
    a.assert_conserved();
}

#[test]
fn offer_parameters_are_checked() {
    let mut a = market();
    let alice = a.alice.clone();
    for (kind, code) in [
        (offer("BEAN", "BOOK", 0, 1, 1), RejectCode::ZeroAmount),
        (offer("BEAN", "BOOK", 1, 0, 1), RejectCode::InvalidPrice),
        (offer("BEAN", "BOOK", 1, 1, 0), RejectCode::InvalidPrice),
        (offer("BEAN", "BEAN", 1, 1, 1), RejectCode::SameToken),
        (offer("BEAN", "NOPE", 1, 1, 1), RejectCode::UnknownToken),
        (
            offer("BEAN", "BOOK", 10_001, 1, 1),
            RejectCode::InsufficientBalance,
        ),
    ] {
        assert_eq!(a.exec(&alice, kind), Some(code));
    }
    // Extreme prices compare exactly, without overflow.
    let r = place(&mut a, &alice, offer("BEAN", "BOOK", 10, u64::MAX, 1));
    assert_eq!(r.code(), None);
    let bob = a.bob.clone();
    let r = place(&mut a, &bob, offer("BOOK", "BEAN", 10, 1, u64::MAX));
    assert_eq!(trades(&r), vec![]);
    let r = place(&mut a, &bob, offer("BOOK", "BEAN", 1, 1, 1));
    assert!(
        trades(&r).is_empty(),
        "u64::MAX BOOK per BEAN does not cross 1/1"
    );
    a.assert_conserved();
}
