//! Ledger execution (signatures excluded) and signature verification.
//!
//! `cargo bench -p merit-chain`. Results are recorded in docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use merit_chain::crypto::KeyCache;
use merit_chain::encoding::BoundedString;
use merit_chain::ledger::{GenesisState, GenesisToken};
use merit_chain::state::MerchantInfo;
use merit_chain::tx::{ChainId, TxBody, verify_signatures, verify_signatures_with_keys};
use merit_chain::{BlockContext, Keypair, Ledger, Symbol, Transaction, TxKind};

const ACCOUNTS: usize = 10_000;
const BLOCK_TXS: usize = 10_000;

fn setup() -> (Ledger, Vec<Transaction>) {
    let chain_id = ChainId::new("merit-bench").unwrap();
    let merchant = Keypair::insecure_from_label("bench-merchant");
    let bean = Symbol::new("BEAN").unwrap();
    let accounts: Vec<Keypair> = (0..ACCOUNTS)
        .map(|i| Keypair::insecure_from_label(&format!("acct-{i}")))
        .collect();
    let genesis = GenesisState {
        merchants: vec![(
            merchant.public(),
            MerchantInfo {
                name: BoundedString::new("bench").unwrap(),
                validator: None,
            },
        )],
        tokens: vec![GenesisToken {
            symbol: bean,
            name: BoundedString::new("Bean").unwrap(),
            decimals: 2,
            max_supply: u64::MAX,
            expiry_days: None,
            freezable: false,
            clawback: false,
            issuer: merchant.public(),
        }],
        balances: accounts
            .iter()
            .map(|k| (k.public(), bean, 1_000_000))
            .collect(),
        consensus: Default::default(),
    };
    let (ledger, _) = Ledger::genesis(chain_id.clone(), 0, &genesis).unwrap();
    let txs = (0..BLOCK_TXS)
        .map(|i| {
            let from = &accounts[i % ACCOUNTS];
            let to = accounts[(i * 7 + 1) % ACCOUNTS].public();
            TxBody {
                chain_id: chain_id.clone(),
                sender: from.public(),
                sub: 0,
                nonce: i as u64,
                expires_at_height: 100,
                kind: TxKind::Transfer {
                    token: bean,
                    to: to.into(),
                    amount: 1 + (i as u64 % 50),
                    memo: None,
                },
            }
            .sign(from)
        })
        .collect();
    (ledger, txs)
}

fn execution(c: &mut Criterion) {
    let (ledger, txs) = setup();
    let verdicts = vec![true; txs.len()];
    let ctx = BlockContext {
        height: 1,
        timestamp_ms: 1_000,
    };
    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(txs.len() as u64));
    g.sample_size(20);
    // Execution plus the new state root, without signatures.
    g.bench_function("execute_10k_transfers", |b| {
        b.iter(|| black_box(ledger.execute_block_with_verdicts(&ctx, &txs, &verdicts)))
    });
    // Execution, then installing the outcome in memory (what a node does per final block).
    g.bench_function("execute_and_apply_10k_transfers", |b| {
        b.iter_batched(
            || ledger.clone(),
            |mut l| {
                let (block, _) = (ledger.tip().clone(), ());
                let outcome = l.execute_block_with_verdicts(&ctx, &txs, &verdicts);
                let mut header = block;
                header.height = 1;
                header.state_root = outcome.state_root;
                l.apply(&header, outcome);
                black_box(l.state_root())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn signatures(c: &mut Criterion) {
    let (_, txs) = setup();
    let sample = &txs[..1024];
    let mut g = c.benchmark_group("signatures");
    g.throughput(Throughput::Elements(sample.len() as u64));
    g.sample_size(20);
    g.bench_function("verify_batch_1024", |b| {
        b.iter(|| black_box(verify_signatures(sample)))
    });
    g.bench_function("verify_single_1024", |b| {
        b.iter(|| black_box(sample.iter().filter(|t| t.verify_signature()).count()))
    });
    g.finish();
    // What a node does: batches of whatever arrived, with the signers' keys
    // already decompressed.
    let mut g = c.benchmark_group("signatures_known_signers");
    g.sample_size(20);
    let mut keys = KeyCache::new();
    verify_signatures_with_keys(&txs, &mut keys);
    for size in [16, 64, 256, 1024, 4096] {
        let batch = &txs[..size];
        g.throughput(Throughput::Elements(size as u64));
        g.bench_function(format!("verify_batch_{size}"), |b| {
            b.iter(|| black_box(verify_signatures_with_keys(batch, &mut keys)))
        });
    }
    g.finish();
}

criterion_group!(benches, execution, signatures);
criterion_main!(benches);
