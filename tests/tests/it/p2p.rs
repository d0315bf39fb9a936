//! Peers that do not play by the rules, against real `merit-node` processes.
//!
//! A rogue outsider (`merit-rogue`) floods a 4-validator alliance under a
//! steady load with fake proposals of nearly 8 MiB, votes with bad
//! signatures, garbage transaction gossip and transactions with bad
//! signatures, and comes back under fresh identities when banned. The
//! alliance must ban it within [`BAN_WITHIN`] and keep at least
//! [`MIN_RATIO`] of the rate it commits without it. The numbers are in
//! docs/reliability.md.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use merit_tests::bench::{Bench, LoadSpec, Mix};
use merit_tests::cluster::{Cluster, Rpc};

/// Transactions offered per second, in both phases.
const RATE: u64 = 1_000;
/// How long each phase submits.
const PHASE: Duration = Duration::from_secs(20);
/// How long each phase waits after the last submission for its commits.
const DRAIN: Duration = Duration::from_secs(20);
/// Funded accounts the load is spread over.
const ACCOUNTS: usize = 1_000;
/// The committed rate with the rogue, as a share of the rate without.
const MIN_RATIO: f64 = 0.8;
/// Every node bans the rogue this soon after it starts.
const BAN_WITHIN: Duration = Duration::from_secs(10);
/// Identities the rogue burns, one after another.
const ROGUE_IDENTITIES: u32 = 8;
/// How long the rogue waits, banned everywhere, before it takes another.
const ROGUE_RESPAWN_MS: u64 = 2_000;

/// `merit_p2p_banned_peers` of the node whose metrics are at `addr`.
fn banned_peers(addr: SocketAddr) -> Option<u64> {
    let (status, body) = Rpc::get(addr, "/metrics").ok()?;
    if status != 200 {
        return None;
    }
    body.lines()
        .find_map(|l| l.strip_prefix("merit_p2p_banned_peers "))
        .and_then(|v| v.trim().parse().ok())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

#[test]
fn a_rogue_peer_flooding_fake_proposals_votes_and_garbage_is_banned_and_the_rate_holds() {
    let c = Cluster::start(4);
    assert!(
        c.wait_rpc(&[0, 1, 2, 3], Duration::from_secs(60)),
        "{}",
        c.log_tail(0)
    );
    let rpc: Vec<SocketAddr> = (0..4).map(|i| c.nodes[i].config.rpc.listen).collect();
    let metrics: Vec<SocketAddr> = (0..4).map(|i| c.nodes[i].config.metrics.listen).collect();
    let bench =
        Bench::prepare(rpc, ACCOUNTS, Mix::Transfer).unwrap_or_else(|e| panic!("funding: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let spec = LoadSpec {
        rate: Some(RATE),
        duration: PHASE,
        drain: DRAIN,
        ..LoadSpec::default()
    };

    // Without the rogue.
    let quiet = rt
        .block_on(bench.run(&spec))
        .unwrap_or_else(|e| panic!("load without the rogue: {e}"));
    assert!(quiet.passed(), "{:?}", quiet.failures);
    assert!(quiet.committed_tps > 0.0);
    for (i, m) in metrics.iter().enumerate() {
        assert_eq!(
            banned_peers(*m),
            Some(0),
            "node {i} banned an honest peer under honest load"
        );
    }

    // With it.
    let mut rogue = Command::new(env!("CARGO_BIN_EXE_merit-rogue"));
    rogue
        .arg("--chain-id")
        .arg(&c.layout.genesis.chain_id)
        .arg("--duration-secs")
        .arg(PHASE.as_secs().to_string())
        .arg("--identities")
        .arg(ROGUE_IDENTITIES.to_string())
        .arg("--respawn-after-ms")
        .arg(ROGUE_RESPAWN_MS.to_string());
    for i in 0..4 {
        rogue
            .arg("--peer")
            .arg(c.peer_multiaddr(i, c.p2p_port(i)).unwrap());
    }
    let rogue = rogue
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let watched = metrics.clone();
    let watcher = std::thread::spawn(move || {
        while started.elapsed() < PHASE {
            if watched
                .iter()
                .all(|m| banned_peers(*m).is_some_and(|b| b >= 1))
            {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    });
    let flooded = rt
        .block_on(bench.run(&spec))
        .unwrap_or_else(|e| panic!("load with the rogue: {e}"));
    let banned_after = watcher.join().unwrap();
    let out = rogue.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the rogue's report ({e}): {out:?}"));
    let bans: Vec<Option<u64>> = metrics.iter().map(|m| banned_peers(*m)).collect();
    let ratio = flooded.committed_tps / quiet.committed_tps;
    println!(
        "machine: {} ({} threads)\n\
         offered {RATE} tx/s for {} s per phase\n\
         without the rogue: {:.0} tx/s committed, p99 {:.0} ms\n\
         with the rogue:    {:.0} tx/s committed, p99 {:.0} ms ({:.1}%)\n\
         every node banned the rogue after {:?}; bans per node at the end {bans:?}\n\
         rogue: {report}",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        PHASE.as_secs(),
        quiet.committed_tps,
        quiet.latency_ms.p99,
        flooded.committed_tps,
        flooded.latency_ms.p99,
        ratio * 100.0,
        banned_after,
    );

    // The rogue did get its flood out.
    assert!(report["connections"].as_u64().unwrap_or(0) >= 4, "{report}");
    for kind in ["proposals", "votes", "garbage_txs", "bad_signature_batches"] {
        assert!(
            report[kind].as_u64().unwrap_or(0) >= 1,
            "no {kind}: {report}"
        );
    }
    assert!(
        report["identities"].as_u64().unwrap_or(0) >= 2,
        "banned, the rogue came back: {report}"
    );
    // It was banned everywhere, soon, and said so.
    let banned_after = banned_after.expect("every node banned the rogue");
    assert!(banned_after <= BAN_WITHIN, "banned after {banned_after:?}");
    for (i, b) in bans.iter().enumerate() {
        assert!(b.is_some_and(|b| b >= 2), "node {i}: {b:?}");
        let log = std::fs::read_to_string(&c.nodes[i].log_path).unwrap_or_default();
        assert!(
            log.contains("banned peer") && log.contains("it sent"),
            "node {i} logs no ban with its reason"
        );
    }
    // And the alliance kept its pace, losing nothing.
    assert!(flooded.passed(), "{:?}", flooded.failures);
    assert!(
        ratio >= MIN_RATIO,
        "with the rogue {:.0} tx/s, without {:.0} tx/s",
        flooded.committed_tps,
        quiet.committed_tps
    );
    let height = (0..4).filter_map(|i| c.rpc(i).height()).min().unwrap_or(0);
    c.assert_same_chain(&[0, 1, 2, 3], height);
}
