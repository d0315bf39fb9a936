//! The transactions, events and receipts of the test vectors, built from
//! the real types, and their JSON form (`sdk/test/vectors.json`).
//!
//! A new kind of transaction is one line in [`kinds`] and one arm in
//! [`kind_json`]; the match there has no catch-all arm, so a kind left out
//! does not compile. Events are the same in [`events`] and [`event_json`].

use merit_chain::block::{Event, Receipt, TxOutcome};
use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::governance::GovAction;
use merit_chain::merchant::{MerchantRecord, P2pAddressText, SignedMerchant, ValidatorRecord};
use merit_chain::state::{Holding, LotHolder, TokenInfo};
use merit_chain::tx::{
    AccountRef, ChainId, Memo, OrderId, PathTokens, PayLeg, PayLegs, Price, SubAccountLabel,
    TokenName, TxBody,
};
use merit_chain::{Address, Hash32, Keypair, RejectCode, Signature, Symbol, TxKind, crypto};

/// The chain every vector transaction is signed for.
pub const VECTOR_CHAIN: &str = "merit-vectors";
/// The label of the vectors' sender key (`Keypair::insecure_from_label`).
pub const SENDER_LABEL: &str = "merit-vectors/sender";
/// The labels of the keys the vectors name besides the sender; the last is
/// a devnet shopper's, so the page shows a key a devnet really funds.
pub const OTHER_LABELS: [&str; 5] = [
    "merit-vectors/receiver-1",
    "merit-vectors/receiver-2",
    "merit-vectors/validator",
    "merit-vectors/p2p",
    "merit-devnet/shopper/alice",
];

