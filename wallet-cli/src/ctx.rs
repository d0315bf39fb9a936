//! What every command shares: the global flags, the keystore, the node, and
//! the conversions from what a person types to what the chain takes.

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::Result;
use merit_api::{Status, TokenInfo};
use merit_chain::amount::{AmountError, parse_amount};
use merit_chain::{Address, Keypair, Symbol};

use crate::error::{UsageError, usage};
use crate::keystore::{Keystore, KeystoreError, Password, check_name};
use crate::rpc::{RpcClient, RpcError};
use crate::trust::{Chains, Verifier};

/// Environment variable holding the key password, for scripts.
pub const ENV_PASSWORD: &str = "MERIT_PASSWORD";

/// How many heartbeats the wallet waits for a new chain's first block.
const FIRST_BLOCK_WAIT_HEARTBEATS: u64 = 3;

/// The global flags and the state built from them.
#[derive(Debug)]
pub struct Ctx {
    pub json: bool,
    pub rpc_url: String,
    pub from: Option<String>,
    pub keystore: Keystore,
    /// `--trust-node`: check nothing against the pinned chain.
    pub trust_node: bool,
    /// `--chain NAME`: the pinned chain to check against.
    pub chain: Option<String>,
    rpc: OnceCell<RpcClient>,
    verifier: OnceCell<Option<Verifier>>,
    status: OnceCell<Status>,
    tokens: RefCell<BTreeMap<String, TokenInfo>>,
    names: OnceCell<BTreeMap<String, String>>,
}

impl Ctx {
    pub fn new(json: bool, rpc_url: String, from: Option<String>, keystore: Keystore) -> Self {
        Ctx {
            json,
            rpc_url,
            from,
            keystore,
            trust_node: false,
            chain: None,
            rpc: OnceCell::new(),
            verifier: OnceCell::new(),
            status: OnceCell::new(),
            tokens: RefCell::new(BTreeMap::new()),
            names: OnceCell::new(),
        }
    }

    /// The node client. Built on first use, so commands that need no node
    /// never fail on a bad `--rpc`.
    pub fn rpc(&self) -> Result<&RpcClient> {
        if let Some(c) = self.rpc.get() {
            return Ok(c);
        }
        let client = RpcClient::new(&self.rpc_url)?;
        Ok(self.rpc.get_or_init(|| client))
    }

    /// The pinned chains: `$MERIT_HOME/chains`, beside the keys.
    pub fn chains(&self) -> Chains {
        let dir = self.keystore.dir();
        Chains::at(dir.parent().unwrap_or(dir).join("chains"))
    }

    /// What checks the node's answers: `None` with `--trust-node` (which
    /// says so once on stderr). The chain is `--chain`, else the only one
    /// pinned, else the pinned one with the node's chain id. The validator
    /// changes since the pin are followed on first use.
    pub fn verifier(&self) -> Result<Option<&Verifier>> {
        if let Some(v) = self.verifier.get() {
            return Ok(v.as_ref());
        }
        if self.trust_node {
            eprintln!(
                "warning: --trust-node: nothing the node at {} says is verified",
                self.rpc_url
            );
            return Ok(self.verifier.get_or_init(|| None).as_ref());
        }
        let chains = self.chains();
        let chain = match &self.chain {
            Some(name) => chains.load(name)?,
            None => {
                let mut pinned = chains.list()?;
                match pinned.len() {
                    0 => {
                        return Err(usage(format!(
                            "no chain is pinned in {}, so the node's answers cannot be checked: \
                             run `merit chain add NAME --genesis FILE` with your alliance's \
                             genesis file (or `merit keys import-devnet` on a devnet), or pass \
                             --trust-node",
                            chains.dir().display()
                        )));
                    }
                    1 => pinned.remove(0),
                    _ => {
                        let id = self.status()?.chain_id;
                        let names: Vec<String> = pinned.iter().map(|c| c.name.clone()).collect();
                        pinned
                            .into_iter()
                            .find(|c| c.chain_id == id)
                            .ok_or_else(|| {
                                usage(format!(
                                    "no pinned chain has the node's chain id `{id}` (pinned: {}); \
                                     pass --chain NAME",
                                    names.join(", ")
                                ))
                            })?
                    }
                }
            }
        };
        let heartbeat_ms = chain.heartbeat_ms;
        let verifier = Verifier::new(&self.rpc_url, chains, chain)?;
        verifier.follow(self.rpc()?)?;
        self.wait_first_block(heartbeat_ms)?;
        Ok(self.verifier.get_or_init(|| Some(verifier)).as_ref())
    }

