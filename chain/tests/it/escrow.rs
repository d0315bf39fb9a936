//! Escrow for guaranteed trades: create, release, refund by either side
//! under the deadline rule, and the shared order-id namespace with `Pay`.

use merit_chain::encoding::BoundedString;
use merit_chain::limits::MAX_ESCROW_DURATION_MS;
use merit_chain::state::EscrowStatus;
use merit_chain::{Address, Event, Hash32, Keypair, RejectCode, TxKind, TxOutcome};

use crate::fixture::*;

pub fn escrow(to: Address, amount: u64, deadline_ms: u64, order: Option<&str>) -> TxKind {
    TxKind::EscrowCreate {
        token: sym("BEAN"),
        to: to.into(),
        amount,
        deadline_ms,
        order_id: order.map(|o| BoundedString::new(o).unwrap()),
    }
}

/// Alice locks 500 BEAN for Bob with a deadline a minute after the next
/// block; returns the escrow id and its deadline.
fn open(a: &mut Alliance) -> (Hash32, u64) {
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let deadline = a.now() + 60_000;
    let tx = a.tx(&alice, escrow(bob.public(), 500, deadline, Some("trade-1")));
    let id = tx.hash();
    let r = a.run(tx);
    assert_eq!(r.code(), None);
    assert_eq!(
        r.events(),
        &[Event::EscrowCreated {
            escrow: id,
            token: sym("BEAN"),
            payer: alice.public().into(),
            payee: bob.public().into(),
            amount: 500,
            deadline_ms: deadline,
        }]
    );
    (id, deadline)
}

fn locked_in_escrow(a: &Alliance) -> u64 {
    a.ledger.token(&sym("BEAN")).unwrap().locked_in_escrow
}

#[test]
fn the_payer_releases_an_escrow_to_the_payee_once() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let (id, _) = open(&mut a);
    assert_eq!(a.balance(&alice, "BEAN"), 9_500);
    assert_eq!(locked_in_escrow(&a), 500);
    let locked = a.ledger.locked(&alice.public());
    assert_eq!(
        (locked[0].token, locked[0].in_escrow, locked[0].in_offers),
        (sym("BEAN"), 500, 0)
    );
    assert!(
        a.ledger.locked(&bob.public()).is_empty(),
        "the payee locked nothing"
    );
    assert_eq!(a.ledger.escrows_of(&bob.public()).count(), 1);
    a.assert_conserved();
    // Only the payer releases.
    assert_eq!(
        a.exec(&bob, TxKind::EscrowRelease { id }),
        Some(RejectCode::NotEscrowPayer)
    );
    assert_eq!(a.exec(&alice, TxKind::EscrowRelease { id }), None);
    assert_eq!(a.balance(&bob, "BEAN"), 500);
    assert_eq!(a.balance(&alice, "BEAN"), 9_500);
    assert_eq!(locked_in_escrow(&a), 0);
    let e = a.ledger.escrow(&id).unwrap();
    assert_eq!(
        (e.status, e.amount, e.remaining),
        (EscrowStatus::Released, 500, 0)
    );
    assert!(a.ledger.escrows_of(&alice.public()).next().is_none());
    // A second release, or a refund after the release, is rejected.
    assert_eq!(
        a.exec(&alice, TxKind::EscrowRelease { id }),
        Some(RejectCode::EscrowClosed)
    );
    assert_eq!(
        a.exec(&bob, TxKind::EscrowRefund { id }),
        Some(RejectCode::EscrowClosed)
    );
    assert_eq!(a.balance(&bob, "BEAN"), 500);
    a.assert_conserved();
}

#[test]
fn the_payee_may_refund_at_any_time() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let (id, deadline) = open(&mut a);
    assert!(a.now() < deadline);
    let tx = a.tx(&bob, TxKind::EscrowRefund { id });
    let r = a.run(tx);
    assert_eq!(r.code(), None);
    assert_eq!(
        r.events(),
        &[Event::EscrowRefunded {
            escrow: id,
            token: sym("BEAN"),
            payer: alice.public().into(),
            payee: bob.public().into(),
            amount: 500,
        }]
    );
    assert_eq!(a.balance(&alice, "BEAN"), 10_000);
    assert_eq!(a.balance(&bob, "BEAN"), 0);
    assert_eq!(a.ledger.escrow(&id).unwrap().status, EscrowStatus::Refunded);
    assert_eq!(
        a.exec(&alice, TxKind::EscrowRelease { id }),
        Some(RejectCode::EscrowClosed)
    );
    a.assert_conserved();
}