fn key(label: &str) -> Keypair {
    Keypair::insecure_from_label(label)
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn hash_of(label: &str) -> Hash32 {
    crypto::sha256(label.as_bytes())
}

/// One transaction vector: its name on the page, what it shows, the kind.
pub struct KindVector {
    pub name: &'static str,
    pub what: &'static str,
    /// The envelope's paying sub-account.
    pub sub: u32,
    pub kind: TxKind,
}

/// A signed merchant record with a validator, as `AddMerchant` and
/// `RotateValidatorKey` carry it.
fn merchant(name: &str) -> Box<SignedMerchant> {
    let account = key(SENDER_LABEL);
    let validator = key("merit-vectors/validator");
    let p2p = key("merit-vectors/p2p");
    Box::new(
        MerchantRecord {
            name: BoundedString::new(name).unwrap(),
            account: account.public(),
            validator: Some(ValidatorRecord {
                key: validator.public(),
                p2p_key: p2p.public(),
                p2p_address: P2pAddressText::new("/ip4/127.0.0.1/tcp/26601").unwrap(),
            }),
        }
        .sign(&account, Some(&validator), Some(&p2p)),
    )
}

fn legs(items: &[(Address, &str, u64)]) -> PayLegs {
    BoundedVec::new(
        items
            .iter()
            .map(|(to, token, amount)| PayLeg {
                to: (*to).into(),
                token: sym(token),
                amount: *amount,
            })
            .collect(),
    )
    .unwrap()
}

/// Every kind of transaction, some in more than one shape. Each passes the
/// stateless checks.
pub fn kinds() -> Vec<KindVector> {
    let r1 = key("merit-vectors/receiver-1").public();
    let r2 = key("merit-vectors/receiver-2").public();
    let memo = |s: &str| Some(Memo::new(s).unwrap());
    let order = |s: &str| OrderId::new(s).unwrap();
    let v = |name, what, kind| KindVector {
        name,
        what,
        sub: 0,
        kind,
    };
    vec![
        v(
            "create-token",
            "`CreateToken`: points that expire after 30 days, freezable, without clawback",
            TxKind::CreateToken {
                symbol: sym("FLY"),
                name: TokenName::new("Frequent flyer").unwrap(),
                decimals: 2,
                max_supply: 100_000_000,
                expiry_days: Some(30),
                freezable: true,
                clawback: false,
            },
        ),
        v(
            "mint",
            "`Mint`: the issuer earns 25.00 FLY for a shopper",
            TxKind::Mint {
                token: sym("FLY"),
                to: r1.into(),
                amount: 2_500,
            },
        ),
        v(
            "transfer",
            "`Transfer` with a memo of non-ASCII text (its length is in bytes)",
            TxKind::Transfer {
                token: sym("BEAN"),
                to: r1.into(),
                amount: 1_250,
                memo: memo("café ☕"),
            },
        ),
        KindVector {
            name: "transfer-between-sub-accounts",
            what: "`Transfer` paid by the sender's sub-account 2 (the envelope's `sub`) to \
                   sub-account 3 of another address",
            sub: 2,
            kind: TxKind::Transfer {
                token: sym("BEAN"),
                to: AccountRef::new(r1, 3),
                amount: 700,
                memo: None,
            },
        },
        v(
            "transfer-no-memo",
            "`Transfer` without a memo",
            TxKind::Transfer {
                token: sym("BEAN"),
                to: r2.into(),
                amount: 1,
                memo: None,
            },
        ),
        v(
            "pay-split",
            "`Pay` split among three legs in one token",
            TxKind::Pay {
                order_id: order("A-1001"),
                legs: legs(&[(r1, "BEAN", 4_500), (r2, "BEAN", 400), (r1, "BEAN", 100)]),
                memo: None,
            },
        ),
        v(
            "pay-combined",
            "`Pay` combined: legs in two tokens, with a memo",
            TxKind::Pay {
                order_id: order("A-1002"),
                legs: legs(&[(r1, "BEAN", 3_000), (r1, "MILES", 2_000), (r2, "BEAN", 500)]),
                memo: memo("table 4"),
            },
        ),
        v(
            "refund",
            "`Refund` of part of a payment, in one of its tokens",
            TxKind::Refund {
                payment: hash_of("a payment"),
                token: sym("BEAN"),
                amount: 200,
            },
        ),
        v(
            "redeem",
            "`Redeem` with a memo",
            TxKind::Redeem {
                token: sym("BEAN"),
                amount: 10_000,
                memo: memo("free coffee"),
            },
        ),
        v(
            "place-offer",
            "`PlaceOffer`: sell 10.00 BEAN for BOOK at 1/2",
            TxKind::PlaceOffer {
                sell: sym("BEAN"),
                buy: sym("BOOK"),
                amount: 1_000,
                price: Price::new(1, 2),
            },
        ),
        v(
            "cancel-offer",
            "`CancelOffer`",
            TxKind::CancelOffer { offer_id: 7 },
        ),
        v(
            "escrow-create",
            "`EscrowCreate` with an order id",
            TxKind::EscrowCreate {
                token: sym("BEAN"),
                to: r2.into(),
                amount: 2_500,
                deadline_ms: 1_767_312_000_000,
                order_id: Some(order("B-7")),
            },
        ),
        v(
            "escrow-release",
            "`EscrowRelease`",
            TxKind::EscrowRelease {
                id: hash_of("an escrow"),
            },
        ),
        v(
            "escrow-refund",
            "`EscrowRefund`",
            TxKind::EscrowRefund {
                id: hash_of("an escrow"),
            },
        ),
        v(
            "propose-add-merchant",
            "`Propose` `AddMerchant`: a signed merchant record with a validator",
            TxKind::Propose {
                action: GovAction::AddMerchant {
                    merchant: merchant("Vector Books"),
                },
                voting_ends_height: 120,
            },
        ),
        v(
            "propose-remove-merchant",
            "`Propose` `RemoveMerchant`",
            TxKind::Propose {
                action: GovAction::RemoveMerchant { account: r2 },
                voting_ends_height: 120,
            },
        ),
        v(
            "propose-rotate-validator-key",
            "`Propose` `RotateValidatorKey`",
            TxKind::Propose {
                action: GovAction::RotateValidatorKey {
                    merchant: merchant("Vector Books"),
                },
                voting_ends_height: 120,
            },
        ),
        v(
            "propose-reassign-issuer",
            "`Propose` `ReassignIssuer`",
            TxKind::Propose {
                action: GovAction::ReassignIssuer {
                    token: sym("BEAN"),
                    new_issuer: r1,
                },
                voting_ends_height: 120,
            },
        ),
        v(
            "propose-set-consensus-params",
            "`Propose` `SetConsensusParams`",
            TxKind::Propose {
                action: GovAction::SetConsensusParams {
                    timeout_base_ms: 1_000,
                    timeout_max_ms: 30_000,
                    precision_ms: 500,
                    message_delay_ms: 2_000,
                },
                voting_ends_height: 120,
            },
        ),
        v(
            "propose-schedule-upgrade",
            "`Propose` `ScheduleUpgrade`",
            TxKind::Propose {
                action: GovAction::ScheduleUpgrade {
                    protocol_version: 2,
                    height: 5_000,
                },
                voting_ends_height: 120,
            },
        ),
        v(
            "vote",
            "`Vote` to approve",
            TxKind::Vote {
                proposal: 3,
                approve: true,
            },
        ),
        v(
            "freeze",
            "`Freeze` in a sub-account",
            TxKind::Freeze {
                token: sym("BEAN"),
                account: AccountRef {
                    address: r1,
                    sub: 2,
                },
                amount: 300,
            },
        ),
        v(
            "unfreeze",
            "`Unfreeze`",
            TxKind::Unfreeze {
                token: sym("BEAN"),
                account: AccountRef::main(r1),
                amount: 100,
            },
        ),
        v(
            "clawback",
            "`Clawback` with a memo",
            TxKind::Clawback {
                token: sym("BEAN"),
                from: AccountRef::main(r1),
                amount: 200,
                memo: memo("fraud case 12"),
            },
        ),
        v(
            "pay-path",
            "`PayPath`: pay in BEAN, deliver MILES through BOOK",
            TxKind::PayPath {
                send_token: sym("BEAN"),
                send_max: 5_000,
                dest_token: sym("MILES"),
                dest_amount: 1_000,
                to: r2.into(),
                path: PathTokens::new(vec![sym("BOOK")]).unwrap(),
                order_id: Some(order("C-9")),
                memo: None,
            },
        ),
        v(
            "open-sub-account",
            "`OpenSubAccount` with a label of non-ASCII text",
            TxKind::OpenSubAccount {
                label: SubAccountLabel::new("Store 12 · 南京路").unwrap(),
            },
        ),
    ]
}

/// The envelope the vector kinds are signed in: nonce `1000 + i` for the
/// `i`-th vector, valid below height 1,000.
pub fn body(index: usize, sub: u32, kind: TxKind) -> TxBody {
    TxBody {
        chain_id: ChainId::new(VECTOR_CHAIN).unwrap(),
        sender: key(SENDER_LABEL).public(),
        sub,
        nonce: 1_000 + index as u64,
        expires_at_height: 1_000,
        kind,
    }
}

/// Every event, with names for the page.
pub fn events() -> Vec<(&'static str, Event)> {
    let a = key("merit-vectors/receiver-1").public();
    let b = key("merit-vectors/receiver-2").public();
    let t = sym("BEAN");
    let u = sym("BOOK");
    let h = hash_of("an escrow");
    let acct = AccountRef { address: a, sub: 1 };
    vec![
        (
            "token-created",
            Event::TokenCreated {
                token: t,
                issuer: a,
            },
        ),
        (
            "minted",
            Event::Minted {
                token: t,
                to: a.into(),
                amount: 2_500,
            },
        ),
        (
            "transferred",
            Event::Transferred {
                token: t,
                from: a.into(),
                to: b.into(),
                amount: 1_250,
            },
        ),
        (
            "paid",
            Event::Paid {
                token: t,
                payer: a.into(),
                order_id: OrderId::new("A-1001").unwrap(),
                total: 5_000,
            },
        ),
        (
            "refunded",
            Event::Refunded {
                token: t,
                payment: hash_of("a payment"),
                from: b.into(),
                to: a.into(),
                amount: 200,
            },
        ),
        (
            "redeemed",
            Event::Redeemed {
                token: t,
                from: a.into(),
                amount: 10_000,
            },
        ),
        (
            "offer-placed",
            Event::OfferPlaced {
                offer: 7,
                owner: a.into(),
                sell: t,
                buy: u,
                amount: 1_000,
                price: Price::new(1, 2),
            },
        ),
        (
            "trade",
            Event::Trade {
                taker_offer: 8,
                maker_offer: 7,
                taker: b.into(),
                maker: a.into(),
                pay_token: u,
                paid: 200,
                get_token: t,
                got: 400,
                maker_remaining: 600,
            },
        ),
        (
            "offer-cancelled",
            Event::OfferCancelled {
                offer: 7,
                owner: a.into(),
                token: t,
                returned: 600,
            },
        ),
        (
            "escrow-created",
            Event::EscrowCreated {
                escrow: h,
                token: t,
                payer: a.into(),
                payee: b.into(),
                amount: 2_500,
                deadline_ms: 1_767_312_000_000,
            },
        ),
        (
            "escrow-released",
            Event::EscrowReleased {
                escrow: h,
                token: t,
                payer: a.into(),
                payee: b.into(),
                amount: 2_500,
            },
        ),
        (
            "escrow-refunded",
            Event::EscrowRefunded {
                escrow: h,
                token: t,
                payer: a.into(),
                payee: b.into(),
                amount: 2_500,
            },
        ),
        (
            "proposed",
            Event::Proposed {
                proposal: 3,
                proposer: a,
                action: BoundedString::new("RemoveMerchant").unwrap(),
                voting_ends_height: 120,
            },
        ),
        (
            "voted",
            Event::Voted {
                proposal: 3,
                voter: b,
                approve: false,
            },
        ),
        (
            "proposal-passed",
            Event::ProposalPassed {
                proposal: 3,
                activation_height: 130,
            },
        ),
        ("proposal-rejected", Event::ProposalRejected { proposal: 4 }),
        (
            "proposal-failed",
            Event::ProposalFailed {
                proposal: 5,
                code: RejectCode::NoValidatorLeft,
            },
        ),
        (
            "lot-expired-account",
            Event::LotExpired {
                token: sym("MILES"),
                holder: LotHolder::Account(a.into()),
                owner: a.into(),
                amount: 1_000,
                expires_at_ms: 1_830_297_600_000,
                frozen: 100,
            },
        ),
        (
            "lot-expired-offer",
            Event::LotExpired {
                token: sym("MILES"),
                holder: LotHolder::Offer(7),
                owner: a.into(),
                amount: 50,
                expires_at_ms: 1_830_297_600_000,
                frozen: 0,
            },
        ),
        (
            "lot-expired-escrow",
            Event::LotExpired {
                token: sym("MILES"),
                holder: LotHolder::Escrow(h),
                owner: a.into(),
                amount: 25,
                expires_at_ms: 1_830_297_600_000,
                frozen: 0,
            },
        ),
        (
            "escrow-expired",
            Event::EscrowExpired {
                escrow: h,
                token: sym("MILES"),
                payer: a.into(),
                payee: b.into(),
            },
        ),
        (
            "frozen",
            Event::Frozen {
                token: t,
                account: acct,
                amount: 300,
            },
        ),
        (
            "unfrozen",
            Event::Unfrozen {
                token: t,
                account: acct,
                amount: 100,
            },
        ),
        (
            "clawed-back",
            Event::ClawedBack {
                token: t,
                from: acct,
                amount: 200,
                frozen: 150,
            },
        ),
        (
            "path-trade",
            Event::PathTrade {
                payer: a.into(),
                maker: b.into(),
                maker_offer: 9,
                pay_token: t,
                paid: 2_000,
                get_token: u,
                got: 1_000,
                maker_remaining: 0,
            },
        ),
        (
            "path-paid",
            Event::PathPaid {
                payer: a.into(),
                to: AccountRef::new(b, 4),
                send_token: t,
                sent: 2_000,
                dest_token: sym("MILES"),
                received: 1_000,
            },
        ),
        (
            "sub-account-opened",
            Event::SubAccountOpened {
                account: acct,
                label: SubAccountLabel::new("Store 12").unwrap(),
            },
        ),
    ]
}

/// A committed receipt with events, and rejected ones with and without the
/// original payment.
pub fn receipts() -> Vec<(&'static str, Receipt)> {
    let events: Vec<Event> = events().into_iter().map(|(_, e)| e).collect();
    vec![
        (
            "receipt-committed",
            Receipt {
                tx_hash: hash_of("a payment"),
                outcome: TxOutcome::Committed {
                    events: BoundedVec::new(vec![events[2].clone(), events[3].clone()]).unwrap(),
                },
            },
        ),
        (
            "receipt-rejected",
            Receipt {
                tx_hash: hash_of("a transfer"),
                outcome: TxOutcome::Rejected {
                    code: RejectCode::InsufficientBalance,
                    original: None,
                },
            },
        ),
        (
            "receipt-duplicate-order",
            Receipt {
                tx_hash: hash_of("a second payment"),
                outcome: TxOutcome::Rejected {
                    code: RejectCode::DuplicateOrderId,
                    original: Some(hash_of("a payment")),
                },
            },
        ),
    ]
}

/// A JSON value, written in one canonical way: object keys in the order
/// given, `u64` as decimal strings (JSON numbers lose precision past 2^53),
/// smaller integers as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn obj(fields: Vec<(&str, Json)>) -> Json {
        Json::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// An enum value: `{"type": variant, ...fields}`.
    pub fn tagged(variant: &str, fields: Vec<(&str, Json)>) -> Json {
        let mut all = vec![("type", Json::str(variant))];
        all.extend(fields);
        Json::obj(all)
    }

    pub fn str(s: &str) -> Json {
        Json::Str(s.to_string())
    }

    pub fn u64(n: u64) -> Json {
        Json::Str(n.to_string())
    }

    pub fn small(n: impl Into<u64>) -> Json {
        Json::Num(n.into())
    }

    pub fn hex(bytes: &[u8]) -> Json {
        Json::Str(hex::encode(bytes))
    }

    pub fn opt<T>(v: &Option<T>, f: impl FnOnce(&T) -> Json) -> Json {
        v.as_ref().map_or(Json::Null, f)
    }

    /// Written with two-space indents, one value per line; arrays of
    /// scalars on one line.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    /// Written on one line.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, usize::MAX);
        out
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Json::Arr(_) | Json::Obj(_))
    }

    fn write(&self, out: &mut String, indent: usize) {
        let one_line = indent == usize::MAX;
        let pad = |out: &mut String, n: usize| {
            if !one_line {
                out.push('\n');
                out.push_str(&"  ".repeat(n));
            }
        };
        let inner = if one_line { indent } else { indent + 1 };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(&n.to_string()),
            Json::Str(s) => write_str(out, s),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) if items.iter().all(Json::is_scalar) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, usize::MAX);
                }
                out.push(']');
            }
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, inner);
                    item.write(out, inner);
                }
                pad(out, indent);
                out.push(']');
            }
            Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        if one_line {
                            out.push(' ');
                        }
                    }
                    pad(out, inner);
                    write_str(out, k);
                    out.push_str(": ");
                    v.write(out, inner);
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn addr(a: &Address) -> Json {
    Json::Str(a.to_bech32())
}

