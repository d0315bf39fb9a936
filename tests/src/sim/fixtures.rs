//! The chain every simulated run starts from: validator keys, a genesis
//! with one merchant token and funded shoppers, and signed transfers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use merit_chain::amount::format_amount;
use merit_chain::ledger::BlockOutcome;
use merit_chain::merchant::SignedMerchant;
use merit_chain::tx::ChainId;
use merit_chain::{
    ConsensusParams, Keypair, Ledger, PublicKey, Symbol, Transaction, TxBody, TxKind,
};
use merit_genesis::{
    BalanceEntry, Genesis, GenesisFile, Host, MerchantEntry, MerchantFile, MerchantKeys, NodeKeys,
    P2pAddress, TokenEntry,
};

use super::rng::SimRng;

/// The chain id of every simulated chain.
pub const SIM_CHAIN_ID: &str = "merit-sim";
/// Block time of the genesis block; simulated time 0 is this instant.
pub const SIM_GENESIS_TIME_MS: u64 = 1_767_225_600_000;
/// The merchant token the shoppers hold.
pub const SIM_TOKEN: &str = "PTS";
/// Its decimals.
pub const SIM_TOKEN_DECIMALS: u8 = 2;
/// Shoppers funded in genesis.
pub const SIM_SHOPPERS: usize = 4;
/// Each shopper's genesis balance, in base units.
pub const SIM_SHOPPER_BALANCE: u64 = 1_000_000;
/// Transfers one client submission carries: a random number in this range.
pub const SIM_TXS_PER_SUBMISSION: (u64, u64) = (1, 3);
/// `message_delay_ms` of the simulated chains: no scenario delays a message
/// longer (a test checks it).
pub const SIM_MESSAGE_DELAY_MS: u64 = 200;
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

/// The libp2p identity of simulated validator `i`'s node.
pub fn p2p_key(i: usize) -> Keypair {
    Keypair::insecure_from_label(&format!("sim-p2p-{i}"))
}

pub fn merchant_key(i: usize) -> Keypair {
    Keypair::insecure_from_label(&format!("sim-merchant-{i}"))
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

/// The consensus parameters of every simulated chain: the defaults, but
/// for a message delay that bounds the longest delay any scenario draws.
pub fn sim_consensus_params() -> ConsensusParams {
    ConsensusParams {
        message_delay_ms: SIM_MESSAGE_DELAY_MS,
        ..ConsensusParams::default()
    }
}

/// Simulated merchant `i`'s record, signed by its account, validator and
/// p2p keys, as its key ceremony writes it: in the genesis file of the
/// founders, in the `AddMerchant` proposal of a merchant voted in later.
pub fn merchant_record(i: usize) -> SignedMerchant {
    let keys = MerchantKeys {
        name: format!("merchant-{i}"),
        account: merchant_key(i),
        node: Some(NodeKeys {
            validator: validator_key(i),
            p2p: p2p_key(i),
        }),
    };
    let address = P2pAddress::new(
        Host::Ip4(std::net::Ipv4Addr::LOCALHOST),
        30_000u16.saturating_add(u16::try_from(i).unwrap_or(u16::MAX)),
    );
    // Fixed names, keys and addresses: a record that fails to sign is a bug
    // of these fixtures, which every simulation finds.
    keys.sign(Some(&address))
        .unwrap_or_else(|e| unreachable!("simulated merchant {i}: {e}"))
        .signed
}

/// A governance transaction signed by merchant `i`'s account, valid from
/// the block after `height`.
pub fn governance_tx(i: usize, kind: TxKind, height: u64, nonce: u64) -> Transaction {
    let key = merchant_key(i);
    TxBody {
        chain_id: chain_id(),
        sender: key.public(),
        sub: 0,
        nonce,
        expires_at_height: height + SIM_TX_TTL_BLOCKS,
        kind,
    }
    .sign(&key)
}

/// The genesis file of a simulated alliance of `n` merchants, each running
/// a validator.
pub fn genesis_file(n: usize) -> GenesisFile {
    let merchants = (0..n)
        .map(|i| MerchantEntry::new(MerchantFile::from_signed(&merchant_record(i)), None))
        .collect();
    let units = |u: u64| format_amount(u, SIM_TOKEN_DECIMALS);
    GenesisFile {
        chain_id: SIM_CHAIN_ID.to_string(),
        genesis_time_ms: SIM_GENESIS_TIME_MS,
        merchants,
        tokens: vec![TokenEntry {
            symbol: SIM_TOKEN.to_string(),
            name: "Sim Points".to_string(),
            decimals: SIM_TOKEN_DECIMALS,
            max_supply: units(1_000_000_000_000),
            expiry_days: None,
            freezable: false,
            clawback: false,
            issuer: merchant_key(0).public().to_bech32(),
        }],
        balances: (0..SIM_SHOPPERS)
            .map(|i| BalanceEntry {
                address: shopper_key(i).public().to_bech32(),
                token: SIM_TOKEN.to_string(),
                amount: units(SIM_SHOPPER_BALANCE),
            })
            .collect(),
        consensus: sim_consensus_params().into(),
    }
}

/// A validated genesis, its ledger at height 0 and the outcome to store.
#[derive(Debug)]
pub struct SimGenesis {
    pub genesis: Genesis,
    pub ledger: Ledger,
    pub outcome: BlockOutcome,
}

/// The genesis of `n` validators. Building one hashes the state
/// commitment, so it is built once per process and shared.
pub fn genesis(n: usize) -> Arc<SimGenesis> {
    static CACHE: OnceLock<Mutex<BTreeMap<usize, Arc<SimGenesis>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(g) = cache.lock().ok().and_then(|m| m.get(&n).cloned()) {
        return g;
    }
    let genesis = match genesis_file(n).validate() {
        Ok(g) => g,
        Err(e) => unreachable!("the simulation genesis is valid: {e}"),
    };
    let (ledger, outcome) = match genesis.ledger() {
        Ok(l) => l,
        Err(e) => unreachable!("the simulation genesis state is valid: {e}"),
    };
    let g = Arc::new(SimGenesis {
        genesis,
        ledger,
        outcome,
    });
    if let Ok(mut m) = cache.lock() {
        m.insert(n, g.clone());
    }
    g
}

/// The genesis ledger for `n` validators.
pub fn genesis_ledger(n: usize) -> Ledger {
    genesis(n).ledger.clone()
}

/// A few signed transfers between shoppers, valid from the block after
/// `height`. `next_nonce` hands out nonces that are never reused.
pub fn transfers(rng: &mut SimRng, height: u64, next_nonce: &mut u64) -> Vec<Transaction> {
    let count = rng.range(SIM_TXS_PER_SUBMISSION.0, SIM_TXS_PER_SUBMISSION.1);
    (0..count)
        .map(|_| {
            let from = rng.index(SIM_SHOPPERS);
            let to = (from + 1 + rng.index(SIM_SHOPPERS - 1)) % SIM_SHOPPERS;
            *next_nonce += 1;
            let keys = shopper_keys();
            TxBody {
                chain_id: chain_id(),
                sender: keys[from].public(),
                sub: 0,
                nonce: *next_nonce,
                expires_at_height: height + SIM_TX_TTL_BLOCKS,
                kind: TxKind::Transfer {
                    token: token(),
                    to: keys[to].public().into(),
                    amount: rng.range(1, 50),
                    memo: None,
                },
            }
            .sign(&keys[from])
        })
        .collect()
}
