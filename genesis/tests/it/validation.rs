//! Every validation rule, reached from a file that is otherwise valid, with
//! the message checked to name the field and the problem.

use merit_chain::PublicKey;
use merit_chain::limits::MAX_VALIDATORS;
use merit_chain::merchant::{KeyRole, RecordError};
use merit_genesis::netaddr::P2pAddress;
use merit_genesis::{
    BalanceEntry, GenesisFile, MAX_GENESIS_BALANCES, MAX_GENESIS_TOKENS, MerchantEntry,
    MerchantFile, MerchantKeys, NodeKeys, Problem, TokenEntry, ValidationError, devnet,
};

use crate::support::{resign, test_key};

/// A field, an edit that breaks it, and what the message must say.
type Case<T> = (&'static str, fn(&mut T), &'static [&'static str]);

/// The default devnet genesis: 4 merchants, 4 tokens, 12 balances.
fn base() -> GenesisFile {
    devnet::devnet(4, 26601, 8545).genesis
}

/// Validates `f`, which must fail, and checks the message starts with
/// `field: ` and contains each of `parts`.
#[track_caller]
fn refused(f: &GenesisFile, field: &str, parts: &[&str]) -> ValidationError {
    let err = f.validate().expect_err("the file must be refused");
    let msg = err.to_string();
    assert_eq!(err.field, field, "{msg}");
    assert!(msg.starts_with(&format!("{field}: ")), "{msg}");
    for p in parts {
        assert!(msg.contains(p), "`{msg}` does not contain `{p}`");
    }
    err
}

#[test]
fn the_base_file_is_valid() {
    let g = base().validate().unwrap();
    assert_eq!(g.merchants().len(), 4);
    assert_eq!(g.tokens().len(), 4);
    assert_eq!(g.balances().len(), 12);
}

#[test]
fn chain_id_must_be_present_short_and_plain() {
    let mut f = base();
    f.chain_id = String::new();
    refused(&f, "chain_id", &["must not be empty"]);
    f.chain_id = "m".repeat(33);
    refused(&f, "chain_id", &["is 33 bytes, over the limit of 32"]);
    f.chain_id = "m".repeat(32);
    assert!(f.validate().is_ok(), "32 bytes is the limit, not over it");
    f.chain_id = "merit 1".into();
    refused(&f, "chain_id", &["contains ' '", "ASCII letters, digits"]);
    f.chain_id = "mérit".into();
    refused(&f, "chain_id", &["contains 'é'"]);
}

#[test]
fn merchant_count_is_between_one_and_max_validators() {
    let mut f = base();
    f.merchants.clear();
    f.tokens.clear();
    f.balances.clear();
    refused(&f, "merchants", &["at least one merchant"]);

    let entry = |i: usize| {
        let keys = MerchantKeys {
            name: format!("Merchant {i}"),
            account: test_key(&format!("acct-{i}")),
            node: Some(NodeKeys {
                validator: test_key(&format!("val-{i}")),
                p2p: test_key(&format!("p2p-{i}")),
            }),
        };
        let addr = P2pAddress::parse(&format!("/ip4/10.0.0.1/tcp/{}", 20_000 + i)).unwrap();
        MerchantEntry::new(
            MerchantFile::from_signed(&keys.sign(Some(&addr)).unwrap().signed),
            None,
        )
    };
    f.merchants = (0..MAX_VALIDATORS).map(entry).collect();
    let g = f.validate().unwrap();
    assert_eq!(g.validators().len(), MAX_VALIDATORS);
    assert_eq!(g.max_faulty(), 33);
    f.merchants.push(entry(MAX_VALIDATORS));
    refused(
        &f,
        "merchants",
        &["names 101 validators, over the limit of 100"],
    );
}

#[test]
fn merchant_names_are_present_plain_and_distinct() {
    let mut f = base();
    f.merchants[1].name = "  ".into();
    refused(&f, "merchants[1].name", &["must not be empty"]);
    f.merchants[1].name = "n".repeat(65);
    refused(
        &f,
        "merchants[1].name",
        &["is 65 bytes, over the limit of 64"],
    );
    f.merchants[1].name = "Books\n".into();
    refused(&f, "merchants[1].name", &["control character '\\n'"]);
    f.merchants[1].name = " Books".into();
    refused(&f, "merchants[1].name", &["whitespace"]);
    f.merchants[1].name = f.merchants[0].name.clone();
    resign(&mut f, 1, &[]);
    refused(
        &f,
        "merchants[1].name",
        &["`Bean Counter Coffee` is already the name of merchants[0].name"],
    );
}

#[test]
fn merchant_keys_must_be_mrt_addresses_of_usable_keys() {
    let mut f = base();
    f.merchants[2].account = "mrt1notanaddress".into();
    refused(&f, "merchants[2].account", &["not a bech32m string"]);

    let mut f = base();
    f.merchants[0].validator_key = Some("hello".into());
    refused(&f, "merchants[0].validator_key", &["not a bech32m string"]);

    // A small-order point parses as an address but can verify nothing.
    let mut f = base();
    f.merchants[3].validator_key = Some(PublicKey::ZERO.to_bech32());
    refused(
        &f,
        "merchants[3].validator_key",
        &["is not a usable ed25519 public key"],
    );
    let mut identity = [0u8; 32];
    identity[0] = 1;
    f.merchants[3].validator_key = Some(PublicKey(identity).to_bech32());
    refused(
        &f,
        "merchants[3].validator_key",
        &["is not a usable ed25519 public key"],
    );
}

#[test]
fn duplicate_validator_keys_are_refused() {
    let mut f = base();
    f.merchants[3].validator_key = f.merchants[1].validator_key.clone();
    resign(&mut f, 3, &[]);
    let err = refused(
        &f,
        "merchants[3].validator_key",
        &["is already used as merchants[1].validator_key"],
    );
    assert!(matches!(err.problem, Problem::DuplicateKey { .. }));
}

#[test]
fn accounts_validator_and_p2p_keys_are_all_distinct() {
    // Within one record.
    let mut f = base();
    f.merchants[2].validator_key = Some(f.merchants[2].account.clone());
    resign(&mut f, 2, &[]);
    refused(
        &f,
        "merchants[2].validator_key",
        &["the validator key and the account key are the same key"],
    );

    let mut f = base();
    f.merchants[1].account = f.merchants[0].account.clone();
    resign(&mut f, 1, &[]);
    refused(
        &f,
        "merchants[1].account",
        &["is already used as merchants[0].account"],
    );

    let mut f = base();
    f.merchants[3].account = f.merchants[0].validator_key.clone().unwrap();
    resign(&mut f, 3, &[]);
    refused(
        &f,
        "merchants[3].account",
        &["is already used as merchants[0].validator_key"],
    );

    let mut f = base();
    f.merchants[2].p2p_key = f.merchants[1].p2p_key.clone();
    resign(&mut f, 2, &[]);
    refused(
        &f,
        "merchants[2].p2p_key",
        &["is already used as merchants[1].p2p_key"],
    );

    let mut f = base();
    f.merchants[1].p2p_key = f.merchants[0].validator_key.clone();
    resign(&mut f, 1, &[]);
    refused(
        &f,
        "merchants[1].p2p_key",
        &["is already used as merchants[0].validator_key"],
    );
}

#[test]
fn every_proof_of_possession_is_checked() {
    // A field changed after signing.
    let mut f = base();
    f.merchants[2].name = "Skyline Fuel & Co".into();
    let err = refused(&f, "merchants[2].proofs", &["changed after it was signed"]);
    assert_eq!(
        err.problem,
        Problem::Record(RecordError::ChangedAfterSigning)
    );

    // Someone else's validator key, which its owner never signed for.
    let mut f = base();
    let victim = test_key("victim").public().to_bech32();
    f.merchants[1].validator_key = Some(victim.clone());
    resign(&mut f, 1, &["victim"]);
    let genuine = f.clone();
    f.merchants[1].proofs.validator_key = base().merchants[1].proofs.validator_key.clone();
    refused(
        &f,
        "merchants[1].proofs.validator_key",
        &[
            "the proof of possession of the validator key",
            &victim,
            "forged",
        ],
    );
    assert!(
        genuine.validate().is_ok(),
        "signed by the key itself, it is valid"
    );

    // A proof missing, or not a signature at all.
    let mut f = base();
    f.merchants[0].proofs.p2p_key = None;
    refused(
        &f,
        "merchants[0].proofs.p2p_key",
        &["the proof of possession of the p2p key is missing"],
    );
    let mut f = base();
    f.merchants[0].proofs.account = Some("abc".into());
    refused(
        &f,
        "merchants[0].proofs.account",
        &["128 hexadecimal digits"],
    );

    // A proof of a key the record does not name.
    let mut f = base();
    f.merchants[0].validator_key = None;
    f.merchants[0].p2p_key = None;
    f.merchants[0].p2p_address = None;
    let err = refused(
        &f,
        "merchants[0].proofs.validator_key",
        &["the record names none"],
    );
    assert_eq!(
        err.problem,
        Problem::Record(RecordError::UnexpectedProof {
            role: KeyRole::Validator
        })
    );
}

#[test]
fn a_validator_names_its_key_p2p_key_and_address_together() {
    for (missing, edit) in [
        (
            "validator_key",
            (|e: &mut MerchantEntry| e.validator_key = None) as fn(&mut MerchantEntry),
        ),
        ("p2p_key", |e| e.p2p_key = None),
        ("p2p_address", |e| e.p2p_address = None),
    ] {
        let mut f = base();
        edit(&mut f.merchants[1]);
        let err = f.validate().unwrap_err().to_string();
        assert!(err.starts_with("merchants[1]."), "{err}");
        assert!(err.contains(&format!("{missing} is missing")), "{err}");
    }
}

#[test]
fn a_merchant_may_issue_without_running_a_validator() {
    let mut f = base();
    let shop = MerchantKeys {
        name: "Corner Shop".into(),
        account: test_key("corner-shop"),
        node: None,
    };
    let record = shop.sign(None).unwrap();
    f.merchants.insert(
        1,
        MerchantEntry::new(MerchantFile::from_signed(&record.signed), None),
    );
    let g = f.validate().unwrap();
    assert_eq!(g.merchants().len(), 5);
    assert_eq!(
        g.validators().len(),
        4,
        "an issuer-only merchant is no validator"
    );
    let order: Vec<&str> = g
        .validator_merchants()
        .map(|(m, _)| m.name.as_str())
        .collect();
    assert_eq!(order[1], "Northwind Books", "validator order skips it");
    assert!(
        g.to_state()
            .merchants
            .iter()
            .any(|(a, _)| *a == shop.account.public())
    );

    // But some merchant must run a validator.
    let mut f = base();
    f.merchants = vec![MerchantEntry::new(
        MerchantFile::from_signed(&record.signed),
        None,
    )];
    f.tokens.clear();
    f.balances.clear();
    refused(
        &f,
        "merchants",
        &["at least one merchant to run a validator"],
    );
}

#[test]
fn p2p_addresses_must_parse_and_differ() {
    let mut f = base();
    f.merchants[1].p2p_address = Some("127.0.0.1:26602".into());
    refused(
        &f,
        "merchants[1].p2p_address",
        &["is not a valid p2p multiaddr", "starts with `/`"],
    );
    f.merchants[1].p2p_address = Some("/ip4/127.0.0.1/tcp/26602/p2p/12D3KooWabc".into());
    refused(
        &f,
        "merchants[1].p2p_address",
        &["peer id comes from its p2p_key"],
    );
    f.merchants[1].p2p_address = Some("/ip4/127.0.0.1/tcp/99999".into());
    refused(&f, "merchants[1].p2p_address", &["port `99999`"]);
    // The address is signed as written, so only its normal form is taken.
    f.merchants[1].p2p_address = Some("/ip4/127.0.0.1/tcp/026602".into());
    refused(
        &f,
        "merchants[1].p2p_address",
        &["must be in normal form: write `/ip4/127.0.0.1/tcp/26602`"],
    );
    f.merchants[1].p2p_address = Some("/ip4/127.0.0.1/tcp/26601".into());
    resign(&mut f, 1, &[]);
    refused(
        &f,
        "merchants[1].p2p_address",
        &["/ip4/127.0.0.1/tcp/26601 is already the p2p address of merchants[0]"],
    );
}

#[test]
fn rpc_addresses_are_optional_but_must_parse() {
    let mut f = base();
    f.merchants[0].rpc_address = None;
    assert!(f.validate().unwrap().merchants()[0].rpc_address.is_none());
    f.merchants[0].rpc_address = Some("localhost:8545".into());
    refused(
        &f,
        "merchants[0].rpc_address",
        &["is not a valid RPC URL", "http://"],
    );
}

#[test]
fn token_fields_are_checked() {
    let cases: [Case<TokenEntry>; 9] = [
        (
            "tokens[0].symbol",
            |t| t.symbol = "bean".into(),
            &["2 to 12 characters of A-Z and 0-9, got `bean`"],
        ),
        (
            "tokens[0].name",
            |t| t.name = String::new(),
            &["must not be empty"],
        ),
        (
            "tokens[0].name",
            |t| t.name = "x".repeat(65),
            &["over the limit of 64"],
        ),
        (
            "tokens[0].decimals",
            |t| t.decimals = 10,
            &["10 is over the maximum of 9"],
        ),
        (
            "tokens[0].max_supply",
            |t| t.max_supply = "1.234".into(),
            &["`1.234` has more than 2 decimal places"],
        ),
        (
            "tokens[0].max_supply",
            |t| t.max_supply = "0.00".into(),
            &["must be greater than zero"],
        ),
        (
            "tokens[0].max_supply",
            |t| t.max_supply = "lots".into(),
            &["`lots` is not a decimal number"],
        ),
        (
            "tokens[0].expiry_days",
            |t| t.expiry_days = Some(0),
            &["0 is outside the allowed range 1 to 36500"],
        ),
        (
            "tokens[0].issuer",
            |t| t.issuer = "mrt1".into(),
            &["not a bech32m string"],
        ),
    ];
    for (field, edit, parts) in cases {
        let mut f = base();
        edit(&mut f.tokens[0]);
        refused(&f, field, parts);
    }
    let mut f = base();
    f.tokens[0].expiry_days = Some(36_501);
    refused(&f, "tokens[0].expiry_days", &["36501 is outside"]);
    f.tokens[0].expiry_days = Some(36_500);
    assert!(f.validate().is_ok());
}

#[test]
fn a_token_issuer_must_be_a_merchant_account() {
    let mut f = base();
    let alice = devnet::devnet(4, 26601, 8545)
        .shopper("alice")
        .unwrap()
        .public();
    f.tokens[0].issuer = alice.to_bech32();
    refused(
        &f,
        "tokens[0].issuer",
        &[&format!("{alice} is not a merchant account")],
    );
    // A validator key is not an account either.
    f.tokens[0].issuer = f.merchants[0].validator_key.clone().unwrap();
    refused(&f, "tokens[0].issuer", &["is not a merchant account"]);
}

#[test]
fn token_symbols_are_unique() {
    let mut f = base();
    f.tokens[2].symbol = "BEAN".into();
    refused(
        &f,
        "tokens[2].symbol",
        &["token BEAN is already defined by tokens[0]"],
    );
}

#[test]
fn balance_fields_are_checked() {
    let mut f = base();
    f.balances[3].amount = "1.234".into();
    let err = refused(&f, "balances[3].amount", &[]);
    assert_eq!(
        err.to_string(),
        "balances[3].amount: `1.234` has more than 2 decimal places"
    );

    let cases: [Case<BalanceEntry>; 6] = [
        (
            "balances[5].address",
            |b| b.address = "mrt1zzz".into(),
            &["not a bech32m string"],
        ),
        (
            "balances[5].address",
            |b| b.address = PublicKey::ZERO.to_bech32(),
            &["not a usable ed25519 public key"],
        ),
        (
            "balances[5].token",
            |b| b.token = "NOPE".into(),
            &["unknown token `NOPE`; it is not listed in tokens"],
        ),
        (
            "balances[5].amount",
            |b| b.amount = "0".into(),
            &["must be greater than zero"],
        ),
        (
            "balances[5].amount",
            |b| b.amount = "-5".into(),
            &["must not be negative"],
        ),
        (
            "balances[5].amount",
            |b| b.amount = "18446744073709551616".into(),
            &["too large"],
        ),
    ];
    for (field, edit, parts) in cases {
        let mut f = base();
        edit(&mut f.balances[5]);
        refused(&f, field, parts);
    }
}

#[test]
fn a_second_balance_for_the_same_holder_and_token_is_refused() {
    let mut f = base();
    let dup = f.balances[0].clone();
    f.balances.push(dup);
    refused(&f, "balances[12]", &["BEAN balance in balances[0]"]);
}

#[test]
fn initial_balances_cannot_exceed_the_cap() {
    let mut f = base();
    // BEAN's cap is 10,000,000.00; alice and bob hold 1,500.00 of it.
    f.balances[2].amount = "9998500.01".into();
    refused(
        &f,
        "balances[2].amount",
        &["brings the initial supply of BEAN to 10000000.01, over its max_supply of 10000000.00"],
    );
    f.balances[2].amount = "9998500.00".into();
    let g = f.validate().unwrap();
    let bean = g.tokens()[0].symbol;
    assert_eq!(g.initial_supply(&bean), 1_000_000_000);

    // Sums that overflow u64 are refused, not wrapped.
    let mut f = base();
    f.tokens[0].max_supply = "184467440737095516.15".into();
    f.balances[0].amount = "184467440737095516.15".into();
    refused(&f, "balances[1].amount", &["more than the largest amount"]);
}

#[test]
fn list_lengths_are_bounded() {
    let mut f = base();
    let t = f.tokens[0].clone();
    f.tokens = vec![t; MAX_GENESIS_TOKENS + 1];
    refused(&f, "tokens", &["has 1001 entries, over the limit of 1000"]);

    let mut f = base();
    let b = f.balances[0].clone();
    f.balances = vec![b; MAX_GENESIS_BALANCES + 1];
    refused(
        &f,
        "balances",
        &["has 100001 entries, over the limit of 100000"],
    );
}

#[test]
fn a_merchants_only_file_is_valid() {
    let mut f = base();
    f.tokens.clear();
    f.balances.clear();
    let g = f.validate().unwrap();
    assert!(g.tokens().is_empty());
    let (ledger, _) = g.ledger().unwrap();
    assert_eq!(ledger.state_root(), g.state_root());
    for m in g.merchants() {
        assert!(ledger.is_merchant(&m.account));
        assert!(
            !ledger.is_merchant(&m.validator.as_ref().unwrap().key),
            "validator keys are not merchants"
        );
    }
}

#[test]
fn validated_values_reach_the_ledger_state() {
    let g = base().validate().unwrap();
    let state = g.to_state();
    assert_eq!(state.merchants.len(), 4);
    assert_eq!(state.merchants[0].1.name.as_str(), "Bean Counter Coffee");
    assert_eq!(state.tokens[3].symbol.as_str(), "MILES");
    assert_eq!(state.tokens[3].expiry_days, Some(730));
    assert_eq!(state.tokens[0].max_supply, 1_000_000_000);
    let (ledger, outcome) = g.ledger().unwrap();
    assert_eq!(outcome.state_root, g.state_root());
    assert_eq!(ledger.height(), 0);
    assert_eq!(ledger.chain_id().as_str(), "merit-devnet");
    assert_eq!(ledger.tip().timestamp_ms, g.genesis_time_ms());
    for a in ledger.audit() {
        assert!(a.holds(), "{a:?}");
        assert_eq!(a.minted, a.circulating);
    }
}
