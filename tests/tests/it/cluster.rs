//! A real 4-validator cluster: `merit-node` processes on 127.0.0.1 talking
//! libp2p, driven over JSON-RPC. Crashes are kill -9; shutdowns are SIGTERM.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use merit_chain::{Symbol, TxKind};
use merit_node::rpc::{MAX_RPC_BATCH, MAX_RPC_BODY_BYTES};
use merit_tests::bench::ws;
use merit_tests::cluster::{Cluster, Rpc};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);

fn transfer(to: &merit_chain::Keypair, amount: u64) -> TxKind {
    TxKind::Transfer {
        token: Symbol::new("BEAN").unwrap(),
        to: to.public().into(),
        amount,
        memo: None,
    }
}

/// Sends `count` transfers from alice to bob through validator `via`
/// (cycling over `via` if several), returning their hashes.
fn send_transfers(c: &Cluster, via: &[usize], first_nonce: u64, count: u64) -> Vec<String> {
    let (alice, bob) = (c.shopper("alice"), c.shopper("bob"));
    let height = via
        .iter()
        .find_map(|&i| c.rpc(i).height())
        .expect("a live validator");
    (0..count)
        .map(|k| {
            let i = via[(k as usize) % via.len()];
            let tx = c.tx(&alice, first_nonce + k, height + 500, transfer(&bob, 1));
            c.rpc(i)
                .send(&tx)
                .unwrap_or_else(|e| panic!("submit to {i}: {e:?}\n{}", c.log_tail(i)))
        })
        .collect()
}

fn all_committed(rpc: &Rpc, hashes: &[String]) {
    for h in hashes {
        let v = rpc
            .wait_final(h, LONG)
            .unwrap_or_else(|| panic!("{h} was not committed"));
        assert_eq!(v["status"], "committed", "{v}");
    }
}

/// Waits until every transaction is committed on the node behind `rpc`,
/// and returns the highest height among them.
fn committed_height(rpc: &Rpc, hashes: &[String]) -> u64 {
    hashes
        .iter()
        .map(|h| {
            let v = rpc
                .wait_final(h, LONG)
                .unwrap_or_else(|| panic!("{h} was not committed"));
            assert_eq!(v["status"], "committed", "{v}");
            v["height"].as_u64().expect("a committed height")
        })
        .max()
        .unwrap_or(0)
}

/// The highest height any of the nodes `which` reports.
fn max_height(c: &Cluster, which: &[usize]) -> u64 {
    which
        .iter()
        .filter_map(|&i| c.rpc(i).height())
        .max()
        .unwrap_or(0)
}

