//! The PBFT consensus state machine.
//!
//! **Architecture Invariant:** this module performs no I/O. It reads no
//! clock, draws no randomness, spawns no thread and iterates no hash map. A
//! [`Replica`] is driven by one function, [`Replica::handle`], which takes an
//! [`Input`] (a signed message, a timeout, the result of executing a block, a
//! proposal the host built, the end of a block sync) and returns the
//! [`Effect`]s the host must carry out, in order. The same inputs always give
//! the same effects, which is what lets the simulation in `merit-tests`
//! replay a run from its seed.
//!
//! # How a host drives a replica
//!
//! 1. Build it with [`Replica::new`] (fresh) or [`Replica::restore`] (from
//!    the [`PersistedState`] last written and the committed chain height),
//!    then call [`Replica::start`] and carry out its effects.
//! 2. Feed every consensus message from the network to
//!    [`Replica::handle`] as [`Input::Message`] (or raw bytes to
//!    [`Replica::handle_bytes`], which decodes with [`MAX_MESSAGE_BYTES`]),
//!    with its arrival time by the local clock, stamped as it came off the
//!    network: a fresh proposal is prepared only if its block time lies
//!    within `[arrival − precision − delay(r), arrival + precision]`.
//! 3. Carry out the returned effects **in order**:
//!    - [`Effect::PersistVote`]: write the state durably (fsync) and only
//!      then continue. It always precedes the [`Effect::Broadcast`] of the
//!      vote it records; broadcasting first could let a crash and restart
//!      sign two different blocks at one `(height, round)`.
//!    - [`Effect::Broadcast`]: send the message to every other validator.
//!      The replica has already counted its own vote.
//!    - [`Effect::ExecuteBlock`]: run `Ledger::verify_block` on the current
//!      tip and answer with [`Input::BlockExecuted`]. Keep the outcome: the
//!      block may be committed next.
//!    - [`Effect::BuildProposal`]: build a block on the current tip with
//!      `Ledger::build_block(round, now_ms, own_key, txs)` and answer with
//!      [`Input::Proposal`]. The replica trusts a block its own host built.
//!    - [`Effect::ScheduleTimeout`]: after `duration_ms`, answer with
//!      [`Input::Timeout`]. Stale timeouts are ignored, so timers need never
//!      be cancelled.
//!    - [`Effect::Commit`]: the block is final. Apply it to the ledger and
//!      store it with its certificate in one atomic write, before carrying
//!      out any later effect (those already belong to the next height).
//!    - [`Effect::Evidence`]: keep the pair of conflicting statements (a
//!      validator signed two blocks where it may sign one), count and log it.
//!    - [`Effect::RequestSync`]: fetch blocks from `from_height` on with
//!      their certificates from peers, check each with
//!      [`verify_certificate`], re-execute and apply it, then answer with
//!      [`Input::Synced`] carrying the last certificate.
//!
//! See `docs/consensus.md` for the protocol, the quorum rules and the safety
//! argument.

mod cert;
mod evidence;
mod message;
mod replica;
mod validators;
mod verifier;

pub use cert::{
    CertError, verify_certificate, verify_certificate_with, verify_prepared_certificate,
};
pub use evidence::{Evidence, EvidenceError, MAX_EVIDENCE_BYTES};
pub use message::{
    MAX_MESSAGE_BYTES, MAX_STATEMENT_BYTES, Message, MessageKind, NewView, PreparedCertificate,
    SIGNING_DOMAIN, SignedStatement, SignedViewChange, Statement, ViewChange, Vote, signing_bytes,
};
#[cfg(feature = "mutants")]
pub use replica::ReplicaMutant;
pub use replica::{
    CastVotes, ConsensusConfig, ConsensusStats, Effect, Input, MAX_BLOCKS_PER_HEIGHT,
    MAX_FUTURE_HEIGHTS, MAX_FUTURE_MESSAGES_PER_VALIDATOR, MAX_PERSISTED_STATE_BYTES,
    MAX_ROUNDS_AHEAD, PersistedState, PreparedProof, Rejection, Replica, ReplicaError,
};
pub use validators::{
    QuorumRule, ValidatorSchedule, ValidatorSet, ValidatorSetError, max_faulty, quorum_size,
};
pub use verifier::{Ed25519Verifier, SignatureVerifier};
