//! The deterministic local alliance behind `merit-node devnet`.
//!
//! **Every key here is public.** Keys come from
//! [`Keypair::insecure_from_label`], so anyone can recompute them from their
//! labels (`merit-devnet/merchant-1/account`, `merit-devnet/merchant-1/validator`,
//! `merit-devnet/merchant-1/p2p`, `merit-devnet/shopper/alice`, …). They exist so that a devnet, its demo accounts and its genesis hash
//! are the same on every machine. Never use them for anything of value.
//!
//! The default layout has four merchants, each running a validator and
//! issuing one demo token with 2 decimals, and three demo shoppers, `alice`,
//! `bob` and `carol`, who hold points of every token.

use merit_chain::limits::MAX_VALIDATORS;
use merit_chain::{Keypair, Symbol};

use crate::file::{BalanceEntry, GenesisFile, MerchantEntry, TokenEntry};
use crate::keys::{MerchantKeys, NodeKeys, PlanError, check_disjoint, port_range};
use crate::netaddr::{Host, P2pAddress, RpcAddress};
use crate::record::MerchantFile;
use crate::{Genesis, ValidationError};

/// The devnet's chain id.
pub const DEVNET_CHAIN_ID: &str = "merit-devnet";
/// The devnet's genesis time: 2026-01-01T00:00:00Z.
pub const DEVNET_GENESIS_TIME_MS: u64 = 1_767_225_600_000;
/// Merchants (and so validators) in the default devnet: n = 4, f = 1.
pub const DEVNET_MERCHANTS: usize = 4;
/// The first validator's p2p port; the others follow.
pub const DEVNET_P2P_BASE_PORT: u16 = 26601;
/// The first validator's JSON-RPC port; the others follow.
pub const DEVNET_RPC_BASE_PORT: u16 = 8545;
/// The demo shoppers, funded in every token.
pub const DEVNET_SHOPPERS: [&str; 3] = ["alice", "bob", "carol"];

/// The password of the devnet's validator key files. Public, like the
/// demo keys it guards: it exists so the devnet reads its validator keys
/// the way every node does, encrypted at rest, with no prompt.
pub const DEVNET_NODE_PASSWORD: &str = "merit-devnet-public-password";

/// Decimals of every demo token.
const DEMO_DECIMALS: u8 = 2;

/// A demo merchant and its token.
struct DemoMerchant {
    name: &'static str,
    symbol: &'static str,
    token_name: &'static str,
    max_supply: &'static str,
    expiry_days: Option<u32>,
}

const DEMO_MERCHANTS: [DemoMerchant; DEVNET_MERCHANTS] = [
    DemoMerchant {
        name: "Bean Counter Coffee",
        symbol: "BEAN",
        token_name: "Bean Counter Beans",
        max_supply: "10000000.00",
        expiry_days: None,
    },
    DemoMerchant {
        name: "Northwind Books",
        symbol: "BOOK",
        token_name: "Northwind Book Points",
        max_supply: "5000000.00",
        expiry_days: None,
    },
    DemoMerchant {
        name: "Skyline Fuel",
        symbol: "FUEL",
        token_name: "Skyline Fuel Rewards",
        max_supply: "20000000.00",
        expiry_days: None,
    },
    DemoMerchant {
        name: "Harbor Air",
        symbol: "MILES",
        token_name: "Harbor Air Miles",
        max_supply: "100000000.00",
        expiry_days: Some(730),
    },
];

/// What each demo shopper holds of every token, in token units, by shopper.
const SHOPPER_BALANCES: [&str; 3] = ["1000.00", "500.00", "250.00"];

/// A devnet merchant: its demo keys, its token and its addresses.
#[derive(Debug, Clone)]
pub struct DevnetMerchant {
    pub name: String,
    /// The merchant's demo token.
    pub token: Symbol,
    /// The merchant's account key. Public demo key.
    pub account: Keypair,
    /// The validator's consensus key. Public demo key.
    pub validator: Keypair,
    /// The validator node's libp2p identity. Public demo key.
    pub p2p: Keypair,
    pub p2p_address: P2pAddress,
    pub rpc_address: RpcAddress,
}

/// A devnet demo shopper.
#[derive(Debug, Clone)]
pub struct DevnetShopper {
    pub name: String,
    /// Public demo key.
    pub key: Keypair,
}

/// A whole devnet: the genesis file and every demo key behind it.
#[derive(Debug, Clone)]
pub struct DevnetLayout {
    pub genesis: GenesisFile,
    /// In validator order, matching `genesis.merchants`.
    pub merchants: Vec<DevnetMerchant>,
    /// `alice`, `bob` and `carol`.
    pub shoppers: Vec<DevnetShopper>,
}

impl DevnetLayout {
    /// The demo key of the shopper called `name`.
    pub fn shopper(&self, name: &str) -> Option<&Keypair> {
        self.shoppers
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.key)
    }

    /// Validates the genesis file.
    pub fn validate(&self) -> Result<Genesis, ValidationError> {
        self.genesis.validate()
    }
}

/// Why a devnet layout was refused.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("a devnet has 1 to {MAX_VALIDATORS} merchants, not {0}")]
    MerchantCount(usize),
    #[error(transparent)]
    Ports(#[from] PlanError),
}

