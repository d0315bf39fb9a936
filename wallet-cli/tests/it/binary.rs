//! The `merit` binary without a node: keys, offline signing and decoding,
//! input errors, an unreachable node, help and completions.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use clap::CommandFactory;
use merit_chain::Keypair;
use merit_chain::merchant::{MerchantName, MerchantRecord, P2pAddressText, ValidatorRecord};
use merit_genesis::MerchantFile;
use merit_wallet::cli::Cli;
use merit_wallet::keystore::file_mode;
use serde_json::{Value, json};

const PASSWORD: &str = "it-password";
/// A URL nothing listens on: port 1 refuses connections.
const DEAD_RPC: &str = "http://127.0.0.1:1";

/// One finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// No panic message and no backtrace, whatever RUST_BACKTRACE says.
    fn assert_no_panic(&self) {
        for bad in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
            assert!(!self.stderr.contains(bad), "{bad}: {self:?}");
        }
    }
}

/// A command line as typed, split on whitespace.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Runs `merit ARGS` with its home in `home`, a dead node, `env` and
/// `stdin` if given.
fn merit_env(home: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_merit"));
    cmd.args(args)
        .env("MERIT_HOME", home)
        .env("MERIT_RPC", DEAD_RPC)
        .env("RUST_BACKTRACE", "1")
        .env_remove("MERIT_FROM")
        .env_remove("MERIT_PASSWORD")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the merit binary runs");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    run.assert_no_panic();
    run
}

/// Runs `merit LINE` with the test password.
fn merit(home: &Path, line: &str, stdin: Option<&str>) -> Run {
    merit_env(home, &words(line), stdin, &[("MERIT_PASSWORD", PASSWORD)])
}

/// Runs `merit LINE` and expects exit 0.
fn ok(home: &Path, line: &str) -> Run {
    let run = merit(home, line, None);
    assert_eq!(run.code, 0, "merit {line}: {run:?}");
    run
}

/// Runs `merit ARGS` and expects exit `code` with `needle` on stderr.
fn fails_args(home: &Path, args: &[&str], code: i32, needle: &str) -> Run {
    let run = merit_env(home, args, None, &[("MERIT_PASSWORD", PASSWORD)]);
    assert_eq!(run.code, code, "merit {args:?}: {run:?}");
    assert!(run.stderr.contains(needle), "merit {args:?}: {run:?}");
    run
}

fn fails(home: &Path, line: &str, code: i32, needle: &str) -> Run {
    fails_args(home, &words(line), code, needle)
}

#[test]
fn keys_are_created_listed_exported_and_imported() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let created = ok(home, "keys new alice --json").json();
    let address = created["address"].as_str().unwrap().to_string();
    assert!(address.starts_with("mrt1"), "{created}");
    let path = home.join("keys").join("alice.json");
    assert_eq!(created["path"].as_str().unwrap(), path.to_str().unwrap());
    if cfg!(unix) {
        assert_eq!(file_mode(&path), Some(0o600));
    }

    // A second `new` with the same name is refused and keeps the key.
    fails(home, "keys new alice", 1, "already exists");
    let list = ok(home, "keys list --json").json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["address"], address.as_str());
    let shown = ok(home, "keys show alice").stdout;
    assert!(shown.contains(&address), "{shown}");

    // Export needs the password; the seed is not in the key file.
    let wrong = merit_env(
        home,
        &words("keys export alice"),
        None,
        &[("MERIT_PASSWORD", "not-it")],
    );
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(
        wrong.stderr.contains("wrong password for key `alice`"),
        "{wrong:?}"
    );
    assert!(wrong.stdout.trim().is_empty(), "{wrong:?}");
    let seed = ok(home, "keys export alice").stdout.trim().to_string();
    assert_eq!(seed.len(), 64, "{seed}");
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains(&seed), "the seed is in the key file: {file}");

    // The seed imports as the same address; a bad one is refused.
    let imported = merit(home, "keys import copy --json", Some(&seed));
    assert_eq!(imported.code, 0, "{imported:?}");
    assert_eq!(imported.json()["address"], address.as_str());
    let bad = merit(home, "keys import junk", Some("zz"));
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("64 hexadecimal digits"), "{bad:?}");
    assert!(!home.join("keys").join("junk.json").exists());

    // Names that could be paths or addresses are refused.
    fails(home, "keys new ../evil", 2, "not a valid key name");
    fails(home, "keys show nobody", 2, "no key named `nobody`");
}

