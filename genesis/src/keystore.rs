//! Encrypted key files: the one implementation of the format that the
//! `merit` wallet's keystore, `merit-genesis keygen` and the node's
//! validator key share.
//!
//! A key file holds the key's address in the clear and its 32-byte ed25519
//! seed encrypted with XChaCha20-Poly1305 under a key stretched from the
//! password by argon2id. The address is authenticated as associated data,
//! so a file whose address was edited no longer opens.
//!
//! Files are written with mode 0600 through a temporary file and a link, so
//! a crash never leaves half a key file and an existing key is never
//! overwritten unless asked.
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
/// The key file format written today.
pub const KEYSTORE_VERSION: u32 = 1;
/// argon2id memory cost for new files, in KiB (64 MiB).
pub const KDF_M_COST_KIB: u32 = 64 * 1024;
/// argon2id passes for new files.
pub const KDF_T_COST: u32 = 3;
/// argon2id lanes for new files.
pub const KDF_P_COST: u32 = 1;
/// Most memory a key file may ask argon2id for, in KiB (1 GiB): a file from
/// elsewhere must not make a program allocate without bound.
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

/// What went wrong with an encrypted key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{}: wrong password", path.display())]
    WrongPassword { path: PathBuf },
    #[error("{} already exists; refusing to overwrite it", path.display())]
    Exists { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: the file is over the limit of {max} bytes", path.display())]
    TooLarge { path: PathBuf, max: usize },
    #[error("{}: not a Merit key file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot draw random bytes: {0}")]
    Random(String),
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

impl KeyFileError {
    fn io(path: &Path, source: io::Error) -> Self {
        KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// argon2id costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl KdfParams {
    /// The costs of every new key file that guards a secret.
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost_kib: KDF_M_COST_KIB,
        t_cost: KDF_T_COST,
        p_cost: KDF_P_COST,
    };

    /// The cheapest costs argon2id allows. Only for keys whose password is
    /// public anyway (the devnet's demo keys) and for tests: stretching a
    /// public password protects nothing.
    pub const INSECURE_FAST: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams::DEFAULT
    }
}

/// An encrypted key file's content. No secret is readable from it without
/// the password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptedKey {
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

fn aad(address: &str) -> Vec<u8> {
    [AAD_PREFIX, address.as_bytes()].concat()
}

fn derive_key(
    password: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let p = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into(password.as_bytes(), salt, out.as_mut_slice())
        .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
    Ok(out)
}

fn random<const N: usize>() -> Result<[u8; N], KeyFileError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| KeyFileError::Random(e.to_string()))?;
    Ok(b)
}

/// A fresh random key from the operating system's random source.
pub fn generate_key() -> Result<Keypair, KeyFileError> {
    let seed = Zeroizing::new(random::<32>()?);
    Ok(Keypair::from_seed(*seed))
}

