//! `docs/grafana-dashboard.json` charts what a node exports: every metric
//! name in every panel's PromQL (and in the template variables' queries)
//! is a series a real node serves at `GET /metrics`, and every metric the
//! node serves is charted by some panel.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use merit_chain::{Symbol, TxBody, TxKind};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The dashboard, from the crate's directory.
const DASHBOARD_PATH: &str = "../docs/grafana-dashboard.json";
/// The data source every panel must query: the import's input.
const DATASOURCE_UID: &str = "${DS_PROMETHEUS}";
const LONG: Duration = Duration::from_secs(60);

/// PromQL words that are neither functions (those are followed by `(`)
/// nor metric names: the aggregations (which may come before `by (…)`
/// rather than right before their parenthesis) and the other keywords.
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
];
/// Keywords followed by a list of label names in parentheses.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The index just past the bracket that closes the one at `open`, skipping
/// quoted strings (a label value may hold a bracket).
fn past_closing(s: &[char], open: usize, close: char) -> usize {
    let mut i = open + 1;
    while i < s.len() {
        match s[i] {
            '"' | '\'' | '`' => i = past_string(s, i),
            c if c == close => return i + 1,
            _ => i += 1,
        }
    }
    panic!("`{}` is not closed", s[open]);
}

fn past_string(s: &[char], open: usize) -> usize {
    let quote = s[open];
    let mut i = open + 1;
    while i < s.len() {
        match s[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    panic!("a string is not closed");
}

/// The metric names a PromQL expression reads: its identifiers outside
/// label matchers (`{…}`), ranges (`[…]`), strings and label lists
/// (`by (…)`), that are neither keywords, functions nor numbers.
fn metric_names(expr: &str) -> Vec<String> {
    let s: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == '"' || c == '\'' || c == '`' {
            i = past_string(&s, i);
        } else if c == '{' {
            i = past_closing(&s, i, '}');
        } else if c == '[' {
            i = past_closing(&s, i, ']');
        } else if c.is_ascii_digit() || c == '$' {
            // A number, a duration or a dashboard variable.
            i += 1;
            while i < s.len() && (s[i].is_ascii_alphanumeric() || "._".contains(s[i])) {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == '_' || s[i] == ':') {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            let mut next = i;
            while next < s.len() && s[next].is_whitespace() {
                next += 1;
            }
            let call = s.get(next) == Some(&'(');
            if LABEL_LISTS.contains(&word.as_str()) && call {
                i = past_closing(&s, next, ')');
            } else if !KEYWORDS.contains(&word.as_str()) && !call {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_read_from_promql_and_nothing_else() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le, instance) (rate(merit_commit_latency_seconds_bucket{instance=~"$instance"}[$__rate_interval])))"#
        ),
        ["merit_commit_latency_seconds_bucket"]
    );
    assert_eq!(
        metric_names(
            r#"sum by (instance) (rate(a_sum{x="}"}[5m])) / on (instance) group_left (y) b_count offset 1h > bool 2e3"#
        ),
        ["a_sum", "b_count"]
    );
    assert_eq!(
        metric_names(r#"max(merit_p2p_peers) * 60 and rate (c_total [1m]) - max without (a) d"#),
        ["merit_p2p_peers", "c_total", "d"]
    );
}

/// The metric names a template variable's query reads:
/// `label_values(METRIC, LABEL)` reads `METRIC`.
fn variable_metric_names(query: &str) -> Vec<String> {
    let Some(args) = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
    else {
        return metric_names(query);
    };
    let metric = args.rsplit_once(',').map_or(args, |(metric, _)| metric);
    metric_names(metric)
}

/// Every expression of the dashboard, with where it is, after checking
/// that every panel queries the import's data source.
fn expressions(dashboard: &Value) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("a title").to_string();
        assert!(
            ids.insert(panel["id"].as_u64().expect("an id")),
            "{title}: its id is taken"
        );
        let grid = &panel["gridPos"];
        assert!(
            grid["x"].as_u64().expect("x") + grid["w"].as_u64().expect("w") <= 24,
            "{title}: wider than the dashboard"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], DATASOURCE_UID, "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], DATASOURCE_UID, "{title}");
            let expr = t["expr"].as_str().expect("a PromQL expr");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: `{expr}` reads no metric");
            out.push((format!("panel {title:?}: {expr}"), names));
        }
    }
    for v in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        let name = v["name"].as_str().expect("a name");
        assert_eq!(v["datasource"]["uid"], DATASOURCE_UID, "${name}");
        let query = v["query"]["query"].as_str().expect("a query");
        assert_eq!(v["definition"], query, "${name}");
        out.push((
            format!("variable ${name}: {query}"),
            variable_metric_names(query),
        ));
    }
    out
}

