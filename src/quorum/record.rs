//! The provisioning record: public JSON that says which token was provisioned, how its PINs
//! were split, who holds which share (by salted commitment), and the public key of the token's
//! ceremony audit key. It holds nothing secret; it is read strictly (unknown or duplicate
//! fields, bad hex, inconsistent groups are errors).
use serde::{Deserialize, Serialize};

use super::commitment::{self, Commitment, SALT_LEN};
use super::share::{PinGroup, Share, SplitId};
use super::split::MAX_SHARES;
use crate::hsm_types::token::TokenIdentity;

/// The `format` field's value.
pub const RECORD_FORMAT: &str = "byok-ceremony provisioning record";
/// The version this build writes and reads.
pub const RECORD_VERSION: u32 = 1;
/// The record's file name in the output directory.
pub const RECORD_FILE: &str = "provisioning-record.json";

/// Why a provisioning record was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "the provisioning record is not valid: {0}; use the provisioning-record.json that byok-ceremony wrote, unedited"
    )]
    Json(#[from] serde_json::Error),
    #[error("this is not a byok-ceremony provisioning record (format \"{0}\")")]
    Format(String),
    #[error(
        "the provisioning record has version {0}, which this byok-ceremony cannot read; use the version that wrote it"
    )]
    Version(u32),
    #[error("the provisioning record's {group} group is inconsistent: {detail}")]
    Group { group: PinGroup, detail: String },
    #[error("the provisioning record's audit key is not a P-256 public key: {0}")]
    AuditKey(String),
}

/// The whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningRecord {
    pub format: String,
    pub version: u32,
    /// The tool and version that wrote it.
    pub tool: String,
    /// A rehearsal record (M = 1 allowed, soft token): never evidence for a production token.
    pub rehearsal: bool,
    pub token: TokenIdentity,
    pub user_pin: GroupRecord,
    /// Present when byok-ceremony set and split the SO PIN.
    pub so_pin: Option<GroupRecord>,
    pub audit_key: AuditKeyRecord,
    /// The user-PIN split this record replaces (after a re-split).
    pub supersedes: Option<SplitId>,
    /// The KEK the security officer imported as a trusted wrapping key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_kek: Option<TrustedKekRecord>,
}

/// A KEK on the token as a trusted wrapping key (public facts only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKekRecord {
    pub label: String,
    /// Hex SHA-256 of the KEK's SubjectPublicKeyInfo DER.
    pub fingerprint_sha256: String,
}

/// One split PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRecord {
    pub split_id: SplitId,
    /// M.
    pub threshold: u8,
    /// N.
    pub shares: u8,
    /// Characters of the PIN (its length is not secret; the token's limits bound it).
    pub pin_length: usize,
    pub custodians: Vec<CustodianRecord>,
}

/// One custodian's entry: who holds share number `share_index`, and its commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodianRecord {
    pub name: String,
    pub share_index: u8,
    /// Hex of the 16-byte salt.
    pub salt: String,
    /// Hex of SHA-256 over the domain, salt, header and share (see `commitment`).
    pub commitment: String,
}

/// The ceremony audit key: an ECDSA P-256 key pair made inside the token at provisioning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditKeyRecord {
    pub label: String,
    /// Hex of CKA_ID, shared by both halves.
    pub id_hex: String,
    pub algorithm: String,
    /// SubjectPublicKeyInfo PEM.
    pub public_key_pem: String,
    /// Hex SHA-256 of the SubjectPublicKeyInfo DER.
    pub public_key_sha256: String,
}

impl CustodianRecord {
    /// The entry for `name` holding `share`, with its commitment.
    pub fn new(name: &str, share: &Share, c: &Commitment) -> CustodianRecord {
        CustodianRecord {
            name: name.to_owned(),
            share_index: share.index,
            salt: hex::encode(c.salt),
            commitment: hex::encode(c.digest),
        }
    }

    /// The salt and digest, parsed (validated records always parse).
    pub fn commitment(&self) -> Option<Commitment> {
        let mut salt = [0u8; SALT_LEN];
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&self.salt, &mut salt).ok()?;
        hex::decode_to_slice(&self.commitment, &mut digest).ok()?;
        Some(Commitment { salt, digest })
    }

    /// Whether `share` is the one this custodian was given.
    pub fn holds(&self, share: &Share) -> bool {
        share.index == self.share_index
            && self
                .commitment()
                .is_some_and(|c| commitment::matches(share, &c))
    }
}

impl GroupRecord {
    /// The custodian recorded for share number `index`.
    pub fn custodian(&self, index: u8) -> Option<&CustodianRecord> {
        self.custodians.iter().find(|c| c.share_index == index)
    }

    fn validate(&self, group: PinGroup) -> Result<(), RecordError> {
        let bad = |detail: String| RecordError::Group { group, detail };
        let n = self.custodians.len();
        if n == 0 || n > usize::from(MAX_SHARES) || n != usize::from(self.shares) {
            return Err(bad(format!(
                "{n} custodians listed for N = {} (1..={MAX_SHARES})",
                self.shares
            )));
        }
        if self.threshold == 0 || self.threshold > self.shares {
            return Err(bad(format!(
                "threshold {} outside 1..={}",
                self.threshold, self.shares
            )));
        }
        let mut indices: Vec<u8> = self.custodians.iter().map(|c| c.share_index).collect();
        indices.sort_unstable();
        if indices != (1..=self.shares).collect::<Vec<u8>>() {
            return Err(bad("share indices are not exactly 1..=N".into()));
        }
        for (i, c) in self.custodians.iter().enumerate() {
            if self.custodians[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&c.name))
            {
                return Err(bad(format!("custodian \"{}\" is listed twice", c.name)));
            }
            if c.commitment().is_none() {
                return Err(bad(format!(
                    "custodian \"{}\": salt must be 32 hex digits and commitment 64",
                    c.name
                )));
            }
        }
        Ok(())
    }
}

