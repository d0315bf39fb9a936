//! Frozen funds and clawback (DESIGN §12): who may, on which tokens, what
//! frozen points can and cannot do, the order in which expiry and clawback
//! take them, and the journal and supply invariant through all of it.

use merit_chain::block::Event;
use merit_chain::encoding::BoundedString;
use merit_chain::ledger::{LedgerMutant, with_mutant};
use merit_chain::state::LotHolder;
use merit_chain::tx::AccountRef;
use merit_chain::{Keypair, RejectCode, TxKind};

use crate::exchange::offer;
use crate::fixture::*;

/// FRZ (freezable, with clawback, points that expire after `expiry_days`)
/// and PLAIN (neither), both issued by `m1`; alice holds 100 of each.
fn alliance(expiry_days: Option<u32>) -> Alliance {
    let mut a = Alliance::new();
    let (m1, alice) = (a.m1.clone(), a.alice.clone());
    for (symbol, flags) in [("FRZ", true), ("PLAIN", false)] {
        let create = TxKind::CreateToken {
            symbol: sym(symbol),
            name: BoundedString::new(format!("{symbol} points")).unwrap(),
            decimals: 0,
            max_supply: 1_000_000,
            expiry_days,
            freezable: flags,
            clawback: flags,
        };
        assert_eq!(a.exec(&m1, create), None);
        assert_eq!(a.exec(&m1, mint(symbol, &alice, 100)), None);
    }
    a
}

fn mint(token: &str, to: &Keypair, amount: u64) -> TxKind {
    TxKind::Mint {
        token: sym(token),
        to: to.public().into(),
        amount,
    }
}

fn freeze(token: &str, who: &Keypair, amount: u64) -> TxKind {
    TxKind::Freeze {
        token: sym(token),
        account: AccountRef::main(who.public()),
        amount,
    }
}

fn unfreeze(token: &str, who: &Keypair, amount: u64) -> TxKind {
    TxKind::Unfreeze {
        token: sym(token),
        account: AccountRef::main(who.public()),
        amount,
    }
}

fn clawback(token: &str, who: &Keypair, amount: u64) -> TxKind {
    TxKind::Clawback {
        token: sym(token),
        from: AccountRef::main(who.public()),
        amount,
        memo: None,
    }
}

/// (spendable, frozen) of `who`'s `token`.
fn held(a: &Alliance, who: &Keypair, token: &str) -> (u64, u64) {
    (
        a.ledger.balance(&who.public(), &sym(token)),
        a.ledger.frozen(&who.public(), &sym(token)),
    )
}

/// Only the issuer freezes, unfreezes and claws back, only on a token
/// created to allow it, never more than there is; each refusal changes
/// no holding and no counter.
fn only_the_issuer_acts_and_only_where_the_token_allows() {
    let mut a = alliance(None);
    let (m1, alice, bob) = (a.m1.clone(), a.alice.clone(), a.bob.clone());
    let before = |a: &Alliance| {
        (
            held(a, &alice, "FRZ"),
            held(a, &alice, "PLAIN"),
            a.ledger.token(&sym("FRZ")).cloned(),
            a.ledger.token(&sym("PLAIN")).cloned(),
        )
    };
    let start = before(&a);
    let refusals = [
        (&bob, freeze("FRZ", &alice, 10), RejectCode::NotIssuer),
        (&alice, freeze("FRZ", &alice, 10), RejectCode::NotIssuer),
        (&bob, clawback("FRZ", &alice, 10), RejectCode::NotIssuer),
        (&m1, freeze("PLAIN", &alice, 10), RejectCode::NotFreezable),
        (&m1, unfreeze("PLAIN", &alice, 10), RejectCode::NotFreezable),
        (
            &m1,
            clawback("PLAIN", &alice, 10),
            RejectCode::ClawbackDisabled,
        ),
        (
            &m1,
            freeze("FRZ", &alice, 101),
            RejectCode::InsufficientBalance,
        ),
        (
            &m1,
            unfreeze("FRZ", &alice, 1),
            RejectCode::InsufficientFrozen,
        ),
        (
            &m1,
            clawback("FRZ", &alice, 101),
            RejectCode::InsufficientBalance,
        ),
        (&m1, freeze("FRZ", &alice, 0), RejectCode::ZeroAmount),
        (&m1, freeze("NONE", &alice, 1), RejectCode::UnknownToken),
    ];
    for (signer, kind, code) in refusals {
        let name = format!("{kind:?}");
        assert_eq!(a.exec(signer, kind), Some(code), "{name}");
        assert_eq!(before(&a), start, "{name} changed the state");
    }
    a.assert_conserved();
}