#[test]
fn import_devnet_writes_the_seven_demo_keys() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let keys = ok(home, "keys import-devnet --json").json();
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        words("merchant-1 merchant-2 merchant-3 merchant-4 alice bob carol")
    );
    let all_in = |v: &Value, state: &str| v.as_array().unwrap().iter().all(|k| k["state"] == state);
    assert!(all_in(&keys, "imported"), "{keys}");
    assert_eq!(keys[0]["token"], "BEAN");
    // Running it again changes nothing and needs no password.
    let again = merit_env(home, &words("keys import-devnet --json"), None, &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(all_in(&again.json(), "present"), "{again:?}");
}

/// The flags that make `--sign-only` need no node.
const OFFLINE: &str = "--sign-only --chain-id merit-devnet --expires-at-height 500";

/// Signs `line` offline; returns the `--sign-only --json` document.
fn sign_offline(home: &Path, line: &str) -> Value {
    ok(home, &format!("{line} {OFFLINE} --json")).json()
}

/// Signs `line` offline and decodes it back with `merit tx decode`.
fn sign_and_decode(home: &Path, line: &str) -> (Value, Value) {
    let signed = sign_offline(home, line);
    let tx = signed["tx"].as_str().unwrap();
    let decoded = ok(home, &format!("tx decode {tx} --json")).json();
    assert_eq!(decoded["hash"], signed["hash"], "{decoded}");
    assert_eq!(decoded["signature_valid"], true, "{decoded}");
    (signed, decoded)
}

#[test]
fn transactions_sign_offline_and_decode_to_what_was_typed() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, "keys import-devnet");
    let bob = ok(home, "keys show bob --json").json()["address"]
        .as_str()
        .unwrap()
        .to_string();

    let (signed, d) = sign_and_decode(
        home,
        "--from alice send BEAN 12.5 bob --token-decimals 2 --nonce 7",
    );
    assert_eq!(signed["kind"], "Transfer");
    assert_eq!(signed["nonce"], 7);
    assert_eq!(d["chain_id"], "merit-devnet");
    assert_eq!(d["expires_at_height"], 500);
    assert_eq!(d["kind"]["amount_units"], 1250);
    assert_eq!(d["kind"]["to"], bob.as_str());

    // 2.5 BOOK (0 decimals here) per 1 BEAN (2 decimals) = 25 per 1000 base units.
    let (_, d) = sign_and_decode(
        home,
        "--from alice offer place --sell BEAN --buy BOOK --amount 10 --price 2.5 \
         --token-decimals 2 --buy-decimals 0",
    );
    assert_eq!(d["kind"]["type"], "PlaceOffer");
    assert_eq!(d["kind"]["amount_units"], 1000);
    assert_eq!(d["kind"]["price"], "1/40");
    let (_, d) = sign_and_decode(home, "--from alice offer cancel 42");
    assert_eq!(d["kind"], json!({"type": "CancelOffer", "offer_id": 42}));

    let (signed, d) = sign_and_decode(
        home,
        "--from alice escrow create BEAN 25 merchant-1 --deadline-ms 1767830400000 \
         --order T-9 --token-decimals 2",
    );
    assert_eq!(d["kind"]["type"], "EscrowCreate");
    assert_eq!(d["kind"]["deadline_ms"], 1_767_830_400_000u64);
    assert_eq!(d["kind"]["order_id"], "T-9");
    let id = signed["hash"].as_str().unwrap();
    let (_, d) = sign_and_decode(home, &format!("--from alice escrow release {id}"));
    assert_eq!(d["kind"], json!({"type": "EscrowRelease", "id": id}));
    let (_, d) = sign_and_decode(home, &format!("--from bob escrow refund {id}"));
    assert_eq!(d["kind"], json!({"type": "EscrowRefund", "id": id}));

    // A relative deadline is counted from now.
    let (_, d) = sign_and_decode(
        home,
        "--from alice escrow create BEAN 1 bob --deadline 2d --token-decimals 2",
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let deadline = d["kind"]["deadline_ms"].as_u64().unwrap();
    let two_days = 2 * 86_400_000;
    assert!(
        deadline > now_ms + two_days - 60_000 && deadline <= now_ms + two_days,
        "{deadline} vs {now_ms}"
    );

    // Without --json the hex alone is on stdout, ready for `merit tx send`.
    let plain = ok(
        home,
        &format!("--from alice redeem BEAN 1 --token-decimals 2 {OFFLINE}"),
    );
    let hex_only = plain.stdout.trim().bytes().all(|b| b.is_ascii_hexdigit());
    assert!(hex_only, "{plain:?}");
    assert!(plain.stderr.contains("merit tx send"), "{plain:?}");
}

