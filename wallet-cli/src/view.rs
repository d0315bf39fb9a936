//! The node's answers as the CLI prints them with `--json`, with the few
//! fields the wallet adds of its own (see `docs/cli.md`). Each view
//! flattens the `merit-api` answer, so its fields come first, unchanged,
//! and the wallet's follow.

use merit_api::{Event, Offer, TxInfo};
use serde::Serialize;

/// A transaction, as every submitting command, `tx HASH` and `tx send`
/// print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxView {
    #[serde(flatten)]
    pub tx: TxInfo,
    /// The id of the offer a `PlaceOffer` placed (from its `OfferPlaced`
    /// event). Absent for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<u64>,
    /// The id of the escrow an `EscrowCreate` opened: the transaction's
    /// hash. Absent for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escrow_id: Option<String>,
    /// The id of the proposal a `Propose` made (from its `Proposed`
    /// event). Absent for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<u64>,
    /// The sub-account an `OpenSubAccount` opened, `ADDRESS/N` (from its
    /// `SubAccountOpened` event). Absent for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_account: Option<String>,
    /// Why the node refused the transaction at submission, when it said
    /// more than the code: which field is over which bound ("memo is 257
    /// bytes, at most 256"). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<TxInfo> for TxView {
    /// The view of `tx`, with the offer, escrow and proposal ids its
    /// events name.
    fn from(tx: TxInfo) -> Self {
        let mut offer_id = None;
        let mut escrow_id = None;
        let mut proposal_id = None;
        let mut sub_account = None;
        for e in &tx.events {
            match e {
                Event::OfferPlaced { offer, .. } => offer_id = Some(*offer),
                Event::EscrowCreated { escrow, .. } => escrow_id = Some(escrow.clone()),
                Event::Proposed { proposal, .. } => proposal_id = Some(*proposal),
                Event::SubAccountOpened { account, .. } => sub_account = Some(account.clone()),
                _ => {}
            }
        }
        TxView {
            tx,
            offer_id,
            escrow_id,
            proposal_id,
            sub_account,
            reason: None,
        }
    }
}

/// An open offer, as `balance`, `offer list` and `book` print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfferView {
    #[serde(flatten)]
    pub offer: Offer,
    /// The price in token units (`buy` per one `sell`), rounded to
    /// [`crate::price::DISPLAY_PRICE_DECIMALS`] places; absent when the
    /// tokens' decimals are not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_api::TxStatus;
    use serde_json::json;

    #[test]
    fn the_wallet_fields_follow_the_node_fields() {
        let tx: TxInfo = serde_json::from_value(json!({
            "hash": "ab", "status": "committed", "height": 43, "index": 0,
            "kind": "PlaceOffer", "sender": "mrt1x", "code": null, "message": null,
            "original": null, "events": [{"type": "OfferPlaced", "offer": 7,
            "owner": "mrt1x", "sell": "BEAN", "buy": "BOOK", "amount": "1.00",
            "price": "1/2"}]}))
        .unwrap();
        let view = TxView::from(tx);
        assert_eq!((view.offer_id, view.escrow_id.as_deref()), (Some(7), None));
        let text = serde_json::to_string(&view).unwrap();
        assert!(
            text.starts_with(r#"{"hash":"ab","status":"committed","height":43,"#),
            "{text}"
        );
        assert!(text.ends_with(r#""price":"1/2"}],"offer_id":7}"#), "{text}");

        let opened: TxInfo = serde_json::from_value(json!({
            "hash": "ef", "status": "committed", "height": 44, "index": 0,
            "kind": "OpenSubAccount", "sender": "mrt1x", "sub": 0, "events": [{
            "type": "SubAccountOpened", "account": "mrt1x/2", "label": "Kiosk"}]}))
        .unwrap();
        let view = TxView::from(opened);
        assert_eq!(view.sub_account.as_deref(), Some("mrt1x/2"));
        let text = serde_json::to_string(&view).unwrap();
        assert!(text.ends_with(r#""sub_account":"mrt1x/2"}"#), "{text}");

        let pending = TxView::from(TxInfo::new("cd", TxStatus::Pending));
        let text = serde_json::to_string(&pending).unwrap();
        assert!(
            !text.contains("offer_id") && !text.contains("escrow_id"),
            "{text}"
        );
    }
}
