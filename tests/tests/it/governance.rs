//! Alliance governance with the real binaries, on a running 4-validator
//! alliance: a fifth merchant makes its keys with `merit-genesis keygen`,
//! the others vote it in with `merit gov`, and its node syncs from genesis
//! across the change; with one original validator stopped the chain
//! commits only with the newcomer's votes; that validator is voted out and
//! the chain goes on at n = 4; a merchant rotates its validator key and its
//! node switches to it at the activation height; a wiped node resyncs
//! across every change; a token moves to a new issuer key and the old key can no longer mint; and
//! an upgrade to a protocol version no node supports stops every node
//! cleanly at its height, and keeps them from starting again.
//!
//! It runs the binaries in target/<profile>/ (see `wallet_e2e`): build
//! them first with `cargo build --workspace --bins`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use merit_chain::governance::PROTOCOL_VERSION;
use merit_genesis::MerchantFile;
use merit_tests::cluster::{Cluster, JoiningKeys, Rpc, genesis_binary, wallet_binary};
use serde_json::{Value, json};

/// How long a step may take on a loaded 2-core machine.
const LONG: Duration = Duration::from_secs(120);
/// An idle chain's block interval here: activations are 8 blocks away,
/// and the test waits for several of them.
const HEARTBEAT_MS: u64 = 300;
const WALLET_PASSWORD: &str = "governance wallet";
const CAFE_NODE_PASSWORD: &str = "cafe node password";
/// The newcomer's issuer key joins the merchants' shared test wallet,
/// which keeps the key file's password.
const CAFE_ISSUER_PASSWORD: &str = WALLET_PASSWORD;
/// Blocks of voting for each proposal: long enough for four votes on a
/// loaded machine, short enough for the upgrade's height.
const VOTING_BLOCKS: u64 = 60;

/// The `merit` wallet of the merchants, pointed at one node.
struct Wallet {
    home: tempfile::TempDir,
    rpc: String,
}

impl Wallet {
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(wallet_binary())
            .arg("--rpc")
            .arg(&self.rpc)
            .args(args)
            .env("MERIT_HOME", self.home.path())
            .env("MERIT_PASSWORD", WALLET_PASSWORD)
            .env_remove("MERIT_FROM")
            .env_remove("MERIT_RPC")
            .stdin(Stdio::null())
            .output()
            .expect("merit runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "merit {args:?}: {stderr}");
        out
    }

