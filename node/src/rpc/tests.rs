//! The wire contract, pinned: every method's answer (and every
//! subscription notification) over a chain that produces every event,
//! every status and every error the RPC can give, compared byte for byte
//! with `golden.txt`.
//!
//! A change that alters what a client receives fails here. When the change
//! is meant (a new field, a new method), run the test with
//! `MERIT_UPDATE_GOLDEN=1` to rewrite the file, and review its diff: it is
//! the change on the wire.

use std::sync::Arc;

use jsonrpsee::RpcModule;
use merit_chain::block::ValidatorSignature;
use merit_chain::consensus::{Statement, Vote, signing_bytes};
use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::governance::GovAction;
use merit_chain::limits::{MAX_TX_BYTES, MS_PER_DAY};
use merit_chain::proof::PROOF_RETENTION_BLOCKS;
use merit_chain::tx::{ChainId, PayLeg, Price, TxBody};
use merit_chain::{
    Address, Block, CommitCertificate, Hash32, Keypair, Ledger, Symbol, Transaction, TxKind,
};
use merit_genesis::DevnetLayout;
use merit_genesis::devnet::{
    DEVNET_GENESIS_TIME_MS, DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT,
};
use merit_store::{MemDisk, Storage};
use serde_json::{Value, json};

use super::{Topic, module, notifications};
use crate::config::MempoolConfig;
use crate::shared::{CommittedBlock, Shared, run_admission};

/// The pinned answers, next to this file.
const GOLDEN_PATH: &str = "src/rpc/golden.txt";
/// Set to rewrite [`GOLDEN_PATH`] from what the node answers now.
const UPDATE_ENV: &str = "MERIT_UPDATE_GOLDEN";
/// A mempool so small that the busy errors are reachable: two
/// transactions, one per sender.
const MEMPOOL_TXS: usize = 2;
const MEMPOOL_PER_SENDER: usize = 1;
/// Buffer of subscription messages per raw request.
const RAW_REQUEST_BUFFER: usize = 16;
/// The last block's time: past the expiry of the genesis lots of MILES
/// (730 days), so lots and an escrow expire in it.
const LAST_BLOCK_TIME_MS: u64 = DEVNET_GENESIS_TIME_MS + 731 * MS_PER_DAY;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).expect("a symbol")
}

fn text<const N: usize, F>(s: &str) -> BoundedString<N, F> {
    BoundedString::new(s).expect("short text")
}

/// Signs transactions on the current tip with fresh nonces.
struct Signer {
    nonce: u64,
}

impl Signer {
    fn sign(&mut self, ledger: &Ledger, key: &Keypair, kind: TxKind) -> Transaction {
        self.sign_from(ledger, key, 0, kind)
    }

    /// Signed by `key`, paid by its sub-account `sub`.
    fn sign_from(&mut self, ledger: &Ledger, key: &Keypair, sub: u32, kind: TxKind) -> Transaction {
        self.nonce += 1;
        TxBody {
            chain_id: ledger.chain_id().clone(),
            sender: key.public(),
            sub,
            nonce: self.nonce,
            expires_at_height: ledger.height() + 100,
            kind,
        }
        .sign(key)
    }
}

/// Executes `txs` in the next block at `time_ms`, certified by three
/// validators, stores it (without its certificate unless `certified`) and
/// applies it.
fn commit(
    layout: &DevnetLayout,
    ledger: &mut Ledger,
    storage: &dyn Storage,
    time_ms: u64,
    txs: Vec<Transaction>,
    certified: bool,
) -> Block {
    let proposer = layout.merchants[((ledger.height() + 1) % 4) as usize]
        .validator
        .public();
    let (block, outcome) = ledger.build_block(0, time_ms, proposer, txs);
    let vote = Vote {
        height: block.header.height,
        round: 0,
        block_hash: block.hash(),
    };
    let bytes = signing_bytes(ledger.chain_id(), &Statement::Commit(vote));
    let signatures = layout.merchants[..3]
        .iter()
        .map(|m| ValidatorSignature {
            validator: m.validator.public(),
            signature: m.validator.sign(&bytes),
        })
        .collect();
    let cert = CommitCertificate {
        height: vote.height,
        round: 0,
        block_hash: vote.block_hash,
        signatures: BoundedVec::new(signatures).expect("three signatures"),
    };
    storage
        .commit_block(&block, certified.then_some(&cert), &outcome)
        .expect("store a block");
    ledger.apply(&block.header, outcome);
    block
}

/// What the chain holds, for building requests.
struct Facts {
    addresses: Vec<String>,
    tokens: Vec<String>,
    txs: Vec<Hash32>,
    escrows: Vec<Hash32>,
    /// Valid on the tip and submitted nowhere: alice, alice, bob, carol.
    fresh: Vec<Transaction>,
    /// Valid but signed for another chain.
    foreign: Transaction,
    /// Refused at submission, each naming the field and the bound it is
    /// over: a memo one byte too long (it does not decode), a payment with
    /// too many legs, an expiry too far ahead and one already past, and a
    /// nonce already used.
    over_bounds: Vec<Vec<u8>>,
}

/// `bytes` with the sequence `content` (after its `u64` length) one byte
/// longer: a field one over its bound, which no encoder here can write.
fn grown(bytes: &[u8], content: &[u8]) -> Vec<u8> {
    let mut prefixed = (content.len() as u64).to_le_bytes().to_vec();
    prefixed.extend_from_slice(content);
    let at = bytes
        .windows(prefixed.len())
        .position(|w| w == prefixed.as_slice())
        .expect("the sequence is in the bytes");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&(content.len() as u64 + 1).to_le_bytes());
    out.extend_from_slice(content);
    out.push(content[0]);
    out.extend_from_slice(&bytes[at + prefixed.len()..]);
    out
}

