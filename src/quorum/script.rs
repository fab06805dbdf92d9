//! The provisioning script: one strict TOML file per provisioning. Unknown fields, wrong
//! types and impossible settings are errors that name the line.
//!
//! ```toml
//! format = "byok-ceremony provisioning script"
//! version = 1
//! rehearsal = false            # true allows M = 1 (never for a production token)
//!
//! [token]
//! module = "/usr/lib/softhsm/libsofthsm2.so"
//! mode = "initialise"          # or "adopt" (current PINs from --current-pins FILE)
//! label = "byok-2026"          # initialise: the new label. adopt: label, serial or uri
//! # slot_id = 0                # initialise: the slot; default: the only uninitialised one
//!
//! [user_pin]
//! threshold = 3
//! custodians = ["alice", "bob", "carol", "dave", "erin"]
//!
//! [so_pin]                     # required when initialising; optional when adopting
//! threshold = 2
//! custodians = ["frank", "grace", "heidi"]
//!
//! [trusted_kek]                # optional: the SO imports this KEK as a trusted wrapping key,
//! file = "kek-usb/kek.pem"     # for ceremonies whose target sets wrap_with_trusted
//! fingerprint_sha256 = "9cf9 36ac ..."   # as read aloud from the online side
//! ```
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::split::{self, SplitPolicy};
use crate::byok::fingerprint::Fingerprint;
use crate::hsm_types::token::TokenSelector;
use crate::hsm_types::uri::Pkcs11Uri;
use crate::strict_toml::{self, line_col};

/// The `format` field's value.
pub const SCRIPT_FORMAT: &str = "byok-ceremony provisioning script";
/// The version this build reads.
pub const SCRIPT_VERSION: u32 = 1;
/// Longest token label PKCS#11 can hold.
pub const MAX_LABEL_BYTES: usize = 32;

/// Why a provisioning script was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error(transparent)]
    Input(#[from] crate::media::input::InputError),
    #[error("could not read the provisioning script {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("provisioning script, line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("provisioning script, line {line}: {message}")]
    Invalid { line: usize, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenMode {
    /// C_InitToken on an empty slot: new label, new SO PIN, new user PIN.
    Initialise,
    /// An initialised token: its current PINs are replaced by split ones.
    Adopt,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    format: Spanned<String>,
    version: Spanned<u32>,
    #[serde(default)]
    rehearsal: bool,
    token: RawToken,
    user_pin: RawGroup,
    so_pin: Option<RawGroup>,
    trusted_kek: Option<RawTrustedKek>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrustedKek {
    file: Spanned<String>,
    fingerprint_sha256: Spanned<String>,
}

/// The KEK the security officer imports as a trusted wrapping key, and the fingerprint the
/// script pins for it (the file must match, or nothing is changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKekPlan {
    pub file: PathBuf,
    pub fingerprint: Fingerprint,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    module: Spanned<String>,
    mode: Spanned<TokenMode>,
    label: Option<Spanned<String>>,
    serial: Option<Spanned<String>>,
    uri: Option<Spanned<String>>,
    slot_id: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    threshold: Spanned<u8>,
    custodians: Spanned<Vec<Spanned<String>>>,
}

/// What to do with which token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPlan {
    Initialise { label: String, slot_id: Option<u64> },
    Adopt { selector: TokenSelector },
}

/// One PIN's custodians.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodianGroup {
    pub threshold: u8,
    pub custodians: Vec<String>,
}

/// A validated provisioning script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningScript {
    pub rehearsal: bool,
    pub module: PathBuf,
    pub token: TokenPlan,
    pub user_pin: CustodianGroup,
    pub so_pin: Option<CustodianGroup>,
    pub trusted_kek: Option<TrustedKekPlan>,
}

impl ProvisioningScript {
    pub fn policy(&self) -> SplitPolicy {
        if self.rehearsal {
            SplitPolicy::Rehearsal
        } else {
            SplitPolicy::Production
        }
    }

