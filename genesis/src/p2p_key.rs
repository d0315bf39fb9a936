//! The p2p key file: a node's libp2p identity.
//!
//! The p2p key is a key of its own, not the validator key (ADR 008): the
//! validator key can then be rotated without changing the peer identity,
//! and be encrypted at rest while a node without a password (an observer)
//! still has an identity. The p2p key signs no vote and no transaction, so
//! its file is not encrypted, like CometBFT's `node_key.json`: it is
//! written with mode 0600 and holds the 32-byte ed25519 seed in hex.

use std::path::Path;

use merit_chain::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};

use crate::fsutil::{self, FileError};
use crate::keys::{RandomError, random_seed};

/// The p2p key file's name in a merchant's directory and a data directory.
pub const P2P_KEY_FILE_NAME: &str = "p2p_key.json";

/// Largest p2p key file read, in bytes.
pub const MAX_P2P_KEY_FILE_BYTES: usize = 4 * 1024;

/// The file's JSON.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct P2pKeyJson {
    /// The public key (`mrt1…`), for checking; the peer id derives from it.
    p2p_key: String,
    /// The 32-byte ed25519 seed, in hex. Secret.
    seed: String,
}

/// Writes `key` to a new p2p key file (mode 0600). An existing file is
/// replaced only if `overwrite` is set.
pub fn write_p2p_key(path: &Path, key: &Keypair, overwrite: bool) -> Result<(), FileError> {
    let json = P2pKeyJson {
        p2p_key: key.public().to_bech32(),
        seed: hex::encode(key.seed()),
    };
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    fsutil::write_new_file(path, text.as_bytes(), overwrite, true)
}

/// Reads a p2p key file and checks that its public key matches its seed.
pub fn load_p2p_key(path: &Path) -> Result<Keypair, FileError> {
    let text = fsutil::read_to_string_limited(path, MAX_P2P_KEY_FILE_BYTES)?;
    let json: P2pKeyJson = serde_json::from_str(&text).map_err(|source| FileError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| FileError::BadKeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(&json.seed, seed.as_mut_slice())
        .map_err(|_| bad("seed: expected 64 hexadecimal digits".to_string()))?;
    let key = Keypair::from_seed(*seed);
    let claimed =
        PublicKey::from_bech32(&json.p2p_key).map_err(|e| bad(format!("p2p_key: {e}")))?;
    if key.public() != claimed {
        return Err(bad(format!(
            "p2p_key: {claimed} does not belong to the seed"
        )));
    }
    Ok(key)
}

/// Why a p2p key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum P2pKeyError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// The p2p key in `path`, made and written first if there is no such file.
/// Returns the key and whether it was made now.
pub fn load_or_create_p2p_key(path: &Path) -> Result<(Keypair, bool), P2pKeyError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok((load_p2p_key(path)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Keypair::from_seed(random_seed()?);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| FileError::io(dir, e))?;
            }
            write_p2p_key(path, &key, false)?;
            Ok((key, true))
        }
        Err(e) => Err(FileError::io(path, e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_p2p_key_round_trips_privately_and_a_mismatch_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(P2P_KEY_FILE_NAME);
        let key = Keypair::insecure_from_label("p2p-unit/a");
        write_p2p_key(&path, &key, false).unwrap();
        assert_eq!(load_p2p_key(&path).unwrap().seed(), key.seed());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(matches!(
            write_p2p_key(&path, &key, false),
            Err(FileError::AlreadyExists { .. })
        ));
        let other = Keypair::insecure_from_label("p2p-unit/b")
            .public()
            .to_bech32();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(&key.public().to_bech32(), &other)).unwrap();
        let err = load_p2p_key(&path).unwrap_err().to_string();
        assert!(err.contains("does not belong to the seed"), "{err}");
    }

    #[test]
    fn a_missing_p2p_key_is_made_once_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(P2P_KEY_FILE_NAME);
        let (first, made) = load_or_create_p2p_key(&path).unwrap();
        assert!(made);
        let (again, made) = load_or_create_p2p_key(&path).unwrap();
        assert!(!made);
        assert_eq!(first.public(), again.public());
    }
}
