//! A small ledger with something of everything in it, for the transaction
//! and block targets: the fixture alliance of `chain/tests/it/fixture.rs`
//! after a few blocks that mint, create an expiring token, pay, place
//! offers, open escrows and open a sub-account (bob's `ADDRESS/1`, which
//! holds BEAN).
//!
//! Fuzzed transactions can hardly carry valid signatures, so the targets
//! also re-sign each one with the key [`World::signer`] picks from its
//! nonce, and run it at the block time [`World::context`] picks from its
//! nonce. Both choices are plain functions of the bytes, so a crash
//! reproduces from its input alone.

use merit_chain::block::Event;
use merit_chain::encoding::BoundedString;
use merit_chain::ledger::{BlockContext, BlockOutcome};
use merit_chain::state::{StateKey, StateValue};
use merit_chain::tx::{AccountRef, Price, TxBody};
use merit_chain::{
    BlockHeader, Hash32, Keypair, Ledger, PublicKey, Receipt, RejectCode, Transaction, TxKind,
    TxOutcome,
};

use crate::fixture::{Alliance, GENESIS_TIME_MS, chain_id, legs, sym};

/// Hours added to the block time per unit of `nonce >> TIME_SHIFT`.
const TIME_SHIFT: u32 = 40;
const MS_PER_HOUR: u64 = 3_600_000;

/// The fixture ledger after the set-up blocks, and what they created.
#[derive(Debug)]
pub struct World {
    pub ledger: Ledger,
    /// m1, m2, alice, bob, carol: `signers[nonce % 5]` signs re-signed transactions.
    pub signers: Vec<Keypair>,
    /// The split payment alice made (bob and m1 received it).
    pub payment: Hash32,
    /// Open offers: alice BEAN->BOOK, carol BOOK->BEAN, alice PERK->BEAN.
    pub offers: Vec<u64>,
    /// alice->bob BEAN (far deadline), alice->carol PERK (deadline passed),
    /// bob->carol BEAN (released).
    pub escrows: Vec<Hash32>,
    /// Four validators that sign the seed certificates.
    pub validators: Vec<Keypair>,
}

pub const M1: usize = 0;
pub const M2: usize = 1;
pub const ALICE: usize = 2;
pub const BOB: usize = 3;
pub const CAROL: usize = 4;

fn committed(receipts: Vec<Receipt>) -> Vec<Receipt> {
    for r in &receipts {
        assert!(r.code().is_none(), "set-up transaction rejected: {r:?}");
    }
    receipts
}

fn next_time(a: &Alliance) -> u64 {
    (GENESIS_TIME_MS + (a.ledger.height() + 1) * 1000).max(a.ledger.tip().timestamp_ms + 1000)
}

