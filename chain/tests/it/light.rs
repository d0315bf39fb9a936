//! The client that trusts no node: it follows validator-set changes from
//! the genesis set, accepts a header only with a certificate of the set in
//! force at its height, and a transaction only with paths to that header.

use merit_chain::block::{BlockHeader, CommitCertificate, ValidatorSignature};
use merit_chain::consensus::{Statement, Vote, signing_bytes};
use merit_chain::encoding::{self, BoundedVec};
use merit_chain::governance::{ACTIVATION_DELAY_BLOCKS, GovAction, ValidatorList};
use merit_chain::light::{LightClient, LightError, SetChange, TxProof, tx_proof, verify_tx_proof};
use merit_chain::{Block, Keypair, TxKind};
use proptest::prelude::*;

use crate::fixture::chain_id;
use crate::governance::{Gov, keys, record};

/// A certificate of `block` signed by `signers`.
pub(crate) fn certify(block: &Block, signers: &[&Keypair]) -> CommitCertificate {
    let vote = Vote {
        height: block.header.height,
        round: 0,
        block_hash: block.hash(),
    };
    let bytes = signing_bytes(&chain_id(), &Statement::Commit(vote));
    CommitCertificate {
        height: vote.height,
        round: 0,
        block_hash: vote.block_hash,
        signatures: BoundedVec::new(
            signers
                .iter()
                .map(|k| ValidatorSignature {
                    validator: k.public(),
                    signature: k.sign(&bytes),
                })
                .collect(),
        )
        .unwrap(),
    }
}

/// A chain whose set grows from 4 to 5 (a fifth merchant) and then loses
/// merchant 0, with every block and the validator keys of each height.
pub(crate) struct History {
    pub(crate) gov: Gov,
    genesis_set: ValidatorList,
    pub(crate) blocks: Vec<(Block, Vec<merit_chain::Receipt>, CommitCertificate)>,
    newcomer: Keypair,
    added_at: u64,
    pub(crate) removed_at: u64,
    /// Holds FLY, an expiring token of merchant 1, in three lots, minted
    /// after the set changes.
    pub(crate) shopper: Keypair,
}

impl History {
    pub(crate) fn build() -> History {
        let gov = Gov::new();
        let genesis_set = gov.ledger.validators_at(1).unwrap().clone();
        let fifth = keys("light-5");
        let newcomer = fifth.validator.clone();
        let mut h = History {
            gov,
            genesis_set,
            blocks: Vec::new(),
            newcomer,
            added_at: 0,
            removed_at: 0,
            shopper: Keypair::insecure_from_label("light-shopper"),
        };
        let add = GovAction::AddMerchant {
            merchant: record("light-5", &fifth, true),
        };
        let id = h.propose(add);
        h.pass(id, &[0, 1, 2]);
        h.added_at = h.gov.ledger.height() + ACTIVATION_DELAY_BLOCKS;
        h.advance_to(h.added_at + 2);
        let leaving = h.gov.m[0].account.public();
        let id = h.propose(GovAction::RemoveMerchant { account: leaving });
        // Five validators now: a quorum is four.
        h.pass(id, &[0, 1, 2, 3]);
        h.removed_at = h.gov.ledger.height() + ACTIVATION_DELAY_BLOCKS;
        h.advance_to(h.removed_at + 2);
        let issuer = h.gov.m[1].account.clone();
        h.commit(vec![(
            &issuer,
            TxKind::CreateToken {
                symbol: crate::fixture::sym("FLY"),
                name: encoding::BoundedString::new("Frequent flyer").unwrap(),
                decimals: 2,
                max_supply: 1_000_000,
                expiry_days: Some(30),
                freezable: false,
                clawback: false,
            },
        )]);
        for amount in [100, 250, 50] {
            let mint = TxKind::Mint {
                token: crate::fixture::sym("FLY"),
                to: h.shopper.public().into(),
                amount,
            };
            h.commit(vec![(&issuer, mint)]);
        }
        h
    }

    /// The validator keys in force at `height`, by the ledger.
    pub(crate) fn signers(&self, height: u64) -> Vec<Keypair> {
        let list = self.gov.ledger.validators_at(height).unwrap();
        list.iter()
            .map(|v| {
                self.gov
                    .m
                    .iter()
                    .map(|m| &m.validator)
                    .chain([&self.newcomer])
                    .find(|k| k.public() == v.key)
                    .unwrap()
                    .clone()
            })
            .collect()
    }

    pub(crate) fn commit(&mut self, txs: Vec<(&Keypair, TxKind)>) {
        let height = self.gov.ledger.height() + 1;
        let signers = self.signers(height);
        let (block, receipts) = self.gov.block_full(txs);
        let cert = certify(&block, &signers.iter().collect::<Vec<_>>());
        self.blocks.push((block, receipts, cert));
    }

