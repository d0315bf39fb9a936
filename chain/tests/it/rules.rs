//! The ledger's rules, one behaviour per test, and proof that every
//! rejection code is reachable.

use std::collections::BTreeSet;

use merit_chain::encoding::{self, BoundedString};
use merit_chain::limits::{MAX_PAY_LEGS, MAX_TX_BYTES, MAX_TX_TTL_BLOCKS};
use merit_chain::state::{Holding, StateKey, StateValue};
use merit_chain::tx::TxBody;
use merit_chain::{Event, Hash32, Ledger, Refusal, RejectCode, Transaction, TxKind, TxOutcome};

use crate::fixture::*;

fn create(symbol: &str, cap: u64) -> TxKind {
    TxKind::CreateToken {
        symbol: sym(symbol),
        name: BoundedString::new("Test points").unwrap(),
        decimals: 2,
        max_supply: cap,
        expiry_days: None,
        freezable: false,
        clawback: false,
    }
}

fn pay(token: &str, order: &str, to: &[(merit_chain::Address, u64)]) -> TxKind {
    TxKind::Pay {
        order_id: BoundedString::new(order).unwrap(),
        legs: legs(sym(token), to),
        memo: None,
    }
}

#[test]
fn a_merchant_creates_a_token_and_mints_up_to_the_cap_exactly() {
    let mut a = Alliance::new();
    let (m1, bob) = (a.m1.clone(), a.bob.clone());
    assert_eq!(a.exec(&m1, create("CAP", 1_000)), None);
    let mint = |amount| TxKind::Mint {
        token: sym("CAP"),
        to: bob.public().into(),
        amount,
    };
    assert_eq!(a.exec(&m1, mint(999)), None);
    assert_eq!(
        a.exec(&m1, mint(1)),
        None,
        "reaching the cap exactly is allowed"
    );
    assert_eq!(
        a.exec(&m1, mint(1)),
        Some(RejectCode::SupplyCapExceeded),
        "one over the cap"
    );
    assert_eq!(a.balance(&bob, "CAP"), 1_000);
    assert_eq!(a.ledger.token(&sym("CAP")).unwrap().minted, 1_000);
}

#[test]
fn minting_past_u64_is_a_cap_rejection_not_a_wrap() {
    let mut a = Alliance::new();
    let (m1, bob) = (a.m1.clone(), a.bob.clone());
    assert_eq!(a.exec(&m1, create("HUGE", u64::MAX)), None);
    let mint = |amount| TxKind::Mint {
        token: sym("HUGE"),
        to: bob.public().into(),
        amount,
    };
    assert_eq!(a.exec(&m1, mint(u64::MAX)), None);
    assert_eq!(a.exec(&m1, mint(1)), Some(RejectCode::SupplyCapExceeded));
    assert_eq!(a.balance(&bob, "HUGE"), u64::MAX);
}

/// Regression: installing a block's balance changes in key order could add
/// the receiver's whole-supply balance before removing the sender's, and a
/// saturating 64-bit running sum then broke the supply check.
/// Creates HUGE with a cap of `u64::MAX` and mints all of it to `to`.
fn mint_the_whole_u64_supply(a: &mut Alliance, to: &merit_chain::Keypair) {
    let m1 = a.m1.clone();
    assert_eq!(a.exec(&m1, create("HUGE", u64::MAX)), None);
    let mint = TxKind::Mint {
        token: sym("HUGE"),
        to: to.public().into(),
        amount: u64::MAX,
    };
    assert_eq!(a.exec(&m1, mint), None);
}

