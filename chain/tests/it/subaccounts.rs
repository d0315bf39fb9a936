//! Sub-accounts (DESIGN §12, ADR 020): an address's separate balances,
//! opened in order, paid to like any account and paying through the
//! envelope's `sub`; records remember which account paid.

use merit_chain::encoding::BoundedVec;
use merit_chain::ledger::{LedgerMutant, with_mutant};
use merit_chain::limits::MAX_SUB_ACCOUNTS;
use merit_chain::state::{Holding, LotHolder, StateKey, SubId};
use merit_chain::tx::{AccountRef, OrderId, PayLeg, Price, SubAccountLabel};
use merit_chain::{Event, Keypair, RejectCode, Transaction, TxKind};

use crate::fixture::*;

fn open(label: &str) -> TxKind {
    TxKind::OpenSubAccount {
        label: SubAccountLabel::new(label).unwrap(),
    }
}

fn at(k: &Keypair, sub: SubId) -> AccountRef {
    AccountRef::new(k.public(), sub)
}

fn send(token: &str, to: AccountRef, amount: u64) -> TxKind {
    TxKind::Transfer {
        token: sym(token),
        to,
        amount,
        memo: None,
    }
}

fn pay(order: &str, legs: &[(AccountRef, &str, u64)]) -> TxKind {
    TxKind::Pay {
        order_id: OrderId::new(order).unwrap(),
        legs: BoundedVec::new(
            legs.iter()
                .map(|(to, token, amount)| PayLeg {
                    to: *to,
                    token: sym(token),
                    amount: *amount,
                })
                .collect(),
        )
        .unwrap(),
        memo: None,
    }
}

/// Signs `kind` from `signer`'s sub-account `sub` and runs it.
fn exec_from(a: &mut Alliance, signer: &Keypair, sub: SubId, kind: TxKind) -> Option<RejectCode> {
    let tx = a.tx_from(signer, sub, kind);
    a.run(tx).code()
}

fn balance(a: &Alliance, who: AccountRef, token: &str) -> u64 {
    a.ledger.balance(&who, &sym(token))
}

/// Every holding and the sub-account count of each of `keys`, for
/// "changes nothing" checks (nonces aside, which a rejection spends).
fn snapshot(a: &Alliance, keys: &[&Keypair]) -> Vec<(AccountRef, String, Holding, SubId)> {
    let mut out = Vec::new();
    for k in keys {
        let opened = a.ledger.sub_accounts(&k.public());
        for sub in 0..=opened + 1 {
            for (token, h) in a.ledger.holdings(&k.public(), sub) {
                out.push((at(k, sub), token.to_string(), h.clone(), opened));
            }
        }
    }
    out
}

#[test]
fn sub_accounts_open_in_order_and_say_so() {
    let mut a = Alliance::new();
    let alice = a.alice.clone();
    let txs = vec![
        a.tx(&alice, open("Store 1")),
        a.tx(&alice, open("Store 2 · 南京路")),
    ];
    let r = a.block(txs);
    assert_eq!(r[0].code(), None);
    assert_eq!(r[1].code(), None);
    assert_eq!(
        r[1].events(),
        &[Event::SubAccountOpened {
            account: at(&alice, 2),
            label: SubAccountLabel::new("Store 2 · 南京路").unwrap(),
        }]
    );
    assert_eq!(a.ledger.sub_accounts(&alice.public()), 2);
    let info = a.ledger.sub_account(&alice.public(), 1).unwrap();
    assert_eq!(info.label.as_str(), "Store 1");
    assert_eq!(info.opened_height, a.ledger.height());
    assert!(a.ledger.sub_account(&alice.public(), 3).is_none());
    assert_eq!(at(&alice, 2).to_string(), format!("{}/2", alice.public()));
    assert_eq!(
        AccountRef::parse(&at(&alice, 2).to_string()),
        Ok(at(&alice, 2))
    );
    a.assert_conserved();
}

