//! Checkpoints: C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint) over the
//! log's hash chain, signed inside the HSM by the ceremony audit key (ECDSA P-256, signature
//! type 0x02), so that standard note verifiers can read them.
//!
//! Note text:
//! ```text
//! byok-ceremony/<ceremony id>
//! <number of entries covered>
//! <base64 of the hash of the last covered entry>
//! ```
//! Our log is a hash chain, not a Merkle tree: the "root hash" line is the chain head. A
//! checkpoint is itself logged as the entry right after the ones it covers.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};

/// ECDSA signature type byte of C2SP signed notes.
const SIGNATURE_TYPE_ECDSA: u8 = 0x02;

/// Something that signs with the audit key: the HSM in a ceremony.
pub trait CheckpointSigner {
    /// The note key name, e.g. `byok-ceremony.audit/<token serial>`.
    fn key_name(&self) -> &str;
    /// SubjectPublicKeyInfo DER of the audit key.
    fn public_spki_der(&self) -> &[u8];
    /// ECDSA P-256 over SHA-256 of `message`, DER-encoded.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String>;
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("the checkpoint could not be signed: {0}; check the HSM session and the audit key")]
    Sign(String),
    #[error("the checkpoint note is malformed: {0}")]
    Malformed(String),
    #[error(
        "the checkpoint covers {claimed} entries ending in {claimed_head}, but the log has {actual} entries ending in {actual_head} there: entries were inserted, removed or changed"
    )]
    Mismatch {
        claimed: u64,
        claimed_head: String,
        actual: u64,
        actual_head: String,
    },
    #[error("the checkpoint is for \"{0}\", not this ceremony")]
    Origin(String),
    #[error("the checkpoint carries no signature from the audit key (key id {0})")]
    NoSignature(String),
    #[error(
        "the checkpoint signature does not verify with the audit key: it was forged or altered"
    )]
    BadSignature,
    #[error("the audit public key is not an ECDSA P-256 SubjectPublicKeyInfo: {0}")]
    Key(String),
}

pub fn origin(ceremony_id: &str) -> String {
    format!("byok-ceremony/{ceremony_id}")
}

fn body(origin: &str, size: u64, head_hex: &str) -> Result<String, CheckpointError> {
    let head = hex::decode(head_hex)
        .map_err(|e| CheckpointError::Malformed(format!("head hash is not hex: {e}")))?;
    Ok(format!("{origin}\n{size}\n{}\n", STANDARD.encode(head)))
}

/// The 4-byte key ID of an ECDSA note key: SHA-256 of its SPKI DER, truncated.
pub fn key_id(spki_der: &[u8]) -> [u8; 4] {
    let h = Sha256::digest(spki_der);
    [h[0], h[1], h[2], h[3]]
}

/// Signs a checkpoint over `size` entries whose last hash is `head_hex`.
pub fn sign(
    signer: &dyn CheckpointSigner,
    ceremony_id: &str,
    size: u64,
    head_hex: &str,
) -> Result<String, CheckpointError> {
    let text = body(&origin(ceremony_id), size, head_hex)?;
    let signature = signer
        .sign(text.as_bytes())
        .map_err(CheckpointError::Sign)?;
    let mut blob = key_id(signer.public_spki_der()).to_vec();
    blob.extend_from_slice(&signature);
    Ok(format!(
        "{text}\n\u{2014} {} {}\n",
        signer.key_name(),
        STANDARD.encode(blob)
    ))
}

/// Checks a note: its text names this ceremony, covers exactly `size` entries ending in
/// `head_hex`, and carries exactly one signature line, by the audit key, under `key_name`;
/// and the note is byte for byte what `sign` writes (nothing added, nothing re-spaced).
pub fn verify(
    note: &str,
    ceremony_id: &str,
    size: u64,
    head_hex: &str,
    audit_spki_der: &[u8],
    key_name: &str,
) -> Result<(), CheckpointError> {
    let (text, signatures) = note
        .split_once("\n\n")
        .ok_or_else(|| CheckpointError::Malformed("no blank line before the signatures".into()))?;
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let got_origin = lines.next().unwrap_or_default();
    if got_origin != origin(ceremony_id) {
        return Err(CheckpointError::Origin(got_origin.to_owned()));
    }
    let claimed: u64 = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| CheckpointError::Malformed("the second line is not a size".into()))?;
    let claimed_head = lines
        .next()
        .and_then(|l| STANDARD.decode(l).ok())
        .map(hex::encode)
        .ok_or_else(|| CheckpointError::Malformed("the third line is not base64".into()))?;
    if claimed != size || claimed_head != head_hex {
        return Err(CheckpointError::Mismatch {
            claimed,
            claimed_head,
            actual: size,
            actual_head: head_hex.to_owned(),
        });
    }
    let key = VerifyingKey::from_public_key_der(audit_spki_der)
        .map_err(|e| CheckpointError::Key(e.to_string()))?;
    let id = key_id(audit_spki_der);
    // The tool writes exactly one signature line: the audit key's, under its own name.
    let mut lines = signatures.lines();
    let line = match (lines.next(), lines.next()) {
        (Some(line), None) => line,
        (None, _) => return Err(CheckpointError::NoSignature(hex::encode(id))),
        (Some(_), Some(_)) => {
            return Err(CheckpointError::Malformed(
                "a checkpoint carries exactly one signature line, the audit key's".into(),
            ));
        }
    };
    let Some(rest) = line.strip_prefix("\u{2014} ") else {
        return Err(CheckpointError::Malformed(format!(
            "\"{line}\" is not a signature line"
        )));
    };
    let Some((name, b64)) = rest.rsplit_once(' ') else {
        return Err(CheckpointError::Malformed(
            "signature line has no key name".into(),
        ));
    };
    if name != key_name {
        return Err(CheckpointError::Malformed(format!(
            "the signature is under the key name \"{name}\", not the audit key's \"{key_name}\""
        )));
    }
    let blob = STANDARD
        .decode(b64)
        .map_err(|e| CheckpointError::Malformed(format!("signature is not base64: {e}")))?;
    if blob.len() < 5 || blob[..4] != id {
        return Err(CheckpointError::NoSignature(hex::encode(id)));
    }
    let sig = Signature::from_der(&blob[4..]).map_err(|_| CheckpointError::BadSignature)?;
    key.verify(text.as_bytes(), &sig)
        .map_err(|_| CheckpointError::BadSignature)?;
    // Byte for byte as `sign` writes it: the same text, one blank line, one signature line.
    let canonical = format!("{text}\n\u{2014} {name} {}\n", STANDARD.encode(&blob));
    if note != canonical {
        return Err(CheckpointError::Malformed(
            "the note is not laid out as the tool writes it (extra lines or spacing)".into(),
        ));
    }
    Ok(())
}

