//! Fresh merchant keys, the key files that hold them, and the genesis of a
//! new alliance built from them.
//!
//! Each merchant gets two keys: an account key, which owns the merchant's
//! points and issues its tokens, and a validator key, which signs consensus
//! messages and is the node's libp2p identity. Seeds come from the operating
//! system's random source.

use std::path::{Path, PathBuf};

use merit_chain::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};

use crate::file::{GenesisFile, MerchantEntry};
use crate::fsutil::{self, FileError};
use crate::netaddr::{Host, P2pAddress, RpcAddress};
use crate::{Genesis, ValidationError};

/// The genesis file's name inside an output directory.
pub const GENESIS_FILE_NAME: &str = "genesis.json";

/// Largest key file read, in bytes.
pub const MAX_KEY_FILE_BYTES: usize = 16 * 1024;

/// The key file name of the merchant at `index` (0-based): `merchant-1.keys.json`, ….
pub fn key_file_name(index: usize) -> String {
    format!("merchant-{}.keys.json", index.saturating_add(1))
}

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(getrandom::Error);

/// A fresh 32-byte seed from the operating system.
fn random_seed() -> Result<[u8; 32], RandomError> {
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
    /// Signs consensus messages; the node's libp2p identity.
    pub validator: Keypair,
}

impl MerchantKeys {
    /// Two fresh random keys.
    pub fn generate(name: impl Into<String>) -> Result<Self, RandomError> {
        Ok(MerchantKeys {
            name: name.into(),
            account: Keypair::from_seed(random_seed()?),
            validator: Keypair::from_seed(random_seed()?),
        })
    }

    pub fn to_key_file(&self) -> KeyFile {
        KeyFile {
            name: self.name.clone(),
            account: self.account.public().to_bech32(),
            account_seed: hex::encode(self.account.seed()),
            validator_key: self.validator.public().to_bech32(),
            validator_seed: hex::encode(self.validator.seed()),
        }
    }

    /// Reads a key file and checks that each public key matches its seed.
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let text = fsutil::read_to_string_limited(path, MAX_KEY_FILE_BYTES)?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|source| FileError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        file.to_keys().map_err(|reason| FileError::BadKeyFile {
            path: path.to_path_buf(),
            reason,
        })
    }
}

/// A merchant's key file, `merchant-N.keys.json`. It holds secrets: it is
/// written with mode 0600 and belongs only on that merchant's machines.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub name: String,
    /// The account's public key (`mrt1…`), for checking.
    pub account: String,
    /// The account's 32-byte ed25519 seed, in hex. Secret.
    pub account_seed: String,
    /// The validator's public key (`mrt1…`), for checking.
    pub validator_key: String,
    /// The validator's 32-byte ed25519 seed, in hex. Secret.
    pub validator_seed: String,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("name", &self.name)
            .field("account", &self.account)
            .field("account_seed", &"<secret>")
            .field("validator_key", &self.validator_key)
            .field("validator_seed", &"<secret>")
            .finish()
    }
}

impl KeyFile {
    /// The keys, after checking each seed against its public key.
    pub fn to_keys(&self) -> Result<MerchantKeys, String> {
        let pair = |field: &str,
                    seed: &str,
                    public_field: &str,
                    public: &str|
         -> Result<Keypair, String> {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(seed, &mut bytes)
                .map_err(|_| format!("{field}: expected 64 hexadecimal digits"))?;
            let key = Keypair::from_seed(bytes);
            let claimed =
                PublicKey::from_bech32(public).map_err(|e| format!("{public_field}: {e}"))?;
            if key.public() != claimed {
                return Err(format!(
                    "{public_field}: {claimed} does not belong to {field}"
                ));
            }
            Ok(key)
        };
        Ok(MerchantKeys {
            name: self.name.clone(),
            account: pair("account_seed", &self.account_seed, "account", &self.account)?,
            validator: pair(
                "validator_seed",
                &self.validator_seed,
                "validator_key",
                &self.validator_key,
            )?,
        })
    }

    pub fn to_json_pretty(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
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
#[derive(Debug, Clone)]
pub struct NewNetwork {
    pub file: GenesisFile,
    pub genesis: Genesis,
    pub keys: Vec<MerchantKeys>,
}

impl NewNetwork {
    /// Lays out `keys` as the alliance, in order, with no tokens and no balances.
    pub fn plan(plan: &NetworkPlan, keys: Vec<MerchantKeys>) -> Result<Self, PlanError> {
        let p2p_ports = port_range("p2p", plan.p2p_base_port, keys.len())?;
        let rpc_ports = port_range("RPC", plan.rpc_base_port, keys.len())?;
        check_disjoint(&p2p_ports, &rpc_ports)?;
        let merchants = keys
            .iter()
            .zip(p2p_ports.iter().zip(&rpc_ports))
            .map(|(k, (p2p, rpc))| MerchantEntry {
                name: k.name.clone(),
                account: k.account.public().to_bech32(),
                validator_key: k.validator.public().to_bech32(),
                p2p_address: P2pAddress::new(plan.host.clone(), *p2p).to_string(),
                rpc_address: Some(RpcAddress::new(plan.host.clone(), *rpc).to_string()),
            })
            .collect();
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
        })
    }