pub fn hash(h: &Hash32) -> Json {
    Json::Str(h.to_hex())
}

pub fn symbol(s: &Symbol) -> Json {
    Json::str(s.as_str())
}

fn signature(s: &Signature) -> Json {
    Json::hex(&s.0)
}

fn text<const N: usize, F>(s: &BoundedString<N, F>) -> Json {
    Json::str(s.as_str())
}

fn opt_text<const N: usize, F>(s: &Option<BoundedString<N, F>>) -> Json {
    Json::opt(s, |s| text(s))
}

fn account_ref(r: &AccountRef) -> Json {
    Json::obj(vec![
        ("address", addr(&r.address)),
        ("sub", Json::small(r.sub)),
    ])
}

fn price(p: &Price) -> Json {
    Json::obj(vec![("n", Json::u64(p.n)), ("d", Json::u64(p.d))])
}

fn signed_merchant(m: &SignedMerchant) -> Json {
    let r = &m.record;
    let validator = Json::opt(&r.validator, |v| {
        Json::obj(vec![
            ("key", addr(&v.key)),
            ("p2p_key", addr(&v.p2p_key)),
            ("p2p_address", text(&v.p2p_address)),
        ])
    });
    let proof = |s: &Option<Signature>| Json::opt(s, signature);
    Json::obj(vec![
        (
            "record",
            Json::obj(vec![
                ("name", text(&r.name)),
                ("account", addr(&r.account)),
                ("validator", validator),
            ]),
        ),
        (
            "proofs",
            Json::obj(vec![
                ("account", proof(&m.proofs.account)),
                ("validator_key", proof(&m.proofs.validator_key)),
                ("p2p_key", proof(&m.proofs.p2p_key)),
            ]),
        ),
    ])
}

