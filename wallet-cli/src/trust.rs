//! What the wallet checks instead of believing its node (DESIGN §10).
//!
//! A chain is pinned once, from its genesis file (`merit chain add NAME
//! --genesis FILE`), from the first node asked (`--rpc URL`, trust on first
//! use), or, for the devnet, by `merit keys import-devnet`. The pin holds
//! the genesis validator set; every later set is learned only from a proof
//! by the set before it (`merit_getValidatorChanges`), and kept with that
//! proof. The wallet then checks, with the pure verifier of
//! `merit_chain::proof`, what it relies on: balances, token metadata (the
//! decimals above all, before "12.50" becomes base units) and the outcome
//! of each transaction it sends.
//!
//! A failed check is an [`Untrusted`] error naming the node, exit code 5.
//! Two certified blocks at one height are a [`ForkFound`]: both are saved
//! next to the pin as evidence, and the wallet stops with exit code 5.
//!
//! Pins live in `$MERIT_HOME/chains/NAME.json`, with the last verified
//! header as a checkpoint: a node that serves an older state as the
//! current one is refused.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use merit_api::{StateProof, TxProofInfo, ValidatorChange, method};
use merit_chain::block::{BlockHeader, CommitCertificate};
use merit_chain::encoding::{self, Decode};
use merit_chain::governance::ValidatorList;
use merit_chain::light::{LightClient, LightError, SetChange, TxProof, verify_tx_proof};
use merit_chain::proof::{
    EntriesProof, Freshness, VerifyError, proof_max_age_ms, verify_holdings, verify_sub_accounts,
    verify_token,
};
use merit_chain::state::{Holding, TokenInfo};
use merit_chain::tx::AccountRef;
use merit_chain::{Address, Receipt, Symbol};
use merit_genesis::Genesis;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::usage;
use crate::keystore::check_name;
use crate::rpc::RpcClient;

/// Environment variable naming the pinned chain, for `--chain`.
pub const ENV_CHAIN: &str = "MERIT_CHAIN";
/// The name `merit keys import-devnet` pins the devnet under.
pub const DEVNET_CHAIN_NAME: &str = "devnet";
/// How long a pin may go without a verified block before it needs a fresh
/// checkpoint: validators that left the alliance longer ago than this may
/// no longer guard their old keys, so a history they sign is not followed.
pub const TRUSTING_PERIOD_MS: u64 = 14 * 86_400_000;
/// Most validator changes one `merit_getValidatorChanges` page holds.
const CHANGES_PAGE: usize = merit_api::params::MAX_VALIDATOR_CHANGES_PAGE;
/// Largest encoded validator list, header or certificate the wallet reads.
const MAX_PART_BYTES: usize = 1024 * 1024;

/// The node said something its own proofs, or the alliance's signatures,
/// contradict. Exits 5.
#[derive(Debug, thiserror::Error)]
#[error("the node at {node} cannot be trusted: {what}")]
pub struct Untrusted {
    pub node: String,
    pub what: String,
}

/// Two blocks at one height, each certified by a quorum of the set in
/// force. Exits 5; both are saved at `path`.
#[derive(Debug, thiserror::Error)]
#[error(
    "two different blocks at height {height} are both certified by the alliance ({first} from \
     earlier, {second} from the node at {node}); stopping. Both are saved in {}",
    path.display()
)]
pub struct ForkFound {
    pub height: u64,
    pub first: String,
    pub second: String,
    pub node: String,
    pub path: PathBuf,
}

/// A validator set the wallet holds, with the proof it learned it from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedSet {
    /// The first height the set signs.
    pub from_height: u64,
    /// The set: a `ValidatorList`, canonical bytes in hex.
    pub validators: String,
    /// The last header of the set before, and its certificate (hex); none
    /// for the set the pin started from.
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub certificate: Option<String>,
}

/// The last header the wallet verified, with its certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub height: u64,
    pub hash: String,
    /// Canonical bytes in hex, kept as evidence should a fork appear.
    pub header: String,
    pub certificate: String,
}