#[test]
fn a_sub_account_receives_and_pays_through_the_envelope_with_the_addresss_nonces_and_orders() {
    let mut a = Alliance::new();
    let (alice, bob, m1) = (a.alice.clone(), a.bob.clone(), a.m1.clone());
    assert_eq!(a.exec(&alice, open("till 1")), None);
    // Received into the sub-account, from a transfer and a mint.
    assert_eq!(a.exec(&alice, send("BEAN", at(&alice, 1), 300)), None);
    let mint = TxKind::Mint {
        token: sym("BEAN"),
        to: at(&alice, 1),
        amount: 50,
    };
    assert_eq!(a.exec(&m1, mint), None);
    assert_eq!(balance(&a, at(&alice, 0), "BEAN"), 9_700);
    assert_eq!(balance(&a, at(&alice, 1), "BEAN"), 350);
    // Paid from it: the envelope names it.
    let r = {
        let tx = a.tx_from(&alice, 1, send("BEAN", at(&bob, 0), 100));
        a.run(tx)
    };
    assert_eq!(r.code(), None);
    assert_eq!(
        r.events(),
        &[Event::Transferred {
            token: sym("BEAN"),
            from: at(&alice, 1),
            to: at(&bob, 0),
            amount: 100,
        }]
    );
    assert_eq!(balance(&a, at(&alice, 1), "BEAN"), 250);
    assert_eq!(balance(&a, at(&alice, 0), "BEAN"), 9_700);
    // A sub-account spends only its own balance.
    assert_eq!(
        exec_from(&mut a, &alice, 1, send("BEAN", at(&bob, 0), 251)),
        Some(RejectCode::InsufficientBalance)
    );
    // One nonce window for the address, whichever account pays.
    let first = a.tx_from(&alice, 0, send("BEAN", at(&bob, 0), 1));
    let mut again = first.body.clone();
    again.sub = 1;
    let again = again.sign(&alice);
    let r = a.block(vec![first, again]);
    assert_eq!(r[0].code(), None);
    assert_eq!(r[1].code(), Some(RejectCode::NonceReused));
    // One order-id space for the address.
    assert_eq!(
        exec_from(&mut a, &alice, 1, pay("A-1", &[(at(&bob, 0), "BEAN", 5)])),
        None
    );
    assert_eq!(
        exec_from(&mut a, &alice, 0, pay("A-1", &[(at(&bob, 0), "BEAN", 5)])),
        Some(RejectCode::DuplicateOrderId)
    );
    // The sub-account's history is in the journal under its own account.
    a.assert_conserved();
}

#[test]
fn a_receiver_or_payer_that_was_never_opened_is_rejected_and_nothing_moves() {
    let mut a = Alliance::new();
    let (alice, bob, m1) = (a.alice.clone(), a.bob.clone(), a.m1.clone());
    assert_eq!(a.exec(&bob, open("only one")), None);
    let before = snapshot(&a, &[&alice, &bob, &m1]);
    let nowhere = at(&bob, 2);
    let deadline = a.now() + 60_000;
    let cases = [
        send("BEAN", nowhere, 1),
        pay("P-1", &[(at(&bob, 1), "BEAN", 1), (nowhere, "BEAN", 1)]),
        TxKind::EscrowCreate {
            token: sym("BEAN"),
            to: nowhere,
            amount: 1,
            deadline_ms: deadline,
            order_id: None,
        },
        TxKind::PayPath {
            send_token: sym("BEAN"),
            send_max: 10,
            dest_token: sym("BOOK"),
            dest_amount: 1,
            to: nowhere,
            path: BoundedVec::new(vec![]).unwrap(),
            order_id: None,
            memo: None,
        },
    ];
    for kind in cases {
        let name = kind.name();
        assert_eq!(
            a.exec(&alice, kind),
            Some(RejectCode::UnknownSubAccount),
            "{name}"
        );
    }
    let mint = TxKind::Mint {
        token: sym("BEAN"),
        to: nowhere,
        amount: 1,
    };
    assert_eq!(a.exec(&m1, mint), Some(RejectCode::UnknownSubAccount));
    // Paying from a sub-account the sender never opened, for any kind.
    assert_eq!(
        exec_from(&mut a, &alice, 1, send("BEAN", at(&bob, 0), 1)),
        Some(RejectCode::UnknownSubAccount)
    );
    assert_eq!(
        exec_from(&mut a, &alice, 7, open("from nowhere")),
        Some(RejectCode::UnknownSubAccount)
    );
    assert_eq!(snapshot(&a, &[&alice, &bob, &m1]), before);
    // The order id of the refused payment stays free.
    assert_eq!(
        a.exec(&alice, pay("P-1", &[(at(&bob, 1), "BEAN", 1)])),
        None
    );
    a.assert_conserved();
}

