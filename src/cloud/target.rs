//! One cloud a ceremony wraps for, as its script names it: the wrapping key (KEK) file on the KEK
//! medium, the algorithm, what the cloud calls the destination, and the times that bound it.
use serde::{Deserialize, Serialize};

use super::{Algorithm, Cloud};
use crate::byok::kek::Kid;
use crate::hsm_types::wrap::OaepHash;

/// A target of the ceremony. A script names at most one per cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudTarget {
    pub cloud: Cloud,
    pub algorithm: Algorithm,
    /// The wrapping public key's file on the KEK medium (PEM, DER, the AWS CLI's base64, or
    /// Azure's JSON).
    pub kek_file: String,
    /// Azure: the `az keyvault key show` JSON, for the kid.
    pub kek_json: Option<String>,
    /// Azure: the KEK's kid.
    pub expected_kid: Option<Kid>,
    /// Lowercase hex SHA-256 of the KEK's SPKI, when the script pins it.
    pub expected_fingerprint: Option<String>,
    /// Google Cloud: the import job's full name; AWS: the key's ARN or ID.
    pub resource: Option<String>,
    /// AWS: the wrapping key spec's size (RSA_2048/3072/4096).
    pub kek_bits: Option<usize>,
    /// AWS: the import token's file on the KEK medium; copied beside the wrapped material.
    pub import_token: Option<String>,
    /// Google Cloud: when the import job was created (seconds since 1970).
    pub job_created: Option<i64>,
    /// AWS: when the wrapping key and import token stop being valid (seconds since 1970).
    pub valid_to: Option<i64>,
}

impl CloudTarget {
    /// A target rebuilt from the log alone (a replay has no script): what the machine pinned,
    /// with `kek_file` standing for the file names the log does not hold.
    pub fn from_config(config: &TargetConfig, kek_file: &str) -> CloudTarget {
        CloudTarget {
            cloud: config.cloud,
            algorithm: config
                .algorithm()
                .unwrap_or_else(|| Algorithm::default_for(config.cloud)),
            kek_file: kek_file.to_owned(),
            kek_json: None,
            expected_kid: None,
            expected_fingerprint: config.expected_kek_fingerprint.clone(),
            resource: config.resource.clone(),
            kek_bits: None,
            import_token: None,
            job_created: None,
            valid_to: None,
        }
    }

    /// The file the wrapped key is written to (`Cloud::output_file`).
    pub fn output_file(&self, name: &str) -> String {
        self.cloud.output_file(name)
    }

    /// AWS: the copy of the import token (`Cloud::token_file`).
    pub fn token_file(&self, name: &str) -> Option<String> {
        self.cloud.token_file(name)
    }

    /// What the machine pins in the log's first entry.
    pub fn config(&self) -> TargetConfig {
        TargetConfig {
            cloud: self.cloud,
            algorithm: self.algorithm.name.to_owned(),
            oaep_hash: self.algorithm.oaep,
            resource: self.resource.clone(),
            expected_kek_fingerprint: self.expected_fingerprint.clone(),
        }
    }
}

/// A target as the machine knows it (pinned in the genesis entry, so a replay needs only the
/// log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub cloud: Cloud,
    /// The cloud's name of the wrapping algorithm.
    pub algorithm: String,
    pub oaep_hash: OaepHash,
    /// Google Cloud's import job, AWS's key (absent for Azure: the kid is in `kek_loaded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_kek_fingerprint: Option<String>,
}

impl TargetConfig {
    /// The algorithm's facts (envelope, hash); None for a name this build does not know.
    pub fn algorithm(&self) -> Option<Algorithm> {
        Algorithm::find(self.cloud, &self.algorithm).ok()
    }
}