#[test]
fn moving_the_whole_u64_supply_in_either_address_order_keeps_the_supply_invariant() {
    let mut a = Alliance::new();
    let (bob, carol) = (a.bob.clone(), a.carol.clone());
    mint_the_whole_u64_supply(&mut a, &bob);
    assert_eq!(
        a.exec(&bob, Alliance::transfer("HUGE", &carol, u64::MAX)),
        None
    );
    assert_eq!(
        a.exec(&carol, Alliance::transfer("HUGE", &bob, u64::MAX)),
        None
    );
    assert_eq!(a.balance(&bob, "HUGE"), u64::MAX);
    assert_eq!(a.balance(&carol, "HUGE"), 0);
    assert!(a.ledger.audit().iter().all(|s| s.holds()));
}

#[test]
fn the_audit_catches_created_value_even_when_a_saturated_sum_would_match() {
    let mut a = Alliance::new();
    let (bob, carol) = (a.bob.clone(), a.carol.clone());
    mint_the_whole_u64_supply(&mut a, &bob);
    // A state in which carol also holds points that were never minted: the
    // balances sum past u64::MAX, and a saturating sum would equal `minted`.
    let mut state = a.ledger.state().clone();
    state.insert(
        StateKey::Holding(carol.public(), 0, sym("HUGE")),
        StateValue::Holding(Holding {
            balance: 1,
            ..Holding::default()
        }),
    );
    let forged = Ledger::from_state(chain_id(), a.ledger.tip().clone(), state);
    let huge = forged
        .audit()
        .into_iter()
        .find(|s| s.token == sym("HUGE"))
        .unwrap();
    assert!(huge.overflowed, "{huge:?}");
    assert!(!huge.holds(), "{huge:?}");
    // The real state holds.
    assert!(a.ledger.audit().iter().all(|s| s.holds() && !s.overflowed));
}

#[test]
fn pay_legs_that_overflow_u64_are_rejected() {
    let mut a = Alliance::new();
    let (alice, bob, carol) = (a.alice.clone(), a.bob.clone(), a.carol.clone());
    let kind = pay(
        "BEAN",
        "o-1",
        &[(bob.public(), u64::MAX), (carol.public(), 1)],
    );
    assert_eq!(kind.check_stateless(), Err(RejectCode::Overflow));
    assert_eq!(a.exec(&alice, kind), Some(RejectCode::Overflow));
    assert_eq!(a.balance(&alice, "BEAN"), 10_000);
}

#[test]
fn only_the_issuer_mints_and_only_merchants_create_tokens() {
    let mut a = Alliance::new();
    let (m2, alice) = (a.m2.clone(), a.alice.clone());
    let mint = TxKind::Mint {
        token: sym("BEAN"),
        to: alice.public().into(),
        amount: 5,
    };
    assert_eq!(a.exec(&m2, mint), Some(RejectCode::NotIssuer));
    assert_eq!(
        a.exec(&alice, create("SHOP", 10)),
        Some(RejectCode::NotMerchant)
    );
    assert_eq!(
        a.exec(&m2, create("BEAN", 10)),
        Some(RejectCode::TokenExists)
    );
    assert_eq!(a.ledger.token(&sym("BEAN")).unwrap().minted, 10_000);
}