/// Waits until node `i` reports `hash` with `status`.
fn wait_status(c: &Cluster, i: usize, hash: &str, status: &str) -> bool {
    let end = Instant::now() + LONG;
    while Instant::now() < end {
        if c.rpc(i)
            .call("merit_getTransaction", json!([hash]))
            .is_ok_and(|v| v["status"] == status)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_cluster_commits_survives_kill_9_resyncs_a_wiped_node_and_restarts_cleanly() {
    let mut c = Cluster::start(4);
    assert!(c.wait_rpc(&[0, 1, 2, 3], LONG), "{}", c.log_tail(0));

    // 1. Transactions submitted to every node commit, everywhere alike.
    let hashes = send_transfers(&c, &[0, 1, 2, 3], 1, 20);
    all_committed(&c.rpc(0), &hashes);
    let h = c.rpc(0).height().unwrap();
    assert!(c.wait_height(&[0, 1, 2, 3], h, LONG));
    c.assert_same_chain(&[0, 1, 2, 3], h);
    assert_eq!(
        c.rpc(3).balance(&c.shopper("bob"), "BEAN").unwrap(),
        "500.20"
    );

    // 2. kill -9 one validator under a stream: commits go on.
    c.kill(3);
    let during = send_transfers(&c, &[0, 1, 2], 100, 30);
    all_committed(&c.rpc(1), &during);
    // Restarted, it catches up and matches.
    c.start_node(3);
    let h = c.rpc(0).height().unwrap();
    assert!(
        c.wait_height(&[3], h, LONG),
        "restarted validator did not catch up\n{}",
        c.log_tail(3)
    );
    // Node 0's height: the others may be a block behind it.
    assert!(c.wait_height(&[0, 1, 2, 3], h, LONG));
    c.assert_same_chain(&[0, 1, 2, 3], h);

    // 3. A wiped validator resyncs from genesis and joins.
    c.kill(2);
    c.wipe(2);
    let more = send_transfers(&c, &[0, 1, 3], 200, 10);
    all_committed(&c.rpc(0), &more);
    c.start_node(2);
    let h = c.rpc(0).height().unwrap();
    assert!(c.wait_height(&[2], h, LONG), "{}", c.log_tail(2));
    assert!(c.wait_height(&[0, 1, 2, 3], h, LONG));
    c.assert_same_chain(&[0, 1, 2, 3], h);
    for tx in hashes.iter().chain(&during).chain(&more) {
        let v = c.rpc(2).call("merit_getTransaction", json!([tx])).unwrap();
        assert_eq!(v["status"], "committed", "resynced node lacks {tx}");
    }
    // It takes part again: with node 3 down, the alliance needs node 2.
    c.kill(3);
    let with_two = send_transfers(&c, &[0, 1, 2], 300, 5);
    // The height of the block that holds the last of them: node 2 reports
    // it, and another node may not have that block yet.
    let h = committed_height(&c.rpc(2), &with_two);
    c.start_node(3);

    // 5. SIGTERM everyone, restart: the chain continues from the same height.
    assert!(c.wait_height(&[0, 1, 2, 3], h, LONG));
    let before: Vec<u64> = (0..4).map(|i| c.rpc(i).height().unwrap()).collect();
    for i in 0..4 {
        assert!(
            c.terminate(i),
            "node {i} did not stop cleanly\n{}",
            c.log_tail(i)
        );
    }
    for i in 0..4 {
        c.start_node(i);
    }
    assert!(c.wait_rpc(&[0, 1, 2, 3], LONG));
    for (i, height_before) in before.iter().enumerate() {
        assert!(
            c.rpc(i).height().unwrap() >= *height_before,
            "node {i} lost blocks"
        );
    }
    for tx in hashes.iter().chain(&during).chain(&more).chain(&with_two) {
        let v = c.rpc(1).call("merit_getTransaction", json!([tx])).unwrap();
        assert_eq!(v["status"], "committed", "{tx} missing after restart");
    }
    let after = send_transfers(&c, &[0, 1, 2, 3], 400, 5);
    all_committed(&c.rpc(3), &after);
    let h = c.rpc(3).height().unwrap();
    assert!(c.wait_height(&[0, 1, 2, 3], h, LONG));
    c.assert_same_chain(&[0, 1, 2, 3], h);
    assert_eq!(
        c.rpc(0).balance(&c.shopper("bob"), "BEAN").unwrap(),
        "500.70"
    );
}

/// Blocks that may still become final after two of four validators are
/// killed, above the highest height the two live ones report once the
/// kill has taken effect. A block final after the kill needs a commit vote
/// of a killed validator, sent before the kill for a height at most one
/// above the highest block then final anywhere (`M + 1`); and that block
/// `M` was voted on by a live validator that had block `M - 1`, so the
/// live ones report at least `M - 1`. No block proposed after the kill,
/// and no transaction submitted after it, can become final.
const FINAL_AFTER_KILL: u64 = 2;

#[test]
fn two_of_four_down_stops_commits_without_divergence_until_one_returns() {
    let mut c = Cluster::start(4);
    assert!(c.wait_rpc(&[0, 1, 2, 3], LONG));
    all_committed(&c.rpc(0), &send_transfers(&c, &[0], 1, 3));

    // Idle: with nothing to commit the chain stands still, but for an
    // empty heartbeat block once per interval. Later heights are compared
    // with the highest any node reports once the window has begun, and the
    // window is measured, so heartbeats anywhere in it are allowed for.
    let interval = c.layout.genesis.consensus.heartbeat_ms.max(1);
    let began = Instant::now();
    let h = max_height(&c, &[0, 1, 2, 3]);
    std::thread::sleep(Duration::from_secs(3));
    for i in 0..4 {
        let idle = c.rpc(i).height().unwrap();
        let window_ms = began.elapsed().as_millis() as u64;
        let heartbeats = 1 + window_ms.div_ceil(interval);
        assert!(
            idle <= h + heartbeats,
            "node {i} went from {h} to {idle} in {window_ms} ms without transactions \
             (heartbeat every {interval} ms)"
        );
    }

    c.kill(2);
    c.kill(3);
    // Read once the kill has taken effect: a heartbeat may have made a
    // block between any earlier reading and the kill.
    let h = max_height(&c, &[0, 1]);
    let stuck = send_transfers(&c, &[0, 1], 10, 3);
    // Both live nodes hold every stuck transaction (gossip carries them).
    for tx in &stuck {
        for i in [0, 1] {
            assert!(
                wait_status(&c, i, tx, "pending"),
                "node {i} never held {tx}\n{}",
                c.log_tail(i)
            );
        }
    }
    std::thread::sleep(Duration::from_secs(5));
    for i in [0, 1] {
        let height = c.rpc(i).height().unwrap();
        assert!(
            height <= h + FINAL_AFTER_KILL,
            "no quorum, yet node {i} went from {h} to {height}"
        );
        for tx in &stuck {
            let v = c.rpc(i).call("merit_getTransaction", json!([tx])).unwrap();
            assert_eq!(
                v["status"], "pending",
                "no quorum, yet node {i} has {tx} in a block: {v}"
            );
        }
    }
    c.start_node(2);
    all_committed(&c.rpc(0), &stuck);
    let h = c.rpc(0).height().unwrap();
    assert!(c.wait_height(&[0, 1, 2], h, LONG));
    c.assert_same_chain(&[0, 1, 2], h);
}

#[test]
fn rpc_refuses_bad_input_clearly_and_keeps_serving() {
    let c = Cluster::start(4);
    assert!(c.wait_rpc(&[0], LONG));
    let rpc = c.rpc(0);
    let alice = c.shopper("alice");
    let bob = c.shopper("bob");
    let h = rpc.height().unwrap();

    // Malformed hex, and hex that is no transaction.
    let e = rpc
        .call("merit_sendTransaction", json!(["zz"]))
        .unwrap_err();
    assert_eq!(e.code, -32602, "{e:?}");
    let e = rpc
        .call("merit_sendTransaction", json!(["00ff"]))
        .unwrap_err();
    assert_eq!(
        (e.code, e.data["code"].as_str()),
        (-32003, Some("Malformed"))
    );

    // A tampered amount breaks the signature.
    let tx = c.tx(&alice, 1, h + 100, transfer(&bob, 5));
    let mut tampered = tx.clone();
    if let TxKind::Transfer { amount, .. } = &mut tampered.body.kind {
        *amount = 5_000;
    }
    let e = rpc.send(&tampered).unwrap_err();
    assert_eq!(
        (e.code, e.data["code"].as_str()),
        (-32003, Some("BadSignature"))
    );

    // Bad params and an unknown method.
    let e = rpc
        .call("merit_getAccount", json!(["mrt1nope"]))
        .unwrap_err();
    assert_eq!(e.code, -32602);
    let e = rpc.call("merit_getAccount", json!([])).unwrap_err();
    assert_eq!(e.code, -32602);
    let e = rpc.call("merit_getToken", json!(["NOPE"])).unwrap_err();
    assert_eq!(e.code, -32602);
    let e = rpc
        .call(
            "merit_getHistory",
            json!([alice.public().to_bech32(), null, 100_000]),
        )
        .unwrap_err();
    assert_eq!(e.code, -32602);
    assert_eq!(e.data["reason"], "limit is 100000, at most 1000", "{e:?}");
    let e = rpc.call("merit_noSuchMethod", json!([])).unwrap_err();
    assert_eq!(e.code, -32601);

    // An oversized body is refused with HTTP 413 and a JSON-RPC error, on
    // its declared length (sending it all would race the server's close).
    let (status, body) = rpc.post_declared(MAX_RPC_BODY_BYTES as usize + 1).unwrap();
    assert_eq!(status, 413, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["jsonrpc"], "2.0", "{body}");
    assert_eq!(v["error"]["code"], -32007, "{body}");
    assert_eq!(
        v["error"]["data"]["reason"],
        format!(
            "the request body is {} bytes, at most {MAX_RPC_BODY_BYTES}",
            MAX_RPC_BODY_BYTES + 1
        ),
        "{body}"
    );
    // A batch of the limit's length is served; a longer one gets -32010.
    let batch = |n: usize| {
        let calls: Vec<Value> = (0..n)
            .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "merit_status", "params": []}))
            .collect();
        Value::Array(calls).to_string()
    };
    let max = MAX_RPC_BATCH as usize;
    let (status, body) = rpc.post_raw(batch(max).as_bytes()).unwrap();
    assert_eq!(status, 200, "{body}");
    let answers: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(answers.len(), max);
    assert!(
        answers.iter().all(|a| a["result"]["height"].is_u64()),
        "{body}"
    );
    // A batch's calls run concurrently, yet each answer keeps its id and its
    // place; an error answers in its own slot, and a notification gets none.
    let mixed = json!([
        {"jsonrpc": "2.0", "id": "first", "method": "merit_status", "params": []},
        {"jsonrpc": "2.0", "id": 7, "method": "merit_getAccount", "params": ["not-an-address"]},
        {"jsonrpc": "2.0", "method": "merit_status", "params": []},
        {"jsonrpc": "2.0", "id": 8, "method": "merit_noSuchMethod", "params": []},
        {"jsonrpc": "2.0", "id": "last", "method": "merit_status", "params": []},
    ]);
    let (status, body) = rpc.post_raw(mixed.to_string().as_bytes()).unwrap();
    assert_eq!(status, 200, "{body}");
    let answers: Vec<Value> = serde_json::from_str(&body).unwrap();
    let ids: Vec<&Value> = answers.iter().map(|a| &a["id"]).collect();
    assert_eq!(
        ids,
        [&json!("first"), &json!(7), &json!(8), &json!("last")],
        "{body}"
    );
    assert!(answers[0]["result"]["height"].is_u64(), "{body}");
    assert_eq!(answers[1]["error"]["code"], -32602, "{body}");
    assert_eq!(answers[2]["error"]["code"], -32601, "{body}");
    assert!(answers[3]["result"]["height"].is_u64(), "{body}");
    let (_, body) = rpc.post_raw(batch(max + 1).as_bytes()).unwrap();
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["error"]["code"], -32010, "{body}");
    assert_eq!(
        v["error"]["data"]["reason"],
        format!("the batch has {} calls, at most {max}", max + 1),
        "{body}"
    );
    // Not JSON at all.
    let (_, body) = rpc.post_raw(b"{not json").unwrap();
    assert!(body.contains("-32700"), "{body}");

    // A replay returns the original hash and has no second effect.
    let hash = rpc.send(&tx).unwrap();
    assert_eq!(rpc.wait_final(&hash, LONG).unwrap()["status"], "committed");
    assert_eq!(rpc.send(&tx).unwrap(), hash);
    let other = c.tx(&alice, 2, h + 100, transfer(&bob, 1));
    let h2 = c.rpc(1).send(&other).unwrap();
    rpc.wait_final(&h2, LONG).unwrap();
    assert_eq!(rpc.balance(&bob, "BEAN").unwrap(), "500.06");

    // The connection limit: a WebSocket holds its connection until it
    // closes, so `max_connections` of them take every slot. One more is
    // refused, over HTTP and WebSocket alike; when they close the node
    // serves again.
    let limit = c.nodes[0].config.rpc.max_connections as usize;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let held = rt.block_on(async {
        let mut held = Vec::with_capacity(limit);
        for k in 0..limit {
            let end = Instant::now() + LONG;
            let ws = loop {
                match ws::connect(rpc.addr).await {
                    Ok(ws) => break ws,
                    // An HTTP connection this test closed a moment ago may
                    // still hold its slot on the server: wait for it to go.
                    Err(e) if e.contains("429") && Instant::now() < end => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("connection {k} of {limit}: {e}"),
                }
            };
            held.push(ws);
        }
        held
    });
    let status_call = br#"{"jsonrpc":"2.0","id":1,"method":"merit_status","params":[]}"#;
    let (status, body) = rpc.post_raw(status_call).unwrap();
    assert_eq!(status, 429, "{body}");
    // The refusal is a JSON-RPC error that names the bound.
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["error"]["code"], -32009, "{body}");
    assert_eq!(
        v["error"]["data"]["reason"],
        format!("the node serves at most {limit} connections at once; try again later"),
        "{body}"
    );
    let refused = rt.block_on(ws::connect(rpc.addr)).map(|_| ()).unwrap_err();
    assert!(refused.contains("429"), "{refused}");
    assert!(c.rpc(1).height().is_some(), "another node is unaffected");
    rt.block_on(async move { drop(held) });
    let end = Instant::now() + LONG;
    while rpc.height().is_none() {
        assert!(
            Instant::now() < end,
            "the node did not serve again after the connections closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Still serving, with health and metrics.
    assert!(rpc.height().is_some());
    let (status, body) = Rpc::get(rpc.addr, "/health").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ok\""), "{body}");
    let metrics = c.nodes[0].config.metrics.listen;
    let (status, body) = Rpc::get(metrics, "/metrics").unwrap();
    assert_eq!(status, 200);
    for name in [
        "merit_consensus_height",
        "merit_consensus_rounds_total",
        "merit_mempool_size",
        "merit_p2p_peers",
        "merit_commit_latency_seconds_bucket",
        "merit_token_supply",
    ] {
        assert!(body.contains(name), "{name} missing from /metrics");
    }
    // The supply gauges are the audit's figures, in base units.
    let audit = c.rpc(0).call("merit_audit", json!(["BEAN"])).unwrap();
    let units = |v: &Value| -> i64 { v.as_str().unwrap().replace('.', "").parse().unwrap() };
    for bucket in ["minted", "redeemed", "expired"] {
        let line = format!("merit_token_supply{{token=\"BEAN\",bucket=\"{bucket}\"}} ");
        let value: i64 = body
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .unwrap_or_else(|| panic!("{line} missing from /metrics:\n{body}"))
            .trim()
            .parse()
            .unwrap();
        assert_eq!(value, units(&audit[0][bucket]), "{bucket}: {audit}");
    }
}

