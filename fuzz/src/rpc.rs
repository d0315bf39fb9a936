//! The node's JSON-RPC module over a real node state, for the `rpc_params`
//! target, and the chain it serves.
//!
//! The state is the default devnet genesis (four merchants, four tokens, one
//! of them expiring, three funded shoppers) plus two blocks with transfers,
//! a payment, a trade, escrows, a sub-account that receives points and a
//! rejected transaction, stored in the
//! in-memory store (the fuzz targets build no RocksDB). Admission runs in the target's
//! runtime, so `merit_sendTransaction` gets its verdict.

use std::sync::Arc;

use jsonrpsee::RpcModule;
use merit_chain::block::ValidatorSignature;
use merit_chain::consensus::{Statement, Vote, signing_bytes};
use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::ledger::BlockOutcome;
use merit_chain::tx::{AccountRef, PayLeg, Price, TxBody};
use merit_chain::{Block, CommitCertificate, Hash32, Keypair, Ledger, Symbol, Transaction, TxKind};
use merit_genesis::{
    DevnetLayout, Genesis,
    devnet::{DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT},
};
use merit_node::mempool::Mempool;
use merit_node::shared::{Shared, run_admission};
use merit_store::{MemDisk, Storage};
use serde_json::Value;

/// Every method the module registers, and one it does not. The target
/// checks at start-up that none is missing here.
pub const METHODS: &[&str] = &[
    "merit_health",
    "merit_status",
    "merit_sendTransaction",
    "merit_getTransaction",
    "merit_getAccount",
    "merit_getToken",
    "merit_listTokens",
    "merit_getBlock",
    "merit_getOrderBook",
    "merit_getEscrow",
    "merit_getHistory",
    "merit_audit",
    "merit_validators",
    "merit_subscribe",
    "merit_unsubscribe",
    "merit_noSuchMethod",
    // Appended, so that the selector bytes of the seeds above keep their
    // methods.
    "merit_getStatement",
    "merit_getProof",
    "merit_getTokenProof",
    "merit_getTxProof",
    "merit_getNonceProof",
    "merit_getDayEnds",
    "merit_getProposal",
    "merit_listProposals",
    "merit_getEvidence",
    "merit_getValidatorChanges",
    "merit_findPaths",
    "rpc.discover",
    "merit_getSubAccounts",
];

/// The index of `method` in [`METHODS`].
pub fn method_index(method: &str) -> u8 {
    METHODS
        .iter()
        .position(|m| *m == method)
        .expect("a known method") as u8
}

/// Mempool bounds of the harness: small, and reset before every call.
const MEMPOOL_TXS: usize = 1_024;
const MEMPOOL_PER_SENDER: usize = 64;

/// What the served chain holds, for seeds.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Shoppers, then merchant accounts.
    pub addresses: Vec<String>,
    /// Opened sub-accounts, `ADDRESS/N`: alice's first holds BEAN.
    pub sub_accounts: Vec<String>,
    pub tokens: Vec<String>,
    /// Transactions in blocks, the rejected one last.
    pub committed: Vec<Transaction>,
    pub escrows: Vec<Hash32>,
    /// Valid for the next block and not submitted anywhere.
    pub fresh: Vec<Transaction>,
}

/// The devnet genesis the harness serves.
pub fn layout() -> DevnetLayout {
    merit_genesis::devnet(DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT)
}

fn genesis(layout: &DevnetLayout) -> Genesis {
    layout.validate().expect("the devnet genesis is valid")
}

