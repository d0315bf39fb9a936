//! Stable rejection codes. A rejection is an expected outcome, not an error:
//! it is recorded in the transaction's receipt and changes no ledger state.
//! Codes and names never change meaning once released; new ones are appended.

use crate::encoding::{Decode, Encode};

macro_rules! reject_codes {
    ($( $(#[doc = $doc:literal])* $name:ident = $num:literal, )*) => {
        /// Why a transaction was rejected.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u16)]
        pub enum RejectCode {
            $( $(#[doc = $doc])* $name = $num, )*
        }

        impl RejectCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [RejectCode] = &[$(RejectCode::$name,)*];

            /// The stable name, as RPC and the CLI show it.
            pub fn name(self) -> &'static str {
                match self { $(RejectCode::$name => stringify!($name),)* }
            }

            /// A sentence for people.
            pub fn describe(self) -> &'static str {
                match self { $(RejectCode::$name => concat!($($doc),*).trim_ascii(),)* }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($name) => Some(RejectCode::$name),)* _ => None }
            }

            /// The stable number, as stored and encoded.
            pub fn number(self) -> u16 {
                self as u16
            }

            pub fn from_number(n: u16) -> Option<Self> {
                match n { $($num => Some(RejectCode::$name),)* _ => None }
            }
        }
    };
}

reject_codes! {
    /// The bytes are not a well-formed transaction.
    Malformed = 1,
    /// The transaction is larger than the limit.
    TooLarge = 2,
    /// The transaction was signed for another chain.
    WrongChainId = 3,
    /// The signature does not match the sender and contents.
    BadSignature = 4,
    /// The transaction expired before it could be included.
    Expired = 5,
    /// The expiry height is further ahead than the chain allows.
    ExpiryTooFar = 6,
    /// The sender already used this nonce in the open window.
    NonceReused = 7,
    /// Only a registered merchant may create tokens.
    NotMerchant = 10,
    /// A token with this symbol already exists.
    TokenExists = 11,
    /// A token has at most 9 decimals.
    InvalidDecimals = 12,
    /// The maximum supply must be above zero.
    InvalidMaxSupply = 13,
    /// The token name must not be blank.
    InvalidTokenName = 14,
    /// Points may expire after 1 to 36500 days.
    InvalidExpiryDays = 15,
    /// No token has this symbol.
    UnknownToken = 20,
    /// Only the token's issuer may do that.
    NotIssuer = 21,
    /// Minting this much would exceed the token's maximum supply.
    SupplyCapExceeded = 22,
    /// The amount must be above zero.
    ZeroAmount = 23,
    /// The sender's balance is too small.
    InsufficientBalance = 24,
    /// The amounts add up to more than a 64-bit number holds.
    Overflow = 25,
    /// The token was not created freezable: its points cannot be frozen.
    NotFreezable = 26,
    /// The token was not created with clawback: its points cannot be taken back.
    ClawbackDisabled = 27,
    /// The account has fewer frozen points of the token than that.
    InsufficientFrozen = 28,
    /// The address has not opened this sub-account.
    UnknownSubAccount = 29,
    /// A payment needs at least one leg.
    NoLegs = 30,
    /// A payment has at most 50 legs.
    TooManyLegs = 31,
    /// An order id must not be empty.
    InvalidOrderId = 32,
    /// The sender already used this order id; the receipt names the original payment.
    DuplicateOrderId = 33,
    /// No payment has this id.
    UnknownPayment = 34,
    /// Only a receiver of the payment may refund it.
    NotPaymentReceiver = 35,
    /// The refund exceeds what this receiver got from the payment, less earlier refunds.
    RefundExceedsPayment = 36,
    /// A payment's legs name more distinct tokens than the limit.
    TooManyTokens = 37,
    /// The address has opened the most sub-accounts one address may (1000).
    TooManySubAccounts = 38,
    /// A price needs a numerator and a denominator above zero.
    InvalidPrice = 40,
    /// An offer must sell one token for another.
    SameToken = 41,
    /// The offer or path payment would cross one of the sender's own offers.
    SelfCross = 42,
    /// No open offer has this id.
    UnknownOffer = 43,
    /// Only the offer's owner may cancel it.
    NotOfferOwner = 44,
    /// The path payment would cost more than its `send_max`.
    SendMaxExceeded = 45,
    /// The order books along the path cannot deliver the amount within the offers one transaction may cross.
    NoPath = 46,
    /// A path has at most 3 intermediate tokens.
    PathTooLong = 47,
    /// No escrow has this id.
    UnknownEscrow = 50,
    /// Only the escrow's payer may release it.
    NotEscrowPayer = 51,
    /// Only the escrow's payer or payee may refund it.
    NotEscrowParty = 52,
    /// The escrow is already released, refunded or expired.
    EscrowClosed = 53,
    /// The payer may refund only once the block time reaches the deadline.
    DeadlineNotReached = 54,
    /// The deadline must be after the block time and at most 3650 days ahead.
    InvalidDeadline = 55,
    /// Only a merchant whose validator is in force may propose or vote.
    NotValidatorMerchant = 60,
    /// No proposal has this id.
    UnknownProposal = 61,
    /// The proposal is no longer open: it passed, failed or was rejected.
    ProposalClosed = 62,
    /// This merchant already voted on the proposal.
    AlreadyVoted = 63,
    /// Voting on the proposal has ended.
    VotingEnded = 64,
    /// Too many proposals are open at once.
    TooManyProposals = 65,
    /// The merchant record is invalid: a proof of possession is forged or missing, or a field is wrong.
    InvalidMerchant = 66,
    /// A parameter is outside its bounds.
    ParamOutOfBounds = 67,
    /// The change would leave the alliance with no validator.
    NoValidatorLeft = 68,
    /// Voting must end after this block and at most 100000 blocks ahead.
    InvalidVotingPeriod = 69,
    /// The account is already a merchant.
    MerchantExists = 70,
    /// The account is not a merchant of the alliance.
    UnknownMerchant = 71,
    /// A key of the record is already used by a merchant or validator.
    KeyInUse = 72,
    /// The change would take the validator set past 100 validators.
    TooManyValidators = 73,
    /// An upgrade needs a version above 0 and a height after its voting could take effect.
    InvalidUpgrade = 74,
}

