//! The events of a transaction's receipt, as `merit_getTransaction` and the
//! `account` subscription carry them.

use serde::{Deserialize, Serialize};

/// One event, tagged with `"type"`: its name. Amounts are decimal strings
/// in units of the token the event names; addresses are `mrt1…`, hashes 64
/// hex digits, prices `"n/d"` of base units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// A merchant created `token`.
    TokenCreated { token: String, issuer: String },
    /// The issuer minted `amount` of `token` for `to`.
    Minted {
        token: String,
        to: String,
        amount: String,
    },
    /// `amount` of `token` moved (also one per leg of a payment).
    Transferred {
        token: String,
        from: String,
        to: String,
        amount: String,
    },
    /// `payer` paid order `order_id`, `total` over all legs.
    Paid {
        token: String,
        payer: String,
        order_id: String,
        total: String,
    },
    /// A receiver of `payment` returned `amount` to its payer.
    Refunded {
        token: String,
        payment: String,
        from: String,
        to: String,
        amount: String,
    },
    /// `from` burnt `amount` of `token`.
    Redeemed {
        token: String,
        from: String,
        amount: String,
    },
    /// Offer `offer` was placed and `amount` of `sell` locked in it. Its
    /// trades follow.
    OfferPlaced {
        offer: u64,
        owner: String,
        sell: String,
        buy: String,
        amount: String,
        price: String,
    },
    /// The taker's new offer crossed a resting (maker) offer: the taker
    /// paid `paid` of `pay_token` and got `got` of `get_token`;
    /// `maker_remaining` is what the maker offer still holds, in
    /// `get_token`.
    Trade {
        taker_offer: u64,
        maker_offer: u64,
        taker: String,
        maker: String,
        pay_token: String,
        paid: String,
        get_token: String,
        got: String,
        maker_remaining: String,
    },
    /// The owner cancelled offer `offer` and got `returned` of `token` back.
    OfferCancelled {
        offer: u64,
        owner: String,
        token: String,
        returned: String,
    },
    /// `payer` locked `amount` for `payee` in escrow `escrow`.
    EscrowCreated {
        escrow: String,
        token: String,
        payer: String,
        payee: String,
        amount: String,
        deadline_ms: u64,
    },
    /// The payer paid the escrow to the payee.
    EscrowReleased {
        escrow: String,
        token: String,
        payer: String,
        payee: String,
        amount: String,
    },
    /// The escrow went back to the payer.
    EscrowRefunded {
        escrow: String,
        token: String,
        payer: String,
        payee: String,
        amount: String,
    },
    /// A merchant proposed a change to the alliance (`action` is its name).
    Proposed {
        proposal: u64,
        proposer: String,
        action: String,
        voting_ends_height: u64,
    },
    /// A merchant voted on a proposal.
    Voted {
        proposal: u64,
        voter: String,
        approve: bool,
    },
    /// The vote brought the approvals to a quorum: in force from
    /// `activation_height`.
    ProposalPassed {
        proposal: u64,
        activation_height: u64,
    },
    /// More than f of the validators voted no.
    ProposalRejected { proposal: u64 },
    /// A quorum approved it, but it could no longer be carried out
    /// (`code` says why).
    ProposalFailed { proposal: u64, code: String },
    /// A block event: a lot of `token` expired as the block began, and its
    /// points left their holder for good. They were `owner`'s, or locked in
    /// `offer` (owned by `owner`) or in `escrow` (paid by `owner`).
    LotExpired {
        token: String,
        owner: String,
        offer: Option<u64>,
        escrow: Option<String>,
        amount: String,
        expires_at_ms: u64,
        /// The part of `amount` the issuer had frozen.
        #[serde(default)]
        frozen: String,
    },
    /// A block event: the last of an escrow's points expired and it closed
    /// as `expired`.
    EscrowExpired {
        escrow: String,
        token: String,
        payer: String,
        payee: String,
    },
    /// The issuer froze `amount` of `account`'s points (`ADDRESS/N` for a
    /// sub-account).
    Frozen {
        token: String,
        account: String,
        amount: String,
    },
    /// The issuer unfroze `amount` of `account`'s points.
    Unfrozen {
        token: String,
        account: String,
        amount: String,
    },
    /// The issuer took `amount` back from `from` and burnt it; `frozen` of
    /// it had been frozen.
    ClawedBack {
        token: String,
        from: String,
        amount: String,
        frozen: String,
    },
    /// A path payment crossed resting offer `maker_offer` on one hop: the
    /// payer paid `paid` of `pay_token` and got `got` of `get_token`;
    /// `maker_remaining` is what the offer still holds, in `get_token`.
    PathTrade {
        payer: String,
        maker: String,
        maker_offer: u64,
        pay_token: String,
        paid: String,
        get_token: String,
        got: String,
        maker_remaining: String,
    },
    /// A path payment delivered `received` of `dest_token` to `to`; the
    /// payer spent `sent` of `send_token`.
    PathPaid {
        payer: String,
        to: String,
        send_token: String,
        sent: String,
        dest_token: String,
        received: String,
    },
    /// The sender opened sub-account `account` (`ADDRESS/N`).
    SubAccountOpened { account: String, label: String },
}

impl Event {
    /// The event's name: its `"type"` on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Event::TokenCreated { .. } => "TokenCreated",
            Event::Minted { .. } => "Minted",
            Event::Transferred { .. } => "Transferred",
            Event::Paid { .. } => "Paid",
            Event::Refunded { .. } => "Refunded",
            Event::Redeemed { .. } => "Redeemed",
            Event::OfferPlaced { .. } => "OfferPlaced",
            Event::Trade { .. } => "Trade",
            Event::OfferCancelled { .. } => "OfferCancelled",
            Event::EscrowCreated { .. } => "EscrowCreated",
            Event::EscrowReleased { .. } => "EscrowReleased",
            Event::EscrowRefunded { .. } => "EscrowRefunded",
            Event::Proposed { .. } => "Proposed",
            Event::Voted { .. } => "Voted",
            Event::ProposalPassed { .. } => "ProposalPassed",
            Event::ProposalRejected { .. } => "ProposalRejected",
            Event::ProposalFailed { .. } => "ProposalFailed",
            Event::LotExpired { .. } => "LotExpired",
            Event::EscrowExpired { .. } => "EscrowExpired",
            Event::Frozen { .. } => "Frozen",
            Event::Unfrozen { .. } => "Unfrozen",
            Event::ClawedBack { .. } => "ClawedBack",
            Event::PathTrade { .. } => "PathTrade",
            Event::PathPaid { .. } => "PathPaid",
            Event::SubAccountOpened { .. } => "SubAccountOpened",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_tagged_with_their_name() {
        let e = Event::OfferPlaced {
            offer: 3,
            owner: "mrt1x".into(),
            sell: "BEAN".into(),
            buy: "BOOK".into(),
            amount: "10.00".into(),
            price: "1/2".into(),
        };
        let wire = serde_json::to_value(&e).unwrap();
        assert_eq!(
            wire,
            json!({"type": "OfferPlaced", "offer": 3, "owner": "mrt1x", "sell": "BEAN",
                   "buy": "BOOK", "amount": "10.00", "price": "1/2"})
        );
        assert_eq!(wire["type"], e.name());
        assert_eq!(serde_json::from_value::<Event>(wire).unwrap(), e);
    }

    #[test]
    fn an_unknown_event_is_refused() {
        let wire = json!({"type": "Teleported", "token": "BEAN"});
        assert!(serde_json::from_value::<Event>(wire).is_err());
    }
}