    /// A proof needs a certified block: on a chain that has none yet (just
    /// started), waits for its first, at most a few heartbeats.
    fn wait_first_block(&self, heartbeat_ms: u64) -> Result<()> {
        let rpc = self.rpc()?;
        let waited = std::time::Instant::now();
        let patience = std::time::Duration::from_millis(
            heartbeat_ms.saturating_mul(FIRST_BLOCK_WAIT_HEARTBEATS),
        );
        let mut told = false;
        while rpc.status()?.height == 0 {
            if waited.elapsed() > patience {
                return Err(anyhow::anyhow!(
                    "the chain has no certified block after {} s; nothing can be verified yet",
                    patience.as_secs()
                ));
            }
            if !told {
                eprintln!("waiting for the chain's first certified block…");
                told = true;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Ok(())
    }

    /// The node's `merit_status`, read once per command: the chain id and
    /// the height a transaction is signed against.
    pub fn status(&self) -> Result<Status> {
        if let Some(s) = self.status.get() {
            return Ok(s.clone());
        }
        let status = self.rpc()?.status()?;
        Ok(self.status.get_or_init(|| status).clone())
    }

    /// `--from` (or `MERIT_FROM`) as typed: `NAME` or `NAME/N`.
    fn signer_text(&self) -> Result<&str> {
        self.from
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                usage("no signing key: pass --from NAME or set MERIT_FROM (see `merit keys list`)")
            })
    }

    /// The signing key's name: `--from` or `MERIT_FROM`, without the
    /// `/N` of a paying sub-account.
    pub fn sender_name(&self) -> Result<&str> {
        let (name, _) = split_sub(self.signer_text()?)?;
        check_name(name)?;
        Ok(name)
    }

    /// The sender's paying account: the `N` of `--from NAME/N`, 0 for the
    /// key's own account.
    pub fn sender_sub(&self) -> Result<u32> {
        let (_, sub) = split_sub(self.signer_text()?)?;
        Ok(sub)
    }