#[test]
fn a_split_payment_settles_atomically_and_is_refundable_per_receiver() {
    let mut a = Alliance::new();
    let (alice, bob, carol, m1) = (
        a.alice.clone(),
        a.bob.clone(),
        a.carol.clone(),
        a.m1.clone(),
    );
    let tx = a.tx(
        &alice,
        pay(
            "BEAN",
            "order-1",
            &[(m1.public(), 900), (bob.public(), 70), (carol.public(), 30)],
        ),
    );
    let payment = tx.hash();
    let receipt = a.run(tx);
    assert_eq!(receipt.code(), None);
    assert!(
        receipt
            .events()
            .iter()
            .any(|e| matches!(e, Event::Paid { total: 1000, .. }))
    );
    assert_eq!(a.balance(&alice, "BEAN"), 9_000);
    assert_eq!(
        (
            a.balance(&m1, "BEAN"),
            a.balance(&bob, "BEAN"),
            a.balance(&carol, "BEAN")
        ),
        (900, 70, 30)
    );

    // bob refunds part of his share, then cannot refund more than what is left.
    assert_eq!(
        a.exec(
            &bob,
            TxKind::Refund {
                payment,
                token: sym("BEAN"),
                amount: 50
            }
        ),
        None
    );
    assert_eq!(
        a.exec(
            &bob,
            TxKind::Refund {
                payment,
                token: sym("BEAN"),
                amount: 21
            }
        ),
        Some(RejectCode::RefundExceedsPayment)
    );
    assert_eq!(
        a.exec(
            &bob,
            TxKind::Refund {
                payment,
                token: sym("BEAN"),
                amount: 20
            }
        ),
        None
    );
    assert_eq!(
        a.exec(
            &bob,
            TxKind::Refund {
                payment,
                token: sym("BEAN"),
                amount: 1
            }
        ),
        Some(RejectCode::RefundExceedsPayment)
    );
    assert_eq!(a.balance(&alice, "BEAN"), 9_070);
    assert_eq!(a.balance(&bob, "BEAN"), 0);
    // Someone who got nothing from the payment cannot refund it.
    assert_eq!(
        a.exec(
            &alice,
            TxKind::Refund {
                payment,
                token: sym("BEAN"),
                amount: 1
            }
        ),
        Some(RejectCode::NotPaymentReceiver)
    );
    assert_eq!(
        a.exec(
            &bob,
            TxKind::Refund {
                payment: Hash32([7; 32]),
                token: sym("BEAN"),
                amount: 1
            }
        ),
        Some(RejectCode::UnknownPayment)
    );
}

#[test]
fn a_refund_needs_the_receiver_to_still_hold_the_points() {
    let mut a = Alliance::new();
    let (alice, bob, carol) = (a.alice.clone(), a.bob.clone(), a.carol.clone());
    let tx = a.tx(&alice, pay("BEAN", "o", &[(bob.public(), 100)]));
    let payment = tx.hash();
    assert_eq!(a.run(tx).code(), None);
    assert_eq!(a.exec(&bob, Alliance::transfer("BEAN", &carol, 100)), None);
    assert_eq!(
        a.exec(
            &bob,
            TxKind::Refund {
                payment,
                token: sym("BEAN"),
                amount: 10
            }
        ),
        Some(RejectCode::InsufficientBalance)
    );
    // The failed refund did not use up bob's refundable share.
    assert_eq!(a.ledger.payment(&payment).unwrap().shares[0].refunded, 0);
}

#[test]
fn a_duplicate_order_id_is_rejected_and_names_the_original_payment() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let first = a.tx(&alice, pay("BEAN", "order-42", &[(bob.public(), 10)]));
    let original = first.hash();
    assert_eq!(a.run(first).code(), None);
    let again = a.tx(&alice, pay("BEAN", "order-42", &[(bob.public(), 10)]));
    let receipt = a.run(again);
    assert_eq!(
        receipt.outcome,
        TxOutcome::Rejected {
            code: RejectCode::DuplicateOrderId,
            original: Some(original)
        }
    );
    assert_eq!(a.balance(&bob, "BEAN"), 10);
    // Another sender may use the same order id.
    let m1 = a.m1.clone();
    assert_eq!(a.exec(&alice, Alliance::transfer("BEAN", &m1, 100)), None);
    assert_eq!(
        a.exec(&m1, pay("BEAN", "order-42", &[(bob.public(), 10)])),
        None
    );
}

#[test]
fn payments_take_1_to_50_legs() {
    let mut a = Alliance::new();
    let alice = a.alice.clone();
    let receivers: Vec<_> = (0..=MAX_PAY_LEGS)
        .map(|i| (key(&format!("r{i}")).public(), 1))
        .collect();
    assert_eq!(
        a.exec(&alice, pay("BEAN", "fifty", &receivers[..MAX_PAY_LEGS])),
        None
    );
    assert_eq!(
        a.exec(&alice, pay("BEAN", "fifty-one", &receivers)),
        Some(RejectCode::TooManyLegs)
    );
    assert_eq!(
        a.exec(&alice, pay("BEAN", "none", &[])),
        Some(RejectCode::NoLegs)
    );
    assert_eq!(
        a.exec(&alice, pay("BEAN", "", &receivers[..1])),
        Some(RejectCode::InvalidOrderId)
    );
    assert_eq!(a.balance(&alice, "BEAN"), 10_000 - 50);
}

