//! The ledger against a simple `BTreeMap` model, over random sequences of
//! every transaction kind (payments combine the three tokens at random). After every block the balances, supplies and
//! every receipt's code must agree with the model; one variant puts each
//! transaction in a block of its own, so the state is compared after every
//! step.

use std::collections::BTreeMap;

use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::limits::MAX_PAY_LEGS;
use merit_chain::tx::PayLeg;
use merit_chain::{Hash32, Keypair, RejectCode, Transaction, TxKind};
use proptest::prelude::*;

use crate::fixture::*;

const ACCOUNTS: usize = 5;
const SYMBOLS: [&str; 3] = ["BEAN", "BOOK", "FUEL"];

/// An operation, with indexes into the fixed account and symbol lists.
#[derive(Debug, Clone)]
enum Op {
    Create {
        by: usize,
        sym: usize,
        cap: u64,
    },
    Mint {
        by: usize,
        sym: usize,
        to: usize,
        amount: u64,
    },
    Transfer {
        by: usize,
        sym: usize,
        to: usize,
        amount: u64,
    },
    /// A combined payment: each leg `(to, sym, amount)` in its own token.
    Pay {
        by: usize,
        order: u8,
        legs: Vec<(usize, usize, u64)>,
    },
    Refund {
        by: usize,
        payment: usize,
        sym: usize,
        amount: u64,
    },
    Redeem {
        by: usize,
        sym: usize,
        amount: u64,
    },
}

fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..2_000, 1 => Just(0u64), 1 => Just(u64::MAX), 1 => 1u64..u64::MAX]
}

fn op() -> impl Strategy<Value = Op> {
    let acct = 0..ACCOUNTS;
    let s = 0..SYMBOLS.len();
    prop_oneof![
        1 => (acct.clone(), s.clone(), prop_oneof![Just(u64::MAX), 1u64..50_000]).prop_map(|(by, sym, cap)| Op::Create { by, sym, cap }),
        3 => (acct.clone(), s.clone(), acct.clone(), amount()).prop_map(|(by, sym, to, amount)| Op::Mint { by, sym, to, amount }),
        4 => (acct.clone(), s.clone(), acct.clone(), amount()).prop_map(|(by, sym, to, amount)| Op::Transfer { by, sym, to, amount }),
        3 => (acct.clone(), 0u8..4, prop::collection::vec((acct.clone(), s.clone(), amount()), 0..=MAX_PAY_LEGS + 1))
            .prop_map(|(by, order, legs)| Op::Pay { by, order, legs }),
        2 => (acct.clone(), 0usize..8, s.clone(), amount()).prop_map(|(by, payment, sym, amount)| Op::Refund { by, payment, sym, amount }),
        2 => (acct, s, amount()).prop_map(|(by, sym, amount)| Op::Redeem { by, sym, amount }),
    ]
}

#[derive(Default)]
struct ModelToken {
    issuer: usize,
    cap: u64,
    minted: u64,
    redeemed: u64,
}

/// A payment in the model: payer, (receiver, symbol) -> (received, refunded).
type ModelPayment = (usize, BTreeMap<(usize, usize), (u64, u64)>);

/// The model: plain maps and the rules written as directly as possible.
#[derive(Default)]
struct Model {
    tokens: BTreeMap<usize, ModelToken>,
    balances: BTreeMap<(usize, usize), u64>,
    orders: BTreeMap<(usize, u8), Hash32>,
    payments: BTreeMap<Hash32, ModelPayment>,
}

impl Model {
    fn bal(&self, who: usize, sym: usize) -> u64 {
        self.balances.get(&(who, sym)).copied().unwrap_or(0)
    }

    fn set(&mut self, who: usize, sym: usize, v: u64) {
        self.balances.insert((who, sym), v);
    }