#[test]
fn an_address_in_capitals_is_the_same_address_and_mixed_case_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, "keys import-devnet");
    let bob = ok(home, "keys show bob --json").json()["address"]
        .as_str()
        .unwrap()
        .to_string();
    let upper = bob.to_ascii_uppercase();
    let line = format!("--from alice send BEAN 1 {upper} --token-decimals 2");
    let (_, d) = sign_and_decode(home, &line);
    assert_eq!(d["kind"]["to"], bob.as_str(), "{d}");
    // One letter of the data part in lower case.
    let i = bob[4..]
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| i + 4)
        .unwrap();
    let mut mixed = upper.clone();
    mixed.replace_range(i..=i, &bob[i..=i]);
    let line = format!("--from alice send BEAN 1 {mixed} --token-decimals 2 {OFFLINE}");
    fails(home, &line, 2, &format!("bad address `{mixed}`"));
}

#[test]
fn sub_accounts_pay_and_receive_and_open_offline() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, "keys import-devnet");
    let address = |name: &str| {
        ok(home, &format!("keys show {name} --json")).json()["address"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (alice, merchant) = (address("alice"), address("merchant-1"));
    let d2 = "--token-decimals 2";

    // `--from alice/2` signs with key alice and pays from sub-account 2.
    let (signed, d) = sign_and_decode(
        home,
        &format!("--from alice/2 send BEAN 5 merchant-1/3 {d2}"),
    );
    assert_eq!(signed["sender"], alice.as_str());
    assert_eq!(
        (signed["sub"].clone(), d["sub"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(d["kind"]["to"], format!("{merchant}/3"));
    // A plain name is sub-account 0, the account itself.
    let (signed, d) = sign_and_decode(home, &format!("--from alice send BEAN 5 merchant-1 {d2}"));
    assert_eq!(
        (signed["sub"].clone(), d["sub"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(d["kind"]["to"], merchant.as_str());
    // ADDRESS/N names the same account as NAME/N; ADDRESS/0 is ADDRESS.
    let (_, d) = sign_and_decode(home, &format!("--from alice send BEAN 5 {merchant}/3 {d2}"));
    assert_eq!(d["kind"]["to"], format!("{merchant}/3"));
    let (_, d) = sign_and_decode(home, &format!("--from alice send BEAN 5 {merchant}/0 {d2}"));
    assert_eq!(d["kind"]["to"], merchant.as_str());

    // Every receiver takes one: split legs, path payments, escrows, mints.
    let (_, d) = sign_and_decode(
        home,
        &format!("--from alice/1 pay BEAN --order S-1 --split merchant-1/1=9,bob=1 {d2}"),
    );
    assert_eq!(d["sub"], 1);
    assert_eq!(d["kind"]["legs"][0]["to"], format!("{merchant}/1"));
    assert_eq!(d["kind"]["legs"][1]["to"], address("bob").as_str());
    let (_, d) = sign_and_decode(
        home,
        &format!(
            "--from alice pay-path BOOK 5 merchant-2/4 --send-token BEAN --send-max 12 \
             --path FUEL {d2} --send-decimals 2"
        ),
    );
    assert_eq!(d["kind"]["to"], format!("{}/4", address("merchant-2")));
    let (_, d) = sign_and_decode(
        home,
        &format!(
            "--from alice escrow create BEAN 25 merchant-1/2 --deadline-ms 1767830400000 {d2}"
        ),
    );
    assert_eq!(d["kind"]["to"], format!("{merchant}/2"));
    let (_, d) = sign_and_decode(
        home,
        &format!("--from merchant-1 token mint BEAN 50 alice/7 {d2}"),
    );
    assert_eq!(d["kind"]["to"], format!("{alice}/7"));

    // Opening one; the label is checked before anything is signed.
    let (signed, d) = sign_and_decode(home, "--from merchant-1 sub-account open Harbour-St");
    assert_eq!(signed["kind"], "OpenSubAccount");
    assert_eq!(
        d["kind"],
        json!({"type": "OpenSubAccount", "label": "Harbour-St"})
    );
    let long = "x".repeat(33);
    fails(
        home,
        &format!("--from merchant-1 sub-account open {long} {OFFLINE}"),
        2,
        "the label is 33 bytes, over the limit of 32",
    );

    // Bad sub-account numbers are usage errors, before any node is asked.
    for (line, needle) in [
        (
            format!("--from alice/x send BEAN 1 bob {d2} {OFFLINE}"),
            "`alice/x`: `x` is not a sub-account number",
        ),
        (
            format!("--from alice send BEAN 1 bob/ {d2} {OFFLINE}"),
            "`bob/`: `` is not a sub-account number",
        ),
        (
            format!("--from alice pay BEAN --order S-2 --split bob/-1=1 {d2} {OFFLINE}"),
            "is not a sub-account number",
        ),
        (
            "balance alice/1 --all --rpc http://127.0.0.1:9".to_string(),
            "--all totals every account of an address",
        ),
    ] {
        fails(home, &line, 2, needle);
    }
}

#[test]
fn an_altered_transaction_is_refused_before_it_is_sent() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, "keys import-devnet");
    let signed = sign_offline(home, "--from alice send BEAN 1 bob --token-decimals 2");
    let mut tx = hex::decode(signed["tx"].as_str().unwrap()).unwrap();
    let last = tx.len() - 1;
    tx[last] ^= 1;
    let altered = hex::encode(&tx);
    let decoded = ok(home, &format!("tx decode {altered} --json")).json();
    assert_eq!(decoded["signature_valid"], false);
    // Refused locally: the dead node is never asked.
    fails(
        home,
        &format!("tx send {altered}"),
        2,
        "altered after signing",
    );
    fails(home, "tx send zz", 2, "not a signed transaction");
}

#[test]
fn bad_input_is_named_and_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, "keys import-devnet");
    let d2 = "--token-decimals 2";
    let cases = [
        (
            format!("--from alice send BEAN 1.234 bob {d2}"),
            "bad amount `1.234`: BEAN has 2 decimal places",
        ),
        (
            format!("--from alice send BEAN 0 bob {d2}"),
            "must be above zero",
        ),
        (
            format!("--from alice send BEAN 1,5 bob {d2}"),
            "bad amount `1,5`",
        ),
        (
            format!("--from alice send BEAN -5 bob {d2}"),
            "unexpected argument '-5'",
        ),
        (format!("--from alice send bean! 1 bob {d2}"), "symbol"),
        (
            format!("--from alice send BEAN 1 mrt1nope {d2}"),
            "bad address `mrt1nope`",
        ),
        (
            format!("--from alice send BEAN 1 nobody {d2}"),
            "neither an address",
        ),
        (
            format!("--from nobody send BEAN 1 bob {d2}"),
            "no key named `nobody`",
        ),
        (
            format!("--from alice pay BEAN --order A --split bob {d2}"),
            "expected ADDR=AMOUNT",
        ),
        (
            format!("--from alice pay BEAN --order A --split bob=1.001 {d2}"),
            "in --split `bob=1.001`",
        ),
        (
            format!(
                "--from alice offer place --sell BEAN --buy BOOK --amount 1 --price 1/0 {d2} \
                 --buy-decimals 2"
            ),
            "bad price `1/0`",
        ),
        (
            format!(
                "--from alice offer place --sell BEAN --buy BEAN --amount 1 --price 1 {d2} \
                 --buy-decimals 2"
            ),
            "--sell and --buy are both BEAN",
        ),
        (
            format!("--from alice escrow create BEAN 1 bob --deadline 4000d {d2}"),
            "at most 3650 days",
        ),
        (
            format!("--from alice escrow create BEAN 1 bob --deadline 7w {d2}"),
            "bad --deadline `7w`",
        ),
        (
            "--from alice escrow release abc".to_string(),
            "bad escrow id `abc`",
        ),
        (
            "--from alice send BEAN 1 bob --token-decimals 12".to_string(),
            "--token-decimals is at most 9",
        ),
        (
            "--from alice send BEAN 1 bob --token-decimals 2 --ttl-blocks 0".to_string(),
            "--ttl-blocks must be 1 to 1000",
        ),
    ];
    for (line, needle) in &cases {
        fails(home, &format!("{line} {OFFLINE}"), 2, needle);
    }
    // A deadline with a space in it, as one argument.
    let args = words("--from alice escrow create BEAN 1 bob --token-decimals 2 --deadline");
    let args: Vec<&str> = args.into_iter().chain(["7 weeks"]).collect();
    fails_args(home, &args, 2, "bad --deadline `7 weeks`");
    // Clap's own checks: a missing deadline, a non-numeric offer id.
    fails(
        home,
        "--from alice escrow create BEAN 1 bob",
        2,
        "--deadline",
    );
    fails(home, "--from alice offer cancel x", 2, "invalid value");
}

#[test]
fn an_unreachable_node_is_one_clear_line_and_exit_3() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, "keys import-devnet");
    for line in [
        "status",
        "balance alice",
        "--from alice send BEAN 1 bob",
        "book BEAN BOOK",
        "gov list",
        "gov show 1",
        "--from merchant-1 gov vote 1 yes",
        // The voting period is counted from the node's height.
        "--from merchant-1 gov propose upgrade 2 100000",
    ] {
        let run = merit(home, line, None);
        assert_eq!(run.code, 3, "merit {line}: {run:?}");
        assert!(
            run.stderr
                .contains("cannot reach the node at http://127.0.0.1:1"),
            "{run:?}"
        );
        assert!(run.stderr.contains("connection refused"), "{run:?}");
        assert!(run.stderr.contains("pass --rpc URL"), "{run:?}");
        assert_eq!(run.stderr.trim().lines().count(), 1, "{run:?}");
    }
    let run = merit(home, "status --json", None);
    assert_eq!(run.code, 3);
    let err = &run.json()["error"];
    assert_eq!(err["kind"], "unreachable");
    let message = err["message"].as_str().unwrap();
    assert!(message.starts_with("cannot reach the node at"), "{message}");
    assert_eq!(err["exit_code"], 3);
    fails(
        home,
        "--rpc https://127.0.0.1:1 status",
        2,
        "TLS is not supported",
    );
}

#[test]
fn every_command_has_help_with_examples() {
    fn walk(cmd: &mut clap::Command, path: &str, seen: &mut Vec<String>) {
        let help = cmd.render_long_help().to_string();
        assert!(
            help.contains("Examples:"),
            "`{path} --help` shows no examples:\n{help}"
        );
        seen.push(path.to_string());
        for sub in cmd.get_subcommands_mut() {
            if sub.get_name() == "help" {
                continue;
            }
            let name = format!("{path} {}", sub.get_name());
            walk(sub, &name, seen);
        }
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut seen = Vec::new();
    walk(&mut cmd, "merit", &mut seen);
    for expected in [
        "merit offer place",
        "merit offer cancel",
        "merit offer list",
        "merit book",
        "merit escrow create",
        "merit escrow release",
        "merit escrow refund",
        "merit escrow show",
        "merit keys import-devnet",
        "merit token mint",
        "merit tx send",
        "merit gov",
        "merit gov propose",
        "merit gov propose add-merchant",
        "merit gov propose remove-merchant",
        "merit gov propose rotate-key",
        "merit gov propose reassign-issuer",
        "merit gov propose params",
        "merit gov propose upgrade",
        "merit gov vote",
        "merit gov list",
        "merit gov show",
        "merit sub-account open",
        "merit sub-account list",
    ] {
        assert!(seen.iter().any(|s| s == expected), "{expected} in {seen:?}");
    }
    // Help goes to stdout with exit 0.
    let home = tempfile::tempdir().unwrap();
    let run = ok(home.path(), "offer place --help");
    assert!(run.stdout.contains("--price"), "{run:?}");
    let run = ok(home.path(), "gov propose params --help");
    assert!(run.stdout.contains("--voting-blocks"), "{run:?}");
}

#[test]
fn completions_cover_every_shell_and_command() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let run = ok(home.path(), &format!("completions {shell}"));
        for word in [
            "offer",
            "escrow",
            "book",
            "import-devnet",
            "gov",
            "propose",
            "add-merchant",
            "reassign-issuer",
            "rotate-key",
            "sub-account",
        ] {
            assert!(run.stdout.contains(word), "{shell} lacks {word}");
        }
        // fish spells long flags `-l rpc`.
        let rpc_flag = if shell == "fish" { "-l rpc" } else { "--rpc" };
        assert!(run.stdout.contains(rpc_flag), "{shell} lacks {rpc_flag}");
    }
    fails(home.path(), "completions tcsh", 2, "invalid value");
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    // `merit completions bash | head -1`: the reader goes away before the
    // 80 KB script is written. The command stops like a shell tool killed
    // by SIGPIPE, with no panic report.
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_merit"))
        .args(["completions", "bash"])
        .env("MERIT_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A merchant record signed by keys derived from `label`, as
/// `merit-genesis keygen` writes it; with a validator when `validator`.
fn merchant_file(label: &str, validator: bool) -> MerchantFile {
    let key = |role: &str| Keypair::insecure_from_label(&format!("wallet-it/{label}/{role}"));
    let (account, validator_key, p2p_key) = (key("account"), key("validator"), key("p2p"));
    let record = MerchantRecord {
        name: MerchantName::new(format!("Shop {label}")).unwrap(),
        account: account.public(),
        validator: validator.then(|| ValidatorRecord {
            key: validator_key.public(),
            p2p_key: p2p_key.public(),
            p2p_address: P2pAddressText::new("/ip4/127.0.0.1/tcp/26699").unwrap(),
        }),
    };
    let signed = record.sign(
        &account,
        validator.then_some(&validator_key),
        validator.then_some(&p2p_key),
    );
    MerchantFile::from_signed(&signed)
}

/// Writes `file` to `dir/name` and returns the path as a string.
fn write_merchant(dir: &Path, name: &str, file: &MerchantFile) -> String {
    let path = dir.join(name);
    std::fs::write(&path, file.to_json_pretty()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn governance_transactions_sign_offline_and_decode_to_what_was_typed() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, "keys import-devnet");
    let address = |name: &str| {
        ok(home, &format!("keys show {name} --json")).json()["address"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let ends = "--voting-ends-height 400";

    let new = merchant_file("harbor", true);
    let path = write_merchant(home, "harbor.json", &new);
    let (signed, d) = sign_and_decode(
        home,
        &format!("--from merchant-1 gov propose add-merchant {path} {ends}"),
    );
    assert_eq!(signed["kind"], "Propose");
    assert_eq!(signed["sender"], address("merchant-1").as_str());
    assert_eq!(d["kind"]["type"], "Propose", "{d}");
    assert_eq!(d["kind"]["voting_ends_height"], 400, "{d}");
    let action = &d["kind"]["action"];
    assert_eq!(action["type"], "AddMerchant", "{d}");
    assert_eq!(action["merchant"]["name"], "Shop harbor", "{d}");
    assert_eq!(action["merchant"]["account"], new.account.as_str(), "{d}");
    assert_eq!(
        action["merchant"]["validator_key"],
        json!(new.validator_key),
        "{d}"
    );
    // A merchant that issues tokens without running a validator.
    let issuer_only = write_merchant(home, "kiosk.json", &merchant_file("kiosk", false));
    let (_, d) = sign_and_decode(
        home,
        &format!("--from merchant-1 gov propose add-merchant {issuer_only} {ends}"),
    );
    assert!(
        d["kind"]["action"]["merchant"]["validator_key"].is_null(),
        "{d}"
    );

    let (_, d) = sign_and_decode(
        home,
        &format!("--from merchant-2 gov propose remove-merchant merchant-4 {ends}"),
    );
    assert_eq!(
        d["kind"]["action"],
        json!({"type": "RemoveMerchant", "account": address("merchant-4")})
    );

    let rotated = write_merchant(home, "rotated.json", &merchant_file("bean-new", true));
    let (_, d) = sign_and_decode(
        home,
        &format!("--from merchant-1 gov propose rotate-key {rotated} {ends}"),
    );
    assert_eq!(d["kind"]["action"]["type"], "RotateValidatorKey", "{d}");

    let (_, d) = sign_and_decode(
        home,
        &format!("--from merchant-1 gov propose reassign-issuer MILES bob {ends}"),
    );
    assert_eq!(
        d["kind"]["action"],
        json!({"type": "ReassignIssuer", "token": "MILES", "new_issuer": address("bob")})
    );

    let (_, d) = sign_and_decode(
        home,
        &format!(
            "--from merchant-1 gov propose params --timeout-base-ms 2000 --timeout-max-ms 40000 \
             --precision-ms 250 --message-delay-ms 1500 {ends}"
        ),
    );
    assert_eq!(
        d["kind"]["action"],
        json!({"type": "SetConsensusParams", "timeout_base_ms": 2000, "timeout_max_ms": 40000,
               "precision_ms": 250, "message_delay_ms": 1500})
    );

    let (_, d) = sign_and_decode(
        home,
        &format!("--from merchant-3 gov propose upgrade 2 409 {ends}"),
    );
    assert_eq!(
        d["kind"]["action"],
        json!({"type": "ScheduleUpgrade", "protocol_version": 2, "height": 409})
    );

    let (signed, d) = sign_and_decode(home, "--from merchant-2 gov vote 7 yes");
    assert_eq!(signed["kind"], "Vote");
    assert_eq!(
        d["kind"],
        json!({"type": "Vote", "proposal": 7, "approve": true})
    );
    let (_, d) = sign_and_decode(home, "--from merchant-2 gov vote 7 no");
    assert_eq!(d["kind"]["approve"], false, "{d}");
}

#[test]
fn bad_governance_input_is_named_and_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(home, "keys import-devnet");
    let ends = "--voting-ends-height 400";
    let params = "--timeout-base-ms 1000 --timeout-max-ms 30000 --precision-ms 500";

    // Merchant records: each problem named by its field.
    let good = merchant_file("harbor", true);
    let mut renamed = good.clone();
    renamed.name = "Someone Else".to_string();
    let mut forged = good.clone();
    forged.proofs.validator_key = merchant_file("other", true).proofs.validator_key;
    let mut unproven = good.clone();
    unproven.proofs.p2p_key = None;
    let renamed = write_merchant(home, "renamed.json", &renamed);
    let forged = write_merchant(home, "forged.json", &forged);
    let unproven = write_merchant(home, "unproven.json", &unproven);
    let issuer_only = write_merchant(home, "kiosk.json", &merchant_file("kiosk", false));
    let not_json = home.join("not.json");
    std::fs::write(&not_json, "{ merchant").unwrap();
    let not_json = not_json.to_str().unwrap().to_string();
    let missing = home.join("missing.json");
    let missing = missing.to_str().unwrap().to_string();

    let cases = [
        (
            format!("--from merchant-1 gov propose add-merchant {renamed} {ends}"),
            "proofs: no proof of possession matches the record",
        ),
        (
            format!("--from merchant-1 gov propose add-merchant {forged} {ends}"),
            "proofs.validator_key: the proof of possession of the validator key",
        ),
        (
            format!("--from merchant-1 gov propose add-merchant {unproven} {ends}"),
            "proofs.p2p_key: the proof of possession of the p2p key",
        ),
        (
            format!("--from merchant-1 gov propose add-merchant {not_json} {ends}"),
            "not valid JSON",
        ),
        (
            format!("--from merchant-1 gov propose add-merchant {missing} {ends}"),
            "missing.json",
        ),
        (
            format!("--from merchant-1 gov propose rotate-key {issuer_only} {ends}"),
            "names no validator key",
        ),
        (
            format!("--from merchant-1 gov propose remove-merchant mrt1nope {ends}"),
            "bad address `mrt1nope`",
        ),
        (
            format!("--from merchant-1 gov propose remove-merchant nobody {ends}"),
            "neither an address",
        ),
        (
            format!("--from merchant-1 gov propose reassign-issuer bean! bob {ends}"),
            "symbol",
        ),
        (
            "--from merchant-1 gov propose upgrade 2 999999 --voting-blocks 100001".to_string(),
            "--voting-blocks is 100001, at most 100000 (the chain's MAX_VOTING_PERIOD_BLOCKS)",
        ),
        (
            "--from merchant-1 gov propose upgrade 2 999999 --voting-blocks 0".to_string(),
            "--voting-blocks is 0, at least 1",
        ),
        (
            "--from merchant-1 gov propose upgrade 2 999999 --voting-ends-height 0".to_string(),
            "--voting-ends-height must be above zero",
        ),
        (
            format!("--from merchant-1 gov propose upgrade 0 999999 {ends}"),
            "VERSION is 0, at least 1",
        ),
        (
            format!("--from merchant-1 gov propose upgrade 2 408 {ends}"),
            "the upgrade HEIGHT 408 is too soon",
        ),
        (
            format!("--from merchant-1 gov propose params {params} --message-delay-ms 5 {ends}"),
            "--message-delay-ms is 5, but must be from 10 to 60000",
        ),
        (
            format!(
                "--from merchant-1 gov propose params --timeout-base-ms 5000 --timeout-max-ms 2000 \
                 --precision-ms 500 --message-delay-ms 2000 {ends}"
            ),
            "--timeout-max-ms is 2000, but must be from 5000 to 600000",
        ),
        // Clap's own checks.
        (
            format!("--from merchant-1 gov propose params {params} {ends}"),
            "--message-delay-ms <MS>",
        ),
        (
            "--from merchant-1 gov propose upgrade 2 999999 --voting-blocks 5 --voting-ends-height 9"
                .to_string(),
            "cannot be used with",
        ),
        (
            "--from merchant-1 gov vote 1 maybe".to_string(),
            "invalid value 'maybe'",
        ),
        (
            "--from merchant-1 gov vote x yes".to_string(),
            "invalid value 'x'",
        ),
        (
            format!("gov propose upgrade 2 999999 {ends}"),
            "no signing key",
        ),
    ];
    for (line, needle) in &cases {
        fails(home, &format!("{line} {OFFLINE}"), 2, needle);
    }
    fails(
        home,
        "gov list --status closed",
        2,
        "invalid value 'closed'",
    );
    fails(home, "gov show -1", 2, "unexpected argument '-1'");
    fails(home, "gov show x", 2, "invalid value 'x'");
    fails(home, "gov propose", 2, "Usage");
    // With --json, a usage error is a JSON document too.
    let run = merit(
        home,
        &format!("--from merchant-1 gov propose upgrade 2 408 {ends} {OFFLINE} --json"),
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.json()["error"]["kind"], "usage", "{run:?}");
}