#[test]
fn overspends_zero_amounts_and_unknown_tokens_are_rejected() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    assert_eq!(
        a.exec(&alice, Alliance::transfer("BEAN", &bob, 10_001)),
        Some(RejectCode::InsufficientBalance)
    );
    assert_eq!(
        a.exec(&alice, Alliance::transfer("BEAN", &bob, 0)),
        Some(RejectCode::ZeroAmount)
    );
    assert_eq!(
        a.exec(&alice, Alliance::transfer("NOPE", &bob, 1)),
        Some(RejectCode::UnknownToken)
    );
    assert_eq!(
        a.exec(
            &alice,
            pay(
                "BEAN",
                "big",
                &[(bob.public(), 6_000), (bob.public(), 4_001)]
            )
        ),
        Some(RejectCode::InsufficientBalance)
    );
    assert_eq!(a.balance(&alice, "BEAN"), 10_000);
    assert_eq!(a.balance(&bob, "BEAN"), 0);
}

#[test]
fn redeeming_burns_points_and_keeps_the_supply_invariant() {
    let mut a = Alliance::new();
    let alice = a.alice.clone();
    assert_eq!(
        a.exec(
            &alice,
            TxKind::Redeem {
                token: sym("BEAN"),
                amount: 2_500,
                memo: None
            }
        ),
        None
    );
    assert_eq!(
        a.exec(
            &alice,
            TxKind::Redeem {
                token: sym("BEAN"),
                amount: 7_501,
                memo: None
            }
        ),
        Some(RejectCode::InsufficientBalance)
    );
    let bean = a
        .ledger
        .audit()
        .into_iter()
        .find(|s| s.token == sym("BEAN"))
        .unwrap();
    assert_eq!(
        (bean.minted, bean.circulating, bean.redeemed),
        (10_000, 7_500, 2_500)
    );
    assert!(bean.holds());
}

#[test]
fn token_parameters_are_checked() {
    let mut a = Alliance::new();
    let m1 = a.m1.clone();
    let with = |decimals: u8, cap: u64, name: &str, expiry: Option<u32>| TxKind::CreateToken {
        symbol: sym("NEW"),
        name: BoundedString::new(name).unwrap(),
        decimals,
        max_supply: cap,
        expiry_days: expiry,
        freezable: false,
        clawback: false,
    };
    assert_eq!(
        a.exec(&m1, with(10, 1, "x", None)),
        Some(RejectCode::InvalidDecimals)
    );
    assert_eq!(
        a.exec(&m1, with(2, 0, "x", None)),
        Some(RejectCode::InvalidMaxSupply)
    );
    assert_eq!(
        a.exec(&m1, with(2, 1, "  ", None)),
        Some(RejectCode::InvalidTokenName)
    );
    assert_eq!(
        a.exec(&m1, with(2, 1, "x", Some(0))),
        Some(RejectCode::InvalidExpiryDays)
    );
    assert!(a.ledger.token(&sym("NEW")).is_none());
}

