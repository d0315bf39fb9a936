//! Transaction decoding and validation.
//!
//! The input is one encoded transaction. It is decoded with
//! `Transaction::from_bytes` and `Transaction::admit`, which must agree; a
//! decoded transaction must re-encode to the same bytes; its signature is
//! checked alone and in a batch; then it runs in the next block of the
//! fixture world twice, as it is and re-signed by the world key its nonce
//! picks, with the checks of `world::check_single` (a rejected transaction
//! changes no state, a committed one keeps the supply audit).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use merit_chain::crypto::sha256;
use merit_chain::encoding::DecodeError;
use merit_chain::limits::MAX_TX_BYTES;
use merit_chain::tx::verify_signatures;
use merit_chain::{RejectCode, Transaction};
use merit_fuzz::world::{World, check_single};

static WORLD: LazyLock<World> = LazyLock::new(World::new);

fuzz_target!(|data: &[u8]| {
    let world = &*WORLD;
    let decoded = Transaction::from_bytes(data);
    let admitted = Transaction::admit(data);
    let tx = match decoded {
        Err(e) => {
            let expected = if data.len() > MAX_TX_BYTES {
                assert!(matches!(e, DecodeError::TooLarge { .. }), "{e:?}");
                RejectCode::TooLarge
            } else {
                RejectCode::Malformed
            };
            let refusal = admitted.expect_err("bytes that do not decode are refused");
            assert_eq!(refusal.code, expected);
            // A refusal of bytes that do not decode says why.
            assert!(
                refusal.reason.as_ref().is_some_and(|r| !r.is_empty()),
                "{refusal:?}"
            );
            return;
        }
        Ok(tx) => tx,
    };
    // One value, one encoding: what decodes re-encodes to the same bytes,
    // and the id is the hash of exactly those bytes.
    assert_eq!(tx.to_bytes(), data, "non-canonical encoding accepted");
    assert_eq!(tx.hash(), sha256(data));
    match (&admitted, tx.body.kind.check_stateless()) {
        (Ok(a), Ok(())) => assert_eq!(a, &tx),
        (Err(a), Err(c)) => assert_eq!(a.code, c),
        (a, c) => panic!("admit says {a:?}, check_stateless says {c:?}"),
    }
    let alone = tx.verify_signature();
    assert_eq!(verify_signatures(std::slice::from_ref(&tx)), vec![alone]);

    let ctx = world.context(tx.body.nonce);
    let receipt = check_single(&world.ledger, &ctx, &tx);
    if !alone {
        assert!(
            matches!(
                receipt.code(),
                Some(RejectCode::WrongChainId | RejectCode::BadSignature)
            ),
            "a bad signature got past the envelope: {receipt:?}"
        );
    }

    // The same body signed by a key the world knows, so the rules past the
    // envelope run.
    let resigned = world.resign(tx.body.clone());
    assert!(resigned.verify_signature());
    let again = Transaction::from_bytes(&resigned.to_bytes()).expect("a re-signed tx decodes");
    assert_eq!(again, resigned);
    let receipt = check_single(&world.ledger, &ctx, &resigned);
    assert_ne!(receipt.code(), Some(RejectCode::BadSignature));
});
