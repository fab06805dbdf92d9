//! Everything `import` checks before a single byte leaves the machine: the file against its
//! manifest (and against the hash typed in from the ceremony), the KEK's vault, the key type,
//! the rehearsal flag and the requested key operations.
use std::io::Read;
use std::path::{Path, PathBuf};

use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::byok::fingerprint::{Fingerprint, pgp_words_for};
use byok_ceremony::byok::format::ByokFile;
use byok_ceremony::byok::kek::Kid;
use byok_ceremony::manifest::Manifest;
use sha2::{Digest, Sha256};

use crate::public_key::spki_from_pem;
use crate::vault_url::{ServiceKind, VaultUrl};

/// Largest .byok or manifest read: both are a few KiB.
const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// What the ceremony made, as the manifest says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Rsa,
    Ec(EcCurve),
    Oct { bits: u32 },
}

/// A request that passed every local check.
#[derive(Debug)]
pub struct Checked {
    pub byok_bytes: Vec<u8>,
    pub byok_sha256: [u8; 32],
    pub manifest: Manifest,
    pub kid: Kid,
    pub target: Target,
    /// Canonical SPKI DER of the ceremony's key (RSA and EC).
    pub expected_spki: Option<Vec<u8>>,
    /// The manifest's AES check value (oct), 3 bytes.
    pub oct_check_value: Option<Vec<u8>>,
    pub kek_fingerprint: Fingerprint,
    pub warnings: Vec<String>,
}

/// Why an import was refused before anything was sent.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("cannot read {path}: {source}; check the path and its permissions")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is larger than 1 MiB, far too large for a .byok file or manifest: check that you passed the right file"
    )]
    TooLarge { path: PathBuf },
    #[error("{path}: {source}")]
    Manifest {
        path: PathBuf,
        source: byok_ceremony::manifest::ManifestError,
    },
    #[error(
        "the .byok file's SHA-256 is {actual}, but the manifest records {recorded}: the file was changed, damaged, or is not the one this manifest describes; do not import it, bring the ceremony's media again"
    )]
    HashMismatch { actual: String, recorded: String },
    #[error(
        "the .byok file's SHA-256 is {actual} ({words}), not the hash typed with --expect-words: the file is not the one the ceremony made, or a word was mistyped; compare again with the ceremony's report"
    )]
    ExpectMismatch { actual: String, words: String },
    #[error("the .byok file is malformed: {0}")]
    Format(#[from] byok_ceremony::byok::format::FormatError),
    #[error(
        "the .byok header's kid {header} differs from the manifest's kid {manifest}: the manifest belongs to another file; use the pair the ceremony wrote"
    )]
    KidMismatch { header: String, manifest: String },
    #[error("the .byok header's kid is invalid: {0}")]
    BadKid(String),
    #[error(
        "wrong vault: the .byok file was wrapped for the KEK {kid}, which lives in {kid_host}, but the target is {vault}. A .byok file can only be imported into the vault or Managed HSM that holds its KEK: pass --vault/--hsm https://{kid_host}, or run the ceremony again with this vault's KEK"
    )]
    WrongVault {
        kid: String,
        kid_host: String,
        vault: String,
    },
    #[error(
        "the manifest's kty is {0:?}; byok-upload imports RSA-HSM, EC-HSM and oct-HSM keys: use the manifest the ceremony wrote"
    )]
    UnknownKty(String),
    #[error(
        "the manifest has no {0} for its {1} key: use the manifest the ceremony wrote, unmodified"
    )]
    ManifestIncomplete(&'static str, &'static str),
    #[error("the manifest's curve is invalid: {0}")]
    BadCurve(String),
    #[error("{0}")]
    PublicKey(#[from] crate::public_key::PublicKeyError),
    #[error(
        "oct-HSM (AES) keys import into Managed HSM only; Key Vault answers \"Invalid kty value: oct\": pass the Managed HSM with --hsm"
    )]
    OctNeedsManagedHsm,
    #[error(
        "the manifest is from a rehearsal (\"rehearsal\": true) and {vault} is not a loopback test double: rehearsal keys never belong in a real vault. To practise the upload against a test vault, add --allow-rehearsal"
    )]
    Rehearsal { vault: String },
    #[error("--ops {op:?} is not a key operation of a {kty} key; allowed: {allowed}")]
    BadOp {
        op: String,
        kty: &'static str,
        allowed: String,
    },
    #[error("--ops names {0:?} twice: give each operation once")]
    DuplicateOp(String),
    #[error(
        "--ops leaves out \"encrypt\", which byok-upload needs to prove an AES key is the ceremony's (by its check value): add encrypt, or pass --no-oct-check to import without that proof"
    )]
    OctCheckNeedsEncrypt,
    #[error(
        "the manifest has no oct_check_value, so the imported AES key cannot be proven to be the ceremony's: pass --no-oct-check to import without that proof"
    )]
    OctCheckValueMissing,
    #[error("the manifest's {field} is not valid hex: use the manifest the ceremony wrote")]
    BadHex { field: &'static str },
    #[error("--name {0:?} is not a Key Vault key name: use 1-127 letters, digits and '-'")]
    BadName(String),
    #[error(
        "the manifest records no .byok (the ceremony wrapped for other clouds only): use `byok-upload gcp import` or `byok-upload aws import` with the file its outputs name"
    )]
    NoAzureOutput,
}

