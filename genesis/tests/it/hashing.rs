//! The genesis hash ignores JSON formatting and notices every content change.

use merit_genesis::{GenesisFile, devnet};

use crate::support::resign;

fn base() -> GenesisFile {
    devnet::devnet(4, 26601, 8545).genesis
}

fn hash_of_json(json: &str) -> String {
    GenesisFile::from_json(json)
        .unwrap()
        .validate()
        .unwrap()
        .hash()
        .to_hex()
}

#[test]
fn formatting_does_not_change_the_hash() {
    let f = base();
    let pretty = f.to_json_pretty();
    let compact = serde_json::to_string(&f).unwrap();
    // Through a `Value`, object keys come out sorted: a different key order.
    let reordered = serde_json::to_string_pretty(&serde_json::to_value(&f).unwrap()).unwrap();
    assert_ne!(pretty, compact);
    assert!(reordered.find("\"balances\"").unwrap() < reordered.find("\"chain_id\"").unwrap());
    let indented = pretty.replace("\n", "\r\n\t");
    let expected = f.validate().unwrap().hash().to_hex();
    for json in [&pretty, &compact, &reordered, &indented] {
        assert_eq!(hash_of_json(json), expected);
    }
}

#[test]
fn equal_values_written_differently_hash_alike() {
    let f = base();
    let expected = f.validate().unwrap().hash();
    let mut g = f.clone();
    g.balances[0].amount = "1000".into(); // "1000.00"
    g.tokens[0].max_supply = "10000000.0".into(); // "10000000.00"
    g.merchants[2].rpc_address = Some("http://127.0.0.1:8547/".into());
    assert_ne!(f, g);
    assert_eq!(g.validate().unwrap().hash(), expected);
}

#[test]
fn every_content_change_changes_the_hash() {
    let f = base();
    let original = f.validate().unwrap().hash();
    type Edit = Box<dyn Fn(&mut GenesisFile)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "chain id",
            Box::new(|f| f.chain_id = "merit-devnet-2".into()),
        ),
        ("genesis time", Box::new(|f| f.genesis_time_ms += 1)),
        (
            "merchant name",
            Box::new(|f| {
                f.merchants[0].name = "Bean Counter Cafe".into();
                resign(f, 0, &[]);
            }),
        ),
        (
            "p2p port",
            Box::new(|f| {
                f.merchants[3].p2p_address = Some("/ip4/127.0.0.1/tcp/26700".into());
                resign(f, 3, &[]);
            }),
        ),
        (
            "p2p host",
            Box::new(|f| {
                f.merchants[3].p2p_address = Some("/dns/localhost/tcp/26604".into());
                resign(f, 3, &[]);
            }),
        ),
        (
            "p2p key",
            Box::new(|f| {
                let other = f.merchants[0].p2p_key.clone();
                f.merchants[0].p2p_key = f.merchants[1].p2p_key.clone();
                f.merchants[1].p2p_key = other;
                resign(f, 0, &[]);
                resign(f, 1, &[]);
            }),
        ),
        (
            "rpc address dropped",
            Box::new(|f| f.merchants[1].rpc_address = None),
        ),
        ("validator order", Box::new(|f| f.merchants.swap(0, 1))),
        (
            "token name",
            Box::new(|f| f.tokens[1].name = "Northwind Points".into()),
        ),
        (
            "token cap",
            Box::new(|f| f.tokens[1].max_supply = "5000000.01".into()),
        ),
        (
            "token expiry",
            Box::new(|f| f.tokens[0].expiry_days = Some(365)),
        ),
        ("token decimals", Box::new(|f| f.tokens[2].decimals = 3)),
        (
            "balance amount",
            Box::new(|f| f.balances[7].amount = "500.01".into()),
        ),
        ("balance order", Box::new(|f| f.balances.swap(0, 1))),
        ("balance removed", Box::new(|f| drop(f.balances.pop()))),
    ];
    let mut seen = std::collections::BTreeSet::from([original]);
    for (what, edit) in edits {
        let mut g = f.clone();
        edit(&mut g);
        let hash = g
            .validate()
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .hash();
        assert!(
            seen.insert(hash),
            "{what} did not change the hash (or collided)"
        );
    }
}

#[test]
fn the_normal_file_form_validates_to_the_same_genesis() {
    let f = base();
    let g = f.validate().unwrap();
    let back = g.to_file();
    assert_eq!(back, f, "the devnet file is already in normal form");
    assert_eq!(back.validate().unwrap(), g);

    let mut loose = f.clone();
    loose.balances[0].amount = "1000".into();
    let normal = loose.validate().unwrap().to_file();
    assert_eq!(normal.balances[0].amount, "1000.00");
    assert_eq!(normal, f);
}

#[test]
fn the_canonical_bytes_start_with_the_format_version_and_chain_id() {
    let g = base().validate().unwrap();
    let bytes = g.canonical_bytes();
    assert_eq!(
        bytes[..4],
        merit_genesis::GENESIS_FORMAT_VERSION.to_le_bytes()
    );
    assert_eq!(
        bytes[4..12],
        12u64.to_le_bytes(),
        "length of `merit-devnet`"
    );
    assert_eq!(&bytes[12..24], b"merit-devnet");
    assert_eq!(merit_chain::crypto::sha256(&bytes), g.hash());
}