/// A pinned chain, as `$MERIT_HOME/chains/NAME.json` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedChain {
    pub name: String,
    pub chain_id: String,
    /// The genesis hash the chain was pinned with; `null` for the built-in
    /// devnet, whose file differs with its ports.
    pub genesis_hash: Option<String>,
    /// The chain's heartbeat: a proof of the current state older than
    /// `PROOF_MAX_AGE_HEARTBEATS` of it is refused.
    pub heartbeat_ms: u64,
    /// How it was pinned, for `merit chain list`.
    pub source: String,
    /// Every set learned, oldest first.
    pub sets: Vec<PinnedSet>,
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
}

impl PinnedChain {
    /// A pin from a validated genesis file.
    pub fn from_genesis(
        name: &str,
        genesis: &Genesis,
        source: String,
        with_hash: bool,
    ) -> Result<PinnedChain> {
        let (ledger, _) = genesis
            .ledger()
            .context("the genesis file does not build a ledger")?;
        let set = ledger
            .validators_at(1)
            .context("the genesis has no validator set")?;
        Ok(PinnedChain {
            name: name.to_string(),
            chain_id: genesis.chain_id().to_string(),
            genesis_hash: with_hash.then(|| genesis.hash().to_hex()),
            heartbeat_ms: genesis.consensus_params().heartbeat_ms,
            source,
            sets: vec![PinnedSet {
                from_height: 1,
                validators: hex::encode(encoding::encode(set)),
                header: None,
                certificate: None,
            }],
            checkpoint: None,
        })
    }

    /// The last height of a set the wallet has learned.
    pub fn last_change(&self) -> u64 {
        self.sets.last().map_or(1, |s| s.from_height)
    }
}

/// The directory of pins: `$MERIT_HOME/chains`.
#[derive(Debug, Clone)]
pub struct Chains {
    dir: PathBuf,
}

impl Chains {
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Chains { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_of(&self, name: &str) -> Result<PathBuf> {
        check_name(name).map_err(|_| {
            usage(format!(
                "bad chain name `{name}`: use letters, digits, '-' and '_'"
            ))
        })?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path_of(name).is_ok_and(|p| p.exists())
    }

    pub fn load(&self, name: &str) -> Result<PinnedChain> {
        let path = self.path_of(name)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                usage(format!(
                    "no chain named `{name}` is pinned (see `merit chain list`)"
                ))
            } else {
                anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
            }
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a pin", path.display()))
    }

    /// Writes a pin through a temporary file, so a crash never leaves half
    /// of one.
    pub fn save(&self, chain: &PinnedChain) -> Result<()> {
        let path = self.path_of(&chain.name)?;
        self.write(&path, &serde_json::to_string_pretty(chain)?)
    }

    /// Saves what a run learned without undoing what another run of the
    /// wallet saved meanwhile (terminals run at once): the later
    /// checkpoint and the longer list of sets win.
    pub fn update(&self, chain: &PinnedChain) -> Result<()> {
        let mut merged = chain.clone();
        if let Ok(saved) = self.load(&chain.name)
            && saved.chain_id == chain.chain_id
        {
            if saved.sets.len() > merged.sets.len() && saved.sets.starts_with(&merged.sets) {
                merged.sets = saved.sets;
            }
            let theirs = saved.checkpoint.as_ref().map_or(0, |c| c.height);
            let ours = merged.checkpoint.as_ref().map_or(0, |c| c.height);
            if theirs > ours {
                merged.checkpoint = saved.checkpoint;
            }
        }
        self.save(&merged)
    }