    /// An account given as a key name or an address, either with `/N` for
    /// one of its sub-accounts; `None` means `--from` (with its `/N`).
    pub fn account(&self, who: Option<&str>) -> Result<merit_chain::tx::AccountRef> {
        match who {
            Some(w) => self.resolve_account(w),
            None => {
                let name = self
                    .from
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        usage("name an account (a key name or mrt1… address), or pass --from NAME")
                    })?;
                self.resolve_account(name)
            }
        }
    }

    /// Reads `ADDRESS`, `NAME`, `ADDRESS/N` or `NAME/N`: an account or one
    /// of its sub-accounts.
    pub fn resolve_account(&self, who: &str) -> Result<merit_chain::tx::AccountRef> {
        let (name, sub) = split_sub(who)?;
        Ok(merit_chain::tx::AccountRef {
            address: self.resolve(name)?,
            sub,
        })
    }

    /// Reads `who` as an address when it starts with `mrt1`, else as the
    /// name of a local key. An address may be all lower case or, as bech32
    /// allows (QR codes use it), all upper case; mixed case is refused.
    pub fn resolve(&self, who: &str) -> Result<Address> {
        if who.to_ascii_lowercase().starts_with("mrt1") {
            return Address::from_bech32(who)
                .map_err(|e| usage(format!("bad address `{who}`: {e}")));
        }
        if check_name(who).is_err() {
            return Err(usage(format!(
                "bad address `{who}`: expected an mrt1… address or a key name"
            )));
        }
        match self.keystore.address(who) {
            Ok(a) => Ok(a),
            Err(KeystoreError::NotFound { .. }) => Err(usage(format!(
                "`{who}` is neither an address (mrt1…) nor a key name in {} (see `merit keys list`)",
                self.keystore.dir().display()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The local key name of an address, if any.
    pub fn name_of(&self, address: &str) -> Option<&str> {
        let names = self.names.get_or_init(|| {
            self.keystore
                .list()
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.address, e.name))
                .collect()
        });
        names.get(address).map(String::as_str)
    }

    /// The local key name of an account, `ADDRESS` or `ADDRESS/N`, written
    /// `NAME` or `NAME/N`; `None` when no local key owns the address.
    pub fn name_of_account(&self, account: &str) -> Option<String> {
        match account.split_once('/') {
            Some((address, n)) => self.name_of(address).map(|name| format!("{name}/{n}")),
            None => self.name_of(account).map(str::to_string),
        }
    }

    /// An account (`ADDRESS` or `ADDRESS/N`) with the local key name that
    /// owns it, if any.
    pub fn label(&self, account: &str) -> String {
        match self.name_of_account(account) {
            Some(n) => format!("{account} ({n})"),
            None => account.to_string(),
        }
    }

    /// The local key name of an account (`NAME/N` for a sub-account), or
    /// the account itself: for lines that name several accounts.
    pub fn short(&self, account: &str) -> String {
        self.name_of_account(account)
            .unwrap_or_else(|| account.to_string())
    }

    /// A token symbol as typed, checked locally.
    pub fn symbol(&self, s: &str) -> Result<Symbol> {
        Symbol::new(s).map_err(|e| usage(e.to_string()))
    }

    /// The token's record from the node, cached, checked against its proof
    /// unless `--trust-node`: the decimals turn typed amounts into base
    /// units. An unknown token is a usage error.
    pub fn token(&self, symbol: &Symbol) -> Result<TokenInfo> {
        if let Some(t) = self.tokens.borrow().get(symbol.as_str()) {
            return Ok(t.clone());
        }
        let unknown = || usage(format!("unknown token `{symbol}`"));
        let info = match self.verifier()? {
            Some(v) => match v.token(self.rpc()?, symbol)? {
                Some((_, shown)) => shown,
                None => return Err(unknown()),
            },
            None => match self.rpc()?.get_token(symbol.as_str()) {
                Ok(t) => t,
                Err(RpcError::InvalidParams { .. }) => return Err(unknown()),
                Err(e) => return Err(e.into()),
            },
        };
        self.tokens
            .borrow_mut()
            .insert(symbol.as_str().to_string(), info.clone());
        Ok(info)
    }

    /// The token's decimals: `given` when set (offline), else from the node.
    pub fn decimals(&self, symbol: &Symbol, given: Option<u8>) -> Result<u8> {
        self.decimals_via(symbol, given, "--token-decimals")
    }

    /// [`Self::decimals`], where `flag` is the flag that gives them offline.
    pub fn decimals_via(&self, symbol: &Symbol, given: Option<u8>, flag: &str) -> Result<u8> {
        match given {
            Some(d) if d > merit_chain::limits::MAX_DECIMALS => Err(usage(format!(
                "{flag} is at most {}",
                merit_chain::limits::MAX_DECIMALS
            ))),
            Some(d) => Ok(d),
            None => match self.token(symbol) {
                Ok(t) => Ok(t.decimals),
                // An unknown token needs no hint about offline signing.
                Err(e) if e.is::<UsageError>() => Err(e),
                Err(e) => Err(e.context(format!(
                    "reading the decimals of {symbol} (pass {flag} to sign offline)"
                ))),
            },
        }
    }

    /// Unlocks key `name` with `MERIT_PASSWORD` or a hidden prompt.
    pub fn unlock(&self, name: &str) -> Result<Keypair> {
        // Check the key exists before asking for a password.
        self.keystore.address(name)?;
        let password = password_for(name)?;
        Ok(self.keystore.load(name, &password)?)
    }
}

/// Splits `WHO/N` into `WHO` and sub-account `N`; `WHO` alone is
/// sub-account 0, the account itself.
pub fn split_sub(who: &str) -> Result<(&str, u32)> {
    match who.split_once('/') {
        Some((name, n)) => {
            // Digits only: `u32::from_str` would also take `+2`.
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(usage(format!(
                    "`{who}`: `{n}` is not a sub-account number (NAME/N or ADDRESS/N)"
                )));
            }
            let sub = n.parse::<u32>().map_err(|_| {
                usage(format!(
                    "`{who}`: sub-account {n} is out of range (at most {})",
                    merit_chain::limits::MAX_SUB_ACCOUNTS
                ))
            })?;
            if name.is_empty() {
                return Err(usage(format!("`{who}`: name the account before `/{n}`")));
            }
            Ok((name, sub))
        }
        None => Ok((who, 0)),
    }
}

/// Parses an amount typed in token units into base units; zero is refused.
pub fn parse_units(token: &str, input: &str, decimals: u8) -> Result<u64> {
    let units = parse_amount(input, decimals).map_err(|e| match e {
        AmountError::TooManyDecimals { .. } => usage(format!(
            "bad amount `{input}`: {token} has {decimals} decimal places"
        )),
        other => usage(format!("bad amount `{input}`: {other}")),
    })?;
    if units == 0 {
        return Err(usage(format!(
            "bad amount `{input}`: it must be above zero"
        )));
    }
    Ok(units)
}

/// The password of an existing key.
pub fn password_for(name: &str) -> Result<Password> {
    if let Some(p) = env_password() {
        return Ok(p);
    }
    prompt(&format!("Password for key `{name}`: "))
}

/// A password for a new key file: `MERIT_PASSWORD`, or asked twice.
pub fn new_password(what: &str) -> Result<Password> {
    if let Some(p) = env_password() {
        if p.is_empty() {
            return Err(usage(format!("{ENV_PASSWORD} is empty")));
        }
        return Ok(p);
    }
    let first = prompt(&format!("New password for {what}: "))?;
    if first.is_empty() {
        return Err(usage("the password must not be empty"));
    }
    let second = prompt("Repeat the password: ")?;
    if *first != *second {
        return Err(usage("the passwords do not match"));
    }
    Ok(first)
}

fn env_password() -> Option<Password> {
    std::env::var(ENV_PASSWORD).ok().map(Password::new)
}

fn prompt(text: &str) -> Result<Password> {
    rpassword::prompt_password(text)
        .map(Password::new)
        .map_err(|_| {
            usage(format!(
                "cannot ask for a password without a terminal; set {ENV_PASSWORD}"
            ))
        })
}

/// Reads a secret line: a hidden prompt on a terminal, else one line of stdin.
pub fn read_secret_line(prompt_text: &str, max_bytes: usize) -> Result<Password> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return prompt(prompt_text);
    }
    let mut line = Password::new(String::new());
    use std::io::Read;
    let mut limited = stdin.lock().take(max_bytes as u64 + 1);
    limited
        .read_to_string(&mut line)
        .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
    if line.len() > max_bytes {
        return Err(usage(format!("stdin holds more than {max_bytes} bytes")));
    }
    Ok(Password::new(line.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_who_with_an_optional_sub_account_number() {
        assert_eq!(split_sub("alice").unwrap(), ("alice", 0));
        assert_eq!(split_sub("alice/2").unwrap(), ("alice", 2));
        assert_eq!(split_sub("alice/0").unwrap(), ("alice", 0));
        assert_eq!(split_sub("mrt1abc/17").unwrap(), ("mrt1abc", 17));
        for bad in [
            "alice/",
            "alice/x",
            "alice/+2",
            "alice/-1",
            "/2",
            "alice/2/3",
        ] {
            let e = split_sub(bad).unwrap_err();
            assert!(e.is::<UsageError>(), "{bad}: {e}");
        }
        let e = split_sub("alice/99999999999").unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }

    #[test]
    fn from_names_the_key_and_the_paying_sub_account() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = |from: &str| {
            Ctx::new(
                false,
                "http://127.0.0.1:1".into(),
                Some(from.into()),
                Keystore::at(dir.path().join("keys")),
            )
        };
        let c = ctx("alice/2");
        assert_eq!(c.sender_name().unwrap(), "alice");
        assert_eq!(c.sender_sub().unwrap(), 2);
        let c = ctx("alice");
        assert_eq!(
            (c.sender_name().unwrap(), c.sender_sub().unwrap()),
            ("alice", 0)
        );
        assert!(ctx("alice/two").sender_name().is_err());
        assert!(ctx("al ice/2").sender_name().is_err());
    }
}