/// Four blocks on the devnet genesis with every kind of transaction and
/// every event, a rejection, a duplicate order id, a resting offer, open,
/// released, refunded and expired escrows and expiring lots.
fn build_chain(layout: &DevnetLayout, ledger: &mut Ledger, storage: &dyn Storage) -> Facts {
    let shopper = |n: &str| layout.shopper(n).expect("a devnet shopper").clone();
    let (alice, bob, carol) = (shopper("alice"), shopper("bob"), shopper("carol"));
    let coffee = layout.merchants[0].account.clone();
    let mut s = Signer { nonce: 100 };
    let transfer = |token: &str, to: &Keypair, amount: u64, memo: Option<&str>| TxKind::Transfer {
        token: sym(token),
        to: to.public().into(),
        amount,
        memo: memo.map(text),
    };
    let escrow = |token: &str, to: &Keypair, amount: u64, deadline_ms: u64, order: Option<&str>| {
        TxKind::EscrowCreate {
            token: sym(token),
            to: to.public().into(),
            amount,
            deadline_ms,
            order_id: order.map(text),
        }
    };
    let pay = |order: &str| TxKind::Pay {
        order_id: text(order),
        legs: BoundedVec::new(vec![
            PayLeg {
                to: coffee.public().into(),
                token: sym("BEAN"),
                amount: 450,
            },
            PayLeg {
                to: carol.public().into(),
                token: sym("BEAN"),
                amount: 50,
            },
        ])
        .expect("two legs"),
        memo: Some(text("table 4")),
    };
    let mut txs = Vec::new();
    let mut escrows = Vec::new();

    let t1 = DEVNET_GENESIS_TIME_MS + 1_000;
    let payment = s.sign(ledger, &alice, pay("order-1"));
    let b1 = vec![
        s.sign(
            ledger,
            &coffee,
            TxKind::CreateToken {
                symbol: sym("CUPS"),
                name: text("Bean Counter Cups"),
                decimals: 0,
                max_supply: 1_000_000,
                expiry_days: Some(30),
                freezable: false,
                clawback: false,
            },
        ),
        s.sign(
            ledger,
            &alice,
            transfer("BEAN", &bob, 1_000, Some("thanks")),
        ),
        payment.clone(),
        s.sign(
            ledger,
            &bob,
            TxKind::Redeem {
                token: sym("BOOK"),
                amount: 100,
                memo: None,
            },
        ),
        s.sign(ledger, &carol, transfer("MILES", &alice, 2_500, None)),
    ];
    txs.extend(b1.iter().map(Transaction::hash));
    commit(layout, ledger, storage, t1, b1, true);

    let t2 = t1 + 1_000;
    let b2 = vec![
        s.sign(
            ledger,
            &coffee,
            TxKind::Mint {
                token: sym("CUPS"),
                to: alice.public().into(),
                amount: 500,
            },
        ),
        s.sign(
            ledger,
            &carol,
            TxKind::Refund {
                payment: payment.hash(),
                token: sym("BEAN"),
                amount: 20,
            },
        ),
        // Rejected: the order id is taken by the first payment.
        s.sign(ledger, &alice, pay("order-1")),
        s.sign(
            ledger,
            &alice,
            TxKind::PlaceOffer {
                sell: sym("BEAN"),
                buy: sym("BOOK"),
                amount: 1_000,
                price: Price::new(1, 1),
            },
        ),
        s.sign(
            ledger,
            &bob,
            TxKind::PlaceOffer {
                sell: sym("BOOK"),
                buy: sym("BEAN"),
                amount: 400,
                price: Price::new(1, 1),
            },
        ),
        s.sign(
            ledger,
            &carol,
            escrow("MILES", &alice, 100, t2 + MS_PER_DAY, Some("trip-1")),
        ),
        s.sign(
            ledger,
            &alice,
            escrow("FUEL", &bob, 700, t2 + MS_PER_DAY, None),
        ),
        s.sign(
            ledger,
            &alice,
            escrow("BEAN", &carol, 300, t2 + MS_PER_DAY, None),
        ),
        // Rejected: bob holds far less.
        s.sign(ledger, &bob, transfer("FUEL", &carol, 1_000_000_000, None)),
    ];
    txs.extend(b2.iter().map(Transaction::hash));
    escrows.extend(b2[5..8].iter().map(Transaction::hash));
    commit(layout, ledger, storage, t2, b2, true);

    let t3 = t2 + 1_000;
    let b3 = vec![
        s.sign(ledger, &alice, TxKind::CancelOffer { offer_id: 1 }),
        s.sign(ledger, &alice, TxKind::EscrowRelease { id: escrows[2] }),
        s.sign(ledger, &bob, TxKind::EscrowRefund { id: escrows[1] }),
        s.sign(
            ledger,
            &alice,
            TxKind::PlaceOffer {
                sell: sym("FUEL"),
                buy: sym("BOOK"),
                amount: 300,
                price: Price::new(2, 3),
            },
        ),
        s.sign(
            ledger,
            &carol,
            TxKind::PlaceOffer {
                sell: sym("BOOK"),
                buy: sym("FUEL"),
                amount: 50,
                price: Price::new(5, 1),
            },
        ),
        s.sign(
            ledger,
            &carol,
            escrow("MILES", &bob, 200, t3 + MS_PER_DAY, Some("trip-2")),
        ),
        // Bob's sub-account bob/1: opened, paid into, and paying out.
        s.sign(
            ledger,
            &bob,
            TxKind::OpenSubAccount {
                label: text("Kiosk"),
            },
        ),
        s.sign(
            ledger,
            &alice,
            TxKind::Transfer {
                token: sym("BEAN"),
                to: merit_chain::tx::AccountRef::new(bob.public(), 1),
                amount: 300,
                memo: None,
            },
        ),
        s.sign_from(ledger, &bob, 1, transfer("BEAN", &carol, 100, None)),
    ];
    txs.extend(b3.iter().map(Transaction::hash));
    escrows.extend(b3[5..6].iter().map(Transaction::hash));
    // Stored without its certificate: `certificate` is null.
    commit(layout, ledger, storage, t3, b3, false);

    let t4 = LAST_BLOCK_TIME_MS;
    let b4 = vec![
        s.sign(
            ledger,
            &coffee,
            TxKind::Mint {
                token: sym("CUPS"),
                to: bob.public().into(),
                amount: 40,
            },
        ),
        s.sign(
            ledger,
            &alice,
            escrow("BEAN", &bob, 250, t4 + MS_PER_DAY, Some("order-9")),
        ),
        s.sign(ledger, &bob, transfer("BEAN", &carol, 1, None)),
    ];
    // Governance: proposal 1 passes with three of four votes, proposal 2
    // stays open with one approval and one no.
    let merchant = |i: usize| layout.merchants[i].account.clone();
    let params = ledger.consensus_params();
    let mut b4 = b4;
    b4.push(s.sign(
        ledger,
        &merchant(0),
        TxKind::Propose {
            action: GovAction::SetConsensusParams {
                timeout_base_ms: params.timeout_base_ms * 2,
                timeout_max_ms: params.timeout_max_ms,
                precision_ms: params.precision_ms,
                message_delay_ms: params.message_delay_ms,
            },
            voting_ends_height: 100,
        },
    ));
    b4.push(s.sign(
        ledger,
        &merchant(1),
        TxKind::Propose {
            action: GovAction::RemoveMerchant {
                account: merchant(3).public(),
            },
            voting_ends_height: 200,
        },
    ));
    for (i, proposal, approve) in [
        (0, 1, true),
        (1, 1, true),
        (2, 1, true),
        (1, 2, true),
        (2, 2, false),
    ] {
        b4.push(s.sign(ledger, &merchant(i), TxKind::Vote { proposal, approve }));
    }
    txs.extend(b4.iter().map(Transaction::hash));
    escrows.extend(b4[1..2].iter().map(Transaction::hash));
    commit(layout, ledger, storage, t4, b4, true);

    // Validator 2 signed two blocks at (3, 1): evidence this node kept.
    let faulty = &layout.merchants[2].validator;
    let prepare = |b: u8| {
        merit_chain::consensus::SignedStatement::sign(
            ledger.chain_id(),
            faulty,
            Statement::Prepare(Vote {
                height: 3,
                round: 1,
                block_hash: Hash32([b; 32]),
            }),
        )
    };
    let evidence =
        merit_chain::consensus::Evidence::of(prepare(1), prepare(2)).expect("conflicting votes");
    storage.save_evidence(&evidence).expect("stored");

    let fresh = vec![
        s.sign(ledger, &alice, transfer("BEAN", &carol, 25, None)),
        s.sign(ledger, &alice, transfer("BEAN", &bob, 1, None)),
        s.sign(ledger, &bob, transfer("BOOK", &alice, 1, None)),
        s.sign(ledger, &carol, transfer("FUEL", &alice, 1, None)),
    ];
    let foreign = TxBody {
        chain_id: ChainId::new("another-chain".to_string()).expect("a chain id"),
        sender: alice.public(),
        sub: 0,
        nonce: 1,
        expires_at_height: ledger.height() + 100,
        kind: transfer("BEAN", &bob, 1, None),
    }
    .sign(&alice);
    let at = |nonce: u64, expires_at_height: u64, kind: TxKind| {
        TxBody {
            chain_id: ledger.chain_id().clone(),
            sender: alice.public(),
            sub: 0,
            nonce,
            expires_at_height,
            kind,
        }
        .sign(&alice)
    };
    let memo = "m".repeat(merit_chain::limits::MAX_MEMO_BYTES);
    let long_memo = at(
        1,
        ledger.height() + 100,
        transfer("BEAN", &bob, 1, Some(&memo)),
    );
    let legs: Vec<PayLeg> = (0..=merit_chain::limits::MAX_PAY_LEGS)
        .map(|_| PayLeg {
            to: bob.public().into(),
            token: sym("BEAN"),
            amount: 1,
        })
        .collect();
    let many_legs = TxKind::Pay {
        order_id: text("order-51"),
        legs: BoundedVec::new(legs).expect("fewer than the decoding bound"),
        memo: None,
    };
    let next = ledger.height() + 1;
    let over_bounds = vec![
        grown(&long_memo.to_bytes(), memo.as_bytes()),
        at(2, ledger.height() + 100, many_legs).to_bytes(),
        at(
            3,
            next + merit_chain::limits::MAX_TX_TTL_BLOCKS + 1,
            transfer("BEAN", &bob, 1, None),
        )
        .to_bytes(),
        at(4, next, transfer("BEAN", &bob, 1, None)).to_bytes(),
        // alice's first nonce, spent by her payment in block 1.
        at(
            payment.body.nonce,
            ledger.height() + 100,
            transfer("BEAN", &bob, 1, None),
        )
        .to_bytes(),
    ];

    let nobody: Address = Keypair::insecure_from_label("merit-rpc-tests/nobody").public();
    let mut addresses: Vec<String> = [&alice, &bob, &carol]
        .iter()
        .map(|k| k.public().to_bech32())
        .collect();
    addresses.extend(
        layout
            .merchants
            .iter()
            .map(|m| m.account.public().to_bech32()),
    );
    addresses.push(nobody.to_bech32());
    let mut tokens: Vec<String> = layout
        .merchants
        .iter()
        .map(|m| m.token.to_string())
        .collect();
    tokens.push("CUPS".to_string());
    Facts {
        addresses,
        tokens,
        txs,
        escrows,
        fresh,
        foreign,
        over_bounds,
    }
}