#[test]
fn offers_escrows_and_refunds_come_back_to_the_sub_account_that_paid() {
    let mut a = Alliance::new();
    let (alice, bob, m1, m2) = (a.alice.clone(), a.bob.clone(), a.m1.clone(), a.m2.clone());
    for k in [&alice, &alice, &bob, &m1] {
        assert_eq!(a.exec(k, open("store")), None);
    }
    assert_eq!(a.exec(&alice, send("BEAN", at(&alice, 1), 1_000)), None);
    assert_eq!(a.exec(&alice, send("BEAN", at(&alice, 2), 1_000)), None);
    let mint = TxKind::Mint {
        token: sym("BOOK"),
        to: bob.public().into(),
        amount: 500,
    };
    assert_eq!(a.exec(&m2, mint), None);

    // An offer placed by alice/1 is paid to alice/1, and what is left
    // returns there when the address cancels it.
    let place = TxKind::PlaceOffer {
        sell: sym("BEAN"),
        buy: sym("BOOK"),
        amount: 100,
        price: Price::new(1, 2),
    };
    assert_eq!(exec_from(&mut a, &alice, 1, place), None);
    let id = a.ledger.offers_of(&alice.public()).next().unwrap().id;
    assert_eq!(a.ledger.offer(id).unwrap().owner, at(&alice, 1));
    let take = TxKind::PlaceOffer {
        sell: sym("BOOK"),
        buy: sym("BEAN"),
        amount: 20,
        price: Price::new(2, 1),
    };
    assert_eq!(a.exec(&bob, take), None);
    assert_eq!(balance(&a, at(&alice, 1), "BOOK"), 20);
    assert_eq!(balance(&a, at(&alice, 0), "BOOK"), 0);
    assert_eq!(balance(&a, at(&bob, 0), "BEAN"), 40);
    // Another account of the same key crossing it is a self-cross.
    let cross = TxKind::PlaceOffer {
        sell: sym("BOOK"),
        buy: sym("BEAN"),
        amount: 10,
        price: Price::new(2, 1),
    };
    assert_eq!(
        exec_from(&mut a, &alice, 1, cross),
        Some(RejectCode::SelfCross)
    );
    assert_eq!(
        a.exec(&alice, TxKind::CancelOffer { offer_id: id }),
        None,
        "the address cancels from any of its accounts"
    );
    assert_eq!(balance(&a, at(&alice, 1), "BEAN"), 960);
    assert_eq!(balance(&a, at(&alice, 0), "BEAN"), 8_000);

    // An escrow from alice/2 to bob/1: released to bob/1, refunded to alice/2.
    let deadline_ms = a.now() + 3_600_000;
    let escrow = |amount| TxKind::EscrowCreate {
        token: sym("BEAN"),
        to: at(&bob, 1),
        amount,
        deadline_ms,
        order_id: None,
    };
    let create = a.tx_from(&alice, 2, escrow(30));
    let released = create.hash();
    let create2 = a.tx_from(&alice, 2, escrow(40));
    let refunded = create2.hash();
    let r = a.block(vec![create, create2]);
    assert!(r.iter().all(|r| r.code().is_none()), "{r:?}");
    assert_eq!(
        exec_from(&mut a, &alice, 0, TxKind::EscrowRelease { id: released }),
        None
    );
    assert_eq!(
        exec_from(&mut a, &bob, 1, TxKind::EscrowRefund { id: refunded }),
        None
    );
    assert_eq!(balance(&a, at(&bob, 1), "BEAN"), 30);
    assert_eq!(balance(&a, at(&alice, 2), "BEAN"), 970);

    // A payment from alice/1 to m1/1: m1 refunds from m1/1, back to alice/1.
    let p = a.tx_from(&alice, 1, pay("R-1", &[(at(&m1, 1), "BEAN", 60)]));
    let payment = p.hash();
    assert_eq!(a.run(p).code(), None);
    let refund = |amount| TxKind::Refund {
        payment,
        token: sym("BEAN"),
        amount,
    };
    assert_eq!(
        exec_from(&mut a, &m1, 0, refund(10)),
        Some(RejectCode::NotPaymentReceiver),
        "the share is m1/1's, not m1's"
    );
    let r = {
        let tx = a.tx_from(&m1, 1, refund(25));
        a.run(tx)
    };
    assert_eq!(r.code(), None);
    assert!(r.events().contains(&Event::Refunded {
        token: sym("BEAN"),
        payment,
        from: at(&m1, 1),
        to: at(&alice, 1),
        amount: 25,
    }));
    assert_eq!(balance(&a, at(&alice, 1), "BEAN"), 925);
    assert_eq!(balance(&a, at(&m1, 1), "BEAN"), 35);
    a.assert_conserved();
}

