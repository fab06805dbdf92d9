//! `byok-ceremony run SCRIPT`: a whole ceremony with the guided terminal UI, or headless
//! with `--answers FILE`.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::byok::fingerprint::pgp_words_for;
use crate::ceremony::answers::{Answers, Recovery};
use crate::ceremony::machine::Phase;
use crate::ceremony::runner::{self, Media};
use crate::tui::picker::{FoundScript, ScriptKind};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The ceremony script (TOML; see docs/ceremony-scripts.md)
    pub script: PathBuf,
    /// What the people would type, for a headless run (see docs/ceremony-scripts.md);
    /// without it the guided terminal UI runs the ceremony
    #[arg(long)]
    pub answers: Option<PathBuf>,
    /// Where the workstation keeps the audit log while the ceremony runs
    #[arg(long, default_value = "ceremony-state")]
    pub state_dir: PathBuf,
    /// What to do with an interrupted run of the same ceremony (overrides the answers file)
    #[arg(long, value_parser = ["resume", "abort"])]
    pub recover: Option<String>,
    /// Guided UI: the directory of the mounted KEK medium (holds the script's kek.file)
    #[arg(long, default_value = "kek-usb", conflicts_with = "answers")]
    pub kek_media: PathBuf,
    /// Guided UI: the directory of the mounted output medium
    #[arg(long, default_value = "out-usb", conflicts_with = "answers")]
    pub media: PathBuf,
    /// Guided UI: the second output medium, when the script asks for a second copy
    #[arg(long, conflicts_with = "answers")]
    pub second_media: Option<PathBuf>,
    /// Guided UI: where other media are mounted, offered on the KEK screen when the KEK
    /// medium is not the default (repeat the option for several)
    #[arg(long = "media-root", value_name = "DIR", conflicts_with = "answers",
          default_values_t = crate::media::discover::DEFAULT_ROOTS.map(String::from))]
    pub media_roots: Vec<String>,
    /// The release's SHA256SUMS file: the preflight compares the tool's own hash with its
    /// entry for byok-ceremony (overrides the answers file's `sums`)
    #[arg(long, value_name = "FILE")]
    pub sums: Option<PathBuf>,
}

impl RunArgs {
    /// The guided run of `script` with the default media and state directory.
    pub fn guided(script: PathBuf) -> RunArgs {
        RunArgs {
            script,
            answers: None,
            state_dir: PathBuf::from("ceremony-state"),
            recover: None,
            kek_media: PathBuf::from("kek-usb"),
            media: PathBuf::from("out-usb"),
            second_media: None,
            media_roots: crate::media::discover::DEFAULT_ROOTS
                .map(String::from)
                .to_vec(),
            sums: None,
        }
    }
}

pub fn run(args: RunArgs) -> ExitCode {
    let recover = match args.recover.as_deref() {
        Some("resume") => Some(Recovery::Resume),
        Some("abort") => Some(Recovery::Abort),
        _ => None,
    };
    let Some(answers_path) = &args.answers else {
        let media = Media {
            kek: args.kek_media,
            out: args.media,
            second: args.second_media,
            roots: args.media_roots.iter().map(PathBuf::from).collect(),
            sums: args.sums,
        };
        return crate::tui::run(&args.script, media, &args.state_dir, recover);
    };
    let answers = match Answers::load(answers_path) {
        Ok(mut a) => {
            a.sums = args.sums.or(a.sums);
            a
        }
        Err(e) => {
            crate::tell!("error: {e}");
            // 3 when it could not be read; 1 when it was read and is wrong.
            let unreadable = match &e {
                crate::ceremony::answers::AnswersError::Input(i) => i.unreadable(),
                crate::ceremony::answers::AnswersError::Read { .. } => true,
                _ => false,
            };
            return ExitCode::from(if unreadable { 3 } else { 1 });
        }
    };
    match runner::run(&args.script, answers, &args.state_dir, recover) {
        Ok(outcome) => {
            print_outcome(
                &outcome.log_path,
                &outcome.head,
                &outcome.files,
                outcome.state.phase,
            );
            if outcome
                .state
                .wrap_method
                .as_ref()
                .is_some_and(crate::hsm_types::wrap::WrapMethod::zero_pads)
            {
                crate::say!(
                    "  REHEARSAL-GRADE: the HSM zero-pads the key before wrapping (the script allows it): the .byok carries trailing zero bytes after the key, which Azure may reject"
                );
            }
            if outcome.state.phase == Phase::Closed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            crate::tell!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn print_outcome(log: &Path, head: &str, files: &[(PathBuf, String)], phase: Phase) {
    crate::say!("Ceremony {}.", phase.title().to_lowercase());
    crate::say!("  audit log: {}", log.display());
    crate::say!("  log head:  {head}");
    if let Ok(bytes) = hex::decode(head) {
        crate::say!("  log head words: {}", pgp_words_for(&bytes).join(" "));
    }
    for (f, hash) in files {
        crate::say!("  wrote {} (SHA-256 {hash})", f.display());
    }
}

/// Ceremony scripts found in `ceremony-scripts/` and then on mounted media
/// (`/media/*/ceremony-scripts`, `/mnt/*/ceremony-scripts`), in that order.
pub fn find_scripts() -> Vec<FoundScript> {
    let mut dirs = vec![PathBuf::from("ceremony-scripts")];
    for root in ["/media", "/mnt"] {
        if let Ok(entries) = std::fs::read_dir(root) {
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("ceremony-scripts"))
                .collect();
            found.sort();
            dirs.extend(found);
        }
    }
    let mut scripts = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut here: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        here.sort();
        // Only scripts that validate: a broken one would fail on the next screen anyway.
        scripts.extend(here.into_iter().filter_map(found_script));
    }
    scripts
}

/// A ceremony or provisioning script that validates, described for the picker.
fn found_script(path: PathBuf) -> Option<FoundScript> {
    if let Ok(script) = crate::ceremony::script::CeremonyScript::load(&path) {
        return Some(FoundScript {
            kind: ScriptKind::Ceremony,
            ceremony_id: script.ceremony_id.clone(),
            rehearsal: script.rehearsal,
            target: script.target.to_string(),
            sha256: script.sha256.clone(),
            path,
        });
    }
    let script = crate::quorum::script::ProvisioningScript::load(&path).ok()?;
    let bytes = crate::media::input::read_input(&path, crate::media::input::SCRIPT).ok()?;
    let token = match &script.token {
        crate::quorum::script::TokenPlan::Initialise { label, .. } => label.clone(),
        crate::quorum::script::TokenPlan::Adopt { .. } => "an existing token".into(),
    };
    Some(FoundScript {
        kind: ScriptKind::Provisioning,
        ceremony_id: path.file_stem()?.to_string_lossy().into_owned(),
        rehearsal: script.rehearsal,
        target: format!(
            "{token}: PIN split {} of {}",
            script.user_pin.threshold,
            script.user_pin.custodians.len()
        ),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        path,
    })
}