/// The node state over the chain, with admission running on `runtime`.
fn serve(runtime: &tokio::runtime::Runtime) -> (Arc<Shared>, RpcModule<Arc<Shared>>, Facts) {
    serve_with(runtime, build_chain)
}

/// A node over the devnet genesis and the chain `build` commits, and its
/// RPC module.
fn serve_with<F>(
    runtime: &tokio::runtime::Runtime,
    build: impl FnOnce(&DevnetLayout, &mut Ledger, &dyn Storage) -> F,
) -> (Arc<Shared>, RpcModule<Arc<Shared>>, F) {
    let layout =
        merit_genesis::devnet(DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT);
    let genesis = layout.validate().expect("the devnet genesis is valid");
    let storage = Arc::new(MemDisk::new().open_store());
    let mut ledger = crate::node::open_ledger(&genesis, storage.as_ref()).expect("open the store");
    let facts = build(&layout, &mut ledger, storage.as_ref());
    let limits = MempoolConfig {
        max_txs: MEMPOOL_TXS,
        max_per_sender: MEMPOOL_PER_SENDER,
    };
    let keys = vec![genesis.validators()[0]];
    let (shared, admission) =
        Shared::new(genesis, storage, ledger, keys, limits).expect("the node state");
    let shared = Arc::new(shared);
    let (net, mut gossip) = tokio::sync::mpsc::channel(1_024);
    runtime.spawn(run_admission(shared.clone(), admission, net));
    // Gossip goes nowhere.
    runtime.spawn(async move { while gossip.recv().await.is_some() {} });
    let module = module(shared.clone()).expect("the RPC module");
    (shared, module, facts)
}

