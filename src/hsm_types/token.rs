//! Which token, and who it says it is.
use serde::{Deserialize, Serialize};

use super::uri::Pkcs11Uri;

/// How the ceremony names its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    Label(String),
    Serial(String),
    Uri(Pkcs11Uri),
}

impl std::fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSelector::Label(l) => write!(f, "label \"{l}\""),
            TokenSelector::Serial(s) => write!(f, "serial \"{s}\""),
            TokenSelector::Uri(u) => write!(f, "PKCS#11 URI {u:?}"),
        }
    }
}

/// Who the token says it is: recorded in the manifest and the `.byok` generator field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIdentity {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub firmware: String,
    pub hardware: String,
    pub protected_authentication_path: bool,
}

/// The name a checkpoint's signature line gives the audit key of the token with `serial`.
pub fn audit_key_name(serial: &str) -> String {
    format!("byok-ceremony.audit/{serial}")
}