/// Opens a WebSocket to `addr` and subscribes with `params`; returns the
/// connection once the subscription is confirmed.
async fn subscribed(addr: std::net::SocketAddr, params: Value) -> (ws::WsSender, ws::WsReceiver) {
    let (mut tx, mut rx) = ws::connect(addr).await.unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "merit_subscribe", "params": params});
    ws::send(&mut tx, &call.to_string()).await.unwrap();
    let mut buf = Vec::new();
    ws::receive(&mut rx, &mut buf).await.unwrap();
    let answer: Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(answer["id"], 1, "{answer}");
    assert!(
        answer["result"].is_string() || answer["result"].is_number(),
        "{answer}"
    );
    (tx, rx)
}

/// The `params.result` of the next notification.
async fn next_notification(rx: &mut ws::WsReceiver) -> Value {
    let mut buf = Vec::new();
    ws::receive(rx, &mut buf).await.expect("notification");
    let msg: Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(msg["method"], "merit_subscription", "{msg}");
    msg["params"]["result"].clone()
}

/// Reads `newBlocks` notifications until one reaches `height`.
async fn blocks_until(rx: &mut ws::WsReceiver, height: u64) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        ws::receive(rx, &mut buf).await.expect("notification");
        let msg: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let block = msg["params"]["result"].clone();
        let h = block["height"].as_u64().expect("a block notification");
        out.push(block);
        if h >= height {
            return out;
        }
    }
}

