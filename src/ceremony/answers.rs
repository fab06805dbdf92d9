//! Answers files: what the people would type, for headless runs (`run SCRIPT --answers FILE`).
//! Strict like scripts. Share texts are not in the answers file itself: it names each
//! custodian's share file (their own medium), read only when that custodian presents it.
//!
//! ```toml
//! format = "byok-ceremony answers"
//! version = 1
//! present = ["alice", "wendy", "carol", "dave"]
//! kek_media = "kek-usb"           # directory holding the script's kek.file
//! kek_fingerprint_read_aloud = "3a7b ..."   # what the online side read out (hex)
//! media = "out-usb"               # where the .byok, manifest and log copy are written
//! # second_media = "out-usb-2"    # when the script asks for a second copy
//! sign_off = ["alice", "wendy", "carol", "dave"]
//! # on_unfinished = "resume"      # or "abort", when a crashed run of this ceremony exists
//! # sums = "release/SHA256SUMS"   # the release's hashes: the preflight checks the tool's own
//!
//! [[shares]]
//! custodian = "carol"
//! file = "carol.share.txt"
//!
//! [[deviations]]
//! phase = "attendance"
//! text = "Dave arrived 10 minutes late; the witness checked his ID."
//! ```
use crate::cloud::Cloud;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::script::PHASE_NAMES;
use crate::strict_toml;

pub const ANSWERS_FORMAT: &str = "byok-ceremony answers";

#[derive(Debug, thiserror::Error)]
pub enum AnswersError {
    #[error(transparent)]
    Input(#[from] crate::media::input::InputError),
    #[error("could not read the answers file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("answers file, line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("answers file: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: String,
    version: u32,
    present: Vec<String>,
    kek_media: String,
    kek_fingerprint_read_aloud: String,
    /// A script with several clouds: the fingerprint read out for each (azure, gcp, aws);
    /// a cloud not named here is compared with `kek_fingerprint_read_aloud`.
    #[serde(default)]
    kek_fingerprints_read_aloud: std::collections::BTreeMap<String, String>,
    media: String,
    second_media: Option<String>,
    sign_off: Vec<String>,
    on_unfinished: Option<String>,
    sums: Option<String>,
    #[serde(default)]
    shares: Vec<RawShare>,
    #[serde(default)]
    deviations: Vec<RawDeviation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShare {
    custodian: String,
    file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeviation {
    phase: String,
    text: String,
}

/// What to do when a crashed run of the same ceremony is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    Resume,
    Abort,
}

/// A validated answers file with paths resolved against its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub present: Vec<String>,
    pub kek_media: PathBuf,
    pub kek_fingerprint_read_aloud: String,
    /// Per cloud, for a script with several (`kek_fingerprints_read_aloud` in the file).
    pub kek_fingerprints_by_cloud: std::collections::BTreeMap<Cloud, String>,
    pub media: PathBuf,
    pub second_media: Option<PathBuf>,
    pub sign_off: Vec<String>,
    pub on_unfinished: Option<Recovery>,
    /// The release's SHA256SUMS file, for the preflight's check of the tool's own hash.
    pub sums: Option<PathBuf>,
    /// (custodian, share file), in the order they are presented.
    pub shares: Vec<(String, PathBuf)>,
    /// (phase name, text): recorded by the administrator when that phase is reached.
    pub deviations: Vec<(String, String)>,
}

impl Answers {
    pub fn load(path: &Path) -> Result<Answers, AnswersError> {
        let bytes = crate::media::input::read_input(path, crate::media::input::ANSWERS)?;
        let text = String::from_utf8(bytes).map_err(|e| AnswersError::Read {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Answers::parse(&text, base)
    }

    pub fn parse(text: &str, base: &Path) -> Result<Answers, AnswersError> {
        let raw: Raw = strict_toml::parse(text).map_err(|e| AnswersError::Syntax {
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        if raw.format != ANSWERS_FORMAT || raw.version != 1 {
            return Err(AnswersError::Invalid(format!(
                "format must be \"{ANSWERS_FORMAT}\" and version 1"
            )));
        }
        let on_unfinished = match raw.on_unfinished.as_deref() {
            None => None,
            Some("resume") => Some(Recovery::Resume),
            Some("abort") => Some(Recovery::Abort),
            Some(other) => {
                return Err(AnswersError::Invalid(format!(
                    "on_unfinished \"{other}\" must be resume or abort"
                )));
            }
        };
        // Names are the script's, and a deviation's text goes into the log and the report:
        // plain text only (issue 13).
        let names = raw
            .present
            .iter()
            .map(|n| ("present", n))
            .chain(raw.sign_off.iter().map(|n| ("sign_off", n)))
            .chain(
                raw.shares
                    .iter()
                    .map(|s| ("shares.custodian", &s.custodian)),
            );
        for (field, name) in names {
            crate::text::check_name(field, name)
                .map_err(|e| AnswersError::Invalid(e.to_string()))?;
        }
        for d in &raw.deviations {
            crate::text::check_text(
                "deviations.text",
                &d.text,
                crate::text::MAX_INSTRUCTION_CHARS,
                true,
            )
            .map_err(|e| AnswersError::Invalid(e.to_string()))?;
        }
        for d in &raw.deviations {
            if !PHASE_NAMES.contains(&d.phase.as_str()) {
                return Err(AnswersError::Invalid(format!(
                    "deviation phase \"{}\" is unknown; use one of {}",
                    d.phase,
                    PHASE_NAMES.join(", ")
                )));
            }
        }
        let mut kek_fingerprints_by_cloud = std::collections::BTreeMap::new();
        for (cloud, hex) in raw.kek_fingerprints_read_aloud {
            let cloud = Cloud::parse(&cloud)
                .map_err(|e| AnswersError::Invalid(format!("kek_fingerprints_read_aloud: {e}")))?;
            kek_fingerprints_by_cloud.insert(cloud, hex);
        }
        let resolve = |p: &str| base.join(p);
        Ok(Answers {
            kek_fingerprints_by_cloud,
            present: raw.present,
            kek_media: resolve(&raw.kek_media),
            kek_fingerprint_read_aloud: raw.kek_fingerprint_read_aloud,
            media: resolve(&raw.media),
            second_media: raw.second_media.as_deref().map(resolve),
            sign_off: raw.sign_off,
            on_unfinished,
            sums: raw.sums.as_deref().map(resolve),
            shares: raw
                .shares
                .into_iter()
                .map(|s| (s.custodian, resolve(&s.file)))
                .collect(),
            deviations: raw
                .deviations
                .into_iter()
                .map(|d| (d.phase, d.text))
                .collect(),
        })
    }
}
