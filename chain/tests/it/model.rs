//! The ledger against a simple `BTreeMap` model, over random sequences of
//! every transaction kind (payments combine the three tokens at random;
//! accounts open sub-accounts, and any payer or receiver may be one, opened
//! or not). After every block the balances, supplies and
//! every receipt's code must agree with the model; one variant puts each
//! transaction in a block of its own, so the state is compared after every
//! step.

use std::collections::BTreeMap;

use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::limits::MAX_PAY_LEGS;
use merit_chain::tx::{AccountRef, PayLeg};
use merit_chain::{Hash32, Keypair, RejectCode, Transaction, TxKind};
use proptest::prelude::*;

use crate::fixture::*;

const ACCOUNTS: usize = 5;
const SYMBOLS: [&str; 3] = ["BEAN", "BOOK", "FUEL"];
/// Sub-accounts the operations name: 0 is the account itself, and the
/// others exist only once opened.
const SUBS: u32 = 4;

/// An account (`.0`, an index into the keys) or one of its sub-accounts.
type Acct = (usize, u32);

/// An operation, signed by `by` and paid by its sub-account `sub`.
#[derive(Debug, Clone)]
struct Op {
    by: usize,
    sub: u32,
    kind: OpKind,
}

/// What an operation does, with indexes into the fixed account and symbol lists.
#[derive(Debug, Clone)]
enum OpKind {
    Open,
    Create {
        sym: usize,
        cap: u64,
    },
    Mint {
        sym: usize,
        to: Acct,
        amount: u64,
    },
    Transfer {
        sym: usize,
        to: Acct,
        amount: u64,
    },
    /// A combined payment: each leg `(to, sym, amount)` in its own token.
    Pay {
        order: u8,
        legs: Vec<(Acct, usize, u64)>,
    },
    Refund {
        payment: usize,
        sym: usize,
        amount: u64,
    },
    Redeem {
        sym: usize,
        amount: u64,
    },
}

fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..2_000, 1 => Just(0u64), 1 => Just(u64::MAX), 1 => 1u64..u64::MAX]
}

fn op() -> impl Strategy<Value = Op> {
    let acct = 0..ACCOUNTS;
    let to = (0..ACCOUNTS, prop_oneof![3 => Just(0u32), 2 => 1..SUBS]);
    let s = 0..SYMBOLS.len();
    let kind = prop_oneof![
        1 => Just(OpKind::Open),
        1 => (s.clone(), prop_oneof![Just(u64::MAX), 1u64..50_000]).prop_map(|(sym, cap)| OpKind::Create { sym, cap }),
        3 => (s.clone(), to.clone(), amount()).prop_map(|(sym, to, amount)| OpKind::Mint { sym, to, amount }),
        4 => (s.clone(), to.clone(), amount()).prop_map(|(sym, to, amount)| OpKind::Transfer { sym, to, amount }),
        3 => (0u8..4, prop::collection::vec((to, s.clone(), amount()), 0..=MAX_PAY_LEGS + 1))
            .prop_map(|(order, legs)| OpKind::Pay { order, legs }),
        2 => (0usize..8, s.clone(), amount()).prop_map(|(payment, sym, amount)| OpKind::Refund { payment, sym, amount }),
        2 => (s, amount()).prop_map(|(sym, amount)| OpKind::Redeem { sym, amount }),
    ];
    (acct, prop_oneof![3 => Just(0u32), 1 => 1..SUBS], kind).prop_map(|(by, sub, kind)| Op {
        by,
        sub,
        kind,
    })
}

#[derive(Default)]
struct ModelToken {
    issuer: usize,
    cap: u64,
    minted: u64,
    redeemed: u64,
}

/// A payment in the model: payer, (receiver, symbol) -> (received, refunded).
type ModelPayment = (Acct, BTreeMap<(Acct, usize), (u64, u64)>);

/// The model: plain maps and the rules written as directly as possible.
#[derive(Default)]
struct Model {
    tokens: BTreeMap<usize, ModelToken>,
    balances: BTreeMap<(Acct, usize), u64>,
    /// Sub-accounts opened per account.
    opened: BTreeMap<usize, u32>,
    orders: BTreeMap<(usize, u8), Hash32>,
    payments: BTreeMap<Hash32, ModelPayment>,
}

