//! Fresh merchant keys, the files that hold them, and the genesis of a new
//! alliance built from them.
//!
//! Each merchant gets an account key, which owns the merchant's points and
//! issues its tokens, and, if it runs a validator, a validator key, which
//! signs consensus messages, and a p2p key, the node's libp2p identity
//! (ADR 008). Seeds come from the operating system's random source.
//!
//! `merit-genesis keygen` writes one merchant's files on its own machine
//! ([`MerchantKeys::write`]); [`NewNetwork`] writes every merchant's files
//! on one machine, for tests and local trials only.

use std::path::{Path, PathBuf};

use merit_chain::Keypair;
use merit_chain::encoding::BoundedString;
use merit_chain::limits::{MAX_MERCHANT_NAME_BYTES, MAX_P2P_ADDRESS_BYTES};
use merit_chain::merchant::{MerchantRecord, ValidatorRecord};

use crate::file::{GenesisFile, MerchantEntry};
use crate::fsutil::{self, FileError};
use crate::keystore::{self, EncryptedKey, KdfParams, KeyFileError};
use crate::netaddr::{Host, P2pAddress, RpcAddress};
use crate::p2p_key::{self, P2P_KEY_FILE_NAME};
use crate::record::{MERCHANT_FILE_NAME, MerchantFile};
use crate::validate::{Problem, VerifiedMerchant};
use crate::{Genesis, ValidationError};

/// The genesis file's name inside an output directory.
pub const GENESIS_FILE_NAME: &str = "genesis.json";

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(getrandom::Error);

/// The validator key's file in a merchant's directory: encrypted at rest.
pub const VALIDATOR_KEY_FILE_NAME: &str = "validator_key.json";
/// The issuer (account) key's file in a merchant's directory: a `merit`
/// wallet key file.
pub const ISSUER_KEY_FILE_NAME: &str = "issuer.json";
/// The wallet key name written in the issuer key file.
pub const ISSUER_KEY_NAME: &str = "issuer";
/// The key name written in the validator key file.
pub const VALIDATOR_KEY_NAME: &str = "validator";

/// The directory of the merchant at `index` (0-based) that `merit-genesis
/// new` writes: `merchant-1`, `merchant-2`, ….
pub fn merchant_dir_name(index: usize) -> String {
    format!("merchant-{}", index.saturating_add(1))
}

/// A fresh 32-byte seed from the operating system.
pub(crate) fn random_seed() -> Result<[u8; 32], RandomError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(RandomError)?;
    Ok(seed)
}

/// One merchant's secret keys.
#[derive(Debug, Clone)]
pub struct MerchantKeys {
    pub name: String,
    /// Owns the merchant's points and issues its tokens.
    pub account: Keypair,
    /// The keys of its validator node, if it runs one.
    pub node: Option<NodeKeys>,
}

/// The keys of a validator node.
#[derive(Debug, Clone)]
pub struct NodeKeys {
    /// Signs consensus messages.
    pub validator: Keypair,
    /// The node's libp2p identity.
    pub p2p: Keypair,
}

impl MerchantKeys {
    /// Fresh random keys: an account key and, if `validator`, a validator
    /// key and a p2p key.
    pub fn generate(name: impl Into<String>, validator: bool) -> Result<Self, RandomError> {
        let node = if validator {
            Some(NodeKeys {
                validator: Keypair::from_seed(random_seed()?),
                p2p: Keypair::from_seed(random_seed()?),
            })
        } else {
            None
        };
        Ok(MerchantKeys {
            name: name.into(),
            account: Keypair::from_seed(random_seed()?),
            node,
        })
    }

