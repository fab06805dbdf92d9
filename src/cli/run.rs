//! `byok-ceremony run SCRIPT --answers FILE`: a whole ceremony, headless.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::byok::fingerprint::pgp_words_for;
use crate::ceremony::answers::{Answers, Recovery};
use crate::ceremony::machine::Phase;
use crate::ceremony::runner;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The ceremony script (TOML; see docs/ceremony-scripts.md)
    pub script: PathBuf,
    /// What the people would type, for a headless run (see docs/ceremony-scripts.md)
    #[arg(long)]
    pub answers: PathBuf,
    /// Where the workstation keeps the audit log while the ceremony runs
    #[arg(long, default_value = "ceremony-state")]
    pub state_dir: PathBuf,
    /// What to do with an interrupted run of the same ceremony (overrides the answers file)
    #[arg(long, value_parser = ["resume", "abort"])]
    pub recover: Option<String>,
}

pub fn run(args: RunArgs) -> ExitCode {
    let answers = match Answers::load(&args.answers) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let recover = match args.recover.as_deref() {
        Some("resume") => Some(Recovery::Resume),
        Some("abort") => Some(Recovery::Abort),
        _ => None,
    };
    match runner::run(&args.script, answers, &args.state_dir, recover) {
        Ok(outcome) => {
            print_outcome(
                &outcome.log_path,
                &outcome.head,
                &outcome.files,
                outcome.state.phase,
            );
            if outcome.state.phase == Phase::Closed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn print_outcome(log: &Path, head: &str, files: &[PathBuf], phase: Phase) {
    println!("Ceremony {}.", phase.title().to_lowercase());
    println!("  audit log: {}", log.display());
    println!("  log head:  {head}");
    if let Ok(bytes) = hex::decode(head) {
        println!("  log head words: {}", pgp_words_for(&bytes).join(" "));
    }
    for f in files {
        if let Ok(hash) = crate::media::atomic::sha256_file(f) {
            println!("  wrote {} (SHA-256 {})", f.display(), hex::encode(hash));
        }
    }
}
