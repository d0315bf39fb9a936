//! The consensus parameters every validator of a chain runs with.
//!
//! They are chain state, fixed by the genesis and changed only by a vote of
//! the alliance, never by one node's configuration: a validator that judged
//! block time with a precision of its own could refuse what the others
//! accept. Each value has a named minimum and maximum, so that no genesis
//! and no vote can set one that halts the chain.

use crate::encoding::{Decode, Encode};

/// Round-0 timeout, in milliseconds, unless the genesis says otherwise.
pub const DEFAULT_TIMEOUT_BASE_MS: u64 = 1_000;
/// Longest round timeout, in milliseconds, unless the genesis says otherwise.
pub const DEFAULT_TIMEOUT_MAX_MS: u64 = 30_000;
/// The largest skew between two honest clocks, in milliseconds, unless the
/// genesis says otherwise.
pub const DEFAULT_PRECISION_MS: u64 = 500;
/// How long a message takes to reach a validator in round 0, at most, in
/// milliseconds, unless the genesis says otherwise.
pub const DEFAULT_MESSAGE_DELAY_MS: u64 = 2_000;
/// How often an idle chain makes an empty block, in milliseconds, unless
/// the genesis says otherwise.
pub const DEFAULT_HEARTBEAT_MS: u64 = 10_000;

/// Bounds of `timeout_base_ms`.
pub const MIN_TIMEOUT_BASE_MS: u64 = 100;
pub const MAX_TIMEOUT_BASE_MS: u64 = 60_000;
/// Bounds of `timeout_max_ms`; it is also never below `timeout_base_ms`.
pub const MIN_TIMEOUT_MAX_MS: u64 = 1_000;
pub const MAX_TIMEOUT_MAX_MS: u64 = 600_000;
/// Bounds of `precision_ms`.
pub const MIN_PRECISION_MS: u64 = 10;
pub const MAX_PRECISION_MS: u64 = 60_000;
/// Bounds of `message_delay_ms`.
pub const MIN_MESSAGE_DELAY_MS: u64 = 10;
pub const MAX_MESSAGE_DELAY_MS: u64 = 60_000;
/// Bounds of `heartbeat_ms`.
pub const MIN_HEARTBEAT_MS: u64 = 100;
pub const MAX_HEARTBEAT_MS: u64 = 3_600_000;

/// The consensus parameters of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct ConsensusParams {
    /// Round-0 timeout; round r waits `min(base · 2^r, max)`.
    pub timeout_base_ms: u64,
    pub timeout_max_ms: u64,
    /// The largest skew between two honest clocks: a fresh proposal is
    /// prepared only if its block time lies within
    /// `[arrival − precision − delay(r), arrival + precision]`.
    pub precision_ms: u64,
    /// `delay(0)`: how long a message takes at most; it grows by a tenth
    /// per round.
    pub message_delay_ms: u64,
    /// An idle chain makes one empty block this often, so that block time
    /// (and with it point expiry) moves on, and a proof's age can be judged.
    pub heartbeat_ms: u64,
}

impl Default for ConsensusParams {
    fn default() -> Self {
        ConsensusParams {
            timeout_base_ms: DEFAULT_TIMEOUT_BASE_MS,
            timeout_max_ms: DEFAULT_TIMEOUT_MAX_MS,
            precision_ms: DEFAULT_PRECISION_MS,
            message_delay_ms: DEFAULT_MESSAGE_DELAY_MS,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
        }
    }
}

/// A parameter outside its bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} is {value}, but must be from {min} to {max}")]
pub struct ParamOutOfBounds {
    pub field: &'static str,
    pub value: u64,
    pub min: u64,
    pub max: u64,
}

impl ConsensusParams {
    /// Checks every value against its bounds, naming the first one outside.
    pub fn check(&self) -> Result<(), ParamOutOfBounds> {
        let within = |field: &'static str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ParamOutOfBounds {
                    field,
                    value,
                    min,
                    max,
                })
            }
        };
        within(
            "timeout_base_ms",
            self.timeout_base_ms,
            MIN_TIMEOUT_BASE_MS,
            MAX_TIMEOUT_BASE_MS,
        )?;
        within(
            "timeout_max_ms",
            self.timeout_max_ms,
            MIN_TIMEOUT_MAX_MS.max(self.timeout_base_ms),
            MAX_TIMEOUT_MAX_MS,
        )?;
        within(
            "precision_ms",
            self.precision_ms,
            MIN_PRECISION_MS,
            MAX_PRECISION_MS,
        )?;
        within(
            "message_delay_ms",
            self.message_delay_ms,
            MIN_MESSAGE_DELAY_MS,
            MAX_MESSAGE_DELAY_MS,
        )?;
        within(
            "heartbeat_ms",
            self.heartbeat_ms,
            MIN_HEARTBEAT_MS,
            MAX_HEARTBEAT_MS,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_within_bounds_and_each_bound_names_its_field() {
        assert_eq!(ConsensusParams::default().check(), Ok(()));
        let e = ConsensusParams {
            precision_ms: 0,
            ..ConsensusParams::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "precision_ms is 0, but must be from 10 to 60000"
        );
        let e = ConsensusParams {
            timeout_base_ms: 5_000,
            timeout_max_ms: 2_000,
            ..ConsensusParams::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(e.field, "timeout_max_ms");
        assert_eq!(e.min, 5_000);
        let e = ConsensusParams {
            heartbeat_ms: MAX_HEARTBEAT_MS + 1,
            ..ConsensusParams::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(e.field, "heartbeat_ms");
    }
}