impl World {
    pub fn new() -> World {
        let mut a = Alliance::new();
        let (m1, m2, alice, bob, carol) = (
            a.m1.clone(),
            a.m2.clone(),
            a.alice.clone(),
            a.bob.clone(),
            a.carol.clone(),
        );
        let mint = |token: &str, to: &Keypair, amount: u64| TxKind::Mint {
            token: sym(token),
            to: to.public().into(),
            amount,
        };
        let txs = vec![
            a.tx(&m1, mint("BEAN", &bob, 5_000)),
            a.tx(&m2, mint("BOOK", &carol, 20_000)),
            a.tx(&m2, mint("BOOK", &alice, 1_000)),
            a.tx(
                &m1,
                TxKind::CreateToken {
                    symbol: sym("PERK"),
                    name: BoundedString::new("Perk points").unwrap(),
                    decimals: 0,
                    max_supply: 1_000_000,
                    expiry_days: Some(1),
                    freezable: false,
                    clawback: false,
                },
            ),
        ];
        committed(a.block(txs));
        let txs = vec![
            a.tx(&m1, mint("PERK", &alice, 1_000)),
            a.tx(&m1, mint("PERK", &bob, 500)),
        ];
        committed(a.block(txs));

        let now = next_time(&a);
        let pay = a.tx(
            &alice,
            TxKind::Pay {
                order_id: BoundedString::new("order-1").unwrap(),
                legs: legs(sym("BEAN"), &[(bob.public(), 90), (m1.public(), 10)]),
                memo: None,
            },
        );
        let payment = pay.hash();
        let offer = |sell: &str, buy: &str, amount: u64, n: u64, d: u64| TxKind::PlaceOffer {
            sell: sym(sell),
            buy: sym(buy),
            amount,
            price: Price::new(n, d),
        };
        let escrow =
            |token: &str, to: &Keypair, amount: u64, deadline_ms: u64, order: Option<&str>| {
                TxKind::EscrowCreate {
                    token: sym(token),
                    to: to.public().into(),
                    amount,
                    deadline_ms,
                    order_id: order.map(|o| BoundedString::new(o).unwrap()),
                }
            };
        let txs = vec![
            pay,
            a.tx(&alice, offer("BEAN", "BOOK", 300, 1, 3)),
            a.tx(&carol, offer("BOOK", "BEAN", 50, 4, 1)),
            a.tx(&alice, offer("PERK", "BEAN", 200, 1, 1)),
            a.tx(
                &alice,
                escrow("BEAN", &bob, 500, now + 10 * 86_400_000, Some("trade-1")),
            ),
            a.tx(&alice, escrow("PERK", &carol, 100, now + 1, None)),
            a.tx(&bob, escrow("BEAN", &carol, 50, now + 86_400_000, None)),
        ];
        let escrows: Vec<Hash32> = txs[4..].iter().map(Transaction::hash).collect();
        let receipts = committed(a.block(txs));
        let offers = receipts
            .iter()
            .flat_map(|r| r.events())
            .filter_map(|e| match e {
                Event::OfferPlaced { offer, .. } => Some(*offer),
                _ => None,
            })
            .collect();
        let release = a.tx(&bob, TxKind::EscrowRelease { id: escrows[2] });
        committed(a.block(vec![release]));
        let open = a.tx(
            &bob,
            TxKind::OpenSubAccount {
                label: BoundedString::new("till 1").unwrap(),
            },
        );
        committed(a.block(vec![open]));
        let to_store = a.tx(
            &m1,
            TxKind::Mint {
                token: sym("BEAN"),
                to: AccountRef::new(bob.public(), 1),
                amount: 300,
            },
        );
        committed(a.block(vec![to_store]));
        a.assert_conserved();

        World {
            ledger: a.ledger,
            signers: vec![m1, m2, alice, bob, carol],
            payment,
            offers,
            escrows,
            validators: validator_keys(),
        }
    }

    /// The key that re-signs a transaction with this nonce.
    pub fn signer(&self, nonce: u64) -> &Keypair {
        &self.signers[(nonce % self.signers.len() as u64) as usize]
    }

    /// A nonce whose transaction [`World::signer`] gives to `signers[who]`,
    /// distinct for distinct `serial`, and at the next block's time.
    pub fn nonce_for(&self, who: usize, serial: u64) -> u64 {
        (1_000 + serial) * self.signers.len() as u64 + who as u64
    }

    /// The next block for a transaction with this nonce: a second after the
    /// tip plus `nonce >> 40` hours, so that large nonces reach deadlines
    /// and expiry.
    pub fn context(&self, nonce: u64) -> BlockContext {
        let hours = nonce >> TIME_SHIFT;
        BlockContext {
            height: self.ledger.height() + 1,
            timestamp_ms: self
                .ledger
                .tip()
                .timestamp_ms
                .saturating_add(1000)
                .saturating_add(hours.saturating_mul(MS_PER_HOUR)),
        }
    }

    /// `body` with the sender [`World::signer`] picks, signed by it.
    pub fn resign(&self, mut body: TxBody) -> Transaction {
        let key = self.signer(body.nonce);
        body.sender = key.public();
        body.sign(key)
    }

