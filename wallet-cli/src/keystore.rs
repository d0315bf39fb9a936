//! Encrypted key files under `~/.merit/keys/NAME.json` (`$MERIT_HOME/keys`).
//!
//! A key file holds the account's address in the clear and its 32-byte
//! ed25519 seed encrypted with XChaCha20-Poly1305 under a key stretched from
//! the password by argon2id. The address is authenticated as associated
//! data, so a file whose address was edited no longer opens.
//!
//! Files are written with mode 0600 in a directory with mode 0700, through a
//! temporary file and a link, so a crash never leaves half a key file and an
//! existing key is never overwritten unless asked.
//!
//! **Invariant:** the seed never reaches the disk unencrypted and never
//! appears in an error message.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use merit_chain::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Largest key file read, in bytes. A real one is under 1 KiB.
pub const MAX_KEYSTORE_FILE_BYTES: usize = 16 * 1024;
/// Longest key name, in bytes.
pub const MAX_KEY_NAME_BYTES: usize = 64;
/// The key file format written today.
pub const KEYSTORE_VERSION: u32 = 1;
/// argon2id memory cost for new files, in KiB (64 MiB).
pub const KDF_M_COST_KIB: u32 = 64 * 1024;
/// argon2id passes for new files.
pub const KDF_T_COST: u32 = 3;
/// argon2id lanes for new files.
pub const KDF_P_COST: u32 = 1;
/// Most memory a key file may ask argon2id for, in KiB (1 GiB): a file from
/// elsewhere must not make the wallet allocate without bound.
pub const MAX_KDF_M_COST_KIB: u32 = 1024 * 1024;
/// Most passes a key file may ask for.
pub const MAX_KDF_T_COST: u32 = 64;
/// Most lanes a key file may ask for.
pub const MAX_KDF_P_COST: u32 = 16;
/// Bytes of the random argon2id salt.
pub const SALT_BYTES: usize = 16;
/// Bytes of the XChaCha20-Poly1305 nonce.
pub const NONCE_BYTES: usize = 24;

const KDF_ALGORITHM: &str = "argon2id";
const KDF_VERSION: u32 = 0x13;
const CIPHER_ALGORITHM: &str = "xchacha20poly1305";
/// Domain separation for the associated data.
const AAD_PREFIX: &[u8] = b"merit-keystore-v1:";

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

/// The key file's JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    version: u32,
    name: String,
    address: String,
    kdf: KdfJson,
    cipher: CipherJson,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfJson {
    algorithm: String,
    version: u32,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CipherJson {
    algorithm: String,
    nonce: String,
    ciphertext: String,
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
                address: file.address,
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
            address: file.address,
            path,
        })
    }

    /// The address of key `name`, without the password.
    pub fn address(&self, name: &str) -> Result<PublicKey, KeystoreError> {
        let path = self.existing_path(name)?;
        let file = read_key_file(&path)?;
        parse_address(&path, &file.address)
    }

    /// Decrypts key `name`.
    pub fn load(&self, name: &str, password: &str) -> Result<Keypair, KeystoreError> {
        let path = self.existing_path(name)?;
        let file = read_key_file(&path)?;
        decrypt(name, &path, &file, password)
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
        self.save_with_params(name, key, password, overwrite, default_params())
    }

    fn save_with_params(
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
        let json = encrypt(name, key, password, params)?;
        let mut text = serde_json::to_string_pretty(&json).map_err(|e| KeystoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        create_private_dir(&self.dir)?;
        write_private_file(&path, text.as_bytes(), overwrite).map_err(|e| match e {
            WriteError::Exists => KeystoreError::Exists {
                name: name.to_string(),
                path: path.clone(),
            },
            WriteError::Io(p, source) => KeystoreError::Io { path: p, source },
        })?;
        Ok(path)
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

/// argon2id costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KdfParams {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

fn default_params() -> KdfParams {
    KdfParams {
        m_cost_kib: KDF_M_COST_KIB,
        t_cost: KDF_T_COST,
        p_cost: KDF_P_COST,
    }
}

fn aad(address: &str) -> Vec<u8> {
    [AAD_PREFIX, address.as_bytes()].concat()
}

fn derive_key(
    password: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let p = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into(password.as_bytes(), salt, out.as_mut_slice())
        .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    Ok(out)
}

fn random<const N: usize>() -> Result<[u8; N], KeystoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| KeystoreError::Random(e.to_string()))?;
    Ok(b)
}

/// A fresh random key.
pub fn generate_key() -> Result<Keypair, KeystoreError> {
    let seed = Zeroizing::new(random::<32>()?);
    Ok(Keypair::from_seed(*seed))
}

fn encrypt(
    name: &str,
    key: &Keypair,
    password: &str,
    params: KdfParams,
) -> Result<KeyFileJson, KeystoreError> {
    let salt = random::<SALT_BYTES>()?;
    let nonce = random::<NONCE_BYTES>()?;
    let address = key.public().to_bech32();
    let k = derive_key(password, &salt, params)?;
    let cipher = XChaCha20Poly1305::new_from_slice(k.as_slice())
        .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    let seed = Zeroizing::new(key.seed());
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: seed.as_slice(),
                aad: &aad(&address),
            },
        )
        .map_err(|_| KeystoreError::Kdf("encryption failed".to_string()))?;
    Ok(KeyFileJson {
        version: KEYSTORE_VERSION,
        name: name.to_string(),
        address,
        kdf: KdfJson {
            algorithm: KDF_ALGORITHM.to_string(),
            version: KDF_VERSION,
            m_cost_kib: params.m_cost_kib,
            t_cost: params.t_cost,
            p_cost: params.p_cost,
            salt: hex::encode(salt),
        },
        cipher: CipherJson {
            algorithm: CIPHER_ALGORITHM.to_string(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        },
    })
}