    /// Accounts 0 and 1 are merchants.
    fn apply(&mut self, op: &Op, hash: Hash32, payments: &[Hash32]) -> Option<RejectCode> {
        use RejectCode::*;
        match op {
            Op::Create { by, sym, cap } => {
                if *by > 1 {
                    return Some(NotMerchant);
                }
                if self.tokens.contains_key(sym) {
                    return Some(TokenExists);
                }
                self.tokens.insert(
                    *sym,
                    ModelToken {
                        issuer: *by,
                        cap: *cap,
                        ..Default::default()
                    },
                );
            }
            Op::Mint {
                by,
                sym,
                to,
                amount,
            } => {
                if *amount == 0 {
                    return Some(ZeroAmount);
                }
                let Some(t) = self.tokens.get_mut(sym) else {
                    return Some(UnknownToken);
                };
                if t.issuer != *by {
                    return Some(NotIssuer);
                }
                if u128::from(t.minted) + u128::from(*amount) > u128::from(t.cap) {
                    return Some(SupplyCapExceeded);
                }
                t.minted += amount;
                let b = self.bal(*to, *sym);
                self.set(*to, *sym, b + amount);
            }
            Op::Transfer {
                by,
                sym,
                to,
                amount,
            } => {
                if *amount == 0 {
                    return Some(ZeroAmount);
                }
                if !self.tokens.contains_key(sym) {
                    return Some(UnknownToken);
                }
                if self.bal(*by, *sym) < *amount {
                    return Some(InsufficientBalance);
                }
                let b = self.bal(*by, *sym);
                self.set(*by, *sym, b - amount);
                let b = self.bal(*to, *sym);
                self.set(*to, *sym, b + amount);
            }
            Op::Pay { by, order, legs } => {
                if legs.is_empty() {
                    return Some(NoLegs);
                }
                if legs.len() > MAX_PAY_LEGS {
                    return Some(TooManyLegs);
                }
                if legs.iter().any(|(_, _, a)| *a == 0) {
                    return Some(ZeroAmount);
                }
                let mut totals: BTreeMap<usize, u128> = BTreeMap::new();
                for (_, sym, a) in legs {
                    *totals.entry(*sym).or_default() += u128::from(*a);
                }
                if totals.values().any(|t| *t > u128::from(u64::MAX)) {
                    return Some(Overflow);
                }
                if totals.keys().any(|sym| !self.tokens.contains_key(sym)) {
                    return Some(UnknownToken);
                }
                if self.orders.contains_key(&(*by, *order)) {
                    return Some(DuplicateOrderId);
                }
                // Atomic: one token short and no leg is paid.
                if totals
                    .iter()
                    .any(|(sym, total)| u128::from(self.bal(*by, *sym)) < *total)
                {
                    return Some(InsufficientBalance);
                }
                for (sym, total) in &totals {
                    let b = self.bal(*by, *sym);
                    self.set(*by, *sym, b - *total as u64);
                }
                let mut shares = BTreeMap::new();
                for (to, sym, a) in legs {
                    let b = self.bal(*to, *sym);
                    self.set(*to, *sym, b + a);
                    shares.entry((*to, *sym)).or_insert((0, 0)).0 += a;
                }
                self.orders.insert((*by, *order), hash);
                self.payments.insert(hash, (*by, shares));
            }
            Op::Refund {
                by,
                payment,
                sym,
                amount,
            } => {
                if *amount == 0 {
                    return Some(ZeroAmount);
                }
                let Some(id) = payments.get(*payment) else {
                    return Some(UnknownPayment);
                };
                let Some((payer, shares)) = self.payments.get(id) else {
                    return Some(UnknownPayment);
                };
                let (payer, sym) = (*payer, *sym);
                let Some((received, refunded)) = shares.get(&(*by, sym)).copied() else {
                    return Some(NotPaymentReceiver);
                };
                if *amount > received - refunded {
                    return Some(RefundExceedsPayment);
                }
                if self.bal(*by, sym) < *amount {
                    return Some(InsufficientBalance);
                }
                let b = self.bal(*by, sym);
                self.set(*by, sym, b - amount);
                let b = self.bal(payer, sym);
                self.set(payer, sym, b + amount);
                if let Some(s) = self
                    .payments
                    .get_mut(id)
                    .and_then(|p| p.1.get_mut(&(*by, sym)))
                {
                    s.1 += amount;
                }
            }
            Op::Redeem { by, sym, amount } => {
                if *amount == 0 {
                    return Some(ZeroAmount);
                }
                if !self.tokens.contains_key(sym) {
                    return Some(UnknownToken);
                }
                if self.bal(*by, *sym) < *amount {
                    return Some(InsufficientBalance);
                }
                let b = self.bal(*by, *sym);
                self.set(*by, *sym, b - amount);
                if let Some(t) = self.tokens.get_mut(sym) {
                    t.redeemed += amount;
                }
            }
        }
        None
    }
}

