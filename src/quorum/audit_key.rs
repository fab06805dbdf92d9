//! The ceremony audit key: an ECDSA P-256 key pair generated inside the token at
//! provisioning. Its private half is a sensitive, non-extractable token object that can only
//! sign; the audit log signs its checkpoints with it, and the public key goes into the
//! provisioning record so that anyone can check those signatures later.
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use der::Decode;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};

use super::record::AuditKeyRecord;
use crate::hsm::objects::ensure_label_unused;
use crate::hsm::{HsmError, HsmSession};

/// The label both halves carry.
pub const AUDIT_KEY_LABEL: &str = "byok-ceremony audit key";
/// The record's algorithm name.
pub const AUDIT_KEY_ALGORITHM: &str = "ECDSA P-256";
/// DER of the P-256 curve OID, 1.2.840.10045.3.1.7 (CKA_EC_PARAMS).
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Why the audit key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    #[error(
        "the token already holds a \"{AUDIT_KEY_LABEL}\": it was provisioned before. Use `provision --resplit` to change its custodians, or initialise the token afresh"
    )]
    Exists,
    #[error("the token has no \"{AUDIT_KEY_LABEL}\"; it was not provisioned by byok-ceremony")]
    Missing,
    #[error("the HSM could not make or read the audit key: {0}")]
    Hsm(#[from] HsmError),
    #[error(
        "the audit key read back from the token is not what was asked for ({0}); do not use this token for a ceremony"
    )]
    ReadBack(String),
}

/// Generates the audit key pair in the logged-in user session and checks what was made.
pub fn generate(session: &HsmSession<'_>) -> Result<AuditKeyRecord, AuditKeyError> {
    let s = session.session();
    ensure_label_unused(s, AUDIT_KEY_LABEL).map_err(|e| match e {
        HsmError::LabelExists(_) => AuditKeyError::Exists,
        other => AuditKeyError::Hsm(other),
    })?;
    let id = session.random(16)?;
    let label = AUDIT_KEY_LABEL.as_bytes().to_vec();
    let public_template = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.clone()),
        Attribute::Id(id.clone()),
        Attribute::EcParams(P256_PARAMS.to_vec()),
        Attribute::Verify(true),
    ];
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Derive(false),
        Attribute::Label(label),
        Attribute::Id(id.clone()),
    ];
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &public_template,
            &private_template,
        )
        .map_err(HsmError::p11("generate the ECDSA P-256 audit key"))?;
    check_private(session, private)?;
    record(session, public, &id)
}

/// Reads the existing audit key's public half (for a re-split's new record).
pub fn find(session: &HsmSession<'_>) -> Result<AuditKeyRecord, AuditKeyError> {
    let s = session.session();
    let found = s
        .find_objects(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Label(AUDIT_KEY_LABEL.as_bytes().to_vec()),
        ])
        .map_err(HsmError::p11("search for the audit key"))?;
    let [public] = found.as_slice() else {
        return Err(AuditKeyError::Missing);
    };
    let id = match s
        .get_attributes(*public, &[AttributeType::Id])
        .map_err(HsmError::p11("read the audit key's id"))?
        .into_iter()
        .next()
    {
        Some(Attribute::Id(id)) => id,
        _ => return Err(AuditKeyError::ReadBack("no CKA_ID".into())),
    };
    record(session, *public, &id)
}

fn check_private(session: &HsmSession<'_>, private: ObjectHandle) -> Result<(), AuditKeyError> {
    let attrs = session
        .session()
        .get_attributes(
            private,
            &[
                AttributeType::Token,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Sign,
                AttributeType::Local,
                AttributeType::NeverExtractable,
            ],
        )
        .map_err(HsmError::p11("read back the audit key's attributes"))?;
    let mut ok = 0;
    for a in &attrs {
        match a {
            Attribute::Token(true)
            | Attribute::Sensitive(true)
            | Attribute::Extractable(false)
            | Attribute::Sign(true)
            | Attribute::Local(true)
            | Attribute::NeverExtractable(true) => ok += 1,
            other => {
                return Err(AuditKeyError::ReadBack(format!("unexpected {other:?}")));
            }
        }
    }
    if ok != 6 {
        return Err(AuditKeyError::ReadBack(format!(
            "{ok} of 6 attributes confirmed"
        )));
    }
    Ok(())
}

fn record(
    session: &HsmSession<'_>,
    public: ObjectHandle,
    id: &[u8],
) -> Result<AuditKeyRecord, AuditKeyError> {
    let raw = match session
        .session()
        .get_attributes(public, &[AttributeType::EcPoint])
        .map_err(HsmError::p11("read the audit key's public point"))?
        .into_iter()
        .next()
    {
        Some(Attribute::EcPoint(p)) => p,
        _ => return Err(AuditKeyError::ReadBack("no CKA_EC_POINT".into())),
    };
    // A DER OCTET STRING around the point on most tokens, the bare point on some.
    let point = if raw.len() == 65 {
        raw
    } else {
        der::asn1::OctetString::from_der(&raw)
            .map_err(|e| AuditKeyError::ReadBack(format!("CKA_EC_POINT: {e}")))?
            .as_bytes()
            .to_vec()
    };
    let key = p256::PublicKey::from_sec1_bytes(&point)
        .map_err(|e| AuditKeyError::ReadBack(format!("not a P-256 point: {e}")))?;
    let pem = key
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| AuditKeyError::ReadBack(e.to_string()))?;
    let der = key
        .to_public_key_der()
        .map_err(|e| AuditKeyError::ReadBack(e.to_string()))?;
    Ok(AuditKeyRecord {
        label: AUDIT_KEY_LABEL.to_owned(),
        id_hex: hex::encode(id),
        algorithm: AUDIT_KEY_ALGORITHM.to_owned(),
        public_key_pem: pem,
        public_key_sha256: hex::encode(Sha256::digest(der.as_bytes())),
    })
}
