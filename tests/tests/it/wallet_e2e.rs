//! The real `merit` binary against a real 4-validator cluster, as a shopper
//! and merchants would use it: a token, a mint, a split payment, a partial
//! refund, a redemption, crossing offers between two merchants' tokens, an
//! escrow, a transaction signed offline and submitted twice, and the error
//! paths a person hits, `--no-wait`, and several terminals signing for one
//! key at once. Every balance is read back with `merit balance --json`.
//!
//! A second test runs alliance governance through `merit gov` on its own
//! cluster: a proposal the demo merchants pass by their votes, one they
//! reject, and the chain's refusal of a shopper's proposal and vote.
//!
//! It runs the binaries in target/<profile>/, `merit` and `merit-node`.
//! `cargo test --workspace` builds them (the wallet's and the node's own
//! integration tests make cargo build them); `cargo test -p merit-tests`
//! alone does not, and would run whatever binaries are there, possibly
//! stale. Build them first with `cargo build -p merit-node -p merit-wallet
//! --bins`. A missing binary fails the test with that command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use merit_chain::Keypair;
use merit_chain::amount::parse_amount;
use merit_chain::governance::{ACTIVATION_DELAY_BLOCKS, PROTOCOL_VERSION};
use merit_tests::cluster::{Cluster, node_binary, wallet_binary};
use serde_json::{Value, json};