#[test]
fn the_payer_may_refund_only_from_the_deadline_on() {
    let mut a = Alliance::new();
    let (alice, carol) = (a.alice.clone(), a.carol.clone());
    let (id, deadline) = open(&mut a);
    assert_eq!(
        a.exec(&alice, TxKind::EscrowRefund { id }),
        Some(RejectCode::DeadlineNotReached)
    );
    // A stranger may never refund.
    assert_eq!(
        a.exec_at(deadline - 2, &carol, TxKind::EscrowRefund { id }),
        Some(RejectCode::NotEscrowParty)
    );
    assert_eq!(
        a.exec_at(deadline - 1, &alice, TxKind::EscrowRefund { id }),
        Some(RejectCode::DeadlineNotReached),
        "one millisecond before the deadline"
    );
    assert_eq!(a.balance(&alice, "BEAN"), 9_500);
    assert_eq!(
        a.exec_at(deadline, &alice, TxKind::EscrowRefund { id }),
        None
    );
    assert_eq!(a.balance(&alice, "BEAN"), 10_000);
    assert_eq!(locked_in_escrow(&a), 0);
    assert_eq!(
        a.exec(&alice, TxKind::EscrowRefund { id }),
        Some(RejectCode::EscrowClosed)
    );
    assert_eq!(
        a.exec(
            &alice,
            TxKind::EscrowRelease {
                id: Hash32([9; 32])
            }
        ),
        Some(RejectCode::UnknownEscrow)
    );
    a.assert_conserved();
}

#[test]
fn an_order_id_is_unique_across_payments_and_escrows() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    let (escrow_id, _) = open(&mut a);
    let deadline = a.now() + 60_000;
    // The same order id again, for an escrow or a payment, names the escrow.
    let again = a.tx(&alice, escrow(bob.public(), 1, deadline, Some("trade-1")));
    assert_eq!(
        a.run(again).outcome,
        TxOutcome::Rejected {
            code: RejectCode::DuplicateOrderId,
            original: Some(escrow_id),
        }
    );
    let pay = TxKind::Pay {
        order_id: BoundedString::new("trade-1").unwrap(),
        legs: legs(sym("BEAN"), &[(bob.public(), 1)]),
        memo: None,
    };
    let pay = a.tx(&alice, pay);
    assert_eq!(
        a.run(pay).outcome,
        TxOutcome::Rejected {
            code: RejectCode::DuplicateOrderId,
            original: Some(escrow_id),
        }
    );
    // And an order id a payment used cannot open an escrow.
    let pay = TxKind::Pay {
        order_id: BoundedString::new("trade-2").unwrap(),
        legs: legs(sym("BEAN"), &[(bob.public(), 1)]),
        memo: None,
    };
    let pay = a.tx(&alice, pay);
    let payment = pay.hash();
    assert_eq!(a.run(pay).code(), None);
    let dup = a.tx(&alice, escrow(bob.public(), 1, deadline, Some("trade-2")));
    assert_eq!(
        a.run(dup).outcome,
        TxOutcome::Rejected {
            code: RejectCode::DuplicateOrderId,
            original: Some(payment),
        }
    );
    // Order ids are per sender; escrows without one never collide.
    let bob_tx = a.tx(&bob, escrow(alice.public(), 1, deadline, Some("trade-1")));
    assert_eq!(a.run(bob_tx).code(), None);
    assert_eq!(
        a.exec(&alice, escrow(bob.public(), 1, deadline, None)),
        None
    );
    assert_eq!(
        a.exec(&alice, escrow(bob.public(), 1, deadline, None)),
        None
    );
    assert_eq!(
        a.exec(&alice, escrow(bob.public(), 1, deadline, Some(""))),
        Some(RejectCode::InvalidOrderId)
    );
    a.assert_conserved();
}

#[test]
fn escrow_parameters_are_checked() {
    let mut a = Alliance::new();
    let (alice, bob) = (a.alice.clone(), a.bob.clone());
    // Each case runs in a block of its own, a second after the one before;
    // `at` is that block's time.
    type Case = (fn(&Keypair, u64) -> TxKind, RejectCode);
    let cases: [Case; 5] = [
        (
            |bob, at| escrow(bob.public(), 0, at + 10, None),
            RejectCode::ZeroAmount,
        ),
        (
            |bob, at| escrow(bob.public(), 10_001, at + 10, None),
            RejectCode::InsufficientBalance,
        ),
        // A deadline in seconds rather than milliseconds is in the past.
        (
            |bob, at| escrow(bob.public(), 1, at / 1000, None),
            RejectCode::InvalidDeadline,
        ),
        (
            |bob, at| escrow(bob.public(), 1, at, None),
            RejectCode::InvalidDeadline,
        ),
        (
            |bob, at| escrow(bob.public(), 1, at + MAX_ESCROW_DURATION_MS + 1, None),
            RejectCode::InvalidDeadline,
        ),
    ];
    for (kind, code) in cases {
        let at = a.now() + 1000;
        assert_eq!(a.exec_at(at, &alice, kind(&bob, at)), Some(code));
    }
    let unknown = TxKind::EscrowCreate {
        token: sym("NOPE"),
        to: bob.public().into(),
        amount: 1,
        deadline_ms: a.now() + 10_000,
        order_id: None,
    };
    assert_eq!(a.exec(&alice, unknown), Some(RejectCode::UnknownToken));
    let at = a.now() + 1000;
    assert_eq!(
        a.exec_at(
            at,
            &alice,
            escrow(bob.public(), 1, at + MAX_ESCROW_DURATION_MS, None)
        ),
        None
    );
    assert_eq!(a.balance(&alice, "BEAN"), 9_999);
    a.assert_conserved();
}