impl EncryptedKey {
    /// Encrypts `key` under `password`. `name` is shown to people (the
    /// wallet's key name); it is not secret and not authenticated.
    pub fn encrypt(
        name: &str,
        key: &Keypair,
        password: &str,
        params: KdfParams,
    ) -> Result<EncryptedKey, KeyFileError> {
        let salt = random::<SALT_BYTES>()?;
        let nonce = random::<NONCE_BYTES>()?;
        let address = key.public().to_bech32();
        let k = derive_key(password, &salt, params)?;
        let cipher = XChaCha20Poly1305::new_from_slice(k.as_slice())
            .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
        let seed = Zeroizing::new(key.seed());
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: seed.as_slice(),
                    aad: &aad(&address),
                },
            )
            .map_err(|_| KeyFileError::Kdf("encryption failed".to_string()))?;
        Ok(EncryptedKey {
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

    /// The name written in the file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address as written, unchecked.
    pub fn address_text(&self) -> &str {
        &self.address
    }

    /// The key's public key, without the password. `path` is only for the
    /// error message.
    pub fn address(&self, path: &Path) -> Result<PublicKey, KeyFileError> {
        PublicKey::from_bech32(&self.address).map_err(|e| KeyFileError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("address: {e}"),
        })
    }

    /// Decrypts the key. `path` is only for error messages.
    pub fn decrypt(&self, path: &Path, password: &str) -> Result<Keypair, KeyFileError> {
        let corrupt = |reason: String| KeyFileError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let address = self.address(path)?;
        let kdf = &self.kdf;
        if kdf.algorithm != KDF_ALGORITHM || kdf.version != KDF_VERSION {
            return Err(corrupt(format!(
                "unsupported key derivation {} version {}",
                kdf.algorithm, kdf.version
            )));
        }
        if self.cipher.algorithm != CIPHER_ALGORITHM {
            return Err(corrupt(format!(
                "unsupported cipher {}",
                self.cipher.algorithm
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
        hex::decode_to_slice(&self.cipher.nonce, &mut nonce)
            .map_err(|_| corrupt(format!("the nonce is not {NONCE_BYTES} bytes of hex")))?;
        let ciphertext = hex::decode(&self.cipher.ciphertext)
            .map_err(|_| corrupt("the ciphertext is not hex".to_string()))?;
        let params = KdfParams {
            m_cost_kib: kdf.m_cost_kib,
            t_cost: kdf.t_cost,
            p_cost: kdf.p_cost,
        };
        let k = derive_key(password, &salt, params)?;
        let cipher = XChaCha20Poly1305::new_from_slice(k.as_slice())
            .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad(&self.address),
                    },
                )
                .map_err(|_| KeyFileError::WrongPassword {
                    path: path.to_path_buf(),
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

    /// Pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        // Strings and integers only: serde_json always serializes them.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a key file of at most [`MAX_KEYSTORE_FILE_BYTES`].
    pub fn read(path: &Path) -> Result<EncryptedKey, KeyFileError> {
        let file = fs::File::open(path).map_err(|e| KeyFileError::io(path, e))?;
        let meta = file.metadata().map_err(|e| KeyFileError::io(path, e))?;
        if !meta.is_file() {
            return Err(KeyFileError::Corrupt {
                path: path.to_path_buf(),
                reason: "not a regular file".to_string(),
            });
        }
        let mut bytes = Vec::new();
        file.take(MAX_KEYSTORE_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| KeyFileError::io(path, e))?;
        if bytes.len() > MAX_KEYSTORE_FILE_BYTES {
            return Err(KeyFileError::TooLarge {
                path: path.to_path_buf(),
                max: MAX_KEYSTORE_FILE_BYTES,
            });
        }
        let json: EncryptedKey =
            serde_json::from_slice(&bytes).map_err(|e| KeyFileError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        if json.version != KEYSTORE_VERSION {
            return Err(KeyFileError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "format version {} (this program reads {KEYSTORE_VERSION})",
                    json.version
                ),
            });
        }
        Ok(json)
    }

    /// Writes the file with mode 0600 (see [`write_private_file`]).
    pub fn write(&self, path: &Path, overwrite: bool) -> Result<(), KeyFileError> {
        write_private_file(path, self.to_json_pretty().as_bytes(), overwrite)
    }
}

/// Reads and decrypts the key file at `path`.
pub fn open(path: &Path, password: &str) -> Result<Keypair, KeyFileError> {
    EncryptedKey::read(path)?.decrypt(path, password)
}

/// Largest password file read, in bytes.
pub const MAX_PASSWORD_FILE_BYTES: usize = 4 * 1024;

/// The password in a password file: its text without one trailing newline
/// (`\n` or `\r\n`). An empty password is refused.
pub fn read_password_file(path: &Path) -> Result<Zeroizing<String>, KeyFileError> {
    let file = fs::File::open(path).map_err(|e| KeyFileError::io(path, e))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_PASSWORD_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| KeyFileError::io(path, e))?;
    if bytes.len() > MAX_PASSWORD_FILE_BYTES {
        return Err(KeyFileError::TooLarge {
            path: path.to_path_buf(),
            max: MAX_PASSWORD_FILE_BYTES,
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyFileError::Corrupt {
        path: path.to_path_buf(),
        reason: "the password file is not UTF-8 text".to_string(),
    })?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    if text.is_empty() {
        return Err(KeyFileError::Corrupt {
            path: path.to_path_buf(),
            reason: "the password file is empty".to_string(),
        });
    }
    Ok(Zeroizing::new(text.to_string()))
}

/// Creates `dir` (and its parents) with mode 0700 where they are missing.
pub fn create_private_dir(dir: &Path) -> Result<(), KeyFileError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| KeyFileError::io(dir, e))
}

/// Writes `bytes` to `path` with mode 0600: first to a temporary file in the
/// same directory, synced, then linked (no overwrite) or renamed (overwrite)
/// into place. Without `overwrite`, an existing file is refused with
/// [`KeyFileError::Exists`] and left as it was.
pub fn write_private_file(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), KeyFileError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let suffix = random::<8>().map(hex::encode).unwrap_or_default();
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("key.json");
    let tmp = dir.join(format!(".{file_name}.{suffix}.tmp"));
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| KeyFileError::Io { path: p, source: e }
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
                    return Err(KeyFileError::Exists {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) => return Err(KeyFileError::io(path, e)),
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

/// The permission bits of a file, where the platform has them.
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

    /// A file the `merit` wallet wrote before this module was shared: the
    /// format must stay readable.
    const WALLET_FILE: &str = r#"{
  "version": 1,
  "name": "alice",
  "address": "mrt10cy0g69lr97zs2dlf23756q7yfxcgyt5xaw58wf379dzva6efxjqcua8y5",
  "kdf": {
    "algorithm": "argon2id",
    "version": 19,
    "m_cost_kib": 64,
    "t_cost": 1,
    "p_cost": 1,
    "salt": "4db1e1b78b572b887317558ef2a4447c"
  },
  "cipher": {
    "algorithm": "xchacha20poly1305",
    "nonce": "d8e278b383c139d558d81f8bcba4d85ad681504cbd448cc5",
    "ciphertext": "6de845519012408265dffcbf8f89ff007005e23c88dbd4e6599ab47282f6164e325b4716e46396791466e8d108da9e34"
  }
}
"#;

    #[test]
    fn a_file_the_wallet_wrote_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice.json");
        fs::write(&path, WALLET_FILE).unwrap();
        let key = open(&path, "fixture password").unwrap();
        assert_eq!(
            key.seed(),
            Keypair::insecure_from_label("keystore-fixture/alice").seed()
        );
        assert!(matches!(
            open(&path, "wrong"),
            Err(KeyFileError::WrongPassword { .. })
        ));
    }

    #[test]
    fn a_key_round_trips_privately_and_is_never_overwritten_unasked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = Keypair::insecure_from_label("keystore-unit/k");
        let file = EncryptedKey::encrypt("k", &key, "pw", KdfParams::INSECURE_FAST).unwrap();
        file.write(&path, false).unwrap();
        assert_eq!(open(&path, "pw").unwrap().seed(), key.seed());
        if cfg!(unix) {
            assert_eq!(file_mode(&path), Some(0o600));
        }
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&hex::encode(key.seed())), "{text}");
        let other = EncryptedKey::encrypt("k", &key, "pw2", KdfParams::INSECURE_FAST).unwrap();
        assert!(matches!(
            other.write(&path, false),
            Err(KeyFileError::Exists { .. })
        ));
        assert!(open(&path, "pw").is_ok(), "the first file is untouched");
        other.write(&path, true).unwrap();
        assert!(open(&path, "pw2").is_ok());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_password_file_loses_one_trailing_newline_and_must_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        for (text, want) in [
            ("secret\n", "secret"),
            ("secret\r\n", "secret"),
            ("a b\n\n", "a b\n"),
        ] {
            fs::write(&path, text).unwrap();
            assert_eq!(read_password_file(&path).unwrap().as_str(), want);
        }
        fs::write(&path, "\n").unwrap();
        let err = read_password_file(&path).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        fs::write(&path, "x".repeat(MAX_PASSWORD_FILE_BYTES + 1)).unwrap();
        assert!(matches!(
            read_password_file(&path),
            Err(KeyFileError::TooLarge { .. })
        ));
    }

    #[test]
    fn hostile_kdf_costs_are_refused_before_deriving() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = Keypair::insecure_from_label("keystore-unit/k");
        let file = EncryptedKey::encrypt("k", &key, "pw", KdfParams::INSECURE_FAST).unwrap();
        let mut json: serde_json::Value = serde_json::to_value(&file).unwrap();
        json["kdf"]["m_cost_kib"] = serde_json::json!(u32::MAX);
        fs::write(&path, json.to_string()).unwrap();
        assert!(matches!(
            open(&path, "pw"),
            Err(KeyFileError::Corrupt { .. })
        ));
    }
}
