//! The target key as the ceremony describes it: Azure's key types and sizes, how the key is
//! stored, and the attributes read back from the HSM.
use serde::{Deserialize, Serialize};

use crate::byok::curve::EcCurve;

/// What key to make, in Azure's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSpec {
    Rsa { bits: u32 },
    Ec { curve: EcCurve },
    Aes { bits: u32 },
}

/// How people read the target: Azure's key type and its size or curve, e.g.
/// "RSA-HSM 3072 bits", "EC-HSM P-384", "oct-HSM 256 bits".
impl std::fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetSpec::Rsa { bits } | TargetSpec::Aes { bits } => {
                write!(f, "{} {bits} bits", self.kty())
            }
            TargetSpec::Ec { curve } => write!(f, "{} {}", self.kty(), curve.azure_name()),
        }
    }
}

/// A key type or size Azure does not accept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("RSA-HSM keys are 2048, 3072 or 4096 bits, not {0}; pick one of those")]
    RsaSize(u32),
    #[error("oct-HSM (AES) keys are 128, 192 or 256 bits, not {0}; pick one of those")]
    AesSize(u32),
    #[error("unknown key type \"{0}\"; use RSA-HSM, EC-HSM or oct-HSM")]
    KeyType(String),
    #[error("EC-HSM needs a curve (P-256, P-384, P-521 or P-256K)")]
    CurveMissing,
    #[error("{0}")]
    Curve(#[from] crate::byok::curve::CurveError),
}

impl TargetSpec {
    /// Builds a spec from Azure's names: kty, and a size or curve where the type takes one.
    pub fn from_azure(
        kty: &str,
        size: Option<u32>,
        curve: Option<&str>,
    ) -> Result<TargetSpec, SpecError> {
        let spec = match kty {
            "RSA-HSM" | "RSA" => TargetSpec::Rsa {
                bits: size.unwrap_or(3072),
            },
            "EC-HSM" | "EC" => TargetSpec::Ec {
                curve: curve.ok_or(SpecError::CurveMissing)?.parse()?,
            },
            "oct-HSM" | "oct" => TargetSpec::Aes {
                bits: size.unwrap_or(256),
            },
            other => return Err(SpecError::KeyType(other.to_owned())),
        };
        spec.validate()?;
        Ok(spec)
    }

    pub fn validate(self) -> Result<(), SpecError> {
        match self {
            TargetSpec::Rsa { bits } if ![2048, 3072, 4096].contains(&bits) => {
                Err(SpecError::RsaSize(bits))
            }
            TargetSpec::Aes { bits } if ![128, 192, 256].contains(&bits) => {
                Err(SpecError::AesSize(bits))
            }
            _ => Ok(()),
        }
    }

    /// Azure's kty for the imported key.
    pub fn kty(self) -> &'static str {
        match self {
            TargetSpec::Rsa { .. } => "RSA-HSM",
            TargetSpec::Ec { .. } => "EC-HSM",
            TargetSpec::Aes { .. } => "oct-HSM",
        }
    }

    /// A short name for file names and labels, e.g. "rsa3072", "ec-p384", "aes256".
    pub fn short_name(self) -> String {
        match self {
            TargetSpec::Rsa { bits } => format!("rsa{bits}"),
            TargetSpec::Ec { curve } => {
                format!("ec-{}", curve.azure_name().to_lowercase().replace('-', ""))
            }
            TargetSpec::Aes { bits } => format!("aes{bits}"),
        }
    }

    /// Every combination Azure accepts, for test matrices and benchmarks.
    pub fn all() -> Vec<TargetSpec> {
        let mut v: Vec<TargetSpec> = [2048, 3072, 4096]
            .into_iter()
            .map(|bits| TargetSpec::Rsa { bits })
            .collect();
        v.extend(
            EcCurve::ALL
                .into_iter()
                .map(|curve| TargetSpec::Ec { curve }),
        );
        v.extend(
            [128, 192, 256]
                .into_iter()
                .map(|bits| TargetSpec::Aes { bits }),
        );
        v
    }
}

/// How the target is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRequest {
    pub spec: TargetSpec,
    pub label: String,
    /// Token object (kept in the HSM after the ceremony) or session object (gone at logout).
    pub token_object: bool,
    /// CKA_WRAP_WITH_TRUSTED: the HSM wraps the key only for a key its security officer marked
    /// trusted (the KEK imported at provisioning), never for anything else.
    pub wrap_with_trusted: bool,
}

/// The attributes read back from the HSM after generation, as evidence for the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttributes {
    pub label: String,
    pub id_hex: String,
    pub token: bool,
    pub sensitive: bool,
    pub extractable: bool,
    pub local: bool,
    pub always_sensitive: bool,
    pub never_extractable: bool,
    /// CKA_WRAP_WITH_TRUSTED as read back (absent in older logs: false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wrap_with_trusted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_in_azure_terms() {
        assert_eq!(
            TargetSpec::Rsa { bits: 3072 }.to_string(),
            "RSA-HSM 3072 bits"
        );
        assert_eq!(
            TargetSpec::Ec {
                curve: EcCurve::P384
            }
            .to_string(),
            "EC-HSM P-384"
        );
        assert_eq!(
            TargetSpec::Aes { bits: 256 }.to_string(),
            "oct-HSM 256 bits"
        );
    }

    #[test]
    fn azure_names_map_to_specs_and_bad_sizes_are_refused() {
        assert_eq!(
            TargetSpec::from_azure("RSA-HSM", Some(4096), None),
            Ok(TargetSpec::Rsa { bits: 4096 })
        );
        assert_eq!(
            TargetSpec::from_azure("EC-HSM", None, Some("P-256K")),
            Ok(TargetSpec::Ec {
                curve: EcCurve::P256K
            })
        );
        assert_eq!(
            TargetSpec::from_azure("RSA-HSM", Some(1024), None),
            Err(SpecError::RsaSize(1024))
        );
        assert_eq!(
            TargetSpec::from_azure("oct-HSM", Some(512), None),
            Err(SpecError::AesSize(512))
        );
        assert_eq!(
            TargetSpec::from_azure("EC-HSM", None, None),
            Err(SpecError::CurveMissing)
        );
        assert!(TargetSpec::from_azure("DSA", None, None).is_err());
        assert_eq!(TargetSpec::all().len(), 10);
    }
}