#[test]
fn a_websocket_subscriber_sees_every_block_once_in_order_and_an_observer_follows_and_relays() {
    let mut c = Cluster::start(4);
    assert!(c.wait_rpc(&[0, 1, 2, 3], LONG));
    let observer = c.add_observer();
    assert!(c.wait_rpc(&[observer], LONG), "{}", c.log_tail(observer));
    let status = c.rpc(observer).status().unwrap();
    assert_eq!(status["validator_index"], serde_json::Value::Null);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Every block from the subscription on is notified: the first is above
    // the height node 1 had before the subscription, and at most one above
    // the height it has once the subscription is confirmed.
    let before = c.rpc(1).height().unwrap();
    let (mut tx, mut rx) = rt
        .block_on(ws::connect(c.nodes[1].config.rpc.listen))
        .unwrap();
    rt.block_on(ws::send(
        &mut tx,
        r#"{"jsonrpc":"2.0","id":7,"method":"merit_subscribe","params":["newBlocks"]}"#,
    ))
    .unwrap();
    let mut buf = Vec::new();
    rt.block_on(ws::receive(&mut rx, &mut buf)).unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(answer["id"], 7, "{answer}");
    assert!(
        answer["result"].is_string() || answer["result"].is_number(),
        "{answer}"
    );
    let after = c.rpc(1).height().unwrap();
    // Account subscribers: bob, whom every transfer below pays, and carol,
    // whom none of them touches.
    let bob = c.shopper("bob").public().to_bech32();
    let carol = c.shopper("carol").public().to_bech32();
    let (_bob_tx, mut bob_rx) = rt.block_on(subscribed(
        c.nodes[2].config.rpc.listen,
        json!(["account", bob]),
    ));
    let (_carol_tx, mut carol_rx) = rt.block_on(subscribed(
        c.nodes[2].config.rpc.listen,
        json!(["account", carol]),
    ));

    // Several waves, so that several blocks are made; the last one goes
    // through the observer, which relays it to the validators.
    let mut sent = Vec::new();
    for wave in 0..4u64 {
        let batch = send_transfers(&c, &[0, 1, 2, 3], 1 + wave * 10, 10);
        all_committed(&c.rpc(0), &batch);
        sent.extend(batch);
    }
    let relayed = send_transfers(&c, &[observer], 100, 5);
    all_committed(&c.rpc(2), &relayed);
    sent.extend(relayed);
    // The block that holds the last of them; node 1 may not have it yet,
    // its notifications will.
    let top = committed_height(&c.rpc(2), &sent);
    assert!(top >= before + 2, "the waves made several blocks");

    let blocks = rt
        .block_on(async { tokio::time::timeout(LONG, blocks_until(&mut rx, top)).await })
        .expect("notifications up to the top block");
    let heights: Vec<u64> = blocks
        .iter()
        .map(|b| b["height"].as_u64().unwrap())
        .collect();
    let first = heights[0];
    assert!(
        before < first && first <= after + 1,
        "the first block notified, {first}, is not the next after the subscription \
         (node 1 was at {before} before it and at {after} after)"
    );
    let expected: Vec<u64> = (first..=top).collect();
    assert_eq!(heights, expected, "every block once, in order");
    let mut seen = BTreeSet::new();
    for b in &blocks {
        let h = b["height"].as_u64().unwrap();
        let stored = c.rpc(1).call("merit_getBlock", json!([h])).unwrap();
        assert_eq!(b["hash"], stored["hash"], "height {h}");
        assert_eq!(b["state_root"], stored["state_root"], "height {h}");
        for t in b["txs"].as_array().unwrap() {
            assert!(seen.insert(t.as_str().unwrap().to_string()), "{t} twice");
        }
    }
    for t in &sent {
        assert!(seen.contains(t), "{t} was not notified");
    }

    // Bob's subscriber heard of every transfer that paid him, each once,
    // with its height and events.
    let mut heard = BTreeSet::new();
    rt.block_on(async {
        tokio::time::timeout(LONG, async {
            while heard.len() < sent.len() {
                let n = next_notification(&mut bob_rx).await;
                let hash = n["hash"].as_str().unwrap().to_string();
                assert!(sent.contains(&hash), "not a transfer to bob: {n}");
                assert_eq!(n["status"], "committed", "{n}");
                assert!(n["height"].as_u64().unwrap() > before, "{n}");
                let paid = n["events"].as_array().unwrap().iter().any(|e| {
                    e["type"] == "Transferred" && e["to"] == bob.as_str() && e["amount"] == "0.01"
                });
                assert!(paid, "{n}");
                assert!(heard.insert(hash), "{n} twice");
            }
        })
        .await
        .expect("an account notification for every transfer to bob")
    });
    // Carol's subscriber heard nothing of them: its first notification is
    // the first transaction that touches her.
    let h = c.rpc(0).height().unwrap();
    let to_carol = c.tx(
        &c.shopper("alice"),
        1_000,
        h + 500,
        transfer(&c.shopper("carol"), 1),
    );
    let to_carol = c.rpc(3).send(&to_carol).unwrap();
    let n = rt
        .block_on(async { tokio::time::timeout(LONG, next_notification(&mut carol_rx)).await })
        .expect("an account notification for carol");
    assert_eq!(n["hash"], to_carol.as_str(), "{n}");
    assert_eq!(n["status"], "committed", "{n}");

    // The observer followed the chain to the same state.
    assert!(
        c.wait_height(&[observer], top, LONG),
        "{}",
        c.log_tail(observer)
    );
    assert!(c.wait_height(&[0, 1, 2, 3], top, LONG));
    c.assert_same_chain(&[0, 1, 2, 3, observer], top);
    assert_eq!(
        c.rpc(observer).balance(&c.shopper("bob"), "BEAN").unwrap(),
        "500.45"
    );
}