fn to_kind(op: &Op, keys: &[Keypair], payments: &[Hash32]) -> TxKind {
    let s = |i: usize| sym(SYMBOLS[i]);
    match op {
        Op::Create { sym: i, cap, .. } => TxKind::CreateToken {
            symbol: s(*i),
            name: BoundedString::new("points").unwrap(),
            decimals: 2,
            max_supply: *cap,
            expiry_days: None,
            freezable: false,
            clawback: false,
        },
        Op::Mint {
            sym: i, to, amount, ..
        } => TxKind::Mint {
            token: s(*i),
            to: keys[*to].public(),
            amount: *amount,
        },
        Op::Transfer {
            sym: i, to, amount, ..
        } => TxKind::Transfer {
            token: s(*i),
            to: keys[*to].public(),
            amount: *amount,
            memo: None,
        },
        Op::Pay { order, legs: l, .. } => TxKind::Pay {
            order_id: BoundedString::new(format!("order-{order}")).unwrap(),
            legs: BoundedVec::new(
                l.iter()
                    .map(|(to, i, amount)| PayLeg {
                        to: keys[*to].public(),
                        token: s(*i),
                        amount: *amount,
                    })
                    .collect(),
            )
            .unwrap(),
            memo: None,
        },
        Op::Refund {
            payment,
            sym: i,
            amount,
            ..
        } => TxKind::Refund {
            payment: payments
                .get(*payment)
                .copied()
                .unwrap_or(Hash32([0xEE; 32])),
            token: s(*i),
            amount: *amount,
        },
        Op::Redeem { sym: i, amount, .. } => TxKind::Redeem {
            token: s(*i),
            amount: *amount,
            memo: None,
        },
    }
}

fn by(op: &Op) -> usize {
    match op {
        Op::Create { by, .. }
        | Op::Mint { by, .. }
        | Op::Transfer { by, .. }
        | Op::Pay { by, .. }
        | Op::Refund { by, .. }
        | Op::Redeem { by, .. } => *by,
    }
}

/// Balances, supplies and the audit agree with the model.
fn agrees(a: &Alliance, model: &Model, keys: &[Keypair]) -> Result<(), TestCaseError> {
    for (s, name) in SYMBOLS.iter().enumerate() {
        for (i, k) in keys.iter().enumerate() {
            prop_assert_eq!(a.ledger.balance(&k.public(), &sym(name)), model.bal(i, s));
        }
        match (a.ledger.token(&sym(name)), model.tokens.get(&s)) {
            (None, None) => {}
            (Some(t), Some(m)) => {
                prop_assert_eq!(
                    (t.minted, t.redeemed, t.max_supply),
                    (m.minted, m.redeemed, m.cap)
                );
                prop_assert_eq!(t.issuer, keys[m.issuer].public());
            }
            (t, m) => prop_assert!(
                false,
                "token {} exists in one only: ledger {:?}, model {}",
                name,
                t,
                m.is_some()
            ),
        }
    }
    for audit in a.ledger.audit() {
        prop_assert!(audit.holds(), "{:?}", audit);
    }
    // The journal since genesis balances per transaction and sums to the
    // balances and counters just compared with the model.
    prop_assert_eq!(a.journal_agrees(), Ok(()));
    Ok(())
}

/// Runs `blocks` against the ledger and the model, comparing every receipt
/// and, after every block, the whole observable state.
fn run_against_the_model(blocks: Vec<Vec<Op>>) -> Result<(), TestCaseError> {
    let keys: Vec<Keypair> = (0..ACCOUNTS).map(|i| key(&format!("model-{i}"))).collect();
    // Accounts 0 and 1 are the merchants; no tokens or balances at genesis.
    let mut a = Alliance::with_merchants(&keys[..2]);
    let mut model = Model::default();
    let mut payments: Vec<Hash32> = Vec::new();
    for ops in blocks {
        let txs: Vec<Transaction> = ops
            .iter()
            .map(|op| {
                let kind = to_kind(op, &keys, &payments);
                a.tx(&keys[by(op)], kind)
            })
            .collect();
        let receipts = a.block(txs.clone());
        for ((op, tx), receipt) in ops.iter().zip(&txs).zip(&receipts) {
            let expected = model.apply(op, tx.hash(), &payments);
            prop_assert_eq!(receipt.code(), expected, "op {:?}", op);
            if expected.is_none() && matches!(op, Op::Pay { .. }) {
                payments.push(tx.hash());
            }
        }
        agrees(&a, &model, &keys)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Several transactions per block, as a proposer packs them.
    #[test]
    fn ledger_matches_the_model(blocks in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..8)) {
        run_against_the_model(blocks)?;
    }

    /// One transaction per block, so the state is compared after every step.
    #[test]
    fn ledger_matches_the_model_after_every_transaction(ops in prop::collection::vec(op(), 1..30)) {
        run_against_the_model(ops.into_iter().map(|op| vec![op]).collect())?;
    }
}