    /// `count` merchants named "Merchant 1", "Merchant 2", …, each with fresh
    /// random keys.
    pub fn generate(plan: &NetworkPlan, count: usize) -> Result<Self, NewNetworkError> {
        let keys = (1..=count)
            .map(|i| MerchantKeys::generate(format!("Merchant {i}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::plan(plan, keys)?)
    }

    /// The files [`NewNetwork::write`] creates in `dir`, genesis first.
    pub fn paths(&self, dir: &Path) -> Vec<PathBuf> {
        std::iter::once(dir.join(GENESIS_FILE_NAME))
            .chain((0..self.keys.len()).map(|i| dir.join(key_file_name(i))))
            .collect()
    }

    /// Writes `genesis.json` and one key file per merchant (mode 0600 on
    /// unix) into `dir`, creating it if needed. Nothing is written if any of
    /// the files exists, unless `overwrite` is set. Returns the paths written.
    pub fn write(&self, dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, FileError> {
        let paths = self.paths(dir);
        std::fs::create_dir_all(dir).map_err(|e| FileError::io(dir, e))?;
        for path in &paths {
            fsutil::check_writable(path, overwrite)?;
        }
        // Key files first: a genesis without its keys would be useless.
        for (keys, path) in self.keys.iter().zip(&paths[1..]) {
            fsutil::write_new_file(
                path,
                keys.to_key_file().to_json_pretty().as_bytes(),
                overwrite,
                true,
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

    #[test]
    fn generated_keys_are_fresh_and_distinct() {
        let a = MerchantKeys::generate("A").unwrap();
        let b = MerchantKeys::generate("B").unwrap();
        let all = [
            a.account.public(),
            a.validator.public(),
            b.account.public(),
            b.validator.public(),
        ];
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn key_files_round_trip_and_catch_a_mismatched_public_key() {
        let keys = MerchantKeys::generate("Shop").unwrap();
        let file = keys.to_key_file();
        let back = file.to_keys().unwrap();
        assert_eq!(back.account.seed(), keys.account.seed());
        assert_eq!(back.validator.public(), keys.validator.public());
        assert_eq!(back.name, "Shop");

        let mut swapped = file.clone();
        swapped.validator_key = file.account.clone();
        assert!(
            swapped
                .to_keys()
                .unwrap_err()
                .starts_with("validator_key: "),
            "names the field"
        );
        let mut short = file.clone();
        short.account_seed.pop();
        assert!(
            short
                .to_keys()
                .unwrap_err()
                .starts_with("account_seed: expected 64 hexadecimal digits")
        );

        let debug = format!("{file:?}");
        assert!(
            !debug.contains(&file.account_seed) && !debug.contains(&file.validator_seed),
            "{debug}"
        );
    }

    #[test]
    fn a_plan_lays_out_consecutive_ports_and_validates() {
        let net = NewNetwork::generate(&plan(), 4).unwrap();
        assert_eq!(net.genesis.validators().len(), 4);
        assert_eq!(
            net.file.merchants[3].p2p_address,
            "/ip4/127.0.0.1/tcp/26604"
        );
        assert_eq!(
            net.file.merchants[3].rpc_address.as_deref(),
            Some("http://127.0.0.1:8548")
        );
        assert_eq!(net.file.merchants[0].name, "Merchant 1");
        assert!(net.file.tokens.is_empty() && net.file.balances.is_empty());
        for (m, k) in net.genesis.merchants().iter().zip(&net.keys) {
            assert_eq!(m.account, k.account.public());
            assert_eq!(m.validator_key, k.validator.public());
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
        let written = net.write(&out, false).unwrap();
        assert_eq!(
            written,
            vec![
                out.join("genesis.json"),
                out.join("merchant-1.keys.json"),
                out.join("merchant-2.keys.json")
            ]
        );
        let loaded = Genesis::load(&written[0]).unwrap();
        assert_eq!(loaded.hash(), net.genesis.hash());
        let keys = MerchantKeys::load(&written[2]).unwrap();
        assert_eq!(keys.validator.public(), net.genesis.validators()[1]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in &written[1..] {
                assert_eq!(
                    std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
                    0o600,
                    "{}",
                    p.display()
                );
            }
        }

        // A second network refuses to replace any of the files, and writes none.
        let other = NewNetwork::generate(&plan(), 3).unwrap();
        let err = other.write(&out, false).unwrap_err();
        assert!(
            matches!(&err, FileError::AlreadyExists { path } if path.ends_with("genesis.json")),
            "{err}"
        );
        assert!(
            !out.join("merchant-3.keys.json").exists(),
            "nothing is written after a refusal"
        );
        assert_eq!(
            Genesis::load(&written[0]).unwrap().hash(),
            net.genesis.hash()
        );

        other.write(&out, true).unwrap();
        assert_eq!(
            Genesis::load(&written[0]).unwrap().hash(),
            other.genesis.hash()
        );
    }
}
