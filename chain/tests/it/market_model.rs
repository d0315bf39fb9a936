//! The exchange, escrow, expiring points and frozen funds against a simple
//! `BTreeMap` model, over random offers, cancels, transfers, mints,
//! redemptions, escrows, freezes, unfreezes and clawbacks in three tokens,
//! one of which expires, with block times that jump ahead by up to a day.
//! After every block the balances, frozen amounts, locked amounts, lots,
//! books, escrows, counters and every receipt's code must agree with the
//! model, and for every token the full invariant of DESIGN §12 holds:
//! minted = circulating + frozen + locked in offers and escrows + redeemed
//! + expired + clawed back.

use std::collections::{BTreeMap, BTreeSet};

use merit_chain::encoding::BoundedString;
use merit_chain::ledger::{GenesisState, GenesisToken};
use merit_chain::limits::{MAX_ESCROW_DURATION_MS, MAX_OFFERS_CROSSED, MS_PER_DAY};
use merit_chain::postings::{Posting, Side, block_postings, genesis_postings, net};
use merit_chain::state::{EscrowStatus, LotHolder, MerchantInfo};
use merit_chain::tx::Price;
use merit_chain::{Hash32, Keypair, Ledger, RejectCode, Symbol, Transaction, TxKind};
use proptest::prelude::*;

use crate::fixture::*;

/// Accounts 0, 1 and 2 are merchants issuing token 0, 1 and 2; 3 and 4 shop.
const ACCOUNTS: usize = 5;
const TOKENS: [&str; 3] = ["BEAN", "BOOK", "FLY"];
/// FLY's points expire a day after they are minted.
const FLY: usize = 2;
/// BEAN and FLY are freezable and allow clawback; BOOK allows neither.
const FREEZABLE: [bool; 3] = [true, false, true];
const CAP: u64 = 10_000_000;
const GENESIS_BALANCE: u64 = 1_000;
/// The expiry of points that never expire, in the model.
const NEVER: u64 = u64::MAX;