/// Every call, in the order that matters for the mempool: queries first,
/// then submissions, then what the submissions left pending.
fn calls(f: &Facts) -> Vec<(&'static str, Value)> {
    let mut c: Vec<(&'static str, Value)> = Vec::new();
    let unknown_hash = "00".repeat(32);
    for m in [
        "rpc.discover",
        "merit_health",
        "merit_status",
        "merit_listTokens",
        "merit_validators",
        "merit_getEvidence",
        "merit_listProposals",
    ] {
        c.push((m, json!([])));
    }
    for e in [
        json!([{"from_height": 3, "limit": 1}]),
        json!([{"from_height": 4}]),
        json!([{"limit": 0}]),
        json!([{"limit": 1001}]),
        json!([{"from": 1}]),
        json!([3]),
    ] {
        c.push(("merit_getEvidence", e));
    }
    for v in [
        json!([{"height": 1}]),
        json!([{"height": 12}]),
        json!([{"height": 13}]),
        json!([{"height": 0}]),
        json!([{"at": 1}]),
        json!([1]),
    ] {
        c.push(("merit_validators", v));
    }
    for v in [json!([0]), json!([2]), json!([]), json!(["1"])] {
        c.push(("merit_getValidatorChanges", v));
    }
    for p in [json!([1]), json!([2]), json!([3]), json!([]), json!([-1])] {
        c.push(("merit_getProposal", p));
    }
    for p in [
        json!([]),
        json!([{"status": "open"}]),
        json!([{"status": "passed"}]),
        json!([{"status": "expired"}]),
        json!([{"status": "closed"}]),
        json!([{"state": "open"}]),
    ] {
        c.push(("merit_listProposals", p));
    }
    for h in &f.txs {
        c.push(("merit_getTransaction", json!([h.to_hex()])));
    }
    c.push(("merit_getTransaction", json!([unknown_hash])));
    c.push(("merit_getTransaction", json!(["xyz"])));
    c.push(("merit_getTransaction", json!([7])));
    c.push(("merit_getTransaction", json!([])));
    for a in &f.addresses {
        c.push(("merit_getAccount", json!([a])));
    }
    c.push(("merit_getAccount", json!(["bad"])));
    c.push(("merit_getAccount", json!([null])));
    for t in &f.tokens {
        c.push(("merit_getToken", json!([t])));
    }
    c.push(("merit_getToken", json!(["NOPE"])));
    c.push(("merit_getToken", json!(["bad symbol!"])));
    c.push(("merit_getToken", json!([5])));
    for h in 0..=5 {
        c.push(("merit_getBlock", json!([h])));
    }
    for which in [
        json!(["latest"]),
        json!([-1]),
        json!([1.5]),
        json!(["earliest"]),
        json!([null]),
        json!([]),
    ] {
        c.push(("merit_getBlock", which));
    }
    for book in [
        json!(["BEAN", "BOOK"]),
        json!(["BOOK", "BEAN"]),
        json!(["FUEL", "BOOK"]),
        json!(["BOOK", "FUEL"]),
        json!(["BOOK", "FUEL", 1]),
        json!(["BOOK", "FUEL", 100]),
        json!(["BOOK", "FUEL", null]),
        json!(["BOOK", "FUEL", 0]),
        json!(["BOOK", "FUEL", 101]),
        json!(["BEAN", "BEAN"]),
        json!(["BEAN", "NOPE"]),
        json!(["BEAN"]),
    ] {
        c.push(("merit_getOrderBook", book));
    }
    for paths in [
        json!(["BOOK", "FUEL", "1"]),
        json!(["FUEL", "BOOK", "0.1"]),
        json!(["BOOK", "FUEL", "3.01"]),
        json!(["BEAN", "FUEL", "1"]),
        json!(["BOOK", "BOOK", "1"]),
        json!(["BOOK", "NOPE", "1"]),
        json!(["BOOK", "FUEL", "0"]),
        json!(["BOOK", "FUEL", "1.5.5"]),
        json!(["BOOK", "FUEL", 10]),
        json!(["BOOK", "FUEL"]),
    ] {
        c.push(("merit_findPaths", paths));
    }
    for a in &f.addresses {
        c.push(("merit_getHistory", json!([a])));
    }
    for h in [
        json!([f.addresses[0], null, 3]),
        json!([f.addresses[0], "3:0", 3]),
        json!([f.addresses[0], "2:3", 3]),
        json!([f.addresses[0], "2:0", 3]),
        json!([f.addresses[0], "1:0", 3]),
        json!([f.addresses[0], null, 1000]),
        json!([f.addresses[0], null, 0]),
        json!([f.addresses[0], null, 1001]),
        json!([f.addresses[0], "x", 3]),
        json!([f.addresses[0], "1:", 3]),
        json!([f.addresses[0], "1:2:3", 3]),
        // What `merit history` asks, page by page.
        json!([f.addresses[0], {"limit": 3}]),
        json!([f.addresses[0], {"cursor": "3:0", "limit": 3}]),
        json!([f.addresses[0], {"cursor": "1:0", "limit": 3}]),
        json!([f.addresses[0], {"token": "BEAN", "limit": 2}]),
        json!([f.addresses[0], {"token": "BEAN", "cursor": "3:0"}]),
        json!([f.addresses[0], {"token": "NOPE!"}]),
        json!([f.addresses[0], {"sub": 1}]),
        json!([format!("{}/1", f.addresses[1])]),
        json!([format!("{}/1", f.addresses[1]), {"sub": 2}]),
        json!([f.addresses[0], {"color": "blue"}]),
        json!(["bad"]),
    ] {
        c.push(("merit_getHistory", h));
    }
    // Proofs: every holding of an account, chosen tokens (one it does not
    // hold, one repeated), a token, a transaction, and bad params.
    for a in &f.addresses {
        c.push(("merit_getProof", json!([a])));
    }
    for p in [
        json!([f.addresses[0], {"tokens": ["BEAN", "MILES", "BEAN"]}]),
        json!([f.addresses[0], {"tokens": []}]),
        json!([f.addresses[0], {"height": 5}]),
        json!([f.addresses[0], {"height": 1}]),
        json!([f.addresses[0], {"tokens": ["bad symbol!"]}]),
        json!([f.addresses[0], {"block": 1}]),
        json!(["bad"]),
        json!([]),
        json!([f.addresses[1], {"sub_accounts": true}]),
        json!([f.addresses[0], {"sub_accounts": true}]),
        json!([f.addresses[1], {"sub_accounts": true, "tokens": ["BEAN"]}]),
        json!([format!("{}/1", f.addresses[1]), {"tokens": ["BEAN"]}]),
        json!([format!("{}/1", f.addresses[1]), {"sub_accounts": true}]),
    ] {
        c.push(("merit_getProof", p));
    }
    // Sub-accounts: bob opened one; ADDRESS/N everywhere an account is named.
    for p in [
        json!([f.addresses[1]]),
        json!([f.addresses[0]]),
        json!([format!("{}/1", f.addresses[1])]),
        json!(["bad"]),
    ] {
        c.push(("merit_getSubAccounts", p));
    }
    for p in [
        json!([format!("{}/1", f.addresses[1])]),
        json!([format!("{}/2", f.addresses[1])]),
        json!([format!("{}/x", f.addresses[1])]),
        json!([format!("{}/0", f.addresses[1])]),
    ] {
        c.push(("merit_getAccount", p));
    }
    for p in [
        json!(["BEAN"]),
        json!(["NOPE"]),
        json!(["BEAN", {"height": 5}]),
        json!(["BEAN", {"height": 2}]),
        json!(["BEAN", {"tokens": ["BEAN"]}]),
        json!(["bad symbol!"]),
    ] {
        c.push(("merit_getTokenProof", p));
    }
    for p in [
        json!([f.addresses[0], 1]),
        json!([f.addresses[0], 1, {"height": 1}]),
        json!([f.addresses[0], 1, {"height": 0}]),
        json!([f.addresses[0], 999_999]),
        json!([f.addresses[0], -1]),
        json!([f.addresses[0], 1, {"tokens": ["BEAN"]}]),
        json!([f.addresses[0]]),
    ] {
        c.push(("merit_getNonceProof", p));
    }
    // The first UTC day of the chain, the day of the last block (still
    // open), a token filter, and bad periods.
    let day = 1_767_225_600_000u64;
    for p in [
        json!([f.addresses[0], {"from_ms": day, "to_ms": day + 86_400_000}]),
        json!([f.addresses[1], {"from_ms": day, "to_ms": day + 86_400_000, "token": "MILES"}]),
        json!([format!("{}/1", f.addresses[1]), {"from_ms": day, "to_ms": day + 86_400_000}]),
        json!([f.addresses[0], {"from_ms": LAST_BLOCK_TIME_MS - 1, "to_ms": LAST_BLOCK_TIME_MS + 86_400_000}]),
        json!([f.addresses[0], {"from_ms": day, "to_ms": day}]),
        json!([f.addresses[0], {"from_ms": day}]),
        json!([f.addresses[0], {"from_ms": day, "to_ms": day + 1, "color": 1}]),
        json!([f.addresses[0]]),
    ] {
        c.push(("merit_getStatement", p));
    }
    c.push(("merit_getDayEnds", json!([])));
    c.push(("merit_getDayEnds", json!([1])));
    for h in &f.txs {
        c.push(("merit_getTxProof", json!([h.to_hex()])));
    }
    c.push(("merit_getTxProof", json!([unknown_hash])));
    c.push(("merit_getTxProof", json!(["xyz"])));
    for b in [
        json!([1, {"full": true}]),
        json!(["latest", {"full": false}]),
        json!([1, {"full": 1}]),
        json!([1, {"fully": true}]),
    ] {
        c.push(("merit_getBlock", b));
    }
    for e in &f.escrows {
        c.push(("merit_getEscrow", json!([e.to_hex()])));
    }
    c.push(("merit_getEscrow", json!([unknown_hash])));
    c.push(("merit_getEscrow", json!(["bad"])));
    for a in [
        json!([]),
        json!(["BEAN"]),
        json!(["CUPS"]),
        json!(["NOPE"]),
        json!([null]),
    ] {
        c.push(("merit_audit", a));
    }
    for s in [
        json!(["nope"]),
        json!(["account", "bad"]),
        json!(["account"]),
        json!([]),
        // A subscription's id is random: only refusals are pinned here.
        json!(["newBlocks", {"from": 3}]),
        json!(["account", "mrt1x", {"from_height": 1}]),
    ] {
        c.push(("merit_subscribe", s));
    }
    let hex_of = |t: &Transaction| hex::encode(t.to_bytes());
    for tx in &f.fresh {
        c.push(("merit_sendTransaction", json!([hex_of(tx)])));
    }
    c.push((
        "merit_sendTransaction",
        json!([format!("0x{}", hex_of(&f.fresh[0]))]),
    ));
    c.push(("merit_sendTransaction", json!([hex_of(&f.foreign)])));
    c.push(("merit_sendTransaction", json!(["00ff"])));
    c.push(("merit_sendTransaction", json!(["zz"])));
    c.push((
        "merit_sendTransaction",
        json!(["00".repeat(MAX_TX_BYTES + 1)]),
    ));
    c.push(("merit_sendTransaction", json!([123])));
    for bytes in &f.over_bounds {
        c.push(("merit_sendTransaction", json!([hex::encode(bytes)])));
    }
    // Params of the wrong shape or count, for methods with params and
    // without.
    c.push(("merit_status", json!([1])));
    c.push(("rpc.discover", json!([1])));
    c.push(("rpc.discover", json!({})));
    c.push(("merit_getAccount", json!([f.addresses[0], f.addresses[1]])));
    c.push(("merit_getAccount", json!({"address": f.addresses[0]})));
    c.push(("merit_getHistory", json!([f.addresses[0], null, "ten"])));
    c.push(("merit_subscribe", json!(["newBlocks", f.addresses[0]])));
    for tx in &f.fresh {
        c.push(("merit_getTransaction", json!([tx.hash().to_hex()])));
    }
    c.push(("merit_status", json!([])));
    c
}

/// One request and its answer, or one notification, as two lines.
fn entry(out: &mut String, request: &str, answer: &str) {
    out.push_str("> ");
    out.push_str(request);
    out.push_str("\n< ");
    out.push_str(answer);
    out.push_str("\n\n");
}

/// What the node answers now, in the golden file's format.
fn answers() -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (shared, module, facts) = serve(&runtime);
    let mut out = String::new();
    for (method, params) in calls(&facts) {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let request = request.to_string();
        let (answer, _) = runtime
            .block_on(module.raw_json_request(&request, RAW_REQUEST_BUFFER))
            .expect("a response");
        entry(&mut out, &request, answer.get());
    }
    let height = shared.read_ledger().height();
    let mut topics = vec![("newBlocks".to_string(), Topic::Blocks)];
    for a in &facts.addresses {
        let address = Address::from_bech32(a).expect("an address");
        topics.push((format!("account {a}"), Topic::Account(address)));
    }
    for h in 1..=height {
        let block = shared.storage.block(h).expect("read").expect("a block");
        let receipts = shared.storage.receipts(h).expect("read").expect("receipts");
        let committed = CommittedBlock {
            block,
            receipts,
            certificate: None,
        };
        for (name, topic) in &topics {
            for msg in notifications(&shared, topic, &committed) {
                let raw = serde_json::value::to_raw_value(&msg).expect("a notification");
                entry(&mut out, &format!("notify {name} at {h}"), raw.get());
            }
        }
    }
    out
}