    /// The merchant's record signed by every key, checked. A merchant with
    /// a validator needs its `p2p_address`; one without takes none.
    pub fn sign(
        &self,
        p2p_address: Option<&P2pAddress>,
    ) -> Result<VerifiedMerchant, ValidationError> {
        let invalid = |field: &str, problem: Problem| ValidationError {
            field: field.to_string(),
            problem,
        };
        let name = BoundedString::new(self.name.as_str()).map_err(|s| {
            invalid(
                "name",
                Problem::TooLong {
                    len: s.len(),
                    max: MAX_MERCHANT_NAME_BYTES,
                },
            )
        })?;
        let validator = match (&self.node, p2p_address) {
            (None, None) => None,
            (Some(node), Some(address)) => Some(ValidatorRecord {
                key: node.validator.public(),
                p2p_key: node.p2p.public(),
                p2p_address: BoundedString::new(address.to_string()).map_err(|s| {
                    invalid(
                        "p2p_address",
                        Problem::TooLong {
                            len: s.len(),
                            max: MAX_P2P_ADDRESS_BYTES,
                        },
                    )
                })?,
            }),
            (Some(_), None) => {
                return Err(invalid(
                    "p2p_address",
                    Problem::IncompleteValidator {
                        missing: "p2p_address",
                    },
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "validator_key",
                    Problem::IncompleteValidator {
                        missing: "validator_key",
                    },
                ));
            }
        };
        let record = MerchantRecord {
            name,
            account: self.account.public(),
            validator,
        };
        let signed = record.sign(
            &self.account,
            self.node.as_ref().map(|n| &n.validator),
            self.node.as_ref().map(|n| &n.p2p),
        );
        MerchantFile::from_signed(&signed).verify()
    }

    /// The files [`MerchantKeys::write`] creates in `dir`.
    pub fn paths(&self, dir: &Path) -> Vec<PathBuf> {
        self.paths_of(dir, true)
    }

    fn paths_of(&self, dir: &Path, issuer: bool) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        if self.node.is_some() {
            paths.push(dir.join(VALIDATOR_KEY_FILE_NAME));
            paths.push(dir.join(P2P_KEY_FILE_NAME));
        }
        if issuer {
            paths.push(dir.join(ISSUER_KEY_FILE_NAME));
        }
        paths.push(dir.join(MERCHANT_FILE_NAME));
        paths
    }

    /// Writes the merchant's files into `dir` (created with mode 0700 if
    /// missing): the validator key encrypted under `passwords.node`, the p2p
    /// key, the issuer key as a wallet key file encrypted under
    /// `passwords.issuer`, all mode 0600, and `merchant.json`, the signed
    /// public record. Nothing is written if any of the files exists, unless
    /// `overwrite` is set. Returns the paths written, in
    /// [`MerchantKeys::paths`] order.
    pub fn write(
        &self,
        dir: &Path,
        record: &VerifiedMerchant,
        passwords: &KeyPasswords<'_>,
        overwrite: bool,
    ) -> Result<Vec<PathBuf>, WriteKeysError> {
        self.write_files(dir, record, passwords, true, overwrite)
    }

    /// Like [`MerchantKeys::write`], but for a merchant that already has
    /// its issuer key (a validator key rotation): writes the node's keys
    /// and `merchant.json`, and no copy of the issuer key.
    /// `passwords.issuer` is not used.
    pub fn write_without_issuer(
        &self,
        dir: &Path,
        record: &VerifiedMerchant,
        passwords: &KeyPasswords<'_>,
        overwrite: bool,
    ) -> Result<Vec<PathBuf>, WriteKeysError> {
        self.write_files(dir, record, passwords, false, overwrite)
    }

    fn write_files(
        &self,
        dir: &Path,
        record: &VerifiedMerchant,
        passwords: &KeyPasswords<'_>,
        with_issuer: bool,
        overwrite: bool,
    ) -> Result<Vec<PathBuf>, WriteKeysError> {
        if record.account() != self.account.public() {
            return Err(WriteKeysError::NotTheseKeys);
        }
        let paths = self.paths_of(dir, with_issuer);
        keystore::create_private_dir(dir)?;
        for path in &paths {
            fsutil::check_writable(path, overwrite)?;
        }
        // Encrypt everything before writing anything: a failure leaves no
        // half-written directory.
        let issuer = if with_issuer {
            Some(EncryptedKey::encrypt(
                ISSUER_KEY_NAME,
                &self.account,
                passwords.issuer,
                passwords.kdf,
            )?)
        } else {
            None
        };
        let validator = match &self.node {
            Some(node) => Some(EncryptedKey::encrypt(
                VALIDATOR_KEY_NAME,
                &node.validator,
                passwords.node,
                passwords.kdf,
            )?),
            None => None,
        };
        if let (Some(node), Some(validator)) = (&self.node, &validator) {
            validator.write(&dir.join(VALIDATOR_KEY_FILE_NAME), overwrite)?;
            p2p_key::write_p2p_key(&dir.join(P2P_KEY_FILE_NAME), &node.p2p, overwrite)?;
        }
        if let Some(issuer) = issuer {
            issuer.write(&dir.join(ISSUER_KEY_FILE_NAME), overwrite)?;
        }
        fsutil::write_new_file(
            &dir.join(MERCHANT_FILE_NAME),
            MerchantFile::from_signed(&record.signed)
                .to_json_pretty()
                .as_bytes(),
            overwrite,
            false,
        )?;
        Ok(paths)
    }
}

