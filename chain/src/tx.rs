//! Transactions: the signed envelope, the kinds, and their stateless checks.

use crate::crypto::{Address, Hash32, Keypair, Signature, sha256};
use crate::encoding::{self, BoundedString, BoundedVec, Decode, DecodeError, Encode};
use crate::governance::GovAction;
use crate::limits::*;
use crate::reject::{Refusal, RejectCode};

/// The chain a transaction belongs to. Part of every signed message, so a
/// signature for one chain is worthless on another.
pub type ChainId = BoundedString<MAX_CHAIN_ID_BYTES, field::ChainId>;
/// A merchant's reference for a payment, unique per sender forever.
pub type OrderId = BoundedString<MAX_ORDER_ID_BYTES, field::OrderId>;
/// Free text carried with a transfer, payment or redemption.
pub type Memo = BoundedString<MAX_MEMO_BYTES, field::Memo>;
/// A token's display name.
pub type TokenName = BoundedString<MAX_TOKEN_NAME_BYTES, field::Name>;
/// The legs of a `Pay`.
pub type PayLegs = BoundedVec<PayLeg, PAY_LEGS_DECODE_BOUND, field::Legs>;
/// A sub-account's label, e.g. the store it stands for.
pub type SubAccountLabel = BoundedString<MAX_SUB_ACCOUNT_LABEL_BYTES, field::Label>;
/// The intermediate tokens of a `PayPath`.
pub type PathTokens = BoundedVec<Symbol, PATH_DECODE_BOUND, field::Path>;

/// Decoding bound on the path of a `PayPath`: the rule is
/// [`MAX_PATH_TOKENS`], so a longer path up to this bound decodes and is
/// rejected with `PathTooLong`.
pub const PATH_DECODE_BOUND: usize = 16;

/// Decoding bound on the legs of a `Pay`. It only bounds memory; the ledger
/// rule is [`MAX_PAY_LEGS`], so 51 legs decode and are rejected with
/// `TooManyLegs`, and more than this are malformed (the reason names the
/// rule's bound either way).
pub const PAY_LEGS_DECODE_BOUND: usize = 1024;

/// The names that errors give the bounded fields of a transaction, as the
/// protocol spells them ("memo is 257 bytes, at most 256").
pub mod field {
    use crate::encoding::FieldName;
    use crate::limits::{MAX_PATH_TOKENS, MAX_PAY_LEGS};

    macro_rules! fields {
        ($( $(#[doc = $doc:literal])* $ty:ident = $name:literal $(, rule $rule:expr)?; )*) => {$(
            $(#[doc = $doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $ty;

            impl FieldName for $ty {
                const NAME: &'static str = $name;
                $(const RULE: Option<usize> = Some($rule);)?
            }
        )*};
    }

    fields! {
        /// `TxBody::chain_id`.
        ChainId = "chain_id";
        /// The `order_id` of `Pay` and `EscrowCreate`.
        OrderId = "order_id";
        /// The `memo` of `Transfer`, `Pay` and `Redeem`.
        Memo = "memo";
        /// The `name` of `CreateToken` and of a merchant record.
        Name = "name";
        /// The `legs` of `Pay`: decoded up to `PAY_LEGS_DECODE_BOUND`, at
        /// most `MAX_PAY_LEGS` by rule.
        Legs = "legs", rule MAX_PAY_LEGS;
        /// The `path` of `PayPath`: decoded up to `PATH_DECODE_BOUND`, at
        /// most `MAX_PATH_TOKENS` by rule.
        Path = "path", rule MAX_PATH_TOKENS;
        /// Every token symbol (`token`, `sell`, `buy`, `symbol`).
        Symbol = "token symbol";
        /// The `p2p_address` of a merchant record's validator.
        P2pAddress = "p2p_address";
        /// The `label` of `OpenSubAccount`.
        Label = "label";
    }
}

/// A token symbol: 2 to 12 characters of `A-Z0-9`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol {
    len: u8,
    bytes: [u8; 12],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a token symbol is 2 to 12 characters of A-Z and 0-9, got `{0}`")]
pub struct SymbolError(pub String);

impl Symbol {
    /// Sorts before every valid symbol. Only a bound for range walks over
    /// state keys; never encoded.
    pub(crate) const MIN: Symbol = Symbol {
        len: 0,
        bytes: [0; 12],
    };
    /// Sorts after every valid symbol. Only a bound for range walks.
    pub(crate) const MAX: Symbol = Symbol {
        len: u8::MAX,
        bytes: [u8::MAX; 12],
    };

    pub fn new(s: &str) -> Result<Self, SymbolError> {
        let b = s.as_bytes();
        if !(2..=12).contains(&b.len())
            || !b
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(SymbolError(s.to_string()));
        }
        let mut bytes = [0u8; 12];
        bytes[..b.len()].copy_from_slice(b);
        Ok(Symbol {
            len: b.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Display for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::new(s)
    }
}

impl Encode for Symbol {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        e: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        // Encoded like a string so the bytes read naturally.
        self.as_str().encode(e)
    }
}

impl<C> Decode<C> for Symbol {
    fn decode<D: bincode::de::Decoder<Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        let s = BoundedString::<12, field::Symbol>::decode(d)?;
        Symbol::new(&s).map_err(|e| bincode::error::DecodeError::OtherString(e.to_string()))
    }
}

impl<'de, C> bincode::BorrowDecode<'de, C> for Symbol {
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        <Self as Decode<C>>::decode(d)
    }
}