#[test]
fn every_answer_on_the_wire_is_pinned() {
    let got = answers();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN_PATH);
    if std::env::var_os(UPDATE_ENV).is_some() {
        std::fs::write(&path, &got).expect("write the golden file");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with {UPDATE_ENV}=1", path.display()));
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        assert_eq!(w, g, "line {} of {} differs", i + 1, path.display());
    }
    assert_eq!(
        want.lines().count(),
        got.lines().count(),
        "{} has another number of answers",
        path.display()
    );
}

#[test]
fn the_node_serves_every_method_of_the_contract() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (_, module, _) = serve(&runtime);
    let mut served: Vec<&str> = module.method_names().collect();
    let mut contract: Vec<&str> = merit_api::method::ALL.iter().map(|m| m.name).collect();
    served.sort_unstable();
    contract.sort_unstable();
    assert_eq!(served, contract);
}

/// One call through the module; the answer as JSON.
fn call(
    runtime: &tokio::runtime::Runtime,
    module: &RpcModule<Arc<Shared>>,
    method: &str,
    params: &Value,
) -> Value {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (answer, _) = runtime
        .block_on(module.raw_json_request(&request.to_string(), RAW_REQUEST_BUFFER))
        .expect("a response");
    serde_json::from_str(answer.get()).expect("JSON")
}

