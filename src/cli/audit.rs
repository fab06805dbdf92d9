//! `byok-ceremony audit ...`: the auditor's commands. Exit 0 only when every check holds.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::audit::report::{self, Format};
use crate::audit::verify::{VerifyOptions, verify};
use crate::media::atomic::write_new;
use crate::quorum::record::ProvisioningRecord;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Verify a ceremony's audit log: hash chain, checkpoint signatures, every rule replayed
    /// through the ceremony machine, and the artifacts on the media
    Verify(VerifyArgs),
    /// Write a printable report (HTML or Markdown) of a ceremony whose log verifies
    Report(ReportArgs),
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

pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => run_verify(&args),
        AuditCommand::Report(args) => run_report(&args),
    }
}

fn options<'a>(args: &'a VerifyArgs, key: Option<&'a [u8]>) -> VerifyOptions<'a> {
    VerifyOptions {
        audit_key_spki_der: key,
        media: args.media.as_deref(),
        script: args.script.as_deref(),
    }
}

fn run_verify(args: &VerifyArgs) -> ExitCode {
    let key = match audit_key(args) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    match verify(&args.log, &options(args, key.as_deref())) {
        Ok(v) => {
            println!("OK: {} verifies", args.log.display());
            println!("  entries: {}", v.entries);
            println!("  final phase: {}", v.final_state.phase.title());
            println!("  checkpoints verified: {}", v.checkpoints_verified);
            println!("  artifacts verified: {}", v.artifacts_verified);
            println!(
                "  script: {}",
                if v.script_verified {
                    "matches the pinned hash"
                } else {
                    "not checked (give --script)"
                }
            );
            println!("  deviations: {}", v.final_state.deviations.len());
            println!("  head: {}", v.head);
            if let Some(at) = v.unsigned_from {
                println!(
                    "  WARNING: entries from seq {} (line {}) on carry no signature (an abort without a quorum login has nothing to sign with): nothing proves they are the ones written",
                    at.seq, at.line
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_report(args: &ReportArgs) -> ExitCode {
    if args.output.exists() {
        eprintln!(
            "error: {} already exists; byok-ceremony never overwrites an output: move it away or choose another name",
            args.output.display()
        );
        return ExitCode::from(1);
    }
    let key = match audit_key(&args.verify) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let format = if args.format == "md" {
        Format::Markdown
    } else {
        Format::Html
    };
    let report = match report::build(&args.verify.log, &options(&args.verify, key.as_deref())) {
        Ok(r) => r,
        Err(e) => {
            println!("FAILED: {e}");
            return ExitCode::from(1);
        }
    };
    let text = report::render(&report, format);
    let (dir, name) = match split_output(&args.output) {
        Ok(parts) => parts,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match write_new(dir, &name, text.as_bytes()) {
        Ok(hash) => {
            println!(
                "Report written: {} (SHA-256 {})",
                args.output.display(),
                hex::encode(hash)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
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

fn audit_key(args: &VerifyArgs) -> Result<Option<Vec<u8>>, String> {
    let pem = if let Some(path) = &args.audit_key {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    } else if let Some(path) = &args.record {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        ProvisioningRecord::parse(&bytes)
            .map_err(|e| e.to_string())?
            .audit_key
            .public_key_pem
    } else {
        return Ok(None);
    };
    let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| format!("the audit key is not PEM: {e}"))?;
    if label != "PUBLIC KEY" {
        return Err(format!(
            "the audit key PEM is a \"{label}\", not a \"PUBLIC KEY\""
        ));
    }
    Ok(Some(der))
}
