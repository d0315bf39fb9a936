//! What the indexer says to arguments it cannot use: exit 2, a message
//! naming what is wrong, and no connection attempted.

use std::process::Command;

use super::indexer_binary;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(indexer_binary())
        .args(args)
        .output()
        .expect("run merit-indexer");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn arguments_it_cannot_use_are_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    let layout = merit_genesis::devnet(4, 26601, 8545);
    std::fs::write(&genesis, layout.genesis.to_json_pretty()).unwrap();
    let genesis = genesis.to_str().unwrap();
    let pg = "postgresql://merit@127.0.0.1:1/merit";

    let (code, err) = run(&["--rpc", "http://127.0.0.1:1", "--postgres", pg]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--genesis"), "{err}");

    let missing = dir.path().join("missing.json");
    let (code, err) = run(&[
        "--rpc",
        "http://127.0.0.1:1",
        "--postgres",
        pg,
        "--genesis",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing.json"), "{err}");

    let (code, err) = run(&[
        "--rpc",
        "ftp://node",
        "--postgres",
        pg,
        "--genesis",
        genesis,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ftp://node"), "{err}");

    let (code, err) = run(&[
        "--rpc",
        "ws://127.0.0.1:1",
        "--postgres",
        "postgresql://[broken",
        "--genesis",
        genesis,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("is not a PostgreSQL connection string"),
        "{err}"
    );
}