/// The devnet with `n_merchants` validators, validator `i` (0-based)
/// listening for peers on `base_p2p_port + i` and serving JSON-RPC on
/// `base_rpc_port + i`, all on 127.0.0.1.
///
/// Refuses a merchant count outside `1..=MAX_VALIDATORS` and port ranges that
/// run past 65535 or overlap.
pub fn try_devnet(
    n_merchants: usize,
    base_p2p_port: u16,
    base_rpc_port: u16,
) -> Result<DevnetLayout, DevnetError> {
    if !(1..=MAX_VALIDATORS).contains(&n_merchants) {
        return Err(DevnetError::MerchantCount(n_merchants));
    }
    let p2p = port_range("p2p", base_p2p_port, n_merchants)?;
    let rpc = port_range("RPC", base_rpc_port, n_merchants)?;
    check_disjoint(&p2p, &rpc)?;
    Ok(layout(&p2p, &rpc))
}

/// The devnet as [`try_devnet`] lays it out, for any input: `n_merchants` is
/// clamped to `1..=MAX_VALIDATORS`, and a base port is lowered (or raised
/// from 0) just enough for its range to fit in 1..=65535. Overlapping p2p and
/// RPC ranges are left as given; use [`try_devnet`] to have them refused.
///
/// `devnet(DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT)` is
/// the default devnet.
pub fn devnet(n_merchants: usize, base_p2p_port: u16, base_rpc_port: u16) -> DevnetLayout {
    let n = n_merchants.clamp(1, MAX_VALIDATORS);
    let top = u16::try_from(n - 1).map_or(1, |span| u16::MAX - span);
    let ports = |base: u16| -> Vec<u16> {
        let base = base.clamp(1, top);
        (0..n)
            .map(|i| u16::try_from(i).map_or(u16::MAX, |i| base.saturating_add(i)))
            .collect()
    };
    layout(&ports(base_p2p_port), &ports(base_rpc_port))
}

/// Builds the layout for one merchant per port pair.
fn layout(p2p_ports: &[u16], rpc_ports: &[u16]) -> DevnetLayout {
    let host = Host::Ip4(std::net::Ipv4Addr::LOCALHOST);
    let shoppers: Vec<DevnetShopper> = DEVNET_SHOPPERS
        .iter()
        .map(|name| DevnetShopper {
            name: (*name).to_string(),
            key: Keypair::insecure_from_label(&format!("merit-devnet/shopper/{name}")),
        })
        .collect();
    let mut merchants = Vec::with_capacity(p2p_ports.len());
    let mut file = GenesisFile {
        chain_id: DEVNET_CHAIN_ID.to_string(),
        genesis_time_ms: DEVNET_GENESIS_TIME_MS,
        merchants: Vec::new(),
        tokens: Vec::new(),
        balances: Vec::new(),
        consensus: Default::default(),
    };
    for (i, (p2p, rpc)) in p2p_ports.iter().zip(rpc_ports).enumerate() {
        let number = i + 1;
        let (name, symbol, token_name, max_supply, expiry_days) = match DEMO_MERCHANTS.get(i) {
            Some(d) => (
                d.name.to_string(),
                d.symbol.to_string(),
                d.token_name.to_string(),
                d.max_supply.to_string(),
                d.expiry_days,
            ),
            None => (
                format!("Merchant {number}"),
                format!("PTS{number}"),
                format!("Merchant {number} Points"),
                "1000000.00".to_string(),
                None,
            ),
        };
        let account =
            Keypair::insecure_from_label(&format!("merit-devnet/merchant-{number}/account"));
        let validator =
            Keypair::insecure_from_label(&format!("merit-devnet/merchant-{number}/validator"));
        let p2p_key = Keypair::insecure_from_label(&format!("merit-devnet/merchant-{number}/p2p"));
        let p2p_address = P2pAddress::new(host.clone(), *p2p);
        let rpc_address = RpcAddress::new(host.clone(), *rpc);
        let keys = MerchantKeys {
            name: name.clone(),
            account: account.clone(),
            node: Some(NodeKeys {
                validator: validator.clone(),
                p2p: p2p_key.clone(),
            }),
        };
        // Every devnet name and address is valid by construction, and the
        // tests build every merchant count.
        #[allow(clippy::expect_used)]
        let record = keys
            .sign(Some(&p2p_address))
            .expect("devnet records are valid");
        file.merchants.push(MerchantEntry::new(
            MerchantFile::from_signed(&record.signed),
            Some(rpc_address.to_string()),
        ));
        file.tokens.push(TokenEntry {
            symbol: symbol.clone(),
            name: token_name,
            decimals: DEMO_DECIMALS,
            max_supply,
            expiry_days,
            // The coffee shop's BEAN shows frozen funds and clawback.
            freezable: i == 0,
            clawback: i == 0,
            issuer: account.public().to_bech32(),
        });
        for (shopper, amount) in shoppers.iter().zip(SHOPPER_BALANCES) {
            file.balances.push(BalanceEntry {
                address: shopper.key.public().to_bech32(),
                token: symbol.clone(),
                amount: amount.to_string(),
            });
        }
        // Every devnet symbol is 2 to 12 characters of `A-Z0-9` by
        // construction ("PTS" and at most 3 digits beyond the demo ones);
        // the tests build every merchant count.
        #[allow(clippy::expect_used)]
        let token = Symbol::new(&symbol).expect("devnet symbols are valid");
        merchants.push(DevnetMerchant {
            name,
            token,
            account,
            validator,
            p2p: p2p_key,
            p2p_address,
            rpc_address,
        });
    }
    DevnetLayout {
        genesis: file,
        merchants,
        shoppers,
    }
}
