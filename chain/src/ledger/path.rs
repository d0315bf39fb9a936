//! Path payments (DESIGN §12): `PayPath` delivers exactly `dest_amount` of
//! one token to a receiver and pays for it in another, crossing the order
//! books along a route of tokens. This is a strict-receive path payment.
//!
//! The cost is worked out backwards from what must arrive. The last hop
//! must deliver `dest_amount`, and it walks its book best price first. Each
//! resting offer gives what is still needed, up to what it holds, and is
//! paid `ceil(got × price)`, rounded in the resting offer's favour, as
//! `PlaceOffer` pays it. What that hop costs is what the hop before it must
//! deliver, and so on back to the sender. Every offer visited counts
//! toward [`MAX_OFFERS_CROSSED`], across all hops together. Only then is
//! anything moved: the sender pays the first hop, each hop's makers are
//! paid from what the hop before delivered, and the last hop's points go
//! to the receiver. The same [`quote_path`] prices `merit_findPaths`, so a
//! quote is what the payment would cost against the same state.

use super::exec::{Exec, Rejection, reject};
use super::lots::Parcel;
use crate::block::Event;
use crate::limits::MAX_OFFERS_CROSSED;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{AccountRef, OrderId, Price, Symbol};

/// A resting offer as a path sees it: it sells one token of a hop for the
/// other at `price` units of what it buys per unit of what it sells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookOffer {
    pub id: u64,
    pub owner: AccountRef,
    pub price: Price,
    pub remaining: u64,
}

impl From<&OfferRecord> for BookOffer {
    fn from(o: &OfferRecord) -> Self {
        BookOffer {
            id: o.id,
            owner: o.owner,
            price: o.price,
            remaining: o.remaining,
        }
    }
}

/// What one resting offer gives a path payment: `got` of the token it sells
/// for `paid` of the token it buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub offer: u64,
    pub maker: AccountRef,
    pub price: Price,
    pub got: u64,
    pub paid: u64,
}

/// The cost of delivering an amount along a route: what the sender pays,
/// and the fills of each hop, first hop first, best price first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathQuote {
    pub send_amount: u64,
    pub hops: Vec<Vec<Fill>>,
}

impl PathQuote {
    /// How many resting offers the payment crosses, over all hops.
    pub fn offers_crossed(&self) -> usize {
        self.hops.iter().map(Vec::len).sum()
    }
}

/// Prices delivering `dest_amount` of the route's last token, paid for in
/// its first. `book(sell, buy)` lists the resting offers that sell `sell`
/// for `buy`, best price first (then oldest), at least
/// [`MAX_OFFERS_CROSSED`] of them when there are that many.
///
/// Refuses with `NoPath` when the books along the route cannot deliver the
/// amount within [`MAX_OFFERS_CROSSED`] offers, and with `SendMaxExceeded`
/// when the first hop would cost more than a `u64` holds.
pub fn quote_path(
    route: &[Symbol],
    dest_amount: u64,
    mut book: impl FnMut(&Symbol, &Symbol) -> Vec<BookOffer>,
) -> Result<PathQuote, RejectCode> {
    use super::{LedgerMutant, mutant::active};
    let mut budget = MAX_OFFERS_CROSSED;
    let mut need = dest_amount;
    let mut hops = Vec::with_capacity(route.len().saturating_sub(1));
    for (i, pair) in route.windows(2).enumerate().rev() {
        if active(LedgerMutant::PathBoundPerHop) {
            budget = MAX_OFFERS_CROSSED;
        }
        let (pay, get) = (&pair[0], &pair[1]);
        // A cost beyond u64 at the first hop is more than any send_max; at
        // a later hop it is more of a token than the book before can hold.
        let too_much = if i == 0 {
            RejectCode::SendMaxExceeded
        } else {
            RejectCode::NoPath
        };
        let mut fills = Vec::new();
        let mut cost: u64 = 0;
        let mut left = need;
        for offer in book(get, pay) {
            if left == 0 {
                break;
            }
            if budget == 0 {
                return Err(RejectCode::NoPath);
            }
            budget -= 1;
            let got = left.min(offer.remaining);
            let owed = u128::from(got) * u128::from(offer.price.n);
            let paid = if active(LedgerMutant::PathRoundsForPayer) {
                owed / u128::from(offer.price.d)
            } else {
                owed.div_ceil(u128::from(offer.price.d))
            };
            let paid = u64::try_from(paid).map_err(|_| too_much)?;
            cost = cost.checked_add(paid).ok_or(too_much)?;
            left -= got;
            fills.push(Fill {
                offer: offer.id,
                maker: offer.owner,
                price: offer.price,
                got,
                paid,
            });
        }
        if left > 0 {
            return Err(RejectCode::NoPath);
        }
        hops.push(fills);
        need = cost;
    }
    hops.reverse();
    Ok(PathQuote {
        send_amount: need,
        hops,
    })
}

