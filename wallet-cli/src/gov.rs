//! `merit gov`: alliance governance (DESIGN §9). Proposals and votes are
//! transactions like any other: they are built here from what was typed,
//! checked locally with the chain's own rules where no state is needed
//! (merchant records and their proofs, parameter bounds, the voting period,
//! an upgrade's height), and signed and submitted by
//! [`crate::submit::sign_and_submit`]. `gov list` and `gov show` read
//! `merit_listProposals` and `merit_getProposal`.

use std::path::Path;

use anyhow::{Context as _, Result};
use merit_api::{Proposal, ProposalAction};
use merit_chain::TxKind;
use merit_chain::governance::{ACTIVATION_DELAY_BLOCKS, GovAction, MAX_VOTING_PERIOD_BLOCKS};
use merit_chain::merchant::SignedMerchant;
use merit_chain::params::ConsensusParams;
use merit_genesis::MerchantFile;

use crate::cli::{GovCommand, ProposeCommand, SubmitArgs, VoteChoice};
use crate::ctx::Ctx;
use crate::error::usage;
use crate::output::{self, describe_code, table};
use crate::submit::sign_and_submit;

/// Blocks a proposal takes votes for unless `--voting-blocks` says
/// otherwise: about a day at the default heartbeat of an idle chain, and
/// sooner on a busy one.
pub const DEFAULT_VOTING_BLOCKS: u64 = 10_000;

/// Width of the label column of `gov show`.
const LABEL_WIDTH: usize = 14;

/// Runs one `merit gov` command.
pub fn run(ctx: &Ctx, command: GovCommand) -> Result<()> {
    match command {
        GovCommand::Propose(p) => propose(ctx, p),
        GovCommand::Vote { id, vote, submit } => {
            let kind = TxKind::Vote {
                proposal: id,
                approve: vote == VoteChoice::Yes,
            };
            sign_and_submit(ctx, &submit, kind)
        }
        GovCommand::List { status } => list(ctx, status.as_deref()),
        GovCommand::Show { id } => show(ctx, id),
    }
}

// ---------------------------------------------------------------- propose

fn propose(ctx: &Ctx, command: ProposeCommand) -> Result<()> {
    // What needs no node first: the action, then the flags.
    let (action, args, token) = match command {
        ProposeCommand::AddMerchant { file, propose } => {
            let merchant = merchant_record(&file)?;
            let action = GovAction::AddMerchant {
                merchant: Box::new(merchant),
            };
            (action, propose, None)
        }
        ProposeCommand::RemoveMerchant { account, propose } => {
            let account = ctx.resolve(&account)?;
            (GovAction::RemoveMerchant { account }, propose, None)
        }
        ProposeCommand::RotateKey { file, propose } => {
            let merchant = merchant_record(&file)?;
            if merchant.record.validator.is_none() {
                return Err(usage(format!(
                    "merchant record {} names no validator key: rotate-key needs a record with \
                     validator_key, p2p_key and p2p_address (make the new keys with \
                     `merit-genesis keygen`)",
                    file.display()
                )));
            }
            let action = GovAction::RotateValidatorKey {
                merchant: Box::new(merchant),
            };
            (action, propose, None)
        }
        ProposeCommand::ReassignIssuer {
            token,
            new_issuer,
            propose,
        } => {
            let token = ctx.symbol(&token)?;
            let new_issuer = ctx.resolve(&new_issuer)?;
            let action = GovAction::ReassignIssuer { token, new_issuer };
            (action, propose, Some(token))
        }
        ProposeCommand::Params {
            timeout_base_ms,
            timeout_max_ms,
            precision_ms,
            message_delay_ms,
            propose,
        } => {
            // The chain's own bounds, named by the flags that set them.
            let params = ConsensusParams {
                timeout_base_ms,
                timeout_max_ms,
                precision_ms,
                message_delay_ms,
                ..ConsensusParams::default()
            };
            params.check().map_err(|e| {
                usage(format!(
                    "--{} is {}, but must be from {} to {}",
                    e.field.replace('_', "-"),
                    e.value,
                    e.min,
                    e.max
                ))
            })?;
            let action = GovAction::SetConsensusParams {
                timeout_base_ms,
                timeout_max_ms,
                precision_ms,
                message_delay_ms,
            };
            (action, propose, None)
        }
        ProposeCommand::Upgrade {
            version,
            height,
            propose,
        } => {
            if version == 0 {
                return Err(usage("the protocol VERSION is 0, at least 1"));
            }
            let action = GovAction::ScheduleUpgrade {
                protocol_version: version,
                height,
            };
            (action, propose, None)
        }
    };
    check_voting_blocks(args.voting_blocks)?;
    if args.voting_ends_height == Some(0) {
        return Err(usage("--voting-ends-height must be above zero"));
    }
    // Fail on a missing key before the node is asked.
    let name = ctx.sender_name()?;
    ctx.keystore.address(name)?;
    // An unknown token is named before anything is signed, unless the
    // transaction is signed without a node.
    if let Some(token) = &token
        && !offline(&args.submit)
    {
        ctx.token(token)?;
    }
    let voting_ends_height = match args.voting_ends_height {
        Some(h) => h,
        None => ctx
            .status()
            .context(
                "reading the chain's height (pass --voting-ends-height, --chain-id and \
                 --expires-at-height to sign offline)",
            )?
            .height
            .saturating_add(args.voting_blocks),
    };
    if let GovAction::ScheduleUpgrade { height, .. } = &action {
        check_upgrade_height(*height, voting_ends_height)?;
    }
    let kind = TxKind::Propose {
        action,
        voting_ends_height,
    };
    sign_and_submit(ctx, &args.submit, kind)
}