/// `rpc.discover` lists exactly the methods the server registers, and
/// each handler reads its params by the names the document gives them: a
/// call with one param too many is refused with the method's signature,
/// which must be the document's params in order.
#[test]
fn the_discovery_document_is_the_servers_own_method_list_and_param_names() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (_, module, _) = serve(&runtime);
    let doc = call(
        &runtime,
        &module,
        merit_api::method::RPC_DISCOVER,
        &json!([]),
    );
    let doc = &doc["result"];
    assert!(
        doc["openrpc"].as_str().is_some_and(|v| v.starts_with("1.")),
        "{doc}"
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let methods = doc["methods"].as_array().expect("methods");
    let mut listed: Vec<&str> = methods.iter().filter_map(|m| m["name"].as_str()).collect();
    let mut served: Vec<&str> = module.method_names().collect();
    listed.sort_unstable();
    served.sort_unstable();
    assert_eq!(listed, served);
    assert!(served.contains(&merit_api::method::RPC_DISCOVER));
    assert!(served.contains(&merit_api::method::SUBSCRIBE));

    for m in methods {
        let name = m["name"].as_str().expect("a name");
        assert!(
            m["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name} has no summary"
        );
        assert!(m["result"]["schema"].is_object(), "{name}: {m}");
        let params = m["params"].as_array().expect("params");
        let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
        for p in params {
            assert!(p["required"].is_boolean(), "{name}: {p}");
            assert!(p["schema"].is_object(), "{name}: {p}");
        }
        // jsonrpsee reads an unsubscription's params itself.
        if name == merit_api::method::UNSUBSCRIBE {
            continue;
        }
        // A null, then objects: the form of each method that takes an
        // options object second (`merit_getHistory`, `merit_subscribe` to
        // an account) is the one the document describes.
        let mut too_many = vec![Value::Null];
        too_many.resize(names.len() + 1, json!({}));
        let answer = call(&runtime, &module, name, &Value::Array(too_many));
        let reason = answer["error"]["data"]["reason"].as_str().unwrap_or("");
        let want = if names.is_empty() {
            format!("{name} takes no params, got 1")
        } else {
            format!(
                "{} params given, at most {}: {name}({})",
                names.len() + 1,
                names.len(),
                names.join(", ")
            )
        };
        assert_eq!(reason, want, "{answer}");
    }
}

/// Every -32602 answer carries `data` as `{reason}`, and its message is the
/// prefix and the reason.
fn assert_reason(request: &str, answer: &Value) {
    if answer["error"]["code"] != merit_api::error::INVALID_PARAMS {
        return;
    }
    let reason = answer["error"]["data"]["reason"].as_str().unwrap_or("");
    assert!(!reason.is_empty(), "{request}: no reason: {answer}");
    assert_eq!(
        answer["error"]["data"].as_object().map(|o| o.len()),
        Some(1),
        "{request}: {answer}"
    );
    assert_eq!(
        answer["error"]["message"],
        format!("{}{reason}", merit_api::error::INVALID_PARAMS_PREFIX),
        "{request}"
    );
}

#[test]
fn every_invalid_params_error_carries_a_reason() {
    // Every pinned answer.
    let pinned = answers();
    let mut lines = pinned.lines();
    let mut seen = 0;
    while let Some(line) = lines.next() {
        let Some(request) = line.strip_prefix("> ") else {
            continue;
        };
        let answer = lines
            .next()
            .and_then(|l| l.strip_prefix("< "))
            .expect("an answer");
        let answer: Value = serde_json::from_str(answer).expect("JSON");
        if answer["error"]["code"] == merit_api::error::INVALID_PARAMS {
            seen += 1;
        }
        assert_reason(request, &answer);
    }
    assert!(seen > 30, "only {seen} pinned -32602 answers");
    // And every method, however its params are wrong, as jsonrpsee would
    // refuse them itself if the node let it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (_, module, _) = serve(&runtime);
    let shapes = [
        json!([{"no such option": 1}]),
        json!([["x", "y", "z"]]),
        json!([1.5, true]),
        json!([null, null, null, null, null, null]),
        json!({"x": 1}),
        json!(5),
        json!("x"),
    ];
    let mut methods: Vec<&str> = module.method_names().collect();
    methods.sort_unstable();
    for method in methods {
        // jsonrpsee answers an unsubscription it cannot parse with `false`.
        if method == merit_api::method::UNSUBSCRIBE {
            continue;
        }
        for params in &shapes {
            let request =
                json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
            let (answer, _) = runtime
                .block_on(module.raw_json_request(&request, RAW_REQUEST_BUFFER))
                .expect("a response");
            let answer: Value = serde_json::from_str(answer.get()).expect("JSON");
            assert_eq!(
                answer["error"]["code"],
                merit_api::error::INVALID_PARAMS,
                "{request}: {answer}"
            );
            assert_reason(&request, &answer);
        }
    }
}

/// A client that trusts only the genesis set follows a change of the set
/// with what `merit_getValidatorChanges` returns: the old set certified the
/// boundary header, and that header names the new set's hash.
#[test]
fn a_validator_change_is_proved_from_the_set_before() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let layout =
        merit_genesis::devnet(DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT);
    let genesis = layout.validate().expect("the devnet genesis is valid");
    let storage = Arc::new(MemDisk::new().open_store());
    let mut ledger = crate::node::open_ledger(&genesis, storage.as_ref()).expect("open the store");
    let mut s = Signer { nonce: 0 };
    let merchant = |i: usize| layout.merchants[i].account.clone();
    let leaving = merchant(3).public();
    let mut b1 = vec![s.sign(
        &ledger,
        &merchant(0),
        TxKind::Propose {
            action: GovAction::RemoveMerchant { account: leaving },
            voting_ends_height: 50,
        },
    )];
    for i in 0..3 {
        b1.push(s.sign(
            &ledger,
            &merchant(i),
            TxKind::Vote {
                proposal: 1,
                approve: true,
            },
        ));
    }
    let mut time = DEVNET_GENESIS_TIME_MS + 1_000;
    commit(&layout, &mut ledger, storage.as_ref(), time, b1, true);
    let activation = 1 + merit_chain::governance::ACTIVATION_DELAY_BLOCKS;
    while ledger.height() < activation + 1 {
        time += 1_000;
        commit(
            &layout,
            &mut ledger,
            storage.as_ref(),
            time,
            Vec::new(),
            true,
        );
    }
    let limits = MempoolConfig {
        max_txs: MEMPOOL_TXS,
        max_per_sender: MEMPOOL_PER_SENDER,
    };
    let (shared, _admission) =
        Shared::new(genesis.clone(), storage, ledger, Vec::new(), limits).expect("the node state");
    let module = module(Arc::new(shared)).expect("the RPC module");
    let call = |method: &str, params: Value| -> Value {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (answer, _) = runtime
            .block_on(module.raw_json_request(&request.to_string(), RAW_REQUEST_BUFFER))
            .expect("a response");
        let answer: Value = serde_json::from_str(answer.get()).expect("JSON");
        answer["result"].clone()
    };

    let changes: Vec<merit_api::ValidatorChange> =
        serde_json::from_value(call("merit_getValidatorChanges", json!([0]))).expect("changes");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let change = &changes[0];
    assert_eq!(change.height, activation);
    // What a verifying client does, from bytes alone.
    let header: merit_chain::block::BlockHeader =
        merit_chain::encoding::decode(&hex::decode(&change.header).expect("hex"), 4_096)
            .expect("a header");
    let cert: CommitCertificate =
        merit_chain::encoding::decode(&hex::decode(&change.certificate).expect("hex"), 65_536)
            .expect("a certificate");
    assert_eq!(header.height, activation - 1);
    assert_eq!(cert.block_hash, header.hash());
    merit_chain::consensus::verify_certificate(genesis.chain_id(), genesis.validators(), &cert)
        .expect("the genesis set certified the boundary");
    let new_keys: Vec<merit_chain::PublicKey> = change
        .set
        .validators
        .iter()
        .map(|v| merit_chain::PublicKey::from_bech32(&v.validator_key).expect("a key"))
        .collect();
    assert_eq!(new_keys, genesis.validators()[..3].to_vec());
    let entries: Vec<merit_chain::governance::ValidatorEntry> = change
        .set
        .validators
        .iter()
        .zip(&layout.merchants)
        .map(|(v, m)| merit_chain::governance::ValidatorEntry {
            account: Address::from_bech32(&v.account).expect("an account"),
            key: m.validator.public(),
            p2p_key: m.p2p.public(),
        })
        .collect();
    let list = BoundedVec::new(entries).expect("a set");
    assert_eq!(
        header.next_validators_hash,
        merit_chain::governance::validators_hash(&list),
        "the boundary header commits to the new set"
    );
    assert_eq!(
        change.set.validators_hash,
        header.next_validators_hash.to_hex()
    );
    assert_eq!(change.set.quorum, 3);
    // The set of a height before the change is the genesis one.
    let before = call("merit_validators", json!([{"height": activation - 1}]));
    assert_eq!(before["validators"].as_array().map(Vec::len), Some(4));
    let after = call("merit_validators", json!([{"height": activation}]));
    assert_eq!(after["validators"].as_array().map(Vec::len), Some(3));
    // Nothing changed after it.
    let later = call("merit_getValidatorChanges", json!([activation + 1]));
    assert_eq!(later, json!([]));
}