    /// Runs `merit ARGS` and expects success.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "merit {args:?} exited {:?}:\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn merit_genesis(args: &[&str], env: &[(&str, &str)]) {
    let out = Command::new(genesis_binary())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("merit-genesis runs");
    assert!(
        out.status.success(),
        "merit-genesis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Waits until none of `which` runs any more.
fn wait_until_stopped(c: &mut Cluster, which: &[usize], what: &str) {
    let end = Instant::now() + LONG;
    while which.iter().any(|&i| c.is_running(i)) {
        assert!(
            Instant::now() < end,
            "timed out: {what}\n{}",
            c.log_tail(which[0])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The proposal whose action mentions `needle` (an account, a token), as
/// the node reports it.
fn proposal_about(rpc: &Rpc, needle: &str) -> Value {
    let all = rpc
        .call("merit_listProposals", json!([{}]))
        .expect("merit_listProposals");
    all.as_array()
        .and_then(|ps| {
            ps.iter()
                .rev()
                .find(|p| p["action"].to_string().contains(needle))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no proposal about {needle}: {all}"))
}

/// Proposes with `merit gov propose ARGS` from `proposer`, votes yes from
/// every one of `voters`, and returns the passed proposal.
fn pass(
    w: &Wallet,
    rpc: &Rpc,
    proposer: &str,
    propose: &[&str],
    needle: &str,
    voters: &[&str],
) -> Value {
    let voting = VOTING_BLOCKS.to_string();
    let mut args = vec!["--from", proposer, "gov", "propose"];
    args.extend(propose);
    args.extend(["--voting-blocks", &voting]);
    w.ok(&args);
    let id = proposal_about(rpc, needle)["id"]
        .as_u64()
        .expect("a proposal id")
        .to_string();
    assert_eq!(
        rpc.call("merit_getProposal", json!([id.parse::<u64>().unwrap()]))
            .unwrap()["status"],
        "open"
    );
    for voter in voters {
        w.ok(&["--from", voter, "gov", "vote", &id, "yes"]);
    }
    let p = rpc
        .call("merit_getProposal", json!([id.parse::<u64>().unwrap()]))
        .unwrap();
    assert_eq!(p["status"], "passed", "{p}");
    // What the wallet shows agrees with the node.
    let shown = w.ok(&["gov", "show", &id]);
    assert!(shown.contains("passed"), "{shown}");
    p
}

fn activation(p: &Value) -> u64 {
    p["activation_height"]
        .as_u64()
        .unwrap_or_else(|| panic!("a passed proposal has an activation height: {p}"))
}

fn validator_keys(rpc: &Rpc) -> Vec<String> {
    let set = rpc.call("merit_validators", json!([])).unwrap();
    set["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["validator_key"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_alliance_votes_a_merchant_in_and_another_out_moves_an_issuer_and_stops_for_an_upgrade() {
    let mut c = Cluster::prepare(4).unwrap_or_else(|e| panic!("{e}"));
    c.set_heartbeat_ms(HEARTBEAT_MS).unwrap();
    for i in 0..4 {
        c.start_node(i);
    }
    let all = [0, 1, 2, 3];
    assert!(c.wait_height(&all, 2, LONG), "{}", c.log_tail(0));
    let rpc = c.rpc(0);
    let w = Wallet {
        home: tempfile::tempdir().unwrap(),
        rpc: format!("http://{}", c.nodes[0].config.rpc.listen),
    };
    w.ok(&["keys", "import-devnet"]);
    let merchant = |i: usize| format!("merchant-{}", i + 1);
    let accounts: Vec<String> = c
        .layout
        .merchants
        .iter()
        .map(|m| m.account.public().to_string())
        .collect();
    let account = |i: usize| accounts[i].clone();

    // 1. A fifth merchant makes its keys on its own machine.
    let cafe_dir: PathBuf = c.dir.path().join("cafe-keys");
    let port = c.next_node_p2p_port();
    merit_genesis(
        &[
            "keygen",
            "--name",
            "Corner Cafe",
            "--p2p-address",
            &format!("/ip4/127.0.0.1/tcp/{port}"),
            "--out",
            s(&cafe_dir),
        ],
        &[
            ("MERIT_NODE_PASSWORD", CAFE_NODE_PASSWORD),
            ("MERIT_PASSWORD", CAFE_ISSUER_PASSWORD),
        ],
    );
    let record = cafe_dir.join("merchant.json");
    let cafe = MerchantFile::load(&record).unwrap().verify().unwrap();
    let cafe_account = cafe.account().to_string();
    let cafe_key = cafe.validator.as_ref().unwrap().key.to_string();

    // 2. The alliance votes it in.
    let voters = [merchant(1), merchant(2), merchant(3)];
    let voters: Vec<&str> = voters.iter().map(String::as_str).collect();
    let added = pass(
        &w,
        &rpc,
        &merchant(0),
        &["add-merchant", s(&record)],
        &cafe_account,
        &voters,
    );
    let joined_at = activation(&added);

    // 3. Its node starts from the genesis file alone and syncs from
    //    genesis across the change, then votes.
    let cafe_node = c.add_node(Some(JoiningKeys {
        validator_key_file: cafe_dir.join("validator_key.json"),
        p2p_key_file: cafe_dir.join("p2p_key.json"),
        password: CAFE_NODE_PASSWORD.into(),
    }));
    c.start_node(cafe_node);
    assert!(
        c.wait_height(&[0, 1, 2, 3, cafe_node], joined_at + 3, LONG),
        "the newcomer never caught up:\n{}",
        c.log_tail(cafe_node)
    );
    let cafe_rpc = c.rpc(cafe_node);
    assert_eq!(
        cafe_rpc.status().unwrap()["validator_index"],
        json!(4),
        "{}",
        c.log_tail(cafe_node)
    );
    assert_eq!(validator_keys(&rpc).len(), 5);
    assert_eq!(validator_keys(&rpc)[4], cafe_key);
    c.assert_same_chain(&[0, cafe_node], joined_at + 3);

    // 4. One original validator stops. With n = 5 a quorum is 4, and only
    //    4 run: every block from here needs the newcomer's votes.
    assert!(c.terminate(3), "{}", c.log_tail(3));
    let stopped_at = rpc.height().unwrap();
    let running = [0, 1, 2, cafe_node];
    assert!(
        c.wait_height(&running, stopped_at + 5, LONG),
        "the chain stopped without validator 3:\n{}\n---- node 0\n{}",
        c.log_tail(cafe_node),
        c.log_tail(0)
    );
    let set = rpc.call("merit_validators", json!([])).unwrap();
    assert_eq!(set["quorum"], json!(4), "{set}");

    // 5. The alliance votes the stopped validator out, the newcomer too,
    //    with its issuer key from its own key file.
    let cafe_issuer = cafe_dir.join("issuer.json");
    let out = Command::new(wallet_binary())
        .args(["keys", "import", "cafe", "--key-file", s(&cafe_issuer)])
        .env("MERIT_HOME", w.home.path())
        .env("MERIT_PASSWORD", CAFE_ISSUER_PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let removed = pass(
        &w,
        &rpc,
        &merchant(0),
        &["remove-merchant", &account(3)],
        &account(3),
        &[&merchant(1), &merchant(2), "cafe", &merchant(0)],
    );
    let left_at = activation(&removed);
    assert!(
        c.wait_height(&running, left_at + 5, LONG),
        "{}",
        c.log_tail(0)
    );
    let keys = validator_keys(&rpc);
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(!keys.contains(&c.layout.merchants[3].validator.public().to_string()));
    assert_eq!(
        rpc.call("merit_validators", json!([{"height": left_at - 1}]))
            .unwrap()["validators"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "the set before the change is still on record"
    );
    let changes = rpc
        .call("merit_getValidatorChanges", json!([1]))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|ch| ch["height"].as_u64().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(changes, vec![joined_at, left_at]);

    // 6. merchant-2 rotates its validator key as the runbook says: keygen
    //    with its account and p2p keys, a restart with both validator keys,
    //    and a vote. Its node switches by itself at the activation height.
    let next_dir = c.dir.path().join("bean-next");
    let issuer_key = w
        .home
        .path()
        .join("keys")
        .join(format!("{}.json", merchant(1)));
    let p2p_key = c.nodes[1].config.p2p_key_file.clone().unwrap();
    let password_file = c.nodes[1].config.password_file.clone().unwrap();
    merit_genesis(
        &[
            "keygen",
            "--name",
            &c.layout.merchants[1].name,
            "--p2p-address",
            &c.layout.merchants[1].p2p_address.to_string(),
            "--issuer-key",
            s(&issuer_key),
            "--p2p-key",
            s(&p2p_key),
            "--password-file",
            s(&password_file),
            "--out",
            s(&next_dir),
        ],
        &[("MERIT_PASSWORD", WALLET_PASSWORD)],
    );
    let rotated = MerchantFile::load(&next_dir.join("merchant.json"))
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(rotated.account().to_string(), account(1));
    let new_key = rotated.validator.as_ref().unwrap().key.to_string();
    assert!(c.terminate(1), "{}", c.log_tail(1));
    c.nodes[1].config.next_validator_key_file = Some(next_dir.join("validator_key.json"));
    std::fs::write(&c.nodes[1].config_path, c.nodes[1].config.to_toml()).unwrap();
    c.start_node(1);
    let record = next_dir.join("merchant.json");
    let rotation = pass(
        &w,
        &rpc,
        &merchant(0),
        &["rotate-key", s(&record)],
        &new_key,
        &[&merchant(0), &merchant(1), &merchant(2)],
    );
    let rotated_at = activation(&rotation);
    assert!(
        c.wait_height(&running, rotated_at + 2, LONG),
        "{}",
        c.log_tail(1)
    );
    assert_eq!(validator_keys(&rpc)[1], new_key);
    let changes = rpc
        .call("merit_getValidatorChanges", json!([1]))
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(changes, 3, "a rotation is a change of the set");
    // With node 0 stopped, three of four run: a quorum needs node 1's
    // votes under its new key.
    assert!(c.terminate(0), "{}", c.log_tail(0));
    let three = [1, 2, cafe_node];
    let h = c.rpc(1).height().unwrap();
    assert!(
        c.wait_height(&three, h + 3, LONG),
        "the chain stopped: node 1 does not vote with its new key:\n{}",
        c.log_tail(1)
    );
    c.start_node(0);
    assert!(c.wait_height(&running, h + 5, LONG), "{}", c.log_tail(0));

    // 7. A wiped node resyncs from genesis across every change.
    assert!(c.terminate(2), "{}", c.log_tail(2));
    c.wipe(2);
    c.start_node(2);
    let tip = rpc.height().unwrap();
    assert!(
        c.wait_height(&[2], tip, LONG),
        "the wiped node never resynced:\n{}",
        c.log_tail(2)
    );
    c.assert_same_chain(&[0, 2, cafe_node], tip);

    // 8. BEAN moves to a new issuer key: the old key can no longer mint.
    let new_issuer = w.ok(&["keys", "new", "bean-new-issuer", "--json"]);
    let new_issuer: Value = serde_json::from_str(&new_issuer).unwrap();
    let new_issuer = new_issuer["address"].as_str().unwrap().to_string();
    let token = c.layout.merchants[0].token.to_string();
    let moved = pass(
        &w,
        &rpc,
        &merchant(0),
        &["reassign-issuer", &token, &new_issuer],
        &new_issuer,
        &[&merchant(0), &merchant(1), &merchant(2)],
    );
    let moved_at = activation(&moved);
    assert!(c.wait_height(&running, moved_at, LONG), "{}", c.log_tail(0));
    let alice = c.shopper("alice").public().to_string();
    let old = w.run(&[
        "--from",
        &merchant(0),
        "token",
        "mint",
        &token,
        "1.00",
        &alice,
    ]);
    assert_eq!(old.status.code(), Some(1), "{old:?}");
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("NotIssuer"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    w.ok(&[
        "--from",
        "bean-new-issuer",
        "token",
        "mint",
        &token,
        "1.00",
        &alice,
    ]);

    // 9. An upgrade to a version no node supports: every node commits the
    //    blocks before its height, then stops with a message saying which
    //    version it needs.
    let next = PROTOCOL_VERSION + 1;
    let at = rpc.height().unwrap() + VOTING_BLOCKS + 8 + 20;
    let upgrade = pass(
        &w,
        &rpc,
        &merchant(0),
        &["upgrade", &next.to_string(), &at.to_string()],
        &format!("\"height\":{at}"),
        &[&merchant(0), &merchant(1), &merchant(2)],
    );
    assert!(activation(&upgrade) < at);
    let needed = format!("scheduled protocol version {next} from height {at}");
    wait_until_stopped(&mut c, &running, "every node stops for the upgrade");
    for &i in &running {
        let status = c.nodes[i].child.as_mut().and_then(|ch| ch.try_wait().ok());
        assert!(
            std::fs::read_to_string(&c.nodes[i].log_path)
                .unwrap()
                .contains(&needed),
            "node {i}: {status:?}\n{}",
            c.log_tail(i)
        );
    }
    // Each stopped at the block before the upgrade, with a clean store.
    for &i in &running {
        let height = stored_height(&c, i);
        assert_eq!(height, at - 1, "node {i}");
    }
    // And it refuses to start again on that chain.
    c.start_node(0);
    wait_until_stopped(&mut c, &[0], "node 0 refuses to start");
    let log = c.log_tail(0);
    assert!(log.contains(&needed), "{log}");
}

/// The tip of a stopped node's store, verified from genesis by
/// `merit-node verify-chain`.
fn stored_height(c: &Cluster, i: usize) -> u64 {
    let out = Command::new(merit_tests::cluster::node_binary())
        .args(["verify-chain", "--data-dir"])
        .arg(&c.nodes[i].config.data_dir)
        .arg("--genesis")
        .arg(&c.nodes[i].config.genesis)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node {i}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("verified: height "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("node {i}: {text}"))
}
