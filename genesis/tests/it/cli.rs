//! The `merit-genesis` binary, run as a new user runs it.

use std::path::Path;
use std::process::{Command, Output};

use merit_chain::Keypair;
use merit_genesis::keystore::{self, file_mode};
use merit_genesis::netaddr::P2pAddress;
use merit_genesis::p2p_key::load_p2p_key;
use merit_genesis::{Genesis, MerchantFile, MerchantKeys, NodeKeys, devnet};

/// The node password every test run uses, through `MERIT_NODE_PASSWORD`.
const NODE_PW: &str = "node password";
/// The issuer password every test run uses, through `MERIT_PASSWORD`.
const ISSUER_PW: &str = "issuer password";

/// Runs the binary with both passwords in the environment and no terminal.
fn merit_genesis(args: &[&str]) -> Output {
    merit_genesis_env(
        args,
        &[
            ("MERIT_NODE_PASSWORD", NODE_PW),
            ("MERIT_PASSWORD", ISSUER_PW),
        ],
    )
}

/// Runs the binary with only the environment variables `env` set of the two
/// password variables.
fn merit_genesis_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_merit-genesis"));
    cmd.args(args)
        .env_remove("MERIT_NODE_PASSWORD")
        .env_remove("MERIT_PASSWORD")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The hash from the `genesis hash: <hex>` line both commands print.
fn printed_hash(o: &Output) -> String {
    let out = stdout(o);
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("genesis hash: "))
        .unwrap_or_else(|| panic!("no hash in {out}"));
    assert_eq!(line.len(), 64, "{line}");
    line.to_string()
}

