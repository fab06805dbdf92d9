//! `audit report`: a self-contained, printable report of a ceremony from its audit log.
//!
//! A report is made only for a log that verifies (integrity, signatures, policy, and the
//! artifacts and script when given): a report of a log that does not verify would lend its
//! authority to a forgery. The report says which checks were made and which were not.
mod data;
mod html;
mod markdown;
mod text;
mod timeline;

use std::path::Path;

use sha2::{Digest, Sha256};

use super::verify::{self, At, AuditError, VerifyOptions};
pub use data::{DataError, Facts};

/// The two output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "the log does not verify, so no report is made: {0}; hand the log to the auditor as it is"
    )]
    NotVerified(#[from] AuditError),
    #[error("{0}")]
    Data(#[from] DataError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// What `audit verify` established, as the report states it.
#[derive(Debug)]
pub struct Checked {
    pub log_name: String,
    pub entries: u64,
    pub checkpoints: usize,
    pub media: Option<String>,
    pub artifacts: usize,
    pub script: bool,
    pub unsigned_from: Option<At>,
}

/// One hash shown as hex, PGP words and QR code.
#[derive(Debug)]
pub struct Hashed {
    pub label: String,
    pub hex: String,
    pub note: String,
}

/// Everything a rendering needs.
#[derive(Debug)]
pub struct Report {
    pub facts: Facts,
    pub checked: Checked,
    pub hashes: Vec<Hashed>,
}

/// Verifies the log, then gathers the report's facts from it.
pub fn build(log: &Path, opts: &VerifyOptions<'_>) -> Result<Report, ReportError> {
    let verdict = verify::verify(log, opts)?;
    let facts = data::gather(log)?;
    let log_sha256 =
        crate::media::atomic::sha256_file(log).map_err(|source| ReportError::Read {
            path: log.display().to_string(),
            source,
        })?;
    let checked = Checked {
        log_name: log.file_name().map_or_else(
            || log.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        entries: verdict.entries,
        checkpoints: verdict.checkpoints_verified,
        media: opts.media.map(|m| m.display().to_string()),
        artifacts: verdict.artifacts_verified,
        script: verdict.script_verified,
        unsigned_from: verdict.unsigned_from,
    };
    let hashes = hashes(&facts, &hex::encode(log_sha256), opts.audit_key_spki_der);
    Ok(Report {
        facts,
        checked,
        hashes,
    })
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Html => html::render(report),
        Format::Markdown => markdown::render(report),
    }
}

fn hashes(f: &Facts, log_sha256: &str, audit_key: Option<&[u8]>) -> Vec<Hashed> {
    let mut out = Vec::new();
    let mut add = |label: String, hex: &str, note: &str| {
        out.push(Hashed {
            label,
            hex: hex.to_owned(),
            note: note.to_owned(),
        });
    };
    for file in &f.exported {
        let cloud = f
            .clouds
            .iter()
            .find(|c| c.file.as_deref() == Some(file.name.as_str()));
        let note = if file.name.ends_with(".byok") {
            "the wrapped key that goes to Azure; sha256sum of the file".to_owned()
        } else if let Some(c) = cloud {
            format!(
                "the wrapped key that goes to {} ({}); sha256sum of the file",
                c.cloud.title(),
                c.algorithm
            )
        } else {
            "sha256sum of the file".to_owned()
        };
        add(format!("Exported file {}", file.name), &file.sha256, &note);
    }
    for c in &f.clouds {
        add(
            format!("KEK fingerprint, {}", c.cloud.title()),
            &c.kek_fingerprint_sha256,
            "SHA-256 of the wrapping key's SubjectPublicKeyInfo DER, as read aloud from that cloud's online side",
        );
    }
    if f.exported.is_empty() {
        if let Some(w) = &f.wrap {
            add(".byok (wrapped, not exported)".into(), &w.byok_sha256, "");
        }
    }
    if let Some(k) = &f.kek {
        add(
            "KEK fingerprint".into(),
            &k.fingerprint_sha256,
            "SHA-256 of the KEK's SubjectPublicKeyInfo DER, as read aloud from the online side",
        );
    }
    add(
        "Audit log head".into(),
        &f.head,
        "hash of the log's last entry; the closing checkpoint signs the chain up to it",
    );
    add(
        "Audit log file".into(),
        log_sha256,
        "sha256sum of the whole log file, to compare copies",
    );
    if let Some(w) = &f.wrap {
        add(
            "Wrap entry".into(),
            &w.entry_hash,
            "hash of the entry that recorded the wrap: the manifest's audit_log_head_sha256",
        );
    }
    add(
        "Ceremony script".into(),
        &f.opened.script_sha256,
        "sha256sum of the script the ceremony ran",
    );
    add(
        "Tool binary".into(),
        &f.opened.binary_sha256,
        "sha256sum of the byok-ceremony binary that ran the ceremony",
    );
    if let Some(key) = audit_key {
        add(
            "Audit key".into(),
            &hex::encode(Sha256::digest(key)),
            "SHA-256 of the audit public key (SPKI DER) that signed the checkpoints",
        );
    }
    out
}