/// The signature type byte, exposed for documentation and tests.
pub const fn signature_type() -> u8 {
    SIGNATURE_TYPE_ECDSA
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;

    const NAME: &str = "byok-ceremony.audit/test";

    struct SoftSigner {
        key: SigningKey,
        spki: Vec<u8>,
    }

    impl CheckpointSigner for SoftSigner {
        fn key_name(&self) -> &str {
            "byok-ceremony.audit/test"
        }
        fn public_spki_der(&self) -> &[u8] {
            &self.spki
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
            let sig: Signature = self.key.sign(message);
            Ok(sig.to_der().as_bytes().to_vec())
        }
    }

    fn signer() -> SoftSigner {
        let key = SigningKey::from_slice(&[7u8; 32]).expect("key");
        let spki = key
            .verifying_key()
            .to_public_key_der()
            .expect("spki")
            .as_bytes()
            .to_vec();
        SoftSigner { key, spki }
    }

    /// The last entry is trusted no more than any other: a checkpoint signed by the audit key
    /// but named for another key, carrying a second signature line, or laid out differently
    /// than the tool writes it, is refused.
    #[test]
    fn only_the_audit_key_s_one_signature_line_in_the_tool_s_layout_is_accepted() {
        let s = signer();
        let head = "ab".repeat(32);
        let note = sign(&s, "c1", 5, &head).expect("sign");
        let renamed = note.replace(NAME, "totally bogus key name");
        let e = verify(&renamed, "c1", 5, &head, &s.spki, NAME).expect_err("bogus name");
        assert!(e.to_string().contains("totally bogus key name"), "{e}");
        let doubled = format!("{note}{}", note.lines().last().expect("line"));
        assert!(verify(&doubled, "c1", 5, &head, &s.spki, NAME).is_err());
        let spaced = note.replacen("\u{2014} ", "\u{2014}  ", 1);
        assert!(verify(&spaced, "c1", 5, &head, &s.spki, NAME).is_err());
        let trailing = format!("{note}\n");
        assert!(verify(&trailing, "c1", 5, &head, &s.spki, NAME).is_err());
        verify(&note, "c1", 5, &head, &s.spki, NAME).expect("the tool's own note");
    }

    #[test]
    fn signed_notes_verify_and_tampering_is_caught() {
        let s = signer();
        let head = "ab".repeat(32);
        let note = sign(&s, "c1", 5, &head).expect("sign");
        assert!(note.starts_with("byok-ceremony/c1\n5\n"));
        assert!(note.contains("\n\n\u{2014} byok-ceremony.audit/test "));
        verify(&note, "c1", 5, &head, &s.spki, NAME).expect("verifies");
        assert!(matches!(
            verify(&note, "c1", 6, &head, &s.spki, NAME),
            Err(CheckpointError::Mismatch { .. })
        ));
        assert!(matches!(
            verify(&note, "c2", 5, &head, &s.spki, NAME),
            Err(CheckpointError::Origin(_))
        ));
        let forged = note.replace("\n5\n", "\n6\n");
        assert!(verify(&forged, "c1", 6, &head, &s.spki, NAME).is_err());
        let other = SigningKey::from_slice(&[9u8; 32]).expect("key");
        let other_spki = other.verifying_key().to_public_key_der().expect("spki");
        assert!(matches!(
            verify(&note, "c1", 5, &head, other_spki.as_bytes(), NAME),
            Err(CheckpointError::NoSignature(_))
        ));
        assert_eq!(signature_type(), 2);
    }
}
