//! The devnet layout: valid, accepted by the ledger, deterministic, and
//! pinned by golden encodings.

use merit_chain::Symbol;
use merit_chain::amount::parse_amount;
use merit_chain::limits::MAX_VALIDATORS;
use merit_genesis::devnet::{
    DEVNET_CHAIN_ID, DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT, DEVNET_SHOPPERS,
    devnet, try_devnet,
};

/// SHA-256 of the canonical encoding of the default devnet genesis.
const GOLDEN_DEVNET_GENESIS_HASH: &str = include_str!("golden/devnet-genesis.hash");
/// The canonical encoding itself, in hex.
const GOLDEN_DEVNET_CANONICAL_HEX: &str = include_str!("golden/devnet-genesis.canonical.hex");
/// The default devnet's `genesis.json`, as written.
const GOLDEN_DEVNET_GENESIS_JSON: &str = include_str!("golden/devnet-genesis.json");

/// With `MERIT_BLESS=1`, a format change that is meant rewrites the golden
/// files instead of failing; review their diff before committing it.
fn bless(name: &str, content: &str) -> bool {
    if std::env::var_os("MERIT_BLESS").is_none() {
        return false;
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(name);
    std::fs::write(path, content).unwrap();
    true
}

fn default_devnet() -> merit_genesis::DevnetLayout {
    devnet(DEVNET_MERCHANTS, DEVNET_P2P_BASE_PORT, DEVNET_RPC_BASE_PORT)
}

#[test]
fn golden_devnet_genesis_hash_and_encodings() {
    let layout = default_devnet();
    let g = layout.validate().unwrap();
    if bless("devnet-genesis.json", &layout.genesis.to_json_pretty())
        & bless(
            "devnet-genesis.canonical.hex",
            &(hex::encode(g.canonical_bytes()) + "\n"),
        )
        & bless("devnet-genesis.hash", &(g.hash().to_hex() + "\n"))
    {
        return;
    }
    assert_eq!(
        layout.genesis.to_json_pretty(),
        GOLDEN_DEVNET_GENESIS_JSON,
        "genesis.json text changed"
    );
    assert_eq!(
        hex::encode(g.canonical_bytes()),
        GOLDEN_DEVNET_CANONICAL_HEX.trim(),
        "canonical encoding changed"
    );
    assert_eq!(
        g.hash().to_hex(),
        GOLDEN_DEVNET_GENESIS_HASH.trim(),
        "genesis hash changed"
    );
}

#[test]
fn the_golden_json_file_validates_to_the_golden_hash() {
    let f = merit_genesis::GenesisFile::from_json(GOLDEN_DEVNET_GENESIS_JSON).unwrap();
    assert_eq!(
        f.validate().unwrap().hash().to_hex(),
        GOLDEN_DEVNET_GENESIS_HASH.trim()
    );
}

#[test]
fn the_default_devnet_is_valid_and_the_ledger_accepts_it() {
    let layout = default_devnet();
    let g = layout.validate().unwrap();
    assert_eq!(g.chain_id().as_str(), DEVNET_CHAIN_ID);
    assert_eq!((g.validators().len(), g.max_faulty()), (4, 1));
    let names: Vec<&str> = g.merchants().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Bean Counter Coffee",
            "Northwind Books",
            "Skyline Fuel",
            "Harbor Air"
        ]
    );
    let symbols: Vec<&str> = g.tokens().iter().map(|t| t.symbol.as_str()).collect();
    assert_eq!(symbols, ["BEAN", "BOOK", "FUEL", "MILES"]);

    let (ledger, outcome) = g.ledger().unwrap();
    assert_eq!(outcome.state_root, g.state_root());
    for (i, m) in layout.merchants.iter().enumerate() {
        assert_eq!(g.validators()[i], m.validator.public());
        assert_eq!(g.merchants()[i].account, m.account.public());
        assert_eq!(
            g.merchants()[i]
                .validator
                .as_ref()
                .unwrap()
                .p2p_address
                .to_string(),
            format!("/ip4/127.0.0.1/tcp/{}", 26601 + i)
        );
        assert_eq!(
            m.rpc_address.to_string(),
            format!("http://127.0.0.1:{}", 8545 + i)
        );
        assert!(ledger.is_merchant(&m.account.public()));
        let token = ledger.token(&m.token).unwrap();
        assert_eq!(token.issuer, m.account.public());
        assert_eq!(token.decimals, 2);
    }
    for (shopper, amount) in DEVNET_SHOPPERS.iter().zip(["1000", "500", "250"]) {
        let key = layout.shopper(shopper).unwrap().public();
        for m in &layout.merchants {
            assert_eq!(
                ledger.balance(&key, &m.token),
                parse_amount(amount, 2).unwrap(),
                "{shopper} {}",
                m.token
            );
        }
    }
    assert!(layout.shopper("mallory").is_none());
    let miles = ledger.token(&Symbol::new("MILES").unwrap()).unwrap();
    assert_eq!(miles.expiry_days, Some(730));
}

