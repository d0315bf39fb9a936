//! The `merit-genesis` binary, run as a new user runs it.

use std::path::Path;
use std::process::{Command, Output};

use merit_genesis::{Genesis, MerchantKeys, devnet};

fn merit_genesis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_merit-genesis"))
        .args(args)
        .output()
        .expect("the binary runs")
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
        "new",
        "verify",
        "Examples:",
        "merit-genesis new --merchants 4 --out",
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
    ] {
        assert!(text.contains(want), "new --help lacks `{want}`:\n{text}");
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
fn new_writes_a_verifiable_alliance_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alliance");
    let created = merit_genesis(&["new", "--merchants", "4", "--out", path_str(&out)]);
    assert!(created.status.success(), "{}", stderr(&created));
    let hash = printed_hash(&created);

    let genesis_path = out.join("genesis.json");
    let key_paths: Vec<_> = (1..=4)
        .map(|i| out.join(format!("merchant-{i}.keys.json")))
        .collect();
    let text = stdout(&created);
    for p in std::iter::once(&genesis_path).chain(&key_paths) {
        assert!(p.is_file(), "{} missing", p.display());
        assert!(
            text.contains(&p.display().to_string()),
            "`new` lists {}",
            p.display()
        );
    }
    assert!(!out.join("merchant-5.keys.json").exists());
    #[cfg(unix)]
    for p in &key_paths {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            p.display()
        );
    }

    // The files agree with each other.
    let genesis = Genesis::load(&genesis_path).unwrap();
    assert_eq!(genesis.hash().to_hex(), hash);
    assert_eq!(genesis.validators().len(), 4);
    assert!(
        genesis.tokens().is_empty() && genesis.balances().is_empty(),
        "no tokens by default"
    );
    for (i, p) in key_paths.iter().enumerate() {
        let keys = MerchantKeys::load(p).unwrap();
        assert_eq!(keys.account.public(), genesis.merchants()[i].account);
        assert_eq!(keys.validator.public(), genesis.validators()[i]);
        assert_eq!(keys.name, genesis.merchants()[i].name.as_str());
    }
    assert_eq!(
        genesis.merchants()[2].p2p_address.to_string(),
        "/ip4/127.0.0.1/tcp/26603"
    );

    // `verify` prints the same hash.
    let verified = merit_genesis(&["verify", path_str(&genesis_path)]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert_eq!(printed_hash(&verified), hash);
    let summary = stdout(&verified);
    assert!(summary.contains("n=4, f=1"), "{summary}");
    assert!(summary.contains("chain id:     merit-1"), "{summary}");
    let with_hash = merit_genesis(&["verify", path_str(&genesis_path), "--hash", &hash]);
    assert!(with_hash.status.success(), "{}", stderr(&with_hash));
    assert!(stdout(&with_hash).contains("matches the expected hash"));

    // A second run refuses, names the file and the flag, and changes nothing.
    let before = std::fs::read(&key_paths[0]).unwrap();
    let again = merit_genesis(&["new", "--merchants", "4", "--out", path_str(&out)]);
    assert_clean_failure(&again, &["genesis.json already exists", "--force"]);
    assert_eq!(std::fs::read(&key_paths[0]).unwrap(), before);
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
    assert_ne!(std::fs::read(&key_paths[0]).unwrap(), before);
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
        g.merchants()[6].p2p_address.to_string(),
        "/dns/node.example.com/tcp/4007"
    );
    assert_eq!(
        g.merchants()[6].rpc_address.as_ref().unwrap().to_string(),
        "http://node.example.com:9006"
    );
    assert!(out.join("merchant-7.keys.json").is_file());
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
