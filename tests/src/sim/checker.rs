//! The safety checker: what honest replicas finalize and sign.

use std::collections::BTreeMap;
use std::fmt;

use merit_chain::Hash32;
use merit_chain::consensus::{MessageKind, Statement};

/// What went wrong in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Two honest replicas finalized different blocks at one height.
    ConflictingBlocks {
        height: u64,
        first: (usize, Hash32),
        second: (usize, Hash32),
    },
    /// Two honest replicas hold different state roots after one height.
    DivergentState {
        height: u64,
        first: (usize, Hash32),
        second: (usize, Hash32),
    },
    /// An honest replica signed two different blocks at one `(height, round)`.
    HonestEquivocation {
        node: usize,
        kind: &'static str,
        height: u64,
        round: u32,
        first: Hash32,
        second: Hash32,
    },
    /// A block became final with a time more than the precision past the
    /// true time.
    FutureBlockTime {
        node: usize,
        height: u64,
        timestamp_ms: u64,
        true_ms: u64,
    },
    /// A replica's ledger disagrees with a block it finalized or synced.
    BadBlock {
        node: usize,
        height: u64,
        detail: String,
    },
    /// A certificate produced or synced does not verify.
    BadCertificate {
        node: usize,
        height: u64,
        detail: String,
    },
    /// A replica could not restart from its persisted state.
    RestartFailed { node: usize, detail: String },
    /// An honest node charged an offence to an honest peer: a node must
    /// never ban an honest peer, however far behind or ahead either is.
    HonestPeerBlamed {
        node: usize,
        peer: usize,
        offence: &'static str,
    },
    /// Progress did not resume within the budget after the faults stopped.
    Liveness { detail: String },
    /// The run exceeded its event budget.
    EventBudget { events: u64 },
}

impl FailureKind {
    /// True for violations of agreement: the checker's reason to exist.
    pub fn is_safety_violation(&self) -> bool {
        matches!(
            self,
            FailureKind::ConflictingBlocks { .. }
                | FailureKind::DivergentState { .. }
                | FailureKind::HonestEquivocation { .. }
                | FailureKind::FutureBlockTime { .. }
        )
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::ConflictingBlocks {
                height,
                first,
                second,
            } => write!(
                f,
                "SAFETY: replicas {} and {} finalized different blocks at height {height}: {:?} vs {:?}",
                first.0, second.0, first.1, second.1
            ),
            FailureKind::DivergentState {
                height,
                first,
                second,
            } => write!(
                f,
                "SAFETY: replicas {} and {} hold different state roots after height {height}: {:?} vs {:?}",
                first.0, second.0, first.1, second.1
            ),
            FailureKind::HonestEquivocation {
                node,
                kind,
                height,
                round,
                first,
                second,
            } => write!(
                f,
                "SAFETY: honest replica {node} signed {kind} for two blocks at ({height}, {round}): {first:?} and {second:?}"
            ),
            FailureKind::FutureBlockTime {
                node,
                height,
                timestamp_ms,
                true_ms,
            } => write!(
                f,
                "SAFETY: replica {node} finalized height {height} stamped {timestamp_ms} ms, {} ms past true time {true_ms} ms",
                timestamp_ms.saturating_sub(*true_ms)
            ),
            FailureKind::BadBlock {
                node,
                height,
                detail,
            } => {
                write!(f, "replica {node} at height {height}: {detail}")
            }
            FailureKind::BadCertificate {
                node,
                height,
                detail,
            } => {
                write!(
                    f,
                    "replica {node}, certificate of height {height}: {detail}"
                )
            }
            FailureKind::RestartFailed { node, detail } => {
                write!(f, "replica {node} could not restart: {detail}")
            }
            FailureKind::HonestPeerBlamed {
                node,
                peer,
                offence,
            } => write!(
                f,
                "honest node {node} blamed honest peer {peer}: it {offence}"
            ),
            FailureKind::Liveness { detail } => write!(f, "LIVENESS: {detail}"),
            FailureKind::EventBudget { events } => write!(f, "the run exceeded {events} events"),
        }
    }
}

