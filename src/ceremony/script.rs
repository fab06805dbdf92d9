//! Ceremony scripts: one strict TOML file per ceremony (boulder's habit). Unknown fields, wrong
//! types and impossible settings are refused with the line, before anything runs. The file's
//! SHA-256 is pinned in the audit log's first entry.
//!
//! See docs/ceremony-scripts.md for every field and a full example.
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::machine::{MachineConfig, QuorumMode};
use crate::cloud::{Cloud, CloudTarget};
use crate::hsm_types::key::TargetSpec;
use crate::hsm_types::token::TokenSelector;
use crate::hsm_types::uri::Pkcs11Uri;
use crate::strict_toml::{self, line_col};

pub const SCRIPT_FORMAT: &str = "byok-ceremony ceremony script";
pub const SCRIPT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error(transparent)]
    Input(#[from] crate::media::input::InputError),
    #[error("could not read the ceremony script {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("ceremony script, line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("ceremony script, line {line}: {message}")]
    Invalid { line: usize, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    format: Spanned<String>,
    version: Spanned<u32>,
    ceremony_id: Spanned<String>,
    purpose: Spanned<String>,
    #[serde(default)]
    rehearsal: bool,
    roles: RawRoles,
    quorum: RawQuorum,
    hsm: RawHsm,
    target: RawTarget,
    kek: Option<super::script_targets::RawKek>,
    #[serde(default)]
    targets: Vec<super::script_targets::RawCloudTarget>,
    outputs: RawOutputs,
    #[serde(default)]
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    administrator: Spanned<String>,
    witness: Spanned<String>,
    auditor: Option<Spanned<String>>,
    custodians: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuorum {
    mode: Spanned<String>,
    threshold: Spanned<u8>,
    /// hsm-native: the HSM's own N.
    total: Option<Spanned<u8>>,
    /// split-pin: the provisioning record (relative to the script's directory).
    record: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHsm {
    module: Spanned<String>,
    label: Option<Spanned<String>>,
    serial: Option<Spanned<String>>,
    uri: Option<Spanned<String>>,
    #[serde(default)]
    allow_zero_padding: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    kty: Spanned<String>,
    size: Option<u32>,
    curve: Option<String>,
    label: Spanned<String>,
    #[serde(default = "yes")]
    keep_in_hsm: bool,
    /// CKA_WRAP_WITH_TRUSTED: wrap only with the KEK the SO imported as trusted.
    #[serde(default)]
    wrap_with_trusted: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutputs {
    name: Spanned<String>,
    #[serde(default)]
    second_copy: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    phase: Spanned<String>,
    instruction: Spanned<String>,
}

/// A validated ceremony script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyScript {
    pub ceremony_id: String,
    pub purpose: String,
    pub rehearsal: bool,
    pub administrator: String,
    pub witness: String,
    pub auditor: Option<String>,
    pub custodians: Vec<String>,
    pub quorum: QuorumMode,
    /// split-pin: path of the provisioning record.
    pub record: Option<PathBuf>,
    pub module: PathBuf,
    pub token: TokenSelector,
    /// `[hsm] allow_zero_padding` as written: a production ceremony accepts a zero-padding
    /// wrap only with it (a rehearsal always does; the machine applies the rule).
    pub allow_zero_padding: bool,
    pub target: TargetSpec,
    pub target_label: String,
    pub keep_in_hsm: bool,
    /// `[target] wrap_with_trusted`: the key is made with CKA_WRAP_WITH_TRUSTED and wrapped only
    /// with the trusted KEK the security officer imported at provisioning (native wrap only).
    pub wrap_with_trusted: bool,
    /// The clouds the key is wrapped for, in the script's order (a `[kek]` script: one Azure
    /// target). The KEKs are loaded and confirmed, and the wraps made, in this order.
    pub targets: Vec<CloudTarget>,
    /// The script lists `[[targets]]` itself: the machine then pins them in the log (a `[kek]`
    /// script's log stays as it was).
    pub lists_targets: bool,
    pub output_name: String,
    pub second_copy: bool,
    /// (phase name, instruction) for the people in the room.
    pub steps: Vec<(String, String)>,
    /// SHA-256 of the script file's bytes, hex.
    pub sha256: String,
}

impl CeremonyScript {
    pub fn load(path: &Path) -> Result<CeremonyScript, ScriptError> {
        let bytes = crate::media::input::read_input(path, crate::media::input::SCRIPT)?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| ScriptError::Invalid {
            line: 1,
            message: "the script is not UTF-8 text".into(),
        })?;
        let mut script = CeremonyScript::parse(&text)?;
        // A relative record path is relative to the script, wherever it is run from.
        if let (Some(record), Some(dir)) = (&script.record, path.parent()) {
            if record.is_relative() {
                script.record = Some(dir.join(record));
            }
        }
        script.sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(script)
    }

    /// Parses and validates; `sha256` is computed over `text`.
    pub fn parse(text: &str) -> Result<CeremonyScript, ScriptError> {
        let raw: RawScript = strict_toml::parse(text).map_err(|e| ScriptError::Syntax {
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        let at = |span: std::ops::Range<usize>, message: String| ScriptError::Invalid {
            line: line_col(text, span.start).0,
            message,
        };
        if raw.format.get_ref() != SCRIPT_FORMAT {
            return Err(at(
                raw.format.span(),
                format!("format must be \"{SCRIPT_FORMAT}\""),
            ));
        }
        if *raw.version.get_ref() != SCRIPT_VERSION {
            return Err(at(
                raw.version.span(),
                format!(
                    "version {} is not one this build reads ({SCRIPT_VERSION})",
                    raw.version.get_ref()
                ),
            ));
        }
        check_name(&raw.ceremony_id, "ceremony_id").map_err(|m| at(raw.ceremony_id.span(), m))?;

        crate::text::check_text(
            "purpose",
            raw.purpose.get_ref(),
            crate::text::MAX_PURPOSE_CHARS,
            true,
        )
        .map_err(|e| at(raw.purpose.span(), e.to_string()))?;

        // Roles: every person has exactly one role, and one spelling (issue 13: "alice" and
        // "Alice", or a name with a Cyrillic letter, are not two people).
        let mut people = vec![
            (&raw.roles.administrator, "roles.administrator"),
            (&raw.roles.witness, "roles.witness"),
        ];
        people.extend(raw.roles.auditor.iter().map(|a| (a, "roles.auditor")));
        people.extend(
            raw.roles
                .custodians
                .get_ref()
                .iter()
                .map(|c| (c, "roles.custodians")),
        );
        let mut seen: Vec<&str> = Vec::new();
        for (p, field) in people {
            crate::text::check_name(field, p.get_ref()).map_err(|e| at(p.span(), e.to_string()))?;
            seen.push(p.get_ref());
            crate::text::check_distinct(seen.iter().copied())
                .map_err(|e| at(p.span(), format!("{e} (roles must be distinct people)")))?;
        }
        let custodians: Vec<String> = raw
            .roles
            .custodians
            .get_ref()
            .iter()
            .map(|c| c.get_ref().clone())
            .collect();
        if custodians.is_empty() {
            return Err(at(
                raw.roles.custodians.span(),
                "a ceremony needs custodians".into(),
            ));
        }

        let threshold = *raw.quorum.threshold.get_ref();
        let min = if raw.rehearsal { 1 } else { 2 };
        if usize::from(threshold) < min || usize::from(threshold) > custodians.len() {
            return Err(at(
                raw.quorum.threshold.span(),
                format!(
                    "quorum threshold {threshold} must be between {min} and the number of custodians ({}): M <= N{}",
                    custodians.len(),
                    if raw.rehearsal {
                        ""
                    } else {
                        ", and production needs M >= 2"
                    }
                ),
            ));
        }
        let (quorum, record) = match raw.quorum.mode.get_ref().as_str() {
            "split-pin" => {
                let record = raw.quorum.record.as_ref().ok_or_else(|| {
                    at(
                        raw.quorum.mode.span(),
                        "split-pin needs `record`, the provisioning record of the token".into(),
                    )
                })?;
                if raw.quorum.total.is_some() {
                    return Err(at(
                        raw.quorum.mode.span(),
                        "`total` is for hsm-native quorum only".into(),
                    ));
                }
                (
                    QuorumMode::SplitPin { threshold },
                    Some(PathBuf::from(record.get_ref())),
                )
            }
            "hsm-native" => {
                let total = raw.quorum.total.as_ref().ok_or_else(|| {
                    at(
                        raw.quorum.mode.span(),
                        "hsm-native needs `total`, the HSM's own N".into(),
                    )
                })?;
                if *total.get_ref() < threshold {
                    return Err(at(total.span(), "the HSM's N is smaller than its M".into()));
                }
                (
                    QuorumMode::HsmNative {
                        threshold,
                        total: *total.get_ref(),
                    },
                    None,
                )
            }
            other => {
                return Err(at(
                    raw.quorum.mode.span(),
                    format!("quorum mode \"{other}\" is unknown; use split-pin or hsm-native"),
                ));
            }
        };

        let token = match (&raw.hsm.label, &raw.hsm.serial, &raw.hsm.uri) {
            (Some(l), None, None) => {
                crate::text::check_label("hsm.label", l.get_ref())
                    .map_err(|e| at(l.span(), e.to_string()))?;
                TokenSelector::Label(l.get_ref().clone())
            }
            (None, Some(s), None) => {
                crate::text::check_label("hsm.serial", s.get_ref())
                    .map_err(|e| at(s.span(), e.to_string()))?;
                TokenSelector::Serial(s.get_ref().clone())
            }
            (None, None, Some(u)) => TokenSelector::Uri(
                Pkcs11Uri::parse(u.get_ref()).map_err(|e| at(u.span(), e.to_string()))?,
            ),
            _ => {
                return Err(at(
                    raw.hsm.module.span(),
                    "name the token with exactly one of label, serial or uri".into(),
                ));
            }
        };

        let target = TargetSpec::from_azure(
            raw.target.kty.get_ref(),
            raw.target.size,
            raw.target.curve.as_deref(),
        )
        .map_err(|e| at(raw.target.kty.span(), e.to_string()))?;
        check_label(&raw.target.label).map_err(|m| at(raw.target.label.span(), m))?;

        let (targets, lists_targets) = super::script_targets::parse(
            raw.kek.as_ref(),
            &raw.targets,
            target,
            raw.target.kty.span().start,
        )
        .map_err(|(offset, message)| at(offset..offset, message))?;
        if raw.target.wrap_with_trusted && targets.len() > 1 {
            return Err(at(
                raw.target.kty.span(),
                "wrap_with_trusted wraps only with the one trusted KEK the security officer imported: it serves a single target".into(),
            ));
        }
        check_name(&raw.outputs.name, "outputs.name")
            .map_err(|m| at(raw.outputs.name.span(), m))?;

        let mut steps = Vec::new();
        for s in &raw.steps {
            if !PHASE_NAMES.contains(&s.phase.get_ref().as_str()) {
                return Err(at(
                    s.phase.span(),
                    format!(
                        "step phase \"{}\" is unknown; use one of {}",
                        s.phase.get_ref(),
                        PHASE_NAMES.join(", ")
                    ),
                ));
            }
            crate::text::check_text(
                "steps.instruction",
                s.instruction.get_ref(),
                crate::text::MAX_INSTRUCTION_CHARS,
                true,
            )
            .map_err(|e| at(s.instruction.span(), e.to_string()))?;
            steps.push((s.phase.get_ref().clone(), s.instruction.get_ref().clone()));
        }

        Ok(CeremonyScript {
            ceremony_id: raw.ceremony_id.get_ref().clone(),
            purpose: raw.purpose.into_inner(),
            rehearsal: raw.rehearsal,
            administrator: raw.roles.administrator.get_ref().clone(),
            witness: raw.roles.witness.get_ref().clone(),
            auditor: raw.roles.auditor.map(|a| a.get_ref().clone()),
            custodians,
            quorum,
            record,
            module: PathBuf::from(raw.hsm.module.get_ref()),
            token,
            allow_zero_padding: raw.hsm.allow_zero_padding,
            target,
            target_label: raw.target.label.get_ref().clone(),
            keep_in_hsm: raw.target.keep_in_hsm,
            wrap_with_trusted: raw.target.wrap_with_trusted,
            targets,
            lists_targets,
            output_name: raw.outputs.name.get_ref().clone(),
            second_copy: raw.outputs.second_copy,
            steps,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    /// The Azure target, if the key goes to Azure.
    pub fn azure(&self) -> Option<&CloudTarget> {
        self.target_for(Cloud::Azure)
    }

    /// The target for `cloud`, if the script names one.
    pub fn target_for(&self, cloud: Cloud) -> Option<&CloudTarget> {
        self.targets.iter().find(|t| t.cloud == cloud)
    }

    /// What the state machine needs, pinned in the log's first entry.
    pub fn machine_config(&self) -> MachineConfig {
        MachineConfig {
            ceremony_id: self.ceremony_id.clone(),
            administrator: self.administrator.clone(),
            witness: self.witness.clone(),
            auditor: self.auditor.clone(),
            custodians: self.custodians.clone(),
            quorum: self.quorum,
            expected_kek_fingerprint: if self.lists_targets {
                None
            } else {
                self.targets[0].expected_fingerprint.clone()
            },
            targets: if self.lists_targets {
                self.targets.iter().map(CloudTarget::config).collect()
            } else {
                Vec::new()
            },
            destroy_after_export: !self.keep_in_hsm,
            allow_zero_padding: self.allow_zero_padding,
            wrap_with_trusted: self.wrap_with_trusted,
        }
    }
}

/// Phase names a step may attach its instruction to.
pub const PHASE_NAMES: [&str; 11] = [
    "preflight",
    "attendance",
    "quorum",
    "kek_load",
    "kek_confirm",
    "key_generation",
    "wrap",
    "export",
    "verification",
    "sign_off",
    "closed",
];

fn check_name(name: &Spanned<String>, field: &str) -> Result<(), String> {
    let n = name.get_ref();
    let ok = !n.is_empty()
        && n.len() <= 64
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field} \"{n}\" must be 1-64 letters, digits, '-', '_' or '.' (it names files)"
        ))
    }
}

fn check_label(label: &Spanned<String>) -> Result<(), String> {
    let l = label.get_ref();
    if l.is_empty() || l.chars().count() > 64 {
        return Err("target.label must be 1-64 printable characters".into());
    }
    crate::text::check_text("target.label", l, 64, false).map_err(|e| e.to_string())
}
