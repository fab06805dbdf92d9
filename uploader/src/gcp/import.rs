//! `byok-upload gcp import`: the local checks (manifest, wrapped key, algorithm), the import
//! job (ACTIVE, HSM, not expired, the wrapping key the ceremony used), the crypto key (its
//! purpose and HSM protection), then ImportCryptoKeyVersion, waiting until the version is
//! ENABLED, and the proof: for an asymmetric key, the version's public key is the manifest's.
use std::path::Path;
use std::time::Duration;

use byok_ceremony::byok::fingerprint::Fingerprint;
use google_cloud_kms_v1::model::CryptoKeyVersion;
use google_cloud_kms_v1::model::crypto_key_version::CryptoKeyVersionAlgorithm;

use crate::ceremony_output::{
    self, CeremonyOutput, CeremonyOutputError, rsa_bits, wrapped_length_fits,
};
use crate::gcp::client::{Gcp, GcpError};
use crate::gcp::job::{self, JobError, check_job_name, enum_name};
use crate::gcp::methods::{self, MethodError};
use crate::public_key::canonical_spki;

/// How long to wait for PENDING_IMPORT to end.
const IMPORT_WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(1);

/// The files and names of one import.
#[derive(Debug)]
pub struct GcpImportRequest<'a> {
    pub manifest: &'a Path,
    pub wrapped_key: &'a Path,
    /// projects/P/locations/L/keyRings/R/cryptoKeys/K
    pub crypto_key: &'a str,
    /// projects/P/locations/L/keyRings/R/importJobs/J
    pub import_job: &'a str,
    pub algorithm: &'a str,
    pub expect: Option<[u8; 32]>,
    pub allow_rehearsal: bool,
}

/// What the import achieved.
#[derive(Debug)]
pub struct GcpImported {
    pub version: String,
    pub proof: String,
    pub warnings: Vec<String>,
}

/// Why the import was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum GcpImportError {
    #[error("{0}")]
    Output(#[from] CeremonyOutputError),
    #[error("{0}")]
    Method(#[from] MethodError),
    #[error("{0}")]
    Job(#[from] JobError),
    #[error(
        "{0:?} is not a crypto key name: write projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY"
    )]
    BadKeyName(String),
    #[error(
        "the ceremony wrapped the key for the wrapping key with SHA-256 {manifest}, but the import job {job} has {found}: import with the job whose key the ceremony used"
    )]
    KekMismatch {
        job: String,
        manifest: String,
        found: String,
    },
    #[error(
        "{path} is {len} bytes, which the import method {method} cannot produce ({shape}): use the wrapped key the ceremony wrote for this import job"
    )]
    WrongLength {
        path: String,
        len: usize,
        method: String,
        shape: String,
    },
    #[error(
        "there is no crypto key {0}: create it for import with `gcloud kms keys create KEY --keyring RING --location LOCATION --purpose PURPOSE --default-algorithm ALGORITHM --protection-level hsm --skip-initial-version-creation --import-only`"
    )]
    KeyNotFound(String),
    #[error(
        "the crypto key {key} has purpose {purpose}, but --algorithm {algorithm} needs {wants}: use a key created with --purpose {wants_flag}"
    )]
    KeyPurpose {
        key: String,
        purpose: String,
        algorithm: String,
        wants: String,
        wants_flag: String,
    },
    #[error(
        "the crypto key {key} has protection level {level}, not HSM: an HSM import job imports only into an HSM key; create one with --protection-level hsm"
    )]
    KeyProtection { key: String, level: String },
    #[error("{0}")]
    Service(GcpError),
    #[error(
        "Cloud KMS could not import the key into {version}: {reason}. Check that the ceremony wrapped for this import job with its OAEP hash (a token that ignores SHA-256 wraps with SHA-1), then import the right file; the failed version holds nothing"
    )]
    ImportFailed { version: String, reason: String },
    #[error(
        "the key version {version} is still PENDING_IMPORT after 2 minutes: check it later with `gcloud kms keys versions describe {version}`"
    )]
    StillPending { version: String },
    #[error(
        "the key version {version} is {state}, not ENABLED: check it with `gcloud kms keys versions describe {version}`"
    )]
    NotEnabled { version: String, state: String },
    #[error(
        "Cloud KMS returned no usable public key for {version} ({reason}): check it with `gcloud kms keys versions get-public-key`"
    )]
    BadPublicKey { version: String, reason: String },
    #[error(
        "THE IMPORTED KEY IS NOT THE CEREMONY'S: Cloud KMS returns the public key with SHA-256 {actual} for {version}, the manifest records {expected}. Disable it at once (`gcloud kms keys versions disable {version}`) and investigate"
    )]
    PublicKeyMismatch {
        version: String,
        actual: String,
        expected: String,
    },
}