/// The passwords that encrypt a merchant's key files.
#[derive(Clone, Copy)]
pub struct KeyPasswords<'a> {
    /// Encrypts the validator key; the node needs it to start.
    pub node: &'a str,
    /// Encrypts the issuer key; the wallet asks for it.
    pub issuer: &'a str,
    /// argon2id costs: [`KdfParams::DEFAULT`] for every real key.
    pub kdf: KdfParams,
}

impl std::fmt::Debug for KeyPasswords<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPasswords")
            .field("node", &"<secret>")
            .field("issuer", &"<secret>")
            .field("kdf", &self.kdf)
            .finish()
    }
}

/// Why a merchant's key files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteKeysError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error("the record is not signed by these keys")]
    NotTheseKeys,
}

/// How to lay out a new alliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPlan {
    pub chain_id: String,
    pub genesis_time_ms: u64,
    /// The host every validator's p2p and RPC address uses.
    pub host: Host,
    /// Merchant `i` (0-based) listens for peers on `p2p_base_port + i`.
    pub p2p_base_port: u16,
    /// Merchant `i` serves JSON-RPC on `rpc_base_port + i`.
    pub rpc_base_port: u16,
}

/// Why a plan cannot be laid out.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{count} {what} ports starting at {base} do not fit in the range 1 to 65535")]
    PortOverflow {
        what: &'static str,
        base: u16,
        count: usize,
    },
    #[error(
        "the p2p ports {p2p_first}-{p2p_last} and the RPC ports {rpc_first}-{rpc_last} overlap"
    )]
    PortsOverlap {
        p2p_first: u16,
        p2p_last: u16,
        rpc_first: u16,
        rpc_last: u16,
    },
    #[error("invalid genesis: {0}")]
    Invalid(#[from] ValidationError),
}

/// The ports `base`, `base + 1`, … for `count` merchants, all from 1 to 65535.
pub(crate) fn port_range(
    what: &'static str,
    base: u16,
    count: usize,
) -> Result<Vec<u16>, PlanError> {
    (0..count)
        .map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| base.checked_add(i))
                .filter(|p| *p != 0)
                .ok_or(PlanError::PortOverflow { what, base, count })
        })
        .collect()
}

/// Checks that two port ranges from [`port_range`] are disjoint.
pub(crate) fn check_disjoint(p2p: &[u16], rpc: &[u16]) -> Result<(), PlanError> {
    if let (Some(&p2p_first), Some(&p2p_last), Some(&rpc_first), Some(&rpc_last)) =
        (p2p.first(), p2p.last(), rpc.first(), rpc.last())
        && p2p_first <= rpc_last
        && rpc_first <= p2p_last
    {
        return Err(PlanError::PortsOverlap {
            p2p_first,
            p2p_last,
            rpc_first,
            rpc_last,
        });
    }
    Ok(())
}

/// A new alliance: its genesis file, validated, and every merchant's keys.
/// For tests and local trials: whoever holds it holds every merchant's
/// secrets.
#[derive(Debug, Clone)]
pub struct NewNetwork {
    pub file: GenesisFile,
    pub genesis: Genesis,
    pub keys: Vec<MerchantKeys>,
    /// Each merchant's signed record, in order.
    pub records: Vec<VerifiedMerchant>,
}

impl NewNetwork {
    /// Lays out `keys` as the alliance, in order, with no tokens and no
    /// balances. Every merchant runs a validator.
    pub fn plan(plan: &NetworkPlan, keys: Vec<MerchantKeys>) -> Result<Self, PlanError> {
        let p2p_ports = port_range("p2p", plan.p2p_base_port, keys.len())?;
        let rpc_ports = port_range("RPC", plan.rpc_base_port, keys.len())?;
        check_disjoint(&p2p_ports, &rpc_ports)?;
        let mut records = Vec::with_capacity(keys.len());
        let mut merchants = Vec::with_capacity(keys.len());
        for (i, (k, (p2p, rpc))) in keys
            .iter()
            .zip(p2p_ports.iter().zip(&rpc_ports))
            .enumerate()
        {
            let p2p_address = P2pAddress::new(plan.host.clone(), *p2p);
            let record = k.sign(Some(&p2p_address)).map_err(|e| ValidationError {
                field: format!("merchants[{i}].{}", e.field),
                problem: e.problem,
            })?;
            merchants.push(MerchantEntry::new(
                MerchantFile::from_signed(&record.signed),
                Some(RpcAddress::new(plan.host.clone(), *rpc).to_string()),
            ));
            records.push(record);
        }
        let file = GenesisFile {
            chain_id: plan.chain_id.clone(),
            genesis_time_ms: plan.genesis_time_ms,
            merchants,
            tokens: Vec::new(),
            balances: Vec::new(),
            consensus: Default::default(),
        };
        let genesis = file.validate()?;
        Ok(NewNetwork {
            file,
            genesis,
            keys,
            records,
        })
    }