    /// A transaction for the next block, signed as [`World::resign`] would.
    pub fn tx(&self, who: usize, serial: u64, kind: TxKind) -> Transaction {
        self.tx_from(who, 0, serial, kind)
    }

    /// [`World::tx`], paid by the signer's sub-account `sub`.
    pub fn tx_from(&self, who: usize, sub: u32, serial: u64, kind: TxKind) -> Transaction {
        self.resign(TxBody {
            chain_id: chain_id(),
            sender: PublicKey::ZERO,
            sub,
            nonce: self.nonce_for(who, serial),
            expires_at_height: self.ledger.height() + 10,
            kind,
        })
    }

    /// A header for `outcome` on top of `ledger`'s tip, enough for `apply`.
    pub fn header_for(ledger: &Ledger, ctx: &BlockContext, outcome: &BlockOutcome) -> BlockHeader {
        let mut header = ledger.tip().clone();
        header.parent_hash = ledger.tip().hash();
        header.height = ctx.height;
        header.timestamp_ms = ctx.timestamp_ms;
        header.state_root = outcome.state_root;
        header
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// The validator keys of the seed certificates and the consensus target.
pub fn validator_keys() -> Vec<Keypair> {
    (0..4)
        .map(|i| Keypair::insecure_from_label(&format!("fuzz-validator-{i}")))
        .collect()
}

/// Whether a rejection code is an envelope check, which spends no nonce.
pub fn is_envelope_rejection(code: RejectCode) -> bool {
    matches!(
        code,
        RejectCode::WrongChainId
            | RejectCode::BadSignature
            | RejectCode::Expired
            | RejectCode::ExpiryTooFar
            | RejectCode::NonceReused
    )
}

/// Runs `tx` alone in the next block at `ctx` and checks what the ledger
/// promises about it:
///
/// - a rejected transaction changes no entry but, past the envelope checks,
///   its own nonce: the block's changes are those of an empty block;
/// - a committed one leaves every token's supply audit holding and the state
///   consistent once applied.
///
/// Returns the receipt.
pub fn check_single(ledger: &Ledger, ctx: &BlockContext, tx: &Transaction) -> Receipt {
    let empty = ledger.execute_block(ctx, &[]);
    let outcome = ledger.execute_block(ctx, std::slice::from_ref(tx));
    assert_eq!(outcome.receipts.len(), 1);
    let receipt = outcome.receipts[0].clone();
    assert_eq!(receipt.tx_hash, tx.hash());
    let nonce_key = StateKey::Nonce(tx.body.sender, tx.body.nonce);
    match &receipt.outcome {
        TxOutcome::Rejected { code, .. } => {
            let mut with = outcome.changes.clone();
            let mut without = empty.changes.clone();
            let spent = with.remove(&nonce_key);
            let before = without.remove(&nonce_key);
            assert_eq!(
                with, without,
                "a transaction rejected with {code:?} changed state"
            );
            if is_envelope_rejection(*code) {
                assert_eq!(spent, before, "{code:?} must not spend the nonce");
            } else {
                assert_eq!(
                    spent,
                    Some(Some(StateValue::Nonce(tx.body.expires_at_height))),
                    "{code:?} past the envelope must spend the nonce"
                );
            }
            if spent == before {
                assert_eq!(outcome.state_root, empty.state_root);
            }
        }
        TxOutcome::Committed { .. } => {
            assert_eq!(
                outcome.changes.get(&nonce_key),
                Some(&Some(StateValue::Nonce(tx.body.expires_at_height))),
                "a committed transaction spends its nonce"
            );
            let header = World::header_for(ledger, ctx, &outcome);
            let mut next = ledger.clone();
            next.apply(&header, outcome);
            assert_audit(&next);
        }
    }
    receipt
}

/// Every token's supply invariant holds and the state is consistent.
pub fn assert_audit(ledger: &Ledger) {
    for audit in ledger.audit() {
        assert!(audit.holds(), "supply audit broken: {audit:?}");
    }
    if let Err(e) = ledger.check_consistency() {
        panic!("state inconsistent: {e}");
    }
}
