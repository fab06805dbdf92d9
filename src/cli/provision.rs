//! `byok-ceremony provision SCRIPT --headless --out DIR`: put a token under quorum control,
//! or (`--resplit RECORD --share FILE...`) replace its user-PIN split.
//!
//! Prints what was done and where each custodian's file went; never a PIN or a share.
//! Exit codes: 0 done and verified; 1 refused or failed (the message says whether the token
//! was changed); 2 bad usage; 3 the script or the HSM module could not be read or loaded.
use std::path::PathBuf;
use std::process::ExitCode;

use crate::hsm::HsmError;
use crate::quorum::login::LoginPolicy;
use crate::quorum::provision::{ProvisionError, ProvisionOptions, ProvisionOutcome, provision};
use crate::quorum::resplit::{ResplitError, ResplitOptions, resplit};
use crate::quorum::script::{ProvisioningScript, ScriptError};

/// The command's arguments (parsed by clap in main.rs).
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// The provisioning script (TOML; see ceremony-scripts/provisioning-3of5.toml)
    pub script: PathBuf,
    /// Run without the terminal UI: each custodian's share goes to DIR/<custodian>.share.txt
    #[arg(long)]
    pub headless: bool,
    /// Directory for the share files and provisioning-record.json (never overwritten)
    #[arg(long)]
    pub out: PathBuf,
    /// Adopting a token: a file with its current PINs (`user=...`, `so=...` lines)
    #[arg(long, conflicts_with = "resplit")]
    pub current_pins: Option<PathBuf>,
    /// Re-split: the token's current provisioning record; the old quorum's shares come
    /// with --share
    #[arg(long)]
    pub resplit: Option<PathBuf>,
    /// Re-split: one old custodian's share file (repeat once per custodian present)
    #[arg(long = "share", requires = "resplit")]
    pub shares: Vec<PathBuf>,
    /// Re-split: log in even if the token says it is the PIN's final try
    #[arg(long, requires = "resplit")]
    pub allow_final_try: bool,
}

/// Runs the command and returns its exit code.
pub fn run(args: ProvisionArgs) -> ExitCode {
    if !args.headless {
        eprintln!(
            "error: the guided terminal UI is not available yet; run `byok-ceremony provision SCRIPT --headless --out DIR`"
        );
        return ExitCode::from(2);
    }
    let script = match ProvisioningScript::load(&args.script) {
        Ok(s) => s,
        Err(e @ ScriptError::Read { .. }) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let result = match &args.resplit {
        Some(record) => resplit(
            &script,
            &ResplitOptions {
                out_dir: args.out.clone(),
                record: record.clone(),
                share_files: args.shares.clone(),
                policy: LoginPolicy {
                    allow_final_try: args.allow_final_try,
                },
            },
        ),
        None => provision(
            &script,
            &ProvisionOptions {
                out_dir: args.out.clone(),
                current_pins: args.current_pins.clone(),
            },
        )
        .map_err(ResplitError::from),
    };
    match result {
        Ok(outcome) => {
            report(&outcome, args.resplit.is_some());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            let could_not_run = matches!(
                e,
                ResplitError::Hsm(HsmError::Load { .. })
                    | ResplitError::Provision(ProvisionError::Hsm(HsmError::Load { .. }))
                    | ResplitError::ReadRecord { .. }
            );
            ExitCode::from(if could_not_run { 3 } else { 1 })
        }
    }
}

fn report(outcome: &ProvisionOutcome, resplit: bool) {
    let r = &outcome.record;
    println!(
        "{} token \"{}\" (serial {}).",
        if resplit {
            "Re-split the user PIN of"
        } else {
            "Provisioned"
        },
        r.token.label,
        r.token.serial
    );
    if r.rehearsal {
        println!("  REHEARSAL: not for a production token.");
    }
    for (group, g) in r.groups() {
        println!(
            "  {group}: split {} - any {} of {} custodians",
            g.split_id, g.threshold, g.shares
        );
    }
    if let Some(old) = r.supersedes {
        println!("  replaces user-PIN split {old}: its shares no longer log in");
    }
    println!(
        "  audit key: {} (SHA-256 of its public key {})",
        r.audit_key.algorithm, r.audit_key.public_key_sha256
    );
    println!("  record:    {}", outcome.written.record.display());
    for (custodian, path) in &outcome.written.share_files {
        println!("  share of {custodian}: {}", path.display());
    }
    println!(
        "  Each share file belongs on its custodian's own medium; move it there and delete it here."
    );
    println!("  {} quorum events recorded.", outcome.events.len());
}