const PASSWORD: &str = "e2e-password";
/// How long a transaction may take to be final (a loaded machine is slow).
const WAIT: Duration = Duration::from_secs(60);

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
    fn new(bin: PathBuf, rpc: String) -> Wallet {
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

    /// Polls `merit tx HASH --json` until the transaction is in a block,
    /// committed or rejected, and returns that document.
    fn wait_final(&self, hash: &str) -> Value {
        let end = Instant::now() + WAIT;
        loop {
            let tx = self.ok(&format!("tx {hash} --json")).json();
            if tx["status"] == "committed" || tx["status"] == "rejected" {
                return tx;
            }
            assert!(Instant::now() < end, "not in a block after {WAIT:?}: {tx}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The hash on the `hash` line of a transaction printed as text.
fn hash_line(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("hash"))
        .map(str::trim)
}

/// A transaction hash: 64 lowercase hex digits.
fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
    // Both binaries must be there before a cluster is started.
    node_binary();
    let bin = wallet_binary();
    let cluster = Cluster::start(4);
    assert!(
        cluster.wait_rpc(&[0, 1, 2, 3], WAIT),
        "the cluster did not start:\n{}",
        cluster.log_tail(0)
    );
    let node = cluster.nodes[0].config.rpc.listen;
    let w = Wallet::new(bin, format!("http://{node}"));

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

    let status = w.ok("--trust-node status --json").json();
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
    let by_name = w.ok("balance alice").stdout;
    assert!(
        by_name.contains("expiring:") && by_name.contains("MILES"),
        "{by_name}"
    );

    // ---- an account named by its raw address reads as by its key name.
    let alice_address = alice.public().to_bech32();
    let by_address = w.account(&alice_address);
    assert_eq!(
        by_address["address"],
        alice_address.as_str(),
        "{by_address}"
    );
    assert_eq!(
        by_address,
        w.account("alice"),
        "balance by address and by name"
    );
    // bech32 allows an address in capitals (QR codes use them).
    let upper = alice_address.to_ascii_uppercase();
    assert_eq!(w.account(&upper), by_address, "balance {upper}");
    let text = w.ok(&format!("balance {alice_address}")).stdout;
    assert_eq!(text, by_name, "the text of balance by address and by name");
    // An address with no key here and no points yet.
    let stranger = Keypair::from_seed([7; 32]).public().to_bech32();
    let account = w.account(&stranger);
    assert_eq!(account["address"], stranger.as_str(), "{account}");
    assert_eq!(account["balances"], json!({}), "{account}");
    let text = w.ok(&format!("balance {stranger}")).stdout;
    assert!(text.contains("no points yet"), "{text}");
    // A mistyped address is refused, not taken for a key name.
    let mut typo = alice_address.clone();
    let last = if typo.ends_with('q') { 'p' } else { 'q' };
    typo.pop();
    typo.push(last);
    w.fails(
        2,
        &format!("bad address `{typo}`"),
        &format!("balance {typo}"),
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

    // ---- token list: the demo tokens of genesis and the new one, each as
    // token info shows it.
    let list = w.ok("token list --json").json();
    let tokens = list.as_array().expect("token list is an array");
    let symbols: BTreeSet<&str> = tokens
        .iter()
        .map(|t| t["symbol"].as_str().expect("symbol"))
        .collect();
    let want = BTreeSet::from(["BEAN", "BOOK", "CAKE", "FUEL", "MILES"]);
    assert_eq!(symbols, want, "{list}");
    assert_eq!(tokens.len(), want.len(), "{list}");
    for t in tokens {
        let symbol = t["symbol"].as_str().expect("symbol");
        let info = w.ok(&format!("token info {symbol} --json")).json();
        assert_eq!(&info, t, "token info {symbol} and token list differ");
    }
    let genesis = &cluster.layout.genesis;
    for g in &genesis.tokens {
        let t = tokens
            .iter()
            .find(|t| t["symbol"] == g.symbol.as_str())
            .unwrap_or_else(|| panic!("{} is not listed: {list}", g.symbol));
        assert_eq!(t["name"], g.name.as_str(), "{t}");
        assert_eq!(t["decimals"], g.decimals, "{t}");
        assert_eq!(t["max_supply"], g.max_supply.as_str(), "{t}");
        assert_eq!(t["issuer"], g.issuer.as_str(), "{t}");
        assert_eq!(t["expiry_days"], json!(g.expiry_days), "{t}");
        assert_eq!(t["created_height"], 0, "{t}");
        let units = |s: &str| parse_amount(s, g.decimals).expect("an amount");
        let held: u64 = genesis
            .balances
            .iter()
            .filter(|b| b.token == g.symbol)
            .map(|b| units(&b.amount))
            .sum();
        for field in ["minted", "circulating"] {
            let amount = t[field].as_str().expect(field);
            assert_eq!(units(amount), held, "{field}: {t}");
        }
    }
    let cake = tokens
        .iter()
        .find(|t| t["symbol"] == "CAKE")
        .expect("CAKE is listed");
    let merchant_1 = w.address("merchant-1");
    assert_eq!(cake["issuer"], merchant_1.as_str(), "{cake}");
    assert_eq!(cake["name"], "Cake Club", "{cake}");
    assert_eq!(cake["max_supply"], "1000000.00", "{cake}");
    assert_eq!(cake["minted"], "200.00", "{cake}");
    assert_eq!(cake["redeemed"], "30.00", "{cake}");
    assert_eq!(cake["circulating"], "170.00", "{cake}");
    assert!(cake["expiry_days"].is_null(), "{cake}");
    // For people: a row per token, issuers by their key names.
    let text = w.ok("token list").stdout;
    for symbol in &want {
        let row = text.lines().find(|l| l.starts_with(&format!("{symbol} ")));
        assert!(row.is_some(), "no {symbol} row: {text}");
    }
    let row = text.lines().find(|l| l.starts_with("CAKE ")).unwrap_or("");
    for needle in ["Cake Club", "170.00", "1000000.00", "(merchant-1)"] {
        assert!(row.contains(needle), "{needle} in the CAKE row: {text}");
    }
    let text = w.ok("token info MILES").stdout;
    assert!(text.contains("Harbor Air Miles"), "{text}");
    assert!(text.contains("730 days after minting"), "{text}");
    assert!(text.contains("(merchant-4)"), "{text}");
    w.fails(2, "unknown token `NOPE`", "token info NOPE");

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
    let hint = format!("cancel it with `merit --from alice offer cancel {alice_offer}`");
    assert!(text.contains(&hint), "{text}");
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
    // A port of the cluster's own block that nothing binds: a port that was
    // free a moment ago could be taken by another process meanwhile.
    let dead = format!("http://127.0.0.1:{}", cluster.closed_port());
    for line in ["--from alice send BEAN 1 bob", "balance alice", "status"] {
        let run = w.run_at(&dead, PASSWORD, &words(line));
        assert_eq!(run.code, 3, "{run:#?}");
        let message = format!("cannot reach the node at {dead}: connection refused");
        assert!(run.stderr.contains(&message), "{run:#?}");
        assert!(run.stderr.contains("pass --rpc URL"), "{run:#?}");
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

    // ---- --no-wait: back at once, exit 0, with the hash and status
    // pending; the transaction commits later.
    let run = w.ok("--from carol send BEAN 2.50 bob --no-wait --json");
    let pending = run.json();
    assert_eq!(pending["status"], "pending", "{run:#?}");
    assert_eq!(pending["kind"], "Transfer", "{pending}");
    assert_eq!(pending["sender"], w.address("carol").as_str(), "{pending}");
    for field in ["height", "index", "code", "message", "original"] {
        assert!(pending[field].is_null(), "{field}: {pending}");
    }
    assert_eq!(pending["events"], json!([]), "{pending}");
    let hash = pending["hash"].as_str().expect("hash");
    assert!(is_hash(hash), "{pending}");
    let done = w.wait_final(hash);
    assert_eq!(done["status"], "committed", "{done}");
    assert_eq!(event(&done, "Transferred")["amount"], "2.50", "{done}");
    w.expect("--no-wait", "carol", &[("BEAN", "247.50")]);
    w.expect("--no-wait", "bob", &[("BEAN", "511.75")]);
    // As text: the hash, and where to look for the outcome.
    let run = w.ok("--from carol send BEAN 1 bob --no-wait");
    assert!(run.stdout.starts_with("pending: Transfer"), "{run:#?}");
    let hash = hash_line(&run.stdout).unwrap_or_default();
    assert!(is_hash(hash), "{run:#?}");
    assert!(run.stderr.contains(&format!("merit tx {hash}")), "{run:#?}");
    assert_eq!(w.wait_final(hash)["status"], "committed");
    w.expect("--no-wait as text", "carol", &[("BEAN", "246.50")]);
    w.expect("--no-wait as text", "bob", &[("BEAN", "512.75")]);

    // ---- many terminals, one key, no coordination: three of merchant-2's
    // terminals sign a mint each at the same moment, each with its own
    // random nonce, and every one commits, submitted at once in the reverse
    // order.
    let mints = [("alice", "3"), ("bob", "4.50"), ("carol", "2.25")];
    let terminal = &w;
    let signed: Vec<Value> = std::thread::scope(|s| {
        let terminals: Vec<_> = mints
            .iter()
            .map(|(to, amount)| {
                let line = format!("--from merchant-2 token mint BOOK {amount} {to} --sign-only");
                s.spawn(move || terminal.ok(&format!("{line} --json")).json())
            })
            .collect();
        terminals
            .into_iter()
            .map(|t| t.join().expect("a terminal"))
            .collect()
    });
    let nonces: BTreeSet<u64> = signed
        .iter()
        .map(|t| t["nonce"].as_u64().expect("nonce"))
        .collect();
    assert_eq!(nonces.len(), mints.len(), "one nonce each: {signed:#?}");
    let hashes: BTreeSet<&str> = signed
        .iter()
        .map(|t| t["hash"].as_str().expect("hash"))
        .collect();
    assert_eq!(hashes.len(), mints.len(), "{signed:#?}");
    // Signing alone sends nothing.
    w.expect("signing mints", "alice", &[("BOOK", "1004.00")]);
    let sent: Vec<Value> = std::thread::scope(|s| {
        let terminals: Vec<_> = signed
            .iter()
            .rev()
            .map(|t| {
                let hex = t["tx"].as_str().expect("tx");
                s.spawn(move || terminal.ok(&format!("tx send {hex} --json")).json())
            })
            .collect();
        terminals
            .into_iter()
            .map(|t| t.join().expect("a terminal"))
            .collect()
    });
    for (t, done) in signed.iter().rev().zip(&sent) {
        assert_eq!(done["hash"], t["hash"], "{done}");
        assert_eq!(done["status"], "committed", "{done}");
        assert_eq!(done["kind"], "Mint", "{done}");
    }
    w.expect("the terminals' mints", "alice", &[("BOOK", "1007.00")]);
    w.expect("the terminals' mints", "bob", &[("BOOK", "500.50")]);
    w.expect("the terminals' mints", "carol", &[("BOOK", "252.25")]);
    let book = w.ok("token info BOOK --json").json();
    assert_eq!(book["minted"], "1759.75", "{book}");

    // ---- a combined payment: one order, paid in CAKE and BOOK at once.
    let paid = w.commit(
        "--from alice pay --order E2E-2 --split merchant-1=10:CAKE,merchant-1=5:BOOK,carol=1:BOOK",
    );
    let hash = paid["hash"].as_str().expect("hash").to_string();
    let totals: Vec<(&str, &str)> = paid["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "Paid")
        .map(|e| {
            (
                e["token"].as_str().unwrap_or("?"),
                e["total"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(totals, [("CAKE", "10.00"), ("BOOK", "6.00")], "{paid}");
    w.expect(
        "the combined payment",
        "alice",
        &[("CAKE", "64.50"), ("BOOK", "1001.00")],
    );
    // Which of its tokens a refund returns must be said, and each is
    // bounded by what that receiver got of it.
    w.fails(2, "--token", &format!("--from merchant-1 refund {hash} 1"));
    w.commit(&format!("--from merchant-1 refund {hash} 2 --token BOOK"));
    w.expect("a refund in BOOK", "alice", &[("BOOK", "1003.00")]);
    w.fails(
        1,
        "RefundExceedsPayment",
        &format!("--from merchant-1 refund {hash} 3.01 --token BOOK"),
    );
    w.fails(
        1,
        "NotPaymentReceiver",
        &format!("--from carol refund {hash} 1 --token CAKE"),
    );
    // A leg in no token is refused before anything is signed.
    w.fails(
        2,
        "name its token",
        "--from alice pay --order E2E-3 --split bob=1",
    );

    // ---- a path payment: bob pays merchant-1 exactly 3 CAKE out of his
    // BOOK, through carol's offer of CAKE at 2 BOOK each.
    w.commit("--from carol offer place --sell CAKE --buy BOOK --amount 5 --price 2");
    let m1_cake = w.balances("merchant-1")["CAKE"].clone();
    let run = w.ok("--from bob pay-path CAKE 3 merchant-1 --send-token BOOK --send-max 6 --json");
    assert!(
        run.stderr.contains("route BOOK → CAKE costs 6.00 BOOK"),
        "{run:#?}"
    );
    let tx = run.json();
    assert_eq!(tx["status"], "committed", "{run:#?}");
    let path_paid = event(&tx, "PathPaid");
    assert_eq!(path_paid["sent"], "6.00", "{tx}");
    assert_eq!(path_paid["received"], "3.00", "{tx}");
    w.expect("the path payment", "bob", &[("BOOK", "494.50")]);
    w.expect("the path payment", "carol", &[("BOOK", "259.25")]);
    let units = |s: &str| parse_amount(s, 2).expect("an amount");
    assert_eq!(
        units(&w.balances("merchant-1")["CAKE"]),
        units(&m1_cake) + 300,
        "merchant-1 got exactly 3 CAKE"
    );
    // 2 CAKE cost 4 BOOK: the wallet says so before signing, and the chain
    // refuses a route named outright.
    w.fails(
        2,
        "costs 4.00 BOOK now, above --send-max 3.99",
        "--from bob pay-path CAKE 2 merchant-1 --send-token BOOK --send-max 3.99",
    );
    let run = w.run_args(
        PASSWORD,
        &[
            "--from",
            "bob",
            "pay-path",
            "CAKE",
            "2",
            "merchant-1",
            "--send-token",
            "BOOK",
            "--send-max",
            "3.99",
            "--path",
            "",
        ],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("SendMaxExceeded"), "{run:#?}");
    // More than the book holds: no route now, and NoPath on chain.
    w.fails(
        2,
        "no route from BOOK can deliver 3 CAKE",
        "--from bob pay-path CAKE 3 merchant-1 --send-token BOOK --send-max 100",
    );
    w.fails(
        1,
        "NoPath",
        "--from bob pay-path CAKE 3 merchant-1 --send-token BOOK --send-max 100 --path BEAN",
    );
    w.expect("refused path payments", "bob", &[("BOOK", "494.50")]);

    let secs = started.elapsed().as_secs_f64();
    eprintln!("wallet end-to-end test took {secs:.1} s");
}

/// The ids of the proposals `merit gov list ARGS --json` lists.
fn proposal_ids(w: &Wallet, args: &str) -> Vec<u64> {
    let list = w.ok(&format!("gov list {args} --json")).json();
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|p| p["id"].as_u64().expect("an id"))
        .collect()
}

#[test]
fn the_alliance_governs_through_the_wallet() {
    node_binary();
    let bin = wallet_binary();
    let cluster = Cluster::start(4);
    assert!(
        cluster.wait_rpc(&[0, 1, 2, 3], WAIT),
        "the cluster did not start:\n{}",
        cluster.log_tail(0)
    );
    let node = cluster.nodes[0].config.rpc.listen;
    let w = Wallet::new(bin, format!("http://{node}"));
    w.ok("keys import-devnet");
    let merchants: Vec<String> = (1..=4)
        .map(|i| w.address(&format!("merchant-{i}")))
        .collect();

    // ---- nothing proposed yet.
    assert_eq!(w.ok("gov list --json").json(), json!([]));
    assert!(w.ok("gov list").stdout.contains("no proposals"));
    w.fails(2, "no proposal has id 1", "gov show 1");

    // ---- an upgrade to the protocol this software runs, far enough ahead
    // to pass: the test nodes support it, so passing it stops nothing.
    let height = w.ok("status --json").json()["height"]
        .as_u64()
        .expect("height");
    let voting = 200;
    let upgrade_at = height + voting + ACTIVATION_DELAY_BLOCKS + 1_000;
    let propose =
        format!("gov propose upgrade {PROTOCOL_VERSION} {upgrade_at} --voting-blocks {voting}");

    // A shopper may not propose: the chain refuses it with its code.
    let run = w.fails(
        1,
        "NotValidatorMerchant",
        &format!("--from alice {propose}"),
    );
    assert!(run.stderr.contains("rejected"), "{run:#?}");
    let run = w.run(&format!("--from alice {propose} --json"));
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.json()["code"], "NotValidatorMerchant", "{run:#?}");
    // Over the chain's voting bound: refused before anything is signed.
    w.fails(
        2,
        "--voting-blocks is 100001, at most 100000",
        &format!("--from merchant-1 gov propose upgrade 2 {upgrade_at} --voting-blocks 100001"),
    );
    assert_eq!(w.ok("gov list --json").json(), json!([]));

    let proposed = w.commit(&format!("--from merchant-1 {propose}"));
    let id = proposed["proposal_id"].as_u64().expect("proposal id");
    let event_proposed = event(&proposed, "Proposed");
    assert_eq!(event_proposed["action"], "ScheduleUpgrade", "{proposed}");
    assert_eq!(event_proposed["proposal"], id, "{proposed}");
    let text = w
        .ok(&format!("tx {}", proposed["hash"].as_str().expect("hash")))
        .stdout;
    assert!(text.contains(&format!("proposal id  {id}")), "{text}");
    assert!(text.contains(&format!("gov vote {id} yes")), "{text}");

    let shown = w.ok(&format!("gov show {id} --json")).json();
    assert_eq!(shown["status"], "open", "{shown}");
    assert_eq!(shown["proposer"], merchants[0].as_str(), "{shown}");
    assert_eq!(
        shown["action"],
        json!({"type": "ScheduleUpgrade", "protocol_version": PROTOCOL_VERSION, "height": upgrade_at}),
        "{shown}"
    );
    assert_eq!(shown["quorum"], 3, "{shown}");
    assert_eq!(shown["approvals"], json!([]), "{shown}");
    let ends = shown["voting_ends_height"].as_u64().expect("voting ends");
    let created = shown["created_height"].as_u64().expect("created");
    assert!(
        ends >= height + voting && ends < created + voting,
        "{shown}"
    );
    assert_eq!(proposal_ids(&w, "--status open"), vec![id]);

    // A shopper's vote is refused by the chain too.
    w.fails(
        1,
        "NotValidatorMerchant",
        &format!("--from alice gov vote {id} yes"),
    );

    // ---- three of the four merchants approve: the third vote passes it.
    for (i, name) in ["merchant-1", "merchant-2"].iter().enumerate() {
        let voted = w.commit(&format!("--from {name} gov vote {id} yes"));
        let e = event(&voted, "Voted");
        assert_eq!(e["approve"], true, "{voted}");
        assert_eq!(e["voter"], merchants[i].as_str(), "{voted}");
        let shown = w.ok(&format!("gov show {id} --json")).json();
        assert_eq!(shown["status"], "open", "after {} votes: {shown}", i + 1);
    }
    // Voting twice is refused.
    w.fails(
        1,
        "AlreadyVoted",
        &format!("--from merchant-2 gov vote {id} yes"),
    );
    let deciding = w.commit(&format!("--from merchant-3 gov vote {id} yes"));
    let passed = event(&deciding, "ProposalPassed");
    let decided_at = deciding["height"].as_u64().expect("height");
    assert_eq!(
        passed["activation_height"],
        decided_at + ACTIVATION_DELAY_BLOCKS,
        "{deciding}"
    );
    // A decided proposal takes no more votes.
    w.fails(
        1,
        "ProposalClosed",
        &format!("--from merchant-4 gov vote {id} no"),
    );

    let shown = w.ok(&format!("gov show {id} --json")).json();
    assert_eq!(shown["status"], "passed", "{shown}");
    assert_eq!(shown["approvals"], json!(merchants[..3]), "{shown}");
    assert_eq!(shown["rejections"], json!([]), "{shown}");
    assert_eq!(shown["decided_height"], decided_at, "{shown}");
    assert_eq!(
        shown["activation_height"],
        decided_at + ACTIVATION_DELAY_BLOCKS,
        "{shown}"
    );
    // For people: one labelled line each.
    let text = w.ok(&format!("gov show {id}")).stdout;
    let activation = decided_at + ACTIVATION_DELAY_BLOCKS;
    for (label, value) in [
        ("status", "passed".to_string()),
        ("action", "ScheduleUpgrade".to_string()),
        ("from height", upgrade_at.to_string()),
        ("proposer", format!("{} (merchant-1)", merchants[0])),
        (
            "votes for",
            "3: merchant-1, merchant-2, merchant-3".to_string(),
        ),
        ("votes against", "0".to_string()),
        ("quorum", "3 votes for".to_string()),
        ("decided at", format!("height {decided_at}")),
        ("in force from", format!("height {activation}")),
    ] {
        let line = format!("{label:<14} {value}");
        assert!(text.lines().any(|l| l == line), "`{line}` in:\n{text}");
    }
    assert_eq!(proposal_ids(&w, "--status passed"), vec![id]);
    assert_eq!(proposal_ids(&w, "--status open"), Vec::<u64>::new());
    let text = w.ok("gov list --status passed").stdout;
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no row for {id}: {text}"));
    assert!(
        row.contains("passed") && row.contains("ScheduleUpgrade") && row.contains("merchant-1"),
        "{row}"
    );

    // ---- more than f of them vote no: rejected, and nothing changes.
    let params = "--timeout-base-ms 1500 --timeout-max-ms 30000 --precision-ms 500 \
                  --message-delay-ms 2000";
    let proposed = w.commit(&format!(
        "--from merchant-2 gov propose params {params} --voting-blocks {voting}"
    ));
    let second = proposed["proposal_id"].as_u64().expect("proposal id");
    assert_ne!(second, id);
    w.commit(&format!("--from merchant-3 gov vote {second} no"));
    let deciding = w.commit(&format!("--from merchant-4 gov vote {second} no"));
    assert_eq!(
        event(&deciding, "ProposalRejected")["proposal"],
        second,
        "{deciding}"
    );
    let shown = w.ok(&format!("gov show {second} --json")).json();
    assert_eq!(shown["status"], "rejected", "{shown}");
    assert_eq!(shown["rejections"], json!(merchants[2..]), "{shown}");
    assert!(shown["activation_height"].is_null(), "{shown}");
    assert_eq!(proposal_ids(&w, "--status rejected"), vec![second]);
    assert_eq!(proposal_ids(&w, ""), vec![id, second]);
}

/// Polls `merit status` through `w` until the chain is past `height`.
fn wait_past(w: &Wallet, height: u64) -> u64 {
    let end = Instant::now() + WAIT;
    loop {
        let now = w.ok("--trust-node status --json").json()["height"]
            .as_u64()
            .unwrap_or(0);
        if now > height {
            return now;
        }
        assert!(Instant::now() < end, "the chain is stuck at {now}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_lying_node_is_caught_and_trust_node_believes_it() {
    use merit_tests::lying_proxy::{Lie, LyingProxy};
    node_binary();
    let bin = wallet_binary();
    let cluster = Cluster::start(4);
    assert!(
        cluster.wait_rpc(&[0, 1, 2, 3], WAIT),
        "the cluster did not start:\n{}",
        cluster.log_tail(0)
    );
    // A quorum of the genesis validators' keys, for the forked block.
    let signers: Vec<Keypair> = cluster.layout.merchants[..3]
        .iter()
        .map(|m| m.validator.clone())
        .collect();
    let proxy = LyingProxy::start(cluster.nodes[0].config.rpc.listen, signers);
    let w = Wallet::new(bin.clone(), proxy.url());
    w.ok("keys import-devnet");
    // Proofs start with the first certified block.
    wait_past(&w, 0);
    let lied = |lie: Lie, line: &str| -> Run {
        proxy.lie(lie);
        let run = w.run(line);
        proxy.lie(Lie::Honest);
        assert_eq!(run.code, 5, "{lie:?}: merit {line}: {run:#?}");
        assert!(
            run.stderr.contains(&proxy.url()),
            "{lie:?}: the message names the node: {run:#?}"
        );
        run
    };

    // Honest, everything verifies: a transfer, its outcome, the balances.
    let tx = w.commit("--from alice send BEAN 1.00 bob");
    let hash = tx["hash"].as_str().expect("a hash").to_string();
    w.expect("a verified transfer", "bob", &[("BEAN", "501.00")]);
    let run = w.ok("balance alice");
    assert!(run.stderr.contains("verified"), "{run:#?}");

    // Balances raised in the plain answer and in the proof's entries.
    let run = lied(Lie::Balances, "balance alice");
    assert!(run.stderr.contains("cannot be trusted"), "{run:#?}");
    let run = lied(Lie::Balances, "balance alice --json");
    assert_eq!(run.json()["error"]["kind"], "untrusted", "{run:#?}");
    // --trust-node believes the lie, and says it did not check.
    proxy.lie(Lie::Balances);
    let believed = w.ok("--trust-node balance alice --json");
    proxy.lie(Lie::Honest);
    assert_eq!(
        believed.json()["balances"]["BEAN"],
        "999999.00",
        "{believed:#?}"
    );
    assert!(
        believed.stderr.contains("nothing the node at") && believed.stderr.contains("verified"),
        "{believed:#?}"
    );

    // Decimals: 12.50 would be 125000 base units at 4 decimals, 100 times
    // the amount. Nothing is signed.
    let before = w.balances("bob");
    let run = lied(Lie::Decimals, "--from alice send BEAN 12.50 bob");
    assert!(!run.stdout.contains("committed"), "{run:#?}");
    assert_eq!(w.balances("bob"), before, "nothing was sent");

    // A receipt turned into a rejection, in its proof: the proof fails.
    lied(Lie::Receipts, "--from alice send BEAN 1.00 bob");
    // The status alone turned: the honest proof contradicts it.
    let run = lied(Lie::Status, &format!("tx {hash}"));
    assert!(run.stderr.contains("certified receipt"), "{run:#?}");

    // A certificate signed by keys of no validator.
    lied(Lie::ForgedCertificate, "balance alice");

    // A transaction that expires unseen is proven never committed: its
    // nonce is still unused at the last height that could include it.
    proxy.lie(Lie::DropSubmissions);
    let run = w.run("--from alice send BEAN 1.00 bob --ttl-blocks 2 --json");
    proxy.lie(Lie::Honest);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.json()["code"], "Expired", "{run:#?}");
    // A node that hides a transaction it committed: the nonce proof shows
    // it used, so the wallet does not call it expired.
    proxy.lie(Lie::HideTransactions);
    let run = w.run("--from alice send BEAN 1.00 bob --ttl-blocks 2");
    proxy.lie(Lie::Honest);
    assert_eq!(run.code, 5, "{run:#?}");
    assert!(run.stderr.contains("nonce"), "{run:#?}");

    // An old state replayed as the current one: an account that holds
    // nothing is proven at two heights, then the older proof comes back.
    let nobody = Keypair::insecure_from_label("lying-proxy/nobody")
        .public()
        .to_bech32();
    let first = w.ok("--trust-node status --json").json()["height"]
        .as_u64()
        .unwrap_or(0);
    w.ok(&format!("balance {nobody}"));
    wait_past(&w, first + 1);
    w.ok(&format!("balance {nobody}"));
    let run = lied(Lie::ReplayOldState, &format!("balance {nobody}"));
    assert!(
        run.stderr.contains("older than block") || run.stderr.contains("stale"),
        "{run:#?}"
    );

    // Two certified blocks at one height: a fresh wallet verifies one,
    // then the proxy serves the same state in a block of another round,
    // signed by a quorum of the real validator keys. The wallet stops and
    // keeps both as evidence.
    let w2 = Wallet::new(bin, proxy.url());
    w2.ok("keys import-devnet");
    w2.ok(&format!("balance {nobody}"));
    let checkpoint = w2.ok("chain checkpoint devnet --json").json();
    let height = checkpoint["checkpoint"]["height"]
        .as_u64()
        .expect("a checkpoint");
    proxy.lie(Lie::Fork);
    let run = w2.run(&format!("balance {nobody}"));
    proxy.lie(Lie::Honest);
    assert_eq!(run.code, 5, "{run:#?}");
    assert!(run.stderr.contains("both certified"), "{run:#?}");
    let evidence = w2
        .home()
        .join("chains")
        .join(format!("devnet.fork-{height}.json"));
    let evidence: Value = serde_json::from_str(
        &std::fs::read_to_string(&evidence).expect("the fork's evidence is saved"),
    )
    .expect("JSON evidence");
    assert_eq!(evidence["height"], height);
    assert_eq!(evidence["first"]["hash"], checkpoint["checkpoint"]["hash"]);
    assert_ne!(evidence["first"]["hash"], evidence["second"]["hash"]);

    // A fresh checkpoint from a block hash trusted from elsewhere (here:
    // read through the honest proxy): the node must serve that very block.
    let status = w.ok("--trust-node status --json").json();
    let (tip, tip_hash) = (
        status["height"].as_u64().expect("a height"),
        status["block_hash"].as_str().expect("a hash").to_string(),
    );
    let wrong = "00".repeat(32);
    w.fails(
        5,
        "not the trusted",
        &format!("chain checkpoint devnet --height {tip} --hash {wrong}"),
    );
    w.ok(&format!(
        "chain checkpoint devnet --height {tip} --hash {tip_hash}"
    ));
    w.ok("balance alice");
    // A pin unverified for longer than the trusting period is refused
    // until it gets a fresh checkpoint.
    let pin_path = w.home().join("chains").join("devnet.json");
    let mut pin: Value =
        serde_json::from_str(&std::fs::read_to_string(&pin_path).expect("the pin")).expect("JSON");
    let header_hex = pin["checkpoint"]["header"].as_str().expect("a header");
    let mut header: merit_chain::BlockHeader =
        merit_chain::encoding::decode(&hex::decode(header_hex).expect("hex"), 4_096)
            .expect("a header");
    header.timestamp_ms -= 20 * 86_400_000;
    pin["checkpoint"]["header"] = Value::from(hex::encode(merit_chain::encoding::encode(&header)));
    std::fs::write(&pin_path, pin.to_string()).expect("write the pin");
    w.fails(2, "trusting period", "balance alice");
    w.ok(&format!(
        "chain checkpoint devnet --height {tip} --hash {tip_hash}"
    ));
    w.ok("balance alice");
}

/// A merchant's day, as its finance team sees it: the statement lists each
/// posting with its memo, and reconcile checks it against balances proven
/// at both ends of the day and each posting against its certified receipt.
/// A node that alters or drops one posting is caught.
#[test]
fn a_days_statement_reconciles_and_a_tampered_one_does_not() {
    use merit_tests::lying_proxy::{Lie, LyingProxy};
    node_binary();
    let bin = wallet_binary();
    let cluster = Cluster::start(4);
    assert!(
        cluster.wait_rpc(&[0, 1, 2, 3], WAIT),
        "the cluster did not start:\n{}",
        cluster.log_tail(0)
    );
    let proxy = LyingProxy::start(cluster.nodes[0].config.rpc.listen, Vec::new());
    let w = Wallet::new(bin.clone(), proxy.url());
    w.ok("keys import-devnet");
    wait_past(&w, 0);
    w.commit("--from alice send BEAN 2.50 merchant-1 --memo table-7");
    w.commit("--from merchant-1 send BEAN 0.50 bob");
    let status = w.ok("--trust-node status --json").json();
    let day = merit_api::utc_date(status["block_time_ms"].as_u64().expect("a time") / 86_400_000);

    let statement = w
        .ok(&format!("statement merchant-1 --day {day} --json"))
        .json();
    let bean = statement["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["token"] == "BEAN")
        .expect("merchant-1 moved BEAN")
        .clone();
    let lines = bean["postings"].as_array().expect("postings");
    assert!(
        lines
            .iter()
            .any(|l| l["memo"] == "table-7" && l["side"] == "credit" && l["amount"] == "2.50"),
        "{statement:#}"
    );
    let csv = w.ok(&format!(
        "statement merchant-1 --day {day} --csv --token BEAN"
    ));
    assert!(
        csv.stdout
            .starts_with("token,height,time,tx,kind,side,amount"),
        "{csv:#?}"
    );
    assert!(
        csv.stdout.contains(",credit,2.50,") && csv.stdout.contains("table-7"),
        "{csv:#?}"
    );

    let run = w.ok(&format!("reconcile merchant-1 --day {day}"));
    assert!(run.stdout.contains("reconciled"), "{run:#?}");
    for lie in [Lie::StatementAltered, Lie::StatementDropped] {
        proxy.lie(lie);
        let run = w.run(&format!("reconcile merchant-1 --day {day}"));
        proxy.lie(Lie::Honest);
        assert_eq!(run.code, 5, "{lie:?}: {run:#?}");
        assert!(
            run.stderr.contains("does not reconcile") && run.stderr.contains(&proxy.url()),
            "{lie:?}: {run:#?}"
        );
    }
    // A statement needs a period; a reversed one is refused before any call.
    let run = w.run("statement merchant-1 --since 2026-12-05 --until 2026-12-04");
    assert_eq!(run.code, 2, "{run:#?}");
}