/// An account or one of its sub-accounts, written `ADDRESS` or
/// `ADDRESS/N` (sub-account 0 is the account itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct AccountRef {
    pub address: Address,
    pub sub: crate::state::SubId,
}

impl AccountRef {
    /// The account itself.
    pub fn main(address: Address) -> Self {
        AccountRef { address, sub: 0 }
    }

    /// Sub-account `sub` of `address` (0 is the account itself).
    pub fn new(address: Address, sub: crate::state::SubId) -> Self {
        AccountRef { address, sub }
    }

    /// Parses `ADDRESS` or `ADDRESS/N`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (address, sub) = match s.split_once('/') {
            Some((a, n)) => {
                let sub = n
                    .parse::<u32>()
                    .map_err(|_| format!("`{n}` in `{s}` is not a sub-account number"))?;
                (a, sub)
            }
            None => (s, 0),
        };
        let address = Address::from_bech32(address).map_err(|e| e.to_string())?;
        Ok(AccountRef { address, sub })
    }
}

impl From<Address> for AccountRef {
    fn from(address: Address) -> Self {
        AccountRef::main(address)
    }
}

/// What names an account: an address (the account itself) or an
/// [`AccountRef`] (it or one of its sub-accounts).
pub trait AsAccount {
    fn as_account(&self) -> AccountRef;
}

impl AsAccount for Address {
    fn as_account(&self) -> AccountRef {
        AccountRef::main(*self)
    }
}

impl AsAccount for AccountRef {
    fn as_account(&self) -> AccountRef {
        *self
    }
}

impl std::fmt::Display for AccountRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.sub {
            0 => f.write_str(&self.address.to_bech32()),
            n => write!(f, "{}/{n}", self.address.to_bech32()),
        }
    }
}

/// One receiver's share of a payment, in a token of its own: the legs of
/// one payment may pay in several tokens (a combined payment).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PayLeg {
    pub to: AccountRef,
    pub token: Symbol,
    pub amount: u64,
}

/// An exact price: `n / d` units of the token bought per unit of the token
/// sold. Prices are compared by cross-multiplication in `u128`, never as
/// floats. A valid price has `n > 0` and `d > 0`; the book stores prices in
/// lowest terms, so equal prices are equal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Price {
    pub n: u64,
    pub d: u64,
}

impl Price {
    /// Sorts before every valid price (a range bound).
    pub const MIN: Price = Price { n: 0, d: 1 };
    /// Sorts after every valid price (a range bound, "infinity").
    pub const MAX: Price = Price { n: 1, d: 0 };

    pub fn new(n: u64, d: u64) -> Price {
        Price { n, d }
    }

    /// Both terms above zero.
    pub fn is_valid(&self) -> bool {
        self.n > 0 && self.d > 0
    }

    /// The same price in lowest terms.
    pub fn reduced(&self) -> Price {
        let g = gcd(self.n, self.d);
        if g <= 1 {
            *self
        } else {
            Price {
                n: self.n / g,
                d: self.d / g,
            }
        }
    }

    /// Compares the values `n/d`, exactly.
    pub fn cmp_value(&self, other: &Price) -> std::cmp::Ordering {
        (u128::from(self.n) * u128::from(other.d)).cmp(&(u128::from(other.n) * u128::from(self.d)))
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Ordered by value, then by terms, so that the order is total and agrees
/// with `Eq` (1/2 sorts just before 2/4; the book only holds reduced prices).
impl Ord for Price {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.cmp_value(other)
            .then(self.n.cmp(&other.n))
            .then(self.d.cmp(&other.d))
    }
}

impl PartialOrd for Price {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Price {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.n, self.d)
    }
}

