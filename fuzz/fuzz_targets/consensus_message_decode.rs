//! Consensus message decoding and handling.
//!
//! The input is one encoded `Message`, or, if it does not decode as one, a
//! sequence of frames (a `u32` little-endian length, then that many bytes;
//! an empty frame fires the replicas' latest timers). Whatever decodes must
//! re-encode to the same bytes. Every frame goes through
//! `Replica::handle_bytes` of three replicas at height 1: validator 0 with
//! real signature checks, and validators 0 and 1 trusting every signature,
//! as if every validator were Byzantine. The host in
//! `merit_fuzz::consensus` answers their effects and checks their promises.
//!
//! An input that decodes as a `PersistedState` also restarts validator 0
//! from it, at the height it belongs to and one above.
#![no_main]

use libfuzzer_sys::fuzz_target;
use merit_chain::consensus::{Message, PersistedState};
use merit_fuzz::consensus::Host;
use merit_fuzz::frames;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = PersistedState::from_bytes(data) {
        assert_eq!(p.to_bytes(), data, "non-canonical persisted state accepted");
        for committed in [p.height.saturating_sub(1), p.height] {
            for real in [true, false] {
                if let Some(mut host) = Host::restored(0, real, committed, p.clone()) {
                    host.fire_timer();
                    host.fire_timer();
                }
            }
        }
    }

    let inputs: Vec<&[u8]> = match Message::from_bytes(data) {
        Ok(msg) => {
            assert_eq!(msg.to_bytes(), data, "non-canonical message accepted");
            vec![data]
        }
        Err(_) => frames(data),
    };
    let mut hosts = [Host::new(0, true), Host::new(0, false), Host::new(1, false)];
    for input in inputs {
        if input.is_empty() {
            for h in &mut hosts {
                h.fire_timer();
            }
            continue;
        }
        if let Ok(msg) = Message::from_bytes(input) {
            assert_eq!(msg.to_bytes(), input, "non-canonical message accepted");
        }
        for h in &mut hosts {
            h.feed_bytes(input);
        }
    }
});
