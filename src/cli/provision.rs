//! `byok-ceremony provision SCRIPT --out DIR`: put a token under quorum control with the
//! guided terminal UI (`--headless` for scripts), or (`--resplit RECORD`) replace its
//! user-PIN split: guided, the old custodians type their shares (or some come from
//! `--share FILE`); headless, the `--share` files are the old quorum.
//!
//! Both modes drive the same provisioning core and write the same files and audit events.
//! Prints what was done and where each custodian's file went; never a PIN or a share.
//! Exit codes: 0 done and verified; 1 refused or failed (the message says whether the token
//! was changed); 2 bad usage; 3 the script or the HSM module could not be read or loaded.
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sha2::{Digest, Sha256};

use crate::hsm::HsmError;
use crate::quorum::login::LoginPolicy;
use crate::quorum::provision::{ProvisionError, ProvisionOptions, ProvisionOutcome, provision};
use crate::quorum::record::ProvisioningRecord;
use crate::quorum::resplit::{ResplitError, ResplitOptions, resplit};
use crate::quorum::script::{ProvisioningScript, ScriptError};
use crate::tui::provision::Ending;
use crate::tui::provision::old_quorum::OldQuorum;

/// The command's arguments (parsed by clap in main.rs).
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// The provisioning script (TOML; see ceremony-scripts/provisioning-3of5.toml)
    pub script: PathBuf,
    /// Run without the terminal UI (for scripts). Either way each custodian's share goes to
    /// DIR/<custodian>.share.txt; the guided UI also shows it to that custodian alone
    #[arg(long)]
    pub headless: bool,
    /// Directory for the share files and provisioning-record.json (never overwritten)
    #[arg(long)]
    pub out: PathBuf,
    /// Adopting a token: a file with its current PINs (`user=...`, `so=...` lines)
    #[arg(long, conflicts_with = "resplit")]
    pub current_pins: Option<PathBuf>,
    /// Re-split: the token's current provisioning record. Guided, the old custodians type
    /// their shares; headless, they come with --share
    #[arg(long)]
    pub resplit: Option<PathBuf>,
    /// Re-split: one old custodian's share file (repeat once per custodian; guided, these
    /// are presented before anyone types)
    #[arg(long = "share", requires = "resplit")]
    pub shares: Vec<PathBuf>,
    /// Re-split: log in even if the token says it is the PIN's final try
    #[arg(long, requires = "resplit")]
    pub allow_final_try: bool,
}

impl ProvisionArgs {
    /// The guided provisioning of `script`, its files to `provisioning/` (as chosen on the
    /// script picker; the directory must not hold earlier files).
    pub fn guided(script: PathBuf) -> ProvisionArgs {
        ProvisionArgs {
            script,
            headless: false,
            out: PathBuf::from("provisioning"),
            current_pins: None,
            resplit: None,
            shares: Vec::new(),
            allow_final_try: false,
        }
    }
}