/// What a transaction does. New kinds are only ever appended, so the
/// encoding of existing kinds never changes.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum TxKind {
    /// A merchant creates a token with a supply cap fixed forever.
    CreateToken {
        symbol: Symbol,
        name: TokenName,
        decimals: u8,
        max_supply: u64,
        expiry_days: Option<u32>,
        /// The issuer may freeze holders' points (DESIGN §12). Fixed forever.
        freezable: bool,
        /// The issuer may take points back. Fixed forever.
        clawback: bool,
    },
    /// The issuer earns points for a shopper.
    Mint {
        token: Symbol,
        to: AccountRef,
        amount: u64,
    },
    /// A holder moves points.
    Transfer {
        token: Symbol,
        to: AccountRef,
        amount: u64,
        memo: Option<Memo>,
    },
    /// One payment split atomically among up to [`MAX_PAY_LEGS`] receivers,
    /// in up to [`MAX_PAY_TOKENS`] tokens.
    Pay {
        order_id: OrderId,
        legs: PayLegs,
        memo: Option<Memo>,
    },
    /// A receiver of `payment` returns points of one of its tokens to its
    /// payer.
    Refund {
        payment: Hash32,
        token: Symbol,
        amount: u64,
    },
    /// A holder burns points.
    Redeem {
        token: Symbol,
        amount: u64,
        memo: Option<Memo>,
    },
    /// A holder offers `amount` of `sell` for `buy` at no less than `price`
    /// units of `buy` per unit of `sell`. The amount is locked; the offer
    /// crosses the opposite book and whatever is left rests in the book.
    PlaceOffer {
        sell: Symbol,
        buy: Symbol,
        amount: u64,
        price: Price,
    },
    /// The owner unlocks whatever is left of an offer.
    CancelOffer { offer_id: u64 },
    /// A payer locks `amount` for `to` until released or refunded.
    EscrowCreate {
        token: Symbol,
        to: AccountRef,
        amount: u64,
        deadline_ms: u64,
        order_id: Option<OrderId>,
    },
    /// The payer pays an escrow's funds to its payee.
    EscrowRelease { id: Hash32 },
    /// The funds go back to the payer: by the payee at any time, by the
    /// payer once the block time reaches the deadline.
    EscrowRefund { id: Hash32 },
    /// A merchant whose validator is in force proposes a change to the
    /// alliance; votes are taken in blocks below `voting_ends_height`.
    Propose {
        action: GovAction,
        voting_ends_height: u64,
    },
    /// A merchant whose validator is in force votes on a proposal.
    Vote { proposal: u64, approve: bool },
    /// The issuer of a freezable token freezes `amount` of an account's
    /// points, its soonest-expiring first: they stay the holder's, and
    /// expire like any others, but cannot move.
    Freeze {
        token: Symbol,
        account: AccountRef,
        amount: u64,
    },
    /// The issuer lets frozen points move again.
    Unfreeze {
        token: Symbol,
        account: AccountRef,
        amount: u64,
    },
    /// The issuer of a clawback token takes `amount` back from an account,
    /// frozen points first, and burns it.
    Clawback {
        token: Symbol,
        from: AccountRef,
        amount: u64,
        memo: Option<Memo>,
    },
    /// A strict-receive path payment: `to` gets exactly `dest_amount` of
    /// `dest_token`, and the sender pays for it in `send_token`, at most
    /// `send_max`, crossing the order books along `send_token`, `path`…,
    /// `dest_token`, best price first.
    PayPath {
        send_token: Symbol,
        send_max: u64,
        dest_token: Symbol,
        dest_amount: u64,
        to: AccountRef,
        path: PathTokens,
        order_id: Option<OrderId>,
        memo: Option<Memo>,
    },
    /// Opens the sender's next sub-account, `ADDRESS/N`: a balance of its
    /// own, owned by the sender's key, which receives like any account and
    /// pays when a transaction names it in `TxBody::sub`.
    OpenSubAccount { label: SubAccountLabel },
}