fn gov_action(a: &GovAction) -> Json {
    match a {
        GovAction::AddMerchant { merchant } => {
            Json::tagged("AddMerchant", vec![("merchant", signed_merchant(merchant))])
        }
        GovAction::RemoveMerchant { account } => {
            Json::tagged("RemoveMerchant", vec![("account", addr(account))])
        }
        GovAction::RotateValidatorKey { merchant } => Json::tagged(
            "RotateValidatorKey",
            vec![("merchant", signed_merchant(merchant))],
        ),
        GovAction::ReassignIssuer { token, new_issuer } => Json::tagged(
            "ReassignIssuer",
            vec![("token", symbol(token)), ("new_issuer", addr(new_issuer))],
        ),
        GovAction::SetConsensusParams {
            timeout_base_ms,
            timeout_max_ms,
            precision_ms,
            message_delay_ms,
        } => Json::tagged(
            "SetConsensusParams",
            vec![
                ("timeout_base_ms", Json::u64(*timeout_base_ms)),
                ("timeout_max_ms", Json::u64(*timeout_max_ms)),
                ("precision_ms", Json::u64(*precision_ms)),
                ("message_delay_ms", Json::u64(*message_delay_ms)),
            ],
        ),
        GovAction::ScheduleUpgrade {
            protocol_version,
            height,
        } => Json::tagged(
            "ScheduleUpgrade",
            vec![
                ("protocol_version", Json::small(*protocol_version)),
                ("height", Json::u64(*height)),
            ],
        ),
    }
}