#[test]
fn a_balance_token_and_transaction_proof_verify_from_their_bytes_alone() {
    use merit_chain::light::{LightClient, TxProof, verify_tx_proof};
    use merit_chain::proof::{EntriesProof, Freshness, verify_holdings, verify_token};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (shared, module, facts) = serve(&runtime);
    let call = |method: &str, params: Value| -> Value {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (answer, _) = runtime
            .block_on(module.raw_json_request(&request.to_string(), RAW_REQUEST_BUFFER))
            .expect("a response");
        let answer: Value = serde_json::from_str(answer.get()).expect("JSON");
        answer["result"].clone()
    };
    let (chain_id, genesis_set) = {
        let ledger = shared.read_ledger();
        (
            ledger.chain_id().clone(),
            ledger.validators_at(1).expect("the genesis set").clone(),
        )
    };
    let mut client = LightClient::new(chain_id, 1, genesis_set).expect("a client");
    let bytes = |v: &Value| hex::decode(v["proof"].as_str().expect("a proof")).expect("hex");

    let alice = Address::from_bech32(&facts.addresses[0]).expect("an address");
    let answer = call(
        "merit_getProof",
        json!([facts.addresses[0], {"tokens": ["BEAN", "MILES"]}]),
    );
    let proof = EntriesProof::from_bytes(&bytes(&answer)).expect("a proof");
    let at = Freshness::AtHeight(answer["height"].as_u64().expect("a height"));
    let held = verify_holdings(
        &mut client,
        &proof,
        &alice,
        0,
        &[sym("BEAN"), sym("MILES")],
        at,
    )
    .expect("the proof verifies");
    let ledger = shared.read_ledger();
    assert_eq!(held[0].1.balance, ledger.balance(&alice, &sym("BEAN")));
    assert_eq!(held[1].1.balance, 0, "alice holds no MILES");
    assert!(held[0].1.balance > 0);

    // A past state proves too, against its own certified header: alice's
    // BEAN after block 1, before the payments of block 2.
    let past = call(
        "merit_getProof",
        json!([facts.addresses[0], {"tokens": ["BEAN"], "height": 1}]),
    );
    let proof = EntriesProof::from_bytes(&bytes(&past)).expect("a proof");
    assert_eq!(proof.header.height, 1);
    let then = verify_holdings(
        &mut client,
        &proof,
        &alice,
        0,
        &[sym("BEAN")],
        Freshness::AtHeight(1),
    )
    .expect("the past proof verifies");
    assert_ne!(then[0].1.balance, held[0].1.balance, "alice paid since");
    // The genesis state proves under the header block 1 names as its parent.
    let genesis = call(
        "merit_getProof",
        json!([facts.addresses[0], {"tokens": ["BEAN"], "height": 0}]),
    );
    let proof = EntriesProof::from_bytes(&bytes(&genesis)).expect("a proof");
    let block1: merit_chain::block::BlockHeader = merit_chain::encoding::decode(
        &hex::decode(
            call("merit_getBlock", json!([1, {"full": true}]))["bytes"]["header"]
                .as_str()
                .expect("a header"),
        )
        .expect("hex"),
        4_096,
    )
    .expect("a header");
    let at_genesis = verify_holdings(
        &mut client,
        &proof,
        &alice,
        0,
        &[sym("BEAN")],
        Freshness::Genesis(block1.parent_hash),
    )
    .expect("the genesis proof verifies");
    assert_eq!(at_genesis[0].1.balance, 100_000, "alice's genesis BEAN");
    // A nonce alice used proves used; one she never used proves unused,
    // as of a height, which is how a wallet shows a transaction can no
    // longer commit.
    let block1 = call("merit_getBlock", json!([1, {"full": true}]));
    let alice_nonce = block1["bytes"]["txs"]
        .as_array()
        .expect("txs")
        .iter()
        .map(|t| {
            Transaction::from_bytes(&hex::decode(t.as_str().expect("hex")).expect("hex"))
                .expect("a transaction")
        })
        .find(|t| t.body.sender == alice)
        .expect("alice sent a transaction in block 1")
        .body
        .nonce;
    for (nonce, used) in [(alice_nonce, true), (999_999, false)] {
        let answer = call("merit_getNonceProof", json!([facts.addresses[0], nonce]));
        assert_eq!(answer["nonce_used"], used, "{answer}");
        let proof = EntriesProof::from_bytes(&bytes(&answer)).expect("a proof");
        let h = proof.header.height;
        let unused = merit_chain::proof::verify_nonce_unused(&mut client, &proof, &alice, nonce, h)
            .expect("the nonce proof verifies");
        assert_eq!(unused, !used);
    }

    let answer = call("merit_getTokenProof", json!(["BEAN"]));
    let proof = EntriesProof::from_bytes(&bytes(&answer)).expect("a proof");
    let token = verify_token(&mut client, &proof, &sym("BEAN"), at)
        .expect("the proof verifies")
        .expect("BEAN exists");
    assert_eq!(Some(&token), ledger.token(&sym("BEAN")));

    // A transaction of a certified block proves with its receipt.
    let hash = facts.txs[0];
    let answer = call("merit_getTxProof", json!([hash.to_hex()]));
    let proof = TxProof::from_bytes(&bytes(&answer)).expect("a proof");
    let receipt = verify_tx_proof(&mut client, &hash, &proof).expect("the proof verifies");
    assert_eq!(receipt.tx_hash, hash);
    assert_eq!(
        call("merit_getTxProof", json!(["00".repeat(32)])),
        Value::Null
    );
    // The last block began with expiries: its own events follow the
    // receipts under receipts_root, and its transactions still prove.
    let last = call("merit_getBlock", json!(["latest"]));
    let expired = last["events"].as_array().expect("block events");
    assert!(
        expired
            .iter()
            .all(|e| e["type"] == "LotExpired" || e["type"] == "EscrowExpired")
            && expired.iter().any(|e| e["type"] == "EscrowExpired")
            && !expired.is_empty(),
        "{last}"
    );
    let hash = Hash32::from_hex(last["txs"][0].as_str().expect("a transaction")).expect("hex");
    let answer = call("merit_getTxProof", json!([hash.to_hex()]));
    let proof = TxProof::from_bytes(&bytes(&answer)).expect("a proof");
    assert!(proof.receipt_leaves > proof.count);
    verify_tx_proof(&mut client, &hash, &proof).expect("a receipt beside block events verifies");

    // A full block re-hashes to its hash, and its certificate is the stored one.
    let full = call("merit_getBlock", json!([1, {"full": true}]));
    let header: merit_chain::block::BlockHeader = merit_chain::encoding::decode(
        &hex::decode(full["bytes"]["header"].as_str().expect("a header")).expect("hex"),
        4_096,
    )
    .expect("a header");
    assert_eq!(
        header.hash().to_hex(),
        full["hash"].as_str().expect("a hash")
    );
    let txs = full["bytes"]["txs"].as_array().expect("txs");
    assert_eq!(txs.len(), full["txs"].as_array().expect("hashes").len());
    let first = Transaction::from_bytes(&hex::decode(txs[0].as_str().expect("a tx")).expect("hex"))
        .expect("a transaction");
    assert_eq!(first.hash().to_hex(), full["txs"][0]);
}

/// What a chain of many UTC days looked like at each day's end.
struct DayEnds {
    shoppers: Vec<Address>,
    /// `(height, each shopper's BEAN)` at the last block of each day.
    ends: Vec<(u64, Vec<u64>)>,
}

/// 40 UTC days of three blocks each, where alice pays bob every block,
/// bob pays carol on even days only and carol never pays, then 10,001
/// uncertified blocks on the last day, which push every day's end out of
/// the block window.
fn forty_days(layout: &DevnetLayout, ledger: &mut Ledger, storage: &dyn Storage) -> DayEnds {
    let shopper = |n: &str| layout.shopper(n).expect("a devnet shopper").clone();
    let (alice, bob, carol) = (shopper("alice"), shopper("bob"), shopper("carol"));
    let shoppers = vec![alice.public(), bob.public(), carol.public()];
    let (mut sa, mut sb) = (Signer { nonce: 0 }, Signer { nonce: 0 });
    let pay = |to: &Keypair, amount: u64| TxKind::Transfer {
        token: sym("BEAN"),
        to: to.public().into(),
        amount,
        memo: None,
    };
    let first_day = merit_chain::proof::utc_day(DEVNET_GENESIS_TIME_MS) + 1;
    let mut ends = Vec::new();
    for day in 0..40u64 {
        for block in 0..3u64 {
            let time = (first_day + day) * MS_PER_DAY + (block + 1) * 3_600_000;
            let mut txs = vec![sa.sign(ledger, &alice, pay(&bob, day * 3 + block + 1))];
            if day % 2 == 0 {
                txs.push(sb.sign(ledger, &bob, pay(&carol, 1)));
            }
            commit(layout, ledger, storage, time, txs, true);
        }
        let balances = shoppers
            .iter()
            .map(|a| ledger.balance(a, &sym("BEAN")))
            .collect();
        ends.push((ledger.height(), balances));
    }
    let last = (first_day + 39) * MS_PER_DAY + 4 * 3_600_000;
    for i in 1..=PROOF_RETENTION_BLOCKS + 1 {
        commit(layout, ledger, storage, last + i, Vec::new(), false);
    }
    DayEnds { shoppers, ends }
}

