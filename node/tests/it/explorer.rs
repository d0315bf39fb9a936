//! The block explorer as a browser meets it on a running node's RPC port:
//! the page and its files with their types and security headers, a 404
//! for any other file under `/explorer`, and JSON-RPC and `GET /health`
//! on the same port unchanged. (`explorer-tests/` drives the pages
//! themselves in a real browser.)

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 exchange: the status line and headers (names lowercased),
/// and the body.
async fn exchange(addr: SocketAddr, request: String) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).await.expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    (head.to_ascii_lowercase(), body.to_string())
}

async fn get(addr: SocketAddr, method: &str, path: &str) -> (String, String) {
    exchange(
        addr,
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"),
    )
    .await
}

/// A one-validator devnet node in this process, on ports the system picks.
async fn running_node(dir: &std::path::Path) -> merit_node::NodeHandle {
    let opts = merit_node::devnet::DevnetOptions {
        dir: dir.join("net"),
        validators: 1,
        reset: false,
        p2p_base_port: merit_genesis::devnet::DEVNET_P2P_BASE_PORT,
        rpc_base_port: merit_genesis::devnet::DEVNET_RPC_BASE_PORT,
        metrics_base_port: 9615,
        log: "warn".into(),
    };
    let (_, mut configs) = merit_node::devnet::prepare(&opts).expect("a devnet");
    let mut config = configs.remove(0);
    config.rpc.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.metrics.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.p2p.listen = Some("/ip4/127.0.0.1/tcp/0".into());
    merit_node::Node::start(&config)
        .await
        .expect("the node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rpc_port_serves_the_explorer_beside_json_rpc_and_health() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let node = running_node(dir.path()).await;
    let addr = node.rpc_addr;

    let (head, page) = get(addr, "GET", "/explorer").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    let csp = format!(
        "content-security-policy: default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self'; connect-src 'self' ws://{addr} wss://{addr}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    assert!(head.contains(&csp), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(
        page.contains("<script type=\"module\" src=\"/explorer/app.js\">"),
        "{page}"
    );
    assert_eq!(get(addr, "GET", "/explorer/").await.1, page);

    for (path, content_type) in [
        ("/explorer/app.js", "text/javascript; charset=utf-8"),
        ("/explorer/search.js", "text/javascript; charset=utf-8"),
        ("/explorer/style.css", "text/css; charset=utf-8"),
        ("/explorer/favicon.svg", "image/svg+xml"),
    ] {
        let (head, body) = get(addr, "GET", path).await;
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert!(
            head.contains(&format!("content-type: {content_type}")),
            "{path}: {head}"
        );
        assert!(!body.is_empty(), "{path}");
    }
    let (head, body) = get(addr, "HEAD", "/explorer/app.js").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body.is_empty(), "HEAD has no body: {body}");
    let (head, _) = get(addr, "GET", "/explorer/../Cargo.toml").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    let (head, _) = get(addr, "GET", "/explorer/secret.key").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");

    // The port's other answers are as they were.
    let (head, health) = get(addr, "GET", "/health").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"merit_status","params":[]}"#;
    let (head, status) = exchange(
        addr,
        format!(
            "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{call}",
            call.len()
        ),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(status.contains("\"chain_id\":\"merit-devnet\""), "{status}");
    assert!(!head.contains("content-security-policy"), "{head}");
}
