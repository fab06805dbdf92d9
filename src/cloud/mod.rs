//! The three clouds a ceremony wraps for: Azure Key Vault (BYOK), Google Cloud KMS and AWS KMS.
//!
//! Every cloud imports the same construction: an RSA-OAEP block of a fresh AES-256 key, then
//! RFC 5649 of the key material (CKM_RSA_AES_KEY_WRAP); Google Cloud and AWS also take the key
//! material under RSA-OAEP alone. Only the envelope around the bytes, the OAEP hash and what each
//! cloud accepts differ (byok-facts.md, "Other clouds, same core"). This module knows the
//! clouds' algorithm names and their rules, and refuses what a cloud would refuse, before the
//! HSM does anything. Pure: no I/O, no clock (the caller passes the time).
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::hsm_types::wrap::OaepHash;

pub mod check;
mod rules;
mod target;
pub use rules::*;
pub use target::{CloudTarget, TargetConfig};

/// A cloud that imports the ceremony's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    Azure,
    Gcp,
    Aws,
}

impl Cloud {
    pub const ALL: [Cloud; 3] = [Cloud::Azure, Cloud::Gcp, Cloud::Aws];

    /// As written in scripts, flags and the manifest.
    pub fn id(self) -> &'static str {
        match self {
            Cloud::Azure => "azure",
            Cloud::Gcp => "gcp",
            Cloud::Aws => "aws",
        }
    }

    /// As people say it.
    pub fn title(self) -> &'static str {
        match self {
            Cloud::Azure => "Azure Key Vault",
            Cloud::Gcp => "Google Cloud KMS",
            Cloud::Aws => "AWS KMS",
        }
    }

    /// The file the wrapped key is written to, for outputs named `name`: `NAME.byok` for Azure,
    /// `NAME.gcp.wrapped` and `NAME.aws.wrapped` for the raw bytes the other two take.
    pub fn output_file(self, name: &str) -> String {
        match self {
            Cloud::Azure => format!("{name}.byok"),
            cloud => format!("{name}.{cloud}.wrapped"),
        }
    }

    /// AWS: the copy of the import token that goes with the material.
    pub fn token_file(self, name: &str) -> Option<String> {
        (self == Cloud::Aws).then(|| format!("{name}.{self}.import-token.bin"))
    }

    pub fn parse(s: &str) -> Result<Cloud, CloudError> {
        Cloud::ALL
            .into_iter()
            .find(|c| c.id() == s)
            .ok_or_else(|| CloudError::UnknownCloud(s.to_owned()))
    }
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// What is around the key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// RSA-OAEP of an ephemeral AES-256 key, then RFC 5649 of the material under it
    /// (CKM_RSA_AES_KEY_WRAP, or the two-step equivalent).
    RsaAesKeyWrap,
    /// The material itself under RSA-OAEP: only what fits in one RSA block.
    RsaOaep,
}

/// A wrapping algorithm, by the name its cloud gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    pub cloud: Cloud,
    /// The cloud's own name: `CKM_RSA_AES_KEY_WRAP` (Azure's `.byok` header),
    /// `RSA_OAEP_3072_SHA256_AES_256` (a Cloud KMS import method), `RSA_AES_KEY_WRAP_SHA_256`
    /// (an AWS wrapping algorithm).
    pub name: &'static str,
    pub oaep: OaepHash,
    pub envelope: Envelope,
    /// The wrapping key's size, where the algorithm fixes it (Cloud KMS import methods).
    pub kek_bits: Option<usize>,
}

const fn alg(
    cloud: Cloud,
    name: &'static str,
    oaep: OaepHash,
    envelope: Envelope,
    kek_bits: Option<usize>,
) -> Algorithm {
    Algorithm {
        cloud,
        name,
        oaep,
        envelope,
        kek_bits,
    }
}

use Envelope::{RsaAesKeyWrap, RsaOaep};
use OaepHash::{Sha1, Sha256};

/// Every algorithm the ceremony can wrap for. RSAES_PKCS1_V1_5 is not here: AWS stopped taking
/// it in 2023, and Azure and Cloud KMS never did.
pub const ALGORITHMS: [Algorithm; 11] = [
    alg(
        Cloud::Azure,
        "CKM_RSA_AES_KEY_WRAP",
        Sha1,
        RsaAesKeyWrap,
        None,
    ),
    alg(
        Cloud::Gcp,
        "RSA_OAEP_3072_SHA1_AES_256",
        Sha1,
        RsaAesKeyWrap,
        Some(3072),
    ),
    alg(
        Cloud::Gcp,
        "RSA_OAEP_4096_SHA1_AES_256",
        Sha1,
        RsaAesKeyWrap,
        Some(4096),
    ),
    alg(
        Cloud::Gcp,
        "RSA_OAEP_3072_SHA256_AES_256",
        Sha256,
        RsaAesKeyWrap,
        Some(3072),
    ),
    alg(
        Cloud::Gcp,
        "RSA_OAEP_4096_SHA256_AES_256",
        Sha256,
        RsaAesKeyWrap,
        Some(4096),
    ),
    alg(
        Cloud::Gcp,
        "RSA_OAEP_3072_SHA256",
        Sha256,
        RsaOaep,
        Some(3072),
    ),
    alg(
        Cloud::Gcp,
        "RSA_OAEP_4096_SHA256",
        Sha256,
        RsaOaep,
        Some(4096),
    ),
    alg(
        Cloud::Aws,
        "RSA_AES_KEY_WRAP_SHA_1",
        Sha1,
        RsaAesKeyWrap,
        None,
    ),
    alg(
        Cloud::Aws,
        "RSA_AES_KEY_WRAP_SHA_256",
        Sha256,
        RsaAesKeyWrap,
        None,
    ),
    alg(Cloud::Aws, "RSAES_OAEP_SHA_1", Sha1, RsaOaep, None),
    alg(Cloud::Aws, "RSAES_OAEP_SHA_256", Sha256, RsaOaep, None),
];

impl Algorithm {
    /// The algorithm `name` of `cloud`; an unknown name lists the cloud's.
    pub fn find(cloud: Cloud, name: &str) -> Result<Algorithm, CloudError> {
        if cloud == Cloud::Aws && name == "RSAES_PKCS1_V1_5" {
            return Err(CloudError::Rule {
                rule: "AWS KMS no longer accepts RSAES_PKCS1_V1_5 (since 2023)".into(),
                fix: "use RSA_AES_KEY_WRAP_SHA_256".into(),
            });
        }
        ALGORITHMS
            .iter()
            .find(|a| a.cloud == cloud && a.name == name)
            .copied()
            .ok_or_else(|| CloudError::UnknownAlgorithm {
                cloud,
                name: name.to_owned(),
                known: Algorithm::of(cloud).map(|a| a.name).collect(),
            })
    }

    /// The cloud's algorithms, in the order of the table.
    pub fn of(cloud: Cloud) -> impl Iterator<Item = Algorithm> {
        ALGORITHMS.into_iter().filter(move |a| a.cloud == cloud)
    }

    /// The default: Azure's only one; Google's recommended method; AWS's RSA_AES_KEY_WRAP with
    /// SHA-256 (the only choice that carries every key type).
    pub fn default_for(cloud: Cloud) -> Algorithm {
        let name = match cloud {
            Cloud::Azure => "CKM_RSA_AES_KEY_WRAP",
            Cloud::Gcp => "RSA_OAEP_3072_SHA256_AES_256",
            Cloud::Aws => "RSA_AES_KEY_WRAP_SHA_256",
        };
        Algorithm::find(cloud, name).unwrap_or(ALGORITHMS[0])
    }
}