impl TxKind {
    /// The kind's name as users and RPC see it.
    pub fn name(&self) -> &'static str {
        match self {
            TxKind::CreateToken { .. } => "CreateToken",
            TxKind::Mint { .. } => "Mint",
            TxKind::Transfer { .. } => "Transfer",
            TxKind::Pay { .. } => "Pay",
            TxKind::Refund { .. } => "Refund",
            TxKind::Redeem { .. } => "Redeem",
            TxKind::PlaceOffer { .. } => "PlaceOffer",
            TxKind::CancelOffer { .. } => "CancelOffer",
            TxKind::EscrowCreate { .. } => "EscrowCreate",
            TxKind::EscrowRelease { .. } => "EscrowRelease",
            TxKind::EscrowRefund { .. } => "EscrowRefund",
            TxKind::Propose { .. } => "Propose",
            TxKind::Vote { .. } => "Vote",
            TxKind::Freeze { .. } => "Freeze",
            TxKind::Unfreeze { .. } => "Unfreeze",
            TxKind::Clawback { .. } => "Clawback",
            TxKind::PayPath { .. } => "PayPath",
            TxKind::OpenSubAccount { .. } => "OpenSubAccount",
        }
    }

    /// Checks that need no state. A kind that fails here fails everywhere.
    pub fn check_stateless(&self) -> Result<(), RejectCode> {
        self.check_stateless_with_reason().map_err(|r| r.code)
    }

    /// [`TxKind::check_stateless`], with words that say which field broke
    /// which rule, and name the bound when one was passed.
    pub fn check_stateless_with_reason(&self) -> Result<(), Refusal> {
        use RejectCode::*;
        let refuse = |code: RejectCode, reason: String| Err(Refusal::new(code, reason));
        match self {
            TxKind::CreateToken {
                name,
                decimals,
                max_supply,
                expiry_days,
                ..
            } => {
                if name.trim().is_empty() {
                    return refuse(InvalidTokenName, "name is blank".into());
                }
                if *decimals > MAX_DECIMALS {
                    return refuse(
                        InvalidDecimals,
                        format!("decimals is {decimals}, at most {MAX_DECIMALS}"),
                    );
                }
                if *max_supply == 0 {
                    return refuse(InvalidMaxSupply, "max_supply is 0, at least 1".into());
                }
                if let Some(days) = expiry_days {
                    if *days == 0 {
                        return refuse(InvalidExpiryDays, "expiry_days is 0, at least 1".into());
                    }
                    if *days > MAX_EXPIRY_DAYS {
                        return refuse(
                            InvalidExpiryDays,
                            format!("expiry_days is {days}, at most {MAX_EXPIRY_DAYS}"),
                        );
                    }
                }
            }
            TxKind::Mint { amount, .. }
            | TxKind::Transfer { amount, .. }
            | TxKind::Refund { amount, .. }
            | TxKind::Redeem { amount, .. }
            | TxKind::Freeze { amount, .. }
            | TxKind::Unfreeze { amount, .. }
            | TxKind::Clawback { amount, .. } => {
                if *amount == 0 {
                    return refuse(ZeroAmount, "amount is 0".into());
                }
            }
            TxKind::Pay { order_id, legs, .. } => {
                if order_id.is_empty() {
                    return refuse(InvalidOrderId, "order_id is empty".into());
                }
                if legs.is_empty() {
                    return refuse(NoLegs, "legs has no entries, at least 1".into());
                }
                if legs.len() > MAX_PAY_LEGS {
                    return refuse(
                        TooManyLegs,
                        format!("legs has {} entries, at most {MAX_PAY_LEGS}", legs.len()),
                    );
                }
                if let Some(i) = legs.iter().position(|l| l.amount == 0) {
                    return refuse(ZeroAmount, format!("legs[{i}].amount is 0"));
                }
                let Some(totals) = pay_totals(legs) else {
                    return refuse(
                        Overflow,
                        format!(
                            "the legs in one token add up to more than {} base units",
                            u64::MAX
                        ),
                    );
                };
                if totals.len() > MAX_PAY_TOKENS {
                    return refuse(
                        TooManyTokens,
                        format!(
                            "the legs name {} tokens, at most {MAX_PAY_TOKENS}",
                            totals.len()
                        ),
                    );
                }
            }
            TxKind::PayPath {
                send_token,
                send_max,
                dest_token,
                dest_amount,
                path,
                order_id,
                ..
            } => {
                if *dest_amount == 0 {
                    return refuse(ZeroAmount, "dest_amount is 0".into());
                }
                if *send_max == 0 {
                    return refuse(ZeroAmount, "send_max is 0".into());
                }
                if path.len() > MAX_PATH_TOKENS {
                    return refuse(
                        PathTooLong,
                        format!("path has {} entries, at most {MAX_PATH_TOKENS}", path.len()),
                    );
                }
                let route = crate::ledger::route(send_token, path, dest_token);
                for (i, token) in route.iter().enumerate() {
                    if route[..i].contains(token) {
                        return refuse(
                            SameToken,
                            format!("the route from send_token to dest_token visits {token} twice"),
                        );
                    }
                }
                if order_id.as_ref().is_some_and(|o| o.is_empty()) {
                    return refuse(InvalidOrderId, "order_id is empty".into());
                }
            }
            TxKind::PlaceOffer {
                sell,
                buy,
                amount,
                price,
            } => {
                if *amount == 0 {
                    return refuse(ZeroAmount, "amount is 0".into());
                }
                if !price.is_valid() {
                    return refuse(
                        InvalidPrice,
                        format!("price is {price}; both terms must be above 0"),
                    );
                }
                if sell == buy {
                    return refuse(SameToken, format!("sell and buy are both {sell}"));
                }
            }
            TxKind::EscrowCreate {
                amount, order_id, ..
            } => {
                if *amount == 0 {
                    return refuse(ZeroAmount, "amount is 0".into());
                }
                if order_id.as_ref().is_some_and(|o| o.is_empty()) {
                    return refuse(InvalidOrderId, "order_id is empty".into());
                }
            }
            TxKind::Propose { action, .. } => check_action(action)?,
            TxKind::CancelOffer { .. }
            | TxKind::EscrowRelease { .. }
            | TxKind::EscrowRefund { .. }
            | TxKind::Vote { .. }
            | TxKind::OpenSubAccount { .. } => {}
        }
        Ok(())
    }
}