#[test]
fn the_envelope_is_checked_before_anything_runs() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let body = |chain: &str, nonce: u64, expires: u64| TxBody {
        chain_id: BoundedString::new(chain).unwrap(),
        sender: alice.public(),
        sub: 0,
        nonce,
        expires_at_height: expires,
        kind: Alliance::transfer("BEAN", &bob, 1),
    };
    let h = a.ledger.height();
    assert_eq!(
        a.run(body("other-chain", 1, h + 5).sign(&alice)).code(),
        Some(RejectCode::WrongChainId)
    );
    let mut tampered = body(CHAIN, 2, h + 5).sign(&alice);
    tampered.body.kind = Alliance::transfer("BEAN", &bob, 9_999);
    assert_eq!(a.run(tampered).code(), Some(RejectCode::BadSignature));
    let forged = body(CHAIN, 3, h + 5).sign(&bob);
    assert_eq!(a.run(forged).code(), Some(RejectCode::BadSignature));
    let h = a.ledger.height();
    assert_eq!(
        a.run(body(CHAIN, 4, h + 1).sign(&alice)).code(),
        Some(RejectCode::Expired),
        "expires at its own height"
    );
    let h = a.ledger.height();
    assert_eq!(
        a.run(body(CHAIN, 5, h + 2 + MAX_TX_TTL_BLOCKS).sign(&alice))
            .code(),
        Some(RejectCode::ExpiryTooFar)
    );
    let h = a.ledger.height();
    assert_eq!(
        a.run(body(CHAIN, 6, h + 1 + MAX_TX_TTL_BLOCKS).sign(&alice))
            .code(),
        None,
        "the widest window"
    );
    assert_eq!(a.balance(&bob, "BEAN"), 1);
}

#[test]
fn a_replayed_transaction_has_no_second_effect() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let tx = a.tx(&alice, Alliance::transfer("BEAN", &bob, 100));
    // Twice in one block, then again in the next block.
    let receipts = a.block(vec![tx.clone(), tx.clone()]);
    assert_eq!(receipts[0].code(), None);
    assert_eq!(receipts[1].code(), Some(RejectCode::NonceReused));
    assert_eq!(a.run(tx.clone()).code(), Some(RejectCode::NonceReused));
    assert_eq!(a.balance(&bob, "BEAN"), 100);
    // Once the window has closed the bytes are expired, never valid again.
    for _ in 0..10 {
        a.block(vec![]);
    }
    assert_eq!(a.run(tx).code(), Some(RejectCode::Expired));
    assert_eq!(a.balance(&bob, "BEAN"), 100);
}

#[test]
fn unordered_nonces_let_terminals_sign_concurrently() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let h = a.ledger.height();
    let signed: Vec<Transaction> = [900_u64, 3, 77_777]
        .iter()
        .map(|n| {
            TxBody {
                chain_id: chain_id(),
                sender: alice.public(),
                sub: 0,
                nonce: *n,
                expires_at_height: h + 5,
                kind: Alliance::transfer("BEAN", &bob, 1),
            }
            .sign(&alice)
        })
        .collect();
    // Submitted out of order, across blocks.
    assert_eq!(a.run(signed[2].clone()).code(), None);
    assert_eq!(
        a.block(vec![signed[0].clone(), signed[1].clone()])
            .iter()
            .filter(|r| r.code().is_none())
            .count(),
        2
    );
    assert_eq!(a.balance(&bob, "BEAN"), 3);
}

