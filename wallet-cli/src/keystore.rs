//! Encrypted key files under `~/.merit/keys/NAME.json` (`$MERIT_HOME/keys`).
//!
//! The file format and its encryption (argon2id + XChaCha20-Poly1305, the
//! address authenticated as associated data) are
//! [`merit_genesis::keystore`]'s, shared with `merit-genesis keygen` and the
//! node's validator key: an issuer key made by the key ceremony is a wallet
//! key file. This module adds the directory of named keys.
//!
//! Files are written with mode 0600 in a directory with mode 0700, through a
//! temporary file and a link, so a crash never leaves half a key file and an
//! existing key is never overwritten unless asked.
//!
//! **Invariant:** the seed never reaches the disk unencrypted and never
//! appears in an error message.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use merit_chain::{Keypair, PublicKey};
use merit_genesis::keystore::{EncryptedKey, KeyFileError, create_private_dir};
pub use merit_genesis::keystore::{KdfParams, MAX_KEYSTORE_FILE_BYTES, file_mode};
use serde::Serialize;
use zeroize::Zeroizing;

/// Longest key name, in bytes.
pub const MAX_KEY_NAME_BYTES: usize = 64;

/// What went wrong with a key or key file.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error(
        "`{name}` is not a valid key name: use 1 to {MAX_KEY_NAME_BYTES} of a-z, A-Z, 0-9, `-` and `_`, starting with a letter or digit, and not starting with `mrt1`"
    )]
    InvalidName { name: String },
    #[error("no key named `{name}` in {}; see `merit keys list`", dir.display())]
    NotFound { name: String, dir: PathBuf },
    #[error("a key named `{name}` already exists at {}; pass --force to replace it", path.display())]
    Exists { name: String, path: PathBuf },
    #[error("wrong password for key `{name}`")]
    WrongPassword { name: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: the file is over the limit of {max} bytes", path.display())]
    TooLarge { path: PathBuf, max: usize },
    #[error("{}: not a Merit key file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot find the home directory: set MERIT_HOME or HOME")]
    NoHome,
    #[error("cannot draw random bytes: {0}")]
    Random(String),
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

impl KeystoreError {
    fn io(path: &Path, source: io::Error) -> Self {
        KeystoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A password, wiped from memory when dropped.
pub type Password = Zeroizing<String>;

/// Checks a key name: 1 to 64 of `A-Za-z0-9-_`, starting with a letter or a
/// digit. Names starting with `mrt1` are refused so that a name is never
/// mistaken for an address, nor an address for a name.
pub fn check_name(name: &str) -> Result<(), KeystoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_KEY_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && !name.to_ascii_lowercase().starts_with("mrt1");
    if ok {
        Ok(())
    } else {
        Err(KeystoreError::InvalidName {
            name: name.to_string(),
        })
    }
}

/// One key in the keystore, as `keys list` shows it. No secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEntry {
    pub name: String,
    pub address: String,
    pub path: PathBuf,
}

/// The directory of key files.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
}

impl Keystore {
    /// `$MERIT_HOME/keys`, or `~/.merit/keys`.
    pub fn from_env() -> Result<Self, KeystoreError> {
        let home = match std::env::var_os("MERIT_HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h),
            _ => match std::env::var_os("HOME") {
                Some(h) if !h.is_empty() => PathBuf::from(h).join(".merit"),
                _ => return Err(KeystoreError::NoHome),
            },
        };
        Ok(Keystore::at(home.join("keys")))
    }