/// A subscriber that drops its connection and comes back with the first
/// height it has not seen (`from_height`) gets every block exactly once:
/// those it missed replayed from storage, then the live ones.
#[test]
fn a_subscriber_that_resumes_from_a_height_sees_every_block_once() {
    let mut c = Cluster::prepare(4).unwrap_or_else(|e| panic!("{e}"));
    // An idle chain makes a block every 200 ms: 50 blocks pass quickly.
    c.set_heartbeat_ms(200).unwrap();
    for i in 0..4 {
        c.start_node(i);
    }
    assert!(c.wait_height(&[0, 1, 2, 3], 1, LONG), "{}", c.log_tail(0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = c.nodes[1].config.rpc.listen;
    let mut seen: Vec<u64> = Vec::new();
    let (tx, mut rx) = rt.block_on(subscribed(addr, json!(["newBlocks"])));
    let first_top = c.rpc(1).height().unwrap() + 3;
    let first = rt
        .block_on(async { tokio::time::timeout(LONG, blocks_until(&mut rx, first_top)).await })
        .expect("the first blocks");
    seen.extend(first.iter().map(|b| b["height"].as_u64().unwrap()));
    drop((tx, rx));
    // 50 blocks pass while it is away.
    let away_from = *seen.last().unwrap();
    assert!(
        c.wait_height(&[1], away_from + 50, LONG),
        "{}",
        c.log_tail(1)
    );
    let resume = away_from + 1;
    let (_tx, mut rx) = rt.block_on(subscribed(
        addr,
        json!(["newBlocks", {"from_height": resume}]),
    ));
    let top = c.rpc(1).height().unwrap() + 3;
    let rest = rt
        .block_on(async { tokio::time::timeout(LONG, blocks_until(&mut rx, top)).await })
        .expect("the missed and the new blocks");
    for b in &rest {
        let h = b["height"].as_u64().unwrap();
        let stored = c.rpc(1).call("merit_getBlock", json!([h])).unwrap();
        assert_eq!(b["hash"], stored["hash"], "height {h}");
    }
    seen.extend(rest.iter().map(|b| b["height"].as_u64().unwrap()));
    let expected: Vec<u64> = (seen[0]..=top).collect();
    assert_eq!(
        seen, expected,
        "every block exactly once, in order, across the gap"
    );
    assert!(top - away_from >= 50);

    // An address is not an option of newBlocks, nor is an unknown field.
    let (mut tx, mut rx) = rt.block_on(ws::connect(addr)).unwrap();
    for params in [
        json!(["newBlocks", "mrt1x"]),
        json!(["newBlocks", {"from": 3}]),
    ] {
        let call =
            json!({"jsonrpc": "2.0", "id": 2, "method": "merit_subscribe", "params": params});
        rt.block_on(ws::send(&mut tx, &call.to_string())).unwrap();
        let mut buf = Vec::new();
        rt.block_on(ws::receive(&mut rx, &mut buf)).unwrap();
        let answer: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(answer["error"]["code"], -32602, "{answer}");
    }
}