fn decrypt(
    name: &str,
    path: &Path,
    file: &KeyFileJson,
    password: &str,
) -> Result<Keypair, KeystoreError> {
    let corrupt = |reason: String| KeystoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let address = parse_address(path, &file.address)?;
    let kdf = &file.kdf;
    if kdf.algorithm != KDF_ALGORITHM || kdf.version != KDF_VERSION {
        return Err(corrupt(format!(
            "unsupported key derivation {} version {}",
            kdf.algorithm, kdf.version
        )));
    }
    if file.cipher.algorithm != CIPHER_ALGORITHM {
        return Err(corrupt(format!(
            "unsupported cipher {}",
            file.cipher.algorithm
        )));
    }
    if kdf.m_cost_kib > MAX_KDF_M_COST_KIB
        || kdf.t_cost > MAX_KDF_T_COST
        || kdf.p_cost > MAX_KDF_P_COST
    {
        return Err(corrupt(format!(
            "key derivation costs over the limits (memory {} KiB max {MAX_KDF_M_COST_KIB}, passes {} max {MAX_KDF_T_COST}, lanes {} max {MAX_KDF_P_COST})",
            kdf.m_cost_kib, kdf.t_cost, kdf.p_cost
        )));
    }
    let salt = hex::decode(&kdf.salt).map_err(|_| corrupt("salt is not hex".to_string()))?;
    if salt.len() < 8 || salt.len() > 64 {
        return Err(corrupt(format!("salt of {} bytes", salt.len())));
    }
    let mut nonce = [0u8; NONCE_BYTES];
    hex::decode_to_slice(&file.cipher.nonce, &mut nonce)
        .map_err(|_| corrupt(format!("the nonce is not {NONCE_BYTES} bytes of hex")))?;
    let ciphertext = hex::decode(&file.cipher.ciphertext)
        .map_err(|_| corrupt("the ciphertext is not hex".to_string()))?;
    let params = KdfParams {
        m_cost_kib: kdf.m_cost_kib,
        t_cost: kdf.t_cost,
        p_cost: kdf.p_cost,
    };
    let k = derive_key(password, &salt, params)?;
    let cipher = XChaCha20Poly1305::new_from_slice(k.as_slice())
        .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad(&file.address),
                },
            )
            .map_err(|_| KeystoreError::WrongPassword {
                name: name.to_string(),
            })?,
    );
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
        plain
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(format!("the secret is {} bytes, not 32", plain.len())))?,
    );
    let key = Keypair::from_seed(*seed);
    if key.public() != address {
        return Err(corrupt(
            "the secret does not belong to the address".to_string(),
        ));
    }
    Ok(key)
}

fn parse_address(path: &Path, s: &str) -> Result<PublicKey, KeystoreError> {
    PublicKey::from_bech32(s).map_err(|e| KeystoreError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("address: {e}"),
    })
}

fn read_key_file(path: &Path) -> Result<KeyFileJson, KeystoreError> {
    let file = fs::File::open(path).map_err(|e| KeystoreError::io(path, e))?;
    let meta = file.metadata().map_err(|e| KeystoreError::io(path, e))?;
    if !meta.is_file() {
        return Err(KeystoreError::Corrupt {
            path: path.to_path_buf(),
            reason: "not a regular file".to_string(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEYSTORE_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| KeystoreError::io(path, e))?;
    if bytes.len() > MAX_KEYSTORE_FILE_BYTES {
        return Err(KeystoreError::TooLarge {
            path: path.to_path_buf(),
            max: MAX_KEYSTORE_FILE_BYTES,
        });
    }
    let json: KeyFileJson = serde_json::from_slice(&bytes).map_err(|e| KeystoreError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if json.version != KEYSTORE_VERSION {
        return Err(KeystoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "format version {} (this wallet reads {KEYSTORE_VERSION})",
                json.version
            ),
        });
    }
    Ok(json)
}

/// Creates `dir` (and its parents) with mode 0700 where they are missing.
fn create_private_dir(dir: &Path) -> Result<(), KeystoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| KeystoreError::io(dir, e))
}

enum WriteError {
    Exists,
    Io(PathBuf, io::Error),
}

/// Writes `bytes` to `path` with mode 0600: first to a temporary file in the
/// same directory, synced, then linked (no overwrite) or renamed (overwrite)
/// into place.
fn write_private_file(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), WriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let suffix = random::<8>().map(hex::encode).unwrap_or_default();
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("key.json");
    let tmp = dir.join(format!(".{file_name}.{suffix}.tmp"));
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| WriteError::Io(p, e)
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options.open(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        if overwrite {
            fs::rename(&tmp, path).map_err(io_err(path))?;
        } else {
            match fs::hard_link(&tmp, path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(WriteError::Exists);
                }
                Err(e) => return Err(WriteError::Io(path.to_path_buf(), e)),
            }
            fs::remove_file(&tmp).map_err(io_err(&tmp))?;
        }
        if let Ok(d) = fs::File::open(dir) {
            // Makes the new directory entry durable; not all systems allow it.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The permission bits of a key file, where the platform has them.
pub fn file_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap costs so unit tests stay fast; real files use the defaults.
    const FAST: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

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