/// The import's inputs that preflight looks at.
#[derive(Debug)]
pub struct PreflightInputs<'a> {
    pub byok: &'a Path,
    pub manifest: &'a Path,
    pub name: &'a str,
    pub vault: &'a VaultUrl,
    pub ops: Option<&'a [String]>,
    pub expect: Option<[u8; 32]>,
    pub allow_rehearsal: bool,
    pub oct_check: bool,
}

/// Runs every local check, in the order an operator would want to hear about problems.
pub fn check(inputs: &PreflightInputs<'_>) -> Result<Checked, PreflightError> {
    let mut warnings = Vec::new();
    check_name(inputs.name)?;
    let manifest_bytes = read_limited(inputs.manifest)?;
    let manifest = Manifest::parse(&manifest_bytes).map_err(|source| PreflightError::Manifest {
        path: inputs.manifest.to_owned(),
        source,
    })?;
    let (Some(byok_file), Some(recorded), Some(manifest_kid)) = (
        manifest.byok_file.clone(),
        manifest.byok_sha256.clone(),
        manifest.kid.clone(),
    ) else {
        return Err(PreflightError::NoAzureOutput);
    };
    let byok_bytes = read_limited(inputs.byok)?;
    let byok_sha256: [u8; 32] = Sha256::digest(&byok_bytes).into();
    let actual = hex::encode(byok_sha256);
    if !actual.eq_ignore_ascii_case(recorded.trim()) {
        return Err(PreflightError::HashMismatch { actual, recorded });
    }
    if inputs
        .expect
        .is_some_and(|expected| expected != byok_sha256)
    {
        return Err(PreflightError::ExpectMismatch {
            actual,
            words: pgp_words_for(&byok_sha256).join(" "),
        });
    }
    let file_name = inputs
        .byok
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    if file_name.as_deref() != Some(byok_file.as_str()) {
        warnings.push(format!(
            "the manifest names the file {:?}, this one is {:?}; its hash matches, so it was only renamed",
            byok_file,
            file_name.unwrap_or_default()
        ));
    }
    let parsed = ByokFile::parse(&byok_bytes)?;
    warnings.extend(parsed.warnings);
    if parsed.file.kid != manifest_kid {
        return Err(PreflightError::KidMismatch {
            header: parsed.file.kid,
            manifest: manifest_kid,
        });
    }
    let kid = Kid::parse(&parsed.file.kid).map_err(|e| PreflightError::BadKid(e.to_string()))?;
    if !inputs.vault.holds(kid.host()) {
        return Err(PreflightError::WrongVault {
            kid: kid.url().to_owned(),
            kid_host: kid.host().to_owned(),
            vault: inputs.vault.to_string(),
        });
    }
    let target = target_of(&manifest)?;
    if matches!(target, Target::Oct { .. }) && inputs.vault.kind() != ServiceKind::ManagedHsm {
        return Err(PreflightError::OctNeedsManagedHsm);
    }
    if manifest.rehearsal {
        if !inputs.vault.is_loopback() && !inputs.allow_rehearsal {
            return Err(PreflightError::Rehearsal {
                vault: inputs.vault.to_string(),
            });
        }
        warnings.push(
            "this is a rehearsal manifest: the key is for practice, never for production"
                .to_owned(),
        );
    }
    for reason in &manifest.rehearsal_grade_reasons {
        warnings.push(format!("rehearsal-grade output: {reason}"));
    }
    if let Some(ops) = inputs.ops {
        check_ops(ops, target)?;
    }
    let expected_spki =
        match target {
            Target::Rsa | Target::Ec(_) => {
                let pem = manifest.public_key_pem.as_deref().ok_or(
                    PreflightError::ManifestIncomplete("public_key_pem", "RSA or EC"),
                )?;
                Some(spki_from_pem(pem)?)
            }
            Target::Oct { .. } => None,
        };
    let oct_check_value = manifest
        .oct_check_value
        .as_deref()
        .map(|text| {
            hex::decode(text.trim()).map_err(|_| PreflightError::BadHex {
                field: "oct_check_value",
            })
        })
        .transpose()?;
    if matches!(target, Target::Oct { .. }) && inputs.oct_check {
        if oct_check_value.is_none() {
            return Err(PreflightError::OctCheckValueMissing);
        }
        if inputs
            .ops
            .is_some_and(|ops| !ops.iter().any(|o| o == "encrypt"))
        {
            return Err(PreflightError::OctCheckNeedsEncrypt);
        }
    }
    // The Azure output's own KEK when the manifest lists outputs (with several clouds the
    // top-level fingerprint is the first target's); a manifest of an earlier version has only
    // the top-level one.
    let azure_kek = manifest
        .outputs
        .iter()
        .find(|o| o.cloud == byok_ceremony::cloud::Cloud::Azure)
        .map_or(&manifest.kek_fingerprint_sha256, |o| {
            &o.kek_fingerprint_sha256
        });
    let kek_fingerprint = Fingerprint::from_hex(azure_kek).map_err(|_| PreflightError::BadHex {
        field: "kek_fingerprint_sha256",
    })?;
    Ok(Checked {
        byok_bytes,
        byok_sha256,
        manifest,
        kid,
        target,
        expected_spki,
        oct_check_value,
        kek_fingerprint,
        warnings,
    })
}