    fn write(&self, path: &Path, text: &str) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        // One temporary file per process: runs of the wallet may save at once.
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Every pin, by name. Files that are not pins are skipped.
    pub fn list(&self) -> Result<Vec<PinnedChain>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot read {}", self.dir.display()))
                );
            }
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            if check_name(name).is_ok()
                && let Ok(chain) = self.load(name)
            {
                out.push(chain);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn decode_hex<T: Decode<()>>(what: &str, text: &str) -> Result<T, String> {
    let bytes = hex::decode(text).map_err(|e| format!("its {what} is not hex: {e}"))?;
    encoding::decode(&bytes, MAX_PART_BYTES).map_err(|e| format!("its {what} does not decode: {e}"))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Checks what one node says against one pinned chain.
#[derive(Debug)]
pub struct Verifier {
    node: String,
    chains: Chains,
    chain: RefCell<PinnedChain>,
    client: RefCell<LightClient>,
    followed: Cell<bool>,
    /// The headers verified in this run, for fork evidence.
    seen: RefCell<BTreeMap<u64, (BlockHeader, CommitCertificate)>>,
}

impl Verifier {
    /// A verifier of `chain` for the node at `node`: the sets the pin holds
    /// are followed again from their proofs.
    pub fn new(node: &str, chains: Chains, chain: PinnedChain) -> Result<Verifier> {
        let broken = |what: String| anyhow::anyhow!("the pin of chain `{}` {what}", chain.name);
        if let Some(cp) = &chain.checkpoint {
            let header: BlockHeader = decode_hex("checkpoint", &cp.header).map_err(broken)?;
            let age = now_ms().saturating_sub(header.timestamp_ms);
            if age > TRUSTING_PERIOD_MS {
                return Err(usage(format!(
                    "chain `{}` was last verified at block {} {} days ago, past the {}-day \
                     trusting period: get the hash of a recent block from a source you trust \
                     (not this node) and run `merit chain checkpoint {} --height H --hash HASH`",
                    chain.name,
                    cp.height,
                    age / 86_400_000,
                    TRUSTING_PERIOD_MS / 86_400_000,
                    chain.name
                )));
            }
        }
        let first = chain
            .sets
            .first()
            .ok_or_else(|| broken("holds no set".into()))?;
        let set: ValidatorList = decode_hex("first set", &first.validators).map_err(broken)?;
        let chain_id = merit_chain::tx::ChainId::new(chain.chain_id.clone())
            .map_err(|_| broken(format!("has a bad chain id `{}`", chain.chain_id)))?;
        let mut client = LightClient::new(chain_id, first.from_height, set)
            .map_err(|e| broken(e.to_string()))?;
        for s in &chain.sets[1..] {
            let change = pinned_change(s).map_err(broken)?;
            client
                .follow(&change)
                .map_err(|e| broken(format!("has a set change that does not verify: {e}")))?;
        }
        Ok(Verifier {
            node: node.to_string(),
            chains,
            chain: RefCell::new(chain),
            client: RefCell::new(client),
            followed: Cell::new(false),
            seen: RefCell::new(BTreeMap::new()),
        })
    }

    pub fn chain_name(&self) -> String {
        self.chain.borrow().name.clone()
    }

    fn untrusted(&self, what: impl Into<String>) -> anyhow::Error {
        Untrusted {
            node: self.node.clone(),
            what: what.into(),
        }
        .into()
    }

    /// Learns the validator changes since the pin's last set, each from the
    /// proof of the set before. Once per run.
    pub fn follow(&self, rpc: &RpcClient) -> Result<()> {
        if self.followed.get() {
            return Ok(());
        }
        loop {
            let from = self.chain.borrow().last_change() + 1;
            let changes: Vec<ValidatorChange> =
                rpc.call(method::GET_VALIDATOR_CHANGES, json!([from]))?;
            let full = changes.len() >= CHANGES_PAGE;
            let mut learned = false;
            for c in changes {
                let pinned = PinnedSet {
                    from_height: c.height,
                    validators: c.set.bytes.clone(),
                    header: Some(c.header.clone()),
                    certificate: Some(c.certificate.clone()),
                };
                let change = pinned_change(&pinned).map_err(|e| {
                    self.untrusted(format!("the validator change at height {}: {e}", c.height))
                })?;
                self.client.borrow_mut().follow(&change).map_err(|e| {
                    self.untrusted(format!(
                        "its validator change at height {} does not verify: {e}",
                        c.height
                    ))
                })?;
                self.chain.borrow_mut().sets.push(pinned);
                learned = true;
            }
            if learned {
                self.chains.update(&self.chain.borrow())?;
            }
            if !full || !learned {
                break;
            }
        }
        self.followed.set(true);
        Ok(())
    }

    fn current(&self) -> Freshness {
        Freshness::Current {
            now_ms: now_ms(),
            max_age_ms: proof_max_age_ms(self.chain.borrow().heartbeat_ms),
        }
    }

    /// Turns a verifier error into the wallet's: a fork is saved and
    /// stops the wallet; anything else names the node.
    fn refused(
        &self,
        e: VerifyError,
        header: &BlockHeader,
        cert: &CommitCertificate,
    ) -> anyhow::Error {
        if let VerifyError::Header(LightError::Fork { height, .. }) = &e {
            let first = self.seen.borrow().get(height).cloned();
            if let Some((h, c)) = first {
                return self.fork(&h, &c, header, cert);
            }
        }
        self.untrusted(e.to_string())
    }

    /// Records a verified header: two certified blocks at one height are a
    /// fork; as the current state, one older than the checkpoint is a
    /// replay. A newer one becomes the checkpoint.
    fn accept(&self, header: &BlockHeader, cert: &CommitCertificate, current: bool) -> Result<()> {
        let hash = header.hash();
        let checkpoint = self.chain.borrow().checkpoint.clone();
        if let Some(cp) = &checkpoint {
            if cp.height == header.height && cp.hash != hash.to_hex() {
                let (Ok(h), Ok(c)) = (
                    decode_hex::<BlockHeader>("header", &cp.header),
                    decode_hex::<CommitCertificate>("certificate", &cp.certificate),
                ) else {
                    return Err(anyhow::anyhow!(
                        "the checkpoint of chain `{}` is unreadable",
                        self.chain_name()
                    ));
                };
                return Err(self.fork(&h, &c, header, cert));
            }
            if current && header.height < cp.height {
                return Err(self.untrusted(format!(
                    "it serves block {} as the current state, older than block {} this wallet \
                     already verified (an old state replayed)",
                    header.height, cp.height
                )));
            }
        }
        self.seen
            .borrow_mut()
            .insert(header.height, (header.clone(), cert.clone()));
        if checkpoint.is_none_or(|cp| header.height > cp.height) {
            self.chain.borrow_mut().checkpoint = Some(Checkpoint {
                height: header.height,
                hash: hash.to_hex(),
                header: hex::encode(encoding::encode(header)),
                certificate: hex::encode(encoding::encode(cert)),
            });
            self.chains.update(&self.chain.borrow())?;
        }
        Ok(())
    }

    /// Saves both certified blocks of one height next to the pin.
    fn fork(
        &self,
        first: &BlockHeader,
        first_cert: &CommitCertificate,
        second: &BlockHeader,
        second_cert: &CommitCertificate,
    ) -> anyhow::Error {
        let height = second.height;
        let name = self.chain_name();
        let path = self.chains.dir().join(format!("{name}.fork-{height}.json"));
        let part = |h: &BlockHeader, c: &CommitCertificate| {
            json!({
                "hash": h.hash().to_hex(),
                "header": hex::encode(encoding::encode(h)),
                "certificate": hex::encode(encoding::encode(c)),
            })
        };
        let evidence = json!({
            "chain": name,
            "height": height,
            "node": self.node,
            "first": part(first, first_cert),
            "second": part(second, second_cert),
        });
        if let Err(e) = serde_json::to_string_pretty(&evidence)
            .map_err(anyhow::Error::from)
            .and_then(|text| self.chains.write(&path, &text))
        {
            return e.context("a fork was found, and its evidence could not be saved");
        }
        ForkFound {
            height,
            first: first.hash().to_hex(),
            second: second.hash().to_hex(),
            node: self.node.clone(),
            path,
        }
        .into()
    }

    fn entries_proof(&self, answer: &StateProof) -> Result<EntriesProof> {
        let bytes = hex::decode(&answer.proof)
            .map_err(|e| self.untrusted(format!("its proof is not hex: {e}")))?;
        EntriesProof::from_bytes(&bytes)
            .map_err(|e| self.untrusted(format!("its proof does not decode: {e}")))
    }

    /// `account`'s holdings in `tokens` at the current state, proven.
    pub fn holdings(
        &self,
        rpc: &RpcClient,
        account: &AccountRef,
        tokens: &[Symbol],
    ) -> Result<(Vec<(Symbol, Holding)>, BlockHeader)> {
        self.follow(rpc)?;
        let answer: StateProof = rpc.call(
            method::GET_PROOF,
            json!([
                account.address.to_bech32(),
                proof_options(account, tokens, None)
            ]),
        )?;
        let proof = self.entries_proof(&answer)?;
        let held = verify_holdings(
            &mut self.client.borrow_mut(),
            &proof,
            &account.address,
            account.sub,
            tokens,
            self.current(),
        )
        .map_err(|e| self.refused(e, &proof.header, &proof.certificate))?;
        self.accept(&proof.header, &proof.certificate, true)?;
        Ok((held, proof.header))
    }

    /// `account`'s holdings in `tokens` after block `height`, proven against
    /// that block's certificate (the node keeps the recent blocks and each
    /// UTC day's last block). Height 0 is the genesis state, proven under
    /// the genesis header a certified block 1 names as its parent.
    pub fn holdings_at(
        &self,
        rpc: &RpcClient,
        account: &AccountRef,
        tokens: &[Symbol],
        height: u64,
    ) -> Result<(Vec<(Symbol, Holding)>, BlockHeader)> {
        self.follow(rpc)?;
        let freshness = if height == 0 {
            let block1 = self
                .header_at(rpc, 1)?
                .ok_or_else(|| self.untrusted("it has no block 1 to tie the genesis state to"))?;
            Freshness::Genesis(block1.parent_hash)
        } else {
            Freshness::AtHeight(height)
        };
        let answer: StateProof = rpc.call(
            method::GET_PROOF,
            json!([
                account.address.to_bech32(),
                proof_options(account, tokens, Some(height))
            ]),
        )?;
        let proof = self.entries_proof(&answer)?;
        let held = verify_holdings(
            &mut self.client.borrow_mut(),
            &proof,
            &account.address,
            account.sub,
            tokens,
            freshness,
        )
        .map_err(|e| self.refused(e, &proof.header, &proof.certificate))?;
        if height > 0 {
            self.accept(&proof.header, &proof.certificate, false)?;
        }
        Ok((held, proof.header))
    }

    /// How many sub-accounts `owner` has opened at the current state,
    /// proven: its sub-accounts are exactly `1..=` that.
    pub fn sub_accounts(&self, rpc: &RpcClient, owner: &Address) -> Result<(u32, BlockHeader)> {
        self.follow(rpc)?;
        let answer: StateProof = rpc.call(
            method::GET_PROOF,
            json!([owner.to_bech32(), {"sub_accounts": true}]),
        )?;
        let proof = self.entries_proof(&answer)?;
        let count =
            verify_sub_accounts(&mut self.client.borrow_mut(), &proof, owner, self.current())
                .map_err(|e| self.refused(e, &proof.header, &proof.certificate))?;
        self.accept(&proof.header, &proof.certificate, true)?;
        Ok((count, proof.header))
    }

    /// The header of block `height`, checked against its certificate;
    /// `None` if the node has no such block yet.
    pub fn header_at(&self, rpc: &RpcClient, height: u64) -> Result<Option<BlockHeader>> {
        self.follow(rpc)?;
        let answer: Option<merit_api::Block> =
            rpc.call(method::GET_BLOCK, json!([height, {"full": true}]))?;
        let Some(bytes) = answer.and_then(|b| b.bytes) else {
            return Ok(None);
        };
        let header: BlockHeader = decode_hex("header", &bytes.header)
            .map_err(|e| self.untrusted(format!("block {height}: {e}")))?;
        let Some(cert) = bytes.certificate else {
            return Err(self.untrusted(format!("it serves block {height} without its certificate")));
        };
        let cert: CommitCertificate = decode_hex("certificate", &cert)
            .map_err(|e| self.untrusted(format!("block {height}: {e}")))?;
        if header.height != height {
            return Err(self.untrusted(format!(
                "it serves block {} when asked for block {height}",
                header.height
            )));
        }
        self.client
            .borrow_mut()
            .verify_header(&header, &cert)
            .map_err(|e| self.refused(VerifyError::Header(e), &header, &cert))?;
        self.accept(&header, &cert, false)?;
        Ok(Some(header))
    }

    /// Transaction `hash` with its certified receipt and block header;
    /// `None` if the node serves no proof of it.
    pub fn proven_tx(
        &self,
        rpc: &RpcClient,
        hash: &merit_chain::Hash32,
    ) -> Result<Option<(merit_chain::Transaction, Receipt, BlockHeader)>> {
        self.follow(rpc)?;
        let answer: Option<TxProofInfo> = rpc.call(method::GET_TX_PROOF, json!([hash.to_hex()]))?;
        let Some(answer) = answer else {
            return Ok(None);
        };
        let bytes = hex::decode(&answer.proof)
            .map_err(|e| self.untrusted(format!("its transaction proof is not hex: {e}")))?;
        let proof = TxProof::from_bytes(&bytes)
            .map_err(|e| self.untrusted(format!("its transaction proof does not decode: {e}")))?;
        let receipt = verify_tx_proof(&mut self.client.borrow_mut(), hash, &proof)
            .map_err(|e| self.refused(VerifyError::Header(e), &proof.header, &proof.certificate))?
            .clone();
        self.accept(&proof.header, &proof.certificate, false)?;
        Ok(Some((proof.tx, receipt, proof.header)))
    }

    /// Token `symbol`'s entry at the current state, proven, with the
    /// node's readable copy of it; `None` if the token does not exist.
    pub fn token(
        &self,
        rpc: &RpcClient,
        symbol: &Symbol,
    ) -> Result<Option<(TokenInfo, merit_api::TokenInfo)>> {
        self.follow(rpc)?;
        let answer: StateProof = rpc.call(method::GET_TOKEN_PROOF, json!([symbol.as_str()]))?;
        let proof = self.entries_proof(&answer)?;
        let proven = verify_token(
            &mut self.client.borrow_mut(),
            &proof,
            symbol,
            self.current(),
        )
        .map_err(|e| self.refused(e, &proof.header, &proof.certificate))?;
        self.accept(&proof.header, &proof.certificate, true)?;
        match (proven, answer.token) {
            (None, None) => Ok(None),
            (Some(t), Some(shown))
                if shown.decimals == t.decimals && shown.symbol == t.symbol.as_str() =>
            {
                Ok(Some((t, shown)))
            }
            (Some(t), shown) => Err(self.untrusted(format!(
                "it shows token {symbol} as {}, its certified state has {} decimals",
                shown.map_or_else(
                    || "absent".to_string(),
                    |s| format!("{} with {} decimals", s.symbol, s.decimals)
                ),
                t.decimals
            ))),
            (None, Some(_)) => Err(self.untrusted(format!(
                "it shows token {symbol}, which its certified state does not hold"
            ))),
        }
    }

    /// The certified receipt of transaction `hash`; `None` if the node
    /// serves no proof of it.
    pub fn receipt(
        &self,
        rpc: &RpcClient,
        hash: &merit_chain::Hash32,
    ) -> Result<Option<(Receipt, u64)>> {
        Ok(self
            .proven_tx(rpc, hash)?
            .map(|(_, receipt, header)| (receipt, header.height)))
    }

    /// Whether `(sender, nonce)` was still unused after block `height`,
    /// proven. At a transaction's `expires_at_height - 1` an unused nonce
    /// shows it can never commit.
    pub fn nonce_unused(
        &self,
        rpc: &RpcClient,
        sender: &Address,
        nonce: u64,
        height: u64,
    ) -> Result<bool> {
        self.follow(rpc)?;
        let answer: StateProof = rpc.call(
            method::GET_NONCE_PROOF,
            json!([sender.to_bech32(), nonce, {"height": height}]),
        )?;
        let proof = self.entries_proof(&answer)?;
        let unused = merit_chain::proof::verify_nonce_unused(
            &mut self.client.borrow_mut(),
            &proof,
            sender,
            nonce,
            height,
        )
        .map_err(|e| self.refused(e, &proof.header, &proof.certificate))?;
        self.accept(&proof.header, &proof.certificate, false)?;
        Ok(unused)
    }

    /// An error for a node whose plain answer contradicts its proof.
    pub fn contradicts(&self, what: impl Into<String>) -> anyhow::Error {
        self.untrusted(what)
    }
}

/// Re-anchors `chain` at block `height`, whose hash the user trusts from
/// elsewhere: the node must serve that very block and the validator set its
/// header names. Earlier sets and the old checkpoint are dropped.
pub fn reanchor(
    rpc: &RpcClient,
    chain: &mut PinnedChain,
    height: u64,
    hash: &merit_chain::Hash32,
) -> Result<()> {
    let node = rpc.url().to_string();
    let lie = |what: String| -> anyhow::Error {
        Untrusted {
            node: node.clone(),
            what,
        }
        .into()
    };
    let block: Option<merit_api::Block> =
        rpc.call(method::GET_BLOCK, json!([height, {"full": true}]))?;
    let bytes = block
        .and_then(|b| b.bytes)
        .ok_or_else(|| usage(format!("the node at {node} has no block {height}")))?;
    let header: BlockHeader =
        decode_hex("header", &bytes.header).map_err(|e| lie(format!("block {height}: {e}")))?;
    if header.height != height || header.hash() != *hash {
        return Err(lie(format!(
            "it serves block {} at height {}, not the trusted {hash} at {height}",
            header.hash(),
            header.height
        )));
    }
    if header.chain_id.as_str() != chain.chain_id {
        return Err(lie(format!(
            "its block {height} is of chain `{}`, not `{}`",
            header.chain_id, chain.chain_id
        )));
    }
    let set: merit_api::ValidatorSetInfo =
        rpc.call(method::VALIDATORS, json!([{"height": height}]))?;
    let list: ValidatorList = decode_hex("validator set", &set.bytes)
        .map_err(|e| lie(format!("the set of {height}: {e}")))?;
    if merit_chain::governance::validators_hash(&list) != header.validators_hash {
        return Err(lie(format!(
            "the validator set it serves for height {height} is not the one block {height} names"
        )));
    }
    chain.sets = vec![PinnedSet {
        from_height: height,
        validators: set.bytes,
        header: None,
        certificate: None,
    }];
    // Kept as evidence, should another block of this height turn up.
    let certificate = bytes.certificate.ok_or_else(|| {
        usage(format!(
            "the node at {node} has no certificate for block {height}"
        ))
    })?;
    chain.checkpoint = Some(Checkpoint {
        height,
        hash: hash.to_hex(),
        header: bytes.header,
        certificate,
    });
    chain.source = format!("{}; re-anchored at block {height}", chain.source);
    Ok(())
}

/// The options of a `merit_getProof` of `account`'s holdings in `tokens`:
/// `sub` only for a sub-account, `height` only when asked.
fn proof_options(
    account: &AccountRef,
    tokens: &[Symbol],
    height: Option<u64>,
) -> serde_json::Value {
    let names: Vec<&str> = tokens.iter().map(Symbol::as_str).collect();
    let mut options = json!({ "tokens": names });
    if account.sub > 0 {
        options["sub"] = json!(account.sub);
    }
    if let Some(h) = height {
        options["height"] = json!(h);
    }
    options
}

/// A pinned set with its proof, as the light client follows it.
fn pinned_change(s: &PinnedSet) -> Result<SetChange, String> {
    let (Some(header), Some(cert)) = (&s.header, &s.certificate) else {
        return Err(format!("the set of height {} has no proof", s.from_height));
    };
    Ok(SetChange {
        height: s.from_height,
        header: decode_hex("header", header)?,
        certificate: decode_hex("certificate", cert)?,
        set: decode_hex("set", &s.validators)?,
    })
}
