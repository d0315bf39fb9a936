//! Unit tests of the ledger that need its internals.

use super::*;
use crate::block::{RECEIPT_EVENTS_DECODE_BOUND, TxOutcome, receipts_root, tx_root};
use crate::crypto::Keypair;
use crate::encoding::{BoundedString, BoundedVec};
use crate::reject::RejectCode;
use crate::tx::{PayLeg, Transaction, TxBody, TxKind};

const GENESIS_TIME_MS: u64 = 1_700_000_000_000;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

/// A merchant issuing BEAN, and `alice` holding 10,000 BEAN from genesis.
fn ledger(merchant: &Keypair, alice: &Keypair) -> Ledger {
    let genesis = GenesisState {
        merchants: vec![(
            merchant.public(),
            MerchantInfo {
                name: BoundedString::new("Bean Counter").unwrap(),
                validator: None,
            },
        )],
        tokens: vec![GenesisToken {
            symbol: sym("BEAN"),
            name: BoundedString::new("BEAN points").unwrap(),
            decimals: 2,
            max_supply: 1_000_000,
            expiry_days: None,
            freezable: false,
            clawback: false,
            issuer: merchant.public(),
        }],
        balances: vec![(alice.public(), sym("BEAN"), 10_000)],
        consensus: Default::default(),
    };
    let chain_id = ChainId::new("merit-unit").unwrap();
    Ledger::genesis(chain_id, GENESIS_TIME_MS, &genesis)
        .unwrap()
        .0
}

fn execute(ledger: &Ledger, ctx: &BlockContext, txs: &[Transaction], max: usize) -> BlockOutcome {
    let hashes: Vec<Hash32> = txs.iter().map(Transaction::hash).collect();
    let sig_ok = vec![true; txs.len()];
    ledger.execute_hashed(ctx, txs, &hashes, &sig_ok, max)
}

#[test]
fn a_transaction_over_the_events_bound_changes_nothing_but_its_nonce() {
    let (merchant, alice) = (
        Keypair::insecure_from_label("merchant"),
        Keypair::insecure_from_label("alice"),
    );
    let (bob, carol) = (
        Keypair::insecure_from_label("bob").public(),
        Keypair::insecure_from_label("carol").public(),
    );
    let mut ledger = ledger(&merchant, &alice);
    let legs = vec![
        PayLeg {
            to: bob.into(),
            token: sym("BEAN"),
            amount: 10,
        },
        PayLeg {
            to: carol.into(),
            token: sym("BEAN"),
            amount: 20,
        },
    ];
    let body = TxBody {
        chain_id: ledger.chain_id().clone(),
        sender: alice.public(),
        sub: 0,
        nonce: 7,
        expires_at_height: 10,
        kind: TxKind::Pay {
            order_id: BoundedString::new("order-1").unwrap(),
            legs: BoundedVec::new(legs).unwrap(),
            memo: None,
        },
    };
    let txs = [body.sign(&alice)];
    let ctx = BlockContext {
        height: 1,
        timestamp_ms: GENESIS_TIME_MS + 1_000,
    };

    // Within the receipt's bound the payment commits with three events: it
    // passes every other check and writes balances, a payment and an order.
    let accepted = execute(&ledger, &ctx, &txs, RECEIPT_EVENTS_DECODE_BOUND);
    assert_eq!(accepted.receipts[0].events().len(), 3);
    assert!(accepted.changes.len() > 1);

    // Over the bound the events check, the last one, rejects it.
    let rejected = execute(&ledger, &ctx, &txs, 2);
    assert_eq!(
        rejected.receipts[0].outcome,
        TxOutcome::Rejected {
            code: RejectCode::TooManyLegs,
            original: None,
        }
    );
    // Its only change is its spent nonce ...
    let nonce = StateKey::Nonce(alice.public(), 7);
    let mut expected = execute(&ledger, &ctx, &[], 2).changes;
    expected.insert(nonce.clone(), Some(StateValue::Nonce(10)));
    assert_eq!(rejected.changes, expected);
    // ... so its state root is that of the block without it plus the nonce.
    let root = ledger
        .outcome_from_changes(1, Vec::new(), expected)
        .state_root;
    assert_eq!(rejected.state_root, root);
    assert_ne!(rejected.state_root, accepted.state_root);

    // Installed, the block moved no points and spent the nonce.
    let header = BlockHeader {
        chain_id: ledger.chain_id().clone(),
        height: 1,
        round: 0,
        parent_hash: ledger.tip().hash(),
        timestamp_ms: ctx.timestamp_ms,
        proposer: merchant.public(),
        tx_root: tx_root(&[txs[0].hash()]),
        receipts_root: receipts_root(&rejected.receipts, &rejected.block_events),
        state_root: rejected.state_root,
        validators_hash: ledger.validators_hash_at(1),
        next_validators_hash: ledger.validators_hash_at(2),
    };
    ledger.apply(&header, rejected);
    assert_eq!(ledger.balance(&alice.public(), &sym("BEAN")), 10_000);
    assert_eq!(ledger.balance(&bob, &sym("BEAN")), 0);
    assert_eq!(ledger.balance(&carol, &sym("BEAN")), 0);
    assert!(ledger.state().contains_key(&nonce));
    assert!(ledger.audit().iter().all(SupplyAudit::holds));
    assert_eq!(ledger.state_root(), root);
}

#[test]
#[should_panic(expected = "the writes of a rejected transaction would reach the block")]
fn the_writes_of_a_rejected_transaction_are_never_merged() {
    let base = StateMap::new();
    let mut ov = overlay::Overlay::new(&base);
    ov.put(StateKey::NextOfferId, StateValue::NextOfferId(2));
    ov.commit_accepted(&TxOutcome::Rejected {
        code: RejectCode::TooManyLegs,
        original: None,
    });
}
