//! Combined payments (DESIGN §12): one order paid in several tokens at
//! once. Every leg is paid or none is; the tokens are bounded; a refund is
//! bounded per receiver and per token and goes back to the payer.

use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::ledger::{LedgerMutant, with_mutant};
use merit_chain::limits::MAX_PAY_TOKENS;
use merit_chain::tx::{AccountRef, PayLeg};
use merit_chain::{Event, Hash32, Keypair, RejectCode, TxKind};

use crate::fixture::*;

fn leg(to: &Keypair, token: &str, amount: u64) -> PayLeg {
    PayLeg {
        to: to.public().into(),
        token: sym(token),
        amount,
    }
}

fn pay(order: &str, legs: Vec<PayLeg>) -> TxKind {
    TxKind::Pay {
        order_id: BoundedString::new(order).unwrap(),
        legs: BoundedVec::new(legs).unwrap(),
        memo: None,
    }
}

fn refund(payment: Hash32, token: &str, amount: u64) -> TxKind {
    TxKind::Refund {
        payment,
        token: sym(token),
        amount,
    }
}

/// The alliance with alice holding 500 BOOK beside her 10,000 BEAN.
fn shopper_with_two_tokens() -> Alliance {
    let mut a = Alliance::new();
    let (m2, alice) = (a.m2.clone(), a.alice.public());
    let mint = TxKind::Mint {
        token: sym("BOOK"),
        to: alice.into(),
        amount: 500,
    };
    assert_eq!(a.exec(&m2, mint), None);
    a
}

fn balances(a: &Alliance, who: &[&Keypair]) -> Vec<(u64, u64)> {
    who.iter()
        .map(|k| (a.balance(k, "BEAN"), a.balance(k, "BOOK")))
        .collect()
}

#[test]
fn a_combined_payment_pays_every_leg_in_its_own_token() {
    let mut a = shopper_with_two_tokens();
    let (alice, m1, m2, carol) = (a.alice.clone(), a.m1.clone(), a.m2.clone(), a.carol.clone());
    let tx = a.tx(
        &alice,
        pay(
            "A-1",
            vec![
                leg(&m1, "BEAN", 30),
                leg(&m2, "BOOK", 20),
                leg(&carol, "BEAN", 5),
            ],
        ),
    );
    let payment = tx.hash();
    let r = a.run(tx);
    assert_eq!(r.code(), None, "{r:?}");
    assert_eq!(
        balances(&a, &[&alice, &m1, &m2, &carol]),
        vec![(9_965, 480), (30, 0), (0, 20), (5, 0)]
    );
    // One `Paid` per token, with that token's total, after the legs.
    let paid: Vec<(String, u64)> = r
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Paid { token, total, .. } => Some((token.to_string(), *total)),
            _ => None,
        })
        .collect();
    assert_eq!(paid, vec![("BEAN".into(), 35), ("BOOK".into(), 20)]);
    // The record keeps one share per receiver and token.
    let record = a.ledger.payment(&payment).unwrap();
    let shares: Vec<(AccountRef, String, u64)> = record
        .shares
        .iter()
        .map(|s| (s.to, s.token.to_string(), s.received))
        .collect();
    let mut want = vec![
        (m1.public().into(), "BEAN".to_string(), 30),
        (m2.public().into(), "BOOK".to_string(), 20),
        (carol.public().into(), "BEAN".to_string(), 5),
    ];
    want.sort();
    assert_eq!(shares, want);
    a.assert_conserved();
    a.journal_agrees().unwrap();
}

#[test]
fn one_leg_short_and_no_leg_is_paid() {
    let mut a = shopper_with_two_tokens();
    let (alice, m1, m2) = (a.alice.clone(), a.m1.clone(), a.m2.clone());
    let before = balances(&a, &[&alice, &m1, &m2]);
    // BEAN is there; BOOK is 1 short.
    let short = pay("A-2", vec![leg(&m1, "BEAN", 100), leg(&m2, "BOOK", 501)]);
    assert_eq!(a.exec(&alice, short), Some(RejectCode::InsufficientBalance));
    // An unknown token in any leg refuses the whole payment.
    let unknown = pay("A-2", vec![leg(&m1, "BEAN", 100), leg(&m2, "NOPE", 1)]);
    assert_eq!(a.exec(&alice, unknown), Some(RejectCode::UnknownToken));
    assert_eq!(balances(&a, &[&alice, &m1, &m2]), before);
    // Its order id was not used up.
    let ok = pay("A-2", vec![leg(&m1, "BEAN", 100), leg(&m2, "BOOK", 500)]);
    assert_eq!(a.exec(&alice, ok), None);
    assert_eq!(
        balances(&a, &[&alice, &m1, &m2]),
        vec![(9_900, 0), (100, 0), (0, 500)]
    );
}