impl GcpImportError {
    pub fn exit_code(&self) -> u8 {
        match self {
            GcpImportError::Output(e) => e.exit_code(),
            GcpImportError::Service(e) | GcpImportError::Job(JobError::Service(e))
                if e.is_environment() =>
            {
                3
            }
            _ => 1,
        }
    }
}

/// Checks `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
fn check_key_name(name: &str) -> Result<(), GcpImportError> {
    let job_like = name.replacen("/cryptoKeys/", "/importJobs/", 1);
    if name.contains("/cryptoKeys/") && check_job_name(&job_like).is_ok() {
        Ok(())
    } else {
        Err(GcpImportError::BadKeyName(name.to_owned()))
    }
}

/// The local checks, before any request.
pub fn check_locally(request: &GcpImportRequest<'_>) -> Result<CeremonyOutput, GcpImportError> {
    check_key_name(request.crypto_key)?;
    check_job_name(request.import_job)?;
    let output = ceremony_output::read(
        byok_ceremony::cloud::Cloud::Gcp,
        request.manifest,
        request.wrapped_key,
        request.expect,
        request.allow_rehearsal,
    )?;
    let algorithm = methods::algorithm(request.algorithm)?;
    // The method is checked again once the job is read; the target check needs no network.
    let any_kwp = methods::method(methods::DEFAULT_METHOD)?;
    methods::check(
        request.algorithm,
        algorithm,
        any_kwp,
        output.target,
        rsa_bits(&output),
    )?;
    Ok(output)
}