impl Model {
    fn bal(&self, who: Acct, sym: usize) -> u64 {
        self.balances.get(&(who, sym)).copied().unwrap_or(0)
    }

    fn set(&mut self, who: Acct, sym: usize, v: u64) {
        self.balances.insert((who, sym), v);
    }

    fn is_open(&self, (who, sub): Acct) -> bool {
        sub == 0 || sub <= self.opened.get(&who).copied().unwrap_or(0)
    }

    /// The checks that need no state, in the ledger's order.
    fn stateless(kind: &OpKind) -> Option<RejectCode> {
        use RejectCode::*;
        match kind {
            OpKind::Mint { amount, .. }
            | OpKind::Transfer { amount, .. }
            | OpKind::Refund { amount, .. }
            | OpKind::Redeem { amount, .. }
                if *amount == 0 =>
            {
                Some(ZeroAmount)
            }
            OpKind::Pay { legs, .. } => {
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
                None
            }
            _ => None,
        }
    }

    /// Accounts 0 and 1 are merchants.
    fn apply(&mut self, op: &Op, hash: Hash32, payments: &[Hash32]) -> Option<RejectCode> {
        use RejectCode::*;
        if let Some(code) = Self::stateless(&op.kind) {
            return Some(code);
        }
        // The paying account must be open, whatever the kind.
        let payer: Acct = (op.by, op.sub);
        if !self.is_open(payer) {
            return Some(UnknownSubAccount);
        }
        let by = &op.by;
        match &op.kind {
            OpKind::Open => {
                *self.opened.entry(op.by).or_default() += 1;
            }
            OpKind::Create { sym, cap } => {
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
            OpKind::Mint { sym, to, amount } => {
                if *amount == 0 {
                    return Some(ZeroAmount);
                }
                let Some(t) = self.tokens.get_mut(sym) else {
                    return Some(UnknownToken);
                };
                if t.issuer != *by {
                    return Some(NotIssuer);
                }
                if !self.is_open(*to) {
                    return Some(UnknownSubAccount);
                }
                let t = self.tokens.get_mut(sym)?;
                if u128::from(t.minted) + u128::from(*amount) > u128::from(t.cap) {
                    return Some(SupplyCapExceeded);
                }
                t.minted += amount;
                let b = self.bal(*to, *sym);
                self.set(*to, *sym, b + amount);
            }
            OpKind::Transfer { sym, to, amount } => {
                if !self.tokens.contains_key(sym) {
                    return Some(UnknownToken);
                }
                if !self.is_open(*to) {
                    return Some(UnknownSubAccount);
                }
                if self.bal(payer, *sym) < *amount {
                    return Some(InsufficientBalance);
                }
                let b = self.bal(payer, *sym);
                self.set(payer, *sym, b - amount);
                let b = self.bal(*to, *sym);
                self.set(*to, *sym, b + amount);
            }
            OpKind::Pay { order, legs } => {
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
                if legs.iter().any(|(to, _, _)| !self.is_open(*to)) {
                    return Some(UnknownSubAccount);
                }
                if self.orders.contains_key(&(*by, *order)) {
                    return Some(DuplicateOrderId);
                }
                // Atomic: one token short and no leg is paid.
                if totals
                    .iter()
                    .any(|(sym, total)| u128::from(self.bal(payer, *sym)) < *total)
                {
                    return Some(InsufficientBalance);
                }
                for (sym, total) in &totals {
                    let b = self.bal(payer, *sym);
                    self.set(payer, *sym, b - *total as u64);
                }
                let mut shares = BTreeMap::new();
                for (to, sym, a) in legs {
                    let b = self.bal(*to, *sym);
                    self.set(*to, *sym, b + a);
                    shares.entry((*to, *sym)).or_insert((0, 0)).0 += a;
                }
                self.orders.insert((*by, *order), hash);
                self.payments.insert(hash, (payer, shares));
            }
            OpKind::Refund {
                payment,
                sym,
                amount,
            } => {
                let Some(id) = payments.get(*payment) else {
                    return Some(UnknownPayment);
                };
                let Some((payer, shares)) = self.payments.get(id) else {
                    return Some(UnknownPayment);
                };
                let (paid_by, sym) = (*payer, *sym);
                // The share is the receiving account's: the refund leaves
                // it and goes back to the account that paid.
                let receiver = (op.by, op.sub);
                let Some((received, refunded)) = shares.get(&(receiver, sym)).copied() else {
                    return Some(NotPaymentReceiver);
                };
                if *amount > received - refunded {
                    return Some(RefundExceedsPayment);
                }
                if self.bal(receiver, sym) < *amount {
                    return Some(InsufficientBalance);
                }
                let b = self.bal(receiver, sym);
                self.set(receiver, sym, b - amount);
                let b = self.bal(paid_by, sym);
                self.set(paid_by, sym, b + amount);
                if let Some(s) = self
                    .payments
                    .get_mut(id)
                    .and_then(|p| p.1.get_mut(&(receiver, sym)))
                {
                    s.1 += amount;
                }
            }
            OpKind::Redeem { sym, amount } => {
                if !self.tokens.contains_key(sym) {
                    return Some(UnknownToken);
                }
                if self.bal(payer, *sym) < *amount {
                    return Some(InsufficientBalance);
                }
                let b = self.bal(payer, *sym);
                self.set(payer, *sym, b - amount);
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
    let at = |(who, sub): Acct| AccountRef::new(keys[who].public(), sub);
    match &op.kind {
        OpKind::Open => TxKind::OpenSubAccount {
            label: BoundedString::new("store").unwrap(),
        },
        OpKind::Create { sym: i, cap } => TxKind::CreateToken {
            symbol: s(*i),
            name: BoundedString::new("points").unwrap(),
            decimals: 2,
            max_supply: *cap,
            expiry_days: None,
            freezable: false,
            clawback: false,
        },
        OpKind::Mint { sym: i, to, amount } => TxKind::Mint {
            token: s(*i),
            to: at(*to),
            amount: *amount,
        },
        OpKind::Transfer { sym: i, to, amount } => TxKind::Transfer {
            token: s(*i),
            to: at(*to),
            amount: *amount,
            memo: None,
        },
        OpKind::Pay { order, legs: l } => TxKind::Pay {
            order_id: BoundedString::new(format!("order-{order}")).unwrap(),
            legs: BoundedVec::new(
                l.iter()
                    .map(|(to, i, amount)| PayLeg {
                        to: at(*to),
                        token: s(*i),
                        amount: *amount,
                    })
                    .collect(),
            )
            .unwrap(),
            memo: None,
        },
        OpKind::Refund {
            payment,
            sym: i,
            amount,
        } => TxKind::Refund {
            payment: payments
                .get(*payment)
                .copied()
                .unwrap_or(Hash32([0xEE; 32])),
            token: s(*i),
            amount: *amount,
        },
        OpKind::Redeem { sym: i, amount } => TxKind::Redeem {
            token: s(*i),
            amount: *amount,
            memo: None,
        },
    }
}

/// Balances, supplies and the audit agree with the model.
fn agrees(a: &Alliance, model: &Model, keys: &[Keypair]) -> Result<(), TestCaseError> {
    for (s, name) in SYMBOLS.iter().enumerate() {
        for (i, k) in keys.iter().enumerate() {
            for sub in 0..SUBS {
                prop_assert_eq!(
                    a.ledger
                        .balance(&AccountRef::new(k.public(), sub), &sym(name)),
                    model.bal((i, sub), s)
                );
            }
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
    for (i, k) in keys.iter().enumerate() {
        prop_assert_eq!(
            a.ledger.sub_accounts(&k.public()),
            model.opened.get(&i).copied().unwrap_or(0)
        );
    }
    for audit in a.ledger.audit() {
        prop_assert!(audit.holds(), "{:?}", audit);
    }
    prop_assert_eq!(a.ledger.check_consistency(), Ok(()));
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
                a.tx_from(&keys[op.by], op.sub, kind)
            })
            .collect();
        let receipts = a.block(txs.clone());
        for ((op, tx), receipt) in ops.iter().zip(&txs).zip(&receipts) {
            let expected = model.apply(op, tx.hash(), &payments);
            prop_assert_eq!(receipt.code(), expected, "op {:?}", op);
            if expected.is_none() && matches!(op.kind, OpKind::Pay { .. }) {
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