/// A failure that explains itself on stderr, without a panic or a backtrace.
#[track_caller]
fn assert_clean_failure(o: &Output, parts: &[&str]) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure; stdout: {}",
        stdout(o)
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    for p in parts {
        assert!(err.contains(p), "`{err}` does not contain `{p}`");
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn help_explains_every_command_with_examples() {
    let top = merit_genesis(&["--help"]);
    assert!(top.status.success());
    let text = stdout(&top);
    for want in [
        "keygen",
        "assemble",
        "verify",
        "new",
        "Examples:",
        "merit-genesis keygen --name",
        "merit-genesis assemble --chain-id",
        "merit-genesis verify genesis.json --hash",
        "For tests and local trials only",
    ] {
        assert!(text.contains(want), "--help lacks `{want}`:\n{text}");
    }

    let new = merit_genesis(&["new", "--help"]);
    assert!(new.status.success());
    let text = stdout(&new);
    for want in [
        "--merchants",
        "--out",
        "--chain-id",
        "--p2p-host",
        "--p2p-base-port",
        "--rpc-base-port",
        "--force",
        "0600",
        "Examples:",
        "TESTS AND LOCAL TRIALS ONLY",
    ] {
        assert!(text.contains(want), "new --help lacks `{want}`:\n{text}");
    }

    let keygen = merit_genesis(&["keygen", "--help"]);
    let text = stdout(&keygen);
    for want in [
        "--name",
        "--p2p-address",
        "--no-validator",
        "--password-file",
        "--issuer-password-file",
        "MERIT_NODE_PASSWORD",
        "validator_key.json",
        "p2p_key.json",
        "issuer.json",
        "merchant.json",
    ] {
        assert!(text.contains(want), "keygen --help lacks `{want}`:\n{text}");
    }

    let assemble = merit_genesis(&["assemble", "--help"]);
    let text = stdout(&assemble);
    for want in [
        "--chain-id",
        "--merchant",
        "--tokens",
        "--out",
        "out of band",
    ] {
        assert!(
            text.contains(want),
            "assemble --help lacks `{want}`:\n{text}"
        );
    }

    let verify = merit_genesis(&["verify", "--help"]);
    assert!(verify.status.success());
    let text = stdout(&verify);
    for want in ["--hash", "FILE", "Examples:", "Exit status"] {
        assert!(text.contains(want), "verify --help lacks `{want}`:\n{text}");
    }

    let bare = merit_genesis(&[]);
    assert!(!bare.status.success(), "no command is a usage error");
    assert!(stderr(&bare).contains("Usage"));
}

#[test]
fn new_writes_a_verifiable_alliance_loudly_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alliance");
    let created = merit_genesis(&["new", "--merchants", "4", "--out", path_str(&out)]);
    assert!(created.status.success(), "{}", stderr(&created));
    let warning = stderr(&created);
    assert!(
        warning.contains("WARNING")
            && warning.contains("EVERY merchant's secret keys on this one machine"),
        "`new` says loudly what it is: {warning}"
    );
    let hash = printed_hash(&created);

    let genesis_path = out.join("genesis.json");
    let text = stdout(&created);
    let mut key_paths = Vec::new();
    for i in 1..=4 {
        let m = out.join(format!("merchant-{i}"));
        for name in [
            "validator_key.json",
            "p2p_key.json",
            "issuer.json",
            "merchant.json",
        ] {
            let p = m.join(name);
            assert!(p.is_file(), "{} missing", p.display());
            assert!(
                text.contains(&p.display().to_string()),
                "`new` lists {}",
                p.display()
            );
            if name != "merchant.json" && cfg!(unix) {
                assert_eq!(file_mode(&p), Some(0o600), "{}", p.display());
            }
        }
        key_paths.push(m);
    }
    assert!(!out.join("merchant-5").exists());

    // The files agree with each other.
    let genesis = Genesis::load(&genesis_path).unwrap();
    assert_eq!(genesis.hash().to_hex(), hash);
    assert_eq!(genesis.validators().len(), 4);
    assert!(
        genesis.tokens().is_empty() && genesis.balances().is_empty(),
        "no tokens by default"
    );
    for (i, m) in key_paths.iter().enumerate() {
        let merchant = &genesis.merchants()[i];
        let v = merchant.validator.as_ref().unwrap();
        let validator = keystore::open(&m.join("validator_key.json"), NODE_PW).unwrap();
        assert_eq!(validator.public(), genesis.validators()[i]);
        let issuer = keystore::open(&m.join("issuer.json"), ISSUER_PW).unwrap();
        assert_eq!(issuer.public(), merchant.account);
        assert_eq!(
            load_p2p_key(&m.join("p2p_key.json")).unwrap().public(),
            v.p2p_key
        );
        let record = MerchantFile::load(&m.join("merchant.json")).unwrap();
        assert_eq!(record.verify().unwrap().signed, merchant.signed);
    }
    assert_eq!(
        genesis.merchants()[2]
            .validator
            .as_ref()
            .unwrap()
            .p2p_address
            .to_string(),
        "/ip4/127.0.0.1/tcp/26603"
    );

    // `verify` prints the same hash.
    let verified = merit_genesis(&["verify", path_str(&genesis_path)]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert_eq!(printed_hash(&verified), hash);
    let summary = stdout(&verified);
    assert!(summary.contains("n=4, f=1"), "{summary}");
    assert!(summary.contains("chain id:     merit-1"), "{summary}");
    assert!(
        summary.contains("every proof of possession holds"),
        "{summary}"
    );
    let with_hash = merit_genesis(&["verify", path_str(&genesis_path), "--hash", &hash]);
    assert!(with_hash.status.success(), "{}", stderr(&with_hash));
    assert!(stdout(&with_hash).contains("matches the expected hash"));

    // A second run refuses, names the file and the flag, and changes nothing.
    let first_key = key_paths[0].join("validator_key.json");
    let before = std::fs::read(&first_key).unwrap();
    let again = merit_genesis(&["new", "--merchants", "4", "--out", path_str(&out)]);
    assert_clean_failure(&again, &["genesis.json already exists", "--force"]);
    assert_eq!(std::fs::read(&first_key).unwrap(), before);
    assert_eq!(Genesis::load(&genesis_path).unwrap().hash().to_hex(), hash);

    // With --force it makes a new alliance.
    let forced = merit_genesis(&[
        "new",
        "--merchants",
        "4",
        "--out",
        path_str(&out),
        "--force",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_ne!(
        printed_hash(&forced),
        hash,
        "fresh keys give a fresh genesis"
    );
    assert_ne!(std::fs::read(&first_key).unwrap(), before);
}

#[test]
fn new_takes_its_layout_from_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let o = merit_genesis(&[
        "new",
        "--merchants",
        "7",
        "--out",
        path_str(&out),
        "--chain-id",
        "loyalty-7",
        "--p2p-host",
        "node.example.com",
        "--p2p-base-port",
        "4001",
        "--rpc-base-port",
        "9000",
        "--genesis-time-ms",
        "1767225600000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let g = Genesis::load(&out.join("genesis.json")).unwrap();
    assert_eq!(g.chain_id().as_str(), "loyalty-7");
    assert_eq!((g.validators().len(), g.max_faulty()), (7, 2));
    assert_eq!(g.genesis_time_ms(), 1_767_225_600_000);
    assert_eq!(
        g.merchants()[6]
            .validator
            .as_ref()
            .unwrap()
            .p2p_address
            .to_string(),
        "/dns/node.example.com/tcp/4007"
    );
    assert_eq!(
        g.merchants()[6].rpc_address.as_ref().unwrap().to_string(),
        "http://node.example.com:9006"
    );
    assert!(out.join("merchant-7").join("validator_key.json").is_file());
}

#[test]
fn new_rejects_bad_flags_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let o = merit_genesis(&["new", "--merchants", "0", "--out", path_str(&out)]);
    assert_eq!(o.status.code(), Some(2), "usage error");
    assert!(stderr(&o).contains("--merchants"), "{}", stderr(&o));
    let o = merit_genesis(&["new", "--merchants", "101", "--out", path_str(&out)]);
    assert_eq!(o.status.code(), Some(2), "usage error");
    let o = merit_genesis(&["new", "--p2p-host", "not a host", "--out", path_str(&out)]);
    assert_eq!(o.status.code(), Some(2), "usage error");
    assert!(
        stderr(&o).contains("not a valid IP address or DNS name"),
        "{}",
        stderr(&o)
    );
    let o = merit_genesis(&["new", "--chain-id", "bad id", "--out", path_str(&out)]);
    assert_clean_failure(&o, &["chain_id", "contains ' '"]);
    let o = merit_genesis(&["new", "--p2p-base-port", "65534", "--out", path_str(&out)]);
    assert_clean_failure(&o, &["4 p2p ports starting at 65534 do not fit"]);
    assert!(
        !out.exists(),
        "nothing is written when the layout is refused"
    );

    // An --out that is a file, not a directory.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let o = merit_genesis(&["new", "--out", path_str(&file)]);
    assert_clean_failure(&o, &["plain-file"]);
}

#[test]
fn verify_reports_a_tampered_balance_as_a_hash_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    let json = devnet::devnet(4, 26601, 8545).genesis.to_json_pretty();
    std::fs::write(&path, &json).unwrap();
    let agreed = printed_hash(&merit_genesis(&["verify", path_str(&path)]));

    // Reformatting is not tampering.
    let compact =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&json).unwrap()).unwrap();
    std::fs::write(&path, &compact).unwrap();
    let o = merit_genesis(&["verify", path_str(&path), "--hash", &agreed]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Giving alice one more BEAN cent is.
    assert_eq!(json.matches("\"amount\": \"1000.00\"").count(), 4);
    let tampered = json.replacen("\"amount\": \"1000.00\"", "\"amount\": \"1000.01\"", 1);
    std::fs::write(&path, &tampered).unwrap();
    let o = merit_genesis(&["verify", path_str(&path), "--hash", &agreed]);
    assert_clean_failure(
        &o,
        &[
            "genesis hash mismatch",
            "tampered",
            &format!("expected: {agreed}"),
            "actual:   ",
        ],
    );
    assert!(!stderr(&o).contains(&format!("actual:   {agreed}")));
    assert!(stdout(&o).is_empty(), "no summary for a mismatched file");

    // Without --hash the edited file is still a valid genesis, with another hash.
    let o = merit_genesis(&["verify", path_str(&path)]);
    assert!(o.status.success());
    assert_ne!(printed_hash(&o), agreed);
    assert!(stdout(&o).contains(
        "BEAN (Bean Counter Beans), 2 decimals, issued by Bean Counter Coffee: 1750.01 of max"
    ));
}

#[test]
fn verify_rejects_malformed_and_invalid_files_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    let p = path_str(&path);

    std::fs::write(&path, "{ \"chain_id\": \"merit-1\", ").unwrap();
    assert_clean_failure(
        &merit_genesis(&["verify", p]),
        &["invalid genesis file", p, "not valid JSON", "line 1"],
    );

    std::fs::write(&path, "not json at all").unwrap();
    assert_clean_failure(&merit_genesis(&["verify", p]), &["not valid JSON"]);

    std::fs::write(
        &path,
        "{\"chain_id\": \"x\", \"genesis_time_ms\": 0, \"merchants\": [], \"extra\": 1}",
    )
    .unwrap();
    assert_clean_failure(&merit_genesis(&["verify", p]), &["unknown field `extra`"]);

    let mut f = devnet::devnet(4, 26601, 8545).genesis;
    f.merchants[2].account = "mrt1qqqq".into();
    std::fs::write(&path, f.to_json_pretty()).unwrap();
    assert_clean_failure(
        &merit_genesis(&["verify", p]),
        &[
            "invalid genesis file",
            "merchants[2].account: not a bech32m string",
        ],
    );

    let missing = dir.path().join("missing.json");
    assert_clean_failure(
        &merit_genesis(&["verify", path_str(&missing)]),
        &["cannot read genesis file", "missing.json"],
    );
    assert_clean_failure(
        &merit_genesis(&["verify", path_str(dir.path())]),
        &["cannot read genesis file", "directory"],
    );

    std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
    assert_clean_failure(&merit_genesis(&["verify", p]), &["not UTF-8"]);
}

