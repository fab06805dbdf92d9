//! Checkpoint signing with the ceremony audit key, inside the HSM (ECDSA P-256 over SHA-256).
#![forbid(unsafe_code)]

use crate::hsm_types::token::audit_key_name;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use sha2::{Digest, Sha256};

use super::HsmError;
use super::module::HsmSession;
use crate::audit::checkpoint::CheckpointSigner;
use crate::quorum::audit_key::{self, AUDIT_KEY_LABEL};

/// The token's audit key, ready to sign checkpoints.
#[derive(Debug)]
pub struct HsmAuditSigner<'a> {
    session: &'a HsmSession<'a>,
    private: ObjectHandle,
    spki_der: Vec<u8>,
    key_name: String,
}

impl<'a> HsmAuditSigner<'a> {
    /// Finds the audit key made at provisioning; the note key name carries the token serial.
    pub fn find(session: &'a HsmSession<'a>, _ceremony_id: &str) -> Result<Self, HsmError> {
        let record = audit_key::find(session).map_err(|e| HsmError::Unsupported(e.to_string()))?;
        let spki_der = der::pem::decode_vec(record.public_key_pem.as_bytes())
            .map_err(|e| HsmError::Malformed {
                what: "audit public key",
                detail: e.to_string(),
            })?
            .1;
        let private = session
            .session()
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(AUDIT_KEY_LABEL.as_bytes().to_vec()),
            ])
            .map_err(HsmError::p11("find the audit key"))?
            .into_iter()
            .next()
            .ok_or_else(|| {
                HsmError::Unsupported(format!(
                    "the token has no private \"{AUDIT_KEY_LABEL}\"; provision it first"
                ))
            })?;
        let serial = session.hsm().token_identity(session.slot())?.serial;
        Ok(HsmAuditSigner {
            session,
            private,
            spki_der,
            key_name: audit_key_name(&serial),
        })
    }
}

impl CheckpointSigner for HsmAuditSigner<'_> {
    fn key_name(&self) -> &str {
        &self.key_name
    }

    fn public_spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        // CKM_ECDSA over a digest made here works on every token; r || s comes back raw.
        let digest = Sha256::digest(message);
        let raw = self
            .session
            .session()
            .sign(&Mechanism::Ecdsa, self.private, &digest)
            .map_err(|e| e.to_string())?;
        let sig = p256::ecdsa::Signature::from_slice(&raw).map_err(|e| e.to_string())?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}
