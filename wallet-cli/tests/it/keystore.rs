//! Key files through the library: encrypted, private, and refusing a wrong
//! password.

use std::path::Path;

use merit_chain::Keypair;
use merit_wallet::keystore::{Keystore, KeystoreError, file_mode};

/// Every way the seed could leak into the file as text or bytes.
fn assert_holds_no_secret(path: &Path, key: &Keypair, password: &str) {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let seed = key.seed();
    assert!(
        !bytes.windows(seed.len()).any(|w| w == seed),
        "the raw seed bytes are in {}",
        path.display()
    );
    let hex_lower = hex::encode(seed);
    assert!(!text.to_ascii_lowercase().contains(&hex_lower), "{text}");
    // Not even a recognisable 8-byte piece of it.
    for piece in hex_lower.as_bytes().chunks(16) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(
            !text.to_ascii_lowercase().contains(piece),
            "{piece} in {text}"
        );
    }
    assert!(!text.contains(password), "the password is in the file");
    // What is there: the address in the clear, and the cipher's parameters.
    assert!(text.contains(&key.public().to_bech32()), "{text}");
    assert!(
        text.contains("argon2id") && text.contains("xchacha20poly1305"),
        "{text}"
    );
}

#[test]
fn a_key_file_is_encrypted_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let ks = Keystore::at(dir.path().join("keys"));
    let key = Keypair::insecure_from_label("wallet-it/alice");
    let password = "correct horse battery staple";
    let path = ks.save("alice", &key, password, false).unwrap();

    assert_holds_no_secret(&path, &key, password);
    if cfg!(unix) {
        assert_eq!(file_mode(&path), Some(0o600), "key file mode");
        assert_eq!(file_mode(ks.dir()), Some(0o700), "keys directory mode");
    }
    // No temporary file is left next to it.
    let names: Vec<String> = std::fs::read_dir(ks.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["alice.json"]);

    assert_eq!(ks.load("alice", password).unwrap().seed(), key.seed());
    assert!(matches!(
        ks.load("alice", "wrong"),
        Err(KeystoreError::WrongPassword { .. })
    ));
}

#[test]
fn the_same_key_encrypts_differently_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let ks = Keystore::at(dir.path());
    let key = Keypair::insecure_from_label("wallet-it/bob");
    let a = ks.save("a", &key, "pw", false).unwrap();
    let b = ks.save("b", &key, "pw", false).unwrap();
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (a, b) = (json(&a), json(&b));
    assert_eq!(a["address"], b["address"]);
    assert_ne!(a["kdf"]["salt"], b["kdf"]["salt"], "a fresh salt per file");
    assert_ne!(
        a["cipher"]["nonce"], b["cipher"]["nonce"],
        "a fresh nonce per file"
    );
    assert_ne!(a["cipher"]["ciphertext"], b["cipher"]["ciphertext"]);
}

#[test]
fn a_tampered_ciphertext_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let ks = Keystore::at(dir.path());
    let key = Keypair::insecure_from_label("wallet-it/carol");
    let path = ks.save("carol", &key, "pw", false).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let ct = json["cipher"]["ciphertext"].as_str().unwrap().to_string();
    let flipped = if ct.starts_with('0') { "1" } else { "0" };
    json["cipher"]["ciphertext"] = serde_json::json!(format!("{flipped}{}", &ct[1..]));
    std::fs::write(&path, json.to_string()).unwrap();
    // Authenticated encryption: an edit reads as a wrong password, never as
    // another key.
    assert!(matches!(
        ks.load("carol", "pw"),
        Err(KeystoreError::WrongPassword { .. })
    ));
}

/// The issuer key of the key ceremony is a wallet key file: the wallet opens
/// it where `merit-genesis keygen` wrote it, and imports it by file.
#[test]
fn an_issuer_key_from_the_key_ceremony_is_a_wallet_key() {
    use merit_genesis::keystore::KdfParams;
    use merit_genesis::netaddr::P2pAddress;
    use merit_genesis::{KeyPasswords, MerchantKeys};

    let dir = tempfile::tempdir().unwrap();
    let merchant = dir.path().join("bean");
    let keys = MerchantKeys::generate("Bean", true).unwrap();
    let record = keys
        .sign(Some(
            &P2pAddress::parse("/ip4/127.0.0.1/tcp/26601").unwrap(),
        ))
        .unwrap();
    let passwords = KeyPasswords {
        node: "node pw",
        issuer: "issuer pw",
        kdf: KdfParams::INSECURE_FAST,
    };
    keys.write(&merchant, &record, &passwords, false).unwrap();

    // Where keygen wrote it, under the name it was given.
    let there = Keystore::at(&merchant);
    assert_eq!(
        there.load("issuer", "issuer pw").unwrap().public(),
        keys.account.public()
    );

    // Imported into a keystore by file, keeping its password.
    let ks = Keystore::at(dir.path().join("keys"));
    let (key, path) = ks
        .import_file(
            "bean-issuer",
            &merchant.join("issuer.json"),
            "issuer pw",
            false,
        )
        .unwrap();
    assert_eq!(key.public(), keys.account.public());
    assert_eq!(path, ks.dir().join("bean-issuer.json"));
    assert_eq!(
        ks.load("bean-issuer", "issuer pw").unwrap().public(),
        keys.account.public()
    );
    let err = ks
        .import_file("other", &merchant.join("issuer.json"), "node pw", false)
        .unwrap_err();
    assert!(err.to_string().contains("wrong password"), "{err}");
    assert!(!ks.exists("other"));
    // The validator key is encrypted under the node password, not the issuer's.
    assert!(matches!(
        there.load("validator_key", "issuer pw"),
        Err(KeystoreError::WrongPassword { .. })
    ));
}