/// The route of a path payment: the send token, the path, the dest token.
pub fn route(send: &Symbol, path: &[Symbol], dest: &Symbol) -> Vec<Symbol> {
    let mut route = Vec::with_capacity(path.len() + 2);
    route.push(*send);
    route.extend_from_slice(path);
    route.push(*dest);
    route
}

/// The arguments of a `PayPath`, as execution takes them.
pub(super) struct PathPayment<'k> {
    pub(super) route: Vec<Symbol>,
    pub(super) send_max: u64,
    pub(super) dest_amount: u64,
    pub(super) to: &'k AccountRef,
    pub(super) order_id: Option<&'k OrderId>,
}

impl Exec<'_, '_> {
    /// The offers selling `sell` for `buy`, best first, as many as a path
    /// may cross.
    pub(super) fn book_offers(&self, sell: &Symbol, buy: &Symbol) -> Vec<BookOffer> {
        self.ov
            .range(
                &StateKey::BookEntry(*sell, *buy, Price::MIN, 0),
                &StateKey::BookEntry(*sell, *buy, Price::MAX, u64::MAX),
            )
            .filter_map(|(k, _)| match k {
                StateKey::BookEntry(_, _, _, id) => match self.ov.get(&StateKey::Offer(*id)) {
                    Some(StateValue::Offer(o)) => Some(BookOffer::from(o)),
                    _ => None,
                },
                _ => None,
            })
            .take(MAX_OFFERS_CROSSED)
            .collect()
    }

    pub(super) fn pay_path(&mut self, p: PathPayment<'_>) -> Result<(), Rejection> {
        for token in &p.route {
            self.token(token)?;
        }
        self.check_open(p.to)?;
        let order_key = p.order_id.map(|o| self.check_order_unused(o)).transpose()?;
        let quote = quote_path(&p.route, p.dest_amount, |sell, buy| {
            self.book_offers(sell, buy)
        })
        .map_err(|code| (code, None))?;
        if quote.send_amount > p.send_max
            && !super::mutant::active(super::LedgerMutant::PathIgnoresSendMax)
        {
            return reject(RejectCode::SendMaxExceeded);
        }
        // Any account of the same key is the same trader.
        if quote
            .hops
            .iter()
            .flatten()
            .any(|f| f.maker.address == self.sender)
        {
            return reject(RejectCode::SelfCross);
        }
        let sender = self.payer();
        let mut parcel = self.debit(&sender, &p.route[0], quote.send_amount)?;
        for (pair, fills) in p.route.windows(2).zip(&quote.hops) {
            let (pay, get) = (pair[0], pair[1]);
            let mut delivered = Parcel::default();
            for fill in fills {
                let mut maker = self.offer(fill.offer)?;
                let to_maker = parcel.split_front(fill.paid);
                self.credit(&maker.owner, &pay, to_maker)?;
                let got = self.unlock(&mut maker.lots, &get, fill.got)?;
                delivered.join(got)?;
                maker.remaining -= fill.got;
                self.update_token(&get, |t| {
                    t.locked_in_offers = t.locked_in_offers.checked_sub(fill.got)?;
                    Some(())
                })?;
                self.events.push(Event::PathTrade {
                    payer: sender,
                    maker: maker.owner,
                    maker_offer: fill.offer,
                    pay_token: pay,
                    paid: fill.paid,
                    get_token: get,
                    got: fill.got,
                    maker_remaining: maker.remaining,
                });
                self.store_maker(maker);
            }
            debug_assert_eq!(parcel.amount, 0, "a hop pays exactly what it was quoted");
            parcel = delivered;
        }
        let dest = p.route[p.route.len() - 1];
        self.credit(p.to, &dest, parcel)?;
        if let Some(key) = order_key {
            self.ov.put(key, StateValue::Order(self.hash));
        }
        self.events.push(Event::PathPaid {
            payer: sender,
            to: *p.to,
            send_token: p.route[0],
            sent: quote.send_amount,
            dest_token: dest,
            received: p.dest_amount,
        });
        Ok(())
    }
}