/// Whether a transaction is signed with no node to ask for the chain id
/// and the height.
fn offline(args: &SubmitArgs) -> bool {
    args.chain_id.is_some() && args.expires_at_height.is_some()
}

/// `--voting-blocks` within 1 and the chain's [`MAX_VOTING_PERIOD_BLOCKS`].
fn check_voting_blocks(blocks: u64) -> Result<()> {
    if blocks == 0 {
        return Err(usage("--voting-blocks is 0, at least 1"));
    }
    if blocks > MAX_VOTING_PERIOD_BLOCKS {
        return Err(usage(format!(
            "--voting-blocks is {blocks}, at most {MAX_VOTING_PERIOD_BLOCKS} \
             (the chain's MAX_VOTING_PERIOD_BLOCKS)"
        )));
    }
    Ok(())
}

/// An upgrade's height must come after the proposal could take effect:
/// past the end of its voting plus [`ACTIVATION_DELAY_BLOCKS`].
fn check_upgrade_height(height: u64, voting_ends_height: u64) -> Result<()> {
    let earliest = voting_ends_height
        .saturating_add(ACTIVATION_DELAY_BLOCKS)
        .saturating_add(1);
    if height < earliest {
        return Err(usage(format!(
            "the upgrade HEIGHT {height} is too soon: voting ends at height \
             {voting_ends_height} and a passed proposal takes effect \
             {ACTIVATION_DELAY_BLOCKS} blocks after it passes (ACTIVATION_DELAY_BLOCKS), so \
             HEIGHT is at least {earliest}; give a later HEIGHT or fewer --voting-blocks"
        )));
    }
    Ok(())
}

/// Reads a `merchant.json` and checks it and every proof of possession
/// with the chain's own rules, naming the field that is wrong.
fn merchant_record(path: &Path) -> Result<SignedMerchant> {
    let file = MerchantFile::load(path).map_err(|e| usage(format!("merchant record {e}")))?;
    let verified = file
        .verify()
        .map_err(|e| usage(format!("merchant record {}: {e}", path.display())))?;
    Ok(verified.signed)
}

// ---------------------------------------------------------------- queries

fn list(ctx: &Ctx, status: Option<&str>) -> Result<()> {
    let proposals = ctx.rpc()?.list_proposals(status)?;
    if ctx.json {
        return output::json(&proposals);
    }
    if proposals.is_empty() {
        match status {
            Some(s) => println!("no {s} proposals"),
            None => println!("no proposals"),
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = proposals
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.status.clone(),
                p.approvals.len().to_string(),
                p.rejections.len().to_string(),
                p.quorum.to_string(),
                p.voting_ends_height.to_string(),
                ctx.short(&p.proposer),
                action_summary(ctx, &p.action),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "ID",
                "STATUS",
                "FOR",
                "AGAINST",
                "QUORUM",
                "VOTING ENDS",
                "PROPOSER",
                "ACTION"
            ],
            &rows
        )
    );
    Ok(())
}