#[test]
fn a_sub_accounts_points_expire_like_any_others() {
    let mut a = Alliance::new();
    let (alice, m1) = (a.alice.clone(), a.m1.clone());
    let create = TxKind::CreateToken {
        symbol: sym("DAY"),
        name: merit_chain::tx::TokenName::new("Day points").unwrap(),
        decimals: 0,
        max_supply: 1_000,
        expiry_days: Some(1),
        freezable: false,
        clawback: false,
    };
    assert_eq!(a.exec(&m1, create), None);
    assert_eq!(a.exec(&alice, open("kiosk")), None);
    let mint = TxKind::Mint {
        token: sym("DAY"),
        to: at(&alice, 1),
        amount: 70,
    };
    assert_eq!(a.exec(&m1, mint), None);
    let expires = a
        .ledger
        .lots(&LotHolder::Account(at(&alice, 1)), &sym("DAY"))
        .first()
        .map(|(t, _)| *t)
        .unwrap();
    a.block_at(expires, vec![]);
    assert_eq!(balance(&a, at(&alice, 1), "DAY"), 0);
    assert!(a.last_block_events.iter().any(|e| matches!(
        e,
        Event::LotExpired { holder: LotHolder::Account(who), owner, amount: 70, .. }
            if *who == at(&alice, 1) && *owner == at(&alice, 1)
    )));
    assert_eq!(a.ledger.token(&sym("DAY")).unwrap().expired, 70);
    a.assert_conserved();
}

#[test]
fn an_address_opens_at_most_max_sub_accounts() {
    let mut a = Alliance::new();
    let alice = a.alice.clone();
    let txs: Vec<Transaction> = (0..MAX_SUB_ACCOUNTS)
        .map(|i| a.tx(&alice, open(&format!("store {i}"))))
        .collect();
    let r = a.block(txs);
    assert!(r.iter().all(|r| r.code().is_none()));
    assert_eq!(a.ledger.sub_accounts(&alice.public()), MAX_SUB_ACCOUNTS);
    assert_eq!(
        a.exec(&alice, open("one more")),
        Some(RejectCode::TooManySubAccounts)
    );
    assert!(
        a.ledger
            .state()
            .get(&StateKey::SubAccount(alice.public(), MAX_SUB_ACCOUNTS + 1))
            .is_none()
    );
    // The last one is a sub-account like the first.
    assert_eq!(
        a.exec(&alice, send("BEAN", at(&alice, MAX_SUB_ACCOUNTS), 5)),
        None
    );
    a.assert_conserved();
}

/// Runs `test` with `mutant` in force and requires that it fails.
fn caught(mutant: LedgerMutant, test: fn()) {
    let failed = std::panic::catch_unwind(|| with_mutant(mutant, test)).is_err();
    assert!(failed, "{} went uncaught", mutant.name());
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_pays_unopened_sub_account_is_caught() {
    caught(
        LedgerMutant::PaysUnopenedSubAccount,
        a_receiver_or_payer_that_was_never_opened_is_rejected_and_nothing_moves,
    );
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_spends_unopened_sub_account_is_caught() {
    caught(
        LedgerMutant::SpendsUnopenedSubAccount,
        a_receiver_or_payer_that_was_never_opened_is_rejected_and_nothing_moves,
    );
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_refund_to_main_account_is_caught() {
    caught(
        LedgerMutant::RefundToMainAccount,
        offers_escrows_and_refunds_come_back_to_the_sub_account_that_paid,
    );
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "ledger mutants exist only in debug builds"
)]
fn mutant_ledger_sub_accounts_unbounded_is_caught() {
    caught(
        LedgerMutant::SubAccountsUnbounded,
        an_address_opens_at_most_max_sub_accounts,
    );
}