/// Builds the blocks on `ledger` (the devnet at height 0), applying each;
/// returns them with their outcomes and certificates.
pub fn build_chain(
    layout: &DevnetLayout,
    ledger: &mut Ledger,
) -> (Vec<(Block, BlockOutcome, CommitCertificate)>, Facts) {
    let shopper = |n: &str| layout.shopper(n).expect("a devnet shopper").clone();
    let (alice, bob, carol) = (shopper("alice"), shopper("bob"), shopper("carol"));
    let merchant = layout.merchants[0].account.clone();
    let sym = |s: &str| Symbol::new(s).expect("a symbol");
    let mut nonce = 100u64;
    let mut tx = |ledger: &Ledger, key: &Keypair, kind: TxKind| {
        nonce += 1;
        TxBody {
            chain_id: ledger.chain_id().clone(),
            sender: key.public(),
            sub: 0,
            nonce,
            expires_at_height: ledger.height() + 100,
            kind,
        }
        .sign(key)
    };
    let transfer = |token: &str, to: &Keypair, amount: u64| TxKind::Transfer {
        token: sym(token),
        to: to.public().into(),
        amount,
        memo: Some(BoundedString::new("thanks").expect("a memo")),
    };
    let time = |ledger: &Ledger| ledger.tip().timestamp_ms + 1000;

    let mut blocks = Vec::new();
    let mut committed = Vec::new();
    let mut escrows = Vec::new();
    let mut commit = |ledger: &mut Ledger, txs: Vec<Transaction>| {
        let proposer = layout.merchants[((ledger.height() + 1) % 4) as usize]
            .validator
            .public();
        let (block, outcome) = ledger.build_block(0, time(ledger), proposer, txs.clone());
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
        ledger.apply(&block.header, outcome.clone());
        committed.extend(txs);
        blocks.push((block, outcome, cert));
    };

    let b1 = vec![
        tx(ledger, &alice, transfer("BEAN", &bob, 1_000)),
        tx(
            ledger,
            &alice,
            TxKind::Pay {
                order_id: BoundedString::new("order-1").expect("an order id"),
                legs: BoundedVec::new(vec![
                    PayLeg {
                        to: merchant.public().into(),
                        token: sym("BEAN"),
                        amount: 450,
                    },
                    PayLeg {
                        to: carol.public().into(),
                        token: sym("BOOK"),
                        amount: 50,
                    },
                ])
                .expect("two legs"),
                memo: None,
            },
        ),
        tx(
            ledger,
            &bob,
            TxKind::Redeem {
                token: sym("BOOK"),
                amount: 100,
                memo: None,
            },
        ),
        tx(ledger, &carol, transfer("MILES", &alice, 2_500)),
        tx(
            ledger,
            &alice,
            TxKind::OpenSubAccount {
                label: BoundedString::new("store 1").expect("a label"),
            },
        ),
    ];
    commit(ledger, b1);

    let now = time(ledger);
    let escrow =
        |token: &str, to: &Keypair, amount: u64, order: Option<&str>| TxKind::EscrowCreate {
            token: sym(token),
            to: to.public().into(),
            amount,
            deadline_ms: now + 86_400_000,
            order_id: order.map(|o| BoundedString::new(o).expect("an order id")),
        };
    let b2 = vec![
        tx(
            ledger,
            &alice,
            TxKind::PlaceOffer {
                sell: sym("BEAN"),
                buy: sym("BOOK"),
                amount: 1_000,
                price: Price::new(1, 1),
            },
        ),
        tx(
            ledger,
            &bob,
            TxKind::PlaceOffer {
                sell: sym("BOOK"),
                buy: sym("BEAN"),
                amount: 400,
                price: Price::new(1, 1),
            },
        ),
        tx(ledger, &carol, escrow("MILES", &alice, 100, Some("trip-1"))),
        tx(ledger, &alice, escrow("FUEL", &bob, 700, None)),
        tx(
            ledger,
            &bob,
            TxKind::Transfer {
                token: sym("BEAN"),
                to: AccountRef::new(alice.public(), 1),
                amount: 300,
                memo: None,
            },
        ),
        // Rejected: bob holds far less.
        tx(ledger, &bob, transfer("FUEL", &carol, 1_000_000_000)),
    ];
    escrows.extend(b2[2..4].iter().map(Transaction::hash));
    commit(ledger, b2);

    let fresh = vec![
        tx(ledger, &alice, transfer("BEAN", &carol, 25)),
        tx(
            ledger,
            &carol,
            TxKind::PlaceOffer {
                sell: sym("MILES"),
                buy: sym("FUEL"),
                amount: 300,
                price: Price::new(2, 3),
            },
        ),
        tx(ledger, &bob, TxKind::EscrowRefund { id: escrows[1] }),
    ];

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
    let facts = Facts {
        addresses,
        sub_accounts: vec![AccountRef::new(alice.public(), 1).to_string()],
        tokens: layout
            .merchants
            .iter()
            .map(|m| m.token.to_string())
            .collect(),
        committed,
        escrows,
        fresh,
    };
    (blocks, facts)
}