/// The JSON form of a kind: `{"type": name, ...fields}`, fields in
/// declaration order.
pub fn kind_json(kind: &TxKind) -> Json {
    let t = |fields| Json::tagged(kind.name(), fields);
    match kind {
        TxKind::CreateToken {
            symbol: s,
            name,
            decimals,
            max_supply,
            expiry_days,
            freezable,
            clawback,
        } => t(vec![
            ("symbol", symbol(s)),
            ("name", text(name)),
            ("decimals", Json::small(*decimals)),
            ("max_supply", Json::u64(*max_supply)),
            ("expiry_days", Json::opt(expiry_days, |d| Json::small(*d))),
            ("freezable", Json::Bool(*freezable)),
            ("clawback", Json::Bool(*clawback)),
        ]),
        TxKind::Mint { token, to, amount } => t(vec![
            ("token", symbol(token)),
            ("to", account_ref(to)),
            ("amount", Json::u64(*amount)),
        ]),
        TxKind::Transfer {
            token,
            to,
            amount,
            memo,
        } => t(vec![
            ("token", symbol(token)),
            ("to", account_ref(to)),
            ("amount", Json::u64(*amount)),
            ("memo", opt_text(memo)),
        ]),
        TxKind::Pay {
            order_id,
            legs,
            memo,
        } => t(vec![
            ("order_id", text(order_id)),
            (
                "legs",
                Json::Arr(
                    legs.iter()
                        .map(|l| {
                            Json::obj(vec![
                                ("to", account_ref(&l.to)),
                                ("token", symbol(&l.token)),
                                ("amount", Json::u64(l.amount)),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("memo", opt_text(memo)),
        ]),
        TxKind::Refund {
            payment,
            token,
            amount,
        } => t(vec![
            ("payment", hash(payment)),
            ("token", symbol(token)),
            ("amount", Json::u64(*amount)),
        ]),
        TxKind::Redeem {
            token,
            amount,
            memo,
        } => t(vec![
            ("token", symbol(token)),
            ("amount", Json::u64(*amount)),
            ("memo", opt_text(memo)),
        ]),
        TxKind::PlaceOffer {
            sell,
            buy,
            amount,
            price: p,
        } => t(vec![
            ("sell", symbol(sell)),
            ("buy", symbol(buy)),
            ("amount", Json::u64(*amount)),
            ("price", price(p)),
        ]),
        TxKind::CancelOffer { offer_id } => t(vec![("offer_id", Json::u64(*offer_id))]),
        TxKind::EscrowCreate {
            token,
            to,
            amount,
            deadline_ms,
            order_id,
        } => t(vec![
            ("token", symbol(token)),
            ("to", account_ref(to)),
            ("amount", Json::u64(*amount)),
            ("deadline_ms", Json::u64(*deadline_ms)),
            ("order_id", opt_text(order_id)),
        ]),
        TxKind::EscrowRelease { id } | TxKind::EscrowRefund { id } => t(vec![("id", hash(id))]),
        TxKind::Propose {
            action,
            voting_ends_height,
        } => t(vec![
            ("action", gov_action(action)),
            ("voting_ends_height", Json::u64(*voting_ends_height)),
        ]),
        TxKind::Vote { proposal, approve } => t(vec![
            ("proposal", Json::u64(*proposal)),
            ("approve", Json::Bool(*approve)),
        ]),
        TxKind::Freeze {
            token,
            account,
            amount,
        }
        | TxKind::Unfreeze {
            token,
            account,
            amount,
        } => t(vec![
            ("token", symbol(token)),
            ("account", account_ref(account)),
            ("amount", Json::u64(*amount)),
        ]),
        TxKind::Clawback {
            token,
            from,
            amount,
            memo,
        } => t(vec![
            ("token", symbol(token)),
            ("from", account_ref(from)),
            ("amount", Json::u64(*amount)),
            ("memo", opt_text(memo)),
        ]),
        TxKind::PayPath {
            send_token,
            send_max,
            dest_token,
            dest_amount,
            to,
            path,
            order_id,
            memo,
        } => t(vec![
            ("send_token", symbol(send_token)),
            ("send_max", Json::u64(*send_max)),
            ("dest_token", symbol(dest_token)),
            ("dest_amount", Json::u64(*dest_amount)),
            ("to", account_ref(to)),
            ("path", Json::Arr(path.iter().map(symbol).collect())),
            ("order_id", opt_text(order_id)),
            ("memo", opt_text(memo)),
        ]),
        TxKind::OpenSubAccount { label } => t(vec![("label", text(label))]),
    }
}

/// The JSON form of a transaction body.
pub fn body_json(body: &TxBody) -> Json {
    Json::obj(vec![
        ("chain_id", text(&body.chain_id)),
        ("sender", addr(&body.sender)),
        ("sub", Json::small(body.sub)),
        ("nonce", Json::u64(body.nonce)),
        ("expires_at_height", Json::u64(body.expires_at_height)),
        ("kind", kind_json(&body.kind)),
    ])
}

fn lot_holder(h: &LotHolder) -> Json {
    match h {
        LotHolder::Account(a) => Json::tagged("Account", vec![("account", account_ref(a))]),
        LotHolder::Offer(id) => Json::tagged("Offer", vec![("offer", Json::u64(*id))]),
        LotHolder::Escrow(id) => Json::tagged("Escrow", vec![("escrow", hash(id))]),
    }
}

/// The JSON form of an event: `{"type": variant, ...fields}`.
pub fn event_json(event: &Event) -> Json {
    let u = |n: &u64| Json::u64(*n);
    let (name, fields): (&str, Vec<(&str, Json)>) = match event {
        Event::TokenCreated { token, issuer } => (
            "TokenCreated",
            vec![("token", symbol(token)), ("issuer", addr(issuer))],
        ),
        Event::Minted { token, to, amount } => (
            "Minted",
            vec![
                ("token", symbol(token)),
                ("to", account_ref(to)),
                ("amount", u(amount)),
            ],
        ),
        Event::Transferred {
            token,
            from,
            to,
            amount,
        } => (
            "Transferred",
            vec![
                ("token", symbol(token)),
                ("from", account_ref(from)),
                ("to", account_ref(to)),
                ("amount", u(amount)),
            ],
        ),
        Event::Paid {
            token,
            payer,
            order_id,
            total,
        } => (
            "Paid",
            vec![
                ("token", symbol(token)),
                ("payer", account_ref(payer)),
                ("order_id", text(order_id)),
                ("total", u(total)),
            ],
        ),
        Event::Refunded {
            token,
            payment,
            from,
            to,
            amount,
        } => (
            "Refunded",
            vec![
                ("token", symbol(token)),
                ("payment", hash(payment)),
                ("from", account_ref(from)),
                ("to", account_ref(to)),
                ("amount", u(amount)),
            ],
        ),
        Event::Redeemed {
            token,
            from,
            amount,
        } => (
            "Redeemed",
            vec![
                ("token", symbol(token)),
                ("from", account_ref(from)),
                ("amount", u(amount)),
            ],
        ),
        Event::OfferPlaced {
            offer,
            owner,
            sell,
            buy,
            amount,
            price: p,
        } => (
            "OfferPlaced",
            vec![
                ("offer", u(offer)),
                ("owner", account_ref(owner)),
                ("sell", symbol(sell)),
                ("buy", symbol(buy)),
                ("amount", u(amount)),
                ("price", price(p)),
            ],
        ),
        Event::Trade {
            taker_offer,
            maker_offer,
            taker,
            maker,
            pay_token,
            paid,
            get_token,
            got,
            maker_remaining,
        } => (
            "Trade",
            vec![
                ("taker_offer", u(taker_offer)),
                ("maker_offer", u(maker_offer)),
                ("taker", account_ref(taker)),
                ("maker", account_ref(maker)),
                ("pay_token", symbol(pay_token)),
                ("paid", u(paid)),
                ("get_token", symbol(get_token)),
                ("got", u(got)),
                ("maker_remaining", u(maker_remaining)),
            ],
        ),
        Event::OfferCancelled {
            offer,
            owner,
            token,
            returned,
        } => (
            "OfferCancelled",
            vec![
                ("offer", u(offer)),
                ("owner", account_ref(owner)),
                ("token", symbol(token)),
                ("returned", u(returned)),
            ],
        ),
        Event::EscrowCreated {
            escrow,
            token,
            payer,
            payee,
            amount,
            deadline_ms,
        } => (
            "EscrowCreated",
            vec![
                ("escrow", hash(escrow)),
                ("token", symbol(token)),
                ("payer", account_ref(payer)),
                ("payee", account_ref(payee)),
                ("amount", u(amount)),
                ("deadline_ms", u(deadline_ms)),
            ],
        ),
        Event::EscrowReleased {
            escrow,
            token,
            payer,
            payee,
            amount,
        }
        | Event::EscrowRefunded {
            escrow,
            token,
            payer,
            payee,
            amount,
        } => (
            if matches!(event, Event::EscrowReleased { .. }) {
                "EscrowReleased"
            } else {
                "EscrowRefunded"
            },
            vec![
                ("escrow", hash(escrow)),
                ("token", symbol(token)),
                ("payer", account_ref(payer)),
                ("payee", account_ref(payee)),
                ("amount", u(amount)),
            ],
        ),
        Event::Proposed {
            proposal,
            proposer,
            action,
            voting_ends_height,
        } => (
            "Proposed",
            vec![
                ("proposal", u(proposal)),
                ("proposer", addr(proposer)),
                ("action", text(action)),
                ("voting_ends_height", u(voting_ends_height)),
            ],
        ),
        Event::Voted {
            proposal,
            voter,
            approve,
        } => (
            "Voted",
            vec![
                ("proposal", u(proposal)),
                ("voter", addr(voter)),
                ("approve", Json::Bool(*approve)),
            ],
        ),
        Event::ProposalPassed {
            proposal,
            activation_height,
        } => (
            "ProposalPassed",
            vec![
                ("proposal", u(proposal)),
                ("activation_height", u(activation_height)),
            ],
        ),
        Event::ProposalRejected { proposal } => {
            ("ProposalRejected", vec![("proposal", u(proposal))])
        }
        Event::ProposalFailed { proposal, code } => (
            "ProposalFailed",
            vec![("proposal", u(proposal)), ("code", Json::str(code.name()))],
        ),
        Event::LotExpired {
            token,
            holder,
            owner,
            amount,
            expires_at_ms,
            frozen,
        } => (
            "LotExpired",
            vec![
                ("token", symbol(token)),
                ("holder", lot_holder(holder)),
                ("owner", account_ref(owner)),
                ("amount", u(amount)),
                ("expires_at_ms", u(expires_at_ms)),
                ("frozen", u(frozen)),
            ],
        ),
        Event::EscrowExpired {
            escrow,
            token,
            payer,
            payee,
        } => (
            "EscrowExpired",
            vec![
                ("escrow", hash(escrow)),
                ("token", symbol(token)),
                ("payer", account_ref(payer)),
                ("payee", account_ref(payee)),
            ],
        ),
        Event::Frozen {
            token,
            account,
            amount,
        }
        | Event::Unfrozen {
            token,
            account,
            amount,
        } => (
            if matches!(event, Event::Frozen { .. }) {
                "Frozen"
            } else {
                "Unfrozen"
            },
            vec![
                ("token", symbol(token)),
                ("account", account_ref(account)),
                ("amount", u(amount)),
            ],
        ),
        Event::ClawedBack {
            token,
            from,
            amount,
            frozen,
        } => (
            "ClawedBack",
            vec![
                ("token", symbol(token)),
                ("from", account_ref(from)),
                ("amount", u(amount)),
                ("frozen", u(frozen)),
            ],
        ),
        Event::PathTrade {
            payer,
            maker,
            maker_offer,
            pay_token,
            paid,
            get_token,
            got,
            maker_remaining,
        } => (
            "PathTrade",
            vec![
                ("payer", account_ref(payer)),
                ("maker", account_ref(maker)),
                ("maker_offer", u(maker_offer)),
                ("pay_token", symbol(pay_token)),
                ("paid", u(paid)),
                ("get_token", symbol(get_token)),
                ("got", u(got)),
                ("maker_remaining", u(maker_remaining)),
            ],
        ),
        Event::PathPaid {
            payer,
            to,
            send_token,
            sent,
            dest_token,
            received,
        } => (
            "PathPaid",
            vec![
                ("payer", account_ref(payer)),
                ("to", account_ref(to)),
                ("send_token", symbol(send_token)),
                ("sent", u(sent)),
                ("dest_token", symbol(dest_token)),
                ("received", u(received)),
            ],
        ),
        Event::SubAccountOpened { account, label } => (
            "SubAccountOpened",
            vec![("account", account_ref(account)), ("label", text(label))],
        ),
    };
    Json::tagged(name, fields)
}

/// The JSON form of a receipt.
pub fn receipt_json(r: &Receipt) -> Json {
    let outcome = match &r.outcome {
        TxOutcome::Committed { events } => Json::tagged(
            "Committed",
            vec![("events", Json::Arr(events.iter().map(event_json).collect()))],
        ),
        TxOutcome::Rejected { code, original } => Json::tagged(
            "Rejected",
            vec![
                ("code", Json::str(code.name())),
                ("original", Json::opt(original, hash)),
            ],
        ),
    };
    Json::obj(vec![("tx_hash", hash(&r.tx_hash)), ("outcome", outcome)])
}

/// The JSON form of a holding, as a verified proof shows it.
pub fn holding_json(token: &Symbol, h: &Holding) -> Json {
    Json::obj(vec![
        ("token", symbol(token)),
        ("balance", Json::u64(h.balance)),
        ("frozen", Json::u64(h.frozen)),
        (
            "lots",
            Json::Arr(
                h.lots
                    .as_slice()
                    .iter()
                    .map(|l| {
                        Json::obj(vec![
                            ("expires_at_ms", Json::u64(l.expires_at_ms)),
                            ("amount", Json::u64(l.amount)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

/// The JSON form of a token's entry.
pub fn token_json(t: &TokenInfo) -> Json {
    Json::obj(vec![
        ("symbol", symbol(&t.symbol)),
        ("name", text(&t.name)),
        ("decimals", Json::small(t.decimals)),
        ("max_supply", Json::u64(t.max_supply)),
        (
            "expiry_days",
            Json::opt(&t.expiry_days, |d| Json::small(*d)),
        ),
        ("freezable", Json::Bool(t.freezable)),
        ("clawback", Json::Bool(t.clawback)),
        ("issuer", addr(&t.issuer)),
        ("created_height", Json::u64(t.created_height)),
        ("minted", Json::u64(t.minted)),
        ("redeemed", Json::u64(t.redeemed)),
        ("expired", Json::u64(t.expired)),
        ("locked_in_offers", Json::u64(t.locked_in_offers)),
        ("locked_in_escrow", Json::u64(t.locked_in_escrow)),
        ("frozen", Json::u64(t.frozen)),
        ("clawed_back", Json::u64(t.clawed_back)),
    ])
}