#[test]
fn the_last_block_of_each_kept_day_proves_after_the_block_window() {
    use merit_chain::light::LightClient;
    use merit_chain::proof::{EntriesProof, Freshness, PROOF_RETENTION_DAYS, verify_holdings};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (shared, module, chain) = serve_with(&runtime, forty_days);
    let call = |method: &str, params: Value| -> Value {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (answer, _) = runtime
            .block_on(module.raw_json_request(&request.to_string(), RAW_REQUEST_BUFFER))
            .expect("a response");
        serde_json::from_str(answer.get()).expect("JSON")
    };
    let (chain_id, genesis_set) = {
        let ledger = shared.read_ledger();
        (
            ledger.chain_id().clone(),
            ledger.validators_at(1).expect("the genesis set").clone(),
        )
    };
    let mut client = LightClient::new(chain_id, 1, genesis_set).expect("a client");

    // The last day is still open: 39 days ended, the newest 31 are kept.
    let kept = &chain.ends[39 - PROOF_RETENTION_DAYS as usize..39];
    let listed = call("merit_getDayEnds", json!([]))["result"].clone();
    let heights: Vec<u64> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| e["height"].as_u64().expect("a height"))
        .collect();
    assert_eq!(heights, kept.iter().map(|(h, _)| *h).collect::<Vec<_>>());
    let first_day = merit_chain::proof::utc_day(DEVNET_GENESIS_TIME_MS) + 1;
    assert_eq!(
        listed[0]["date"],
        merit_api::utc_date(first_day + 39 - PROOF_RETENTION_DAYS)
    );

    for (height, balances) in kept {
        for (who, expected) in chain.shoppers.iter().zip(balances) {
            let answer = call(
                "merit_getProof",
                json!([who.to_bech32(), {"tokens": ["BEAN"], "height": height}]),
            );
            let hex = answer["result"]["proof"].as_str().expect("a proof");
            let proof = EntriesProof::from_bytes(&hex::decode(hex).expect("hex")).expect("bytes");
            let held = verify_holdings(
                &mut client,
                &proof,
                who,
                0,
                &[sym("BEAN")],
                Freshness::AtHeight(*height),
            )
            .expect("a day-end proof verifies against that block's certificate");
            assert_eq!(held[0].1.balance, *expected, "at height {height}");
        }
    }

    // A day's statement opens at the day before's last block and closes at
    // its own, with the balances those blocks left, and its postings add up.
    let decimals = shared
        .read_ledger()
        .token(&sym("BEAN"))
        .expect("BEAN")
        .decimals;
    let units = |s: &Value| -> u64 {
        merit_chain::amount::parse_amount(s.as_str().expect("an amount"), decimals)
            .expect("an amount")
    };
    for d in [1usize, 20, 38] {
        let from_ms = (first_day + d as u64) * MS_PER_DAY;
        for (who, i) in chain.shoppers.iter().zip(0..) {
            let answer = call(
                "merit_getStatement",
                json!([who.to_bech32(), {"from_ms": from_ms, "to_ms": from_ms + MS_PER_DAY, "token": "BEAN"}]),
            );
            let s = &answer["result"];
            assert_eq!(s["opening_height"], chain.ends[d - 1].0, "{answer}");
            assert_eq!(s["closing_height"], chain.ends[d].0);
            assert_eq!(s["complete"], true);
            let bean = &s["tokens"][0];
            assert_eq!(units(&bean["opening"]), chain.ends[d - 1].1[i]);
            assert_eq!(units(&bean["closing"]), chain.ends[d].1[i]);
            let lines = bean["postings"].as_array().expect("postings");
            let net: i128 = lines
                .iter()
                .map(|l| {
                    let a = i128::from(units(&l["amount"]));
                    if l["side"] == "debit" { -a } else { a }
                })
                .sum();
            assert_eq!(
                i128::from(chain.ends[d - 1].1[i]) + net,
                i128::from(chain.ends[d].1[i])
            );
            assert_eq!(
                lines.is_empty(),
                i == 2 && d % 2 == 1,
                "carol is paid on even days"
            );
        }
    }
    let empty = call(
        "merit_getStatement",
        json!([chain.shoppers[0].to_bech32(), {"from_ms": 5, "to_ms": 5}]),
    );
    assert_eq!(empty["error"]["code"], -32602, "{empty}");

    // A day that left the window, and a height that is no day's end, fail
    // clearly, naming what the node does prove.
    for height in [chain.ends[0].0, kept[5].0 - 1] {
        let answer = call(
            "merit_getProof",
            json!([chain.shoppers[0].to_bech32(), {"tokens": ["BEAN"], "height": height}]),
        );
        assert_eq!(answer["error"]["code"], -32602, "{answer}");
        let message = answer["error"]["message"].as_str().expect("a message");
        assert!(message.contains("merit_getDayEnds"), "{message}");
    }
}

/// After bob opens sub-account 1, alice pays 3.00 BEAN into it and it pays
/// 1.00 out, the sub-account's balance, history and proof come back as its
/// own, and the opened count proves.
#[test]
fn a_sub_account_answers_for_its_own_balance_history_and_proof() {
    use merit_chain::light::LightClient;
    use merit_chain::proof::{EntriesProof, Freshness, verify_holdings, verify_sub_accounts};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (shared, module, facts) = serve(&runtime);
    let bob = Address::from_bech32(&facts.addresses[1]).expect("an address");
    let sub1 = format!("{}/1", facts.addresses[1]);

    let account = call(&runtime, &module, "merit_getAccount", &json!([sub1]))["result"].clone();
    assert_eq!(account["address"], json!(sub1));
    assert_eq!(account["balances"], json!({"BEAN": "2.00"}));
    assert_eq!(account["sub_accounts"], json!(1));
    assert_eq!(account["label"], json!("Kiosk"));
    let main = call(
        &runtime,
        &module,
        "merit_getAccount",
        &json!([facts.addresses[1]]),
    );
    assert_eq!(main["result"]["sub_accounts"], json!(1));
    assert!(main["result"].get("label").is_none());

    let subs = call(
        &runtime,
        &module,
        "merit_getSubAccounts",
        &json!([bob.to_bech32()]),
    );
    let opened_height = shared
        .read_ledger()
        .sub_account(&bob, 1)
        .expect("opened")
        .opened_height;
    assert_eq!(
        subs["result"],
        json!([{"sub": 1, "account": sub1, "label": "Kiosk", "opened_height": opened_height}])
    );

    let history = call(&runtime, &module, "merit_getHistory", &json!([sub1]))["result"].clone();
    let entries = history["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "paid in, then paid out: {history}");
    assert!(entries.iter().all(|e| e["kind"] == json!("Transfer")));

    let (chain_id, genesis_set) = {
        let ledger = shared.read_ledger();
        (
            ledger.chain_id().clone(),
            ledger.validators_at(1).expect("the genesis set").clone(),
        )
    };
    let mut client = LightClient::new(chain_id, 1, genesis_set).expect("a client");
    let bytes = |v: &Value| hex::decode(v["proof"].as_str().expect("a proof")).expect("hex");
    let answer = call(
        &runtime,
        &module,
        "merit_getProof",
        &json!([sub1, {"tokens": ["BEAN"]}]),
    );
    let answer = &answer["result"];
    let proof = EntriesProof::from_bytes(&bytes(answer)).expect("a proof");
    let at = Freshness::AtHeight(answer["height"].as_u64().expect("a height"));
    let held = verify_holdings(&mut client, &proof, &bob, 1, &[sym("BEAN")], at)
        .expect("the proof verifies");
    assert_eq!(held[0].1.balance, 200);

    let answer = call(
        &runtime,
        &module,
        "merit_getProof",
        &json!([facts.addresses[1], {"sub_accounts": true}]),
    );
    let answer = &answer["result"];
    let proof = EntriesProof::from_bytes(&bytes(answer)).expect("a proof");
    let at = Freshness::AtHeight(answer["height"].as_u64().expect("a height"));
    assert_eq!(
        verify_sub_accounts(&mut client, &proof, &bob, at).expect("the count verifies"),
        1
    );
}
