//! A small alliance to run blocks against.

use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::ledger::{GenesisState, GenesisToken};
use merit_chain::state::{MerchantInfo, StateKey, StateValue};
use merit_chain::tx::{ChainId, PayLeg, PayLegs, TxBody};
use merit_chain::{
    Address, BlockOutcome, Keypair, Ledger, Receipt, RejectCode, Symbol, Transaction, TxKind,
};

pub const CHAIN: &str = "merit-test";
pub const GENESIS_TIME_MS: u64 = 1_700_000_000_000;

pub fn chain_id() -> ChainId {
    ChainId::new(CHAIN).unwrap()
}

pub fn key(label: &str) -> Keypair {
    Keypair::insecure_from_label(label)
}

pub fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

/// The legs of a payment in one token.
pub fn legs(token: Symbol, legs: &[(Address, u64)]) -> PayLegs {
    BoundedVec::new(
        legs.iter()
            .map(|(to, amount)| PayLeg {
                to: (*to).into(),
                token,
                amount: *amount,
            })
            .collect(),
    )
    .unwrap()
}

/// Two merchants, `m1` issuing BEAN (cap 1,000,000) and `m2` issuing BOOK
/// (cap 500,000); `alice` holds 10,000 BEAN from genesis.
pub struct Alliance {
    pub ledger: Ledger,
    /// The genesis state changes, for storing height 0.
    /// The genesis outcome, which `merit-store`'s persistence tests store.
    #[allow(dead_code)]
    pub genesis: BlockOutcome,
    pub m1: Keypair,
    pub m2: Keypair,
    pub alice: Keypair,
    pub bob: Keypair,
    pub carol: Keypair,
    /// The finance journal since genesis: every block's postings.
    #[allow(dead_code)]
    pub postings: Vec<merit_chain::postings::Posting>,
    /// The last block's own events.
    #[allow(dead_code)]
    pub last_block_events: Vec<merit_chain::block::Event>,
    next_nonce: u64,
}

impl Alliance {
    pub fn new() -> Self {
        let m1 = key("merchant-1");
        let m2 = key("merchant-2");
        let alice = key("alice");
        let token = |s: &str, cap: u64, issuer: &Keypair| GenesisToken {
            symbol: sym(s),
            name: BoundedString::new(format!("{s} points")).unwrap(),
            decimals: 2,
            max_supply: cap,
            expiry_days: None,
            freezable: false,
            clawback: false,
            issuer: issuer.public(),
        };
        let merchant = |k: &Keypair, name: &str| {
            (
                k.public(),
                MerchantInfo {
                    name: BoundedString::new(name).unwrap(),
                    validator: None,
                },
            )
        };
        let genesis = GenesisState {
            merchants: vec![
                merchant(&m1, "Bean Counter"),
                merchant(&m2, "Northwind Books"),
            ],
            tokens: vec![token("BEAN", 1_000_000, &m1), token("BOOK", 500_000, &m2)],
            balances: vec![(alice.public(), sym("BEAN"), 10_000)],
            consensus: Default::default(),
        };
        let (ledger, genesis) = Ledger::genesis(chain_id(), GENESIS_TIME_MS, &genesis).unwrap();
        let postings = merit_chain::postings::genesis_postings(ledger.state(), GENESIS_TIME_MS);
        Alliance {
            postings,
            last_block_events: Vec::new(),
            ledger,
            genesis,
            m1,
            m2,
            alice,
            bob: key("bob"),
            carol: key("carol"),
            next_nonce: 1,
        }
    }

