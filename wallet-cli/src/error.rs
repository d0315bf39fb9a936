//! Exit codes and the errors that choose them.
//!
//! Commands return `anyhow::Result`. At the top, [`classify`] walks the
//! error's chain for the typed errors below (and the keystore's and RPC
//! client's) and picks the exit code, so a usage mistake deep inside a
//! command still exits 2.

use crate::keystore::KeystoreError;
use crate::rpc::RpcError;

/// The command did what was asked.
pub const EXIT_OK: u8 = 0;
/// The transaction was rejected, or the command failed (wrong password, a
/// missing key, a file that could not be written).
pub const EXIT_FAILED: u8 = 1;
/// The command line was wrong: a bad flag, amount, address, `--split`, an
/// unknown token or key name. Nothing was signed or sent.
pub const EXIT_USAGE: u8 = 2;
/// The node could not be reached, was busy, or answered with an error.
pub const EXIT_NODE: u8 = 3;
/// The transaction was submitted but was still not final when the wait
/// timed out. `merit tx HASH` tells what became of it.
pub const EXIT_PENDING: u8 = 4;

/// The node's answer failed a check against the pinned chain: a proof
/// that does not verify, an answer its own proof contradicts, a replayed
/// state, or two certified blocks at one height. Nothing was relied on.
pub const EXIT_UNTRUSTED: u8 = 5;

/// A mistake on the command line. Exits with [`EXIT_USAGE`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand for a usage error as an `anyhow::Error`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// A transaction was submitted and its outcome already printed, but the
/// command must still exit non-zero. The message is for `--json` callers
/// and the log; the outcome itself was shown by the command.
#[derive(Debug, thiserror::Error)]
pub enum Outcome {
    #[error("transaction {hash} was rejected: {code}")]
    Rejected { hash: String, code: String },
    #[error("transaction {hash} is still pending after {waited_ms} ms")]
    StillPending { hash: String, waited_ms: u64 },
}

/// How an error ends the process: its exit code and a short kind for JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub exit_code: u8,
    pub kind: &'static str,
}

/// Picks the exit code for `err` from the first typed error in its chain.
pub fn classify(err: &anyhow::Error) -> Class {
    for cause in err.chain() {
        if cause.is::<crate::trust::Untrusted>() {
            return Class {
                exit_code: EXIT_UNTRUSTED,
                kind: "untrusted",
            };
        }
        if cause.is::<crate::trust::ForkFound>() {
            return Class {
                exit_code: EXIT_UNTRUSTED,
                kind: "fork",
            };
        }
        if cause.is::<UsageError>() {
            return Class {
                exit_code: EXIT_USAGE,
                kind: "usage",
            };
        }
        if let Some(o) = cause.downcast_ref::<Outcome>() {
            return match o {
                Outcome::Rejected { .. } => Class {
                    exit_code: EXIT_FAILED,
                    kind: "rejected",
                },
                Outcome::StillPending { .. } => Class {
                    exit_code: EXIT_PENDING,
                    kind: "pending",
                },
            };
        }
        if let Some(e) = cause.downcast_ref::<RpcError>() {
            return match e {
                RpcError::InvalidParams { .. } | RpcError::BadUrl { .. } => Class {
                    exit_code: EXIT_USAGE,
                    kind: "usage",
                },
                RpcError::Rejected { .. } => Class {
                    exit_code: EXIT_FAILED,
                    kind: "rejected",
                },
                RpcError::Unreachable { .. } => Class {
                    exit_code: EXIT_NODE,
                    kind: "unreachable",
                },
                _ => Class {
                    exit_code: EXIT_NODE,
                    kind: "node",
                },
            };
        }
        if let Some(e) = cause.downcast_ref::<KeystoreError>() {
            return match e {
                KeystoreError::InvalidName { .. } | KeystoreError::NotFound { .. } => Class {
                    exit_code: EXIT_USAGE,
                    kind: "usage",
                },
                KeystoreError::WrongPassword { .. } => Class {
                    exit_code: EXIT_FAILED,
                    kind: "wrong_password",
                },
                _ => Class {
                    exit_code: EXIT_FAILED,
                    kind: "keystore",
                },
            };
        }
    }
    Class {
        exit_code: EXIT_FAILED,
        kind: "failed",
    }
}