/// Imports and proves.
pub async fn import(
    gcp: &Gcp,
    request: &GcpImportRequest<'_>,
    output: &CeremonyOutput,
) -> Result<GcpImported, GcpImportError> {
    let mut warnings = Vec::new();
    let checked = job::check(&job::get(gcp, request.import_job).await?)?;
    if checked.kek.fingerprint() != output.kek_fingerprint {
        return Err(GcpImportError::KekMismatch {
            job: checked.name,
            manifest: output.kek_fingerprint.hex(),
            found: checked.kek.fingerprint().hex(),
        });
    }
    let algorithm = methods::algorithm(request.algorithm)?;
    methods::check(
        request.algorithm,
        algorithm,
        checked.method,
        output.target,
        rsa_bits(output),
    )?;
    let modulus_len = checked.method.bits / 8;
    if !wrapped_length_fits(output.wrapped.len(), modulus_len, checked.method.with_kwp) {
        let shape = if checked.method.with_kwp {
            format!(
                "{modulus_len} bytes of RSA-OAEP, then whole 8-byte blocks of RFC 5649, at least 16"
            )
        } else {
            format!("exactly {modulus_len} bytes")
        };
        return Err(GcpImportError::WrongLength {
            path: request.wrapped_key.display().to_string(),
            len: output.wrapped.len(),
            method: checked.method.name.to_owned(),
            shape,
        });
    }
    let client = gcp.client();
    let key = gcp
        .call("read the crypto key", true, || {
            client.get_crypto_key().set_name(request.crypto_key).send()
        })
        .await
        .map_err(|e| match e {
            GcpError::NotFound { .. } => GcpImportError::KeyNotFound(request.crypto_key.to_owned()),
            other => GcpImportError::Service(other),
        })?;
    let purpose = enum_name(key.purpose.name());
    if purpose != algorithm.purpose {
        return Err(GcpImportError::KeyPurpose {
            key: key.name,
            purpose,
            algorithm: request.algorithm.to_owned(),
            wants: algorithm.purpose.to_owned(),
            wants_flag: algorithm.purpose.to_lowercase().replace('_', "-"),
        });
    }
    let level = enum_name(
        key.version_template
            .as_ref()
            .and_then(|t| t.protection_level.name()),
    );
    if level != "HSM" {
        return Err(GcpImportError::KeyProtection {
            key: key.name,
            level,
        });
    }
    if !key.import_only {
        warnings.push(format!(
            "the crypto key {} is not import-only: Cloud KMS could also generate versions in it",
            key.name
        ));
    }
    // Each call makes a new version, so it is never repeated after an ambiguous failure.
    let wrapped = output.wrapped.clone();
    let version = gcp
        .call("import the key version", false, || {
            client
                .import_crypto_key_version()
                .set_parent(request.crypto_key)
                .set_algorithm(CryptoKeyVersionAlgorithm::from(request.algorithm))
                .set_import_job(request.import_job)
                .set_wrapped_key(wrapped.clone())
                .send()
        })
        .await
        .map_err(|e| match e {
            GcpError::OutcomeUnknown { what, detail } => GcpImportError::Service(GcpError::OutcomeUnknown {
                what,
                detail: format!(
                    "{detail}; list the versions with `gcloud kms keys versions list --key {}`: a version created just now is this import; check it, then keep or disable it",
                    request.crypto_key
                ),
            }),
            other => GcpImportError::Service(other),
        })?;
    let version = wait_for_import(gcp, version).await?;
    let name = version.name.clone();
    let Some(expected) = &output.expected_spki else {
        return Ok(GcpImported {
            version: name,
            proof: "Cloud KMS accepted the key material and the version is ENABLED (a symmetric key has no public key to compare; its identity is not proven further)".to_owned(),
            warnings,
        });
    };
    let public = gcp
        .call("read the imported public key", true, || {
            client.get_public_key().set_name(&name).send()
        })
        .await
        .map_err(GcpImportError::Service)?;
    let bad = |reason: String| GcpImportError::BadPublicKey {
        version: name.clone(),
        reason,
    };
    let (label, der) =
        der::pem::decode_vec(public.pem.trim().as_bytes()).map_err(|e| bad(e.to_string()))?;
    if label != "PUBLIC KEY" {
        return Err(bad(format!("a {label} block, not PUBLIC KEY")));
    }
    let actual = canonical_spki(&der).map_err(bad)?;
    if &actual != expected {
        return Err(GcpImportError::PublicKeyMismatch {
            version: name,
            actual: Fingerprint::of(&actual).hex(),
            expected: Fingerprint::of(expected).hex(),
        });
    }
    Ok(GcpImported {
        version: name,
        proof: format!(
            "the version is ENABLED and its public key equals the manifest's (SHA-256 {})",
            Fingerprint::of(expected).hex_groups()
        ),
        warnings,
    })
}

/// Polls the new version until the import has finished one way or the other.
async fn wait_for_import(
    gcp: &Gcp,
    mut version: CryptoKeyVersion,
) -> Result<CryptoKeyVersion, GcpImportError> {
    let client = gcp.client();
    let started = tokio::time::Instant::now();
    loop {
        let state = enum_name(version.state.name());
        match state.as_str() {
            "ENABLED" => return Ok(version),
            "IMPORT_FAILED" => {
                return Err(GcpImportError::ImportFailed {
                    version: version.name,
                    reason: if version.import_failure_reason.is_empty() {
                        "no reason given".to_owned()
                    } else {
                        version.import_failure_reason
                    },
                });
            }
            "PENDING_IMPORT" if started.elapsed() < IMPORT_WAIT => {
                tokio::time::sleep(POLL).await;
                let name = version.name.clone();
                version = gcp
                    .call("read the new key version", true, || {
                        client.get_crypto_key_version().set_name(&name).send()
                    })
                    .await
                    .map_err(GcpImportError::Service)?;
            }
            "PENDING_IMPORT" => {
                return Err(GcpImportError::StillPending {
                    version: version.name,
                });
            }
            _ => {
                return Err(GcpImportError::NotEnabled {
                    version: version.name,
                    state,
                });
            }
        }
    }
}