#[test]
fn the_devnet_is_the_same_every_time() {
    let a = default_devnet();
    let b = default_devnet();
    assert_eq!(a.genesis, b.genesis);
    assert_eq!(
        a.merchants[2].validator.seed(),
        b.merchants[2].validator.seed()
    );
    assert_eq!(
        a.shopper("carol").unwrap().seed(),
        b.shopper("carol").unwrap().seed()
    );
}

#[test]
fn devnet_keys_are_all_distinct() {
    let layout = devnet(MAX_VALIDATORS, 20_000, 30_000);
    let mut keys = std::collections::BTreeSet::new();
    for m in &layout.merchants {
        assert!(keys.insert(m.account.public()));
        assert!(keys.insert(m.validator.public()));
        assert!(keys.insert(m.p2p.public()));
    }
    for s in &layout.shoppers {
        assert!(keys.insert(s.key.public()));
    }
    assert_eq!(keys.len(), 3 * MAX_VALIDATORS + 3);
}

#[test]
fn every_merchant_count_gives_a_valid_devnet() {
    for n in 1..=MAX_VALIDATORS {
        let layout = try_devnet(n, 20_000, 30_000).unwrap();
        let g = layout.validate().unwrap_or_else(|e| panic!("n={n}: {e}"));
        assert_eq!(g.validators().len(), n);
        assert_eq!(g.tokens().len(), n);
        assert_eq!(g.balances().len(), 3 * n);
    }
    let big = devnet(5, 20_000, 30_000);
    assert_eq!(big.merchants[4].name, "Merchant 5");
    assert_eq!(big.merchants[4].token.as_str(), "PTS5");
}

#[test]
fn try_devnet_refuses_impossible_layouts() {
    let msg =
        |r: Result<_, merit_genesis::devnet::DevnetError>| r.map(|_| ()).unwrap_err().to_string();
    assert_eq!(
        msg(try_devnet(0, 26601, 8545)),
        "a devnet has 1 to 100 merchants, not 0"
    );
    assert_eq!(
        msg(try_devnet(101, 26601, 8545)),
        "a devnet has 1 to 100 merchants, not 101"
    );
    assert!(msg(try_devnet(4, 65533, 8545)).contains("4 p2p ports starting at 65533 do not fit"));
    assert!(msg(try_devnet(4, 26601, 0)).contains("4 RPC ports starting at 0 do not fit"));
    assert!(msg(try_devnet(4, 26601, 26604)).contains("overlap"));
    assert!(
        try_devnet(4, 26601, 26605).is_ok(),
        "adjacent ranges do not overlap"
    );
}

#[test]
fn devnet_clamps_what_try_devnet_refuses() {
    assert_eq!(devnet(0, 26601, 8545).merchants.len(), 1);
    assert_eq!(
        devnet(1_000, 20_000, 30_000).merchants.len(),
        MAX_VALIDATORS
    );
    let high = devnet(4, 65535, 0);
    let p2p: Vec<u16> = high.merchants.iter().map(|m| m.p2p_address.port).collect();
    let rpc: Vec<Option<u16>> = high.merchants.iter().map(|m| m.rpc_address.port).collect();
    assert_eq!(p2p, [65532, 65533, 65534, 65535]);
    assert_eq!(rpc, [Some(1), Some(2), Some(3), Some(4)]);
    assert!(high.validate().is_ok());
}
