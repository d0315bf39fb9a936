//! The exchange: `PlaceOffer` matches against the order book and rests the
//! remainder; `CancelOffer` returns what an offer still holds.

use super::exec::{Exec, Rejection, overflow, reject};
use crate::block::Event;
use crate::limits::MAX_OFFERS_CROSSED;
use crate::reject::RejectCode;
use crate::state::*;
use crate::tx::{Price, Symbol};

/// Whether an offer at `taker` (units of B per unit of A, selling A) crosses
/// a resting offer at `maker` (units of A per unit of B, selling B): the
/// taker asks no more B per A than the maker gives, `taker <= 1 / maker`.
fn crosses(taker: &Price, maker: &Price) -> bool {
    u128::from(taker.n) * u128::from(maker.n) <= u128::from(taker.d) * u128::from(maker.d)
}

impl Exec<'_, '_> {
    /// Places an offer selling `amount` of `sell` for `buy`; see ADR 004.
    ///
    /// The new (taker) offer walks the opposite book in match order and
    /// trades at each resting (maker) offer's price, rounded in the maker's
    /// favour: the taker gets `got` units, as many as its remainder pays for
    /// and the maker holds, and pays `ceil(got * maker price)`. A trade that
    /// would give the taker nothing ends the walk (no later offer is cheaper);
    /// one whose rounding would leave the taker below its own price is
    /// skipped. Every offer visited counts toward [`MAX_OFFERS_CROSSED`];
    /// what is left rests in the book.
    pub(super) fn place_offer(
        &mut self,
        sell: &Symbol,
        buy: &Symbol,
        amount: u64,
        price: &Price,
    ) -> Result<(), Rejection> {
        self.token(sell)?;
        self.token(buy)?;
        let price = price.reduced();
        let id = match self.ov.get(&StateKey::NextOfferId) {
            Some(StateValue::NextOfferId(n)) => *n,
            _ => 1,
        };
        let next = id.checked_add(1).ok_or_else(overflow)?;
        self.ov
            .put(StateKey::NextOfferId, StateValue::NextOfferId(next));
        let sender = self.payer();
        let mut parcel = self.debit(&sender, sell, amount)?;
        self.events.push(Event::OfferPlaced {
            offer: id,
            owner: sender,
            sell: *sell,
            buy: *buy,
            amount,
            price,
        });
        // The resting offers this one crosses, best first, at most the bound.
        let candidates: Vec<(Price, u64)> = self
            .ov
            .range(
                &StateKey::BookEntry(*buy, *sell, Price::MIN, 0),
                &StateKey::BookEntry(*buy, *sell, Price::MAX, u64::MAX),
            )
            .filter_map(|(k, _)| match k {
                StateKey::BookEntry(_, _, q, maker) => Some((*q, *maker)),
                _ => None,
            })
            .take_while(|(q, _)| crosses(&price, q))
            .take(MAX_OFFERS_CROSSED)
            .collect();
        for (q, maker_id) in candidates {
            if parcel.amount == 0 {
                break;
            }
            let mut maker = self.offer(maker_id)?;
            // Any account of the same key is the same trader.
            if maker.owner.address == sender.address {
                return reject(RejectCode::SelfCross);
            }
            // Units of `buy` the taker's remainder pays for at the maker's price.
            let affordable = u128::from(parcel.amount) * u128::from(q.d) / u128::from(q.n);
            let got = u64::try_from(affordable.min(u128::from(maker.remaining)))
                .map_err(|_| overflow())?;
            if got == 0 {
                break;
            }
            let paid = u64::try_from((u128::from(got) * u128::from(q.n)).div_ceil(u128::from(q.d)))
                .map_err(|_| overflow())?;
            if paid > parcel.amount {
                return Err(overflow());
            }
            // The taker never gets less than its own price.
            if u128::from(got) * u128::from(price.d) < u128::from(paid) * u128::from(price.n) {
                continue;
            }
            let to_maker = parcel.split_front(paid);
            self.credit(&maker.owner, sell, to_maker)?;
            let to_taker = self.unlock(&mut maker.lots, buy, got)?;
            self.credit(&sender, buy, to_taker)?;
            maker.remaining -= got;
            self.update_token(buy, |t| {
                t.locked_in_offers = t.locked_in_offers.checked_sub(got)?;
                Some(())
            })?;
            self.events.push(Event::Trade {
                taker_offer: id,
                maker_offer: maker_id,
                taker: sender,
                maker: maker.owner,
                pay_token: *sell,
                paid,
                get_token: *buy,
                got,
                maker_remaining: maker.remaining,
            });
            self.store_maker(maker);
        }
        if parcel.amount > 0 {
            let remaining = parcel.amount;
            let mut lots = Lots::default();
            Self::lock(&mut lots, &parcel)?;
            self.update_token(sell, |t| {
                t.locked_in_offers = t.locked_in_offers.checked_add(remaining)?;
                Some(())
            })?;
            let record = OfferRecord {
                id,
                owner: sender,
                sell: *sell,
                buy: *buy,
                price,
                amount,
                remaining,
                tx: self.hash,
                height: self.height,
                lots,
            };
            self.ov.put(
                StateKey::BookEntry(*sell, *buy, price, id),
                StateValue::BookEntry,
            );
            self.ov.put(StateKey::Offer(id), StateValue::Offer(record));
        }
        Ok(())
    }

    pub(super) fn cancel_offer(&mut self, id: u64) -> Result<(), Rejection> {
        let mut offer = self.offer(id)?;
        if offer.owner.address != self.sender {
            return reject(RejectCode::NotOfferOwner);
        }
        let parcel = self.unlock(&mut offer.lots, &offer.sell, offer.remaining)?;
        self.credit(&offer.owner, &offer.sell, parcel)?;
        self.update_token(&offer.sell, |t| {
            t.locked_in_offers = t.locked_in_offers.checked_sub(offer.remaining)?;
            Some(())
        })?;
        self.ov.delete(StateKey::BookEntry(
            offer.sell,
            offer.buy,
            offer.price,
            offer.id,
        ));
        self.ov.delete(StateKey::Offer(id));
        self.events.push(Event::OfferCancelled {
            offer: id,
            owner: offer.owner,
            token: offer.sell,
            returned: offer.remaining,
        });
        Ok(())
    }

    /// Writes back a resting offer that traded: it leaves the book once
    /// nothing is left of it.
    pub(super) fn store_maker(&mut self, maker: OfferRecord) {
        if maker.remaining == 0 {
            self.ov.delete(StateKey::BookEntry(
                maker.sell,
                maker.buy,
                maker.price,
                maker.id,
            ));
            self.ov.delete(StateKey::Offer(maker.id));
        } else {
            self.ov
                .put(StateKey::Offer(maker.id), StateValue::Offer(maker));
        }
    }

    pub(super) fn offer(&self, id: u64) -> Result<OfferRecord, Rejection> {
        match self.ov.get(&StateKey::Offer(id)) {
            Some(StateValue::Offer(o)) => Ok(o.clone()),
            _ => reject(RejectCode::UnknownOffer),
        }
    }
}
