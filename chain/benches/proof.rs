//! The cost of a balance proof (DESIGN §10): an account holding 5 tokens
//! with 100 lots each, in a state of 1,000,000 accounts with 3 entries
//! each. Prints the proof's size, then measures building it (the node) and
//! decoding and verifying it (the wallet).
//!
//! `cargo bench -p merit-chain --bench proof`. Results are recorded in
//! docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use merit_chain::block::{BlockHeader, CommitCertificate, ValidatorSignature};
use merit_chain::commitment::{BlockUndo, SnapshotTree};
use merit_chain::consensus::{Statement, Vote, signing_bytes};
use merit_chain::encoding::{BoundedString, BoundedVec};
use merit_chain::governance::{ValidatorEntry, ValidatorList, validators_hash};
use merit_chain::light::LightClient;
use merit_chain::proof::{EntriesProof, Freshness, verify_holdings};
use merit_chain::state::{Holding, Lot, Lots, StateKey, StateMap, StateValue, TokenInfo};
use merit_chain::tx::ChainId;
use merit_chain::{Address, Hash32, Keypair, Ledger, PublicKey, Symbol};

const ACCOUNTS: u32 = 1_000_000;
const ENTRIES_PER_ACCOUNT: u32 = 3;
const OTHER_TOKENS: u32 = 8;
const HELD_TOKENS: u32 = 5;
const LOTS: u64 = 100;
const TIME_MS: u64 = 1_800_000_000_000;

struct Setup {
    client: LightClient,
    proof: EntriesProof,
    bytes: Vec<u8>,
    owner: Address,
    tokens: Vec<Symbol>,
    ledger: Ledger,
    keys: Vec<StateKey>,
}

fn token(symbol: Symbol, issuer: Address, expiry_days: Option<u32>) -> StateValue {
    StateValue::Token(TokenInfo {
        symbol,
        name: BoundedString::new("bench").unwrap(),
        decimals: 2,
        max_supply: u64::MAX,
        expiry_days,
        freezable: false,
        clawback: false,
        issuer,
        created_height: 0,
        minted: 0,
        redeemed: 0,
        expired: 0,
        locked_in_offers: 0,
        locked_in_escrow: 0,
        frozen: 0,
        clawed_back: 0,
    })
}

/// An address no key needs to stand behind: the bytes of `i`.
fn address(i: u32) -> Address {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&i.to_le_bytes());
    b[31] = 0x5a;
    PublicKey(b)
}

fn setup() -> Setup {
    let started = Instant::now();
    let chain_id = ChainId::new("merit-bench").unwrap();
    let issuer = address(u32::MAX);
    let mut state = StateMap::new();
    let others: Vec<Symbol> = (0..OTHER_TOKENS)
        .map(|i| Symbol::new(&format!("T{i}")).unwrap())
        .collect();
    for s in &others {
        state.insert(StateKey::Token(*s), token(*s, issuer, None));
    }
    for i in 0..ACCOUNTS {
        for j in 0..ENTRIES_PER_ACCOUNT {
            let sym = others[((i + j) % OTHER_TOKENS) as usize];
            state.insert(
                StateKey::Holding(address(i), 0, sym),
                StateValue::Holding(Holding {
                    balance: 100,
                    ..Holding::default()
                }),
            );
        }
    }
    let owner = address(ACCOUNTS + 1);
    let tokens: Vec<Symbol> = (0..HELD_TOKENS)
        .map(|i| Symbol::new(&format!("E{i}")).unwrap())
        .collect();
    for s in &tokens {
        state.insert(StateKey::Token(*s), token(*s, issuer, Some(365)));
        let mut lots = Lots::default();
        let each: Vec<Lot> = (0..LOTS)
            .map(|k| Lot {
                expires_at_ms: TIME_MS + k * 60_000,
                amount: 10,
            })
            .collect();
        lots.add(&each).unwrap();
        state.insert(
            StateKey::Holding(owner, 0, *s),
            StateValue::Holding(Holding {
                balance: 10 * LOTS,
                frozen: 0,
                lots,
            }),
        );
    }
    let validators: Vec<Keypair> = (0..4)
        .map(|i| Keypair::insecure_from_label(&format!("bench-validator-{i}")))
        .collect();
    let list: ValidatorList = BoundedVec::new(
        validators
            .iter()
            .map(|k| ValidatorEntry {
                account: k.public(),
                key: k.public(),
                p2p_key: k.public(),
            })
            .collect(),
    )
    .unwrap();
    let mut header = BlockHeader {
        chain_id: chain_id.clone(),
        height: 10,
        round: 0,
        parent_hash: Hash32([1; 32]),
        timestamp_ms: TIME_MS,
        proposer: validators[0].public(),
        tx_root: Hash32([2; 32]),
        receipts_root: Hash32([3; 32]),
        state_root: Hash32::ZERO,
        validators_hash: validators_hash(&list),
        next_validators_hash: validators_hash(&list),
    };
    let entries = state.len();
    let ledger = Ledger::from_state(chain_id.clone(), header.clone(), state);
    header.state_root = ledger.state_root();
    let vote = Vote {
        height: header.height,
        round: 0,
        block_hash: header.hash(),
    };
    let signed = signing_bytes(&chain_id, &Statement::Commit(vote));
    let certificate = CommitCertificate {
        height: vote.height,
        round: 0,
        block_hash: vote.block_hash,
        signatures: BoundedVec::new(
            validators[..3]
                .iter()
                .map(|k| ValidatorSignature {
                    validator: k.public(),
                    signature: k.sign(&signed),
                })
                .collect(),
        )
        .unwrap(),
    };
    let keys: Vec<StateKey> = tokens
        .iter()
        .map(|t| StateKey::Holding(owner, 0, *t))
        .collect();
    let proof = EntriesProof {
        entries: BoundedVec::new(ledger.prove_entries(&keys).unwrap()).unwrap(),
        header,
        certificate,
    };
    let bytes = proof.to_bytes();
    let pairs: usize = proof.entries.iter().map(|e| e.proof.bucket.len()).sum();
    println!(
        "state: {entries} entries, built in {:.1} s; proof of {HELD_TOKENS} holdings with \
         {LOTS} lots each: {} bytes ({} as hex in JSON), {pairs} bucket pairs",
        started.elapsed().as_secs_f64(),
        bytes.len(),
        2 * bytes.len()
    );
    Setup {
        client: LightClient::new(chain_id, 1, list).unwrap(),
        proof,
        bytes,
        owner,
        tokens,
        ledger,
        keys,
    }
}