// Encoded as its stable number, never as a variant position.
impl Encode for RejectCode {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        e: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        self.number().encode(e)
    }
}

impl<C> Decode<C> for RejectCode {
    fn decode<D: bincode::de::Decoder<Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        let n = u16::decode(d)?;
        RejectCode::from_number(n).ok_or_else(|| {
            bincode::error::DecodeError::OtherString(format!("unknown rejection code {n}"))
        })
    }
}

impl<'de, C> bincode::BorrowDecode<'de, C> for RejectCode {
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = C>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        <Self as Decode<C>>::decode(d)
    }
}

/// A transaction refused before it could be executed: its code, and, for
/// input over a bound or otherwise malformed, a reason that names the field
/// and the bound ("memo is 257 bytes, at most 256"). Only the code is ever
/// recorded in a block; the reason is for the one who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: RejectCode,
    pub reason: Option<String>,
}

impl Refusal {
    /// A refusal with the words that say why.
    pub fn new(code: RejectCode, reason: impl Into<String>) -> Self {
        Refusal {
            code,
            reason: Some(reason.into()),
        }
    }
}

impl From<RejectCode> for Refusal {
    fn from(code: RejectCode) -> Self {
        Refusal { code, reason: None }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "{}: {reason}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_every_code_has_a_description() {
        for code in RejectCode::ALL {
            assert_eq!(RejectCode::from_name(code.name()), Some(*code));
            assert!(!code.describe().is_empty());
            assert!(code.describe().ends_with('.'), "{}", code.describe());
            assert_eq!(RejectCode::from_number(code.number()), Some(*code));
            let bytes = crate::encoding::encode(code);
            assert_eq!(bytes, code.number().to_le_bytes());
        }
        assert_eq!(RejectCode::from_name("Nope"), None);
    }
}
