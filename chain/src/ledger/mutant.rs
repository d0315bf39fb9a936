//! Ledger rules broken on purpose, each one a test's proof that the check
//! it breaks can fail. Only debug builds (the tests' build) can run one, on
//! the calling thread, inside [`with_mutant`]; a release build has none.

/// A broken rule, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerMutant {
    /// `ledger-frozen-points-move`: spending ignores what is frozen.
    FrozenPointsMove,
    /// `ledger-anyone-freezes`: freeze, unfreeze and clawback skip the
    /// issuer check.
    AnyoneFreezes,
    /// `ledger-refund-any-token`: a refund is bounded by the receiver's
    /// share in any token of the payment, not in the token refunded.
    RefundAnyToken,
    /// `ledger-path-ignores-send-max`: a path payment costs whatever the
    /// books ask.
    PathIgnoresSendMax,
    /// `ledger-path-rounds-for-payer`: a path payment pays resting offers
    /// rounded down.
    PathRoundsForPayer,
    /// `ledger-path-bound-per-hop`: `MAX_OFFERS_CROSSED` counts each hop
    /// on its own.
    PathBoundPerHop,
    /// `ledger-pays-unopened-sub-account`: a receiver's sub-account need
    /// not be open.
    PaysUnopenedSubAccount,
    /// `ledger-spends-unopened-sub-account`: the envelope's paying
    /// sub-account need not be open.
    SpendsUnopenedSubAccount,
    /// `ledger-refund-to-main-account`: a refund goes back to the payer's
    /// address, not to the sub-account that paid.
    RefundToMainAccount,
    /// `ledger-sub-accounts-unbounded`: an address may open any number of
    /// sub-accounts.
    SubAccountsUnbounded,
}

impl LedgerMutant {
    pub fn name(self) -> &'static str {
        match self {
            LedgerMutant::FrozenPointsMove => "ledger-frozen-points-move",
            LedgerMutant::AnyoneFreezes => "ledger-anyone-freezes",
            LedgerMutant::RefundAnyToken => "ledger-refund-any-token",
            LedgerMutant::PathIgnoresSendMax => "ledger-path-ignores-send-max",
            LedgerMutant::PathRoundsForPayer => "ledger-path-rounds-for-payer",
            LedgerMutant::PathBoundPerHop => "ledger-path-bound-per-hop",
            LedgerMutant::PaysUnopenedSubAccount => "ledger-pays-unopened-sub-account",
            LedgerMutant::SpendsUnopenedSubAccount => "ledger-spends-unopened-sub-account",
            LedgerMutant::RefundToMainAccount => "ledger-refund-to-main-account",
            LedgerMutant::SubAccountsUnbounded => "ledger-sub-accounts-unbounded",
        }
    }
}

#[cfg(debug_assertions)]
thread_local! {
    static MUTANT: std::cell::Cell<Option<LedgerMutant>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with `mutant` in force on this thread (debug builds; a release
/// build runs `f` unchanged).
pub fn with_mutant<R>(mutant: LedgerMutant, f: impl FnOnce() -> R) -> R {
    #[cfg(debug_assertions)]
    {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                MUTANT.with(|m| m.set(None));
            }
        }
        MUTANT.with(|m| m.set(Some(mutant)));
        let _reset = Reset;
        f()
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = mutant;
        f()
    }
}

/// Whether `mutant` is in force on this thread.
pub(super) fn active(mutant: LedgerMutant) -> bool {
    #[cfg(debug_assertions)]
    {
        MUTANT.with(|m| m.get() == Some(mutant))
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = mutant;
        false
    }
}