#[test]
fn only_the_issuer_freezes_and_only_a_token_created_to_allow_it() {
    only_the_issuer_acts_and_only_where_the_token_allows();
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_anyone_freezes_is_caught() {
    let caught = std::panic::catch_unwind(|| {
        with_mutant(
            LedgerMutant::AnyoneFreezes,
            only_the_issuer_acts_and_only_where_the_token_allows,
        )
    });
    assert!(
        caught.is_err(),
        "{} went uncaught",
        LedgerMutant::AnyoneFreezes.name()
    );
}

/// Frozen points stay alice's and count in no spendable balance; no kind
/// of spending moves them; once unfrozen they move again.
fn frozen_points_cannot_move() {
    let mut a = alliance(None);
    let (m1, alice, bob) = (a.m1.clone(), a.alice.clone(), a.bob.clone());
    assert_eq!(a.exec(&m1, freeze("FRZ", &alice, 60)), None);
    assert_eq!(held(&a, &alice, "FRZ"), (40, 60));
    let token = a.ledger.token(&sym("FRZ")).unwrap().clone();
    assert_eq!((token.frozen, token.expected_circulating()), (60, Some(40)));
    a.assert_conserved();

    let spends = [
        Alliance::transfer("FRZ", &bob, 41),
        TxKind::Redeem {
            token: sym("FRZ"),
            amount: 41,
            memo: None,
        },
        offer("FRZ", "PLAIN", 41, 1, 1),
        TxKind::EscrowCreate {
            token: sym("FRZ"),
            to: bob.public().into(),
            amount: 41,
            deadline_ms: a.now() + 60_000,
            order_id: None,
        },
        TxKind::Pay {
            order_id: BoundedString::new("o-1").unwrap(),
            legs: legs(sym("FRZ"), &[(bob.public(), 41)]),
            memo: None,
        },
    ];
    for kind in spends {
        let name = format!("{kind:?}");
        assert_eq!(
            a.exec(&alice, kind),
            Some(RejectCode::InsufficientBalance),
            "{name}"
        );
        assert_eq!(held(&a, &alice, "FRZ"), (40, 60), "{name}");
    }
    assert_eq!(a.exec(&alice, Alliance::transfer("FRZ", &bob, 40)), None);
    assert_eq!(held(&a, &alice, "FRZ"), (0, 60));
    assert_eq!(a.exec(&m1, unfreeze("FRZ", &alice, 25)), None);
    assert_eq!(held(&a, &alice, "FRZ"), (25, 35));
    assert_eq!(a.exec(&alice, Alliance::transfer("FRZ", &bob, 25)), None);
    assert_eq!(held(&a, &bob, "FRZ"), (65, 0));
    a.assert_conserved();
}

#[test]
fn frozen_points_stay_the_holders_but_cannot_move() {
    frozen_points_cannot_move();
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_frozen_points_move_is_caught() {
    let caught = std::panic::catch_unwind(|| {
        with_mutant(LedgerMutant::FrozenPointsMove, frozen_points_cannot_move)
    });
    assert!(
        caught.is_err(),
        "{} went uncaught",
        LedgerMutant::FrozenPointsMove.name()
    );
}

#[test]
fn freezing_covers_the_soonest_lots_which_expire_frozen_first() {
    let mut a = alliance(Some(1));
    let (m1, alice, bob) = (a.m1.clone(), a.alice.clone(), a.bob.clone());
    // Three lots: 100 (from the setup), 50 and 70, a second apart.
    let first = a
        .ledger
        .lots(&LotHolder::Account(alice.public().into()), &sym("FRZ"))[0]
        .0;
    assert_eq!(a.exec(&m1, mint("FRZ", &alice, 50)), None);
    assert_eq!(a.exec(&m1, mint("FRZ", &alice, 70)), None);
    let lots = a
        .ledger
        .lots(&LotHolder::Account(alice.public().into()), &sym("FRZ"));
    assert_eq!(
        lots.iter().map(|l| l.1).collect::<Vec<_>>(),
        vec![100, 50, 70]
    );
    // 120 frozen: all of the first lot and 20 of the second.
    assert_eq!(a.exec(&m1, freeze("FRZ", &alice, 120)), None);
    // Spending takes the lots after the frozen ones: 30 of the second,
    // then the third.
    assert_eq!(a.exec(&alice, Alliance::transfer("FRZ", &bob, 40)), None);
    let bobs = a
        .ledger
        .lots(&LotHolder::Account(bob.public().into()), &sym("FRZ"));
    assert_eq!(bobs, vec![(lots[1].0, 30), (lots[2].0, 10)]);
    assert_eq!(held(&a, &alice, "FRZ"), (60, 120));
    // The first lot expires: all 100 of it were frozen.
    assert_eq!(a.exec_at(first, &m1, mint("PLAIN", &bob, 1)), None);
    assert_eq!(held(&a, &alice, "FRZ"), (60, 20));
    let expired: Vec<(u64, u64)> = a
        .last_block_events
        .iter()
        .filter_map(|e| match e {
            Event::LotExpired {
                holder: LotHolder::Account(who),
                amount,
                frozen,
                ..
            } if *who == alice.public().into() => Some((*amount, *frozen)),
            _ => None,
        })
        .collect();
    assert_eq!(expired, vec![(100, 100)]);
    let token = a.ledger.token(&sym("FRZ")).unwrap().clone();
    assert_eq!((token.expired, token.frozen), (100, 20));
    a.assert_conserved();
    // The second lot (20 left, all frozen) goes next.
    assert_eq!(a.exec_at(lots[1].0, &m1, mint("PLAIN", &bob, 1)), None);
    assert_eq!(held(&a, &alice, "FRZ"), (60, 0));
    a.assert_conserved();
}

#[test]
fn clawback_takes_frozen_points_first_then_free_ones_and_burns_them() {
    let mut a = alliance(None);
    let (m1, alice) = (a.m1.clone(), a.alice.clone());
    assert_eq!(a.exec(&m1, freeze("FRZ", &alice, 30)), None);
    let tx = a.tx(&m1, clawback("FRZ", &alice, 50));
    let receipt = a.run(tx);
    assert_eq!(receipt.code(), None);
    assert_eq!(
        receipt.events(),
        &[Event::ClawedBack {
            token: sym("FRZ"),
            from: AccountRef::main(alice.public()),
            amount: 50,
            frozen: 30,
        }]
    );
    assert_eq!(held(&a, &alice, "FRZ"), (50, 0));
    let token = a.ledger.token(&sym("FRZ")).unwrap().clone();
    assert_eq!(
        (token.minted, token.clawed_back, token.frozen),
        (100, 50, 0)
    );
    // The journal: 30 from the frozen account, 20 from alice's own.
    use merit_chain::postings::{PostingAccount as P, Side};
    let last: Vec<_> = a
        .postings
        .iter()
        .filter(|p| p.kind == "Clawback" && p.side == Side::Debit)
        .map(|p| (p.account, p.amount))
        .collect();
    assert_eq!(
        last,
        vec![(P::Frozen, 30), (P::Account(alice.public(), 0), 20)]
    );
    a.assert_conserved();
    let audit = a
        .ledger
        .audit()
        .into_iter()
        .find(|x| x.token == sym("FRZ"))
        .unwrap();
    assert!(audit.holds());
    assert_eq!((audit.circulating, audit.clawed_back), (50, 50));
}