/// The target the manifest describes (kty, crv, key_size).
pub fn target_of(manifest: &Manifest) -> Result<Target, PreflightError> {
    match manifest.kty.as_str() {
        "RSA-HSM" => Ok(Target::Rsa),
        "EC-HSM" => {
            let crv = manifest
                .crv
                .as_deref()
                .ok_or(PreflightError::ManifestIncomplete("crv", "EC"))?;
            let curve = crv
                .parse::<EcCurve>()
                .map_err(|e| PreflightError::BadCurve(e.to_string()))?;
            Ok(Target::Ec(curve))
        }
        "oct-HSM" => {
            let bits = manifest
                .key_size
                .ok_or(PreflightError::ManifestIncomplete("key_size", "oct"))?;
            Ok(Target::Oct { bits })
        }
        other => Err(PreflightError::UnknownKty(other.to_owned())),
    }
}

/// The key operations Azure allows for each kind of key (JsonWebKeyOperation).
pub fn allowed_ops(target: Target) -> (&'static str, &'static [&'static str]) {
    match target {
        Target::Rsa => (
            "RSA-HSM",
            &[
                "encrypt",
                "decrypt",
                "sign",
                "verify",
                "wrapKey",
                "unwrapKey",
            ],
        ),
        Target::Ec(_) => ("EC-HSM", &["sign", "verify"]),
        Target::Oct { .. } => ("oct-HSM", &["encrypt", "decrypt", "wrapKey", "unwrapKey"]),
    }
}

fn check_ops(ops: &[String], target: Target) -> Result<(), PreflightError> {
    let (kty, allowed) = allowed_ops(target);
    for (i, op) in ops.iter().enumerate() {
        if !allowed.contains(&op.as_str()) {
            return Err(PreflightError::BadOp {
                op: op.clone(),
                kty,
                allowed: allowed.join(", "),
            });
        }
        if ops[..i].contains(op) {
            return Err(PreflightError::DuplicateOp(op.clone()));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), PreflightError> {
    let valid = (1..=127).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(PreflightError::BadName(name.to_owned()))
    }
}

/// Reads a ceremony input of at most 1 MiB.
pub fn read_limited(path: &Path) -> Result<Vec<u8>, PreflightError> {
    let read_error = |source| PreflightError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(PreflightError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_checked_per_key_type() {
        let ops = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(check_ops(&ops(&["sign", "verify"]), Target::Ec(EcCurve::P256)).is_ok());
        assert!(matches!(
            check_ops(&ops(&["encrypt"]), Target::Ec(EcCurve::P256)),
            Err(PreflightError::BadOp { .. })
        ));
        assert!(matches!(
            check_ops(&ops(&["sign", "sign"]), Target::Rsa),
            Err(PreflightError::DuplicateOp(_))
        ));
        assert!(matches!(
            check_ops(&ops(&["import"]), Target::Rsa),
            Err(PreflightError::BadOp { .. })
        ));
    }

    #[test]
    fn names() {
        assert!(check_name("prod-signing-1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a_b").is_err());
        assert!(check_name(&"a".repeat(128)).is_err());
    }
}