/// Everything honest replicas finalized and signed, checked as it happens.
#[derive(Debug, Default)]
pub struct SafetyChecker {
    /// Per height: the first finalized block, the state root after it, and
    /// the replica that finalized it first.
    finalized: BTreeMap<u64, (Hash32, Hash32, usize)>,
    /// Per honest signer, message kind, height and round: the block signed.
    signed: BTreeMap<(usize, MessageKind, u64, u32), Hash32>,
}

impl SafetyChecker {
    /// Records that honest replica `node` finalized `block` at `height`
    /// with `state_root` after it.
    pub fn finalized(
        &mut self,
        node: usize,
        height: u64,
        block: Hash32,
        state_root: Hash32,
    ) -> Result<(), FailureKind> {
        match self.finalized.get(&height) {
            None => {
                self.finalized.insert(height, (block, state_root, node));
                Ok(())
            }
            Some((b, _, first)) if *b != block => Err(FailureKind::ConflictingBlocks {
                height,
                first: (*first, *b),
                second: (node, block),
            }),
            Some((_, r, first)) if *r != state_root => Err(FailureKind::DivergentState {
                height,
                first: (*first, *r),
                second: (node, state_root),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Records a statement an honest replica signed and sent.
    pub fn signed(&mut self, node: usize, statement: &Statement) -> Result<(), FailureKind> {
        let (kind, name) = match statement {
            Statement::PrePrepare(_) => (MessageKind::PrePrepare, "a proposal"),
            Statement::NewView(_) => (MessageKind::NewView, "a proposal"),
            Statement::Prepare(_) => (MessageKind::Prepare, "Prepare"),
            Statement::Commit(_) => (MessageKind::Commit, "Commit"),
            Statement::ViewChange(_) | Statement::Decision(_) => return Ok(()),
        };
        let Some(hash) = statement.block_hash() else {
            return Ok(());
        };
        let (height, round) = (statement.height(), statement.round());
        // A proposal is one per round whichever message carries it.
        let kind = if kind == MessageKind::NewView {
            MessageKind::PrePrepare
        } else {
            kind
        };
        match self.signed.insert((node, kind, height, round), hash) {
            Some(first) if first != hash => Err(FailureKind::HonestEquivocation {
                node,
                kind: name,
                height,
                round,
                first,
                second: hash,
            }),
            _ => Ok(()),
        }
    }

    /// The number of heights finalized by some honest replica.
    pub fn heights(&self) -> usize {
        self.finalized.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_chain::consensus::Vote;

    #[test]
    fn the_checker_flags_conflicts_and_accepts_agreement() {
        let mut c = SafetyChecker::default();
        let (a, b, r1, r2) = (
            Hash32([1; 32]),
            Hash32([2; 32]),
            Hash32([3; 32]),
            Hash32([4; 32]),
        );
        assert_eq!(c.finalized(0, 1, a, r1), Ok(()));
        assert_eq!(c.finalized(1, 1, a, r1), Ok(()));
        assert!(matches!(
            c.finalized(2, 1, b, r1),
            Err(FailureKind::ConflictingBlocks { height: 1, .. })
        ));
        assert!(matches!(
            c.finalized(2, 1, a, r2),
            Err(FailureKind::DivergentState { height: 1, .. })
        ));

        let v = |h: Hash32| {
            Statement::Prepare(Vote {
                height: 1,
                round: 0,
                block_hash: h,
            })
        };
        assert_eq!(c.signed(0, &v(a)), Ok(()));
        assert_eq!(
            c.signed(0, &v(a)),
            Ok(()),
            "repeating the same vote is fine"
        );
        assert_eq!(
            c.signed(1, &v(b)),
            Ok(()),
            "another replica may vote differently"
        );
        let err = c.signed(0, &v(b)).unwrap_err();
        assert!(err.is_safety_violation());
        assert_eq!(
            c.signed(
                0,
                &Statement::Commit(Vote {
                    height: 1,
                    round: 0,
                    block_hash: b
                })
            ),
            Ok(())
        );
    }
}