/// Runs the command and returns its exit code.
pub fn run(args: ProvisionArgs) -> ExitCode {
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !args.headless && !terminal {
        crate::tell!(
            "error: the guided provisioning needs a terminal (80x24 is enough); from a script or a pipe, add --headless (a re-split then takes the old shares from --share files)"
        );
        return ExitCode::from(2);
    }
    let (script, sha256) = match load(&args.script) {
        Ok(loaded) => loaded,
        Err(e @ ScriptError::Read { .. }) => {
            crate::tell!("error: {e}");
            return ExitCode::from(3);
        }
        Err(ScriptError::Input(e)) => {
            crate::tell!("error: {e}");
            return ExitCode::from(if e.unreadable() { 3 } else { 1 });
        }
        Err(e) => {
            crate::tell!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if !args.headless {
        return match resplit_options(&args) {
            Some(opts) => guided_resplit(script, &args, sha256, opts),
            None => guided(script, &args, sha256),
        };
    }
    let result = match resplit_options(&args) {
        Some(opts) => resplit(&script, &opts),
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
        Err(e) => failed(&e),
    }
}

/// The re-split's options, when `--resplit` was given.
fn resplit_options(args: &ProvisionArgs) -> Option<ResplitOptions> {
    Some(ResplitOptions {
        out_dir: args.out.clone(),
        record: args.resplit.clone()?,
        share_files: args.shares.clone(),
        policy: LoginPolicy {
            allow_final_try: args.allow_final_try,
        },
    })
}

/// Prints why a (re-split or) provisioning stopped; exit 3 when it could not run at all.
fn failed(e: &ResplitError) -> ExitCode {
    crate::tell!("error: {e}");
    let could_not_run = matches!(
        e,
        ResplitError::Hsm(HsmError::Load { .. })
            | ResplitError::Provision(ProvisionError::Hsm(HsmError::Load { .. }))
            | ResplitError::ReadRecord { .. }
    ) || matches!(e, ResplitError::Input(i) if i.unreadable());
    ExitCode::from(if could_not_run { 3 } else { 1 })
}

/// The script and the SHA-256 of the bytes it was parsed from (shown for comparison with the
/// signed copy).
fn load(path: &Path) -> Result<(ProvisioningScript, String), ScriptError> {
    let bytes = crate::media::input::read_input(path, crate::media::input::SCRIPT)?;
    let text = String::from_utf8(bytes).map_err(|e| ScriptError::Read {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    Ok((ProvisioningScript::parse(&text)?, sha256))
}

/// The guided terminal UI over the same core; the report afterwards is the headless one.
fn guided(script: ProvisioningScript, args: &ProvisionArgs, sha256: String) -> ExitCode {
    let opts = ProvisionOptions {
        out_dir: args.out.clone(),
        current_pins: args.current_pins.clone(),
    };
    // What needs no person is checked before anyone is asked to check in.
    if let Err(e) = crate::quorum::provision::check_before_people(&script, &opts) {
        return failed(&ResplitError::from(e));
    }
    match crate::tui::provision::run(script, &args.script, sha256, opts) {
        Ending::Done(outcome) => {
            report(&outcome, false);
            ExitCode::SUCCESS
        }
        Ending::Failed(e) => {
            crate::tell!("error: {e}");
            let could_not_run = matches!(e, ProvisionError::Hsm(HsmError::Load { .. }));
            ExitCode::from(if could_not_run { 3 } else { 1 })
        }
        Ending::LeftBeforeStart => {
            crate::tell!(
                "provisioning was left before the token was found: nothing was changed or written"
            );
            ExitCode::from(1)
        }
        Ending::Broken(message) => {
            crate::tell!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// The guided re-split: the old record is read first, for the screens to name the old
/// quorum (the core reads it again and checks everything).
fn guided_resplit(
    script: ProvisioningScript,
    args: &ProvisionArgs,
    sha256: String,
    opts: ResplitOptions,
) -> ExitCode {
    let record = match crate::media::input::read_input(&opts.record, crate::media::input::RECORD) {
        Ok(bytes) => ProvisioningRecord::parse(&bytes).map_err(ResplitError::from),
        Err(e) => Err(ResplitError::from(e)),
    };
    let old = match record {
        Ok(record) => OldQuorum::of(&record, opts.record.clone(), opts.share_files.clone()),
        Err(e) => return failed(&e),
    };
    if let Err(e) = crate::quorum::resplit::check_before_people(&script, &opts) {
        return failed(&e);
    }
    match crate::tui::provision::run_resplit(script, &args.script, sha256, opts, old) {
        Ending::Done(outcome) => {
            report(&outcome, true);
            ExitCode::SUCCESS
        }
        Ending::Failed(e) => failed(&e),
        Ending::LeftBeforeStart => {
            crate::tell!(
                "the re-split was left before the token was found: nothing was changed or written"
            );
            ExitCode::from(1)
        }
        Ending::Broken(message) => {
            crate::tell!("error: {message}");
            ExitCode::from(1)
        }
    }
}

fn report(outcome: &ProvisionOutcome, resplit: bool) {
    let r = &outcome.record;
    crate::say!(
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
        crate::say!("  REHEARSAL: not for a production token.");
    }
    for (group, g) in r.groups() {
        crate::say!(
            "  {group}: split {} - any {} of {} custodians",
            g.split_id,
            g.threshold,
            g.shares
        );
    }
    if let Some(old) = r.supersedes {
        crate::say!("  replaces user-PIN split {old}: its shares no longer log in");
    }
    crate::say!(
        "  audit key: {} (SHA-256 of its public key {})",
        r.audit_key.algorithm,
        r.audit_key.public_key_sha256
    );
    crate::say!("  record:    {}", outcome.written.record.display());
    for (custodian, path) in &outcome.written.share_files {
        crate::say!("  share of {custodian}: {}", path.display());
    }
    crate::say!(
        "  Each share file belongs on its custodian's own medium; move it there and delete it here."
    );
    crate::say!("  {} quorum events recorded.", outcome.events.len());
}
