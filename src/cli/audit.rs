//! `byok-ceremony audit ...`: the auditor's commands. Exit 0 only when every check holds.
use crate::cli::input_fault::InputFault;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::audit::log::{LogError, stream};
use crate::audit::replay::{self, Replay, Trust};
use crate::audit::report::{self, Format};
use crate::audit::verify::{AuditError, VerifyOptions, verify};
use crate::ceremony::script::CeremonyScript;
use crate::media::atomic::write_new;
use crate::quorum::record::ProvisioningRecord;
use crate::tui::replay::Player;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Verify a ceremony's audit log: hash chain, checkpoint signatures, every rule replayed
    /// through the ceremony machine, and the artifacts on the media
    Verify(VerifyArgs),
    /// Write a printable report (HTML or Markdown) of a ceremony whose log verifies
    Report(ReportArgs),
    /// Play a ceremony back in the terminal, screen by screen as the people saw it, from its
    /// log: read-only, no HSM. The log is verified first (same options as verify)
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The audit log (NAME.audit.jsonl)
    pub log: PathBuf,
    /// The directory holding the ceremony's .byok and manifest, to check them against the log
    #[arg(long)]
    pub media: Option<PathBuf>,
    /// The ceremony script, to check it is the one the ceremony ran
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// The audit public key (SPKI PEM) that signed the checkpoints
    #[arg(long, conflicts_with = "record")]
    pub audit_key: Option<PathBuf>,
    /// The token's provisioning record, which carries the audit public key
    #[arg(long)]
    pub record: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Where to write the report (never overwritten)
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// html (printable, self-contained) or md (Markdown)
    #[arg(long, default_value = "html", value_parser = ["html", "md"])]
    pub format: String,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Replay a log that does not verify, up to the entry verify names, under a NOT VERIFIED
    /// banner (for investigating a broken log; never evidence)
    #[arg(long)]
    pub force: bool,
}

pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => run_verify(&args),
        AuditCommand::Report(args) => run_report(&args),
        AuditCommand::Replay(args) => run_replay(&args),
    }
}

fn options<'a>(args: &'a VerifyArgs, given: &'a Given) -> VerifyOptions<'a> {
    VerifyOptions {
        audit_key_spki_der: given.key.as_deref(),
        media: args.media.as_deref(),
        script: args.script.as_deref(),
        record: given.record.as_ref(),
    }
}