    /// The keystore in `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Keystore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds (or would hold) key `name`.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, KeystoreError> {
        check_name(name)?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path_of(name).is_ok_and(|p| p.exists())
    }

    /// Every key, sorted by name. Files that are not key files are skipped.
    pub fn list(&self) -> Result<Vec<KeyEntry>, KeystoreError> {
        let read = match fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(KeystoreError::io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| KeystoreError::io(&self.dir, e))?;
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            if check_name(name).is_err() {
                continue;
            }
            let file = read_key_file(&path)?;
            out.push(KeyEntry {
                name: name.to_string(),
                address: file.address_text().to_string(),
                path,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The entry for `name`, without the password.
    pub fn entry(&self, name: &str) -> Result<KeyEntry, KeystoreError> {
        let path = self.existing_path(name)?;
        let file = read_key_file(&path)?;
        Ok(KeyEntry {
            name: name.to_string(),
            address: file.address_text().to_string(),
            path,
        })
    }

    /// The address of key `name`, without the password.
    pub fn address(&self, name: &str) -> Result<PublicKey, KeystoreError> {
        let path = self.existing_path(name)?;
        let file = read_key_file(&path)?;
        file.address(&path)
            .map_err(|e| KeystoreError::from_file(name, e))
    }

    /// Decrypts key `name`.
    pub fn load(&self, name: &str, password: &str) -> Result<Keypair, KeystoreError> {
        let path = self.existing_path(name)?;
        let file = read_key_file(&path)?;
        file.decrypt(&path, password)
            .map_err(|e| KeystoreError::from_file(name, e))
    }

    /// Encrypts `key` under `password` and writes it as `name`. Refuses to
    /// replace an existing file unless `overwrite`.
    pub fn save(
        &self,
        name: &str,
        key: &Keypair,
        password: &str,
        overwrite: bool,
    ) -> Result<PathBuf, KeystoreError> {
        self.save_with_params(name, key, password, overwrite, KdfParams::DEFAULT)
    }

    /// [`Keystore::save`] with the given argon2id costs.
    pub fn save_with_params(
        &self,
        name: &str,
        key: &Keypair,
        password: &str,
        overwrite: bool,
        params: KdfParams,
    ) -> Result<PathBuf, KeystoreError> {
        let path = self.path_of(name)?;
        if !overwrite && path.exists() {
            return Err(KeystoreError::Exists {
                name: name.to_string(),
                path,
            });
        }
        let file = EncryptedKey::encrypt(name, key, password, params)
            .map_err(|e| KeystoreError::from_file(name, e))?;
        create_private_dir(&self.dir).map_err(|e| KeystoreError::from_file(name, e))?;
        file.write(&path, overwrite)
            .map_err(|e| KeystoreError::from_file(name, e))?;
        Ok(path)
    }

    /// Imports the encrypted key file at `file` as `name`: it is opened
    /// with `password` and saved again under the same password. Refuses to
    /// replace an existing key unless `overwrite`.
    pub fn import_file(
        &self,
        name: &str,
        file: &Path,
        password: &str,
        overwrite: bool,
    ) -> Result<(Keypair, PathBuf), KeystoreError> {
        let encrypted = read_key_file(file)?;
        let key = encrypted.decrypt(file, password).map_err(|e| match e {
            KeyFileError::WrongPassword { path } => KeystoreError::Corrupt {
                path,
                reason: "wrong password for this key file".to_string(),
            },
            other => KeystoreError::from_file(name, other),
        })?;
        let path = self.save(name, &key, password, overwrite)?;
        Ok((key, path))
    }

    fn existing_path(&self, name: &str) -> Result<PathBuf, KeystoreError> {
        let path = self.path_of(name)?;
        if !path.exists() {
            return Err(KeystoreError::NotFound {
                name: name.to_string(),
                dir: self.dir.clone(),
            });
        }
        Ok(path)
    }
}

impl KeystoreError {
    /// The wallet's words for an error of the shared key file code, which
    /// names keys by their file.
    fn from_file(name: &str, e: KeyFileError) -> Self {
        match e {
            KeyFileError::WrongPassword { .. } => KeystoreError::WrongPassword {
                name: name.to_string(),
            },
            KeyFileError::Exists { path } => KeystoreError::Exists {
                name: name.to_string(),
                path,
            },
            KeyFileError::Io { path, source } => KeystoreError::Io { path, source },
            KeyFileError::TooLarge { path, max } => KeystoreError::TooLarge { path, max },
            KeyFileError::Corrupt { path, reason } => KeystoreError::Corrupt { path, reason },
            KeyFileError::Random(e) => KeystoreError::Random(e),
            KeyFileError::Kdf(e) => KeystoreError::Kdf(e),
        }
    }
}

/// A fresh random key.
pub fn generate_key() -> Result<Keypair, KeystoreError> {
    merit_genesis::keystore::generate_key().map_err(|e| KeystoreError::from_file("", e))
}

fn read_key_file(path: &Path) -> Result<EncryptedKey, KeystoreError> {
    EncryptedKey::read(path).map_err(|e| KeystoreError::from_file("", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap costs so unit tests stay fast; real files use the defaults.
    const FAST: KdfParams = KdfParams::INSECURE_FAST;

    #[test]
    fn names_follow_the_safe_charset() {
        for ok in ["alice", "merchant-1", "Bob_2", "x", &"a".repeat(64)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-alice",
            "../etc",
            "a/b",
            "a.b",
            "al ice",
            "mrt1abc",
            "MRT1abc",
            &"a".repeat(65),
            "ä",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_round_trips_and_a_wrong_password_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::at(dir.path().join("keys"));
        let key = Keypair::insecure_from_label("unit/alice");
        ks.save_with_params("alice", &key, "pw", false, FAST)
            .unwrap();
        assert_eq!(ks.load("alice", "pw").unwrap().public(), key.public());
        assert_eq!(ks.address("alice").unwrap(), key.public());
        let err = ks.load("alice", "nope").unwrap_err();
        assert_eq!(err.to_string(), "wrong password for key `alice`");
        assert!(matches!(
            ks.save_with_params("alice", &key, "pw", false, FAST),
            Err(KeystoreError::Exists { .. })
        ));
        ks.save_with_params("alice", &key, "pw2", true, FAST)
            .unwrap();
        assert!(ks.load("alice", "pw2").is_ok());
        assert_eq!(ks.list().unwrap().len(), 1);
    }

    #[test]
    fn an_edited_address_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::at(dir.path());
        let key = Keypair::insecure_from_label("unit/a");
        let other = Keypair::insecure_from_label("unit/b");
        let path = ks.save_with_params("a", &key, "pw", false, FAST).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let edited = text.replace(&key.public().to_bech32(), &other.public().to_bech32());
        fs::write(&path, edited).unwrap();
        assert!(ks.load("a", "pw").is_err());
    }

    #[test]
    fn hostile_kdf_costs_are_refused_before_deriving() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::at(dir.path());
        let key = Keypair::insecure_from_label("unit/a");
        let path = ks.save_with_params("a", &key, "pw", false, FAST).unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        json["kdf"]["m_cost_kib"] = serde_json::json!(u32::MAX);
        fs::write(&path, json.to_string()).unwrap();
        assert!(matches!(
            ks.load("a", "pw"),
            Err(KeystoreError::Corrupt { .. })
        ));
    }
}