impl ProvisioningRecord {
    /// Strict parse and consistency check.
    pub fn parse(bytes: &[u8]) -> Result<ProvisioningRecord, RecordError> {
        let record: ProvisioningRecord = serde_json::from_slice(bytes)?;
        record.validate()?;
        Ok(record)
    }

    pub fn validate(&self) -> Result<(), RecordError> {
        if self.format != RECORD_FORMAT {
            return Err(RecordError::Format(self.format.clone()));
        }
        if self.version != RECORD_VERSION {
            return Err(RecordError::Version(self.version));
        }
        self.user_pin.validate(PinGroup::UserPin)?;
        if let Some(so) = &self.so_pin {
            so.validate(PinGroup::SoPin)?;
        }
        if !self.rehearsal {
            for (g, r) in self.groups() {
                if r.threshold < 2 {
                    return Err(RecordError::Group {
                        group: g,
                        detail: "a production record needs M >= 2".into(),
                    });
                }
            }
        }
        self.audit_key.validate()
    }

    /// The group for `which`, if the record has it.
    pub fn group(&self, which: PinGroup) -> Option<&GroupRecord> {
        match which {
            PinGroup::UserPin => Some(&self.user_pin),
            PinGroup::SoPin => self.so_pin.as_ref(),
        }
    }

    /// Every split group with its kind.
    pub fn groups(&self) -> impl Iterator<Item = (PinGroup, &GroupRecord)> {
        std::iter::once((PinGroup::UserPin, &self.user_pin))
            .chain(self.so_pin.iter().map(|g| (PinGroup::SoPin, g)))
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<String, RecordError> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }
}

impl AuditKeyRecord {
    fn validate(&self) -> Result<(), RecordError> {
        use p256::pkcs8::DecodePublicKey;
        use sha2::Digest;
        let key = p256::PublicKey::from_public_key_pem(&self.public_key_pem)
            .map_err(|e| RecordError::AuditKey(e.to_string()))?;
        let der = p256::pkcs8::EncodePublicKey::to_public_key_der(&key)
            .map_err(|e| RecordError::AuditKey(e.to_string()))?;
        if hex::encode(sha2::Sha256::digest(der.as_bytes())) != self.public_key_sha256 {
            return Err(RecordError::AuditKey(
                "public_key_sha256 is not the SHA-256 of the key".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    use sha2::Digest;

    fn good() -> String {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).expect("scalar");
        let public = secret.public_key();
        let der = public.to_public_key_der().expect("der");
        let custodians: Vec<String> = (1..=3)
            .map(|i| {
                format!(
                    r#"{{"name":"c{i}","share_index":{i},"salt":"{}","commitment":"{}"}}"#,
                    "ab".repeat(16),
                    "cd".repeat(32)
                )
            })
            .collect();
        format!(
            r#"{{"format":"{RECORD_FORMAT}","version":1,"tool":"t","rehearsal":false,
"token":{{"label":"l","manufacturer":"m","model":"x","serial":"s","firmware":"1.0","hardware":"1.0","protected_authentication_path":false}},
"user_pin":{{"split_id":"0102030405aa","threshold":2,"shares":3,"pin_length":32,"custodians":[{}]}},
"so_pin":null,
"audit_key":{{"label":"a","id_hex":"00","algorithm":"ECDSA P-256","public_key_pem":{},"public_key_sha256":"{}"}},
"supersedes":null}}"#,
            custodians.join(","),
            serde_json::to_string(&public.to_public_key_pem(LineEnding::LF).expect("pem"))
                .expect("json"),
            hex::encode(sha2::Sha256::digest(der.as_bytes()))
        )
    }

    #[test]
    fn strict_parse() {
        let text = good();
        let r = ProvisioningRecord::parse(text.as_bytes()).expect("valid record");
        assert_eq!(r.user_pin.custodian(2).map(|c| c.name.as_str()), Some("c2"));
        let back = ProvisioningRecord::parse(r.to_json().expect("json").as_bytes()).expect("again");
        assert_eq!(back, r);
        let refused = |t: String, what: &str| {
            let e = ProvisioningRecord::parse(t.as_bytes()).expect_err(what);
            assert!(
                e.to_string().contains("use the")
                    || e.to_string().contains("inconsistent")
                    || e.to_string().contains("audit key"),
                "{what}: {e}"
            );
        };
        refused(
            text.replace(r#""tool":"t","#, r#""tool":"t","extra":1,"#),
            "unknown field",
        );
        refused(
            text.replace(r#""tool":"t","#, r#""tool":"t","tool":"u","#),
            "duplicate field",
        );
        refused(text.replace("0102030405aa", "0102030405"), "short split id");
        refused(
            text.replace(r#""share_index":3"#, r#""share_index":2"#),
            "index twice",
        );
        refused(
            text.replace(r#""threshold":2"#, r#""threshold":1"#),
            "production M = 1",
        );
        refused(text.replace(&"ab".repeat(16), "ab"), "short salt");
        refused(
            text.replace(r#""public_key_sha256":""#, r#""public_key_sha256":"00"#),
            "wrong key hash",
        );
        assert!(matches!(
            ProvisioningRecord::parse(text.replace(r#""version":1"#, r#""version":2"#).as_bytes()),
            Err(RecordError::Version(2))
        ));
    }
}
