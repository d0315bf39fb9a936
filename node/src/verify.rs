//! `merit-node verify-chain`: re-verifies a stored chain from its genesis,
//! trusting nothing the store says about it.
//!
//! Each block must link to its parent, carry a certificate that a quorum
//! of the validator set in force at its height signed (the set as the
//! re-executed ledger knows it, so governance changes are followed), and
//! re-execute to the roots its header claims. Last, the state the store
//! holds must be the state the re-executed chain ends in.

use merit_chain::consensus::{ValidatorSet, verify_certificate_with};
use merit_chain::{Hash32, Ledger};
use merit_genesis::Genesis;
use merit_store::Storage;

/// The chain verified up to here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedTip {
    pub height: u64,
    pub hash: Hash32,
}

/// Why verification stopped.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The block at `height` is not a valid continuation of the verified
    /// chain below it.
    #[error("height {height} is bad: {reason}")]
    BadBlock { height: u64, reason: String },
    /// Every block verifies, but the state stored for the tip is not the
    /// state they execute to: an entry was changed, added or lost.
    #[error("the stored state at height {height} is bad: {reason}")]
    BadState { height: u64, reason: String },
    /// The store could not be read, or the genesis does not build.
    #[error("{0}")]
    Unreadable(String),
}

/// Verifies every block the store holds above genesis, in order. Stops at
/// the first bad one.
pub fn verify_chain(genesis: &Genesis, storage: &dyn Storage) -> Result<VerifiedTip, VerifyError> {
    let (mut ledger, _) = genesis
        .ledger()
        .map_err(|e| VerifyError::Unreadable(format!("the genesis does not build: {e}")))?;
    let stored_tip = storage
        .tip()
        .map_err(|e| VerifyError::Unreadable(e.to_string()))?
        .map_or(0, |h| h.height);
    for height in 1..=stored_tip {
        verify_next(&mut ledger, storage, height)?;
    }
    let bad_state = |reason: String| VerifyError::BadState {
        height: stored_tip,
        reason,
    };
    let stored = storage
        .load_state()
        .map_err(|e| bad_state(format!("it does not read back: {e}")))?;
    if &stored != ledger.state() {
        let differ = stored
            .iter()
            .filter(|(k, v)| ledger.state().get(k) != Some(v))
            .map(|(k, _)| k)
            .chain(ledger.state().keys().filter(|k| !stored.contains_key(k)))
            .next();
        return Err(bad_state(format!(
            "it differs from the state the chain executes to, first at {differ:?}"
        )));
    }
    Ok(VerifiedTip {
        height: ledger.height(),
        hash: ledger.tip().hash(),
    })
}

/// Verifies the block at `height` on `ledger` (at `height - 1`) and
/// applies it.
fn verify_next(ledger: &mut Ledger, storage: &dyn Storage, height: u64) -> Result<(), VerifyError> {
    let bad = |reason: String| VerifyError::BadBlock { height, reason };
    let read = |e: merit_store::StorageError| VerifyError::Unreadable(e.to_string());
    let block = storage
        .block(height)
        .map_err(read)?
        .ok_or_else(|| bad("the block is missing".into()))?;
    let cert = storage
        .certificate(height)
        .map_err(read)?
        .ok_or_else(|| bad("its certificate is missing".into()))?;
    if cert.height != height || cert.block_hash != block.hash() {
        return Err(bad(format!(
            "its certificate is for block {} at height {}",
            cert.block_hash, cert.height
        )));
    }
    let set = ledger
        .validators_at(height)
        .ok_or_else(|| bad("no validator set is decided for it".into()))?;
    let set = ValidatorSet::new(set.iter().map(|v| v.key).collect())
        .map_err(|e| bad(format!("the validator set in force is invalid: {e}")))?;
    verify_certificate_with(
        ledger.chain_id(),
        &set,
        &cert,
        set.quorum(),
        &merit_chain::consensus::Ed25519Verifier,
    )
    .map_err(|e| {
        bad(format!(
            "its certificate does not verify against the set in force: {e}"
        ))
    })?;
    // Parent link, time, the validator hashes and every root, by
    // re-execution.
    let outcome = ledger
        .verify_block(&block)
        .map_err(|e| bad(format!("it does not re-execute to its header: {e}")))?;
    ledger.apply(&block.header, outcome);
    Ok(())
}