/// What a payment's legs add up to in each token, in the order the tokens
/// first appear; `None` if a token's total overflows.
pub fn pay_totals(legs: &[PayLeg]) -> Option<Vec<(Symbol, u64)>> {
    let mut totals: Vec<(Symbol, u64)> = Vec::new();
    for leg in legs {
        match totals.iter_mut().find(|(t, _)| *t == leg.token) {
            Some((_, total)) => *total = total.checked_add(leg.amount)?,
            None => totals.push((leg.token, leg.amount)),
        }
    }
    Some(totals)
}

/// What can be said of a governance action without the state: records
/// verify, parameters are within their bounds, an upgrade names a version.
fn check_action(action: &GovAction) -> Result<(), Refusal> {
    match action {
        GovAction::AddMerchant { merchant } | GovAction::RotateValidatorKey { merchant } => {
            merchant
                .verify()
                .map_err(|e| Refusal::new(RejectCode::InvalidMerchant, e.to_string()))?;
            if matches!(action, GovAction::RotateValidatorKey { .. })
                && merchant.record.validator.is_none()
            {
                return Err(Refusal::new(
                    RejectCode::InvalidMerchant,
                    "the record names no validator key to rotate to",
                ));
            }
        }
        GovAction::SetConsensusParams {
            timeout_base_ms,
            timeout_max_ms,
            precision_ms,
            message_delay_ms,
        } => {
            let params = crate::params::ConsensusParams {
                timeout_base_ms: *timeout_base_ms,
                timeout_max_ms: *timeout_max_ms,
                precision_ms: *precision_ms,
                message_delay_ms: *message_delay_ms,
                ..crate::params::ConsensusParams::default()
            };
            params
                .check()
                .map_err(|e| Refusal::new(RejectCode::ParamOutOfBounds, e.to_string()))?;
        }
        GovAction::ScheduleUpgrade {
            protocol_version, ..
        } => {
            if *protocol_version == 0 {
                return Err(Refusal::new(
                    RejectCode::InvalidUpgrade,
                    "protocol_version is 0, at least 1",
                ));
            }
        }
        GovAction::RemoveMerchant { .. } | GovAction::ReassignIssuer { .. } => {}
    }
    Ok(())
}

/// Everything a transaction says, without its signature. Its canonical bytes
/// are what the sender signs.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TxBody {
    pub chain_id: ChainId,
    pub sender: Address,
    /// Which of the sender's accounts pays: 0 the account itself, `N` its
    /// opened sub-account `ADDRESS/N`. Nonces and order ids stay the
    /// address's, whichever account pays.
    pub sub: crate::state::SubId,
    /// Any number the sender has not used in the open TTL window; nonces are
    /// unordered, so terminals signing at once need no coordination.
    pub nonce: u64,
    /// Valid only while `height < expires_at_height <= height + MAX_TX_TTL_BLOCKS`.
    pub expires_at_height: u64,
    pub kind: TxKind,
}