fn show(ctx: &Ctx, id: u64) -> Result<()> {
    let Some(p) = ctx.rpc()?.get_proposal(id)? else {
        return Err(usage(format!("no proposal has id {id}")));
    };
    if ctx.json {
        return output::json(&p);
    }
    for (k, v) in show_rows(ctx, &p) {
        println!("{k:<LABEL_WIDTH$} {v}");
    }
    if p.status == "open" {
        println!("\nvote: merit --from NAME gov vote {} yes   (or no)", p.id);
    }
    Ok(())
}

/// The lines of `gov show`, label and value.
fn show_rows(ctx: &Ctx, p: &Proposal) -> Vec<(&'static str, String)> {
    let names = |votes: &[String]| {
        if votes.is_empty() {
            "0".to_string()
        } else {
            let who: Vec<String> = votes.iter().map(|a| ctx.short(a)).collect();
            format!("{}: {}", votes.len(), who.join(", "))
        }
    };
    let height = |h: Option<u64>| h.map_or_else(|| "-".to_string(), |h| format!("height {h}"));
    let mut rows = vec![("id", p.id.to_string()), ("status", p.status.clone())];
    rows.extend(action_rows(ctx, &p.action));
    rows.extend([
        ("proposer", ctx.label(&p.proposer)),
        ("votes for", names(p.approvals.as_slice())),
        ("votes against", names(p.rejections.as_slice())),
        ("quorum", format!("{} votes for", p.quorum)),
        ("created at", format!("height {}", p.created_height)),
        (
            "voting ends",
            format!("height {} (votes count below it)", p.voting_ends_height),
        ),
        ("decided at", height(p.decided_height)),
    ]);
    if p.activation_height.is_some() {
        rows.push(("in force from", height(p.activation_height)));
    }
    if let Some(code) = &p.failure {
        rows.push(("failure", format!("{code}: {}", describe_code(code, None))));
    }
    rows
}

/// An action's fields, one line each, its name first.
fn action_rows(ctx: &Ctx, action: &ProposalAction) -> Vec<(&'static str, String)> {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    let ms = |v: u64| format!("{v} ms");
    let (name, mut rows) = match action {
        ProposalAction::AddMerchant {
            account,
            name,
            validator_key,
            p2p,
        } => (
            "AddMerchant",
            vec![
                ("merchant", name.clone()),
                ("account", ctx.label(account)),
                (
                    "validator key",
                    validator_key
                        .clone()
                        .unwrap_or_else(|| "none (issues tokens only)".to_string()),
                ),
                ("p2p", or_none(p2p)),
            ],
        ),
        ProposalAction::RemoveMerchant { account } => {
            ("RemoveMerchant", vec![("account", ctx.label(account))])
        }
        ProposalAction::RotateValidatorKey {
            account,
            validator_key,
            p2p,
        } => (
            "RotateValidatorKey",
            vec![
                ("account", ctx.label(account)),
                ("validator key", or_none(validator_key)),
                ("p2p", or_none(p2p)),
            ],
        ),
        ProposalAction::ReassignIssuer { token, new_issuer } => (
            "ReassignIssuer",
            vec![
                ("token", token.clone()),
                ("new issuer", ctx.label(new_issuer)),
            ],
        ),
        ProposalAction::SetConsensusParams {
            timeout_base_ms,
            timeout_max_ms,
            precision_ms,
            message_delay_ms,
        } => (
            "SetConsensusParams",
            vec![
                ("timeout base", ms(*timeout_base_ms)),
                ("timeout max", ms(*timeout_max_ms)),
                ("precision", ms(*precision_ms)),
                ("message delay", ms(*message_delay_ms)),
            ],
        ),
        ProposalAction::ScheduleUpgrade {
            protocol_version,
            height,
        } => (
            "ScheduleUpgrade",
            vec![
                ("protocol", format!("version {protocol_version}")),
                ("from height", height.to_string()),
            ],
        ),
    };
    rows.insert(0, ("action", name.to_string()));
    rows
}