    fn propose(&mut self, action: GovAction) -> u64 {
        let ends = self.gov.ledger.height() + 20;
        let k = self.gov.m[0].account.clone();
        let next = self.gov.ledger.proposals().count() as u64 + 1;
        self.commit(vec![(
            &k,
            TxKind::Propose {
                action,
                voting_ends_height: ends,
            },
        )]);
        next
    }

    fn pass(&mut self, id: u64, voters: &[usize]) {
        let keys: Vec<Keypair> = voters
            .iter()
            .map(|&i| self.gov.m[i].account.clone())
            .collect();
        self.commit(
            keys.iter()
                .map(|k| {
                    (
                        k,
                        TxKind::Vote {
                            proposal: id,
                            approve: true,
                        },
                    )
                })
                .collect(),
        );
    }

    fn advance_to(&mut self, height: u64) {
        while self.gov.ledger.height() < height {
            self.commit(Vec::new());
        }
    }

    pub(crate) fn block(
        &self,
        height: u64,
    ) -> &(Block, Vec<merit_chain::Receipt>, CommitCertificate) {
        &self.blocks[(height - 1) as usize]
    }

    /// What `merit_getValidatorChanges(0)` serves.
    fn changes(&self) -> Vec<SetChange> {
        [self.added_at, self.removed_at]
            .into_iter()
            .map(|height| {
                let (block, _, cert) = self.block(height - 1);
                SetChange {
                    height,
                    header: block.header.clone(),
                    certificate: cert.clone(),
                    set: self.gov.ledger.validators_at(height).unwrap().clone(),
                }
            })
            .collect()
    }

    fn client(&self) -> LightClient {
        LightClient::new(chain_id(), 1, self.genesis_set.clone()).unwrap()
    }

    /// A client that followed every change.
    pub(crate) fn followed(&self) -> LightClient {
        let mut c = self.client();
        for change in self.changes() {
            c.follow(&change).unwrap();
        }
        c
    }

    fn header(&self, height: u64) -> (BlockHeader, CommitCertificate) {
        let (block, _, cert) = self.block(height);
        (block.header.clone(), cert.clone())
    }
}

#[test]
fn a_client_follows_each_change_and_accepts_headers_of_every_set() {
    let h = History::build();
    let mut c = h.followed();
    assert_eq!(c.set_at(1).unwrap().list.len(), 4);
    assert_eq!(c.set_at(h.added_at).unwrap().list.len(), 5);
    assert_eq!(c.set_at(h.removed_at).unwrap().list.len(), 4);
    for height in 1..=h.gov.ledger.height() {
        let (header, cert) = h.header(height);
        c.verify_header(&header, &cert)
            .unwrap_or_else(|e| panic!("height {height}: {e}"));
    }
}

#[test]
fn a_hidden_change_leaves_the_new_sets_headers_refused() {
    let h = History::build();
    // The node served nothing: the genesis set cannot judge the new set.
    let mut c = h.client();
    let (header, cert) = h.header(h.added_at);
    assert!(matches!(
        c.verify_header(&header, &cert),
        Err(LightError::UnknownSet { .. })
    ));
    // Skipping the first change: the second's boundary is of an unknown set.
    let mut c = h.client();
    let changes = h.changes();
    assert!(matches!(
        c.follow(&changes[1]),
        Err(LightError::UnknownSet { .. })
    ));
}

#[test]
fn a_certificate_by_keys_removed_before_its_height_is_refused() {
    let h = History::build();
    let mut c = h.followed();
    // Merchant 0's validator left at `removed_at`; a quorum of the old
    // five, with it, signs a block after the removal.
    let height = h.removed_at + 1;
    let (block, _, _) = h.block(height);
    let signers = [
        &h.gov.m[0].validator,
        &h.gov.m[1].validator,
        &h.gov.m[2].validator,
    ];
    let forged = certify(block, &signers);
    assert!(matches!(
        c.verify_header(&block.header, &forged),
        Err(LightError::Certificate(_))
    ));
    // Keys that never were validators.
    let strangers: Vec<Keypair> = (0..4)
        .map(|i| Keypair::insecure_from_label(&format!("x{i}")))
        .collect();
    let forged = certify(block, &strangers.iter().collect::<Vec<_>>());
    assert!(matches!(
        c.verify_header(&block.header, &forged),
        Err(LightError::Certificate(_))
    ));
}

#[test]
fn a_certificate_for_another_height_or_block_is_refused() {
    let h = History::build();
    let mut c = h.followed();
    let (header, _) = h.header(3);
    let (_, other_cert) = h.header(4);
    assert!(matches!(
        c.verify_header(&header, &other_cert),
        Err(LightError::CertificateMismatch { .. })
    ));
}