    /// An alliance of the given merchants with no tokens at all.
    pub fn with_merchants(merchants: &[Keypair]) -> Self {
        let genesis = GenesisState {
            merchants: merchants
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    (
                        k.public(),
                        MerchantInfo {
                            name: BoundedString::new(format!("m{i}")).unwrap(),
                            validator: None,
                        },
                    )
                })
                .collect(),
            ..GenesisState::default()
        };
        let (ledger, genesis) = Ledger::genesis(chain_id(), GENESIS_TIME_MS, &genesis).unwrap();
        let k = |i: usize| {
            merchants
                .get(i)
                .cloned()
                .unwrap_or_else(|| key("merchant-1"))
        };
        let postings = merit_chain::postings::genesis_postings(ledger.state(), GENESIS_TIME_MS);
        Alliance {
            postings,
            last_block_events: Vec::new(),
            ledger,
            genesis,
            m1: k(0),
            m2: k(1),
            alice: key("alice"),
            bob: key("bob"),
            carol: key("carol"),
            next_nonce: 1,
        }
    }

    /// A transaction valid for the next block.
    pub fn tx(&mut self, signer: &Keypair, kind: TxKind) -> Transaction {
        self.tx_from(signer, 0, kind)
    }

    /// A transaction valid for the next block, paid by the signer's
    /// sub-account `sub`.
    pub fn tx_from(&mut self, signer: &Keypair, sub: u32, kind: TxKind) -> Transaction {
        self.next_nonce += 1;
        TxBody {
            chain_id: chain_id(),
            sender: signer.public(),
            sub,
            nonce: self.next_nonce,
            expires_at_height: self.ledger.height() + 10,
            kind,
        }
        .sign(signer)
    }

    /// Executes and applies one block, a second after the tip (or at
    /// `GENESIS_TIME_MS + height * 1000`, whichever is later); returns its receipts.
    pub fn block(&mut self, txs: Vec<Transaction>) -> Vec<Receipt> {
        let time = (GENESIS_TIME_MS + (self.ledger.height() + 1) * 1000)
            .max(self.ledger.tip().timestamp_ms + 1000);
        self.block_at(time, txs)
    }

    /// Executes and applies one block with the given block time.
    pub fn block_at(&mut self, time_ms: u64, txs: Vec<Transaction>) -> Vec<Receipt> {
        let (block, outcome) = self.ledger.build_block(0, time_ms, self.m1.public(), txs);
        assert_eq!(block.header.timestamp_ms, time_ms, "block time went back");
        let receipts = outcome.receipts.clone();
        self.postings.extend(merit_chain::postings::block_postings(
            &block.header,
            &block.txs,
            &outcome.receipts,
            &outcome.block_events,
        ));
        self.last_block_events = outcome.block_events.clone();
        // Every block must also pass a replica's independent re-execution.
        let replayed = self.ledger.verify_block(&block).unwrap();
        assert_eq!(replayed.state_root, outcome.state_root);
        self.ledger.apply(&block.header, outcome);
        receipts
    }

    pub fn run(&mut self, tx: Transaction) -> Receipt {
        self.block(vec![tx]).remove(0)
    }

    /// Signs and runs one transaction; returns its rejection code, if any.
    pub fn exec(&mut self, signer: &Keypair, kind: TxKind) -> Option<RejectCode> {
        let tx = self.tx(signer, kind);
        self.run(tx).code()
    }

    /// Signs and runs one transaction in a block at `time_ms`.
    pub fn exec_at(&mut self, time_ms: u64, signer: &Keypair, kind: TxKind) -> Option<RejectCode> {
        let tx = self.tx(signer, kind);
        self.block_at(time_ms, vec![tx]).remove(0).code()
    }

    /// The time of the last block.
    pub fn now(&self) -> u64 {
        self.ledger.tip().timestamp_ms
    }

    /// Every token's supply invariant holds, the state is consistent, and
    /// the journal since genesis adds up to the state.
    pub fn assert_conserved(&self) {
        for audit in self.ledger.audit() {
            assert!(audit.holds(), "{audit:?}");
        }
        self.ledger.check_consistency().unwrap();
        if let Err(e) = self.journal_agrees() {
            panic!("{e}");
        }
    }

    /// The journal since genesis against the ledger: per token, every
    /// transaction's (and every block's own) debits equal its credits;
    /// summing an account's postings gives its balance, and a system
    /// account's the counter it stands for.
    #[allow(dead_code)]
    pub fn journal_agrees(&self) -> Result<(), String> {
        use merit_chain::postings::{PostingAccount as P, Side, net};
        use std::collections::BTreeMap;
        let mut sides: BTreeMap<(u64, Option<merit_chain::Hash32>, Symbol), [u128; 2]> =
            BTreeMap::new();
        for p in &self.postings {
            let s = sides.entry((p.height, p.tx_hash, p.token)).or_default();
            s[usize::from(p.side == Side::Credit)] += u128::from(p.amount);
        }
        if let Some((k, s)) = sides.iter().find(|(_, s)| s[0] != s[1]) {
            return Err(format!("{k:?} debits {} but credits {}", s[0], s[1]));
        }
        let nets = net(&self.postings);
        for ((account, token), n) in &nets {
            let expected = match account {
                P::Account(who, sub) => i128::from(
                    self.ledger
                        .balance(&merit_chain::tx::AccountRef::new(*who, *sub), token),
                ),
                P::Issuance => -i128::from(self.ledger.token(token).map_or(0, |t| t.minted)),
                P::Redemption => i128::from(self.ledger.token(token).map_or(0, |t| t.redeemed)),
                P::Expiry => i128::from(self.ledger.token(token).map_or(0, |t| t.expired)),
                P::OfferLocks => {
                    i128::from(self.ledger.token(token).map_or(0, |t| t.locked_in_offers))
                }
                P::EscrowLocks => {
                    i128::from(self.ledger.token(token).map_or(0, |t| t.locked_in_escrow))
                }
                P::Clawback => i128::from(self.ledger.token(token).map_or(0, |t| t.clawed_back)),
                P::Frozen => i128::from(self.ledger.token(token).map_or(0, |t| t.frozen)),
            };
            if *n != expected {
                return Err(format!(
                    "{account:?} in {token}: the journal sums to {n}, the ledger holds {expected}"
                ));
            }
        }
        // Every balance the ledger holds is in the journal.
        for (key, value) in self.ledger.state() {
            if let (StateKey::Holding(who, sub, token), StateValue::Holding(h)) = (key, value) {
                let n = nets.get(&(P::Account(*who, *sub), *token)).copied();
                let spendable = h.balance - h.frozen;
                if n.unwrap_or(0) != i128::from(spendable) {
                    return Err(format!(
                        "{who} may spend {spendable} {token}, the journal sums to {n:?}"
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn balance(&self, who: &Keypair, token: &str) -> u64 {
        self.ledger.balance(&who.public(), &sym(token))
    }

    pub fn transfer(token: &str, to: &Keypair, amount: u64) -> TxKind {
        TxKind::Transfer {
            token: sym(token),
            to: to.public().into(),
            amount,
            memo: None,
        }
    }
}
