//! The local checks before a Google Cloud or AWS import: the ceremony's manifest (strictly
//! parsed), the wrapped key material it wrote for that cloud, the hash typed in from the
//! ceremony's screen, and the rehearsal rule. Nothing here touches the network.
//!
//! The wrapped file is named on the command line. What binds it to this ceremony is the
//! manifest's `outputs` entry for the cloud (the file's SHA-256 and the wrapping key it was made
//! for; a manifest of an earlier version has none, and its top-level KEK fingerprint stands in),
//! the cloud's wrapping key compared with that fingerprint, and, after the import, the public key.
use std::path::Path;

use byok_ceremony::byok::fingerprint::{Fingerprint, pgp_words_for};
use byok_ceremony::cloud::Cloud;
use byok_ceremony::manifest::Manifest;
use sha2::{Digest, Sha256};

use crate::preflight::{PreflightError, Target, read_limited, target_of};
use crate::public_key::{PublicKeyError, spki_from_pem};

/// Why the ceremony's output cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyOutputError {
    #[error("{0}")]
    Input(#[from] PreflightError),
    #[error("{0}")]
    PublicKey(#[from] PublicKeyError),
    #[error(
        "the manifest records no public_key_pem for its {0} key: use the manifest the ceremony wrote, unmodified"
    )]
    NoPublicKey(&'static str),
    #[error(
        "the manifest's kek_fingerprint_sha256 {0:?} is not a SHA-256 in hex: use the manifest the ceremony wrote, unmodified"
    )]
    BadKekFingerprint(String),
    #[error(
        "{path} has SHA-256 {actual}, not the hash typed with --expect-words; its words are: {words}. This is not the file the ceremony showed: find the right file"
    )]
    ExpectMismatch {
        path: String,
        actual: String,
        words: String,
    },
    #[error(
        "{path} is empty: the ceremony writes the wrapped key material there; check the medium"
    )]
    Empty { path: String },
    #[error(
        "the manifest lists outputs for {listed}, none for {cloud}: this ceremony did not wrap the key for {cloud}; import it where it was wrapped for, or run a ceremony that names this cloud"
    )]
    NotForThisCloud { cloud: &'static str, listed: String },
    #[error(
        "{path} has SHA-256 {actual}, but the manifest's output for {cloud} ({file}) has {recorded}: this is not the file the ceremony wrote for {cloud}; take {file} from the ceremony's medium"
    )]
    NotTheOutput {
        path: String,
        actual: String,
        cloud: &'static str,
        file: String,
        recorded: String,
    },
    #[error(
        "the manifest is from a rehearsal (\"rehearsal\": true): its key was made on a practice token. Give --allow-rehearsal to import it anyway into a throwaway test project or account"
    )]
    Rehearsal,
}

impl CeremonyOutputError {
    /// 3 when the files could not be read at all, 1 when they were read and refused.
    pub fn exit_code(&self) -> u8 {
        match self {
            CeremonyOutputError::Input(
                PreflightError::Read { .. } | PreflightError::TooLarge { .. },
            ) => 3,
            _ => 1,
        }
    }
}

/// The ceremony's output for one cloud, checked locally.
#[derive(Debug)]
pub struct CeremonyOutput {
    pub manifest: Manifest,
    pub target: Target,
    /// Canonical SPKI DER of the ceremony's public key (RSA and EC).
    pub expected_spki: Option<Vec<u8>>,
    /// The wrapping key the ceremony wrapped for, as the manifest records it.
    pub kek_fingerprint: Fingerprint,
    /// The wrapped key material, exactly as the ceremony wrote it.
    pub wrapped: Vec<u8>,
    pub wrapped_sha256: [u8; 32],
    pub warnings: Vec<String>,
}

/// Reads and checks the manifest and the wrapped file.
pub fn read(
    cloud: Cloud,
    manifest_path: &Path,
    wrapped_path: &Path,
    expect: Option<[u8; 32]>,
    allow_rehearsal: bool,
) -> Result<CeremonyOutput, CeremonyOutputError> {
    let manifest_bytes = read_limited(manifest_path)?;
    let manifest = Manifest::parse(&manifest_bytes).map_err(|source| PreflightError::Manifest {
        path: manifest_path.to_owned(),
        source,
    })?;
    let wrapped = read_limited(wrapped_path)?;
    let path = wrapped_path.display().to_string();
    if wrapped.is_empty() {
        return Err(CeremonyOutputError::Empty { path });
    }
    let wrapped_sha256: [u8; 32] = Sha256::digest(&wrapped).into();
    if expect.is_some_and(|e| e != wrapped_sha256) {
        return Err(CeremonyOutputError::ExpectMismatch {
            path,
            actual: hex::encode(wrapped_sha256),
            words: pgp_words_for(&wrapped_sha256).join(" "),
        });
    }
    let target = target_of(&manifest)?;
    let expected_spki = match target {
        Target::Oct { .. } => None,
        Target::Rsa | Target::Ec(_) => {
            let kind = if target == Target::Rsa { "RSA" } else { "EC" };
            let pem = manifest
                .public_key_pem
                .as_deref()
                .ok_or(CeremonyOutputError::NoPublicKey(kind))?;
            Some(spki_from_pem(pem)?)
        }
    };
    let recorded_kek = match manifest.outputs.iter().find(|o| o.cloud == cloud) {
        Some(o) => {
            if !hex::encode(wrapped_sha256).eq_ignore_ascii_case(o.sha256.trim()) {
                return Err(CeremonyOutputError::NotTheOutput {
                    path,
                    actual: hex::encode(wrapped_sha256),
                    cloud: cloud.title(),
                    file: o.file.clone(),
                    recorded: o.sha256.clone(),
                });
            }
            o.kek_fingerprint_sha256.clone()
        }
        None if !manifest.outputs.is_empty() => {
            return Err(CeremonyOutputError::NotForThisCloud {
                cloud: cloud.title(),
                listed: manifest
                    .outputs
                    .iter()
                    .map(|o| o.cloud.title())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        None => manifest.kek_fingerprint_sha256.clone(),
    };
    let kek_fingerprint = Fingerprint::from_hex(recorded_kek.trim())
        .map_err(|_| CeremonyOutputError::BadKekFingerprint(recorded_kek.clone()))?;
    let mut warnings = Vec::new();
    if manifest.rehearsal {
        if !allow_rehearsal {
            return Err(CeremonyOutputError::Rehearsal);
        }
        warnings.push(
            "importing a rehearsal key (--allow-rehearsal): never use it for production data"
                .to_owned(),
        );
        for reason in &manifest.rehearsal_grade_reasons {
            warnings.push(format!("rehearsal-grade: {reason}"));
        }
    }
    Ok(CeremonyOutput {
        manifest,
        target,
        expected_spki,
        kek_fingerprint,
        wrapped,
        wrapped_sha256,
        warnings,
    })
}

/// The RSA key size of a manifest's RSA target, when it records one.
pub fn rsa_bits(output: &CeremonyOutput) -> Option<u32> {
    use pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let spki = output.expected_spki.as_deref()?;
    let key = rsa::PublicKey::from_public_key_der(spki).ok()?;
    u32::try_from(key.size() * 8).ok()
}

/// Checks the length of a wrapped blob against the wrapping key: the RSA-OAEP block is exactly
/// the modulus length; when an RFC 5649 part follows, it is whole 8-byte blocks, at least 16.
pub fn wrapped_length_fits(len: usize, modulus_len: usize, with_kwp: bool) -> bool {
    if with_kwp {
        len >= modulus_len + 16 && (len - modulus_len).is_multiple_of(8)
    } else {
        len == modulus_len
    }
}