/// The chain's facts without opening a store, for seeds.
pub fn facts() -> Facts {
    let layout = layout();
    let (mut ledger, _) = genesis(&layout).ledger().expect("the devnet ledger");
    build_chain(&layout, &mut ledger).1
}

/// The RPC module over a running node state.
#[derive(Debug)]
pub struct Harness {
    pub runtime: tokio::runtime::Runtime,
    pub module: RpcModule<Arc<Shared>>,
    pub shared: Arc<Shared>,
    pub facts: Facts,
}

impl Harness {
    pub fn new() -> Harness {
        let layout = layout();
        let genesis = genesis(&layout);
        let storage = Arc::new(MemDisk::new().open_store());
        let mut ledger =
            merit_node::node::open_ledger(&genesis, storage.as_ref()).expect("open the store");
        let (blocks, facts) = build_chain(&layout, &mut ledger);
        for (block, outcome, cert) in &blocks {
            storage
                .commit_block(block, Some(cert), outcome)
                .expect("store a block");
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let limits = merit_node::config::MempoolConfig {
            max_txs: MEMPOOL_TXS,
            max_per_sender: MEMPOOL_PER_SENDER,
        };
        let (shared, admission_rx) = Shared::new(
            genesis.clone(),
            storage,
            ledger,
            vec![genesis.validators()[0]],
            limits,
        )
        .expect("the node state");
        let shared = Arc::new(shared);
        let (net, mut net_rx) = tokio::sync::mpsc::channel(1_024);
        runtime.spawn(run_admission(shared.clone(), admission_rx, net));
        // Gossip goes nowhere.
        runtime.spawn(async move { while net_rx.recv().await.is_some() {} });
        let module = merit_node::rpc::module(shared.clone()).expect("the RPC module");
        for name in module.method_names() {
            assert!(
                METHODS.contains(&name),
                "method {name} is not fuzzed: add it to merit_fuzz::rpc::METHODS"
            );
        }
        Harness {
            runtime,
            module,
            shared,
            facts,
        }
    }

    /// Calls `method` with `params` (raw JSON if it parses, else a one-string
    /// array) and returns the response, checked to be a JSON-RPC 2.0 result
    /// or error for id 1 that is not an internal error.
    pub fn call(&self, method: &str, params: &str) -> Value {
        *self.shared.lock_mempool() = Mempool::new(MEMPOOL_TXS, MEMPOOL_PER_SENDER);
        let params = if serde_json::from_str::<Value>(params).is_ok() {
            params.to_string()
        } else {
            Value::Array(vec![Value::String(params.to_string())]).to_string()
        };
        let request = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":{},"params":{params}}}"#,
            Value::String(method.to_string())
        );
        let (response, notifications) = match self
            .runtime
            .block_on(self.module.raw_json_request(&request, 16))
        {
            Ok(r) => r,
            Err(e) => panic!("the request {request} was refused: {e}"),
        };
        drop(notifications);
        let response: Value = match serde_json::from_str(response.get()) {
            Ok(v) => v,
            Err(e) => panic!("{method}: the response is not JSON: {e}"),
        };
        check_response(method, &response);
        response
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

/// A JSON-RPC 2.0 response for id 1: a result, or an error with an integer
/// code and a message that is not an internal error.
pub fn check_response(method: &str, r: &Value) {
    assert_eq!(r["jsonrpc"], "2.0", "{method}: {r}");
    assert_eq!(r["id"], 1, "{method}: {r}");
    let obj = r.as_object().expect("an object");
    match (obj.get("result"), obj.get("error")) {
        (Some(_), None) => {}
        (None, Some(e)) => {
            let code = e["code"].as_i64();
            assert!(code.is_some(), "{method}: error without a code: {r}");
            assert!(
                e["message"].is_string(),
                "{method}: error without a message: {r}"
            );
            assert_ne!(code, Some(-32603), "{method}: internal error: {r}");
        }
        _ => panic!("{method}: neither a result nor an error: {r}"),
    }
}