#[test]
fn a_payment_names_at_most_max_pay_tokens_tokens() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let tokens = ["T1", "T2", "T3", "T4", "T5", "T6"];
    let legs = |n: usize| {
        tokens[..n]
            .iter()
            .map(|t| leg(&bob, t, 1))
            .collect::<Vec<_>>()
    };
    assert_eq!(MAX_PAY_TOKENS, 5);
    // At the bound the tokens are looked up (and these do not exist)...
    assert_eq!(
        a.exec(&alice, pay("o", legs(MAX_PAY_TOKENS))),
        Some(RejectCode::UnknownToken)
    );
    // ...past it the payment is refused before anything is read.
    assert_eq!(
        a.exec(&alice, pay("o", legs(MAX_PAY_TOKENS + 1))),
        Some(RejectCode::TooManyTokens)
    );
    // Many legs in one token count once.
    let many = (0..20).map(|_| leg(&bob, "BEAN", 1)).collect();
    assert_eq!(a.exec(&alice, pay("o", many)), None);
}

#[test]
fn each_tokens_legs_add_up_on_their_own() {
    let mut a = shopper_with_two_tokens();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let half = u64::MAX / 2 + 1;
    // Two halves of one token overflow...
    assert_eq!(
        a.exec(
            &alice,
            pay("o", vec![leg(&bob, "BEAN", half), leg(&bob, "BEAN", half)])
        ),
        Some(RejectCode::Overflow)
    );
    // ...but not in two tokens: that is only more than alice holds.
    assert_eq!(
        a.exec(
            &alice,
            pay("o", vec![leg(&bob, "BEAN", half), leg(&bob, "BOOK", half)])
        ),
        Some(RejectCode::InsufficientBalance)
    );
}

fn refunds_are_bounded_per_receiver_and_per_token() {
    let mut a = shopper_with_two_tokens();
    let (alice, m1, carol) = (a.alice.clone(), a.m1.clone(), a.carol.clone());
    let tx = a.tx(
        &alice,
        pay(
            "A-3",
            vec![
                leg(&m1, "BEAN", 30),
                leg(&m1, "BOOK", 10),
                leg(&carol, "BEAN", 50),
            ],
        ),
    );
    let payment = tx.hash();
    assert_eq!(a.run(tx).code(), None);
    // carol got BEAN only: she cannot refund BOOK, even though m1's BOOK
    // share would cover it and she holds no BOOK to give.
    let m2 = a.m2.clone();
    let mint = TxKind::Mint {
        token: sym("BOOK"),
        to: carol.public().into(),
        amount: 10,
    };
    assert_eq!(a.exec(&m2, mint), None);
    assert_eq!(
        a.exec(&carol, refund(payment, "BOOK", 10)),
        Some(RejectCode::NotPaymentReceiver)
    );
    // m1 may return each token up to what it got of that token.
    assert_eq!(
        a.exec(&m1, refund(payment, "BEAN", 31)),
        Some(RejectCode::RefundExceedsPayment)
    );
    assert_eq!(a.exec(&m1, refund(payment, "BEAN", 30)), None);
    assert_eq!(
        a.exec(&m1, refund(payment, "BEAN", 1)),
        Some(RejectCode::RefundExceedsPayment)
    );
    assert_eq!(a.exec(&m1, refund(payment, "BOOK", 10)), None);
    // A token the payment never paid in is no share of anyone's.
    assert_eq!(
        a.exec(&m1, refund(payment, "NOPE", 1)),
        Some(RejectCode::NotPaymentReceiver)
    );
    // Everything went back to the payer.
    assert_eq!(
        balances(&a, &[&alice, &m1, &carol]),
        vec![(9_950, 500), (0, 0), (50, 10)]
    );
    a.assert_conserved();
    a.journal_agrees().unwrap();
}

#[test]
fn a_refund_is_bounded_per_receiver_and_per_token() {
    refunds_are_bounded_per_receiver_and_per_token();
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_refund_any_token_is_caught() {
    let caught = std::panic::catch_unwind(|| {
        with_mutant(
            LedgerMutant::RefundAnyToken,
            refunds_are_bounded_per_receiver_and_per_token,
        )
    });
    assert!(
        caught.is_err(),
        "{} went uncaught",
        LedgerMutant::RefundAnyToken.name()
    );
}