/// What a running node serves at `GET /metrics`.
async fn scrape(addr: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: merit\r\n\r\n")
        .await
        .expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).await.expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// A one-validator devnet node in this process, on ports the system
/// picks, with one transfer committed so that every series has moved.
async fn running_node(dir: &std::path::Path) -> (merit_node::NodeHandle, String) {
    let opts = merit_node::devnet::DevnetOptions {
        dir: dir.join("net"),
        validators: 1,
        reset: false,
        p2p_base_port: merit_genesis::devnet::DEVNET_P2P_BASE_PORT,
        rpc_base_port: merit_genesis::devnet::DEVNET_RPC_BASE_PORT,
        metrics_base_port: 9615,
        log: "warn".into(),
    };
    let (layout, mut configs) = merit_node::devnet::prepare(&opts).expect("a devnet");
    let mut config = configs.remove(0);
    config.rpc.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.metrics.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.p2p.listen = Some("/ip4/127.0.0.1/tcp/0".into());
    let node = merit_node::Node::start(&config)
        .await
        .expect("the node starts");
    let metrics = node.metrics_addr.expect("metrics are on by default");

    let alice = layout.shopper("alice").expect("alice");
    let (chain_id, height) = {
        let ledger = node.shared.read_ledger();
        (ledger.chain_id().clone(), ledger.height())
    };
    let tx = TxBody {
        chain_id,
        sender: alice.public(),
        sub: 0,
        nonce: 1,
        expires_at_height: height + 100,
        kind: TxKind::Transfer {
            token: Symbol::new("BEAN").expect("a symbol"),
            to: (layout.shopper("bob").expect("bob").public()).into(),
            amount: 1,
            memo: None,
        },
    }
    .sign(alice);
    node.shared
        .submit(&tx.to_bytes())
        .await
        .expect("the transfer is admitted");
    let end = Instant::now() + LONG;
    while node.shared.read_ledger().height() == height {
        assert!(Instant::now() < end, "no block committed the transfer");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body = scrape(metrics).await;
    (node, body)
}

/// The sample names of an OpenMetrics text (`merit_p2p_peers`,
/// `merit_commit_latency_seconds_bucket`, …) and its metric families (from
/// the `# TYPE` lines).
fn exported(body: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut samples = BTreeSet::new();
    let mut families = BTreeSet::new();
    for line in body.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            families.insert(t.split_whitespace().next().expect("a name").to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            samples.insert(line[..end].to_string());
        }
    }
    (samples, families)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_charts_is_served_at_metrics_and_every_served_one_is_charted() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DASHBOARD_PATH);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dashboard: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let inputs = dashboard["__inputs"].as_array().expect("__inputs");
    assert!(
        inputs.iter().any(|i| i["name"] == "DS_PROMETHEUS"
            && i["type"] == "datasource"
            && i["pluginId"] == "prometheus"),
        "the dashboard asks for its Prometheus data source on import: {inputs:?}"
    );
    let used = expressions(&dashboard);
    assert!(used.len() > 20, "only {} queries", used.len());

    let dir = tempfile::tempdir().expect("a directory");
    let (node, body) = running_node(dir.path()).await;
    node.stop().await.expect("the node stops");
    let (samples, families) = exported(&body);
    assert!(
        samples.contains("merit_token_supply"),
        "a running node exports its supply:\n{body}"
    );

    for (place, names) in &used {
        for name in names {
            assert!(
                samples.contains(name),
                "{place}: {name} is not served at /metrics:\n{body}"
            );
        }
    }
    let charted: BTreeSet<&str> = used
        .iter()
        .flat_map(|(_, names)| names.iter().map(String::as_str))
        .collect();
    for family in &families {
        let is_charted = charted.iter().any(|name| {
            name.strip_prefix(family.as_str())
                .is_some_and(|rest| ["", "_total", "_bucket", "_sum", "_count"].contains(&rest))
        });
        assert!(
            is_charted,
            "{family} is served at /metrics but no panel charts it"
        );
    }
}