#[derive(Debug, Clone)]
enum Op {
    Mint {
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
    Redeem {
        by: usize,
        sym: usize,
        amount: u64,
    },
    Place {
        by: usize,
        sell: usize,
        buy: usize,
        amount: u64,
        n: u64,
        d: u64,
    },
    /// Cancels one of the open offers (or an unknown id), as its owner or
    /// as `by`.
    Cancel {
        by: usize,
        offer: u64,
        as_owner: bool,
    },
    EscrowCreate {
        by: usize,
        sym: usize,
        to: usize,
        amount: u64,
        ahead_ms: u64,
        order: Option<u8>,
    },
    /// Releases one of the escrows created so far (or an unknown one), as
    /// its payer (`who` 0), its payee (1) or `by`.
    EscrowRelease {
        by: usize,
        pick: usize,
        who: u8,
    },
    EscrowRefund {
        by: usize,
        pick: usize,
        who: u8,
    },
    /// Freezes (or, with `unfreeze`, unfreezes) `amount` of `who`'s points,
    /// as the issuer unless `as_issuer` is false.
    Freeze {
        by: usize,
        sym: usize,
        who: usize,
        amount: u64,
        unfreeze: bool,
        as_issuer: bool,
    },
    Clawback {
        by: usize,
        sym: usize,
        who: usize,
        amount: u64,
        as_issuer: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let acct = 0..ACCOUNTS;
    let tok = 0..TOKENS.len();
    let small = prop_oneof![6 => 1u64..400, 1 => Just(0u64), 1 => 400u64..3_000];
    // Prices near 1 cross often; a few are extreme or invalid.
    let term = prop_oneof![24 => 1u64..4, 1 => Just(0u64), 1 => 4u64..1_000];
    // Two of the tokens, either way round (so the books fill up), and now
    // and then the same one twice.
    let pair = (
        prop_oneof![4 => Just((0, 1)), 4 => Just((1, 2)), 2 => Just((0, 2)), 1 => (0usize..3).prop_map(|t| (t, t))],
        any::<bool>(),
    )
        .prop_map(|((a, b), flip)| if flip { (b, a) } else { (a, b) });
    let ahead = prop_oneof![
        1 => Just(0u64),
        4 => 1u64..2 * MS_PER_DAY,
        1 => Just(MAX_ESCROW_DURATION_MS + 1),
    ];
    prop_oneof![
        2 => (tok.clone(), acct.clone(), small.clone())
            .prop_map(|(sym, to, amount)| Op::Mint { sym, to, amount }),
        3 => (acct.clone(), tok.clone(), acct.clone(), small.clone())
            .prop_map(|(by, sym, to, amount)| Op::Transfer { by, sym, to, amount }),
        1 => (acct.clone(), tok.clone(), small.clone())
            .prop_map(|(by, sym, amount)| Op::Redeem { by, sym, amount }),
        12 => (acct.clone(), pair, small.clone(), term.clone(), term)
            .prop_map(|(by, (sell, buy), amount, n, d)| Op::Place { by, sell, buy, amount, n, d }),
        2 => (acct.clone(), 0u64..16, prop::bool::weighted(0.8))
            .prop_map(|(by, offer, as_owner)| Op::Cancel { by, offer, as_owner }),
        3 => (acct.clone(), tok.clone(), acct.clone(), small.clone(), ahead, prop::option::of(0u8..3))
            .prop_map(|(by, sym, to, amount, ahead_ms, order)| Op::EscrowCreate {
                by, sym, to, amount, ahead_ms, order,
            }),
        2 => (acct.clone(), 0usize..12, 0u8..3)
            .prop_map(|(by, pick, who)| Op::EscrowRelease { by, pick, who }),
        2 => (acct.clone(), 0usize..12, 0u8..3)
            .prop_map(|(by, pick, who)| Op::EscrowRefund { by, pick, who }),
        4 => (acct.clone(), tok.clone(), acct.clone(), small.clone(), any::<bool>(), prop::bool::weighted(0.9))
            .prop_map(|(by, sym, who, amount, unfreeze, as_issuer)| Op::Freeze {
                by, sym, who, amount, unfreeze, as_issuer,
            }),
        2 => (acct.clone(), tok, acct, small, prop::bool::weighted(0.9))
            .prop_map(|(by, sym, who, amount, as_issuer)| Op::Clawback {
                by, sym, who, amount, as_issuer,
            }),
    ]
}

/// How far a block's time jumps ahead of its parent's.
fn advance() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => Just(1_000u64),
        2 => 1u64..6 * 3_600_000,
        1 => Just(MS_PER_DAY / 2),
        1 => Just(MS_PER_DAY),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Holder {
    Account(usize),
    Offer(u64),
    Escrow(Hash32),
}

#[derive(Debug, Clone)]
struct MOffer {
    owner: usize,
    sell: usize,
    buy: usize,
    /// The price in lowest terms.
    n: u64,
    d: u64,
    remaining: u64,
}

#[derive(Debug, Clone)]
struct MEscrow {
    payer: usize,
    payee: usize,
    sym: usize,
    remaining: u64,
    deadline: u64,
    status: EscrowStatus,
}

#[derive(Debug, Clone, Copy, Default)]
struct MToken {
    minted: u64,
    redeemed: u64,
    expired: u64,
    clawed_back: u64,
}

/// The model: every holding is a map of lots by expiry (`NEVER` for tokens
/// that do not expire), and the rules are written as plainly as possible.
#[derive(Debug, Default)]
struct Model {
    time: u64,
    tokens: [MToken; 3],
    lots: BTreeMap<(Holder, usize), BTreeMap<u64, u64>>,
    offers: BTreeMap<u64, MOffer>,
    next_offer: u64,
    escrows: BTreeMap<Hash32, MEscrow>,
    orders: BTreeSet<(usize, u8)>,
    /// Frozen points per (account, token): the first of its lots.
    frozen: BTreeMap<(usize, usize), u64>,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Model {
    fn new(time: u64) -> Self {
        let mut m = Model {
            time,
            next_offer: 1,
            ..Model::default()
        };
        for sym in 0..TOKENS.len() {
            let exp = if sym == FLY { time + MS_PER_DAY } else { NEVER };
            for who in 0..ACCOUNTS {
                m.give(Holder::Account(who), sym, vec![(exp, GENESIS_BALANCE)]);
            }
            m.tokens[sym].minted = GENESIS_BALANCE * ACCOUNTS as u64;
        }
        m
    }

    fn held(&self, h: Holder, sym: usize) -> u64 {
        self.lots.get(&(h, sym)).map_or(0, |l| l.values().sum())
    }

    /// Takes `amount` soonest-first, or `None` if the holder has less.
    fn take(&mut self, h: Holder, sym: usize, amount: u64) -> Option<Vec<(u64, u64)>> {
        if self.held(h, sym) < amount {
            return None;
        }
        let lots = self.lots.entry((h, sym)).or_default();
        let mut out = Vec::new();
        let mut need = amount;
        while need > 0 {
            let (&exp, &a) = lots.iter().next()?;
            let t = a.min(need);
            out.push((exp, t));
            need -= t;
            if t == a {
                lots.remove(&exp);
            } else {
                lots.insert(exp, a - t);
            }
        }
        if lots.is_empty() {
            self.lots.remove(&(h, sym));
        }
        Some(out)
    }

    fn frozen(&self, who: usize, sym: usize) -> u64 {
        self.frozen.get(&(who, sym)).copied().unwrap_or(0)
    }

    fn set_frozen(&mut self, who: usize, sym: usize, v: u64) {
        if v == 0 {
            self.frozen.remove(&(who, sym));
        } else {
            self.frozen.insert((who, sym), v);
        }
    }

    /// What an account may spend: what it holds less what is frozen.
    fn free(&self, who: usize, sym: usize) -> u64 {
        self.held(Holder::Account(who), sym) - self.frozen(who, sym)
    }

    /// Takes `amount` of an account's free points: the soonest lots after
    /// the frozen ones.
    fn take_free(&mut self, who: usize, sym: usize, amount: u64) -> Option<Vec<(u64, u64)>> {
        if self.free(who, sym) < amount {
            return None;
        }
        let frozen = self.frozen(who, sym);
        let kept = self.take(Holder::Account(who), sym, frozen)?;
        let taken = self.take(Holder::Account(who), sym, amount);
        self.give(Holder::Account(who), sym, kept);
        taken
    }

    fn give(&mut self, h: Holder, sym: usize, lots: Vec<(u64, u64)>) {
        for (exp, a) in lots {
            if a > 0 {
                *self
                    .lots
                    .entry((h, sym))
                    .or_default()
                    .entry(exp)
                    .or_default() += a;
            }
        }
    }

    fn locked(&self, sym: usize) -> (u64, u64) {
        let offers = self
            .offers
            .values()
            .filter(|o| o.sell == sym)
            .map(|o| o.remaining)
            .sum();
        let escrows = self
            .escrows
            .values()
            .filter(|e| e.sym == sym && e.status == EscrowStatus::Open)
            .map(|e| e.remaining)
            .sum();
        (offers, escrows)
    }

    /// The start of a block at `time`: every lot due expires wherever it is.
    fn begin_block(&mut self, time: u64) {
        self.time = time;
        let due: Vec<((Holder, usize), u64, u64)> = self
            .lots
            .iter()
            .flat_map(|(k, l)| l.iter().map(move |(e, a)| (*k, *e, *a)))
            .filter(|(_, e, _)| *e <= time)
            .collect();
        for ((h, sym), exp, a) in due {
            let l = self.lots.get_mut(&(h, sym)).unwrap();
            l.remove(&exp);
            if l.is_empty() {
                self.lots.remove(&(h, sym));
            }
            self.tokens[sym].expired += a;
            match h {
                // The frozen points are the soonest lots': they go first.
                Holder::Account(who) => {
                    let f = self.frozen(who, sym);
                    self.set_frozen(who, sym, f - f.min(a));
                }
                Holder::Offer(id) => {
                    let o = self.offers.get_mut(&id).unwrap();
                    o.remaining -= a;
                    if o.remaining == 0 {
                        self.offers.remove(&id);
                    }
                }
                Holder::Escrow(id) => {
                    let e = self.escrows.get_mut(&id).unwrap();
                    e.remaining -= a;
                    if e.remaining == 0 {
                        e.status = EscrowStatus::Expired;
                    }
                }
            }
        }
    }

    /// Applies `op`, signed as `tx`; returns the rejection the ledger must give.
    fn apply(&mut self, op: &Op, tx: &Transaction) -> Option<RejectCode> {
        let hash = tx.hash();
        use RejectCode::*;
        let acct = Holder::Account;
        match *op {
            Op::Mint { sym, to, amount } => {
                if amount == 0 {
                    return Some(ZeroAmount);
                }
                if self.tokens[sym].minted + amount > CAP {
                    return Some(SupplyCapExceeded);
                }
                self.tokens[sym].minted += amount;
                let exp = if sym == FLY {
                    self.time + MS_PER_DAY
                } else {
                    NEVER
                };
                self.give(acct(to), sym, vec![(exp, amount)]);
            }
            Op::Transfer {
                by,
                sym,
                to,
                amount,
            } => {
                if amount == 0 {
                    return Some(ZeroAmount);
                }
                let Some(lots) = self.take_free(by, sym, amount) else {
                    return Some(InsufficientBalance);
                };
                self.give(acct(to), sym, lots);
            }
            Op::Redeem { by, sym, amount } => {
                if amount == 0 {
                    return Some(ZeroAmount);
                }
                if self.take_free(by, sym, amount).is_none() {
                    return Some(InsufficientBalance);
                }
                self.tokens[sym].redeemed += amount;
            }
            Op::Place {
                by,
                sell,
                buy,
                amount,
                n,
                d,
            } => {
                if amount == 0 {
                    return Some(ZeroAmount);
                }
                if n == 0 || d == 0 {
                    return Some(InvalidPrice);
                }
                if sell == buy {
                    return Some(SameToken);
                }
                if self.free(by, sell) < amount {
                    return Some(InsufficientBalance);
                }
                let g = gcd(n, d);
                let (n, d) = (n / g, d / g);
                // The opposite book, cheapest first then oldest, crossing only.
                let mut book: Vec<(u64, MOffer)> = self
                    .offers
                    .iter()
                    .filter(|(_, o)| o.sell == buy && o.buy == sell)
                    .map(|(id, o)| (*id, o.clone()))
                    .collect();
                book.sort_by(|(ia, a), (ib, b)| {
                    (u128::from(a.n) * u128::from(b.d))
                        .cmp(&(u128::from(b.n) * u128::from(a.d)))
                        .then(ia.cmp(ib))
                });
                let crossing: Vec<(u64, MOffer)> = book
                    .into_iter()
                    .take_while(|(_, q)| {
                        u128::from(n) * u128::from(q.n) <= u128::from(d) * u128::from(q.d)
                    })
                    .take(MAX_OFFERS_CROSSED)
                    .collect();
                // A self-cross anywhere the walk reaches rejects the whole offer:
                // work on a copy and only keep it if the walk finishes.
                let saved = (self.lots.clone(), self.offers.clone());
                let id = self.next_offer;
                let mut mine = self.take_free(by, sell, amount).unwrap();
                let mut left = amount;
                for (mid, q) in crossing {
                    if left == 0 {
                        break;
                    }
                    if q.owner == by {
                        (self.lots, self.offers) = saved;
                        return Some(SelfCross);
                    }
                    let affordable = u128::from(left) * u128::from(q.d) / u128::from(q.n);
                    let got = affordable.min(u128::from(q.remaining)) as u64;
                    if got == 0 {
                        break;
                    }
                    let paid = (u128::from(got) * u128::from(q.n)).div_ceil(u128::from(q.d)) as u64;
                    if u128::from(got) * u128::from(d) < u128::from(paid) * u128::from(n) {
                        continue;
                    }
                    // The taker's soonest lots go to the maker...
                    let mut to_maker = Vec::new();
                    let mut need = paid;
                    while need > 0 {
                        let (e, a) = mine[0];
                        let t = a.min(need);
                        to_maker.push((e, t));
                        need -= t;
                        if t == a {
                            mine.remove(0);
                        } else {
                            mine[0].1 -= t;
                        }
                    }
                    left -= paid;
                    self.give(acct(q.owner), sell, to_maker);
                    // ...and the maker offer's soonest lots to the taker.
                    let lots = self.take(Holder::Offer(mid), buy, got).unwrap();
                    self.give(acct(by), buy, lots);
                    let o = self.offers.get_mut(&mid).unwrap();
                    o.remaining -= got;
                    if o.remaining == 0 {
                        self.offers.remove(&mid);
                    }
                }
                self.next_offer += 1;
                if left > 0 {
                    self.give(Holder::Offer(id), sell, mine);
                    self.offers.insert(
                        id,
                        MOffer {
                            owner: by,
                            sell,
                            buy,
                            n,
                            d,
                            remaining: left,
                        },
                    );
                }
            }
            Op::Cancel { by, offer, .. } => {
                let Some(o) = self.offers.get(&offer).cloned() else {
                    return Some(UnknownOffer);
                };
                if o.owner != by {
                    return Some(NotOfferOwner);
                }
                let lots = self
                    .take(Holder::Offer(offer), o.sell, o.remaining)
                    .unwrap();
                self.give(acct(by), o.sell, lots);
                self.offers.remove(&offer);
            }
            Op::EscrowCreate {
                by,
                sym,
                to,
                amount,
                ahead_ms,
                order,
            } => {
                if amount == 0 {
                    return Some(ZeroAmount);
                }
                if ahead_ms == 0 || ahead_ms > MAX_ESCROW_DURATION_MS {
                    return Some(InvalidDeadline);
                }
                if let Some(o) = order
                    && self.orders.contains(&(by, o))
                {
                    return Some(DuplicateOrderId);
                }
                let Some(lots) = self.take_free(by, sym, amount) else {
                    return Some(InsufficientBalance);
                };
                self.give(Holder::Escrow(hash), sym, lots);
                if let Some(o) = order {
                    self.orders.insert((by, o));
                }
                self.escrows.insert(
                    hash,
                    MEscrow {
                        payer: by,
                        payee: to,
                        sym,
                        remaining: amount,
                        deadline: self.time + ahead_ms,
                        status: EscrowStatus::Open,
                    },
                );
            }
            Op::EscrowRelease { by, .. } | Op::EscrowRefund { by, .. } => {
                let (refund, id) = match tx.body.kind {
                    TxKind::EscrowRefund { id } => (true, id),
                    TxKind::EscrowRelease { id } => (false, id),
                    _ => unreachable!(),
                };
                let Some(e) = self.escrows.get(&id).cloned() else {
                    return Some(UnknownEscrow);
                };
                if refund && by != e.payer && by != e.payee {
                    return Some(NotEscrowParty);
                }
                if !refund && by != e.payer {
                    return Some(NotEscrowPayer);
                }
                if e.status != EscrowStatus::Open {
                    return Some(EscrowClosed);
                }
                if refund && by != e.payee && self.time < e.deadline {
                    return Some(DeadlineNotReached);
                }
                let lots = self.take(Holder::Escrow(id), e.sym, e.remaining).unwrap();
                let to = if refund { e.payer } else { e.payee };
                self.give(acct(to), e.sym, lots);
                let e = self.escrows.get_mut(&id).unwrap();
                e.remaining = 0;
                e.status = if refund {
                    EscrowStatus::Refunded
                } else {
                    EscrowStatus::Released
                };
            }
            Op::Freeze {
                by,
                sym,
                who,
                amount,
                unfreeze,
                ..
            } => {
                if amount == 0 {
                    return Some(ZeroAmount);
                }
                if by != sym {
                    return Some(NotIssuer);
                }
                if !FREEZABLE[sym] {
                    return Some(NotFreezable);
                }
                let f = self.frozen(who, sym);
                if unfreeze {
                    if amount > f {
                        return Some(InsufficientFrozen);
                    }
                    self.set_frozen(who, sym, f - amount);
                } else {
                    if amount > self.free(who, sym) {
                        return Some(InsufficientBalance);
                    }
                    self.set_frozen(who, sym, f + amount);
                }
            }
            Op::Clawback {
                by,
                sym,
                who,
                amount,
                ..
            } => {
                if amount == 0 {
                    return Some(ZeroAmount);
                }
                if by != sym {
                    return Some(NotIssuer);
                }
                if !FREEZABLE[sym] {
                    return Some(ClawbackDisabled);
                }
                // Soonest first: the frozen points, then free ones.
                if self.take(acct(who), sym, amount).is_none() {
                    return Some(InsufficientBalance);
                }
                let f = self.frozen(who, sym);
                self.set_frozen(who, sym, f - f.min(amount));
                self.tokens[sym].clawed_back += amount;
            }
        }
        None
    }

    fn total_frozen(&self, sym: usize) -> u64 {
        self.frozen
            .iter()
            .filter(|((_, s), _)| *s == sym)
            .map(|(_, f)| f)
            .sum()
    }
}

/// Picks the offer or escrow an operation refers to, and its signer, from
/// what exists before the block.
fn resolve(op: &Op, model: &Model, escrow_ids: &[Hash32]) -> Op {
    match *op {
        Op::Cancel {
            by,
            offer,
            as_owner,
        } => {
            let live: Vec<(&u64, &MOffer)> = model.offers.iter().collect();
            match live.get(offer as usize % live.len().max(1)) {
                Some((id, o)) if offer < 12 => Op::Cancel {
                    by: if as_owner { o.owner } else { by },
                    offer: **id,
                    as_owner,
                },
                _ => Op::Cancel {
                    by,
                    offer: 1_000 + offer,
                    as_owner,
                },
            }
        }
        Op::EscrowRelease { by, pick, who } | Op::EscrowRefund { by, pick, who } => {
            let e = escrow_ids
                .get(pick % escrow_ids.len().max(1))
                .filter(|_| pick < 10)
                .and_then(|id| model.escrows.get(id));
            let by = match (e, who) {
                (Some(e), 0) => e.payer,
                (Some(e), 1) => e.payee,
                _ => by,
            };
            if matches!(op, Op::EscrowRelease { .. }) {
                Op::EscrowRelease { by, pick, who }
            } else {
                Op::EscrowRefund { by, pick, who }
            }
        }
        Op::Freeze {
            by,
            sym,
            who,
            amount,
            unfreeze,
            as_issuer,
        } => Op::Freeze {
            by: if as_issuer { sym } else { by },
            sym,
            who,
            amount,
            unfreeze,
            as_issuer,
        },
        Op::Clawback {
            by,
            sym,
            who,
            amount,
            as_issuer,
        } => Op::Clawback {
            by: if as_issuer { sym } else { by },
            sym,
            who,
            amount,
            as_issuer,
        },
        ref other => other.clone(),
    }
}

fn sender(op: &Op) -> usize {
    match op {
        Op::Mint { sym, .. } => *sym,
        Op::Transfer { by, .. }
        | Op::Redeem { by, .. }
        | Op::Place { by, .. }
        | Op::Cancel { by, .. }
        | Op::EscrowCreate { by, .. }
        | Op::EscrowRelease { by, .. }
        | Op::EscrowRefund { by, .. }
        | Op::Freeze { by, .. }
        | Op::Clawback { by, .. } => *by,
    }
}

fn to_kind(op: &Op, keys: &[Keypair], time: u64, escrow_ids: &[Hash32]) -> TxKind {
    let s = |i: usize| sym(TOKENS[i]);
    match *op {
        Op::Mint { sym: t, to, amount } => TxKind::Mint {
            token: s(t),
            to: keys[to].public().into(),
            amount,
        },
        Op::Transfer {
            sym: t, to, amount, ..
        } => TxKind::Transfer {
            token: s(t),
            to: keys[to].public().into(),
            amount,
            memo: None,
        },
        Op::Redeem { sym: t, amount, .. } => TxKind::Redeem {
            token: s(t),
            amount,
            memo: None,
        },
        Op::Place {
            sell,
            buy,
            amount,
            n,
            d,
            ..
        } => TxKind::PlaceOffer {
            sell: s(sell),
            buy: s(buy),
            amount,
            price: Price::new(n, d),
        },
        Op::Cancel { offer, .. } => TxKind::CancelOffer { offer_id: offer },
        Op::EscrowCreate {
            sym: t,
            to,
            amount,
            ahead_ms,
            order,
            ..
        } => TxKind::EscrowCreate {
            token: s(t),
            to: keys[to].public().into(),
            amount,
            deadline_ms: time + ahead_ms,
            order_id: order.map(|o| BoundedString::new(format!("order-{o}")).unwrap()),
        },
        Op::EscrowRelease { pick, .. } | Op::EscrowRefund { pick, .. } => {
            let id = escrow_ids
                .get(pick % escrow_ids.len().max(1))
                .filter(|_| pick < 10)
                .copied()
                .unwrap_or(Hash32([0xEE; 32]));
            if matches!(op, Op::EscrowRelease { .. }) {
                TxKind::EscrowRelease { id }
            } else {
                TxKind::EscrowRefund { id }
            }
        }
        Op::Freeze {
            sym: t,
            who,
            amount,
            unfreeze,
            ..
        } => {
            let account = merit_chain::tx::AccountRef::main(keys[who].public());
            if unfreeze {
                TxKind::Unfreeze {
                    token: s(t),
                    account,
                    amount,
                }
            } else {
                TxKind::Freeze {
                    token: s(t),
                    account,
                    amount,
                }
            }
        }
        Op::Clawback {
            sym: t,
            who,
            amount,
            ..
        } => TxKind::Clawback {
            token: s(t),
            from: merit_chain::tx::AccountRef::main(keys[who].public()),
            amount,
            memo: None,
        },
    }
}

fn genesis(keys: &[Keypair]) -> Ledger {
    let g = GenesisState {
        merchants: (0..3)
            .map(|i| {
                (
                    keys[i].public(),
                    MerchantInfo {
                        name: BoundedString::new(format!("m{i}")).unwrap(),
                        validator: None,
                    },
                )
            })
            .collect(),
        tokens: (0..3)
            .map(|i| GenesisToken {
                symbol: sym(TOKENS[i]),
                name: BoundedString::new(TOKENS[i]).unwrap(),
                decimals: 0,
                max_supply: CAP,
                expiry_days: (i == FLY).then_some(1),
                freezable: FREEZABLE[i],
                clawback: FREEZABLE[i],
                issuer: keys[i].public(),
            })
            .collect(),
        balances: (0..3)
            .flat_map(|t| {
                keys.iter()
                    .map(move |k| (k.public(), sym(TOKENS[t]), GENESIS_BALANCE))
            })
            .collect(),
        consensus: Default::default(),
    };
    Ledger::genesis(chain_id(), GENESIS_TIME_MS, &g).unwrap().0
}

/// Runs blocks of operations, each after a time jump, through the ledger and
/// the model and compares them after every block.
fn run(blocks: Vec<(u64, Vec<Op>)>) -> Result<(), TestCaseError> {
    let keys: Vec<Keypair> = (0..ACCOUNTS).map(|i| key(&format!("market-{i}"))).collect();
    let mut ledger = genesis(&keys);
    let mut model = Model::new(GENESIS_TIME_MS);
    let mut journal = genesis_postings(ledger.state(), GENESIS_TIME_MS);
    let mut escrow_ids: Vec<Hash32> = Vec::new();
    let mut nonce = 0u64;
    for (advance, ops) in blocks {
        let time = ledger.tip().timestamp_ms + advance;
        let ops: Vec<Op> = ops
            .iter()
            .map(|op| resolve(op, &model, &escrow_ids))
            .collect();
        let txs: Vec<Transaction> = ops
            .iter()
            .map(|op| {
                nonce += 1;
                let signer = &keys[sender(op)];
                merit_chain::tx::TxBody {
                    chain_id: chain_id(),
                    sender: signer.public(),
                    sub: 0,
                    nonce,
                    expires_at_height: ledger.height() + 5,
                    kind: to_kind(op, &keys, time, &escrow_ids),
                }
                .sign(signer)
            })
            .collect();
        let (block, outcome) = ledger.build_block(0, time, keys[0].public(), txs.clone());
        let receipts = outcome.receipts.clone();
        let postings = block_postings(
            &block.header,
            &block.txs,
            &outcome.receipts,
            &outcome.block_events,
        );
        balanced(&postings)?;
        journal.extend(postings);
        ledger.apply(&block.header, outcome);
        model.begin_block(time);
        for ((op, tx), receipt) in ops.iter().zip(&txs).zip(&receipts) {
            let expected = model.apply(op, tx);
            prop_assert_eq!(receipt.code(), expected, "{:?} at {}", op, time);
            if expected.is_none() && matches!(op, Op::EscrowCreate { .. }) {
                escrow_ids.push(tx.hash());
            }
        }
        compare(&ledger, &model, &keys)?;
        journal_matches(&journal, &model, &keys)?;
    }
    Ok(())
}

/// Per token, each transaction's and each block's own debits equal their
/// credits.
fn balanced(postings: &[Posting]) -> Result<(), TestCaseError> {
    let mut sides: BTreeMap<(Option<Hash32>, Symbol), (u128, u128)> = BTreeMap::new();
    for p in postings {
        let s = sides.entry((p.tx_hash, p.token)).or_default();
        match p.side {
            Side::Debit => s.0 += u128::from(p.amount),
            Side::Credit => s.1 += u128::from(p.amount),
        }
        prop_assert!(p.amount > 0, "an empty posting: {:?}", p);
    }
    for (k, (debits, credits)) in sides {
        prop_assert_eq!(debits, credits, "{:?}", k);
    }
    Ok(())
}

/// Summing the journal from genesis, expiries included, gives every
/// account's balance and every token counter of the model.
fn journal_matches(
    journal: &[Posting],
    model: &Model,
    keys: &[Keypair],
) -> Result<(), TestCaseError> {
    use merit_chain::postings::PostingAccount as P;
    let nets = net(journal);
    let at = |account: P, t: usize| nets.get(&(account, sym(TOKENS[t]))).copied().unwrap_or(0);
    for (t, name) in TOKENS.iter().enumerate() {
        let m = model.tokens[t];
        let (in_offers, in_escrow) = model.locked(t);
        prop_assert_eq!(at(P::Issuance, t), -i128::from(m.minted), "{} issued", name);
        prop_assert_eq!(at(P::Redemption, t), i128::from(m.redeemed));
        prop_assert_eq!(at(P::Expiry, t), i128::from(m.expired), "{} expired", name);
        prop_assert_eq!(at(P::OfferLocks, t), i128::from(in_offers));
        prop_assert_eq!(at(P::EscrowLocks, t), i128::from(in_escrow));
        prop_assert_eq!(at(P::Frozen, t), i128::from(model.total_frozen(t)));
        prop_assert_eq!(at(P::Clawback, t), i128::from(m.clawed_back));
        for (i, k) in keys.iter().enumerate() {
            prop_assert_eq!(
                at(P::Account(k.public(), 0), t),
                i128::from(model.free(i, t)),
                "{} of account {}",
                name,
                i
            );
        }
    }
    Ok(())
}

/// An offer as the books are compared: id, remaining amount and lots.
type BookRow = (u64, u64, Vec<(u64, u64)>);

fn compare(ledger: &Ledger, model: &Model, keys: &[Keypair]) -> Result<(), TestCaseError> {
    for (t, name) in TOKENS.iter().enumerate() {
        let s = sym(name);
        let info = ledger.token(&s).unwrap();
        let (in_offers, in_escrow) = model.locked(t);
        let m = model.tokens[t];
        prop_assert_eq!(
            (info.minted, info.redeemed, info.expired, info.clawed_back),
            (m.minted, m.redeemed, m.expired, m.clawed_back),
            "{} counters",
            name
        );
        prop_assert_eq!(info.frozen, model.total_frozen(t), "{} frozen", name);
        prop_assert_eq!(
            (info.locked_in_offers, info.locked_in_escrow),
            (in_offers, in_escrow),
            "{} locked",
            name
        );
        // Conservation, from what accounts hold and have locked.
        let mut total =
            u128::from(info.redeemed) + u128::from(info.expired) + u128::from(info.clawed_back);
        for (i, k) in keys.iter().enumerate() {
            let balance = ledger.balance(&k.public(), &s);
            let frozen = ledger.frozen(&k.public(), &s);
            prop_assert_eq!(
                (balance, frozen),
                (model.free(i, t), model.frozen(i, t)),
                "{} of {}",
                name,
                i
            );
            total += u128::from(balance) + u128::from(frozen);
            let locked = ledger
                .locked(&k.public())
                .into_iter()
                .find(|l| l.token == s)
                .map_or((0, 0), |l| (l.in_offers, l.in_escrow));
            let model_locked = (
                model
                    .offers
                    .values()
                    .filter(|o| o.owner == i && o.sell == t)
                    .map(|o| o.remaining)
                    .sum::<u64>(),
                model
                    .escrows
                    .values()
                    .filter(|e| e.payer == i && e.sym == t && e.status == EscrowStatus::Open)
                    .map(|e| e.remaining)
                    .sum::<u64>(),
            );
            prop_assert_eq!(locked, model_locked, "{} locked by {}", name, i);
            total += u128::from(locked.0) + u128::from(locked.1);
            let lots: Vec<(u64, u64)> = ledger
                .lots(&LotHolder::Account(k.public().into()), &s)
                .into_iter()
                .collect();
            let model_lots: Vec<(u64, u64)> = if t == FLY {
                model
                    .lots
                    .get(&(Holder::Account(i), t))
                    .map(|l| l.iter().map(|(e, a)| (*e, *a)).collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            prop_assert_eq!(lots, model_lots, "{} lots of {}", name, i);
        }
        prop_assert_eq!(total, u128::from(info.minted), "{} is not conserved", name);
        // The books, in match order, with the lots each offer holds.
        for (b, buy) in TOKENS.iter().enumerate() {
            let book: Vec<BookRow> = ledger
                .order_book(&s, &sym(buy))
                .map(|o| (o.id, o.remaining, ledger.lots(&LotHolder::Offer(o.id), &s)))
                .collect();
            let mut model_book: Vec<(&u64, &MOffer)> = model
                .offers
                .iter()
                .filter(|(_, o)| o.sell == t && o.buy == b)
                .collect();
            model_book.sort_by(|(ia, a), (ib, x)| {
                Price::new(a.n, a.d)
                    .cmp_value(&Price::new(x.n, x.d))
                    .then(ia.cmp(ib))
            });
            let model_book: Vec<BookRow> = model_book
                .into_iter()
                .map(|(id, o)| {
                    let lots = if t == FLY {
                        model.lots[&(Holder::Offer(*id), t)]
                            .iter()
                            .map(|(e, a)| (*e, *a))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    (*id, o.remaining, lots)
                })
                .collect();
            prop_assert_eq!(book, model_book, "book {}/{}", name, buy);
        }
    }
    for (id, e) in &model.escrows {
        let l = ledger.escrow(id).unwrap();
        prop_assert_eq!((l.status, l.remaining), (e.status, e.remaining));
        let lots = ledger.lots(&LotHolder::Escrow(*id), &sym(TOKENS[e.sym]));
        let model_lots: Vec<(u64, u64)> = if e.sym == FLY {
            model
                .lots
                .get(&(Holder::Escrow(*id), e.sym))
                .map(|l| l.iter().map(|(x, a)| (*x, *a)).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        prop_assert_eq!(lots, model_lots, "escrow lots");
    }
    for audit in ledger.audit() {
        prop_assert!(audit.holds(), "{:?}", audit);
    }
    prop_assert_eq!(ledger.check_consistency(), Ok(()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// One transaction per block: the ledger is compared after every step.
    #[test]
    fn the_market_matches_the_model_after_every_step(
        steps in prop::collection::vec((advance(), op()), 1..60)
    ) {
        run(steps.into_iter().map(|(t, op)| (t, vec![op])).collect())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Several transactions per block: later ones see earlier ones' offers,
    /// fills and escrows through the block's overlay.
    #[test]
    fn the_market_matches_the_model_with_many_transactions_per_block(
        blocks in prop::collection::vec((advance(), prop::collection::vec(op(), 1..6)), 1..12)
    ) {
        run(blocks)?;
    }
}