#[test]
fn two_certified_blocks_at_one_height_are_a_fork() {
    let h = History::build();
    let mut c = h.followed();
    let (header, cert) = h.header(5);
    c.verify_header(&header, &cert).unwrap();
    // The same set certifies another block at height 5.
    let mut other = h.block(5).0.clone();
    other.header.timestamp_ms += 1;
    let keys = h.signers(5);
    let cert2 = certify(&other, &keys.iter().collect::<Vec<_>>());
    assert!(matches!(
        c.verify_header(&other.header, &cert2),
        Err(LightError::Fork { height: 5, .. })
    ));
}

#[test]
fn a_change_whose_set_is_not_the_one_its_header_names_is_refused() {
    let h = History::build();
    let mut c = h.client();
    let mut change = h.changes()[0].clone();
    change.set = h.genesis_set.clone();
    assert!(matches!(
        c.follow(&change),
        Err(LightError::WrongNextSet { .. })
    ));
}

/// The proof of the first vote of the first pass, in its block.
fn some_tx_proof(h: &History) -> TxProof {
    let (block, receipts, cert) = h.blocks.iter().find(|(b, _, _)| b.txs.len() == 3).unwrap();
    tx_proof(block, receipts, &[], cert, 1).unwrap()
}

#[test]
fn a_transaction_proof_proves_its_transaction_and_receipt_only() {
    let h = History::build();
    let mut c = h.followed();
    let proof = some_tx_proof(&h);
    let hash = proof.tx.hash();
    let receipt = verify_tx_proof(&mut c, &hash, &proof).unwrap();
    // It survives its canonical bytes.
    assert_eq!(TxProof::from_bytes(&proof.to_bytes()).unwrap(), proof);
    assert_eq!(receipt.tx_hash, hash);
    // A proof for another transaction.
    let other = h.blocks.iter().find(|(b, _, _)| b.txs.len() == 3).unwrap();
    let other = tx_proof(&other.0, &other.1, &[], &other.2, 2).unwrap();
    assert!(matches!(
        verify_tx_proof(&mut c, &hash, &other),
        Err(LightError::WrongSubject { .. })
    ));
    // Another index.
    let mut moved = proof.clone();
    moved.index = 0;
    assert!(matches!(
        verify_tx_proof(&mut c, &hash, &moved),
        Err(LightError::NotInBlock { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single-bit change in the transaction proof's header,
    /// certificate, paths or receipt makes it fail.
    #[test]
    fn any_flipped_bit_of_a_transaction_proof_is_caught(part in 0usize..5, bit in any::<prop::sample::Index>()) {
        let h = History::build();
        let proof = some_tx_proof(&h);
        let hash = proof.tx.hash();
        let mut bad = proof.clone();
        let flip = |bytes: &mut Vec<u8>, i: &prop::sample::Index| {
            let at = i.index(bytes.len() * 8);
            bytes[at / 8] ^= 1 << (at % 8);
        };
        match part {
            0 => {
                let mut bytes = encoding::encode(&bad.header);
                flip(&mut bytes, &bit);
                match encoding::decode::<BlockHeader>(&bytes, 4_096) {
                    Ok(header) => bad.header = header,
                    // A flip that no longer decodes is refused before any check.
                    Err(_) => return Ok(()),
                }
            }
            1 => {
                let sig = &mut bad.certificate.signatures;
                let mut v: Vec<ValidatorSignature> = sig.to_vec();
                let i = bit.index(v.len() * 64 * 8);
                v[i / 512].signature.0[(i % 512) / 8] ^= 1 << (i % 8);
                *sig = BoundedVec::new(v).unwrap();
            }
            2 => {
                let mut path = bad.tx_path.to_vec();
                let i = bit.index(path.len() * 256);
                path[i / 256].0[(i % 256) / 8] ^= 1 << (i % 8);
                bad.tx_path = BoundedVec::new(path).unwrap();
            }
            3 => {
                let mut path = bad.receipt_path.to_vec();
                let i = bit.index(path.len() * 256);
                path[i / 256].0[(i % 256) / 8] ^= 1 << (i % 8);
                bad.receipt_path = BoundedVec::new(path).unwrap();
            }
            _ => {
                let mut bytes = encoding::encode(&bad.receipt);
                flip(&mut bytes, &bit);
                match encoding::decode::<merit_chain::Receipt>(&bytes, 65_536) {
                    Ok(r) => bad.receipt = r,
                    Err(_) => return Ok(()),
                }
            }
        }
        prop_assume!(bad != proof);
        let mut c = h.followed();
        prop_assert!(verify_tx_proof(&mut c, &hash, &bad).is_err());
    }
}