/// A signed transaction.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Transaction {
    pub body: TxBody,
    pub signature: Signature,
}

impl TxBody {
    /// The bytes the sender signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    pub fn sign(self, key: &Keypair) -> Transaction {
        let signature = key.sign(&self.signing_bytes());
        Transaction {
            body: self,
            signature,
        }
    }
}

impl Transaction {
    /// Canonical bytes of the signed transaction.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a transaction from untrusted bytes, at most [`MAX_TX_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode(bytes, MAX_TX_BYTES)
    }

    /// Admits a transaction from outside (RPC, gossip): checks its size,
    /// decodes it and runs the stateless checks, each failure with its code
    /// and a reason that names the field, and the bound when one was
    /// passed. Signatures and state are checked later, in a batch.
    pub fn admit(bytes: &[u8]) -> Result<Self, Refusal> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(Refusal::new(
                RejectCode::TooLarge,
                format!(
                    "the transaction is {} bytes, at most {MAX_TX_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let tx = Self::from_bytes(bytes).map_err(|e| {
            let reason = match e {
                DecodeError::TrailingBytes { trailing } => {
                    format!("{trailing} bytes follow the end of the transaction")
                }
                e => e.reason(),
            };
            Refusal::new(RejectCode::Malformed, reason)
        })?;
        tx.body.kind.check_stateless_with_reason()?;
        Ok(tx)
    }

    /// The transaction's id: SHA-256 of its canonical bytes.
    pub fn hash(&self) -> Hash32 {
        sha256(&self.to_bytes())
    }

    pub fn verify_signature(&self) -> bool {
        crate::crypto::verify(
            &self.body.sender,
            &self.body.signing_bytes(),
            &self.signature,
        )
    }
}

/// Checks every transaction's signature in one batch. One verdict per transaction.
pub fn verify_signatures(txs: &[Transaction]) -> Vec<bool> {
    with_signed_items(txs, crate::crypto::verify_batch)
}

/// Calls `check` with each transaction's (sender, signed bytes, signature).
fn with_signed_items<'a, R>(
    txs: impl IntoIterator<Item = &'a Transaction>,
    check: impl FnOnce(&[(&Address, &[u8], &Signature)]) -> R,
) -> R {
    let txs: Vec<&Transaction> = txs.into_iter().collect();
    let messages: Vec<Vec<u8>> = txs.iter().map(|t| t.body.signing_bytes()).collect();
    let items: Vec<_> = txs
        .iter()
        .zip(&messages)
        .map(|(t, m)| (&t.body.sender, m.as_slice(), &t.signature))
        .collect();
    check(&items)
}