    pub fn load(path: &std::path::Path) -> Result<ProvisioningScript, ScriptError> {
        let bytes = crate::media::input::read_input(path, crate::media::input::SCRIPT)?;
        let text = String::from_utf8(bytes).map_err(|e| ScriptError::Read {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        ProvisioningScript::parse(&text)
    }

    /// Parses and validates the script's text.
    pub fn parse(text: &str) -> Result<ProvisioningScript, ScriptError> {
        let raw: RawScript = strict_toml::parse(text).map_err(|e| ScriptError::Syntax {
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        let invalid = |span: std::ops::Range<usize>, message: String| ScriptError::Invalid {
            line: line_col(text, span.start).0,
            message,
        };
        if raw.format.get_ref() != SCRIPT_FORMAT {
            return Err(invalid(
                raw.format.span(),
                format!("format must be \"{SCRIPT_FORMAT}\""),
            ));
        }
        if *raw.version.get_ref() != SCRIPT_VERSION {
            return Err(invalid(
                raw.version.span(),
                format!(
                    "version {} is not one this byok-ceremony reads (it reads {SCRIPT_VERSION})",
                    raw.version.get_ref()
                ),
            ));
        }
        let policy = if raw.rehearsal {
            SplitPolicy::Rehearsal
        } else {
            SplitPolicy::Production
        };
        let t = &raw.token;
        let module = PathBuf::from(t.module.get_ref());
        if t.module.get_ref().is_empty() {
            return Err(invalid(
                t.module.span(),
                "module must name the HSM's PKCS#11 library".into(),
            ));
        }
        let token = match t.mode.get_ref() {
            TokenMode::Initialise => {
                if let Some(extra) = t
                    .serial
                    .as_ref()
                    .map(Spanned::span)
                    .or(t.uri.as_ref().map(Spanned::span))
                {
                    return Err(invalid(
                        extra,
                        "an uninitialised token has no serial or URI to select it by; name its slot with slot_id".into(),
                    ));
                }
                let label = t.label.as_ref().ok_or_else(|| {
                    invalid(
                        t.mode.span(),
                        "mode = \"initialise\" needs label = \"...\" (the new token's label)"
                            .into(),
                    )
                })?;
                check_label(label).map_err(|m| invalid(label.span(), m))?;
                if raw.so_pin.is_none() {
                    return Err(invalid(
                        t.mode.span(),
                        "initialising a token sets a new SO PIN; add an [so_pin] section with its custodians (they may be the same people)".into(),
                    ));
                }
                TokenPlan::Initialise {
                    label: label.get_ref().clone(),
                    slot_id: t.slot_id.as_ref().map(|s| *s.get_ref()),
                }
            }
            TokenMode::Adopt => {
                if let Some(slot) = &t.slot_id {
                    return Err(invalid(slot.span(), "slot_id is for initialising; select the token to adopt by label, serial or uri".into()));
                }
                let given: Vec<_> = [&t.label, &t.serial, &t.uri]
                    .into_iter()
                    .flatten()
                    .collect();
                let selector = match (&t.label, &t.serial, &t.uri) {
                    _ if given.len() != 1 => {
                        return Err(invalid(
                            t.mode.span(),
                            "mode = \"adopt\" needs exactly one of label, serial or uri to select the token".into(),
                        ));
                    }
                    (Some(l), _, _) => {
                        check_label(l).map_err(|m| invalid(l.span(), m))?;
                        TokenSelector::Label(l.get_ref().clone())
                    }
                    (_, Some(s), _) => {
                        crate::text::check_label("token.serial", s.get_ref())
                            .map_err(|e| invalid(s.span(), e.to_string()))?;
                        TokenSelector::Serial(s.get_ref().clone())
                    }
                    (_, _, Some(u)) => {
                        let uri = Pkcs11Uri::parse(u.get_ref())
                            .map_err(|e| invalid(u.span(), e.to_string()))?;
                        if uri
                            .module_path
                            .as_deref()
                            .is_some_and(|m| m != t.module.get_ref())
                        {
                            return Err(invalid(
                                u.span(),
                                "the URI's module-path differs from module; keep them the same"
                                    .into(),
                            ));
                        }
                        TokenSelector::Uri(uri)
                    }
                    _ => {
                        return Err(invalid(
                            t.mode.span(),
                            "select the token by label, serial or uri".into(),
                        ));
                    }
                };
                TokenPlan::Adopt { selector }
            }
        };
        let user_pin = group(&raw.user_pin, "user_pin", policy, &invalid)?;
        let so_pin = raw
            .so_pin
            .as_ref()
            .map(|g| group(g, "so_pin", policy, &invalid))
            .transpose()?;
        if let Some(so) = &raw.so_pin {
            for name in so.custodians.get_ref() {
                let clash = user_pin
                    .custodians
                    .iter()
                    .find(|u| u.eq_ignore_ascii_case(name.get_ref()) && *u != name.get_ref());
                if let Some(u) = clash {
                    return Err(invalid(
                        name.span(),
                        format!(
                            "\"{}\" and \"{u}\" differ only in case; write one person's name the same way in both groups",
                            name.get_ref()
                        ),
                    ));
                }
            }
        }
        let trusted_kek = match &raw.trusted_kek {
            Some(t) => {
                if t.file.get_ref().is_empty() {
                    return Err(invalid(
                        t.file.span(),
                        "[trusted_kek] file must name the KEK public key file".into(),
                    ));
                }
                let fingerprint = Fingerprint::from_hex(t.fingerprint_sha256.get_ref())
                    .map_err(|e| invalid(t.fingerprint_sha256.span(), e.to_string()))?;
                Some(TrustedKekPlan {
                    file: PathBuf::from(t.file.get_ref()),
                    fingerprint,
                })
            }
            None => None,
        };
        Ok(ProvisioningScript {
            rehearsal: raw.rehearsal,
            module,
            token,
            user_pin,
            so_pin,
            trusted_kek,
        })
    }
}

fn group(
    raw: &RawGroup,
    section: &str,
    policy: SplitPolicy,
    invalid: &impl Fn(std::ops::Range<usize>, String) -> ScriptError,
) -> Result<CustodianGroup, ScriptError> {
    let names = raw.custodians.get_ref();
    for (i, name) in names.iter().enumerate() {
        check_name(name.get_ref()).map_err(|m| invalid(name.span(), m))?;
        if names[..i]
            .iter()
            .any(|o| o.get_ref().eq_ignore_ascii_case(name.get_ref()))
        {
            return Err(invalid(
                name.span(),
                format!(
                    "custodian \"{}\" is listed twice in [{section}]",
                    name.get_ref()
                ),
            ));
        }
    }
    let threshold = *raw.threshold.get_ref();
    split::check_params(threshold, names.len(), policy)
        .map_err(|e| invalid(raw.threshold.span(), format!("[{section}]: {e}")))?;
    Ok(CustodianGroup {
        threshold,
        custodians: names.iter().map(|n| n.get_ref().clone()).collect(),
    })
}

/// Custodian names become file names: letters, digits, '.', '_' and '-', 1 to 64 of them, not
/// starting with '.' or '-'.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if name.is_empty() || name.len() > 64 || !ok_chars || name.starts_with(['.', '-']) {
        return Err(format!(
            "custodian name \"{name}\" must be 1-64 letters, digits, '.', '_' or '-' (it names their share file), not starting with '.' or '-'"
        ));
    }
    Ok(())
}

fn check_label(label: &Spanned<String>) -> Result<(), String> {
    let l = label.get_ref();
    if l.trim().is_empty() || l.len() > MAX_LABEL_BYTES || l.trim_end() != l {
        return Err(format!(
            "the token label must be 1-{MAX_LABEL_BYTES} bytes without trailing blanks"
        ));
    }
    crate::text::check_label("token.label", l).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"format = "byok-ceremony provisioning script"
version = 1

[token]
module = "/usr/lib/softhsm/libsofthsm2.so"
mode = "initialise"
label = "byok-test"

[user_pin]
threshold = 3
custodians = ["alice", "bob", "carol", "dave", "erin"]

[so_pin]
threshold = 2
custodians = ["frank", "grace", "Alice"]
"#;

    #[test]
    fn a_good_script_parses() {
        let s = ProvisioningScript::parse(GOOD);
        assert!(s.is_err(), "Alice/alice differ in case");
        let s = ProvisioningScript::parse(&GOOD.replace("\"Alice\"", "\"alice\"")).expect("valid");
        assert_eq!(s.user_pin.threshold, 3);
        assert_eq!(s.so_pin.as_ref().map(|g| g.custodians.len()), Some(3));
        assert_eq!(
            s.token,
            TokenPlan::Initialise {
                label: "byok-test".into(),
                slot_id: None
            }
        );
    }

    fn error_line(text: &str) -> (usize, String) {
        match ProvisioningScript::parse(text) {
            Err(
                ScriptError::Syntax { line, message, .. } | ScriptError::Invalid { line, message },
            ) => (line, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_fields_and_bad_values_name_their_line() {
        let good = GOOD.replace("\"Alice\"", "\"heidi\"");
        let (line, msg) = error_line(&good.replace(
            "label = \"byok-test\"",
            "label = \"byok-test\"\npin = \"1234\"",
        ));
        assert_eq!(line, 8, "{msg}");
        assert!(msg.contains("unknown field"), "{msg}");
        let (line, msg) = error_line(&good.replace("threshold = 3", "threshold = 1"));
        assert_eq!(line, 10);
        assert!(msg.contains("M >= 2"), "{msg}");
        let (line, _) = error_line(&good.replace("threshold = 3", "threshold = 6"));
        assert_eq!(line, 10);
        let (line, msg) = error_line(&good.replace("\"bob\"", "\"alice\""));
        assert_eq!(line, 11);
        assert!(msg.contains("twice"), "{msg}");
        let (line, _) = error_line(&good.replace("\"bob\"", "\"../bob\""));
        assert_eq!(line, 11);
        let (line, msg) = error_line(&good.replace("mode = \"initialise\"", "mode = \"wipe\""));
        assert_eq!(line, 6, "{msg}");
        let no_so = good.split("[so_pin]").next().unwrap_or_default().to_owned();
        let (line, msg) = error_line(&no_so);
        assert_eq!(line, 6);
        assert!(msg.contains("[so_pin]"), "{msg}");
        // Rehearsals may use M = 1.
        let rehearsal = good
            .replace("version = 1", "version = 1\nrehearsal = true")
            .replace("threshold = 3", "threshold = 1");
        assert!(ProvisioningScript::parse(&rehearsal).is_ok());
    }

    #[test]
    fn adopt_needs_exactly_one_selector() {
        let adopt = GOOD
            .replace("\"Alice\"", "\"heidi\"")
            .replace("mode = \"initialise\"", "mode = \"adopt\"");
        let s = ProvisioningScript::parse(&adopt).expect("adopt by label");
        assert_eq!(
            s.token,
            TokenPlan::Adopt {
                selector: TokenSelector::Label("byok-test".into())
            }
        );
        let both = adopt.replace("label = \"byok-test\"", "label = \"a\"\nserial = \"b\"");
        assert!(ProvisioningScript::parse(&both).is_err());
        let uri = adopt.replace(
            "label = \"byok-test\"",
            "uri = \"pkcs11:token=a?pin-value=1\"",
        );
        let (line, msg) = error_line(&uri);
        assert_eq!(line, 7);
        assert!(msg.contains("PIN"), "{msg}");
    }
}
