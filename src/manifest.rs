//! The manifest written beside each `.byok`: what was made, on which HSM, for which KEK.
//!
//! It is the online side's (byok-upload) and the auditor's source of truth for the file's hash
//! and the target's public key, so its fields are part of the automation contract (README).
//! Parsing is strict: unknown fields are errors.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::cloud::Cloud;
use crate::hsm_types::key::KeyAttributes;
use crate::hsm_types::token::TokenIdentity;
use crate::hsm_types::wrap::{OaepHash, WrapMethod};

/// The version of this manifest layout.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub manifest_version: u32,
    /// File name of the `.byok` this manifest describes (same directory); absent when the
    /// ceremony has no Azure target.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub byok_file: Option<String>,
    /// Lowercase hex SHA-256 of the `.byok` file's bytes (Azure).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub byok_sha256: Option<String>,
    /// The Azure KEK's full, versioned kid, as in the file's header.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kid: Option<String>,
    /// RSA-HSM, EC-HSM or oct-HSM.
    pub kty: String,
    /// Bits, for RSA and oct keys.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_size: Option<u32>,
    /// Azure curve name, for EC keys.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// SubjectPublicKeyInfo PEM of the target (RSA and EC).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub public_key_pem: Option<String>,
    /// CKA_CHECK_VALUE (hex) of an oct key, when the HSM reports one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub oct_check_value: Option<String>,
    /// Lowercase hex SHA-256 of the KEK's SubjectPublicKeyInfo DER: the first target's (the
    /// Azure KEK of an Azure-only ceremony); each output names its own in `outputs`.
    pub kek_fingerprint_sha256: String,
    pub kek_bits: usize,
    pub tool: ToolIdentity,
    pub hsm: HsmRecord,
    pub key_attributes: KeyAttributes,
    pub wrap: WrapMethod,
    /// True when made by `rehearse` on a throwaway token: never import it into production.
    pub rehearsal: bool,
    /// Why this output is only fit for rehearsal (empty when it is byte-exact).
    pub rehearsal_grade_reasons: Vec<String>,
    /// What a software unwrap proved, when a KEK private key was at hand.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub software_check: Option<String>,
    /// The ceremony that made the file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ceremony_id: Option<String>,
    /// Hash of the audit log entry that recorded the wrap (the log head at wrap time): ties
    /// this manifest to one entry of the ceremony's log.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub audit_log_head_sha256: Option<String>,
    /// One entry per file written for a cloud (absent in manifests of earlier versions).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub outputs: Vec<OutputRecord>,
}

/// A file written for a cloud: what to import, where, and how it was wrapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputRecord {
    pub cloud: Cloud,
    /// File name, in the manifest's directory.
    pub file: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The cloud's name of the wrapping algorithm (CKM_RSA_AES_KEY_WRAP for Azure).
    pub algorithm: String,
    pub oaep_hash: OaepHash,
    /// The wrapping key it was wrapped for.
    pub kek_fingerprint_sha256: String,
    /// Azure: the KEK's kid; Google Cloud: the import job; AWS: the key.
    pub destination: String,
    /// `native`, `two_step` or `plain_oaep`.
    pub wrap: String,
    /// AWS: the copy of the import token that goes with the material.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub import_token_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub import_token_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolIdentity {
    pub name: String,
    pub version: String,
}

impl ToolIdentity {
    pub fn this() -> Self {
        ToolIdentity {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HsmRecord {
    pub module: String,
    pub library: String,
    pub token: TokenIdentity,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is not valid: {0}; use the manifest written by the ceremony, unmodified")]
    Invalid(#[from] serde_json::Error),
    #[error(
        "the manifest has version {0}, this tool reads version {MANIFEST_VERSION}; use a matching byok-ceremony"
    )]
    Version(u32),
}

impl Manifest {
    /// Pretty JSON with a final newline: people read manifests.
    pub fn to_json(&self) -> Result<String, ManifestError> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }

    /// Strict parse: unknown fields and trailing data are errors.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let m: Manifest = serde_json::from_slice(bytes)?;
        if m.manifest_version != MANIFEST_VERSION {
            return Err(ManifestError::Version(m.manifest_version));
        }
        Ok(m)
    }
}