/// [`verify_signatures`] with the senders' points taken from `keys`: the
/// same verdicts, with one decompression per sender instead of per
/// transaction. Takes the transactions by reference, in any container.
pub fn verify_signatures_with_keys<'a>(
    txs: impl IntoIterator<Item = &'a Transaction>,
    keys: &mut crate::crypto::KeyCache,
) -> Vec<bool> {
    with_signed_items(txs, |items| {
        crate::crypto::verify_batch_with_keys(items, keys)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_follow_the_rule() {
        for ok in ["AB", "COFFEE", "A1B2C3D4E5F6", "42"] {
            assert_eq!(Symbol::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["A", "ABCDEFGHIJKLM", "coffee", "CO-FFEE", "", "ÄB"] {
            assert!(Symbol::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prices_compare_exactly_and_reduce() {
        use std::cmp::Ordering::*;
        let p = Price::new;
        assert_eq!(p(1, 3).cmp_value(&p(2, 6)), Equal);
        assert_eq!(p(1, 3).cmp_value(&p(333_333, 1_000_000)), Greater);
        assert_eq!(
            p(u64::MAX, u64::MAX - 1).cmp_value(&p(u64::MAX - 1, u64::MAX - 2)),
            Less
        );
        assert_eq!(p(6, 4).reduced(), p(3, 2));
        assert_eq!(p(7, 7).reduced(), p(1, 1));
        assert!(p(1, 2) < p(2, 4) && p(2, 4) < p(2, 3));
        assert!(Price::MIN < p(1, u64::MAX) && p(u64::MAX, 1) < Price::MAX);
        assert!(!p(0, 1).is_valid() && !p(1, 0).is_valid() && p(1, 1).is_valid());
        assert!(Symbol::MIN < Symbol::new("AA").unwrap());
        assert!(Symbol::new("ZZZZZZZZZZZZ").unwrap() < Symbol::MAX);
    }

    /// `bytes` with the sequence `content` (after its `u64` length) one
    /// byte longer.
    fn grown(bytes: &[u8], content: &[u8]) -> Vec<u8> {
        let mut prefixed = (content.len() as u64).to_le_bytes().to_vec();
        prefixed.extend_from_slice(content);
        let at = bytes
            .windows(prefixed.len())
            .position(|w| w == prefixed.as_slice())
            .expect("the sequence is in the bytes");
        let mut out = bytes[..at].to_vec();
        out.extend_from_slice(&(content.len() as u64 + 1).to_le_bytes());
        out.extend_from_slice(content);
        out.push(content[0]);
        out.extend_from_slice(&bytes[at + prefixed.len()..]);
        out
    }

    #[test]
    fn input_over_a_bound_is_refused_with_a_reason_that_names_the_field_and_the_bound() {
        let key = Keypair::from_seed([1; 32]);
        let sign = |chain: &str, kind: TxKind| {
            TxBody {
                chain_id: ChainId::new(chain).unwrap(),
                sender: key.public(),
                sub: 0,
                nonce: 1,
                expires_at_height: 10,
                kind,
            }
            .sign(&key)
        };
        let sym = |s: &str| Symbol::new(s).unwrap();
        let legs = |n: usize| {
            PayLegs::new(
                (0..n)
                    .map(|_| PayLeg {
                        to: key.public().into(),
                        token: sym("BEAN"),
                        amount: 1,
                    })
                    .collect(),
            )
            .unwrap()
        };
        let pay = |order: &str, n: usize| TxKind::Pay {
            order_id: OrderId::new(order).unwrap(),
            legs: legs(n),
            memo: None,
        };
        let memo = "m".repeat(MAX_MEMO_BYTES);
        let order = "o".repeat(MAX_ORDER_ID_BYTES);
        let name = "n".repeat(MAX_TOKEN_NAME_BYTES);
        let chain = "c".repeat(MAX_CHAIN_ID_BYTES);
        let transfer = sign(
            "test",
            TxKind::Transfer {
                token: sym("BEAN"),
                to: key.public().into(),
                amount: 1,
                memo: Some(Memo::new(memo.clone()).unwrap()),
            },
        );
        let paid = sign("test", pay(&order, 1));
        let escrow = sign(
            "test",
            TxKind::EscrowCreate {
                token: sym("BEAN"),
                to: key.public().into(),
                amount: 1,
                deadline_ms: 1,
                order_id: Some(OrderId::new(order.clone()).unwrap()),
            },
        );
        let create = |name: &str, decimals: u8, expiry_days: Option<u32>| TxKind::CreateToken {
            symbol: sym("NEW"),
            name: TokenName::new(name).unwrap(),
            decimals,
            max_supply: 1,
            expiry_days,
            freezable: false,
            clawback: false,
        };
        let created = sign("test", create(&name, 2, None));
        let chained = sign(&chain, pay("x", 1));
        // At the bound, each is admitted.
        for tx in [&transfer, &paid, &escrow, &created, &chained] {
            assert_eq!(Transaction::admit(&tx.to_bytes()), Ok(tx.clone()));
        }
        let refused = |bytes: &[u8]| {
            let r = Transaction::admit(bytes).unwrap_err();
            (r.code, r.reason.unwrap_or_default())
        };
        use RejectCode::*;
        let over = |what: &str| (Malformed, what.to_string());
        assert_eq!(
            refused(&grown(&transfer.to_bytes(), memo.as_bytes())),
            over("memo is 257 bytes, at most 256")
        );
        assert_eq!(
            refused(&grown(&paid.to_bytes(), order.as_bytes())),
            over("order_id is 65 bytes, at most 64")
        );
        assert_eq!(
            refused(&grown(&escrow.to_bytes(), order.as_bytes())),
            over("order_id is 65 bytes, at most 64")
        );
        assert_eq!(
            refused(&grown(&created.to_bytes(), name.as_bytes())),
            over("name is 65 bytes, at most 64")
        );
        assert_eq!(
            refused(&grown(&chained.to_bytes(), chain.as_bytes())),
            over("chain_id is 33 bytes, at most 32")
        );
        // Legs: over the rule, and over what the decoder takes.
        let fifty_one = sign("test", pay("x", MAX_PAY_LEGS + 1));
        assert_eq!(
            refused(&fifty_one.to_bytes()),
            (TooManyLegs, "legs has 51 entries, at most 50".to_string())
        );
        let widest = sign("test", pay("x", PAY_LEGS_DECODE_BOUND)).to_bytes();
        // The order id "x", then the legs' count.
        let mut count = encoding::encode(&"x".to_string());
        count.extend_from_slice(&(PAY_LEGS_DECODE_BOUND as u64).to_le_bytes());
        let at = count.len() - 8
            + widest
                .windows(count.len())
                .position(|w| w == count.as_slice())
                .expect("the legs' count after the order id");
        let mut wider = widest.clone();
        wider[at..at + 8].copy_from_slice(&(PAY_LEGS_DECODE_BOUND as u64 + 1).to_le_bytes());
        assert_eq!(refused(&wider), over("legs has 1025 entries, at most 50"));
        // The whole transaction.
        let mut padded = transfer.to_bytes();
        padded.resize(MAX_TX_BYTES + 1, 0);
        assert_eq!(
            refused(&padded),
            (
                TooLarge,
                "the transaction is 65537 bytes, at most 65536".to_string()
            )
        );
        let mut longer = transfer.to_bytes();
        longer.push(0);
        assert_eq!(
            refused(&longer),
            over("1 bytes follow the end of the transaction")
        );
        // Values over a bound the ledger sets.
        assert_eq!(
            refused(&sign("test", create("x", MAX_DECIMALS + 1, None)).to_bytes()),
            (InvalidDecimals, "decimals is 10, at most 9".to_string())
        );
        assert_eq!(
            refused(&sign("test", create("x", 2, Some(MAX_EXPIRY_DAYS + 1))).to_bytes()),
            (
                InvalidExpiryDays,
                "expiry_days is 36501, at most 36500".to_string()
            )
        );
        // The code is the one `check_stateless` gives, which blocks record.
        assert_eq!(fifty_one.body.kind.check_stateless(), Err(TooManyLegs));

        // Proposals: a merchant record's name and p2p address over their
        // bounds, and consensus params out of theirs.
        use crate::governance::GovAction;
        use crate::merchant::{MerchantName, MerchantRecord, P2pAddressText, ValidatorRecord};
        let long_name = "n".repeat(MAX_MERCHANT_NAME_BYTES);
        let long_address = "a".repeat(MAX_P2P_ADDRESS_BYTES);
        let record = MerchantRecord {
            name: MerchantName::new(long_name.clone()).unwrap(),
            account: key.public(),
            validator: Some(ValidatorRecord {
                key: key.public(),
                p2p_key: key.public(),
                p2p_address: P2pAddressText::new(long_address.clone()).unwrap(),
            }),
        }
        .sign(&key, Some(&key), Some(&key));
        let propose = |action: GovAction| {
            sign(
                "test",
                TxKind::Propose {
                    action,
                    voting_ends_height: 20,
                },
            )
        };
        let add = propose(GovAction::AddMerchant {
            merchant: Box::new(record),
        })
        .to_bytes();
        assert_eq!(
            refused(&grown(&add, long_name.as_bytes())),
            over("name is 65 bytes, at most 64")
        );
        assert_eq!(
            refused(&grown(&add, long_address.as_bytes())),
            over(&format!(
                "p2p_address is {} bytes, at most {MAX_P2P_ADDRESS_BYTES}",
                MAX_P2P_ADDRESS_BYTES + 1
            ))
        );
        let params = propose(GovAction::SetConsensusParams {
            timeout_base_ms: 1_000,
            timeout_max_ms: 60_000,
            precision_ms: 0,
            message_delay_ms: 2_000,
        });
        let (code, reason) = refused(&params.to_bytes());
        assert_eq!(code, ParamOutOfBounds);
        assert!(
            reason.starts_with("precision_ms is 0, but must be from "),
            "{reason}"
        );
    }

    #[test]
    fn a_malformed_symbol_does_not_decode() {
        let bytes = encoding::encode(&"lower".to_string());
        assert!(encoding::decode::<Symbol>(&bytes, 64).is_err());
        let good = encoding::encode(&Symbol::new("GOOD").unwrap());
        assert_eq!(
            encoding::decode::<Symbol>(&good, 64).unwrap().as_str(),
            "GOOD"
        );
    }
}
