//! `merit-wallet`: the `merit` CLI for shoppers and merchants.
//!
//! It owns the keystore (encrypted key files under `~/.merit/keys`), the
//! conversion of what a person types (decimal amounts, key names, `mrt1…`
//! addresses, `--split` lists, offer prices in [`price`]) into transaction
//! kinds, signing, and submitting over JSON-RPC ([`rpc::RpcClient`]) with a
//! wait for the outcome.
//!
//! It must never decide ledger rules (the node and `merit-chain` do; the
//! wallet only runs the stateless checks early to give a clearer error),
//! never write a secret seed unencrypted, and never print one except on
//! `merit keys export` after the password.
//!
//! Output contract: with `--json` every command prints one JSON document on
//! stdout whose shapes are listed in `docs/cli.md`; without it, text for
//! people. Exit codes are the `EXIT_*` constants in [`error`]: 0 ok, 1
//! rejected or failed, 2 usage, 3 node unreachable or node error, 4 still
//! pending when the wait timed out, 5 the node cannot be trusted (its
//! answer failed a check against the alliance's signatures, see [`trust`]).
//! With `--json`, a failure prints
//! `{"error": {"kind", "message", "exit_code"}}` on stdout as well as the
//! message on stderr.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod cli;
mod commands;
pub mod ctx;
pub mod error;
mod finance;
mod gov;
pub mod keystore;
mod output;
pub mod price;
pub mod rpc;
mod subaccounts;
pub mod submit;
pub mod trust;
pub mod view;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::ctx::Ctx;
use crate::error::{EXIT_USAGE, Outcome, classify};
use crate::keystore::Keystore;

/// `merit balance | head -1` closes stdout early; a shell tool then stops
/// quietly, as if killed by SIGPIPE (exit 141), instead of panicking in
/// `println!`. Every other panic keeps the default report.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// Parses the process's arguments, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout with 0; mistakes to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let class = classify(&err);
            // An outcome was already printed by the command.
            let printed = err.chain().any(|c| c.is::<Outcome>());
            if !printed {
                let hint = if class.kind == "unreachable" {
                    " (is a node running there? pass --rpc URL or set MERIT_RPC)"
                } else {
                    ""
                };
                eprintln!("error: {}{hint}", message(&err));
                if json {
                    let doc = serde_json::json!({"error": {
                        "kind": class.kind,
                        "message": message(&err),
                        "exit_code": class.exit_code,
                    }});
                    println!("{doc:#}");
                }
            }
            ExitCode::from(class.exit_code)
        }
    }
}

/// The error and its causes on one line, outermost first.
fn message(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in err.chain() {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let keystore = Keystore::from_env()?;
    let mut ctx = Ctx::new(cli.json, cli.rpc, cli.from, keystore);
    ctx.trust_node = cli.trust_node;
    ctx.chain = cli.chain;
    commands::run(&ctx, cli.command)
}