#[test]
fn verify_refuses_a_malformed_expected_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    std::fs::write(
        &path,
        devnet::devnet(4, 26601, 8545).genesis.to_json_pretty(),
    )
    .unwrap();
    let o = merit_genesis(&["verify", path_str(&path), "--hash", "abc"]);
    assert_eq!(o.status.code(), Some(2), "usage error");
    assert!(
        stderr(&o).contains("64 hexadecimal digits"),
        "{}",
        stderr(&o)
    );
}

/// Runs `keygen` for one merchant into `dir`.
fn keygen(dir: &Path, name: &str, port: u16) -> Output {
    merit_genesis(&[
        "keygen",
        "--name",
        name,
        "--p2p-address",
        &format!("/ip4/127.0.0.1/tcp/{port}"),
        "--out",
        path_str(dir),
    ])
}

#[test]
fn keygen_writes_private_keys_and_a_record_signed_by_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bean");
    // The address is taken in any form and signed in normal form.
    let o = merit_genesis(&[
        "keygen",
        "--name",
        "Bean Counter Coffee",
        "--p2p-address",
        "/ip4/127.0.0.1/tcp/026601",
        "--out",
        path_str(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("merchant.json"), "{text}");
    assert!(text.contains("holds no secret"), "{text}");

    let record = MerchantFile::load(&out.join("merchant.json")).unwrap();
    let verified = record.verify().unwrap();
    assert_eq!(verified.name(), "Bean Counter Coffee");
    let v = verified.validator.as_ref().unwrap();
    assert_eq!(v.p2p_address.to_string(), "/ip4/127.0.0.1/tcp/26601");
    // The record holds public keys and proofs only: no seed of any key file.
    let record_text = std::fs::read_to_string(out.join("merchant.json")).unwrap();

    let validator = keystore::open(&out.join("validator_key.json"), NODE_PW).unwrap();
    assert_eq!(validator.public(), v.key);
    assert!(matches!(
        keystore::open(&out.join("validator_key.json"), ISSUER_PW),
        Err(keystore::KeyFileError::WrongPassword { .. })
    ));
    let issuer = keystore::open(&out.join("issuer.json"), ISSUER_PW).unwrap();
    assert_eq!(issuer.public(), verified.account());
    let p2p = load_p2p_key(&out.join("p2p_key.json")).unwrap();
    assert_eq!(p2p.public(), v.p2p_key);
    for secret in [validator.seed(), issuer.seed(), p2p.seed()] {
        assert!(!record_text.contains(&hex::encode(secret)));
    }
    for name in ["validator_key.json", "issuer.json"] {
        let t = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(!t.contains(&hex::encode(validator.seed())), "{name}");
        assert!(!t.contains(&hex::encode(issuer.seed())), "{name}");
    }
    if cfg!(unix) {
        for name in ["validator_key.json", "p2p_key.json", "issuer.json"] {
            assert_eq!(file_mode(&out.join(name)), Some(0o600), "{name}");
        }
        assert_eq!(file_mode(&out), Some(0o700));
    }

    // A second run refuses and changes nothing.
    let before = std::fs::read(out.join("merchant.json")).unwrap();
    let again = keygen(&out, "Bean Counter Coffee", 26601);
    assert_clean_failure(&again, &["already exists", "--force"]);
    assert_eq!(std::fs::read(out.join("merchant.json")).unwrap(), before);
}

#[test]
fn keygen_for_a_rotation_keeps_the_account_and_peer_id_and_writes_no_issuer_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("bean");
    let o = keygen(&first, "Bean Counter Coffee", 26601);
    assert!(o.status.success(), "{}", stderr(&o));
    let old = MerchantFile::load(&first.join("merchant.json"))
        .unwrap()
        .verify()
        .unwrap();
    let old_v = old.validator.clone().unwrap();

    let next = dir.path().join("bean-next");
    let o = merit_genesis(&[
        "keygen",
        "--name",
        "Bean Counter Coffee",
        "--p2p-address",
        "/ip4/127.0.0.1/tcp/26601",
        "--issuer-key",
        path_str(&first.join("issuer.json")),
        "--p2p-key",
        path_str(&first.join("p2p_key.json")),
        "--out",
        path_str(&next),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("merit gov propose rotate-key"),
        "{}",
        stdout(&o)
    );
    let new = MerchantFile::load(&next.join("merchant.json"))
        .unwrap()
        .verify()
        .unwrap();
    let new_v = new.validator.clone().unwrap();
    assert_eq!(new.account(), old.account(), "same account");
    assert_eq!(new_v.p2p_key, old_v.p2p_key, "same peer id");
    assert_ne!(new_v.key, old_v.key, "a new validator key");
    let validator = keystore::open(&next.join("validator_key.json"), NODE_PW).unwrap();
    assert_eq!(validator.public(), new_v.key);
    assert!(
        !next.join("issuer.json").exists(),
        "no copy of the issuer key"
    );

    // The wrong issuer password opens nothing and writes nothing.
    let refused = dir.path().join("refused");
    let o = merit_genesis_env(
        &[
            "keygen",
            "--name",
            "Bean Counter Coffee",
            "--p2p-address",
            "/ip4/127.0.0.1/tcp/26601",
            "--issuer-key",
            path_str(&first.join("issuer.json")),
            "--out",
            path_str(&refused),
        ],
        &[
            ("MERIT_NODE_PASSWORD", NODE_PW),
            ("MERIT_PASSWORD", "wrong"),
        ],
    );
    assert_clean_failure(&o, &["issuer key"]);
    assert!(!refused.join("merchant.json").exists());
}

#[test]
fn keygen_takes_passwords_from_files_and_refuses_without_any() {
    let dir = tempfile::tempdir().unwrap();
    let node_pw = dir.path().join("node-pw");
    let issuer_pw = dir.path().join("issuer-pw");
    std::fs::write(&node_pw, "from a file\n").unwrap();
    std::fs::write(&issuer_pw, "issuer from a file\n").unwrap();
    let out = dir.path().join("m");
    let o = merit_genesis_env(
        &[
            "keygen",
            "--name",
            "Shop",
            "--p2p-address",
            "/dns/shop.example.com/tcp/26601",
            "--password-file",
            path_str(&node_pw),
            "--issuer-password-file",
            path_str(&issuer_pw),
            "--out",
            path_str(&out),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(keystore::open(&out.join("validator_key.json"), "from a file").is_ok());
    assert!(keystore::open(&out.join("issuer.json"), "issuer from a file").is_ok());

    // No password anywhere and no terminal to ask on: refused, nothing written.
    let out = dir.path().join("n");
    let o = merit_genesis_env(
        &[
            "keygen",
            "--name",
            "Shop",
            "--p2p-address",
            "/ip4/10.0.0.1/tcp/1",
            "--out",
            path_str(&out),
        ],
        &[("MERIT_PASSWORD", ISSUER_PW)],
    );
    assert_clean_failure(
        &o,
        &[
            "cannot ask for the validator key password without a terminal",
            "MERIT_NODE_PASSWORD",
            "--password-file",
        ],
    );
    assert!(!out.exists());
    let o = merit_genesis_env(
        &[
            "keygen",
            "--name",
            "Shop",
            "--p2p-address",
            "/ip4/10.0.0.1/tcp/1",
            "--out",
            path_str(&out),
        ],
        &[("MERIT_NODE_PASSWORD", "")],
    );
    assert_clean_failure(&o, &["MERIT_NODE_PASSWORD is empty"]);
}

#[test]
fn keygen_without_a_validator_makes_only_the_issuer_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corner");
    let o = merit_genesis_env(
        &[
            "keygen",
            "--name",
            "Corner Shop",
            "--no-validator",
            "--out",
            path_str(&out),
        ],
        &[("MERIT_PASSWORD", ISSUER_PW)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["issuer.json", "merchant.json"]);
    let record = MerchantFile::load(&out.join("merchant.json")).unwrap();
    assert!(record.validator_key.is_none() && record.p2p_key.is_none());
    assert!(record.verify().unwrap().validator.is_none());

    // A validator needs an address, and an issuer-only merchant takes none.
    let o = merit_genesis(&[
        "keygen",
        "--name",
        "X",
        "--out",
        path_str(&dir.path().join("x")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--p2p-address"), "{}", stderr(&o));
    let o = merit_genesis(&[
        "keygen",
        "--name",
        "X",
        "--no-validator",
        "--p2p-address",
        "/ip4/1.2.3.4/tcp/1",
        "--out",
        path_str(&dir.path().join("x")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = merit_genesis(&[
        "keygen",
        "--name",
        "X",
        "--p2p-address",
        "1.2.3.4:1",
        "--out",
        path_str(&dir.path().join("x")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a valid p2p multiaddr"),
        "{}",
        stderr(&o)
    );
    let o = merit_genesis(&[
        "keygen",
        "--name",
        " X",
        "--p2p-address",
        "/ip4/1.2.3.4/tcp/1",
        "--out",
        path_str(&dir.path().join("x")),
    ]);
    assert_clean_failure(&o, &["name: must not start or end with whitespace"]);
    assert!(!dir.path().join("x").exists());
}

/// The ceremony of four merchants, each in its own directory, through the
/// binary: keygen four times, assemble with tokens, verify against the hash.
#[test]
fn a_ceremony_of_four_assembles_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "Bean Counter Coffee",
        "Northwind Books",
        "Skyline Fuel",
        "Harbor Air",
    ];
    let mut merchant_files = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let out = dir.path().join(format!("machine-{i}"));
        let o = keygen(&out, name, 26601 + i as u16);
        assert!(o.status.success(), "{}", stderr(&o));
        // What is sent: merchant.json only, copied to the assembler.
        let sent = dir.path().join(format!("m{i}.json"));
        std::fs::copy(out.join("merchant.json"), &sent).unwrap();
        merchant_files.push(sent);
    }
    let bean = MerchantFile::load(&merchant_files[0]).unwrap();
    let tokens = dir.path().join("tokens.json");
    let shopper = Keypair::insecure_from_label("cli/shopper")
        .public()
        .to_bech32();
    std::fs::write(
        &tokens,
        serde_json::json!({
            "tokens": [{"symbol": "BEAN", "name": "Beans", "decimals": 2,
                        "max_supply": "1000000.00", "issuer": bean.account}],
            "balances": [{"address": shopper, "token": "BEAN", "amount": "25.00"}]
        })
        .to_string(),
    )
    .unwrap();
    let genesis_path = dir.path().join("genesis.json");
    let mut args = vec![
        "assemble",
        "--chain-id",
        "loyalty-1",
        "--tokens",
        path_str(&tokens),
    ];
    for f in &merchant_files {
        args.extend(["--merchant", path_str(f)]);
    }
    args.extend([
        "--out",
        path_str(&genesis_path),
        "--genesis-time-ms",
        "1767225600000",
    ]);
    // Assembling needs no password at all.
    let o = merit_genesis_env(&args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hash = printed_hash(&o);
    let text = stdout(&o);
    assert!(
        text.contains("Every merchant's proofs of possession hold"),
        "{text}"
    );
    assert!(text.contains(&format!("--hash {hash}")), "{text}");

    let g = Genesis::load(&genesis_path).unwrap();
    assert_eq!(g.hash().to_hex(), hash);
    assert_eq!(g.validators().len(), 4);
    let order: Vec<&str> = g.merchants().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(order, names, "validator order is the order of --merchant");
    assert_eq!(g.tokens().len(), 1);
    assert_eq!(g.balances().len(), 1);

    let o = merit_genesis_env(&["verify", path_str(&genesis_path), "--hash", &hash], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("matches the expected hash"));

    // The genesis carries the signed records: a name edited afterwards is
    // caught by the proofs, not only by the hash.
    let text = std::fs::read_to_string(&genesis_path).unwrap();
    std::fs::write(
        &genesis_path,
        text.replace("Northwind Books", "Northwind Bookz"),
    )
    .unwrap();
    let o = merit_genesis_env(&["verify", path_str(&genesis_path)], &[]);
    assert_clean_failure(
        &o,
        &[
            "invalid genesis file",
            "merchants[1].proofs",
            "changed after it was signed",
        ],
    );

    // It refuses to replace the genesis file unless asked.
    let o = merit_genesis_env(&args, &[]);
    assert_clean_failure(&o, &["genesis.json already exists", "--force"]);
}

/// Writes the JSON of a record signed by `keys` to `dir/file`.
fn write_record(dir: &Path, file: &str, keys: &MerchantKeys, port: u16) -> std::path::PathBuf {
    let addr = keys
        .node
        .as_ref()
        .map(|_| P2pAddress::parse(&format!("/ip4/127.0.0.1/tcp/{port}")).unwrap());
    let record = keys.sign(addr.as_ref()).unwrap();
    let path = dir.join(file);
    std::fs::write(
        &path,
        MerchantFile::from_signed(&record.signed).to_json_pretty(),
    )
    .unwrap();
    path
}

fn test_merchant(name: &str, validator: bool) -> MerchantKeys {
    let k = |role: &str| Keypair::insecure_from_label(&format!("cli/{name}/{role}"));
    MerchantKeys {
        name: name.to_string(),
        account: k("account"),
        node: validator.then(|| NodeKeys {
            validator: k("validator"),
            p2p: k("p2p"),
        }),
    }
}

/// Assembles `files` into `dir/genesis.json`; it must fail with `parts`
/// and write nothing.
#[track_caller]
fn assemble_refused(dir: &Path, files: &[&Path], tokens: Option<&Path>, parts: &[&str]) {
    let out = dir.join("genesis.json");
    let mut args = vec![
        "assemble",
        "--chain-id",
        "loyalty-1",
        "--out",
        path_str(&out),
    ];
    for f in files {
        args.extend(["--merchant", path_str(f)]);
    }
    if let Some(t) = tokens {
        args.extend(["--tokens", path_str(t)]);
    }
    let o = merit_genesis_env(&args, &[]);
    assert_clean_failure(&o, parts);
    assert!(!out.exists(), "nothing is written after a refusal");
}

#[test]
fn assemble_refuses_every_bad_record_and_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = write_record(d, "a.json", &test_merchant("A", true), 26601);
    let b = write_record(d, "b.json", &test_merchant("B", true), 26602);
    let c = write_record(d, "c.json", &test_merchant("C", true), 26603);

    // A field changed after signing.
    let edited = d.join("edited.json");
    let mut f = MerchantFile::load(&b).unwrap();
    f.p2p_address = Some("/ip4/127.0.0.1/tcp/26699".into());
    std::fs::write(&edited, f.to_json_pretty()).unwrap();
    assemble_refused(
        d,
        &[&a, &edited],
        None,
        &[
            "edited.json: proofs: no proof of possession matches the record",
            "changed after it was signed",
        ],
    );

    // A forged proof: someone names C's validator key and signs the rest.
    let mut thief = test_merchant("Thief", true);
    let c_keys = test_merchant("C", true);
    thief.node.as_mut().unwrap().validator = c_keys.node.as_ref().unwrap().validator.clone();
    let thief_path = write_record(d, "thief.json", &thief, 26604);
    let mut f = MerchantFile::load(&thief_path).unwrap();
    f.proofs.validator_key = MerchantFile::load(&a).unwrap().proofs.validator_key;
    std::fs::write(&thief_path, f.to_json_pretty()).unwrap();
    let c_validator = MerchantFile::load(&c).unwrap().validator_key.unwrap();
    assemble_refused(
        d,
        &[&a, &thief_path],
        None,
        &[
            "thief.json: proofs.validator_key: the proof of possession of the validator key",
            &c_validator,
            "forged",
        ],
    );

    // A missing proof.
    let missing = d.join("missing.json");
    let mut f = MerchantFile::load(&c).unwrap();
    f.proofs.p2p_key = None;
    std::fs::write(&missing, f.to_json_pretty()).unwrap();
    assemble_refused(
        d,
        &[&a, &missing],
        None,
        &["missing.json: proofs.p2p_key: the proof of possession of the p2p key is missing"],
    );

    // A key of one merchant in another's record, with every proof genuine.
    let mut copycat = test_merchant("Copycat", true);
    copycat.node.as_mut().unwrap().p2p = test_merchant("A", true).node.unwrap().p2p;
    let copycat_path = write_record(d, "copycat.json", &copycat, 26605);
    assemble_refused(
        d,
        &[&a, &b, &copycat_path],
        None,
        &[
            "copycat.json: p2p_key: ",
            "is already the p2p_key of the merchant in",
            "a.json",
            "must be distinct",
        ],
    );
    // Across roles too: B's account as C2's validator key.
    let mut cross = test_merchant("C2", true);
    cross.node.as_mut().unwrap().validator = test_merchant("B", true).account;
    let cross_path = write_record(d, "cross.json", &cross, 26606);
    assemble_refused(
        d,
        &[&a, &b, &cross_path],
        None,
        &[
            "cross.json: validator_key: ",
            "is already the account of the merchant in",
            "b.json",
        ],
    );
    // The same merchant twice.
    assemble_refused(
        d,
        &[&a, &b, &a],
        None,
        &[
            "a.json: name: `A` is already the name of the merchant in",
            "a.json",
        ],
    );

    // A file that is not a record, and one that is not there.
    let junk = d.join("junk.json");
    std::fs::write(&junk, "{\"name\": \"x\"}").unwrap();
    assemble_refused(d, &[&a, &junk], None, &["junk.json", "missing field"]);
    assemble_refused(d, &[&a, &d.join("nowhere.json")], None, &["nowhere.json"]);

    // No validator among the merchants.
    let issuer_only = write_record(d, "issuer-only.json", &test_merchant("Shop", false), 0);
    assemble_refused(
        d,
        &[&issuer_only],
        None,
        &["invalid genesis: merchants: a genesis needs at least one merchant to run a validator"],
    );

    // Tokens whose issuer is no merchant: the tokens file is named.
    let tokens = d.join("tokens.json");
    std::fs::write(
        &tokens,
        serde_json::json!({"tokens": [{"symbol": "BEAN", "name": "Beans", "decimals": 2,
            "max_supply": "100.00", "issuer": Keypair::insecure_from_label("cli/nobody").public().to_bech32()}]})
        .to_string(),
    )
    .unwrap();
    assemble_refused(
        d,
        &[&a],
        Some(&tokens),
        &["tokens.json: tokens[0].issuer", "is not a merchant account"],
    );

    // And all of them good, with an issuer-only merchant, assemble.
    let out = d.join("genesis.json");
    let o = merit_genesis_env(
        &[
            "assemble",
            "--chain-id",
            "loyalty-1",
            "--merchant",
            path_str(&a),
            "--merchant",
            path_str(&issuer_only),
            "--merchant",
            path_str(&b),
            "--merchant",
            path_str(&c),
            "--out",
            path_str(&out),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let g = Genesis::load(&out).unwrap();
    assert_eq!((g.merchants().len(), g.validators().len()), (4, 3));
    assert!(
        stdout(&o).contains("none (issues tokens only)"),
        "{}",
        stdout(&o)
    );
}
