//! The chain every simulated run starts from: validator keys, a genesis
//! with one merchant token and funded shoppers, and signed transfers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use merit_chain::encoding::BoundedString;
use merit_chain::ledger::GenesisToken;
use merit_chain::state::MerchantInfo;
use merit_chain::tx::{ChainId, TokenName};
use merit_chain::{GenesisState, Keypair, Ledger, PublicKey, Symbol, Transaction, TxBody, TxKind};

use super::rng::SimRng;

/// The chain id of every simulated chain.
pub const SIM_CHAIN_ID: &str = "merit-sim";
/// The merchant token the shoppers hold.
pub const SIM_TOKEN: &str = "PTS";
/// Shoppers funded in genesis.
pub const SIM_SHOPPERS: usize = 4;
/// Each shopper's genesis balance, in base units.
pub const SIM_SHOPPER_BALANCE: u64 = 1_000_000;
/// Transfers per proposed block: a random number in this range.
pub const SIM_TXS_PER_BLOCK: (u64, u64) = (1, 3);
/// Blocks a simulated transfer stays valid.
pub const SIM_TX_TTL_BLOCKS: u64 = 50;

pub fn chain_id() -> ChainId {
    // The literal is well within the chain id limit.
    ChainId::new(SIM_CHAIN_ID).unwrap_or_default()
}

pub fn token() -> Symbol {
    Symbol::new(SIM_TOKEN).unwrap_or_else(|_| unreachable!("`PTS` is a valid symbol"))
}

pub fn validator_key(i: usize) -> Keypair {
    Keypair::insecure_from_label(&format!("sim-validator-{i}"))
}

pub fn shopper_key(i: usize) -> Keypair {
    Keypair::insecure_from_label(&format!("sim-shopper-{i}"))
}

/// The shoppers' keys, derived once: deriving a key costs a scalar
/// multiplication, and every simulated transfer needs two.
fn shopper_keys() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| (0..SIM_SHOPPERS).map(shopper_key).collect())
}

pub fn validator_keys(n: usize) -> Vec<PublicKey> {
    (0..n).map(|i| validator_key(i).public()).collect()
}

fn build_genesis(n: usize) -> Ledger {
    let merchants = (0..n)
        .map(|i| {
            let name = BoundedString::new(format!("merchant-{i}")).unwrap_or_default();
            (validator_key(i).public(), MerchantInfo { name })
        })
        .collect();
    let tokens = vec![GenesisToken {
        symbol: token(),
        name: TokenName::new("Sim Points").unwrap_or_default(),
        decimals: 2,
        max_supply: 1_000_000_000_000,
        expiry_days: None,
        issuer: validator_key(0).public(),
    }];
    let balances = (0..SIM_SHOPPERS)
        .map(|i| (shopper_key(i).public(), token(), SIM_SHOPPER_BALANCE))
        .collect();
    let genesis = GenesisState {
        merchants,
        tokens,
        balances,
    };
    match Ledger::genesis(chain_id(), 0, &genesis) {
        Ok((ledger, _)) => ledger,
        Err(e) => unreachable!("the simulation genesis is valid: {e}"),
    }
}

/// The genesis ledger for `n` validators. Building one hashes the whole
/// (empty) state commitment, so it is built once per process and cloned.
pub fn genesis_ledger(n: usize) -> Ledger {
    static CACHE: OnceLock<Mutex<BTreeMap<usize, Arc<Ledger>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    let found = cache.lock().ok().and_then(|m| m.get(&n).cloned());
    let ledger = match found {
        Some(l) => l,
        None => {
            let l = Arc::new(build_genesis(n));
            if let Ok(mut m) = cache.lock() {
                m.insert(n, l.clone());
            }
            l
        }
    };
    Ledger::clone(&ledger)
}

/// A few signed transfers between shoppers for the block at `height`.
/// `next_nonce` hands out nonces that are never reused.
pub fn transfers(rng: &mut SimRng, height: u64, next_nonce: &mut u64) -> Vec<Transaction> {
    let count = rng.range(SIM_TXS_PER_BLOCK.0, SIM_TXS_PER_BLOCK.1);
    (0..count)
        .map(|_| {
            let from = rng.index(SIM_SHOPPERS);
            let to = (from + 1 + rng.index(SIM_SHOPPERS - 1)) % SIM_SHOPPERS;
            *next_nonce += 1;
            let keys = shopper_keys();
            TxBody {
                chain_id: chain_id(),
                sender: keys[from].public(),
                nonce: *next_nonce,
                expires_at_height: height + SIM_TX_TTL_BLOCKS,
                kind: TxKind::Transfer {
                    token: token(),
                    to: keys[to].public(),
                    amount: rng.range(1, 50),
                    memo: None,
                },
            }
            .sign(&keys[from])
        })
        .collect()
}