#[cfg(test)]
mod tests {
    use merit_chain::block::ValidatorSignature;
    use merit_chain::consensus::{Statement, Vote, signing_bytes};
    use merit_chain::encoding::BoundedVec;
    use merit_chain::governance::{ACTIVATION_DELAY_BLOCKS, GovAction};
    use merit_chain::tx::TxBody;
    use merit_chain::{Block, CommitCertificate, Keypair, Transaction, TxKind};
    use merit_genesis::DevnetLayout;
    use merit_store::MemDisk;

    use super::*;

    const TIME_MS: u64 = 1_800_000_000_000;

    struct Chain {
        layout: DevnetLayout,
        genesis: Genesis,
        ledger: Ledger,
        nonce: u64,
    }

    impl Chain {
        fn new(storage: &dyn Storage) -> Chain {
            let layout = merit_genesis::devnet(4, 26601, 8545);
            let genesis = layout.validate().expect("a valid genesis");
            let ledger = crate::node::open_ledger(&genesis, storage).expect("a store");
            Chain {
                layout,
                genesis,
                ledger,
                nonce: 0,
            }
        }

        fn tx(&mut self, key: &Keypair, kind: TxKind) -> Transaction {
            self.nonce += 1;
            TxBody {
                chain_id: self.ledger.chain_id().clone(),
                sender: key.public(),
                sub: 0,
                nonce: self.nonce,
                expires_at_height: self.ledger.height() + 100,
                kind,
            }
            .sign(key)
        }

        /// Builds the next block and a certificate signed by `signers`
        /// (merchant indexes), stores both and applies the block.
        fn commit(&mut self, storage: &dyn Storage, txs: Vec<Transaction>, signers: &[usize]) {
            let height = self.ledger.height() + 1;
            let proposer = self.layout.merchants[0].validator.public();
            let (block, outcome) =
                self.ledger
                    .build_block(0, TIME_MS + height * 1_000, proposer, txs);
            let cert = self.certify(&block, signers);
            storage
                .commit_block(&block, Some(&cert), &outcome)
                .expect("stored");
            self.ledger.apply(&block.header, outcome);
        }

        fn certify(&self, block: &Block, signers: &[usize]) -> CommitCertificate {
            let vote = Vote {
                height: block.header.height,
                round: 0,
                block_hash: block.hash(),
            };
            let bytes = signing_bytes(self.ledger.chain_id(), &Statement::Commit(vote));
            let signatures = signers
                .iter()
                .map(|&i| {
                    let key = &self.layout.merchants[i].validator;
                    ValidatorSignature {
                        validator: key.public(),
                        signature: key.sign(&bytes),
                    }
                })
                .collect();
            CommitCertificate {
                height: vote.height,
                round: 0,
                block_hash: vote.block_hash,
                signatures: BoundedVec::new(signatures).expect("a few signatures"),
            }
        }

        /// Merchant 3 leaves by a vote of 0, 1 and 2 in the next block.
        fn remove_merchant_3(&mut self, storage: &dyn Storage) -> u64 {
            let account = |c: &Chain, i: usize| c.layout.merchants[i].account.clone();
            let leaving = account(self, 3).public();
            let mut txs = vec![self.tx(
                &account(self, 0),
                TxKind::Propose {
                    action: GovAction::RemoveMerchant { account: leaving },
                    voting_ends_height: 50,
                },
            )];
            for i in 0..3 {
                txs.push(self.tx(
                    &account(self, i),
                    TxKind::Vote {
                        proposal: 1,
                        approve: true,
                    },
                ));
            }
            self.commit(storage, txs, &[0, 1, 2]);
            self.ledger.height() + ACTIVATION_DELAY_BLOCKS
        }
    }