/// How many routes `merit_findPaths` returns at most.
pub const MAX_PATHS_FOUND: usize = 5;
/// How many routes one search walks at most, priced or not, so that a
/// state with many books cannot make one query expensive. Shorter routes
/// are walked first.
pub const MAX_ROUTES_SEARCHED: usize = 1024;

impl super::Ledger {
    /// The pairs of tokens with a book: `(sell, buy)` for every token some
    /// resting offer sells for another. One step per pair, however deep
    /// its book.
    fn books(&self) -> Vec<(Symbol, Symbol)> {
        use std::ops::Bound::{Excluded, Included};
        let mut pairs = Vec::new();
        let mut from = Included(StateKey::BookEntry(Symbol::MIN, Symbol::MIN, Price::MIN, 0));
        let end = Included(StateKey::BookEntry(
            Symbol::MAX,
            Symbol::MAX,
            Price::MAX,
            u64::MAX,
        ));
        while let Some((StateKey::BookEntry(sell, buy, _, _), _)) =
            self.state.range((from, end.clone())).next()
        {
            pairs.push((*sell, *buy));
            from = Excluded(StateKey::BookEntry(*sell, *buy, Price::MAX, u64::MAX));
        }
        pairs
    }

    /// The offers selling `sell` for `buy`, best first, as many as a path
    /// may cross.
    pub fn book_offers(&self, sell: &Symbol, buy: &Symbol) -> Vec<BookOffer> {
        self.order_book(sell, buy)
            .take(MAX_OFFERS_CROSSED)
            .map(BookOffer::from)
            .collect()
    }

    /// What `dest_amount` of `dest` costs in `send` along `path`, against
    /// the committed state: what a `PayPath` on that route would pay now.
    pub fn quote_path(
        &self,
        send: &Symbol,
        path: &[Symbol],
        dest: &Symbol,
        dest_amount: u64,
    ) -> Result<PathQuote, RejectCode> {
        quote_path(&route(send, path, dest), dest_amount, |sell, buy| {
            self.book_offers(sell, buy)
        })
    }

    /// The routes from `send` to `dest` with at most
    /// [`MAX_PATH_TOKENS`](crate::limits::MAX_PATH_TOKENS) tokens between
    /// them that can deliver `dest_amount` now, cheapest first (then
    /// fewest hops), at most [`MAX_PATHS_FOUND`].
    pub fn find_paths(
        &self,
        send: &Symbol,
        dest: &Symbol,
        dest_amount: u64,
    ) -> Vec<(Vec<Symbol>, PathQuote)> {
        self.search_paths(send, dest, dest_amount).0
    }

    /// [`Self::find_paths`], and how many routes the search walked: never
    /// more than [`MAX_ROUTES_SEARCHED`], however many books there are.
    pub fn search_paths(
        &self,
        send: &Symbol,
        dest: &Symbol,
        dest_amount: u64,
    ) -> (Vec<(Vec<Symbol>, PathQuote)>, usize) {
        use crate::limits::MAX_PATH_TOKENS;
        if send == dest || dest_amount == 0 {
            return (Vec::new(), 0);
        }
        // A hop from X to Y needs a book of offers selling Y for X.
        let mut next: std::collections::BTreeMap<Symbol, Vec<Symbol>> = Default::default();
        for (sell, buy) in self.books() {
            next.entry(buy).or_default().push(sell);
        }
        let mut found = Vec::new();
        let mut searched = 0;
        // Breadth first: direct routes, then one token between, and so on.
        let mut queue: std::collections::VecDeque<Vec<Symbol>> = [vec![*send]].into();
        while let Some(route) = queue.pop_front() {
            let last = route[route.len() - 1];
            for to in next.get(&last).into_iter().flatten() {
                if route.contains(to) {
                    continue;
                }
                if searched == MAX_ROUTES_SEARCHED {
                    break;
                }
                searched += 1;
                if to == dest {
                    let path = route[1..].to_vec();
                    if let Ok(q) = self.quote_path(send, &path, dest, dest_amount) {
                        found.push((path, q));
                    }
                } else if route.len() <= MAX_PATH_TOKENS {
                    let mut longer = route.clone();
                    longer.push(*to);
                    queue.push_back(longer);
                }
            }
        }
        found.sort_by(|(a, qa), (b, qb)| {
            (qa.send_amount, a.len(), a).cmp(&(qb.send_amount, b.len(), b))
        });
        found.truncate(MAX_PATHS_FOUND);
        (found, searched)
    }
}
