//! The real `merit` binary against a real 4-validator cluster, as a shopper
//! and merchants would use it: a token, a mint, a split payment, a partial
//! refund, a redemption, crossing offers between two merchants' tokens, an
//! escrow, a transaction signed offline and submitted twice, and the error
//! paths a person hits. Every balance is read back with
//! `merit balance --json`.
//!
//! Needs `target/<profile>/merit` and `merit-node`: `cargo build --workspace --bins`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use merit_tests::cluster::{Cluster, node_binary, wallet_binary};
use serde_json::Value;

const PASSWORD: &str = "e2e-password";

/// One finished run of the binary.
#[derive(Debug)]
struct Run {
    args: Vec<String>,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// A command line as typed, split on whitespace.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A wallet home pointed at one node of the cluster.
struct Wallet {
    bin: PathBuf,
    home: tempfile::TempDir,
    rpc: String,
}

impl Wallet {
    fn new(rpc: String) -> Wallet {
        let bin = wallet_binary();
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build --workspace --bins` first",
            bin.display()
        );
        Wallet {
            bin,
            home: tempfile::tempdir().expect("temp dir"),
            rpc,
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `merit --rpc <node> ARGS` with `password` as MERIT_PASSWORD.
    fn run_args(&self, password: &str, args: &[&str]) -> Run {
        self.run_at(&self.rpc, password, args)
    }

    /// Runs `merit --rpc RPC ARGS` with `password` as MERIT_PASSWORD.
    fn run_at(&self, rpc: &str, password: &str, args: &[&str]) -> Run {
        let out = Command::new(&self.bin)
            .arg("--rpc")
            .arg(rpc)
            .args(args)
            .env("MERIT_HOME", self.home())
            .env("MERIT_PASSWORD", password)
            .env("RUST_BACKTRACE", "1")
            .env_remove("MERIT_FROM")
            .env_remove("MERIT_RPC")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        let run = Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        for bad in ["panicked", "stack backtrace"] {
            assert!(!run.stderr.contains(bad), "{bad}: {run:#?}");
        }
        run
    }

    /// Runs `merit LINE`.
    fn run(&self, line: &str) -> Run {
        self.run_args(PASSWORD, &words(line))
    }

    /// Runs `merit LINE` and expects exit 0.
    fn ok(&self, line: &str) -> Run {
        let run = self.run(line);
        assert_eq!(run.code, 0, "merit {}: {run:#?}", run.args.join(" "));
        run
    }

    /// Runs a submitting command with `--json`, expects it committed, and
    /// returns its transaction document.
    fn commit(&self, line: &str) -> Value {
        let run = self.ok(&format!("{line} --json"));
        let tx = run.json();
        assert_eq!(tx["status"], "committed", "{run:#?}");
        assert!(tx["code"].is_null(), "{run:#?}");
        tx
    }

    /// Runs `merit LINE` and expects exit `code` with `needle` on stderr.
    fn fails(&self, code: i32, needle: &str, line: &str) -> Run {
        let run = self.run(line);
        assert_eq!(run.code, code, "{run:#?}");
        assert!(run.stderr.contains(needle), "expected `{needle}`: {run:#?}");
        run
    }

    /// `merit balance WHO --json`.
    fn account(&self, who: &str) -> Value {
        self.ok(&format!("balance {who} --json")).json()
    }

    /// A `{token: amount}` object of an account document as a map.
    fn amounts(account: &Value, field: &str) -> BTreeMap<String, String> {
        account[field]
            .as_object()
            .unwrap_or_else(|| panic!("no {field}: {account}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("?").to_string()))
            .collect()
    }

    /// Spendable balances of `who` (tokens at zero are absent).
    fn balances(&self, who: &str) -> BTreeMap<String, String> {
        Self::amounts(&self.account(who), "balances")
    }

    /// Asserts `who`'s spendable balance of each listed token ("0" for none).
    fn expect(&self, step: &str, who: &str, want: &[(&str, &str)]) {
        let have = self.balances(who);
        for (token, amount) in want {
            let got = have.get(*token).map_or("0", String::as_str);
            assert_eq!(
                got, *amount,
                "after {step}: {who}'s {token} (all: {have:?})"
            );
        }
    }

    /// Asserts exactly what `who` has locked in offers and escrows.
    fn expect_locked(&self, step: &str, who: &str, want: &[(&str, &str)]) {
        let locked = Self::amounts(&self.account(who), "locked");
        let want: BTreeMap<String, String> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(locked, want, "after {step}: {who}'s locked points");
    }

    fn address(&self, name: &str) -> String {
        let k = self.ok(&format!("keys show {name} --json")).json();
        k["address"].as_str().expect("address").to_string()
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The first event of `tx` of type `kind`.
fn event<'a>(tx: &'a Value, kind: &str) -> &'a Value {
    tx["events"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} event: {tx}"))
}

#[test]
fn the_wallet_drives_a_devnet_end_to_end() {
    let started = Instant::now();
    assert!(
        node_binary().exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        node_binary().display()
    );
    let cluster = Cluster::start(4);
    assert!(
        cluster.wait_rpc(&[0, 1, 2, 3], Duration::from_secs(60)),
        "the cluster did not start:\n{}",
        cluster.log_tail(0)
    );
    let node = cluster.nodes[0].config.rpc.listen;
    let w = Wallet::new(format!("http://{node}"));

    // ---- keys: the demo keys, encrypted and private.
    let keys = w.ok("keys import-devnet --json").json();
    assert_eq!(keys.as_array().map(Vec::len), Some(7), "{keys}");
    let alice = cluster.shopper("alice");
    assert_eq!(w.address("alice"), alice.public().to_bech32());
    let alice_file = w.home().join("keys").join("alice.json");
    let file = std::fs::read_to_string(&alice_file).expect("alice's key file");
    assert!(
        !file.contains(&hex::encode(alice.seed())),
        "the seed is in the key file"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&alice_file).expect("stat");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "key file mode");
    }

    let status = w.ok("status --json").json();
    assert_eq!(status["chain_id"], "merit-devnet", "{status}");
    assert_eq!(status["validators"], 4, "{status}");

    // ---- the genesis balances, and points that expire.
    let genesis = [
        ("BEAN", "1000.00"),
        ("BOOK", "1000.00"),
        ("MILES", "1000.00"),
    ];
    w.expect("genesis", "alice", &genesis);
    w.expect("genesis", "bob", &[("BEAN", "500.00"), ("BOOK", "500.00")]);
    let account = w.account("alice");
    let expiring = account["expiring"].as_array().expect("expiring");
    assert!(
        expiring
            .iter()
            .any(|e| e["token"] == "MILES" && e["amount"] == "1000.00"),
        "MILES expire: {account}"
    );
    let text = w.ok("balance alice").stdout;
    assert!(
        text.contains("expiring:") && text.contains("MILES"),
        "{text}"
    );

    // ---- a merchant creates a token and mints points to a shopper.
    let mut create = words("--from merchant-1 token create CAKE --decimals 2");
    create.extend(["--name", "Cake Club", "--max-supply", "1000000", "--json"]);
    let run = w.run_args(PASSWORD, &create);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["status"], "committed", "{run:#?}");
    let info = w.ok("token info CAKE --json").json();
    assert_eq!(info["issuer"], w.address("merchant-1").as_str(), "{info}");
    assert_eq!(info["name"], "Cake Club", "{info}");
    assert_eq!(info["max_supply"], "1000000.00", "{info}");
    let mint = w.commit("--from merchant-1 token mint CAKE 200 alice");
    assert_eq!(event(&mint, "Minted")["amount"], "200.00", "{mint}");
    w.expect("the mint", "alice", &[("CAKE", "200.00")]);

    // Only the issuer may mint.
    let run = w.fails(1, "NotIssuer", "--from merchant-2 token mint CAKE 1 bob");
    assert!(run.stderr.contains("rejected"), "{run:#?}");
    w.expect("a refused mint", "bob", &[("CAKE", "0")]);

    // ---- the shopper pays one order split to 3 receivers.
    let payment =
        w.commit("--from alice pay CAKE --order E2E-1 --split merchant-1=60,bob=25.50,carol=14.50");
    let payment_hash = payment["hash"].as_str().expect("hash").to_string();
    assert_eq!(event(&payment, "Paid")["total"], "100.00", "{payment}");
    w.expect("the split payment", "alice", &[("CAKE", "100.00")]);
    w.expect("the split payment", "merchant-1", &[("CAKE", "60.00")]);
    w.expect("the split payment", "bob", &[("CAKE", "25.50")]);
    w.expect("the split payment", "carol", &[("CAKE", "14.50")]);

    // ---- one receiver refunds part of it, and no more than it got.
    w.commit(&format!("--from carol refund {payment_hash} 4.50"));
    w.expect("the refund", "carol", &[("CAKE", "10.00")]);
    w.expect("the refund", "alice", &[("CAKE", "104.50")]);
    let over = format!("--from carol refund {payment_hash} 10.01");
    w.fails(1, "RefundExceedsPayment", &over);
    w.expect("a refused refund", "carol", &[("CAKE", "10.00")]);

    // ---- the shopper redeems some points.
    w.commit("--from alice redeem CAKE 30");
    w.expect("the redemption", "alice", &[("CAKE", "74.50")]);
    let info = w.ok("token info CAKE --json").json();
    assert_eq!(info["redeemed"], "30.00", "{info}");
    assert_eq!(info["minted"], "200.00", "{info}");
    assert_eq!(info["circulating"], "170.00", "{info}");

    // ---- offers between two merchants' tokens cross.
    // Alice sells 10 BEAN for at least 0.5 BOOK each; nothing to cross yet.
    let placed =
        w.commit("--from alice offer place --sell BEAN --buy BOOK --amount 10 --price 0.5");
    let alice_offer = placed["offer_id"].as_u64().expect("offer id");
    assert_eq!(event(&placed, "OfferPlaced")["price"], "1/2", "{placed}");
    let text = w
        .ok(&format!("tx {}", placed["hash"].as_str().expect("hash")))
        .stdout;
    assert!(text.contains(&format!("offer id  {alice_offer}")), "{text}");
    assert!(text.contains("10.00 BEAN rests in the book"), "{text}");
    w.expect(
        "placing an offer",
        "alice",
        &[("BEAN", "990.00"), ("BOOK", "1000.00")],
    );
    w.expect_locked("placing an offer", "alice", &[("BEAN", "10.00")]);
    let book = w.ok("book BEAN BOOK --json").json();
    assert_eq!(book["offers"][0]["id"], alice_offer, "{book}");
    assert_eq!(book["offers"][0]["unit_price"], "0.5", "{book}");
    assert_eq!(book["offers"][0]["remaining"], "10.00", "{book}");
    assert_eq!(book["opposite"].as_array().map(Vec::len), Some(0), "{book}");
    let text = w.ok("book BEAN BOOK").stdout;
    assert!(text.contains("0.5") && text.contains("alice"), "{text}");

    // Bob sells 4 BOOK for at least 2 BEAN each: it crosses alice's offer at
    // her price, 8 BEAN for his 4 BOOK, and fills completely.
    let taken = w.commit("--from bob offer place --sell BOOK --buy BEAN --amount 4 --price 2");
    let trade = event(&taken, "Trade");
    assert_eq!(trade["maker_offer"], alice_offer, "{taken}");
    assert_eq!(trade["paid"], "4.00", "{taken}");
    assert_eq!(trade["got"], "8.00", "{taken}");
    let text = w
        .ok(&format!("tx {}", taken["hash"].as_str().expect("hash")))
        .stdout;
    assert!(text.contains("filled completely"), "{text}");
    w.expect(
        "the crossing offer",
        "bob",
        &[("BEAN", "508.00"), ("BOOK", "496.00")],
    );
    w.expect(
        "the crossing offer",
        "alice",
        &[("BEAN", "990.00"), ("BOOK", "1004.00")],
    );
    w.expect_locked("the crossing offer", "alice", &[("BEAN", "2.00")]);
    w.expect_locked("the crossing offer", "bob", &[]);
    let book = w.ok("book BEAN BOOK --json").json();
    assert_eq!(book["offers"][0]["remaining"], "2.00", "{book}");
    let mine = w.ok("--from alice offer list --json").json();
    assert_eq!(mine["offers"][0]["id"], alice_offer, "{mine}");

    // Crossing one's own offer is refused; so is cancelling another's.
    let own = "--from alice offer place --sell BOOK --buy BEAN --amount 1 --price 2";
    w.fails(1, "SelfCross", own);
    w.fails(
        1,
        "NotOfferOwner",
        &format!("--from bob offer cancel {alice_offer}"),
    );
    // Alice cancels what is left and gets it back.
    let cancelled = w.commit(&format!("--from alice offer cancel {alice_offer}"));
    assert_eq!(
        event(&cancelled, "OfferCancelled")["returned"],
        "2.00",
        "{cancelled}"
    );
    w.expect(
        "cancelling",
        "alice",
        &[("BEAN", "992.00"), ("BOOK", "1004.00")],
    );
    w.expect_locked("cancelling", "alice", &[]);
    w.fails(
        1,
        "UnknownOffer",
        &format!("--from alice offer cancel {alice_offer}"),
    );

    // ---- an escrow: locked, then released by the payer.
    let created =
        w.commit("--from alice escrow create BEAN 25 merchant-1 --deadline 7d --order E2E-ESCROW");
    let escrow = created["escrow_id"]
        .as_str()
        .expect("escrow id")
        .to_string();
    assert_eq!(escrow, created["hash"].as_str().expect("hash"), "{created}");
    w.expect("the escrow", "alice", &[("BEAN", "967.00")]);
    w.expect_locked("the escrow", "alice", &[("BEAN", "25.00")]);
    let shown = w.ok(&format!("escrow show {escrow} --json")).json();
    assert_eq!(shown["status"], "open", "{shown}");
    assert_eq!(shown["order_id"], "E2E-ESCROW", "{shown}");
    w.fails(
        1,
        "DeadlineNotReached",
        &format!("--from alice escrow refund {escrow}"),
    );
    w.fails(
        1,
        "NotEscrowPayer",
        &format!("--from merchant-1 escrow release {escrow}"),
    );
    w.commit(&format!("--from alice escrow release {escrow}"));
    w.expect("the release", "merchant-1", &[("BEAN", "25.00")]);
    w.expect("the release", "alice", &[("BEAN", "967.00")]);
    w.expect_locked("the release", "alice", &[]);
    let shown = w.ok(&format!("escrow show {escrow} --json")).json();
    assert_eq!(shown["status"], "released", "{shown}");
    w.fails(
        1,
        "EscrowClosed",
        &format!("--from alice escrow release {escrow}"),
    );
    // The payee may send one back at any time.
    let created = w.commit("--from alice escrow create BEAN 5 bob --deadline 1h");
    let escrow = created["escrow_id"]
        .as_str()
        .expect("escrow id")
        .to_string();
    w.expect("a second escrow", "alice", &[("BEAN", "962.00")]);
    w.commit(&format!("--from bob escrow refund {escrow}"));
    w.expect("the payee's refund", "alice", &[("BEAN", "967.00")]);
    w.expect("the payee's refund", "bob", &[("BEAN", "508.00")]);

    // ---- error paths, each through the binary, each changing nothing.
    let before_alice = w.balances("alice");
    let before_bob = w.balances("bob");

    // A wrong password.
    let run = w.run_args("not-the-password", &words("--from alice send BEAN 1 bob"));
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("wrong password for key `alice`"),
        "{run:#?}"
    );

    // An unknown token.
    w.fails(2, "unknown token `NOPE`", "--from alice send NOPE 1 bob");
    w.fails(2, "unknown token `NOPE`", "book BEAN NOPE");

    // An amount with too many decimals.
    let needle = "bad amount `1.234`: BEAN has 2 decimal places";
    w.fails(2, needle, "--from alice send BEAN 1.234 bob");

    // An insufficient balance: the rejection in words, and exit 1.
    let run = w.fails(1, "InsufficientBalance", "--from alice send BEAN 5000 bob");
    assert!(run.stderr.contains("rejected"), "{run:#?}");
    assert!(run.stderr.contains("balance is too small"), "{run:#?}");
    let run = w.run("--from alice send BEAN 5000 bob --json");
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.json()["code"], "InsufficientBalance", "{run:#?}");

    // An unreachable node: one clear line, exit 3.
    let dead = format!("http://127.0.0.1:{}", closed_port());
    for line in ["--from alice send BEAN 1 bob", "balance alice", "status"] {
        let run = w.run_at(&dead, PASSWORD, &words(line));
        assert_eq!(run.code, 3, "{run:#?}");
        let message = format!("cannot reach the node at {dead}: connection refused");
        assert!(run.stderr.contains(&message), "{run:#?}");
        assert_eq!(run.stderr.trim().lines().count(), 1, "{run:#?}");
    }

    // A duplicate order id, naming the original payment.
    let again = "--from alice pay CAKE --order E2E-1 --split bob=1";
    let run = w.fails(1, "DuplicateOrderId", again);
    assert!(
        run.stderr.contains(&payment_hash),
        "names the original: {run:#?}"
    );
    // An escrow's order id is in the same namespace.
    w.fails(
        1,
        "DuplicateOrderId",
        "--from alice pay CAKE --order E2E-ESCROW --split bob=1",
    );

    assert_eq!(
        w.balances("alice"),
        before_alice,
        "the error paths changed alice"
    );
    assert_eq!(w.balances("bob"), before_bob, "the error paths changed bob");

    // ---- signed offline, submitted twice: one effect.
    let signed = w.ok("--from alice send BEAN 1.25 bob --sign-only");
    let tx_hex = signed.stdout.trim().to_string();
    let is_hex = !tx_hex.is_empty() && tx_hex.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(is_hex, "{signed:#?}");
    // Signing alone sends nothing.
    w.expect("signing only", "alice", &[("BEAN", "967.00")]);
    let first = w.ok(&format!("tx send {tx_hex} --json")).json();
    assert_eq!(first["status"], "committed", "{first}");
    w.expect("tx send", "alice", &[("BEAN", "965.75")]);
    w.expect("tx send", "bob", &[("BEAN", "509.25")]);
    let again = w.ok(&format!("tx send {tx_hex} --json")).json();
    assert_eq!(again["hash"], first["hash"], "{again}");
    assert_eq!(again["status"], "committed", "{again}");
    assert_eq!(again["height"], first["height"], "{again}");
    w.expect("tx send again", "alice", &[("BEAN", "965.75")]);
    w.expect("tx send again", "bob", &[("BEAN", "509.25")]);

    // ---- history shows what happened to alice, newest first.
    let history = w.ok("--from alice history --limit 100 --json").json();
    let entries = history["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["hash"], first["hash"], "{history}");
    let paid = entries.iter().any(|e| e["hash"] == payment_hash.as_str());
    assert!(paid, "{history}");

    let secs = started.elapsed().as_secs_f64();
    eprintln!("wallet end-to-end test took {secs:.1} s");
}