    #[test]
    fn a_chain_across_a_set_change_verifies_to_its_tip() {
        let storage = MemDisk::new().open_store();
        let mut chain = Chain::new(&storage);
        let activation = chain.remove_merchant_3(&storage);
        while chain.ledger.height() < activation + 3 {
            // Before the change 1, 2 and 3 sign; after it, 0, 1 and 2.
            let signers: &[usize] = if chain.ledger.height() + 1 < activation {
                &[1, 2, 3]
            } else {
                &[0, 1, 2]
            };
            chain.commit(&storage, Vec::new(), signers);
        }
        let tip = verify_chain(&chain.genesis, &storage).expect("a good chain");
        assert_eq!(tip.height, activation + 3);
        assert_eq!(tip.hash, chain.ledger.tip().hash());
    }

    /// A removed validator's signature no longer counts: a certificate the
    /// genesis set would accept is refused after the change.
    #[test]
    fn a_certificate_signed_with_a_removed_validator_is_bad() {
        let storage = MemDisk::new().open_store();
        let mut chain = Chain::new(&storage);
        let activation = chain.remove_merchant_3(&storage);
        while chain.ledger.height() + 1 < activation {
            chain.commit(&storage, Vec::new(), &[0, 1, 2]);
        }
        // Three signatures of the genesis set: a quorum of it, not of the
        // set in force (0, 1, 2 need all three).
        chain.commit(&storage, Vec::new(), &[1, 2, 3]);
        let genesis_set = ValidatorSet::new(chain.genesis.validators().to_vec()).unwrap();
        let cert = storage.certificate(activation).unwrap().unwrap();
        verify_certificate_with(
            chain.ledger.chain_id(),
            &genesis_set,
            &cert,
            genesis_set.quorum(),
            &merit_chain::consensus::Ed25519Verifier,
        )
        .expect("the genesis set would accept it");
        match verify_chain(&chain.genesis, &storage) {
            Err(VerifyError::BadBlock { height, reason }) => {
                assert_eq!(height, activation);
                assert!(reason.contains("set in force"), "{reason}");
            }
            other => panic!("expected a bad block at {activation}: {other:?}"),
        }
    }

    #[test]
    fn a_block_that_does_not_re_execute_or_link_is_bad() {
        let storage = MemDisk::new().open_store();
        let mut chain = Chain::new(&storage);
        chain.commit(&storage, Vec::new(), &[0, 1, 2]);
        chain.commit(&storage, Vec::new(), &[0, 1, 2]);
        // Block 3 claims a state root it does not have, and its
        // certificate signs that forged header.
        let proposer = chain.layout.merchants[0].validator.public();
        let (mut block, outcome) =
            chain
                .ledger
                .build_block(0, TIME_MS + 3_000, proposer, Vec::new());
        block.header.state_root = Hash32([7; 32]);
        let cert = chain.certify(&block, &[0, 1, 2]);
        storage.commit_block(&block, Some(&cert), &outcome).unwrap();
        match verify_chain(&chain.genesis, &storage) {
            Err(VerifyError::BadBlock { height, reason }) => {
                assert_eq!(height, 3);
                assert!(reason.contains("re-execute"), "{reason}");
            }
            other => panic!("expected a bad block at 3: {other:?}"),
        }
    }

    /// Writes `value` under `key` in column `cf`, below the store's API, as
    /// a disk fault or a tamperer would.
    fn raw_put(disk: &MemDisk, cf: merit_store::Cf, key: &[u8], value: &[u8]) {
        use merit_store::Kv;
        let kv = disk.open();
        let mut batch = Default::default();
        kv.put(&mut batch, cf, key, value).expect("put");
        kv.write(batch, true).expect("write");
    }