    /// `count` merchants named "Merchant 1", "Merchant 2", …, each with fresh
    /// random keys and a validator.
    pub fn generate(plan: &NetworkPlan, count: usize) -> Result<Self, NewNetworkError> {
        let keys = (1..=count)
            .map(|i| MerchantKeys::generate(format!("Merchant {i}"), true))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::plan(plan, keys)?)
    }

    /// The files [`NewNetwork::write`] creates in `dir`, genesis first, then
    /// each merchant's in `dir/merchant-N/`.
    pub fn paths(&self, dir: &Path) -> Vec<PathBuf> {
        std::iter::once(dir.join(GENESIS_FILE_NAME))
            .chain(
                self.keys
                    .iter()
                    .enumerate()
                    .flat_map(|(i, k)| k.paths(&dir.join(merchant_dir_name(i)))),
            )
            .collect()
    }

    /// Writes `genesis.json` and, for each merchant N, the files of
    /// `merit-genesis keygen` into `dir/merchant-N/` (key files mode 0600),
    /// creating directories as needed. Nothing is written if any of the
    /// files exists, unless `overwrite` is set. Returns the paths written.
    pub fn write(
        &self,
        dir: &Path,
        passwords: &KeyPasswords<'_>,
        overwrite: bool,
    ) -> Result<Vec<PathBuf>, WriteKeysError> {
        let paths = self.paths(dir);
        std::fs::create_dir_all(dir).map_err(|e| FileError::io(dir, e))?;
        for path in &paths {
            fsutil::check_writable(path, overwrite)?;
        }
        // Key files first: a genesis without its keys would be useless.
        for (i, (keys, record)) in self.keys.iter().zip(&self.records).enumerate() {
            keys.write(
                &dir.join(merchant_dir_name(i)),
                record,
                passwords,
                overwrite,
            )?;
        }
        fsutil::write_new_file(
            &paths[0],
            self.file.to_json_pretty().as_bytes(),
            overwrite,
            false,
        )?;
        Ok(paths)
    }
}

