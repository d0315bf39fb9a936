//! The key ceremony with the real binaries: four merchants, each in a
//! directory of its own standing for its own machine. Each runs
//! `merit-genesis keygen`; only the `merchant.json` files travel; one
//! merchant assembles; every merchant verifies the hash; each starts its
//! `merit-node` from its own directory's files alone; and merchant 0's
//! issuer key, read from its wallet key file, mints on the new chain.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use merit_chain::encoding::BoundedString;
use merit_chain::{Keypair, Symbol, TxBody, TxKind};
use merit_genesis::keystore;
use merit_tests::cluster::{OwnPorts, Rpc, genesis_binary, node_binary};
use serde_json::json;

const LONG: Duration = Duration::from_secs(60);
const CHAIN_ID: &str = "ceremony-1";
const MERCHANTS: usize = 4;

/// Each merchant's node password: nobody else knows it.
fn node_password(i: usize) -> String {
    format!("node password of merchant {i}")
}

/// Each merchant's issuer password.
fn issuer_password(i: usize) -> String {
    format!("issuer password of merchant {i}")
}

fn merit_genesis(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(genesis_binary());
    cmd.args(args)
        .env_remove("MERIT_NODE_PASSWORD")
        .env_remove("MERIT_PASSWORD")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("merit-genesis runs");
    assert!(
        o.status.success(),
        "merit-genesis {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Kills the node processes however the test ends.
struct Nodes(Vec<(Child, PathBuf)>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for (c, _) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Nodes {
    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.0[i].1).unwrap_or_default()
    }
}

#[test]
fn four_merchants_run_the_key_ceremony_and_their_chain_commits_a_mint() {
    // The turn and a block of ports, held to the end of the test.
    let ports = OwnPorts::take();
    let base = ports.base();
    let p2p_port = |i: usize| base + i as u16;
    let rpc_port = |i: usize| base + 10 + i as u16;
    let machines: Vec<tempfile::TempDir> = (0..MERCHANTS)
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let keys_dir = |i: usize| machines[i].path().join("keys");

    // 1. Every merchant makes its keys on its own machine.
    for i in 0..MERCHANTS {
        merit_genesis(
            &[
                "keygen",
                "--name",
                &format!("Merchant {i}"),
                "--p2p-address",
                &format!("/ip4/127.0.0.1/tcp/{}", p2p_port(i)),
                "--out",
                s(&keys_dir(i)),
            ],
            &[
                ("MERIT_NODE_PASSWORD", node_password(i)),
                ("MERIT_PASSWORD", issuer_password(i)),
            ],
        );
    }

    // 2. Each sends its merchant.json, and nothing else, to merchant 0,
    //    which assembles the genesis with merchant 0's token.
    let inbox = machines[0].path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut records = Vec::new();
    for i in 0..MERCHANTS {
        let to = inbox.join(format!("merchant-{i}.json"));
        std::fs::copy(keys_dir(i).join("merchant.json"), &to).unwrap();
        records.push(to);
    }
    let issuer = merit_genesis::MerchantFile::load(&records[0])
        .unwrap()
        .account;
    let tokens = machines[0].path().join("tokens.json");
    std::fs::write(
        &tokens,
        json!({"tokens": [{"symbol": "BEAN", "name": "Beans", "decimals": 2,
                           "max_supply": "1000000.00", "issuer": issuer}]})
        .to_string(),
    )
    .unwrap();
    let assembled = machines[0].path().join("genesis.json");
    let mut args = vec!["assemble", "--chain-id", CHAIN_ID, "--tokens", s(&tokens)];
    for r in &records {
        args.extend(["--merchant", s(r)]);
    }
    args.extend(["--out", s(&assembled)]);
    let out = String::from_utf8(merit_genesis(&args, &[]).stdout).unwrap();
    let hash = out
        .lines()
        .find_map(|l| l.strip_prefix("genesis hash: "))
        .unwrap_or_else(|| panic!("no hash in {out}"))
        .to_string();

    // 3. Every merchant gets genesis.json, and the hash out of band, and
    //    checks one against the other (no password needed).
    for (i, m) in machines.iter().enumerate() {
        let mine = m.path().join("genesis.json");
        if i != 0 {
            std::fs::copy(&assembled, &mine).unwrap();
        }
        merit_genesis(&["verify", s(&mine), "--hash", &hash], &[]);
    }

    // 4. Every merchant starts its node from its own directory alone, with
    //    its own password.
    let mut nodes = Nodes(Vec::new());
    for (i, machine) in machines.iter().enumerate() {
        let dir = machine.path();
        let log = dir.join("node.log");
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(node_binary())
            .args(["start", "--genesis"])
            .arg(dir.join("genesis.json"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--validator-key-file")
            .arg(keys_dir(i).join("validator_key.json"))
            .arg("--p2p-key-file")
            .arg(keys_dir(i).join("p2p_key.json"))
            .args([
                "--p2p-listen",
                &format!("/ip4/127.0.0.1/tcp/{}", p2p_port(i)),
            ])
            .args(["--rpc-listen", &format!("127.0.0.1:{}", rpc_port(i))])
            .args(["--no-metrics", "--log", "warn,merit_node=info"])
            .env_remove("MERIT_NODE_PASSWORD")
            .env("MERIT_NODE_PASSWORD", node_password(i))
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        nodes.0.push((child, log));
    }
    let rpcs: Vec<Rpc> = (0..MERCHANTS)
        .map(|i| Rpc::new(([127, 0, 0, 1], rpc_port(i)).into()))
        .collect();
    for (i, rpc) in rpcs.iter().enumerate() {
        let end = Instant::now() + LONG;
        let status = loop {
            if let Some(st) = rpc.status() {
                break st;
            }
            assert!(
                Instant::now() < end,
                "node {i} never answered:\n{}",
                nodes.log(i)
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(status["genesis_hash"], json!(hash), "node {i}");
        assert_eq!(status["validator_index"], json!(i), "node {i}");
        assert!(
            nodes.log(i).contains(&format!("genesis_hash={hash}")),
            "node {i} logs the genesis hash:\n{}",
            nodes.log(i)
        );
    }
    // Every node knows every validator by the peer id of its own p2p key.
    let validators = rpcs[0].call("merit_validators", json!([])).unwrap();
    for i in 0..MERCHANTS {
        let p2p = merit_genesis::p2p_key::load_p2p_key(&keys_dir(i).join("p2p_key.json")).unwrap();
        let peer = merit_node::network::peer_id_of(&p2p.public()).unwrap();
        assert_eq!(
            validators["validators"][i]["peer_id"],
            json!(peer.to_string()),
            "{validators}"
        );
    }

    // 5. Merchant 0 mints with the issuer key from its wallet key file,
    //    through another merchant's node; the chain commits it.
    let issuer_key = keystore::open(&keys_dir(0).join("issuer.json"), &issuer_password(0)).unwrap();
    assert_eq!(issuer_key.public().to_bech32(), issuer);
    let shopper = Keypair::insecure_from_label("ceremony/shopper");
    let height = rpcs[1].height().unwrap();
    let tx = TxBody {
        chain_id: BoundedString::new(CHAIN_ID).unwrap(),
        sender: issuer_key.public(),
        sub: 0,
        nonce: 1,
        expires_at_height: height + 100,
        kind: TxKind::Mint {
            token: Symbol::new("BEAN").unwrap(),
            to: shopper.public().into(),
            amount: 1_234,
        },
    }
    .sign(&issuer_key);
    let tx_hash = rpcs[1]
        .send(&tx)
        .unwrap_or_else(|e| panic!("submit: {e:?}\n{}", nodes.log(1)));
    let outcome = rpcs[0].wait_final(&tx_hash, LONG).unwrap_or_else(|| {
        panic!(
            "the mint was not committed:\n{}\n{}",
            nodes.log(0),
            nodes.log(1)
        )
    });
    assert_eq!(outcome["status"], json!("committed"), "{outcome}");
    let end = Instant::now() + LONG;
    while rpcs[3].balance(&shopper, "BEAN").as_deref() != Some("12.34") {
        assert!(
            Instant::now() < end,
            "node 3 never saw the mint:\n{}",
            nodes.log(3)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