fn run_verify(args: &VerifyArgs) -> ExitCode {
    let given = match given(args) {
        Ok(k) => k,
        Err(e) => {
            crate::tell!("error: {e}");
            return e.exit_code();
        }
    };
    match verify(&args.log, &options(args, &given)) {
        Ok(v) => {
            crate::say!("OK: {} verifies", args.log.display());
            crate::say!("  entries: {}", v.entries);
            crate::say!("  final phase: {}", v.final_state.phase.title());
            crate::say!("  checkpoints verified: {}", v.checkpoints_verified);
            crate::say!("  artifacts verified: {}", v.artifacts_verified);
            crate::say!(
                "  script: {}",
                if v.script_verified {
                    "matches the pinned hash"
                } else {
                    "not checked (give --script)"
                }
            );
            crate::say!("  deviations: {}", v.final_state.deviations.len());
            for (i, d) in v.final_state.deviations.iter().enumerate() {
                crate::say!(
                    "    {}. {} (by {}, acknowledged by {}): {}",
                    i + 1,
                    d.phase.title(),
                    d.by,
                    d.acknowledged_by.as_deref().unwrap_or("nobody"),
                    d.described()
                );
            }
            crate::say!("  head: {}", v.head);
            if let Some(at) = v.unsigned_from {
                crate::say!(
                    "  WARNING: entries from seq {} (line {}) on carry no signature (an abort without a quorum login has nothing to sign with): nothing proves they are the ones written",
                    at.seq,
                    at.line
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::say!("FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_report(args: &ReportArgs) -> ExitCode {
    // A dangling symlink is "already there" too: never write through one.
    if std::fs::symlink_metadata(&args.output).is_ok() {
        crate::tell!(
            "error: {} already exists; byok-ceremony never overwrites an output: move it away or choose another name",
            args.output.display()
        );
        return ExitCode::from(1);
    }
    let given = match given(&args.verify) {
        Ok(k) => k,
        Err(e) => {
            crate::tell!("error: {e}");
            return e.exit_code();
        }
    };
    let format = if args.format == "md" {
        Format::Markdown
    } else {
        Format::Html
    };
    let report = match report::build(&args.verify.log, &options(&args.verify, &given)) {
        Ok(r) => r,
        Err(e) => {
            crate::say!("FAILED: {e}");
            return ExitCode::from(1);
        }
    };
    let text = report::render(&report, format);
    let (dir, name) = match split_output(&args.output) {
        Ok(parts) => parts,
        Err(e) => {
            crate::tell!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match write_new(dir, &name, text.as_bytes()) {
        Ok(hash) => {
            crate::say!(
                "Report written: {} (SHA-256 {})",
                args.output.display(),
                hex::encode(hash)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::tell!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Verifies the log, folds it into replay steps and plays them in the terminal. Exit 0 when
/// the viewer quits; nothing is written.
fn run_replay(args: &ReplayArgs) -> ExitCode {
    let (replay, script) = match load_replay(args) {
        Ok(loaded) => loaded,
        Err((code, message)) => {
            crate::tell!("{message}");
            return ExitCode::from(code);
        }
    };
    let mut player = Player::new(
        replay,
        Arc::new(script),
        args.verify.log.display().to_string(),
    );
    match crate::tui::replay::run(&mut player) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::tell!(
                "error: the terminal could not be used: {e}; audit replay needs an interactive terminal (run it in a terminal window, not through a pipe)"
            );
            ExitCode::from(3)
        }
    }
}

/// The replay of a verified log (or, with --force, of a broken one up to its first bad
/// entry) and the script to draw it with. Errors carry the exit code and the message.
fn load_replay(args: &ReplayArgs) -> Result<(Replay, CeremonyScript), (u8, String)> {
    let v = &args.verify;
    // An unreadable log is an input that cannot be read (exit 3), not a log that fails.
    std::fs::File::open(&v.log).map_err(|e| {
        (
            3,
            format!(
                "error: cannot read {}: {e}; check the path and the medium",
                v.log.display()
            ),
        )
    })?;
    let given = given(v).map_err(|e| (e.code(), format!("error: {e}")))?;
    let trust = match verify(&v.log, &options(v, &given)) {
        Ok(_) => Trust::Verified,
        Err(AuditError::Log(e @ LogError::Read { .. })) => return Err((3, format!("error: {e}"))),
        Err(e) if !args.force => {
            return Err((
                1,
                format!(
                    "FAILED: {e}\nThe log was not replayed: a replay shows only a log that verifies. Fix the problem above (or hand the log to the auditor as it is); --force replays it up to that entry under a NOT VERIFIED banner."
                ),
            ));
        }
        Err(e) => Trust::Forced {
            line: named_line(&e),
            problem: e.to_string(),
        },
    };
    let mut entries = Vec::new();
    let read = stream(&v.log, |_, entry| {
        entries.push(entry);
        Ok(())
    });
    match read {
        Ok(_) => {}
        // A broken log is replayed as far as it reads; verify's message says what is wrong.
        Err(LogError::Corrupt { .. } | LogError::Torn { .. }) if args.force => {}
        Err(e @ LogError::Read { .. }) => return Err((3, format!("error: {e}"))),
        Err(e) => {
            return Err((
                1,
                format!(
                    "FAILED: {e}; the log changed after it was verified: run audit verify on it again"
                ),
            ));
        }
    }
    let replay = replay::build(entries, &trust).map_err(|e| (1, format!("FAILED: {e}")))?;
    let script = match &v.script {
        // verify has checked it against the hash pinned in the log.
        Some(path) => CeremonyScript::load(path).map_err(|e| (3, format!("error: {e}")))?,
        None => replay::script_from_log(&replay).ok_or_else(|| {
            (
                1,
                "FAILED: the log does not open with a ceremony: nothing to replay".to_owned(),
            )
        })?,
    };
    Ok((replay, script))
}

/// The 1-based line a verify failure names, if it names one.
fn named_line(e: &AuditError) -> Option<u64> {
    match e {
        AuditError::Entry { line, .. }
        | AuditError::Line { line, .. }
        | AuditError::Log(LogError::Corrupt { line, .. } | LogError::Torn { line, .. }) => {
            Some(*line)
        }
        _ => None,
    }
}

/// The output path as (directory, file name).
fn split_output(path: &Path) -> Result<(&Path, String), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("-o {} does not name a file", path.display()))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// What the auditor gave to check the log against: the audit key, and the provisioning
/// record it came from (which is cross-checked against the log too).
struct Given {
    key: Option<Vec<u8>>,
    record: Option<ProvisioningRecord>,
}

fn given(args: &VerifyArgs) -> Result<Given, InputFault> {
    let mut record = None;
    let pem = if let Some(path) = &args.audit_key {
        crate::media::input::read_text_input(path, crate::media::input::KEK)?.ok_or_else(|| {
            InputFault::Invalid(format!(
                "{} is not text; give the audit key's PEM",
                path.display()
            ))
        })?
    } else if let Some(path) = &args.record {
        let bytes = crate::media::input::read_input(path, crate::media::input::RECORD)?;
        let parsed = ProvisioningRecord::parse(&bytes)
            .map_err(|e| InputFault::Invalid(format!("the record {}: {e}", path.display())))?;
        let pem = parsed.audit_key.public_key_pem.clone();
        record = Some(parsed);
        pem
    } else {
        return Ok(Given {
            key: None,
            record: None,
        });
    };
    let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| InputFault::Invalid(format!("the audit key is not PEM: {e}")))?;
    if label != "PUBLIC KEY" {
        return Err(InputFault::Invalid(format!(
            "the audit key PEM is a \"{label}\", not a \"PUBLIC KEY\""
        )));
    }
    Ok(Given {
        key: Some(der),
        record,
    })
}