fn proofs(c: &mut Criterion) {
    let s = setup();
    let fresh = Freshness::Current {
        now_ms: TIME_MS + 1_000,
        max_age_ms: 60_000,
    };
    // What the node does per `merit_getProof`.
    c.bench_function("prove 5 holdings at 1M accounts (node)", |b| {
        b.iter(|| black_box(s.ledger.prove_entries(black_box(&s.keys)).unwrap()))
    });
    // What the wallet does per verified balance: decode and verify.
    c.bench_function("decode and verify 5 holdings x 100 lots (wallet)", |b| {
        b.iter(|| {
            let proof = EntriesProof::from_bytes(black_box(&s.bytes)).unwrap();
            let mut client = s.client.clone();
            black_box(verify_holdings(&mut client, &proof, &s.owner, 0, &s.tokens, fresh).unwrap())
        })
    });
    assert_eq!(EntriesProof::from_bytes(&s.bytes).unwrap(), s.proof);

    // What the node does per `merit_getProof` at a kept day's end (ADR
    // 014): the tree over that day's snapshot of bucket hashes, then each
    // key's bucket rebuilt through 30 days of records (here each day
    // changed every entry of the keys' buckets once) and its path.
    let snapshot = s.ledger.commitment().bucket_hashes().to_vec();
    let encoded: Vec<Vec<u8>> = s.keys.iter().map(merit_chain::encoding::encode).collect();
    // Every entry of the proven keys' buckets, read once from the state.
    let buckets: std::collections::BTreeSet<u16> = encoded
        .iter()
        .map(|k| merit_chain::commitment::bucket_of_key(k))
        .collect();
    let day: Vec<(Vec<u8>, Option<Vec<u8>>)> = s
        .ledger
        .state()
        .iter()
        .map(|(k, v)| (merit_chain::encoding::encode(k), v))
        .filter(|(k, _)| buckets.contains(&merit_chain::commitment::bucket_of_key(k)))
        .map(|(k, v)| (k, Some(merit_chain::encoding::encode(v))))
        .collect();
    let records: Vec<BlockUndo> = (0..30)
        .map(|_| BlockUndo {
            entries: day.clone(),
            buckets: Vec::new(),
        })
        .collect();
    let records_per_day = records[0].entries.len();
    c.bench_function(
        "snapshot tree of 65,536 buckets (node, per day-end proof)",
        |b| b.iter(|| black_box(SnapshotTree::new(black_box(snapshot.clone())).unwrap())),
    );
    let tree = SnapshotTree::new(snapshot.clone()).unwrap();
    c.bench_function(
        &format!(
            "prove 5 holdings at a day end through 30 days x {records_per_day} records (node)"
        ),
        |b| {
            b.iter(|| {
                for (k, key) in encoded.iter().zip(&s.keys) {
                    let now = s.ledger.state().get(key).map(merit_chain::encoding::encode);
                    black_box(
                        s.ledger
                            .commitment()
                            .prove_key_at_day_end(k, now.as_deref(), &records, &tree)
                            .unwrap(),
                    );
                }
            })
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = proofs
}
criterion_main!(benches);