#[test]
fn a_rejected_kind_changes_no_ledger_entry_but_spends_its_nonce() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let before: Vec<_> = a
        .ledger
        .state()
        .iter()
        .filter(|(k, _)| !matches!(k, merit_chain::state::StateKey::Nonce(..)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let tx = a.tx(&alice, Alliance::transfer("BEAN", &bob, 50_000));
    assert_eq!(
        a.run(tx.clone()).code(),
        Some(RejectCode::InsufficientBalance)
    );
    let after: Vec<_> = a
        .ledger
        .state()
        .iter()
        .filter(|(k, _)| !matches!(k, merit_chain::state::StateKey::Nonce(..)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(before, after);
    // Even after a top-up, the same signed bytes can never go through.
    let m1 = a.m1.clone();
    assert_eq!(
        a.exec(
            &m1,
            TxKind::Mint {
                token: sym("BEAN"),
                to: alice.public().into(),
                amount: 50_000
            }
        ),
        None
    );
    assert_eq!(a.run(tx).code(), Some(RejectCode::NonceReused));
    assert_eq!(a.balance(&bob, "BEAN"), 0);
}

#[test]
fn admission_rejects_oversized_and_malformed_bytes() {
    let code = |bytes: &[u8]| Transaction::admit(bytes).map_err(|r| r.code);
    assert_eq!(
        Transaction::admit(&vec![0u8; MAX_TX_BYTES + 1]),
        Err(Refusal::new(
            RejectCode::TooLarge,
            "the transaction is 65537 bytes, at most 65536"
        ))
    );
    assert_eq!(code(&[1, 2, 3]), Err(RejectCode::Malformed));
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let tx = a.tx(&alice, Alliance::transfer("BEAN", &bob, 1));
    let bytes = tx.to_bytes();
    assert_eq!(Transaction::admit(&bytes), Ok(tx));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(code(&trailing), Err(RejectCode::Malformed));
    assert_eq!(code(&bytes[..bytes.len() - 1]), Err(RejectCode::Malformed));
    let zero = a.tx(&alice, Alliance::transfer("BEAN", &bob, 0));
    assert_eq!(
        Transaction::admit(&zero.to_bytes()),
        Err(Refusal::new(RejectCode::ZeroAmount, "amount is 0"))
    );
    // A memo over its limit does not decode, and the error says why.
    let memo_bytes = encoding::encode(&"m".repeat(257));
    assert_eq!(
        encoding::decode::<merit_chain::tx::Memo>(&memo_bytes, 1024)
            .unwrap_err()
            .reason(),
        "memo is 257 bytes, at most 256"
    );
}

/// Runs one scenario per rejection code and checks that together they reach
/// every code the ledger defines.
#[test]
fn every_rejection_code_is_reached() {
    let mut reached = BTreeSet::new();
    let mut a = Alliance::new();
    let (m1, m2, alice, bob) = (a.m1.clone(), a.m2.clone(), a.alice.clone(), a.bob.clone());
    let mut note = |c: Option<RejectCode>| {
        if let Some(c) = c {
            reached.insert(c);
        }
    };
    note(Transaction::admit(&[0]).err().map(|r| r.code));
    note(
        Transaction::admit(&vec![0; MAX_TX_BYTES + 1])
            .err()
            .map(|r| r.code),
    );
    let h = a.ledger.height();
    let body = |chain: &str, nonce: u64, expires: u64| TxBody {
        chain_id: BoundedString::new(chain).unwrap(),
        sender: alice.public(),
        sub: 0,
        nonce,
        expires_at_height: expires,
        kind: Alliance::transfer("BEAN", &bob, 1),
    };
    note(a.run(body("x", 1, h + 5).sign(&alice)).code());
    note(a.run(body(CHAIN, 1, h + 5).sign(&bob)).code());
    let h = a.ledger.height();
    note(a.run(body(CHAIN, 1, h).sign(&alice)).code());
    note(a.run(body(CHAIN, 1, h + 5_000).sign(&alice)).code());
    let t = body(CHAIN, 99, a.ledger.height() + 5).sign(&alice);
    a.run(t.clone());
    note(a.run(t).code());
    note(a.exec(&alice, create("AAA", 5)));
    note(a.exec(&m1, create("BEAN", 5)));
    for kind in [
        TxKind::CreateToken {
            symbol: sym("ZZ"),
            name: BoundedString::new("z").unwrap(),
            decimals: 12,
            max_supply: 1,
            expiry_days: None,
            freezable: false,
            clawback: false,
        },
        create("ZZ", 0),
        TxKind::CreateToken {
            symbol: sym("ZZ"),
            name: BoundedString::new("").unwrap(),
            decimals: 1,
            max_supply: 1,
            expiry_days: None,
            freezable: false,
            clawback: false,
        },
        TxKind::CreateToken {
            symbol: sym("ZZ"),
            name: BoundedString::new("z").unwrap(),
            decimals: 1,
            max_supply: 1,
            expiry_days: Some(100_000),
            freezable: false,
            clawback: false,
        },
    ] {
        note(a.exec(&m1, kind));
    }
    note(a.exec(&alice, Alliance::transfer("NOPE", &bob, 1)));
    note(a.exec(
        &m2,
        TxKind::Mint {
            token: sym("BEAN"),
            to: bob.public().into(),
            amount: 1,
        },
    ));
    note(a.exec(
        &m1,
        TxKind::Mint {
            token: sym("BEAN"),
            to: bob.public().into(),
            amount: 990_001,
        },
    ));
    note(a.exec(&alice, Alliance::transfer("BEAN", &bob, 0)));
    note(a.exec(&alice, Alliance::transfer("BEAN", &bob, 1_000_000)));
    note(a.exec(
        &alice,
        pay("BEAN", "o", &[(bob.public(), u64::MAX), (bob.public(), 1)]),
    ));
    note(a.exec(&alice, pay("BEAN", "o", &[])));
    let many: Vec<_> = (0..51).map(|_| (bob.public(), 1)).collect();
    note(a.exec(&alice, pay("BEAN", "o", &many)));
    note(a.exec(&alice, pay("BEAN", "", &[(bob.public(), 1)])));
    let p = a.tx(&alice, pay("BEAN", "o", &[(bob.public(), 5)]));
    let payment = p.hash();
    a.run(p);
    note(a.exec(&alice, pay("BEAN", "o", &[(bob.public(), 5)])));
    note(a.exec(
        &bob,
        TxKind::Refund {
            payment: Hash32([1; 32]),
            token: sym("BEAN"),
            amount: 1,
        },
    ));
    note(a.exec(
        &alice,
        TxKind::Refund {
            payment,
            token: sym("BEAN"),
            amount: 1,
        },
    ));
    note(a.exec(
        &bob,
        TxKind::Refund {
            payment,
            token: sym("BEAN"),
            amount: 6,
        },
    ));
    // Combined payments: six tokens are past the bound.
    let six: Vec<merit_chain::tx::PayLeg> = ["T1", "T2", "T3", "T4", "T5", "T6"]
        .iter()
        .map(|t| merit_chain::tx::PayLeg {
            to: bob.public().into(),
            token: sym(t),
            amount: 1,
        })
        .collect();
    note(a.exec(
        &alice,
        TxKind::Pay {
            order_id: BoundedString::new("six").unwrap(),
            legs: merit_chain::encoding::BoundedVec::new(six).unwrap(),
            memo: None,
        },
    ));
    // Path payments: no book, too long a path, over send_max.
    let path = |send_max: u64, path: &[&str]| TxKind::PayPath {
        send_token: sym("BEAN"),
        send_max,
        dest_token: sym("BOOK"),
        dest_amount: 1,
        to: bob.public().into(),
        path: merit_chain::encoding::BoundedVec::new(path.iter().map(|t| sym(t)).collect())
            .unwrap(),
        order_id: None,
        memo: None,
    };
    note(a.exec(&alice, path(10, &[])));
    note(a.exec(&alice, path(10, &["A1", "A2", "A3", "A4"])));
    let carol = a.carol.clone();
    let mint = TxKind::Mint {
        token: sym("BOOK"),
        to: carol.public().into(),
        amount: 10,
    };
    assert_eq!(a.exec(&m2, mint), None);
    let sell_book = TxKind::PlaceOffer {
        sell: sym("BOOK"),
        buy: sym("BEAN"),
        amount: 10,
        price: merit_chain::tx::Price::new(5, 1),
    };
    assert_eq!(a.exec(&carol, sell_book), None);
    note(a.exec(&alice, path(4, &[])));
    // Exchange.
    let book_for_bob = TxKind::Mint {
        token: sym("BOOK"),
        to: bob.public().into(),
        amount: 100,
    };
    assert_eq!(a.exec(&m2, book_for_bob), None);
    let offer = |sell: &str, buy: &str, n: u64, d: u64| TxKind::PlaceOffer {
        sell: sym(sell),
        buy: sym(buy),
        amount: 1,
        price: merit_chain::tx::Price::new(n, d),
    };
    note(a.exec(&alice, offer("BEAN", "BOOK", 0, 1)));
    note(a.exec(&alice, offer("BEAN", "BEAN", 1, 1)));
    let resting = a.tx(&bob, offer("BOOK", "BEAN", 1, 1));
    assert_eq!(a.run(resting).code(), None);
    note(a.exec(&bob, offer("BEAN", "BOOK", 1, 1)));
    note(a.exec(&bob, TxKind::CancelOffer { offer_id: 999 }));
    note(a.exec(&alice, TxKind::CancelOffer { offer_id: 1 }));
    // Escrow.
    note(a.exec(
        &alice,
        TxKind::EscrowRelease {
            id: Hash32([7; 32]),
        },
    ));
    let escrow = |deadline_ms| TxKind::EscrowCreate {
        token: sym("BEAN"),
        to: bob.public().into(),
        amount: 10,
        deadline_ms,
        order_id: None,
    };
    note(a.exec(&alice, escrow(0)));
    let e = a.tx(&alice, escrow(a.ledger.tip().timestamp_ms + 60_000));
    let id = e.hash();
    assert_eq!(a.run(e).code(), None);
    note(a.exec(&bob, TxKind::EscrowRelease { id }));
    note(a.exec(&m1, TxKind::EscrowRefund { id }));
    note(a.exec(&alice, TxKind::EscrowRefund { id }));
    assert_eq!(a.exec(&alice, TxKind::EscrowRelease { id }), None);
    note(a.exec(&alice, TxKind::EscrowRelease { id }));
    // Frozen funds and clawback: BEAN allows neither.
    let alice_acct = merit_chain::tx::AccountRef::main(alice.public());
    note(a.exec(
        &m1,
        TxKind::Freeze {
            token: sym("BEAN"),
            account: alice_acct,
            amount: 1,
        },
    ));
    note(a.exec(
        &m1,
        TxKind::Clawback {
            token: sym("BEAN"),
            from: alice_acct,
            amount: 1,
            memo: None,
        },
    ));
    let frz = TxKind::CreateToken {
        symbol: sym("FRZ"),
        name: BoundedString::new("Frozen points").unwrap(),
        decimals: 0,
        max_supply: 10,
        expiry_days: None,
        freezable: true,
        clawback: true,
    };
    assert_eq!(a.exec(&m1, frz), None);
    note(a.exec(
        &m1,
        TxKind::Unfreeze {
            token: sym("FRZ"),
            account: alice_acct,
            amount: 1,
        },
    ));
    // Sub-accounts: paying one never opened, and opening one too many.
    let nowhere = merit_chain::tx::AccountRef::new(bob.public(), 1);
    note(a.exec(
        &alice,
        TxKind::Transfer {
            token: sym("BEAN"),
            to: nowhere,
            amount: 1,
            memo: None,
        },
    ));
    let carol = a.carol.clone();
    let label = || TxKind::OpenSubAccount {
        label: BoundedString::new("s").unwrap(),
    };
    let opens: Vec<_> = (0..merit_chain::limits::MAX_SUB_ACCOUNTS)
        .map(|_| a.tx(&carol, label()))
        .collect();
    a.block(opens);
    note(a.exec(&carol, label()));
    // Governance's codes are reached by its own suite (governance.rs).
    let missing: Vec<_> = RejectCode::ALL
        .iter()
        .filter(|c| !crate::governance::is_governance_code(**c))
        .filter(|c| !reached.contains(c))
        .collect();
    assert!(missing.is_empty(), "codes never reached: {missing:?}");
}