    /// A chain of three blocks with a transfer in the second, on `disk`.
    fn three_blocks(disk: &MemDisk) -> (Chain, merit_store::MemStorage) {
        let storage = disk.open_store();
        let mut chain = Chain::new(&storage);
        chain.commit(&storage, Vec::new(), &[0, 1, 2]);
        let alice = chain.layout.shoppers[0].key.clone();
        let bob = chain.layout.shoppers[1].key.public();
        let transfer = chain.tx(
            &alice,
            TxKind::Transfer {
                token: chain.layout.merchants[0].token,
                to: bob.into(),
                amount: 5,
                memo: None,
            },
        );
        chain.commit(&storage, vec![transfer], &[0, 1, 2]);
        chain.commit(&storage, Vec::new(), &[1, 2, 3]);
        assert!(verify_chain(&chain.genesis, &storage).is_ok());
        (chain, storage)
    }

    #[test]
    fn a_block_corrupted_on_disk_is_bad_at_its_height() {
        let disk = MemDisk::new();
        let (chain, storage) = three_blocks(&disk);
        let mut block = storage.block(2).unwrap().unwrap();
        block.txs = BoundedVec::new(Vec::new()).unwrap();
        raw_put(
            &disk,
            merit_store::Cf::Blocks,
            &2u64.to_be_bytes(),
            &block.to_bytes(),
        );
        let storage = disk.open_store();
        // The header (and so the block's hash and certificate) is intact;
        // its transactions no longer hash to its tx_root.
        match verify_chain(&chain.genesis, &storage) {
            Err(VerifyError::BadBlock { height: 2, reason }) => {
                assert!(reason.contains("tx_root mismatch"), "{reason}");
            }
            other => panic!("expected a bad block at 2: {other:?}"),
        }
    }

    #[test]
    fn a_certificate_corrupted_on_disk_is_bad_at_its_height() {
        let disk = MemDisk::new();
        let (chain, storage) = three_blocks(&disk);
        let mut cert = storage.certificate(3).unwrap().unwrap();
        let mut sigs = cert.signatures.to_vec();
        sigs[1].signature.0[7] ^= 0x20;
        cert.signatures = BoundedVec::new(sigs).unwrap();
        raw_put(
            &disk,
            merit_store::Cf::Certs,
            &3u64.to_be_bytes(),
            &merit_chain::encoding::encode(&cert),
        );
        let storage = disk.open_store();
        match verify_chain(&chain.genesis, &storage) {
            Err(VerifyError::BadBlock { height: 3, reason }) => {
                assert!(reason.contains("does not verify"), "{reason}");
            }
            other => panic!("expected a bad block at 3: {other:?}"),
        }
    }

    #[test]
    fn a_state_entry_corrupted_on_disk_is_bad_state() {
        use merit_chain::state::{Holding, StateKey, StateValue};
        let disk = MemDisk::new();
        let (chain, _) = three_blocks(&disk);
        let bob = chain.layout.shoppers[1].key.public();
        let key = StateKey::Holding(bob, 0, chain.layout.merchants[0].token);
        let forged = StateValue::Holding(Holding {
            balance: 1_000_000,
            ..Holding::default()
        });
        raw_put(
            &disk,
            merit_store::Cf::State,
            &merit_chain::encoding::encode(&key),
            &merit_chain::encoding::encode(&forged),
        );
        let storage = disk.open_store();
        match verify_chain(&chain.genesis, &storage) {
            Err(VerifyError::BadState { height: 3, reason }) => {
                assert!(reason.contains("Holding"), "{reason}");
            }
            other => panic!("expected a bad state at 3: {other:?}"),
        }
    }

    #[test]
    fn a_certificate_short_of_a_quorum_is_bad() {
        let storage = MemDisk::new().open_store();
        let mut chain = Chain::new(&storage);
        chain.commit(&storage, Vec::new(), &[0, 1, 2]);
        chain.commit(&storage, Vec::new(), &[0, 1]);
        match verify_chain(&chain.genesis, &storage) {
            Err(VerifyError::BadBlock { height, .. }) => assert_eq!(height, 2),
            other => panic!("expected a bad block at 2: {other:?}"),
        }
    }
}
