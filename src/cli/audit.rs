//! `byok-ceremony audit ...`: the auditor's commands. Exit 0 only when every check holds.
use std::path::PathBuf;
use std::process::ExitCode;

use crate::audit::verify::{VerifyOptions, verify};
use crate::quorum::record::ProvisioningRecord;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Verify a ceremony's audit log: hash chain, checkpoint signatures, every rule replayed
    /// through the ceremony machine, and the artifacts on the media
    Verify(VerifyArgs),
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

pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => run_verify(&args),
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
    let opts = VerifyOptions {
        audit_key_spki_der: key.as_deref(),
        media: args.media.as_deref(),
        script: args.script.as_deref(),
    };
    match verify(&args.log, &opts) {
        Ok(v) => {
            println!("OK: {} verifies", args.log.display());
            println!("  entries: {}", v.entries);
            println!("  final phase: {}", v.final_state.phase.title());
            println!("  checkpoints verified: {}", v.checkpoints_verified);
            println!("  artifacts verified: {}", v.artifacts_verified);
            println!("  deviations: {}", v.final_state.deviations.len());
            println!("  head: {}", v.head);
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAILED: {e}");
            ExitCode::from(1)
        }
    }
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