/// Why a new alliance could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NewNetworkError {
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn plan() -> NetworkPlan {
        NetworkPlan {
            chain_id: "merit-test".into(),
            genesis_time_ms: 1_000,
            host: Host::Ip4(Ipv4Addr::LOCALHOST),
            p2p_base_port: 26601,
            rpc_base_port: 8545,
        }
    }

    const PASSWORDS: KeyPasswords<'static> = KeyPasswords {
        node: "node pw",
        issuer: "issuer pw",
        kdf: KdfParams::INSECURE_FAST,
    };

    #[test]
    fn generated_keys_are_fresh_and_distinct() {
        let a = MerchantKeys::generate("A", true).unwrap();
        let b = MerchantKeys::generate("B", true).unwrap();
        let mut all = Vec::new();
        for k in [&a, &b] {
            let node = k.node.as_ref().unwrap();
            all.extend([
                k.account.public(),
                node.validator.public(),
                node.p2p.public(),
            ]);
        }
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), 6);
        assert!(MerchantKeys::generate("C", false).unwrap().node.is_none());
    }

    #[test]
    fn a_merchant_with_a_validator_needs_a_p2p_address_and_one_without_takes_none() {
        let with = MerchantKeys::generate("With", true).unwrap();
        let err = with.sign(None).unwrap_err().to_string();
        assert!(err.contains("p2p_address is missing"), "{err}");
        let addr = P2pAddress::new(Host::Ip4(Ipv4Addr::LOCALHOST), 26601);
        let signed = with.sign(Some(&addr)).unwrap();
        assert_eq!(signed.validator.unwrap().p2p_address, addr);
        let without = MerchantKeys::generate("Without", false).unwrap();
        assert!(without.sign(Some(&addr)).is_err());
        assert!(without.sign(None).unwrap().validator.is_none());
    }

    #[test]
    fn a_plan_lays_out_consecutive_ports_and_validates() {
        let net = NewNetwork::generate(&plan(), 4).unwrap();
        assert_eq!(net.genesis.validators().len(), 4);
        assert_eq!(
            net.file.merchants[3].p2p_address.as_deref(),
            Some("/ip4/127.0.0.1/tcp/26604")
        );
        assert_eq!(
            net.file.merchants[3].rpc_address.as_deref(),
            Some("http://127.0.0.1:8548")
        );
        assert_eq!(net.file.merchants[0].name, "Merchant 1");
        assert!(net.file.tokens.is_empty() && net.file.balances.is_empty());
        for (m, k) in net.genesis.merchants().iter().zip(&net.keys) {
            let node = k.node.as_ref().unwrap();
            let v = m.validator.as_ref().unwrap();
            assert_eq!(m.account, k.account.public());
            assert_eq!(v.key, node.validator.public());
            assert_eq!(v.p2p_key, node.p2p.public());
        }
    }

    #[test]
    fn a_plan_refuses_ports_past_the_end_or_overlapping() {
        let mut p = plan();
        p.p2p_base_port = 65534;
        let err = NewNetwork::generate(&p, 4).unwrap_err().to_string();
        assert!(
            err.contains("4 p2p ports starting at 65534 do not fit in the range 1 to 65535"),
            "{err}"
        );
        let mut p = plan();
        p.rpc_base_port = 26603;
        let err = NewNetwork::generate(&p, 4).unwrap_err().to_string();
        assert!(err.contains("overlap"), "{err}");
        let mut p = plan();
        p.chain_id = String::new();
        let err = NewNetwork::generate(&p, 1).unwrap_err().to_string();
        assert!(err.contains("chain_id: must not be empty"), "{err}");
    }

    #[test]
    fn writing_creates_private_key_files_and_never_overwrites_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        let net = NewNetwork::generate(&plan(), 2).unwrap();
        let written = net.write(&out, &PASSWORDS, false).unwrap();
        let m2 = out.join("merchant-2");
        assert_eq!(written[0], out.join("genesis.json"));
        assert!(written.contains(&m2.join("validator_key.json")));
        assert!(written.contains(&m2.join("merchant.json")));
        assert_eq!(written.len(), 1 + 2 * 4);
        let loaded = Genesis::load(&written[0]).unwrap();
        assert_eq!(loaded.hash(), net.genesis.hash());

        let validator = keystore::open(&m2.join("validator_key.json"), "node pw").unwrap();
        assert_eq!(validator.public(), net.genesis.validators()[1]);
        assert!(keystore::open(&m2.join("validator_key.json"), "issuer pw").is_err());
        let issuer = keystore::open(&m2.join("issuer.json"), "issuer pw").unwrap();
        assert_eq!(issuer.public(), net.genesis.merchants()[1].account);
        let p2p = p2p_key::load_p2p_key(&m2.join("p2p_key.json")).unwrap();
        assert_eq!(
            Some(p2p.public()),
            net.genesis.merchants()[1]
                .validator
                .as_ref()
                .map(|v| v.p2p_key)
        );
        let record = MerchantFile::load(&m2.join("merchant.json")).unwrap();
        assert_eq!(record, net.file.merchants[1].record());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for name in ["validator_key.json", "p2p_key.json", "issuer.json"] {
                let p = m2.join(name);
                assert_eq!(
                    std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                    0o600,
                    "{}",
                    p.display()
                );
            }
        }

        // A second network refuses to replace any of the files, and writes none.
        let other = NewNetwork::generate(&plan(), 3).unwrap();
        let err = other.write(&out, &PASSWORDS, false).unwrap_err();
        assert!(
            matches!(&err, WriteKeysError::File(FileError::AlreadyExists { path }) if path.ends_with("genesis.json")),
            "{err}"
        );
        assert!(
            !out.join("merchant-3").exists(),
            "nothing is written after a refusal"
        );
        assert_eq!(
            Genesis::load(&written[0]).unwrap().hash(),
            net.genesis.hash()
        );

        other.write(&out, &PASSWORDS, true).unwrap();
        assert_eq!(
            Genesis::load(&written[0]).unwrap().hash(),
            other.genesis.hash()
        );
    }
}
