//! JSON-RPC parameter parsing of every method.
//!
//! The first input byte picks a method of `merit_fuzz::rpc::METHODS` (every
//! method the node registers, and one it does not); the rest, read as UTF-8
//! with replacement, is the params: spliced in as they are when they are
//! JSON, else as a one-string array. The call goes through the node's real
//! `RpcModule` over a real node state (`merit_fuzz::rpc::Harness`). No
//! method may panic, and each must answer a JSON-RPC 2.0 result or an error
//! that is not an internal error.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use merit_fuzz::rpc::{Harness, METHODS};

static HARNESS: LazyLock<Harness> = LazyLock::new(Harness::new);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, params)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(selector) % METHODS.len()];
    let params = String::from_utf8_lossy(params);
    HARNESS.call(method, &params);
});