/// An action on one line, for `gov list`.
fn action_summary(ctx: &Ctx, action: &ProposalAction) -> String {
    match action {
        ProposalAction::AddMerchant {
            account,
            name,
            validator_key,
            ..
        } => {
            let validator = if validator_key.is_some() {
                " with a validator"
            } else {
                ""
            };
            format!("AddMerchant \"{name}\" {}{validator}", ctx.short(account))
        }
        ProposalAction::RemoveMerchant { account } => {
            format!("RemoveMerchant {}", ctx.short(account))
        }
        ProposalAction::RotateValidatorKey {
            account,
            validator_key,
            ..
        } => format!(
            "RotateValidatorKey {} to {}",
            ctx.short(account),
            validator_key.as_deref().unwrap_or("-")
        ),
        ProposalAction::ReassignIssuer { token, new_issuer } => {
            format!("ReassignIssuer {token} to {}", ctx.short(new_issuer))
        }
        ProposalAction::SetConsensusParams {
            timeout_base_ms,
            timeout_max_ms,
            precision_ms,
            message_delay_ms,
        } => format!(
            "SetConsensusParams timeout {timeout_base_ms}-{timeout_max_ms} ms, precision \
             {precision_ms} ms, delay {message_delay_ms} ms"
        ),
        ProposalAction::ScheduleUpgrade {
            protocol_version,
            height,
        } => format!("ScheduleUpgrade to version {protocol_version} at height {height}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use merit_chain::params::*;

    use crate::cli::Cli;

    fn long_help(path: &[&str]) -> String {
        let mut cmd = Cli::command();
        cmd.build();
        let mut cmd = &mut cmd;
        for name in path {
            cmd = cmd
                .find_subcommand_mut(name)
                .unwrap_or_else(|| panic!("no subcommand {name}"));
        }
        // Words as a reader sees them, whatever the line breaks.
        let help = cmd.render_long_help().to_string();
        help.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The help states the chain's bounds as numbers; they must be the
    /// chain's.
    #[test]
    fn the_help_names_the_chains_bounds() {
        let propose = long_help(&["gov", "propose"]);
        assert!(
            propose.contains(&format!("default {DEFAULT_VOTING_BLOCKS}")),
            "{propose}"
        );
        assert!(
            propose.contains(&format!("at most {MAX_VOTING_PERIOD_BLOCKS}")),
            "{propose}"
        );
        let upgrade = long_help(&["gov", "propose", "upgrade"]);
        assert!(
            upgrade.contains(&format!("({ACTIVATION_DELAY_BLOCKS} blocks)")),
            "{upgrade}"
        );
        assert!(
            upgrade.contains(&format!("1 to {MAX_VOTING_PERIOD_BLOCKS}")),
            "{upgrade}"
        );
        let params = long_help(&["gov", "propose", "params"]);
        for bounds in [
            format!("timeout base {MIN_TIMEOUT_BASE_MS} to {MAX_TIMEOUT_BASE_MS}"),
            format!("timeout max {MIN_TIMEOUT_MAX_MS} to {MAX_TIMEOUT_MAX_MS}"),
            format!("precision {MIN_PRECISION_MS} to {MAX_PRECISION_MS}"),
            format!("message delay {MIN_MESSAGE_DELAY_MS} to {MAX_MESSAGE_DELAY_MS}"),
        ] {
            assert!(params.contains(&bounds), "{bounds} in {params}");
        }
    }

    #[test]
    fn voting_blocks_are_bounded_by_the_chains_maximum() {
        assert!(check_voting_blocks(1).is_ok());
        assert!(check_voting_blocks(MAX_VOTING_PERIOD_BLOCKS).is_ok());
        let e = check_voting_blocks(MAX_VOTING_PERIOD_BLOCKS + 1).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("at most {MAX_VOTING_PERIOD_BLOCKS}")),
            "{e}"
        );
        assert!(e.to_string().contains("MAX_VOTING_PERIOD_BLOCKS"), "{e}");
        assert!(check_voting_blocks(0).is_err());
    }

    /// The same rule as the ledger's: an upgrade at `voting_ends_height +
    /// ACTIVATION_DELAY_BLOCKS` or before is refused.
    #[test]
    fn an_upgrade_comes_after_its_proposal_could_take_effect() {
        let ends = 1_000;
        assert!(check_upgrade_height(ends + ACTIVATION_DELAY_BLOCKS, ends).is_err());
        assert!(check_upgrade_height(ends + ACTIVATION_DELAY_BLOCKS + 1, ends).is_ok());
        let e = check_upgrade_height(5, ends).unwrap_err().to_string();
        assert!(
            e.contains(&format!("at least {}", ends + ACTIVATION_DELAY_BLOCKS + 1)),
            "{e}"
        );
    }
}
