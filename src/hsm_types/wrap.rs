//! How the wrap was made and proven: the RSA-OAEP hash a wrap asks for, the known-answer
//! tests' results, and the method recorded in the manifest and the audit log.
//!
//! Azure's BYOK is SHA-1 (with MGF1-SHA-1, empty label). Google Cloud and AWS also take SHA-256.
//! The hash a token is asked for is not always the hash it uses (SoftHSM2 2.7.0's native
//! CKM_RSA_AES_KEY_WRAP wraps with SHA-1 whatever it is asked; byok-facts.md), so every wrap
//! path is proven for the requested hash by `wrap_kat` before it is trusted.
use serde::{Deserialize, Serialize};

/// OAEP's hash, used for MGF1 as well (the only combination the clouds accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OaepHash {
    #[serde(rename = "sha-1")]
    Sha1,
    #[serde(rename = "sha-256")]
    Sha256,
}

impl OaepHash {
    /// As people and the clouds' documents write it.
    pub fn name(self) -> &'static str {
        match self {
            OaepHash::Sha1 => "SHA-1",
            OaepHash::Sha256 => "SHA-256",
        }
    }

    /// The other hash: what a token that ignores the request probably used instead.
    pub fn other(self) -> OaepHash {
        match self {
            OaepHash::Sha1 => OaepHash::Sha256,
            OaepHash::Sha256 => OaepHash::Sha1,
        }
    }
}

impl std::fmt::Display for OaepHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the token's mechanism turned out to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KwpBehaviour {
    /// Byte-exact RFC 5649 on every vector.
    Rfc5649,
    /// Zero-pads the key to a multiple of 8 bytes, then RFC 5649 (SoftHSM2 2.6.1): the
    /// receiver recovers the key followed by 1-7 zero bytes.
    ZeroPadsThenRfc5649,
    /// Something else (PKCS#7 padding + RFC 3394, a vendor variant, ...): never used.
    Unrecognised,
}

/// The recorded result of a known-answer test, for the manifest and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KatReport {
    pub mechanism: String,
    /// The mechanism's PKCS#11 number (CK_MECHANISM_TYPE).
    pub mechanism_number: u64,
    pub behaviour: KwpBehaviour,
    pub vectors: usize,
}

/// What the path turned out to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case", deny_unknown_fields)]
pub enum WrapKatOutcome {
    /// Every key came back byte for byte, with nothing after it.
    Exact,
    /// The keys came back followed by zero bytes: the token zero-pads before RFC 5649.
    ZeroPadded,
    /// The RSA block opens only with the other hash: the token ignored the requested one.
    WrongOaepHash { used: OaepHash },
    /// The token refused one of the calls (the path is not available on it).
    Refused { detail: String },
    /// Anything else: the output is wrong.
    Mismatch { detail: String },
}

impl WrapKatOutcome {
    /// In words, for people and for error messages.
    pub fn describe(&self, requested: OaepHash) -> String {
        match self {
            WrapKatOutcome::Exact => "byte-exact".into(),
            WrapKatOutcome::ZeroPadded => {
                "zero-pads the key before RFC 5649 (the key comes back with trailing zero bytes)"
                    .into()
            }
            WrapKatOutcome::WrongOaepHash { used } => {
                format!("wraps with {used} OAEP when {requested} is asked for")
            }
            WrapKatOutcome::Refused { detail } => format!("the token refused it ({detail})"),
            WrapKatOutcome::Mismatch { detail } => format!("wrong output ({detail})"),
        }
    }
}

/// The recorded result, for the manifest and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapKatReport {
    /// `native` or `two_step`.
    pub path: String,
    /// The mechanism(s) the path used.
    pub mechanism: String,
    pub oaep_hash: OaepHash,
    pub vectors: usize,
    pub outcome: WrapKatOutcome,
}

impl WrapKatReport {
    pub fn passed(&self) -> bool {
        self.outcome == WrapKatOutcome::Exact
    }

    /// One line: "native CKM_RSA_AES_KEY_WRAP, OAEP SHA-256: wraps with SHA-1 OAEP ...".
    pub fn summary(&self) -> String {
        format!(
            "{} ({}), OAEP {}: {}",
            self.path.replace('_', "-"),
            self.mechanism,
            self.oaep_hash,
            self.outcome.describe(self.oaep_hash)
        )
    }
}

/// How the ciphertext was made, for the manifest and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum WrapMethod {
    /// One call with CKM_RSA_AES_KEY_WRAP, after its known-answer test.
    Native { kat: WrapKatReport },
    /// RFC 5649 with an ephemeral AES-256 key, then RSA-OAEP of that key: the RFC 5649
    /// mechanism's own test vectors (`kat`), then the whole path's known-answer test.
    TwoStep {
        kwp_mechanism: String,
        kat: KatReport,
        path_kat: WrapKatReport,
    },
    /// The key material itself under RSA-OAEP (CKM_RSA_PKCS_OAEP on the target): Google Cloud's
    /// RSA_OAEP_*_SHA256 and AWS's RSAES_OAEP_*, for keys short enough for one RSA block.
    PlainOaep { kat: WrapKatReport },
}

impl WrapMethod {
    /// `native` or `two_step`.
    pub fn name(&self) -> &'static str {
        match self {
            WrapMethod::Native { .. } => "native",
            WrapMethod::TwoStep { .. } => "two_step",
            WrapMethod::PlainOaep { .. } => "plain_oaep",
        }
    }

    /// True when the output carries the token's zero padding (rehearsal-grade).
    pub fn zero_pads(&self) -> bool {
        self.path_kat().outcome == WrapKatOutcome::ZeroPadded
    }

    /// The known-answer test of the path that made the ciphertext.
    pub fn path_kat(&self) -> &WrapKatReport {
        match self {
            WrapMethod::Native { kat } | WrapMethod::PlainOaep { kat } => kat,
            WrapMethod::TwoStep { path_kat, .. } => path_kat,
        }
    }

    /// In words: "native CKM_RSA_AES_KEY_WRAP (known-answer test: byte-exact, OAEP SHA-1)".
    pub fn describe(&self) -> String {
        let kat = self.path_kat();
        let how = match self {
            WrapMethod::Native { .. } => "native CKM_RSA_AES_KEY_WRAP".to_owned(),
            WrapMethod::TwoStep { kwp_mechanism, .. } => {
                format!("two-step ({kwp_mechanism} + CKM_RSA_PKCS_OAEP)")
            }
            WrapMethod::PlainOaep { .. } => "plain CKM_RSA_PKCS_OAEP of the key".to_owned(),
        };
        format!(
            "{how}; known-answer test with OAEP {}: {}",
            kat.oaep_hash,
            kat.outcome.describe(kat.oaep_hash)
        )
    }
}
